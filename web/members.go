package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// The owner's console: Members. Every route here is the owner's only
// (requireOwnerTo in routes.go, and the store checks again), except the
// invitation link, which whoever holds it opens to join.

// invitationLink is the link an invitee opens, on the host and scheme the
// owner reached this server by.
func invitationLink(c echo.Context, code string) string {
	scheme := "http"
	if isTLS(c) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host + invitationsDir + code
}

func (s *Server) membersPage(c echo.Context) error {
	m, _ := memberOf(c)
	if isHTMX(c) {
		// The search changed: only the list does.
		l, err := s.memberList(c, m)
		if err != nil {
			return err
		}
		return render(c, http.StatusOK, views.MemberListView(l))
	}
	flash, err := s.takeFlash(c)
	if err != nil {
		return err
	}
	p, err := s.membersPageOf(c, m, flash)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MembersView(p))
}

// membersPageOf gathers the Members page in the view the URL asks for.
func (s *Server) membersPageOf(c echo.Context, m store.Member, flash string) (views.MembersPage, error) {
	l, err := s.memberList(c, m)
	if err != nil {
		return views.MembersPage{}, err
	}
	p := views.MembersPage{Viewer: viewerOf(c, m), Flash: flash, List: l}
	if l.Former {
		return p, nil
	}
	invs, err := s.db.PendingInvitations(c.Request().Context(), m)
	if err != nil {
		return views.MembersPage{}, err
	}
	for _, inv := range invs {
		p.Invitations = append(p.Invitations, invitationRow(inv))
	}
	return p, nil
}

// memberList is one page of the members the URL asks for: ?view=former for
// those who left, ?q= to search by name or email, ?before= for the next page.
func (s *Server) memberList(c echo.Context, viewer store.Member) (views.MemberList, error) {
	q, former := strings.TrimSpace(c.QueryParam("q")), c.QueryParam("view") == "former"
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	ms, err := s.db.ListMembers(c.Request().Context(), viewer, store.MemberFilter{
		Q: q, Former: former, BeforeID: before, Limit: pageSize + 1,
	})
	if err != nil {
		return views.MemberList{}, err
	}
	l := views.MemberList{Q: q, Former: former, CurrentURL: membersURL(q, false, 0), FormerURL: membersURL(q, true, 0)}
	if len(ms) > pageSize {
		ms = ms[:pageSize]
		l.MoreURL = membersURL(q, former, ms[pageSize-1].ID)
	}
	for _, lm := range ms {
		r := memberRow(lm.Member, viewer)
		r.ActiveTokens = lm.ActiveTokens
		l.Members = append(l.Members, r)
	}
	return l, nil
}

func memberRow(m store.Member, viewer store.Member) views.MemberRow {
	r := views.MemberRow{
		ID: m.ID, Name: m.Name, Email: m.Email, Roles: store.RoleTitles(m.Roles),
		LastSignIn: "Never",
		Joined:     m.CreatedAt.Format(dateLayout), JoinedISO: m.CreatedAt.Format(time.RFC3339),
		You:       m.ID == viewer.ID,
		EventsURL: memberEventsPath(m.ID),
	}
	if !m.LastSignInAt.IsZero() {
		r.LastSignIn, r.LastSignInISO = m.LastSignInAt.Format(dateLayout), m.LastSignInAt.Format(time.RFC3339)
	}
	switch {
	case !m.LeftAt.IsZero():
		r.Left, r.LeftISO = m.LeftAt.Format(dateLayout), m.LeftAt.Format(time.RFC3339)
	case m.IsOwner():
		// The owner is made on the command line and stays: nothing to
		// change or remove here.
	default:
		r.RolesURL, r.RemoveURL = memberRolesPath(m.ID), memberRemovePath(m.ID)
	}
	return r
}

func invitationRow(inv store.Invitation) views.InvitationRow {
	return views.InvitationRow{
		ID: inv.ID, Email: inv.Email, Name: inv.Name, Roles: store.RoleTitles(inv.Roles), InvitedBy: inv.InvitedByName,
		Invited: inv.CreatedAt.Format(dateLayout), InvitedISO: inv.CreatedAt.Format(time.RFC3339),
		Expires: inv.ExpiresAt.Format(dateTimeLayout), ExpiresISO: inv.ExpiresAt.Format(time.RFC3339),
		WithdrawURL: withdrawPath(inv.ID),
	}
}

