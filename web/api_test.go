package web

// The API for integrations (/api/v1/…) and forward auth (/auth/verify),
// through the real router with crafted requests, as an integration or a
// reverse proxy sends them: a plain HTTP client and a bearer token.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

// apiHTTP is what an integration has: no cookies, no redirects followed.
var apiHTTP = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// newAPIApp is newTestApp (the same organizations and members) with the
// failure budget and trusted proxies of cfg.
func newAPIApp(t *testing.T, cfg Config) *testApp {
	t.Helper()
	return newTestAppWith(t, func(c *Config) {
		c.FailuresPerSecond, c.FailureBurst, c.TrustedProxies = cfg.FailuresPerSecond, cfg.FailureBurst, cfg.TrustedProxies
	})
}

// tolerantApp is an app whose failure budget no test of refusals exhausts.
func tolerantApp(t *testing.T) *testApp {
	return newAPIApp(t, Config{FailuresPerSecond: 1000, FailureBurst: 100_000})
}

// keyOf is what goes after "Bearer ".
func keyOf(k store.TokenText) string { return string(k) }

// createExpiring makes a token in the store that expires at exp.
func (a *testApp) createExpiring(t *testing.T, by store.Member, kind store.TokenKind, name string, exp time.Time, roles ...store.Role) (store.Token, store.TokenText) {
	t.Helper()
	tok, key, err := a.db.CreateToken(context.Background(), by, store.NewToken{Kind: kind, Name: name, Roles: roles, ExpiresAt: new(exp)})
	if err != nil {
		t.Fatal(err)
	}
	return tok, key
}

func (a *testApp) revokeInStore(t *testing.T, by store.Member, id int64) {
	t.Helper()
	if _, _, err := a.db.RevokeToken(context.Background(), by, id); err != nil {
		t.Fatal(err)
	}
}

// fakeToken is a token of the right shape with a right checksum that no
// database holds.
func fakeToken(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := []byte(prefix)
	var buf [30]byte
	rand.Read(buf[:])
	for _, c := range buf {
		b = append(b, alphabet[int(c)%62])
	}
	sum := crc32.ChecksumIEEE(b)
	var check [6]byte
	for i := 5; i >= 0; i-- {
		check[i] = alphabet[sum%62]
		sum /= 62
	}
	return string(append(b, check[:]...))
}

// badChecksum is key with its last character changed.
func badChecksum(key string) string {
	last := key[len(key)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return key[:len(key)-1] + string(repl)
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// apiCall sends one request as an integration does; an empty key sends no
// Authorization header, an empty contentType no Content-Type.
func (a *testApp) apiCall(t *testing.T, method, path, key, contentType, body string, header ...string) *apiResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &apiResponse{status: res.StatusCode, header: res.Header, body: b}
}

func (a *testApp) apiGet(t *testing.T, path, key string) *apiResponse {
	t.Helper()
	return a.apiCall(t, http.MethodGet, path, key, "", "")
}

// apiJSON sends v as a JSON body; a string is sent as it is.
func (a *testApp) apiJSON(t *testing.T, method, path, key string, v any) *apiResponse {
	t.Helper()
	body, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	return a.apiCall(t, method, path, key, "application/json", body)
}

func (r *apiResponse) String() string {
	return fmt.Sprintf("%d %s", r.status, r.body)
}

// ok fails t unless the response has status, and decodes the body into v.
func (r *apiResponse) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); v != nil && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("body is not the JSON expected: %v\n%s", err, r.body)
		}
	}
}

// object is the body as a JSON object.
func (r *apiResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

type errorBody struct {
	Code, Message, Field string
}

// refusal checks that the response is the API's one error shape,
// {"error":{"code":…,"message":…[,"field":…]}}, with this status and code,
// and what goes with the status in the headers.
func (r *apiResponse) refusal(t *testing.T, status int, code string) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%s): %s", r.status, status, code, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &outer); err != nil {
		t.Fatalf("error body is not a JSON object: %v\n%s", err, r.body)
	}
	if keys := slices.Sorted(maps.Keys(outer)); !slices.Equal(keys, []string{"error"}) {
		t.Errorf("error body has keys %q, want only \"error\": %s", keys, r.body)
	}
	var inner map[string]any
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Fatalf("\"error\" is not an object: %s", r.body)
	}
	for k := range inner {
		if k != "code" && k != "message" && k != "field" {
			t.Errorf("error has an unexpected key %q: %s", k, r.body)
		}
	}
	var e errorBody
	e.Code, _ = inner["code"].(string)
	e.Message, _ = inner["message"].(string)
	e.Field, _ = inner["field"].(string)
	if e.Code != code {
		t.Errorf("error code %q, want %q: %s", e.Code, code, r.body)
	}
	if strings.TrimSpace(e.Message) == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	switch status {
	case http.StatusUnauthorized:
		if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
			t.Errorf("401 with WWW-Authenticate %q, want one starting Bearer", h)
		}
	case http.StatusTooManyRequests:
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("429 with Retry-After %q, want whole seconds ≥ 1", r.header.Get("Retry-After"))
		}
	}
	return e
}

// invalid checks a 400 invalid_request that names field.
func (r *apiResponse) invalid(t *testing.T, field string) {
	t.Helper()
	if e := r.refusal(t, http.StatusBadRequest, "invalid_request"); e.Field != field {
		t.Errorf("field %q, want %q: %s", e.Field, field, r.body)
	}
}

// The wire format, pinned here rather than taken from api.go's types.
type wireMember struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type wirePrincipal struct {
	ID           int64  `json:"id"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Hint         string `json:"hint"`
	LastFour     string `json:"last_four"`
	Organization struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"organization"`
	Member     *wireMember `json:"member"`
	Roles      []string    `json:"roles"`
	CreatedAt  time.Time   `json:"created_at"`
	ExpiresAt  *time.Time  `json:"expires_at"`
	LastUsedAt *time.Time  `json:"last_used_at"`
}

type wireToken struct {
	ID           int64       `json:"id"`
	Kind         string      `json:"kind"`
	Name         string      `json:"name"`
	Hint         string      `json:"hint"`
	LastFour     string      `json:"last_four"`
	State        string      `json:"state"`
	Roles        []string    `json:"roles"`
	Member       *wireMember `json:"member"`
	CreatedAt    time.Time   `json:"created_at"`
	CreatedBy    string      `json:"created_by"`
	ExpiresAt    *time.Time  `json:"expires_at"`
	LastUsedAt   *time.Time  `json:"last_used_at"`
	LastUsedIP   string      `json:"last_used_ip"`
	RevokedAt    *time.Time  `json:"revoked_at"`
	RevokeReason string      `json:"revoke_reason"`

	// Who made it, exactly: the member behind it and the token it came
	// through on the API.
	CreatedByMember *struct {
		wireMember
		LeftAt *time.Time `json:"left_at"`
	} `json:"created_by_member"`
	CreatedByToken *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Hint string `json:"hint"`
	} `json:"created_by_token"`
	CreatorLeft bool `json:"creator_left"`
}

type wirePage struct {
	Tokens     []wireToken `json:"tokens"`
	NextCursor *string     `json:"next_cursor"`
}

type wireCreated struct {
	Token wireToken `json:"token"`
	Key   string    `json:"key"`
}

type wireRevoked struct {
	Token   wireToken `json:"token"`
	Revoked *bool     `json:"revoked"`
}

// list is GET /api/v1/tokens?query as key, which must answer 200.
func (a *testApp) list(t *testing.T, key, query string) wirePage {
	t.Helper()
	var p wirePage
	a.apiGet(t, "/api/v1/tokens?"+query, key).ok(t, http.StatusOK, &p)
	if p.Tokens == nil {
		t.Errorf("tokens is null, want a list")
	}
	return p
}

func (p wirePage) names() []string {
	names := make([]string, len(p.Tokens))
	for i, tok := range p.Tokens {
		names[i] = tok.Name
	}
	slices.Sort(names)
	return names
}

