package store

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// fromBrowser is a request context as the web layer makes it.
var testClient = Client{Addr: "203.0.113.7", UserAgent: "Mozilla/5.0 (tokend test)"}

func fromBrowser() context.Context { return WithClient(context.Background(), testClient) }

// newEvents returns the events written after event id since, oldest first,
// read behind the store's back so no permission is needed.
func newEvents(t *testing.T, db *DB, since int64) []AuditEvent {
	t.Helper()
	rows, err := db.db.Query(`SELECT id, action, actor_kind, coalesce(actor_member_id, 0), coalesce(actor_token_id, 0), actor_label,
		target_kind, coalesce(target_token_id, 0), coalesce(target_member_id, 0), target_label, client_ip, user_agent, details, org_id
		FROM audit_events WHERE id > ? ORDER BY id`, since)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var es []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var details string
		var org int64
		if err := rows.Scan(&e.ID, &e.Action, &e.ActorKind, &e.ActorMemberID, &e.ActorTokenID, &e.Actor,
			&e.TargetKind, &e.TargetTokenID, &e.TargetMemberID, &e.Target, &e.ClientIP, &e.UserAgent, &details, &org); err != nil {
			t.Fatal(err)
		}
		e.Details = json.RawMessage(details)
		es = append(es, e)
	}
	return es
}

