package web

// A token's own page: who sees it, what it shows, its usage, and the edit
// form.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// TestTokenPageAccess: its member sees their own personal token, the
// owner every token of the organization; anyone else gets the same 404 as
// an id that names nothing.
func TestTokenPageAccess(t *testing.T) {
	t.Parallel()
	f := newPermFixture(t)
	for _, row := range revokeMatrix {
		for a := range numActors {
			t.Run(fmt.Sprintf("%s opens %s", a, row.object), func(t *testing.T) {
				f.t = t
				c := f.browser(a)
				path := tokenPath(f.ids[row.object])
				r := c.get(path)
				switch row.access[a] {
				case mustSignIn:
					if r.StatusCode != http.StatusSeeOther || r.location() != "/login?next="+url.QueryEscape(path) {
						t.Errorf("status %d to %q, want 303 to sign in", r.StatusCode, r.location())
					}
				case mayRevoke:
					if r.StatusCode != http.StatusOK {
						t.Fatalf("status %d, want 200", r.StatusCode)
					}
					if got := r.detail("token-title"); got != row.object.String() {
						t.Errorf("the page is about %q", got)
					}
					if got := r.Header.Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control %q, want no-store", got)
					}
				case notTheirs:
					if r.StatusCode != http.StatusNotFound {
						t.Fatalf("status %d, want 404", r.StatusCode)
					}
					if withoutRequestID(r.body) != withoutRequestID(c.get("/tokens/999999").body) {
						t.Error("the page differs from a missing token's")
					}
				}
				for _, s := range f.secretsOf(a) {
					if strings.Contains(r.body, s) {
						t.Errorf("%s sees %q", a, s)
					}
				}
			})
		}
	}
	t.Run("ids as this server never writes them", func(t *testing.T) {
		f.t = t
		c := f.browser(maxMember)
		for _, p := range []string{"/tokens/abc", "/tokens/0", "/tokens/-1", "/tokens/0" + strconv.FormatInt(f.ids[maxPersonal], 10),
			"/tokens/+" + strconv.FormatInt(f.ids[maxPersonal], 10), "/tokens/99999999999999999999",
			"/tokens/personal", "/tokens/system", "/tokens/settings"} {
			if r := c.get(p); r.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", p, r.StatusCode)
			}
		}
		// The pages beside it are still theirs.
		for _, p := range []string{"/tokens/personal/new", "/tokens"} {
			if r := c.get(p); r.StatusCode != http.StatusOK || r.has(`[data-testid=token-title]`) {
				t.Errorf("%s: status %d, or the token page", p, r.StatusCode)
			}
		}
	})
}

