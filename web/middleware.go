package web

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// contentSecurityPolicy lets the page load scripts, styles and images from
// this server only: no inline script, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// headerSet is a set of response headers with their keys in canonical form
// and their values made once: every response shares them, and nothing
// changes a header's value in place (Set and Add replace the slice).
type headerSet []struct {
	key   string
	value []string
}

// documentHeaders are the security headers of everything a browser may
// open: pages, redirects, static files, error pages.
var documentHeaders = headerSet{
	{"Content-Security-Policy", []string{contentSecurityPolicy}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"same-origin"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=()"}},
}

// apiHeaders are the security headers of an API answer, as OWASP's REST
// Security Cheat Sheet gives them: nothing sniffed, loaded or framed.
// Referrer, opener and permissions policies govern documents, which an API
// answer is not; and every header costs its bytes on each of the millions
// of token checks an integration makes.
var apiHeaders = headerSet{
	{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
}

var strictTransportSecurity = []string{"max-age=31536000"}

// responseKind is what a route answers with, which says which security
// headers its responses need.
type responseKind uint8

const (
	documentAnswer responseKind = iota
	apiAnswer
	// forwardAuthAnswer is /auth/verify's: its 2xx answers go to the
	// proxy that asked, which copies the X-Token-* headers it is told to
	// and drops the rest, so they carry no security header. A refusal may
	// be relayed to the client (Traefik and Envoy send the auth server's
	// answer on), so it carries apiHeaders.
	forwardAuthAnswer
)

// responseKindOf is the kind of answer of the route pattern path, by the
// prefix by which the error handler answers JSON (isAPI).
func responseKindOf(path string) responseKind {
	switch {
	case strings.HasPrefix(path, "/api/"):
		return apiAnswer
	case path == "/auth/verify" || strings.HasPrefix(path, "/auth/verify/"):
		return forwardAuthAnswer
	}
	return documentAnswer
}

// setSecurityHeaders sets the security headers of kind on h, c's
// response's (Strict-Transport-Security too, over TLS).
func setSecurityHeaders(c echo.Context, h http.Header, kind responseKind) {
	set := documentHeaders
	switch kind {
	case apiAnswer:
		set = apiHeaders
	case forwardAuthAnswer:
		return
	}
	for _, sh := range set {
		h[sh.key] = sh.value
	}
	if isTLS(c) {
		h["Strict-Transport-Security"] = strictTransportSecurity
	}
}

// isTLS reports whether the browser reached us over HTTPS, directly or
// through a proxy that says so.
func isTLS(c echo.Context) bool {
	r := c.Request()
	// The header's key as net/http stores it, looked up without Get's
	// canonicalization: this runs on every request.
	proto := r.Header["X-Forwarded-Proto"]
	return r.TLS != nil || len(proto) > 0 && proto[0] == "https"
}

const (
	csrfField  = "_csrf"
	csrfCookie = "tokend_csrf"
)

var errCSRF = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or did not come from this site. Go back, reload the page and try again.")

// csrf guards every state-changing request with Echo's CSRF middleware: a
// browser that sends Sec-Fetch-Site is checked by it, any other must echo
// the token from its cookie in the form or the X-CSRF-Token header.
func csrf() echo.MiddlewareFunc {
	config := func(secure bool) echo.MiddlewareFunc {
		return middleware.CSRFWithConfig(middleware.CSRFConfig{
			Skipper:        csrfSkipped,
			TokenLookup:    "form:" + csrfField + ",header:" + echo.HeaderXCSRFToken,
			CookieName:     csrfCookie,
			CookiePath:     "/",
			CookieHTTPOnly: true,
			CookieSecure:   secure,
			CookieSameSite: http.SameSiteLaxMode,
			// Every form posts to its own origin, so a post from another
			// site, or from a sibling subdomain that could plant a CSRF
			// cookie, is refused with the same words as a bad token.
			AllowSecFetchSiteFunc: func(c echo.Context) (bool, error) { return false, errCSRF },
			ErrorHandler:          func(err error, c echo.Context) error { return errCSRF.WithInternal(err) },
		})
	}
	// The cookie is Secure when the browser came over HTTPS, as the session
	// cookie is; Echo's setting is fixed, so there is one of each.
	plain, secure := config(false), config(true)
	// Echo wraps its middleware around the route's handler at every
	// request; the frame calls this only for a request csrfSkipped does
	// not skip, so the API's token checks never build it.
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if isTLS(c) {
				return secure(next)(c)
			}
			return plain(next)(c)
		}
	}
}

// csrfSkipped reports whether a request needs no CSRF check: bearer
// tokens are not sent by browsers on their own, so the API needs none, and
// neither do static files and health checks, which change nothing.
func csrfSkipped(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || isAPI(c)
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// logPanic logs a panic a request caused, with its stack, to the
// server's log, redacted, rather than to Echo's own logger on stdout; the
// error goes on to the error handler as a 500.
func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.ErrorContext(c.Request().Context(), "panic", "path", redactTokens(c.Request().URL.Path),
		"error", redactTokens(err.Error()), "stack", redactTokens(string(stack)), "request_id", requestID(c))
	return err
}

// staticFiles serves the embedded static files, never a directory listing,
// with a cache lifetime short enough that a new release is picked up.
func staticFiles(files fs.FS) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}