func lastEventID(t *testing.T, db *DB) int64 {
	t.Helper()
	var id int64
	if err := db.db.QueryRow(`SELECT coalesce(max(id), 0) FROM audit_events`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func details(t *testing.T, e AuditEvent) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(e.Details, &d); err != nil {
		t.Fatalf("details %s: %v", e.Details, err)
	}
	return d
}

// TestEveryActionWritesOneEvent: each change of the product, done through
// the store as the page, the API and the command line call it, writes
// exactly one event of its action, naming who did it, to what, from where,
// with its particulars.
func TestEveryActionWritesOneEvent(t *testing.T) {
	o := newTwoOrgs(t)
	db := o.db
	ctx := fromBrowser()
	// A token acting as admin on the API, made by Alice's personal token
	// once she is an admin.
	adminSys, adminText := addToken(t, db, o.owner, KindSystem, "ops", RoleAdmin)
	api := verify(t, db, adminText)
	personal, personalText := addToken(t, db, o.alice, KindPersonal, "laptop")
	_ = personalText

	type want struct {
		action, actorKind, actor, target string
		actorMember, actorToken          int64
		targetToken, targetMember        int64
		client                           bool
		details                          map[string]any
	}
	ownerLabel := "Name of owner@acme.test <owner@acme.test>"
	var invCode string
	var inv Invitation
	cases := []struct {
		name string
		do   func(t *testing.T) any
		want func(res any) want
	}{
		{"page: create personal token", func(t *testing.T) any {
			tok, _, err := db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "script", ExpiresAt: new(testStart.Add(48 * time.Hour))})
			must(t, err)
			return tok
		}, func(res any) want {
			tok := res.(Token)
			return want{action: ActionTokenCreated, actorKind: ActorMember, actor: "Name of alice@acme.test <alice@acme.test>", actorMember: o.alice.ID,
				target: tok.Hint() + " (script)", targetToken: tok.ID, client: true,
				details: map[string]any{"kind": "personal", "name": "script", "expires_at": "2025-03-16T09:26:53Z"}}
		}},
		{"api: create system token", func(t *testing.T) any {
			tok, _, err := db.CreateToken(ctx, api, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleVideo, RoleViewer}})
			must(t, err)
			return tok
		}, func(res any) want {
			tok := res.(Token)
			return want{action: ActionTokenCreated, actorKind: ActorToken, actor: adminSys.Hint() + " (ops)", actorToken: adminSys.ID,
				target: tok.Hint() + " (deploy)", targetToken: tok.ID, client: true,
				details: map[string]any{"kind": "system", "name": "deploy", "roles": []any{"video", "viewer"}, "expires_at": nil}}
		}},
		{"page: owner revokes a member's token", func(t *testing.T) any {
			_, _, err := db.RevokeToken(ctx, o.owner, personal.ID)
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionTokenRevoked, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID,
				target: personal.Hint() + " (laptop)", targetToken: personal.ID, client: true,
				details: map[string]any{"reason": "revoked", "kind": "personal"}}
		}},
		{"page: maximum lifetime", func(t *testing.T) any {
			_, err := db.SetMaxTokenLifetime(ctx, o.owner, 90)
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionPolicyChanged, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID, target: "organization", client: true,
				details: map[string]any{"setting": "max_token_days", "from": nil, "to": float64(90)}}
		}},
		{"api: audit retention", func(t *testing.T) any {
			_, err := db.SetAuditRetention(ctx, api, 0)
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionPolicyChanged, actorKind: ActorToken, actor: adminSys.Hint() + " (ops)", actorToken: adminSys.ID, target: "organization", client: true,
				details: map[string]any{"setting": "audit_retention_days", "from": float64(365), "to": nil}}
		}},
		{"page: invite", func(t *testing.T) any {
			var err error
			inv, invCode, err = db.InviteMember(ctx, o.owner, NewInvitation{Email: "dana@acme.test", Name: "Dana", Roles: []Role{RoleSupport}})
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionMemberInvited, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID,
				target: "Dana <dana@acme.test>", client: true,
				details: map[string]any{"invitation_id": float64(inv.ID), "email": "dana@acme.test", "name": "Dana", "roles": []any{"support"},
					"expires_at": o.clock.Now().Add(InvitationLifetime).Format(time.RFC3339)}}
		}},
		{"invitee joins", func(t *testing.T) any {
			m, err := db.AcceptInvitation(ctx, invCode, "Dana D.", testPassword)
			must(t, err)
			return m
		}, func(res any) want {
			m := res.(Member)
			return want{action: ActionMemberJoined, actorKind: ActorMember, actor: "Dana D. <dana@acme.test>", actorMember: m.ID,
				target: "Dana D. <dana@acme.test>", targetMember: m.ID, client: true,
				details: map[string]any{"roles": []any{"support"}, "invitation_id": float64(inv.ID), "invited_by": "Name of owner@acme.test"}}
		}},
		{"page: withdraw an invitation", func(t *testing.T) any {
			var err error
			inv, _, err = db.InviteMember(ctx, o.owner, NewInvitation{Email: "erin@acme.test", Name: "Erin", Roles: []Role{RoleViewer}})
			must(t, err)
			from := lastEventID(t, db)
			_, err = db.WithdrawInvitation(ctx, o.owner, inv.ID)
			must(t, err)
			return from
		}, func(any) want {
			return want{action: ActionInvitationWithdrawn, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID,
				target: "Erin <erin@acme.test>", client: true, details: map[string]any{"invitation_id": float64(inv.ID), "email": "erin@acme.test"}}
		}},
		{"page: roles changed", func(t *testing.T) any {
			_, err := db.SetMemberRoles(ctx, o.owner, o.bob.ID, []Role{RoleVideo})
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionMemberRolesChanged, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID,
				target: "Name of bob@acme.test <bob@acme.test>", targetMember: o.bob.ID, client: true,
				details: map[string]any{"from": []any{"viewer", "billing"}, "to": []any{"video"}}}
		}},
		{"page: member removed", func(t *testing.T) any {
			_, n, err := db.RemoveMemberByID(ctx, o.owner, o.bob.ID)
			must(t, err)
			if n != 0 {
				t.Fatalf("revoked %d tokens of a member with none", n)
			}
			return nil
		}, func(any) want {
			return want{action: ActionMemberRemoved, actorKind: ActorMember, actor: ownerLabel, actorMember: o.owner.ID,
				target: "Name of bob@acme.test <bob@acme.test>", targetMember: o.bob.ID, client: true,
				details: map[string]any{"revoked_tokens": float64(0)}}
		}},
		{"sign-in succeeded", func(t *testing.T) any {
			_, err := db.CreateSession(ctx, o.alice.ID)
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionSignInSucceeded, actorKind: ActorMember, actor: "Name of alice@acme.test <alice@acme.test>", actorMember: o.alice.ID,
				target: "Name of alice@acme.test <alice@acme.test>", targetMember: o.alice.ID, client: true}
		}},
		{"sign-in failed", func(t *testing.T) any {
			_, err := db.Authenticate(ctx, "alice@acme.test", "wrong password here")
			wantError(t, err, EFORBIDDEN, "")
			return nil
		}, func(any) want {
			return want{action: ActionSignInFailed, actorKind: ActorAnonymous, actor: "someone not signed in",
				target: "Name of alice@acme.test <alice@acme.test>", targetMember: o.alice.ID, client: true,
				details: map[string]any{"reason": "wrong password"}}
		}},
		{"cli: password changed", func(t *testing.T) any {
			_, err := db.SetPassword(context.Background(), "alice@acme.test", "a new password here")
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionPasswordChanged, actorKind: ActorCLI, actor: "command line",
				target: "Name of alice@acme.test <alice@acme.test>", targetMember: o.alice.ID}
		}},
		{"cli: member added", func(t *testing.T) any {
			return addMember(t, db, "Acme", "fay@acme.test", RoleViewer)
		}, func(res any) want {
			m := res.(Member)
			return want{action: ActionMemberAdded, actorKind: ActorCLI, actor: "command line",
				target: "Name of fay@acme.test <fay@acme.test>", targetMember: m.ID, details: map[string]any{"roles": []any{"viewer"}}}
		}},
		{"cli: member removed", func(t *testing.T) any {
			_, err := db.RemoveMember(context.Background(), "fay@acme.test")
			must(t, err)
			return nil
		}, func(any) want {
			return want{action: ActionMemberRemoved, actorKind: ActorCLI, actor: "command line",
				target: "Name of fay@acme.test <fay@acme.test>", targetMember: 0, details: map[string]any{"revoked_tokens": float64(0)}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o.clock.Advance(time.Second)
			from := lastEventID(t, db)
			res := c.do(t)
			if f, ok := res.(int64); ok {
				from = f
			}
			w := c.want(res)
			es := newEvents(t, db, from)
			if len(es) != 1 {
				t.Fatalf("%d events written, want 1: %+v", len(es), es)
			}
			e := es[0]
			if e.Action != w.action || e.ActorKind != w.actorKind || e.Actor != w.actor || e.Target != w.target {
				t.Errorf("event = %s by %s %q on %q, want %s by %s %q on %q", e.Action, e.ActorKind, e.Actor, e.Target, w.action, w.actorKind, w.actor, w.target)
			}
			if w.actorMember != 0 && e.ActorMemberID != w.actorMember || w.actorToken != e.ActorTokenID || e.TargetTokenID != w.targetToken {
				t.Errorf("ids: actor member %d token %d, target token %d; want %d %d %d", e.ActorMemberID, e.ActorTokenID, e.TargetTokenID, w.actorMember, w.actorToken, w.targetToken)
			}
			if w.targetMember != 0 && e.TargetMemberID != w.targetMember {
				t.Errorf("target member %d, want %d", e.TargetMemberID, w.targetMember)
			}
			wantClient := Client{}
			if w.client {
				wantClient = testClient
			}
			if (Client{e.ClientIP, e.UserAgent}) != wantClient {
				t.Errorf("client = %q %q, want %+v", e.ClientIP, e.UserAgent, wantClient)
			}
			if w.details == nil {
				w.details = map[string]any{}
			}
			got := details(t, e)
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(w.details)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("details = %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

// TestRemovingAMemberRecordsEachTokenRevoked: the removal is one event, and
// each personal token it revoked gets its own, so a token's history says
// why it stopped.
func TestRemovingAMemberRecordsEachTokenRevoked(t *testing.T) {
	o := newTwoOrgs(t)
	a, _ := addToken(t, o.db, o.alice, KindPersonal, "a")
	b, _ := addToken(t, o.db, o.alice, KindPersonal, "b")
	from := lastEventID(t, o.db)
	if _, n, err := o.db.RemoveMemberByID(fromBrowser(), o.owner, o.alice.ID); err != nil || n != 2 {
		t.Fatalf("RemoveMemberByID = %d, %v; want 2 revoked", n, err)
	}
	es := newEvents(t, o.db, from)
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.Target)
		if e.ActorMemberID != o.owner.ID {
			t.Errorf("%s by member %d, want the owner", e.Action, e.ActorMemberID)
		}
	}
	want := []string{"member.removed Name of alice@acme.test <alice@acme.test>", "token.revoked " + a.Hint() + " (a)", "token.revoked " + b.Hint() + " (b)"}
	if !slices.Equal(got, want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	if d := details(t, es[1]); d["reason"] != ReasonMemberLeft {
		t.Errorf("reason = %v, want member_left", d["reason"])
	}
}

// TestFailedChangesWriteNoEvent: a change refused (invalid, conflict,
// forbidden, not found) leaves the log as it was.
func TestFailedChangesWriteNoEvent(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := fromBrowser()
	tok, _ := addToken(t, o.db, o.alice, KindPersonal, "taken")
	failures := map[string]func() error{
		"invalid name": func() error {
			_, _, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: " "})
			return err
		},
		"name taken": func() error {
			_, _, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "TAKEN"})
			return err
		},
		"member makes a system token": func() error {
			_, _, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindSystem, Name: "x", Roles: []Role{RoleVideo}})
			return err
		},
		"another org revokes": func() error { _, _, err := o.db.RevokeToken(ctx, o.owner2, tok.ID); return err },
		"member sets policy":  func() error { _, err := o.db.SetMaxTokenLifetime(ctx, o.alice, 7); return err },
		"bad retention":       func() error { _, err := o.db.SetAuditRetention(ctx, o.owner, 30); return err },
		"member invites": func() error {
			_, _, err := o.db.InviteMember(ctx, o.alice, NewInvitation{Email: "x@acme.test", Name: "X", Roles: []Role{RoleViewer}})
			return err
		},
		"invite a member": func() error {
			_, _, err := o.db.InviteMember(ctx, o.owner, NewInvitation{Email: "ALICE@acme.test", Name: "A", Roles: []Role{RoleViewer}})
			return err
		},
		"invite without roles": func() error {
			_, _, err := o.db.InviteMember(ctx, o.owner, NewInvitation{Email: "x@acme.test", Name: "X"})
			return err
		},
		"owner role":         func() error { _, err := o.db.SetMemberRoles(ctx, o.owner, o.alice.ID, []Role{RoleOwner}); return err },
		"no roles":           func() error { _, err := o.db.SetMemberRoles(ctx, o.owner, o.alice.ID, nil); return err },
		"other org's member": func() error { _, err := o.db.SetMemberRoles(ctx, o.owner2, o.alice.ID, []Role{RoleVideo}); return err },
		"remove the owner":   func() error { _, _, err := o.db.RemoveMemberByID(ctx, o.owner, o.owner.ID); return err },
		"member removes":     func() error { _, _, err := o.db.RemoveMemberByID(ctx, o.alice, o.bob.ID); return err },
		"unknown invitation": func() error {
			_, err := o.db.AcceptInvitation(ctx, strings.Repeat("a", 32), "X", testPassword)
			return err
		},
		"unknown sign-in":      func() error { _, err := o.db.Authenticate(ctx, "nobody@acme.test", testPassword); return err },
		"api token roles only": func() error { _, err := o.db.ListMembers(ctx, o.alice, MemberFilter{}); return err },
	}
	for name, f := range failures {
		t.Run(name, func(t *testing.T) {
			from := lastEventID(t, o.db)
			if err := f(); err == nil {
				t.Fatal("the change was not refused")
			}
			if es := newEvents(t, o.db, from); len(es) != 0 {
				t.Fatalf("a refused change wrote %d events: %+v", len(es), es)
			}
		})
	}
}

