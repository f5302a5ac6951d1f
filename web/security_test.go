package web

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"tokend/static"
	"tokend/store"
)

// serverOn starts another server on db with its own session key and
// logger, so a test can take a cookie from one server to another.
func serverOn(t *testing.T, db *store.DB, sessionKey string, logger *slog.Logger) *testApp {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(db, Config{SessionKey: []byte(sessionKey), Logger: logger, AccessLog: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{t: t, db: db, server: httptest.NewServer(srv)}
	t.Cleanup(a.server.Close)
	return a
}

// cookieValue is the value of the cookie named name that c holds, or "".
func (c *client) cookieValue(name string) string {
	u, _ := url.Parse(c.app.server.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// browserWithCookie is a new browser holding only this cookie.
func (a *testApp) browserWithCookie(name, value string) *client {
	c := a.client()
	u, _ := url.Parse(a.server.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	return c
}

// bindTo makes c fail t, the subtest using it, rather than the test that
// made it.
func (c *client) bindTo(t *testing.T) *client {
	c.t = t
	return c
}

// setCookieNamed is the cookie named name that r sets, or nil.
func setCookieNamed(r *response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// assertSignedOut fails t unless c is treated as not signed in.
func assertSignedOut(t *testing.T, c *client) {
	t.Helper()
	r := c.get("/tokens")
	if r.StatusCode != http.StatusSeeOther || r.location() != "/login?next=%2Ftokens" {
		t.Errorf("/tokens: status %d to %q, want 303 to /login?next=%%2Ftokens", r.StatusCode, r.location())
	}
}

// assertSignedIn fails t unless c is signed in as m.
func assertSignedIn(t *testing.T, c *client, m store.Member) {
	t.Helper()
	r := c.get("/tokens")
	if got := r.text(`[data-testid=profile-name]`); r.StatusCode != http.StatusOK || got != m.Name {
		t.Errorf("/tokens: status %d as %q, want 200 as %q", r.StatusCode, got, m.Name)
	}
}

func refused(status int) bool {
	return status == http.StatusForbidden || status == http.StatusBadRequest
}

// csrfTarget is a state-changing form, and how to tell it went through.
type csrfTarget struct {
	name string
	as   actor // who posts it; anonymous for sign-in
	path string
	form func(f *permFixture) url.Values
	// done reports whether the post had its effect.
	done func(f *permFixture, c *client, r *response, before, after map[int64]store.Token) bool
}

var csrfTargets = []csrfTarget{
	{"create personal token", maxMember, "/tokens/personal",
		func(*permFixture) url.Values { return url.Values{"name": {"csrf-probe"}} },
		func(_ *permFixture, _ *client, r *response, before, after map[int64]store.Token) bool {
			_, cre, _ := tokenChanges(before, after)
			return r.StatusCode == http.StatusCreated && len(cre) == 1
		}},
	{"create system token", anaOwner, "/tokens/system",
		func(*permFixture) url.Values { return url.Values{"name": {"csrf-probe"}, "roles": {"video"}} },
		func(_ *permFixture, _ *client, r *response, before, after map[int64]store.Token) bool {
			_, cre, _ := tokenChanges(before, after)
			return r.StatusCode == http.StatusCreated && len(cre) == 1
		}},
	{"member revokes own token", maxMember, "/tokens/{maxPersonal}/revoke", nil,
		func(f *permFixture, _ *client, r *response, _, after map[int64]store.Token) bool {
			return r.StatusCode == http.StatusSeeOther && !after[f.ids[maxPersonal]].Active()
		}},
	{"owner revokes system token", anaOwner, "/tokens/{acmeSystem}/revoke", nil,
		func(f *permFixture, _ *client, r *response, _, after map[int64]store.Token) bool {
			return r.StatusCode == http.StatusSeeOther && !after[f.ids[acmeSystem]].Active()
		}},
	{"sign out", miaMember, "/logout", nil,
		func(_ *permFixture, c *client, r *response, _, _ map[int64]store.Token) bool {
			return r.StatusCode == http.StatusSeeOther && c.get("/tokens").StatusCode == http.StatusSeeOther
		}},
	{"sign in", anonymous, "/login",
		func(f *permFixture) url.Values {
			return url.Values{"email": {f.member.Email}, "password": {testPassword}}
		},
		func(_ *permFixture, c *client, r *response, _, _ map[int64]store.Token) bool {
			return r.StatusCode == http.StatusSeeOther && c.get("/tokens").StatusCode == http.StatusOK
		}},
}

// TestCSRF posts every kind of state-changing form with a spoiled CSRF
// proof: each is refused and changes nothing. The browser's own token,
// posted the same way, goes through, so the refusals are the token's doing.
func TestCSRF(t *testing.T) {
	tests := []struct {
		name string
		// csrf is the _csrf field to send, given the browser's own token
		// and another browser's; none sends no field.
		csrf   func(own, other string) (value string, none bool)
		header func(own, other string) []string
		pass   bool
	}{
		{name: "own token", csrf: func(own, _ string) (string, bool) { return own, false }, pass: true},
		{name: "own token in X-CSRF-Token", csrf: noCSRF,
			header: func(own, _ string) []string { return []string{"X-CSRF-Token", own} }, pass: true},
		{name: "no _csrf", csrf: noCSRF},
		{name: "empty _csrf", csrf: func(string, string) (string, bool) { return "", false }},
		{name: "wrong _csrf", csrf: func(string, string) (string, bool) { return "bm90LXRoZS10b2tlbg", false }},
		{name: "another browser's token", csrf: func(_, other string) (string, bool) { return other, false }},
		{name: "another browser's token in X-CSRF-Token", csrf: noCSRF,
			header: func(_, other string) []string { return []string{"X-CSRF-Token", other} }},
		{name: "Echo's Sec-Fetch-Site placeholder as token",
			csrf: func(string, string) (string, bool) { return "_echo_csrf_using_sec_fetch_site_", false }},
		{name: "own token, Sec-Fetch-Site cross-site", csrf: func(own, _ string) (string, bool) { return own, false },
			header: func(string, string) []string {
				return []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
			}},
		{name: "no token, Sec-Fetch-Site same-site", csrf: noCSRF,
			header: func(string, string) []string { return []string{"Sec-Fetch-Site", "same-site"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newPermFixture(t)
			attacker := f.signIn(f.member2)
			for _, target := range csrfTargets {
				c := f.browser(target.as)
				form := url.Values{}
				if target.form != nil {
					form = target.form(f)
				}
				if v, none := tt.csrf(c.csrf, attacker.csrf); !none {
					form.Set("_csrf", v)
				}
				var header []string
				if tt.header != nil {
					header = tt.header(c.csrf, attacker.csrf)
				}
				path := strings.NewReplacer(
					"{maxPersonal}", strconv.FormatInt(f.ids[maxPersonal], 10),
					"{acmeSystem}", strconv.FormatInt(f.ids[acmeSystem], 10)).Replace(target.path)

				before := f.tokens()
				r := c.postRaw(path, form, header...)
				after := f.tokens()
				if tt.pass {
					if !target.done(f, c, r, before, after) {
						t.Errorf("%s with a good token: status %d, did not go through", target.name, r.StatusCode)
					}
					continue
				}
				if !refused(r.StatusCode) {
					t.Errorf("%s: status %d, want 403 or 400", target.name, r.StatusCode)
				}
				assertUnchanged(t, before, after)
				if setCookieNamed(r, sessionCookie) != nil {
					t.Errorf("%s: a refused post set the session cookie", target.name)
				}
				if target.as == anonymous {
					assertSignedOut(t, c)
				} else {
					assertSignedIn(t, c, f.memberFor(target.as))
				}
			}
		})
	}
}

func noCSRF(string, string) (string, bool) { return "", true }

// TestCSRFTokenFromBeforeSignInIsWorthlessAfter: signing in draws a new
// CSRF token, so one read on the sign-in page, perhaps by someone else,
// cannot be used for the signed-in member.
func TestCSRFTokenFromBeforeSignInIsWorthlessAfter(t *testing.T) {
	app := newTestApp(t)
	c := app.client()
	c.get("/login")
	old := c.csrf
	if r := c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: status %d", r.StatusCode)
	}
	before := tokensByID(app)
	r := c.postRaw("/tokens/personal", url.Values{"name": {"csrf-probe"}, "_csrf": {old}})
	if !refused(r.StatusCode) {
		t.Errorf("post with the token from before sign-in: status %d, want 403 or 400", r.StatusCode)
	}
	assertUnchanged(t, before, tokensByID(app))
	if c.get("/tokens"); c.csrf == old {
		t.Errorf("the signed-in page still carries the CSRF token from before sign-in")
	}
}

func TestTamperedSessionCookieIsSignedOut(t *testing.T) {
	app := newTestApp(t)
	v := app.signIn(app.member).cookieValue(sessionCookie)
	if v == "" {
		t.Fatal("no session cookie after sign-in")
	}
	// The untouched copy works: the cookie alone is what signs a browser in.
	assertSignedIn(t, app.browserWithCookie(sessionCookie, v), app.member)

	flip := func(i int) string {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, tampered := range map[string]string{
		"last character changed":   flip(len(v) - 1),
		"first character changed":  flip(0),
		"middle character changed": flip(len(v) / 2),
		"truncated":                v[:len(v)-8],
		"doubled":                  v + v,
		"empty":                    "",
		"not base64":               "!!!" + v[3:],
	} {
		t.Run(name, func(t *testing.T) {
			assertSignedOut(t, app.browserWithCookie(sessionCookie, tampered).bindTo(t))
		})
	}
}

// TestSessionCookieFromAnotherKeyIsSignedOut takes a session cookie signed
// with another SessionKey to this server. Once from a server that shares
// nothing with this one, and once from a server on the same database, where
// the session id inside is real and only the key tells them apart.
func TestSessionCookieFromAnotherKeyIsSignedOut(t *testing.T) {
	app := newTestApp(t)
	const otherKey = "another key, at least 32 bytes long, shared with nobody"

	t.Run("server sharing nothing", func(t *testing.T) {
		db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "other.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.PasswordCost = bcrypt.MinCost
		if _, err := db.CreateMember(context.Background(), store.NewMember{OrgName: "Acme Streaming",
			Email: app.member.Email, Name: app.member.Name, Password: testPassword, Roles: []store.Role{store.RoleVideo}}); err != nil {
			t.Fatal(err)
		}
		other := serverOn(t, db, otherKey, nil)
		v := other.signIn(app.member).cookieValue(sessionCookie)
		assertSignedIn(t, other.browserWithCookie(sessionCookie, v), app.member)
		assertSignedOut(t, app.browserWithCookie(sessionCookie, v).bindTo(t))
	})
	t.Run("server on the same database", func(t *testing.T) {
		other := serverOn(t, app.db, otherKey, nil)
		v := other.signIn(app.member).cookieValue(sessionCookie)
		assertSignedIn(t, other.browserWithCookie(sessionCookie, v), app.member)
		assertSignedOut(t, app.browserWithCookie(sessionCookie, v).bindTo(t))
	})
}

func TestCopiedSessionCookieIsSignedOutAfterSignOut(t *testing.T) {
	app := newTestApp(t)
	c := app.signIn(app.member)
	v := c.cookieValue(sessionCookie)
	copied := app.browserWithCookie(sessionCookie, v)
	assertSignedIn(t, copied, app.member)

	if r := c.postForm("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: status %d", r.StatusCode)
	}
	assertSignedOut(t, c)
	assertSignedOut(t, copied)
	// Nor can the copy change anything.
	copied.get("/login")
	before := tokensByID(app)
	if r := copied.postForm("/tokens/personal", url.Values{"name": {"after-sign-out"}}); r.StatusCode != http.StatusSeeOther || r.location() != "/login" {
		t.Errorf("post with the copied cookie: status %d to %q, want 303 to /login", r.StatusCode, r.location())
	}
	assertUnchanged(t, before, tokensByID(app))
}

func TestSessionFixation(t *testing.T) {
	t.Run("new session on sign-in", func(t *testing.T) {
		app := newTestApp(t)
		c := app.client().bindTo(t)
		c.get("/login")
		before := c.cookieValue(sessionCookie)
		c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}})
		after := c.cookieValue(sessionCookie)
		if after == "" || after == before {
			t.Errorf("session cookie before sign-in %q, after %q: want a new one", before, after)
		}
	})
	t.Run("a session planted before sign-in ends with it", func(t *testing.T) {
		app := newTestApp(t)
		// Mia signs in and plants her session cookie in Max's browser.
		attacker := app.signIn(app.member2)
		planted := attacker.cookieValue(sessionCookie)
		victim := app.browserWithCookie(sessionCookie, planted).bindTo(t)
		victim.get("/tokens")
		if r := victim.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: status %d", r.StatusCode)
		}
		if got := victim.cookieValue(sessionCookie); got == "" || got == planted {
			t.Errorf("the session cookie did not change on sign-in")
		}
		assertSignedIn(t, victim, app.member)
		// The planted id is worth nothing now, to the attacker or anyone.
		assertSignedOut(t, app.browserWithCookie(sessionCookie, planted).bindTo(t))
		assertSignedOut(t, attacker.bindTo(t))
	})
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		name       string
		header     []string
		wantSecure bool
	}{
		{"plain HTTP", nil, false},
		{"behind an HTTPS proxy", []string{"X-Forwarded-Proto", "https"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(t)
			c := app.client().bindTo(t)
			c.get("/login", tt.header...)
			r := c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}}, tt.header...)
			ck := setCookieNamed(r, sessionCookie)
			if ck == nil {
				t.Fatalf("sign-in set no %s cookie; Set-Cookie: %q", sessionCookie, r.Header.Values("Set-Cookie"))
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tt.wantSecure || ck.Path != "/" {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q; want HttpOnly, Lax, Secure=%v, /",
					ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path, tt.wantSecure)
			}
			if got := r.Header.Get("Strict-Transport-Security") != ""; got != tt.wantSecure {
				t.Errorf("Strict-Transport-Security sent: %v, want %v", got, tt.wantSecure)
			}

			c.get("/tokens", tt.header...)
			r = c.postForm("/logout", nil, tt.header...)
			ck = setCookieNamed(r, sessionCookie)
			if ck == nil || ck.MaxAge >= 0 || !ck.HttpOnly || ck.Secure != tt.wantSecure {
				t.Errorf("sign-out cookie %+v: want it expired, HttpOnly, Secure=%v", ck, tt.wantSecure)
			}
		})
	}
	t.Run("CSRF cookie", func(t *testing.T) {
		app := newTestApp(t)
		r := app.client().bindTo(t).get("/login")
		ck := setCookieNamed(r, "tokend_csrf")
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
			t.Errorf("CSRF cookie %+v: want HttpOnly and SameSite=Lax, not Secure over plain HTTP", ck)
		}
		r = app.client().bindTo(t).get("/login", "X-Forwarded-Proto", "https")
		if ck := setCookieNamed(r, "tokend_csrf"); ck == nil || !ck.Secure {
			t.Errorf("CSRF cookie behind an HTTPS proxy %+v: want Secure", ck)
		}
	})
}

