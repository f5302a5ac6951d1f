package web

// The flows of the user documentation (seed/manage-access-tokens.txt), end
// to end through the real router, as a person does them in a browser.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

const newKeyWarning = "Copy the key and store it somewhere securely. You won't see it again after you leave the page or refresh it."

func TestLoginPageHasTheSignInForm(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	r := app.client().get("/login")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	for id, label := range map[string]string{"email": "Email", "password": "Password"} {
		if got := r.text(`label[for=` + id + `]`); got != label {
			t.Errorf("label for #%s = %q, want %q", id, got, label)
		}
		if !r.has(`form[data-testid=login-form] input#` + id + `[name=` + id + `]`) {
			t.Errorf("no input #%s in the sign-in form", id)
		}
	}
	if got := r.text(`form[data-testid=login-form] button[type=submit]`); got != "Sign in" {
		t.Errorf("button = %q, want Sign in", got)
	}
	if r.has(`[data-testid=profile-menu]`) {
		t.Error("the sign-in page shows a profile menu before anyone signed in")
	}
}

func TestSignInFailsWithOneMessage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tests := []struct {
		name, email, password string
	}{
		{"wrong password", app.member.Email, "not the right password"},
		{"unknown email", "nobody@acme.test", testPassword},
	}
	var messages []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := app.client().in(t)
			c.get("/login")
			r := c.postForm("/login", url.Values{"email": {tt.email}, "password": {tt.password}})
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.StatusCode)
			}
			if n := r.doc.Find(`[data-testid=login-error]`).Length(); n != 1 {
				t.Fatalf("%d error messages, want 1", n)
			}
			messages = append(messages, r.text(`[data-testid=login-error]`))
			if got, _ := r.doc.Find(`input#email`).Attr("value"); got != tt.email {
				t.Errorf("email field = %q, want %q kept", got, tt.email)
			}
			if got, _ := r.doc.Find(`input#password`).Attr("value"); got != "" {
				t.Errorf("password field kept %q", got)
			}
			if strings.Contains(r.body, tt.password) {
				t.Error("the page repeats the password")
			}
			if got := c.get("/tokens"); got.StatusCode != http.StatusSeeOther || !strings.HasPrefix(got.location(), "/login") {
				t.Errorf("after a failed sign-in GET /tokens = %d %q, want a redirect to /login", got.StatusCode, got.location())
			}
		})
	}
	if len(messages) == 2 && (messages[0] != messages[1] || messages[0] == "") {
		t.Errorf("messages differ or are empty: %q", messages)
	}
}

func TestSignInGoesToTokensOrASafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		next, want string
	}{
		{"", "/tokens"},
		{"/tokens/personal/new", "/tokens/personal/new"},
		{"/tokens?x=1", "/tokens?x=1"},
		{"https://evil.example/", "/tokens"},
		{"//evil.example/tokens", "/tokens"},
		{`/\evil.example`, "/tokens"},
		{"javascript:alert(1)", "/tokens"},
		{"/login?next=/tokens", "/tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			c := app.client()
			page := c.get("/login?next=" + url.QueryEscape(tt.next))
			form := url.Values{"email": {app.member.Email}, "password": {testPassword}}
			if next, ok := page.doc.Find(`form[data-testid=login-form] input[name=next]`).Attr("value"); ok {
				form.Set("next", next)
			} else if tt.next != "" {
				t.Fatalf("the sign-in form lost next=%q", tt.next)
			}
			r := c.postForm("/login", form)
			if r.StatusCode != http.StatusSeeOther || r.location() != tt.want {
				t.Fatalf("sign in: %d to %q, want 303 to %q", r.StatusCode, r.location(), tt.want)
			}
			if got := c.get(r.location()); got.StatusCode != http.StatusOK {
				t.Errorf("GET %s after sign-in: status %d", r.location(), got.StatusCode)
			}
		})
	}
}

func TestSignInBringsYouBackToThePageYouAskedFor(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	c := app.client()
	r := c.get("/tokens/personal/new")
	if r.StatusCode != http.StatusSeeOther || r.location() != "/login?next=%2Ftokens%2Fpersonal%2Fnew" {
		t.Fatalf("signed out: %d to %q", r.StatusCode, r.location())
	}
	page := c.get(r.location())
	next, _ := page.doc.Find(`input[name=next]`).Attr("value")
	r = c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}, "next": {next}})
	if r.location() != "/tokens/personal/new" {
		t.Fatalf("after sign-in: to %q", r.location())
	}
	if form := c.get(r.location()); form.text(`h1`) != "Add New Personal Token" {
		t.Errorf("landed on %q", form.text(`h1`))
	}
	if again := c.get("/login"); again.StatusCode != http.StatusSeeOther || again.location() != "/tokens" {
		t.Errorf("GET /login when signed in: %d to %q, want 303 to /tokens", again.StatusCode, again.location())
	}
}

