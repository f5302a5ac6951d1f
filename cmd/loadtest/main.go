// Command loadtest drives a running tokend with wrk on loopback and prints
// requests per second for the token check as a ratio of the bare Echo
// program's (../shared/bench/echo-baseline: GET /hello, no middleware), the
// ceiling no route of tokend can pass. `make bench` runs it when wrk is
// installed, on SQLite and again on PostgreSQL.
//
// It makes its own database, a SQLite file in a temp dir or, with -db, a
// schema of its own on that PostgreSQL server (dropped at the end): an
// owner, a personal token, a system token and, by default, 100,000 more
// tokens, so the check runs against a store of realistic size. tokend runs
// as shipped (access log on) unless -access-log=false, with its metrics
// listener on (--metrics-addr, scraped once at the end) unless
// -metrics=false. The baseline and
// tokend's routes are run in turns, several rounds, each round in the
// reverse order of the one before (A B C D, D C B A, …), and the median of
// each is reported: absolute figures drift from run to run on a shared
// machine; ratios taken in one run hold. The reversal keeps a steady drift
// within the run from favouring the targets that run first in every round
// (exactly, over an even number of rounds).
//
// On PostgreSQL it can also measure how soon a revoke made through one
// instance is refused by another (-propagation) and how long `tokend db
// copy` takes to move the seeded store from SQLite (-copy).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
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
	// Stopped by a signal, or by whoever reads its output going away
	// (SIGPIPE), loadtest still stops its servers and drops its schemas.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type target struct {
	name, path string
	auth       bool
	base       *string // the server it runs against
}