// TestTokenPageShowsTheToken: every detail of a system and a personal
// token, as the owner and as the member see them.
func TestTokenPageShowsTheToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	exp := app.now.Add(3*24*time.Hour + time.Hour)
	sys, _ := app.createWith(app.owner, store.NewToken{Kind: store.KindSystem, Name: "Encoder fleet", Roles: []store.Role{store.RoleVideo, store.RoleViewer},
		ExpiresAt: &exp, Description: "Pushes streams from the encoders.\nAsk Ana.", AllowedIPs: allowList(t, "10.0.0.1/8", "2001:db8::1")})
	mine, maxKey := app.createToken(app.member, store.KindPersonal, "Max laptop")
	far := app.now.AddDate(0, 0, 30)
	later, _ := app.createWith(app.member, store.NewToken{Kind: store.KindPersonal, Name: "Later", ExpiresAt: &far})
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, nil)
	app.flush(t)

	owner := app.signIn(app.owner)
	r := owner.get(tokenPath(sys.ID))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	want := map[string]string{
		"token-title":       "Encoder fleet",
		"token-description": "Pushes streams from the encoders. Ask Ana.",
		"token-kind":        "System Access Token",
		"token-hint":        sys.Hint(),
		"token-roles":       "Video User, Viewer",
		"token-created":     "Nov 26, 2026 12:00 UTC by Ana Owner",
		"token-expires":     "Nov 29, 2026 13:00 UTC in 3 days",
		"token-expires-in":  "in 3 days",
		"token-state":       "Active",
		"token-last-used":   "Never",
	}
	for id, w := range want {
		if got := r.detail(id); got != w {
			t.Errorf("%s: %q, want %q", id, got, w)
		}
	}
	var allowed []string
	r.doc.Find(`[data-testid=allowed-ip]`).Each(func(_ int, s *goquery.Selection) { allowed = append(allowed, s.Text()) })
	if !slices.Equal(allowed, []string{"10.0.0.0/8", "2001:db8::1"}) {
		t.Errorf("allowed addresses %q", allowed)
	}
	if r.has(`[data-testid=token-member]`) || r.has(`[data-testid=token-rotated]`) || r.has(`[data-testid=grace]`) || r.has(`[data-testid=token-leaked]`) {
		t.Error("the page shows what a system token never rotated nor leaked does not have")
	}
	if got := r.doc.Find(`[data-testid=token-events]`).AttrOr("href", ""); got != fmt.Sprintf("/audit?token_id=%d", sys.ID) {
		t.Errorf("the owner's link to its events: %q", got)
	}
	if got := r.doc.Find(`[data-testid=revoke]`).AttrOr("href", ""); got != fmt.Sprintf("/tokens/%d/revoke", sys.ID) {
		t.Errorf("Revoke links to %q", got)
	}
	if got := r.doc.Find(`time[datetime]`).First().AttrOr("datetime", ""); got != "2026-11-26T12:00:00Z" {
		t.Errorf("the first time says %q to machines", got)
	}

	max := app.signIn(app.member)
	r = max.get(tokenPath(mine.ID))
	for id, w := range map[string]string{
		"token-kind":        "Personal Access Token",
		"token-member":      "Max Member (you)",
		"token-description": "No description.",
		"token-expires":     "Never",
		"token-last-used":   "Nov 26, 2026 12:00 UTC from 127.0.0.1",
		"token-allowed-ips": "Any address",
	} {
		if got := r.detail(id); got != w {
			t.Errorf("%s: %q, want %q", id, got, w)
		}
	}
	if r.has(`[data-testid=token-roles]`) || r.has(`[data-testid=token-events]`) {
		t.Error("a member's page shows roles or the owner's audit link")
	}
	if got := max.get(tokenPath(later.ID)); got.has(`[data-testid=token-expires-in]`) {
		t.Errorf("a token 30 days from expiry is said to expire soon: %q", got.detail("token-expires-in"))
	}
	if got := owner.get(tokenPath(mine.ID)).detail("token-member"); got != "Max Member (max@acme.test)" {
		t.Errorf("the owner sees the member as %q", got)
	}
}

// TestTokenPageRevokedStates: who revoked it, when and why.
func TestTokenPageRevokedStates(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	byOwner, _ := app.createToken(app.member, store.KindPersonal, "revoked by Ana")
	app.revokeInStore(t, app.owner, byOwner.ID)
	left, _ := app.createToken(app.member2, store.KindPersonal, "Mia's")
	if _, _, err := app.db.RemoveMemberByID(context.Background(), app.owner, app.member2.ID); err != nil {
		t.Fatal(err)
	}
	soon, _ := app.createExpiring(t, app.member, store.KindPersonal, "short", app.now.Add(time.Hour))
	app.setNow(app.now.Add(2 * time.Hour))

	owner := app.signIn(app.owner)
	r := owner.get(tokenPath(byOwner.ID))
	if got := r.detail("token-state"); got != "Revoked by Ana Owner on Nov 26, 2026 12:00 UTC" {
		t.Errorf("state %q", got)
	}
	if r.has(`[data-testid=edit-form]`) || r.has(`[data-testid=rotate-form]`) || r.has(`[data-testid=revoke]`) {
		t.Error("a revoked token offers to edit, rotate or revoke it")
	}
	r = owner.get(tokenPath(left.ID))
	if got := r.detail("token-revoke-reason"); got != "its member left the organization" {
		t.Errorf("reason %q", got)
	}
	if r.has(`[data-testid=token-revoked-by]`) {
		t.Errorf("revoked by %q for a member who left", r.detail("token-revoked-by"))
	}
	r = owner.get(tokenPath(soon.ID))
	if got := r.detail("token-state-badge"); got != "Expired" {
		t.Errorf("an expired token's state %q", got)
	}
	if r.has(`[data-testid=rotate-form]`) || r.has(`[data-testid=token-expires-in]`) {
		t.Error("an expired token offers rotation or says it expires soon")
	}
}

