package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"tokend/store"
	"tokend/views"

	"github.com/labstack/echo/v4"
)

// The Add New Personal Token and Add New System Token forms: what they
// offer, what they read, and the expiry a member chose.

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
	// description and allowedIPs are optional.
	description, allowedIPs string
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
		Description: in.description, DescriptionMax: store.MaxDescriptionLen, AllowedIPs: in.allowedIPs,
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
