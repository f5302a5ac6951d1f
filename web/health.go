package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds how long /readyz waits for the database.
const readyTimeout = 2 * time.Second

// readyz is GET /readyz, for load balancers choosing where to send
// requests: 200 when the database answers and changes made elsewhere reach
// this instance, 503 otherwise, with a JSON body saying which. /healthz
// stays liveness: an instance whose database is gone still answers the
// tokens it has verified, so it is alive, but not ready.
func (s *Server) readyz(c echo.Context) error {
	r := s.db.Ready(c.Request().Context(), readyTimeout)
	out := struct {
		Status       string `json:"status"`
		Database     string `json:"database"`
		ChangeSignal string `json:"change_signal"`
	}{"ready", "ok", "ok"}
	status := http.StatusOK
	if r.Database != nil {
		out.Database, status = "unreachable", http.StatusServiceUnavailable
	}
	if r.ChangeSignal != nil {
		out.ChangeSignal, status = "not listening", http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		out.Status = "not ready"
		c.Response().Header().Set(echo.HeaderRetryAfter, "5")
	}
	return c.JSON(status, out)
}
