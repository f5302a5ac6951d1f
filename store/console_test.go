package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// invite makes an invitation or fails the test.
func invite(t *testing.T, db *DB, owner Member, email string, roles ...Role) (Invitation, string) {
	t.Helper()
	inv, code, err := db.InviteMember(fromBrowser(), owner, NewInvitation{Email: email, Name: "Invitee " + email, Roles: roles})
	if err != nil {
		t.Fatalf("InviteMember(%s): %v", email, err)
	}
	return inv, code
}

// TestInvitationIsSingleUse: a link makes one member; a second use, even
// racing the first, is refused; only its digest is stored.
func TestInvitationIsSingleUse(t *testing.T) {
	o := newTwoOrgs(t)
	inv, code := invite(t, o.db, o.owner, "dana@acme.test", RoleVideo, RoleSupport)
	if len(code) != 32 {
		t.Fatalf("code %q: want 32 characters", code)
	}
	var stored int
	digest := DigestOf(code)
	must(t, o.db.db.QueryRow(`SELECT count(*) FROM invitations WHERE email = ? AND digest = ?`, "dana@acme.test", digest[:]).Scan(&stored))
	if stored != 1 {
		t.Fatal("the invitation is not stored by its code's digest")
	}
	got, err := o.db.InvitationByCode(context.Background(), code)
	if err != nil || got.ID != inv.ID || got.OrgName != "Acme" || got.InvitedByName != "Name of owner@acme.test" {
		t.Fatalf("InvitationByCode = %+v, %v", got, err)
	}
	m, err := o.db.AcceptInvitation(fromBrowser(), code, "  Dana  ", testPassword)
	must(t, err)
	if m.OrgID != o.owner.OrgID || m.Name != "Dana" || !slices.Equal(m.Roles, []Role{RoleVideo, RoleSupport}) {
		t.Fatalf("joined as %+v", m)
	}
	if _, err := o.db.Authenticate(context.Background(), "dana@acme.test", testPassword); err != nil {
		t.Fatalf("the new member cannot sign in: %v", err)
	}
	for _, c := range []string{code, strings.ToUpper(code), code[:31], code + "a", ""} {
		if _, err := o.db.AcceptInvitation(context.Background(), c, "Mallory", testPassword); err != ErrInvitationInvalid {
			t.Errorf("accept %q again: %v, want the link refused", c, err)
		}
	}
	if n := countRows(t, o.db, "members"); n != 6 {
		t.Fatalf("members = %d, want 6", n)
	}
}

// TestInvitationExpiresAtItsBoundary: a link works until the second seven
// days after it was made, and not from that second on.
func TestInvitationExpiresAtItsBoundary(t *testing.T) {
	o := newTwoOrgs(t)
	_, first := invite(t, o.db, o.owner, "dana@acme.test", RoleVideo)
	_, second := invite(t, o.db, o.owner, "erin@acme.test", RoleVideo)
	o.clock.Advance(InvitationLifetime - time.Second)
	if _, err := o.db.AcceptInvitation(context.Background(), first, "Dana", testPassword); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	o.clock.Advance(time.Second)
	if _, err := o.db.AcceptInvitation(context.Background(), second, "Erin", testPassword); err != ErrInvitationInvalid {
		t.Fatalf("at expiry: %v, want refused", err)
	}
	// Expired, it is no longer pending, and the email may be invited anew.
	pending, err := o.db.PendingInvitations(context.Background(), o.owner)
	must(t, err)
	if len(pending) != 0 {
		t.Fatalf("pending = %+v", pending)
	}
	invite(t, o.db, o.owner, "erin@acme.test", RoleVideo)
}

// TestWithdrawnInvitation: a withdrawn link is refused; withdrawing is the
// owner's, of their own organization, once.
func TestWithdrawnInvitation(t *testing.T) {
	o := newTwoOrgs(t)
	inv, code := invite(t, o.db, o.owner, "dana@acme.test", RoleVideo)
	if _, err := o.db.WithdrawInvitation(fromBrowser(), o.owner2, inv.ID); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("another org's owner withdraws: %v", err)
	}
	if _, err := o.db.WithdrawInvitation(fromBrowser(), o.alice, inv.ID); ErrorCode(err) != EFORBIDDEN {
		t.Fatalf("a member withdraws: %v", err)
	}
	_, err := o.db.WithdrawInvitation(fromBrowser(), o.owner, inv.ID)
	must(t, err)
	if _, err := o.db.WithdrawInvitation(fromBrowser(), o.owner, inv.ID); ErrorCode(err) != ECONFLICT {
		t.Fatalf("withdrawn twice: %v", err)
	}
	if _, err := o.db.AcceptInvitation(context.Background(), code, "Dana", testPassword); err != ErrInvitationInvalid {
		t.Fatalf("withdrawn link accepted: %v", err)
	}
}

