package web

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// keyInLog is a whole key as the issue asks to look for it.
var keyInLog = regexp.MustCompile(`tk[ps]_[0-9A-Za-z]{36}`)

// logProbe sends requests that carry keys to a server whose log it reads.
type logProbe struct {
	t      *testing.T
	base   string
	sent   int
	logged []string // paths the access log must show, redacted
}

// send makes one request; header is name, value pairs. Its path must show
// in the access log as loggedPath, if that is set.
func (p *logProbe) send(c *http.Client, method, path, loggedPath, contentType, body string, header ...string) {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	p.sent++
	if loggedPath != "" {
		p.logged = append(p.logged, loggedPath)
	}
}

// redacted is what the log shows of key.
func redacted(key string) string { return key[:3] + "_REDACTED" }

// TestLogNeverHoldsAKey sends keys, good, revoked and mistyped, in the
// path (behind a mangled prefix or none, too), the query, the headers and
// the body of every route, of pages that do not exist, of methods a route
// does not take and of requests that fail on the server's side, as an
// integration and as a signed-in browser. The log has a line for every
// request and not one key, nor 24 of its characters in a row.
func TestLogNeverHoldsAKey(t *testing.T) {
	app := newTestApp(t) // the organizations, and a server to sign in through
	var logs lockedBuffer
	srv, err := New(app.db, Config{
		SessionKey:        []byte("0123456789abcdef0123456789abcdef"), // newTestApp's, so its sign-in holds here
		Logger:            slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AccessLog:         true,
		TrustedProxies:    []*net.IPNet{{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}},
		FailuresPerSecond: 1000, FailureBurst: 100_000,
		SignInFailures: &SignInLimits{PerAddrPerSecond: 1000, AddrBurst: 100_000, PerAccountPerSecond: 1000, AccountBurst: 100_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	var routes []*echo.Route
	for _, r := range srv.echo.Routes() {
		if r.Method != http.MethodConnect { // a proxy's method: no path to carry a key
			routes = append(routes, r)
		}
	}
	// Requests that fail on the server's side, whose error quotes the path.
	srv.echo.GET("/test/panic/*", func(c echo.Context) error { panic("handler panicked on " + c.Request().URL.Path) })
	srv.echo.GET("/test/fail/*", func(c echo.Context) error { return fmt.Errorf("failed on %s", c.Request().URL.Path) })
	srv.echo.GET("/api/v1/test/fail/*", func(c echo.Context) error { return fmt.Errorf("failed on %s", c.Request().URL.Path) })
	server := httptest.NewServer(srv)
	t.Cleanup(server.Close)

	_, valid := app.createToken(app.owner, store.KindSystem, "log-probe-admin", store.RoleAdmin)
	revokedTok, revokedKey := app.createToken(app.owner, store.KindPersonal, "log-probe-revoked")
	app.revokeInStore(t, app.owner, revokedTok.ID)
	victim, _ := app.createToken(app.owner, store.KindPersonal, "log-probe-victim")
	keys := map[string]string{"valid": string(valid), "revoked": string(revokedKey), "bad checksum": badChecksum(string(valid))}
	if _, ok := store.ParseTokenText(keys["bad checksum"]); ok {
		t.Fatal("the mistyped key passes its checksum")
	}

	// The browser signs in through the other server; its cookies hold here.
	browser := app.signIn(app.owner)
	p := &logProbe{t: t, base: server.URL}
	clients := []struct {
		name string
		http *http.Client
	}{{"integration", apiHTTP}, {"browser", browser.http}}

	for _, keyName := range slices.Sorted(maps.Keys(keys)) {
		key := keys[keyName]
		// Every place of a request but its path.
		query := "?token=" + url.QueryEscape(key) + "&x=" + key
		headersFor := func(c *http.Client) []string {
			h := []string{
				"Authorization", "Bearer " + key,
				"X-Forwarded-For", key,
				"X-Real-Ip", key,
				"Referer", "https://video.example/watch?token=" + key,
				"User-Agent", "probe/1.0 " + key,
				"Cookie", "probe=" + key,
				"X-Custom", key,
			}
			if c == browser.http {
				// The browser's own cookies come from its jar.
				return append(h, echo.HeaderXCSRFToken, browser.csrf)
			}
			return append(h, "Cookie", sessionCookie+"="+key, "Cookie", csrfCookie+"="+key, echo.HeaderXCSRFToken, key)
		}
		formFor := func(c *http.Client) string {
			f := url.Values{"token": {key}, "name": {key}, "description": {key}, "email": {key}, "password": {key},
				"roles": {key, "admin"}, "next": {"/" + key}, "max_token_days": {key}}
			if c == browser.http {
				f.Set(csrfField, browser.csrf)
			}
			return f.Encode()
		}
		for _, cl := range clients {
			t.Logf("%s key, as %s", keyName, cl.name)
			h := headersFor(cl.http)
			for _, r := range sortedRoutes(routes) {
				if cl.http == browser.http && r.Path == "/logout" {
					continue // the browser stays signed in for the rest
				}
				withKey, logged := routePath(r.Path, key)
				paths := []string{withKey}
				if withID, _ := routePath(r.Path, strconv.FormatInt(victim.ID, 10)); withID != withKey {
					paths = append(paths, withID) // the key everywhere but in the path
				}
				for _, path := range paths {
					loggedPath := ""
					if path != r.Path {
						loggedPath = logged
					}
					switch r.Method {
					case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
						p.send(cl.http, r.Method, path+query, loggedPath, "", "", h...)
					default:
						p.send(cl.http, r.Method, path+query, loggedPath, "application/x-www-form-urlencoded", formFor(cl.http), h...)
						p.send(cl.http, r.Method, path, "", "application/json", `{"token":"`+key+`"}`, h...)
						p.send(cl.http, r.Method, path, "", "application/json", `{"kind":"system","name":"`+key+`","roles":["admin"],"expires_at":"`+key+`"}`, h...)
						// Malformed: the decoder's error quotes what it read.
						p.send(cl.http, r.Method, path, "", "application/json", `{"token":"`+key+`"`, h...)
						p.send(cl.http, r.Method, path, "", "application/json", `{"`+key+`":1}`, h...)
						p.send(cl.http, r.Method, path, "", "application/json", key, h...)
					}
				}
			}
			R := redacted(key)
			reqs := []keyRequest{
				// Envoy's ext_authz form, as README documents it.
				{http.MethodGet, "/auth/verify/videos/" + key + "/master.m3u8", "/auth/verify/videos/" + R + "/master.m3u8"},
				{http.MethodGet, "/api/v1/tokens/" + key, "/api/v1/tokens/" + R},           // 405: DELETE only
				{http.MethodPut, "/tokens/" + key + "/revoke", "/tokens/" + R + "/revoke"}, // 405
				{http.MethodGet, "/tokens/" + key + "/revoke", "/tokens/" + R + "/revoke"},
				{http.MethodGet, "/static/" + key, "/static/" + R},
				{http.MethodGet, "/nope/" + key, "/nope/" + R},                                               // 404
				{http.MethodGet, "/api/v1/nope/" + key, "/api/v1/nope/" + R},                                 // 404 on the API
				{http.MethodGet, "/nope/" + key[:3] + "%5F" + key[4:], "/nope/" + R},                         // encoded underscore
				{http.MethodGet, "/nope/" + key[:3] + "%255F" + key[4:], "/nope/" + key[:3] + "%5FREDACTED"}, // encoded twice: the path keeps %5F
				{http.MethodGet, "/nope/x" + key + "y/" + key + key, "/nope/x" + R + "/" + R + R},            // adjacent, and base62 around
				{http.MethodGet, "/test/panic/" + key, "/test/panic/" + R},
				{http.MethodGet, "/test/fail/" + key, "/test/fail/" + R},
				{http.MethodGet, "/api/v1/test/fail/" + key, "/api/v1/test/fail/" + R},
				// The key cut in halves, each shorter than redactMinRun, is
				// not redacted (see redact.go): sent to show that the log
				// holds no 24 of its characters in a row.
				{http.MethodGet, "/x/" + key[4:22] + "/" + key[22:], ""},
			}
			for _, tt := range append(reqs, mangledKeyPaths(key)...) {
				p.send(cl.http, tt.method, tt.path+query, tt.logged, "", "", h...)
			}
		}
	}
	// Only the browser signs out, and last, with a key in its form.
	p.send(browser.http, http.MethodPost, "/logout?token="+keys["valid"], "", "application/x-www-form-urlencoded",
		url.Values{csrfField: {browser.csrf}, "token": {keys["valid"]}}.Encode(), echo.HeaderXCSRFToken, browser.csrf)

	server.Close() // waits for every request, and so for every log line
	out := logs.String()

	for name, key := range keys {
		if strings.Contains(out, key[4:34]) {
			t.Errorf("the log holds the %s key %s", name, key)
		}
	}
	for name, key := range keys {
		if part, ok := holdsSecret(out, key[4:]); ok {
			t.Errorf("the log holds %s of the %s key %s", part, name, key)
		}
	}
	for _, re := range []*regexp.Regexp{keyInLog, tokenShaped} {
		if loc := re.FindStringIndex(out); loc != nil {
			t.Errorf("the log holds %q, in:\n%s", out[loc[0]:loc[1]], lineAround(out, loc[0]))
		}
	}
	for _, loc := range longRun.FindAllStringIndex(out, -1) {
		if run := out[loc[0]:loc[1]]; !hexRun.MatchString(run) {
			t.Errorf("the log holds %q, in:\n%s", run, lineAround(out, loc[0]))
		}
	}
	// The log is not empty: a line for every request, the path redacted.
	if n := strings.Count(out, "msg=request "); n != p.sent {
		t.Errorf("%d access log lines for %d requests", n, p.sent)
	}
	for _, path := range p.logged {
		if !strings.Contains(out, " path="+path+" ") {
			t.Errorf("no access log line with path=%s", path)
		}
	}
	// The failures were logged, with what they said redacted.
	for _, want := range []string{
		`msg=panic path=/test/panic/tkp_REDACTED error="handler panicked on /test/panic/tkp_REDACTED" stack=`,
		`msg="request failed" path=/test/fail/tks_REDACTED error="failed on /test/fail/tks_REDACTED"`,
		`msg="request failed" path=/api/v1/test/fail/tks_REDACTED error="failed on /api/v1/test/fail/tks_REDACTED"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no line with %s", want)
		}
	}
	t.Logf("%d requests, %d log lines, %d redactions", p.sent, strings.Count(out, "\n"), strings.Count(out, "REDACTED"))
}

// keyRequest is a request with a key in its path, and the path the access
// log shows for it, if that is checked.
type keyRequest struct{ method, path, logged string }

// mangledKeyPaths are requests with key's secret behind a prefix that is
// not quite tkp_ or tks_, or none, and the path the access log shows for
// each: the secret redacted, what comes before it kept.
func mangledKeyPaths(key string) []keyRequest {
	prefix, secret := key[:3], key[4:] // tkp or tks
	upper := strings.ToUpper(prefix)
	return []keyRequest{
		{http.MethodGet, "/x/" + upper + "_" + secret, "/x/" + upper + "_REDACTED"},
		{http.MethodGet, "/x/" + upper[:1] + prefix[1:] + "_" + secret, "/x/" + upper[:1] + prefix[1:] + "_REDACTED"},
		{http.MethodGet, "/x/" + prefix[:2] + upper[2:] + "_" + secret, "/x/" + prefix[:2] + upper[2:] + "_REDACTED"},
		{http.MethodGet, "/x/" + secret, "/x/REDACTED"},
		{http.MethodGet, "/auth/verify/videos/" + secret + "/master.m3u8", "/auth/verify/videos/REDACTED/master.m3u8"},
		{http.MethodGet, "/x/" + prefix + "-" + secret, "/x/" + prefix + "-REDACTED"},
		{http.MethodGet, "/x/" + prefix + "." + secret, "/x/" + prefix + ".REDACTED"},
		{http.MethodGet, "/x/" + prefix + "__" + secret, "/x/" + prefix + "__REDACTED"},
		// A space in the path: the log quotes it.
		{http.MethodGet, "/x/" + prefix + "_%20" + secret, `"/x/` + prefix + `_ REDACTED"`},
		{http.MethodGet, "/x/" + prefix + "_%2520" + secret, "/x/" + prefix + "_REDACTED"},
		{http.MethodGet, "/x/" + url.PathEscape("ｔｋｐ＿") + secret, "/x/ｔｋｐ＿REDACTED"},
		{http.MethodGet, "/x/" + url.PathEscape(fullwidth(prefix)+"＿"+fullwidth(secret)), "/x/" + fullwidth(prefix) + "＿REDACTED"},
		{http.MethodGet, "/auth/verify/" + prefix + "%25255F" + secret, "/auth/verify/" + prefix + "%255FREDACTED"},
		{http.MethodGet, "/x/%2574" + key[1:], "/x/%74" + prefix[1:] + "_REDACTED"},
		{http.MethodGet, "/x/" + key[:16] + fmt.Sprintf("%%25%X", key[16]) + key[17:], "/x/" + prefix + "_REDACTED"},
	}
}

// routePath is path with every parameter set to value, and what the log
// shows of it when value is a key. /auth/verify/* takes a path as Envoy
// appends it.
func routePath(path, value string) (withValue, logged string) {
	var b, l strings.Builder
	shown := value
	if strings.HasPrefix(value, "tk") {
		shown = redacted(value)
	}
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
			l.WriteByte('/')
		}
		switch {
		case seg == "*" && path == "/auth/verify/*":
			b.WriteString("videos/" + value + "/master.m3u8")
			l.WriteString("videos/" + shown + "/master.m3u8")
		case seg == "*" || strings.HasPrefix(seg, ":"):
			b.WriteString(value)
			l.WriteString(shown)
		default:
			b.WriteString(seg)
			l.WriteString(seg)
		}
	}
	return b.String(), l.String()
}

// sortedRoutes puts routes in a fixed order, so a failure repeats.
func sortedRoutes(routes []*echo.Route) []*echo.Route {
	out := slices.Clone(routes)
	slices.SortFunc(out, func(a, b *echo.Route) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return out
}

// lineAround is the log line that holds offset i.
func lineAround(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}
