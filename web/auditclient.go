package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// auditClient puts the request's client (address as trusted, User-Agent
// with any key redacted) on its context, for the audit events the store
// writes while serving it. The token checks of the hot path change nothing
// the audit log records from a request, so they skip the allocation.
func auditClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if p := r.URL.Path; p == "/auth/verify" || strings.HasPrefix(p, "/auth/verify/") || strings.HasPrefix(p, "/static/") ||
			p == "/healthz" || p == "/readyz" || p == "/api/v1/token" && r.Method == http.MethodGet {
			return next(c)
		}
		ctx := store.WithClient(r.Context(), store.Client{Addr: c.RealIP(), UserAgent: redactTokens(r.UserAgent())})
		c.SetRequest(r.WithContext(ctx))
		return next(c)
	}
}