func sortedStrings(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestAPIWhoAmI(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ownerTok, ownerKey := app.createToken(app.owner, store.KindPersonal, "Ana's laptop")
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "Max's CI")
	sysTok, sysKey := app.createToken(app.owner, store.KindSystem, "Deploy bot", store.RoleViewer, store.RoleVideo)
	acme := app.owner.OrgID

	t.Run("personal token of the owner acts as admin", func(t *testing.T) {
		r := app.apiGet(t, "/api/v1/token", keyOf(ownerKey))
		var p wirePrincipal
		r.ok(t, http.StatusOK, &p)
		if p.ID != ownerTok.ID || p.Kind != "personal" || p.Name != "Ana's laptop" {
			t.Errorf("id %d kind %q name %q, want %d personal Ana's laptop", p.ID, p.Kind, p.Name, ownerTok.ID)
		}
		if p.LastFour != ownerKey.LastFour() || p.Hint != "tkp_…"+ownerKey.LastFour() {
			t.Errorf("last_four %q hint %q for key ending %q", p.LastFour, p.Hint, ownerKey.LastFour())
		}
		if p.Organization.ID != acme || p.Organization.Name != "Acme Streaming" {
			t.Errorf("organization %+v", p.Organization)
		}
		if p.Member == nil || *p.Member != (wireMember{app.owner.ID, "ana@acme.test", "Ana Owner"}) {
			t.Errorf("member %+v, want Ana", p.Member)
		}
		if !slices.Equal(p.Roles, []string{"admin"}) {
			t.Errorf("roles %q, want [admin]", p.Roles)
		}
		if !p.CreatedAt.Equal(app.now) || p.ExpiresAt != nil {
			t.Errorf("created %v expires %v", p.CreatedAt, p.ExpiresAt)
		}
		if m := r.object(t); !mapHas(m, "expires_at") || m["expires_at"] != nil {
			t.Errorf("expires_at should be present and null for a token that never expires: %s", r.body)
		}
		if strings.Contains(string(r.body), string(ownerKey)) {
			t.Error("the response contains the secret")
		}
	})
	t.Run("personal token of a member acts with the member's roles", func(t *testing.T) {
		var p wirePrincipal
		app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, &p)
		if p.ID != maxTok.ID || !slices.Equal(p.Roles, []string{"video"}) || p.Member == nil || p.Member.ID != app.member.ID {
			t.Errorf("got %+v, want Max's token acting as video", p)
		}
	})
	t.Run("system token acts with its own roles and has no member", func(t *testing.T) {
		r := app.apiGet(t, "/api/v1/token", keyOf(sysKey))
		var p wirePrincipal
		r.ok(t, http.StatusOK, &p)
		if p.ID != sysTok.ID || p.Kind != "system" || p.Hint != "tks_…"+sysKey.LastFour() {
			t.Errorf("id %d kind %q hint %q", p.ID, p.Kind, p.Hint)
		}
		if !slices.Equal(p.Roles, []string{"video", "viewer"}) {
			t.Errorf("roles %q, want [video viewer]", p.Roles)
		}
		if mapHas(r.object(t), "member") {
			t.Errorf("a system token shows a member: %s", r.body)
		}
		if p.Organization.ID != acme {
			t.Errorf("organization %+v", p.Organization)
		}
	})
}

