package web

// Leak reports: POST /api/v1/leaks, as GitHub's secret scanning sends
// them, signed or not, and what the owner sees after.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"tokend/store"
)

// leakBody is a report of these strings, each found at its url.
func leakBody(t *testing.T, tokens ...string) string {
	t.Helper()
	items := make([]map[string]string, len(tokens))
	for i, tok := range tokens {
		items[i] = map[string]string{"token": tok, "type": "tokend_token", "url": fmt.Sprintf("https://gist.example/%d", i), "source": "content"}
	}
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLeakReports(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	live, liveKey := app.createToken(app.member, store.KindPersonal, "leaky")
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	dead, deadKey := app.createToken(app.member, store.KindPersonal, "revoked already")
	app.revokeInStore(t, app.member, dead.ID)
	_, safeKey := app.createToken(app.member, store.KindPersonal, "not found")
	app.apiGet(t, "/api/v1/token", keyOf(liveKey)).ok(t, http.StatusOK, nil) // cached: revoked at the next check anyway

	found := []string{keyOf(liveKey), keyOf(deadKey), fakeToken("tks_"), badChecksum(keyOf(safeKey)), "hello world", "", keyOf(sysKey)}
	r := app.reportLeaks(t, leakBody(t, found...))
	var got []leakAnswer
	r.ok(t, http.StatusOK, &got)
	want := []leakAnswer{
		{sha256Hex(found[0]), store.LeakTypePersonal, store.LeakTruePositive},
		{sha256Hex(found[1]), store.LeakTypePersonal, store.LeakTruePositive},
		{sha256Hex(found[2]), store.LeakTypeSystem, store.LeakFalsePositive},
		{sha256Hex(found[3]), store.LeakTypeUnknown, store.LeakFalsePositive},
		{sha256Hex(found[4]), store.LeakTypeUnknown, store.LeakFalsePositive},
		{sha256Hex(found[5]), store.LeakTypeUnknown, store.LeakFalsePositive},
		{sha256Hex(found[6]), store.LeakTypeSystem, store.LeakTruePositive},
	}
	if !slices.Equal(got, want) {
		t.Errorf("answer\n%+v\nwant\n%+v", got, want)
	}
	for _, secret := range []string{"Acme", "Max", "max@", "leaky", "deploy", `"org`, `"member`} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the answer tells %q: %s", secret, r.body)
		}
	}
	var items []map[string]any
	json.Unmarshal(r.body, &items)
	for _, it := range items {
		if len(it) != 3 {
			t.Errorf("an answer item has %d members: %v", len(it), it)
		}
	}

	for _, k := range []store.TokenText{liveKey, sysKey} {
		app.apiGet(t, "/api/v1/token", keyOf(k)).refusal(t, http.StatusUnauthorized, "revoked_token")
		app.apiGet(t, "/auth/verify", keyOf(k)).refusal(t, http.StatusUnauthorized, "revoked_token")
	}
	app.apiGet(t, "/api/v1/token", keyOf(safeKey)).ok(t, http.StatusOK, nil)
	if got := app.token(live.ID, app.owner); got.RevokeReason != store.ReasonLeaked || got.LeakURL != "https://gist.example/0" || got.LeakedAt.IsZero() {
		t.Errorf("the live token: reason %q, url %q, leaked %v", got.RevokeReason, got.LeakURL, got.LeakedAt)
	}
	if got := app.token(dead.ID, app.owner); got.RevokeReason != store.ReasonRevoked || got.LeakedAt.IsZero() {
		t.Errorf("the revoked one: reason %q, leaked %v", got.RevokeReason, got.LeakedAt)
	}
	if got := app.token(sys.ID, app.owner); got.RevokeReason != store.ReasonLeaked {
		t.Errorf("the system token: reason %q", got.RevokeReason)
	}

	// Reported again: still ours, nothing more to revoke.
	var again []leakAnswer
	app.reportLeaks(t, leakBody(t, keyOf(liveKey))).ok(t, http.StatusOK, &again)
	if len(again) != 1 || again[0].Label != store.LeakTruePositive {
		t.Errorf("reported again: %+v", again)
	}

	// What GitHub may add later is ignored; the token's own field is not.
	var extra []leakAnswer
	app.reportLeaks(t, `[{"token":"hello","type":"x","url":"u","source":"s","commit":"abc","new_field":{"a":1}}]`).ok(t, http.StatusOK, &extra)
	if len(extra) != 1 || extra[0].Label != store.LeakFalsePositive {
		t.Errorf("with unknown fields: %+v", extra)
	}
}

