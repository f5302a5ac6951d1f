package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokend/static"
	"tokend/store"
)

// routes is every route of the server, in one place.
func (s *Server) routes(accessLog bool) {
	e := s.echo
	if accessLog {
		e.Use(s.logRequests())
	}
	e.Use(s.recoverPanics())
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("64K"))
	e.Use(csrf())

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles(static.FS))))

	// Pages, for people signed in with a browser.
	e.GET("/login", s.loginPage)
	e.POST("/login", s.login)
	e.POST("/logout", s.logout, s.requireMember)

	e.GET("/", s.home, s.requireMember)
	e.GET("/tokens", s.tokensPage, s.requireMember)
	e.GET("/tokens/personal/new", s.newPersonalTokenForm, s.requireMember)
	e.POST("/tokens/personal", s.createPersonalToken, s.requireMember)
	e.GET("/tokens/system/new", s.newSystemTokenForm, s.requireMember, requireOwner)
	e.POST("/tokens/system", s.createSystemToken, s.requireMember, requireOwner)
	e.GET("/tokens/:id/revoke", s.confirmRevoke, s.requireMember)
	e.POST("/tokens/:id/revoke", s.revokeToken, s.requireMember)
	e.POST("/tokens/settings", s.saveTokenSettings, s.requireMember, requireOwner)

	// The API, for integrations presenting a bearer token.
	e.GET("/api/v1/openapi.json", serveOpenAPI)
	e.GET("/api/v1/token", s.apiWhoAmI, s.requireToken)
	e.GET("/api/v1/tokens", s.apiListTokens, s.requireToken)
	e.POST("/api/v1/tokens", s.apiCreateToken, s.requireToken)
	e.DELETE("/api/v1/tokens/:id", s.apiRevokeToken, s.requireToken)
	e.POST("/api/v1/introspect", s.apiIntrospect, s.requireToken, requireRole(store.RoleAdmin))

	// For reverse proxies: any method, and Envoy's ext_authz appends the
	// original path.
	e.Any("/auth/verify", s.verify)
	e.Any("/auth/verify/*", s.verifyOriginalPath)
}