// TestInviteRefusals: who is already in, or already invited, is refused
// with a message that names no other organization.
func TestInviteRefusals(t *testing.T) {
	o := newTwoOrgs(t)
	invite(t, o.db, o.owner, "dana@acme.test", RoleVideo)
	cases := []struct {
		email, msg string
	}{
		{"Alice@ACME.test", "is already a member of this organization"},
		{"DANA@acme.test", "already has a pending invitation"},
	}
	for _, c := range cases {
		_, _, err := o.db.InviteMember(fromBrowser(), o.owner, NewInvitation{Email: c.email, Name: "X", Roles: []Role{RoleVideo}})
		wantError(t, err, ECONFLICT, "email")
		if msg := ErrorMessage(err); !strings.Contains(msg, c.msg) || strings.Contains(msg, "Other") {
			t.Errorf("%s: %q, want it to say %q", c.email, msg, c.msg)
		}
	}
	// Someone of another organization is not refused, which would tell
	// this owner they exist; their link is, when they open it.
	_, code := invite(t, o.db, o.owner, "carol@other.test", RoleVideo)
	if _, err := o.db.AcceptInvitation(context.Background(), code, "Carol", testPassword); ErrorCode(err) != ECONFLICT {
		t.Errorf("accepting with another organization's email: %v", err)
	}

	// Every field's problem at once, for the form.
	errs := NewInvitation{Email: "nope", Name: "\u200b", Roles: []Role{RoleOwner}}.Problems()
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if !slices.Equal(fields, []string{"name", "email", "roles"}) {
		t.Errorf("problems on %q, want name, email, roles", fields)
	}
}

// TestFormerMemberInvitedAgainStartsClean: someone who left can be invited
// back; they come back as a new member with no tokens, and the old record
// stays with its revoked tokens.
func TestFormerMemberInvitedAgainStartsClean(t *testing.T) {
	o := newTwoOrgs(t)
	old, _ := addToken(t, o.db, o.alice, KindPersonal, "old")
	_, _, err := o.db.RemoveMemberByID(fromBrowser(), o.owner, o.alice.ID)
	must(t, err)
	_, code := invite(t, o.db, o.owner, "alice@acme.test", RoleViewer)
	back, err := o.db.AcceptInvitation(fromBrowser(), code, "Alice", testPassword)
	must(t, err)
	if back.ID == o.alice.ID {
		t.Fatal("came back as the old member")
	}
	ts, err := o.db.ListTokens(context.Background(), back, TokenFilter{Kind: KindPersonal, MemberID: back.ID, IncludeRevoked: true})
	must(t, err)
	if len(ts) != 0 {
		t.Fatalf("the returning member has %d tokens", len(ts))
	}
	was, err := o.db.Token(context.Background(), o.owner, old.ID)
	must(t, err)
	if was.RevokeReason != ReasonMemberLeft {
		t.Fatalf("the old token: %+v", was)
	}
}

// TestRoleChangeHoldsAtNextUseEverywhere: a member's new roles are what
// their personal token acts with at its next check, in this process and in
// another one that had it cached.
func TestRoleChangeHoldsAtNextUseEverywhere(t *testing.T) {
	o := newTwoOrgs(t)
	_, text := addToken(t, o.db, o.alice, KindPersonal, "laptop")
	other := openAgain(t, o.db, o.clock)
	for _, db := range []*DB{o.db, other} {
		if p := verify(t, db, text); !slices.Equal(p.Roles, []Role{RoleVideo}) {
			t.Fatalf("before: %v", p.Roles)
		}
	}
	_, err := o.db.SetMemberRoles(fromBrowser(), o.owner, o.alice.ID, []Role{RoleAdmin, RoleBilling})
	must(t, err)
	for i, db := range []*DB{o.db, other} {
		if p := verify(t, db, text); !slices.Equal(p.Roles, []Role{RoleAdmin, RoleBilling}) || !p.Has(RoleViewer) {
			t.Errorf("process %d after: %v", i, p.Roles)
		}
	}
	if _, err := o.db.SetMemberRoles(fromBrowser(), o.owner, o.owner.ID, []Role{RoleVideo}); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("the owner's own roles: %v", err)
	}
}

