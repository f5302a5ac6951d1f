package web

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// errTokenInURL refuses RFC 6750 §2.3's access_token query parameter: URLs
// are logged by proxies, browsers and servers, so a key in one leaks.
var errTokenInURL = invalidRequest("access_token",
	"Send the token in the Authorization header (Authorization: Bearer <token>), never in the URL: URLs are logged.")

// authenticate checks the request's bearer token.
func (s *Server) authenticate(c echo.Context) (store.Principal, error) {
	p, _, err := s.authenticateQuery(c)
	return p, err
}

// authenticateQuery is authenticate, and the query it read on the way (nil
// for none), so that a route reading the query does not parse it again.
func (s *Server) authenticateQuery(c echo.Context) (store.Principal, url.Values, error) {
	var q url.Values
	if c.Request().URL.RawQuery != "" {
		var err error
		if q, err = strictQuery(c); err != nil {
			return store.Principal{}, nil, err
		}
		if q.Has("access_token") {
			return store.Principal{}, nil, errTokenInURL
		}
	}
	p, err := s.bearerPrincipal(c)
	return p, q, err
}

// bearerPrincipal checks the one bearer token of the request.
func (s *Server) bearerPrincipal(c echo.Context) (store.Principal, error) {
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

// strictQuery is the request's query, refused when it does not parse.
// url.Values drops quietly what it cannot read (a pair with ';', a bad
// escape), and acting on the rest would be answering another request than
// the one sent.
func strictQuery(c echo.Context) (url.Values, error) {
	q, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, invalidRequest("", "The query does not parse: separate parameters with &, and escape ; and % as %3B and %25.")
	}
	return q, nil
}

// queryOnce refuses a query with a parameter not in allowed, or one of them
// given more than once or empty, naming the first such parameter in
// alphabetical order. A misspelt filter (?stat=revoked) would otherwise
// answer as if none had been given.
func queryOnce(q url.Values, allowed ...string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(allowed, k):
			return invalidRequest(k, k+" is not a parameter this request takes; it takes "+joinWords(allowed)+".")
		case len(q[k]) > 1:
			return invalidRequest(k, "Give "+k+" once, not "+strconv.Itoa(len(q[k]))+" times.")
		case q[k][0] == "":
			return invalidRequest(k, k+" is empty: give it a value, or leave it out.")
		}
	}
	return nil
}

