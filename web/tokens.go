package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

func (s *Server) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/tokens")
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
	return render(c, http.StatusOK, views.TokensView(views.TokensPage{Viewer: viewerOf(c, m), Lists: lists}))
}

// pageSize is how many tokens each list on the page shows at once.
const pageSize = 50

// tokenLists gathers what the Token Management page lists for m: their own
// personal tokens and, for the owner, everyone's, the system tokens and the
// organization's token policy. Each list shows its newest tokens, and older
// ones a page at a time from the ?my_before=, ?user_before= and
// ?system_before= id each list's "Show older tokens" link carries.
func (s *Server) tokenLists(c echo.Context, m store.Member, flash string) (views.TokenLists, error) {
	ctx := c.Request().Context()
	now := s.db.Now()
	show := showRevoked(c)
	l := views.TokenLists{
		Flash: flash, IsOwner: m.IsOwner(), OrgName: m.OrgName, MyRoles: joinTitles(store.RoleTitles(m.Roles)),
		ShowRevoked: show, ToggleURL: "/tokens?show=revoked",
	}
	if show {
		l.ToggleURL = "/tokens"
	}
	page := func(param, anchor string, f store.TokenFilter) ([]views.TokenRow, string, error) {
		f.BeforeID, _ = strconv.ParseInt(c.QueryParam(param), 10, 64)
		f.Limit = pageSize + 1
		f.IncludeRevoked = show
		ts, err := s.db.ListTokens(ctx, m, f)
		if err != nil || len(ts) <= pageSize {
			return tokenRows(ts, m, now, show), "", err
		}
		ts = ts[:pageSize]
		more := fmt.Sprintf("/tokens?%s=%d", param, ts[pageSize-1].ID)
		if show {
			more += "&show=revoked"
		}
		return tokenRows(ts, m, now, show), more + "#" + anchor, nil
	}
	var err error
	if l.MyTokens, l.MyMore, err = page("my_before", "my-tokens-heading", store.TokenFilter{Kind: store.KindPersonal, MemberID: m.ID}); err != nil {
		return l, err
	}
	if !m.IsOwner() {
		return l, nil
	}
	if l.UserTokens, l.UserMore, err = page("user_before", "user-tokens-heading", store.TokenFilter{Kind: store.KindPersonal}); err != nil {
		return l, err
	}
	if l.SystemTokens, l.SystemMore, err = page("system_before", "system-tokens-heading", store.TokenFilter{Kind: store.KindSystem}); err != nil {
		return l, err
	}
	org, err := s.db.Org(ctx, m)
	if err != nil {
		return l, err
	}
	l.Settings = views.TokenSettings{MaxLifetime: maxLifetimeOptions(org.MaxTokenDays)}
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

// showRevoked reports whether the page lists revoked tokens too, as asked
// with ?show=revoked; the revoke links and forms carry it along.
func showRevoked(c echo.Context) bool { return c.QueryParam("show") == "revoked" }

// tokensURL is the Token Management page in the view the member chose.
func tokensURL(c echo.Context) string {
	if showRevoked(c) {
		return "/tokens?show=revoked"
	}
	return "/tokens"
}

func tokenRows(ts []store.Token, viewer store.Member, now time.Time, show bool) []views.TokenRow {
	rows := make([]views.TokenRow, len(ts))
	for i, t := range ts {
		rows[i] = tokenRow(t, viewer, now)
		if show {
			rows[i].RevokeURL += "?show=revoked"
		}
	}
	return rows
}

const (
	dateLayout     = "Jan 2, 2006"
	dateTimeLayout = "Jan 2, 2006 15:04 MST"
)

// createdBy says who made a token: the member, and the token they made it
// through on the API; or the system token that made it.
func createdBy(t store.Token) string {
	switch {
	case t.CreatedByToken == 0:
		return t.CreatedByName
	case t.CreatedBy == 0:
		return "system token “" + t.CreatedByTokenName + "”"
	}
	return t.CreatedByName + " (via token “" + t.CreatedByTokenName + "”)"
}

func tokenRow(t store.Token, viewer store.Member, now time.Time) views.TokenRow {
	r := views.TokenRow{
		ID:          t.ID,
		Name:        t.Name,
		Hint:        t.Hint(),
		Created:     t.CreatedAt.Format(dateLayout),
		CreatedISO:  t.CreatedAt.Format(time.RFC3339),
		CreatedFull: t.CreatedAt.Format(dateTimeLayout),
		CreatedBy:   createdBy(t),
		Roles:       store.RoleTitles(t.Roles),
		Expires:     "Never",
		Expired:     t.State(now) == store.StateExpired,
		LastUsed:    "Never",
		RevokeURL:   fmt.Sprintf("/tokens/%d/revoke", t.ID),
	}
	if t.Kind == store.KindPersonal {
		r.Member = t.MemberName + " (" + t.MemberEmail + ")"
		if t.MemberID == viewer.ID {
			r.Member = t.MemberName + " (you)"
		}
	}
	if !t.ExpiresAt.IsZero() {
		r.Expires, r.ExpiresISO = t.ExpiresAt.Format(dateLayout), t.ExpiresAt.Format(time.RFC3339)
	}
	if !t.CreatorLeft.IsZero() {
		r.CreatorLeft, r.CreatorLeftISO = t.CreatorLeft.Format(dateLayout), t.CreatorLeft.Format(time.RFC3339)
	}
	switch {
	case t.RevokeReason == store.ReasonMemberLeft:
		r.Revoked = "Revoked: member left " + t.RevokedAt.Format(dateLayout)
	case !t.RevokedAt.IsZero():
		r.Revoked = "Revoked " + t.RevokedAt.Format(dateLayout)
	}
	if !t.LastUsedAt.IsZero() {
		r.LastUsed = t.LastUsedAt.Format(dateTimeLayout)
		if t.LastUsedIP != "" {
			r.LastUsed += " from " + t.LastUsedIP
		}
	}
	return r
}

// Lifetimes offered on the Add New forms and for the organization maximum.
var (
	expiryPresets   = []int{7, 30, 60, 90}
	maxLifetimeDays = []int{7, 30, 60, 90, 180, 365}
)

const (
	expiresNever  = "never"
	expiresCustom = "custom"
	// The choice a new form starts with, as GitHub's does.
	defaultExpiryDays = 30
)

func maxLifetimeOptions(current int) []views.Option {
	opts := []views.Option{{Value: "0", Label: "No maximum", Selected: current == 0}}
	for _, d := range maxLifetimeDays {
		opts = append(opts, views.Option{Value: strconv.Itoa(d), Label: fmt.Sprintf("%d days", d), Selected: d == current})
	}
	return opts
}

// expiryOptions is the Expiration choice: no expiration (unless the
// organization has a maximum), the presets within the maximum, a custom date.
func expiryOptions(maxDays int, chosen string) []views.Option {
	var opts []views.Option
	if maxDays == 0 {
		opts = append(opts, views.Option{Value: expiresNever, Label: "No expiration"})
	}
	for _, d := range expiryPresets {
		if maxDays == 0 || d <= maxDays {
			opts = append(opts, views.Option{Value: strconv.Itoa(d), Label: fmt.Sprintf("%d days", d)})
		}
	}
	opts = append(opts, views.Option{Value: expiresCustom, Label: "Custom date"})
	if chosen == "" {
		chosen = strconv.Itoa(defaultExpiryDays) // the first choice, if a maximum rules it out
	}
	found := false
	for i := range opts {
		if opts[i].Value == chosen {
			opts[i].Selected, found = true, true
		}
	}
	if !found {
		opts[0].Selected = true
	}
	return opts
}

// tokenForm is what was typed into an Add New form.
type tokenForm struct {
	name      string
	roles     []string
	expires   string
	expiresOn string
}

func (s *Server) newPersonalTokenForm(c echo.Context) error {
	return s.renderTokenForm(c, http.StatusOK, store.KindPersonal, tokenForm{}, nil)
}

func (s *Server) newSystemTokenForm(c echo.Context) error {
	return s.renderTokenForm(c, http.StatusOK, store.KindSystem, tokenForm{}, nil)
}

func (s *Server) renderTokenForm(c echo.Context, status int, kind store.TokenKind, in tokenForm, errs map[string]string) error {
	m, _ := memberOf(c)
	org, err := s.db.Org(c.Request().Context(), m)
	if err != nil {
		return err
	}
	now := s.db.Now().UTC()
	f := views.TokenForm{
		Viewer: viewerOf(c, m), System: kind == store.KindSystem, Name: in.name,
		Expiration: expiryOptions(org.MaxTokenDays, in.expires), ExpiresOn: in.expiresOn,
		Today: now.AddDate(0, 0, 1).Format(time.DateOnly), Errors: errs,
	}
	f.MaxDate = store.LatestExpiry(now).Format(time.DateOnly)
	if org.MaxTokenDays > 0 {
		limit := now.AddDate(0, 0, org.MaxTokenDays)
		f.MaxDate = limit.Format(time.DateOnly)
		f.Policy = fmt.Sprintf("%s tokens must expire within %d days (by %s).", org.Name, org.MaxTokenDays, limit.Format(dateLayout))
	}
	if f.System {
		for _, r := range store.AssignableRoles {
			f.Roles = append(f.Roles, views.RoleOption{
				Key: string(r), Title: r.Title(), Description: r.Description(), Checked: slices.Contains(in.roles, string(r)),
			})
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
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
	}
	in := tokenForm{name: form.Get("name"), roles: form["roles"], expires: form.Get("expires"), expiresOn: form.Get("expires_on")}

	// Every mistake at once, each beside its field. A field given twice
	// (by a script, or a form tampered with; roles are checkboxes and may
	// repeat) is refused rather than read as its first value.
	errs := map[string]string{}
	if len(form["name"]) > 1 {
		errs["name"] = "Give the token one name, not several."
	}
	nt := store.NewToken{Kind: kind, Name: in.name}
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
		if field != "name" && field != "roles" && field != "expires" {
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

// formExpiry turns the Expiration choice into a time: nil for "No
// expiration", a number of days from now, or the start (UTC) of the custom
// date, which then obeys the store's one rule (store.CheckExpiry) like any
// other. A post without the choice, as from a script, asks for none, as the
// API does.
func formExpiry(in tokenForm, now time.Time) (*time.Time, error) {
	switch in.expires {
	case expiresNever, "":
		return nil, nil
	case expiresCustom:
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(in.expiresOn))
		if err != nil {
			return nil, &store.Error{Code: store.EINVALID, Field: "expires", Message: "Enter the custom date as a date, such as 2027-01-31."}
		}
		return &d, store.CheckExpiry(&d, now)
	}
	days, ok := listedDays(in.expires, expiryPresets)
	if !ok {
		return nil, &store.Error{Code: store.EINVALID, Field: "expires", Message: "Choose when the token expires."}
	}
	return new(now.AddDate(0, 0, days)), nil
}

// listedDays reads a number of days offered in a list, written exactly as
// the list writes it: "07" and "+7" are no choice the page offered.
func listedDays(v string, list []int) (int, bool) {
	days, err := strconv.Atoi(v)
	return days, err == nil && strconv.Itoa(days) == v && slices.Contains(list, days)
}

// saveTokenSettings sets the organization's maximum token lifetime.
func (s *Server) saveTokenSettings(c echo.Context) error {
	m, _ := memberOf(c)
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
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
	if err := s.flash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tokens")
}

// tokenParam reads the :id of a route; an id that is not a number as this
// server writes it ("020", "+20") is a token that does not exist.
func tokenParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != c.Param("id") {
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
	if !isHTMX(c) {
		if err := s.flash(c, msg); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, tokensURL(c))
	}
	lists, err := s.tokenLists(c, m, msg)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokenListsView(lists, csrfToken(c)))
}
