package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tokend/store"
	"tokend/web"
)

func serve(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	dbPath := dbFlag(fs, getenv)
	addr := fs.String("addr", orDefault(getenv, "TOKEND_ADDR", "127.0.0.1:8080"), "`address` to listen on")
	demo := fs.Bool("demo", false, "on first start, add a demo organization and print how to sign in")
	accessLog := fs.Bool("access-log", orDefault(getenv, "TOKEND_ACCESS_LOG", "true") != "false", "log a line for every request")
	proxies := fs.String("trusted-proxies", getenv("TOKEND_TRUSTED_PROXIES"), "comma-separated `CIDRs` of proxies whose X-Forwarded-For names the client")
	leakKeysFile := fs.String("leak-report-keys", getenv("TOKEND_LEAK_REPORT_KEYS"), "PEM `file` of ECDSA P-256 public keys leak reports must be signed with")
	cacheSize := cacheSizeFlag(fs)
	logging := addLogFlags(fs, getenv)
	metricsAddr := metricsAddrFlag(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logOpts, err := logging.options()
	if err != nil {
		return err
	}
	keepHeapFloor(heapFloor)
	trusted, err := parseCIDRs(*proxies)
	if err != nil {
		return err
	}
	var leakKeys web.LeakReportKeys
	if *leakKeysFile != "" {
		pemKeys, err := os.ReadFile(*leakKeysFile)
		if err != nil {
			return fmt.Errorf("leak report keys: %w", err)
		}
		if leakKeys, err = web.ParseLeakReportKeys(pemKeys); err != nil {
			return fmt.Errorf("leak report keys: %s: %w", *leakKeysFile, err)
		}
	}
	if !store.IsPostgres(*dbPath) {
		if dir := filepath.Dir(*dbPath); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
		}
	}
	db, err := openStore(ctx, *dbPath, store.WithCacheSize(*cacheSize))
	if err != nil {
		return err
	}
	defer db.Close()

	key, err := sessionKey(ctx, getenv, db)
	if err != nil {
		return err
	}
	if *demo {
		if err := seedDemo(ctx, db, stdout); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	// Every line, the HTTP server's own and the store's included, passes
	// through the redaction that keeps a token's text out of the log. The
	// access log's lines are buffered, and written out on exit.
	logOut, err := web.NewLogOutput(stderr, logOpts)
	if err != nil {
		return err
	}
	defer logOut.Close()
	logger := logOut.Logger()
	db.Logger = logger
	var metrics *web.Metrics
	if *metricsAddr != "" {
		metrics = web.NewMetrics(logOut)
	}
	srv, err := web.New(db, web.Config{SessionKey: key, Logger: logger, AccessLog: *accessLog, AccessLogger: logOut.AccessLogger(),
		Metrics: metrics, TrustedProxies: trusted, LeakReportKeys: leakKeys})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	metricsSrv, err := listenMetrics(*metricsAddr, metrics, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer metricsSrv.close()
	// Reading a body has a time limit of its own, set by the server where
	// there is a body (web/frame.go), rather than ReadTimeout's on every
	// request. Every answer has WriteTimeout's: a client that sends
	// request after request and reads none holds a connection even with
	// the smallest answers. The deadlines these set are kept coarsely,
	// enforced within a quarter of a second (deadlines.go).
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "tokend serving http://%s (database %s)\n", displayAddr(ln.Addr()), db)
	metricsSrv.serve(stdout)

	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(withCoarseDeadlines(ln, deadlineTick)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Finish the requests in flight, then stop.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return err
	}
	metricsSrv.close()
	// Every request's line is on its way out before serve says it stopped.
	logOut.Close()
	fmt.Fprintln(stdout, "tokend stopped")
	return nil
}

func parseCIDRs(s string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is not a CIDR such as 10.0.0.0/8", f)
		}
		nets = append(nets, n)
	}
	return nets, nil
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "127.0.0.1:") {
		return "localhost:" + strings.TrimPrefix(s, "127.0.0.1:")
	}
	return s
}

// sessionKey is the secret session cookies are signed with, which every
// instance serving the database must share: TOKEND_SESSION_KEY, else the
// contents of the file TOKEND_SESSION_KEY_FILE names, else (for a SQLite
// database that has one from before) the key kept beside it in
// FILE.session-key, else a key made once and kept in the database.
func sessionKey(ctx context.Context, getenv env, db *store.DB) ([]byte, error) {
	check := func(k []byte, from string) ([]byte, error) {
		if len(k) < web.MinSessionKeyLen {
			return nil, fmt.Errorf("%s must be at least %d bytes", from, web.MinSessionKeyLen)
		}
		return k, nil
	}
	if k := getenv("TOKEND_SESSION_KEY"); k != "" {
		return check([]byte(k), "TOKEND_SESSION_KEY")
	}
	if path := getenv("TOKEND_SESSION_KEY_FILE"); path != "" {
		k, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("TOKEND_SESSION_KEY_FILE: %w", err)
		}
		return check(bytes.TrimSpace(k), path)
	}
	if k, path, err := legacySessionKey(db.Path()); err != nil || k != nil {
		if err != nil {
			return nil, err
		}
		return check(k, path)
	}
	return db.SessionKey(ctx, func() []byte {
		b := make([]byte, 32)
		rand.Read(b)
		return []byte(hex.EncodeToString(b))
	})
}

// legacySessionKey is the session key a SQLite database kept beside it in
// FILE.session-key before keys were kept in the database, and that file's
// name; nil when there is none (or the database is not a file).
func legacySessionKey(dbPath string) (key []byte, path string, err error) {
	if dbPath == "" {
		return nil, "", nil
	}
	path = dbPath + ".session-key"
	k, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, nil
	} else if err != nil {
		return nil, path, err
	}
	return bytes.TrimSpace(k), path, nil
}
