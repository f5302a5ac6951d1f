package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"tokend/store"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// tokendBinary builds the real program once per test run.
func tokendBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tokend-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "tokend")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// serverProcess is `tokend serve` as a process of its own.
type serverProcess struct {
	cmd  *exec.Cmd
	base string
}

var servingAddr = regexp.MustCompile(`^tokend serving (http://\S+) `)

func startProcess(t *testing.T, bin, dbPath string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--access-log=false")
	cmd.Env = append(os.Environ(), "TOKEND_SESSION_KEY=0123456789abcdef0123456789abcdef")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.base = <-found:
	case <-time.After(20 * time.Second):
		t.Fatal("tokend serve did not say it was serving within 20s")
	}
	return p
}

// call makes an API request with a bearer token and returns the status and
// the error code of the body, if any.
func (p *serverProcess) call(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error.Code
}

// A revoke through one server process holds on the very next request to
// another process serving the same database file, which had the token
// verified and cached; a member removed by the CLI likewise.
func TestRevocationSeenBySecondProcess(t *testing.T) {
	bin := tokendBinary(t)
	dbPath := tempDBPath(t)
	db := openDB(t, dbPath)
	owner := addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana", store.RoleOwner)
	member := addMember(t, db, "Acme Streaming", "max@acme.test", "Max", store.RoleVideo)
	ctx := context.Background()
	_, ownerKey, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "admin via owner"})
	if err != nil {
		t.Fatal(err)
	}
	system, systemKey, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindSystem, Name: "ci", Roles: []store.Role{store.RoleVideo}})
	if err != nil {
		t.Fatal(err)
	}
	_, memberKey, err := db.CreateToken(ctx, member, store.NewToken{Kind: store.KindPersonal, Name: "upload"})
	if err != nil {
		t.Fatal(err)
	}

	a, b := startProcess(t, bin, dbPath), startProcess(t, bin, dbPath)
	for _, key := range []store.TokenText{ownerKey, systemKey, memberKey} {
		for _, p := range []*serverProcess{a, b} {
			if status, code := p.call(t, http.MethodGet, "/api/v1/token", string(key)); status != http.StatusOK {
				t.Fatalf("%s before any revoke: %d %s", p.base, status, code)
			}
		}
	}

	if status, code := a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", system.ID), string(ownerKey)); status != http.StatusOK {
		t.Fatalf("revoke through the first process: %d %s", status, code)
	}
	if status, code := b.call(t, http.MethodGet, "/api/v1/token", string(systemKey)); status != http.StatusUnauthorized || code != "revoked_token" {
		t.Errorf("second process after the revoke: %d %q, want 401 revoked_token", status, code)
	}

	// The CLI is a third process; the member's token dies in both servers.
	if r := runTokend(t, nil, "", "user", "remove", "--db", dbPath, "--email", member.Email); r.err != nil {
		t.Fatal(r.err)
	}
	for _, p := range []*serverProcess{a, b} {
		if status, code := p.call(t, http.MethodGet, "/api/v1/token", string(memberKey)); status != http.StatusUnauthorized || code != "revoked_token" {
			t.Errorf("%s after the member left: %d %q, want 401 revoked_token", p.base, status, code)
		}
		if status, _ := p.call(t, http.MethodGet, "/api/v1/token", string(ownerKey)); status != http.StatusOK {
			t.Errorf("%s: the owner's token stopped working: %d", p.base, status)
		}
	}
}
