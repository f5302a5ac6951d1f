package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxTokenNameLen is the longest Token Name, in characters.
const MaxTokenNameLen = 100

// Why a token stopped working.
const (
	ReasonRevoked    = "revoked"
	ReasonMemberLeft = "member_left"
)

// Token is an access token as the store keeps it: never the secret itself.
type Token struct {
	ID       int64
	OrgID    int64
	Kind     TokenKind
	Name     string
	LastFour string
	// Roles are a system token's own roles; a personal token acts with its
	// member's roles and has none of its own.
	Roles []Role

	MemberID    int64 // the member a personal token belongs to
	MemberName  string
	MemberEmail string

	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time

	RevokedAt    time.Time // zero while the token is active
	RevokeReason string
}

// Active reports whether the token has not been revoked.
func (t Token) Active() bool { return t.RevokedAt.IsZero() }

// Hint is how a token is shown after creation: its prefix and last four
// characters, e.g. "tkp_…a1B9".
func (t Token) Hint() string { return kindPrefix(t.Kind) + "…" + t.LastFour }

// NewToken is what the Add New Personal Token and Add New System Token forms
// ask for.
type NewToken struct {
	Kind  TokenKind
	Name  string
	Roles []Role
}

// CreateToken makes a token for actor and returns it with its secret, which
// exists nowhere else: only the digest and last four characters are stored.
// Any member may create a personal token for themselves; only the owner may
// create a system token.
func (d *DB) CreateToken(ctx context.Context, actor Member, nt NewToken) (Token, TokenText, error) {
	nt.Name = strings.TrimSpace(nt.Name)
	if err := nt.validate(); err != nil {
		return Token{}, "", err
	}
	if nt.Kind == KindSystem && !actor.IsOwner() {
		return Token{}, "", Errorf(EFORBIDDEN, "Only the organization owner can create system tokens.")
	}

	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, "", err
	}
	defer tx.Rollback()

	if err := checkActor(ctx, tx, actor); err != nil {
		return Token{}, "", err
	}
	if err := checkNameFree(ctx, tx, actor, nt); err != nil {
		return Token{}, "", err
	}
	text := newTokenText(nt.Kind)
	digest := DigestOf(string(text))
	var memberID sql.NullInt64
	if nt.Kind == KindPersonal {
		memberID = sql.NullInt64{Int64: actor.ID, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO tokens (org_id, kind, member_id, created_by, name, digest, last_four, roles, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		actor.OrgID, nt.Kind, memberID, actor.ID, nt.Name, digest[:], text.LastFour(), joinRoles(nt.Roles, " "), d.now().Unix())
	if err != nil {
		return Token{}, "", err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Token{}, "", err
	}
	t, err := findToken(ctx, tx, id)
	if err != nil {
		return Token{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, "", err
	}
	return t, text, nil
}

func (nt *NewToken) validate() error {
	switch n := utf8.RuneCountInString(nt.Name); {
	case nt.Kind != KindPersonal && nt.Kind != KindSystem:
		return fieldError("kind", "unknown token kind %q", nt.Kind)
	case n == 0:
		return fieldError("name", "Enter a token name.")
	case n > MaxTokenNameLen:
		return fieldError("name", "Token name must be at most %d characters (this one has %d).", MaxTokenNameLen, n)
	case !utf8.ValidString(nt.Name) || strings.ContainsFunc(nt.Name, forbiddenInName):
		return fieldError("name", "Token name cannot contain control or text-direction characters.")
	}
	if nt.Kind == KindPersonal {
		if len(nt.Roles) > 0 {
			return fieldError("roles", "A personal token acts with its member's roles and takes none of its own.")
		}
		return nil
	}
	nt.Roles = sortRoles(slices.Clone(nt.Roles))
	if len(nt.Roles) == 0 {
		return fieldError("roles", "Assign at least one role.")
	}
	for _, r := range nt.Roles {
		if !r.Assignable() {
			return fieldError("roles", "%q cannot be assigned to a system token.", r)
		}
	}
	return nil
}

// forbiddenInName refuses control characters and the Unicode formatting
// characters that reorder text, which can make one name look like another.
func forbiddenInName(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f',
		'\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// checkActor makes sure the acting member is still in the organization as
// the database sees it now, not as the caller's copy says.
func checkActor(ctx context.Context, tx *sql.Tx, actor Member) error {
	cur, err := findMember(ctx, tx, `m.id = ? AND m.left_at IS NULL`, actor.ID)
	if ErrorCode(err) == ENOTFOUND || (err == nil && (cur.OrgID != actor.OrgID || cur.IsOwner() != actor.IsOwner())) {
		return Errorf(EFORBIDDEN, "You are no longer a member of this organization.")
	}
	return err
}

func checkNameFree(ctx context.Context, tx *sql.Tx, actor Member, nt NewToken) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens
		WHERE org_id = ? AND kind = ? AND ifnull(member_id, 0) = ? AND name = ? COLLATE NOCASE AND revoked_at IS NULL`,
		actor.OrgID, nt.Kind, ownerKey(actor, nt.Kind), nt.Name).Scan(&n)
	switch {
	case err != nil:
		return err
	case n == 0:
		return nil
	case nt.Kind == KindSystem:
		return &Error{Code: ECONFLICT, Field: "name", Message: "The organization already has an active system token with this name."}
	default:
		return &Error{Code: ECONFLICT, Field: "name", Message: "You already have an active personal token with this name."}
	}
}

func ownerKey(actor Member, kind TokenKind) int64 {
	if kind == KindPersonal {
		return actor.ID
	}
	return 0
}

// TokenFilter selects tokens of the acting member's organization.
type TokenFilter struct {
	Kind TokenKind
	// MemberID limits personal tokens to one member's; 0 means every
	// member's, which only the owner may list.
	MemberID       int64
	IncludeRevoked bool
}

// ListTokens lists the tokens actor may see that match f, newest first. A
// member sees only their own personal tokens; the owner sees every token of
// the organization. Nobody sees another organization's.
func (d *DB) ListTokens(ctx context.Context, actor Member, f TokenFilter) ([]Token, error) {
	if (f.Kind != KindPersonal || f.MemberID != actor.ID) && !actor.IsOwner() {
		return nil, Errorf(EFORBIDDEN, "Only the organization owner can see these tokens.")
	}
	where := []string{`t.org_id = ?`}
	args := []any{actor.OrgID}
	if f.Kind != "" {
		where = append(where, `t.kind = ?`)
		args = append(args, f.Kind)
	}
	if f.MemberID != 0 {
		where = append(where, `t.member_id = ?`)
		args = append(args, f.MemberID)
	}
	if !f.IncludeRevoked {
		where = append(where, `t.revoked_at IS NULL`)
	}
	rows, err := d.db.QueryContext(ctx, tokenQuery+` WHERE `+strings.Join(where, " AND ")+` ORDER BY t.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// Token returns the token with this id if actor may manage it. A token of
// another organization, or another member's that actor may not manage, is
// reported as not found, so ids reveal nothing.
func (d *DB) Token(ctx context.Context, actor Member, id int64) (Token, error) {
	t, err := findToken(ctx, d.db, id)
	if err != nil {
		return Token{}, err
	}
	if !canManage(actor, t) {
		return Token{}, errTokenNotFound
	}
	return t, nil
}

var errTokenNotFound = Errorf(ENOTFOUND, "No such token.")

func canManage(actor Member, t Token) bool {
	return t.OrgID == actor.OrgID && (actor.IsOwner() || t.Kind == KindPersonal && t.MemberID == actor.ID)
}

// RevokeToken revokes a token actor may manage. Revoking is idempotent: a
// token already revoked is returned as it is, with revoked false.
func (d *DB) RevokeToken(ctx context.Context, actor Member, id int64) (t Token, revoked bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, false, err
	}
	defer tx.Rollback()

	if err := checkActor(ctx, tx, actor); err != nil {
		return Token{}, false, err
	}
	t, err = findToken(ctx, tx, id)
	if err != nil {
		return Token{}, false, err
	}
	if !canManage(actor, t) {
		return Token{}, false, errTokenNotFound
	}
	if !t.Active() {
		return t, false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`, d.now().Unix(), actor.ID, ReasonRevoked, id); err != nil {
		return Token{}, false, err
	}
	if t, err = findToken(ctx, tx, id); err != nil {
		return Token{}, false, err
	}
	return t, true, tx.Commit()
}

const tokenQuery = `SELECT t.id, t.org_id, t.kind, t.name, t.last_four, t.roles,
	ifnull(t.member_id, 0), ifnull(m.name, ''), ifnull(m.email, ''),
	t.created_by, c.name, t.created_at, t.revoked_at, ifnull(t.revoke_reason, '')
	FROM tokens t
	LEFT JOIN members m ON m.id = t.member_id
	JOIN members c ON c.id = t.created_by`

func findToken(ctx context.Context, q queryer, id int64) (Token, error) {
	t, err := scanToken(q.QueryRowContext(ctx, tokenQuery+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, errTokenNotFound
	}
	return t, err
}

func scanToken(s interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var roles string
	var created int64
	var revoked sql.NullInt64
	err := s.Scan(&t.ID, &t.OrgID, &t.Kind, &t.Name, &t.LastFour, &roles,
		&t.MemberID, &t.MemberName, &t.MemberEmail,
		&t.CreatedBy, &t.CreatedByName, &created, &revoked, &t.RevokeReason)
	if err != nil {
		return Token{}, err
	}
	t.Roles = splitRoles(roles)
	t.CreatedAt = unixTime(created)
	t.RevokedAt = nullUnixTime(revoked)
	return t, nil
}