// joinWords is "a, b and c".
func joinWords(w []string) string {
	if len(w) < 2 {
		return strings.Join(w, "")
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

// apiListTokens is GET /api/v1/tokens: a personal token sees its member's
// personal tokens; a token acting as admin sees all of the organization's.
func (s *Server) apiListTokens(c echo.Context) error {
	p := principalOf(c)
	q, err := strictQuery(c)
	if err != nil {
		return err
	}
	if err := queryOnce(q, "kind", "state", "limit", "cursor"); err != nil {
		return err
	}
	f := store.TokenFilter{Kind: store.TokenKind(q.Get("kind")), State: q.Get("state"), Limit: defaultPageSize}
	switch f.Kind {
	case "", store.KindPersonal, store.KindSystem:
	default:
		return invalidRequest("kind", "kind must be personal or system.")
	}
	switch f.State {
	case "", store.StateActive, store.StateExpired, store.StateRevoked:
	case "all":
		f.State, f.IncludeRevoked = "", true
	default:
		return invalidRequest("state", "state must be active, expired, revoked or all.")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return invalidRequest("limit", "limit must be a number from 1 to "+strconv.Itoa(maxPageSize)+".")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
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
	// Kind is kept as sent: a *string would read null as left out, and
	// only leaving it out means personal.
	Kind          jsontext.Value `json:"kind"`
	Name          string         `json:"name"`
	Roles         []string       `json:"roles"`
	ExpiresInDays *int           `json:"expires_in_days"`
	ExpiresAt     *string        `json:"expires_at"`
}

// apiCreateToken is POST /api/v1/tokens: the key is in this response only.
func (s *Server) apiCreateToken(c echo.Context) error {
	p := principalOf(c)
	var in apiNewToken
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	nt := store.NewToken{Kind: store.KindPersonal, Name: in.Name}
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

// rfc3339 is RFC 3339's full-date, optionally followed by the rest of its
// date-time: "T" (or "t", §5.6), partial-time with an optional fraction
// after a dot, and "Z" (or "z") or a numeric offset. time.Parse's RFC3339
// layout reads more (a comma before the fraction, offsets to ±99:59) and
// less (no lower case, no leap second) than that.
var rfc3339 = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2})))?$`)

var errNotRFC3339 = errors.New("not an RFC 3339 date or date-time")

// parseExpiry reads a date (the token expires at its start, UTC) or an
// RFC 3339 date-time.
func parseExpiry(s string) (time.Time, error) {
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, errNotRFC3339
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	year, month, day := n(1), n(2), n(3)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) {
		return time.Time{}, errNotRFC3339
	}
	if m[4] == "" {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), nil
	}
	hour, minute, sec := n(4), n(5), n(6)
	offset := 0
	if m[9] != "" {
		oh, om := n(10), n(11)
		if oh > 23 || om > 59 {
			return time.Time{}, errNotRFC3339
		}
		offset = oh*3600 + om*60
		if m[9] == "-" {
			offset = -offset
		}
	}
	if hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, errNotRFC3339
	}
	var nsec int
	if frac := m[7]; frac != "" {
		frac = (frac + "00000000")[:9] // nanoseconds; finer digits are dropped
		nsec, _ = strconv.Atoi(frac)
	}
	zone := time.FixedZone("", offset)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone)
	if sec == 60 {
		// A leap second (RFC 3339 §5.7) ends a UTC day. Go's time has no
		// leap seconds; time.Date carries :60 over into the next minute,
		// the second after it, which is when such a token stops anyway.
		if last := time.Date(year, time.Month(month), day, hour, minute, 59, 0, zone).UTC(); last.Hour() != 23 || last.Minute() != 59 {
			return time.Time{}, errNotRFC3339
		}
	}
	return t.UTC(), nil
}

// daysIn is the number of days in month of year.
func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
	q, err := strictQuery(c)
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
	h := c.Response().Header()
	h.Set("X-Token-Id", strconv.FormatInt(p.TokenID, 10))
	h.Set("X-Token-Kind", string(p.Kind))
	h.Set("X-Token-Org", strconv.FormatInt(p.OrgID, 10))
	h.Set("X-Token-Subject", subject(p))
	h.Set("X-Token-Roles", strings.Join(roleKeys(p.Roles), " "))
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
	body, err := io.ReadAll(c.Request().Body)
	var he *echo.HTTPError // the body limit's
	if errors.As(err, &he) {
		return he
	} else if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidRequest("", "The body is empty: send a JSON object.")
	}
	err = json.Unmarshal(body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	// The answer says what is wrong in JSON's words, never Go's (no type
	// names), and quotes no key from the body: proxies log answers too.
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
	case !utf8.Valid(body):
		return invalidRequest(field, "The body is not valid UTF-8.")
	case errors.Is(err, jsontext.ErrDuplicateName):
		return invalidRequest(field, "The body names "+field+" more than once.")
	// Before the type: an unknown member's error carries the type of the
	// object it is not in.
	case errors.Is(err, json.ErrUnknownName):
		return invalidRequest(field, field+" is not a field this request takes.")
	case se != nil && field == "":
		return invalidRequest("", "The body must be a JSON object.")
	case errors.Is(err, strconv.ErrRange):
		return invalidRequest(field, field+" is out of range.")
	case se != nil:
		t := memberType(v, field)
		if t == nil {
			t = se.GoType
		}
		return invalidRequest(field, field+" must be "+jsonTypeName(t)+".")
	case sy != nil:
		return invalidRequest(field, "The body is not valid JSON: "+redactTokens(sy.Err.Error())+
			" (after byte "+strconv.FormatInt(sy.ByteOffset, 10)+").")
	}
	return invalidRequest(field, "The body is not valid JSON.")
}

// memberType is the Go type of the member of struct *v named name in JSON.
func memberType(v any, name string) reflect.Type {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f.Type
		}
	}
	return nil
}

// jsonTypeName is what a JSON value read into t must be, in words.
func jsonTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		switch elem := jsonTypeName(t.Elem()); elem {
		case "a string", "a whole number", "a number":
			return "a list of " + strings.TrimPrefix(elem, "a ") + "s"
		}
		return "a list"
	}
	return "an object"
}

// topMember is the top-level member a JSON pointer is in: "roles" for
// "/roles/1".
func topMember(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return ""
}
