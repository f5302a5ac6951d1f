package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

func (s *Server) tokensPage(c echo.Context) error {
	m, _ := memberOf(c)
	flash, err := s.takeFlash(c)
	if err != nil {
		return err
	}
	lists, err := s.tokenLists(c, m, flash)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokensView(views.TokensPage{Viewer: viewerOf(c, m), Lists: lists}))
}

// tokenLists gathers what the Token Management page lists for m: their own
// personal tokens and, for the owner, everyone's and the system tokens.
func (s *Server) tokenLists(c echo.Context, m store.Member, flash string) (views.TokenLists, error) {
	ctx := c.Request().Context()
	v := viewerOf(c, m)
	l := views.TokenLists{Flash: flash, IsOwner: m.IsOwner(), OrgName: m.OrgName, OwnerRoles: joinTitles(v.RoleTitles)}
	mine, err := s.db.ListTokens(ctx, m, store.TokenFilter{Kind: store.KindPersonal, MemberID: m.ID})
	if err != nil {
		return l, err
	}
	l.MyTokens = tokenRows(mine, m)
	if !m.IsOwner() {
		return l, nil
	}
	users, err := s.db.ListTokens(ctx, m, store.TokenFilter{Kind: store.KindPersonal})
	if err != nil {
		return l, err
	}
	system, err := s.db.ListTokens(ctx, m, store.TokenFilter{Kind: store.KindSystem})
	if err != nil {
		return l, err
	}
	l.UserTokens, l.SystemTokens = tokenRows(users, m), tokenRows(system, m)
	return l, nil
}

func joinTitles(titles []string) string {
	switch len(titles) {
	case 0:
		return "none"
	case 1:
		return titles[0]
	}
	return strings.Join(titles[:len(titles)-1], ", ") + " and " + titles[len(titles)-1]
}

func tokenRows(ts []store.Token, viewer store.Member) []views.TokenRow {
	rows := make([]views.TokenRow, len(ts))
	for i, t := range ts {
		rows[i] = tokenRow(t, viewer)
	}
	return rows
}

func tokenRow(t store.Token, viewer store.Member) views.TokenRow {
	r := views.TokenRow{
		ID:         t.ID,
		Name:       t.Name,
		Hint:       t.Hint(),
		Created:    t.CreatedAt.Format("Jan 2, 2006"),
		CreatedISO: t.CreatedAt.Format("2006-01-02T15:04:05Z07:00"),
		RevokeURL:  fmt.Sprintf("/tokens/%d/revoke", t.ID),
	}
	if t.Kind == store.KindPersonal {
		r.Member = t.MemberName + " (" + t.MemberEmail + ")"
		if t.MemberID == viewer.ID {
			r.Member = t.MemberName + " (you)"
		}
	}
	for _, role := range t.Roles {
		r.Roles = append(r.Roles, role.Title())
	}
	return r
}

func kindTitle(k store.TokenKind) string {
	if k == store.KindSystem {
		return "system"
	}
	return "personal"
}

func (s *Server) newPersonalTokenForm(c echo.Context) error {
	return s.renderTokenForm(c, http.StatusOK, false, "", nil, nil)
}

func (s *Server) newSystemTokenForm(c echo.Context) error {
	return s.renderTokenForm(c, http.StatusOK, true, "", nil, nil)
}

func (s *Server) renderTokenForm(c echo.Context, status int, system bool, name string, roles []string, errs map[string]string) error {
	m, _ := memberOf(c)
	f := views.TokenForm{Viewer: viewerOf(c, m), System: system, Name: name, Errors: errs}
	if system {
		for _, r := range store.AssignableRoles {
			f.Roles = append(f.Roles, views.RoleOption{Key: string(r), Title: r.Title(), Checked: slices.Contains(roles, string(r))})
		}
	}
	return render(c, status, views.TokenFormView(f))
}

func (s *Server) createPersonalToken(c echo.Context) error {
	return s.createToken(c, store.KindPersonal)
}

func (s *Server) createSystemToken(c echo.Context) error {
	return s.createToken(c, store.KindSystem)
}

// createToken makes a token from the Add New form and answers with the
// Token Management page showing its key, this once: the response is never
// stored, so reloading or going back cannot show the key again. A form with
// mistakes comes back with what was typed and a message beside the field.
func (s *Server) createToken(c echo.Context, kind store.TokenKind) error {
	m, _ := memberOf(c)
	name := c.FormValue("name")
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
	}
	roleKeys := form["roles"]
	system := kind == store.KindSystem

	nt := store.NewToken{Kind: kind, Name: name}
	if system {
		nt.Roles, err = store.ParseRoles(roleKeys...)
	} else if len(roleKeys) > 0 {
		err = store.Errorf(store.EINVALID, "A personal token acts with your roles and takes none of its own.")
	}
	var t store.Token
	var key store.TokenText
	if err == nil {
		t, key, err = s.db.CreateToken(c.Request().Context(), m, nt)
	}
	if code := store.ErrorCode(err); code == store.EINVALID || code == store.ECONFLICT {
		field := store.ErrorField(err)
		if field != "name" && field != "roles" {
			field = ""
		}
		return s.renderTokenForm(c, statusOf[code], system, name, roleKeys, map[string]string{field: store.ErrorMessage(err)})
	} else if err != nil {
		return err
	}

	flash := fmt.Sprintf("%s token “%s” created.", capitalize(kindTitle(kind)), t.Name)
	lists, err := s.tokenLists(c, m, flash)
	if err != nil {
		return err
	}
	noStore(c)
	return render(c, http.StatusCreated, views.TokensView(views.TokensPage{
		Viewer: viewerOf(c, m),
		Lists:  lists,
		NewKey: &views.NewKey{KindTitle: kindTitle(kind), Name: t.Name, Key: string(key)},
	}))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// tokenParam reads the :id of a route; an id that is not a number is a
// token that does not exist.
func tokenParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.Errorf(store.ENOTFOUND, "No such token.")
	}
	return id, nil
}

// confirmRevoke is the Revoke Token confirmation: a dialog for htmx, a page
// of its own without JavaScript.
func (s *Server) confirmRevoke(c echo.Context) error {
	m, _ := memberOf(c)
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	t, err := s.db.Token(c.Request().Context(), m, id)
	if err != nil {
		return err
	}
	p := views.RevokeConfirm{
		Viewer:         viewerOf(c, m),
		Token:          tokenRow(t, m),
		KindTitle:      kindTitle(t.Kind),
		AlreadyRevoked: !t.Active(),
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, views.RevokeDialog(p))
	}
	return render(c, http.StatusOK, views.RevokeConfirmView(p))
}

// revokeToken is Yes, Revoke. Revoking twice changes nothing and says so.
func (s *Server) revokeToken(c echo.Context) error {
	m, _ := memberOf(c)
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	t, revoked, err := s.db.RevokeToken(c.Request().Context(), m, id)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Token “%s” (%s) revoked. Integrations using it no longer work.", t.Name, t.Hint())
	if !revoked {
		msg = fmt.Sprintf("Token “%s” (%s) was already revoked; nothing changed.", t.Name, t.Hint())
	}
	if !isHTMX(c) {
		if err := s.flash(c, msg); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/tokens")
	}
	lists, err := s.tokenLists(c, m, msg)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokenListsView(lists, csrfToken(c)))
}