func TestProfileMenuOnEveryScreen(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, _ := app.createToken(app.member, store.KindPersonal, "Laptop")
	for _, who := range []store.Member{app.member, app.owner} {
		c := app.signIn(who)
		for _, path := range []string{"/tokens", "/tokens/personal/new", fmt.Sprintf("/tokens/%d/revoke", tok.ID), "/tokens/999999/revoke"} {
			t.Run(who.Name+path, func(t *testing.T) {
				r := c.in(t).get(path)
				if got := r.text(`[data-testid=profile-name]`); got != who.Name {
					t.Errorf("profile name = %q, want %q", got, who.Name)
				}
				if got := r.text(`[data-testid=profile-org]`); got != who.OrgName {
					t.Errorf("profile org = %q, want %q", got, who.OrgName)
				}
				menu := r.doc.Find(`[data-testid=profile-menu]`)
				heading := menu.Find(`h2, h3`).FilterFunction(func(_ int, s *goquery.Selection) bool {
					return strings.TrimSpace(s.Text()) == "Organization"
				})
				if heading.Length() != 1 {
					t.Fatalf("menu has no heading Organization")
				}
				link := heading.NextAll().Find(`a`).FilterFunction(func(_ int, s *goquery.Selection) bool {
					return strings.TrimSpace(s.Text()) == "Token Management"
				})
				if href, _ := link.Attr("href"); link.Length() != 1 || href != "/tokens" {
					t.Errorf("under Organization: %d Token Management links to %q, want one to /tokens", link.Length(), href)
				}
				if got := menu.Find(`form[action="/logout"][method=post] button`).Text(); got != "Sign out" {
					t.Errorf("sign out button = %q", got)
				}
			})
		}
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	c := app.signIn(app.member)
	oldCookies := c.http.Jar.Cookies(mustURL(t, app.server.URL))
	if !slices.ContainsFunc(oldCookies, func(ck *http.Cookie) bool { return ck.Name == sessionCookie }) {
		t.Fatalf("no session cookie after sign-in: %v", oldCookies)
	}

	page := c.get("/tokens")
	action, _ := page.doc.Find(`[data-testid=sign-out]`).Closest("form").Attr("action")
	r := c.postForm(action, url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.location() != "/login" {
		t.Fatalf("sign out: %d to %q, want 303 to /login", r.StatusCode, r.location())
	}
	if got := c.get("/tokens"); got.StatusCode != http.StatusSeeOther || !strings.HasPrefix(got.location(), "/login") {
		t.Errorf("GET /tokens after sign-out: %d to %q, want a redirect to /login", got.StatusCode, got.location())
	}

	// A copy of the cookie kept from before signing out is worth nothing.
	replay := app.client()
	replay.http.Jar.SetCookies(mustURL(t, app.server.URL), oldCookies)
	if got := replay.get("/tokens"); got.StatusCode != http.StatusSeeOther || !strings.HasPrefix(got.location(), "/login") {
		t.Errorf("GET /tokens with the old cookie: %d to %q, want a redirect to /login", got.StatusCode, got.location())
	}
	if got := replay.get("/tokens", "HX-Request", "true"); got.Header.Get("HX-Redirect") != "/login" {
		t.Errorf("htmx GET with the old cookie: %d HX-Redirect %q, want /login", got.StatusCode, got.Header.Get("HX-Redirect"))
	}
}

func TestTokenManagementSections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		owner   bool
		empties map[string]string
	}{
		{"member", false, map[string]string{"my-tokens": "You have no personal tokens."}},
		{"owner", true, map[string]string{
			"my-tokens":     "You have no personal tokens.",
			"user-tokens":   "No member of Acme Streaming has a personal token.",
			"system-tokens": "Acme Streaming has no system tokens.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			who := app.member
			if tt.owner {
				who = app.owner
			}
			r := app.signIn(who).get("/tokens")
			if r.StatusCode != http.StatusOK || r.text(`h1`) != "Token Management" {
				t.Fatalf("status %d, h1 %q", r.StatusCode, r.text(`h1`))
			}
			if got := r.text(`[data-testid=my-tokens] h2`); got != "My Tokens" {
				t.Errorf("heading %q, want My Tokens", got)
			}
			if a := r.doc.Find(`[data-testid=my-tokens] a[data-testid=add-personal]`); strings.TrimSpace(a.Text()) != "Add New Personal Token" || a.AttrOr("href", "") != "/tokens/personal/new" {
				t.Errorf("add personal = %q to %q", a.Text(), a.AttrOr("href", ""))
			}
			if tt.owner {
				if got := r.text(`[data-testid=user-tokens] h2`); got != "Organization User Tokens" {
					t.Errorf("heading %q, want Organization User Tokens", got)
				}
				if got := r.text(`[data-testid=system-tokens] h2`); got != "System Tokens" {
					t.Errorf("heading %q, want System Tokens", got)
				}
				if a := r.doc.Find(`[data-testid=system-tokens] a[data-testid=add-system]`); strings.TrimSpace(a.Text()) != "Add New System Token" || a.AttrOr("href", "") != "/tokens/system/new" {
					t.Errorf("add system = %q to %q", a.Text(), a.AttrOr("href", ""))
				}
			} else {
				for _, s := range []string{"Organization User Tokens", "System Tokens", "Add New System Token", "/tokens/system/new"} {
					if strings.Contains(r.body, s) {
						t.Errorf("a member's page shows %q", s)
					}
				}
			}
			if got := r.doc.Find(`[data-testid=empty]`).Length(); got != len(tt.empties) {
				t.Errorf("%d empty lists, want %d", got, len(tt.empties))
			}
			for list, want := range tt.empties {
				if got := r.text(`[data-testid=` + list + `] [data-testid=empty]`); got != want {
					t.Errorf("empty %s says %q, want %q", list, got, want)
				}
				if r.has(`[data-testid=` + list + `] table`) {
					t.Errorf("empty %s has a table", list)
				}
			}
		})
	}
}

