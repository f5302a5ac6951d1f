package web

// The smoke of the page and API flows on PostgreSQL (issue 8, "Tests and
// CI"): what a person does in a browser and an integration does with a key,
// through the real router, on a schema of the test's own. The same table of
// checks runs on SQLite too (TestSmokeOnSQLite), so that a failure only on
// PostgreSQL is the backend's and not the test's. The permission matrix runs
// on PostgreSQL as well.
//
// Without TOKEND_TEST_POSTGRES the PostgreSQL tests skip; with
// TOKEND_REQUIRE_POSTGRES=1 they fail instead (storetest decides both).

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokend/store"
	"tokend/store/storetest"
)

// smokeCheck is one flow of the smoke, run on a fresh app of its own.
type smokeCheck struct {
	name string
	run  func(t *testing.T, app *smokeApp)
}

// smokeApp is the app a smoke check runs on.
type smokeApp struct {
	*testApp
}

func newSmokeApp(app *testApp) *smokeApp { return &smokeApp{testApp: app} }

func TestSmokeOnPostgres(t *testing.T) {
	t.Parallel()
	// Skips, or fails under TOKEND_REQUIRE_POSTGRES=1, when there is no
	// test PostgreSQL; the schema it makes is otherwise unused.
	storetest.Postgres(t)
	runSmoke(t, "postgres", storetest.Postgres)
}

// TestSmokeOnSQLite is the same smoke on the default backend: it proves the
// checks themselves right wherever PostgreSQL is not at hand.
func TestSmokeOnSQLite(t *testing.T) {
	t.Parallel()
	runSmoke(t, "sqlite", storetest.SQLite)
}

func runSmoke(t *testing.T, backend string, dsn func(testing.TB) string) {
	for _, sc := range smokeChecks() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestAppOn(t, dsn(t), func(c *Config) {
				// The smoke tries bad keys on purpose; the failure budget
				// has its own tests.
				c.FailuresPerSecond, c.FailureBurst = 1000, 100_000
			})
			if got := app.db.Backend(); got != backend {
				t.Fatalf("the app runs on %q, want %q", got, backend)
			}
			sc.run(t, newSmokeApp(app))
		})
	}
}

func smokeChecks() []smokeCheck {
	return []smokeCheck{
		{"sign in and Token Management lists", smokeSignInAndLists},
		{"Add New Personal Token shows the key once", smokePersonalToken},
		{"Add New System Token with roles", smokeSystemToken},
		{"a name taken in another case is 409 beside the field", smokeNameConflict},
		{"creates of one name at once: one 201, the rest 409", smokeNameRace},
		{"Revoke, confirmation page, Yes, Revoke", smokeRevokeOnPage},
		{"API who am I, create, revoke", smokeAPICreateAndRevoke},
		{"API list pages with a cursor over 120 tokens", smokeAPIPaging},
		{"API introspection", smokeIntrospect},
		{"forward auth with roles", smokeAuthVerify},
		{"a member removed in the store is refused at once", smokeRemovedMember},
		{"an expired token is refused", func(t *testing.T, app *smokeApp) { checkAPIExpiryAtItsBoundary(t, app.testApp) }},
		{"last used shows on the page after FlushLastUsed", smokeLastUsed},
	}
}

