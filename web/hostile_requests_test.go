package web

// Hostile inputs other token systems were caught out by: expiry at the
// edges of time, names that look alike or like nothing, and requests that
// could be read two ways. Each goes through the real router, on the page
// and on the API, and must answer the same.

import (
	"database/sql"
	stdjson "encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tokend/store"
)

func TestAPIExpiryAtTheEdgesOfTime(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max's key")
	for _, tt := range []struct {
		name, body, field string
	}{
		{"the zero date", `{"name":"z1","expires_at":"0001-01-01"}`, "expires_at"},
		{"the zero time", `{"name":"z2","expires_at":"0001-01-01T00:00:00Z"}`, "expires_at"},
		{"year 1 east of UTC", `{"name":"z3","expires_at":"0001-01-01T00:00:00+01:00"}`, "expires_at"},
		{"year 9999 west of UTC", `{"name":"y10k","expires_at":"9999-12-31T23:59:59-01:00"}`, "expires_at"},
		{"year 9999", `{"name":"y9999","expires_at":"9999-12-31"}`, "expires_at"},
		{"a day past the latest expiry", `{"name":"far","expires_at":"2036-11-24"}`, "expires_at"},
		{"a negative year", `{"name":"neg","expires_at":"-0001-01-01T00:00:00Z"}`, "expires_at"},
		{"February 30", `{"name":"feb","expires_at":"2027-02-30"}`, "expires_at"},
		{"an empty expiry", `{"name":"empty","expires_at":""}`, "expires_at"},
		{"zero days", `{"name":"d0","expires_in_days":0}`, "expires_in_days"},
		{"negative days", `{"name":"d-1","expires_in_days":-1}`, "expires_in_days"},
		{"3651 days", `{"name":"d3651","expires_in_days":3651}`, "expires_in_days"},
		{"days past int64", `{"name":"dbig","expires_in_days":99999999999999999999}`, "expires_in_days"},
		{"days as a string", `{"name":"dstr","expires_in_days":"7"}`, "expires_in_days"},
		{"days as a fraction", `{"name":"dfrac","expires_in_days":1.5}`, "expires_in_days"},
		{"a date as a number", `{"name":"num","expires_at":1893456000}`, "expires_at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := app.countTokens(t)
			app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), tt.body).invalid(t, tt.field)
			if after := app.countTokens(t); after != before {
				t.Errorf("%d tokens before, %d after a refused create", before, after)
			}
		})
	}

	// The latest expiry there is, by days or by date, is one bound.
	var made struct {
		Token struct {
			ExpiresAt *time.Time `json:"expires_at"`
		} `json:"token"`
	}
	latest := app.now.UTC().Truncate(time.Second).AddDate(0, 0, store.MaxTokenLifetimeDays)
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"3650 days","expires_in_days":3650}`).ok(t, http.StatusCreated, &made)
	if made.Token.ExpiresAt == nil || !made.Token.ExpiresAt.Equal(latest) {
		t.Errorf("3650 days: expires_at %v, want %v", made.Token.ExpiresAt, latest)
	}
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"latest date","expires_at":"2036-11-23"}`).ok(t, http.StatusCreated, &made)

	// No expiry is said by absence or null.
	for _, body := range []string{`{"name":"never 1"}`, `{"name":"never 2","expires_at":null}`, `{"name":"never 3","expires_in_days":null}`} {
		made.Token.ExpiresAt = new(time.Time)
		app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), body).ok(t, http.StatusCreated, &made)
		if made.Token.ExpiresAt != nil {
			t.Errorf("%s: expires_at %v, want null", body, made.Token.ExpiresAt)
		}
	}
}

