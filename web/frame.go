package web

import (
	"context"
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
		kind := responseKindOf(c.Path())
		setSecurityHeaders(c, h, kind)
		observed := s.access != nil || s.metrics != nil
		var start time.Time
		if observed {
			start = time.Now()
		}
		err := s.guarded(c, next)
		if err != nil && kind == forwardAuthAnswer {
			setSecurityHeaders(c, h, apiAnswer) // a refusal a proxy may relay
		}
		if !observed {
			return err
		}
		if err != nil {
			c.Error(err)
		}
		took := time.Since(start) // the monotonic clock alone
		end := start.Add(took)
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

// bodyReadTimeout is how long a request's body may take to arrive. It is
// set here, where there is a body, rather than as the HTTP server's
// ReadTimeout, which arms a timer on every request: a token check has no
// body. tokend serve limits the headers (ReadHeaderTimeout), the answer
// (WriteTimeout) and an idle connection (IdleTimeout) itself.
const bodyReadTimeout = 30 * time.Second

// setBodyDeadline gives the body of c's request bodyReadTimeout from now,
// where the connection has a deadline (a test's recorder has none); the
// server sets the next request's own when it reads it.
func (s *Server) setBodyDeadline(c echo.Context) {
	http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(s.bodyReadTimeout))
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
		s.setBodyDeadline(c)
		h = s.bodyLimit(h)
	}
	return h(c)
}

// requestMessage is the message of every access-log line.
const requestMessage = "request"

// requestLine is the access log's line about one request: method, path,
// status, duration, client address and request id. Never a header, a
// form value or a body, where a token could be; and a token pasted into
// the path (Envoy's ext_authz sends the original path under
// /auth/verify/) is redacted, as is anything the error says.
type requestLine struct {
	at           time.Time
	method, path string
	status       int
	took         time.Duration
	remote, id   string
	err          error // a 5xx's cause, logged at level Error; else nil
}

// record is l as a slog record.
func (l requestLine) record() slog.Record {
	level := slog.LevelInfo
	if l.err != nil {
		level = slog.LevelError
	}
	r := slog.NewRecord(l.at, level, requestMessage, 0)
	r.AddAttrs(slog.String("method", l.method), slog.String("path", l.path), slog.Int("status", l.status),
		slog.Duration("took", l.took), slog.String("remote", l.remote), slog.String("request_id", l.id))
	if l.err != nil {
		r.AddAttrs(slog.String("error", l.err.Error()))
	}
	return r
}

// requestLogger writes the access log: LogOutput's lineHandler directly,
// any other slog handler through the record.
type requestLogger interface {
	writeRequest(ctx context.Context, l requestLine) error
}

// requestLoggerFor is the requestLogger writing to h, redacted.
func requestLoggerFor(h slog.Handler) requestLogger {
	if rh, ok := h.(redactingHandler); ok {
		if lh, ok := rh.next.(*lineHandler); ok {
			return lh
		}
	}
	return slogRequests{RedactingHandler(h)}
}

// slogRequests writes request lines as records, to a handler that redacts.
type slogRequests struct{ h slog.Handler }

func (s slogRequests) writeRequest(ctx context.Context, l requestLine) error {
	r := l.record()
	if !s.h.Enabled(ctx, r.Level) {
		return nil
	}
	return s.h.Handle(ctx, r)
}

// logAccess logs the line about the request c, answered with status at
// end, after took.
func (s *Server) logAccess(c echo.Context, end time.Time, status int, took time.Duration, id string, err error) {
	req := c.Request()
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	l := requestLine{at: end, method: req.Method, path: path, status: status, took: took, remote: c.RealIP(), id: id}
	if status >= 500 {
		l.err = err
	}
	s.access.writeRequest(req.Context(), l)
}