func smokeSignInAndLists(t *testing.T, app *smokeApp) {
	app.createToken(app.owner, store.KindPersonal, "Owner laptop")
	app.createToken(app.member, store.KindPersonal, "Max CI")
	app.createToken(app.member2, store.KindPersonal, "Mia script")
	app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleVideo, store.RoleAdmin)
	app.createToken(app.otherOwner, store.KindPersonal, "Globex personal")
	app.createToken(app.otherOwner, store.KindSystem, "Globex system", store.RoleAdmin)

	// A wrong password is refused with the form again.
	c := app.client()
	c.get("/login")
	if r := c.postForm("/login", url.Values{"email": {app.owner.Email}, "password": {"not the password"}}); r.StatusCode != http.StatusUnauthorized || !r.has(`[data-testid=login-error]`) {
		t.Errorf("wrong password: status %d, error shown %v; want 401 with the error", r.StatusCode, r.has(`[data-testid=login-error]`))
	}

	owner := app.signIn(app.owner).get("/tokens")
	if owner.StatusCode != http.StatusOK || owner.text(`h1`) != "Token Management" {
		t.Fatalf("owner: status %d, h1 %q", owner.StatusCode, owner.text(`h1`))
	}
	if got := owner.text(`[data-testid=profile-name]`); got != "Ana Owner" {
		t.Errorf("owner's profile name %q", got)
	}
	for list, want := range map[string][]string{
		"my-tokens":     {"Owner laptop"},
		"user-tokens":   {"Owner laptop", "Max CI", "Mia script"},
		"system-tokens": {"Encoder"},
	} {
		if got := owner.rowNames(list); !sameSet(got, want) {
			t.Errorf("owner's %s = %q, want %q", list, got, want)
		}
	}
	if got := cellText(owner.row(t, "system-tokens", "Encoder").Find(`[data-testid=token-roles]`)); got != "Administrator, Video User" {
		t.Errorf("Encoder's roles %q", got)
	}
	if got := cellText(owner.row(t, "user-tokens", "Max CI").Find(`[data-testid=token-member]`)); got != "Max Member (max@acme.test)" {
		t.Errorf("Max CI's member %q", got)
	}
	if strings.Contains(owner.body, "Globex") {
		t.Error("Acme's owner sees Globex")
	}

	member := app.signIn(app.member).get("/tokens")
	if member.StatusCode != http.StatusOK {
		t.Fatalf("member: status %d", member.StatusCode)
	}
	if got := member.rowNames("my-tokens"); !slices.Equal(got, []string{"Max CI"}) {
		t.Errorf("member's My Tokens = %q", got)
	}
	if member.has(`[data-testid=user-tokens]`) || member.has(`[data-testid=system-tokens]`) || member.has(`[data-testid=add-system]`) {
		t.Error("a member's page has the owner's sections")
	}
	for _, other := range []string{"Owner laptop", "Mia script", "Encoder", "Globex"} {
		if strings.Contains(member.body, other) {
			t.Errorf("a member's page shows %q", other)
		}
	}

	gus := app.signIn(app.otherOwner).get("/tokens")
	if got := gus.rowNames("system-tokens"); !slices.Equal(got, []string{"Globex system"}) {
		t.Errorf("Globex's System Tokens = %q", got)
	}
}