func mapHas(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// countTokens is how many tokens, of any kind and state, the store holds in
// both organizations.
func (a *testApp) countTokens(t *testing.T) int {
	t.Helper()
	n := 0
	for _, owner := range []store.Member{a.owner, a.otherOwner} {
		ts, err := a.db.ListTokens(context.Background(), owner, store.TokenFilter{IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		n += len(ts)
	}
	return n
}

// listFixture: Acme has personal tokens of Ana, Max (two) and Mia and a
// system token; Globex has its own of each kind.
type listFixture struct {
	app                          *testApp
	anaKey, maxKey, miaKey       string
	sysKey, adminSysKey, gusKey  string
	maxTokens, acmeAll, globexes []string
}

func newListFixture(t *testing.T) *listFixture {
	app := newTestApp(t)
	f := &listFixture{app: app}
	var k store.TokenText
	_, k = app.createToken(app.owner, store.KindPersonal, "ana-1")
	f.anaKey = keyOf(k)
	_, k = app.createToken(app.member, store.KindPersonal, "max-1")
	f.maxKey = keyOf(k)
	app.createToken(app.member, store.KindPersonal, "max-2")
	_, k = app.createToken(app.member2, store.KindPersonal, "mia-1")
	f.miaKey = keyOf(k)
	_, k = app.createToken(app.owner, store.KindSystem, "sys-video", store.RoleVideo)
	f.sysKey = keyOf(k)
	_, k = app.createToken(app.owner, store.KindSystem, "sys-admin", store.RoleAdmin)
	f.adminSysKey = keyOf(k)
	_, k = app.createToken(app.otherOwner, store.KindPersonal, "gus-1")
	f.gusKey = keyOf(k)
	app.createToken(app.otherOwner, store.KindSystem, "globex-sys", store.RoleAdmin)
	f.maxTokens = sortedStrings("max-1", "max-2")
	f.acmeAll = sortedStrings("ana-1", "max-1", "max-2", "mia-1", "sys-video", "sys-admin")
	f.globexes = []string{"gus-1", "globex-sys"}
	return f
}

func TestAPIListTokensSeesWhatTheTokenMay(t *testing.T) {
	t.Parallel()
	f := newListFixture(t)
	app := f.app

	t.Run("a member's personal token sees only that member's personal tokens", func(t *testing.T) {
		p := app.list(t, f.maxKey, "")
		if !slices.Equal(p.names(), f.maxTokens) {
			t.Errorf("Max sees %q, want %q", p.names(), f.maxTokens)
		}
		for _, tok := range p.Tokens {
			if tok.Kind != "personal" || tok.Member == nil || tok.Member.ID != app.member.ID || tok.State != "active" {
				t.Errorf("Max sees %+v", tok)
			}
		}
		if p.NextCursor != nil {
			t.Errorf("next_cursor %q on the only page", *p.NextCursor)
		}
		if p := app.list(t, f.maxKey, "kind=personal"); !slices.Equal(p.names(), f.maxTokens) {
			t.Errorf("Max with kind=personal sees %q", p.names())
		}
		if p := app.list(t, f.miaKey, ""); !slices.Equal(p.names(), []string{"mia-1"}) {
			t.Errorf("Mia sees %q", p.names())
		}
	})
	t.Run("a non-admin token may not list system tokens", func(t *testing.T) {
		app.apiGet(t, "/api/v1/tokens?kind=system", f.maxKey).refusal(t, http.StatusForbidden, "insufficient_role")
		// A system token without admin has no member whose tokens it could see.
		app.apiGet(t, "/api/v1/tokens", f.sysKey).refusal(t, http.StatusForbidden, "insufficient_role")
	})
	t.Run("a token acting as admin sees all of the organization's, never another's", func(t *testing.T) {
		for name, key := range map[string]string{"owner's personal token": f.anaKey, "system token with admin": f.adminSysKey} {
			p := app.list(t, key, "")
			if !slices.Equal(p.names(), f.acmeAll) {
				t.Errorf("%s sees %q, want %q", name, p.names(), f.acmeAll)
			}
			for _, tok := range p.Tokens {
				if slices.Contains(f.globexes, tok.Name) {
					t.Errorf("%s sees Globex's %q", name, tok.Name)
				}
			}
			if p := app.list(t, key, "kind=system"); !slices.Equal(p.names(), sortedStrings("sys-video", "sys-admin")) {
				t.Errorf("%s with kind=system sees %q", name, p.names())
			}
			if p := app.list(t, key, "kind=personal"); !slices.Equal(p.names(), sortedStrings("ana-1", "max-1", "max-2", "mia-1")) {
				t.Errorf("%s with kind=personal sees %q", name, p.names())
			}
		}
		p := app.list(t, f.anaKey, "kind=system")
		for _, tok := range p.Tokens {
			if tok.Name == "sys-video" && (!slices.Equal(tok.Roles, []string{"video"}) || tok.Member != nil || tok.CreatedBy != "Ana Owner") {
				t.Errorf("sys-video listed as %+v", tok)
			}
		}
		if p := app.list(t, f.gusKey, ""); !slices.Equal(p.names(), sortedStrings(f.globexes...)) {
			t.Errorf("Gus sees %q, want Globex's only", p.names())
		}
	})
	t.Run("the list never shows a secret", func(t *testing.T) {
		r := app.apiGet(t, "/api/v1/tokens?state=all", f.anaKey)
		for _, k := range []string{f.anaKey, f.maxKey, f.miaKey, f.sysKey, f.adminSysKey} {
			if strings.Contains(string(r.body), k) {
				t.Errorf("the list contains a secret")
			}
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for query, field := range map[string]string{
			"kind=bogus":  "kind",
			"kind=owner":  "kind",
			"limit=0":     "limit",
			"limit=101":   "limit",
			"limit=-1":    "limit",
			"limit=two":   "limit",
			"cursor=abc":  "cursor",
			"cursor=0":    "cursor",
			"cursor=-5":   "cursor",
			"state=bogus": "state",
		} {
			app.apiGet(t, "/api/v1/tokens?"+query, f.anaKey).invalid(t, field)
		}
	})
}

func TestAPIListTokensFiltersByState(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "admin")
	_, maxKey := app.createToken(app.member, store.KindPersonal, "active")
	revoked, _ := app.createToken(app.member, store.KindPersonal, "revoked")
	app.revokeInStore(t, app.member, revoked.ID)
	expired, _ := app.createExpiring(t, app.member, store.KindPersonal, "expired", app.now.Add(time.Hour))
	app.createExpiring(t, app.owner, store.KindSystem, "sys-expired", app.now.Add(time.Hour), store.RoleVideo)
	app.createExpiring(t, app.member, store.KindPersonal, "later", app.now.AddDate(0, 1, 0))
	app.setNow(app.now.Add(2 * time.Hour))

	states := func(p wirePage) map[string]string {
		m := map[string]string{}
		for _, tok := range p.Tokens {
			m[tok.Name] = tok.State
		}
		return m
	}
	for _, tt := range []struct {
		key, query string
		want       map[string]string
	}{
		{keyOf(maxKey), "", map[string]string{"active": "active", "expired": "expired", "later": "active"}},
		{keyOf(maxKey), "state=active", map[string]string{"active": "active", "later": "active"}},
		{keyOf(maxKey), "state=expired", map[string]string{"expired": "expired"}},
		{keyOf(maxKey), "state=revoked", map[string]string{"revoked": "revoked"}},
		{keyOf(maxKey), "state=all", map[string]string{"active": "active", "revoked": "revoked", "expired": "expired", "later": "active"}},
		{keyOf(adminKey), "state=expired", map[string]string{"expired": "expired", "sys-expired": "expired"}},
		{keyOf(adminKey), "state=expired&kind=system", map[string]string{"sys-expired": "expired"}},
		{keyOf(adminKey), "state=revoked&kind=personal", map[string]string{"revoked": "revoked"}},
		{keyOf(adminKey), "state=active&kind=personal", map[string]string{"admin": "active", "active": "active", "later": "active"}},
	} {
		if got := states(app.list(t, tt.key, tt.query)); !maps.Equal(got, tt.want) {
			t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
		}
	}

	p := app.list(t, keyOf(adminKey), "state=revoked")
	if len(p.Tokens) != 1 || p.Tokens[0].ID != revoked.ID || p.Tokens[0].RevokedAt == nil || p.Tokens[0].RevokeReason != "revoked" {
		t.Errorf("revoked list: %+v", p.Tokens)
	}
	p = app.list(t, keyOf(adminKey), "state=expired&kind=personal")
	if len(p.Tokens) != 1 || p.Tokens[0].ID != expired.ID || p.Tokens[0].ExpiresAt == nil || !p.Tokens[0].ExpiresAt.Equal(expired.ExpiresAt) {
		t.Errorf("expired list: %+v", p.Tokens)
	}
}

func TestAPIListTokensPagination(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "admin")
	for i := range 4 {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("max-%d", i))
	}
	app.createToken(app.owner, store.KindSystem, "sys", store.RoleVideo)
	app.createToken(app.otherOwner, store.KindPersonal, "globex") // never on a page
	all := app.list(t, keyOf(adminKey), "limit=100")
	if len(all.Tokens) != 6 || all.NextCursor != nil {
		t.Fatalf("limit=100: %d tokens, next_cursor %v; want 6 and none", len(all.Tokens), all.NextCursor)
	}
	for i := 1; i < len(all.Tokens); i++ {
		if all.Tokens[i-1].ID <= all.Tokens[i].ID {
			t.Fatalf("not newest first: %d before %d", all.Tokens[i-1].ID, all.Tokens[i].ID)
		}
	}

	walk := func(t *testing.T, key string, limit int) (pages [][]int64) {
		t.Helper()
		query := "limit=" + strconv.Itoa(limit)
		for range 20 {
			r := app.apiGet(t, "/api/v1/tokens?"+query, key)
			var p wirePage
			r.ok(t, http.StatusOK, &p)
			var ids []int64
			for _, tok := range p.Tokens {
				ids = append(ids, tok.ID)
			}
			pages = append(pages, ids)
			if len(ids) > limit {
				t.Fatalf("page of %d with limit=%d", len(ids), limit)
			}
			if p.NextCursor == nil {
				if mapHas(r.object(t), "next_cursor") {
					t.Errorf("next_cursor present on the last page: %s", r.body)
				}
				return pages
			}
			if len(ids) != limit {
				t.Fatalf("page of %d before the last, want %d", len(ids), limit)
			}
			query = "limit=" + strconv.Itoa(limit) + "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		t.Fatal("more than 20 pages")
		return nil
	}
	var want []int64
	for _, tok := range all.Tokens {
		want = append(want, tok.ID)
	}
	for _, tt := range []struct {
		limit int
		sizes []int
	}{
		{2, []int{2, 2, 2}}, // an exact multiple: no empty page at the end
		{4, []int{4, 2}},
		{5, []int{5, 1}},
		{6, []int{6}},
		{1, []int{1, 1, 1, 1, 1, 1}},
	} {
		t.Run(fmt.Sprintf("limit=%d", tt.limit), func(t *testing.T) {
			pages := walk(t, keyOf(adminKey), tt.limit)
			var got []int64
			var sizes []int
			for _, p := range pages {
				got = append(got, p...)
				sizes = append(sizes, len(p))
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages %v, want every token once, in order: %v", pages, want)
			}
			if !slices.Equal(sizes, tt.sizes) {
				t.Errorf("page sizes %v, want %v", sizes, tt.sizes)
			}
		})
	}
	t.Run("a member's own list pages too", func(t *testing.T) {
		_, maxKey := app.createToken(app.member, store.KindPersonal, "max-key")
		pages := walk(t, keyOf(maxKey), 2)
		var got []int64
		for _, p := range pages {
			got = append(got, p...)
		}
		if len(got) != 5 || len(pages) != 3 {
			t.Errorf("Max's pages %v, want his 5 tokens in 3 pages", pages)
		}
	})
}

func TestAPICreateToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	_, adminSysKey := app.createToken(app.owner, store.KindSystem, "sys-admin", store.RoleAdmin)
	_, videoSysKey := app.createToken(app.owner, store.KindSystem, "sys-video", store.RoleVideo)
	post := func(t *testing.T, key store.TokenText, body any) *apiResponse {
		t.Helper()
		return app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body)
	}

	t.Run("a personal token creates a personal token whose key works once shown", func(t *testing.T) {
		r := post(t, maxKey, map[string]any{"name": "deploy script"})
		var c wireCreated
		r.ok(t, http.StatusCreated, &c)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		if _, ok := store.ParseTokenText(c.Key); !ok || !strings.HasPrefix(c.Key, "tkp_") {
			t.Fatalf("key %q is not a personal token", c.Key)
		}
		tok := c.Token
		if tok.Kind != "personal" || tok.Name != "deploy script" || tok.State != "active" || tok.Member == nil || tok.Member.ID != app.member.ID {
			t.Errorf("created %+v", tok)
		}
		if tok.LastFour != c.Key[len(c.Key)-4:] || tok.Hint != "tkp_…"+tok.LastFour || tok.ExpiresAt != nil || len(tok.Roles) != 0 {
			t.Errorf("created %+v", tok)
		}
		if tok.CreatedBy != "Max Member" || tok.CreatedByToken == nil || tok.CreatedByToken.Name != "max-ci" {
			t.Errorf("created_by %q, by token %+v; want the member behind max-ci", tok.CreatedBy, tok.CreatedByToken)
		}
		var p wirePrincipal
		app.apiGet(t, "/api/v1/token", c.Key).ok(t, http.StatusOK, &p)
		if p.ID != tok.ID || p.Name != "deploy script" || !slices.Equal(p.Roles, []string{"video"}) {
			t.Errorf("the new key is %+v", p)
		}
		// Nothing else tells the key again.
		if r := app.apiGet(t, "/api/v1/tokens?state=all", keyOf(maxKey)); strings.Contains(string(r.body), c.Key) {
			t.Error("the list shows the key")
		}
	})
	t.Run("a charset on the content type is fine", func(t *testing.T) {
		r := app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), "application/json; charset=utf-8", `{"name":"with charset"}`)
		r.ok(t, http.StatusCreated, nil)
	})
	t.Run("expiry in days or at a date", func(t *testing.T) {
		var c wireCreated
		post(t, maxKey, map[string]any{"name": "week", "expires_in_days": 7}).ok(t, http.StatusCreated, &c)
		if c.Token.ExpiresAt == nil || !c.Token.ExpiresAt.Equal(app.now.AddDate(0, 0, 7)) {
			t.Errorf("expires_in_days 7: expires_at %v", c.Token.ExpiresAt)
		}
		post(t, maxKey, map[string]any{"name": "dated", "expires_at": "2027-01-31"}).ok(t, http.StatusCreated, &c)
		if want := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC); c.Token.ExpiresAt == nil || !c.Token.ExpiresAt.Equal(want) {
			t.Errorf("expires_at 2027-01-31: %v", c.Token.ExpiresAt)
		}
		post(t, maxKey, map[string]any{"name": "timed", "expires_at": "2027-01-31T08:30:00+01:00"}).ok(t, http.StatusCreated, &c)
		if want := time.Date(2027, 1, 31, 7, 30, 0, 0, time.UTC); c.Token.ExpiresAt == nil || !c.Token.ExpiresAt.Equal(want) {
			t.Errorf("expires_at RFC 3339: %v", c.Token.ExpiresAt)
		}
	})
	t.Run("a token acting as admin creates a system token with roles", func(t *testing.T) {
		for name, key := range map[string]store.TokenText{"owner's personal token": ownerKey, "system token with admin": adminSysKey} {
			var c wireCreated
			post(t, key, map[string]any{"kind": "system", "name": "bot by " + name, "roles": []string{"viewer", "video"}}).ok(t, http.StatusCreated, &c)
			if c.Token.Kind != "system" || !slices.Equal(c.Token.Roles, []string{"video", "viewer"}) || c.Token.Member != nil || !strings.HasPrefix(c.Key, "tks_") {
				t.Errorf("%s created %+v key %.4s…", name, c.Token, c.Key)
			}
			var p wirePrincipal
			app.apiGet(t, "/api/v1/token", c.Key).ok(t, http.StatusOK, &p)
			if p.Kind != "system" || !slices.Equal(p.Roles, []string{"video", "viewer"}) || p.Organization.ID != app.owner.OrgID {
				t.Errorf("the new system key is %+v", p)
			}
		}
	})
	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			key    store.TokenText
			body   any
			status int
			code   string
			field  string
		}{
			{"system token by a member's personal token", maxKey, map[string]any{"kind": "system", "name": "x", "roles": []string{"video"}}, 403, "insufficient_role", ""},
			{"system token by a system token without admin", videoSysKey, map[string]any{"kind": "system", "name": "x", "roles": []string{"video"}}, 403, "insufficient_role", ""},
			{"personal token by a system token", adminSysKey, map[string]any{"name": "x"}, 403, "forbidden", ""},
			{"duplicate name", maxKey, map[string]any{"name": "max-ci"}, 409, "conflict", "name"},
			{"duplicate name in other case", maxKey, map[string]any{"name": "MAX-CI"}, 409, "conflict", "name"},
			{"duplicate system name", ownerKey, map[string]any{"kind": "system", "name": "sys-video", "roles": []string{"video"}}, 409, "conflict", "name"},
			{"empty name", maxKey, map[string]any{"name": ""}, 400, "invalid_request", "name"},
			{"blank name", maxKey, map[string]any{"name": "   "}, 400, "invalid_request", "name"},
			{"no name", maxKey, map[string]any{}, 400, "invalid_request", "name"},
			{"name too long", maxKey, map[string]any{"name": strings.Repeat("n", 101)}, 400, "invalid_request", "name"},
			{"unknown kind", maxKey, map[string]any{"kind": "service", "name": "x"}, 400, "invalid_request", "kind"},
			{"system token without roles", ownerKey, map[string]any{"kind": "system", "name": "x"}, 400, "invalid_request", "roles"},
			{"system token with owner", ownerKey, map[string]any{"kind": "system", "name": "x", "roles": []string{"owner"}}, 400, "invalid_request", "roles"},
			{"unknown role", ownerKey, map[string]any{"kind": "system", "name": "x", "roles": []string{"root"}}, 400, "invalid_request", "roles"},
			{"personal token with roles", maxKey, map[string]any{"name": "x", "roles": []string{"video"}}, 400, "invalid_request", "roles"},
			{"unknown JSON field", maxKey, map[string]any{"name": "x", "scope": "all"}, 400, "invalid_request", "scope"},
			{"broken JSON", maxKey, `{"name":`, 400, "invalid_request", "name"},
			{"two JSON values", maxKey, `{"name":"x"} {"name":"y"}`, 400, "invalid_request", ""},
			{"wrong JSON type", maxKey, `{"name":42}`, 400, "invalid_request", "name"},
			{"both expiries", maxKey, map[string]any{"name": "x", "expires_in_days": 7, "expires_at": "2027-01-31"}, 400, "invalid_request", "expires_at"},
			{"zero days", maxKey, map[string]any{"name": "x", "expires_in_days": 0}, 400, "invalid_request", "expires_in_days"},
			{"too many days", maxKey, map[string]any{"name": "x", "expires_in_days": 3651}, 400, "invalid_request", "expires_in_days"},
			{"expiry not a date", maxKey, map[string]any{"name": "x", "expires_at": "next week"}, 400, "invalid_request", "expires_at"},
			{"expiry in the past", maxKey, map[string]any{"name": "x", "expires_at": "2026-11-01"}, 400, "invalid_request", "expires_at"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := app.countTokens(t)
				e := post(t, tt.key, tt.body).refusal(t, tt.status, tt.code)
				if e.Field != tt.field {
					t.Errorf("field %q, want %q", e.Field, tt.field)
				}
				if after := app.countTokens(t); after != before {
					t.Errorf("%d tokens before, %d after a refused create", before, after)
				}
			})
		}
	})
	t.Run("the body must be JSON", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
			r := app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), ct, `name=x`)
			r.refusal(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
	})
}

