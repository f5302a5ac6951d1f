package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MemberListing is a member as the Members page lists them.
type MemberListing struct {
	Member
	// ActiveTokens is how many of their personal tokens work now.
	ActiveTokens int
}

// MemberFilter selects members of the acting organization.
type MemberFilter struct {
	// Q matches members whose name or email contains it, compared as
	// names are (NameKey: case and width folded).
	Q string
	// Former lists the members who left, latest first; otherwise those in
	// the organization, newest first.
	Former bool
	// BeforeID pages (ids below it); Limit caps the list (0: all).
	BeforeID int64
	Limit    int
}

// ListMembers lists the members of the actor's organization that match f.
// Only the owner may.
func (d *DB) ListMembers(ctx context.Context, actor Actor, f MemberFilter) ([]MemberListing, error) {
	a := actor.acting()
	if err := ownerOnly(a, "see the organization's members"); err != nil {
		return nil, err
	}
	where := []string{`m.org_id = ?`, `m.left_at IS NULL`}
	args := []any{a.orgID}
	order := `m.id DESC`
	if f.Former {
		where[1] = `m.left_at IS NOT NULL`
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		if !storable(q) {
			return nil, nil // no name or email holds one
		}
		pattern := "%" + likeEscaper.Replace(NameKey(q)) + "%"
		where = append(where, `(m.name_key LIKE ? ESCAPE '\' OR m.email_key LIKE ? ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	if f.BeforeID > 0 {
		where = append(where, `m.id < ?`)
		args = append(args, f.BeforeID)
	}
	q := `SELECT ` + memberColumns + `,
		(SELECT count(*) FROM tokens t WHERE t.member_id = m.id AND ` + tokenWorks + `)
		FROM members m JOIN orgs o ON o.id = m.org_id WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, q, append([]any{d.now().Unix()}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []MemberListing
	for rows.Next() {
		var l MemberListing
		var roles string
		var created int64
		var left, signIn sql.NullInt64
		if err := rows.Scan(&l.ID, &l.OrgID, &l.OrgName, &l.Email, &l.Name, &roles, &created, &left, &signIn, &l.ActiveTokens); err != nil {
			return nil, err
		}
		l.Roles, l.CreatedAt, l.LeftAt, l.LastSignInAt = splitRoles(roles), unixTime(created), nullUnixTime(left), nullUnixTime(signIn)
		ms = append(ms, l)
	}
	return ms, rows.Err()
}

// likeEscaper escapes what LIKE would read as a wildcard.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ownerOnly refuses anyone but the organization owner signed in on the
// page: the owner's console is not on the API, except the audit log.
func ownerOnly(a acting, what string) error {
	if !a.owner || a.tokenID != 0 {
		return Errorf(EFORBIDDEN, "Only the organization owner can %s.", what)
	}
	return nil
}

// MemberByID returns a member of the actor's organization, in it or gone.
// Only the owner may look; a member of another organization is not found.
func (d *DB) MemberByID(ctx context.Context, actor Actor, id int64) (Member, error) {
	a := actor.acting()
	if err := ownerOnly(a, "manage members"); err != nil {
		return Member{}, err
	}
	return memberOfOrg(ctx, d.db, a.orgID, id)
}

func memberOfOrg(ctx context.Context, q queryer, orgID, id int64) (Member, error) {
	m, err := findMember(ctx, q, `m.id = ? AND m.org_id = ?`, id, orgID)
	if ErrorCode(err) == ENOTFOUND {
		return Member{}, Errorf(ENOTFOUND, "No such member.")
	}
	return m, err
}

// CheckMemberRoles is the rule for the roles the owner gives a member on
// the page: at least one, each from the catalogue, owner not among them
// (there is one owner, made on the command line).
func CheckMemberRoles(roles []Role) error {
	if len(roles) == 0 {
		return fieldError("roles", "Choose at least one role.")
	}
	for _, r := range roles {
		switch {
		case !r.Valid():
			return fieldError("roles", "%q is not a role.", r)
		case r == RoleOwner:
			return fieldError("roles", "Organization Owner cannot be given here: an organization has exactly one owner.")
		}
	}
	return nil
}

// SetMemberRoles gives a member of the actor's organization new roles. The
// change holds on the member's personal tokens at their next use, on every
// instance: it is stamped with a change number as a revoke is. Only the
// owner may, and not on the owner's own roles.
func (d *DB) SetMemberRoles(ctx context.Context, actor Actor, id int64, roles []Role) (Member, error) {
	a := actor.acting()
	if err := ownerOnly(a, "change a member's roles"); err != nil {
		return Member{}, err
	}
	roles = sortRoles(slices.Clone(roles))
	if err := CheckMemberRoles(roles); err != nil {
		return Member{}, err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Member{}, err
	}
	m, err := memberOfOrg(ctx, tx, a.orgID, id)
	switch {
	case err != nil:
		return Member{}, err
	case !m.LeftAt.IsZero():
		return Member{}, Errorf(ECONFLICT, "%s has left the organization.", m.Name)
	case m.IsOwner():
		return Member{}, Errorf(EFORBIDDEN, "The owner's roles cannot be changed.")
	case slices.Equal(m.Roles, roles):
		return m, nil
	}
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return Member{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET roles = ?, change_seq = ? WHERE id = ? AND left_at IS NULL`,
		joinRoles(roles, " "), seq, m.ID); err != nil {
		return Member{}, err
	}
	if err := record(ctx, tx, a.orgID, a, memberEvent(ActionMemberRolesChanged, m, map[string]any{"from": m.Roles, "to": roles})); err != nil {
		return Member{}, err
	}
	if err := tx.Commit(); err != nil {
		return Member{}, err
	}
	d.changed(seq)
	m.Roles = roles
	return m, nil
}

// RemoveMemberByID is RemoveMember as the owner does it on the Members
// page: the member must be in the owner's organization. It returns the
// member and how many of their tokens were revoked.
func (d *DB) RemoveMemberByID(ctx context.Context, actor Actor, id int64) (Member, int, error) {
	a := actor.acting()
	if err := ownerOnly(a, "remove members"); err != nil {
		return Member{}, 0, err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Member{}, 0, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Member{}, 0, err
	}
	m, err := memberOfOrg(ctx, tx, a.orgID, id)
	switch {
	case err != nil:
		return Member{}, 0, err
	case !m.LeftAt.IsZero():
		return Member{}, 0, Errorf(ECONFLICT, "%s already left the organization.", m.Name)
	case m.IsOwner():
		return Member{}, 0, Errorf(EFORBIDDEN, "The owner cannot be removed from the organization.")
	}
	return d.removeMember(ctx, tx, m, a)
}

// Offboarding is what leaves with a member and what stays, for the owner
// to see before removing them.
type Offboarding struct {
	Member Member
	// Leaving are the member's working personal tokens: revoked on removal.
	Leaving []Token
	// Staying are the working system tokens the member made, on the page or
	// through one of their tokens: they keep working.
	Staying []Token
}

// OffboardingOf gathers the offboarding view of a member of the actor's
// organization. Only the owner may.
func (d *DB) OffboardingOf(ctx context.Context, actor Actor, id int64) (Offboarding, error) {
	m, err := d.MemberByID(ctx, actor, id)
	if err != nil {
		return Offboarding{}, err
	}
	o := Offboarding{Member: m}
	now := d.now().Unix()
	if o.Leaving, err = tokensOf(ctx, d.db, `t.member_id = ? AND `+tokenWorks, m.ID, now); err != nil {
		return Offboarding{}, err
	}
	o.Staying, err = tokensOf(ctx, d.db, `t.org_id = ? AND t.kind = 'system' AND `+tokenWorks+`
		AND (t.created_by = ? OR t.created_by_token IN (SELECT id FROM tokens WHERE member_id = ?))`, m.OrgID, now, m.ID, m.ID)
	return o, err
}

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 7 * 24 * time.Hour

// Invitation is an invitation to join an organization. Its code is shown
// once, to the owner who made it; only its digest is stored.
type Invitation struct {
	ID            int64
	OrgID         int64
	OrgName       string
	Email         string
	Name          string
	Roles         []Role
	InvitedBy     int64
	InvitedByName string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// NewInvitation is what the Invite member form asks for.
type NewInvitation struct {
	Email string
	Name  string
	Roles []Role
}

// Problems are every field error of ni at once, so a form can show each
// beside its field.
func (ni NewInvitation) Problems() []*Error {
	var errs []*Error
	if msg := nameProblem("Name", ni.Name, MaxMemberNameLen); msg != "" {
		errs = append(errs, fieldError("name", "%s", msg))
	}
	if !validEmail(strings.TrimSpace(ni.Email)) || !storable(ni.Email) {
		errs = append(errs, fieldError("email", "Enter an email address, such as ana@example.com."))
	}
	var e *Error
	if err := CheckMemberRoles(ni.Roles); errors.As(err, &e) {
		errs = append(errs, e)
	}
	return errs
}

// InviteMember makes an invitation to the actor's organization and returns
// it with its code, which exists nowhere else. It refuses an email a member
// of this organization has, and one with a pending invitation here. An
// email of another organization's member is not refused here, which would
// tell this owner that the account exists; AcceptInvitation refuses it
// (members sign in by email alone). Only the owner may.
func (d *DB) InviteMember(ctx context.Context, actor Actor, ni NewInvitation) (Invitation, string, error) {
	a := actor.acting()
	if err := ownerOnly(a, "invite members"); err != nil {
		return Invitation{}, "", err
	}
	ni.Email, ni.Roles = strings.TrimSpace(ni.Email), sortRoles(slices.Clone(ni.Roles))
	if errs := ni.Problems(); len(errs) > 0 {
		return Invitation{}, "", errs[0]
	}
	ni.Name = cleanName(ni.Name)
	tx, err := d.begin(ctx)
	if err != nil {
		return Invitation{}, "", err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Invitation{}, "", err
	}
	// Someone of this organization is refused here. Someone of another is
	// not, so that an owner cannot learn who has an account elsewhere:
	// their link is refused when it is opened, by the one who owns the
	// email.
	if m, err := memberByEmail(ctx, tx, ni.Email, false); err == nil && m.OrgID == a.orgID {
		return Invitation{}, "", &Error{Code: ECONFLICT, Field: "email", Message: m.Name + " (" + m.Email + ") is already a member of this organization."}
	} else if code := ErrorCode(err); err != nil && code != ENOTFOUND && code != ECONFLICT {
		return Invitation{}, "", err
	}
	var pending int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM invitations
		WHERE org_id = ? AND email_key = ? AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?`,
		a.orgID, NameKey(ni.Email), tx.now.Unix()).Scan(&pending); err != nil {
		return Invitation{}, "", err
	} else if pending > 0 {
		return Invitation{}, "", &Error{Code: ECONFLICT, Field: "email", Message: ni.Email + " already has a pending invitation; withdraw it to send a new one."}
	}
	code := newInvitationCode()
	digest := DigestOf(code)
	expires := tx.now.Add(InvitationLifetime)
	id, err := tx.insertID(ctx, `INSERT INTO invitations (org_id, email, email_key, name, roles, digest, invited_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.orgID, ni.Email, NameKey(ni.Email), ni.Name, joinRoles(ni.Roles, " "), digest[:],
		a.memberID, tx.now.Unix(), expires.Unix())
	if err != nil {
		return Invitation{}, "", err
	}
	e := event{action: ActionMemberInvited, targetKind: TargetInvitation, target: memberLabel(ni.Name, ni.Email),
		details: map[string]any{"invitation_id": id, "email": ni.Email, "name": ni.Name, "roles": ni.Roles, "expires_at": expires.Format(time.RFC3339)}}
	if err := record(ctx, tx, a.orgID, a, e); err != nil {
		return Invitation{}, "", err
	}
	inv, err := findInvitation(ctx, tx, `i.id = ?`, id)
	if err != nil {
		return Invitation{}, "", err
	}
	return inv, code, tx.Commit()
}

// newInvitationCode is an invitation's secret: 190 bits from crypto/rand,
// base62, so that it reads as one word in a link and a log line redacts it
// as it does a key.
func newInvitationCode() string {
	return string(appendBase62Random(nil, 32))
}

const invitationColumns = `i.id, i.org_id, o.name, i.email, i.name, i.roles, i.invited_by, coalesce(m.name, ''), i.created_at, i.expires_at`

func findInvitation(ctx context.Context, q queryer, where string, args ...any) (Invitation, error) {
	invs, err := scanInvitations(q.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations i
		JOIN orgs o ON o.id = i.org_id LEFT JOIN members m ON m.id = i.invited_by WHERE `+where, args...))
	if err != nil {
		return Invitation{}, err
	}
	if len(invs) == 0 {
		return Invitation{}, ErrInvitationInvalid
	}
	return invs[0], nil
}

func scanInvitations(rows *sql.Rows, err error) ([]Invitation, error) {
	return scanAll(rows, err, scanInvitation)
}

// scanInvitation reads a row of invitationColumns.
func scanInvitation(row rowScanner) (Invitation, error) {
	var i Invitation
	var roles string
	var created, expires int64
	if err := row.Scan(&i.ID, &i.OrgID, &i.OrgName, &i.Email, &i.Name, &roles, &i.InvitedBy, &i.InvitedByName, &created, &expires); err != nil {
		return Invitation{}, err
	}
	i.Roles, i.CreatedAt, i.ExpiresAt = splitRoles(roles), unixTime(created), unixTime(expires)
	return i, nil
}

// PendingInvitations lists the actor's organization's invitations that can
// still be accepted, newest first. Only the owner may.
func (d *DB) PendingInvitations(ctx context.Context, actor Actor) ([]Invitation, error) {
	a := actor.acting()
	if err := ownerOnly(a, "see invitations"); err != nil {
		return nil, err
	}
	return scanInvitations(d.db.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations i
		JOIN orgs o ON o.id = i.org_id LEFT JOIN members m ON m.id = i.invited_by
		WHERE i.org_id = ? AND i.accepted_at IS NULL AND i.withdrawn_at IS NULL AND i.expires_at > ?
		ORDER BY i.id DESC`, a.orgID, d.now().Unix()))
}

// ErrInvitationInvalid is the one answer to a link that cannot be used,
// whatever the reason: unknown, expired, withdrawn or already used.
var ErrInvitationInvalid = Errorf(ENOTFOUND, "This invitation link is not valid: it may have expired, been withdrawn or already been used. Ask the organization owner for a new one.")

// WithdrawInvitation withdraws a pending invitation of the actor's
// organization: its link stops working. Only the owner may.
func (d *DB) WithdrawInvitation(ctx context.Context, actor Actor, id int64) (Invitation, error) {
	a := actor.acting()
	if err := ownerOnly(a, "withdraw invitations"); err != nil {
		return Invitation{}, err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Invitation{}, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Invitation{}, err
	}
	inv, err := findInvitation(ctx, tx, `i.id = ? AND i.org_id = ?`, id, a.orgID)
	if err == ErrInvitationInvalid {
		return Invitation{}, Errorf(ENOTFOUND, "No such invitation.")
	} else if err != nil {
		return Invitation{}, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE invitations SET withdrawn_at = ?, withdrawn_by = ?
		WHERE id = ? AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?`, tx.now.Unix(), a.memberID, id, tx.now.Unix())
	if err != nil {
		return Invitation{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Invitation{}, err
	} else if n == 0 {
		return Invitation{}, Errorf(ECONFLICT, "The invitation for %s is no longer pending: it was accepted, withdrawn or has expired.", inv.Email)
	}
	e := event{action: ActionInvitationWithdrawn, targetKind: TargetInvitation, target: memberLabel(inv.Name, inv.Email),
		details: map[string]any{"invitation_id": inv.ID, "email": inv.Email}}
	if err := record(ctx, tx, a.orgID, a, e); err != nil {
		return Invitation{}, err
	}
	return inv, tx.Commit()
}

// InvitationByCode returns the pending invitation a link's code opens, or
// ErrInvitationInvalid.
func (d *DB) InvitationByCode(ctx context.Context, code string) (Invitation, error) {
	if !plausibleCode(code) {
		return Invitation{}, ErrInvitationInvalid
	}
	digest := DigestOf(code)
	return findInvitation(ctx, d.db, `i.digest = ? AND i.accepted_at IS NULL AND i.withdrawn_at IS NULL AND i.expires_at > ?`, digest[:], d.now().Unix())
}

func plausibleCode(code string) bool {
	if len(code) != 32 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if strings.IndexByte(base62, code[i]) < 0 {
			return false
		}
	}
	return true
}

// AcceptInvitation makes the invitee a member with the invitation's email
// and roles, the name they confirm and the password they choose (the rules
// of `tokend user add`). The link works once. A former member with this
// email starts clean: a new member, their old record kept.
func (d *DB) AcceptInvitation(ctx context.Context, code, name, password string) (Member, error) {
	if msg := nameProblem("Name", name, MaxMemberNameLen); msg != "" {
		return Member{}, fieldError("name", "%s", msg)
	}
	if err := validatePassword(password); err != nil {
		return Member{}, err
	}
	inv, err := d.InvitationByCode(ctx, code)
	if err != nil {
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
	// Taken in this transaction, so the link works once however many
	// browsers post it at once.
	res, err := tx.ExecContext(ctx, `UPDATE invitations SET accepted_at = ?
		WHERE id = ? AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?`, tx.now.Unix(), inv.ID, tx.now.Unix())
	if err != nil {
		return Member{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Member{}, err
	} else if n == 0 {
		return Member{}, ErrInvitationInvalid
	}
	if err := checkEmailFree(ctx, tx, inv.Email); err != nil {
		return Member{}, &Error{Code: ECONFLICT, Message: "An account with " + inv.Email + " already exists, and an email can belong to one organization only. Ask the organization owner to invite another address."}
	}
	id, err := insertMember(ctx, tx, inv.OrgID, inv.Email, cleanName(name), hash, inv.Roles)
	if err != nil {
		return Member{}, d.conflictOnUnique(err, map[string]error{
			"members_active_email": &Error{Code: ECONFLICT, Message: "An account with " + inv.Email + " already exists."},
		})
	}
	if _, err := tx.ExecContext(ctx, `UPDATE invitations SET member_id = ? WHERE id = ?`, id, inv.ID); err != nil {
		return Member{}, err
	}
	m, err := findMember(ctx, tx, `m.id = ?`, id)
	if err != nil {
		return Member{}, err
	}
	e := memberEvent(ActionMemberJoined, m, map[string]any{"roles": m.Roles, "invitation_id": inv.ID, "invited_by": inv.InvitedByName})
	if err := record(ctx, tx, m.OrgID, m.acting(), e); err != nil {
		return Member{}, err
	}
	return m, tx.Commit()
}
