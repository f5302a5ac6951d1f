package web

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"tokend/store"

	"github.com/labstack/echo/v4"
)

// Bearer authentication: the one place a request's token is read and
// checked, its failures rate limited per client address, and what it may
// do put on the context for the handlers.

const principalKey = "principal"

// queryKey is where requireToken leaves the query it read (apiQuery).
const queryKey = "query"

var errNoToken = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token",
	Message: "Send an access token as Authorization: Bearer <token>."}

// errAddressNotAllowed refuses a working token presented from outside its
// allow-list.
var errAddressNotAllowed = &apiError{Status: http.StatusForbidden, Code: "address_not_allowed", Message: store.ErrAddressNotAllowed.Message}

func errInsufficientRole(r store.Role) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "insufficient_role",
		Message: "This token does not act as " + string(r) + ", which this request needs."}
}

// bearerToken reads the token of an Authorization: Bearer header.
func bearerToken(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// errTwoAuthorizations refuses a request that carries more than one
// Authorization header: which of them counts would depend on the order a
// proxy kept them in (RFC 6750 §3.1: more than one way of sending a token
// is invalid_request).
var errTwoAuthorizations = &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "Authorization",
	Message: "Send one Authorization header, not several."}

// errTokenInURL refuses RFC 6750 §2.3's access_token query parameter: URLs
// are logged by proxies, browsers and servers, so a key in one leaks.
var errTokenInURL = invalidRequest("access_token",
	"Send the token in the Authorization header (Authorization: Bearer <token>), never in the URL: URLs are logged.")

// authenticate checks the request's bearer token.
func (s *Server) authenticate(c echo.Context) (store.Principal, error) {
	p, _, err := s.authenticateQuery(c)
	return p, err
}

// authenticateQuery is authenticate, and the query it read on the way (nil
// for none), so that a route reading the query does not parse it again.
func (s *Server) authenticateQuery(c echo.Context) (store.Principal, url.Values, error) {
	var q url.Values
	if c.Request().URL.RawQuery != "" {
		var err error
		if q, err = strictQuery(c); err != nil {
			return store.Principal{}, nil, err
		}
		if q.Has("access_token") {
			return store.Principal{}, nil, errTokenInURL
		}
	}
	p, err := s.bearerPrincipal(c)
	return p, q, err
}

// bearerPrincipal checks the one bearer token of the request.
func (s *Server) bearerPrincipal(c echo.Context) (store.Principal, error) {
	h := c.Request().Header[echo.HeaderAuthorization]
	if len(h) > 1 {
		return store.Principal{}, errTwoAuthorizations
	}
	var text string
	ok := len(h) == 1
	if ok {
		text, ok = bearerToken(h[0])
	}
	if !ok {
		return store.Principal{}, errNoToken
	}
	return s.checkToken(c, text, true)
}

// checkToken checks a token presented by this request's client. Failed
// checks are rate limited per client address. Past its budget, a client is
// answered only for tokens already in the cache: valid traffic behind the
// same address goes on at full speed, while guesses, which are never in the
// cache, get 429 without reaching the database. record counts the check as
// a use of the token.
func (s *Server) checkToken(c echo.Context, text string, record bool) (store.Principal, error) {
	ip := c.RealIP()
	// A check that records no use is introspection's, of a token presented
	// to its caller: the caller is told the allow-list and applies it.
	opt := store.VerifyOptions{Record: record, Load: true, AnyAddress: !record, UserAgent: c.Request().UserAgent()}
	var wait time.Duration
	if s.failures.anyBlocked() {
		wait = s.failures.retryAfter(clientKey(ip), time.Now())
		opt.Load = wait == 0
	}
	start := s.checkStarted()
	p, err := s.db.VerifyWith(c.Request().Context(), text, ip, opt)
	s.checkDone(start, text, p, err, wait)
	switch {
	case err == nil:
		return p, nil
	case wait > 0:
		return store.Principal{}, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "Too many failed token checks from your address; try again later.", RetryAfter: wait}
	case store.ErrorCode(err) == store.EUNAUTHORIZED:
		s.failures.fail(clientKey(ip), time.Now())
	case errors.Is(err, store.ErrAddressNotAllowed):
		// A working key from the wrong place may be a stolen one: a
		// failure like any other.
		s.failures.fail(clientKey(ip), time.Now())
		return store.Principal{}, errAddressNotAllowed
	}
	return p, err
}

// clientKey is the address failures are counted against: the address
// itself, or for IPv6 its /64, which one client usually holds whole.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Is4() || addr.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// requireToken lets an API request through with a working token, and puts
// what it may do on the context.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, q, err := s.authenticateQuery(c)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		if q != nil {
			c.Set(queryKey, q)
		}
		s.warnExpiry(c, p)
		return next(c)
	}
}

// apiQuery is the query of an API request behind requireToken: the one it
// read, not parsed again.
func apiQuery(c echo.Context) (url.Values, error) {
	if q, ok := c.Get(queryKey).(url.Values); ok {
		return q, nil
	}
	return strictQuery(c)
}

// requireRole refuses a token that does not act as r.
func requireRole(r store.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principalOf(c).Has(r) {
				return errInsufficientRole(r)
			}
			return next(c)
		}
	}
}

func principalOf(c echo.Context) store.Principal {
	p, _ := c.Get(principalKey).(store.Principal)
	return p
}
