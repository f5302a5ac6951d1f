package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// graceChoice is one answer to "When should the old secret stop working?",
// on the page and on the API (its Value).
type graceChoice struct {
	Value, Label string
	Grace        time.Duration
}

// graceChoices are store.GracePeriods as the page and the API name them.
var graceChoices = []graceChoice{
	{"now", "Now: integrations still using it stop working", 0},
	{"1h", "In 1 hour", time.Hour},
	{"24h", "In 24 hours", 24 * time.Hour},
	{"7d", "In 7 days", 7 * 24 * time.Hour},
}

// defaultGrace is the choice the form starts with: a day is time enough to
// switch most integrations over.
const defaultGrace = "24h"

func graceOf(v string) (time.Duration, bool) {
	for _, g := range graceChoices {
		if g.Value == v {
			return g.Grace, true
		}
	}
	return 0, false
}

// tokenPage is GET /tokens/:id: its member sees their own personal tokens,
// the owner every token of the organization; anyone else is told there is
// no such token, as for an id that names none.
func (s *Server) tokenPage(c echo.Context) error {
	m, _ := memberOf(c)
	t, err := s.pageToken(c, m)
	if err != nil {
		return err
	}
	p, err := s.tokenPageOf(c, m, t)
	if err != nil {
		return err
	}
	if p.Flash, err = s.takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokenPageView(p))
}

// pageToken reads the token of the route's :id, if m may manage it.
func (s *Server) pageToken(c echo.Context, m store.Member) (store.Token, error) {
	id, err := tokenParam(c)
	if err != nil {
		return store.Token{}, err
	}
	return s.db.Token(c.Request().Context(), m, id)
}

// tokenPageOf is the page of t as m sees it now, its forms empty.
func (s *Server) tokenPageOf(c echo.Context, m store.Member, t store.Token) (views.TokenPage, error) {
	now := s.db.Now()
	usage, err := s.db.TokenUsage(c.Request().Context(), m, t.ID)
	if err != nil {
		return views.TokenPage{}, err
	}
	p := views.TokenPage{
		Viewer:    viewerOf(c, m),
		Token:     tokenDetails(t, m, now),
		Usage:     usageChart(usage),
		Addresses: addressRows(usage.Addresses),
	}
	if t.Active() {
		p.Edit = editFormOf(t, m, editInput{
			name: t.Name, description: t.Description, roles: roleKeys(t.Roles),
			allowedIPs: strings.Join(t.AllowedIPs.Strings(), "\n"),
		})
		if t.State(now) == store.StateActive {
			p.Rotate = rotateFormOf(t, now, defaultGrace)
		}
	}
	return p, nil
}

func tokenDetails(t store.Token, viewer store.Member, now time.Time) views.TokenDetails {
	d := views.TokenDetails{
		ID: t.ID, Name: t.Name, Description: t.Description, KindTitle: t.Kind.Title() + " Access Token", Hint: t.Hint(),
		System: t.Kind == store.KindSystem, Roles: store.RoleTitles(t.Roles), CreatedBy: createdBy(t),
		Created: t.CreatedAt.Format(dateTimeLayout), CreatedISO: t.CreatedAt.Format(time.RFC3339),
		Expires: "Never", LastUsed: "Never", LastUsedIP: t.LastUsedIP,
		State: t.State(now), AllowedIPs: t.AllowedIPs.Strings(),
	}
	d.StateTitle = map[string]string{store.StateActive: "Active", store.StateExpired: "Expired", store.StateRevoked: "Revoked"}[d.State]
	if t.Kind == store.KindPersonal {
		d.Member = t.MemberName + " (" + t.MemberEmail + ")"
		if t.MemberID == viewer.ID {
			d.Member = t.MemberName + " (you)"
		}
	}
	if !t.ExpiresAt.IsZero() {
		d.Expires, d.ExpiresISO = t.ExpiresAt.Format(dateTimeLayout), t.ExpiresAt.Format(time.RFC3339)
		if d.State == store.StateActive {
			d.ExpiresIn = expiresIn(t.ExpiresAt.Sub(now))
		}
	}
	if !t.LastUsedAt.IsZero() {
		d.LastUsed, d.LastUsedISO = t.LastUsedAt.Format(dateTimeLayout), t.LastUsedAt.Format(time.RFC3339)
	}
	if !t.RevokedAt.IsZero() {
		d.RevokedBy, d.RevokedAt, d.RevokedAtISO = t.RevokedBy, t.RevokedAt.Format(dateTimeLayout), t.RevokedAt.Format(time.RFC3339)
		switch t.RevokeReason {
		case store.ReasonMemberLeft:
			d.RevokeReason = "its member left the organization"
		case store.ReasonLeaked:
			d.RevokeReason = "its key was reported leaked"
		}
	} else {
		d.RevokeURL = fmt.Sprintf("/tokens/%d/revoke", t.ID)
	}
	if !t.LeakedAt.IsZero() {
		d.Leaked, d.LeakedAt, d.LeakedAtISO, d.LeakURL = true, t.LeakedAt.Format(dateTimeLayout), t.LeakedAt.Format(time.RFC3339), t.LeakURL
		if u, err := url.Parse(t.LeakURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			d.LeakURLSafe = t.LeakURL
		}
	}
	if !t.RotatedAt.IsZero() {
		d.Rotated, d.RotatedISO = t.RotatedAt.Format(dateTimeLayout), t.RotatedAt.Format(time.RFC3339)
	}
	if t.Active() && t.InGrace(now) {
		d.Grace = &views.GracePeriod{
			PrevHint: t.PrevHint, Until: t.GraceUntil.Format(dateTimeLayout), UntilISO: t.GraceUntil.Format(time.RFC3339),
			EndURL: tokenPageURL(t.ID) + "/end-grace",
		}
	}
	if !t.OldSecretUsedAt.IsZero() {
		d.OldSecretUsed, d.OldSecretUsedISO, d.OldSecretUsedIP = t.OldSecretUsedAt.Format(dateTimeLayout), t.OldSecretUsedAt.Format(time.RFC3339), t.OldSecretUsedIP
	}
	if viewer.IsOwner() {
		d.EventsURL = fmt.Sprintf("/audit?token_id=%d", t.ID)
	}
	return d
}

