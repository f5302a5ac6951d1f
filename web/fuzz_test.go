package web

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// fuzzRoleSep splits FuzzSystemTokenForm's roles string into the form's
// roles values; a comma inside a value is left for the server, which reads
// "video, viewer" in one value as two roles.
const fuzzRoleSep = ";"

// The Add New System Token form as the owner posts it, whatever is typed
// or ticked: a token with the trimmed name and exactly the assignable roles
// asked for, in catalogue order without repeats, or the form again with a
// message and nothing written; never a server error.
func FuzzSystemTokenForm(f *testing.F) {
	for _, seed := range [][4]string{
		{"Nightly export", "video;viewer", "30", ""},
		{"", "video", "never", ""},
		{"no roles", "", "never", ""},
		{"owner role", "owner", "never", ""},
		{"unknown role", "video;root", "7", ""},
		{"repeated roles", "viewer;VIDEO; video ;viewer,video", "90", ""},
		{"comma list", "admin, billing,support", "60", ""},
		{"empty values", ";;,;", "never", ""},
		{"nightly backup", "billing", "never", ""}, // the name taken in other case
		{strings.Repeat("n", 101), "video", "never", ""},
		{strings.Repeat("é", 100), "video", "never", ""},
		{strings.Repeat("x", 20_000), strings.Repeat("video,", 5_000), "never", ""},
		{"custom", "support", "custom", "2030-01-31"},
		{"past", "support", "custom", "2001-01-01"},
		{"bad date", "support", "custom", "31/01/2030"},
		{"bad choice", "support", "45", ""},
		{"<b>bold</b>\u202e", "admin", "30", ""},
		{"\xff\xfe", "video\x00", "30", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, name, roles, expires, expiresOn string) {
		app := newTestApp(t)
		app.createToken(app.owner, store.KindSystem, "Nightly Backup", store.RoleBilling)
		c := app.signIn(app.owner)
		c.get("/tokens/system/new")
		form := url.Values{"name": {name}, "expires": {expires}, "expires_on": {expiresOn}}
		if roles != "" {
			form["roles"] = strings.Split(roles, fuzzRoleSep)
		}
		r := c.postForm("/tokens/system", form)

		// What the roles asked for are, read as the catalogue reads them.
		var want []store.Role
		rolesOK := true
		for _, v := range form["roles"] {
			for _, k := range strings.Split(v, ",") {
				k = strings.ToLower(strings.TrimSpace(k))
				switch {
				case k == "":
				case !store.Role(k).Assignable():
					rolesOK = false
				case !slices.Contains(want, store.Role(k)):
					want = append(want, store.Role(k))
				}
			}
		}
		slices.SortFunc(want, func(a, b store.Role) int { return slices.Index(store.Roles, a) - slices.Index(store.Roles, b) })

		tokens := app.allTokens(app.owner)
		switch r.StatusCode {
		case http.StatusCreated:
			if !rolesOK || len(want) == 0 {
				t.Fatalf("created with roles %q", form["roles"])
			}
			if len(tokens) != 2 {
				t.Fatalf("created, but the store holds %d tokens, want 2", len(tokens))
			}
			var tok store.Token
			for _, x := range tokens {
				if x.Name != "Nightly Backup" {
					tok = x
				}
			}
			if tok.Kind != store.KindSystem || tok.Name != strings.TrimSpace(name) || !slices.Equal(tok.Roles, want) {
				t.Fatalf("created %q %s with roles %q, want %q with roles %q", tok.Name, tok.Kind, tok.Roles, strings.TrimSpace(name), want)
			}
			if n := utf8.RuneCountInString(tok.Name); !utf8.ValidString(tok.Name) || n == 0 || n > store.MaxTokenNameLen {
				t.Fatalf("stored the name %q", tok.Name)
			}
			checkFormExpiry(t, app, tok.ExpiresAt, expires, expiresOn)
			key, _ := r.doc.Find(`#new-key-value`).Attr("value")
			p, err := app.db.Verify(context.Background(), key, "192.0.2.1")
			if err != nil || p.TokenID != tok.ID || !slices.Equal(p.Roles, want) {
				t.Fatalf("the key shown (%q) verifies as %+v, %v", key, p, err)
			}
		case http.StatusUnprocessableEntity, http.StatusConflict:
			if len(tokens) != 1 {
				t.Fatalf("refused with %d, but the store holds %d tokens, want 1", r.StatusCode, len(tokens))
			}
			if v, _ := r.doc.Find(`input#name`).Attr("value"); v != name && utf8.ValidString(name) && !strings.ContainsRune(name, 0) {
				t.Errorf("the typed name %q came back as %q", name, v)
			}
		case http.StatusRequestEntityTooLarge:
			// The server reads no more than 64 KiB of a body.
			if n := len(form.Encode()) + len("&_csrf=") + len(c.csrf); n <= 64<<10 {
				t.Fatalf("413 for a body of %d bytes", n)
			}
			if len(tokens) != 1 {
				t.Fatalf("refused with 413, but the store holds %d tokens, want 1", len(tokens))
			}
		default:
			t.Fatalf("status %d for name %q roles %q expires %q on %q\n%s", r.StatusCode, name, form["roles"], expires, expiresOn, r.body)
		}
	})
}

