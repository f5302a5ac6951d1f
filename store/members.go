package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	defaultPasswordCost = 12
	MinPasswordLen      = 12
	// bcrypt reads no further than 72 bytes; a longer password would be
	// silently cut, so it is refused instead.
	maxPasswordBytes = 72

	// The longest organization and member names, counted as Token Names
	// are (see names.go).
	MaxOrgNameLen    = 100
	MaxMemberNameLen = 100

	// SessionLifetime is how long a sign-in lasts without signing in again.
	SessionLifetime = 7 * 24 * time.Hour
)

// Member is a person in an organization.
type Member struct {
	ID        int64
	OrgID     int64
	OrgName   string
	Email     string
	Name      string
	Roles     []Role
	CreatedAt time.Time
	LeftAt    time.Time // zero while the member is in the organization
	// LastSignInAt is when they last signed in on the page; zero: never.
	LastSignInAt time.Time
}

// IsOwner reports whether m is the organization owner.
func (m Member) IsOwner() bool { return slices.Contains(m.Roles, RoleOwner) }

// NewMember is what `tokend user add` asks for.
type NewMember struct {
	OrgName  string
	Email    string
	Name     string
	Password string
	Roles    []Role
}

// CreateMember adds a member, creating the organization on first use of its
// name. It refuses a second owner, an email a member still in any
// organization has, and a weak password. The email of someone who left may
// be added again: that makes a new member, while the one who left stays on
// record with their revoked tokens.
func (d *DB) CreateMember(ctx context.Context, nm NewMember) (Member, error) {
	nm.Email = strings.TrimSpace(nm.Email)
	nm.Roles = sortRoles(slices.Clone(nm.Roles))
	if err := nm.validate(); err != nil {
		return Member{}, err
	}
	nm.OrgName, nm.Name = cleanName(nm.OrgName), cleanName(nm.Name)
	hash, err := bcrypt.GenerateFromPassword([]byte(nm.Password), d.PasswordCost)
	if err != nil {
		return Member{}, err
	}

	tx, err := d.begin(ctx)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()

	now := d.now()
	orgID, err := findOrCreateOrg(ctx, tx, nm.OrgName, now)
	if err != nil {
		return Member{}, d.conflictOnUnique(err, map[string]error{
			"orgs_name_key": Errorf(ECONFLICT, "organization %s was just created by someone else; try again", nm.OrgName),
		})
	}
	if err := checkOwnerFree(ctx, tx, orgID, nm); err != nil {
		return Member{}, err
	}
	if err := checkEmailFree(ctx, tx, nm.Email); err != nil {
		return Member{}, err
	}
	id, err := insertMember(ctx, tx, orgID, nm.Email, nm.Name, hash, nm.Roles)
	if err != nil {
		// Another writer (another instance, on PostgreSQL) took the email
		// or ownership after the check.
		return Member{}, d.conflictOnUnique(err, map[string]error{
			"members_active_email": errEmailTaken(nm.Email),
			"members_one_owner":    &Error{Code: ECONFLICT, Field: "roles", Message: "organization " + nm.OrgName + " already has an owner"},
		})
	}
	m, err := findMember(ctx, tx, `m.id = ?`, id)
	if err != nil {
		return Member{}, err
	}
	if err := recordAs(ctx, tx, orgID, cliActor, memberEvent(ActionMemberAdded, m, map[string]any{"roles": m.Roles})); err != nil {
		return Member{}, err
	}
	return m, tx.Commit()
}

