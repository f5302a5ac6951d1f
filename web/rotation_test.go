package web

// Rotation with a grace period, on the page and on the API, and the API's
// other new calls about one token: read it, edit it.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// wireLifeToken is what the API says of a token's life, pinned here.
type wireLifeToken struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	Hint         string     `json:"hint"`
	State        string     `json:"state"`
	Roles        []string   `json:"roles"`
	Description  *string    `json:"description"`
	AllowedIPs   []string   `json:"allowed_ips"`
	RotatedAt    *time.Time `json:"rotated_at"`
	GraceUntil   *time.Time `json:"grace_until"`
	LeakedAt     *time.Time `json:"leaked_at"`
	RevokeReason string     `json:"revoke_reason"`
}

type wireLifeAnswer struct {
	Token wireLifeToken `json:"token"`
	Key   string        `json:"key"`
}

// TestRotateOnThePage: the new key shown once as at creation; the old one
// works to the last second of its grace and not at its end; a use of it
// after is flagged on the page.
func TestRotateOnThePage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, oldKey := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	owner := app.signIn(app.owner)
	page := owner.get(tokenPath(tok.ID))
	if got := page.text(`[data-testid=rotate-form] legend`); got != "When should the old secret stop working?" {
		t.Errorf("the question is %q", got)
	}
	var choices []string
	page.doc.Find(`[data-testid=rotate-form] input[name=grace]`).Each(func(_ int, s *goquery.Selection) {
		choices = append(choices, s.AttrOr("value", ""))
		if id := s.AttrOr("id", ""); page.doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("choice %s has no label", id)
		}
	})
	if !slices.Equal(choices, []string{"now", "1h", "24h", "7d"}) {
		t.Errorf("choices %q", choices)
	}

	start := app.now
	r := owner.postForm(tokenPath(tok.ID)+"/rotate", url.Values{"grace": {"1h"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("rotate: status %d\n%s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	newKey := r.keyShown()
	if kind, ok := store.ParseTokenText(newKey); !ok || kind != store.KindSystem || newKey == keyOf(oldKey) {
		t.Fatalf("the page shows %q", newKey)
	}
	if got := r.doc.Find(`[data-testid=new-key]`).AttrOr("data-replace-url", ""); got != tokenPath(tok.ID) {
		t.Errorf("after the key the address bar goes to %q", got)
	}
	if !strings.Contains(r.text(`[data-testid=new-key] .warning`), "You won't see it again") {
		t.Error("the key comes without its warning")
	}
	wantGrace := fmt.Sprintf("The previous secret (%s) keeps working until Nov 26, 2026 13:00 UTC.", tok.Hint())
	if got := r.detail("grace-until"); got != wantGrace {
		t.Errorf("grace: %q, want %q", got, wantGrace)
	}
	if strings.Contains(r.body, keyOf(oldKey)) {
		t.Error("the page shows the old key")
	}

	again := owner.get(tokenPath(tok.ID))
	if again.keyShown() != "" || strings.Contains(again.body, newKey) {
		t.Error("the key shows again on the next visit")
	}
	if !again.has(`[data-testid=end-grace]`) || !again.has(`[data-testid=rotate-blocked]`) || again.has(`[data-testid=rotate-form]`) {
		t.Error("during the grace the page offers to rotate again, or not to end the grace")
	}
	if got := again.detail("token-rotated"); got != "Nov 26, 2026 12:00 UTC" {
		t.Errorf("rotated %q", got)
	}
	if got := again.detail("token-hint"); got != "tks_…"+newKey[len(newKey)-4:] {
		t.Errorf("the hint is %q, want the new key's", got)
	}

	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", newKey).ok(t, http.StatusOK, &p)
	if p.ID != tok.ID {
		t.Errorf("the new key is token %d", p.ID)
	}
	app.apiGet(t, "/api/v1/token", keyOf(oldKey)).ok(t, http.StatusOK, nil)
	app.setNow(start.Add(time.Hour - time.Second))
	app.apiGet(t, "/api/v1/token", keyOf(oldKey)).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/auth/verify", keyOf(oldKey)).ok(t, http.StatusOK, nil)
	app.setNow(start.Add(time.Hour))
	app.apiGet(t, "/api/v1/token", keyOf(oldKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/auth/verify", keyOf(oldKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/api/v1/token", newKey).ok(t, http.StatusOK, nil)
	app.flush(t)

	after := owner.get(tokenPath(tok.ID))
	if got := after.detail("old-secret-used"); got != "An old secret of this token was used on Nov 26, 2026 13:00 UTC from 127.0.0.1 — it may have leaked." {
		t.Errorf("the page says %q", got)
	}
	if after.has(`[data-testid=grace]`) || !after.has(`[data-testid=rotate-form]`) {
		t.Error("after the grace the page still shows it, or offers no rotation")
	}
	if got := app.signIn(app.member).get(tokenPath(tok.ID)); got.StatusCode != http.StatusNotFound {
		t.Errorf("a member sees the rotated system token: %d", got.StatusCode)
	}
}

// TestRotateDuringGraceIsRefused: a second rotation waits for the grace to
// end; ending it stops the old secret at once.
func TestRotateDuringGraceIsRefused(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, firstKey := app.createToken(app.member, store.KindPersonal, "laptop")
	b := app.signIn(app.member)
	b.get(tokenPath(tok.ID))
	r := b.postForm(tokenPath(tok.ID)+"/rotate", url.Values{"grace": {"24h"}})
	secondKey := r.keyShown()
	if r.StatusCode != http.StatusCreated || secondKey == "" {
		t.Fatalf("first rotation: status %d", r.StatusCode)
	}

	r = b.postForm(tokenPath(tok.ID)+"/rotate", url.Values{"grace": {"now"}})
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("rotating during the grace: status %d, want 409", r.StatusCode)
	}
	if got := r.detail("rotate-error"); !strings.Contains(got, "End that grace period before rotating again") {
		t.Errorf("the page says %q", got)
	}
	if r.keyShown() != "" {
		t.Error("a refused rotation shows a key")
	}
	app.apiGet(t, "/api/v1/token", keyOf(firstKey)).ok(t, http.StatusOK, nil)

	r = b.postForm(tokenPath(tok.ID)+"/end-grace", nil)
	if r.StatusCode != http.StatusSeeOther || r.location() != tokenPath(tok.ID) {
		t.Fatalf("End grace period now: status %d to %q", r.StatusCode, r.location())
	}
	page := b.get(tokenPath(tok.ID))
	if got, want := page.detail("flash"), fmt.Sprintf("The previous secret (%s) no longer works.", tok.Hint()); got != want {
		t.Errorf("flash %q, want %q", got, want)
	}
	if page.has(`[data-testid=grace]`) {
		t.Error("the grace is still shown")
	}
	app.apiGet(t, "/api/v1/token", keyOf(firstKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/api/v1/token", secondKey).ok(t, http.StatusOK, nil)

	if r := b.postForm(tokenPath(tok.ID)+"/end-grace", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("ending no grace: status %d", r.StatusCode)
	}
	if got := b.get(tokenPath(tok.ID)).detail("flash"); got != "No grace period was running; nothing changed." {
		t.Errorf("flash %q", got)
	}

	r = b.postForm(tokenPath(tok.ID)+"/rotate", url.Values{"grace": {"now"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("rotating after the grace ended: status %d", r.StatusCode)
	}
	app.apiGet(t, "/api/v1/token", secondKey).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/api/v1/token", r.keyShown()).ok(t, http.StatusOK, nil)
}

// TestRotateRefusals: a grace not offered, a revoked or expired token,
// another's token.
func TestRotateRefusals(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	tok, key := app.createToken(app.member, store.KindPersonal, "laptop")
	sys, _ := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	b := app.signIn(app.member)
	b.get(tokenPath(tok.ID))
	for _, grace := range [][]string{{"2h"}, {""}, nil, {"1h", "24h"}} {
		r := b.postForm(tokenPath(tok.ID)+"/rotate", url.Values{"grace": grace})
		if r.StatusCode != http.StatusUnprocessableEntity || r.detail("rotate-error") == "" || r.keyShown() != "" {
			t.Errorf("grace %q: status %d, %q", grace, r.StatusCode, r.detail("rotate-error"))
		}
	}
	app.apiGet(t, "/api/v1/token", keyOf(key)).ok(t, http.StatusOK, nil)
	if r := b.postForm(tokenPath(sys.ID)+"/rotate", url.Values{"grace": {"now"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("a member rotates a system token: status %d", r.StatusCode)
	}
	short, _ := app.createExpiring(t, app.member, store.KindPersonal, "short", app.now.Add(time.Minute))
	app.revokeInStore(t, app.member, tok.ID)
	app.setNow(app.now.Add(time.Hour))
	for _, id := range []int64{tok.ID, short.ID} {
		r := b.postForm(tokenPath(id)+"/rotate", url.Values{"grace": {"now"}})
		if r.StatusCode != http.StatusConflict || r.detail("page-error")+r.detail("rotate-error") == "" || r.keyShown() != "" {
			t.Errorf("token %d: status %d", id, r.StatusCode)
		}
	}
}

// TestAPIRotateToken: POST /api/v1/tokens/{id}/rotate answers like
// creation; end-grace ends the grace.
func TestAPIRotateToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	mine, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	rotate := func(key, grace string, id int64) *apiResponse {
		t.Helper()
		return app.apiJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/rotate", id), key, grace)
	}

	r := rotate(keyOf(ownerKey), `{"grace":"1h"}`, sys.ID)
	var a wireLifeAnswer
	r.ok(t, http.StatusCreated, &a)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if kind, ok := store.ParseTokenText(a.Key); !ok || kind != store.KindSystem || a.Token.ID != sys.ID || a.Token.Name != "deploy" {
		t.Fatalf("rotated: %s", r.body)
	}
	if a.Token.RotatedAt == nil || !a.Token.RotatedAt.Equal(app.now) || a.Token.GraceUntil == nil || !a.Token.GraceUntil.Equal(app.now.Add(time.Hour)) {
		t.Errorf("rotated_at %v, grace_until %v", a.Token.RotatedAt, a.Token.GraceUntil)
	}
	app.apiGet(t, "/api/v1/token", a.Key).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", keyOf(sysKey)).ok(t, http.StatusOK, nil)

	rotate(keyOf(ownerKey), `{"grace":"now"}`, sys.ID).refusal(t, http.StatusConflict, "conflict")
	for _, body := range []string{`{"grace":"2h"}`, `{}`, `{"grace":null}`, `{"grace":1}`} {
		rotate(keyOf(ownerKey), body, mine.ID).invalid(t, "grace")
	}
	rotate(keyOf(ownerKey), `{"grace":"now","extra":1}`, mine.ID).invalid(t, "extra")
	rotate(keyOf(maxKey), `{"grace":"now"}`, sys.ID).refusal(t, http.StatusNotFound, "not_found")
	rotate(keyOf(maxKey), `{"grace":"now"}`, 999999).refusal(t, http.StatusNotFound, "not_found")

	var ended wireLifeAnswer
	app.apiCall(t, http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/end-grace", sys.ID), keyOf(ownerKey), "", "").ok(t, http.StatusOK, &ended)
	if ended.Token.GraceUntil == nil || !ended.Token.GraceUntil.Equal(app.now) || ended.Key != "" {
		t.Errorf("end-grace: %+v", ended)
	}
	app.apiGet(t, "/api/v1/token", keyOf(sysKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiCall(t, http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/end-grace", sys.ID), keyOf(maxKey), "", "").refusal(t, http.StatusNotFound, "not_found")

	// A token may rotate itself: with no grace, the key it came with stops.
	var self wireLifeAnswer
	rotate(keyOf(maxKey), `{"grace":"now"}`, mine.ID).ok(t, http.StatusCreated, &self)
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).refusal(t, http.StatusUnauthorized, "revoked_token")
	app.apiGet(t, "/api/v1/token", self.Key).ok(t, http.StatusOK, nil)
}

// TestAPIGetAndUpdateToken: GET and PATCH /api/v1/tokens/{id}.
func TestAPIGetAndUpdateToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, ownerKey := app.createToken(app.owner, store.KindPersonal, "ana-admin")
	sys, sysKey := app.createToken(app.owner, store.KindSystem, "deploy", store.RoleVideo)
	mine, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	app.createToken(app.member, store.KindPersonal, "taken")
	get := func(key string, id int64) *apiResponse {
		return app.apiGet(t, fmt.Sprintf("/api/v1/tokens/%d", id), key)
	}
	patch := func(key string, id int64, body string) *apiResponse {
		return app.apiJSON(t, http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", id), key, body)
	}

	var a wireLifeAnswer
	get(keyOf(maxKey), mine.ID).ok(t, http.StatusOK, &a)
	if a.Token.Name != "max-ci" || a.Token.Description == nil || *a.Token.Description != "" || a.Token.AllowedIPs == nil || len(a.Token.AllowedIPs) != 0 ||
		a.Token.RotatedAt != nil || a.Token.GraceUntil != nil || a.Token.LeakedAt != nil {
		t.Errorf("GET: %+v", a.Token)
	}
	get(keyOf(maxKey), sys.ID).refusal(t, http.StatusNotFound, "not_found")
	get(keyOf(sysKey), mine.ID).refusal(t, http.StatusNotFound, "not_found")
	get(keyOf(ownerKey), sys.ID).ok(t, http.StatusOK, nil)

	patch(keyOf(maxKey), mine.ID, `{"name":"max-ci (2)","description":"Runs the nightly upload.","allowed_ips":["127.0.0.1","10.1.2.3/8"]}`).ok(t, http.StatusOK, &a)
	if a.Token.Name != "max-ci (2)" || *a.Token.Description != "Runs the nightly upload." || !slices.Equal(a.Token.AllowedIPs, []string{"10.0.0.0/8", "127.0.0.1"}) {
		t.Errorf("PATCH: %+v", a.Token)
	}
	patch(keyOf(maxKey), mine.ID, `{"description":null}`).ok(t, http.StatusOK, &a)
	if *a.Token.Description != "Runs the nightly upload." {
		t.Errorf("null changed the description to %q", *a.Token.Description)
	}
	patch(keyOf(ownerKey), sys.ID, `{"roles":["viewer","billing"]}`).ok(t, http.StatusOK, &a)
	if !slices.Equal(a.Token.Roles, []string{"viewer", "billing"}) {
		t.Errorf("roles %q", a.Token.Roles)
	}
	var p wirePrincipal
	app.apiGet(t, "/api/v1/token", keyOf(sysKey)).ok(t, http.StatusOK, &p)
	if !slices.Equal(p.Roles, []string{"viewer", "billing"}) {
		t.Errorf("the new roles do not hold at the next use: %q", p.Roles)
	}

	patch(keyOf(maxKey), mine.ID, `{"roles":["video"]}`).invalid(t, "roles")
	patch(keyOf(ownerKey), sys.ID, `{"roles":[]}`).invalid(t, "roles")
	patch(keyOf(ownerKey), sys.ID, `{"roles":["owner"]}`).invalid(t, "roles")
	patch(keyOf(maxKey), mine.ID, `{"allowed_ips":["nonsense"]}`).invalid(t, "allowed_ips")
	patch(keyOf(maxKey), mine.ID, `{"allowed_ips":"10.0.0.0/8"}`).invalid(t, "allowed_ips")
	patch(keyOf(maxKey), mine.ID, `{"description":"`+strings.Repeat("x", store.MaxDescriptionLen+1)+`"}`).invalid(t, "description")
	patch(keyOf(maxKey), mine.ID, `{"name":""}`).invalid(t, "name")
	patch(keyOf(maxKey), mine.ID, `{"nmae":"typo"}`).invalid(t, "nmae")
	patch(keyOf(maxKey), mine.ID, `{"name":"TAKEN"}`).refusal(t, http.StatusConflict, "conflict")
	patch(keyOf(maxKey), sys.ID, `{"name":"mine now"}`).refusal(t, http.StatusNotFound, "not_found")
	patch(keyOf(sysKey), sys.ID, `{"roles":["admin"]}`).refusal(t, http.StatusNotFound, "not_found")
	if got := app.token(sys.ID, app.owner); got.Name != "deploy" || !slices.Equal(got.Roles, []store.Role{store.RoleViewer, store.RoleBilling}) {
		t.Errorf("refused edits changed the system token: %+v", got)
	}

	// Shutting itself out takes effect at the next use: the API asks no
	// confirmation.
	patch(keyOf(maxKey), mine.ID, `{"allowed_ips":["203.0.113.0/24"]}`).ok(t, http.StatusOK, nil)
	app.apiGet(t, "/api/v1/token", keyOf(maxKey)).refusal(t, http.StatusForbidden, "address_not_allowed")
}

// TestAPICreateTokenWithDescriptionAndAllowList: creation takes both.
func TestAPICreateTokenWithDescriptionAndAllowList(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	_, key := app.createToken(app.member, store.KindPersonal, "max-ci")
	var a wireLifeAnswer
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key),
		`{"name":"fenced","description":"Only from the office.","allowed_ips":["203.0.113.9/24","203.0.113.0/24"]}`).ok(t, http.StatusCreated, &a)
	if *a.Token.Description != "Only from the office." || !slices.Equal(a.Token.AllowedIPs, []string{"203.0.113.0/24"}) {
		t.Errorf("created %+v", a.Token)
	}
	app.apiGet(t, "/api/v1/token", a.Key).refusal(t, http.StatusForbidden, "address_not_allowed")
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"bad","allowed_ips":["10.0.0.0/33"]}`).invalid(t, "allowed_ips")
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"bad","allowed_ips":[1]}`).invalid(t, "allowed_ips")
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key), `{"name":"bad","description":"`+strings.Repeat("x", 501)+`"}`).invalid(t, "description")
}

// TestAPITokenLifePermissions: GET, PATCH, rotate and end-grace on every
// token of the permission fixture, by a personal token, an admin's and a
// system token without admin: a token they may not manage is 404 and
// stays as it was.
func TestAPITokenLifePermissions(t *testing.T) {
	t.Parallel()
	f := newPermFixture(t)
	_, maxKey := f.createToken(f.member, store.KindPersonal, "max-api")
	_, anaKey := f.createToken(f.owner, store.KindPersonal, "ana-api")
	_, gusKey := f.createToken(f.otherOwner, store.KindPersonal, "gus-api")
	_, videoKey := f.createToken(f.owner, store.KindSystem, "video-api", store.RoleVideo)
	callers := []struct {
		name string
		key  store.TokenText
		may  []object
	}{
		{"Max's personal token", maxKey, []object{maxPersonal}},
		{"Ana's personal token (admin)", anaKey, []object{maxPersonal, miaPersonal, anaPersonal, acmeSystem}},
		{"Gus's personal token (admin)", gusKey, []object{globexSystem, gusPersonal}},
		{"a system token without admin", videoKey, nil},
	}
	for _, c := range callers {
		for o := range numObjects {
			t.Run(fmt.Sprintf("%s on %s", c.name, o), func(t *testing.T) {
				f.t = t
				id := f.ids[o]
				before := f.token(id, map[bool]store.Member{true: f.otherOwner, false: f.owner}[o == globexSystem || o == gusPersonal])
				path := fmt.Sprintf("/api/v1/tokens/%d", id)
				calls := []*apiResponse{
					f.apiGet(t, path, keyOf(c.key)),
					f.apiJSON(t, http.MethodPatch, path, keyOf(c.key), `{}`),
					f.apiCall(t, http.MethodPost, path+"/end-grace", keyOf(c.key), "", ""),
				}
				if !slices.Contains(c.may, o) {
					calls = append(calls,
						f.apiJSON(t, http.MethodPatch, path, keyOf(c.key), `{"name":"taken over","allowed_ips":["192.0.2.1"]}`),
						f.apiJSON(t, http.MethodPost, path+"/rotate", keyOf(c.key), `{"grace":"now"}`))
					for _, r := range calls {
						r.refusal(t, http.StatusNotFound, "not_found")
					}
				} else {
					for _, r := range calls {
						r.ok(t, http.StatusOK, nil)
					}
				}
				after := f.token(id, map[bool]store.Member{true: f.otherOwner, false: f.owner}[o == globexSystem || o == gusPersonal])
				if after.Name != before.Name || after.LastFour != before.LastFour || after.AllowedIPs.String() != before.AllowedIPs.String() || !after.Active() {
					t.Errorf("the token changed: %+v", after)
				}
			})
		}
	}
}
