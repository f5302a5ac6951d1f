package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"
)

// MaxTokenNameLen is the longest Token Name, in UTF-16 code units (see
// names.go): the maxlength of the form's field.
const MaxTokenNameLen = 100

// Why a token stopped working.
const (
	ReasonRevoked    = "revoked"
	ReasonMemberLeft = "member_left"
	ReasonLeaked     = "leaked"
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

	// CreatedBy is the member who made the token: on the page, or on the
	// API through one of their personal tokens. It is 0 when a system token
	// made it, which has no member behind it.
	CreatedBy      int64
	CreatedByName  string
	CreatedByEmail string
	// CreatorLeft is when the member who made it left the organization;
	// zero while they are in it.
	CreatorLeft time.Time
	// CreatedByToken is the token that made it on the API, 0 on the page;
	// its name and hint as Name and Hint show it.
	CreatedByToken     int64
	CreatedByTokenName string
	CreatedByTokenHint string
	CreatedAt          time.Time
	ExpiresAt          time.Time // zero: never

	LastUsedAt time.Time // zero: never used
	LastUsedIP string

	RevokedAt    time.Time // zero while the token is active
	RevokeReason string
	// RevokedBy names who revoked it: a member, or a token on the API;
	// empty for a member leaving or a leak report.
	RevokedBy string

	// Description says what the token is for; up to 500 characters.
	Description string
	// AllowedIPs are the addresses it may be used from; empty: any.
	AllowedIPs AllowList

	// RotatedAt is when its secret was last replaced; zero: never. Until
	// GraceUntil the secret before it (PrevHint) works too.
	RotatedAt  time.Time
	GraceUntil time.Time
	PrevHint   string
	// OldSecretUsedAt is when the secret before the last rotation was
	// presented after its grace, and from where: it may have leaked.
	OldSecretUsedAt time.Time
	OldSecretUsedIP string

	// LeakedAt is when a leak report named its key, found at LeakURL.
	LeakedAt time.Time
	LeakURL  string
}

// InGrace reports whether the secret before the last rotation still works
// at now.
func (t Token) InGrace(now time.Time) bool { return !t.GraceUntil.IsZero() && now.Before(t.GraceUntil) }

// Active reports whether the token has not been revoked.
func (t Token) Active() bool { return t.RevokedAt.IsZero() }

// Token states, as lists and the API name them.
const (
	StateActive  = "active"
	StateExpired = "expired"
	StateRevoked = "revoked"
)

// State is whether the token works at now: active, expired or revoked.
func (t Token) State(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return StateRevoked
	case expired(t.ExpiresAt, now):
		return StateExpired
	}
	return StateActive
}

// expired reports whether a token expiring at exp no longer works at now.
func expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

// Hint is how a token is shown after creation: its prefix and last four
// characters, e.g. "tkp_…a1B9".
func (t Token) Hint() string { return kindPrefix(t.Kind) + "…" + t.LastFour }

// NewToken is what the Add New Personal Token and Add New System Token forms
// ask for.
type NewToken struct {
	Kind  TokenKind
	Name  string
	Roles []Role
	// ExpiresAt is when the token stops working; nil for never, which an
	// organization maximum lifetime does not allow. "Never" is said only
	// this way: a zero time is a time long past and is refused.
	ExpiresAt *time.Time
	// Description says what it is for (optional, MaxDescriptionLen).
	Description string
	// AllowedIPs limits where it may be used from; empty: anywhere.
	AllowedIPs AllowList
}

// CreateToken makes a token for actor and returns it with its secret, which
// exists nowhere else: only the digest and last four characters are stored.
// Any member may create a personal token for themselves; only the owner (on
// the API, a token acting as admin) may create a system token. Admin covers
// every assignable role, so no one who may make a system token can give it a
// role they lack.
func (d *DB) CreateToken(ctx context.Context, actor Actor, nt NewToken) (Token, TokenText, error) {
	a := actor.acting()
	if nt.ExpiresAt != nil {
		// Kept in whole seconds, UTC: check the expiry that will be stored.
		nt.ExpiresAt = new(nt.ExpiresAt.UTC().Truncate(time.Second))
	}
	nt.Description = cleanDescription(nt.Description)
	if err := nt.validate(); err != nil {
		return Token{}, "", err
	}
	nt.Name = cleanName(nt.Name)
	switch {
	case nt.Kind == KindSystem && !a.manager:
		return Token{}, "", Errorf(EFORBIDDEN, "Only the organization owner, or a token acting as admin, can create system tokens.")
	case nt.Kind == KindPersonal && a.memberID == 0:
		return Token{}, "", Errorf(EFORBIDDEN, "A system token belongs to no member, so it cannot create personal tokens.")
	}

	tx, err := d.begin(ctx)
	if err != nil {
		return Token{}, "", err
	}
	defer tx.Rollback()

	now := d.now()
	if err := checkActor(ctx, tx, a); err != nil {
		return Token{}, "", err
	}
	if !a.expires.IsZero() && (nt.ExpiresAt == nil || nt.ExpiresAt.After(a.expires)) {
		return Token{}, "", fieldError("expires", "A token cannot make a token that outlives it: this one expires %s.", a.expires.Format(time.RFC3339))
	}
	if err := checkExpiry(ctx, tx, a.orgID, nt.ExpiresAt, now); err != nil {
		return Token{}, "", err
	}
	if err := checkNameFree(ctx, tx, a, nt); err != nil {
		return Token{}, "", err
	}
	text := newTokenText(nt.Kind)
	digest := DigestOf(string(text))
	var memberID sql.NullInt64
	if nt.Kind == KindPersonal {
		memberID = sql.NullInt64{Int64: a.memberID, Valid: true}
	}
	id, err := tx.insertID(ctx, `INSERT INTO tokens (org_id, kind, member_id, created_by, created_by_token, name, name_key, digest, last_four, roles,
		created_at, expires_at, description, allowed_ips)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.orgID, nt.Kind, memberID, nullID(a.createdBy()), nullID(a.tokenID), nt.Name, NameKey(nt.Name), digest[:], text.LastFour(),
		joinRoles(nt.Roles, " "), now.Unix(), nullTimePtr(nt.ExpiresAt), nt.Description, nt.AllowedIPs.String())
	if err != nil {
		// Another writer (another instance, on PostgreSQL) took the name
		// after the check.
		return Token{}, "", d.conflictOnUnique(err, map[string]error{"tokens_active_name": errNameTaken(nt.Kind)})
	}
	t, err := findToken(ctx, tx, id)
	if err != nil {
		return Token{}, "", err
	}
	if err := record(ctx, tx, a.orgID, a, tokenEvent(ActionTokenCreated, t, t.eventDetails())); err != nil {
		return Token{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, "", err
	}
	return t, text, nil
}

// eventDetails are what a token.created event says of t.
func (t Token) eventDetails() map[string]any {
	d := map[string]any{"kind": t.Kind, "name": t.Name, "expires_at": nil}
	if t.Kind == KindSystem {
		d["roles"] = t.Roles
	}
	if len(t.AllowedIPs) > 0 {
		d["allowed_ips"] = t.AllowedIPs.Strings()
	}
	if !t.ExpiresAt.IsZero() {
		d["expires_at"] = t.ExpiresAt.Format(time.RFC3339)
	}
	return d
}

func (nt *NewToken) validate() error {
	if nt.Kind != KindPersonal && nt.Kind != KindSystem {
		return fieldError("kind", "unknown token kind %q", nt.Kind)
	}
	nt.Roles = sortRoles(slices.Clone(nt.Roles))
	if errs := nt.Problems(); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Problems are every field error of nt at once, name first, so that a form
// can show each beside its field; CreateToken refuses with the first. The
// name is taken as typed (see nameProblem).
func (nt NewToken) Problems() []*Error {
	var errs []*Error
	if msg := nameProblem("Token name", nt.Name, MaxTokenNameLen); msg != "" {
		errs = append(errs, fieldError("name", "%s", msg))
	}
	var e *Error
	if err := checkDescription(cleanDescription(nt.Description)); errors.As(err, &e) {
		errs = append(errs, e)
	}
	if len(nt.AllowedIPs) > MaxAllowedRanges {
		errs = append(errs, fieldError("allowed_ips", "An allow-list holds at most %d addresses and ranges.", MaxAllowedRanges))
	}
	if e := nt.rolesProblem(); e != nil {
		errs = append(errs, e)
	}
	return errs
}

// rolesProblem is what is wrong with nt's roles for its kind, or nil.
func (nt NewToken) rolesProblem() *Error {
	switch {
	case nt.Kind == KindPersonal && len(nt.Roles) > 0:
		return fieldError("roles", "A personal token acts with its member's roles and takes none of its own.")
	case nt.Kind == KindSystem && len(nt.Roles) == 0:
		return fieldError("roles", "Assign at least one role.")
	case nt.Kind == KindSystem:
		for _, r := range nt.Roles {
			if !r.Assignable() {
				return fieldError("roles", "%q cannot be assigned to a system token.", r)
			}
		}
	}
	return nil
}

// createdBy is the member to record as creator: the member acting on the
// page; none when a token acts, which is recorded instead.
func (a acting) createdBy() int64 {
	if a.tokenID != 0 {
		return 0
	}
	return a.memberID
}

// checkActor makes sure the actor is still what the caller's copy says, as
// the database sees it now: the member still in the organization, with the
// same ownership; the acting token not revoked in the meantime.
func checkActor(ctx context.Context, tx *Tx, a acting) error {
	gone := Errorf(EFORBIDDEN, "You are no longer a member of this organization.")
	if a.tokenID != 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE id = ? AND revoked_at IS NULL`, a.tokenID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return ErrTokenRevoked
		}
	}
	if a.memberID == 0 {
		return nil
	}
	cur, err := findMember(ctx, tx, `m.id = ? AND m.left_at IS NULL`, a.memberID)
	if ErrorCode(err) == ENOTFOUND || (err == nil && (cur.OrgID != a.orgID || cur.IsOwner() != a.owner)) {
		return gone
	}
	return err
}

