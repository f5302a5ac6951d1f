package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// statusOf maps a store error code to an HTTP status.
var statusOf = map[string]int{
	store.EINVALID:   http.StatusUnprocessableEntity,
	store.ENOTFOUND:  http.StatusNotFound,
	store.ECONFLICT:  http.StatusConflict,
	store.EFORBIDDEN: http.StatusForbidden,
	store.EINTERNAL:  http.StatusInternalServerError,
}

// handleError is the one place errors become responses. People see a page
// that says what happened in words; internal details go to the log only.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, message := http.StatusInternalServerError, store.ErrorMessage(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		if msg, ok := he.Message.(string); ok && status < 500 {
			message = msg
		}
		switch status {
		case http.StatusNotFound:
			message = "There is no such page, or it is not yours to see."
		case http.StatusMethodNotAllowed:
			message = "That action is not possible here."
		case http.StatusRequestEntityTooLarge:
			message = "That request is too large."
		}
	} else if code := store.ErrorCode(err); code != store.EINTERNAL {
		status = statusOf[code]
	}
	if status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "path", c.Request().URL.Path, "error", err)
	}
	page := views.ErrorPage{Status: status, Title: http.StatusText(status), Message: message}
	if m, ok := memberOf(c); ok {
		v := viewerOf(c, m)
		page.Viewer = &v
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	component := views.ErrorView(page)
	if isHTMX(c) {
		// Said in a dialog over the page that made the request.
		c.Response().Header().Set("HX-Retarget", "#dialog-slot")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		component = views.ErrorDialog(page)
	}
	if err := render(c, status, component); err != nil {
		s.log.Error("render error page", "error", err)
	}
}
