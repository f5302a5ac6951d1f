package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// StateExpiring selects active tokens that expire within ExpiringWithin:
// the ones to warn about before they break an integration.
const StateExpiring = "expiring"

// ExpiringWithin is how soon an expiry is worth a warning.
const ExpiringWithin = 7 * 24 * time.Hour

// Sort orders of a token list.
const (
	// SortCreated: newest first (the default).
	SortCreated = "created"
	// SortLastUsed: most recently used first; never used last.
	SortLastUsed = "last_used"
	// SortExpires: soonest to expire first; never expiring last.
	SortExpires = "expires"
)

// TokenFilter selects tokens of the acting member's organization. Zero
// fields select everything.
type TokenFilter struct {
	Kind TokenKind
	// MemberID limits personal tokens to one member's; 0 means every
	// member's, which only the owner may list.
	MemberID int64
	// State is StateActive, StateExpiring, StateExpired or StateRevoked;
	// "" means every token not revoked, or every token with
	// IncludeRevoked.
	State          string
	IncludeRevoked bool
	// Q keeps tokens whose name contains it, compared as names are
	// (NameKey: case and width folded, invisible characters ignored).
	Q string
	// Role keeps system tokens that carry it.
	Role Role
	// CreatedBy keeps tokens the member made, on the page or through one
	// of their tokens on the API.
	CreatedBy int64
	// ExpiresBefore keeps tokens that expire before it (never-expiring
	// ones are not kept).
	ExpiresBefore time.Time
	// LastUsedBefore keeps tokens not used since it, never used ones
	// included; NeverUsed keeps only those never used.
	LastUsedBefore time.Time
	NeverUsed      bool
	// Sort is SortCreated (""), SortLastUsed or SortExpires.
	Sort string
	// After pages through a long list: the tokens that come after the
	// cursor of the last one seen (TokenCursor). BeforeID is the same for
	// the created order, as the first release's lists paged.
	After    TokenCursor
	BeforeID int64
	// Limit caps the list (0: all).
	Limit int
}

// TokenCursor is where a page of a sorted list ended: the sort's value at
// the last token and its id.
type TokenCursor struct {
	Value, ID int64
}

// IsZero reports whether c is no cursor: the list from its start.
func (c TokenCursor) IsZero() bool { return c.ID == 0 }

// String is the cursor as an API or a link carries it: "ID" for the
// created order, "VALUE.ID" otherwise.
func (c TokenCursor) String() string {
	if c.Value == 0 {
		return strconv.FormatInt(c.ID, 10)
	}
	return strconv.FormatInt(c.Value, 10) + "." + strconv.FormatInt(c.ID, 10)
}

// ParseTokenCursor reads what String wrote.
func ParseTokenCursor(s string) (TokenCursor, bool) {
	v, id, found := strings.Cut(s, ".")
	if !found {
		v, id = "0", s
	}
	var c TokenCursor
	var err1, err2 error
	c.Value, err1 = strconv.ParseInt(v, 10, 64)
	c.ID, err2 = strconv.ParseInt(id, 10, 64)
	return c, err1 == nil && err2 == nil && c.ID > 0
}