// CheckExpiry is the one rule every way of giving an expiry obeys (days, a
// date, a time; the page's presets and custom date, the API's
// expires_in_days and expires_at): nil is never; a time must lie after now
// and at most MaxTokenLifetimeDays days after it. The error is EINVALID on
// field "expires".
func CheckExpiry(exp *time.Time, now time.Time) error {
	if exp == nil {
		return nil
	}
	if !exp.After(now) {
		return fieldError("expires", "The expiration date must be in the future.")
	}
	if limit := LatestExpiry(now); exp.After(limit) {
		return fieldError("expires", "The expiration date can be at most %d days away (by %s).", MaxTokenLifetimeDays, limit.Format("Jan 2, 2006"))
	}
	return nil
}

// LatestExpiry is the latest expiry a token made at now may have, whatever
// its organization allows.
func LatestExpiry(now time.Time) time.Time { return now.AddDate(0, 0, MaxTokenLifetimeDays) }

// checkExpiry applies CheckExpiry and the organization's maximum lifetime,
// which also rules out "never".
func checkExpiry(ctx context.Context, tx *Tx, orgID int64, exp *time.Time, now time.Time) error {
	if err := CheckExpiry(exp, now); err != nil {
		return err
	}
	var maxDays sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max_token_days FROM orgs WHERE id = ?`, orgID).Scan(&maxDays); err != nil {
		return err
	}
	if !maxDays.Valid {
		return nil
	}
	limit := now.AddDate(0, 0, int(maxDays.Int64))
	if exp == nil || exp.After(limit) {
		return fieldError("expires", "Tokens in this organization must expire within %d days (by %s).", maxDays.Int64, limit.Format("Jan 2, 2006"))
	}
	return nil
}

func checkNameFree(ctx context.Context, tx *Tx, a acting, nt NewToken) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens
		WHERE org_id = ? AND kind = ? AND coalesce(member_id, 0) = ? AND name_key = ? AND revoked_at IS NULL`,
		a.orgID, nt.Kind, ownerKey(a, nt.Kind), NameKey(nt.Name)).Scan(&n)
	switch {
	case err != nil:
		return err
	case n == 0:
		return nil
	}
	return errNameTaken(nt.Kind)
}