func TestPageCustomDateAtTheEdgesOfTime(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	c := app.signIn(app.member)
	for _, date := range []string{"0001-01-01", "9999-12-31", "2036-11-24", "2026-11-26", "-0001-01-01", "2027-02-30", ""} {
		form := url.Values{"name": {"custom " + date}, "expires": {"custom"}, "expires_on": {date}}
		before := app.countTokens(t)
		r := c.postForm("/tokens/personal", form)
		if r.StatusCode != http.StatusUnprocessableEntity || r.text(`[data-testid=error-expires]`) == "" {
			t.Errorf("custom date %q: status %d, error %q; want 422 with an error beside Expiration", date, r.StatusCode, r.text(`[data-testid=error-expires]`))
		}
		if got := r.doc.Find(`input[name=name]`).AttrOr("value", ""); got != "custom "+date {
			t.Errorf("custom date %q: the name came back as %q", date, got)
		}
		if after := app.countTokens(t); after != before {
			t.Errorf("custom date %q: %d tokens before, %d after", date, before, after)
		}
	}
	r := c.postForm("/tokens/personal", url.Values{"name": {"latest"}, "expires": {"custom"}, "expires_on": {"2036-11-23"}})
	if r.StatusCode != http.StatusCreated {
		t.Errorf("the latest custom date: status %d, error %q", r.StatusCode, r.text(`[data-testid=error-expires]`))
	}
}

// A row stored by an older release with an expiry past year 9999 must not
// break a list, a page or a revoke, on which JSON and RFC 3339 cannot write
// such a year.
func TestStoredExpiryPastYear9999(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, key := app.createToken(app.member, store.KindPersonal, "from an older release")
	raw, err := sql.Open("sqlite", app.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// 10000-01-01T00:59:59Z, as 9999-12-31T23:59:59-01:00 was once stored.
	if _, err := raw.Exec(`UPDATE tokens SET expires_at = 253402304399 WHERE id = ?`, tok.ID); err != nil {
		t.Fatal(err)
	}
	var page wirePage
	app.apiGet(t, "/api/v1/tokens", keyOf(key)).ok(t, http.StatusOK, &page)
	if len(page.Tokens) != 1 || page.Tokens[0].ExpiresAt == nil || page.Tokens[0].ExpiresAt.Year() != 9999 {
		t.Fatalf("list = %+v, want the token expiring in year 9999", page.Tokens)
	}
	if r := app.signIn(app.member).get("/tokens"); r.StatusCode != http.StatusOK || !strings.Contains(r.text(`[data-testid=my-tokens]`), "Dec 31, 9999") {
		t.Errorf("page: status %d, My Tokens %q", r.StatusCode, r.text(`[data-testid=my-tokens]`))
	}
	var revoked struct {
		Revoked bool `json:"revoked"`
	}
	app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10), keyOf(key), "", "").ok(t, http.StatusOK, &revoked)
	if !revoked.Revoked {
		t.Error("DELETE did not say it revoked the token")
	}
}

func TestNamesThatLookTheSame(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "Café")
	app.createToken(app.member, store.KindPersonal, "Deploy")
	app.createToken(app.member, store.KindPersonal, "ǅemo")
	for _, tt := range []struct {
		name, tokenName string
	}{
		{"Unicode upper case", "CAFÉ"},
		{"decomposed", "Cafe\u0301"},
		{"decomposed upper case", "CAFE\u0301"},
		{"full width", "Ｃａｆé"},
		{"title case digraph", "Ǆemo"},
		{"lower case digraph", "ǆemo"},
		{"surrounding space", "  deploy\u00a0"},
		{"two spaces inside", "De ploy"},
	} {
		if tt.name == "two spaces inside" {
			continue // "De ploy" is another name; see the next loop.
		}
		t.Run(tt.name, func(t *testing.T) {
			before := app.countTokens(t)
			e := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": tt.tokenName}).refusal(t, http.StatusConflict, "conflict")
			if e.Field != "name" {
				t.Errorf("conflict on field %q, want name", e.Field)
			}
			r := app.signIn(app.member).postForm("/tokens/personal", url.Values{"name": {tt.tokenName}, "expires": {"never"}})
			if r.StatusCode != http.StatusConflict || r.text(`[data-testid=error-name]`) == "" {
				t.Errorf("page: status %d, name error %q; want 409 beside the name", r.StatusCode, r.text(`[data-testid=error-name]`))
			}
			if after := app.countTokens(t); after != before {
				t.Errorf("%d tokens before, %d after", before, after)
			}
		})
	}
	// Space inside a name counts once, so two spaces are one.
	app.createToken(app.member, store.KindPersonal, "De ploy")
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": "De  ploy"}).refusal(t, http.StatusConflict, "conflict")
	// Another member, and the organization's system tokens, have names of
	// their own.
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana")
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(ownerKey), map[string]any{"name": "CAFÉ"}).ok(t, http.StatusCreated, nil)
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(ownerKey), map[string]any{"kind": "system", "name": "CAFÉ", "roles": []string{"viewer"}}).ok(t, http.StatusCreated, nil)
}