// CursorAfter is the cursor that continues f's list after token t.
func (f TokenFilter) CursorAfter(t Token) TokenCursor {
	switch f.Sort {
	case SortLastUsed:
		return TokenCursor{Value: unixOrZero(t.LastUsedAt), ID: t.ID}
	case SortExpires:
		if t.ExpiresAt.IsZero() {
			return TokenCursor{Value: neverExpires, ID: t.ID}
		}
		return TokenCursor{Value: t.ExpiresAt.Unix(), ID: t.ID}
	}
	return TokenCursor{ID: t.ID}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// neverExpires sorts a token without an expiry after every one with one.
const neverExpires = 1<<53 - 1

// Validate refuses what no list can mean: an unknown kind, state, role or
// sort, or a role filter on personal tokens.
func (f TokenFilter) Validate() error {
	switch f.Kind {
	case "", KindPersonal, KindSystem:
	default:
		return fieldError("kind", "kind must be personal or system")
	}
	switch f.State {
	case "", StateActive, StateExpiring, StateExpired, StateRevoked:
	default:
		return fieldError("state", "state must be active, expiring, expired or revoked")
	}
	switch f.Sort {
	case "", SortCreated, SortLastUsed, SortExpires:
	default:
		return fieldError("sort", "sort must be created, last_used or expires")
	}
	if f.Role != "" && !f.Role.Assignable() {
		return fieldError("role", "%q is not a role a system token can carry", f.Role)
	}
	if f.Role != "" && f.Kind == KindPersonal {
		return fieldError("role", "personal tokens act with their member's roles; the role filter is for system tokens")
	}
	if f.Limit < 0 {
		return fieldError("limit", "limit must be positive")
	}
	return nil
}

// mayList refuses a list a is not allowed to see: a member sees only their
// own personal tokens; the owner (on the API, a token acting as admin)
// sees every token of the organization.
func (f TokenFilter) mayList(a acting) error {
	if (f.Kind != KindPersonal || f.MemberID != a.memberID || a.memberID == 0) && !a.manager {
		return Errorf(EFORBIDDEN, "Only the organization owner can see these tokens.")
	}
	return nil
}

// where is f as SQL conditions on tokens t of a's organization, with their
// arguments, at now. Paging is left out; see page.
func (f TokenFilter) where(a acting, now int64) ([]string, []any) {
	where := []string{`t.org_id = ?`}
	args := []any{a.orgID}
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if f.Kind != "" {
		add(`t.kind = ?`, f.Kind)
	}
	if f.MemberID != 0 {
		add(`t.member_id = ?`, f.MemberID)
	}
	switch f.State {
	case StateActive:
		add(tokenWorks, now)
	case StateExpiring:
		add(`t.revoked_at IS NULL AND t.expires_at > ? AND t.expires_at <= ?`, now, now+int64(ExpiringWithin/time.Second))
	case StateExpired:
		add(`t.revoked_at IS NULL AND t.expires_at <= ?`, now)
	case StateRevoked:
		add(`t.revoked_at IS NOT NULL`)
	case "":
		if !f.IncludeRevoked {
			add(`t.revoked_at IS NULL`)
		}
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		add(`t.name_key LIKE `+likePattern+` ESCAPE '\'`, "%"+likeEscaper.Replace(NameKey(q))+"%")
	}
	if f.Role != "" {
		add(`(' ' || t.roles || ' ') LIKE `+likePattern, "% "+string(f.Role)+" %")
	}
	if f.CreatedBy != 0 {
		add(`(t.created_by = ? OR t.created_by_token IN (SELECT id FROM tokens WHERE member_id = ?))`, f.CreatedBy, f.CreatedBy)
	}
	if !f.ExpiresBefore.IsZero() {
		add(`t.expires_at < ?`, f.ExpiresBefore.Unix())
	}
	if f.NeverUsed {
		add(`t.last_used_at IS NULL`)
	}
	if !f.LastUsedBefore.IsZero() {
		add(`(t.last_used_at IS NULL OR t.last_used_at < ?)`, f.LastUsedBefore.Unix())
	}
	return where, args
}

// tokenWorks is the SQL condition that the token t works at the Unix time
// given as its one parameter: not revoked, and not expired (Token.Active).
const tokenWorks = `t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`

// likePattern is where a LIKE takes its pattern: an expression rather than
// the bare parameter, which SQLite would prepare the statement again for
// once it is bound, to see whether the pattern starts with a prefix an
// index could seek to (these start with %). The same work again for every
// list and count, at a tenth of a millisecond or more each.
const likePattern = `(? || '')`

// order is the ORDER BY of f's sort and the condition that starts a page
// after the cursor.
func (f TokenFilter) order() (orderBy, after string, args []any) {
	c := f.After
	if c.IsZero() && f.BeforeID > 0 {
		c = TokenCursor{ID: f.BeforeID}
	}
	switch f.Sort {
	case SortLastUsed:
		orderBy = `coalesce(t.last_used_at, 0) DESC, t.id DESC`
		if !c.IsZero() {
			after = `(coalesce(t.last_used_at, 0) < ? OR coalesce(t.last_used_at, 0) = ? AND t.id < ?)`
			args = []any{c.Value, c.Value, c.ID}
		}
	case SortExpires:
		orderBy = fmt.Sprintf(`coalesce(t.expires_at, %d), t.id`, int64(neverExpires))
		if !c.IsZero() {
			after = fmt.Sprintf(`(coalesce(t.expires_at, %[1]d) > ? OR coalesce(t.expires_at, %[1]d) = ? AND t.id > ?)`, int64(neverExpires))
			args = []any{c.Value, c.Value, c.ID}
		}
	default:
		orderBy = `t.id DESC`
		if !c.IsZero() {
			after, args = `t.id < ?`, []any{c.ID}
		}
	}
	return orderBy, after, args
}

// ListTokens lists the tokens actor may see that match f, in f's order. A
// member sees only their own personal tokens; the owner (on the API, a
// token acting as admin) sees every token of the organization. Nobody
// sees another organization's.
func (d *DB) ListTokens(ctx context.Context, actor Actor, f TokenFilter) ([]Token, error) {
	a := actor.acting()
	if err := f.mayList(a); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !storable(f.Q) {
		return nil, nil // no name holds one
	}
	where, args := f.where(a, d.now().Unix())
	orderBy, after, afterArgs := f.order()
	if after != "" {
		where, args = append(where, after), append(args, afterArgs...)
	}
	key, indexable := f.searchKey()
	switch {
	case !indexable:
		return d.listTokens(ctx, where, args, orderBy, f.Limit)
	case f.Limit == 0 || f.Sort != "" && f.Sort != SortCreated:
		// Every token that matches is read, to be listed whole or sorted:
		// through the name index, where that reads fewer.
		where, args, _, err := d.withNameIndex(ctx, f.Kind, key, where, args)
		if err != nil {
			return nil, err
		}
		return d.listTokens(ctx, where, args, orderBy, f.Limit)
	}
	return d.searchNewestFirst(ctx, a, f, key, where, args, orderBy)
}

// searchNewestFirst is a page of a list searched by name, newest first
// (ListTokens, where and args being its conditions): the newest
// searchWindow tokens of the list are read, which finds a page of a common
// name at once; older ones are looked up through the name index, which
// finds a rare name without reading the whole list, as a planner that
// hopes to meet it soon would.
func (d *DB) searchNewestFirst(ctx context.Context, a acting, f TokenFilter, key string, where []string, args []any, orderBy string) ([]Token, error) {
	start, err := d.searchWindowStart(ctx, a, f)
	if err != nil {
		return nil, err
	}
	if start == 0 {
		return d.listTokens(ctx, where, args, orderBy, f.Limit)
	}
	ts, err := d.listTokens(ctx, slices.Concat(where, []string{`t.id >= ?`}), slices.Concat(args, []any{start}), orderBy, f.Limit)
	if err != nil || len(ts) == f.Limit {
		return ts, err
	}
	where, args = slices.Concat(where, []string{`t.id < ?`}), slices.Concat(args, []any{start})
	where, args, newestFirst, err := d.withNameIndex(ctx, f.Kind, key, where, args)
	if err != nil {
		return nil, err
	}
	if newestFirst != "" {
		orderBy = newestFirst
	}
	older, err := d.listTokens(ctx, where, args, orderBy, f.Limit-len(ts))
	return append(ts, older...), err
}

// withNameIndex is where and args with the backend's condition for a
// search for key of kind's tokens, and the order that lists them newest
// first through the name index, if any (backend.nameIndex).
func (d *DB) withNameIndex(ctx context.Context, kind TokenKind, key string, where []string, args []any) ([]string, []any, string, error) {
	cond, condArgs, newestFirst, err := d.b.nameIndex(ctx, d, kind, key)
	if cond != "" {
		where, args = slices.Concat(where, []string{cond}), slices.Concat(args, condArgs)
	}
	return where, args, newestFirst, err
}

// listTokens runs a list's query.
func (d *DB) listTokens(ctx context.Context, where []string, args []any, orderBy string, limit int) ([]Token, error) {
	q := tokenQuery + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + orderBy
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return scanTokens(d.db.QueryContext(ctx, q, args...))
}

// searchWindow is how many of a list's newest tokens a search reads before
// it turns to the name index for older ones (ListTokens).
const searchWindow = 1000

// searchWindowStart is the id of the searchWindow-th newest token of f's
// list (its kind, or its member's) after f's cursor, revoked or not; 0 if
// the list holds fewer. Whatever it is, the tokens from it on and those
// before it are the whole list.
func (d *DB) searchWindowStart(ctx context.Context, a acting, f TokenFilter) (int64, error) {
	where := []string{`t.org_id = ?`, `t.kind = ?`}
	args := []any{a.orgID, f.Kind}
	if f.MemberID != 0 {
		// A member's tokens newest first, through tokens_member: only
		// personal tokens have a member, and only in their organization.
		where, args = []string{`t.member_id = ?`}, []any{f.MemberID}
	}
	if _, after, afterArgs := f.order(); after != "" {
		where, args = append(where, after), append(args, afterArgs...)
	}
	var id int64
	err := d.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT t.id FROM tokens t WHERE %s ORDER BY t.id DESC LIMIT 1 OFFSET %d`,
		strings.Join(where, " AND "), searchWindow-1), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// searchIndexMin is the shortest search a name index answers: it holds
// the names' runs of three characters.
const searchIndexMin = 3

// searchKey is f's search as names are compared (NameKey), and whether a
// name index can answer it: one of a kind's lists, searched for three
// characters or more. A shorter search reads the list.
func (f TokenFilter) searchKey() (string, bool) {
	q := strings.TrimSpace(f.Q)
	if q == "" {
		return "", false
	}
	key := NameKey(q)
	return key, f.Kind != "" && utf8.RuneCountInString(key) >= searchIndexMin
}

// CountCap is the most tokens CountTokens counts exactly: past it, a list
// says "10,000+", and a count costs no more however many tokens there are.
const CountCap = 10_000

// CountTokens counts the tokens actor may see that match f, paging and
// order aside, up to CountCap; CountCap+1 means more than CountCap. A
// list in all (every token of its kind, or of its member, revoked ones
// too) is counted exactly, from the totals kept as tokens are added.
func (d *DB) CountTokens(ctx context.Context, actor Actor, f TokenFilter) (int, error) {
	a := actor.acting()
	if err := f.mayList(a); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if !storable(f.Q) {
		return 0, nil
	}
	if f.whole() {
		return d.countWhole(ctx, a, f)
	}
	where, args := f.where(a, d.now().Unix())
	if key, ok := f.searchKey(); ok {
		var err error
		if where, args, _, err = d.withNameIndex(ctx, f.Kind, key, where, args); err != nil {
			return 0, err
		}
	}
	var n int
	err := d.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM tokens t WHERE %s LIMIT %d) capped`,
		strings.Join(where, " AND "), CountCap+1), args...).Scan(&n)
	return n, err
}