// TestTokenPageUsage: the chart and table of uses per day, the addresses
// it was used from, equal to the checks made.
func TestTokenPageUsage(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	app := newAPIApp(t, Config{TrustedProxies: []*net.IPNet{loopback}})
	tok, key := app.createToken(app.member, store.KindPersonal, "busy")
	today := app.now
	from := func(ip string, n int) {
		t.Helper()
		for range n {
			app.apiCall(t, http.MethodGet, "/api/v1/token", keyOf(key), "", "", "X-Forwarded-For", ip).ok(t, http.StatusOK, nil)
		}
	}
	app.setNow(today.AddDate(0, 0, -2))
	from("203.0.113.7", 4)
	app.flush(t)
	app.setNow(today)
	from("203.0.113.7", 1)
	from("2001:db8::9", 1)
	app.flush(t)

	b := app.signIn(app.member)
	r := b.get(tokenPath(tok.ID))
	if got := r.detail("usage-total"); got != "6" {
		t.Errorf("total %q, want 6", got)
	}
	chart := r.doc.Find(`svg[data-testid=usage-chart]`)
	if chart.AttrOr("role", "") != "img" || !strings.Contains(chart.AttrOr("aria-label", ""), "6 uses in all") ||
		!strings.Contains(chart.AttrOr("aria-label", ""), "the most on Nov 24, 4 uses") {
		t.Errorf("the chart says %q (role %q)", chart.AttrOr("aria-label", ""), chart.AttrOr("role", ""))
	}
	bars := map[string]int{}
	chart.Find(`[data-testid=usage-bar]`).Each(func(_ int, s *goquery.Selection) {
		h, _ := strconv.Atoi(s.AttrOr("height", ""))
		bars[s.AttrOr("data-day", "")] = h
	})
	if len(bars) != 2 || bars["2026-11-24"] <= bars["2026-11-26"] || bars["2026-11-26"] < 1 {
		t.Errorf("bars %v, want Nov 24 taller than Nov 26", bars)
	}
	days := r.doc.Find(`[data-testid=usage-table] [data-testid=usage-day]`)
	if days.Length() != store.UsageDays {
		t.Fatalf("the table has %d days, want %d", days.Length(), store.UsageDays)
	}
	if r.doc.Find(`[data-testid=usage-table] caption`).Length() != 1 || r.doc.Find(`[data-testid=usage-table] th[scope=col]`).Length() != 2 {
		t.Error("the table lacks its caption or column headers")
	}
	perDay := map[string]string{}
	days.Each(func(_ int, s *goquery.Selection) {
		perDay[s.Find(`time`).AttrOr("datetime", "")] = cellText(s.Find(`[data-testid=usage-uses]`))
	})
	if perDay["2026-11-24"] != "4" || perDay["2026-11-26"] != "2" || perDay["2026-11-25"] != "0" || perDay["2026-10-28"] != "0" {
		t.Errorf("per day %v", perDay)
	}
	var addrs []string
	r.doc.Find(`[data-testid=address-row]`).Each(func(_ int, s *goquery.Selection) {
		addrs = append(addrs, cellText(s.Find(`[data-testid=address]`))+"="+cellText(s.Find(`[data-testid=address-uses]`)))
	})
	if !sameSet(addrs, []string{"203.0.113.7=5", "2001:db8::9=1"}) {
		t.Errorf("addresses %q", addrs)
	}
	if first := r.doc.Find(`[data-testid=address-row]`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return cellText(s.Find(`[data-testid=address]`)) == "203.0.113.7"
	}).Find(`td[data-label="First seen"] time`).AttrOr("datetime", ""); first != "2026-11-24T12:00:00Z" {
		t.Errorf("203.0.113.7 first seen %q", first)
	}

	unused, _ := app.createToken(app.member, store.KindPersonal, "idle")
	r = b.get(tokenPath(unused.ID))
	if r.has(`[data-testid=usage-bar]`) || !r.has(`[data-testid=no-addresses]`) || r.detail("usage-total") != "0" {
		t.Error("a token never used shows use")
	}
	if label := r.doc.Find(`[data-testid=usage-chart]`).AttrOr("aria-label", ""); !strings.HasSuffix(label, "none.") {
		t.Errorf("an idle token's chart says %q", label)
	}
}