// soonDays is how near an expiry is said in words.
const soonDays = 7

// expiresIn says how soon a token expires, "in 3 days", when within a week;
// "" otherwise.
func expiresIn(left time.Duration) string {
	switch days, hours := int(left/(24*time.Hour)), int(left/time.Hour); {
	case left > soonDays*24*time.Hour || left <= 0:
		return ""
	case days > 1:
		return fmt.Sprintf("in %d days", days)
	case days == 1:
		return "in 1 day"
	case hours > 1:
		return fmt.Sprintf("in %d hours", hours)
	case hours == 1:
		return "in 1 hour"
	}
	return "in less than an hour"
}

// The usage chart's geometry, in the units of its viewBox: one slot a day,
// bars from the baseline up to barsTop, labels below the baseline.
const (
	chartHeight   = 140
	chartBaseline = chartHeight - 20
	chartBarsTop  = 16
	chartSlot     = 20
	chartBar      = 14
)

// usageChart draws uses per day as bars, tallest to the top, and says it
// in words for those who do not see it.
func usageChart(u store.Usage) views.UsageChart {
	ch := views.UsageChart{Total: u.Total, Width: max(len(u.Days), 1) * chartSlot, Height: chartHeight}
	busiest := -1
	for i, d := range u.Days {
		if d.Uses > ch.Max {
			ch.Max, busiest = d.Uses, i
		}
	}
	for i, d := range u.Days {
		day := views.UsageDay{Label: d.Day.Format("Jan 2"), ISO: d.Day.Format(time.DateOnly), Uses: d.Uses,
			X: i*chartSlot + (chartSlot-chartBar)/2, W: chartBar, Y: chartBaseline}
		if d.Uses > 0 {
			day.H = max(1, int(d.Uses*(chartBaseline-chartBarsTop)/ch.Max))
			day.Y = chartBaseline - day.H
		}
		ch.Days = append(ch.Days, day)
	}
	if len(u.Days) == 0 {
		ch.Summary = "Uses per day: none recorded."
		return ch
	}
	first, last := u.Days[0].Day, u.Days[len(u.Days)-1].Day
	ch.Summary = fmt.Sprintf("Uses per day from %s to %s: ", first.Format("Jan 2"), last.Format("Jan 2, 2006"))
	if busiest < 0 {
		ch.Summary += "none."
	} else {
		ch.Summary += fmt.Sprintf("%s in all; the most on %s, %s.", usesWord(u.Total), u.Days[busiest].Day.Format("Jan 2"), usesWord(ch.Max))
	}
	return ch
}

func usesWord(n int64) string {
	if n == 1 {
		return "1 use"
	}
	return strconv.FormatInt(n, 10) + " uses"
}