func TestAPICreateTokenWithinTheOrganizationMaximum(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	// A clock between seconds, as a real one is.
	app.setNow(app.now.Add(400 * time.Millisecond))
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	if _, err := app.db.SetMaxTokenLifetime(context.Background(), app.owner, 30); err != nil {
		t.Fatal(err)
	}
	post := func(t *testing.T, key store.TokenText, body any) *apiResponse {
		t.Helper()
		return app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body)
	}
	// The error names the field the request gave, or expires_at for none.
	post(t, maxKey, map[string]any{"name": "forever"}).invalid(t, "expires_at")
	post(t, ownerKey, map[string]any{"kind": "system", "name": "forever", "roles": []string{"video"}}).invalid(t, "expires_at")
	post(t, maxKey, map[string]any{"name": "too long", "expires_in_days": 31}).invalid(t, "expires_in_days")
	post(t, maxKey, map[string]any{"name": "too late", "expires_at": "2027-06-01"}).invalid(t, "expires_at")

	var c wireCreated
	post(t, maxKey, map[string]any{"name": "month", "expires_in_days": 30}).ok(t, http.StatusCreated, &c)
	if c.Token.ExpiresAt == nil || !c.Token.ExpiresAt.Equal(app.now.Truncate(time.Second).AddDate(0, 0, 30)) {
		t.Errorf("expires_at %v", c.Token.ExpiresAt)
	}
	// Tokens made before the maximum keep working.
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, nil)
}

func TestAPIRevokeToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	maxOther, maxOtherKey := app.createToken(app.member, store.KindPersonal, "max-old")
	mia, miaKey := app.createToken(app.member2, store.KindPersonal, "mia-1")
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "sys", store.RoleVideo)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	gus, gusKey := app.createToken(app.otherOwner, store.KindPersonal, "gus-1")
	del := func(t *testing.T, key store.TokenText, id string) *apiResponse {
		t.Helper()
		return app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+id, keyOf(key), "", "")
	}
	idOf := func(tok store.Token) string { return strconv.FormatInt(tok.ID, 10) }

	t.Run("own token, then again", func(t *testing.T) {
		var r wireRevoked
		del(t, maxKey, idOf(maxOther)).ok(t, http.StatusOK, &r)
		if r.Revoked == nil || !*r.Revoked || r.Token.ID != maxOther.ID || r.Token.State != "revoked" || r.Token.RevokedAt == nil || r.Token.RevokeReason != "revoked" {
			t.Errorf("first revoke: %+v revoked %v", r.Token, r.Revoked)
		}
		app.apiGet(t, "/api/v1/token", keyOf(maxOtherKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
		first := *r.Token.RevokedAt

		app.setNow(app.now.Add(time.Hour))
		var again wireRevoked
		del(t, maxKey, idOf(maxOther)).ok(t, http.StatusOK, &again)
		if again.Revoked == nil || *again.Revoked || again.Token.State != "revoked" || !again.Token.RevokedAt.Equal(first) {
			t.Errorf("second revoke: %+v revoked %v", again.Token, again.Revoked)
		}
	})
	t.Run("refused as not found", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			key  store.TokenText
			id   string
		}{
			{"another member's token by a member", maxKey, idOf(mia)},
			{"a system token by a member", maxKey, idOf(sys)},
			{"the owner's token by a system token without admin", sysKey, idOf(mia)},
			{"another organization's token by its owner", ownerKey, idOf(gus)},
			{"an unknown id", ownerKey, "999999"},
			{"an id that is not a number", ownerKey, "abc"},
			{"id zero", ownerKey, "0"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				del(t, tt.key, tt.id).refusal(t, http.StatusNotFound, "not_found")
			})
		}
		for _, k := range []store.TokenText{miaKey, sysKey, gusKey} {
			app.apiGet(t, "/api/v1/token", keyOf(k)).ok(t, http.StatusOK, nil)
		}
	})
	t.Run("a token acting as admin revokes a member's token", func(t *testing.T) {
		var r wireRevoked
		del(t, ownerKey, idOf(mia)).ok(t, http.StatusOK, &r)
		if r.Revoked == nil || !*r.Revoked {
			t.Errorf("revoked %v", r.Revoked)
		}
		app.apiGet(t, "/api/v1/token", keyOf(miaKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	})
	t.Run("a token revokes itself", func(t *testing.T) {
		self, selfKey := app.createToken(app.member, store.KindPersonal, "self")
		var r wireRevoked
		del(t, selfKey, idOf(self)).ok(t, http.StatusOK, &r)
		if r.Revoked == nil || !*r.Revoked {
			t.Errorf("revoked %v", r.Revoked)
		}
		del(t, selfKey, idOf(self)).refusal(t, http.StatusUnauthorized, "revoked_token")
	})
}

// introspect posts token to /api/v1/introspect as key, form-encoded or as
// JSON.
func (a *testApp) introspect(t *testing.T, key store.TokenText, token string, asJSON bool) *apiResponse {
	t.Helper()
	if asJSON {
		return a.apiJSON(t, http.MethodPost, "/api/v1/introspect", keyOf(key), map[string]string{"token": token})
	}
	return a.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(key), "application/x-www-form-urlencoded",
		url.Values{"token": {token}}.Encode())
}

