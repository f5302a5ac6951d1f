package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"tokend/store"
)

// apiWhoAmI is GET /api/v1/token. Some integrations ask it on every call,
// so it checks its token itself, as requireToken would but without putting
// the principal on the context, and answers with appendPrincipalJSON
// (apijson.go): the bytes encoding/json writes for toAPIPrincipal, at a
// fraction of the cost.
func (s *Server) apiWhoAmI(c echo.Context) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	s.warnExpiry(c, p)
	if c.Request().URL.RawQuery != "" {
		return c.JSON(http.StatusOK, toAPIPrincipal(p)) // ?pretty indents it
	}
	return writePrincipalJSON(c, http.StatusOK, &p)
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// apiListTokens is GET /api/v1/tokens: a personal token sees its member's
// personal tokens; a token acting as admin sees all of the organization's.
func (s *Server) apiListTokens(c echo.Context) error {
	p := principalOf(c)
	q, err := apiQuery(c)
	if err != nil {
		return err
	}
	f, err := apiTokenFilter(q, p)
	if err != nil {
		return err
	}
	// One more than asked tells whether there is a next page.
	f.Limit++
	ts, err := s.db.ListTokens(c.Request().Context(), p, f)
	if err != nil {
		return err
	}
	out := struct {
		Tokens     []apiToken `json:"tokens"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Tokens: []apiToken{}}
	now := s.db.Now()
	for i, t := range ts {
		if i == f.Limit-1 {
			out.NextCursor = f.CursorAfter(ts[i-1]).String()
			break
		}
		out.Tokens = append(out.Tokens, toAPIToken(t, now))
	}
	return c.JSON(http.StatusOK, out)
}

// apiNewToken is the body of POST /api/v1/tokens.
type apiNewToken struct {
	// Kind is kept as sent: a *string would read null as left out, and
	// only leaving it out means personal.
	Kind          jsontext.Value `json:"kind"`
	Name          string         `json:"name"`
	Roles         []string       `json:"roles"`
	ExpiresInDays *int           `json:"expires_in_days"`
	ExpiresAt     *string        `json:"expires_at"`
	Description   string         `json:"description"`
	AllowedIPs    []string       `json:"allowed_ips"`
}

// apiCreateToken is POST /api/v1/tokens: the key is in this response only.
func (s *Server) apiCreateToken(c echo.Context) error {
	p := principalOf(c)
	var in apiNewToken
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	nt := store.NewToken{Kind: store.KindPersonal, Name: in.Name, Description: in.Description}
	if in.Kind != nil {
		var kind string
		// null, a number or a list leave kind empty, which is refused.
		_ = json.Unmarshal(in.Kind, &kind)
		switch nt.Kind = store.TokenKind(kind); nt.Kind {
		case store.KindPersonal, store.KindSystem:
		default:
			return invalidRequest("kind", "kind must be personal or system.")
		}
	}
	var err error
	if nt.Roles, err = store.ParseRoles(in.Roles...); err != nil {
		return err
	}
	if nt.AllowedIPs, err = store.ParseAllowList(in.AllowedIPs...); err != nil {
		return err
	}
	// Whole seconds, as the store counts: a lifetime of exactly the
	// organization's maximum must not exceed it by a fraction of a second.
	// No expiry is said by leaving both fields out or null, never by a
	// value: a zero date is a date long past.
	now := s.db.Now().UTC().Truncate(time.Second)
	switch {
	case in.ExpiresInDays != nil && in.ExpiresAt != nil:
		return invalidRequest("expires_at", "Give expires_in_days or expires_at, not both.")
	case in.ExpiresInDays != nil:
		if *in.ExpiresInDays < 1 || *in.ExpiresInDays > store.MaxTokenLifetimeDays {
			return invalidRequest("expires_in_days", "expires_in_days must be from 1 to "+strconv.Itoa(store.MaxTokenLifetimeDays)+".")
		}
		nt.ExpiresAt = new(now.AddDate(0, 0, *in.ExpiresInDays))
	case in.ExpiresAt != nil:
		exp, err := parseExpiry(*in.ExpiresAt)
		if err != nil {
			return invalidRequest("expires_at", "expires_at must be a date (2006-01-02) or an RFC 3339 date-time (2006-01-02T15:04:05Z).")
		}
		nt.ExpiresAt = &exp
	}
	if nt.Kind == store.KindSystem && !p.Has(store.RoleAdmin) {
		return errInsufficientRole(store.RoleAdmin)
	}
	t, key, err := s.db.CreateToken(c.Request().Context(), p, nt)
	if se := (*store.Error)(nil); errors.As(err, &se) && se.Field == "expires" {
		// Named as this request named it: expires_in_days only when it
		// gave a number of days; otherwise the expiry is a date, given or
		// missing (as when the organization has a maximum).
		field := "expires_at"
		if in.ExpiresInDays != nil {
			field = "expires_in_days"
		}
		return invalidRequest(field, se.Message)
	} else if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, struct {
		Token apiToken `json:"token"`
		Key   string   `json:"key"`
	}{toAPIToken(t, now), string(key)})
}

// apiRevokeToken is DELETE /api/v1/tokens/{id}. Revoking twice changes
// nothing: revoked says whether this request did it.
func (s *Server) apiRevokeToken(c echo.Context) error {
	id, err := tokenParam(c)
	if err != nil {
		return err
	}
	t, revoked, err := s.db.RevokeToken(c.Request().Context(), principalOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Token   apiToken `json:"token"`
		Revoked bool     `json:"revoked"`
	}{toAPIToken(t, s.db.Now()), revoked})
}