// TestSignInRedirectsOnlyToThisSite: whatever next says, signing in lands
// on a path of this server.
func TestSignInRedirectsOnlyToThisSite(t *testing.T) {
	app := newTestApp(t)
	tests := []struct{ next, want string }{
		{"/tokens/system/new", "/tokens/system/new"},
		{"/tokens/personal/new?from=menu", "/tokens/personal/new?from=menu"},
		{"https://evil.example", "/tokens"},
		{"https://evil.example/tokens", "/tokens"},
		{"//evil.example", "/tokens"},
		{"//evil.example/tokens", "/tokens"},
		{`/\evil.example`, "/tokens"},
		{`\\evil.example`, "/tokens"},
		{"/\t/evil.example", "/tokens"},
		{"javascript:alert(document.cookie)", "/tokens"},
		{"JaVaScRiPt:alert(1)", "/tokens"},
		{"data:text/html,<script>alert(1)</script>", "/tokens"},
		{"https:evil.example", "/tokens"},
		{"evil.example", "/tokens"},
		{" //evil.example", "/tokens"},
		{"/login?next=//evil.example", "/tokens"},
		{"", "/tokens"},
	}
	signedIn := app.signIn(app.member)
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.next), func(t *testing.T) {
			q := "/login?next=" + url.QueryEscape(tt.next)

			// Signing in through the form, which carries next along.
			c := app.client().bindTo(t)
			page := c.get(q)
			if got, _ := page.doc.Find(`input[name=next]`).Attr("value"); got != tt.next {
				t.Errorf("the sign-in form carries next %q, want %q", got, tt.next)
			}
			r := c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}, "next": {tt.next}})
			if got := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || got != tt.want {
				t.Errorf("sign in: status %d to %q, want 303 to %q", r.StatusCode, got, tt.want)
			}

			// Opening the sign-in page when already signed in.
			r = signedIn.bindTo(t).get(q)
			if got := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || got != tt.want {
				t.Errorf("signed in, GET %s: status %d to %q, want 303 to %q", q, r.StatusCode, got, tt.want)
			}
		})
	}
	t.Run("round trip from a page that needs sign-in", func(t *testing.T) {
		c := app.client().bindTo(t)
		r := c.get("/tokens/personal/new")
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.StatusCode)
		}
		page := c.get(r.location())
		next, _ := page.doc.Find(`input[name=next]`).Attr("value")
		r = c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}, "next": {next}})
		if got := r.Header.Get("Location"); got != "/tokens/personal/new" {
			t.Errorf("signed in to %q, want back at /tokens/personal/new", got)
		}
	})
}