// TestTokenListsLinkToTokenPages: every row of every list links to the
// token's page.
func TestTokenListsLinkToTokenPages(t *testing.T) {
	t.Parallel()
	f := newPermFixture(t)
	r := f.browser(anaOwner).get("/tokens")
	for _, o := range []object{anaPersonal, maxPersonal, acmeSystem} {
		link := r.doc.Find(fmt.Sprintf(`[data-testid=token-row][data-token-id="%d"] [data-testid=token-page-link]`, f.ids[o]))
		if link.Length() == 0 {
			t.Fatalf("no link for %s", o)
		}
		link.Each(func(_ int, s *goquery.Selection) {
			if s.AttrOr("href", "") != tokenPath(f.ids[o]) || cellText(s) != o.String() {
				t.Errorf("%s links %q as %q", o, s.AttrOr("href", ""), cellText(s))
			}
		})
	}
}

// TestEditToken: name and description saved, and shown after a redirect;
// mistakes come back with what was typed, beside their fields.
func TestEditToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, _ := app.createToken(app.member, store.KindPersonal, "laptop")
	app.createToken(app.member, store.KindPersonal, "taken")
	b := app.signIn(app.member)
	page := b.get(tokenPath(tok.ID))
	if page.has(`input[name=roles]`) {
		t.Error("a personal token's form offers roles")
	}

	form := page.editForm(t)
	form.Set("name", "Laptop (home)")
	form.Set("description", "  Used by upload.sh.\r\nAsk Max.  ")
	r := b.postForm(tokenPath(tok.ID)+"/edit", form)
	if r.StatusCode != http.StatusSeeOther || r.location() != tokenPath(tok.ID) {
		t.Fatalf("save: status %d to %q, want 303 back to the page\n%s", r.StatusCode, r.location(), r.body)
	}
	r = b.get(tokenPath(tok.ID))
	if got := r.detail("flash"); got != "Changes to “Laptop (home)” saved." {
		t.Errorf("flash %q", got)
	}
	if got := r.detail("token-title"); got != "Laptop (home)" {
		t.Errorf("title %q", got)
	}
	if got := r.doc.Find(`#description`).Text(); got != "Used by upload.sh.\nAsk Max." {
		t.Errorf("description kept as %q", got)
	}
	if got := b.get(tokenPath(tok.ID)).detail("flash"); got != "" {
		t.Errorf("the flash shows twice: %q", got)
	}

	tests := []struct {
		name   string
		change url.Values
		status int
		field  string
	}{
		{"empty name", url.Values{"name": {"  "}}, http.StatusUnprocessableEntity, "name"},
		{"description too long", url.Values{"description": {strings.Repeat("é", store.MaxDescriptionLen+1)}}, http.StatusUnprocessableEntity, "description"},
		{"not an address", url.Values{"allowed_ips": {"10.0.0.1\nexample.com"}}, http.StatusUnprocessableEntity, "allowed_ips"},
		{"a range too wide", url.Values{"allowed_ips": {"10.0.0.0/33"}}, http.StatusUnprocessableEntity, "allowed_ips"},
		{"name taken", url.Values{"name": {"TAKEN"}}, http.StatusConflict, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := b.in(t)
			form := b.get(tokenPath(tok.ID)).editForm(t)
			form.Set("description", "typed, not saved")
			for k, v := range tt.change {
				form[k] = v
			}
			r := b.postForm(tokenPath(tok.ID)+"/edit", form)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			if r.detail("error-"+tt.field) == "" {
				t.Errorf("no message beside %s:\n%s", tt.field, r.doc.Find(`[data-testid=edit]`).Text())
			}
			if r.doc.Find(`#`+tt.field).AttrOr("aria-invalid", "") != "true" {
				t.Errorf("%s is not marked invalid", tt.field)
			}
			typed := r.editForm(t)
			for _, k := range []string{"name", "description", "allowed_ips"} {
				if typed.Get(k) != form.Get(k) {
					t.Errorf("%s came back as %q, want %q as typed", k, typed.Get(k), form.Get(k))
				}
			}
			if got := app.token(tok.ID, app.owner); got.Name != "Laptop (home)" || got.Description != "Used by upload.sh.\nAsk Max." || len(got.AllowedIPs) != 0 {
				t.Errorf("a refused edit changed the token: %+v", got)
			}
		})
	}
	t.Run("a revoked token cannot be edited", func(t *testing.T) {
		b := b.in(t)
		form := b.get(tokenPath(tok.ID)).editForm(t)
		app.revokeInStore(t, app.member, tok.ID)
		form.Set("name", "after the revoke")
		if r := b.postForm(tokenPath(tok.ID)+"/edit", form); r.StatusCode != http.StatusConflict || !strings.Contains(r.detail("edit-error"), "revoked") {
			t.Errorf("status %d, %q", r.StatusCode, r.detail("edit-error"))
		}
	})
}