func smokePersonalToken(t *testing.T, app *smokeApp) {
	c := app.signIn(app.member)
	href := c.get("/tokens").doc.Find(`a[data-testid=add-personal]`).AttrOr("href", "")
	form := c.get(href)
	if form.StatusCode != http.StatusOK || form.text(`h1`) != "Add New Personal Token" {
		t.Fatalf("%s: %d %q", href, form.StatusCode, form.text(`h1`))
	}
	action := form.doc.Find(`form[data-testid=token-form]`).AttrOr("action", "")
	r := c.postForm(action, url.Values{"name": {"Deploy bot"}, "expires": {"never"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d\n%s", r.StatusCode, r.body)
	}
	key := r.doc.Find(`[data-testid=new-key-value]`).AttrOr("value", "")
	if kind, ok := store.ParseTokenText(key); !ok || kind != store.KindPersonal {
		t.Fatalf("key %q is not a personal token", key)
	}
	if n := strings.Count(r.body, key); n != 1 {
		t.Errorf("the key appears %d times, want once", n)
	}
	if got := r.text(`[data-testid=new-key] .warning`); got != newKeyWarning {
		t.Errorf("warning %q", got)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	reload := c.get("/tokens")
	if reload.has(`[data-testid=new-key]`) || strings.Contains(reload.body, key) {
		t.Error("the key is shown again after reload")
	}
	row := reload.row(t, "my-tokens", "Deploy bot")
	if got, want := cellText(row.Find(`[data-testid=token-hint]`)), "tkp_…"+key[len(key)-4:]; got != want {
		t.Errorf("hint %q, want %q", got, want)
	}
	stored := app.allTokens(app.owner)
	if len(stored) != 1 || stored[0].Name != "Deploy bot" || stored[0].MemberID != app.member.ID || !stored[0].CreatedAt.Equal(app.now) {
		t.Fatalf("stored %+v", stored)
	}
	// The key works as an integration uses it.
	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", key).ok(t, http.StatusOK, &p)
	if p.ID != stored[0].ID || p.Name != "Deploy bot" || !slices.Equal(p.Roles, []string{"video"}) {
		t.Errorf("the new key is %+v", p)
	}
}

func smokeSystemToken(t *testing.T, app *smokeApp) {
	c := app.signIn(app.owner)
	href := c.get("/tokens").doc.Find(`a[data-testid=add-system]`).AttrOr("href", "")
	form := c.get(href)
	if form.StatusCode != http.StatusOK || form.text(`h1`) != "Add New System Token" {
		t.Fatalf("%s: %d %q", href, form.StatusCode, form.text(`h1`))
	}
	action := form.doc.Find(`form[data-testid=token-form]`).AttrOr("action", "")
	r := c.postForm(action, url.Values{"name": {"Encoder"}, "roles": {"video", "admin"}, "expires": {"never"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d\n%s", r.StatusCode, r.body)
	}
	key := r.doc.Find(`[data-testid=new-key-value]`).AttrOr("value", "")
	if kind, ok := store.ParseTokenText(key); !ok || kind != store.KindSystem {
		t.Fatalf("key %q is not a system token", key)
	}
	reload := c.get("/tokens")
	if reload.has(`[data-testid=new-key]`) || strings.Contains(reload.body, key) {
		t.Error("the key is shown again after reload")
	}
	if got := cellText(reload.row(t, "system-tokens", "Encoder").Find(`[data-testid=token-roles]`)); got != "Administrator, Video User" {
		t.Errorf("roles %q", got)
	}
	stored := app.allTokens(app.owner)
	if len(stored) != 1 || stored[0].Kind != store.KindSystem || !slices.Equal(stored[0].Roles, []store.Role{store.RoleAdmin, store.RoleVideo}) {
		t.Errorf("stored %+v", stored)
	}
	r2 := app.apiGet(t, "/auth/verify?role=video", key)
	if r2.status != http.StatusOK || r2.header.Get("X-Token-Roles") != "admin video" || r2.header.Get("X-Token-Kind") != "system" {
		t.Errorf("/auth/verify with the new key: %s, roles %q", r2, r2.header.Get("X-Token-Roles"))
	}
}

func smokeNameConflict(t *testing.T, app *smokeApp) {
	_, maxKey := app.createToken(app.member, store.KindPersonal, "Café")
	app.createToken(app.owner, store.KindSystem, "Café", store.RoleViewer)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	before := app.countTokens(t)

	for _, tt := range []struct{ label, name string }{
		{"upper case", "CAFÉ"},
		{"lower case", "café"},
		{"decomposed", "Cafe\u0301"},
		{"decomposed upper case", "CAFE\u0301"},
		{"full width", "Ｃａｆé"},
		{"surrounding space", "  café\u00a0"},
	} {
		name := tt.name
		t.Run(tt.label, func(t *testing.T) {
			c := app.signIn(app.member)
			c.get("/tokens/personal/new")
			r := c.postForm("/tokens/personal", url.Values{"name": {name}, "expires": {"never"}})
			if r.StatusCode != http.StatusConflict || r.text(`[data-testid=error-name]`) == "" {
				t.Errorf("personal form: status %d, name error %q; want 409 beside the name\n%s", r.StatusCode, r.text(`[data-testid=error-name]`), r.body)
			}
			if got := r.doc.Find(`form[data-testid=token-form] input#name`).AttrOr("value", ""); got != name {
				t.Errorf("name field %q, want %q kept", got, name)
			}

			o := app.signIn(app.owner)
			o.get("/tokens/system/new")
			r = o.postForm("/tokens/system", url.Values{"name": {name}, "roles": {"viewer"}, "expires": {"never"}})
			if r.StatusCode != http.StatusConflict || r.text(`[data-testid=error-name]`) == "" {
				t.Errorf("system form: status %d, name error %q; want 409 beside the name", r.StatusCode, r.text(`[data-testid=error-name]`))
			}

			e := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), map[string]any{"name": name}).refusal(t, http.StatusConflict, "conflict")
			if e.Field != "name" {
				t.Errorf("API conflict on field %q, want name", e.Field)
			}
			app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(ownerKey),
				map[string]any{"kind": "system", "name": name, "roles": []string{"viewer"}}).refusal(t, http.StatusConflict, "conflict")
		})
	}
	if after := app.countTokens(t); after != before {
		t.Errorf("%d tokens before, %d after refused creates", before, after)
	}
	// Names are the member's own: the owner may have a personal CAFÉ.
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(ownerKey), map[string]any{"name": "CAFÉ"}).ok(t, http.StatusCreated, nil)
}

// smokeNameRace sends creates of one name (in several cases and forms) at
// once, round after round: where the checks before the insert all pass,
// the database's unique index decides, and the losers must hear 409 as
// well, never 500.
func smokeNameRace(t *testing.T, app *smokeApp) {
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	const rounds = 6
	forms := []string{"Ré%d", "RÉ%d", "ré%d", "rÉ%d", "Re\u0301%d", "RE\u0301%d", "re\u0301%d", "rE\u0301%d"}
	for _, tc := range []struct {
		kind string
		key  store.TokenText
		body func(name string) string
	}{
		{"personal", maxKey, func(n string) string { return fmt.Sprintf(`{"name":%q}`, n) }},
		{"system", ownerKey, func(n string) string { return fmt.Sprintf(`{"kind":"system","name":%q,"roles":["viewer"]}`, n) }},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			for round := range rounds {
				names := make([]string, len(forms))
				for i, f := range forms {
					names[i] = fmt.Sprintf(f, round)
				}
				statuses := make([]int, len(names))
				bodies := make([]string, len(names))
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, n := range names {
					wg.Go(func() {
						req, _ := http.NewRequest(http.MethodPost, app.server.URL+"/api/v1/tokens", strings.NewReader(tc.body(n)))
						req.Header.Set("Authorization", "Bearer "+keyOf(tc.key))
						req.Header.Set("Content-Type", "application/json")
						<-start
						res, err := apiHTTP.Do(req)
						if err != nil {
							bodies[i] = err.Error()
							return
						}
						defer res.Body.Close()
						var b bytes.Buffer
						b.ReadFrom(res.Body)
						statuses[i], bodies[i] = res.StatusCode, b.String()
					})
				}
				close(start)
				wg.Wait()
				created := 0
				for i, s := range statuses {
					switch s {
					case http.StatusCreated:
						created++
					case http.StatusConflict:
						if !strings.Contains(bodies[i], `"conflict"`) || !strings.Contains(bodies[i], `"field":"name"`) {
							t.Errorf("%q: 409 without the conflict code on name: %s", names[i], bodies[i])
						}
					default:
						t.Errorf("%q: status %d, want 201 or 409: %s", names[i], s, bodies[i])
					}
				}
				if created != 1 {
					t.Errorf("round %d: %d creates acknowledged, want exactly 1 (statuses %v)", round, created, statuses)
				}
			}
		})
	}
	if n := app.countTokens(t); n != 2+2*rounds {
		t.Errorf("%d tokens in the store, want %d", n, 2+2*rounds)
	}
}

