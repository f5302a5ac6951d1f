package web

// The Audit Log: every action writes exactly one event with the right
// actor, target, client and details, seen on the page, in the exports and
// on the API; filters, paging, retention, and who may see what.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// Every request of these tests comes through a trusted proxy that names
// this client, with this browser.
const (
	auditIP = "203.0.113.7"
	auditUA = "audit-test/1.0 (X11; Linux x86_64)"
)

var auditHeader = []string{"X-Forwarded-For", auditIP, "User-Agent", auditUA}

// newAuditApp is newTestApp behind a trusted proxy on loopback, with
// budgets no test of refusals exhausts.
func newAuditApp(t *testing.T) *testApp {
	t.Helper()
	return newTestAppWith(t, func(c *Config) {
		c.TrustedProxies = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}}
		c.FailuresPerSecond, c.FailureBurst = 1000, 100_000
		c.SignInFailures = &SignInLimits{PerAddrPerSecond: 1000, AddrBurst: 100_000, PerAccountPerSecond: 1000, AccountBurst: 100_000}
	})
}

// auditEvents is every event of owner's organization, newest first.
func (a *testApp) auditEvents(t *testing.T, owner store.Member) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	f := store.AuditFilter{Limit: store.MaxAuditPage}
	for {
		es, err := a.db.AuditEvents(context.Background(), owner, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
		if len(es) < store.MaxAuditPage {
			return all
		}
		f.BeforeID = es[len(es)-1].ID
	}
}

// auditEventsAfter is the events of owner's organization with ids above
// after, newest first.
func (a *testApp) auditEventsAfter(t *testing.T, owner store.Member, after int64) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	for _, e := range a.auditEvents(t, owner) {
		if e.ID > after {
			out = append(out, e)
		}
	}
	return out
}

// lastAuditID is the id of the newest event of any organization.
func (a *testApp) lastAuditID(t *testing.T) int64 {
	t.Helper()
	var last int64
	for _, o := range []store.Member{a.owner, a.otherOwner} {
		if es := a.auditEvents(t, o); len(es) > 0 {
			last = max(last, es[0].ID)
		}
	}
	return last
}

// tokenNamed is the token of the fixture's organizations called name.
func (a *testApp) tokenNamed(t *testing.T, name string) store.Token {
	t.Helper()
	for _, tok := range tokensByID(a) {
		if tok.Name == name {
			return tok
		}
	}
	t.Fatalf("no token named %q", name)
	return store.Token{}
}

// signInVia signs m in through the sign-in form with header on every
// request.
func (a *testApp) signInVia(t *testing.T, m store.Member, password string, header ...string) (*client, *response) {
	t.Helper()
	c := a.client()
	c.t = t
	c.get("/login", header...)
	return c, c.postForm("/login", url.Values{"email": {m.Email}, "password": {password}}, header...)
}

// normalJSON is v as JSON reads it back: numbers float64, lists []any.
func normalJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantEvent is what one action should have recorded.
type wantEvent struct {
	action                        string
	actorKind, actor              string
	actorMemberID, actorTokenID   int64
	targetKind, target            string
	targetTokenID, targetMemberID int64
	clientIP, userAgent           string
	details                       any // as JSON reads it back
}

func (w wantEvent) check(t *testing.T, e store.AuditEvent) {
	t.Helper()
	got := wantEvent{
		action: e.Action, actorKind: e.ActorKind, actor: e.Actor, actorMemberID: e.ActorMemberID, actorTokenID: e.ActorTokenID,
		targetKind: e.TargetKind, target: e.Target, targetTokenID: e.TargetTokenID, targetMemberID: e.TargetMemberID,
		clientIP: e.ClientIP, userAgent: e.UserAgent,
	}
	if err := json.Unmarshal(e.Details, &got.details); err != nil {
		t.Fatalf("details %q are not JSON: %v", e.Details, err)
	}
	if w.details == nil {
		w.details = map[string]any{}
	}
	w.details = normalJSON(t, w.details)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("event\n got %+v\nwant %+v", got, w)
	}
}

// auditScene is an organization ready to act in: browsers signed in, an
// admin key, and a mark after which events are counted.
// aboutMember is what the member_id filter selects: events by the member
// or about them, or about one of their personal tokens.
func (s *auditScene) aboutMember(t *testing.T, e store.AuditEvent, memberID int64) bool {
	t.Helper()
	if e.TargetMemberID == memberID || e.ActorMemberID == memberID {
		return true
	}
	return e.TargetTokenID != 0 && s.token(e.TargetTokenID, s.owner).MemberID == memberID
}

type auditScene struct {
	*testApp
	ownerBrowser, memberBrowser *client
	adminTok                    store.Token
	adminKey                    string
	mark                        int64
}

func newAuditScene(t *testing.T) *auditScene {
	t.Helper()
	app := newAuditApp(t)
	s := &auditScene{testApp: app, ownerBrowser: app.signIn(app.owner), memberBrowser: app.signIn(app.member)}
	var key store.TokenText
	s.adminTok, key = app.createToken(app.owner, store.KindSystem, "audit-admin", store.RoleAdmin)
	s.adminKey = string(key)
	return s
}

