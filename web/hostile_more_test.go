package web

// More requests that could be read two ways, found after the first round
// (hostile_requests_test.go): queries that do not parse or say a thing twice,
// a token in the URL, form fields given twice, RFC 3339 as it is written,
// and errors that must not speak Go.

import (
	"context"
	stdjson "encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

func TestForwardAuthQueryIsReadStrictly(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, videoKey := app.createToken(app.owner, store.KindSystem, "video only", store.RoleVideo)
	const envoy = "/auth/verify/videos/1/master.m3u8"
	for _, tt := range []struct {
		name, path string
		status     int    // 200, 403, or 400 with field
		field      string // for 400
	}{
		// A query Go would read only in part: the pair with ';' is dropped.
		{"a semicolon", "/auth/verify?role=video;role=admin", 400, ""},
		{"a semicolon after a role", "/auth/verify?role=video&role=admin;x=1", 400, ""},
		{"a bad escape", "/auth/verify?role=vid%zzeo", 400, ""},
		{"a misspelt parameter", "/auth/verify?roles=admin", 400, "roles"},
		{"another case", "/auth/verify?Role=admin", 400, "Role"},
		{"PHP's list form", "/auth/verify?role[]=admin", 400, "role[]"},
		{"a parameter beside role", "/auth/verify?role=video&debug=1", 400, "debug"},
		{"a parameter without a value", "/auth/verify?role=video&x", 400, "x"},
		{"two roles in one", "/auth/verify?role=video,admin", 400, "role"},
		{"two of the same in one", "/auth/verify?role=video,video", 400, "role"},
		{"an empty role", "/auth/verify?role=", 400, "role"},
		{"upper case", "/auth/verify?role=VIDEO", 200, ""},
		{"mixed case", "/auth/verify?role=Video&role=video", 200, ""},
		{"upper case, not held", "/auth/verify?role=ADMIN", 403, ""},
		{"no query", "/auth/verify", 200, ""},
		{"an empty query", "/auth/verify?", 200, ""},
		// Below /auth/verify the query is the client's, not the proxy's.
		{"Envoy: the client's own parameters", envoy + "?t=120&quality=hd&Role=x", 200, ""},
		{"Envoy: a role in upper case", envoy + "?role=VIDEO", 200, ""},
		{"Envoy: a role not held", envoy + "?role=video&role=admin", 403, ""},
		{"Envoy: a role that is none", envoy + "?role=root", 400, "role"},
		{"Envoy: a semicolon", envoy + "?role=admin;x=1", 400, ""},
		{"Envoy: a bad escape", envoy + "?q=%", 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := app.apiGet(t, tt.path, keyOf(videoKey))
			switch tt.status {
			case http.StatusOK:
				r.ok(t, http.StatusOK, nil)
				if r.header.Get("X-Token-Subject") == "" {
					t.Error("200 without X-Token-Subject")
				}
			case http.StatusForbidden:
				r.refusal(t, http.StatusForbidden, "insufficient_role")
			default:
				r.invalid(t, tt.field)
				if r.header.Get("X-Token-Subject") != "" {
					t.Errorf("X-Token-Subject %q on a refusal", r.header.Get("X-Token-Subject"))
				}
			}
		})
	}
}