func TestAPIIntrospect(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "introspector")
	_, adminSysKey := app.createToken(app.owner, store.KindSystem, "sys-admin", store.RoleAdmin)
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	exp := app.now.AddDate(0, 0, 10)
	sysTok, sysKey := app.createExpiring(t, app.owner, store.KindSystem, "sys-video", exp, store.RoleViewer, store.RoleVideo)
	revoked, revokedKey := app.createToken(app.member, store.KindPersonal, "revoked")
	app.revokeInStore(t, app.member, revoked.ID)
	_, soonKey := app.createExpiring(t, app.member, store.KindPersonal, "soon", app.now.Add(time.Minute))
	_, gusKey := app.createToken(app.otherOwner, store.KindPersonal, "gus-1")
	acme := float64(app.owner.OrgID)

	for _, asJSON := range []bool{false, true} {
		enc := map[bool]string{false: "form", true: "JSON"}[asJSON]
		t.Run("active personal token as "+enc, func(t *testing.T) {
			got := app.introspect(t, ownerKey, keyOf(maxKey), asJSON)
			got.ok(t, http.StatusOK, nil)
			m := got.object(t)
			want := map[string]any{
				"active": true, "token_type": "bearer", "kind": "personal", "scope": "video",
				"sub": fmt.Sprintf("member:%d", app.member.ID), "iat": float64(maxTok.CreatedAt.Unix()), "org": acme,
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if mapHas(m, "exp") {
				t.Errorf("exp %v for a token that never expires", m["exp"])
			}
		})
		t.Run("active system token as "+enc, func(t *testing.T) {
			got := app.introspect(t, adminSysKey, keyOf(sysKey), asJSON)
			got.ok(t, http.StatusOK, nil)
			m := got.object(t)
			want := map[string]any{
				"active": true, "token_type": "bearer", "kind": "system", "scope": "video viewer",
				"sub": fmt.Sprintf("org:%d", app.owner.OrgID), "iat": float64(sysTok.CreatedAt.Unix()),
				"exp": float64(exp.Unix()), "org": acme,
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
		})
		t.Run("inactive tokens say nothing else as "+enc, func(t *testing.T) {
			for name, token := range map[string]string{
				"revoked":            keyOf(revokedKey),
				"unknown":            fakeToken("tkp_"),
				"bad checksum":       badChecksum(keyOf(maxKey)),
				"malformed":          "not-a-token",
				"other organization": keyOf(gusKey),
			} {
				r := app.introspect(t, ownerKey, token, asJSON)
				r.ok(t, http.StatusOK, nil)
				if m := r.object(t); !maps.Equal(m, map[string]any{"active": false}) {
					t.Errorf("%s: %s, want only {\"active\":false}", name, r.body)
				}
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		app.introspect(t, maxKey, keyOf(sysKey), false).refusal(t, http.StatusForbidden, "insufficient_role")
		app.introspect(t, sysKey, keyOf(maxKey), true).refusal(t, http.StatusForbidden, "insufficient_role")
		app.introspect(t, ownerKey, "", false).invalid(t, "token")
		app.apiJSON(t, http.MethodPost, "/api/v1/introspect", keyOf(ownerKey), `{}`).invalid(t, "token")
		app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(ownerKey), "", "").invalid(t, "token")
		app.apiJSON(t, http.MethodPost, "/api/v1/introspect", keyOf(ownerKey), `{"token":"x","extra":1}`).refusal(t, http.StatusBadRequest, "invalid_request")
		app.introspect(t, "", keyOf(maxKey), false).refusal(t, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("an expired token is inactive", func(t *testing.T) {
		app.setNow(app.now.Add(time.Minute))
		r := app.introspect(t, ownerKey, keyOf(soonKey), false)
		r.ok(t, http.StatusOK, nil)
		if m := r.object(t); !maps.Equal(m, map[string]any{"active": false}) {
			t.Errorf("expired: %s", r.body)
		}
	})
}

func TestAuthVerify(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	_, miaKey := app.createToken(app.member2, store.KindPersonal, "mia-1")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	sysTok, sysKey := app.createToken(app.owner, store.KindSystem, "sys", store.RoleVideo, store.RoleViewer)
	acme := strconv.FormatInt(app.owner.OrgID, 10)
	wantHeaders := func(t *testing.T, r *apiResponse, h map[string]string) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", r.status, r.body)
		}
		for k, v := range h {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
	}
	maxHeaders := map[string]string{
		"X-Token-Id": strconv.FormatInt(maxTok.ID, 10), "X-Token-Kind": "personal", "X-Token-Org": acme,
		"X-Token-Subject": fmt.Sprintf("member:%d", app.member.ID), "X-Token-Roles": "video",
	}

	t.Run("a valid token", func(t *testing.T) {
		r := app.apiGet(t, "/auth/verify", keyOf(maxKey))
		wantHeaders(t, r, maxHeaders)
		if len(r.body) != 0 {
			t.Errorf("body %q, want none", r.body)
		}
		wantHeaders(t, app.apiGet(t, "/auth/verify", keyOf(sysKey)), map[string]string{
			"X-Token-Id": strconv.FormatInt(sysTok.ID, 10), "X-Token-Kind": "system", "X-Token-Org": acme,
			"X-Token-Subject": "org:" + acme, "X-Token-Roles": "video viewer",
		})
		wantHeaders(t, app.apiGet(t, "/auth/verify", keyOf(ownerKey)), map[string]string{"X-Token-Roles": "admin"})
	})
	t.Run("any method and any path below", func(t *testing.T) {
		for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPut, http.MethodDelete} {
			wantHeaders(t, app.apiCall(t, method, "/auth/verify", keyOf(maxKey), "", ""), maxHeaders)
		}
		wantHeaders(t, app.apiGet(t, "/auth/verify/some/path", keyOf(maxKey)), maxHeaders)
		wantHeaders(t, app.apiCall(t, http.MethodPost, "/auth/verify/some/path?x=1", keyOf(maxKey), "application/json", `{}`), maxHeaders)
	})
	t.Run("role", func(t *testing.T) {
		wantHeaders(t, app.apiGet(t, "/auth/verify?role=video", keyOf(maxKey)), maxHeaders)
		app.apiGet(t, "/auth/verify?role=video", keyOf(miaKey)).refusal(t, http.StatusForbidden, "insufficient_role")
		app.apiGet(t, "/auth/verify?role=admin", keyOf(maxKey)).refusal(t, http.StatusForbidden, "insufficient_role")
		app.apiGet(t, "/auth/verify/some/path?role=billing", keyOf(sysKey)).refusal(t, http.StatusForbidden, "insufficient_role")
		wantHeaders(t, app.apiGet(t, "/auth/verify?role=viewer", keyOf(sysKey)), map[string]string{"X-Token-Kind": "system"})
		for _, r := range []string{"admin", "video", "viewer", "billing", "support"} {
			wantHeaders(t, app.apiGet(t, "/auth/verify?role="+r, keyOf(ownerKey)), map[string]string{"X-Token-Roles": "admin"})
		}
		if r := app.apiGet(t, "/auth/verify?role=video", keyOf(miaKey)); r.header.Get("X-Token-Id") != "" {
			t.Errorf("a 403 tells the token: X-Token-Id %q", r.header.Get("X-Token-Id"))
		}
		e := app.apiGet(t, "/auth/verify?role=bogus", keyOf(maxKey)).refusal(t, http.StatusBadRequest, "invalid_request")
		if e.Field != "role" {
			t.Errorf("field %q, want role", e.Field)
		}
	})
	t.Run("no token", func(t *testing.T) {
		r := app.apiGet(t, "/auth/verify", "")
		r.refusal(t, http.StatusUnauthorized, "invalid_token")
		if r.header.Get("X-Token-Id") != "" {
			t.Error("a 401 carries X-Token-Id")
		}
		app.apiCall(t, http.MethodPost, "/auth/verify/some/path", "", "", "").refusal(t, http.StatusUnauthorized, "invalid_token")
	})
}

func TestAPIRefusesEachBadTokenWith401(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, validKey := app.createToken(app.member, store.KindPersonal, "valid")
	revoked, revokedKey := app.createToken(app.member, store.KindPersonal, "revoked")
	app.revokeInStore(t, app.member, revoked.ID)
	sysRevoked, sysRevokedKey := app.createToken(app.owner, store.KindSystem, "sys-revoked", store.RoleAdmin)
	app.revokeInStore(t, app.owner, sysRevoked.ID)
	_, expiredKey := app.createExpiring(t, app.member, store.KindPersonal, "expired", app.now.Add(time.Hour))
	app.setNow(app.now.Add(2 * time.Hour))
	valid := keyOf(validKey)

	cases := []struct {
		name          string
		authorization string // the whole header; "" sends none
		code          string
	}{
		{"no Authorization", "", "invalid_token"},
		{"empty bearer", "Bearer ", "invalid_token"},
		{"another scheme", "Basic " + valid, "invalid_token"},
		{"token without scheme", valid, "invalid_token"},
		{"malformed", "Bearer tkp_short", "invalid_token"},
		{"unknown prefix", "Bearer ghp_" + valid[4:], "invalid_token"},
		{"bad checksum", "Bearer " + badChecksum(valid), "invalid_token"},
		{"truncated", "Bearer " + valid[:len(valid)-1], "invalid_token"},
		{"unknown personal", "Bearer " + fakeToken("tkp_"), "invalid_token"},
		{"unknown system", "Bearer " + fakeToken("tks_"), "invalid_token"},
		{"expired", "Bearer " + keyOf(expiredKey), "expired_token"},
		{"revoked", "Bearer " + keyOf(revokedKey), "revoked_token"},
		{"revoked system", "Bearer " + keyOf(sysRevokedKey), "revoked_token"},
	}
	routes := []struct{ method, path, contentType, body string }{
		{http.MethodGet, "/api/v1/token", "", ""},
		{http.MethodGet, "/api/v1/tokens", "", ""},
		{http.MethodPost, "/api/v1/tokens", "application/json", `{"name":"x"}`},
		{http.MethodDelete, "/api/v1/tokens/1", "", ""},
		{http.MethodPost, "/api/v1/introspect", "application/x-www-form-urlencoded", "token=" + valid},
		{http.MethodGet, "/auth/verify", "", ""},
		{http.MethodPost, "/auth/verify/x", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range routes {
				var header []string
				if tc.authorization != "" {
					header = []string{"Authorization", tc.authorization}
				}
				r := app.apiCall(t, rt.method, rt.path, "", rt.contentType, rt.body, header...)
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s %s: status %d, want 401: %s", rt.method, rt.path, r.status, r.body)
					continue
				}
				r.refusal(t, http.StatusUnauthorized, tc.code)
			}
		})
	}
	// Bearer is case-insensitive (RFC 7235), and the valid token still works
	// after all the refusals.
	app.apiCall(t, http.MethodGet, "/api/v1/token", "", "", "", "Authorization", "bearer "+valid).ok(t, http.StatusOK, nil)
	if n := app.countTokens(t); n != 4 {
		t.Errorf("%d tokens after refused creates, want the 4 made before", n)
	}
}

func TestAPIErrorsHaveOneShape(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, key := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	app.apiGet(t, "/api/v1/nothing-here", keyOf(key)).refusal(t, http.StatusNotFound, "not_found")
	app.apiGet(t, "/api/v2/token", "").refusal(t, http.StatusNotFound, "not_found")
	app.apiCall(t, http.MethodPut, "/api/v1/token", keyOf(key), "", "").refusal(t, http.StatusMethodNotAllowed, "method_not_allowed")
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), big).refusal(t, http.StatusRequestEntityTooLarge, "request_entity_too_large")
	// A HEAD error (a proxy checking with HEAD) has a status and no body.
	if r := app.apiCall(t, http.MethodHead, "/auth/verify", "", "", ""); r.status != http.StatusUnauthorized || len(r.body) != 0 {
		t.Errorf("HEAD without a token: %s", r)
	} else if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("HEAD 401 with WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
}