func TestTokenRowsShowNameHintDateOwnerAndRoles(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	mine, mineKey := app.createToken(app.owner, store.KindPersonal, "Owner laptop")
	maxs, maxKey := app.createToken(app.member, store.KindPersonal, "Max CI")
	mias, miaKey := app.createToken(app.member2, store.KindPersonal, "Mia script")
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleVideo, store.RoleAdmin)
	app.createToken(app.otherOwner, store.KindPersonal, "Globex personal")
	app.createToken(app.otherOwner, store.KindSystem, "Globex system", store.RoleAdmin)

	r := app.signIn(app.owner).get("/tokens")
	type want struct {
		id                   int64
		key                  store.TokenText
		list, member, roles  string
		hintPrefix, rowLabel string
	}
	for name, w := range map[string]want{
		"Owner laptop": {mine.ID, mineKey, "my-tokens", "", "", "tkp_", "mine"},
		"Max CI":       {maxs.ID, maxKey, "user-tokens", "Max Member (max@acme.test)", "", "tkp_", "Max's"},
		"Mia script":   {mias.ID, miaKey, "user-tokens", "Mia Member (mia@acme.test)", "", "tkp_", "Mia's"},
		"Encoder":      {sys.ID, sysKey, "system-tokens", "", "Administrator, Video User", "tks_", "system"},
	} {
		row := r.row(t, w.list, name)
		if got := row.AttrOr("data-token-id", ""); got != fmt.Sprint(w.id) {
			t.Errorf("%s: data-token-id %q, want %d", name, got, w.id)
		}
		if got, want := cellText(row.Find(`[data-testid=token-hint]`)), w.hintPrefix+"…"+string(w.key[len(w.key)-4:]); got != want {
			t.Errorf("%s: hint %q, want %q", name, got, want)
		}
		if got := cellText(row.Find(`time`)); got != "Nov 26, 2026" {
			t.Errorf("%s: created %q, want Nov 26, 2026", name, got)
		}
		if w.member != "" {
			if got := cellText(row.Find(`[data-testid=token-member]`)); got != w.member {
				t.Errorf("%s: member %q, want %q", name, got, w.member)
			}
		}
		if w.roles != "" {
			if got := cellText(row.Find(`[data-testid=token-roles]`)); got != w.roles {
				t.Errorf("%s: roles %q, want %q", name, got, w.roles)
			}
		}
		if strings.Contains(r.body, string(w.key)) {
			t.Errorf("%s: the page shows the whole key", name)
		}
	}
	if got := r.rowNames("user-tokens"); !sameSet(got, []string{"Owner laptop", "Max CI", "Mia script"}) {
		t.Errorf("Organization User Tokens = %q, want every Acme member's token", got)
	}
	if got := cellText(r.row(t, "user-tokens", "Owner laptop").Find(`[data-testid=token-member]`)); got != "Ana Owner (you)" {
		t.Errorf("owner's own token in Organization User Tokens shows %q", got)
	}
	if got := r.rowNames("my-tokens"); !slices.Equal(got, []string{"Owner laptop"}) {
		t.Errorf("owner's My Tokens = %q", got)
	}
	if got := r.rowNames("system-tokens"); !slices.Equal(got, []string{"Encoder"}) {
		t.Errorf("System Tokens = %q", got)
	}
	if strings.Contains(r.body, "Globex") || strings.Contains(r.body, "gus@") {
		t.Error("Acme's owner sees something of Globex")
	}

	m := app.signIn(app.member).get("/tokens")
	if got := m.rowNames("my-tokens"); !slices.Equal(got, []string{"Max CI"}) {
		t.Errorf("member's My Tokens = %q, want only their own", got)
	}
	for _, other := range []string{"Owner laptop", "Mia script", "Encoder", "Globex"} {
		if strings.Contains(m.body, other) {
			t.Errorf("a member's page shows %q", other)
		}
	}
}