func smokeRevokeOnPage(t *testing.T, app *smokeApp) {
	tok, key := app.createToken(app.member, store.KindPersonal, "Old laptop")
	app.createToken(app.member, store.KindPersonal, "New laptop")
	// Seen, and so cached, before the revoke.
	app.apiGet(t, "/api/v1/token", keyOf(key)).ok(t, http.StatusOK, nil)

	c := app.signIn(app.member)
	revokeURL := fmt.Sprintf("/tokens/%d/revoke", tok.ID)
	link := c.get("/tokens").row(t, "my-tokens", "Old laptop").Find(`a[data-testid=revoke]`)
	if got := link.AttrOr("href", ""); got != revokeURL {
		t.Fatalf("Revoke links to %q, want %s", got, revokeURL)
	}
	confirm := c.get(revokeURL)
	if confirm.StatusCode != http.StatusOK || confirm.text(`h1`) != "Revoke Token" || confirm.text(`[data-testid=revoke-token-name]`) != "Old laptop" {
		t.Fatalf("confirmation: %d, h1 %q, names %q", confirm.StatusCode, confirm.text(`h1`), confirm.text(`[data-testid=revoke-token-name]`))
	}
	yes := confirm.doc.Find(`[data-testid=confirm-revoke]`)
	if cellText(yes) != "Yes, Revoke" {
		t.Errorf("button %q", cellText(yes))
	}
	r := c.postForm(yes.Closest("form").AttrOr("action", ""), url.Values{})
	if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
		t.Fatalf("Yes, Revoke: %d to %q", r.StatusCode, r.location())
	}
	page := c.get("/tokens")
	if got := page.text(`[data-testid=flash]`); !strings.Contains(got, "Old laptop") || !strings.Contains(got, "revoked") {
		t.Errorf("flash %q", got)
	}
	if got := page.rowNames("my-tokens"); !slices.Equal(got, []string{"New laptop"}) {
		t.Errorf("after revoke My Tokens = %q", got)
	}
	stored := app.token(tok.ID, app.owner)
	if !stored.RevokedAt.Equal(app.now) || stored.RevokeReason != store.ReasonRevoked {
		t.Errorf("stored revoked at %v, reason %q", stored.RevokedAt, stored.RevokeReason)
	}
	app.apiGet(t, "/api/v1/token", keyOf(key)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/auth/verify", keyOf(key)).refusal(t, http.StatusUnauthorized, "revoked_token")
	// With revoked tokens shown, it says so and offers no Revoke.
	all := c.get("/tokens?show=revoked")
	old := all.row(t, "my-tokens", "Old laptop")
	if got := cellText(old.Find(`[data-testid=token-revoked]`)); !strings.HasPrefix(got, "Revoked") || old.Find(`[data-testid=revoke]`).Length() != 0 {
		t.Errorf("the revoked row says %q", got)
	}
}