// start marks where the action under test begins: after its setup.
func (s *auditScene) start(t *testing.T) {
	t.Helper()
	if err := s.db.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mark = s.lastAuditID(t)
}

func auditMemberLabel(m store.Member) string { return m.Name + " <" + m.Email + ">" }

func auditTokenLabel(tok store.Token) string { return tok.Hint() + " (" + tok.Name + ")" }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// TestEveryActionWritesOneEvent does each action of the product, on the
// page or the API, and finds exactly one new event, as the store has it,
// as the Audit Log page shows it and as the API gives it.
func TestEveryActionWritesOneEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s *auditScene) wantEvent
	}{
		{"token created on the page", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			if r := s.memberBrowser.postForm("/tokens/personal", url.Values{"name": {"page-made"}, "expires": {"30"}}, auditHeader...); r.StatusCode != http.StatusCreated {
				t.Fatalf("create: status %d", r.StatusCode)
			}
			tok := s.tokenNamed(t, "page-made")
			return wantEvent{action: store.ActionTokenCreated, actorKind: store.ActorMember, actor: auditMemberLabel(s.member), actorMemberID: s.member.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "personal", "name": "page-made", "expires_at": isoTime(tok.ExpiresAt)}}
		}},
		{"token created on the API", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			r := s.apiCall(t, http.MethodPost, "/api/v1/tokens", s.adminKey, "application/json",
				`{"kind":"system","name":"api-made","roles":["video"],"expires_in_days":30}`, auditHeader...)
			r.ok(t, http.StatusCreated, nil)
			tok := s.tokenNamed(t, "api-made")
			return wantEvent{action: store.ActionTokenCreated, actorKind: store.ActorToken, actor: auditTokenLabel(s.adminTok), actorTokenID: s.adminTok.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "system", "name": "api-made", "roles": []string{"video"}, "expires_at": isoTime(tok.ExpiresAt)}}
		}},
		{"token revoked on the page", func(t *testing.T, s *auditScene) wantEvent {
			tok, _ := s.createToken(s.member, store.KindPersonal, "to-revoke")
			s.start(t)
			if r := s.ownerBrowser.postForm(fmt.Sprintf("/tokens/%d/revoke", tok.ID), nil, auditHeader...); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("revoke: status %d", r.StatusCode)
			}
			return wantEvent{action: store.ActionTokenRevoked, actorKind: store.ActorMember, actor: auditMemberLabel(s.owner), actorMemberID: s.owner.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "personal", "reason": store.ReasonRevoked}}
		}},
		{"token revoked on the API", func(t *testing.T, s *auditScene) wantEvent {
			tok, _ := s.createToken(s.owner, store.KindSystem, "to-revoke", store.RoleVideo)
			s.start(t)
			s.apiCall(t, http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tok.ID), s.adminKey, "", "", auditHeader...).ok(t, http.StatusOK, nil)
			return wantEvent{action: store.ActionTokenRevoked, actorKind: store.ActorToken, actor: auditTokenLabel(s.adminTok), actorTokenID: s.adminTok.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "system", "reason": store.ReasonRevoked}}
		}},
		{"maximum lifetime changed on the page", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			if r := s.ownerBrowser.postForm("/tokens/settings", url.Values{"max_token_days": {"90"}}, auditHeader...); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("settings: status %d", r.StatusCode)
			}
			return wantEvent{action: store.ActionPolicyChanged, actorKind: store.ActorMember, actor: auditMemberLabel(s.owner), actorMemberID: s.owner.ID,
				targetKind: store.TargetOrg, target: "organization", clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"setting": "max_token_days", "from": nil, "to": 90}}
		}},
		{"retention changed on the page", func(t *testing.T, s *auditScene) wantEvent {
			s.ownerBrowser.get("/audit")
			s.start(t)
			r := s.ownerBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"90"}}, auditHeader...)
			if r.StatusCode != http.StatusSeeOther || r.location() != "/audit" {
				t.Fatalf("retention: status %d to %q", r.StatusCode, r.location())
			}
			page := s.ownerBrowser.get("/audit")
			if got := page.text("[data-testid=flash]"); !strings.Contains(got, "90 days") {
				t.Errorf("flash %q, want it to say 90 days", got)
			}
			if got := page.doc.Find("#audit_retention_days option[selected]").AttrOr("value", ""); got != "90" {
				t.Errorf("retention shown as %q, want 90", got)
			}
			return wantEvent{action: store.ActionPolicyChanged, actorKind: store.ActorMember, actor: auditMemberLabel(s.owner), actorMemberID: s.owner.ID,
				targetKind: store.TargetOrg, target: "organization", clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"setting": "audit_retention_days", "from": store.DefaultAuditRetentionDays, "to": 90}}
		}},
		{"sign-in succeeded", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			if _, r := s.signInVia(t, s.member2, testPassword, auditHeader...); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: status %d", r.StatusCode)
			}
			return wantEvent{action: store.ActionSignInSucceeded, actorKind: store.ActorMember, actor: auditMemberLabel(s.member2), actorMemberID: s.member2.ID,
				targetKind: store.TargetMember, target: auditMemberLabel(s.member2), targetMemberID: s.member2.ID, clientIP: auditIP, userAgent: auditUA}
		}},
		{"sign-in failed", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			if _, r := s.signInVia(t, s.member2, "not the password at all", auditHeader...); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("sign in: status %d", r.StatusCode)
			}
			return wantEvent{action: store.ActionSignInFailed, actorKind: store.ActorAnonymous, actor: "someone not signed in",
				targetKind: store.TargetMember, target: auditMemberLabel(s.member2), targetMemberID: s.member2.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"reason": "wrong password"}}
		}},
		{"revoked token presented", func(t *testing.T, s *auditScene) wantEvent {
			tok, key := s.createToken(s.member, store.KindPersonal, "left-behind")
			s.revokeInStore(t, s.owner, tok.ID)
			tok = s.token(tok.ID, s.owner)
			s.start(t)
			s.apiCall(t, http.MethodGet, "/api/v1/token", string(key), "", "", auditHeader...).refusal(t, http.StatusUnauthorized, "revoked_token")
			if err := s.db.FlushLastUsed(ctx); err != nil {
				t.Fatal(err)
			}
			// Written off the request path, with the request's address and
			// User-Agent.
			return wantEvent{action: store.ActionTokenPresentedRevoked, actorKind: store.ActorToken,
				actor: auditTokenLabel(tok) + " of " + auditMemberLabel(s.member), actorMemberID: s.member.ID, actorTokenID: tok.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "personal", "state": "revoked", "revoked_at": isoTime(tok.RevokedAt), "reason": store.ReasonRevoked}}
		}},
		{"expired token presented", func(t *testing.T, s *auditScene) wantEvent {
			exp := s.now.Add(24 * time.Hour).Truncate(time.Second)
			tok, key := s.createExpiring(t, s.owner, store.KindSystem, "lapsed", exp, store.RoleVideo)
			s.setNow(exp.Add(24 * time.Hour))
			s.start(t)
			s.apiCall(t, http.MethodGet, "/api/v1/token", string(key), "", "", auditHeader...).refusal(t, http.StatusUnauthorized, "expired_token")
			if err := s.db.FlushLastUsed(ctx); err != nil {
				t.Fatal(err)
			}
			return wantEvent{action: store.ActionTokenPresentedExpired, actorKind: store.ActorToken, actor: auditTokenLabel(tok), actorTokenID: tok.ID,
				targetKind: store.TargetToken, target: auditTokenLabel(tok), targetTokenID: tok.ID, clientIP: auditIP, userAgent: auditUA,
				details: map[string]any{"kind": "system", "state": "expired", "expired_at": isoTime(exp)}}
		}},
		{"password changed on the command line", func(t *testing.T, s *auditScene) wantEvent {
			s.start(t)
			if _, err := s.db.SetPassword(ctx, s.member.Email, "a brand new passphrase here"); err != nil {
				t.Fatal(err)
			}
			return wantEvent{action: store.ActionPasswordChanged, actorKind: store.ActorCLI, actor: "command line",
				targetKind: store.TargetMember, target: auditMemberLabel(s.member), targetMemberID: s.member.ID}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newAuditScene(t)
			want := tt.run(t, s)
			got := s.auditEventsAfter(t, s.owner, s.mark)
			if len(got) != 1 {
				t.Fatalf("%d new events, want exactly one: %+v", len(got), got)
			}
			e := got[0]
			want.check(t, e)
			if others := s.auditEventsAfter(t, s.otherOwner, s.mark); len(others) > 0 {
				t.Errorf("the other organization got events: %+v", others)
			}
			checkEventOnPage(t, s, e)
			checkEventOnAPI(t, s, e)
		})
	}
}

