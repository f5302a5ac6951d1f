package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// withAuditClient puts the request's client (address as trusted, User-Agent
// with any key redacted) on its context, for the audit events the store
// writes while serving it. Only a request that may change something writes
// events; forward auth changes nothing whatever its method, and a dead
// token it is shown is recorded from the check's own options.
func withAuditClient(c echo.Context, next echo.HandlerFunc) echo.HandlerFunc {
	r := c.Request()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return next
	}
	if strings.HasPrefix(r.URL.Path, "/auth/verify") {
		return next
	}
	ctx := store.WithClient(r.Context(), store.Client{Addr: c.RealIP(), UserAgent: redactTokens(r.UserAgent())})
	c.SetRequest(r.WithContext(ctx))
	return next
}