func TestNamesThatLookLikeNothing(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "Deploy")
	c := app.signIn(app.member)
	for _, tt := range []struct {
		name, tokenName string
	}{
		{"zero-width space", "\u200b"},
		{"zero-width spaces", "\u200b\u200b\u200b"},
		{"Deploy and a zero-width space", "Deploy\u200b"},
		{"a zero-width space inside", "Dep\u200bloy"},
		{"Deploy and a word joiner", "Deploy\u2060"},
		{"a byte order mark", "\ufeffDeploy"},
		{"a soft hyphen", "De\u00adploy"},
		{"Hangul filler", "\u3164"},
		{"Hangul filler after", "Deploy\u3164"},
		{"only a combining accent", "\u0301"},
		{"only a variation selector", "\ufe0f"},
		{"a blank braille pattern", "\u2800"},
		{"no-break spaces", "\u00a0\u00a0"},
		{"an ideographic space", "\u3000"},
		{"a line separator", "ci\u2028deploy"},
		{"a right-to-left override", "ci\u202edeploy"},
		{"a tag character alone", "\U000e0041"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := app.countTokens(t)
			app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": tt.tokenName}).invalid(t, "name")
			r := c.postForm("/tokens/personal", url.Values{"name": {tt.tokenName}, "expires": {"never"}})
			if r.StatusCode != http.StatusUnprocessableEntity || r.text(`[data-testid=error-name]`) == "" {
				t.Errorf("page: status %d, name error %q; want 422 beside the name", r.StatusCode, r.text(`[data-testid=error-name]`))
			}
			if after := app.countTokens(t); after != before {
				t.Errorf("%d tokens before, %d after", before, after)
			}
		})
	}
	// The joiners emoji and scripts are written with are kept.
	for _, name := range []string{"👩‍💻 laptop", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f deploy", "می\u200cخواهم", "❤\ufe0f"} {
		app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": name}).ok(t, http.StatusCreated, nil)
	}
}

// A browser's maxlength counts UTF-16 code units; the server counts the
// same, so the form and the API stop at the same place.
func TestNameLengthIsOneLimit(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max's key")
	if got := app.signIn(app.member).get("/tokens/personal/new").doc.Find(`input[name=name]`).AttrOr("maxlength", ""); got != strconv.Itoa(store.MaxTokenNameLen) {
		t.Fatalf("maxlength %q, want %d", got, store.MaxTokenNameLen)
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{strings.Repeat("🔑", 50), true},
		{strings.Repeat("🔑", 50) + "x", false},
		{strings.Repeat("x", 100), true},
		{strings.Repeat("日", 100), true},
		{strings.Repeat("日", 101), false},
		// Counted as typed, as the browser counted: 100 letters written as
		// 200 code points are 200, and 50 of them are 100.
		{strings.Repeat("e\u0301", 100), false},
		{strings.Repeat("e\u0301", 50), true},
		// U+0958 is one code unit typed and two in NFC: 100 of them fit.
		{strings.Repeat("\u0958", 100), true},
	} {
		r := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), map[string]any{"name": tt.name})
		if tt.ok {
			r.ok(t, http.StatusCreated, nil)
		} else {
			r.invalid(t, "name")
		}
	}
}

