package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// A token's life on the API: read one, edit it, rotate its secret, end a
// rotation's grace. Each answers about a token the presenting token may
// manage (its member's personal tokens; as admin, any of the
// organization's); any other id is 404.

// apiTokenAnswer is a token alone: {"token": …}.
type apiTokenAnswer struct {
	Token apiToken `json:"token"`
}

// apiGetToken is GET /api/v1/tokens/{id}.
func (s *Server) apiGetToken(c echo.Context) error {
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	t, err := s.db.Token(c.Request().Context(), principalOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiTokenAnswer{toAPIToken(t, s.db.Now())})
}

// apiTokenEdit is the body of PATCH /api/v1/tokens/{id}: a member left out,
// or null, stays as it is.
type apiTokenEdit struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Roles       *[]string `json:"roles"`
	// AllowedIPs replaces the allow-list; [] allows any address.
	AllowedIPs *[]string `json:"allowed_ips"`
}

// apiUpdateToken is PATCH /api/v1/tokens/{id}: name and description of
// either kind; a system token's roles, by a token acting as admin; the
// allow-list. Roles and allow-list hold from the token's next use.
func (s *Server) apiUpdateToken(c echo.Context) error {
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	var in apiTokenEdit
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	e := store.TokenEdit{Name: in.Name, Description: in.Description}
	if in.Roles != nil {
		if e.Roles, err = store.ParseRoles(*in.Roles...); err != nil {
			return err
		}
		if e.Roles == nil {
			e.Roles = []store.Role{} // none: refused, not left alone
		}
	}
	if in.AllowedIPs != nil {
		list, err := store.ParseAllowList(*in.AllowedIPs...)
		if err != nil {
			return err
		}
		e.AllowedIPs = &list
	}
	t, err := s.db.UpdateToken(c.Request().Context(), principalOf(c), id, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiTokenAnswer{toAPIToken(t, s.db.Now())})
}

// apiRotate is the body of POST /api/v1/tokens/{id}/rotate.
type apiRotate struct {
	Grace *string `json:"grace"`
}

// apiRotateToken is POST /api/v1/tokens/{id}/rotate: a new secret for the
// same token, in this response only, as at creation. The old secret works
// for the grace asked for: now, 1h, 24h or 7d.
func (s *Server) apiRotateToken(c echo.Context) error {
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	var in apiRotate
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Grace == nil {
		return invalidRequest("grace", "grace is required: how long the old secret keeps working, now, 1h, 24h or 7d.")
	}
	grace, ok := graceOf(*in.Grace)
	if !ok {
		return invalidRequest("grace", "grace must be now, 1h, 24h or 7d.")
	}
	t, key, err := s.db.RotateToken(c.Request().Context(), principalOf(c), id, grace)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, struct {
		Token apiToken `json:"token"`
		Key   string   `json:"key"`
	}{toAPIToken(t, s.db.Now()), string(key)})
}

// apiEndGrace is POST /api/v1/tokens/{id}/end-grace: the secret before the
// last rotation stops now. Ending a grace that is not running changes
// nothing.
func (s *Server) apiEndGrace(c echo.Context) error {
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	t, err := s.db.EndGrace(c.Request().Context(), principalOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiTokenAnswer{toAPIToken(t, s.db.Now())})
}