// checkSecurityHeaders fails t unless r carries the headers every response
// must: a strict Content-Security-Policy, nosniff, a Referrer-Policy.
func checkSecurityHeaders(t *testing.T, r *response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	directives := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		if fields := strings.Fields(d); len(fields) > 0 {
			directives[strings.ToLower(fields[0])] = fields[1:]
		}
	}
	script, ok := directives["script-src"]
	switch {
	case !ok:
		t.Errorf("Content-Security-Policy %q has no script-src", csp)
	case !slices.Contains(script, "'self'"):
		t.Errorf("script-src %q lacks 'self'", script)
	}
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} {
		if slices.Contains(script, bad) {
			t.Errorf("script-src allows %s", bad)
		}
	}
	if strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("Content-Security-Policy allows 'unsafe-inline': %q", csp)
	}
	if got := directives["frame-ancestors"]; len(got) != 1 || got[0] != "'none'" {
		t.Errorf("frame-ancestors %q, want 'none'", got)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	switch got := r.Header.Get("Referrer-Policy"); got {
	case "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin":
	default:
		t.Errorf("Referrer-Policy = %q, want one that keeps paths on this site", got)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := newPermFixture(t)
	anon, asMax, asAna := f.browser(anonymous), f.browser(maxMember), f.browser(anaOwner)
	revoke := "/tokens/" + strconv.FormatInt(f.ids[acmeSystem], 10) + "/revoke"
	big := url.Values{"name": {strings.Repeat("a", 1<<20)}}
	tests := []struct {
		name   string
		status int
		do     func() *response
	}{
		{"sign-in page", 200, func() *response { return anon.get("/login") }},
		{"failed sign-in", 401, func() *response {
			return anon.postForm("/login", url.Values{"email": {f.member.Email}, "password": {"wrong password here"}})
		}},
		{"Token Management", 200, func() *response { return asAna.get("/tokens") }},
		{"new personal token form", 200, func() *response { return asAna.get("/tokens/personal/new") }},
		{"new system token form", 200, func() *response { return asAna.get("/tokens/system/new") }},
		{"revoke confirmation", 200, func() *response { return asAna.get(revoke) }},
		{"revoke dialog", 200, func() *response { return asAna.get(revoke, "HX-Request", "true") }},
		{"new key", 201, func() *response { return asAna.postForm("/tokens/personal", url.Values{"name": {"headers"}}) }},
		{"form with errors", 422, func() *response { return asAna.postForm("/tokens/personal", url.Values{"name": {""}}) }},
		{"redirect to sign in", 303, func() *response { return anon.get("/tokens") }},
		{"health check", 200, func() *response { return anon.get("/healthz") }},
		{"health check, wrong method", 405, func() *response {
			return anon.do(anon.request(http.MethodPost, "/healthz", nil, "X-CSRF-Token", "x"))
		}},
		{"static CSS", 200, func() *response { return anon.get("/static/app.css") }},
		{"static htmx", 200, func() *response { return anon.get("/static/htmx.min.js") }},
		{"static file missing", 404, func() *response { return anon.get("/static/missing.css") }},
		{"static listing", 404, func() *response { return anon.get("/static/") }},
		{"no such page", 404, func() *response { return anon.get("/no-such-page") }},
		{"no such page, signed in", 404, func() *response { return asMax.get("/no-such-page") }},
		{"no such token", 404, func() *response { return asMax.get("/tokens/999999/revoke") }},
		{"no such token, htmx", 404, func() *response { return asMax.get("/tokens/999999/revoke", "HX-Request", "true") }},
		{"owner only", 403, func() *response { return asMax.get("/tokens/system/new") }},
		{"no CSRF token", 403, func() *response { return asMax.postRaw("/tokens/personal", url.Values{"name": {"x"}}) }},
		{"wrong method", 405, func() *response {
			return asMax.do(asMax.request(http.MethodDelete, revoke, nil, "X-CSRF-Token", asMax.csrf))
		}},
		{"too large", 413, func() *response { return asMax.postForm("/tokens/personal", big) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t, anon.t, asMax.t, asAna.t = t, t, t, t
			r := tt.do()
			if r.StatusCode != tt.status {
				t.Errorf("status %d, want %d", r.StatusCode, tt.status)
			}
			checkSecurityHeaders(t, r)
		})
	}
	// Last, as it breaks the fixture: an internal error, with a closed
	// database under a signed-in member.
	t.Run("internal error", func(t *testing.T) {
		f.t, asMax.t = t, t
		f.db.Close()
		r := asMax.get("/tokens")
		if r.StatusCode != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", r.StatusCode)
		}
		checkSecurityHeaders(t, r)
		if strings.Contains(r.body, "closed") || strings.Contains(r.body, "sql") {
			t.Errorf("the error page shows internal details:\n%s", r.body)
		}
	})
}