// insertMember adds a member to an organization; the caller has checked
// that the email is free and the roles allowed.
func insertMember(ctx context.Context, tx *Tx, orgID int64, email, name string, hash []byte, roles []Role) (int64, error) {
	return tx.insertID(ctx, `INSERT INTO members (org_id, email, email_key, name, name_key, password_hash, roles, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, orgID, email, NameKey(email), name, NameKey(name), string(hash), joinRoles(roles, " "), tx.now.Unix())
}

// checkOwnerFree refuses a second owner for the organization.
func checkOwnerFree(ctx context.Context, tx *Tx, orgID int64, nm NewMember) error {
	if slices.Contains(nm.Roles, RoleOwner) {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT email FROM members
			WHERE org_id = ? AND left_at IS NULL AND (' ' || roles || ' ') LIKE '% owner %'`, orgID).Scan(&owner)
		if err == nil {
			return &Error{Code: ECONFLICT, Field: "roles", Message: "organization " + nm.OrgName + " already has an owner (" + owner + ")"}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	return nil
}

// checkEmailFree refuses an email that a member still in any organization
// has: members sign in by email alone.
func checkEmailFree(ctx context.Context, tx *Tx, email string) error {
	// The key, or the key of one of the duplicates migration 0003 kept.
	key := NameKey(email)
	var taken int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM members
		WHERE left_at IS NULL AND (email_key = ? OR email_key >= ? AND email_key < ?)`,
		key, key+"\x1f", key+"\x20").Scan(&taken); err != nil {
		return err
	} else if taken > 0 {
		return errEmailTaken(email)
	}
	return nil
}

func errEmailTaken(email string) error {
	return &Error{Code: ECONFLICT, Field: "email", Message: "a member with email " + email + " already exists"}
}

func (nm NewMember) validate() error {
	if msg := nameProblem("Organization name", nm.OrgName, MaxOrgNameLen); msg != "" {
		return fieldError("org", "%s", msg)
	}
	if msg := nameProblem("Name", nm.Name, MaxMemberNameLen); msg != "" {
		return fieldError("name", "%s", msg)
	}
	switch {
	case !validEmail(nm.Email):
		return fieldError("email", "%q is not an email address", nm.Email)
	case len(nm.Roles) == 0:
		return fieldError("roles", "at least one role is required")
	}
	for _, r := range nm.Roles {
		if !r.Valid() {
			return fieldError("roles", "%q is not a role", r)
		}
	}
	return validatePassword(nm.Password)
}

func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && len(s) <= 254 &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// ValidatePassword says whether p is strong enough, before anything is
// written: the same rule CreateMember applies.
func ValidatePassword(p string) error { return validatePassword(p) }

func validatePassword(p string) error {
	switch {
	case p == "":
		return fieldError("password", "password is empty")
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return fieldError("password", "password is too weak: use at least %d characters", MinPasswordLen)
	case len(p) > maxPasswordBytes:
		return fieldError("password", "password is too long: at most %d bytes", maxPasswordBytes)
	case strings.Count(p, firstRune(p)) == utf8.RuneCountInString(p):
		return fieldError("password", "password is too weak: it repeats one character")
	}
	return nil
}

// firstRune is p's first character, however many bytes it takes.
func firstRune(p string) string {
	_, n := utf8.DecodeRuneInString(p)
	return p[:n]
}

func findOrCreateOrg(ctx context.Context, tx *Tx, name string, now time.Time) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM orgs WHERE name_key = ?`, NameKey(name)).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	return tx.insertID(ctx, `INSERT INTO orgs (name, name_key, created_at) VALUES (?, ?, ?)`, name, NameKey(name), now.Unix())
}

const memberColumns = `m.id, m.org_id, o.name, m.email, m.name, m.roles, m.created_at, m.left_at, m.last_sign_in_at`