// memberRoleOptions are the roles the owner may give a member, those in
// checked marked.
func memberRoleOptions(checked []string) []views.RoleOption {
	opts := make([]views.RoleOption, 0, len(store.AssignableRoles))
	for _, r := range store.AssignableRoles {
		opts = append(opts, views.RoleOption{
			Key: string(r), Title: r.Title(), Description: r.Description(), Checked: slices.Contains(checked, string(r)),
		})
	}
	return opts
}

// lifetimeWords says a duration of whole days in words: "7 days".
func lifetimeWords(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	if days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", days)
}

// inviteInput is what was typed into Invite member.
type inviteInput struct {
	name, email string
	roles       []string
}

func (s *Server) inviteForm(c echo.Context) error {
	return s.renderInviteForm(c, http.StatusOK, inviteInput{}, nil)
}

func (s *Server) renderInviteForm(c echo.Context, status int, in inviteInput, errs map[string]string) error {
	m, _ := memberOf(c)
	return render(c, status, views.InviteFormView(views.InviteForm{
		Viewer: viewerOf(c, m), Name: in.name, Email: in.email, Roles: memberRoleOptions(in.roles),
		Lifetime: lifetimeWords(store.InvitationLifetime), Errors: errs,
	}))
}

// inviteMember makes an invitation from the Invite member form and answers
// with the Members page showing its link, this once: like a new key, the
// response is never stored, so reloading or going back cannot show it
// again. A form with mistakes comes back with what was typed and every
// message beside its field.
func (s *Server) inviteMember(c echo.Context) error {
	m, _ := memberOf(c)
	form, err := formOf(c)
	if err != nil {
		return err
	}
	in := inviteInput{name: form.Get("name"), email: form.Get("email"), roles: form["roles"]}
	errs := map[string]string{}
	ni := store.NewInvitation{Name: in.name, Email: in.email}
	if ni.Roles, err = store.ParseRoles(in.roles...); err != nil {
		errs["roles"] = store.ErrorMessage(err)
	}
	for _, p := range ni.Problems() {
		if _, ok := errs[p.Field]; !ok {
			errs[p.Field] = p.Message
		}
	}
	if len(errs) > 0 {
		return s.renderInviteForm(c, http.StatusUnprocessableEntity, in, errs)
	}

	inv, code, err := s.db.InviteMember(c.Request().Context(), m, ni)
	if status, ok := formFailure(err); ok {
		return s.renderInviteForm(c, status, in, map[string]string{formField(err, "name", "email", "roles"): store.ErrorMessage(err)})
	} else if err != nil {
		return err
	}

	p, err := s.membersPageOf(c, m, "")
	if err != nil {
		return err
	}
	p.Invitation = &views.InvitationLink{
		Name: inv.Name, Email: inv.Email, Link: invitationLink(c, code),
		Expires: inv.ExpiresAt.Format(dateTimeLayout), ExpiresISO: inv.ExpiresAt.Format(time.RFC3339),
		Lifetime: lifetimeWords(store.InvitationLifetime),
	}
	noStore(c)
	return render(c, http.StatusCreated, views.MembersView(p))
}

// formFailure reports whether err is a mistake a form says beside a field
// (invalid input, or a conflict such as an email already in), and with
// which status.
func formFailure(err error) (int, bool) {
	switch code := store.ErrorCode(err); code {
	case store.EINVALID, store.ECONFLICT:
		return statusOf[code], true
	}
	return 0, false
}

// formField is the field err is about, if the form has it; "" (the form
// as a whole) otherwise.
func formField(err error, fields ...string) string {
	if f := store.ErrorField(err); slices.Contains(fields, f) {
		return f
	}
	return ""
}

// idParam reads the :id of a route; an id that is not a number as this
// server writes it is one that names nothing, answered with notFound.
func idParam(c echo.Context, notFound error) (int64, error) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		return 0, notFound
	}
	return id, nil
}

var (
	errNoSuchMember     = store.Errorf(store.ENOTFOUND, "No such member.")
	errNoSuchInvitation = store.Errorf(store.ENOTFOUND, "No such invitation.")
)