// checkNoInlineScript fails t if the page runs anything the CSP would have
// to allow inline: script bodies, event-handler attributes, javascript:
// URLs, style attributes or elements.
func checkNoInlineScript(t *testing.T, r *response, wantScripts bool) {
	t.Helper()
	scripts := r.doc.Find("script")
	if wantScripts && scripts.Length() == 0 {
		t.Errorf("the page loads no script at all")
	}
	scripts.Each(func(_ int, s *goquery.Selection) {
		src, ok := s.Attr("src")
		if !ok || !strings.HasPrefix(src, "/static/") {
			t.Errorf("<script> with src %q, want a file under /static/", src)
		}
		if strings.TrimSpace(s.Text()) != "" {
			t.Errorf("<script src=%q> has an inline body %q", src, s.Text())
		}
	})
	if r.doc.Find("style").Length() > 0 {
		t.Errorf("the page has a <style> element")
	}
	r.doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name, value := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
			switch {
			case strings.HasPrefix(name, "on"):
				t.Errorf("<%s %s=%q>: inline event handler", s.Nodes[0].Data, a.Key, a.Val)
			case name == "style":
				t.Errorf("<%s style=%q>: inline style", s.Nodes[0].Data, a.Val)
			case strings.HasPrefix(value, "javascript:"):
				t.Errorf("<%s %s=%q>: javascript: URL", s.Nodes[0].Data, a.Key, a.Val)
			}
		}
	})
}