func TestAmbiguousRequestsAreRefused(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max")
	_, anaKey := app.createToken(app.owner, store.KindPersonal, "ana")
	_, videoKey := app.createToken(app.owner, store.KindSystem, "video only", store.RoleVideo)

	send := func(t *testing.T, req *http.Request) *apiResponse {
		t.Helper()
		res, err := apiHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		r := &apiResponse{status: res.StatusCode, header: res.Header}
		r.body, _ = io.ReadAll(res.Body)
		return r
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		for _, path := range []string{"/api/v1/token", "/api/v1/tokens", "/auth/verify", "/auth/verify/videos/1/master.m3u8"} {
			for _, order := range [][2]string{{keyOf(maxKey), keyOf(anaKey)}, {keyOf(anaKey), keyOf(maxKey)}, {keyOf(maxKey), keyOf(maxKey)}, {keyOf(maxKey), "not a token"}} {
				req, _ := http.NewRequest(http.MethodGet, app.server.URL+path, nil)
				req.Header.Add("Authorization", "Bearer "+order[0])
				req.Header.Add("Authorization", "Bearer "+order[1])
				r := send(t, req)
				if e := r.refusal(t, http.StatusBadRequest, "invalid_request"); e.Field != "Authorization" {
					t.Errorf("%s: field %q, want Authorization", path, e.Field)
				}
				if r.header.Get("X-Token-Subject") != "" {
					t.Errorf("%s: X-Token-Subject %q on a refusal", path, r.header.Get("X-Token-Subject"))
				}
			}
		}
		req, _ := http.NewRequest(http.MethodPost, app.server.URL+"/api/v1/tokens", strings.NewReader(`{"name":"two headers"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Authorization", "Bearer "+keyOf(maxKey))
		req.Header.Add("Authorization", "Bearer "+keyOf(anaKey))
		send(t, req).refusal(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("every role asked of forward auth is required", func(t *testing.T) {
		for _, q := range []string{"role=video&role=admin", "role=admin&role=video", "role=video&role=billing"} {
			app.apiGet(t, "/auth/verify?"+q, keyOf(videoKey)).refusal(t, http.StatusForbidden, "insufficient_role")
		}
		for _, q := range []string{"role=video", "role=video&role=video"} {
			if r := app.apiGet(t, "/auth/verify?"+q, keyOf(videoKey)); r.status != http.StatusOK {
				t.Errorf("%s: status %d, want 200", q, r.status)
			}
		}
		// The owner's personal token acts as admin, which covers every role.
		if r := app.apiGet(t, "/auth/verify?role=video&role=admin&role=billing", keyOf(anaKey)); r.status != http.StatusOK {
			t.Errorf("admin asked for three roles: status %d, want 200", r.status)
		}
		for _, q := range []string{"role=", "role=video&role=", "role=video,admin", "role=owner", "role=video&role=root"} {
			app.apiGet(t, "/auth/verify?"+q, keyOf(videoKey)).invalid(t, "role")
		}
	})
	t.Run("introspection reads the token from the body only", func(t *testing.T) {
		for _, ct := range []string{"", "application/x-www-form-urlencoded", "application/json"} {
			body := ""
			if ct == "application/json" {
				body = `{}`
			}
			app.apiCall(t, http.MethodPost, "/api/v1/introspect?token="+keyOf(maxKey), keyOf(anaKey), ct, body).invalid(t, "token")
		}
		// Both places: still refused, never guessed.
		app.apiCall(t, http.MethodPost, "/api/v1/introspect?token="+keyOf(maxKey), keyOf(anaKey),
			"application/x-www-form-urlencoded", url.Values{"token": {keyOf(maxKey)}}.Encode()).invalid(t, "token")
		app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey),
			"application/x-www-form-urlencoded", url.Values{"token": {keyOf(maxKey), keyOf(anaKey)}}.Encode()).invalid(t, "token")
		app.apiJSON(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey), `{"token":"`+keyOf(maxKey)+`","token":"`+keyOf(anaKey)+`"}`).invalid(t, "token")
		var in introspection
		app.apiCall(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey), "application/x-www-form-urlencoded; charset=UTF-8",
			url.Values{"token": {keyOf(maxKey)}, "token_type_hint": {"access_token"}}.Encode()).ok(t, http.StatusOK, &in)
		if !in.Active || in.Name != "max" {
			t.Errorf("form with a charset and a hint: %+v, want max's token, active", in)
		}
		app.apiJSON(t, http.MethodPost, "/api/v1/introspect", keyOf(anaKey), `{"token":"`+keyOf(maxKey)+`","token_type_hint":"access_token"}`).ok(t, http.StatusOK, &in)
		if !in.Active {
			t.Errorf("JSON with a hint: %+v, want active", in)
		}
	})
	t.Run("media types are read as RFC 9110 has them", func(t *testing.T) {
		for i, ct := range []string{"Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json;charset=utf-8", "application/json ; charset=\"utf-8\""} {
			name := "media type " + strconv.Itoa(i)
			app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), ct, `{"name":"`+name+`"}`).ok(t, http.StatusCreated, nil)
		}
		for _, ct := range []string{"text/json", "application/json; charset=latin1", "application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			e := app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), ct, `{"name":"x"}`).refusal(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
			if e.Field != "Content-Type" {
				t.Errorf("%q: field %q, want Content-Type", ct, e.Field)
			}
		}
		for _, ct := range []string{"application/", ";charset=utf-8", "application/json; charset"} {
			app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), ct, `{"name":"x"}`).invalid(t, "Content-Type")
		}
		req, _ := http.NewRequest(http.MethodPost, app.server.URL+"/api/v1/tokens", strings.NewReader(`{"name":"x"}`))
		req.Header.Set("Authorization", "Bearer "+keyOf(maxKey))
		req.Header.Add("Content-Type", "application/json")
		req.Header.Add("Content-Type", "text/plain")
		send(t, req).invalid(t, "Content-Type")
	})
	t.Run("JSON that could be read two ways", func(t *testing.T) {
		before := app.countTokens(t)
		for _, tt := range []struct{ body, field string }{
			{`{"name":"a","name":"b"}`, "name"},
			{`{"name":"a","kind":"personal","kind":"system"}`, "kind"},
			{`{"name":"a","expires_in_days":7,"expires_in_days":7}`, "expires_in_days"},
			{`{"name":"a","Name":"b"}`, "Name"},
			{`{"name":"a","roles":"video"}`, "roles"},
			{`{"name":"a","roles":[1]}`, "roles"},
			{`{"name":["a"]}`, "name"},
			{`{"name":"a","kind":7}`, "kind"},
			{"{\"name\":\"a\xff\"}", "name"},
		} {
			app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), tt.body).invalid(t, tt.field)
		}
		if after := app.countTokens(t); after != before {
			t.Errorf("%d tokens before, %d after", before, after)
		}
	})
}

// Every error code the API sends is in README's table and the OpenAPI
// document, with its status.
func TestAPIErrorCodesAreDocumented(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := openAPIErrorCodes(t)
	sent := map[string]*apiResponse{
		"invalid_request":          app.apiGet(t, "/api/v1/tokens?limit=0", keyOf(key)),
		"invalid_token":            app.apiGet(t, "/api/v1/token", "nope"),
		"insufficient_role":        app.apiGet(t, "/auth/verify?role=admin", keyOf(key)),
		"not_found":                app.apiGet(t, "/api/v1/nope", keyOf(key)),
		"method_not_allowed":       app.apiCall(t, http.MethodPut, "/api/v1/tokens", keyOf(key), "", ""),
		"conflict":                 app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"MAX"}`),
		"request_entity_too_large": app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"`+strings.Repeat("x", 70_000)+`"}`),
		"unsupported_media_type":   app.apiCall(t, http.MethodPost, "/api/v1/tokens", keyOf(key), "text/plain", `{}`),
	}
	for code, r := range sent {
		e := r.refusal(t, r.status, code)
		row := "| " + strconv.Itoa(r.status) + " | `" + e.Code + "`"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README's error table has no row %q", row)
		}
		if !slices.Contains(documented, e.Code) {
			t.Errorf("OpenAPI's error codes %q lack %q", documented, e.Code)
		}
	}
}

// openAPIErrorCodes are the error codes the OpenAPI document lists.
func openAPIErrorCodes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := stdjson.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
}
