package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"tokend/web"
)

// logFlags are serve's --log-format and --log-level.
type logFlags struct {
	format, level *string
}

func addLogFlags(fs *flag.FlagSet, getenv env) logFlags {
	return logFlags{
		format: fs.String("log-format", orDefault(getenv, "TOKEND_LOG_FORMAT", "text"), "log lines as `text` (key=value) or json"),
		level:  fs.String("log-level", orDefault(getenv, "TOKEND_LOG_LEVEL", "info"), "least severity logged: debug, info, warn or error (the access log is --access-log's)"),
	}
}

// options reads the flags, refusing a format or level tokend does not know.
func (f logFlags) options() (web.LogOptions, error) {
	format, err := web.ParseLogFormat(*f.format)
	if err != nil {
		return web.LogOptions{}, err
	}
	level, err := web.ParseLogLevel(*f.level)
	if err != nil {
		return web.LogOptions{}, err
	}
	return web.LogOptions{Format: format, Level: level}, nil
}

// metricsAddrFlag is serve's --metrics-addr: where Prometheus scrapes, a
// listener of its own; none unless given.
func metricsAddrFlag(fs *flag.FlagSet, getenv env) *string {
	return fs.String("metrics-addr", getenv("TOKEND_METRICS_ADDR"),
		"`address` to serve Prometheus metrics on, at /metrics (e.g. 127.0.0.1:9464); none unless given")
}

// metricsServer serves m at /metrics on its own listener.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenMetrics listens on addr for the metrics; nil, nil when addr is "".
func listenMetrics(addr string, m *web.Metrics, logger *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsServer{ln: ln, srv: &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}, nil
}

// serve serves until Close, and says where.
func (s *metricsServer) serve(stdout io.Writer) {
	if s == nil {
		return
	}
	fmt.Fprintf(stdout, "tokend metrics on http://%s/metrics\n", s.ln.Addr())
	go s.srv.Serve(s.ln)
}

func (s *metricsServer) close() {
	if s != nil {
		s.srv.Close()
	}
}
