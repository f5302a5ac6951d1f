package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokend/static"
)

// routes is every route of the server, in one place.
func (s *Server) routes() {
	e := s.echo
	e.Use(s.logRequests())
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("64K"))
	e.Use(csrf())

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles(static.FS))))

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
}