// withdrawInvitation stops an invitation's link working.
func (s *Server) withdrawInvitation(c echo.Context) error {
	m, _ := memberOf(c)
	id, err := idParam(c, errNoSuchInvitation)
	if err != nil {
		return err
	}
	inv, err := s.db.WithdrawInvitation(c.Request().Context(), m, id)
	if err != nil {
		return err
	}
	return s.redirectSaying(c, membersPath, fmt.Sprintf("The invitation for %s was withdrawn; its link no longer works.", inv.Email))
}

// changeableMember is the member of the :id, if the owner may change their
// roles or remove them: in the organization, and not the owner.
func (s *Server) changeableMember(c echo.Context, ownerRefusal string) (store.Member, error) {
	m, _ := memberOf(c)
	id, err := idParam(c, errNoSuchMember)
	if err != nil {
		return store.Member{}, err
	}
	target, err := s.db.MemberByID(c.Request().Context(), m, id)
	switch {
	case err != nil:
		return store.Member{}, err
	case !target.LeftAt.IsZero():
		return store.Member{}, store.Errorf(store.ECONFLICT, "%s left the organization on %s.", target.Name, target.LeftAt.Format(dateLayout))
	case target.IsOwner():
		return store.Member{}, store.Errorf(store.EFORBIDDEN, "%s", ownerRefusal)
	}
	return target, nil
}

const (
	ownerRolesRefusal  = "The owner's roles cannot be changed."
	ownerRemoveRefusal = "The owner cannot be removed from the organization."
)

func (s *Server) memberRolesForm(c echo.Context) error {
	target, err := s.changeableMember(c, ownerRolesRefusal)
	if err != nil {
		return err
	}
	return s.renderRolesForm(c, http.StatusOK, target, roleKeys(target.Roles), nil)
}

func (s *Server) renderRolesForm(c echo.Context, status int, target store.Member, checked []string, errs map[string]string) error {
	m, _ := memberOf(c)
	return render(c, status, views.MemberRolesView(views.MemberRolesForm{
		Viewer: viewerOf(c, m), Member: memberRow(target, m), Roles: memberRoleOptions(checked), Errors: errs,
	}))
}

// setMemberRoles saves the roles ticked on Change roles: at least one, the
// owner's not among them.
func (s *Server) setMemberRoles(c echo.Context) error {
	m, _ := memberOf(c)
	target, err := s.changeableMember(c, ownerRolesRefusal)
	if err != nil {
		return err
	}
	form, err := formOf(c)
	if err != nil {
		return err
	}
	checked := form["roles"]
	roles, err := store.ParseRoles(checked...)
	if err == nil {
		err = store.CheckMemberRoles(roles)
	}
	if err == nil {
		var changed store.Member
		changed, err = s.db.SetMemberRoles(c.Request().Context(), m, target.ID, roles)
		if err == nil {
			msg := fmt.Sprintf("Roles of %s changed to %s.", changed.Name, joinTitles(store.RoleTitles(changed.Roles)))
			if slices.Equal(changed.Roles, target.Roles) {
				msg = fmt.Sprintf("Roles of %s unchanged: %s.", changed.Name, joinTitles(store.RoleTitles(changed.Roles)))
			}
			return s.redirectSaying(c, membersPath, msg)
		}
	}
	if status, ok := formFailure(err); ok {
		return s.renderRolesForm(c, status, target, checked, map[string]string{formField(err, "roles"): store.ErrorMessage(err)})
	}
	return err
}

// offboarding is Remove: what leaves with the member and what stays, and
// Yes, Remove.
func (s *Server) offboarding(c echo.Context) error {
	m, _ := memberOf(c)
	target, err := s.changeableMember(c, ownerRemoveRefusal)
	if err != nil {
		return err
	}
	o, err := s.db.OffboardingOf(c.Request().Context(), m, target.ID)
	if err != nil {
		return err
	}
	p := views.OffboardingPage{Viewer: viewerOf(c, m), Member: memberRow(o.Member, m)}
	for _, t := range o.Leaving {
		p.Leaving = append(p.Leaving, offboardingToken(t))
	}
	for _, t := range o.Staying {
		p.Staying = append(p.Staying, offboardingToken(t))
	}
	return render(c, http.StatusOK, views.OffboardingView(p))
}

