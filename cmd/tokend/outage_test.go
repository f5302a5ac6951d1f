package main

// PostgreSQL out of reach under a serving tokend (issue 8, point 3), on a
// cluster of the test's own: the shared test cluster stays up for the
// other tests.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokend/store"
	"tokend/store/storetest"
)

// privateCluster is a PostgreSQL cluster that .ci/pg-start made for one
// test, in a directory and on a port of its own.
type privateCluster struct {
	env []string // TOKEND_PG_DIR and TOKEND_PG_PORT, for the scripts
	url string
	// start and stop run .ci/pg-start and .ci/pg-stop on it.
	start, stop func(t *testing.T)
}

// startPrivateCluster starts a cluster for t alone with .ci/pg-start, and
// stops and removes it when t ends. Like every PostgreSQL test it skips
// without TOKEND_TEST_POSTGRES; it also skips when the server's binaries
// are not installed (it never installs them). With
// TOKEND_REQUIRE_POSTGRES=1 either fails t instead.
func startPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	require := os.Getenv(storetest.EnvRequirePostgres) == "1"
	if os.Getenv(storetest.EnvPostgres) == "" && !require {
		t.Skip("PostgreSQL not configured: set TOKEND_TEST_POSTGRES or run make test")
	}
	ci, err := filepath.Abs("../../.ci")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(ci, "pg-install"), "--no-install").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no PostgreSQL server binaries to start a cluster of this test's own with: %s", strings.TrimSpace(string(out)))
		if require {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	// A directory the server's user can reach: t.TempDir's parent is
	// private to root.
	outer, err := os.MkdirTemp("", "tokend-pg-outage-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outer, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			os.Chown(outer, uid, gid)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	c := &privateCluster{env: append(os.Environ(),
		"TOKEND_PG_DIR="+filepath.Join(outer, "data"), "TOKEND_PG_PORT="+strconv.Itoa(port))}
	script := func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(ci, name))
		cmd.Env = c.env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf(".ci/%s: %v\n%s", name, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	c.start = func(t *testing.T) {
		t.Helper()
		url, err := script("pg-start")
		if err != nil {
			t.Fatal(err)
		}
		c.url = url
	}
	c.stop = func(t *testing.T) {
		t.Helper()
		if _, err := script("pg-stop"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := script("pg-stop"); err != nil {
			t.Error(err)
		}
		os.RemoveAll(outer)
	})
	c.start(t)
	if !strings.Contains(c.url, ":"+strconv.Itoa(port)+"/") {
		t.Fatalf(".ci/pg-start printed %q, want a URL on port %d", c.url, port)
	}
	return c
}

// wantUnavailable checks an answer while the database is out of reach: 503,
// Retry-After in seconds, and for the API the JSON error shape.
func wantUnavailable(t *testing.T, what string, a apiAnswer, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	jsonErr := json.Unmarshal(a.body, &body)
	retry, retryErr := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != http.StatusServiceUnavailable || jsonErr != nil || body.Error.Code != "temporarily_unavailable" || body.Error.Message == "" ||
		!strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || retryErr != nil || retry < 1 {
		t.Errorf("%s: %d, Content-Type %q, Retry-After %q, body %s; want 503 with {\"error\":{\"code\":\"temporarily_unavailable\",…}} and Retry-After in seconds",
			what, a.status, a.header.Get("Content-Type"), a.header.Get("Retry-After"), a.body)
	}
	if b := string(a.body); strings.Contains(b, "dial tcp") || strings.Contains(b, "SQLSTATE") || strings.Contains(b, "failed to connect") {
		t.Errorf("%s: the answer tells the client the internal error: %s", what, a.body)
	}
}

