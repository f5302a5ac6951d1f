package main

// README's nginx auth_request block, run in real nginx in front of
// `tokend serve` and an upstream of the test's own.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokend/store"
)

// The addresses README's nginx block names, which the test replaces with
// its own tokend's and upstream's.
const (
	readmeTokendURL   = "http://127.0.0.1:8080"
	readmeUpstreamURL = "http://videos-backend"
)

// nginxBlock is README's nginx block, between its markers, read from the
// file each time so that what the README shows is what is tested.
var nginxBlock = regexp.MustCompile("(?s)<!-- nginx-auth-request:.*?-->\n```nginx\n(.*?)```\n<!-- /nginx-auth-request -->")

func readmeNginxBlock(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := nginxBlock.FindAllSubmatch(readme, -1)
	if len(m) != 1 {
		t.Fatalf("README.md has %d nginx auth_request blocks between <!-- nginx-auth-request: … --> and <!-- /nginx-auth-request -->, want 1", len(m))
	}
	block := string(m[0][1])
	for _, addr := range []string{readmeTokendURL, readmeUpstreamURL} {
		if n := strings.Count(block, addr); n != 1 {
			t.Fatalf("README's nginx block names %s %d times, want once (the test replaces it):\n%s", addr, n, block)
		}
	}
	return block
}

// nginxBinary is the nginx to run: on PATH, or where Debian puts it, which
// is not on a user's PATH. Without one the test is skipped, unless
// TOKEND_REQUIRE_NGINX=1 (CI) makes that a failure.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "nginx not found (apt-get install nginx): README's nginx block is not tested"
	if os.Getenv("TOKEND_REQUIRE_NGINX") == "1" {
		t.Fatal(msg + ", and TOKEND_REQUIRE_NGINX=1 makes that a failure")
	}
	t.Skip(msg)
	return ""
}