func errNameTaken(kind TokenKind) error {
	if kind == KindSystem {
		return &Error{Code: ECONFLICT, Field: "name", Message: "The organization already has an active system token with this name."}
	}
	return &Error{Code: ECONFLICT, Field: "name", Message: "You already have an active personal token with this name."}
}

func ownerKey(a acting, kind TokenKind) int64 {
	if kind == KindPersonal {
		return a.memberID
	}
	return 0
}

// tokensOf reads the tokens that match where, oldest first.
func tokensOf(ctx context.Context, q queryer, where string, args ...any) ([]Token, error) {
	return scanTokens(q.QueryContext(ctx, tokenQuery+` WHERE `+where+` ORDER BY t.id`, args...))
}

func scanTokens(rows *sql.Rows, err error) ([]Token, error) { return scanAll(rows, err, scanToken) }

// Token returns the token with this id if actor may manage it. A token of
// another organization, or another member's that actor may not manage, is
// reported as not found, so ids reveal nothing.
func (d *DB) Token(ctx context.Context, actor Actor, id int64) (Token, error) {
	t, err := findToken(ctx, d.db, id)
	if err != nil {
		return Token{}, err
	}
	if !canManage(actor.acting(), t) {
		return Token{}, errTokenNotFound
	}
	return t, nil
}

var errTokenNotFound = Errorf(ENOTFOUND, "No such token.")

// manageableToken reads, in tx, a token a may manage, after making sure a
// still is what it was (checkActor). A token a may not manage is not
// found; a database error stays what it is.
func manageableToken(ctx context.Context, tx *Tx, a acting, id int64) (Token, error) {
	if err := checkActor(ctx, tx, a); err != nil {
		return Token{}, err
	}
	t, err := findToken(ctx, tx, id)
	if err != nil {
		return Token{}, err
	}
	if !canManage(a, t) {
		return Token{}, errTokenNotFound
	}
	return t, nil
}

func canManage(a acting, t Token) bool {
	return t.OrgID == a.orgID && (a.manager || t.Kind == KindPersonal && a.memberID != 0 && t.MemberID == a.memberID)
}

