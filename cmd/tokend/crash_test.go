package main

// `tokend serve` as a process of its own, killed with SIGKILL in the middle
// of creating tokens, and stopped with SIGTERM while requests are still
// arriving.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokend/store"
)

// childServer is `tokend serve` as a child process the test may kill.
type childServer struct {
	cmd            *exec.Cmd
	base           string // http://localhost:PORT
	addr           string // 127.0.0.1:PORT, where it listens
	stdout, stderr *syncBuffer
	exited         chan struct{} // closed once the process has ended
	waitErr        error         // what Wait said, once exited is closed
}

// startChild runs `tokend serve` on a free port of 127.0.0.1 and waits for
// it to say where it serves.
func startChild(t *testing.T, bin, dbPath string) *childServer {
	t.Helper()
	s := launchChild(t, bin, dbPath, "TOKEND_SESSION_KEY=0123456789abcdef0123456789abcdef")
	s.awaitServing(t)
	return s
}

// launchChild starts `tokend serve` on a free port of 127.0.0.1 with this
// process's environment, less any session key of its own, plus env; it does
// not wait for it to serve (awaitServing does), so that several can start
// together.
func launchChild(t *testing.T, bin, dbPath string, env ...string) *childServer {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--access-log=false")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_SESSION_KEY") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	s := &childServer{cmd: cmd, stdout: new(syncBuffer), stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// awaitServing waits for the process to say where it serves, at most 20 s.
func (s *childServer) awaitServing(t *testing.T) {
	t.Helper()
	s.base = s.awaitStdout(t, servingAddr, "say it was serving")[1]
	u, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = "127.0.0.1:" + u.Port()
}

// awaitStdout waits, at most 20 s, for a line of the process's standard
// output that re matches, and returns its submatches; what names the
// line in the failure.
func (s *childServer) awaitStdout(t *testing.T, re *regexp.Regexp, what string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(s.stdout.String(), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("tokend serve ended before it would %s: %v\nstdout: %s\nstderr: %s", what, s.waitErr, s.stdout, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokend serve did not %s within 20s\nstdout: %s\nstderr: %s", what, s.stdout, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for the process to end, at most d.
func (s *childServer) waitExit(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(d):
		t.Fatalf("tokend serve still running %v later\nstdout: %s\nstderr: %s", d, s.stdout, s.stderr)
		return nil
	}
}

// whoAmI is GET /api/v1/token with key: the status and the token it names.
func (s *childServer) whoAmI(c *http.Client, key string) (int, int64, string, error) {
	req, err := http.NewRequest(http.MethodGet, s.base+"/api/v1/token", nil)
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := c.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer res.Body.Close()
	var out struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return res.StatusCode, 0, "", err
	}
	return res.StatusCode, out.ID, out.Name, nil
}

// seedDriver sets up a database with an owner and their personal token, which
// acts as admin on the API, and closes it again: the child has it to itself.
func seedDriver(t *testing.T, path string) (store.Member, store.Token, string) {
	t.Helper()
	db := openDB(t, path)
	owner := addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana", store.RoleOwner)
	tok, key, err := db.CreateToken(context.Background(), owner, store.NewToken{Kind: store.KindPersonal, Name: "driver"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return owner, tok, string(key)
}

// createdToken is a create the server acknowledged: 201 and the key read.
type createdToken struct {
	id   int64
	name string
	key  string
}

// Eight clients create tokens as fast as the server answers; the server is
// killed with SIGKILL while they do. After a restart on the same file every
// acknowledged token is there and works, and nothing is half-made.
func TestSIGKILLKeepsEveryAcknowledgedToken(t *testing.T) {
	t.Parallel()
	bin := tokendBinary(t)
	path := tempDBPath(t)
	owner, driver, driverKey := seedDriver(t, path)
	s := startChild(t, bin, path)

	const writers = 8
	const killAfter = 40 // acknowledged creates before the kill
	tr := &http.Transport{MaxIdleConnsPerHost: writers}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var (
		mu        sync.Mutex
		acked     []createdToken
		attempted = map[string]bool{}
		problems  []string
		ackCount  atomic.Int64
		inFlight  atomic.Int64
		lost      atomic.Int64 // requests the kill cut off
	)
	fail := func(format string, args ...any) bool {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
		return false
	}
	// create asks for one token and says whether to go on.
	create := func(name string) bool {
		mu.Lock()
		attempted[name] = true
		mu.Unlock()
		body, _ := json.Marshal(map[string]string{"name": name})
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/tokens", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+driverKey)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		res, err := client.Do(req)
		if err != nil {
			lost.Add(1) // no answer: the server is gone
			return false
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			lost.Add(1) // the answer was cut off: not acknowledged
			return false
		}
		if res.StatusCode != http.StatusCreated {
			return fail("create %q: status %d: %s", name, res.StatusCode, b)
		}
		var out struct {
			Token struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"token"`
			Key string `json:"key"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Key == "" || out.Token.Name != name {
			return fail("create %q: 201 with %q (%v)", name, b, err)
		}
		mu.Lock()
		acked = append(acked, createdToken{id: out.Token.ID, name: name, key: out.Key})
		mu.Unlock()
		ackCount.Add(1)
		return true
	}

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			// Until the server stops answering; bounded in case it never does.
			for i := range 10_000 {
				if !create(fmt.Sprintf("crash %d-%d", w, i)) {
					return
				}
			}
		})
	}

	inFlightAtKill := s.killWhenBusy(t, &ackCount, &inFlight, killAfter)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(acked) < killAfter {
		t.Fatalf("only %d creates acknowledged within 15s, want at least %d before the kill", len(acked), killAfter)
	}
	t.Logf("%d creates acknowledged, %d in flight at the kill, %d cut off", len(acked), inFlightAtKill, lost.Load())

	// Restarted on the same file: every acknowledged key works, as itself.
	s = startChild(t, bin, path)
	for _, c := range acked {
		status, id, name, err := s.whoAmI(client, c.key)
		if err != nil || status != http.StatusOK || id != c.id || name != c.name {
			t.Errorf("acknowledged %q (id %d) after the restart: status %d, token %d %q (%v), want 200 with that token", c.name, c.id, status, id, name, err)
		}
	}

	// Nothing half-made: the file is sound, and every row is a whole token
	// that some request asked for.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q (%v), want ok", check, err)
	}
	if rows, err := raw.Query(`PRAGMA foreign_key_check`); err != nil {
		t.Error(err)
	} else {
		if rows.Next() {
			t.Error("foreign_key_check found rows that point nowhere")
		}
		rows.Close()
	}
	byName := map[string]createdToken{}
	for _, c := range acked {
		byName[c.name] = c
	}
	rows, err := raw.Query(`SELECT id, kind, ifnull(member_id, 0), ifnull(created_by, 0), ifnull(created_by_token, 0),
		name, digest, last_four, roles, revoked_at IS NOT NULL FROM tokens ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen, found := map[string]bool{}, 0
	n := 0
	for rows.Next() {
		var (
			id, member, by, byToken  int64
			kind, name, last4, roles string
			digest                   []byte
			revoked                  bool
		)
		if err := rows.Scan(&id, &kind, &member, &by, &byToken, &name, &digest, &last4, &roles, &revoked); err != nil {
			t.Fatal(err)
		}
		n++
		if len(digest) != len(store.Digest{}) || len(last4) != 4 || kind != string(store.KindPersonal) || member != owner.ID || roles != "" || revoked {
			t.Errorf("token %d %q: kind %q, member %d, digest of %d bytes, last four %q, roles %q, revoked %v: not a whole active personal token of the owner",
				id, name, kind, member, len(digest), last4, roles, revoked)
		}
		if seen[name] {
			t.Errorf("two tokens named %q", name)
		}
		seen[name] = true
		if id == driver.ID {
			continue
		}
		if by != 0 || byToken != driver.ID {
			t.Errorf("token %d %q: made by member %d, token %d; want the driver token %d", id, name, by, byToken, driver.ID)
		}
		if !attempted[name] {
			t.Errorf("token %d %q: no request asked for it", id, name)
		}
		if c, ok := byName[name]; ok {
			found++
			d := store.DigestOf(c.key)
			if c.id != id || !bytes.Equal(digest, d[:]) || last4 != c.key[len(c.key)-4:] {
				t.Errorf("token %d %q: stored as id %d with last four %q and another digest than its key", c.id, name, id, last4)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) || n < len(acked)+1 {
		t.Errorf("%d rows, %d of them acknowledged; want every one of the %d acknowledged creates and the driver", n, found, len(acked))
	}

	// And the store reads every one of them back as an active token.
	db := openDB(t, path)
	all, err := db.ListTokens(context.Background(), owner, store.TokenFilter{IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, tok := range all {
		if tok.State(time.Now()) == store.StateActive && tok.MemberID == owner.ID {
			active++
		}
	}
	if len(all) != n || active != n {
		t.Errorf("the store lists %d tokens, %d of them active personal tokens of the owner; want all %d rows", len(all), active, n)
	}
}

// slowCreate is a request the server has begun to handle and waits on: its
// headers sent with Expect: 100-continue, and the server's 100 Continue read,
// which it sends only once the handler reads the body. The body follows
// when the test says.
type slowCreate struct {
	conn net.Conn
	r    *bufio.Reader
	path string
	body []byte
}

func startSlowRequest(t *testing.T, addr, path, key string, body []byte) *slowCreate {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, addr, key, len(body))
	s := &slowCreate{conn: conn, r: bufio.NewReader(conn), path: path, body: body}
	res, err := http.ReadResponse(s.r, nil)
	if err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("POST %s: want 100 Continue first, got %v (%v)", path, res, err)
	}
	return s
}

// finish sends the body and reads the whole answer.
func (s *slowCreate) finish() (int, []byte, error) {
	if _, err := s.conn.Write(s.body); err != nil {
		return 0, nil, err
	}
	res, err := http.ReadResponse(s.r, nil)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// SIGTERM while requests are being handled: the server stops taking new
// ones, finishes each it began with a whole answer, says "tokend stopped"
// and exits 0 within 10 s. Ordinary traffic meanwhile gets whole 2xx
// answers or none.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	bin := tokendBinary(t)
	path := tempDBPath(t)
	_, _, key := seedDriver(t, path)
	s := startChild(t, bin, path)

	// Requests the server is in the middle of: half create, half introspect.
	const slow = 12
	var reqs []*slowCreate
	for i := range slow {
		if i%2 == 0 {
			body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("drain %d", i)})
			reqs = append(reqs, startSlowRequest(t, s.addr, "/api/v1/tokens", key, body))
		} else {
			body, _ := json.Marshal(map[string]string{"token": key})
			reqs = append(reqs, startSlowRequest(t, s.addr, "/api/v1/introspect", key, body))
		}
	}

	// Ordinary traffic, until the server stops answering.
	var (
		mu              sync.Mutex
		problems        []string
		answered, ended atomic.Int64
		wg              sync.WaitGroup
	)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for range 100_000 {
				req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/token", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := client.Do(req)
				if err != nil {
					ended.Add(1) // no answer at all: refused or closed, never half
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				var out struct{ ID int64 }
				if err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.ID == 0 {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("GET /api/v1/token during shutdown: status %d, %d bytes %q (%v)", res.StatusCode, len(b), b, err))
					mu.Unlock()
					return
				}
				answered.Add(1)
			}
		})
	}
	// Some ordinary answers before the signal, so it lands mid-traffic.
	deadline := time.Now().Add(10 * time.Second)
	for answered.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The server has stopped listening once a new connection is refused.
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sent) > 10*time.Second {
			t.Fatal("tokend serve still took connections 10s after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-s.exited:
		t.Fatalf("tokend serve exited (%v) with %d requests unfinished\nstdout: %s", s.waitErr, slow, s.stdout)
	default:
	}
	if strings.Contains(s.stdout.String(), "tokend stopped") {
		t.Fatalf("tokend serve said it stopped with %d requests unfinished", slow)
	}

	// Now the bodies: every request the server began gets its whole answer.
	var keys []string
	for _, r := range reqs {
		status, b, err := r.finish()
		if err != nil {
			t.Errorf("POST %s after SIGTERM: %v (status %d, %q)", r.path, err, status, b)
			continue
		}
		switch r.path {
		case "/api/v1/tokens":
			var out struct {
				Key string `json:"key"`
			}
			if status != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.Key == "" {
				t.Errorf("POST %s after SIGTERM: status %d %q, want 201 with the key", r.path, status, b)
			}
			keys = append(keys, out.Key)
		default:
			var out struct {
				Active bool `json:"active"`
			}
			if status != http.StatusOK || json.Unmarshal(b, &out) != nil || !out.Active {
				t.Errorf("POST %s after SIGTERM: status %d %q, want 200 active", r.path, status, b)
			}
		}
	}

	err := s.waitExit(t, 10*time.Second-time.Since(sent))
	took := time.Since(sent)
	if err != nil {
		t.Errorf("tokend serve exited with %v after SIGTERM, want status 0\nstderr: %s", err, s.stderr)
	}
	lines := strings.Split(strings.TrimSpace(s.stdout.String()), "\n")
	if last := lines[len(lines)-1]; last != "tokend stopped" {
		t.Errorf("last line printed: %q, want \"tokend stopped\"", last)
	}
	if strings.Contains(s.stderr.String(), "level=ERROR") {
		t.Errorf("errors logged while stopping:\n%s", s.stderr)
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("stopped %v after SIGTERM; %d ordinary answers, %d clients ended without an answer", took.Round(time.Millisecond), answered.Load(), ended.Load())

	// What was made while stopping is there and works.
	db := openDB(t, path)
	for _, k := range keys {
		if _, err := db.Verify(context.Background(), k, "192.0.2.1"); err != nil {
			t.Errorf("a key made during the shutdown does not verify: %v", err)
		}
	}
}

// killWhenBusy SIGKILLs the server once killAfter creates are acknowledged
// and some are on their way (or 15 s have passed), waits until it is gone,
// and returns how many were in flight at the kill.
func (c *childServer) killWhenBusy(t *testing.T, acked, inFlight *atomic.Int64, killAfter int64) int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for (acked.Load() < killAfter || inFlight.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	inFlightAtKill := inFlight.Load()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := c.waitExit(t, 10*time.Second)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("tokend serve ended with %v, want killed by SIGKILL", err)
	}
	return inFlightAtKill
}
