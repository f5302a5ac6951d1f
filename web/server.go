// Package web is tokend's HTTP server: Echo routes, handlers, sessions and
// the one error handler. It calls store for every decision and renders views.
package web

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"tokend/store"
)

// MinSessionKeyLen is the shortest secret the session cookie is keyed with.
const MinSessionKeyLen = 32

// Config is what a Server needs beyond the database.
type Config struct {
	// SessionKey signs and encrypts the session cookie; at least
	// MinSessionKeyLen bytes.
	SessionKey []byte
	Logger     *slog.Logger
	// AccessLog logs a line for every request.
	AccessLog bool
	// AccessLogger takes the access log's lines instead of Logger
	// (tokend serve gives LogOutput's, which buffers them).
	AccessLogger *slog.Logger
	// Metrics, when given, count what the server and its store do; serve
	// them with Metrics.Handler on a listener of their own.
	Metrics *Metrics
	// TrustedProxies are the networks whose X-Forwarded-For names the client
	// address; without them, the address is the connection's.
	TrustedProxies []*net.IPNet
	// FailuresPerSecond and FailureBurst limit failed token checks per
	// client address; zero takes the defaults, one a second after ten.
	FailuresPerSecond float64
	FailureBurst      int
	// SignInFailures limits failed sign-ins: per address, ten then one every
	// six seconds; per account, five then one every thirty seconds. Tests
	// set their own.
	SignInFailures *SignInLimits
	// LeakReportKeys, when given, are the keys a leak report must be
	// signed with (ParseLeakReportKeys reads them).
	LeakReportKeys LeakReportKeys
}

// SignInLimits are the budgets of failed sign-ins.
type SignInLimits struct {
	PerAddrPerSecond, PerAccountPerSecond float64
	AddrBurst, AccountBurst               int
}

// Server holds the dependencies every handler uses.
type Server struct {
	db       *store.DB
	sessions *sessions.CookieStore
	log      *slog.Logger
	echo     *echo.Echo
	failures *failureLimiter
	access   requestLogger // nil when the access log is off
	metrics  *Metrics      // nil when off
	trusted  []*net.IPNet

	bodyLimit, csrf echo.MiddlewareFunc // applied by frame
	// bodyReadTimeout is frame's limit on a body (bodyReadTimeout; tests
	// shorten it).
	bodyReadTimeout time.Duration

	signInByAddr, signInByAccount *failureLimiter
	leaks                         *leakReports
}

// New builds the server and its routes.
func New(db *store.DB, cfg Config) (*Server, error) {
	if len(cfg.SessionKey) < MinSessionKeyLen {
		return nil, fmt.Errorf("session key must be at least %d bytes, got %d", MinSessionKeyLen, len(cfg.SessionKey))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Whatever logger the caller gives, no line of ours holds a key.
	cfg.Logger = slog.New(RedactingHandler(cfg.Logger.Handler()))
	// One secret, two keys: one signs the cookie, one encrypts it.
	hashKey, err := hkdf.Key(sha256.New, cfg.SessionKey, nil, "tokend session hash", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, cfg.SessionKey, nil, "tokend session block", 32)
	if err != nil {
		return nil, err
	}
	cookies := sessions.NewCookieStore(hashKey, blockKey)
	cookies.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(store.SessionLifetime.Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if cfg.FailuresPerSecond <= 0 {
		cfg.FailuresPerSecond = 1
	}
	if cfg.FailureBurst <= 0 {
		cfg.FailureBurst = 10
	}
	signIn := cfg.SignInFailures
	if signIn == nil {
		signIn = &SignInLimits{PerAddrPerSecond: 1.0 / 6, AddrBurst: 10, PerAccountPerSecond: 1.0 / 30, AccountBurst: 5}
	}
	s := &Server{
		db: db, sessions: cookies, log: cfg.Logger, echo: echo.New(),
		failures:        newFailureLimiter(cfg.FailuresPerSecond, cfg.FailureBurst),
		signInByAddr:    newFailureLimiter(signIn.PerAddrPerSecond, signIn.AddrBurst),
		signInByAccount: newFailureLimiter(signIn.PerAccountPerSecond, signIn.AccountBurst),
		leaks:           newLeakReports(cfg.LeakReportKeys),
	}
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		s.echo.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	s.trusted, s.metrics = cfg.TrustedProxies, cfg.Metrics
	s.bodyReadTimeout = bodyReadTimeout
	if cfg.AccessLog {
		al := cfg.Logger
		if cfg.AccessLogger != nil {
			al = cfg.AccessLogger
		}
		s.access = requestLoggerFor(al.Handler())
	}
	s.routes()
	if s.metrics != nil {
		s.metrics.bindRoutes(s.echo.Routes())
		s.metrics.watchStore(db)
	}
	return s, nil
}

// ServeHTTP makes the Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }
