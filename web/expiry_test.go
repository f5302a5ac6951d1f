package web

// Expiry on the page: the Expiration choice of both Add New forms, the
// expiry date and the Expired mark in the lists, and the owner's Token
// Policy (the organization's maximum token lifetime).

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// choice is what a <select> offers: labels, values and the one selected.
type choice struct {
	labels, values []string
	selected       []string
}

func selectChoice(r *response, selector string) choice {
	var c choice
	r.doc.Find(selector + ` option`).Each(func(_ int, o *goquery.Selection) {
		c.labels = append(c.labels, cellText(o))
		c.values = append(c.values, o.AttrOr("value", ""))
		if _, ok := o.Attr("selected"); ok {
			c.selected = append(c.selected, o.AttrOr("value", ""))
		}
	})
	return c
}

// expirationChoice is the Expiration <select> of an Add New form.
func expirationChoice(t *testing.T, r *response) choice {
	t.Helper()
	legend := r.doc.Find(`form[data-testid=token-form] fieldset legend`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return cellText(s) == "Expiration"
	})
	if legend.Length() != 1 {
		t.Fatalf("the form has no Expiration group:\n%s", r.body)
	}
	if legend.Parent().Find(`select[name=expires][data-testid=expires]`).Length() != 1 {
		t.Fatal("the Expiration group has no expires choice")
	}
	return selectChoice(r, `form[data-testid=token-form] select[name=expires]`)
}

func (a *testApp) orgMaxDays(t *testing.T) int {
	t.Helper()
	o, err := a.db.Org(context.Background(), a.owner)
	if err != nil {
		t.Fatal(err)
	}
	return o.MaxTokenDays
}