func TestAPIRemovedMember(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ctx := context.Background()
	adi := app.addMember("Acme Streaming", "adi@acme.test", "Adi Admin", store.RoleAdmin)
	adiTok, adiKey := app.createToken(adi, store.KindPersonal, "adi-personal")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	// Adi, acting as admin through the API, makes a system token.
	var c wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(adiKey),
		map[string]any{"kind": "system", "name": "adi's bot", "roles": []string{"video"}}).ok(t, http.StatusCreated, &c)
	sysKey := c.Key
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")

	// Seen (and cached) before the member leaves.
	for _, k := range []string{keyOf(adiKey), sysKey, keyOf(maxKey)} {
		app.apiGet(t, "/api/v1/token", k).ok(t, http.StatusOK, nil)
	}
	if _, err := app.db.RemoveMember(ctx, adi.Email); err != nil {
		t.Fatal(err)
	}
	app.apiGet(t, "/api/v1/token", keyOf(adiKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/auth/verify", keyOf(adiKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", sysKey).ok(t, http.StatusOK, &p)
	if p.Kind != "system" || !slices.Equal(p.Roles, []string{"video"}) {
		t.Errorf("the system token Adi made: %+v", p)
	}
	app.apiGet(t, "/auth/verify?role=video", sysKey).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, nil)

	if _, err := app.db.RemoveMember(ctx, app.member.Email); err != nil {
		t.Fatal(err)
	}
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).refusal(t, http.StatusUnauthorized, "revoked_token")

	revoked := app.list(t, keyOf(ownerKey), "state=revoked")
	reasons := map[int64]string{}
	for _, tok := range revoked.Tokens {
		reasons[tok.ID] = tok.RevokeReason
	}
	if want := map[int64]string{adiTok.ID: "member_left", maxTok.ID: "member_left"}; !maps.Equal(reasons, want) {
		t.Errorf("revoked: %v, want %v", reasons, want)
	}
}

func TestAPIExpiryAtItsBoundary(t *testing.T) {
	t.Parallel()
	checkAPIExpiryAtItsBoundary(t, newTestApp(t))
}

// checkAPIExpiryAtItsBoundary is the expiry check a second before and at a
// token's expiry, through the API, forward auth and introspection; the
// smoke on PostgreSQL runs it too.
func checkAPIExpiryAtItsBoundary(t *testing.T, app *testApp) {
	exp := app.now.Add(48 * time.Hour)
	_, key := app.createExpiring(t, app.member, store.KindPersonal, "two days", exp)
	_, sysKey := app.createExpiring(t, app.owner, store.KindSystem, "sys two days", exp, store.RoleVideo)
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")

	for _, k := range []string{keyOf(key), keyOf(sysKey)} {
		var p wirePrincipal
		app.apiGet(t, "/api/v1/token", k).ok(t, http.StatusOK, &p)
		if p.ExpiresAt == nil || !p.ExpiresAt.Equal(exp) {
			t.Errorf("expires_at %v, want %v", p.ExpiresAt, exp)
		}
	}
	app.setNow(exp.Add(-time.Second))
	for _, k := range []string{keyOf(key), keyOf(sysKey)} {
		app.apiGet(t, "/api/v1/token", k).ok(t, http.StatusOK, nil)
		app.apiGet(t, "/auth/verify", k).ok(t, http.StatusOK, nil)
	}
	if m := app.introspect(t, adminKey, keyOf(key), false).object(t); m["active"] != true {
		t.Errorf("introspection a second before expiry: %v", m)
	}
	app.setNow(exp)
	for _, k := range []string{keyOf(key), keyOf(sysKey)} {
		app.apiGet(t, "/api/v1/token", k).refusal(t, http.StatusUnauthorized, "expired_token")
		app.apiGet(t, "/auth/verify", k).refusal(t, http.StatusUnauthorized, "expired_token")
	}
	if m := app.introspect(t, adminKey, keyOf(key), false).object(t); !maps.Equal(m, map[string]any{"active": false}) {
		t.Errorf("introspection at expiry: %v", m)
	}
	p := app.list(t, keyOf(adminKey), "state=expired")
	if !slices.Equal(p.names(), sortedStrings("two days", "sys two days")) {
		t.Errorf("state=expired lists %q", p.names())
	}
	if got := app.list(t, keyOf(adminKey), "state=active").names(); !slices.Equal(got, []string{"ana-admin"}) {
		t.Errorf("state=active lists %q", got)
	}
	// Turning the clock back brings it back: expiry is decided at each use.
	app.setNow(exp.Add(-time.Second))
	app.apiGet(t, "/api/v1/token", keyOf(key)).ok(t, http.StatusOK, nil)
}

func TestAPIRateLimitsFailedChecks(t *testing.T) {
	t.Parallel()
	t.Run("after the burst of failures only cached tokens are answered", func(t *testing.T) {
		t.Parallel()
		app := newAPIApp(t, Config{FailuresPerSecond: 0.001, FailureBurst: 3})
		_, key := app.createToken(app.member, store.KindPersonal, "valid")
		valid := keyOf(key)
		// Valid traffic costs nothing of the budget.
		for range 20 {
			app.apiGet(t, "/api/v1/token", valid).ok(t, http.StatusOK, nil)
			app.apiGet(t, "/auth/verify", valid).ok(t, http.StatusOK, nil)
		}
		// No token at all is not a guess.
		for range 5 {
			app.apiGet(t, "/api/v1/token", "").refusal(t, http.StatusUnauthorized, "invalid_token")
		}
		app.apiGet(t, "/api/v1/token", fakeToken("tkp_")).refusal(t, http.StatusUnauthorized, "invalid_token")
		app.apiGet(t, "/auth/verify", badChecksum(valid)).refusal(t, http.StatusUnauthorized, "invalid_token")
		app.apiGet(t, "/api/v1/tokens", "tkp_guess").refusal(t, http.StatusUnauthorized, "invalid_token")

		// Past the budget, what would need the database is refused: a guess,
		// or a valid token this server has not seen yet.
		_, unseen := app.createToken(app.member, store.KindPersonal, "not yet used")
		_, adminKey := app.createToken(app.owner, store.KindPersonal, "admin")
		for _, r := range []*apiResponse{
			app.apiGet(t, "/api/v1/token", keyOf(unseen)),
			app.apiGet(t, "/auth/verify", keyOf(unseen)),
			app.apiGet(t, "/api/v1/token", fakeToken("tkp_")),
			app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(adminKey), "application/x-www-form-urlencoded", "token="+valid),
		} {
			r.refusal(t, http.StatusTooManyRequests, "rate_limited")
			if r.header.Get("X-Token-Id") != "" {
				t.Error("a 429 tells what the token is")
			}
		}
		// A token already checked goes on at full speed from the same
		// address: one guesser behind a NAT does not lock out the rest.
		app.apiGet(t, "/api/v1/token", valid).ok(t, http.StatusOK, nil)
		app.apiGet(t, "/auth/verify", valid).ok(t, http.StatusOK, nil)
		// What needs no token is not limited.
		app.apiGet(t, "/api/v1/openapi.json", "").ok(t, http.StatusOK, nil)
	})
	t.Run("each address has its own budget", func(t *testing.T) {
		t.Parallel()
		_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
		app := newAPIApp(t, Config{FailuresPerSecond: 0.001, FailureBurst: 3, TrustedProxies: []*net.IPNet{loopback}})
		_, key := app.createToken(app.member, store.KindPersonal, "valid")
		from := func(ip, k string) *apiResponse {
			return app.apiCall(t, http.MethodGet, "/api/v1/token", k, "", "", "X-Forwarded-For", ip)
		}
		for range 3 {
			from("203.0.113.7", fakeToken("tkp_")).refusal(t, http.StatusUnauthorized, "invalid_token")
		}
		from("203.0.113.7", keyOf(key)).refusal(t, http.StatusTooManyRequests, "rate_limited")
		from("203.0.113.8", keyOf(key)).ok(t, http.StatusOK, nil)
		from("203.0.113.8", fakeToken("tkp_")).refusal(t, http.StatusUnauthorized, "invalid_token")
		from("203.0.113.8", keyOf(key)).ok(t, http.StatusOK, nil)
	})
}