// checkEventOnPage finds e on the Audit Log page, filtered by its action,
// as the owner sees it.
func checkEventOnPage(t *testing.T, s *auditScene, e store.AuditEvent) {
	t.Helper()
	s.ownerBrowser.t = t
	if err := s.db.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.ownerBrowser.get("/audit?action=" + url.QueryEscape(e.Action))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("audit page: status %d", r.StatusCode)
	}
	row := r.doc.Find(fmt.Sprintf(`[data-testid=audit-row][data-event-id="%d"]`, e.ID))
	if row.Length() != 1 {
		t.Fatalf("the page does not list event %d", e.ID)
	}
	text := func(sel string) string { return strings.Join(strings.Fields(row.Find(sel).Text()), " ") }
	if got := text("[data-testid=event-action]"); got != store.ActionTitle(e.Action) {
		t.Errorf("action %q, want %q", got, store.ActionTitle(e.Action))
	}
	// The command line is named once, capitalized as its badge would be.
	if got := text("[data-testid=event-actor]"); !strings.Contains(strings.ToLower(got), strings.ToLower(e.Actor)) {
		t.Errorf("actor %q, want it to name %q", got, e.Actor)
	}
	if got := text("[data-testid=event-target]"); got != e.Target {
		t.Errorf("target %q, want %q", got, e.Target)
	}
	if got := text("[data-testid=event-client-ip]"); got != e.ClientIP {
		t.Errorf("client address %q, want %q", got, e.ClientIP)
	}
	if got := row.Find("[data-testid=event-user-agent] span").AttrOr("title", ""); got != e.UserAgent {
		t.Errorf("user agent %q, want %q", got, e.UserAgent)
	}
	if got := row.Find("[data-testid=event-time] time").AttrOr("datetime", ""); got != isoTime(e.At) {
		t.Errorf("time %q, want %q", got, isoTime(e.At))
	}
	wantHref := map[string]string{
		store.TargetToken:  fmt.Sprintf("/audit?token_id=%d", e.TargetTokenID),
		store.TargetMember: fmt.Sprintf("/audit?member_id=%d", e.TargetMemberID),
	}[e.TargetKind]
	if got := row.Find("[data-testid=event-target] a").AttrOr("href", ""); got != wantHref {
		t.Errorf("target links to %q, want %q", got, wantHref)
	}
	var details map[string]any
	json.Unmarshal(e.Details, &details)
	for k := range details {
		if got := text("[data-testid=event-details]"); !strings.Contains(got, strings.ReplaceAll(k, "_", " ")+":") {
			t.Errorf("details %q do not show %q", got, k)
		}
	}
}