func (a *testApp) personalTokens(t *testing.T, m store.Member) []store.Token {
	t.Helper()
	ts, err := a.db.ListTokens(context.Background(), m, store.TokenFilter{Kind: store.KindPersonal, MemberID: m.ID, IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestAddNewFormsOfferExpiration(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	owner, member := app.signIn(app.owner), app.signIn(app.member)
	wantLabels := []string{"No expiration", "7 days", "30 days", "60 days", "90 days", "Custom date"}
	wantValues := []string{"never", "7", "30", "60", "90", "custom"}
	for _, tt := range []struct {
		who  string
		c    *client
		path string
	}{
		{"owner", owner, "/tokens/personal/new"},
		{"owner", owner, "/tokens/system/new"},
		{"member", member, "/tokens/personal/new"},
	} {
		t.Run(tt.who+" "+tt.path, func(t *testing.T) {
			r := tt.c.in(t).get(tt.path)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			ch := expirationChoice(t, r)
			if !slices.Equal(ch.labels, wantLabels) || !slices.Equal(ch.values, wantValues) {
				t.Errorf("Expiration offers %q (%q), want %q", ch.labels, ch.values, wantLabels)
			}
			if !slices.Equal(ch.selected, []string{"30"}) {
				t.Errorf("selected %q, want 30 days", ch.selected)
			}
			date := r.doc.Find(`input[data-testid=expires-on]`)
			if date.AttrOr("type", "") != "date" || date.AttrOr("name", "") != "expires_on" {
				t.Errorf("custom date input: type %q name %q", date.AttrOr("type", ""), date.AttrOr("name", ""))
			}
			// Without an organization maximum, the one upper bound of every
			// expiry: store.MaxTokenLifetimeDays from today.
			if date.AttrOr("min", "") != "2026-11-27" || date.AttrOr("max", "") != "2036-11-23" {
				t.Errorf("custom date bounds [%q, %q], want from tomorrow to 3650 days ahead", date.AttrOr("min", ""), date.AttrOr("max", ""))
			}
			if r.text(`[data-testid=error-expires]`) != "" {
				t.Errorf("an error before anything was posted: %q", r.text(`[data-testid=error-expires]`))
			}
		})
	}
}

func TestCustomExpiryDateInThePastIsRefused(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)

	t.Run("personal", func(t *testing.T) {
		c := app.signIn(app.member).in(t)
		for _, tt := range []struct{ date, message string }{
			{"2026-11-01", "future"},
			{"2026-11-26", "future"}, // today: its start has passed
			{"01/31/2027", "date"},
			{"", "date"},
		} {
			c.get("/tokens/personal/new")
			r := c.postForm("/tokens/personal", url.Values{"name": {"Old date"}, "expires": {"custom"}, "expires_on": {tt.date}})
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("custom date %q: status %d, want 422", tt.date, r.StatusCode)
			}
			if msg := r.text(`[data-testid=error-expires]`); !strings.Contains(msg, tt.message) {
				t.Errorf("custom date %q: error %q, want one about the %s", tt.date, msg, tt.message)
			}
			if got := r.doc.Find(`input#name`).AttrOr("value", ""); got != "Old date" {
				t.Errorf("name kept as %q", got)
			}
			if ch := expirationChoice(t, r); !slices.Equal(ch.selected, []string{"custom"}) {
				t.Errorf("selected %q, want Custom date kept", ch.selected)
			}
			if got := r.doc.Find(`input[data-testid=expires-on]`).AttrOr("value", ""); got != tt.date {
				t.Errorf("custom date kept as %q, want %q", got, tt.date)
			}
			if r.has(`[data-testid=new-key]`) {
				t.Error("a key is shown for a refused form")
			}
		}
		if ts := app.personalTokens(t, app.member); len(ts) != 0 {
			t.Errorf("%d tokens made by refused forms", len(ts))
		}
	})
	t.Run("system", func(t *testing.T) {
		c := app.signIn(app.owner).in(t)
		c.get("/tokens/system/new")
		r := c.postForm("/tokens/system", url.Values{
			"name": {"Old bot"}, "roles": {"video", "billing"}, "expires": {"custom"}, "expires_on": {"2020-01-01"},
		})
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", r.StatusCode)
		}
		if r.text(`[data-testid=error-expires]`) == "" {
			t.Error("no error beside Expiration")
		}
		if got := r.doc.Find(`input#name`).AttrOr("value", ""); got != "Old bot" {
			t.Errorf("name kept as %q", got)
		}
		var checked []string
		r.doc.Find(`input[name=roles][checked]`).Each(func(_ int, s *goquery.Selection) { checked = append(checked, s.AttrOr("value", "")) })
		if !sameSet(checked, []string{"video", "billing"}) {
			t.Errorf("roles kept %q, want video and billing", checked)
		}
		if ch := expirationChoice(t, r); !slices.Equal(ch.selected, []string{"custom"}) {
			t.Errorf("selected %q", ch.selected)
		}
		if got := r.doc.Find(`input[data-testid=expires-on]`).AttrOr("value", ""); got != "2020-01-01" {
			t.Errorf("custom date kept as %q", got)
		}
	})
	t.Run("a custom date in the future is taken", func(t *testing.T) {
		c := app.signIn(app.member).in(t)
		c.get("/tokens/personal/new")
		r := c.postForm("/tokens/personal", url.Values{"name": {"Until January"}, "expires": {"custom"}, "expires_on": {"2027-01-31"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("status %d, want 201", r.StatusCode)
		}
		if got := cellText(r.row(t, "my-tokens", "Until January").Find(`[data-testid=token-expires]`)); got != "Jan 31, 2027" {
			t.Errorf("Expires %q, want Jan 31, 2027", got)
		}
	})
}

func TestExpiryPresetShowsTheDateInTheList(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	c := app.signIn(app.member)
	for _, tt := range []struct{ name, expires, shown, iso string }{
		{"Week", "7", "Expires in 7 days Dec 3, 2026", "2026-12-03T12:00:00Z"}, // within the warning's 7 days
		{"Quarter", "90", "Feb 24, 2027", "2027-02-24T12:00:00Z"},
		{"Forever", "never", "Never", ""},
	} {
		c.get("/tokens/personal/new")
		r := c.postForm("/tokens/personal", url.Values{"name": {tt.name}, "expires": {tt.expires}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("%s: status %d, want 201", tt.name, r.StatusCode)
		}
		for _, page := range []*response{r, c.get("/tokens")} {
			cell := page.row(t, "my-tokens", tt.name).Find(`[data-testid=token-expires]`)
			if got := cellText(cell); got != tt.shown {
				t.Errorf("%s: Expires %q, want %q", tt.name, got, tt.shown)
			}
			if got := cell.Find(`time`).AttrOr("datetime", ""); got != tt.iso {
				t.Errorf("%s: datetime %q, want %q", tt.name, got, tt.iso)
			}
		}
	}
	for _, tok := range app.personalTokens(t, app.member) {
		want := map[string]time.Time{"Week": app.now.AddDate(0, 0, 7), "Quarter": app.now.AddDate(0, 0, 90), "Forever": {}}[tok.Name]
		if !tok.ExpiresAt.Equal(want) {
			t.Errorf("%s stored to expire at %v, want %v", tok.Name, tok.ExpiresAt, want)
		}
	}
}

func TestExpiredTokenIsMarkedInTheLists(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.createExpiring(t, app.member, store.KindPersonal, "Short", app.now.AddDate(0, 0, 7))
	app.createExpiring(t, app.member, store.KindPersonal, "Long", app.now.AddDate(0, 0, 30))
	app.createToken(app.member, store.KindPersonal, "Forever")
	app.createExpiring(t, app.owner, store.KindSystem, "Short bot", app.now.AddDate(0, 0, 7), store.RoleVideo)

	before := app.signIn(app.member).get("/tokens")
	if before.has(`[data-testid=token-expired]`) {
		t.Error("a token is marked expired before its time")
	}
	app.setNow(app.now.AddDate(0, 0, 8))

	check := func(r *response, list, name string, expired bool) {
		t.Helper()
		row := r.row(t, list, name)
		badge := row.Find(`[data-testid=token-expires] [data-testid=token-expired]`)
		if expired != (badge.Length() == 1) || expired && cellText(badge) != "Expired" {
			t.Errorf("%s in %s: expired mark %q, want expired %v", name, list, cellText(badge), expired)
		}
		if expired != row.HasClass("expired") {
			t.Errorf("%s in %s: row class %q", name, list, row.AttrOr("class", ""))
		}
	}
	page := app.signIn(app.member).get("/tokens")
	check(page, "my-tokens", "Short", true)
	check(page, "my-tokens", "Long", false)
	check(page, "my-tokens", "Forever", false)
	if got := cellText(page.row(t, "my-tokens", "Short").Find(`[data-testid=token-expires]`)); got != "Expired Dec 3, 2026" {
		t.Errorf("Expires cell %q, want the mark and the date", got)
	}
	ownerPage := app.signIn(app.owner).get("/tokens")
	check(ownerPage, "user-tokens", "Short", true)
	check(ownerPage, "user-tokens", "Long", false)
	check(ownerPage, "system-tokens", "Short bot", true)
}

func TestTokenPolicyMaximumLifetime(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	// A clock between seconds, as a real one is.
	app.setNow(app.now.Add(400 * time.Millisecond))
	owner := app.signIn(app.owner)

	page := owner.get("/tokens")
	if !page.has(`[data-testid=token-settings] form[action="/tokens/settings"][method=post]`) {
		t.Fatal("the owner has no Token Policy form")
	}
	if got := page.text(`[data-testid=token-settings] h2`); got != "Token Policy" {
		t.Errorf("heading %q", got)
	}
	policy := selectChoice(page, `[data-testid=token-settings] select[name=max_token_days]`)
	if want := []string{"No maximum", "7 days", "30 days", "60 days", "90 days", "180 days", "365 days"}; !slices.Equal(policy.labels, want) {
		t.Errorf("maximum lifetime offers %q, want %q", policy.labels, want)
	}
	if !slices.Equal(policy.selected, []string{"0"}) {
		t.Errorf("selected %q, want No maximum", policy.selected)
	}
	if app.signIn(app.member).get("/tokens").has(`[data-testid=token-settings]`) {
		t.Error("a member sees the Token Policy form")
	}

	setMax := func(t *testing.T, days, flash string) {
		t.Helper()
		owner.get("/tokens")
		r := owner.in(t).postForm("/tokens/settings", url.Values{"max_token_days": {days}})
		if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
			t.Fatalf("Save %s: %d to %q, want 303 to /tokens", days, r.StatusCode, r.location())
		}
		page := owner.in(t).get("/tokens")
		if got := page.text(`[data-testid=flash]`); got != flash {
			t.Errorf("flash %q, want %q", got, flash)
		}
		if got := selectChoice(page, `[data-testid=token-settings] select[name=max_token_days]`).selected; !slices.Equal(got, []string{days}) {
			t.Errorf("selected %q after saving %s", got, days)
		}
	}
	forms := func(t *testing.T, wantLabels []string, wantSelected, maxDate string) {
		t.Helper()
		member := app.signIn(app.member).in(t)
		for _, f := range []struct {
			c    *client
			path string
		}{{owner.in(t), "/tokens/personal/new"}, {owner.in(t), "/tokens/system/new"}, {member, "/tokens/personal/new"}} {
			r := f.c.get(f.path)
			ch := expirationChoice(t, r)
			if !slices.Equal(ch.labels, wantLabels) {
				t.Errorf("%s offers %q, want %q", f.path, ch.labels, wantLabels)
			}
			if !slices.Equal(ch.selected, []string{wantSelected}) {
				t.Errorf("%s selects %q, want %q", f.path, ch.selected, wantSelected)
			}
			if got := r.doc.Find(`input[data-testid=expires-on]`).AttrOr("max", ""); got != maxDate {
				t.Errorf("%s custom date max %q, want %q", f.path, got, maxDate)
			}
		}
	}

	setMax(t, "30", "New tokens must now expire within 30 days.")
	if got := app.orgMaxDays(t); got != 30 {
		t.Fatalf("stored maximum %d, want 30", got)
	}
	forms(t, []string{"7 days", "30 days", "Custom date"}, "30", "2026-12-26")
	if got := app.signIn(app.member).get("/tokens/personal/new").text(`#expires-help strong`); !strings.Contains(got, "within 30 days") {
		t.Errorf("the form does not tell the policy: %q", got)
	}

	member := app.signIn(app.member)
	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"never", url.Values{"expires": {"never"}}},
		{"no choice", url.Values{}},
		{"a preset beyond", url.Values{"expires": {"60"}}},
		{"a date beyond", url.Values{"expires": {"custom"}, "expires_on": {"2026-12-27"}}},
	} {
		member.get("/tokens/personal/new")
		tt.form.Set("name", "Beyond: "+tt.name)
		r := member.postForm("/tokens/personal", tt.form)
		if r.StatusCode != http.StatusUnprocessableEntity || r.text(`[data-testid=error-expires]`) == "" {
			t.Errorf("%s: status %d, error %q; want 422 beside Expiration", tt.name, r.StatusCode, r.text(`[data-testid=error-expires]`))
		}
	}
	for _, tt := range []struct{ name, expires, on, shown string }{
		{"Month", "30", "", "Dec 26, 2026"},
		{"Last day", "custom", "2026-12-26", "Dec 26, 2026"},
	} {
		member.get("/tokens/personal/new")
		r := member.postForm("/tokens/personal", url.Values{"name": {tt.name}, "expires": {tt.expires}, "expires_on": {tt.on}})
		if r.StatusCode != http.StatusCreated {
			t.Errorf("%s within the maximum: status %d, error %q", tt.name, r.StatusCode, r.text(`[data-testid=error-expires]`))
			continue
		}
		if got := cellText(r.row(t, "my-tokens", tt.name).Find(`[data-testid=token-expires]`)); got != tt.shown {
			t.Errorf("%s: Expires %q, want %q", tt.name, got, tt.shown)
		}
	}

	setMax(t, "7", "New tokens must now expire within 7 days.")
	forms(t, []string{"7 days", "Custom date"}, "7", "2026-12-03")

	setMax(t, "0", "New tokens may now have no expiration.")
	forms(t, []string{"No expiration", "7 days", "30 days", "60 days", "90 days", "Custom date"}, "30", "2036-11-23")
	if got := app.orgMaxDays(t); got != 0 {
		t.Errorf("stored maximum %d after No maximum", got)
	}
}

