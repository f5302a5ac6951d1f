package web

import (
	"errors"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"tokend/store"
)

const principalKey = "principal"

// apiError is an error answered as JSON on the API:
// {"error":{"code":…,"message":…,"field":…}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, for 429, is how long to wait.
	RetryAfter time.Duration `json:"-"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// invalidRequest is a 400 about field ("" for the request as a whole).
func invalidRequest(field, message string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Message: message}
}

var errNoToken = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token",
	Message: "Send an access token as Authorization: Bearer <token>."}

func errInsufficientRole(r store.Role) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "insufficient_role",
		Message: "This token does not act as " + string(r) + ", which this request needs."}
}

// bearerToken reads the token of an Authorization: Bearer header.
func bearerToken(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// errTwoAuthorizations refuses a request that carries more than one
// Authorization header: which of them counts would depend on the order a
// proxy kept them in (RFC 6750 §3.1: more than one way of sending a token
// is invalid_request).
var errTwoAuthorizations = &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "Authorization",
	Message: "Send one Authorization header, not several."}

// authenticate checks the request's bearer token.
func (s *Server) authenticate(c echo.Context) (store.Principal, error) {
	h := c.Request().Header[echo.HeaderAuthorization]
	if len(h) > 1 {
		return store.Principal{}, errTwoAuthorizations
	}
	var text string
	ok := len(h) == 1
	if ok {
		text, ok = bearerToken(h[0])
	}
	if !ok {
		return store.Principal{}, errNoToken
	}
	return s.checkToken(c, text, true)
}

// checkToken checks a token presented by this request's client. Failed
// checks are rate limited per client address. Past its budget, a client is
// answered only for tokens already in the cache: valid traffic behind the
// same address goes on at full speed, while guesses, which are never in the
// cache, get 429 without reaching the database. record counts the check as
// a use of the token.
func (s *Server) checkToken(c echo.Context, text string, record bool) (store.Principal, error) {
	ip := c.RealIP()
	opt := store.VerifyOptions{Record: record, Load: true}
	var wait time.Duration
	if s.failures.anyBlocked() {
		wait = s.failures.retryAfter(clientKey(ip), time.Now())
		opt.Load = wait == 0
	}
	p, err := s.db.VerifyWith(c.Request().Context(), text, ip, opt)
	switch {
	case err == nil:
		return p, nil
	case wait > 0:
		return store.Principal{}, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "Too many failed token checks from your address; try again later.", RetryAfter: wait}
	case store.ErrorCode(err) == store.EUNAUTHORIZED:
		s.failures.fail(clientKey(ip), time.Now())
	}
	return p, err
}

// clientKey is the address failures are counted against: the address
// itself, or for IPv6 its /64, which one client usually holds whole.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Is4() || addr.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// requireToken lets an API request through with a working token, and puts
// what it may do on the context.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.authenticate(c)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// requireRole refuses a token that does not act as r.
func requireRole(r store.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principalOf(c).Has(r) {
				return errInsufficientRole(r)
			}
			return next(c)
		}
	}
}

func principalOf(c echo.Context) store.Principal {
	p, _ := c.Get(principalKey).(store.Principal)
	return p
}

// apiOrg is an organization as the API shows it.
type apiOrg struct {
	ID   int64  `json:"id"`
	Name string `json:"name,omitempty"`
}

// apiMember is a member as the API shows one.
type apiMember struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// apiPrincipal is GET /api/v1/token: the token presented.
type apiPrincipal struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	Hint         string     `json:"hint"`
	LastFour     string     `json:"last_four"`
	Organization apiOrg     `json:"organization"`
	Member       *apiMember `json:"member,omitempty"`
	Roles        []string   `json:"roles"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
}

func (s *Server) apiWhoAmI(c echo.Context) error {
	p := principalOf(c)
	out := apiPrincipal{
		ID: p.TokenID, Kind: string(p.Kind), Name: p.Name, Hint: p.Hint(), LastFour: p.LastFour,
		Organization: apiOrg{ID: p.OrgID, Name: p.OrgName},
		Roles:        roleKeys(p.Roles),
		CreatedAt:    p.CreatedAt, ExpiresAt: optTime(p.ExpiresAt), LastUsedAt: optTime(p.LastUsedAt),
	}
	if p.Kind == store.KindPersonal {
		out.Member = &apiMember{ID: p.MemberID, Email: p.MemberEmail, Name: p.MemberName}
	}
	return c.JSON(http.StatusOK, out)
}