// TestMembersList: search by name or email as names compare, the former
// members apart, paging, and the counts.
func TestMembersList(t *testing.T) {
	o := newTwoOrgs(t)
	addToken(t, o.db, o.alice, KindPersonal, "a")
	addToken(t, o.db, o.alice, KindPersonal, "b")
	gone, _ := addToken(t, o.db, o.alice, KindPersonal, "c")
	revoke(t, o.db, o.alice, gone.ID)
	zoe, err := o.db.CreateMember(context.Background(), NewMember{OrgName: "Acme", Email: "zoe@acme.test", Name: "Zoë Ünal", Password: testPassword, Roles: []Role{RoleViewer}})
	must(t, err)
	_, _, err = o.db.RemoveMemberByID(fromBrowser(), o.owner, o.bob.ID)
	must(t, err)
	_, err = o.db.CreateSession(fromBrowser(), o.alice.ID)
	must(t, err)

	names := func(f MemberFilter) []string {
		t.Helper()
		ls, err := o.db.ListMembers(context.Background(), o.owner, f)
		must(t, err)
		var s []string
		for _, l := range ls {
			s = append(s, l.Email)
		}
		return s
	}
	if got := names(MemberFilter{}); !slices.Equal(got, []string{"zoe@acme.test", "alice@acme.test", "owner@acme.test"}) {
		t.Errorf("members = %q", got)
	}
	if got := names(MemberFilter{Former: true}); !slices.Equal(got, []string{"bob@acme.test"}) {
		t.Errorf("former = %q", got)
	}
	for q, want := range map[string]string{"ZOË": "zoe@acme.test", "ünal": "zoe@acme.test", "ALICE@": "alice@acme.test", "100%": "", "_": ""} {
		got := names(MemberFilter{Q: q})
		if want == "" && len(got) != 0 || want != "" && !slices.Equal(got, []string{want}) {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
	if got := names(MemberFilter{Limit: 2}); len(got) != 2 {
		t.Errorf("limit 2: %q", got)
	}
	if got := names(MemberFilter{BeforeID: zoe.ID}); slices.Contains(got, "zoe@acme.test") || len(got) != 2 {
		t.Errorf("before zoe: %q", got)
	}
	ls, err := o.db.ListMembers(context.Background(), o.owner, MemberFilter{Q: "alice"})
	must(t, err)
	if ls[0].ActiveTokens != 2 || ls[0].LastSignInAt.IsZero() {
		t.Errorf("alice: %d active tokens, last sign-in %v", ls[0].ActiveTokens, ls[0].LastSignInAt)
	}
	if ls, _ := o.db.ListMembers(context.Background(), o.owner2, MemberFilter{Q: "alice"}); len(ls) != 0 {
		t.Errorf("another org's owner finds %d", len(ls))
	}
	if _, err := o.db.MemberByID(context.Background(), o.owner2, o.alice.ID); ErrorCode(err) != ENOTFOUND {
		t.Errorf("another org's member by id: %v", err)
	}
}

// TestOffboardingShowsWhatLeavesAndStays: the personal tokens that go with
// the member, and the system tokens they made, on the page or through a
// token of theirs, that stay.
func TestOffboardingShowsWhatLeavesAndStays(t *testing.T) {
	o := newTwoOrgs(t)
	_, err := o.db.SetMemberRoles(fromBrowser(), o.owner, o.alice.ID, []Role{RoleAdmin})
	must(t, err)
	laptop, laptopText := addToken(t, o.db, o.alice, KindPersonal, "laptop")
	viaAPI, _, err := o.db.CreateToken(fromBrowser(), verify(t, o.db, laptopText), NewToken{Kind: KindSystem, Name: "made via api", Roles: []Role{RoleVideo}})
	must(t, err)
	addToken(t, o.db, o.owner, KindSystem, "the owner's", RoleVideo)

	off, err := o.db.OffboardingOf(context.Background(), o.owner, o.alice.ID)
	must(t, err)
	if len(off.Leaving) != 1 || off.Leaving[0].ID != laptop.ID {
		t.Errorf("leaving = %+v", off.Leaving)
	}
	if len(off.Staying) != 1 || off.Staying[0].ID != viaAPI.ID {
		t.Errorf("staying = %+v", off.Staying)
	}
	if _, err := o.db.OffboardingOf(context.Background(), o.bob, o.alice.ID); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member sees offboarding: %v", err)
	}
	_, n, err := o.db.RemoveMemberByID(fromBrowser(), o.owner, o.alice.ID)
	must(t, err)
	if n != 1 {
		t.Fatalf("revoked %d", n)
	}
	wantRefused(t, o.db, string(laptopText), ErrTokenRevoked)
	if tok, err := o.db.Token(context.Background(), o.owner, viaAPI.ID); err != nil || !tok.Active() {
		t.Fatalf("the system token stopped: %+v %v", tok, err)
	}
}

// TestMemberNameKeysFilledOnOpen: members whose search key a migration
// could not compute (PostgreSQL's, from before it had the column) get it
// when the database is next opened, and are found by name.
func TestMemberNameKeysFilledOnOpen(t *testing.T) {
	o := newTwoOrgs(t)
	if _, err := o.db.w.Exec(`UPDATE members SET name_key = ''`); err != nil {
		t.Fatal(err)
	}
	again := openAgain(t, o.db, o.clock)
	ls, err := again.ListMembers(context.Background(), o.owner, MemberFilter{Q: "NAME OF ALICE"})
	must(t, err)
	if len(ls) != 1 || ls[0].ID != o.alice.ID {
		t.Fatalf("found %+v", ls)
	}
	if n := countRows(t, again, "members WHERE name_key = ''"); n != 0 {
		t.Fatalf("%d members still without a key", n)
	}
}