// TestNoChangeWithoutItsEvent: when the event cannot be written, the
// change is not made either; one transaction holds both.
func TestNoChangeWithoutItsEvent(t *testing.T) {
	o := newTwoOrgs(t)
	tok, text := addToken(t, o.db, o.alice, KindPersonal, "kept")
	tokens := countRows(t, o.db, "tokens")
	if _, err := o.db.w.Exec(`ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.db.CreateToken(fromBrowser(), o.alice, NewToken{Kind: KindPersonal, Name: "new"}); err == nil {
		t.Fatal("CreateToken succeeded without its event")
	}
	if _, _, err := o.db.RevokeToken(fromBrowser(), o.alice, tok.ID); err == nil {
		t.Fatal("RevokeToken succeeded without its event")
	}
	if _, err := o.db.SetMemberRoles(fromBrowser(), o.owner, o.bob.ID, []Role{RoleSupport}); err == nil {
		t.Fatal("SetMemberRoles succeeded without its event")
	}
	if n := countRows(t, o.db, "tokens"); n != tokens {
		t.Fatalf("tokens: %d, want %d", n, tokens)
	}
	verify(t, o.db, text) // still works: the revoke rolled back
	m, err := findMember(context.Background(), o.db.db, `m.id = ?`, o.bob.ID)
	must(t, err)
	if !slices.Equal(m.Roles, o.bob.Roles) {
		t.Fatalf("roles changed to %v without an event", m.Roles)
	}
}

// TestPresentedDeadTokens: a revoked or expired token still presented is
// recorded at most once an hour per token, off the check, with the
// address it came from.
func TestPresentedDeadTokens(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	revoked, revokedText := addToken(t, o.db, o.alice, KindPersonal, "old laptop")
	revoke(t, o.db, o.alice, revoked.ID)
	exp := testStart.Add(time.Hour)
	expiring, expiringText, err := o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "ci", Roles: []Role{RoleViewer}, ExpiresAt: &exp})
	must(t, err)
	o.clock.Advance(2 * time.Hour)

	from := lastEventID(t, o.db)
	for range 3 {
		if _, err := o.db.VerifyWith(ctx, string(revokedText), "198.51.100.9", VerifyOptions{Record: true, Load: true, UserAgent: "LeftBehind/3.1"}); err != ErrTokenRevoked {
			t.Fatalf("revoked: %v", err)
		}
		if _, err := o.db.Verify(ctx, string(expiringText), "198.51.100.10"); err != ErrTokenExpired {
			t.Fatalf("expired: %v", err)
		}
	}
	if es := newEvents(t, o.db, from); len(es) != 0 {
		t.Fatalf("%d events written on the check's path", len(es))
	}
	must(t, o.db.FlushLastUsed(ctx))
	es := newEvents(t, o.db, from)
	got := map[string]AuditEvent{}
	for _, e := range es {
		got[e.Action] = e
	}
	if len(es) != 2 || got[ActionTokenPresentedRevoked].TargetTokenID != revoked.ID || got[ActionTokenPresentedExpired].TargetTokenID != expiring.ID {
		t.Fatalf("events = %+v, want one revoked and one expired presentation", es)
	}
	if e := got[ActionTokenPresentedRevoked]; e.ClientIP != "198.51.100.9" || e.UserAgent != "LeftBehind/3.1" || e.ActorTokenID != revoked.ID || !strings.Contains(e.Actor, "alice@acme.test") {
		t.Errorf("revoked presentation = %+v", e)
	}

	// Within the hour, again and from another process: nothing new.
	other := openAgain(t, o.db, o.clock)
	o.clock.Advance(30 * time.Minute)
	from = lastEventID(t, o.db)
	for _, db := range []*DB{o.db, other} {
		db.Verify(ctx, string(revokedText), "198.51.100.9")
		must(t, db.FlushLastUsed(ctx))
	}
	if es := newEvents(t, o.db, from); len(es) != 0 {
		t.Fatalf("within the hour: %d more events", len(es))
	}
	// An hour after the first: one more.
	o.clock.Advance(31 * time.Minute)
	o.db.Verify(ctx, string(revokedText), "198.51.100.9")
	must(t, o.db.FlushLastUsed(ctx))
	if es := newEvents(t, o.db, from); len(es) != 1 {
		t.Fatalf("after the hour: %d events, want 1", len(es))
	}
}

// TestAuditEventsFilters: the log is the owner's (or an admin token's),
// newest first, paged, each filter narrowing it, and another
// organization's never in it.
func TestAuditEventsFilters(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := fromBrowser()
	a, _ := addToken(t, o.db, o.alice, KindPersonal, "a")
	o.clock.Advance(24 * time.Hour)
	b, _ := addToken(t, o.db, o.owner, KindSystem, "b", RoleVideo)
	revoke(t, o.db, o.owner, a.ID)
	addToken(t, o.db, o.owner2, KindPersonal, "theirs")
	_, err := o.db.SetMemberRoles(ctx, o.owner, o.alice.ID, []Role{RoleViewer})
	must(t, err)

	list := func(f AuditFilter) []string {
		t.Helper()
		es, err := o.db.AuditEvents(context.Background(), o.owner, f)
		must(t, err)
		var s []string
		for _, e := range es {
			s = append(s, e.Action+" "+e.Target)
		}
		return s
	}
	all := list(AuditFilter{})
	for _, s := range all {
		if strings.Contains(s, "theirs") || strings.Contains(s, "other.test") {
			t.Errorf("another organization's event: %s", s)
		}
	}
	aLabel, bLabel := a.Hint()+" (a)", b.Hint()+" (b)"
	if want := "member.roles_changed Name of alice@acme.test <alice@acme.test>"; all[0] != want {
		t.Errorf("newest = %q, want %q", all[0], want)
	}
	check := func(name string, f AuditFilter, want ...string) {
		t.Helper()
		if got := list(f); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	check("action", AuditFilter{Action: ActionTokenRevoked}, "token.revoked "+aLabel)
	check("token", AuditFilter{TokenID: a.ID}, "token.revoked "+aLabel, "token.created "+aLabel)
	check("member", AuditFilter{MemberID: o.alice.ID, Action: ActionTokenCreated}, "token.created "+aLabel)
	check("actor", AuditFilter{ActorMemberID: o.owner.ID, Action: ActionTokenCreated}, "token.created "+bLabel)
	check("since", AuditFilter{Since: testStart.Add(time.Hour), Action: ActionTokenCreated}, "token.created "+bLabel)
	check("until", AuditFilter{Until: testStart.Add(time.Hour), Action: ActionTokenCreated}, "token.created "+aLabel)
	check("cli", AuditFilter{ActorKind: ActorCLI, MemberID: o.alice.ID}, "member.added Name of alice@acme.test <alice@acme.test>")

	// Paging: two at a time, in order, nothing lost or repeated.
	var paged []string
	var before int64
	for {
		es, err := o.db.AuditEvents(context.Background(), o.owner, AuditFilter{BeforeID: before, Limit: 2})
		must(t, err)
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			paged = append(paged, e.Action+" "+e.Target)
		}
		before = es[len(es)-1].ID
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged = %q, want %q", paged, all)
	}

	// Who may read it.
	if _, err := o.db.AuditEvents(ctx, o.alice, AuditFilter{}); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member reads the log: %v", err)
	}
	_, adminText := addToken(t, o.db, o.owner, KindSystem, "auditor", RoleAdmin)
	if es, err := o.db.AuditEvents(ctx, verify(t, o.db, adminText), AuditFilter{}); err != nil || len(es) == 0 {
		t.Errorf("an admin token reads the log: %d, %v", len(es), err)
	}
	theirs, err := o.db.AuditEvents(ctx, o.owner2, AuditFilter{TokenID: a.ID})
	if err != nil || len(theirs) != 0 {
		t.Errorf("another owner filtering by our token: %d events, %v", len(theirs), err)
	}
	for _, f := range []AuditFilter{{Action: "token.exploded"}, {ActorKind: "robot"}, {Since: testStart, Until: testStart}, {Limit: MaxAuditPage + 1}} {
		if _, err := o.db.AuditEvents(ctx, o.owner, f); ErrorCode(err) != EINVALID {
			t.Errorf("filter %+v: %v, want invalid", f, err)
		}
	}
}

// TestAuditRetention: events older than the organization keeps are
// pruned; forever keeps them all; each organization by its own setting.
func TestAuditRetention(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := fromBrowser()
	org, err := o.db.Org(ctx, o.owner)
	must(t, err)
	if org.AuditRetentionDays != DefaultAuditRetentionDays {
		t.Fatalf("default retention = %d, want %d", org.AuditRetentionDays, DefaultAuditRetentionDays)
	}
	_, err = o.db.SetAuditRetention(ctx, o.owner, 90)
	must(t, err)
	_, err = o.db.SetAuditRetention(ctx, o.owner2, 0)
	must(t, err)
	count := func(m Member) int {
		es, err := o.db.AuditEvents(context.Background(), m, AuditFilter{Limit: MaxAuditPage})
		must(t, err)
		return len(es)
	}
	acme, other := count(o.owner), count(o.owner2)

	o.clock.Advance(90*24*time.Hour - time.Second)
	if n, err := o.db.PruneAuditEvents(context.Background()); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) a second before 90 days", n, err)
	}
	o.clock.Advance(2 * time.Second)
	n, err := o.db.PruneAuditEvents(context.Background())
	must(t, err)
	if n != int64(acme) || count(o.owner) != 0 {
		t.Fatalf("pruned %d of Acme's %d events; %d left", n, acme, count(o.owner))
	}
	o.clock.Advance(10 * 365 * 24 * time.Hour)
	must2(o.db.PruneAuditEvents(context.Background()))
	if count(o.owner2) != other {
		t.Fatalf("forever: %d of %d events left", count(o.owner2), other)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestUserAgentKeptWithoutKeys: what an event keeps of a User-Agent never
// holds a key, whatever the caller passed.
func TestUserAgentKeptWithoutKeys(t *testing.T) {
	key := string(newTokenText(KindSystem))
	for in, want := range map[string]string{
		"curl/8.5.0":                   "curl/8.5.0",
		"bot " + key + " v1":           "bot tks_REDACTED v1",
		"x\x00y\u202ez":                "xyz",
		strings.Repeat("é", 200):       strings.Repeat("é", 128),
		"Mozilla/5.0 (X11; Linux x86)": "Mozilla/5.0 (X11; Linux x86)",
	} {
		if got := cleanUserAgent(in); got != want {
			t.Errorf("cleanUserAgent(%q) = %q, want %q", in, got, want)
		}
	}
}