func addressRows(as []store.AddressUse) []views.AddressRow {
	rows := make([]views.AddressRow, len(as))
	for i, a := range as {
		rows[i] = views.AddressRow{
			Addr: a.Addr, Uses: a.Uses,
			FirstSeen: a.FirstSeen.Format(dateTimeLayout), FirstSeenISO: a.FirstSeen.Format(time.RFC3339),
			LastSeen: a.LastSeen.Format(dateTimeLayout), LastSeenISO: a.LastSeen.Format(time.RFC3339),
		}
	}
	return rows
}

// editInput is what was typed into the edit form.
type editInput struct {
	name, description, allowedIPs string
	roles                         []string
}

// editFormOf is the edit form of t, filled with in. Only the owner edits a
// system token's roles: only the owner sees a system token's page.
func editFormOf(t store.Token, m store.Member, in editInput) *views.TokenEditForm {
	f := &views.TokenEditForm{
		Action: tokenPageURL(t.ID) + "/edit", Name: in.name, Description: in.description,
		DescriptionMax: store.MaxDescriptionLen, AllowedIPs: in.allowedIPs,
		EditRoles: t.Kind == store.KindSystem && m.IsOwner(),
	}
	if f.EditRoles {
		for _, r := range store.AssignableRoles {
			f.Roles = append(f.Roles, views.RoleOption{
				Key: string(r), Title: r.Title(), Description: r.Description(), Checked: slices.Contains(in.roles, string(r)),
			})
		}
	}
	return f
}

func rotateFormOf(t store.Token, now time.Time, chosen string) *views.RotateForm {
	f := &views.RotateForm{Action: tokenPageURL(t.ID) + "/rotate"}
	for _, g := range graceChoices {
		f.Graces = append(f.Graces, views.Option{Value: g.Value, Label: g.Label, Selected: g.Value == chosen})
	}
	if t.InGrace(now) {
		f.Blocked = fmt.Sprintf("The previous secret works until %s: end its grace period before rotating again.", t.GraceUntil.Format(dateTimeLayout))
	}
	return f
}

// editToken is POST /tokens/:id/edit: name, description, allow-list and,
// for the owner, a system token's roles. A form with mistakes comes back
// with what was typed and a message beside each field; an allow-list that
// would shut out the address saving it is saved only when confirmed.
func (s *Server) editToken(c echo.Context) error {
	m, _ := memberOf(c)
	t, err := s.pageToken(c, m)
	if err != nil {
		return err
	}
	form, err := formOf(c)
	if err != nil {
		return err
	}
	in := editInput{name: form.Get("name"), description: form.Get("description"),
		allowedIPs: form.Get("allowed_ips"), roles: form["roles"]}
	editRoles := form.Get("edit_roles") == "1"
	if !editRoles {
		in.roles = roleKeys(t.Roles)
	}

	errs := map[string]string{}
	var edit store.TokenEdit
	for _, f := range []string{"name", "description", "allowed_ips"} {
		if len(form[f]) > 1 {
			errs[f] = "Give this once, not several times."
		}
	}
	if form.Has("name") {
		edit.Name = &in.name
	}
	if form.Has("description") {
		edit.Description = &in.description
	}
	check := store.NewToken{Kind: t.Kind, Name: t.Name, Description: in.description, Roles: t.Roles}
	if edit.Name != nil {
		check.Name = in.name
	}
	if editRoles {
		roles, err := store.ParseRoles(in.roles...)
		if err != nil {
			errs["roles"] = store.ErrorMessage(err)
		}
		edit.Roles, check.Roles = roles, roles
		if edit.Roles == nil {
			edit.Roles = []store.Role{}
		}
	}
	for _, p := range check.Problems() {
		if _, ok := errs[p.Field]; !ok {
			errs[p.Field] = p.Message
		}
	}
	var list store.AllowList
	if form.Has("allowed_ips") {
		if list, err = store.ParseAllowList(in.allowedIPs); err != nil {
			errs["allowed_ips"] = store.ErrorMessage(err)
		} else {
			edit.AllowedIPs = &list
		}
	}
	if len(errs) > 0 {
		return s.renderEdit(c, http.StatusUnprocessableEntity, m, t, in, errs, "")
	}
	// Asked only when the list changes: a list for an integration's
	// servers does not hold the browser of whoever edits the description.
	if ip := c.RealIP(); edit.AllowedIPs != nil && list.String() != t.AllowedIPs.String() && !list.Allows(ip) && form.Get("confirm") != "1" {
		in.allowedIPs = strings.Join(list.Strings(), "\n")
		warning := fmt.Sprintf("These addresses do not include yours (%s): once saved, this token will be refused from where you are now.", ip)
		return s.renderEdit(c, http.StatusUnprocessableEntity, m, t, in, nil, warning)
	}

	saved, err := s.db.UpdateToken(c.Request().Context(), m, t.ID, edit)
	if code := store.ErrorCode(err); code == store.EINVALID || code == store.ECONFLICT || code == store.EFORBIDDEN {
		field := store.ErrorField(err)
		switch field {
		case "name", "description", "allowed_ips":
		case "roles":
			if !editRoles {
				field = ""
			}
		default:
			field = ""
		}
		return s.renderEdit(c, statusOf[code], m, t, in, map[string]string{field: store.ErrorMessage(err)}, "")
	} else if err != nil {
		return err
	}
	return s.redirectSaying(c, tokenPageURL(t.ID), fmt.Sprintf("Changes to “%s” saved.", saved.Name))
}