func TestNoInlineScriptInPages(t *testing.T) {
	f := newPermFixture(t)
	anon, asMax, asAna := f.browser(anonymous), f.browser(maxMember), f.browser(anaOwner)
	revoke := "/tokens/" + strconv.FormatInt(f.ids[acmeSystem], 10) + "/revoke"
	tests := []struct {
		name      string
		fragment  bool
		do        func() *response
		wantTitle string
	}{
		{"sign-in page", false, func() *response { return anon.get("/login") }, "Sign in"},
		{"failed sign-in", false, func() *response {
			return anon.postForm("/login", url.Values{"email": {f.member.Email}, "password": {"wrong password here"}})
		}, "Sign in"},
		{"Token Management, member", false, func() *response { return asMax.get("/tokens") }, "Token Management"},
		{"Token Management, owner", false, func() *response { return asAna.get("/tokens") }, "Token Management"},
		{"new personal token form", false, func() *response { return asAna.get("/tokens/personal/new") }, ""},
		{"new system token form", false, func() *response { return asAna.get("/tokens/system/new") }, ""},
		{"form with errors", false, func() *response {
			return asAna.postForm("/tokens/system", url.Values{"name": {""}})
		}, ""},
		{"new key", false, func() *response {
			return asAna.postForm("/tokens/system", url.Values{"name": {"inline"}, "roles": {"video"}})
		}, "Token Management"},
		{"revoke confirmation page", false, func() *response { return asAna.get(revoke) }, "Revoke Token"},
		{"revoke dialog", true, func() *response { return asAna.get(revoke, "HX-Request", "true") }, ""},
		{"error page", false, func() *response { return asMax.get("/tokens/system/new") }, ""},
		{"error dialog", true, func() *response { return asMax.get(revoke, "HX-Request", "true") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t, anon.t, asMax.t, asAna.t = t, t, t, t
			r := tt.do()
			if tt.wantTitle != "" && r.text("h1") != tt.wantTitle {
				t.Errorf("h1 %q, want %q: not the page meant", r.text("h1"), tt.wantTitle)
			}
			checkNoInlineScript(t, r, !tt.fragment)
		})
	}
}

