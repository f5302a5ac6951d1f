package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// The permission matrix: every route of routes.go, asked by every kind of
// actor, about every kind of token, with requests a browser would never
// make on its own. PRODUCT.md: "What a member may not see or do, a crafted
// request may not do either."

// actor is who makes a request.
type actor int

const (
	anonymous actor = iota
	maxMember       // Max, member of Acme
	miaMember       // Mia, member of Acme
	anaOwner        // Ana, owner of Acme
	gusOwner        // Gus, owner of Globex
	numActors
)

func (a actor) String() string {
	return [...]string{"anonymous", "Max", "Mia", "Ana", "Gus"}[a]
}

// object is a token the matrix acts on; each fixture has one of each.
type object int

const (
	maxPersonal object = iota
	miaPersonal
	anaPersonal
	acmeSystem
	globexSystem
	gusPersonal
	numObjects
)

// String is also the token's name, distinct enough to search page bodies.
func (o object) String() string {
	return [...]string{"max-personal-token", "mia-personal-token", "ana-personal-token",
		"acme-system-token", "globex-system-token", "gus-personal-token"}[o]
}

// access is what an actor may do with an object.
type access int

const (
	mustSignIn access = iota // anonymous: sent to sign in
	mayRevoke                // sees the confirmation and may revoke
	notTheirs                // 404, as if the token did not exist
)

// revokeMatrix says who may revoke which token: a member their own personal
// tokens, an owner any token of their organization, nobody another
// organization's.
var revokeMatrix = []struct {
	object object
	access [numActors]access
}{
	// access columns: anonymous, Max, Mia, Ana, Gus
	{maxPersonal, [...]access{mustSignIn, mayRevoke, notTheirs, mayRevoke, notTheirs}},
	{miaPersonal, [...]access{mustSignIn, notTheirs, mayRevoke, mayRevoke, notTheirs}},
	{anaPersonal, [...]access{mustSignIn, notTheirs, notTheirs, mayRevoke, notTheirs}},
	{acmeSystem, [...]access{mustSignIn, notTheirs, notTheirs, mayRevoke, notTheirs}},
	{globexSystem, [...]access{mustSignIn, notTheirs, notTheirs, notTheirs, mayRevoke}},
	{gusPersonal, [...]access{mustSignIn, notTheirs, notTheirs, notTheirs, mayRevoke}},
}

// outcome is what a request should get, in status and in the store.
type outcome int

const (
	toLogin   outcome = iota // 303 to /login (with ?next= for a GET); nothing changed
	ok                       // 200; nothing changed
	created                  // 201; one new token, the actor's, in the actor's organization
	toTokens                 // 303 to /tokens; nothing changed
	forbidden                // 403; nothing changed
	notFound                 // 404; nothing changed
	invalid                  // 422; nothing changed
	signedOut                // 303 to /login and the session is over; no token changed
	revoked                  // 303 to /tokens (200 for htmx); the object revoked, nothing else
)

func (o outcome) String() string {
	return [...]string{"to login", "200", "201 created", "to /tokens", "403", "404", "422", "signed out", "revoked"}[o]
}