// whole reports whether f asks for a list in all: every token of its
// kind (or both), of its member or everyone's, revoked ones too.
func (f TokenFilter) whole() bool {
	return f.IncludeRevoked && f.State == "" && strings.TrimSpace(f.Q) == "" && f.Role == "" && f.CreatedBy == 0 &&
		f.ExpiresBefore.IsZero() && f.LastUsedBefore.IsZero() && !f.NeverUsed
}

// countWhole counts a list in all from the totals kept as tokens are added
// (token_totals, migrations *_token_totals): exactly, as it costs the same
// at any size.
func (d *DB) countWhole(ctx context.Context, a acting, f TokenFilter) (int, error) {
	q := `SELECT CAST(coalesce(sum(tokens), 0) AS BIGINT) FROM token_totals WHERE org_id = ? AND member_id = ?`
	args := []any{a.orgID, f.MemberID}
	if f.Kind != "" {
		q, args = q+` AND kind = ?`, append(args, f.Kind)
	}
	var n int
	err := d.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// MemberChoices are the members of the actor's organization its token lists
// can be narrowed to (whose tokens, who made them): those in it, newest
// first, then those who left, whose system tokens may still work. Only the
// owner may see them.
func (d *DB) MemberChoices(ctx context.Context, actor Actor) ([]Member, error) {
	a := actor.acting()
	if err := ownerOnly(a, "see the organization's members"); err != nil {
		return nil, err
	}
	return scanMembers(d.db.QueryContext(ctx, `SELECT `+memberColumns+` FROM members m JOIN orgs o ON o.id = m.org_id
		WHERE m.org_id = ? ORDER BY m.left_at IS NOT NULL, m.id DESC`, a.orgID))
}
