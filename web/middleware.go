package web

import (
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// contentSecurityPolicy lets the page load scripts, styles and images from
// this server only: no inline script, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if isTLS(c) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// isTLS reports whether the browser reached us over HTTPS, directly or
// through a proxy that says so.
func isTLS(c echo.Context) bool {
	return c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https"
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
			Skipper: func(c echo.Context) bool {
				// Bearer tokens are not sent by browsers on their own, so
				// the API needs no CSRF token.
				p := c.Request().URL.Path
				return strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || isAPI(c)
			},
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
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		plainNext, secureNext := plain(next), secure(next)
		return func(c echo.Context) error {
			if isTLS(c) {
				return secureNext(c)
			}
			return plainNext(c)
		}
	}
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// logRequests logs one line per request: method, path, status, duration.
// Never a header, a form value or a body, where a token could be; and a
// token pasted into the path (Envoy's ext_authz sends the original path
// under /auth/verify/) is redacted, as is anything the error says.
func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true,
		LogStatus:   true,
		LogLatency:  true,
		LogRemoteIP: true,
		LogError:    true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("path", redactTokens(v.URIPath)), slog.Int("status", v.Status),
				slog.Duration("took", v.Latency), slog.String("remote", redactTokens(v.RemoteIP)),
			}
			if v.Status >= 500 && v.Error != nil {
				level = slog.LevelError
				attrs = append(attrs, slog.String("error", redactTokens(v.Error.Error())))
			}
			s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// recoverPanics turns a panic into a 500 through the error handler, and
// logs it with its stack to the server's log, redacted, rather than to
// Echo's own logger on stdout.
func (s *Server) recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", "path", redactTokens(c.Request().URL.Path),
				"error", redactTokens(err.Error()), "stack", redactTokens(string(stack)))
			return err
		},
	})
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