func TestListTokensQueryIsReadStrictly(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, anaKey := app.createToken(app.owner, store.KindPersonal, "ana")
	app.revokeInStore(t, app.owner, mustToken(app.createToken(app.owner, store.KindPersonal, "old")).ID)
	for query, field := range map[string]string{
		"kind=personal&kind=system": "kind",
		"kind=system&kind=system":   "kind",
		"state=active&state=all":    "state",
		"limit=1&limit=2":           "limit",
		"cursor=5&cursor=6":         "cursor",
		"state=":                    "state",
		"kind=":                     "kind",
		"limit=":                    "limit",
		"cursor=":                   "cursor",
		"state":                     "state",
		"stat=revoked":              "stat",
		"Kind=system":               "Kind",
		"page=2":                    "page",
		"state=all&verbose":         "verbose",
		"state=everything":          "state",
		"state=revoked;kind=system": "",
		"state=%zz":                 "",
	} {
		t.Run(query, func(t *testing.T) {
			app.apiGet(t, "/api/v1/tokens?"+query, keyOf(anaKey)).invalid(t, field)
		})
	}
	if p := app.list(t, keyOf(anaKey), "kind=personal&state=all&limit=5"); len(p.Tokens) != 2 {
		t.Errorf("state=all: %d tokens, want 2", len(p.Tokens))
	}
	if p := app.list(t, keyOf(anaKey), ""); len(p.Tokens) != 1 {
		t.Errorf("no query: %d tokens, want 1", len(p.Tokens))
	}
}

func mustToken(t store.Token, _ store.TokenText) store.Token { return t }

func TestTokenInTheURLIsRefused(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	tok, maxKey := app.createToken(app.member, store.KindPersonal, "max")
	_, anaKey := app.createToken(app.owner, store.KindPersonal, "ana")
	id := strconv.FormatInt(tok.ID, 10)
	q := "?access_token=" + keyOf(maxKey)
	for _, tt := range []struct {
		method, path, contentType, body string
	}{
		{http.MethodGet, "/api/v1/token" + q, "", ""},
		{http.MethodGet, "/api/v1/tokens" + q, "", ""},
		{http.MethodGet, "/api/v1/tokens" + q + "&state=all", "", ""},
		{http.MethodPost, "/api/v1/tokens" + q, "application/json", `{"name":"from the URL"}`},
		{http.MethodDelete, "/api/v1/tokens/" + id + q, "", ""},
		{http.MethodPost, "/api/v1/introspect" + q, "application/x-www-form-urlencoded", "token=" + keyOf(maxKey)},
		{http.MethodGet, "/auth/verify" + q, "", ""},
		{http.MethodPost, "/auth/verify" + q, "", ""},
		{http.MethodGet, "/auth/verify/videos/1/master.m3u8" + q, "", ""},
	} {
		for _, key := range []string{"", keyOf(anaKey)} {
			t.Run(tt.method+" "+strings.SplitN(tt.path, "?", 2)[0]+" header "+strconv.FormatBool(key != ""), func(t *testing.T) {
				before := app.countTokens(t)
				r := app.apiCall(t, tt.method, tt.path, key, tt.contentType, tt.body)
				e := r.refusal(t, http.StatusBadRequest, "invalid_request")
				if e.Field != "access_token" || !strings.Contains(e.Message, "Authorization header") {
					t.Errorf("field %q, message %q; want access_token and a word about the Authorization header", e.Field, e.Message)
				}
				if after := app.countTokens(t); after != before {
					t.Errorf("%d tokens before, %d after", before, after)
				}
			})
		}
	}
	if !app.token(tok.ID, app.owner).RevokedAt.IsZero() {
		t.Error("a DELETE with the token in the URL revoked it")
	}
	// The document anyone may read takes no token at all.
	app.apiGet(t, "/api/v1/openapi.json?access_token=x", "").ok(t, http.StatusOK, nil)

	t.Run("introspection takes no query parameters", func(t *testing.T) {
		for query, field := range map[string]string{
			"token_type_hint=access_token": "token_type_hint",
			"foo=1":                        "foo",
			"x":                            "x",
			"token=" + keyOf(maxKey):       "token",
		} {
			app.apiCall(t, http.MethodPost, "/api/v1/introspect?"+query, keyOf(anaKey), "application/x-www-form-urlencoded",
				"token="+keyOf(maxKey)).invalid(t, field)
		}
		var in introspection
		app.apiCall(t, http.MethodPost, "/api/v1/introspect?", keyOf(anaKey), "application/x-www-form-urlencoded",
			"token="+keyOf(maxKey)).ok(t, http.StatusOK, &in)
		if !in.Active {
			t.Error("an empty query: the token is not active")
		}
	})
}