// While PostgreSQL is stopped, tokend answers the tokens it has verified
// from memory, refuses to guess about the others with 503 and Retry-After,
// shows pages a plain error page, and stays healthy; once PostgreSQL is
// back, it catches up without a restart and has lost nothing.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := startPrivateCluster(t)

	db := openDB(t, pg.url)
	owner := addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
	newKey := func(name string) (store.Token, string) {
		tok, key, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return tok, string(key)
	}
	k1Tok, k1 := newKey("K1")
	_, k2 := newKey("K2")
	k3Tok, k3 := newKey("K3")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := startServe(t, nil, "--db", pg.url, "--access-log=false")
	_, base, _ := s.waitServing(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	call := func(method, path, key string, body any) (apiAnswer, error) {
		return apiRequest(client, method, base+path, key, body)
	}
	mustStatus := func(what string, want int, a apiAnswer, err error) apiAnswer {
		t.Helper()
		if err != nil || a.status != want {
			t.Fatalf("%s: %d %s (%v), want %d", what, a.status, a.body, err, want)
		}
		return a
	}

	browserAna := browser(t)
	signIn(t, browserAna, base, "ana@acme.test", testPassword)
	wantTokensPage(t, browserAna, base, "Ana Owner")
	for _, k := range []string{k1, k3} { // verified, so cached
		a, err := call(http.MethodGet, "/api/v1/token", k, nil)
		mustStatus("GET /api/v1/token before the outage", http.StatusOK, a, err)
	}
	a, err := call(http.MethodGet, "/auth/verify", k1, nil)
	mustStatus("GET /auth/verify with K1 before the outage", http.StatusOK, a, err)

	// Acknowledged before the outage: five tokens made, one of them revoked.
	type made struct {
		id   int64
		name string
		key  string
	}
	var before []made
	for i := range 5 {
		name := fmt.Sprintf("before the outage %d", i)
		id, key := createAPIToken(t, client, base, k1, name)
		before = append(before, made{id, name, key})
	}
	a, err = call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", before[0].id), k1, nil)
	mustStatus("revoke before the outage", http.StatusOK, a, err)

	// K1 under a little load, from before the stop to the end of the outage.
	var (
		mu       sync.Mutex
		problems []string
		answered int
		stopLoad = make(chan struct{})
		load     sync.WaitGroup
	)
	for w := range 4 {
		load.Go(func() {
			paths := []string{"/api/v1/token", "/auth/verify"}
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				path := paths[(w+i)%2]
				a, err := call(http.MethodGet, path, k1, nil)
				mu.Lock()
				if err != nil || a.status != http.StatusOK {
					if len(problems) < 10 {
						problems = append(problems, fmt.Sprintf("GET %s with K1: %d %s (%v)", path, a.status, a.body, err))
					}
				} else {
					answered++
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}

	pg.stop(t)

	// Not seen before: refused, with the JSON shape and Retry-After, on the
	// API and on forward auth, again and again.
	const tries = 10
	for range tries {
		a, err := call(http.MethodGet, "/api/v1/token", k2, nil)
		wantUnavailable(t, "GET /api/v1/token with K2 during the outage", a, err)
	}
	a, err = call(http.MethodGet, "/auth/verify", k2, nil)
	wantUnavailable(t, "GET /auth/verify with K2 during the outage", a, err)
	// No revoke can commit, and none is pretended.
	a, err = call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", k3Tok.ID), k1, nil)
	wantUnavailable(t, "DELETE /api/v1/tokens/{K3} during the outage", a, err)
	a, err = call(http.MethodPost, "/api/v1/tokens", k1, map[string]string{"name": "during the outage"})
	wantUnavailable(t, "POST /api/v1/tokens during the outage", a, err)
	// K3 was verified before: still answered.
	a, err = call(http.MethodGet, "/api/v1/token", k3, nil)
	mustStatus("GET /api/v1/token with K3 during the outage", http.StatusOK, a, err)

	// Pages: a plain error page, 503, nothing internal.
	for range tries {
		res, body := fetch(t, browserAna, http.MethodGet, base+"/tokens", nil)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "cannot reach its database") || res.Header.Get("Retry-After") == "" {
			t.Fatalf("GET /tokens signed in, during the outage: %d, Content-Type %q, Retry-After %q; want a 503 page saying the database cannot be reached\n%s",
				res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), body)
		}
		for _, internal := range []string{"dial tcp", "dial error", "SQLSTATE", "connection refused", "failed to connect"} {
			if strings.Contains(body, internal) {
				t.Errorf("the error page shows %q", internal)
			}
		}
	}
	res, body := fetch(t, browser(t), http.MethodGet, base+"/healthz", nil)
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz during the outage: %d %s, want 200", res.StatusCode, body)
	}
	// Alive, but not ready: a load balancer should send new work elsewhere.
	res, body = fetch(t, browser(t), http.MethodGet, base+"/readyz", nil)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"database":"unreachable"`) || res.Header.Get("Retry-After") == "" {
		t.Errorf("GET /readyz during the outage: %d %s, want 503 saying the database is unreachable", res.StatusCode, body)
	}

	// The outage is logged once, when the server notices it.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "database unreachable") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopLoad)
	load.Wait()
	for _, p := range problems {
		t.Errorf("during the outage: %s", p)
	}
	if answered == 0 {
		t.Error("K1 was never answered under load")
	}
	t.Logf("K1 answered 200 %d times across the stop of PostgreSQL", answered)
	duringLog := s.stderr.String()

	pg.start(t)

	// Back: K2 works within a bounded time, without a restart of tokend.
	deadline = time.Now().Add(20 * time.Second)
	attempts, statuses := 0, map[int]int{}
	for {
		attempts++
		a, err := call(http.MethodGet, "/api/v1/token", k2, nil)
		if err != nil {
			t.Fatal(err)
		}
		statuses[a.status]++
		if a.status == http.StatusOK {
			break
		}
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("GET /api/v1/token with K2 as the database comes back: %d %s, want 503 or 200", a.status, a.body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("K2 still refused 20 s after PostgreSQL came back (%d tries: %v)", attempts, statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("after PostgreSQL came back, K2 worked at try %d (answers: %v)", attempts, statuses)
	// Ready again once it listens again (within a bounded time).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, body := fetch(t, browser(t), http.MethodGet, base+"/readyz", nil)
		if res.StatusCode == http.StatusOK && strings.Contains(body, `"change_signal":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz 10 s after PostgreSQL came back: %d %s, want 200", res.StatusCode, body)
		}
	}

	// The revoke tried during the outage did not happen; one now does, and
	// holds at once.
	a, err = call(http.MethodGet, "/api/v1/token", k3, nil)
	mustStatus("K3 after the outage (its revoke was refused)", http.StatusOK, a, err)
	a, err = call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", k1Tok.ID), k2, nil)
	mustStatus("revoke K1 after the outage", http.StatusOK, a, err)
	a, err = call(http.MethodGet, "/api/v1/token", k1, nil)
	if err != nil || a.status != http.StatusUnauthorized || a.code != "revoked_token" {
		t.Errorf("K1 after its revoke: %d %s (%v), want 401 revoked_token", a.status, a.body, err)
	}
	a, err = call(http.MethodGet, "/auth/verify", k1, nil)
	if err != nil || a.status != http.StatusUnauthorized {
		t.Errorf("/auth/verify with K1 after its revoke: %d %s (%v), want 401", a.status, a.body, err)
	}
	wantTokensPage(t, browserAna, base, "Ana Owner")

	// Nothing acknowledged before the outage is lost.
	a, err = call(http.MethodGet, "/api/v1/tokens?kind=personal&state=all&limit=100", k2, nil)
	mustStatus("list after the outage", http.StatusOK, a, err)
	var list struct {
		Tokens []struct {
			ID    int64
			Name  string
			State string
		} `json:"tokens"`
	}
	if err := json.Unmarshal(a.body, &list); err != nil {
		t.Fatal(err)
	}
	state := map[int64]string{}
	for _, tok := range list.Tokens {
		state[tok.ID] = tok.State
	}
	for i, m := range before {
		want := store.StateActive
		if i == 0 {
			want = store.StateRevoked
		}
		if state[m.id] != want {
			t.Errorf("%q (id %d), acknowledged before the outage: listed as %q, want %q", m.name, m.id, state[m.id], want)
		}
		a, err := call(http.MethodGet, "/api/v1/token", m.key, nil)
		if wantStatus := map[bool]int{true: http.StatusUnauthorized, false: http.StatusOK}[i == 0]; err != nil || a.status != wantStatus {
			t.Errorf("%q after the outage: %d %s (%v), want %d", m.name, a.status, a.body, err, wantStatus)
		}
	}
	if len(list.Tokens) != 3+len(before) {
		t.Errorf("%d personal tokens listed after the outage, want %d (K1, K2, K3 and those made before)", len(list.Tokens), 3+len(before))
	}

	// Logged: once that the database is unreachable, once that it is back;
	// not a line per request.
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "reachable again") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	log := s.stderr.String()
	if n := strings.Count(log, "database unreachable"); n != 1 {
		t.Errorf("\"database unreachable\" logged %d times, want once\n%s", n, log)
	}
	if n := strings.Count(log, "reachable again"); n != 1 {
		t.Errorf("\"reachable again\" logged %d times, want once\n%s", n, log)
	}
	// Beyond those two (and the change notifications' own), the outage may
	// not write a line for each of the 2×10 requests it refused.
	var perRequest []string
	for _, l := range strings.Split(strings.TrimSpace(duringLog), "\n") {
		if !strings.Contains(l, "database unreachable") && !strings.Contains(l, "change notifications") {
			perRequest = append(perRequest, l)
		}
	}
	if len(perRequest) >= tries {
		t.Errorf("%d more lines logged during the outage, in which %d API and %d page requests were refused: want no line per request, got\n%s",
			len(perRequest), tries+3, tries, strings.Join(perRequest, "\n"))
	}
	t.Logf("server log:\n%s", log)
}