func TestTokenFromAPIRevokedOnPage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	var c wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), map[string]any{"name": "made by the API"}).ok(t, http.StatusCreated, &c)
	app.apiGet(t, "/api/v1/token", c.Key).ok(t, http.StatusOK, nil)

	b := app.signIn(app.member)
	page := b.get("/tokens")
	row := page.row(t, "my-tokens", "made by the API")
	if got := row.AttrOr("data-token-id", ""); got != strconv.FormatInt(c.Token.ID, 10) {
		t.Errorf("row id %q, want %d", got, c.Token.ID)
	}
	revokeURL := row.Find(`[data-testid=revoke]`).AttrOr("href", "")
	b.get(revokeURL)
	if r := b.postForm(revokeURL, url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Yes, Revoke: status %d", r.StatusCode)
	}
	app.apiGet(t, "/api/v1/token", c.Key).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/auth/verify", c.Key).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, nil)
}

func TestTokenFromPageRevokedOnAPI(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.signIn(app.member)
	b.get("/tokens/personal/new")
	r := b.postForm("/tokens/personal", url.Values{"name": {"made on the page"}, "expires": {"never"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create on the page: status %d", r.StatusCode)
	}
	key := r.doc.Find(`[data-testid=new-key-value]`).AttrOr("value", "")
	if _, ok := store.ParseTokenText(key); !ok {
		t.Fatalf("no key on the page: %q", key)
	}
	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", key).ok(t, http.StatusOK, &p)
	if p.Name != "made on the page" || p.ExpiresAt != nil {
		t.Errorf("the page's key is %+v", p)
	}
	if !slices.Contains(b.get("/tokens").rowNames("my-tokens"), "made on the page") {
		t.Fatal("not listed before the revoke")
	}

	var rv wireRevoked
	app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(p.ID, 10), key, "", "").ok(t, http.StatusOK, &rv)
	if rv.Revoked == nil || !*rv.Revoked {
		t.Errorf("revoked %v", rv.Revoked)
	}
	if names := b.get("/tokens").rowNames("my-tokens"); slices.Contains(names, "made on the page") {
		t.Errorf("My Tokens still lists it: %q", names)
	}
	if names := app.signIn(app.owner).get("/tokens").rowNames("user-tokens"); slices.Contains(names, "made on the page") {
		t.Errorf("Organization User Tokens still lists it: %q", names)
	}
	app.apiGet(t, "/api/v1/token", key).refusal(t, http.StatusUnauthorized, "revoked_token")
}

func TestLastUsedOnThePage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ctx := context.Background()
	_, usedKey := app.createToken(app.member, store.KindPersonal, "used")
	app.createToken(app.member, store.KindPersonal, "unused")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")

	firstUse := app.now
	app.apiGet(t, "/api/v1/token", keyOf(usedKey)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	page := app.signIn(app.member).get("/tokens")
	used := cellText(page.row(t, "my-tokens", "used").Find(`[data-testid=token-last-used]`))
	if used == "Never" || !strings.Contains(used, "127.0.0.1") || !strings.Contains(used, "Nov 26, 2026 12:00") {
		t.Errorf("Last used of a used token: %q, want its time and 127.0.0.1", used)
	}
	if got := cellText(page.row(t, "my-tokens", "unused").Find(`[data-testid=token-last-used]`)); got != "Never" {
		t.Errorf("Last used of a token never used: %q, want Never", got)
	}
	ownerPage := app.signIn(app.owner).get("/tokens")
	if got := cellText(ownerPage.row(t, "user-tokens", "used").Find(`[data-testid=token-last-used]`)); got != used {
		t.Errorf("Organization User Tokens shows Last used %q, My Tokens %q", got, used)
	}

	// Uses within a minute are not written again; a use a minute later is.
	lastUsed := func() (time.Time, string) {
		t.Helper()
		for _, tok := range app.list(t, keyOf(ownerKey), "kind=personal").Tokens {
			if tok.Name == "used" && tok.LastUsedAt != nil {
				return *tok.LastUsedAt, tok.LastUsedIP
			}
		}
		return time.Time{}, ""
	}
	if at, ip := lastUsed(); !at.Equal(firstUse) || ip != "127.0.0.1" {
		t.Errorf("the API says last used %v from %q", at, ip)
	}
	app.setNow(app.now.Add(30 * time.Second))
	app.apiGet(t, "/auth/verify", keyOf(usedKey)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if at, _ := lastUsed(); !at.Equal(firstUse) {
		t.Errorf("a use 30 s later was written: %v", at)
	}
	app.setNow(firstUse.Add(time.Minute))
	app.apiGet(t, "/auth/verify", keyOf(usedKey)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if at, _ := lastUsed(); !at.Equal(firstUse.Add(time.Minute)) {
		t.Errorf("a use a minute later: last used %v", at)
	}
}

func TestOpenAPIDocumentMatchesTheRouter(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	r := app.apiGet(t, "/api/v1/openapi.json", "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.ok(t, http.StatusOK, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	httpMethods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	documented := map[string]bool{} // "GET /api/v1/tokens/{id}"
	for path, item := range doc.Paths {
		for m := range item {
			if slices.Contains(httpMethods, m) {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("the document has no operations")
	}

	srv, ok := app.server.Config.Handler.(*Server)
	if !ok {
		t.Fatalf("the test server's handler is %T", app.server.Config.Handler)
	}
	routed := map[string]bool{}
	for _, rt := range srv.echo.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/") && !strings.HasPrefix(rt.Path, "/auth/") {
			continue
		}
		segs := strings.Split(rt.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		op := rt.Method + " " + strings.Join(segs, "/")
		routed[op] = true
		// Forward auth answers any method, here and below: the document
		// describes it as GET /auth/verify.
		if rt.Path == "/auth/verify" || rt.Path == "/auth/verify/*" {
			op = "GET /auth/verify"
		}
		if !documented[op] {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, rt.Path)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("openapi.json documents %s, which the router does not have", op)
		}
	}
	for _, op := range []string{"GET /api/v1/token", "GET /api/v1/tokens", "POST /api/v1/tokens", "DELETE /api/v1/tokens/{id}", "POST /api/v1/introspect", "GET /auth/verify"} {
		if !documented[op] || !routed[op] {
			t.Errorf("%s: documented %v, routed %v", op, documented[op], routed[op])
		}
	}
}
