package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

// newMetricsApp is a test app whose server records metrics, with a small
// failure budget so that rate limiting is quick to reach.
func newMetricsApp(t *testing.T) (*testApp, *Metrics) {
	t.Helper()
	m := NewMetrics(nil)
	app := newTestAppWith(t, func(c *Config) {
		c.Metrics = m
		c.AccessLog = true
		c.FailuresPerSecond, c.FailureBurst = 0.001, 4
	})
	return app, m
}

// scrape is what Prometheus reads from the metrics listener.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want Prometheus's text format", ct)
	}
	return rec.Body.String()
}

// sample is the value of one series in a scrape (name and labels as
// Prometheus writes them, labels in alphabetical order); -1 when absent.
func sample(text, series string) float64 {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// Each token check is counted once, under its result and kind.
func TestMetricsCountTokenChecks(t *testing.T) {
	app, m := newMetricsApp(t)
	_, personal := app.createToken(app.owner, store.KindPersonal, "counted personal")
	_, system := app.createToken(app.owner, store.KindSystem, "counted system", store.RoleVideo)
	revokedTok, revoked := app.createToken(app.owner, store.KindPersonal, "counted revoked")
	app.revokeInStore(t, app.owner, revokedTok.ID)
	soon := app.now.Add(time.Hour)
	_, expiring, err := app.db.CreateToken(context.Background(), app.owner, store.NewToken{Kind: store.KindSystem, Name: "counted expiring", Roles: []store.Role{store.RoleViewer}, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}

	app.apiGet(t, "/api/v1/token", string(personal)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", string(personal)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/auth/verify", string(system)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/auth/verify", string(expiring)).ok(t, http.StatusOK, nil)
	_, fenced := app.createWith(app.owner, store.NewToken{Kind: store.KindPersonal, Name: "counted fenced",
		AllowedIPs: allowList(t, "203.0.113.0/24")})
	app.apiGet(t, "/api/v1/token", string(fenced)).ok(t, http.StatusForbidden, nil) // from 127.0.0.1
	app.setNow(soon.Add(time.Second))
	app.apiGet(t, "/auth/verify", string(expiring)).ok(t, http.StatusUnauthorized, nil)
	app.apiGet(t, "/api/v1/token", string(revoked)).ok(t, http.StatusUnauthorized, nil)
	app.apiGet(t, "/api/v1/token", badChecksum(string(system))).ok(t, http.StatusUnauthorized, nil)
	// Four failures spend the budget: a token not cached is refused unread.
	app.apiGet(t, "/api/v1/token", fakeToken("tkp_")).ok(t, http.StatusTooManyRequests, nil)
	// A request without a token checks none.
	app.apiGet(t, "/api/v1/token", "").ok(t, http.StatusUnauthorized, nil)

	text := scrape(t, m)
	for series, want := range map[string]float64{
		`tokend_token_checks_total{kind="personal",result="ok"}`:                         2,
		`tokend_token_checks_total{kind="system",result="ok"}`:                           2,
		`tokend_token_checks_total{kind="system",result="expired"}`:                      1,
		`tokend_token_checks_total{kind="personal",result="revoked"}`:                    1,
		`tokend_token_checks_total{kind="system",result="invalid"}`:                      1,
		`tokend_token_checks_total{kind="personal",result="rate_limited"}`:               1,
		`tokend_token_checks_total{kind="personal",result="address_refused"}`:            1,
		`tokend_token_checks_total{kind="unknown",result="invalid"}`:                     0,
		`tokend_token_checks_total{kind="system",result="unavailable"}`:                  0,
		`tokend_token_check_duration_seconds_count`:                                      9,
		`tokend_http_requests_total{code="2xx",method="GET",route="/api/v1/token"}`:      2,
		`tokend_http_requests_total{code="4xx",method="GET",route="/api/v1/token"}`:      5,
		`tokend_http_requests_total{code="2xx",method="GET",route="/auth/verify"}`:       2,
		`tokend_http_requests_total{code="4xx",method="GET",route="/auth/verify"}`:       1,
		`tokend_http_request_duration_seconds_count{method="GET",route="/api/v1/token"}`: 7,
	} {
		if got := sample(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// The metrics name routes by their pattern, never by the path asked for,
// so that no label takes a value from a request.
func TestMetricsLabelRoutesByPattern(t *testing.T) {
	app, m := newMetricsApp(t)
	_, key := app.createToken(app.owner, store.KindSystem, "envoy", store.RoleVideo)
	app.apiGet(t, "/auth/verify/videos/42/master.m3u8", string(key)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/auth/verify/videos/43/master.m3u8", string(key)).ok(t, http.StatusOK, nil)
	app.client().get("/no/such/page/" + strings.Repeat("x", 40))
	app.client().get("/static/../../etc/passwd")
	req, _ := http.NewRequest("BREW", app.server.URL+"/healthz", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}

	text := scrape(t, m)
	if got := sample(text, `tokend_http_requests_total{code="2xx",method="GET",route="/auth/verify/*"}`); got != 2 {
		t.Errorf("requests under /auth/verify/*: %v, want 2\n%s", got, text)
	}
	if got := sample(text, `tokend_http_requests_total{code="4xx",method="other",route="/healthz"}`); got != 1 {
		t.Errorf("BREW /healthz: %v, want 1 under method other", got)
	}
	if got := sample(text, `tokend_http_requests_total{code="4xx",method="GET",route="other"}`); got != 1 {
		t.Errorf("a page that does not exist: %v, want 1 under route other", got)
	}
	if got := sample(text, `tokend_http_requests_total{code="4xx",method="GET",route="/static/*"}`); got != 1 {
		t.Errorf("a static file refused: %v, want 1 under /static/*", got)
	}
	routes := map[string]bool{otherRoute: true}
	for _, r := range app.server.Config.Handler.(*Server).echo.Routes() {
		routes[r.Path] = true
	}
	label := regexp.MustCompile(`route="([^"]*)"`)
	for _, l := range label.FindAllStringSubmatch(text, -1) {
		if !routes[l[1]] {
			t.Errorf("route label %q is no route's pattern", l[1])
		}
	}
	for _, path := range []string{"videos", "master.m3u8", "no/such", "passwd", "BREW"} {
		if strings.Contains(text, path) {
			t.Errorf("the metrics quote a request's %q", path)
		}
	}
}

// No key presented, whether in a header, the query or the path, reaches
// the metrics, in a label or anywhere else.
func TestMetricsHoldNoKey(t *testing.T) {
	app, m := newMetricsApp(t)
	_, valid := app.createToken(app.owner, store.KindSystem, "probe", store.RoleAdmin)
	revokedTok, revoked := app.createToken(app.owner, store.KindPersonal, "probe revoked")
	app.revokeInStore(t, app.owner, revokedTok.ID)
	keys := []string{string(valid), string(revoked), badChecksum(string(valid))}
	for _, key := range keys {
		app.apiGet(t, "/api/v1/token", key)
		app.apiGet(t, "/auth/verify/media/"+key+"/index.m3u8", key)
		app.apiGet(t, "/api/v1/token?access_token="+url.QueryEscape(key), "")
		app.apiGet(t, "/nope/"+key, "")
		app.apiCall(t, http.MethodPost, "/api/v1/introspect", string(valid), "application/x-www-form-urlencoded", "token="+key)
	}
	text := scrape(t, m)
	for _, key := range keys {
		if strings.Contains(text, key[4:34]) {
			t.Errorf("the metrics hold the key %s", key)
		}
	}
	if regexp.MustCompile(`tk[ps]_[0-9A-Za-z]{20,}`).MatchString(text) {
		t.Errorf("the metrics hold a key's text:\n%s", text)
	}
	if got := sample(text, `tokend_token_checks_total{kind="system",result="ok"}`); got < 1 {
		t.Errorf("no check counted: %v", got)
	}
}

// The store's figures: the token cache, last-use batches, how long a
// change took to reach this process's cache, the database pools, and the
// build.
func TestMetricsStoreFigures(t *testing.T) {
	app, m := newMetricsApp(t)
	tok, key := app.createToken(app.owner, store.KindPersonal, "cached")
	app.apiGet(t, "/api/v1/token", string(key)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", string(key)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	app.revokeInStore(t, app.owner, tok.ID)

	text := scrape(t, m)
	for series, want := range map[string]float64{
		"tokend_token_cache_entries":             0, // dropped by the revoke
		"tokend_token_cache_misses_total":        1,
		"tokend_token_cache_hits_total":          1,
		"tokend_token_cache_evictions_total":     0,
		"tokend_last_use_batch_tokens_count":     1,
		"tokend_last_use_batch_tokens_sum":       1,
		"tokend_change_signal_lag_seconds_count": 1,
		"tokend_access_log_dropped_total":        0,
	} {
		if got := sample(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := sample(text, "tokend_token_cache_refreshes_total"); got < 1 {
		t.Errorf("tokend_token_cache_refreshes_total = %v, want the revoke's refresh counted", got)
	}
	for _, want := range []string{
		`go_sql_open_connections{db_name="read"}`,
		`go_sql_open_connections{db_name="write"}`,
		`tokend_build_info{goversion="go`,
		`go_build_info{`,
		`tokend_token_cache_capacity `,
		`tokend_sign_ins_total{result="bad_credentials"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics have no %s", want)
		}
	}
}

// Sign-ins through the form are counted by result.
func TestMetricsCountSignIns(t *testing.T) {
	app, m := newMetricsApp(t)
	app.signIn(app.member)
	c := app.client()
	c.get("/login")
	if r := c.postForm("/login", url.Values{"email": {app.member.Email}, "password": {"not the password"}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", r.StatusCode)
	}
	text := scrape(t, m)
	for series, want := range map[string]float64{
		`tokend_sign_ins_total{result="ok"}`:              1,
		`tokend_sign_ins_total{result="bad_credentials"}`: 1,
		`tokend_sign_ins_total{result="rate_limited"}`:    0,
	} {
		if got := sample(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// The public listener never serves the metrics, with them on or off.
func TestMetricsNotOnPublicRouter(t *testing.T) {
	for name, app := range map[string]*testApp{"metrics off": newTestApp(t), "metrics on": func() *testApp { a, _ := newMetricsApp(t); return a }()} {
		for _, path := range []string{"/metrics", "/metrics/", "/api/v1/metrics"} {
			res, err := http.Get(app.server.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: GET %s on the public listener: %d, want 404", name, path, res.StatusCode)
			}
		}
	}
}

// Recording a check allocates nothing.
func TestRecordCheckAllocatesNothing(t *testing.T) {
	m := NewMetrics(nil)
	m.bindRoutes(nil)
	if n := testing.AllocsPerRun(100, func() {
		m.recordCheck(checkOK, kindSystem, time.Microsecond)
		m.recordRequest("/api/v1/token", http.MethodGet, http.StatusOK, time.Millisecond)
	}); n != 0 {
		t.Errorf("recording a check and a request: %v allocations, want 0", n)
	}
}

// The striped series say when they began counting, as prometheus's own
// counters and histograms do (Prometheus reads it in the protobuf format).
func TestMetricsCreatedTimestamps(t *testing.T) {
	app, m := newMetricsApp(t)
	_, key := app.createToken(app.owner, store.KindPersonal, "stamped")
	app.apiGet(t, "/api/v1/token", string(key)).ok(t, http.StatusOK, nil)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		switch name := mf.GetName(); name {
		case "tokend_token_checks_total", "tokend_token_check_duration_seconds", "tokend_http_requests_total", "tokend_http_request_duration_seconds":
			for _, s := range mf.GetMetric() {
				seen[name] = true
				if s.GetCounter().GetCreatedTimestamp() == nil && s.GetHistogram().GetCreatedTimestamp() == nil {
					t.Errorf("%s %v has no created timestamp", name, s.GetLabel())
				}
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("series seen: %v, want all four", seen)
	}
}
