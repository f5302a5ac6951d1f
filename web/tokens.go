package web

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

func (s *Server) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, tokensRoot)
}

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
	status := http.StatusOK
	if lists.Problem != "" {
		status = http.StatusBadRequest
	}
	if isHTMX(c) {
		// The filters changed as one typed: only the lists do, and the
		// address bar shows the view, without the fields left empty.
		push := tokensURL(c)
		if lists.Problem != "" {
			push = "false" // the URL stays as typed, to correct
		}
		c.Response().Header().Set("HX-Push-Url", push)
		return render(c, status, views.TokenListsUpdate(lists, csrfToken(c)))
	}
	return render(c, status, views.TokensView(views.TokensPage{Viewer: viewerOf(c, m), Lists: lists}))
}

// pageSize is how many tokens each list on the page shows at once.
const pageSize = 50

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
	form, err := formOf(c)
	if err != nil {
		return err
	}
	in := tokenForm{name: form.Get("name"), roles: form["roles"], expires: form.Get("expires"), expiresOn: form.Get("expires_on"),
		description: form.Get("description"), allowedIPs: form.Get("allowed_ips")}

	// Every mistake at once, each beside its field. A field given twice
	// (by a script, or a form tampered with; roles are checkboxes and may
	// repeat) is refused rather than read as its first value.
	errs := map[string]string{}
	if len(form["name"]) > 1 {
		errs["name"] = "Give the token one name, not several."
	}
	nt := store.NewToken{Kind: kind, Name: in.name, Description: in.description}
	if nt.AllowedIPs, err = store.ParseAllowList(in.allowedIPs); err != nil {
		errs["allowed_ips"] = store.ErrorMessage(err)
	}
	switch {
	case kind == store.KindSystem:
		if nt.Roles, err = store.ParseRoles(in.roles...); err != nil {
			errs["roles"] = store.ErrorMessage(err)
		}
	case len(in.roles) > 0:
		// The personal form has no roles to mark: said above the form.
		errs[""] = "A personal token acts with your roles and takes none of its own."
	}
	for _, p := range nt.Problems() {
		if _, ok := errs[p.Field]; !ok {
			errs[p.Field] = p.Message
		}
	}
	switch {
	case len(form["expires"]) > 1 || len(form["expires_on"]) > 1:
		errs["expires"] = "Choose one expiration, not several."
	case form.Has("expires") && in.expires == "":
		// Left out is no expiry, as on the API; sent empty is no choice.
		errs["expires"] = "Choose when the token expires."
	default:
		// Whole seconds, as the store counts, so that a preset equal to
		// the organization's maximum is within it.
		if nt.ExpiresAt, err = formExpiry(in, s.db.Now().UTC().Truncate(time.Second)); err != nil {
			errs["expires"] = store.ErrorMessage(err)
		}
	}
	if len(errs) > 0 {
		return s.renderTokenForm(c, http.StatusUnprocessableEntity, kind, in, errs)
	}

	t, key, err := s.db.CreateToken(c.Request().Context(), m, nt)
	if code := store.ErrorCode(err); code == store.EINVALID || code == store.ECONFLICT {
		field := store.ErrorField(err)
		if !slices.Contains([]string{"name", "roles", "expires", "description", "allowed_ips"}, field) {
			field = ""
		}
		return s.renderTokenForm(c, statusOf[code], kind, in, map[string]string{field: store.ErrorMessage(err)})
	} else if err != nil {
		return err
	}

	flash := fmt.Sprintf("%s token “%s” created.", kind.Title(), t.Name)
	lists, err := s.tokenLists(c, m, flash)
	if err != nil {
		return err
	}
	noStore(c)
	return render(c, http.StatusCreated, views.TokensView(views.TokensPage{
		Viewer: viewerOf(c, m),
		Lists:  lists,
		NewKey: &views.NewKey{KindTitle: string(kind), Name: t.Name, Key: string(key)},
	}))
}

// saveTokenSettings sets the organization's maximum token lifetime.
func (s *Server) saveTokenSettings(c echo.Context) error {
	m, _ := memberOf(c)
	form, err := formOf(c)
	if err != nil {
		return err
	}
	if len(form["max_token_days"]) > 1 {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Choose one maximum token lifetime, not several.")
	}
	days, ok := listedDays(form.Get("max_token_days"), append([]int{0}, maxLifetimeDays...))
	if !ok {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Choose a maximum token lifetime from the list.")
	}
	if _, err := s.db.SetMaxTokenLifetime(c.Request().Context(), m, days); err != nil {
		return err
	}
	msg := "New tokens may now have no expiration."
	if days > 0 {
		msg = fmt.Sprintf("New tokens must now expire within %d days.", days)
	}
	return s.redirectSaying(c, tokensRoot, msg)
}

// tokenParam reads the :id of a route; an id that is not a number as this
// server writes it ("020", "+20") is a token that does not exist.
func tokenParam(c echo.Context) (int64, error) { return idParam(c, errNoSuchToken) }

var errNoSuchToken = store.Errorf(store.ENOTFOUND, "No such token.")

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
	row := tokenRow(t, m, s.db.Now())
	row.RevokeURL = c.Request().URL.RequestURI()
	p := views.RevokeConfirm{
		Viewer:         viewerOf(c, m),
		Token:          row,
		KindTitle:      string(t.Kind),
		AlreadyRevoked: !t.Active(),
		BackURL:        tokensURL(c),
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
	return s.listsSaying(c, m, msg)
}

// listsSaying answers a change made from the token lists, saying msg
// above them: with htmx, the lists as they are now, in place, the filters
// kept; without, back to the lists by a redirect.
func (s *Server) listsSaying(c echo.Context, m store.Member, msg string) error {
	if !isHTMX(c) {
		return s.redirectSaying(c, tokensURL(c), msg)
	}
	lists, err := s.tokenLists(c, m, msg)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokenListsView(lists, csrfToken(c)))
}