// Emails are compared by key (NameKey). One member who has not left holds
// a key, except where migration 0003 found two already in under one key:
// then the later ones hold the key, U+001F and more. memberByEmail finds
// whoever matches typed, among members in (left false) or those who left
// (left true, the latest first).
//
// Where an email matches two members who are both in, the one whose email
// is exactly what was typed is meant; if neither is, the email is refused
// as ambiguous and both are named, rather than one picked for the person.
func memberByEmail(ctx context.Context, q queryer, typed string, left bool) (Member, error) {
	typed = strings.TrimSpace(typed)
	if !storable(typed) {
		// No stored email holds one (they are refused when added), and
		// PostgreSQL cannot even be asked.
		return Member{}, Errorf(ENOTFOUND, "no member has email %q", typed)
	}
	key := NameKey(typed)
	cond := `m.left_at IS NULL`
	if left {
		cond = `m.left_at IS NOT NULL`
	}
	ms, err := scanMembers(q.QueryContext(ctx, `SELECT `+memberColumns+` FROM members m JOIN orgs o ON o.id = m.org_id
		WHERE `+cond+` AND (m.email_key = ? OR m.email_key >= ? AND m.email_key < ?)
		ORDER BY m.left_at DESC, m.id DESC`, key, key+"\x1f", key+"\x20"))
	if err != nil {
		return Member{}, err
	}
	switch {
	case len(ms) == 0:
		return Member{}, Errorf(ENOTFOUND, "no member has email %s", typed)
	case len(ms) == 1 || left:
		return ms[0], nil
	}
	// Exactly as typed, else as the rules that let both in compared them
	// (SQLite's NOCASE: ASCII letters only).
	var emails []string
	var nocase []Member
	for _, m := range ms {
		if m.Email == typed {
			return m, nil
		}
		if asciiLower(m.Email) == asciiLower(typed) {
			nocase = append(nocase, m)
		}
		emails = append(emails, m.Email)
	}
	if len(nocase) == 1 {
		return nocase[0], nil
	}
	return Member{}, Errorf(ECONFLICT, "%s matches %d members (%s): give the email exactly as stored", typed, len(ms), strings.Join(emails, ", "))
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func findMember(ctx context.Context, q queryer, where string, args ...any) (Member, error) {
	row := q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members m JOIN orgs o ON o.id = m.org_id WHERE `+where, args...)
	m, err := scanMember(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, Errorf(ENOTFOUND, "no such member")
	}
	return m, err
}

func scanMembers(rows *sql.Rows, err error) ([]Member, error) { return scanAll(rows, err, scanMember) }

func scanMember(s rowScanner) (Member, error) {
	var m Member
	var roles string
	var created int64
	var left, signIn sql.NullInt64
	if err := s.Scan(&m.ID, &m.OrgID, &m.OrgName, &m.Email, &m.Name, &roles, &created, &left, &signIn); err != nil {
		return Member{}, err
	}
	m.LastSignInAt = nullUnixTime(signIn)
	m.Roles = splitRoles(roles)
	m.CreatedAt = unixTime(created)
	m.LeftAt = nullUnixTime(left)
	return m, nil
}

// Members lists the members of the organization named orgName, or of every
// organization when orgName is empty, including those who left.
func (d *DB) Members(ctx context.Context, orgName string) ([]Member, error) {
	if !storable(orgName) {
		return nil, nil // no organization has such a name
	}
	return scanMembers(d.db.QueryContext(ctx, `SELECT `+memberColumns+` FROM orgs o JOIN members m ON m.org_id = o.id
		WHERE ? = '' OR o.name_key = ? ORDER BY o.name, m.left_at IS NOT NULL, m.email_key, m.left_at DESC, m.id`, orgName, NameKey(orgName)))
}

// ErrBadCredentials is the one answer to a failed sign-in, whichever part
// was wrong.
var ErrBadCredentials = Errorf(EFORBIDDEN, "Incorrect email or password.")

// dummyHash is a hash to compare against when the email is unknown, so that
// a wrong email costs as long as a wrong password: it is made at the cost new
// passwords get, once per database and cost rather than at program start.
func (d *DB) dummyHash() []byte {
	d.dummyMu.Lock()
	defer d.dummyMu.Unlock()
	if d.dummy == nil || d.dummyCost != d.PasswordCost {
		d.dummy, _ = bcrypt.GenerateFromPassword([]byte("tokend-dummy-password"), d.PasswordCost)
		d.dummyCost = d.PasswordCost
	}
	return d.dummy
}

// Authenticate returns the member with this email and password, still in
// their organization, or ErrBadCredentials.
func (d *DB) Authenticate(ctx context.Context, email, password string) (Member, error) {
	m, err := memberByEmail(ctx, d.db, email, false)
	var hash string
	if err == nil {
		err = d.db.QueryRowContext(ctx, `SELECT password_hash FROM members WHERE id = ?`, m.ID).Scan(&hash)
	}
	switch code := ErrorCode(err); {
	case code == ENOTFOUND || code == ECONFLICT:
		// Unknown, or ambiguous: the same answer, at the same cost.
		bcrypt.CompareHashAndPassword(d.dummyHash(), []byte(password))
		return Member{}, ErrBadCredentials
	case err != nil:
		return Member{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		if err := d.recordFailedSignIn(ctx, m); err != nil {
			return Member{}, err
		}
		return Member{}, ErrBadCredentials
	}
	return m, nil
}

// recordFailedSignIn writes a sign-in with a wrong password to the audit
// log of the member's organization. A sign-in with an unknown email
// belongs to no organization and is not recorded.
func (d *DB) recordFailedSignIn(ctx context.Context, m Member) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	who := eventActor{kind: ActorAnonymous, label: "someone not signed in"}
	if err := recordAs(ctx, tx, m.OrgID, who, memberEvent(ActionSignInFailed, m, map[string]any{"reason": "wrong password"})); err != nil {
		return err
	}
	return tx.Commit()
}

// SetPassword gives a member a new password and ends their sessions, so a
// browser signed in with the old one is signed out.
func (d *DB) SetPassword(ctx context.Context, email, password string) (Member, error) {
	if err := validatePassword(password); err != nil {
		return Member{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), d.PasswordCost)
	if err != nil {
		return Member{}, err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()
	m, err := memberByEmail(ctx, tx, email, false)
	if ErrorCode(err) == ENOTFOUND {
		if _, lerr := memberByEmail(ctx, tx, email, true); lerr == nil {
			return Member{}, Errorf(ENOTFOUND, "%s has left the organization; add them again with user add", strings.TrimSpace(email))
		}
	}
	if err != nil {
		return Member{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET password_hash = ? WHERE id = ?`, string(hash), m.ID); err != nil {
		return Member{}, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE member_id = ?`, m.ID); err != nil {
		return Member{}, err
	}
	if err := recordAs(ctx, tx, m.OrgID, cliActor, memberEvent(ActionPasswordChanged, m, nil)); err != nil {
		return Member{}, err
	}
	return m, tx.Commit()
}

// RemoveMember takes a member out of their organization: their personal
// tokens stop working at once and show as revoked because the member left;
// their sessions end. System tokens they made keep working. The owner cannot
// be removed, since the organization would be left without one.
func (d *DB) RemoveMember(ctx context.Context, email string) (Member, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()

	m, err := memberByEmail(ctx, tx, email, false)
	if ErrorCode(err) == ENOTFOUND {
		m, err = memberByEmail(ctx, tx, email, true)
	}
	switch {
	case err != nil:
		return Member{}, err
	case !m.LeftAt.IsZero():
		return Member{}, Errorf(ECONFLICT, "%s already left %s", m.Email, m.OrgName)
	}
	m, _, err = d.removeMember(ctx, tx, m, acting{})
	return m, err
}

// removeMember takes m out of their organization in tx and commits: their
// personal tokens stop working at once, revoked because the member left,
// and their sessions end. a is who removes them (nobody: the command
// line). It returns how many tokens were revoked.
func (d *DB) removeMember(ctx context.Context, tx *Tx, m Member, a acting) (Member, int, error) {
	if m.IsOwner() {
		return Member{}, 0, Errorf(EFORBIDDEN, "%s is the owner of %s and cannot be removed", m.Email, m.OrgName)
	}
	now := tx.now.Unix()
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return Member{}, 0, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE members SET left_at = ?, change_seq = ? WHERE id = ? AND left_at IS NULL`, now, seq, m.ID)
	if err != nil {
		return Member{}, 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Member{}, 0, err
	} else if n == 0 {
		// Removed by someone else since the read above.
		return Member{}, 0, Errorf(ECONFLICT, "%s already left %s", m.Email, m.OrgName)
	}
	revoked, err := tokensOf(ctx, tx, `t.member_id = ? AND t.revoked_at IS NULL`, m.ID)
	if err != nil {
		return Member{}, 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ?, change_seq = ?
		WHERE member_id = ? AND revoked_at IS NULL`, now, ReasonMemberLeft, seq, m.ID); err != nil {
		return Member{}, 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE member_id = ?`, m.ID); err != nil {
		return Member{}, 0, err
	}
	// The member's removal, and each token it revoked, so that a token's
	// history says why it stopped.
	who, err := actorFor(ctx, tx, a)
	if err != nil {
		return Member{}, 0, err
	}
	if err := recordAs(ctx, tx, m.OrgID, who, memberEvent(ActionMemberRemoved, m, map[string]any{"revoked_tokens": len(revoked)})); err != nil {
		return Member{}, 0, err
	}
	for _, t := range revoked {
		if err := recordAs(ctx, tx, m.OrgID, who, tokenEvent(ActionTokenRevoked, t, map[string]any{"reason": ReasonMemberLeft, "kind": t.Kind})); err != nil {
			return Member{}, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Member{}, 0, err
	}
	d.changed(seq)
	m.LeftAt = unixTime(now)
	return m, len(revoked), nil
}

// CreateSession signs a member in and returns the session id for the cookie.
// Only the id's digest is stored. The sign-in is recorded on the member and
// in the audit log.
func (d *DB) CreateSession(ctx context.Context, memberID int64) (string, error) {
	sid := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	digest := DigestOf(sid)
	tx, err := d.begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	now := tx.now
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (digest, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		digest[:], memberID, now.Unix(), now.Add(SessionLifetime).Unix()); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET last_sign_in_at = ? WHERE id = ?`, now.Unix(), memberID); err != nil {
		return "", err
	}
	m, err := findMember(ctx, tx, `m.id = ?`, memberID)
	if err != nil {
		return "", err
	}
	if err := record(ctx, tx, m.OrgID, m.acting(), memberEvent(ActionSignInSucceeded, m, nil)); err != nil {
		return "", err
	}
	return sid, tx.Commit()
}

// SessionMember returns the member signed in with session id sid: the
// session must be unexpired and the member still in the organization.
func (d *DB) SessionMember(ctx context.Context, sid string) (Member, error) {
	digest := DigestOf(sid)
	m, err := findMember(ctx, d.db, `m.id = (SELECT member_id FROM sessions WHERE digest = ? AND expires_at > ?)
		AND m.left_at IS NULL`, digest[:], d.now().Unix())
	if ErrorCode(err) == ENOTFOUND {
		return Member{}, Errorf(ENOTFOUND, "not signed in")
	}
	return m, err
}

// DeleteSession signs a session out. Deleting an unknown session is no error.
func (d *DB) DeleteSession(ctx context.Context, sid string) error {
	digest := DigestOf(sid)
	_, err := d.w.ExecContext(ctx, `DELETE FROM sessions WHERE digest = ? OR expires_at <= ?`, digest[:], d.now().Unix())
	return err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
