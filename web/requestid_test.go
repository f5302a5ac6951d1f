package web

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// madeRequestID is a random UUID (version 4, RFC 9562's variant).
var madeRequestID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// requestIDLine is the line an error page names its request with.
var requestIDLine = regexp.MustCompile(`Request ID: <code>[^<]*</code>`)

// withoutRequestID is an error page with its request id taken out, for
// comparing two pages that answer different requests.
func withoutRequestID(body string) string {
	return requestIDLine.ReplaceAllString(body, "Request ID: <code>…</code>")
}

// Every answer names its request with an id made here, a new one each time.
func TestRequestIDMadeHere(t *testing.T) {
	app := newTestApp(t)
	c := app.client()
	seen := map[string]bool{}
	for _, path := range []string{"/healthz", "/healthz", "/login", "/nope", "/api/v1/token"} {
		r := c.get(path)
		id := r.Header.Get("X-Request-Id")
		if !madeRequestID.MatchString(id) {
			t.Errorf("GET %s: X-Request-Id %q, want a random UUID", path, id)
		}
		if seen[id] {
			t.Errorf("GET %s: X-Request-Id %q given twice", path, id)
		}
		seen[id] = true
	}
}

// A proxy's X-Request-Id is kept only when the proxy is trusted and the id
// is one tokend may log and echo; otherwise the request gets a new one.
func TestRequestIDFromProxy(t *testing.T) {
	loopback := []*net.IPNet{{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}}
	elsewhere := []*net.IPNet{{IP: net.IPv4(10, 0, 0, 0), Mask: net.CIDRMask(8, 32)}}
	tokenLike := "tkp_" + strings.Repeat("a1B2", 9) // a key's shape: redacted, so refused
	for _, tt := range []struct {
		name    string
		trusted []*net.IPNet
		sent    []string
		kept    bool
	}{
		{"trusted proxy, a UUID", loopback, []string{"0f8b5f4e-7c1d-4a53-9a51-2d2a1f4c9e10"}, true},
		{"trusted proxy, nginx's $request_id", loopback, []string{"5a8f1b6c2d3e4f5061728394a5b6c7d8"}, true},
		{"trusted proxy, 128 characters", loopback, []string{strings.Repeat("ab-", 42) + "ab"}, true},
		{"trusted proxy, 129 characters", loopback, []string{strings.Repeat("a-", 64) + "a"}, false},
		{"trusted proxy, a space", loopback, []string{"two words"}, false},
		{"trusted proxy, not ASCII", loopback, []string{"café-1"}, false},
		{"trusted proxy, a tab", loopback, []string{"id\tnext"}, false},
		{"trusted proxy, a token's shape", loopback, []string{tokenLike}, false},
		{"trusted proxy, two of them", loopback, []string{"first-id", "second-id"}, false},
		{"untrusted client", elsewhere, []string{"0f8b5f4e-7c1d-4a53-9a51-2d2a1f4c9e10"}, false},
		{"no proxies trusted", nil, []string{"0f8b5f4e-7c1d-4a53-9a51-2d2a1f4c9e10"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestAppWith(t, func(c *Config) { c.TrustedProxies = tt.trusted })
			req, err := http.NewRequest(http.MethodGet, app.server.URL+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.sent {
				req.Header.Add("X-Request-Id", v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := res.Header.Get("X-Request-Id")
			switch {
			case tt.kept && got != tt.sent[0]:
				t.Errorf("X-Request-Id %q, want the proxy's %q", got, tt.sent[0])
			case !tt.kept && !madeRequestID.MatchString(got):
				t.Errorf("X-Request-Id %q, want a new id in place of %q", got, tt.sent)
			}
		})
	}
}

// An error page shows its request's id, on a page of its own and in
// htmx's dialog, so a person can quote it.
func TestRequestIDOnErrorPage(t *testing.T) {
	app := newTestApp(t)
	c := app.signIn(app.member)
	for _, tt := range []struct {
		name   string
		header []string
		want   string
	}{
		{"page", nil, `[data-testid=error-page] [data-testid=request-id]`},
		{"htmx dialog", []string{"HX-Request", "true"}, `[data-testid=error-dialog] [data-testid=request-id]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/tokens/999999/revoke", tt.header...)
			if r.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.StatusCode)
			}
			id := r.Header.Get("X-Request-Id")
			if got, want := r.text(tt.want), "Request ID: "+id; id == "" || got != want {
				t.Errorf("the error says %q, want %q", got, want)
			}
		})
	}
	// A signed-out visitor's page says it too.
	r := app.client().get("/nope")
	if id := r.Header.Get("X-Request-Id"); r.text(`[data-testid=request-id]`) != "Request ID: "+id {
		t.Errorf("404 page says %q, want its request id %q", r.text(`[data-testid=request-id]`), id)
	}
}

// The request id is in the access-log line of its request and in any
// error line about it.
func TestRequestIDInLog(t *testing.T) {
	app := newTestApp(t)
	var logs lockedBuffer
	srv, err := New(app.db, Config{
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		AccessLog:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.echo.GET("/test/fail", func(c echo.Context) error { return fmt.Errorf("the disk is on fire") })
	srv.echo.GET("/test/panic", func(c echo.Context) error { panic("the handler panicked") })
	for _, path := range []string{"/healthz", "/test/fail", "/test/panic", "/api/v1/test"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		id := rec.Header().Get("X-Request-Id")
		if id == "" {
			t.Fatalf("GET %s: no X-Request-Id", path)
		}
		var lines []string
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, "request_id="+id) {
				lines = append(lines, l)
			}
		}
		want := []string{"msg=request method=GET path=" + path}
		if rec.Code >= 500 {
			want = append([]string{"msg=\"request failed\" path=" + path}, want...)
			if strings.Contains(path, "panic") {
				want = append([]string{"msg=panic path=" + path}, want...)
			}
		}
		if len(lines) != len(want) {
			t.Errorf("GET %s (%d): %d lines with its request id, want %d:\n%s", path, rec.Code, len(lines), len(want), logs.String())
			continue
		}
		for i, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("GET %s: line %d is %q, want it to have %q", path, i, lines[i], w)
			}
		}
	}
}