func TestStaticFiles(t *testing.T) {
	app := newTestApp(t)
	c := app.client()
	for _, tt := range []struct{ path, file, contentType string }{
		{"/static/htmx.min.js", "htmx.min.js", "javascript"},
		{"/static/app.js", "app.js", "javascript"},
		{"/static/app.css", "app.css", "text/css"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			want, err := fs.ReadFile(static.FS, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			r := c.bindTo(t).get(tt.path)
			if r.StatusCode != http.StatusOK || r.body != string(want) {
				t.Errorf("status %d, %d bytes; want 200 and the %d bytes of %s", r.StatusCode, len(r.body), len(want), tt.file)
			}
			if got := r.Header.Get("Content-Type"); !strings.Contains(got, tt.contentType) {
				t.Errorf("Content-Type %q, want %s", got, tt.contentType)
			}
		})
	}

	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/static/../go.mod",
		"/static/%2e%2e/go.mod",
		"/static/..%2fgo.mod",
		"/static/%2e%2e%2fgo.mod",
		"/static/..%5cgo.mod",
		"/static/../../go.mod",
		"/static/%2e%2e/%2e%2e/go.mod",
		"/static//go.mod",
		"/static/../web/server.go",
		"/static/embed.go",
	} {
		t.Run(path, func(t *testing.T) {
			r := c.bindTo(t).get(path)
			if r.StatusCode == http.StatusOK || strings.Contains(r.body, "module tokend") || r.body == string(goMod) || strings.Contains(r.body, "package ") {
				t.Errorf("status %d, served a file outside the static files:\n%.200s", r.StatusCode, r.body)
			}
		})
	}
	for _, path := range []string{"/static/", "/static", "/static/.", "/static/%2e", "/static/./", "//static/"} {
		t.Run("listing "+path, func(t *testing.T) {
			r := c.bindTo(t).get(path)
			if r.StatusCode == http.StatusOK || strings.Contains(r.body, `href="app.css"`) || strings.Contains(r.body, `href="htmx.min.js"`) {
				t.Errorf("status %d, looks like a directory listing:\n%.300s", r.StatusCode, r.body)
			}
		})
	}
}