// freePort is a port of 127.0.0.1 nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx as this user, in the foreground, with a config of
// the given server block's contents, every path it writes under a temp
// directory. It returns the address it listens on once it accepts
// connections.
func startNginx(t *testing.T, bin, serverBlock string) string {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
%[3]s
    }
}
`, dir, addr, serverBlock)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	errorLog := filepath.Join(dir, "error.log")
	// -e: the error log from the start, before the config is read, rather
	// than the default under /var/log.
	cmd := exec.Command(bin, "-p", dir, "-e", errorLog, "-c", confPath)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(errorLog)
			t.Logf("nginx error log:\n%s", log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(errorLog)
			t.Fatalf("nginx ended before it listened: %v\n%s\nerror log:\n%s\nconfig:\n%s", err, out, log, conf)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 20s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// upstreamRequest is what the test's upstream was sent.
type upstreamRequest struct {
	URI    string
	Header http.Header
}

// echoUpstream is the application behind nginx: it answers 200 with the
// request it got, and keeps a record of them.
type echoUpstream struct {
	mu   sync.Mutex
	seen []upstreamRequest
}

func (u *echoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := upstreamRequest{URI: r.RequestURI, Header: r.Header.Clone()}
	u.mu.Lock()
	u.seen = append(u.seen, req)
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(req)
}

func (u *echoUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// clientFrom is an HTTP client whose connections come from the address ip
// of the loopback network, so that nginx, and tokend after it, see a
// client of that address.
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

type proxied struct {
	status int
	header http.Header
	body   upstreamRequest // as the upstream echoed it, on a 200
}

func getVideo(t *testing.T, c *http.Client, url, key string, header ...string) proxied {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := proxied{status: res.StatusCode, header: res.Header}
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&p.body); err != nil {
			t.Fatalf("the upstream's answer: %v", err)
		}
	}
	return p
}

// README's nginx block, as README shows it, in real nginx in front of
// `tokend serve --trusted-proxies 127.0.0.1/32`: a working key with the
// role reaches the application with what tokend says of it in X-Token-*
// headers, and a client's own X-Token-* headers never do; no key, a
// revoked key or a key without the role are stopped at nginx with 401 or
// 403; and a client past its failure budget is answered 500, as README
// says nginx does with tokend's 429, while its working keys go on.
func TestNginxAuthRequest(t *testing.T) {
	bin := nginxBinary(t)
	block := readmeNginxBlock(t)
	ctx := context.Background()

	path := tempDBPath(t)
	db := openDB(t, path)
	owner := addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana", store.RoleOwner)
	maxi := addMember(t, db, "Acme Streaming", "max@acme.test", "Max", store.RoleVideo)
	newKey := func(by store.Member, kind store.TokenKind, name string, roles ...store.Role) (store.Token, string) {
		t.Helper()
		tok, text, err := db.CreateToken(ctx, by, store.NewToken{Kind: kind, Name: name, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return tok, string(text)
	}
	personal, personalKey := newKey(maxi, store.KindPersonal, "encoder")
	system, systemKey := newKey(owner, store.KindSystem, "player", store.RoleVideo, store.RoleViewer)
	_, viewerKey := newKey(owner, store.KindSystem, "dashboard", store.RoleViewer)
	revoked, revokedKey := newKey(maxi, store.KindPersonal, "old laptop")

	tokend := startServe(t, nil, "--db", path, "--trusted-proxies", "127.0.0.1/32", "--access-log=false")
	_, base, _ := tokend.waitServing(t)
	tokendAddr := strings.Replace(base, "http://localhost:", "127.0.0.1:", 1)
	upstream := &echoUpstream{}
	app := httptest.NewServer(upstream)
	t.Cleanup(app.Close)

	block = strings.Replace(block, readmeTokendURL, "http://"+tokendAddr, 1)
	block = strings.Replace(block, readmeUpstreamURL, app.URL, 1)
	nginx := "http://" + startNginx(t, bin, block)
	video := nginx + "/videos/42/manifest.m3u8?quality=hd"
	client := clientFrom(t, "127.0.0.1")

	t.Run("working key reaches the application", func(t *testing.T) {
		for _, tt := range []struct {
			name, key string
			tok       store.Token
			subject   string
			roles     string
		}{
			{"personal", personalKey, personal, "member:" + strconv.FormatInt(maxi.ID, 10), "video"},
			{"system", systemKey, system, "org:" + strconv.FormatInt(owner.OrgID, 10), "video viewer"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				// A client's own X-Token-* headers are replaced, never
				// passed on.
				p := getVideo(t, client, video, tt.key, "X-Token-Org", "999", "X-Token-Roles", "admin")
				if p.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 from the application", p.status)
				}
				if p.body.URI != "/videos/42/manifest.m3u8?quality=hd" {
					t.Errorf("the application was asked for %q", p.body.URI)
				}
				want := map[string]string{
					"X-Token-Id":      strconv.FormatInt(tt.tok.ID, 10),
					"X-Token-Kind":    string(tt.tok.Kind),
					"X-Token-Org":     strconv.FormatInt(owner.OrgID, 10),
					"X-Token-Subject": tt.subject,
					"X-Token-Roles":   tt.roles,
				}
				for name, v := range want {
					if got := p.body.Header.Values(name); len(got) != 1 || got[0] != v {
						t.Errorf("the application got %s: %q, want %q", name, got, v)
					}
				}
			})
		}
	})

	refused := func(t *testing.T, c *http.Client, key string, status int) proxied {
		t.Helper()
		before := upstream.count()
		p := getVideo(t, c, video, key)
		if p.status != status {
			t.Errorf("status = %d, want %d", p.status, status)
		}
		if n := upstream.count() - before; n != 0 {
			t.Errorf("the application was reached %d times", n)
		}
		return p
	}
	t.Run("no key", func(t *testing.T) {
		p := refused(t, client, "", http.StatusUnauthorized)
		if got := p.header.Get("WWW-Authenticate"); got != `Bearer realm="tokend"` {
			t.Errorf("WWW-Authenticate = %q, want tokend's challenge passed on", got)
		}
	})
	t.Run("revoked key", func(t *testing.T) {
		// Working, and so cached in tokend, until it is revoked from
		// another process on the database.
		if p := getVideo(t, client, video, revokedKey); p.status != http.StatusOK {
			t.Fatalf("before the revoke: status %d, want 200", p.status)
		}
		if _, ok, err := db.RevokeToken(ctx, maxi, revoked.ID); err != nil || !ok {
			t.Fatalf("RevokeToken = %v, %v", ok, err)
		}
		p := refused(t, client, revokedKey, http.StatusUnauthorized)
		if got := p.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate = %q, want tokend's invalid_token", got)
		}
	})
	t.Run("key without the role", func(t *testing.T) {
		refused(t, client, viewerKey, http.StatusForbidden)
	})
	t.Run("client past its failure budget", func(t *testing.T) {
		// Guesses from 127.0.0.2, which nginx names in X-Forwarded-For:
		// 401 until the budget is spent (ten), then tokend's 429, which
		// auth_request turns into a 500.
		guesser := clientFrom(t, "127.0.0.2")
		var statuses []int
		for i := 0; i < 100 && !slices.Contains(statuses, http.StatusInternalServerError); i++ {
			statuses = append(statuses, getVideo(t, guesser, video, fmt.Sprintf("tkp_guess%02dxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i)).status)
		}
		last := len(statuses) - 1
		if statuses[last] != http.StatusInternalServerError || last < 10 {
			t.Fatalf("statuses of guesses through nginx = %v; want ten or more 401s, then 500", statuses)
		}
		for _, s := range statuses[:last] {
			if s != http.StatusUnauthorized {
				t.Fatalf("statuses of guesses through nginx = %v; want 401s before the 500", statuses)
			}
		}
		// What nginx turned into a 500 is tokend's rate limit.
		direct := getVideo(t, guesser, "http://"+tokendAddr+"/auth/verify?role=video", "tkp_guessed")
		if direct.status != http.StatusTooManyRequests || direct.header.Get("Retry-After") == "" {
			t.Errorf("tokend asked directly from the same address: %d, Retry-After %q; want 429 with Retry-After", direct.status, direct.header.Get("Retry-After"))
		}
		// The same address's working key still reaches the application,
		// and another address's guesses are still 401.
		if p := getVideo(t, guesser, video, systemKey); p.status != http.StatusOK {
			t.Errorf("a working key from the limited address: status %d, want 200", p.status)
		}
		refused(t, client, "tkp_guessfromelsewherexxxxxxxxxxxxxxxxxxx", http.StatusUnauthorized)
	})
}