func TestTokenPolicyIsTheOwnersAndChecked(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)

	t.Run("a member may not set it", func(t *testing.T) {
		member := app.signIn(app.member).in(t)
		r := member.postForm("/tokens/settings", url.Values{"max_token_days": {"7"}})
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.StatusCode)
		}
		if got := app.orgMaxDays(t); got != 0 {
			t.Errorf("a member's post set the maximum to %d", got)
		}
		if ch := expirationChoice(t, member.get("/tokens/personal/new")); !slices.Contains(ch.values, "never") {
			t.Errorf("after a member's post the form offers %q", ch.labels)
		}
	})
	t.Run("another organization's owner changes only their own", func(t *testing.T) {
		gus := app.signIn(app.otherOwner).in(t)
		if r := gus.postForm("/tokens/settings", url.Values{"max_token_days": {"7"}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.StatusCode)
		}
		if got := app.orgMaxDays(t); got != 0 {
			t.Errorf("Globex's owner set Acme's maximum to %d", got)
		}
	})
	t.Run("values not in the list", func(t *testing.T) {
		owner := app.signIn(app.owner).in(t)
		for _, v := range []string{"45", "abc", "-1", "3650", "", "30.5"} {
			owner.get("/tokens")
			r := owner.postForm("/tokens/settings", url.Values{"max_token_days": {v}})
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%q: status %d, want 422", v, r.StatusCode)
			}
			if !strings.Contains(r.body, "Choose a maximum token lifetime from the list.") {
				t.Errorf("%q: the page does not say what is wrong", v)
			}
		}
		if got := app.orgMaxDays(t); got != 0 {
			t.Errorf("refused values set the maximum to %d", got)
		}
	})
}