func TestPageFormFieldsGivenTwice(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	max, ana := app.signIn(app.member), app.signIn(app.owner)
	for _, tt := range []struct {
		name      string
		path      string
		form      url.Values
		errorOf   string // the field the message is beside
		keptName  string
		asOwner   bool
		withQuery string
	}{
		{name: "two names", path: "/tokens/personal", form: url.Values{"name": {"a", "b"}, "expires": {"never"}}, errorOf: "name", keptName: "a"},
		{name: "a name in the URL too", path: "/tokens/personal", withQuery: "?name=b", form: url.Values{"name": {"a"}, "expires": {"never"}}, errorOf: "name", keptName: "a"},
		{name: "two expirations", path: "/tokens/personal", form: url.Values{"name": {"x1"}, "expires": {"never", "7"}}, errorOf: "expires", keptName: "x1"},
		{name: "two presets", path: "/tokens/personal", form: url.Values{"name": {"x2"}, "expires": {"7", "90"}}, errorOf: "expires", keptName: "x2"},
		{name: "two custom dates", path: "/tokens/personal", form: url.Values{"name": {"x3"}, "expires": {"custom"}, "expires_on": {"2027-01-01", "2027-02-01"}}, errorOf: "expires", keptName: "x3"},
		{name: "an empty expiration", path: "/tokens/personal", form: url.Values{"name": {"x4"}, "expires": {""}}, errorOf: "expires", keptName: "x4"},
		{name: "a preset with a leading zero", path: "/tokens/personal", form: url.Values{"name": {"x5"}, "expires": {"07"}}, errorOf: "expires", keptName: "x5"},
		{name: "a preset with a plus", path: "/tokens/personal", form: url.Values{"name": {"x6"}, "expires": {"+7"}}, errorOf: "expires", keptName: "x6"},
		{name: "a preset with a space", path: "/tokens/personal", form: url.Values{"name": {"x7"}, "expires": {" 7"}}, errorOf: "expires", keptName: "x7"},
		{name: "system: two names", path: "/tokens/system", form: url.Values{"name": {"s1", "s2"}, "roles": {"video"}, "expires": {"never"}}, errorOf: "name", keptName: "s1", asOwner: true},
		{name: "system: two expirations", path: "/tokens/system", form: url.Values{"name": {"s3"}, "roles": {"video"}, "expires": {"30", "never"}}, errorOf: "expires", keptName: "s3", asOwner: true},
		{name: "system: an empty expiration", path: "/tokens/system", form: url.Values{"name": {"s4"}, "roles": {"video"}, "expires": {""}}, errorOf: "expires", keptName: "s4", asOwner: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := max.in(t)
			if tt.asOwner {
				c = ana.in(t)
			}
			c.get(tt.path + "/new")
			before := app.countTokens(t)
			r := c.postForm(tt.path+tt.withQuery, tt.form)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.StatusCode)
			}
			if msg := r.text(`[data-testid=error-` + tt.errorOf + `]`); msg == "" {
				t.Errorf("no message beside %s", tt.errorOf)
			}
			if got := r.doc.Find(`input[name=name]`).AttrOr("value", ""); got != tt.keptName {
				t.Errorf("the name came back as %q, want %q", got, tt.keptName)
			}
			if after := app.countTokens(t); after != before {
				t.Errorf("%d tokens before, %d after", before, after)
			}
		})
	}
	t.Run("roles may repeat; no expiration may be left out", func(t *testing.T) {
		c := ana.in(t)
		c.get("/tokens/system/new")
		if r := c.postForm("/tokens/system", url.Values{"name": {"two roles"}, "roles": {"video", "viewer"}, "expires": {"7"}}); r.StatusCode != http.StatusCreated {
			t.Errorf("two roles: status %d, want 201", r.StatusCode)
		}
		c.get("/tokens/personal/new")
		if r := c.postForm("/tokens/personal", url.Values{"name": {"no expiration field"}}); r.StatusCode != http.StatusCreated {
			t.Errorf("no expires: status %d, want 201", r.StatusCode)
		}
	})
	t.Run("the organization's maximum", func(t *testing.T) {
		c := ana.in(t)
		for _, form := range []url.Values{
			{"max_token_days": {"7", "30"}},
			{"max_token_days": {"30", "0"}},
			{"max_token_days": {"07"}},
			{"max_token_days": {"+7"}},
			{"max_token_days": {"00"}},
		} {
			c.get("/tokens")
			r := c.postForm("/tokens/settings", form)
			if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.text(`[data-testid=error-page]`), "maximum token lifetime") {
				t.Errorf("%v: status %d, page %q; want 422 saying what is wrong", form, r.StatusCode, r.text(`[data-testid=error-page]`))
			}
		}
		if got := app.orgMaxDays(t); got != 0 {
			t.Errorf("refused posts set the maximum to %d", got)
		}
	})
}