// renderEdit answers an edit not saved: the page again, the form as typed.
func (s *Server) renderEdit(c echo.Context, status int, m store.Member, t store.Token, in editInput, errs map[string]string, shutOut string) error {
	p, err := s.tokenPageOf(c, m, t)
	if err != nil {
		return err
	}
	p.Edit = editFormOf(t, m, in)
	p.Edit.ShutOut = shutOut
	// A message about a field the form does not show goes above it.
	if errs != nil {
		p.Edit.Errors = map[string]string{}
		for field, msg := range errs {
			if field == "roles" && !p.Edit.EditRoles || !slices.Contains([]string{"name", "description", "allowed_ips", "roles"}, field) {
				field = ""
			}
			p.Edit.Errors[field] = msg
		}
	}
	return render(c, status, views.TokenPageView(p))
}

// rotateToken is POST /tokens/:id/rotate: a new secret, shown this once on
// the token's page, which is answered directly and never stored.
func (s *Server) rotateToken(c echo.Context) error {
	m, _ := memberOf(c)
	t, err := s.pageToken(c, m)
	if err != nil {
		return err
	}
	form, err := formOf(c)
	if err != nil {
		return err
	}
	choice := form.Get("grace")
	grace, ok := graceOf(choice)
	if !ok || len(form["grace"]) > 1 {
		return s.renderRotateRefused(c, http.StatusUnprocessableEntity, m, t, choice,
			"Choose when the old secret stops working: now, in 1 hour, in 24 hours or in 7 days.")
	}
	rotated, key, err := s.db.RotateToken(c.Request().Context(), m, t.ID, grace)
	if code := store.ErrorCode(err); code == store.EINVALID || code == store.ECONFLICT {
		return s.renderRotateRefused(c, statusOf[code], m, t, choice, store.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	p, err := s.tokenPageOf(c, m, rotated)
	if err != nil {
		return err
	}
	p.Flash = fmt.Sprintf("Token “%s” has a new secret.", rotated.Name)
	p.NewKey = &views.NewKey{KindTitle: string(rotated.Kind), Name: rotated.Name, Key: string(key), ReplaceURL: tokenPageURL(rotated.ID)}
	noStore(c)
	return render(c, http.StatusCreated, views.TokenPageView(p))
}

func (s *Server) renderRotateRefused(c echo.Context, status int, m store.Member, t store.Token, choice, msg string) error {
	p, err := s.tokenPageOf(c, m, t)
	if err != nil {
		return err
	}
	if p.Rotate == nil {
		p.Error = msg
	} else {
		p.Rotate = rotateFormOf(t, s.db.Now(), choice)
		p.Rotate.Error = msg
	}
	return render(c, status, views.TokenPageView(p))
}

// endGrace is POST /tokens/:id/end-grace: the previous secret stops now.
func (s *Server) endGrace(c echo.Context) error {
	m, _ := memberOf(c)
	t, err := s.pageToken(c, m)
	if err != nil {
		return err
	}
	running := t.InGrace(s.db.Now())
	if _, err := s.db.EndGrace(c.Request().Context(), m, t.ID); err != nil {
		return err
	}
	msg := "No grace period was running; nothing changed."
	if running {
		msg = fmt.Sprintf("The previous secret (%s) no longer works.", t.PrevHint)
	}
	return s.redirectSaying(c, tokenPageURL(t.ID), msg)
}