func smokeAPICreateAndRevoke(t *testing.T, app *smokeApp) {
	ownerTok, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")

	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", keyOf(ownerKey)).ok(t, http.StatusOK, &p)
	if p.ID != ownerTok.ID || p.Kind != "personal" || !slices.Equal(p.Roles, []string{"admin"}) || p.Organization.Name != "Acme Streaming" ||
		p.Member == nil || p.Member.ID != app.owner.ID || !p.CreatedAt.Equal(app.now) || p.ExpiresAt != nil {
		t.Errorf("who am I: %+v", p)
	}

	var c wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey), map[string]any{"name": "deploy script", "expires_in_days": 7}).ok(t, http.StatusCreated, &c)
	if c.Token.Kind != "personal" || c.Token.Name != "deploy script" || c.Token.State != "active" || c.Token.ExpiresAt == nil ||
		!c.Token.ExpiresAt.Equal(app.now.AddDate(0, 0, 7)) || c.Token.CreatedByToken == nil || c.Token.CreatedByToken.Name != "max-ci" {
		t.Errorf("created %+v", c.Token)
	}
	app.apiGet(t, "/api/v1/token", c.Key).ok(t, http.StatusOK, nil)

	var sys wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(ownerKey),
		map[string]any{"kind": "system", "name": "bot", "roles": []string{"viewer", "video"}}).ok(t, http.StatusCreated, &sys)
	if sys.Token.Kind != "system" || !slices.Equal(sys.Token.Roles, []string{"video", "viewer"}) || sys.Token.Member != nil || !strings.HasPrefix(sys.Key, "tks_") {
		t.Errorf("created system %+v", sys.Token)
	}
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey),
		map[string]any{"kind": "system", "name": "x", "roles": []string{"video"}}).refusal(t, http.StatusForbidden, "insufficient_role")

	if got := app.list(t, keyOf(maxKey), "").names(); !slices.Equal(got, sortedStrings("max-ci", "deploy script")) {
		t.Errorf("Max's list %q", got)
	}
	if got := app.list(t, keyOf(ownerKey), "").names(); !slices.Equal(got, sortedStrings("ana-admin", "max-ci", "deploy script", "bot")) {
		t.Errorf("the owner's list %q", got)
	}

	del := func(key, id string) *apiResponse {
		return app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+id, key, "", "")
	}
	var rv wireRevoked
	del(keyOf(maxKey), strconv.FormatInt(c.Token.ID, 10)).ok(t, http.StatusOK, &rv)
	if rv.Revoked == nil || !*rv.Revoked || rv.Token.State != "revoked" || rv.Token.RevokeReason != "revoked" || rv.Token.RevokedAt == nil || !rv.Token.RevokedAt.Equal(app.now) {
		t.Errorf("revoke: %+v revoked %v", rv.Token, rv.Revoked)
	}
	app.apiGet(t, "/api/v1/token", c.Key).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.setNow(app.now.Add(time.Hour))
	var again wireRevoked
	del(keyOf(maxKey), strconv.FormatInt(c.Token.ID, 10)).ok(t, http.StatusOK, &again)
	if again.Revoked == nil || *again.Revoked || !again.Token.RevokedAt.Equal(*rv.Token.RevokedAt) {
		t.Errorf("second revoke: %+v revoked %v", again.Token, again.Revoked)
	}
	del(keyOf(maxKey), strconv.FormatInt(sys.Token.ID, 10)).refusal(t, http.StatusNotFound, "not_found")
	del(keyOf(ownerKey), strconv.FormatInt(sys.Token.ID, 10)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/auth/verify", sys.Key).refusal(t, http.StatusUnauthorized, "revoked_token")
	if got := app.list(t, keyOf(ownerKey), "state=revoked").names(); !slices.Equal(got, sortedStrings("deploy script", "bot")) {
		t.Errorf("state=revoked lists %q", got)
	}
}