func TestAPITokenKindIsSaidOrLeftOut(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.owner, store.KindPersonal, "ana")
	before := app.countTokens(t)
	for _, body := range []string{
		`{"name":"a","kind":null}`,
		`{"name":"a","kind":""}`,
		`{"name":"a","kind":"bogus"}`,
		`{"name":"a","kind":"Personal"}`,
		`{"name":"a","kind":" system"}`,
		`{"name":"a","kind":7}`,
		`{"name":"a","kind":["system"]}`,
	} {
		t.Run(body, func(t *testing.T) {
			r := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body)
			r.invalid(t, "kind")
			if e := r.refusal(t, http.StatusBadRequest, "invalid_request"); e.Message != "kind must be personal or system." {
				t.Errorf("message %q", e.Message)
			}
		})
	}
	if after := app.countTokens(t); after != before {
		t.Errorf("%d tokens before, %d after", before, after)
	}
	var made wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"no kind"}`).ok(t, http.StatusCreated, &made)
	if made.Token.Kind != "personal" {
		t.Errorf("no kind made a %q token, want personal", made.Token.Kind)
	}
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"sys","kind":"system","roles":["video"]}`).ok(t, http.StatusCreated, &made)
	if made.Token.Kind != "system" {
		t.Errorf("kind system made a %q token", made.Token.Kind)
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, tt := range []struct {
		in   string
		want string // RFC 3339 in UTC; "" for a refusal
	}{
		{"2027-01-31", "2027-01-31T00:00:00Z"},
		{"0000-01-01", "0000-01-01T00:00:00Z"}, // parsed; the store refuses it as past
		{"2027-01-31T10:00:00Z", "2027-01-31T10:00:00Z"},
		{"2027-01-31t10:00:00z", "2027-01-31T10:00:00Z"},
		{"2027-01-31T10:00:00.5Z", "2027-01-31T10:00:00.5Z"},
		{"2027-01-31T10:00:00.123456789123Z", "2027-01-31T10:00:00.123456789Z"},
		{"2027-01-31T10:00:00+01:00", "2027-01-31T09:00:00Z"},
		{"2027-01-31T10:00:00-00:00", "2027-01-31T10:00:00Z"},
		{"2027-01-31T10:00:00+23:59", "2027-01-30T10:01:00Z"},
		{"2027-01-31T10:00:00-23:59", "2027-02-01T09:59:00Z"},
		{"2027-06-30T23:59:60Z", "2027-07-01T00:00:00Z"},
		{"2027-06-30T15:59:60-08:00", "2027-07-01T00:00:00Z"},
		{"2028-02-29", "2028-02-29T00:00:00Z"},
		{"2027-01-31T10:00:00+24:00", ""},
		{"2027-01-31T10:00:00+23:60", ""},
		{"2027-01-31T10:00:00+99:00", ""},
		{"2027-01-31T10:00:00,5Z", ""},
		{"2027-01-31T10:00:00.Z", ""},
		{"2027-01-31T10:00:00+0100", ""},
		{"2027-01-31T10:00:00+01", ""},
		{"2027-01-31T10:00:00", ""},
		{"2027-01-31T10:00Z", ""},
		{"2027-01-31 10:00:00Z", ""},
		{"2027-01-31T24:00:00Z", ""},
		{"2027-01-31T10:60:00Z", ""},
		{"2027-01-31T10:00:61Z", ""},
		{"2027-06-30T12:59:60Z", ""}, // a leap second ends a UTC day
		{"2027-02-29", ""},
		{"2027-02-30", ""},
		{"2027-13-01", ""},
		{"2027-00-10", ""},
		{"2027-01-00", ""},
		{"2027-1-31", ""},
		{"+2027-01-31", ""},
		{"-0001-01-01", ""},
		{"12027-01-31", ""},
		{"２０２７-01-31", ""},
		{"2027-01-31\n", ""},
		{" 2027-01-31", ""},
		{"", ""},
	} {
		got, err := parseExpiry(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parseExpiry(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("parseExpiry(%q): %v", tt.in, err)
		case tt.want != "" && !got.Equal(utc(tt.want)):
			t.Errorf("parseExpiry(%q) = %v, want %s", tt.in, got.UTC(), tt.want)
		}
	}
}

func TestAPIExpiresAtIsRFC3339(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max")
	for i, tt := range []struct{ in, want string }{
		{"2027-01-31t10:00:00z", "2027-01-31T10:00:00Z"},
		{"2027-06-30T23:59:60Z", "2027-07-01T00:00:00Z"},
		{"2027-01-31T10:00:00-23:59", "2027-02-01T09:59:00Z"},
	} {
		var made wireCreated
		app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": "t" + strconv.Itoa(i), "expires_at": tt.in}).ok(t, http.StatusCreated, &made)
		if want, _ := time.Parse(time.RFC3339, tt.want); made.Token.ExpiresAt == nil || !made.Token.ExpiresAt.Equal(want) {
			t.Errorf("%s: expires_at %v, want %s", tt.in, made.Token.ExpiresAt, tt.want)
		}
	}
	before := app.countTokens(t)
	for _, in := range []string{"2027-01-31T10:00:00+24:00", "2027-01-31T10:00:00+23:60", "2027-01-31T10:00:00,5Z", "2027-01-31 10:00:00Z", "2027-06-30T12:59:60Z"} {
		r := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": "refused", "expires_at": in})
		r.invalid(t, "expires_at")
		if e := r.refusal(t, http.StatusBadRequest, "invalid_request"); !strings.Contains(e.Message, "RFC 3339") {
			t.Errorf("%s: message %q does not cite RFC 3339", in, e.Message)
		}
	}
	if after := app.countTokens(t); after != before {
		t.Errorf("%d tokens before, %d after", before, after)
	}
}

// goInternals are words only Go's own errors use.
var goInternals = []string{"Go ", "web.", "struct", "json:", "jsontext", "unmarshal", "*string", "[]string", "apiNewToken"}

func TestJSONErrorsSpeakNoGo(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.owner, store.KindPersonal, "ana")
	for _, tt := range []struct {
		path, body, field, message string
	}{
		{"/api/v1/tokens", `{"name":"a","foo":1}`, "foo", "foo is not a field this request takes."},
		{"/api/v1/tokens", `{"foo":1,"roles":[1]}`, "foo", "foo is not a field this request takes."},
		{"/api/v1/tokens", `{"name":["a"]}`, "name", "name must be a string."},
		{"/api/v1/tokens", `{"name":"a","roles":"video"}`, "roles", "roles must be a list of strings."},
		{"/api/v1/tokens", `{"name":"a","roles":[1]}`, "roles", "roles must be a list of strings."},
		{"/api/v1/tokens", `{"name":"a","expires_in_days":"7"}`, "expires_in_days", "expires_in_days must be a whole number."},
		{"/api/v1/tokens", `{"name":"a","expires_in_days":1.5}`, "expires_in_days", "expires_in_days must be a whole number."},
		{"/api/v1/tokens", `{"name":"a","expires_at":20270131}`, "expires_at", "expires_at must be a string."},
		{"/api/v1/tokens", `{"name":"a","expires_in_days":99999999999999999999}`, "expires_in_days", "expires_in_days is out of range."},
		{"/api/v1/tokens", `{"name":"a","name":"b"}`, "name", "The body names name more than once."},
		{"/api/v1/tokens", "{\"name\":\"a\xff\"}", "name", "The body is not valid UTF-8."},
		{"/api/v1/tokens", `[]`, "", "The body must be a JSON object."},
		{"/api/v1/tokens", `"name"`, "", "The body must be a JSON object."},
		{"/api/v1/introspect", `{"token":1}`, "token", "token must be a string."},
		{"/api/v1/introspect", `{"token":"x","token_type_hint":true}`, "token_type_hint", "token_type_hint must be a string."},
		{"/api/v1/introspect", `{"token":"x","foo":1}`, "foo", "foo is not a field this request takes."},
		{"/api/v1/introspect", `[1]`, "", "The body must be a JSON object."},
	} {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			r := app.apiJSON(t, http.MethodPost, tt.path, keyOf(key), tt.body)
			r.invalid(t, tt.field)
			if e := r.refusal(t, http.StatusBadRequest, "invalid_request"); e.Message != tt.message {
				t.Errorf("message %q, want %q", e.Message, tt.message)
			}
		})
	}
	// Broken JSON is said in JSON's words, never Go's.
	for _, body := range []string{`{`, `{"name":tru}`, `{"name":"a"} x`, `{"name":"a",}`, "\xff"} {
		r := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body)
		e := r.refusal(t, http.StatusBadRequest, "invalid_request")
		for _, w := range goInternals {
			if strings.Contains(e.Message, w) {
				t.Errorf("%q: message %q says %q", body, e.Message, w)
			}
		}
	}
	e := app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(key), "application/json", "").refusal(t, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(e.Message, "empty") {
		t.Errorf("an empty body: message %q", e.Message)
	}
}

func TestJSONTypeNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[string](), "a string"},
		{reflect.TypeFor[*string](), "a string"},
		{reflect.TypeFor[*int](), "a whole number"},
		{reflect.TypeFor[float64](), "a number"},
		{reflect.TypeFor[bool](), "true or false"},
		{reflect.TypeFor[[]string](), "a list of strings"},
		{reflect.TypeFor[[]int](), "a list of whole numbers"},
		{reflect.TypeFor[map[string]string](), "an object"},
		{reflect.TypeFor[apiNewToken](), "an object"},
	} {
		if got := jsonTypeName(tt.t); got != tt.want {
			t.Errorf("jsonTypeName(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestExpiryRefusalNamesTheFieldGiven(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max")
	if _, err := app.db.SetMaxTokenLifetime(context.Background(), app.owner, 30); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"name":"a"}`, "expires_at"},
		{`{"name":"a","expires_at":null}`, "expires_at"},
		{`{"name":"a","expires_in_days":null}`, "expires_at"},
		{`{"name":"a","expires_in_days":null,"expires_at":null}`, "expires_at"},
		{`{"name":"a","expires_at":"2027-06-01"}`, "expires_at"},
		{`{"name":"a","expires_in_days":31}`, "expires_in_days"},
		{`{"name":"a","expires_in_days":31,"expires_at":null}`, "expires_in_days"},
	} {
		app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), tt.body).invalid(t, tt.field)
	}
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"within","expires_in_days":30}`).ok(t, http.StatusCreated, nil)
}

