package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokend/static"
	"tokend/store"
)

// routes is every route of the server, in one place.
func (s *Server) routes() {
	e := s.echo
	// Request id, security headers, body limit, CSRF, panics, access log
	// and metrics: one middleware (frame.go says why).
	s.bodyLimit, s.csrf = middleware.BodyLimit("64K"), csrf()
	e.Use(s.frame)

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles(static.FS))))

	// Pages, for people signed in with a browser.
	e.GET(loginPath, s.loginPage)
	e.POST(loginPath, s.login, s.countSignIns)
	e.POST("/logout", s.logout, s.requireMember)

	e.GET("/", s.home, s.requireMember)
	e.GET(tokensRoot, s.tokensPage, s.requireMember)
	e.GET("/tokens/personal/new", s.newPersonalTokenForm, s.requireMember)
	e.POST("/tokens/personal", s.createPersonalToken, s.requireMember)
	systemOwner := requireOwnerTo("manage system tokens")
	e.GET("/tokens/system/new", s.newSystemTokenForm, s.requireMember, systemOwner)
	e.POST("/tokens/system", s.createSystemToken, s.requireMember, systemOwner)
	e.GET("/tokens/:id/revoke", s.confirmRevoke, s.requireMember)
	e.POST("/tokens/:id/revoke", s.revokeToken, s.requireMember)
	e.GET(bulkRevokePath, s.confirmBulkRevoke, s.requireMember)
	e.POST(bulkRevokePath, s.bulkRevoke, s.requireMember)
	// A token's own page; :id is digits only (tokenParam), and the static
	// paths above win over it.
	e.GET("/tokens/:id", s.tokenPage, s.requireMember)
	e.POST("/tokens/:id/edit", s.editToken, s.requireMember)
	e.POST("/tokens/:id/rotate", s.rotateToken, s.requireMember)
	e.POST("/tokens/:id/end-grace", s.endGrace, s.requireMember)
	e.POST("/tokens/settings", s.saveTokenSettings, s.requireMember, requireOwnerTo("set the token policy"))

	// The owner's console: Audit Log.
	auditOwner := requireOwnerTo("see the audit log")
	e.GET(auditRoot, s.auditPage, s.requireMember, auditOwner)
	e.GET("/audit/export", s.exportAudit, s.requireMember, auditOwner)
	e.POST("/audit/retention", s.saveAuditRetention, s.requireMember, auditOwner)

	// The owner's console: Members.
	members := e.Group("/members", s.requireMember, requireOwnerTo("manage members"))
	members.GET("", s.membersPage)
	members.GET("/invite", s.inviteForm)
	members.POST("/invitations", s.inviteMember)
	members.POST("/invitations/:id/withdraw", s.withdrawInvitation)
	members.GET("/:id/roles", s.memberRolesForm)
	members.POST("/:id/roles", s.setMemberRoles)
	members.GET("/:id/remove", s.offboarding)
	members.POST("/:id/remove", s.removeMember)
	// The invitation link, opened by whoever holds it, signed in or not.
	e.GET("/invitations/:code", s.invitationPage)
	e.POST("/invitations/:code", s.acceptInvitation)

	// The API, for integrations presenting a bearer token.
	e.GET("/api/v1/openapi.json", serveOpenAPI)
	e.GET("/api/v1/token", s.apiWhoAmI) // checks its token itself, as /auth/verify does
	e.GET("/api/v1/tokens", s.apiListTokens, s.requireToken)
	e.POST("/api/v1/tokens", s.apiCreateToken, s.requireToken)
	e.POST("/api/v1/tokens/revoke", s.apiBulkRevoke, s.requireToken)
	e.DELETE("/api/v1/tokens/:id", s.apiRevokeToken, s.requireToken)
	e.GET("/api/v1/tokens/:id", s.apiGetToken, s.requireToken)
	e.PATCH("/api/v1/tokens/:id", s.apiUpdateToken, s.requireToken)
	e.POST("/api/v1/tokens/:id/rotate", s.apiRotateToken, s.requireToken)
	e.POST("/api/v1/tokens/:id/end-grace", s.apiEndGrace, s.requireToken)
	// Leak reports come from whoever found a key, with no token of their
	// own; rate limited per address, and signed when keys are configured.
	e.POST("/api/v1/leaks", s.apiReportLeaks)
	e.POST("/api/v1/introspect", s.apiIntrospect, s.requireToken, requireRole(store.RoleAdmin))
	e.GET("/api/v1/audit-events", s.apiAuditEvents, s.requireToken, requireRole(store.RoleAdmin))

	// For reverse proxies: any method, and Envoy's ext_authz appends the
	// original path.
	e.Any("/auth/verify", s.verify)
	e.Any("/auth/verify/*", s.verifyOriginalPath)
}