// checkEventOnAPI finds e on GET /api/v1/audit-events.
func checkEventOnAPI(t *testing.T, s *auditScene, e store.AuditEvent) {
	t.Helper()
	var page wireAuditPage
	s.apiGet(t, "/api/v1/audit-events?action="+url.QueryEscape(e.Action), s.adminKey).ok(t, http.StatusOK, &page)
	for _, w := range page.Events {
		if w.ID != e.ID {
			continue
		}
		want := wireAuditEvent{
			ID: e.ID, Time: e.At.UTC(), Action: e.Action,
			Actor:    wireAuditParty{Kind: e.ActorKind, Label: e.Actor, MemberID: optInt(e.ActorMemberID), TokenID: optInt(e.ActorTokenID)},
			Target:   wireAuditParty{Kind: e.TargetKind, Label: e.Target, MemberID: optInt(e.TargetMemberID), TokenID: optInt(e.TargetTokenID)},
			ClientIP: e.ClientIP, UserAgent: e.UserAgent,
		}
		json.Unmarshal(e.Details, &want.Details)
		if want.Details == nil {
			want.Details = map[string]any{}
		}
		if !w.Time.Equal(want.Time) {
			t.Errorf("API time %v, want %v", w.Time, want.Time)
		}
		want.Time = w.Time
		if !reflect.DeepEqual(w, want) {
			t.Errorf("API event\n got %+v\nwant %+v", w, want)
		}
		return
	}
	t.Errorf("the API does not list event %d", e.ID)
}