// RevokeToken revokes a token actor may manage. Revoking is idempotent: a
// token already revoked is returned as it is, with revoked false.
func (d *DB) RevokeToken(ctx context.Context, actor Actor, id int64) (t Token, revoked bool, err error) {
	a := actor.acting()
	tx, err := d.begin(ctx)
	if err != nil {
		return Token{}, false, err
	}
	defer tx.Rollback()

	// A token may revoke itself, so the actor is checked before the change.
	if t, err = manageableToken(ctx, tx, a, id); err != nil {
		return Token{}, false, err
	}
	if !t.Active() {
		return t, false, nil
	}
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return Token{}, false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ?, revoked_by_token = ?, revoke_reason = ?, change_seq = ?
		WHERE id = ? AND revoked_at IS NULL`, d.now().Unix(), nullID(a.createdBy()), nullID(a.tokenID), ReasonRevoked, seq, id)
	if err != nil {
		return Token{}, false, err
	}
	changed, err := res.RowsAffected()
	if err != nil {
		return Token{}, false, err
	}
	if t, err = findToken(ctx, tx, id); err != nil {
		return Token{}, false, err
	}
	if changed == 0 {
		// Revoked by someone else between the read above and this write
		// (on PostgreSQL, another instance): theirs is the revoke.
		return t, false, nil
	}
	if err := record(ctx, tx, a.orgID, a, tokenEvent(ActionTokenRevoked, t, map[string]any{"reason": ReasonRevoked, "kind": t.Kind})); err != nil {
		return Token{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, false, err
	}
	d.changed(seq)
	return t, true, nil
}

const tokenQuery = `SELECT t.id, t.org_id, t.kind, t.name, t.last_four, t.roles,
	coalesce(t.member_id, 0), coalesce(m.name, ''), coalesce(m.email, ''),
	coalesce(c.id, 0), coalesce(c.name, ''), coalesce(c.email, ''), c.left_at,
	coalesce(t.created_by_token, 0), coalesce(ct.name, ''), coalesce(ct.kind, ''), coalesce(ct.last_four, ''),
	t.created_at, t.expires_at, t.last_used_at, coalesce(t.last_used_ip, ''), t.revoked_at, coalesce(t.revoke_reason, ''),
	coalesce(rm.name, ''), coalesce(rt.name, ''), coalesce(rt.kind, ''), coalesce(rt.last_four, ''),
	t.description, t.allowed_ips, t.rotated_at, t.grace_until, coalesce(t.prev_last_four, ''),
	t.old_secret_used_at, coalesce(t.old_secret_used_ip, ''), t.leaked_at, coalesce(t.leak_url, '')
	FROM tokens t
	LEFT JOIN members m ON m.id = t.member_id
	LEFT JOIN tokens ct ON ct.id = t.created_by_token
	LEFT JOIN members c ON c.id = coalesce(t.created_by, ct.member_id)
	LEFT JOIN members rm ON rm.id = t.revoked_by
	LEFT JOIN tokens rt ON rt.id = t.revoked_by_token`

func findToken(ctx context.Context, q queryer, id int64) (Token, error) {
	t, err := scanToken(q.QueryRowContext(ctx, tokenQuery+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, errTokenNotFound
	}
	return t, err
}

func scanToken(s rowScanner) (Token, error) {
	var t Token
	var roles string
	var created int64
	var expires, lastUsed, revoked, creatorLeft, rotated, grace, oldUsed, leaked sql.NullInt64
	var ctKind, rtKind TokenKind
	var ctLastFour, rmName, rtName, rtLastFour, allowed, prevLastFour string
	err := s.Scan(&t.ID, &t.OrgID, &t.Kind, &t.Name, &t.LastFour, &roles,
		&t.MemberID, &t.MemberName, &t.MemberEmail,
		&t.CreatedBy, &t.CreatedByName, &t.CreatedByEmail, &creatorLeft,
		&t.CreatedByToken, &t.CreatedByTokenName, &ctKind, &ctLastFour,
		&created, &expires, &lastUsed, &t.LastUsedIP, &revoked, &t.RevokeReason,
		&rmName, &rtName, &rtKind, &rtLastFour,
		&t.Description, &allowed, &rotated, &grace, &prevLastFour,
		&oldUsed, &t.OldSecretUsedIP, &leaked, &t.LeakURL)
	if err != nil {
		return Token{}, err
	}
	switch {
	case rmName != "":
		t.RevokedBy = rmName
	case rtName != "":
		t.RevokedBy = tokenLabel(rtKind, rtLastFour, rtName)
	}
	t.AllowedIPs = readAllowList(allowed)
	t.RotatedAt, t.GraceUntil, t.OldSecretUsedAt, t.LeakedAt = nullUnixTime(rotated), nullUnixTime(grace), nullUnixTime(oldUsed), nullUnixTime(leaked)
	if prevLastFour != "" {
		t.PrevHint = Token{Kind: t.Kind, LastFour: prevLastFour}.Hint()
	}
	if t.CreatedByToken != 0 {
		t.CreatedByTokenHint = Token{Kind: ctKind, LastFour: ctLastFour}.Hint()
	}
	t.CreatorLeft = nullUnixTime(creatorLeft)
	t.Roles = splitRoles(roles)
	t.CreatedAt = unixTime(created)
	t.ExpiresAt = nullUnixTime(expires)
	t.LastUsedAt = nullUnixTime(lastUsed)
	t.RevokedAt = nullUnixTime(revoked)
	return t, nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func nullTimePtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}