// TestLeakedTokenMarkedOnRowAndPage: the owner sees a leaked token marked
// on its row and on its page, with where it was found.
func TestLeakedTokenMarkedOnRowAndPage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, key := app.createToken(app.member, store.KindPersonal, "leaky")
	app.createToken(app.member, store.KindPersonal, "fine")
	body := `[{"token":"` + keyOf(key) + `","type":"tokend","url":"https://github.com/acme/app/blob/main/.env","source":"content"}]`
	app.reportLeaks(t, body).ok(t, http.StatusOK, nil)

	owner := app.signIn(app.owner)
	list := owner.get("/tokens?show=revoked")
	if !list.row(t, "user-tokens", "leaky").Find(`[data-testid=token-leaked]`).Is("*") {
		t.Error("the leaked token's row has no Leaked badge")
	}
	if list.row(t, "user-tokens", "fine").Find(`[data-testid=token-leaked]`).Length() != 0 {
		t.Error("a token not leaked is marked")
	}
	page := owner.get(tokenPath(tok.ID))
	if got := page.detail("token-leaked"); !strings.Contains(got, "Leaked.") || !strings.Contains(got, "Nov 26, 2026 12:00 UTC") {
		t.Errorf("the page says %q", got)
	}
	if got := page.doc.Find(`a[data-testid=leak-url]`).AttrOr("href", ""); got != "https://github.com/acme/app/blob/main/.env" {
		t.Errorf("links to %q", got)
	}
	if got := page.doc.Find(`a[data-testid=leak-url]`).AttrOr("rel", ""); !strings.Contains(got, "noreferrer") {
		t.Errorf("rel %q", got)
	}
	if got := page.detail("token-state"); got != "Revoked on Nov 26, 2026 12:00 UTC — its key was reported leaked" {
		t.Errorf("state %q", got)
	}
	if got := app.signIn(app.member).get(tokenPath(tok.ID)).detail("token-leaked"); got == "" {
		t.Error("its member does not see it leaked")
	}

	// A URL that is not http(s) is shown, never linked.
	_, other := app.createToken(app.member, store.KindPersonal, "other")
	app.reportLeaks(t, `[{"token":"`+keyOf(other)+`","url":"javascript:alert(1)"}]`).ok(t, http.StatusOK, nil)
	ts, _ := app.db.ListTokens(t.Context(), app.owner, store.TokenFilter{IncludeRevoked: true})
	for _, tk := range ts {
		if tk.Name == "other" {
			p := owner.get(tokenPath(tk.ID))
			if p.has(`a[data-testid=leak-url]`) || p.detail("leak-url") != "javascript:alert(1)" {
				t.Errorf("a javascript: URL: %q", p.doc.Find(`[data-testid=token-leaked]`).Text())
			}
		}
	}
}