func smokeAPIPaging(t *testing.T, app *smokeApp) {
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	for i := range 120 {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("bulk-%03d", i))
	}
	app.createToken(app.otherOwner, store.KindPersonal, "globex") // never on a page

	walk := func(t *testing.T, key, query string) (ids []int64, sizes []int) {
		t.Helper()
		q := query
		for range 50 {
			r := app.apiGet(t, "/api/v1/tokens?"+q, key)
			var p wirePage
			r.ok(t, http.StatusOK, &p)
			for _, tok := range p.Tokens {
				ids = append(ids, tok.ID)
			}
			sizes = append(sizes, len(p.Tokens))
			if p.NextCursor == nil {
				return ids, sizes
			}
			q = query + "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		t.Fatal("more than 50 pages")
		return nil, nil
	}
	var all []int64
	for _, tok := range app.allTokens(app.owner) {
		all = append(all, tok.ID)
	}
	slices.Sort(all)
	slices.Reverse(all)
	if len(all) != 122 {
		t.Fatalf("%d Acme tokens in the store, want 122", len(all))
	}
	for _, tc := range []struct {
		name, key, query string
		want             []int64
		sizes            []int
	}{
		{"admin, default page", keyOf(ownerKey), "kind=personal", all, []int{50, 50, 22}},
		{"admin, limit=100", keyOf(ownerKey), "limit=100", all, []int{100, 22}},
		{"admin, limit=61", keyOf(ownerKey), "limit=61", all, []int{61, 61}},
		{"member, limit=7", keyOf(maxKey), "limit=7", all[:len(all)-1], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, sizes := walk(t, tc.key, tc.query)
			if !slices.Equal(ids, tc.want) {
				t.Errorf("pages gave %d ids, want every one of the %d once, newest first", len(ids), len(tc.want))
			}
			if tc.sizes != nil && !slices.Equal(sizes, tc.sizes) {
				t.Errorf("page sizes %v, want %v", sizes, tc.sizes)
			}
		})
	}
	// A revoke in the middle leaves the active pages and joins the revoked.
	mid := all[60]
	app.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(mid, 10), keyOf(ownerKey), "", "").ok(t, http.StatusOK, nil)
	ids, _ := walk(t, keyOf(ownerKey), "limit=40")
	if len(ids) != 121 || slices.Contains(ids, mid) {
		t.Errorf("after the revoke: %d active, revoked one listed %v", len(ids), slices.Contains(ids, mid))
	}
	if got, _ := walk(t, keyOf(ownerKey), "state=revoked"); !slices.Equal(got, []int64{mid}) {
		t.Errorf("state=revoked: %v, want [%d]", got, mid)
	}
	if got, _ := walk(t, keyOf(ownerKey), "state=all&limit=100"); !slices.Equal(got, all) {
		t.Errorf("state=all: %d ids, want %d", len(got), len(all))
	}
	app.apiGet(t, "/api/v1/tokens?cursor=abc", keyOf(ownerKey)).invalid(t, "cursor")
	app.apiGet(t, "/api/v1/tokens?limit=101", keyOf(ownerKey)).invalid(t, "limit")
}

func smokeIntrospect(t *testing.T, app *smokeApp) {
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "introspector")
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	exp := app.now.AddDate(0, 0, 10)
	sysTok, sysKey := app.createExpiring(t, app.owner, store.KindSystem, "sys-video", exp, store.RoleViewer, store.RoleVideo)
	revoked, revokedKey := app.createToken(app.member, store.KindPersonal, "revoked")
	app.revokeInStore(t, app.member, revoked.ID)
	_, gusKey := app.createToken(app.otherOwner, store.KindPersonal, "gus-1")
	acme := float64(app.owner.OrgID)

	for _, asJSON := range []bool{false, true} {
		m := app.introspect(t, ownerKey, keyOf(maxKey), asJSON).object(t)
		for k, v := range map[string]any{
			"active": true, "token_type": "bearer", "kind": "personal", "scope": "video",
			"sub": fmt.Sprintf("member:%d", app.member.ID), "iat": float64(maxTok.CreatedAt.Unix()), "org": acme,
		} {
			if m[k] != v {
				t.Errorf("json=%v: %s = %v, want %v", asJSON, k, m[k], v)
			}
		}
		if mapHas(m, "exp") {
			t.Errorf("exp %v for a token that never expires", m["exp"])
		}
		m = app.introspect(t, ownerKey, keyOf(sysKey), asJSON).object(t)
		for k, v := range map[string]any{
			"active": true, "kind": "system", "scope": "video viewer", "sub": fmt.Sprintf("org:%d", app.owner.OrgID),
			"iat": float64(sysTok.CreatedAt.Unix()), "exp": float64(exp.Unix()), "org": acme,
		} {
			if m[k] != v {
				t.Errorf("json=%v: %s = %v, want %v", asJSON, k, m[k], v)
			}
		}
		for name, token := range map[string]string{
			"revoked": keyOf(revokedKey), "unknown": fakeToken("tkp_"), "other organization": keyOf(gusKey), "malformed": "x",
		} {
			r := app.introspect(t, ownerKey, token, asJSON)
			r.ok(t, http.StatusOK, nil)
			if m := r.object(t); !maps.Equal(m, map[string]any{"active": false}) {
				t.Errorf("%s: %s, want only {\"active\":false}", name, r.body)
			}
		}
	}
	app.introspect(t, maxKey, keyOf(sysKey), false).refusal(t, http.StatusForbidden, "insufficient_role")
	app.setNow(exp)
	if m := app.introspect(t, ownerKey, keyOf(sysKey), false).object(t); !maps.Equal(m, map[string]any{"active": false}) {
		t.Errorf("at its expiry: %v", m)
	}
}

