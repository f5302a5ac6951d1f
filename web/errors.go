package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	// The database cannot be reached: worth trying again shortly.
	store.EUNAVAILABLE: http.StatusServiceUnavailable,
}

// unavailableRetry is what Retry-After says while the database is out of
// reach.
const unavailableRetry = 5

// handleError is the one place errors become responses. People see a page
// that says what happened in words; internal details go to the log only.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		return // the client went away; there is no one to answer
	}
	if isAPI(c) {
		s.handleAPIError(err, c)
		return
	}
	status, message := http.StatusInternalServerError, store.ErrorMessage(err)
	var he *echo.HTTPError
	if s.db.Unavailable(err) {
		status, message = http.StatusServiceUnavailable, store.ErrUnavailable.Message
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(unavailableRetry))
	} else if errors.As(err, &he) {
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
	if status >= 500 && status != http.StatusServiceUnavailable {
		// An outage is logged once, when it starts, by the store.
		s.logFailure(c, err)
	}
	page := views.ErrorPage{Status: status, Title: http.StatusText(status), Message: message, RequestID: requestID(c)}
	m, ok := memberOf(c)
	if !ok && status < 500 && csrfToken(c) != "" {
		// A page that does not exist still shows who is signed in (but not
		// under /static/, where no CSRF token is drawn for the menu's form).
		m, ok, _ = s.signedIn(c)
	}
	if ok {
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
		// Nothing was sent: say it in plain words rather than not at all.
		c.String(status, message)
		s.log.Error("render error page", "error", redactTokens(err.Error()), "request_id", requestID(c))
	}
}

// logFailure logs a request that failed on our side. The path and the
// error can quote what the request sent, a token among it: both are
// redacted.
func (s *Server) logFailure(c echo.Context, err error) {
	s.log.ErrorContext(c.Request().Context(), "request failed",
		"path", redactTokens(c.Request().URL.Path), "error", redactTokens(err.Error()), "request_id", requestID(c))
}

// isAPI reports whether the request is for integrations, which get JSON.
func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/auth/")
}

// apiCodes name the store's error codes on the API.
var apiCodes = map[string]struct {
	status int
	code   string
}{
	store.EINVALID:   {http.StatusBadRequest, "invalid_request"},
	store.ENOTFOUND:  {http.StatusNotFound, "not_found"},
	store.ECONFLICT:  {http.StatusConflict, "conflict"},
	store.EFORBIDDEN: {http.StatusForbidden, "forbidden"},
}

// tokenErrorCodes name why a token was refused.
var tokenErrorCodes = map[error]string{
	store.ErrTokenInvalid: "invalid_token",
	store.ErrTokenExpired: "expired_token",
	store.ErrTokenRevoked: "revoked_token",
}

// handleAPIError answers every API error in one shape,
// {"error":{"code":…,"message":…}}, with the status that goes with it.
func (s *Server) handleAPIError(err error, c echo.Context) {
	var ae *apiError
	var he *echo.HTTPError
	var se *store.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &se) && se.Code == store.EUNAUTHORIZED:
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Message: se.Message}
		for e, code := range tokenErrorCodes {
			if errors.Is(err, e) {
				ae.Code = code
			}
		}
	case s.db.Unavailable(err):
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Message: store.ErrUnavailable.Message,
			RetryAfter: unavailableRetry * time.Second}
	case errors.As(err, &se) && se.Code != store.EINTERNAL:
		m := apiCodes[se.Code]
		ae = &apiError{Status: m.status, Code: m.code, Message: se.Message, Field: se.Field}
	case errors.As(err, &he) && he.Code < 500:
		ae = &apiError{Status: he.Code, Code: strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_"),
			Message: http.StatusText(he.Code) + "."}
		if he.Code == http.StatusNotFound {
			ae.Code, ae.Message = "not_found", "There is no such resource, or it is not yours to see."
		}
	default:
		s.logFailure(c, err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side. Please try again."}
	}
	h := c.Response().Header()
	switch ae.Status {
	case http.StatusUnauthorized:
		// RFC 6750: a request that sent no token is told only the scheme.
		challenge := `Bearer realm="tokend"`
		if ae != errNoToken {
			challenge += `, error="invalid_token", error_description="` + ae.Message + `"`
		}
		h.Set(echo.HeaderWWWAuthenticate, challenge)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(ae.RetryAfter)))
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(ae.Status)
		return
	}
	if err := c.JSON(ae.Status, map[string]*apiError{"error": ae}); err != nil {
		s.log.Error("write API error", "error", redactTokens(err.Error()), "request_id", requestID(c))
	}
}