// config is what the flags say.
type config struct {
	bin         string
	duration    time.Duration
	rounds      int
	conns       int
	threads     int
	filler      int
	soak        time.Duration
	db          string
	baseline    string
	accessLog   bool
	metrics     bool
	propagation int
	copy        bool
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "bin/tokend", "the tokend `binary` to run")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each wrk run")
	fs.IntVar(&c.rounds, "rounds", 9, "runs of each target, taken in turns (a median of 5 moved by 0.04 between runs on a shared 2-core VM)")
	fs.IntVar(&c.conns, "connections", 32, "wrk connections")
	fs.IntVar(&c.threads, "threads", 2, "wrk threads")
	fs.IntVar(&c.filler, "tokens", 100_000, "tokens in the store besides the two used")
	fs.DurationVar(&c.soak, "soak", 30*time.Second, "length of the steady runs against the token page and the API (0: none)")
	fs.StringVar(&c.db, "db", "", "a PostgreSQL server's postgres:// `URL`: run there, in a schema of its own, instead of a temp SQLite file")
	fs.StringVar(&c.baseline, "baseline", "", "`directory` of the echo-baseline program (default: ../shared/bench/echo-baseline from the repository's root)")
	fs.BoolVar(&c.accessLog, "access-log", true, "run tokend serve with its access log, as shipped (passed to serve as --access-log)")
	fs.BoolVar(&c.metrics, "metrics", true, "run tokend serve with --metrics-addr on a loopback port, as an operator who scrapes it does")
	fs.IntVar(&c.propagation, "propagation", -1, "revokes over which to measure the delay until a second instance refuses the key; needs -db (default 1000 with -db, 0: none)")
	fs.BoolVar(&c.copy, "copy", false, "time `tokend db copy` of the seeded store from a SQLite file into a fresh schema; needs -db")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.db != "" {
		if !store.IsPostgres(c.db) {
			return c, fmt.Errorf("-db must be a postgres:// or postgresql:// URL, got %q", redact(c.db))
		}
		if _, err := withParam(c.db, "search_path", "x"); err != nil {
			return c, fmt.Errorf("-db: %w", err)
		}
	}
	if c.propagation < 0 {
		c.propagation = 0
		if c.db != "" {
			c.propagation = 1000
		}
	}
	if c.propagation > 0 && c.db == "" {
		return c, errors.New("-propagation needs -db: it runs two instances on one PostgreSQL")
	}
	if c.copy && c.db == "" {
		return c, errors.New("-copy needs -db: it copies into a PostgreSQL schema")
	}
	if c.rounds < 1 {
		return c, errors.New("-rounds must be at least 1")
	}
	return c, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	if _, err := os.Stat(cfg.bin); err != nil {
		return fmt.Errorf("tokend binary: %w (make build makes bin/tokend)", err)
	}
	dir, err := os.MkdirTemp("", "tokend-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The database: a temp file, or a schema of our own on -db.
	dsn, backend := filepath.Join(dir, "tokend.db"), "SQLite (temp file)"
	if cfg.db != "" {
		schema, err := createSchema(ctx, cfg.db)
		if err != nil {
			return err
		}
		defer dropSchema(cfg.db, schema, out)
		if dsn, err = withParam(cfg.db, "search_path", schema); err != nil {
			return err
		}
		backend = "PostgreSQL " + redact(cfg.db) + ", schema " + schema
	}

	fmt.Fprintf(out, "seeding %d tokens on %s…\n", cfg.filler+2, backend)
	start := time.Now()
	seeded, err := seed(ctx, dsn, cfg.filler)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "seeded in %s\n", time.Since(start).Round(time.Millisecond))

	// The ceiling: the bare Echo program, built from its source.
	var baseBaseline string
	if bl, why := startBaseline(ctx, cfg.baseline, dir); bl != nil {
		defer bl.stop()
		baseBaseline = bl.base
	} else {
		fmt.Fprintf(out, "SKIPPED: the baseline row and every ratio to the bare Echo route: %s (-baseline DIR names its source)\n", why)
	}

	var extra []string
	if cfg.metrics {
		extra = []string{"--metrics-addr", "127.0.0.1:0"}
	}
	srv, err := startServer(ctx, cfg.bin, dsn, cfg.accessLog, filepath.Join(dir, "tokend-a.log"), extra...)
	if err != nil {
		return err
	}
	defer srv.stop()

	var targets []target
	if baseBaseline != "" {
		targets = append(targets, target{"echo-baseline GET /hello (bare Echo)", "/hello", false, &baseBaseline})
	}
	targets = append(targets,
		target{"GET /healthz (no token)", "/healthz", false, &srv.base},
		target{"GET /api/v1/token", "/api/v1/token", true, &srv.base},
		target{"GET /auth/verify", "/auth/verify", true, &srv.base},
	)
	results := make([][]float64, len(targets))
	rssBefore := rssKiB(srv.cmd.Process.Pid)
	for r := 0; r < cfg.rounds; r++ {
		for k := range targets {
			i := k
			if r%2 == 1 {
				i = len(targets) - 1 - k
			}
			tg := targets[i]
			var header []string
			if tg.auth {
				header = []string{"-H", "Authorization: Bearer " + seeded.personalKey}
			}
			rps, err := wrk(ctx, cfg.threads, cfg.conns, cfg.duration, *tg.base+tg.path, header)
			if err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			results[i] = append(results[i], rps)
		}
	}
	rssAfter := rssKiB(srv.cmd.Process.Pid)

	host, _ := os.Hostname()
	accessLog := "access log on (as shipped)"
	if !cfg.accessLog {
		accessLog = "--access-log=false"
	}
	if cfg.metrics {
		accessLog += ", metrics on (--metrics-addr)"
	}
	fmt.Fprintf(out, "\n%s, %d cores; wrk -t%d -c%d -d%s, %d rounds in turns, every other one backwards; %d tokens stored on %s; tokend serve with %s\n",
		host, runtime.NumCPU(), cfg.threads, cfg.conns, cfg.duration, cfg.rounds, cfg.filler+2, backend, accessLog)
	fmt.Fprintf(out, "%-38s %10s %8s %8s  %s\n", "target", "median rps", "ratio", "paired", "rounds")
	var baseline float64
	if baseBaseline != "" {
		baseline = median(results[0])
	}
	for i, tg := range targets {
		m := median(results[i])
		var rs []string
		var paired []float64
		for r, v := range results[i] {
			rs = append(rs, fmt.Sprintf("%.0f", v))
			if baseline > 0 {
				paired = append(paired, v/results[0][r])
			}
		}
		ratio, pairedRatio := "-", "-"
		if baseline > 0 {
			ratio, pairedRatio = fmt.Sprintf("%.2f", m/baseline), fmt.Sprintf("%.2f", median(paired))
		}
		fmt.Fprintf(out, "%-38s %10.0f %8s %8s  %s\n", tg.name, m, ratio, pairedRatio, strings.Join(rs, " "))
	}
	if baseline > 0 {
		fmt.Fprintln(out, "ratio: the route's median requests per second over the bare Echo route's, in this run")
		fmt.Fprintln(out, "paired: the median over rounds of the route's requests per second over the bare route's in the same round")
	}
	fmt.Fprintf(out, "server memory (RSS): %d MiB before, %d MiB after\n", rssBefore/1024, rssAfter/1024)
	if srv.metrics != "" {
		n, err := scrapeChecks(srv.metrics)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		fmt.Fprintf(out, "metrics: %.0f token checks counted ok (personal) at %s\n", n, srv.metrics)
	}

	if cfg.soak > 0 {
		if err := soak(ctx, out, cfg, srv, seeded.personalKey); err != nil {
			return err
		}
	}
	if cfg.propagation > 0 {
		if err := measurePropagation(ctx, out, cfg, dsn, dir, srv.base, seeded.personalKey); err != nil {
			return fmt.Errorf("propagation: %w", err)
		}
	}
	if cfg.copy {
		if err := timeCopy(ctx, out, cfg, dir); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
	}
	return nil
}