// checkFormExpiry checks that a token made from the form expires as its
// Expiration choice says.
func checkFormExpiry(t *testing.T, app *testApp, got time.Time, expires, expiresOn string) {
	t.Helper()
	var want time.Time
	switch expires {
	case expiresNever, "":
	case expiresCustom:
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(expiresOn))
		if err != nil {
			t.Fatalf("created with the custom date %q", expiresOn)
		}
		want = d
	default:
		days, err := strconv.Atoi(expires)
		if err != nil || !slices.Contains(expiryPresets, days) {
			t.Fatalf("created with the expiration %q", expires)
		}
		want = app.now.AddDate(0, 0, days)
	}
	if !got.Equal(want) || (!got.IsZero() && !got.After(app.now)) {
		t.Fatalf("expires %v for expires %q on %q, want %v (after %v)", got, expires, expiresOn, want, app.now)
	}
}

// POST /api/v1/tokens with any body, as a member's valid key: a token made
// as the body asks, whose key works, or the API's one error shape with
// nothing written; never a server error.
func FuzzAPICreateBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"deploy script"}`,
		``,
		`{}`,
		`{"name":""}`,
		`{"name":"  spaced  "}`,
		`{"name":"max-ci"}`,
		`{"name":"MAX-CI"}`,
		`{"kind":"system","name":"bot","roles":["owner"]}`,
		`{"kind":"personal","name":"x","roles":["video","video"]}`,
		`{"name":"` + strings.Repeat("n", 101) + `"}`,
		`{"name":"` + strings.Repeat("x", 70_000) + `"}`,
		`{"name":`,
		`{"name":"x","scope":"all"}`,
		`{"name":"a"} {"name":"b"}`,
		`{"name":"a"}  ` + "\n",
		`{"name":42}`,
		`null`,
		`[{"name":"x"}]`,
		`{"name":"week","expires_in_days":7}`,
		`{"name":"dated","expires_at":"2027-01-31"}`,
		`{"name":"both","expires_in_days":7,"expires_at":"2027-01-31"}`,
		`{"name":"half a second","expires_at":"2026-11-26T12:00:00.5Z"}`,
		`{"name":"past","expires_at":"2026-11-01"}`,
		`{"name":"\u202eevil\u0000"}`,
		"{\"name\":\"\xff\xfe invalid UTF-8\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		app := newTestApp(t)
		_, key := app.createToken(app.member, store.KindPersonal, "max-ci")
		r := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body)
		count := app.countTokens(t)
		switch {
		case r.status == http.StatusCreated:
			var c wireCreated
			if err := json.Unmarshal(r.body, &c); err != nil {
				t.Fatalf("201 with a body that is not the token: %v\n%s", err, r.body)
			}
			var in struct{ Name string }
			json.Unmarshal([]byte(body), &in)
			if tok := c.Token; tok.Kind != "personal" || tok.Name != strings.TrimSpace(in.Name) || tok.Member == nil || tok.Member.ID != app.member.ID || len(tok.Roles) != 0 {
				t.Fatalf("created %+v for body %q", tok, body)
			}
			if count != 2 {
				t.Fatalf("created, but the store holds %d tokens, want 2", count)
			}
			stored := app.token(c.Token.ID, app.owner)
			if stored.Name != c.Token.Name || stored.LastFour != c.Key[max(0, len(c.Key)-4):] {
				t.Fatalf("stored %+v, answered %+v", stored, c.Token)
			}
			p, err := app.db.Verify(context.Background(), c.Key, "192.0.2.1")
			if err != nil || p.TokenID != c.Token.ID || p.MemberID != app.member.ID {
				t.Fatalf("the key answered for body %q verifies as %+v, %v (expires_at %v, now %v)", body, p, err, c.Token.ExpiresAt, app.now)
			}
		case r.status >= 400 && r.status < 500 && r.status != http.StatusUnauthorized:
			if err := apiErrorShape(r); err != nil {
				t.Fatalf("%v\nfor body %q", err, body)
			}
			if count != 1 {
				t.Fatalf("refused with %s, but the store holds %d tokens, want 1", r, count)
			}
		default:
			t.Fatalf("status %d for body %q\n%s", r.status, body, r.body)
		}
	})
}

// apiErrorShape says what is wrong with r as the API's one error shape,
// {"error":{"code":…,"message":…[,"field":…]}}, if anything.
func apiErrorShape(r *apiResponse) error {
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s: Content-Type %q, want application/json", r, ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &outer); err != nil {
		return fmt.Errorf("%s: not a JSON object: %v", r, err)
	}
	if keys := slices.Sorted(maps.Keys(outer)); !slices.Equal(keys, []string{"error"}) {
		return fmt.Errorf("%s: keys %q, want only \"error\"", r, keys)
	}
	var inner map[string]any
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		return fmt.Errorf("%s: \"error\" is not an object", r)
	}
	for k, v := range inner {
		s, ok := v.(string)
		switch {
		case k != "code" && k != "message" && k != "field":
			return fmt.Errorf("%s: unexpected key %q", r, k)
		case !ok:
			return fmt.Errorf("%s: %q is not a string", r, k)
		case k != "field" && strings.TrimSpace(s) == "":
			return fmt.Errorf("%s: empty %q", r, k)
		}
	}
	if !mapHas(inner, "code") || !mapHas(inner, "message") {
		return fmt.Errorf("%s: want both code and message", r)
	}
	return nil
}