// apiToken is a token as the API lists it: never its secret.
type apiToken struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Hint      string     `json:"hint"`
	LastFour  string     `json:"last_four"`
	State     string     `json:"state"`
	Roles     []string   `json:"roles,omitempty"`
	Member    *apiMember `json:"member,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	// CreatedBy is the name of the member who made it, or "system token
	// NAME": a string, as it always was; the two below say it exactly.
	CreatedBy       string           `json:"created_by"`
	CreatedByMember *apiCreator      `json:"created_by_member,omitempty"`
	CreatedByToken  *apiCreatorToken `json:"created_by_token,omitempty"`
	// CreatorLeft: the member who made it has left the organization. A
	// system token they made still works; someone should look at it.
	CreatorLeft  bool       `json:"creator_left"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	LastUsedIP   string     `json:"last_used_ip,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// apiCreator is the member who made a token: on the page, or through one of
// their personal tokens.
type apiCreator struct {
	apiMember
	LeftAt *time.Time `json:"left_at,omitempty"`
}

// apiCreatorToken is the token that made a token on the API.
type apiCreatorToken struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Hint string `json:"hint"`
}

func toAPIToken(t store.Token, now time.Time) apiToken {
	out := apiToken{
		ID: t.ID, Kind: string(t.Kind), Name: t.Name, Hint: t.Hint(), LastFour: t.LastFour,
		State: t.State(now), Roles: roleKeys(t.Roles),
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedByName, CreatorLeft: !t.CreatorLeft.IsZero(),
		ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt), LastUsedIP: t.LastUsedIP,
		RevokedAt: optTime(t.RevokedAt), RevokeReason: t.RevokeReason,
	}
	if t.Kind == store.KindPersonal {
		out.Member = &apiMember{ID: t.MemberID, Email: t.MemberEmail, Name: t.MemberName}
	}
	if t.CreatedBy != 0 {
		out.CreatedByMember = &apiCreator{
			apiMember: apiMember{ID: t.CreatedBy, Email: t.CreatedByEmail, Name: t.CreatedByName},
			LeftAt:    optTime(t.CreatorLeft),
		}
	}
	if t.CreatedByToken != 0 {
		out.CreatedByToken = &apiCreatorToken{ID: t.CreatedByToken, Name: t.CreatedByTokenName, Hint: t.CreatedByTokenHint}
		if t.CreatedBy == 0 {
			out.CreatedBy = "system token " + t.CreatedByTokenName
		}
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func roleKeys(rs []store.Role) []string {
	keys := make([]string, len(rs))
	for i, r := range rs {
		keys[i] = string(r)
	}
	return keys
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// apiListTokens is GET /api/v1/tokens: a personal token sees its member's
// personal tokens; a token acting as admin sees all of the organization's.
func (s *Server) apiListTokens(c echo.Context) error {
	p := principalOf(c)
	f := store.TokenFilter{Kind: store.TokenKind(c.QueryParam("kind")), State: c.QueryParam("state"), Limit: defaultPageSize}
	switch f.Kind {
	case "", store.KindPersonal, store.KindSystem:
	default:
		return invalidRequest("kind", "kind must be personal or system.")
	}
	if f.State == "all" {
		f.State, f.IncludeRevoked = "", true
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return invalidRequest("limit", "limit must be a number from 1 to "+strconv.Itoa(maxPageSize)+".")
		}
		f.Limit = n
	}
	if v := c.QueryParam("cursor"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			return invalidRequest("cursor", "cursor is not one this API gave.")
		}
		f.BeforeID = id
	}
	if !p.Has(store.RoleAdmin) {
		if f.Kind == store.KindSystem || p.Kind == store.KindSystem {
			return errInsufficientRole(store.RoleAdmin)
		}
		f.Kind, f.MemberID = store.KindPersonal, p.MemberID
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
			out.NextCursor = strconv.FormatInt(ts[i-1].ID, 10)
			break
		}
		out.Tokens = append(out.Tokens, toAPIToken(t, now))
	}
	return c.JSON(http.StatusOK, out)
}

// apiNewToken is the body of POST /api/v1/tokens.
type apiNewToken struct {
	Kind          string   `json:"kind"`
	Name          string   `json:"name"`
	Roles         []string `json:"roles"`
	ExpiresInDays *int     `json:"expires_in_days"`
	ExpiresAt     *string  `json:"expires_at"`
}

// apiCreateToken is POST /api/v1/tokens: the key is in this response only.
func (s *Server) apiCreateToken(c echo.Context) error {
	p := principalOf(c)
	var in apiNewToken
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	nt := store.NewToken{Kind: store.TokenKind(in.Kind), Name: in.Name}
	if nt.Kind == "" {
		nt.Kind = store.KindPersonal
	}
	var err error
	if nt.Roles, err = store.ParseRoles(in.Roles...); err != nil {
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
			return invalidRequest("expires_at", "expires_at must be a date (2006-01-02) or a time (RFC 3339).")
		}
		nt.ExpiresAt = &exp
	}
	if nt.Kind == store.KindSystem && !p.Has(store.RoleAdmin) {
		return errInsufficientRole(store.RoleAdmin)
	}
	t, key, err := s.db.CreateToken(c.Request().Context(), p, nt)
	if se := (*store.Error)(nil); errors.As(err, &se) && se.Field == "expires" {
		// Named as this request named it.
		field := "expires_in_days"
		if in.ExpiresAt != nil {
			field = "expires_at"
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

// parseExpiry reads a date (the token expires at its start, UTC) or a time.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
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
	return c.JSON(http.StatusOK, out)
}

// introspectedToken reads the token to introspect from the request body
// only, form-encoded as RFC 7662 §2.1 has it or as JSON. A token in the URL
// is refused: proxies and browsers log URLs.
func introspectedToken(c echo.Context) (string, error) {
	r := c.Request()
	if r.URL.Query().Has("token") {
		return "", invalidRequest("token", "Send the token in the request body (RFC 7662), never in the URL.")
	}
	mt, err := mediaType(c)
	if err != nil {
		return "", err
	}
	var tokens []string
	switch mt {
	case echo.MIMEApplicationForm, "": // no body at all reads as an empty form
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

// verify is GET /auth/verify, for reverse proxies (nginx auth_request,
// Traefik ForwardAuth, Envoy ext_authz): 200 and what the token is in
// headers, 401 for no working token, 403 when ?role= is not held.
func (s *Server) verify(c echo.Context) error {
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	// Every role asked for is required: a proxy configured with
	// ?role=video&role=admin lets through only a token that has both.
	roles := c.QueryParams()["role"]
	for _, r := range roles {
		// owner is a member's, never a token's: asking for it is a mistake.
		if !store.Role(r).Assignable() {
			return invalidRequest("role", "Each role must be one of admin, video, viewer, billing, support.")
		}
	}
	for _, r := range roles {
		if !p.Has(store.Role(r)) {
			return errInsufficientRole(store.Role(r))
		}
	}
	h := c.Response().Header()
	h.Set("X-Token-Id", strconv.FormatInt(p.TokenID, 10))
	h.Set("X-Token-Kind", string(p.Kind))
	h.Set("X-Token-Org", strconv.FormatInt(p.OrgID, 10))
	h.Set("X-Token-Subject", subject(p))
	h.Set("X-Token-Roles", strings.Join(roleKeys(p.Roles), " "))
	return c.NoContent(http.StatusOK)
}

// mediaType is the request's media type, lower case and without parameters
// (RFC 9110 §8.3.1: type and subtype are case-insensitive). A request with
// more than one Content-Type, or one that does not parse, is refused.
func mediaType(c echo.Context) (string, error) {
	h := c.Request().Header[echo.HeaderContentType]
	switch len(h) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalidRequest("Content-Type", "Send one Content-Type header, not several.")
	}
	mt, params, err := mime.ParseMediaType(h[0])
	if err != nil {
		return "", invalidRequest("Content-Type", "The Content-Type header is not a media type.")
	}
	// JSON is UTF-8 (RFC 8259 §8.1), and so are forms here.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", errUnsupportedMediaType("UTF-8 text")
	}
	return mt, nil
}

func errUnsupportedMediaType(want string) *apiError {
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: "Send the body as " + want + "."}
}

// decodeJSON reads a JSON body into v. It refuses what a lenient reader
// would guess at: a duplicate member name, a member v does not have, a value
// of the wrong type, invalid UTF-8, and anything after the value. An error
// about one member names it as the field.
func decodeJSON(c echo.Context, v any) error {
	if mt, err := mediaType(c); err != nil {
		return err
	} else if mt != echo.MIMEApplicationJSON {
		return errUnsupportedMediaType("application/json")
	}
	err := json.UnmarshalRead(c.Request().Body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var he *echo.HTTPError // the body limit's
	if errors.As(err, &he) {
		return he
	}
	var field string
	var se *json.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		field = topMember(se.JSONPointer)
	case errors.As(err, &sy):
		field = topMember(sy.JSONPointer)
	}
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return invalidRequest(field, "The body names "+field+" more than once.")
	case se != nil && se.JSONKind != 0 && field != "":
		return invalidRequest(field, field+" is not of the type this request takes: "+describeJSONError(err))
	case errors.Is(err, json.ErrUnknownName):
		return invalidRequest(field, field+" is not a field this request takes.")
	}
	return invalidRequest(field, "The body is not the JSON this request takes: "+describeJSONError(err))
}

// topMember is the top-level member a JSON pointer is in: "roles" for
// "/roles/1".
func topMember(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return ""
}

// describeJSONError is a JSON error without the package's prefix, and
// without any key it quotes from the body: the answer may be logged by a
// proxy on its way back.
func describeJSONError(err error) string {
	msg := redactTokens(err.Error())
	if i := strings.Index(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}
