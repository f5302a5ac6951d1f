package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// formOf is the form posted with c's request (c.FormParams).
func formOf(c echo.Context) (url.Values, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, unreadableForm(err)
	}
	return form, nil
}

// unreadableForm is the answer to a form that could not be read: the body
// limit's own 413 for a body too large, else a 400.
func unreadableForm(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
}