// TestBodyLimit: a form far larger than any real one is refused before it
// is read, and changes nothing.
func TestBodyLimit(t *testing.T) {
	f := newPermFixture(t)
	huge := strings.Repeat("a", 1<<20)
	revoke := "/tokens/" + strconv.FormatInt(f.ids[maxPersonal], 10) + "/revoke"
	for _, tt := range []struct {
		name string
		as   actor
		path string
		form url.Values
	}{
		{"create personal token", maxMember, "/tokens/personal", url.Values{"name": {huge}}},
		{"create system token", anaOwner, "/tokens/system", url.Values{"name": {"big"}, "roles": {"video"}, "padding": {huge}}},
		{"revoke", maxMember, revoke, url.Values{"padding": {huge}}},
		{"sign in", anonymous, "/login", url.Values{"email": {f.member.Email}, "password": {testPassword}, "padding": {huge}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			c := f.browser(tt.as)
			before := f.tokens()
			r := c.postForm(tt.path, tt.form)
			if r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", r.StatusCode)
			}
			assertUnchanged(t, before, f.tokens())
			if tt.as == anonymous {
				assertSignedOut(t, c)
			}
		})
	}
}

// lockedBuffer is a log destination the server's goroutines write while
// the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPlaintextKeyNeverStored creates tokens through the pages and looks
// for each key in the database files byte by byte, in the log and in the
// cookies. Only the digest may be there, and it is.
func TestPlaintextKeyNeverStored(t *testing.T) {
	app := newTestApp(t)
	var logs lockedBuffer
	// A server of its own on the same database, with a log to read.
	srv := serverOn(t, app.db, "a key for the server whose log is read",
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	var keys []string
	var cookies strings.Builder
	for _, tt := range []struct {
		as   store.Member
		path string
		form url.Values
	}{
		{app.member, "/tokens/personal", url.Values{"name": {"key-probe-member"}}},
		{app.owner, "/tokens/personal", url.Values{"name": {"key-probe-owner"}}},
		{app.owner, "/tokens/system", url.Values{"name": {"key-probe-system"}, "roles": {"admin", "video"}}},
	} {
		c := srv.signIn(tt.as)
		r := c.postForm(tt.path, tt.form)
		key, _ := r.doc.Find(`[data-testid=new-key-value]`).Attr("value")
		if _, ok := store.ParseTokenText(key); r.StatusCode != http.StatusCreated || !ok {
			t.Fatalf("create %s: status %d, key %q", tt.form.Get("name"), r.StatusCode, key)
		}
		keys = append(keys, key)
		cookies.WriteString(strings.Join(r.Header.Values("Set-Cookie"), "\n"))
		// What the browser holds afterwards, and the next page.
		cookies.WriteString(c.cookieValue(sessionCookie) + "\n" + c.get("/tokens").body)
	}

	var data []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(app.db.Path() + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if !bytes.Contains(data, []byte("key-probe-system")) {
		t.Fatalf("the database files do not hold the new tokens: reading the wrong files?")
	}
	for _, key := range keys {
		secret := key[4 : len(key)-6] // the random part, without prefix or checksum
		digest := store.DigestOf(key)
		switch {
		case bytes.Contains(data, []byte(key)) || bytes.Contains(data, []byte(secret)):
			t.Errorf("the database files hold the key %s", key)
		case !bytes.Contains(data, digest[:]):
			t.Errorf("the database files do not hold the digest of %s", key)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds the key %s", key)
		}
		if strings.Contains(cookies.String(), secret) {
			t.Errorf("a cookie or a later page holds the key %s", key)
		}
	}
	if !strings.Contains(logs.String(), "/tokens/system") {
		t.Errorf("the log is empty: the check above proves nothing")
	}
}

// TestOnlyGETAndPOSTAndNoMethodOverride: other methods are not allowed and
// change nothing; neither the X-HTTP-Method-Override header nor a _method
// field turns one method into another.
func TestOnlyGETAndPOSTAndNoMethodOverride(t *testing.T) {
	f := newPermFixture(t)
	c := f.browser(anaOwner)
	id := f.ids[acmeSystem]
	revoke := "/tokens/" + strconv.FormatInt(id, 10) + "/revoke"
	overrides := func(method string) []string {
		return []string{"X-HTTP-Method-Override", method, "X-HTTP-Method", method, "X-Method-Override", method}
	}
	send := func(method, path string, form url.Values, header ...string) *response {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := c.request(method, path, body, header...)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		// The browser's own CSRF token, so only the method is wrong.
		req.Header.Set("X-CSRF-Token", c.csrf)
		return c.do(req)
	}
	withCSRF := url.Values{"_csrf": {c.csrf}}

	for _, tt := range []struct {
		name   string
		do     func() *response
		status int
	}{
		{"DELETE", func() *response { return send(http.MethodDelete, revoke, withCSRF) }, 405},
		{"PUT", func() *response { return send(http.MethodPut, revoke, withCSRF) }, 405},
		{"PATCH", func() *response { return send(http.MethodPatch, revoke, withCSRF) }, 405},
		{"DELETE with override to POST", func() *response {
			return send(http.MethodDelete, revoke, url.Values{"_csrf": {c.csrf}, "_method": {"POST"}}, overrides("POST")...)
		}, 405},
		{"PUT with override to POST", func() *response {
			return send(http.MethodPut, revoke, url.Values{"_csrf": {c.csrf}, "_method": {"POST"}}, overrides("POST")...)
		}, 405},
		{"GET with override to POST", func() *response {
			return c.get(revoke+"?_method=POST&_csrf="+url.QueryEscape(c.csrf), overrides("POST")...)
		}, 200},
		{"DELETE on the token list", func() *response { return send(http.MethodDelete, "/tokens", withCSRF) }, 405},
		{"PUT on personal tokens", func() *response {
			return send(http.MethodPut, "/tokens/personal", url.Values{"_csrf": {c.csrf}, "name": {"put-token"}})
		}, 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.t, c.t = t, t
			before := f.tokens()
			r := tt.do()
			if r.StatusCode != tt.status {
				t.Errorf("status %d, want %d", r.StatusCode, tt.status)
			}
			assertUnchanged(t, before, f.tokens())
			if !f.tokens()[id].Active() {
				t.Errorf("the token was revoked")
			}
		})
	}

	// A POST that asks to be taken for another method is still the POST it
	// is, and does what that POST does.
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		t.Run("create: POST with override to "+method, func(t *testing.T) {
			f.t, c.t = t, t
			c.get("/tokens/personal/new")
			before := f.tokens()
			r := c.postForm("/tokens/personal", url.Values{"name": {"override-" + method}, "_method": {method}}, overrides(method)...)
			_, cre, _ := tokenChanges(before, f.tokens())
			if r.StatusCode != http.StatusCreated || len(cre) != 1 {
				t.Errorf("status %d, %d created; want 201 and one token, as any POST", r.StatusCode, len(cre))
			}
		})
	}
	t.Run("revoke: POST with override to DELETE", func(t *testing.T) {
		f.t, c.t = t, t
		c.get(revoke)
		r := c.postForm(revoke, url.Values{"_method": {"DELETE"}}, overrides("DELETE")...)
		if r.StatusCode != http.StatusSeeOther || f.tokens()[id].Active() {
			t.Errorf("status %d, active %v; want 303 and the token revoked, as any POST", r.StatusCode, f.tokens()[id].Active())
		}
	})
}

