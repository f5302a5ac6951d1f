package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
)

// frame is the server's one middleware around every route: it gives
// every request its id (X-Request-Id, in the response and in every log
// line about the request), sets the security headers, limits the body,
// checks CSRF, turns a panic into a 500, and, when they are on, writes the
// access-log line and counts the request in the metrics. An error is
// answered here, through the error handler, so that the line and the
// metrics have the status that was sent.
//
// These are one middleware rather than five because Echo wraps its
// middleware around the route's handler anew at every request: each
// layer is an allocation and a call on the path of every token check.
func (s *Server) frame(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := s.requestIDFor(c)
		h := c.Response().Header()
		h[echo.HeaderXRequestID] = []string{id}
		setSecurityHeaders(c, h)
		if s.access == nil && s.metrics == nil {
			return s.guarded(c, next)
		}
		start := time.Now()
		err := s.guarded(c, next)
		if err != nil {
			c.Error(err)
		}
		end := time.Now()
		took := end.Sub(start)
		status := c.Response().Status
		if s.metrics != nil {
			s.metrics.recordRequest(c.Path(), c.Request().Method, status, took)
		}
		if s.access != nil {
			s.logAccess(c, end, status, took, id, err)
		}
		return nil
	}
}

// guarded runs next behind the body limit and the CSRF check, each only
// where it has work (a body to limit; a request csrfSkipped does not
// skip), and turns a panic into an error, logged with its stack, as Echo's
// Recover middleware does.
func (s *Server) guarded(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			perr, ok := r.(error)
			if !ok {
				perr = fmt.Errorf("%v", r)
			}
			stack := make([]byte, 4<<10)
			stack = stack[:runtime.Stack(stack, true)]
			err = s.logPanic(c, perr, stack)
		}
	}()
	h := withAuditClient(c, next)
	if !csrfSkipped(c) {
		h = s.csrf(h)
	}
	if c.Request().Body != http.NoBody {
		h = s.bodyLimit(h)
	}
	return h(c)
}

// logAccess logs one line for a request: method, path, status, duration,
// client address and request id. Never a header, a form value or a body,
// where a token could be; and a token pasted into the path (Envoy's
// ext_authz sends the original path under /auth/verify/) is redacted by
// the log's RedactingHandler, as is anything the error says.
//
// The record goes to the handler directly, as Logger.LogAttrs would send
// it but without looking up the caller, which no handler here prints.
func (s *Server) logAccess(c echo.Context, at time.Time, status int, took time.Duration, id string, err error) {
	ctx := c.Request().Context()
	level := slog.LevelInfo
	if status >= 500 && err != nil {
		level = slog.LevelError
	}
	if !s.access.Enabled(ctx, level) {
		return
	}
	req := c.Request()
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	r := slog.NewRecord(at, level, "request", 0)
	r.AddAttrs(slog.String("method", req.Method), slog.String("path", path), slog.Int("status", status),
		slog.Duration("took", took), slog.String("remote", c.RealIP()), slog.String("request_id", id))
	if level == slog.LevelError {
		r.AddAttrs(slog.String("error", err.Error()))
	}
	s.access.Handle(ctx, r)
}