func TestGeneratePersonalToken(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"member", "owner"} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			m := map[string]store.Member{"member": app.member, "owner": app.owner}[who]
			c := app.signIn(m)

			list := c.get("/tokens")
			href := list.doc.Find(`a[data-testid=add-personal]`).AttrOr("href", "")
			form := c.get(href)
			if form.StatusCode != http.StatusOK || form.text(`h1`) != "Add New Personal Token" {
				t.Fatalf("%s: %d %q", href, form.StatusCode, form.text(`h1`))
			}
			if got := form.text(`label[for=name]`); got != "Token Name" || !form.has(`input#name[name=name]`) {
				t.Errorf("name label %q", got)
			}
			f := form.doc.Find(`form[data-testid=token-form]`)
			if got := cellText(f.Find(`button[type=submit]`)); got != "Create Personal Token" {
				t.Errorf("button %q", got)
			}
			if f.Find(`input[type=checkbox]`).Length() != 0 {
				t.Error("the personal token form asks for roles")
			}

			r := c.postForm(f.AttrOr("action", ""), url.Values{"name": {"Deploy bot"}})
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("create: status %d\n%s", r.StatusCode, r.body)
			}
			key := r.doc.Find(`[data-testid=new-key] input[data-testid=new-key-value]`).AttrOr("value", "")
			if kind, ok := store.ParseTokenText(key); !ok || kind != store.KindPersonal {
				t.Fatalf("key %q is not a personal token", key)
			}
			if n := strings.Count(r.body, key); n != 1 {
				t.Errorf("the key appears %d times in the page, want once", n)
			}
			if got := r.text(`[data-testid=new-key] .warning`); got != newKeyWarning {
				t.Errorf("warning %q", got)
			}
			if got := r.doc.Find(`[data-testid=new-key] button[data-testid=copy-key]`); got.AttrOr("data-copy", "") != "new-key-value" || cellText(got) != "Copy" {
				t.Errorf("copy button missing or not tied to the key")
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got, want := cellText(r.row(t, "my-tokens", "Deploy bot").Find(`[data-testid=token-hint]`)), "tkp_…"+key[len(key)-4:]; got != want {
				t.Errorf("hint %q, want %q", got, want)
			}
			if got := r.text(`[data-testid=flash]`); !strings.Contains(got, "Deploy bot") {
				t.Errorf("flash %q does not name the token", got)
			}
			stored := app.allTokens(app.owner)
			if len(stored) != 1 || stored[0].Name != "Deploy bot" || stored[0].MemberID != m.ID || stored[0].LastFour != key[len(key)-4:] {
				t.Fatalf("stored %+v", stored)
			}
			cookies := app.cookieText(r)

			reload := c.get("/tokens")
			if reload.has(`[data-testid=new-key]`) || strings.Contains(reload.body, key) || strings.Contains(reload.body, newKeyWarning) {
				t.Error("the key is shown again after reload")
			}
			if got := reload.rowNames("my-tokens"); !slices.Equal(got, []string{"Deploy bot"}) {
				t.Errorf("after reload My Tokens = %q", got)
			}
			cookies += app.cookieText(reload)

			// A revoke stores its message in the session cookie: the
			// cookie is decoded here, and holds the message but never the key.
			c.get(fmt.Sprintf("/tokens/%d/revoke", stored[0].ID))
			revoke := c.postForm(fmt.Sprintf("/tokens/%d/revoke", stored[0].ID), url.Values{})
			revokeCookies := app.cookieText(revoke)
			if !strings.Contains(revokeCookies, "Deploy bot") {
				t.Errorf("the session cookie could not be read, or holds no message: %q", revokeCookies)
			}
			cookies += revokeCookies + app.cookieText(c.get("/tokens"))
			if strings.Contains(cookies, key) || strings.Contains(cookies, key[4:len(key)-4]) {
				t.Error("the key is in a Set-Cookie header")
			}
		})
	}
}

func TestGenerateSystemToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	c := app.signIn(app.owner)
	href := c.get("/tokens").doc.Find(`a[data-testid=add-system]`).AttrOr("href", "")
	form := c.get(href)
	if form.StatusCode != http.StatusOK || form.text(`h1`) != "Add New System Token" {
		t.Fatalf("%s: %d %q", href, form.StatusCode, form.text(`h1`))
	}
	f := form.doc.Find(`form[data-testid=token-form]`)
	if got := form.text(`label[for=name]`); got != "Token Name" || f.Find(`input#name[name=name]`).Length() != 1 {
		t.Errorf("name label %q", got)
	}
	group := f.Find(`fieldset`).First()
	if got := cellText(group.Find(`legend`)); got != "Roles" {
		t.Errorf("roles group legend %q, want Roles", got)
	}
	var titles []string
	group.Find(`input[type=checkbox]`).Each(func(_ int, box *goquery.Selection) {
		id := box.AttrOr("id", "")
		labels := form.doc.Find(`label[for="` + id + `"]`)
		if id == "" || labels.Length() != 1 {
			t.Errorf("checkbox %q has %d labels", box.AttrOr("value", ""), labels.Length())
		}
		if box.AttrOr("name", "") != "roles" {
			t.Errorf("checkbox %q is named %q", id, box.AttrOr("name", ""))
		}
		titles = append(titles, cellText(labels))
	})
	if want := []string{"Administrator", "Video User", "Viewer", "Billing Manager", "Support User"}; !slices.Equal(titles, want) {
		t.Errorf("roles %q, want %q", titles, want)
	}
	if got := cellText(f.Find(`button[type=submit]`)); got != "Create System Token" {
		t.Errorf("button %q", got)
	}

	r := c.postForm(f.AttrOr("action", ""), url.Values{"name": {"Encoder"}, "roles": {"video", "admin"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d\n%s", r.StatusCode, r.body)
	}
	key := r.doc.Find(`[data-testid=new-key-value]`).AttrOr("value", "")
	if kind, ok := store.ParseTokenText(key); !ok || kind != store.KindSystem {
		t.Fatalf("key %q is not a system token", key)
	}
	if got := r.text(`[data-testid=new-key] .warning`); got != newKeyWarning {
		t.Errorf("warning %q", got)
	}
	if !r.has(`[data-testid=new-key] [data-testid=copy-key]`) || r.Header.Get("Cache-Control") != "no-store" {
		t.Error("no copy button, or the page may be cached")
	}
	reload := c.get("/tokens")
	row := reload.row(t, "system-tokens", "Encoder")
	if got := cellText(row.Find(`[data-testid=token-roles]`)); got != "Administrator, Video User" {
		t.Errorf("roles %q, want Administrator, Video User", got)
	}
	if got, want := cellText(row.Find(`[data-testid=token-hint]`)), "tks_…"+key[len(key)-4:]; got != want {
		t.Errorf("hint %q, want %q", got, want)
	}
	if reload.has(`[data-testid=new-key]`) || strings.Contains(reload.body, key) {
		t.Error("the key is shown again after reload")
	}
	if got := reload.rowNames("my-tokens"); len(got) != 0 {
		t.Errorf("a system token is listed in My Tokens: %q", got)
	}
	stored := app.allTokens(app.owner)
	if len(stored) != 1 || stored[0].Kind != store.KindSystem || !slices.Equal(stored[0].Roles, []store.Role{store.RoleAdmin, store.RoleVideo}) {
		t.Errorf("stored %+v", stored)
	}
}

func TestRevokeWithoutJavaScript(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, _ := app.createToken(app.member, store.KindPersonal, "Old laptop")
	app.createToken(app.member, store.KindPersonal, "New laptop")
	c := app.signIn(app.member)
	revokeURL := fmt.Sprintf("/tokens/%d/revoke", tok.ID)

	link := c.get("/tokens").row(t, "my-tokens", "Old laptop").Find(`a[data-testid=revoke]`)
	if got := link.AttrOr("href", ""); got != revokeURL || cellText(link) != "Revoke" {
		t.Fatalf("Revoke link %q to %q, want Revoke to %s", cellText(link), got, revokeURL)
	}
	confirm := c.get(revokeURL)
	if confirm.StatusCode != http.StatusOK || confirm.text(`h1`) != "Revoke Token" || !strings.HasPrefix(confirm.text(`title`), "Revoke Token") {
		t.Fatalf("confirm: %d, h1 %q, title %q", confirm.StatusCode, confirm.text(`h1`), confirm.text(`title`))
	}
	if got := confirm.text(`[data-testid=revoke-token-name]`); got != "Old laptop" {
		t.Errorf("confirmation names %q", got)
	}
	form := confirm.doc.Find(`[data-testid=confirm-revoke]`).Closest("form")
	if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != revokeURL || cellText(confirm.doc.Find(`[data-testid=confirm-revoke]`)) != "Yes, Revoke" {
		t.Errorf("Yes, Revoke form: method %q action %q", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	cancel := confirm.doc.Find(`a[data-testid=cancel-revoke]`)
	if cellText(cancel) != "Cancel" || cancel.AttrOr("href", "") != "/tokens" {
		t.Errorf("Cancel = %q to %q", cellText(cancel), cancel.AttrOr("href", ""))
	}

	// Cancel is a link back: nothing changes.
	back := c.get(cancel.AttrOr("href", ""))
	if got := back.rowNames("my-tokens"); !sameSet(got, []string{"Old laptop", "New laptop"}) {
		t.Errorf("after Cancel My Tokens = %q", got)
	}
	if !app.token(tok.ID, app.owner).Active() {
		t.Fatal("Cancel revoked the token")
	}

	c.get(revokeURL)
	r := c.postForm(form.AttrOr("action", ""), url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
		t.Fatalf("Yes, Revoke: %d to %q, want 303 to /tokens", r.StatusCode, r.location())
	}
	page := c.get("/tokens")
	if got := page.text(`[data-testid=flash]`); !strings.Contains(got, "Old laptop") || !strings.Contains(got, "revoked") || strings.Contains(got, "already") {
		t.Errorf("flash %q", got)
	}
	if got := page.rowNames("my-tokens"); !slices.Equal(got, []string{"New laptop"}) {
		t.Errorf("after revoke My Tokens = %q", got)
	}
	revoked := app.token(tok.ID, app.owner)
	if !revoked.RevokedAt.Equal(app.now) || revoked.RevokeReason != store.ReasonRevoked {
		t.Errorf("stored revoked at %v, reason %q", revoked.RevokedAt, revoked.RevokeReason)
	}
	if got := c.get("/tokens").text(`[data-testid=flash]`); got != "" {
		t.Errorf("the message is shown again: %q", got)
	}

	// The confirmation of a token already revoked offers nothing to confirm.
	again := c.get(revokeURL)
	if again.has(`[data-testid=confirm-revoke]`) || !strings.Contains(again.text(`[data-testid=revoke-confirm]`), "already revoked") {
		t.Errorf("confirmation of a revoked token: %q", again.text(`[data-testid=revoke-confirm]`))
	}

	// Posting again (a second tab, a double click) changes nothing.
	app.setNow(app.now.Add(time.Hour))
	r = c.postForm(revokeURL, url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
		t.Fatalf("second Yes, Revoke: %d to %q", r.StatusCode, r.location())
	}
	if got := c.get("/tokens").text(`[data-testid=flash]`); !strings.Contains(got, "already revoked") || !strings.Contains(got, "Old laptop") {
		t.Errorf("second flash %q", got)
	}
	if got := app.token(tok.ID, app.owner).RevokedAt; !got.Equal(revoked.RevokedAt) {
		t.Errorf("revoking again moved RevokedAt from %v to %v", revoked.RevokedAt, got)
	}
}

func TestRevokeWithHTMX(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, _ := app.createToken(app.member, store.KindPersonal, "Old laptop")
	app.createToken(app.member, store.KindPersonal, "New laptop")
	c := app.signIn(app.member)

	link := c.get("/tokens").row(t, "my-tokens", "Old laptop").Find(`[data-testid=revoke]`)
	revokeURL := link.AttrOr("hx-get", "")
	if revokeURL != fmt.Sprintf("/tokens/%d/revoke", tok.ID) || link.AttrOr("hx-target", "") != "#dialog-slot" {
		t.Fatalf("Revoke hx-get %q hx-target %q", revokeURL, link.AttrOr("hx-target", ""))
	}
	d := c.get(revokeURL, "HX-Request", "true")
	if d.StatusCode != http.StatusOK {
		t.Fatalf("dialog: status %d", d.StatusCode)
	}
	if !strings.HasPrefix(strings.TrimSpace(d.body), "<dialog") || strings.Contains(d.body, "<html") || d.has(`[data-testid=profile-menu]`) {
		t.Errorf("not a dialog fragment:\n%s", d.body)
	}
	if got := d.text(`dialog #revoke-title`); got != "Revoke Token" {
		t.Errorf("dialog title %q", got)
	}
	if got := d.text(`dialog [data-testid=revoke-token-name]`); got != "Old laptop" {
		t.Errorf("dialog names %q", got)
	}
	form := d.doc.Find(`dialog form`)
	if form.AttrOr("hx-post", "") != revokeURL || form.AttrOr("hx-target", "") != "#token-lists" || cellText(form.Find(`[data-testid=confirm-revoke]`)) != "Yes, Revoke" {
		t.Errorf("dialog form hx-post %q hx-target %q", form.AttrOr("hx-post", ""), form.AttrOr("hx-target", ""))
	}
	if cellText(form.Find(`[data-testid=cancel-revoke]`)) != "Cancel" {
		t.Error("the dialog has no Cancel")
	}

	r := c.postForm(revokeURL, url.Values{}, "HX-Request", "true")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("Yes, Revoke: status %d\n%s", r.StatusCode, r.body)
	}
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="token-lists"`) || strings.Contains(r.body, "<html") {
		t.Errorf("not the #token-lists fragment:\n%s", r.body)
	}
	if got := r.rowNames("my-tokens"); !slices.Equal(got, []string{"New laptop"}) {
		t.Errorf("fragment lists %q", got)
	}
	if got := r.text(`[data-testid=flash]`); !strings.Contains(got, "Old laptop") || !strings.Contains(got, "revoked") {
		t.Errorf("fragment message %q", got)
	}
	if got := app.token(tok.ID, app.owner); got.Active() || got.RevokeReason != store.ReasonRevoked {
		t.Errorf("stored %+v", got)
	}
	// The message was said in the fragment; the next page does not repeat it.
	if got := c.get("/tokens").text(`[data-testid=flash]`); got != "" {
		t.Errorf("message repeated on the next page: %q", got)
	}

	again := c.postForm(revokeURL, url.Values{}, "HX-Request", "true")
	if again.StatusCode != http.StatusOK || !strings.Contains(again.text(`[data-testid=flash]`), "already revoked") {
		t.Errorf("second revoke: %d %q", again.StatusCode, again.text(`[data-testid=flash]`))
	}
}

func TestRevokeErrorsAnswerHTMXWithADialog(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	globex, _ := app.createToken(app.otherOwner, store.KindPersonal, "Globex laptop")
	system, _ := app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleAdmin)
	mias, _ := app.createToken(app.member2, store.KindPersonal, "Mia script")
	tests := []struct {
		name, method, path string
	}{
		{"unknown id", http.MethodGet, "/tokens/999999/revoke"},
		{"unknown id, Yes", http.MethodPost, "/tokens/999999/revoke"},
		{"not a number", http.MethodGet, "/tokens/abc/revoke"},
		{"another org's token", http.MethodGet, fmt.Sprintf("/tokens/%d/revoke", globex.ID)},
		{"another org's token, Yes", http.MethodPost, fmt.Sprintf("/tokens/%d/revoke", globex.ID)},
		{"the org's system token", http.MethodPost, fmt.Sprintf("/tokens/%d/revoke", system.ID)},
		{"another member's token", http.MethodPost, fmt.Sprintf("/tokens/%d/revoke", mias.ID)},
	}
	c := app.signIn(app.member)
	for _, tt := range tests {
		for _, htmx := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s htmx=%v", tt.name, htmx), func(t *testing.T) {
				c := c.in(t)
				var header []string
				if htmx {
					header = []string{"HX-Request", "true"}
				}
				c.get("/tokens")
				var r *response
				if tt.method == http.MethodPost {
					r = c.postForm(tt.path, url.Values{}, header...)
				} else {
					r = c.get(tt.path, header...)
				}
				if r.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d, want 404", r.StatusCode)
				}
				if !htmx {
					if !r.has(`[data-testid=error-page]`) || !r.has(`[data-testid=profile-menu]`) {
						t.Errorf("not a full error page:\n%s", r.body)
					}
					return
				}
				if got := r.Header.Get("HX-Retarget"); got != "#dialog-slot" {
					t.Errorf("HX-Retarget %q, want #dialog-slot", got)
				}
				if !strings.HasPrefix(strings.TrimSpace(r.body), "<dialog") || strings.Contains(r.body, "<html") {
					t.Errorf("not a dialog fragment:\n%s", r.body)
				}
				if got := r.text(`dialog[data-testid=error-dialog] p`); got == "" {
					t.Error("the error dialog says nothing")
				}
				for _, s := range []string{"Globex laptop", "Encoder", "Mia script"} {
					if strings.Contains(r.body, s) {
						t.Errorf("the error names %q", s)
					}
				}
			})
		}
	}
	for _, id := range []int64{globex.ID, system.ID, mias.ID} {
		owner := app.owner
		if id == globex.ID {
			owner = app.otherOwner
		}
		if !app.token(id, owner).Active() {
			t.Errorf("token %d was revoked by a member who may not", id)
		}
	}
}

func TestOwnerRevokesFromOrganizationLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, list, kind string
		htmx             bool
	}{
		{"member's token, page", "user-tokens", "personal", false},
		{"member's token, dialog", "user-tokens", "personal", true},
		{"system token, page", "system-tokens", "system", false},
		{"system token, dialog", "system-tokens", "system", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			maxs, _ := app.createToken(app.member, store.KindPersonal, "Max CI")
			app.createToken(app.member, store.KindPersonal, "Max laptop")
			sys, _ := app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleVideo)
			app.createToken(app.owner, store.KindSystem, "Billing export", store.RoleBilling)
			target, keep := maxs, "Max laptop"
			if tt.list == "system-tokens" {
				target, keep = sys, "Billing export"
			}

			c := app.signIn(app.owner)
			link := c.get("/tokens").row(t, tt.list, target.Name).Find(`[data-testid=revoke]`)
			var header []string
			path := link.AttrOr("href", "")
			if tt.htmx {
				header, path = []string{"HX-Request", "true"}, link.AttrOr("hx-get", "")
			}
			confirm := c.get(path, header...)
			if got := confirm.text(`[data-testid=revoke-token-name]`); got != target.Name {
				t.Errorf("confirmation names %q, want %q", got, target.Name)
			}
			if got := confirm.text(`[data-testid=revoke-confirm]`); !strings.Contains(got, "Revoke the "+tt.kind+" token") {
				t.Errorf("confirmation says %q", got)
			}
			r := c.postForm(path, url.Values{}, header...)
			if !tt.htmx {
				if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
					t.Fatalf("Yes, Revoke: %d to %q", r.StatusCode, r.location())
				}
				r = c.get("/tokens")
			}
			if got := r.rowNames(tt.list); !slices.Equal(got, []string{keep}) {
				t.Errorf("%s after revoke = %q, want %q", tt.list, got, keep)
			}
			if got := r.text(`[data-testid=flash]`); !strings.Contains(got, target.Name) {
				t.Errorf("flash %q", got)
			}
			stored := app.token(target.ID, app.owner)
			if stored.Active() || stored.RevokeReason != store.ReasonRevoked {
				t.Errorf("stored %+v", stored)
			}
			if tt.list == "user-tokens" {
				if got := app.signIn(app.member).get("/tokens").rowNames("my-tokens"); !slices.Equal(got, []string{"Max laptop"}) {
					t.Errorf("the member's My Tokens = %q", got)
				}
			}
		})
	}
}

// allTokens is every token of owner's organization, revoked ones too, as
// the store holds them.
func (a *testApp) allTokens(owner store.Member) []store.Token {
	a.t.Helper()
	ts, err := a.db.ListTokens(context.Background(), owner, store.TokenFilter{IncludeRevoked: true})
	if err != nil {
		a.t.Fatal(err)
	}
	return ts
}

// cookieText is what the response's Set-Cookie headers carry, with the
// session cookie decoded by the server's own keys, so a test can look for a
// secret in what the browser keeps.
func (a *testApp) cookieText(r *response) string {
	a.t.Helper()
	var b strings.Builder
	for _, h := range r.Header.Values("Set-Cookie") {
		b.WriteString(h + "\n")
	}
	s := a.server.Config.Handler.(*Server)
	for _, ck := range r.Cookies() {
		if ck.Name != sessionCookie || ck.Value == "" {
			continue
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(ck)
		sess, err := s.sessions.Get(req, sessionCookie)
		if err != nil {
			a.t.Fatalf("the session cookie does not decode: %v", err)
		}
		fmt.Fprintf(&b, "%v\n", sess.Values)
	}
	return b.String()
}

// rowNames are the names of the tokens listed in the section with this
// data-testid, in order.
func (r *response) rowNames(list string) []string {
	var names []string
	r.doc.Find(`[data-testid=` + list + `] [data-testid=token-row]`).Each(func(_ int, row *goquery.Selection) {
		names = append(names, cellText(row.Find(`[data-testid=token-name]`)))
	})
	return names
}

// row is the one row of the token named name in the section list.
func (r *response) row(t *testing.T, list, name string) *goquery.Selection {
	t.Helper()
	rows := r.doc.Find(`[data-testid=` + list + `] [data-testid=token-row]`).FilterFunction(func(_ int, row *goquery.Selection) bool {
		return cellText(row.Find(`[data-testid=token-name]`)) == name
	})
	if rows.Length() != 1 {
		t.Fatalf("%d rows named %q in %s; %s lists %q", rows.Length(), name, list, list, r.rowNames(list))
	}
	return rows
}

func cellText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func sameSet(got, want []string) bool {
	return len(got) == len(want) && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
}

// in is the same browser, failing the subtest t rather than its parent.
func (c *client) in(t *testing.T) *client {
	cc := *c
	cc.t = t
	return &cc
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