// routeMatrix is every route without a token in it, and the revoke routes
// with ids that name no token. POST /login, signing in, is what every
// actor's browser does first; TestCSRF and the session tests try it.
var routeMatrix = []struct {
	method, path string
	form         *formSpec
	want         [numActors]outcome
}{
	// want columns: anonymous, Max, Mia, Ana, Gus
	{"GET", "/", nil, [...]outcome{toLogin, toTokens, toTokens, toTokens, toTokens}},
	{"GET", "/login", nil, [...]outcome{ok, toTokens, toTokens, toTokens, toTokens}},
	{"GET", "/healthz", nil, [...]outcome{ok, ok, ok, ok, ok}},
	{"GET", "/static/app.css", nil, [...]outcome{ok, ok, ok, ok, ok}},
	{"GET", "/tokens", nil, [...]outcome{toLogin, ok, ok, ok, ok}},
	{"GET", "/tokens/personal/new", nil, [...]outcome{toLogin, ok, ok, ok, ok}},
	{"POST", "/tokens/personal", craftedPersonalForm, [...]outcome{toLogin, created, created, created, created}},
	{"POST", "/tokens/personal", personalFormWithRoles, [...]outcome{toLogin, invalid, invalid, invalid, invalid}},
	{"GET", "/tokens/system/new", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"POST", "/tokens/system", craftedSystemForm, [...]outcome{toLogin, forbidden, forbidden, created, created}},
	{"POST", "/tokens/system", systemFormWithOwnerRole, [...]outcome{toLogin, forbidden, forbidden, invalid, invalid}},
	{"POST", "/logout", nil, [...]outcome{toLogin, signedOut, signedOut, signedOut, signedOut}},
	{"GET", "/tokens/999999/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/999999/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/abc/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/abc/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/0/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/-1/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/99999999999999999999/revoke", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	// Search and filters (a member's owner-only filters are no filter),
	// and Revoke selected with ids that name no token, an empty
	// selection, every list's "Select all", and every token of the
	// fixture at once: each actor's has another's among them, so nothing
	// is revoked (TestBulkRevokePermissionMatrix tries each token alone).
	{"GET", "/tokens?q=token&state=expiring&last_used=never&sort=expires", nil, [...]outcome{toLogin, ok, ok, ok, ok}},
	{"GET", "/tokens?kind=system&member_id=999999&role=admin&created_by=999999", nil, [...]outcome{toLogin, ok, ok, ok, ok}},
	{"GET", "/tokens/bulk-revoke", nil, [...]outcome{toLogin, invalid, invalid, invalid, invalid}},
	{"GET", "/tokens/bulk-revoke?ids=999999", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/bulk-revoke?list=my&all=1", nil, [...]outcome{toLogin, ok, ok, ok, ok}},
	{"GET", "/tokens/bulk-revoke?list=user&all=1", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/tokens/bulk-revoke?list=system&all=1", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"POST", "/tokens/bulk-revoke", nil, [...]outcome{toLogin, invalid, invalid, invalid, invalid}},
	{"POST", "/tokens/bulk-revoke", bulkFormOfEveryToken, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	// A token's own page and its forms, with ids that name no token
	// (permCases tries every token with every actor).
	{"GET", "/tokens/999999", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/abc", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"GET", "/tokens/007", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/999999/edit", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/999999/rotate", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/abc/rotate", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	{"POST", "/tokens/999999/end-grace", nil, [...]outcome{toLogin, notFound, notFound, notFound, notFound}},
	// The owner's console: Audit Log. An owner's POST without a choice
	// changes nothing.
	{"GET", "/audit", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/audit?action=token.created&actor_kind=member&from=2026-11-01&to=2026-11-30", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/audit/export?format=csv", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/audit/export?format=jsonl", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"POST", "/audit/retention", nil, [...]outcome{toLogin, forbidden, forbidden, invalid, invalid}},
	// The owner's console: Members, with ids that name no one (members_test.go
	// tries real ones, and another organization's).
	{"GET", "/members", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/members?view=former&q=a", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"GET", "/members/invite", nil, [...]outcome{toLogin, forbidden, forbidden, ok, ok}},
	{"POST", "/members/invitations", inviteFormWithOwnerRole, [...]outcome{toLogin, forbidden, forbidden, invalid, invalid}},
	{"POST", "/members/invitations/999999/withdraw", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	{"GET", "/members/999999/roles", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	{"POST", "/members/999999/roles", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	{"GET", "/members/abc/roles", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	{"GET", "/members/999999/remove", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	{"POST", "/members/999999/remove", nil, [...]outcome{toLogin, forbidden, forbidden, notFound, notFound}},
	// An invitation link needs no sign-in; one that names no invitation is
	// not found, whoever opens it.
	{"GET", "/invitations/0123456789abcdefghijABCDEFGHIJxy", nil, [...]outcome{notFound, notFound, notFound, notFound, notFound}},
	{"POST", "/invitations/0123456789abcdefghijABCDEFGHIJxy", joinForm, [...]outcome{notFound, notFound, notFound, notFound, notFound}},
	{"GET", "/invitations/short", nil, [...]outcome{notFound, notFound, notFound, notFound, notFound}},
}

// formSpec is a form a row posts, built per fixture and actor.
type formSpec struct {
	label  string
	values func(f *permFixture, a actor) url.Values
}

var (
	// craftedPersonalForm asks for a personal token and, in fields no form
	// has, for it to be a system token, someone else's, in another
	// organization.
	craftedPersonalForm = &formSpec{"crafted personal form", func(f *permFixture, a actor) url.Values {
		return url.Values{
			"name":       {"made-by-request"},
			"kind":       {string(store.KindSystem)},
			"member_id":  {strconv.FormatInt(f.member2.ID, 10)},
			"created_by": {strconv.FormatInt(f.member2.ID, 10)},
			"org_id":     {strconv.FormatInt(f.otherOrgOf(a), 10)},
		}
	}}
	// personalFormWithRoles gives a personal token roles of its own, which
	// it must never have.
	personalFormWithRoles = &formSpec{"personal form with roles", func(*permFixture, actor) url.Values {
		return url.Values{"name": {"made-by-request"}, "roles": {string(store.RoleAdmin)}}
	}}
	// craftedSystemForm asks for a system token in the other organization.
	craftedSystemForm = &formSpec{"crafted system form", func(f *permFixture, a actor) url.Values {
		return url.Values{
			"name":   {"made-by-request"},
			"roles":  {string(store.RoleVideo)},
			"org_id": {strconv.FormatInt(f.otherOrgOf(a), 10)},
		}
	}}
	// inviteFormWithOwnerRole invites someone as a second owner, into the
	// other organization.
	inviteFormWithOwnerRole = &formSpec{"invitation with owner role", func(f *permFixture, a actor) url.Values {
		return url.Values{"name": {"Eve"}, "email": {"eve@example.test"}, "roles": {string(store.RoleOwner)},
			"org_id": {strconv.FormatInt(f.otherOrgOf(a), 10)}}
	}}
	// joinForm accepts an invitation.
	joinForm = &formSpec{"join form", func(*permFixture, actor) url.Values {
		return url.Values{"name": {"Eve"}, "password": {testPassword}, "password_confirm": {testPassword}}
	}}
	// systemFormWithOwnerRole asks for a system token with the one role no
	// token may hold.
	systemFormWithOwnerRole = &formSpec{"system form with owner role", func(*permFixture, actor) url.Values {
		return url.Values{"name": {"made-by-request"}, "roles": {string(store.RoleOwner), string(store.RoleVideo)}}
	}}
	// bulkFormOfEveryToken asks Yes, Revoke for every token of the
	// fixture, both organizations'.
	bulkFormOfEveryToken = &formSpec{"every token", func(f *permFixture, _ actor) url.Values {
		v := url.Values{}
		for _, id := range f.ids {
			v.Add("ids", strconv.FormatInt(id, 10))
		}
		return v
	}}
)

// permFixture is a testApp with one token of each object.
type permFixture struct {
	*testApp
	ids   [numObjects]int64
	hints [numObjects]string
}

func newPermFixture(t *testing.T) *permFixture {
	t.Helper()
	return newPermFixtureOn(t, filepath.Join(t.TempDir(), "tokend.db"))
}

// newPermFixtureOn is newPermFixture on the store at dsn.
func newPermFixtureOn(t *testing.T, dsn string) *permFixture {
	t.Helper()
	f := &permFixture{testApp: newTestAppOn(t, dsn, nil)}
	for o := range numObjects {
		var tok store.Token
		switch o {
		case maxPersonal:
			tok, _ = f.createToken(f.member, store.KindPersonal, o.String())
		case miaPersonal:
			tok, _ = f.createToken(f.member2, store.KindPersonal, o.String())
		case anaPersonal:
			tok, _ = f.createToken(f.owner, store.KindPersonal, o.String())
		case acmeSystem:
			tok, _ = f.createToken(f.owner, store.KindSystem, o.String(), store.RoleVideo)
		case globexSystem:
			tok, _ = f.createToken(f.otherOwner, store.KindSystem, o.String(), store.RoleViewer)
		case gusPersonal:
			tok, _ = f.createToken(f.otherOwner, store.KindPersonal, o.String())
		}
		f.ids[o], f.hints[o] = tok.ID, tok.Hint()
	}
	return f
}

func (f *permFixture) memberFor(a actor) store.Member {
	return [...]store.Member{{}, f.member, f.member2, f.owner, f.otherOwner}[a]
}

// otherOrgOf is the id of the organization a is not in.
func (f *permFixture) otherOrgOf(a actor) int64 {
	if a == gusOwner {
		return f.owner.OrgID
	}
	return f.otherOwner.OrgID
}

// browser is a client for a: signed in, or anonymous with the sign-in page
// read, so that its posts carry a valid CSRF token and meet the sign-in
// check rather than the CSRF one.
func (f *permFixture) browser(a actor) *client {
	f.t.Helper()
	if a == anonymous {
		c := f.client()
		c.get("/login")
		return c
	}
	return f.signIn(f.memberFor(a))
}

// secretsOf is every string a's pages must never contain: the names, hints
// and revoke links of tokens a may not manage, and the other organization's
// name and people.
func (f *permFixture) secretsOf(a actor) []string {
	var secrets []string
	for _, row := range revokeMatrix {
		if row.access[a] != mayRevoke {
			secrets = append(secrets, row.object.String(), f.hints[row.object],
				fmt.Sprintf("/tokens/%d/revoke", f.ids[row.object]))
		}
	}
	switch a {
	case maxMember, miaMember, anaOwner:
		secrets = append(secrets, "Globex", "Gus Owner", "@globex.test")
	case gusOwner:
		secrets = append(secrets, "Acme", "Ana Owner", "Max Member", "Mia Member", "@acme.test")
	}
	return secrets
}

// tokens is every token in the database, revoked or not, by id.
func (f *permFixture) tokens() map[int64]store.Token {
	return tokensByID(f.testApp)
}

func tokensByID(app *testApp) map[int64]store.Token {
	app.t.Helper()
	all := map[int64]store.Token{}
	for _, owner := range []store.Member{app.owner, app.otherOwner} {
		ts, err := app.db.ListTokens(context.Background(), owner, store.TokenFilter{IncludeRevoked: true})
		if err != nil {
			app.t.Fatal(err)
		}
		for _, t := range ts {
			all[t.ID] = t
		}
	}
	return all
}

// tokenChanges is what happened between two readings of the store: tokens
// revoked, tokens created, and anything else (a token gone, brought back,
// renamed), which should never happen.
func tokenChanges(before, after map[int64]store.Token) (revokedIDs []int64, createdTokens []store.Token, other []string) {
	for id, b := range before {
		a, ok := after[id]
		switch {
		case !ok:
			other = append(other, fmt.Sprintf("token %d deleted", id))
		case a.Name != b.Name || a.OrgID != b.OrgID || a.MemberID != b.MemberID || a.Kind != b.Kind:
			other = append(other, fmt.Sprintf("token %d changed from %+v to %+v", id, b, a))
		case b.Active() && !a.Active():
			revokedIDs = append(revokedIDs, id)
		case !b.Active() && a.Active():
			other = append(other, fmt.Sprintf("token %d active again", id))
		}
	}
	for id, a := range after {
		if _, ok := before[id]; !ok {
			createdTokens = append(createdTokens, a)
		}
	}
	slices.Sort(revokedIDs)
	return revokedIDs, createdTokens, other
}

// assertUnchanged fails t if any token was created, revoked or altered.
func assertUnchanged(t *testing.T, before, after map[int64]store.Token) {
	t.Helper()
	rev, cre, other := tokenChanges(before, after)
	if len(rev)+len(cre)+len(other) > 0 {
		t.Errorf("the store changed: revoked %v, created %d %+v, other %v", rev, len(cre), cre, other)
	}
}

// permCase is one cell of the matrix, ready to run.
type permCase struct {
	actor  actor
	method string
	path   string // may hold {id}, the object's id
	object object // for a path with {id}
	form   *formSpec
	htmx   bool
	want   outcome
}

func (pc permCase) name() string {
	path := pc.path
	if strings.Contains(path, "{id}") {
		path = strings.ReplaceAll(path, "{id}", pc.object.String())
	}
	via := ""
	if pc.htmx {
		via = " htmx"
	}
	form := ""
	if pc.form != nil {
		form = " with " + pc.form.label
	}
	return fmt.Sprintf("%s %s %s%s%s → %s", pc.actor, pc.method, path, form, via, pc.want)
}

// htmxRevokeTried is the token each actor revokes with htmx in the matrix.
var htmxRevokeTried = [numActors]object{maxMember: maxPersonal, miaMember: miaPersonal, anaOwner: miaPersonal, gusOwner: globexSystem}

func permCases() []permCase {
	var cases []permCase
	for _, row := range routeMatrix {
		for a := range numActors {
			cases = append(cases, permCase{actor: a, method: row.method, path: row.path, form: row.form, want: row.want[a]})
		}
	}
	for _, row := range revokeMatrix {
		for a := range numActors {
			get, post := map[access]outcome{mustSignIn: toLogin, mayRevoke: ok, notTheirs: notFound}[row.access[a]],
				map[access]outcome{mustSignIn: toLogin, mayRevoke: revoked, notTheirs: notFound}[row.access[a]]
			path := "/tokens/{id}/revoke"
			cases = append(cases,
				permCase{actor: a, method: "GET", path: path, object: row.object, want: get},
				permCase{actor: a, method: "GET", path: path, object: row.object, want: get, htmx: true},
				permCase{actor: a, method: "POST", path: path, object: row.object, want: post},
			)
			// htmx reaches the store by the same path as a plain form, so
			// one allowed revoke per actor is tried with it; every refused
			// one is.
			if row.access[a] != mayRevoke || htmxRevokeTried[a] == row.object {
				cases = append(cases, permCase{actor: a, method: "POST", path: path, object: row.object, want: post, htmx: true})
			}
			// The token's own page, and its forms: a rotation without a
			// grace chosen changes nothing; whoever may not manage the
			// token gets 404 from each.
			page := map[access]outcome{mustSignIn: toLogin, mayRevoke: ok, notTheirs: notFound}[row.access[a]]
			rotate := map[access]outcome{mustSignIn: toLogin, mayRevoke: invalid, notTheirs: notFound}[row.access[a]]
			cases = append(cases,
				permCase{actor: a, method: "GET", path: "/tokens/{id}", object: row.object, want: page},
				permCase{actor: a, method: "POST", path: "/tokens/{id}/rotate", object: row.object, want: rotate},
			)
			if row.access[a] != mayRevoke {
				for _, p := range []string{"/tokens/{id}/edit", "/tokens/{id}/end-grace"} {
					cases = append(cases, permCase{actor: a, method: "POST", path: p, object: row.object, want: page})
				}
			}
		}
	}
	return cases
}

// TestPermissionMatrix runs every cell of the matrix. A cell that should
// change the store gets a fixture of its own. The cells that should change
// nothing share one fixture per actor, for speed; each checks the store is
// unchanged, and a cell that changed it anyway throws the fixture away, so
// no cell ever sees another's effect.
func TestPermissionMatrix(t *testing.T) {
	runPermissionMatrix(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "tokend.db") })
}

// runPermissionMatrix runs every cell on databases made by dsn, one for
// each fixture.
func runPermissionMatrix(t *testing.T, dsn func(t *testing.T) string) {
	cases := permCases()
	for a := range numActors {
		t.Run(a.String(), func(actorT *testing.T) {
			actorT.Parallel()
			var shared *permFixture
			var sharedClient *client
			for _, pc := range cases {
				if pc.actor != a {
					continue
				}
				actorT.Run(pc.name(), func(t *testing.T) {
					var f *permFixture
					var c *client
					switch {
					case pc.want.changesStore():
						f = newPermFixtureOn(t, dsn(t))
						c = f.browser(a)
					case shared == nil:
						shared = newPermFixtureOn(actorT, dsn(actorT))
						shared.t = t
						sharedClient = shared.browser(a)
						fallthrough
					default:
						f, c = shared, sharedClient
						f.t, c.t = t, t
					}
					if f.runCell(t, c, pc) && f == shared {
						shared = nil
					}
				})
			}
		})
	}
}

// changesStore reports whether a request with this outcome changes the
// database: tokens, or the session.
func (o outcome) changesStore() bool { return o == created || o == revoked || o == signedOut }

// runCell makes the request of one cell as c and checks everything the
// cell says. It reports whether the store's tokens changed.
func (f *permFixture) runCell(t *testing.T, c *client, pc permCase) (changed bool) {
	t.Helper()
	path := strings.ReplaceAll(pc.path, "{id}", strconv.FormatInt(f.ids[pc.object], 10))
	var header []string
	if pc.htmx {
		header = []string{"HX-Request", "true"}
	}

	before := f.tokens()
	var r *response
	switch pc.method {
	case http.MethodGet:
		r = c.get(path, header...)
	case http.MethodPost:
		var form url.Values
		if pc.form != nil {
			form = pc.form.values(f, pc.actor)
		}
		r = c.postForm(path, form, header...)
	}
	after := f.tokens()
	rev, cre, other := tokenChanges(before, after)
	changed = len(rev)+len(cre)+len(other) > 0

	f.checkStore(t, pc, before, after, r)
	for _, s := range f.secretsOf(pc.actor) {
		if strings.Contains(r.body, s) {
			t.Errorf("%s sees %q in the response", pc.actor, s)
		}
	}
	f.checkStatus(t, pc, path, r)
	if pc.want == signedOut {
		if again := c.get("/tokens"); again.StatusCode != http.StatusSeeOther || again.location() != "/login?next=%2Ftokens" {
			t.Errorf("after signing out, /tokens: status %d to %q, want 303 to sign in", again.StatusCode, again.location())
		}
	}
	return changed
}

// checkStatus checks the status, and where a redirect goes.
func (f *permFixture) checkStatus(t *testing.T, pc permCase, path string, r *response) {
	t.Helper()
	want := map[outcome]int{
		toLogin: http.StatusSeeOther, ok: http.StatusOK, created: http.StatusCreated, toTokens: http.StatusSeeOther,
		forbidden: http.StatusForbidden, notFound: http.StatusNotFound, invalid: http.StatusUnprocessableEntity,
		signedOut: http.StatusSeeOther, revoked: http.StatusSeeOther,
	}[pc.want]
	wantLocation := map[outcome]string{toLogin: "/login", toTokens: "/tokens", signedOut: "/login", revoked: "/tokens"}[pc.want]
	if pc.want == toLogin && pc.method == http.MethodGet {
		wantLocation += "?next=" + url.QueryEscape(path)
	}
	if pc.htmx {
		// htmx is told where to go rather than redirected, and gets the
		// lists back after a revoke.
		switch pc.want {
		case toLogin:
			want, wantLocation = http.StatusNoContent, ""
			if got := r.Header.Get("HX-Redirect"); got != "/login" {
				t.Errorf("HX-Redirect = %q, want /login", got)
			}
		case revoked:
			want, wantLocation = http.StatusOK, ""
			if !r.has(`#token-lists`) {
				t.Errorf("htmx revoke did not answer with the token lists:\n%s", r.body)
			}
		case notFound:
			if got := r.Header.Get("HX-Retarget"); got != "#dialog-slot" {
				t.Errorf("HX-Retarget = %q, want #dialog-slot", got)
			}
		}
	}
	if r.StatusCode != want {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, want, r.body)
	}
	if wantLocation != "" && r.location() != wantLocation {
		t.Errorf("redirected to %q, want %q", r.location(), wantLocation)
	}
	if pc.want == ok && pc.path == "/tokens/{id}" {
		if got := r.text(`[data-testid=token-title]`); got != pc.object.String() {
			t.Errorf("the page is about %q, want %q", got, pc.object)
		}
	}
	if pc.want == ok && strings.HasSuffix(pc.path, "/revoke") {
		if got := r.text(`[data-testid=revoke-token-name]`); got != pc.object.String() {
			t.Errorf("confirmation names %q, want %q", got, pc.object)
		}
		if got, _ := r.doc.Find(`form[action]`).Last().Attr("action"); got != path {
			t.Errorf("confirmation posts to %q, want %q", got, path)
		}
	}
	if pc.want == notFound && (r.has(`[data-testid=revoke-confirm]`) || r.has(`[data-testid=confirm-revoke]`)) {
		t.Errorf("a 404 still offers to revoke")
	}
}

// checkStore checks that exactly what the outcome says happened in the
// database, and nothing else.
func (f *permFixture) checkStore(t *testing.T, pc permCase, before, after map[int64]store.Token, r *response) {
	t.Helper()
	rev, cre, other := tokenChanges(before, after)
	if len(other) > 0 {
		t.Errorf("unexpected changes: %v", other)
	}
	switch pc.want {
	case revoked:
		if want := []int64{f.ids[pc.object]}; !slices.Equal(rev, want) || len(cre) > 0 {
			t.Errorf("revoked %v and created %d, want only %v revoked", rev, len(cre), want)
		}
		if got := after[f.ids[pc.object]]; got.RevokeReason != store.ReasonRevoked {
			t.Errorf("revoke reason %q, want %q", got.RevokeReason, store.ReasonRevoked)
		}
	case created:
		if len(rev) > 0 || len(cre) != 1 {
			t.Fatalf("revoked %v and created %d, want one created", rev, len(cre))
		}
		m, tok := f.memberFor(pc.actor), cre[0]
		wantKind, wantMember := store.KindPersonal, m.ID
		if pc.path == "/tokens/system" {
			wantKind, wantMember = store.KindSystem, 0
		}
		if tok.Kind != wantKind || tok.OrgID != m.OrgID || tok.MemberID != wantMember || tok.CreatedBy != m.ID || tok.Name != "made-by-request" {
			t.Errorf("created %+v, want a %s token of member %d in org %d, made by %d", tok, wantKind, wantMember, m.OrgID, m.ID)
		}
		key, _ := r.doc.Find(`[data-testid=new-key-value]`).Attr("value")
		if kind, ok := store.ParseTokenText(key); !ok || kind != wantKind {
			t.Errorf("the page shows key %q, want a %s token", key, wantKind)
		}
	default:
		assertUnchanged(t, before, after)
	}
}

// TestTokensPageListsOnlyWhatEachActorMaySee checks, section by section,
// what Token Management lists for each actor.
func TestTokensPageListsOnlyWhatEachActorMaySee(t *testing.T) {
	tests := []struct {
		actor                    actor
		mine, users, system      []object
		ownerSections, addSystem bool
	}{
		{actor: maxMember, mine: []object{maxPersonal}},
		{actor: miaMember, mine: []object{miaPersonal}},
		{actor: anaOwner, mine: []object{anaPersonal}, users: []object{anaPersonal, miaPersonal, maxPersonal},
			system: []object{acmeSystem}, ownerSections: true},
		{actor: gusOwner, mine: []object{gusPersonal}, users: []object{gusPersonal}, system: []object{globexSystem},
			ownerSections: true},
	}
	f := newPermFixture(t)
	for _, tt := range tests {
		t.Run(tt.actor.String(), func(t *testing.T) {
			f.t = t
			r := f.browser(tt.actor).get("/tokens")
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			for section, want := range map[string][]object{"my-tokens": tt.mine, "user-tokens": tt.users, "system-tokens": tt.system} {
				var got, wantNames []string
				r.doc.Find(`[data-testid=` + section + `] [data-testid=token-name]`).Each(func(_ int, s *goquery.Selection) {
					got = append(got, s.Text())
				})
				for _, o := range want {
					wantNames = append(wantNames, o.String())
				}
				if !slices.Equal(got, wantNames) {
					t.Errorf("%s lists %q, want %q", section, got, wantNames)
				}
			}
			if got := r.has(`[data-testid=user-tokens]`) || r.has(`[data-testid=system-tokens]`) || r.has(`[data-testid=add-system]`); got != tt.ownerSections {
				t.Errorf("owner's sections shown: %v, want %v", got, tt.ownerSections)
			}
			for _, s := range f.secretsOf(tt.actor) {
				if strings.Contains(r.body, s) {
					t.Errorf("%s sees %q", tt.actor, s)
				}
			}
		})
	}
}

// TestForeignTokenLooksLikeMissingToken: a token of another member or
// organization answers exactly as an id that names nothing, so ids reveal
// nothing.
func TestForeignTokenLooksLikeMissingToken(t *testing.T) {
	f := newPermFixture(t)
	c := f.browser(maxMember)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		do := func(path string) *response {
			if method == http.MethodGet {
				return c.get(path)
			}
			return c.postForm(path, nil)
		}
		missing := do("/tokens/999999/revoke")
		if missing.StatusCode != http.StatusNotFound {
			t.Fatalf("%s missing token: status %d", method, missing.StatusCode)
		}
		for _, o := range []object{miaPersonal, anaPersonal, acmeSystem, globexSystem, gusPersonal} {
			r := do(fmt.Sprintf("/tokens/%d/revoke", f.ids[o]))
			if r.StatusCode != missing.StatusCode || withoutRequestID(r.body) != withoutRequestID(missing.body) {
				t.Errorf("%s %s: status %d, body differs from a missing token's: %v", method, o, r.StatusCode, r.body != missing.body)
			}
		}
	}
}