func TestIntrospectBodyWithoutContentType(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max")
	_, anaKey := app.createToken(app.owner, store.KindPersonal, "ana")
	for _, body := range []string{"token=" + keyOf(maxKey), `{"token":"` + keyOf(maxKey) + `"}`, " "} {
		e := app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey), "", body).refusal(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		if e.Field != "Content-Type" {
			t.Errorf("%q: field %q, want Content-Type", body, e.Field)
		}
	}
	// A body of unknown length (chunked) is looked at too.
	req, _ := http.NewRequest(http.MethodPost, app.server.URL+"/api/v1/introspect", io.MultiReader(strings.NewReader("token="+keyOf(maxKey))))
	req.Header.Set("Authorization", "Bearer "+keyOf(anaKey))
	res, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("chunked body without Content-Type: status %d, want 415", res.StatusCode)
	}
	// No body at all reads as an empty form: the token is missing.
	app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey), "", "").invalid(t, "token")
}

func TestTokenIDsAreCanonical(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	tok, key := app.createToken(app.member, store.KindPersonal, "max")
	id := strconv.FormatInt(tok.ID, 10)
	c := app.signIn(app.member)
	for _, p := range []string{"0" + id, "00" + id, "+" + id, "%2B" + id, id + "%20", "%20" + id, id + ".0", "0x" + strconv.FormatInt(tok.ID, 16)} {
		t.Run(p, func(t *testing.T) {
			app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+p, keyOf(key), "", "").refusal(t, http.StatusNotFound, "not_found")
			if r := c.in(t).get("/tokens/" + p + "/revoke"); r.StatusCode != http.StatusNotFound {
				t.Errorf("GET revoke page: status %d, want 404", r.StatusCode)
			}
			c.get("/tokens")
			if r := c.in(t).postForm("/tokens/"+p+"/revoke", url.Values{}); r.StatusCode != http.StatusNotFound {
				t.Errorf("POST revoke: status %d, want 404", r.StatusCode)
			}
		})
	}
	if !app.token(tok.ID, app.owner).RevokedAt.IsZero() {
		t.Fatal("a look-alike id revoked the token")
	}
	app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+id, keyOf(key), "", "").ok(t, http.StatusOK, nil)
}