func smokeAuthVerify(t *testing.T, app *smokeApp) {
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	_, miaKey := app.createToken(app.member2, store.KindPersonal, "mia-1")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	sysTok, sysKey := app.createToken(app.owner, store.KindSystem, "sys", store.RoleVideo, store.RoleViewer)
	acme := strconv.FormatInt(app.owner.OrgID, 10)
	want := func(r *apiResponse, h map[string]string) {
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
	want(app.apiGet(t, "/auth/verify", keyOf(maxKey)), maxHeaders)
	want(app.apiGet(t, "/auth/verify?role=video", keyOf(maxKey)), maxHeaders)
	want(app.apiCall(t, http.MethodPost, "/auth/verify/some/path?x=1", keyOf(maxKey), "", ""), maxHeaders)
	app.apiGet(t, "/auth/verify?role=admin", keyOf(maxKey)).refusal(t, http.StatusForbidden, "insufficient_role")
	app.apiGet(t, "/auth/verify?role=video", keyOf(miaKey)).refusal(t, http.StatusForbidden, "insufficient_role")
	want(app.apiGet(t, "/auth/verify?role=viewer", keyOf(sysKey)), map[string]string{
		"X-Token-Id": strconv.FormatInt(sysTok.ID, 10), "X-Token-Kind": "system", "X-Token-Org": acme,
		"X-Token-Subject": "org:" + acme, "X-Token-Roles": "video viewer",
	})
	app.apiGet(t, "/auth/verify?role=billing", keyOf(sysKey)).refusal(t, http.StatusForbidden, "insufficient_role")
	for _, role := range []string{"admin", "video", "viewer", "billing", "support"} {
		want(app.apiGet(t, "/auth/verify?role="+role, keyOf(ownerKey)), map[string]string{"X-Token-Roles": "admin"})
	}
	app.apiGet(t, "/auth/verify?role=bogus", keyOf(maxKey)).invalid(t, "role")
	app.apiGet(t, "/auth/verify", "").refusal(t, http.StatusUnauthorized, "invalid_token")
	app.apiGet(t, "/auth/verify", fakeToken("tks_")).refusal(t, http.StatusUnauthorized, "invalid_token")
}

func smokeRemovedMember(t *testing.T, app *smokeApp) {
	ctx := context.Background()
	adi := app.addMember("Acme Streaming", "adi@acme.test", "Adi Admin", store.RoleAdmin)
	adiTok, adiKey := app.createToken(adi, store.KindPersonal, "adi-personal")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	var c wireCreated
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(adiKey),
		map[string]any{"kind": "system", "name": "adi's bot", "roles": []string{"video"}}).ok(t, http.StatusCreated, &c)
	maxTok, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")

	// Seen, and cached, before the members leave; Adi and Max signed in.
	for _, k := range []string{keyOf(adiKey), c.Key, keyOf(maxKey)} {
		app.apiGet(t, "/api/v1/token", k).ok(t, http.StatusOK, nil)
		app.apiGet(t, "/auth/verify", k).ok(t, http.StatusOK, nil)
	}
	adiBrowser, maxBrowser := app.signIn(adi), app.signIn(app.member)
	for _, b := range []*client{adiBrowser, maxBrowser} {
		if r := b.get("/tokens"); r.StatusCode != http.StatusOK {
			t.Fatalf("signed in: GET /tokens %d", r.StatusCode)
		}
	}

	if _, err := app.db.RemoveMember(ctx, adi.Email); err != nil {
		t.Fatal(err)
	}
	app.apiGet(t, "/api/v1/token", keyOf(adiKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/auth/verify", keyOf(adiKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	if r := adiBrowser.get("/tokens"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("Adi's browser after removal: %d to %q, want a redirect to sign in", r.StatusCode, r.location())
	}
	// The system token Adi made keeps working; Max is untouched.
	app.apiGet(t, "/auth/verify?role=video", c.Key).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, nil)
	if r := maxBrowser.get("/tokens"); r.StatusCode != http.StatusOK {
		t.Errorf("Max's browser after Adi left: %d", r.StatusCode)
	}

	if _, err := app.db.RemoveMember(ctx, app.member.Email); err != nil {
		t.Fatal(err)
	}
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	if r := maxBrowser.get("/tokens"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("Max's browser after removal: %d to %q, want a redirect to sign in", r.StatusCode, r.location())
	}
	// Nor can they sign in again.
	again := app.client()
	again.get("/login")
	if r := again.postForm("/login", url.Values{"email": {app.member.Email}, "password": {testPassword}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a removed member signs in: status %d", r.StatusCode)
	}

	reasons := map[int64]string{}
	for _, tok := range app.list(t, keyOf(ownerKey), "state=revoked").Tokens {
		reasons[tok.ID] = tok.RevokeReason
	}
	if want := map[int64]string{adiTok.ID: "member_left", maxTok.ID: "member_left"}; !maps.Equal(reasons, want) {
		t.Errorf("revoked: %v, want %v", reasons, want)
	}
}

func smokeLastUsed(t *testing.T, app *smokeApp) {
	ctx := context.Background()
	_, usedKey := app.createToken(app.member, store.KindPersonal, "used")
	app.createToken(app.member, store.KindPersonal, "unused")
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")

	first := app.now
	app.apiGet(t, "/api/v1/token", keyOf(usedKey)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	page := app.signIn(app.member).get("/tokens")
	used := cellText(page.row(t, "my-tokens", "used").Find(`[data-testid=token-last-used]`))
	if !strings.Contains(used, "127.0.0.1") || !strings.Contains(used, "Nov 26, 2026 12:00") {
		t.Errorf("Last used of a used token: %q, want its time and 127.0.0.1", used)
	}
	if got := cellText(page.row(t, "my-tokens", "unused").Find(`[data-testid=token-last-used]`)); got != "Never" {
		t.Errorf("Last used of a token never used: %q", got)
	}
	if got := cellText(app.signIn(app.owner).get("/tokens").row(t, "user-tokens", "used").Find(`[data-testid=token-last-used]`)); got != used {
		t.Errorf("the owner sees Last used %q, the member %q", got, used)
	}
	lastUsed := func() (time.Time, string) {
		t.Helper()
		for _, tok := range app.list(t, keyOf(ownerKey), "kind=personal").Tokens {
			if tok.Name == "used" && tok.LastUsedAt != nil {
				return *tok.LastUsedAt, tok.LastUsedIP
			}
		}
		return time.Time{}, ""
	}
	if at, ip := lastUsed(); !at.Equal(first) || ip != "127.0.0.1" {
		t.Errorf("the API says last used %v from %q", at, ip)
	}
	app.setNow(first.Add(5 * time.Minute))
	app.apiGet(t, "/auth/verify", keyOf(usedKey)).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if at, _ := lastUsed(); !at.Equal(first.Add(5 * time.Minute)) {
		t.Errorf("a use five minutes later: last used %v", at)
	}
	if got := cellText(app.signIn(app.member).get("/tokens").row(t, "my-tokens", "used").Find(`[data-testid=token-last-used]`)); !strings.Contains(got, "Nov 26, 2026 12:05") {
		t.Errorf("Last used after the second use: %q", got)
	}
}

// TestPermissionMatrixOnPostgres runs every cell of the permission matrix
// (permissions_test.go) on PostgreSQL, in the same way TestPermissionMatrix
// does on SQLite: a fixture of its own for a cell that changes the store,
// one shared per actor for the rest.
func TestPermissionMatrixOnPostgres(t *testing.T) {
	storetest.Postgres(t) // skips, or fails, without a test PostgreSQL
	runPermissionMatrix(t, func(t *testing.T) string { return storetest.Postgres(t) })
}