// TestEditRoles: the owner changes a system token's roles, at least one;
// nobody gives a personal token roles, crafted form or not.
func TestEditRoles(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	mine, _ := app.createToken(app.member, store.KindPersonal, "laptop")
	owner := app.signIn(app.owner)

	form := owner.get(tokenPath(sys.ID)).editForm(t)
	if !slices.Equal(form["roles"], []string{"video"}) {
		t.Fatalf("roles ticked: %q", form["roles"])
	}
	form["roles"] = []string{"admin", "billing"}
	if r := owner.postForm(tokenPath(sys.ID)+"/edit", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d\n%s", r.StatusCode, r.body)
	}
	if got := owner.get(tokenPath(sys.ID)).detail("token-roles"); got != "Administrator, Billing Manager" {
		t.Errorf("roles %q", got)
	}
	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", keyOf(sysKey)).ok(t, http.StatusOK, &p)
	if !slices.Equal(p.Roles, []string{"admin", "billing"}) {
		t.Errorf("the token acts with %q at its next use", p.Roles)
	}

	delete(form, "roles")
	r := owner.postForm(tokenPath(sys.ID)+"/edit", form)
	if r.StatusCode != http.StatusUnprocessableEntity || r.detail("error-roles") == "" {
		t.Errorf("no roles: status %d, %q", r.StatusCode, r.detail("error-roles"))
	}
	if r.doc.Find(`input[name=roles]:checked`).Length() != 0 {
		t.Error("the form came back with roles ticked that were not")
	}
	form["roles"] = []string{"owner"}
	if r := owner.postForm(tokenPath(sys.ID)+"/edit", form); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("owner role: status %d", r.StatusCode)
	}

	// The owner's own page of Max's token, and Max's, offer no roles; a
	// crafted post giving it some is refused.
	for _, m := range []store.Member{app.owner, app.member} {
		b := app.signIn(m)
		page := b.get(tokenPath(mine.ID))
		if page.has(`input[name=roles]`) {
			t.Errorf("%s is offered roles for a personal token", m.Name)
		}
		form := page.editForm(t)
		form.Set("edit_roles", "1")
		form.Set("roles", "admin")
		if r := b.postForm(tokenPath(mine.ID)+"/edit", form); r.StatusCode != http.StatusUnprocessableEntity || r.detail("edit-error") == "" {
			t.Errorf("%s gives a personal token roles: status %d, %q", m.Name, r.StatusCode, r.detail("edit-error"))
		}
	}
	if got := app.token(mine.ID, app.owner).Roles; len(got) != 0 {
		t.Errorf("a personal token has roles %v", got)
	}
	// A member cannot reach a system token at all.
	max := app.signIn(app.member)
	max.get("/tokens")
	if r := max.postForm(tokenPath(sys.ID)+"/edit", url.Values{"edit_roles": {"1"}, "roles": {"video"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("a member edits a system token: status %d", r.StatusCode)
	}
}

// TestEditAllowList: the list is shown normalized; one that would shut out
// the address saving it asks first, and is saved only when confirmed.
func TestEditAllowList(t *testing.T) {
	t.Parallel()
	app := newTestApp(t) // the browser is at 127.0.0.1
	tok, _ := app.createToken(app.member, store.KindPersonal, "ci")
	b := app.signIn(app.member)
	save := func(t *testing.T, list string, extra ...string) *response {
		t.Helper()
		form := b.get(tokenPath(tok.ID)).editForm(t)
		form.Set("allowed_ips", list)
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return b.postForm(tokenPath(tok.ID)+"/edit", form)
	}

	t.Run("normalized and shown", func(t *testing.T) {
		if r := save(t, "127.0.0.1\n10.1.2.3/8, 10.0.0.0/8\r\n::ffff:198.51.100.9\n2001:db8::1/32\n"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d\n%s", r.StatusCode, r.detail("edit"))
		}
		r := b.get(tokenPath(tok.ID))
		var shown []string
		r.doc.Find(`[data-testid=allowed-ip]`).Each(func(_ int, s *goquery.Selection) { shown = append(shown, s.Text()) })
		want := []string{"10.0.0.0/8", "127.0.0.1", "198.51.100.9", "2001:db8::/32"}
		if !slices.Equal(shown, want) {
			t.Errorf("shown %q, want %q", shown, want)
		}
		if got := r.doc.Find(`#allowed_ips`).Text(); got != strings.Join(want, "\n") {
			t.Errorf("the form holds %q", got)
		}
	})
	t.Run("shutting out this address asks first", func(t *testing.T) {
		r := save(t, "203.0.113.0/24\n2001:db8::/32")
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", r.StatusCode)
		}
		if got := r.detail("shut-out"); !strings.Contains(got, "127.0.0.1") {
			t.Errorf("the warning says %q", got)
		}
		if !r.has(`button[name=confirm][value="1"]`) {
			t.Error("no Save anyway")
		}
		if got := r.doc.Find(`#allowed_ips`).Text(); got != "203.0.113.0/24\n2001:db8::/32" {
			t.Errorf("the form holds %q", got)
		}
		if got := app.token(tok.ID, app.owner).AllowedIPs.Strings(); slices.Contains(got, "203.0.113.0/24") {
			t.Errorf("saved without confirmation: %q", got)
		}
		// The form as it came back, with Save anyway.
		form := r.editForm(t)
		form.Set("confirm", "1")
		if r := b.postForm(tokenPath(tok.ID)+"/edit", form); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("Save anyway: status %d", r.StatusCode)
		}
		if got := app.token(tok.ID, app.owner).AllowedIPs.Strings(); !slices.Equal(got, []string{"203.0.113.0/24", "2001:db8::/32"}) {
			t.Errorf("saved %q", got)
		}
	})
	t.Run("an unchanged list asks nothing", func(t *testing.T) {
		form := b.get(tokenPath(tok.ID)).editForm(t)
		form.Set("description", "only the description")
		if r := b.postForm(tokenPath(tok.ID)+"/edit", form); r.StatusCode != http.StatusSeeOther {
			t.Errorf("status %d: %s", r.StatusCode, r.detail("shut-out"))
		}
	})
	t.Run("emptied: any address", func(t *testing.T) {
		if r := save(t, ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", r.StatusCode)
		}
		if got := b.get(tokenPath(tok.ID)).detail("token-allowed-ips"); got != "Any address" {
			t.Errorf("shown %q", got)
		}
	})
	t.Run("more than 50", func(t *testing.T) {
		var many []string
		for i := range store.MaxAllowedRanges + 1 {
			many = append(many, fmt.Sprintf("10.0.%d.1", i))
		}
		if r := save(t, strings.Join(many, "\n")); r.StatusCode != http.StatusUnprocessableEntity || r.detail("error-allowed_ips") == "" {
			t.Errorf("status %d, %q", r.StatusCode, r.detail("error-allowed_ips"))
		}
	})
}