// The OpenAPI document says what every operation that reads a token may
// answer: 400 (two Authorization headers, a token in the URL) and 503 (the
// database out of reach); and README's table and the document's codes are
// one list.
func TestOpenAPIBearerOperationsAnswers(t *testing.T) {
	t.Parallel()
	var doc struct {
		Info struct {
			Description string `json:"description"`
		} `json:"info"`
		Paths map[string]map[string]struct {
			Description string                        `json:"description"`
			Security    *[]any                        `json:"security"`
			Responses   map[string]stdjson.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Responses map[string]struct {
				Headers map[string]any `json:"headers"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := stdjson.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Info.Description, "405") || !strings.Contains(doc.Info.Description, "method_not_allowed") {
		t.Errorf("info.description does not describe 405: %q", doc.Info.Description)
	}
	if _, ok := doc.Components.Responses["ServiceUnavailable"].Headers["Retry-After"]; !ok {
		t.Error("no ServiceUnavailable response with Retry-After")
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // reads no token
			}
			for _, status := range []string{"400", "401", "503"} {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s %s reads a token but does not list %s", method, path, status)
				}
			}
		}
	}
	verify := doc.Paths["/auth/verify"]["get"].Description
	for _, w := range []string{"/auth/verify/{anything}", "every method"} {
		if !strings.Contains(verify, w) {
			t.Errorf("/auth/verify's description does not say %q: %q", w, verify)
		}
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var table []string // codes in README's error table
	for line := range strings.Lines(string(readme)) {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSpace(cells[1])); err != nil {
			continue
		}
		for code := range strings.SplitSeq(cells[2], ",") {
			if code = strings.Trim(strings.TrimSpace(code), "`"); code != "" {
				table = append(table, code)
			}
		}
	}
	documented := openAPIErrorCodes(t)
	slices.Sort(table)
	documented = slices.Sorted(slices.Values(documented))
	if !slices.Equal(table, documented) {
		t.Errorf("README's error table has codes %q, the OpenAPI document %q", table, documented)
	}
	if !strings.Contains(string(readme), "| 503 | `temporarily_unavailable` |") {
		t.Error("README's error table has no 503 temporarily_unavailable row")
	}
}