func optInt(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// The API's audit events, pinned here rather than taken from the handler's
// types.
type wireAuditParty struct {
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	MemberID *int64 `json:"member_id"`
	TokenID  *int64 `json:"token_id"`
}

type wireAuditEvent struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Action    string         `json:"action"`
	Actor     wireAuditParty `json:"actor"`
	Target    wireAuditParty `json:"target"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	Details   map[string]any `json:"details"`
}

type wireAuditPage struct {
	Events     []wireAuditEvent `json:"events"`
	NextCursor *string          `json:"next_cursor"`
}

// TestFailedChangesWriteNoEvent: a change refused for validation, a
// conflict or a lack of right leaves the log as it was; so does a setting
// saved unchanged.
func TestFailedChangesWriteNoEvent(t *testing.T) {
	t.Parallel()
	s := newAuditScene(t)
	anaTok, _ := s.createToken(s.owner, store.KindPersonal, "ana-own")
	s.createToken(s.member, store.KindPersonal, "taken-name")
	_, maxKey := s.createToken(s.member, store.KindPersonal, "max-key")
	s.ownerBrowser.get("/audit")
	s.memberBrowser.get("/tokens")
	tests := []struct {
		name string
		do   func(t *testing.T) int
	}{
		{"page: empty name", func(t *testing.T) int {
			return s.memberBrowser.postForm("/tokens/personal", url.Values{"name": {""}, "expires": {"30"}}).StatusCode
		}},
		{"page: name taken", func(t *testing.T) int {
			return s.memberBrowser.postForm("/tokens/personal", url.Values{"name": {"taken-name"}, "expires": {"30"}}).StatusCode
		}},
		{"page: member makes a system token", func(t *testing.T) int {
			return s.memberBrowser.postForm("/tokens/system", url.Values{"name": {"x"}, "roles": {"video"}, "expires": {"30"}}).StatusCode
		}},
		{"page: member sets the token policy", func(t *testing.T) int {
			return s.memberBrowser.postForm("/tokens/settings", url.Values{"max_token_days": {"30"}}).StatusCode
		}},
		{"page: member sets the retention", func(t *testing.T) int {
			return s.memberBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"90"}}).StatusCode
		}},
		{"page: member revokes the owner's token", func(t *testing.T) int {
			return s.memberBrowser.postForm(fmt.Sprintf("/tokens/%d/revoke", anaTok.ID), nil).StatusCode
		}},
		{"page: retention not offered", func(t *testing.T) int {
			return s.ownerBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"30"}}).StatusCode
		}},
		{"page: retention twice", func(t *testing.T) int {
			return s.ownerBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"90", "0"}}).StatusCode
		}},
		{"page: lifetime not offered", func(t *testing.T) int {
			return s.ownerBrowser.postForm("/tokens/settings", url.Values{"max_token_days": {"5"}}).StatusCode
		}},
		{"page: retention saved unchanged", func(t *testing.T) int {
			if code := s.ownerBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"365"}}).StatusCode; code != http.StatusSeeOther {
				return code
			}
			return http.StatusNotModified // changed nothing, as it should
		}},
		{"sign-in with an unknown email", func(t *testing.T) int {
			_, r := s.signInVia(t, store.Member{Email: "nobody@acme.test"}, testPassword)
			return r.StatusCode
		}},
		{"API: owner role for a token", func(t *testing.T) int {
			return s.apiJSON(t, http.MethodPost, "/api/v1/tokens", s.adminKey, map[string]any{"kind": "system", "name": "x", "roles": []string{"owner"}}).status
		}},
		{"API: name taken", func(t *testing.T) int {
			return s.apiJSON(t, http.MethodPost, "/api/v1/tokens", s.adminKey, map[string]any{"kind": "system", "name": "audit-admin", "roles": []string{"video"}}).status
		}},
		{"API: member's key makes a system token", func(t *testing.T) int {
			return s.apiJSON(t, http.MethodPost, "/api/v1/tokens", string(maxKey), map[string]any{"kind": "system", "name": "x", "roles": []string{"video"}}).status
		}},
		{"API: member's key revokes the owner's token", func(t *testing.T) int {
			return s.apiCall(t, http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", anaTok.ID), string(maxKey), "", "").status
		}},
		{"API: revoke a token that does not exist", func(t *testing.T) int {
			return s.apiCall(t, http.MethodDelete, "/api/v1/tokens/999999", s.adminKey, "", "").status
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ownerBrowser.t, s.memberBrowser.t = t, t
			before := s.lastAuditID(t)
			if code := tt.do(t); code < 300 {
				t.Fatalf("status %d: the change was made", code)
			}
			if err := s.db.FlushLastUsed(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, o := range []store.Member{s.owner, s.otherOwner} {
				if got := s.auditEventsAfter(t, o, before); len(got) > 0 {
					t.Errorf("events written: %+v", got)
				}
			}
		})
	}
}

// TestPresentedDeadTokenCoalescedPerHour: a revoked key presented again and
// again makes one event an hour.
func TestPresentedDeadTokenCoalescedPerHour(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	ctx := context.Background()
	tok, key := app.createToken(app.member, store.KindPersonal, "left-behind")
	app.revokeInStore(t, app.owner, tok.ID)
	count := func() int {
		t.Helper()
		if err := app.db.FlushLastUsed(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range app.auditEvents(t, app.owner) {
			if e.Action == store.ActionTokenPresentedRevoked && e.TargetTokenID == tok.ID {
				n++
			}
		}
		return n
	}
	present := func() {
		t.Helper()
		app.apiCall(t, http.MethodGet, "/api/v1/tokens", string(key), "", "", auditHeader...).refusal(t, http.StatusUnauthorized, "revoked_token")
	}
	start := app.now
	present()
	present()
	if n := count(); n != 1 {
		t.Fatalf("twice at once: %d events, want 1", n)
	}
	app.setNow(start.Add(59 * time.Minute))
	present()
	if n := count(); n != 1 {
		t.Fatalf("again within the hour: %d events, want 1", n)
	}
	app.setNow(start.Add(61 * time.Minute))
	present()
	present()
	if n := count(); n != 2 {
		t.Fatalf("after the hour: %d events, want 2", n)
	}
}

// auditRowIDs are the event ids a page lists, in its order.
func auditRowIDs(r *response) []int64 {
	var ids []int64
	r.doc.Find("[data-testid=audit-row]").Each(func(_ int, s *goquery.Selection) {
		id, _ := strconv.ParseInt(s.AttrOr("data-event-id", ""), 10, 64)
		ids = append(ids, id)
	})
	return ids
}

func eventIDs(es []store.AuditEvent) []int64 {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// TestAuditFiltersRoundTripThroughTheURL: each filter narrows the page to
// exactly the events the store says match it, keeps its value in the form,
// shows itself with a link that drops it, and rides along on the exports.
func TestAuditFiltersRoundTripThroughTheURL(t *testing.T) {
	t.Parallel()
	s := newAuditScene(t)
	day1 := s.now
	tokA, _ := s.createToken(s.member, store.KindPersonal, "tok-a")
	sysB, _ := s.createToken(s.owner, store.KindSystem, "sys-b", store.RoleVideo)
	s.setNow(day1.AddDate(0, 0, 1))
	s.revokeInStore(t, s.owner, tokA.ID)
	s.createToken(s.member2, store.KindPersonal, "tok-c")
	s.apiJSON(t, http.MethodPost, "/api/v1/tokens", s.adminKey, map[string]any{"kind": "system", "name": "by-admin", "roles": []string{"viewer"}}).ok(t, http.StatusCreated, nil)
	s.setNow(day1.AddDate(0, 0, 2))
	if _, err := s.db.SetMaxTokenLifetime(context.Background(), s.owner, 90); err != nil {
		t.Fatal(err)
	}
	all := s.auditEvents(t, s.owner)
	dayStart := func(d int) time.Time { return time.Date(2026, 11, 26+d, 0, 0, 0, 0, time.UTC) }

	tests := []struct {
		query   string
		filters int
		match   func(e store.AuditEvent) bool
	}{
		{"action=token.revoked", 1, func(e store.AuditEvent) bool { return e.Action == store.ActionTokenRevoked }},
		{"actor_kind=token", 1, func(e store.AuditEvent) bool { return e.ActorKind == store.ActorToken }},
		{"actor_kind=cli", 1, func(e store.AuditEvent) bool { return e.ActorKind == store.ActorCLI }},
		{fmt.Sprintf("token_id=%d", tokA.ID), 1, func(e store.AuditEvent) bool { return e.TargetTokenID == tokA.ID || e.ActorTokenID == tokA.ID }},
		{fmt.Sprintf("token_id=%d", sysB.ID), 1, func(e store.AuditEvent) bool { return e.TargetTokenID == sysB.ID || e.ActorTokenID == sysB.ID }},
		{fmt.Sprintf("member_id=%d", s.member.ID), 1, func(e store.AuditEvent) bool { return s.aboutMember(t, e, s.member.ID) }},
		{fmt.Sprintf("actor_member_id=%d", s.owner.ID), 1, func(e store.AuditEvent) bool { return e.ActorMemberID == s.owner.ID }},
		{fmt.Sprintf("actor_token_id=%d", s.adminTok.ID), 1, func(e store.AuditEvent) bool { return e.ActorTokenID == s.adminTok.ID }},
		{"from=2026-11-27", 1, func(e store.AuditEvent) bool { return !e.At.Before(dayStart(1)) }},
		{"to=2026-11-27", 1, func(e store.AuditEvent) bool { return e.At.Before(dayStart(2)) }},
		{"from=2026-11-27&to=2026-11-27", 2, func(e store.AuditEvent) bool { return !e.At.Before(dayStart(1)) && e.At.Before(dayStart(2)) }},
		{"action=token.created&from=2026-11-27&actor_kind=member", 3, func(e store.AuditEvent) bool {
			return e.Action == store.ActionTokenCreated && !e.At.Before(dayStart(1)) && e.ActorKind == store.ActorMember
		}},
		// Empty fields, as the form sends them, filter nothing.
		{"action=token.revoked&actor_kind=&token_id=&member_id=&from=&to=", 1, func(e store.AuditEvent) bool { return e.Action == store.ActionTokenRevoked }},
	}
	c := s.ownerBrowser
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c.t = t
			var want []int64
			for _, e := range all {
				if tt.match(e) {
					want = append(want, e.ID)
				}
			}
			r := c.get("/audit?" + tt.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := auditRowIDs(r); !slices.Equal(got, want) {
				t.Errorf("lists %v, want %v", got, want)
			}
			if len(want) >= len(all) {
				t.Errorf("the filter does not narrow: %d of %d", len(want), len(all))
			}
			if len(want) == 0 && !r.has("[data-testid=empty]") {
				t.Error("no events and no word saying so")
			}
			q, _ := url.ParseQuery(tt.query)
			for k, vs := range q {
				if vs[0] == "" {
					continue
				}
				got := r.doc.Find("#"+k).AttrOr("value", "")
				if sel := r.doc.Find("#" + k); goquery.NodeName(sel) == "select" {
					got = sel.Find("option[selected]").AttrOr("value", "")
				}
				if got != vs[0] {
					t.Errorf("the form shows %s=%q, want %q", k, got, vs[0])
				}
			}
			if n := r.doc.Find("[data-testid=active-filter]").Length(); n != tt.filters {
				t.Errorf("%d active filters shown, want %d", n, tt.filters)
			}
			if got := r.doc.Find("[data-testid=clear-filters]").AttrOr("href", ""); got != "/audit" {
				t.Errorf("Clear filters links to %q", got)
			}
			for _, sel := range []string{"export-csv", "export-jsonl"} {
				href := r.doc.Find("[data-testid="+sel+"]").AttrOr("href", "")
				u, _ := url.Parse(href)
				eq := u.Query()
				eq.Del("format")
				for k, vs := range q {
					if vs[0] != "" && eq.Get(k) != vs[0] {
						t.Errorf("%s link %q drops %s", sel, href, k)
					}
				}
			}
			// Dropping one filter of several keeps the others.
			r.doc.Find("[data-testid=active-filter] a").Each(func(_ int, a *goquery.Selection) {
				u, _ := url.Parse(a.AttrOr("href", ""))
				if u.Path != "/audit" || len(u.Query()) != tt.filters-1 {
					t.Errorf("remove link %q", a.AttrOr("href", ""))
				}
			})
		})
	}
	t.Run("token filter names the token", func(t *testing.T) {
		c.t = t
		r := c.get(fmt.Sprintf("/audit?token_id=%d", sysB.ID))
		if got := r.text("[data-testid=active-filter]"); !strings.Contains(got, auditTokenLabel(sysB)) {
			t.Errorf("active filter %q does not name %q", got, auditTokenLabel(sysB))
		}
	})
}

// TestAuditPagingKeepsFilters: "Show older events" goes on with the same
// filters until every matching event has been listed once.
func TestAuditPagingKeepsFilters(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	for i := range 2*auditPageSize + 5 {
		tok, _ := app.createToken(app.member, store.KindPersonal, fmt.Sprintf("paged-%03d", i))
		if i%10 == 0 { // other events between, which the filter leaves out
			app.revokeInStore(t, app.owner, tok.ID)
		}
	}
	c := app.signIn(app.owner)
	var want []int64
	for _, e := range app.auditEvents(t, app.owner) {
		if e.Action == store.ActionTokenCreated {
			want = append(want, e.ID)
		}
	}
	var got []int64
	next, pages := "/audit?action=token.created", 0
	for next != "" {
		r := c.get(next)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", next, r.StatusCode)
		}
		ids := auditRowIDs(r)
		if len(ids) > auditPageSize {
			t.Fatalf("a page of %d events", len(ids))
		}
		got = append(got, ids...)
		pages++
		next = r.doc.Find("[data-testid=show-older]").AttrOr("href", "")
		if next != "" {
			u, _ := url.Parse(next)
			if u.Query().Get("action") != "token.created" || u.Query().Get("before") != strconv.FormatInt(ids[len(ids)-1], 10) {
				t.Errorf("Show older events links to %q", next)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages list %d events %v, want %d %v", len(got), got, len(want), want)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
}

// TestAuditFilterRefused: a filter that does not read is a 400 page that
// names the field, keeps what was typed and lists nothing.
func TestAuditFilterRefused(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	c := app.signIn(app.owner)
	tests := []struct{ query, field string }{
		{"action=token.exploded", "action"},
		{"actor_kind=robot", "actor_kind"},
		{"token_id=abc", "token_id"},
		{"token_id=012", "token_id"},
		{"token_id=0", "token_id"},
		{"member_id=-1", "member_id"},
		{"actor_token_id=1.5", "actor_token_id"},
		{"actor_member_id=99999999999999999999", "actor_member_id"},
		{"from=2026-13-01", "from"},
		{"to=26-11-2026", "to"},
		{"from=2026-11-28&to=2026-11-27", "to"},
		{"token_id=1&token_id=2", "token_id"},
		{"before=x", "before"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c.t = t
			r := c.get("/audit?" + tt.query)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.StatusCode)
			}
			if r.has("[data-testid=audit-row]") || r.has("[data-testid=export-csv]") {
				t.Error("events listed despite the bad filter")
			}
			if !strings.Contains(r.text("[data-testid=filter-error]"), tt.field) && r.text("[data-testid=error-"+tt.field+"]") == "" {
				t.Errorf("no word about %s: %q", tt.field, r.text("[data-testid=filter-error]"))
			}
			if tt.field != "before" && r.text("[data-testid=error-"+tt.field+"]") == "" {
				t.Errorf("no message beside %s", tt.field)
			}
			q, _ := url.ParseQuery(tt.query)
			if sel := r.doc.Find("input#" + tt.field); sel.Length() == 1 && sel.AttrOr("value", "") != q.Get(tt.field) {
				t.Errorf("the form lost what was typed: %q", sel.AttrOr("value", ""))
			}
			if e := c.get("/audit/export?format=csv&" + tt.query); e.StatusCode != http.StatusBadRequest {
				t.Errorf("export: status %d, want 400", e.StatusCode)
			}
		})
	}
	for _, q := range []string{"", "format=xlsx", "format=csv&format=jsonl"} {
		if r := c.get("/audit/export?" + q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("export?%s: status %d, want 400", q, r.StatusCode)
		}
	}
}

// TestTokenRowsLinkToTheirEvents: the owner's token lists link each token
// to its events; a member's do not.
func TestTokenRowsLinkToTheirEvents(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	tok, _ := app.createToken(app.member, store.KindPersonal, "linked")
	r := app.signIn(app.owner).get("/tokens")
	want := fmt.Sprintf("/audit?token_id=%d", tok.ID)
	if got := r.doc.Find(fmt.Sprintf(`[data-testid=user-tokens] [data-token-id="%d"] [data-testid=token-events]`, tok.ID)).AttrOr("href", ""); got != want {
		t.Errorf("Events links to %q, want %q", got, want)
	}
	if r := app.signIn(app.member).get("/tokens"); r.has("[data-testid=token-events]") {
		t.Error("a member's list links to the audit log")
	}
}

// TestAuditLogIsTheOwnersOwn: members are refused the page, the export and
// the retention; another organization's owner, on the page, the export and
// the API, sees none of this organization's events.
func TestAuditLogIsTheOwnersOwn(t *testing.T) {
	t.Parallel()
	s := newAuditScene(t)
	acmeTok, _ := s.createToken(s.member, store.KindPersonal, "acme-secret-name")
	s.revokeInStore(t, s.owner, acmeTok.ID)
	_, gusAdmin := s.createToken(s.otherOwner, store.KindSystem, "globex-admin", store.RoleAdmin)
	acme := s.auditEvents(t, s.owner)

	s.memberBrowser.get("/tokens")
	for _, path := range []string{"/audit", "/audit?token_id=1", "/audit/export?format=csv", "/audit/export?format=jsonl"} {
		r := s.memberBrowser.get(path)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "Only the organization owner can see the audit log.") {
			t.Errorf("member GET %s: status %d", path, r.StatusCode)
		}
	}
	if r := s.memberBrowser.postForm("/audit/retention", url.Values{"audit_retention_days": {"0"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("member POST /audit/retention: status %d", r.StatusCode)
	}
	if org, _ := s.db.Org(context.Background(), s.owner); org.AuditRetentionDays != store.DefaultAuditRetentionDays {
		t.Errorf("retention changed to %d", org.AuditRetentionDays)
	}

	gus := s.signIn(s.otherOwner)
	acmeWords := []string{"Acme", "acme.test", "acme-secret-name", "audit-admin"}
	for _, path := range []string{
		"/audit", fmt.Sprintf("/audit?token_id=%d", acmeTok.ID), fmt.Sprintf("/audit?member_id=%d", s.member.ID),
		"/audit/export?format=csv", "/audit/export?format=jsonl",
		fmt.Sprintf("/audit/export?format=csv&token_id=%d", acmeTok.ID),
	} {
		var r *response
		if export, ok := strings.CutPrefix(path, "/audit/export?"); ok {
			r = exportAs(t, gus, export)
		} else {
			r = gus.get(path)
		}
		if r.StatusCode != http.StatusOK {
			t.Fatalf("Gus GET %s: status %d", path, r.StatusCode)
		}
		for _, w := range acmeWords {
			if strings.Contains(r.body, w) {
				t.Errorf("Gus sees %q on %s", w, path)
			}
		}
		if r.doc == nil {
			continue // an export: its words are checked above
		}
		for _, id := range auditRowIDs(r) {
			if slices.Contains(eventIDs(acme), id) {
				t.Errorf("Gus's page lists Acme's event %d", id)
			}
		}
	}
	for _, q := range []string{"", fmt.Sprintf("?token_id=%d", acmeTok.ID), fmt.Sprintf("?member_id=%d", s.member.ID), "?limit=1000"} {
		var page wireAuditPage
		r := s.apiGet(t, "/api/v1/audit-events"+q, string(gusAdmin))
		r.ok(t, http.StatusOK, &page)
		for _, e := range page.Events {
			if slices.Contains(eventIDs(acme), e.ID) {
				t.Errorf("Gus's API lists Acme's event %d", e.ID)
			}
		}
		for _, w := range acmeWords {
			if strings.Contains(string(r.body), w) {
				t.Errorf("Gus's API shows %q", w)
			}
		}
	}
}

// TestAuditRetentionPrunes: events older than the organization keeps are
// removed, newer ones kept; forever keeps everything.
func TestAuditRetentionPrunes(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	ctx := context.Background()
	start := app.now
	ages := map[string]int{"aged-1000": 1000, "aged-400": 400, "aged-100": 100, "aged-10": 10}
	for _, name := range slices.Sorted(maps.Keys(ages)) {
		app.setNow(start.AddDate(0, 0, -ages[name]))
		app.createToken(app.member, store.KindPersonal, name)
		app.createToken(app.otherOwner, store.KindPersonal, name) // Globex keeps its own
	}
	app.setNow(start)
	kept := func(owner store.Member) []string {
		var names []string
		for _, e := range app.auditEvents(t, owner) {
			if e.Action == store.ActionTokenCreated {
				var d map[string]any
				json.Unmarshal(e.Details, &d)
				names = append(names, fmt.Sprint(d["name"]))
			}
		}
		slices.Sort(names)
		return names
	}
	prune := func() {
		t.Helper()
		if _, err := app.db.PruneAuditEvents(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := app.signIn(app.owner)
	setRetention := func(days string) {
		t.Helper()
		c.get("/audit")
		if r := c.postForm("/audit/retention", url.Values{"audit_retention_days": {days}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("retention %s: status %d", days, r.StatusCode)
		}
	}

	prune() // one year, the default
	if got := kept(app.owner); !slices.Equal(got, []string{"aged-10", "aged-100"}) {
		t.Errorf("after a year's pruning: %q", got)
	}
	setRetention("90")
	prune()
	if got := kept(app.owner); !slices.Equal(got, []string{"aged-10"}) {
		t.Errorf("after 90 days' pruning: %q", got)
	}
	if got := kept(app.otherOwner); !slices.Equal(got, []string{"aged-10", "aged-100"}) {
		t.Errorf("Globex, keeping a year, has %q", got)
	}

	setRetention("0")
	app.setNow(start.AddDate(-5, 0, 0))
	app.createToken(app.member, store.KindPersonal, "ancient")
	app.setNow(start)
	prune()
	if got := kept(app.owner); !slices.Equal(got, []string{"aged-10", "ancient"}) {
		t.Errorf("kept forever: %q", got)
	}
	if got := c.get("/audit").doc.Find("#audit_retention_days option[selected]").Text(); got != "Forever" {
		t.Errorf("retention shown as %q", got)
	}
}
