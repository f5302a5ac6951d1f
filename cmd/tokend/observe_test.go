package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var metricsLine = regexp.MustCompile(`^tokend metrics on (http://127\.0\.0\.1:[0-9]+/metrics)$`)

// waitMetrics returns the URL serve says its metrics are at, the line
// after the one that says it serves.
func (s *runningServer) waitMetrics(t *testing.T) string {
	t.Helper()
	select {
	case line := <-s.lines:
		m := metricsLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("after serving, serve said %q, want where its metrics are", line)
		}
		return m[1]
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not say where its metrics are; stderr: %s", s.stderr)
	}
	return ""
}

func getBody(t *testing.T, c *http.Client, u, key string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// --metrics-addr serves Prometheus's text format on a listener of its
// own, which counts the token checks made on the public one; the public
// one has no /metrics.
func TestServeMetricsListener(t *testing.T) {
	path := tempDBPath(t)
	_, _, key := seedDriver(t, path)
	s := startServe(t, map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 32), "TOKEND_METRICS_ADDR": "127.0.0.1:0"},
		"--db", path)
	_, base, _ := s.waitServing(t)
	metricsURL := s.waitMetrics(t)

	c := browser(t)
	for range 3 {
		if res, body := getBody(t, c, base+"/api/v1/token", key); res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/token: %d %s", res.StatusCode, body)
		}
	}
	if res, _ := getBody(t, c, base+"/metrics", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", res.StatusCode)
	}
	res, text := getBody(t, c, metricsURL, "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", metricsURL, res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`tokend_token_checks_total{kind="personal",result="ok"} 3`,
		`tokend_http_requests_total{code="2xx",method="GET",route="/api/v1/token"} 3`,
		`tokend_http_requests_total{code="4xx",method="GET",route="other"} 1`,
		`tokend_token_cache_entries 1`,
		`tokend_build_info{`,
		`go_sql_max_open_connections{db_name="write"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics have no %s", want)
		}
	}
	if strings.Contains(text, key[4:34]) {
		t.Error("the metrics hold the key")
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// The access log is buffered, yet every request has its line once serve
// has stopped, and each names the request's id.
func TestServeAccessLogKeepsEveryLine(t *testing.T) {
	path := tempDBPath(t)
	s := startServe(t, map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 32)}, "--db", path)
	_, base, _ := s.waitServing(t)
	c := browser(t)
	const n = 500
	ids := make(map[string]bool, n)
	for range n {
		res, _ := getBody(t, c, base+"/healthz", "")
		ids[res.Header.Get("X-Request-Id")] = true
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	var lines int
	for l := range strings.SplitSeq(s.stderr.String(), "\n") {
		if !strings.Contains(l, " msg=request ") {
			continue
		}
		lines++
		id := l[strings.LastIndex(l, "request_id=")+len("request_id="):]
		if !ids[id] {
			t.Errorf("line %q names no request answered", l)
		}
		delete(ids, id)
	}
	if lines != n || len(ids) != 0 {
		t.Errorf("%d access-log lines for %d requests; %d requests without a line", lines, n, len(ids))
	}
}

// TOKEND_LOG_FORMAT=json (or --log-format json) makes every line a JSON
// object, the access log's and serve's own alike.
func TestServeJSONLog(t *testing.T) {
	path := tempDBPath(t)
	_, _, key := seedDriver(t, path)
	s := startServe(t, map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 32), "TOKEND_LOG_FORMAT": "json"},
		"--db", path, "--log-level", "debug")
	_, base, _ := s.waitServing(t)
	c := browser(t)
	res, _ := getBody(t, c, base+"/auth/verify/media/"+key+"/index.m3u8", key)
	id := res.Header.Get("X-Request-Id")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	var found bool
	for l := range strings.SplitSeq(strings.TrimSpace(s.stderr.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not a JSON line: %v: %s", err, l)
		}
		if line["msg"] == "request" && line["request_id"] == id {
			found = true
			if line["path"] != "/auth/verify/media/tkp_REDACTED/index.m3u8" || line["status"] != 200.0 || line["level"] != "INFO" {
				t.Errorf("access-log line %s", l)
			}
		}
	}
	if !found {
		t.Errorf("no access-log line for request %s:\n%s", id, s.stderr)
	}
	if strings.Contains(s.stderr.String(), key[4:34]) {
		t.Error("the log holds the key")
	}
}

// A log format or level serve does not know is refused before anything
// starts.
func TestServeRefusesUnknownLogSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--log-level", "loud"},
	} {
		var stdout, stderr strings.Builder
		err := run(context.Background(), append([]string{"serve", "--db", tempDBPath(t)}, args...), mapEnv(nil), strings.NewReader(""), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("serve %s: %v, want an error naming %q", args, err, args[1])
		}
	}
}
