package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"tokend/store"
)

// Fuzz tests: `go test` runs each seed below; `go test -fuzz FuzzX ./web/`
// searches further.

// safeNext never leads off this server, whatever follows sign-in.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"", "/", "/tokens", "/tokens?x=1#frag", "//evil.example", "/\\evil.example", "\\\\evil",
		"https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example", "/login?next=/x",
		"/\r\nSet-Cookie: x=1", " /tokens", "/tokens/../../etc/passwd", "http:/evil", "/\t/evil",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		switch {
		case err != nil:
			t.Fatalf("safeNext(%q) = %q, not a URL: %v", next, got, err)
		case !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n"):
			t.Fatalf("safeNext(%q) = %q leads off this server", next, got)
		case u.Scheme != "" || u.Host != "":
			t.Fatalf("safeNext(%q) = %q names a scheme or host", next, got)
		}
	})
}

// The Add New Personal Token form, whatever is typed: a token made with the
// trimmed name, or the form again with a message and nothing written;
// never a server error.
func FuzzPersonalTokenForm(f *testing.F) {
	for _, seed := range [][3]string{
		{"Deploy bot", "30", ""},
		{"", "never", ""},
		{"  spaced  ", "7", ""},
		{"<script>alert(1)</script>", "90", ""},
		{"Robert'); DROP TABLE tokens;--", "never", ""},
		{"name\x00with nul", "30", ""},
		{"evil\u202etxt.exe", "30", ""},
		{strings.Repeat("é", 101), "30", ""},
		{"custom", "custom", "2030-01-31"},
		{"past", "custom", "2001-01-01"},
		{"bad date", "custom", "31/01/2030"},
		{"bad choice", "45", ""},
		{"\xff\xfe invalid utf8", "30", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, name, expires, expiresOn string) {
		app := newTestApp(t)
		c := app.signIn(app.member)
		c.get("/tokens/personal/new")
		r := c.postForm("/tokens/personal", url.Values{"name": {name}, "expires": {expires}, "expires_on": {expiresOn}})
		tokens := app.allTokens(app.owner)
		switch r.StatusCode {
		case http.StatusCreated:
			if len(tokens) != 1 || tokens[0].Name != strings.TrimSpace(name) {
				t.Fatalf("created, but the store holds %+v for name %q", tokens, name)
			}
			if !utf8.ValidString(tokens[0].Name) {
				t.Fatalf("stored an invalid UTF-8 name %q", tokens[0].Name)
			}
		case http.StatusUnprocessableEntity, http.StatusConflict:
			if len(tokens) != 0 {
				t.Fatalf("refused with %d, but %d tokens were written", r.StatusCode, len(tokens))
			}
			if v, _ := r.doc.Find(`input#name`).Attr("value"); v != name && utf8.ValidString(name) && !strings.ContainsRune(name, 0) {
				t.Errorf("the typed name %q came back as %q", name, v)
			}
		default:
			t.Fatalf("status %d for name %q expires %q on %q\n%s", r.StatusCode, name, expires, expiresOn, r.body)
		}
	})
}

// The sign-in form, whatever is typed: signed in and sent to a page of this
// server, or refused with the one message; never a server error.
func FuzzSignIn(f *testing.F) {
	for _, seed := range [][3]string{
		{"max@acme.test", testPassword, "/tokens"},
		{"MAX@ACME.TEST", testPassword, "//evil.example"},
		{"max@acme.test", "wrong", ""},
		{"nobody@acme.test", testPassword, "https://evil.example"},
		{"' OR 1=1 --", "' OR 1=1 --", "/"},
		{"", "", ""},
		{"max@acme.test\x00", testPassword, "/tokens"},
		{strings.Repeat("a", 5000), strings.Repeat("b", 100), "/"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, email, password, next string) {
		app := newTestApp(t)
		c := app.client()
		c.get("/login")
		r := c.postForm("/login", url.Values{"email": {email}, "password": {password}, "next": {next}})
		switch r.StatusCode {
		case http.StatusSeeOther:
			if strings.TrimSpace(email) == "" || password != testPassword {
				t.Fatalf("signed in with email %q password %q", email, password)
			}
			if loc := r.location(); loc != safeNext(next) || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Fatalf("sent to %q after next=%q", loc, next)
			}
		case http.StatusUnauthorized:
			if got := r.text(`[data-testid=login-error]`); got != store.ErrBadCredentials.Message {
				t.Fatalf("message %q", got)
			}
		default:
			t.Fatalf("status %d for email %q\n%s", r.StatusCode, email, r.body)
		}
	})
}