// TestCreateFormsTakeDescriptionAndAllowList: the Add New forms' optional
// fields, kept as typed when the form comes back.
func TestCreateFormsTakeDescriptionAndAllowList(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	owner := app.signIn(app.owner)
	page := owner.get("/tokens/system/new")
	if !page.has(`textarea#description[maxlength="500"]`) || !page.has(`textarea#allowed_ips`) || page.text(`label[for=allowed_ips]`) != "Allowed IP addresses" {
		t.Fatal("the form lacks Description or Allowed IP addresses")
	}
	r := owner.postForm("/tokens/system", url.Values{"name": {""}, "roles": {"video"}, "expires": {"never"},
		"description": {"For the encoders."}, "allowed_ips": {"10.0.0.1/8\nnonsense"}})
	if r.StatusCode != http.StatusUnprocessableEntity || r.detail("error-allowed_ips") == "" || r.detail("error-name") == "" {
		t.Fatalf("status %d; errors %q, %q", r.StatusCode, r.detail("error-name"), r.detail("error-allowed_ips"))
	}
	if r.doc.Find(`#description`).Text() != "For the encoders." || r.doc.Find(`#allowed_ips`).Text() != "10.0.0.1/8\nnonsense" {
		t.Errorf("the form lost what was typed")
	}
	r = owner.postForm("/tokens/system", url.Values{"name": {"encoders"}, "roles": {"video"}, "expires": {"never"},
		"description": {"For the encoders."}, "allowed_ips": {"10.0.0.1/8"}})
	if r.StatusCode != http.StatusCreated || r.keyShown() == "" {
		t.Fatalf("status %d", r.StatusCode)
	}
	id, _ := strconv.ParseInt(r.row(t, "system-tokens", "encoders").AttrOr("data-token-id", ""), 10, 64)
	if got := app.token(id, app.owner); got.Description != "For the encoders." || got.AllowedIPs.String() != "10.0.0.0/8" {
		t.Errorf("created %q with %q", got.Description, got.AllowedIPs)
	}
	max := app.signIn(app.member)
	max.get("/tokens/personal/new")
	r = max.postForm("/tokens/personal", url.Values{"name": {"mine"}, "description": {strings.Repeat("x", 501)}})
	if r.StatusCode != http.StatusUnprocessableEntity || r.detail("error-description") == "" {
		t.Errorf("a long description: status %d", r.StatusCode)
	}
}