func TestLeakReportRefusals(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	app := newAPIApp(t, Config{TrustedProxies: []*net.IPNet{loopback}})
	_, key := app.createToken(app.member, store.KindPersonal, "kept")
	n := 0
	post := func(contentType, body string) *apiResponse {
		n++ // a fresh address each time: these are not about the rate limit
		return app.apiCall(t, http.MethodPost, "/api/v1/leaks", "", contentType, body, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", n))
	}
	tooMany := make([]string, store.MaxLeakReport+1)
	for i := range tooMany {
		tooMany[i] = keyOf(key)
	}
	for name, body := range map[string]string{
		"over 100":      leakBody(t, tooMany...),
		"empty list":    `[]`,
		"null":          `null`,
		"an object":     `{"token":"` + keyOf(key) + `"}`,
		"no token":      `[{"url":"https://x.example"}]`,
		"token is null": `[{"token":null}]`,
		"not a string":  `[{"token":42}]`,
		"not JSON":      `[{"token":`,
		"empty body":    ``,
		"bad UTF-8":     "[{\"token\":\"\xff\"}]",
	} {
		t.Run(name, func(t *testing.T) {
			post("application/json", body).refusal(t, http.StatusBadRequest, "invalid_request")
		})
	}
	post("text/plain", leakBody(t, keyOf(key))).refusal(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	app.apiCall(t, http.MethodGet, "/api/v1/leaks", "", "", "").refusal(t, http.StatusMethodNotAllowed, "method_not_allowed")
	app.apiGet(t, "/api/v1/token", keyOf(key)).ok(t, http.StatusOK, nil)

	exactly := make([]string, store.MaxLeakReport)
	for i := range exactly {
		exactly[i] = fmt.Sprintf("not-a-key-%d", i)
	}
	var got []leakAnswer
	post("application/json", leakBody(t, exactly...)).ok(t, http.StatusOK, &got)
	if len(got) != store.MaxLeakReport {
		t.Errorf("%d answers to %d strings", len(got), store.MaxLeakReport)
	}
}

// TestLeakReportRateLimit: ten reports from one address, then 429 until
// the budget refills; another address has its own.
func TestLeakReportRateLimit(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	app := newAPIApp(t, Config{TrustedProxies: []*net.IPNet{loopback}})
	from := func(ip, body string) *apiResponse {
		return app.apiCall(t, http.MethodPost, "/api/v1/leaks", "", "application/json", body, "X-Forwarded-For", ip)
	}
	for i := range leakReportBurst {
		body := leakBody(t, "nothing")
		if i%2 == 1 {
			body = "not JSON" // refused reports count too
		}
		if r := from("203.0.113.7", body); r.status == http.StatusTooManyRequests {
			t.Fatalf("report %d refused: %s", i+1, r.body)
		}
	}
	r := from("203.0.113.7", leakBody(t, "nothing"))
	r.refusal(t, http.StatusTooManyRequests, "rate_limited")
	from("2001:db8::1", leakBody(t, "nothing")).ok(t, http.StatusOK, nil)
}

func TestLeakReportSignatures(t *testing.T) {
	t.Parallel()
	github := newLeakKey(t, map[string]string{"Key-Id": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"})
	second := newLeakKey(t, nil)
	stranger := newLeakKey(t, nil)
	keys, err := ParseLeakReportKeys(append(append([]byte{}, github.pem...), second.pem...))
	if err != nil {
		t.Fatal(err)
	}
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	app := newTestAppWith(t, func(c *Config) {
		c.LeakReportKeys = keys
		c.TrustedProxies = []*net.IPNet{loopback}
	})
	n := 0
	post := func(body string, header ...string) *apiResponse {
		n++
		return app.reportLeaks(t, body, append(header, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", n))...)
	}
	fresh := func() (store.Token, string) {
		tok, key := app.createToken(app.member, store.KindPersonal, fmt.Sprintf("key %d", n))
		return tok, keyOf(key)
	}

	t.Run("valid, GitHub's headers and its key id", func(t *testing.T) {
		tok, key := fresh()
		body := leakBody(t, key)
		var got []leakAnswer
		post(body, "Github-Public-Key-Identifier", "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
			"Github-Public-Key-Signature", github.sign(t, body)).ok(t, http.StatusOK, &got)
		if len(got) != 1 || got[0].Label != store.LeakTruePositive || app.token(tok.ID, app.owner).Active() {
			t.Errorf("answer %+v; token active %v", got, app.token(tok.ID, app.owner).Active())
		}
	})
	t.Run("valid, generic headers and the key's hash as its id", func(t *testing.T) {
		tok, key := fresh()
		body := leakBody(t, key)
		post(body, "X-Signature-Key-Id", second.id, "X-Signature", second.sign(t, body)).ok(t, http.StatusOK, nil)
		if app.token(tok.ID, app.owner).Active() {
			t.Error("not revoked")
		}
	})
	refused := []struct {
		name   string
		header func(body string) []string
	}{
		{"missing", func(string) []string { return nil }},
		{"key id without a signature", func(string) []string { return []string{"Github-Public-Key-Identifier", second.id} }},
		{"unknown key id", func(body string) []string {
			return []string{"Github-Public-Key-Identifier", stranger.id, "Github-Public-Key-Signature", stranger.sign(t, body)}
		}},
		{"signed by another key", func(body string) []string {
			return []string{"Github-Public-Key-Identifier", second.id, "Github-Public-Key-Signature", stranger.sign(t, body)}
		}},
		{"signature of another body", func(string) []string {
			return []string{"Github-Public-Key-Identifier", second.id, "Github-Public-Key-Signature", second.sign(t, "[]")}
		}},
		{"not base64", func(string) []string {
			return []string{"Github-Public-Key-Identifier", second.id, "Github-Public-Key-Signature", "%%%"}
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tok, key := fresh()
			body := leakBody(t, key)
			post(body, tc.header(body)...).refusal(t, http.StatusUnauthorized, "invalid_signature")
			if !app.token(tok.ID, app.owner).Active() {
				t.Error("an unsigned report revoked the token")
			}
		})
	}
	t.Run("the body as signed, byte for byte", func(t *testing.T) {
		tok, key := fresh()
		body := leakBody(t, key)
		sig := second.sign(t, body)
		post(body+" ", "X-Signature-Key-Id", second.id, "X-Signature", sig).refusal(t, http.StatusUnauthorized, "invalid_signature")
		if !app.token(tok.ID, app.owner).Active() {
			t.Error("revoked")
		}
	})
}

func TestParseLeakReportKeys(t *testing.T) {
	t.Parallel()
	k := newLeakKey(t, nil)
	keys, err := ParseLeakReportKeys(k.pem)
	if err != nil || len(keys) != 1 || keys[k.id] == nil {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for name, data := range map[string]string{
		"empty":            "",
		"not PEM":          "hello",
		"a private key":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"garbage after":    string(k.pem) + "trailing",
		"not a public key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	} {
		if _, err := ParseLeakReportKeys([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