// TestSecurityHeadersByKindOfAnswer: an API answer carries what a JSON
// answer needs (nosniff; nothing loaded or framed); a forward-auth 200,
// read by the proxy alone, carries none; a forward-auth refusal, which
// Traefik and Envoy relay to the client, carries the API's.
func TestSecurityHeadersByKindOfAnswer(t *testing.T) {
	app := newTestApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "headers")
	checkAPIHeaders := func(t *testing.T, r *apiResponse) {
		t.Helper()
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
		}
		if got := r.header.Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("Content-Security-Policy = %q, want default-src 'none'; frame-ancestors 'none'", got)
		}
		if got := r.header.Get("X-Request-Id"); got == "" {
			t.Errorf("no X-Request-Id")
		}
	}
	t.Run("API answer", func(t *testing.T) {
		r := app.apiGet(t, "/api/v1/token", string(key))
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		checkAPIHeaders(t, r)
	})
	t.Run("API refusal", func(t *testing.T) {
		r := app.apiGet(t, "/api/v1/token", "")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
		checkAPIHeaders(t, r)
	})
	t.Run("forward auth 200", func(t *testing.T) {
		r := app.apiGet(t, "/auth/verify", string(key))
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy"} {
			if got := r.header.Get(h); got != "" {
				t.Errorf("%s: %q on an answer only the proxy reads", h, got)
			}
		}
		if r.header.Get("X-Token-Id") == "" || r.header.Get("X-Request-Id") == "" {
			t.Errorf("X-Token-Id %q, X-Request-Id %q: want both", r.header.Get("X-Token-Id"), r.header.Get("X-Request-Id"))
		}
	})
	for _, tt := range []struct {
		name, path, key string
		status          int
	}{
		{"forward auth without a key", "/auth/verify", "", http.StatusUnauthorized},
		{"forward auth missing a role", "/auth/verify?role=admin", string(key), http.StatusForbidden},
		{"Envoy's form without a key", "/auth/verify/some/app/path", "", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := app.apiGet(t, tt.path, tt.key)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			checkAPIHeaders(t, r)
		})
	}
}
