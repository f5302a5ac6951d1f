package web

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"tokend/store"

	"github.com/labstack/echo/v4"
)

// Checks for other services: RFC 7662 introspection and the forward-auth
// endpoint for nginx auth_request, Traefik ForwardAuth and Envoy ext_authz.

// introspection is an RFC 7662 answer. An inactive token says nothing else.
type introspection struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Scope     string `json:"scope,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Org       int64  `json:"org,omitempty"`
	TokenID   int64  `json:"token_id,omitempty"`
	Name      string `json:"name,omitempty"`
	// AllowedIPs are the addresses the token may be used from, for the
	// caller to apply to its own client; absent for any.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
}

// apiIntrospect is POST /api/v1/introspect (RFC 7662), for services that
// check tokens presented to them. The caller must act as admin, and only
// sees tokens of its own organization as active.
func (s *Server) apiIntrospect(c echo.Context) error {
	caller := principalOf(c)
	text, err := introspectedToken(c)
	if err != nil {
		return err
	}
	// Looking at a token is no use of it; a refused one counts against the
	// caller like any failed check, so introspection is no faster oracle.
	p, err := s.checkToken(c, text, false)
	var ae *apiError
	if errors.As(err, &ae) {
		return err // rate limited
	} else if store.ErrorCode(err) == store.EUNAUTHORIZED || err == nil && p.OrgID != caller.OrgID {
		return c.JSON(http.StatusOK, introspection{Active: false})
	} else if err != nil {
		return err
	}
	out := introspection{
		Active: true, TokenType: "bearer", Kind: string(p.Kind), Scope: strings.Join(roleKeys(p.Roles), " "),
		Sub: subject(p), Iat: p.CreatedAt.Unix(), Org: p.OrgID, TokenID: p.TokenID, Name: p.Name,
	}
	if !p.ExpiresAt.IsZero() {
		out.Exp = p.ExpiresAt.Unix()
	}
	if len(p.AllowedIPs) > 0 {
		out.AllowedIPs = p.AllowedIPs.Strings()
	}
	return c.JSON(http.StatusOK, out)
}

// introspectedToken reads the token to introspect from the request body
// only, form-encoded as RFC 7662 §2.1 has it or as JSON. A token in the URL
// is refused: proxies and browsers log URLs.
func introspectedToken(c echo.Context) (string, error) {
	r := c.Request()
	q, err := apiQuery(c)
	if err != nil {
		return "", err
	}
	if q.Has("token") {
		return "", invalidRequest("token", "Send the token in the request body (RFC 7662), never in the URL.")
	}
	if len(q) > 0 {
		k := slices.Sorted(maps.Keys(q))[0]
		return "", invalidRequest(k, "Introspection takes no query parameters; send token (and token_type_hint) in the body.")
	}
	mt, err := mediaType(c)
	if err != nil {
		return "", err
	}
	var tokens []string
	switch mt {
	case "":
		// No body at all reads as an empty form (token is required); a
		// body without a media type is not guessed at.
		var b [1]byte
		if n, _ := io.ReadFull(r.Body, b[:]); n > 0 {
			return "", errUnsupportedMediaType("application/x-www-form-urlencoded or application/json")
		}
	case echo.MIMEApplicationForm:
		if err := r.ParseForm(); err != nil {
			var he *echo.HTTPError // the body limit's
			if errors.As(err, &he) {
				return "", he
			}
			return "", invalidRequest("", "The body is not a form this request takes.")
		}
		tokens = r.PostForm["token"]
	case echo.MIMEApplicationJSON:
		var in struct {
			Token         *string `json:"token"`
			TokenTypeHint string  `json:"token_type_hint"` // RFC 7662 §2.1; every token here is a bearer token
		}
		if err := decodeJSON(c, &in); err != nil {
			return "", err
		}
		if in.Token != nil {
			tokens = []string{*in.Token}
		}
	default:
		return "", errUnsupportedMediaType("application/x-www-form-urlencoded or application/json")
	}
	switch {
	case len(tokens) > 1:
		return "", invalidRequest("token", "Send one token, not several.")
	case len(tokens) == 0 || tokens[0] == "":
		return "", invalidRequest("token", "token is required.")
	}
	return tokens[0], nil
}

// subject is who a token acts for: its member, or for a system token the
// organization it belongs to.
func subject(p store.Principal) string {
	if p.Kind == store.KindPersonal {
		return "member:" + strconv.FormatInt(p.MemberID, 10)
	}
	return "org:" + strconv.FormatInt(p.OrgID, 10)
}

// verify is /auth/verify, for reverse proxies (nginx auth_request,
// Traefik ForwardAuth): 200 and what the token is in headers, 401 for no
// working token, 403 when a ?role= is not held. The query is the proxy's
// configuration, so a parameter other than role is a mistake in it
// (?roles=admin would otherwise let every token through) and is refused.
func (s *Server) verify(c echo.Context) error {
	return s.forwardAuth(c, true)
}

// verifyOriginalPath is /auth/verify/*, Envoy ext_authz's form: the
// original request's path and query are appended, so the query is the
// client's, and its parameters are the application's business, not
// mistakes to refuse. role is still read (asking for more can only refuse
// more), and a query that does not parse is still refused.
func (s *Server) verifyOriginalPath(c echo.Context) error {
	return s.forwardAuth(c, false)
}

func (s *Server) forwardAuth(c echo.Context, onlyRole bool) error {
	p, q, err := s.authenticateQuery(c)
	if err != nil {
		return err
	}
	if onlyRole && (len(q) > 1 || len(q) == 1 && !q.Has("role")) {
		// The sort only when refusing: it names the same parameter
		// whatever the map's order.
		for _, k := range slices.Sorted(maps.Keys(q)) {
			if k != "role" {
				return invalidRequest(k, k+" is not a parameter /auth/verify takes; it takes role, once for each role required.")
			}
		}
	}
	// Every role asked for is required: a proxy configured with
	// ?role=video&role=admin lets through only a token that has both.
	var roles []store.Role
	for _, v := range q["role"] {
		r, ok := requiredRole(v)
		if !ok {
			return invalidRequest("role", "Each role must be one of admin, video, viewer, billing, support, one for each role parameter.")
		}
		roles = append(roles, r)
	}
	for _, r := range roles {
		if !p.Has(r) {
			return errInsufficientRole(r)
		}
	}
	// A proxy asks this before every request it forwards: the five values
	// share one slice (each its own, capped, part), under keys already in
	// canonical form.
	v := []string{strconv.FormatInt(p.TokenID, 10), string(p.Kind), strconv.FormatInt(p.OrgID, 10), subject(p), joinRoles(p.Roles)}
	h := c.Response().Header()
	h["X-Token-Id"], h["X-Token-Kind"], h["X-Token-Org"] = v[0:1:1], v[1:2:2], v[2:3:3]
	h["X-Token-Subject"], h["X-Token-Roles"] = v[3:4:4], v[4:5:5]
	return c.NoContent(http.StatusOK)
}

// requiredRole reads one ?role= of forward auth: one role, read as the API
// reads roles (any case), and one a token may carry: owner is a member's,
// never a token's, so asking for it is a mistake.
func requiredRole(v string) (store.Role, bool) {
	if strings.Contains(v, ",") {
		return "", false
	}
	rs, err := store.ParseRoles(v)
	if err != nil || len(rs) != 1 || !rs[0].Assignable() {
		return "", false
	}
	return rs[0], true
}