func offboardingToken(t store.Token) views.OffboardingToken {
	ot := views.OffboardingToken{
		ID: t.ID, Name: t.Name, Hint: t.Hint(), Roles: store.RoleTitles(t.Roles), LastUsed: "Never", Expires: "Never",
		PageURL: tokenPageURL(t.ID), EventsURL: tokenEventsPath(t.ID), RevokeURL: fmt.Sprintf("/tokens/%d/revoke", t.ID),
	}
	if !t.LastUsedAt.IsZero() {
		ot.LastUsed = t.LastUsedAt.Format(dateTimeLayout)
		if t.LastUsedIP != "" {
			ot.LastUsed += " from " + t.LastUsedIP
		}
	}
	if !t.ExpiresAt.IsZero() {
		ot.Expires = t.ExpiresAt.Format(dateLayout)
	}
	return ot
}

// removeMember is Yes, Remove: the member's personal tokens are revoked,
// their sessions end, and they are listed under Former members.
func (s *Server) removeMember(c echo.Context) error {
	m, _ := memberOf(c)
	target, err := s.changeableMember(c, ownerRemoveRefusal)
	if err != nil {
		return err
	}
	gone, revoked, err := s.db.RemoveMemberByID(c.Request().Context(), m, target.ID)
	if err != nil {
		return err
	}
	tokens := "personal tokens were"
	if revoked == 1 {
		tokens = "personal token was"
	}
	return s.redirectSaying(c, membersURL("", true, 0), fmt.Sprintf("%s was removed; %d %s revoked.", gone.Name, revoked, tokens))
}

// joinInput is what was typed into the join form.
type joinInput struct {
	name, password, confirm string
}

// invitationPage is where an invitation link leads: Join, with the email
// invited and a password to choose. A link that cannot be used is a 404
// that says why it may be.
func (s *Server) invitationPage(c echo.Context) error {
	inv, err := s.db.InvitationByCode(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return s.renderJoin(c, http.StatusOK, inv, inv.Name, nil)
}

func (s *Server) renderJoin(c echo.Context, status int, inv store.Invitation, name string, errs map[string]string) error {
	// The link is the key to the form: kept out of every cache.
	noStore(c)
	return render(c, status, views.JoinView(views.JoinPage{
		CSRF: csrfToken(c), OrgName: inv.OrgName, Email: inv.Email, Name: name, Roles: store.RoleTitles(inv.Roles),
		InvitedBy: inv.InvitedByName, Action: invitationsDir + c.Param("code"), MinPasswordLen: store.MinPasswordLen, Errors: errs,
	}))
}

// acceptInvitation makes the invitee a member, with the password they
// chose (the command line's rules), and signs them in: whoever was signed
// in on this browser before is signed out.
func (s *Server) acceptInvitation(c echo.Context) error {
	ctx := c.Request().Context()
	code := c.Param("code")
	inv, err := s.db.InvitationByCode(ctx, code)
	if err != nil {
		return err
	}
	in := joinInput{name: c.FormValue("name"), password: c.FormValue("password"), confirm: c.FormValue("password_confirm")}
	errs := map[string]string{}
	// The name obeys the rule an invitation's does.
	for _, p := range (store.NewInvitation{Name: in.name, Email: inv.Email, Roles: inv.Roles}).Problems() {
		if p.Field == "name" {
			errs["name"] = p.Message
		}
	}
	if err := store.ValidatePassword(in.password); err != nil {
		errs["password"] = sentence(store.ErrorMessage(err))
	} else if in.confirm != in.password {
		errs["password_confirm"] = "The passwords do not match."
	}
	if len(errs) > 0 {
		return s.renderJoin(c, http.StatusUnprocessableEntity, inv, in.name, errs)
	}

	m, err := s.db.AcceptInvitation(ctx, code, in.name, in.password)
	if status, ok := formFailure(err); ok {
		return s.renderJoin(c, status, inv, in.name, map[string]string{formField(err, "name", "password"): sentence(store.ErrorMessage(err))})
	} else if err != nil {
		return err
	}
	if err := s.startSession(c, m.ID, fmt.Sprintf("Welcome to %s, %s. You are signed in.", m.OrgName, m.Name)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, tokensRoot)
}

// sentence makes a message written for the command line ("password is too
// weak: …") read as one on a page: capitalized, with a full stop.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
