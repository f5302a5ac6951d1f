// Command loadtest drives a running tokend with wrk on loopback and prints
// requests per second for the token check against an unauthenticated route
// of the same server. `make bench` runs it when wrk is installed.
//
// It makes its own database in a temp dir: an owner, a personal token, a
// system token and, by default, 100,000 more tokens, so the check runs
// against a store of realistic size. Targets are run in turns, several
// rounds, and the median of each is reported: absolute figures drift from
// run to run on a shared machine; ratios taken in one run hold.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tokend/store"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type target struct {
	name, path string
	auth       bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	bin := fs.String("bin", "bin/tokend", "the tokend `binary` to run")
	duration := fs.Duration("duration", 10*time.Second, "length of each wrk run")
	rounds := fs.Int("rounds", 3, "runs of each target, taken in turns")
	conns := fs.Int("connections", 32, "wrk connections")
	threads := fs.Int("threads", 2, "wrk threads")
	filler := fs.Int("tokens", 100_000, "tokens in the store besides the two used")
	soak := fs.Duration("soak", 30*time.Second, "length of the steady runs against the token page and the API (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "tokend-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "tokend.db")

	fmt.Fprintf(out, "seeding %d tokens…\n", *filler+2)
	personalKey, _, err := seed(ctx, dbPath, *filler)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	srv, base, err := startServer(*bin, dbPath)
	if err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()

	targets := []target{
		{"baseline GET /healthz (no token)", "/healthz", false},
		{"GET /api/v1/token", "/api/v1/token", true},
		{"GET /auth/verify", "/auth/verify", true},
	}
	results := make([][]float64, len(targets))
	rssBefore := rssKiB(srv.Process.Pid)
	for r := 0; r < *rounds; r++ {
		for i, tg := range targets {
			var header []string
			if tg.auth {
				header = []string{"-H", "Authorization: Bearer " + personalKey}
			}
			rps, err := wrk(*threads, *conns, *duration, base+tg.path, header)
			if err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			results[i] = append(results[i], rps)
		}
	}
	rssAfter := rssKiB(srv.Process.Pid)

	host, _ := os.Hostname()
	fmt.Fprintf(out, "\n%s, %d cores; wrk -t%d -c%d -d%s, %d rounds in turns; %d tokens stored\n",
		host, runtime.NumCPU(), *threads, *conns, *duration, *rounds, *filler+2)
	fmt.Fprintf(out, "%-36s %10s %10s  %s\n", "target", "median rps", "ratio", "rounds")
	baseline := median(results[0])
	for i, tg := range targets {
		m := median(results[i])
		var rs []string
		for _, v := range results[i] {
			rs = append(rs, fmt.Sprintf("%.0f", v))
		}
		fmt.Fprintf(out, "%-36s %10.0f %10.2f  %s\n", tg.name, m, m/baseline, strings.Join(rs, " "))
	}
	fmt.Fprintf(out, "server memory (RSS): %d MiB before, %d MiB after\n", rssBefore/1024, rssAfter/1024)

	if *soak <= 0 {
		return nil
	}
	cookie, err := signIn(base, ownerEmail, ownerPassword)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	fmt.Fprintf(out, "\nsteady runs of %s each (any error or non-2xx answer fails):\n", *soak)
	for _, s := range []struct {
		name, path, header string
	}{
		{"GET /tokens (signed in, owner's page)", "/tokens", "Cookie: " + cookie},
		{"GET /api/v1/token", "/api/v1/token", "Authorization: Bearer " + personalKey},
	} {
		before := rssKiB(srv.Process.Pid)
		rps, err := wrk(*threads, *conns, *soak, base+s.path, []string{"-H", s.header})
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(out, "%-36s %10.0f rps, 0 errors; RSS %d → %d MiB\n", s.name, rps, before/1024, rssKiB(srv.Process.Pid)/1024)
	}
	return nil
}

const (
	ownerEmail    = "owner@load.test"
	ownerPassword = "load test password"
)

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn signs in through the form, as a browser does, and returns the
// session cookie to send.
func signIn(base, email, password string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		return "", errors.New("no CSRF token on the sign-in page")
	}
	res, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		return "", err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("sign-in answered %d", res.StatusCode)
	}
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "tokend_session" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("no session cookie after signing in")
}

// seed makes the database: an owner with a personal token (acting as admin)
// and a system token, then filler tokens written straight into the table in
// one transaction (their secrets are random digests nobody holds).
func seed(ctx context.Context, dbPath string, filler int) (personalKey, systemKey string, err error) {
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	db.PasswordCost = 4
	owner, err := db.CreateMember(ctx, store.NewMember{
		OrgName: "Load Test", Email: ownerEmail, Name: "Owner", Password: ownerPassword, Roles: []store.Role{store.RoleOwner},
	})
	if err != nil {
		return "", "", err
	}
	_, pk, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "load personal"})
	if err != nil {
		return "", "", err
	}
	_, sk, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindSystem, Name: "load system", Roles: []store.Role{store.RoleVideo}})
	if err != nil {
		return "", "", err
	}

	raw, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return "", "", err
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return "", "", err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tokens (org_id, kind, created_by, name, digest, last_four, roles, created_at)
		VALUES (?, 'system', ?, ?, ?, 'fill', 'viewer', ?)`)
	if err != nil {
		return "", "", err
	}
	now := time.Now().Unix()
	digest := make([]byte, 32)
	for i := range filler {
		rand.Read(digest)
		if _, err := stmt.ExecContext(ctx, owner.OrgID, owner.ID, "filler "+strconv.Itoa(i), digest, now); err != nil {
			return "", "", err
		}
	}
	return string(pk), string(sk), tx.Commit()
}

var servingLine = regexp.MustCompile(`^tokend serving (http://\S+) `)

func startServer(bin, dbPath string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, "serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--access-log=false")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", bin, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case base := <-found:
		return cmd, base, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, "", errors.New("tokend did not start within 30s")
	}
}

var (
	rpsLine    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	non2xxLine = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	errorsLine = regexp.MustCompile(`Socket errors: (.*)`)
)

// wrk runs one load and returns its requests per second; any non-2xx answer
// or socket error fails the run.
func wrk(threads, conns int, d time.Duration, url string, header []string) (float64, error) {
	args := append([]string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + d.String()}, header...)
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	if m := non2xxLine.FindSubmatch(out); m != nil {
		return 0, fmt.Errorf("%s non-2xx answers\n%s", m[1], out)
	}
	if m := errorsLine.FindSubmatch(out); m != nil {
		return 0, fmt.Errorf("socket errors: %s\n%s", m[1], out)
	}
	m := rpsLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// rssKiB is a process's resident memory, from /proc; 0 where there is none.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
