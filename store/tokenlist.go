package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
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
		add(`t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`, now)
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
		add(`t.name_key LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(NameKey(q))+"%")
	}
	if f.Role != "" {
		add(`(' ' || t.roles || ' ') LIKE ?`, "% "+string(f.Role)+" %")
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
	q := tokenQuery + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + orderBy
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return scanTokens(d.db.QueryContext(ctx, q, args...))
}

// CountCap is the most tokens CountTokens counts exactly: past it, a list
// says "10,000+", and a count costs no more however many tokens there are.
const CountCap = 10_000

// CountTokens counts the tokens actor may see that match f, paging and
// order aside, up to CountCap; CountCap+1 means more than CountCap.
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
	where, args := f.where(a, d.now().Unix())
	var n int
	err := d.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM tokens t WHERE %s LIMIT %d) capped`,
		strings.Join(where, " AND "), CountCap+1), args...).Scan(&n)
	return n, err
}