// soak runs the token page and the API steadily, each for cfg.soak.
func soak(ctx context.Context, out io.Writer, cfg config, srv *server, personalKey string) error {
	cookie, err := signIn(srv.base, ownerEmail, ownerPassword)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	fmt.Fprintf(out, "\nsteady runs of %s each (any error or non-2xx answer fails):\n", cfg.soak)
	for _, s := range []struct {
		name, path, header string
	}{
		{"GET /tokens (signed in, owner's page)", "/tokens", "Cookie: " + cookie},
		{"GET /api/v1/token", "/api/v1/token", "Authorization: Bearer " + personalKey},
	} {
		before := rssKiB(srv.cmd.Process.Pid)
		rps, err := wrk(ctx, cfg.threads, cfg.conns, cfg.soak, srv.base+s.path, []string{"-H", s.header})
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(out, "%-38s %10.0f rps, 0 errors; RSS %d → %d MiB\n", s.name, rps, before/1024, rssKiB(srv.cmd.Process.Pid)/1024)
	}
	return nil
}

const (
	orgName       = "Load Test"
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

// server is a running `tokend serve`.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	metrics string // its metrics' URL, when on
	logPath string
	exited  chan struct{}
}

var (
	servingLine = regexp.MustCompile(`^tokend serving (http://\S+) `)
	metricsLine = regexp.MustCompile(`^tokend metrics on (http://\S+)$`)
	checksOK    = regexp.MustCompile(`(?m)^tokend_token_checks_total\{kind="personal",result="ok"\} (\S+)$`)
)

// scrapeChecks reads the metrics as Prometheus would, and returns how many
// checks of a personal token they counted ok.
func scrapeChecks(url string) (float64, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	m := checksOK.FindSubmatch(b)
	if res.StatusCode != http.StatusOK || m == nil {
		return 0, fmt.Errorf("GET %s: %s, no count of token checks", url, res.Status)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// startServer runs `tokend serve` on dsn on a free loopback port. Its
// standard error (the access log, when on) goes to logPath, a file, as an
// operator's would: each line still costs the server its write.
func startServer(ctx context.Context, bin, dsn string, accessLog bool, logPath string, extra ...string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, append([]string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--access-log=" + strconv.FormatBool(accessLog)}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	dieWithUs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	found, metricsAt := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			} else if m := metricsLine.FindStringSubmatch(sc.Text()); m != nil {
				metricsAt <- m[1]
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.base = <-found:
		s.base = strings.Replace(s.base, "//localhost:", "//127.0.0.1:", 1)
		if len(extra) > 0 && slices.Contains(extra, "--metrics-addr") {
			select {
			case s.metrics = <-metricsAt:
			case <-time.After(5 * time.Second):
				s.stop()
				return nil, fmt.Errorf("tokend did not say where its metrics are: %s", s.logTail())
			}
		}
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("tokend serve exited: %s", s.logTail())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("tokend did not start within 30s: %s", s.logTail())
	}
}

// stop ends the server as an operator would, with SIGTERM, and waits.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// logTail is the end of the server's standard error, for a message.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(nothing on its standard error)"
	}
	return strings.TrimSpace(string(b))
}

var (
	rpsLine    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	non2xxLine = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	errorsLine = regexp.MustCompile(`Socket errors: (.*)`)
)

// wrk runs one load and returns its requests per second; any non-2xx answer
// or socket error fails the run.
func wrk(ctx context.Context, threads, conns int, d time.Duration, url string, header []string) (float64, error) {
	args := append([]string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + d.String()}, header...)
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
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
