package web

// The owner's console, Members: the list, changing roles and removing a
// member, and who may do none of it, through the real router as a browser
// uses them. Invitations and joining are in invitations_test.go; the
// helpers of both in members_helpers_test.go.

import (
	"context"
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

func TestMembersListShowsMembersWithCounts(t *testing.T) {
	app := newTestApp(t)
	app.createToken(app.member, store.KindPersonal, "max-1")
	gone, _ := app.createToken(app.member, store.KindPersonal, "max-2")
	app.createToken(app.member, store.KindPersonal, "max-3")
	app.revokeInStore(t, app.member, gone.ID)
	app.createToken(app.owner, store.KindSystem, "acme-system", store.RoleVideo) // no one's personal token
	app.createToken(app.otherOwner, store.KindPersonal, "gus-1")

	ana := app.signIn(app.owner)
	r := ana.get("/members")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", r.StatusCode, r.body)
	}
	if got, want := r.memberNames(), []string{"Mia Member", "Max Member", "Ana Owner"}; !slices.Equal(got, want) {
		t.Errorf("members %q, want %q (newest first)", got, want)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	day := app.now.Format(dateLayout)
	tests := []struct {
		m                              store.Member
		email, roles, tokens, lastSeen string
		actions                        bool
	}{
		{app.owner, "ana@acme.test", "Organization Owner", "0", day, false},
		{app.member, "max@acme.test", "Video User", "2", "Never", true},
		{app.member2, "mia@acme.test", "Viewer", "0", "Never", true},
	}
	for _, tt := range tests {
		t.Run(tt.m.Name, func(t *testing.T) {
			row := r.memberRow(t, tt.m.ID)
			for testid, want := range map[string]string{
				"member-email": tt.email, "member-roles": tt.roles, "member-tokens": tt.tokens,
				"member-last-sign-in": tt.lastSeen, "member-joined": day,
			} {
				if got := memberCell(row, testid); got != want {
					t.Errorf("%s = %q, want %q", testid, got, want)
				}
			}
			rolesLink, _ := row.Find(`[data-testid=change-roles]`).Attr("href")
			removeLink, _ := row.Find(`[data-testid=remove-member]`).Attr("href")
			if tt.actions {
				if want := fmt.Sprintf("/members/%d/roles", tt.m.ID); rolesLink != want {
					t.Errorf("Change roles links to %q, want %q", rolesLink, want)
				}
				if want := fmt.Sprintf("/members/%d/remove", tt.m.ID); removeLink != want {
					t.Errorf("Remove links to %q, want %q", removeLink, want)
				}
			} else if rolesLink != "" || removeLink != "" {
				t.Errorf("the owner's own row offers Change roles %q and Remove %q", rolesLink, removeLink)
			}
			if events, _ := row.Find(`[data-testid=member-events]`).Attr("href"); events != fmt.Sprintf("/audit?member_id=%d", tt.m.ID) {
				t.Errorf("Events links to %q", events)
			}
			if you := row.Find(`[data-testid=member-you]`).Length() == 1; you != (tt.m.ID == app.owner.ID) {
				t.Errorf("marked as you: %v", you)
			}
		})
	}
	for _, s := range []string{"Globex", "Gus", "globex.test"} {
		if strings.Contains(r.body, s) {
			t.Errorf("Acme's Members page mentions %q", s)
		}
	}
	if !r.has(`[data-testid=invitations]`) || !r.has(`a[href="/members/invite"][data-testid=invite-member]`) {
		t.Error("no Pending invitations section or Invite member link")
	}
	if got := ana.get("/tokens"); !got.has(`a[href="/members"][data-testid=menu-members]`) {
		t.Error("the profile menu has no Members link for the owner")
	}

	gus := app.signIn(app.otherOwner)
	if got := gus.get("/members").memberNames(); !slices.Equal(got, []string{"Gus Owner"}) {
		t.Errorf("Globex's owner sees %q", got)
	}
}

func TestMembersSearch(t *testing.T) {
	app := newTestApp(t)
	ana := app.signIn(app.owner)
	tests := []struct {
		q    string
		want []string
	}{
		{"max", []string{"Max Member"}},
		{"MEMBER", []string{"Mia Member", "Max Member"}},
		{"mia@acme", []string{"Mia Member"}},
		{"ANA@ACME.TEST", []string{"Ana Owner"}},
		{"acme.test", []string{"Mia Member", "Max Member", "Ana Owner"}},
		{"  max  ", []string{"Max Member"}},
		{"globex", nil},
		{"%", nil},
		{"_", nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			r := ana.get("/members?q=" + url.QueryEscape(tt.q))
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := r.memberNames(); !slices.Equal(got, tt.want) {
				t.Errorf("found %q, want %q", got, tt.want)
			}
			if v, _ := r.doc.Find(`form[data-testid=member-search] input[name=q]`).Attr("value"); v != strings.TrimSpace(tt.q) {
				t.Errorf("the search box holds %q", v)
			}
			if len(tt.want) == 0 && !strings.Contains(r.text(`#member-list [data-testid=empty]`), "No member matches") {
				t.Errorf("no empty message: %q", r.text(`#member-list`))
			}
		})
	}
	t.Run("the form works without JavaScript", func(t *testing.T) {
		r := ana.get("/members")
		form := r.doc.Find(`form[data-testid=member-search]`)
		if method, _ := form.Attr("method"); method != "get" {
			t.Errorf("search form method %q", method)
		}
		if action, _ := form.Attr("action"); action != "/members" {
			t.Errorf("search form action %q", action)
		}
		if id, _ := form.Find(`input[name=q]`).Attr("id"); id == "" || form.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Error("the search box has no label")
		}
	})
	t.Run("htmx gets the list alone", func(t *testing.T) {
		r := ana.get("/members?q=mia", "HX-Request", "true")
		if r.StatusCode != http.StatusOK || r.has(`html head title`) || !r.has(`#member-list`) {
			t.Fatalf("status %d, want the list fragment:\n%s", r.StatusCode, r.body)
		}
		if got := r.memberNames(); !slices.Equal(got, []string{"Mia Member"}) {
			t.Errorf("found %q", got)
		}
	})
}

func TestMembersFormerView(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	if _, _, err := app.db.RemoveMemberByID(ctx, app.owner, app.member.ID); err != nil {
		t.Fatal(err)
	}
	left := app.now
	app.setNow(app.now.Add(48 * time.Hour))
	ana := app.signIn(app.owner)

	r := ana.get("/members")
	if got := r.memberNames(); !slices.Equal(got, []string{"Mia Member", "Ana Owner"}) {
		t.Errorf("members %q, want Max gone", got)
	}
	former := ana.get("/members?view=former")
	if former.StatusCode != http.StatusOK {
		t.Fatalf("status %d", former.StatusCode)
	}
	if got := former.memberNames(); !slices.Equal(got, []string{"Max Member"}) {
		t.Fatalf("former members %q, want Max", got)
	}
	row := former.memberRow(t, app.member.ID)
	if got := memberCell(row, "member-left"); got != left.Format(dateLayout) {
		t.Errorf("left %q, want %q", got, left.Format(dateLayout))
	}
	if row.Find(`[data-testid=change-roles], [data-testid=remove-member]`).Length() > 0 {
		t.Error("a former member can still be changed or removed")
	}
	if got := former.text(`[data-testid=view-former]`); got != "Former members" {
		t.Errorf("view link %q", got)
	}
	if cur, _ := former.doc.Find(`[data-testid=view-former]`).Attr("aria-current"); cur != "page" {
		t.Error("the Former members link is not marked as the view shown")
	}
	if former.has(`[data-testid=invitations]`) {
		t.Error("Former members lists pending invitations")
	}
	if got := ana.get("/members?view=former&q=mia").memberNames(); len(got) != 0 {
		t.Errorf("searching former members for mia finds %q", got)
	}
	if got := ana.get("/members?view=former&q=MAX@").memberNames(); !slices.Equal(got, []string{"Max Member"}) {
		t.Errorf("searching former members for MAX@ finds %q", got)
	}
}

func TestMembersPaging(t *testing.T) {
	app := newTestApp(t)
	want := []string{"Mia Member", "Max Member", "Ana Owner"}
	for i := range pageSize + 2 {
		name := fmt.Sprintf("Extra %03d", i)
		app.addMember("Acme Streaming", fmt.Sprintf("extra%03d@acme.test", i), name, store.RoleViewer)
		want = append([]string{name}, want...)
	}
	ana := app.signIn(app.owner)
	var got []string
	path, pages := "/members", 0
	for path != "" {
		pages++
		r := ana.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, r.StatusCode)
		}
		names := r.memberNames()
		if len(names) == 0 || len(names) > pageSize {
			t.Fatalf("page %d lists %d members", pages, len(names))
		}
		got = append(got, names...)
		path, _ = r.doc.Find(`[data-testid=show-more]`).Attr("href")
		if path != "" && r.text(`[data-testid=show-more]`) != "Show more members" {
			t.Errorf("more link says %q", r.text(`[data-testid=show-more]`))
		}
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("%d pages listed %d members; want 2 pages, every member once, newest first", pages, len(got))
	}
	// A search pages too, and the next page keeps it.
	r := ana.get("/members?q=extra")
	more, _ := r.doc.Find(`[data-testid=show-more]`).Attr("href")
	if u, err := url.Parse(more); err != nil || u.Query().Get("q") != "extra" || u.Query().Get("before") == "" {
		t.Errorf("more link of a search %q", more)
	}
}

func TestChangeMemberRoles(t *testing.T) {
	app := newTestApp(t)
	_, maxKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	whoami := func(t *testing.T) []string {
		t.Helper()
		var p wirePrincipal
		app.apiGet(t, "/api/v1/token", keyOf(maxKey)).ok(t, http.StatusOK, &p)
		return p.Roles
	}
	if got := whoami(t); !slices.Equal(got, []string{"video"}) {
		t.Fatalf("before: roles %q", got)
	}
	ana := app.signIn(app.owner)
	rolesPath := fmt.Sprintf("/members/%d/roles", app.member.ID)

	form := ana.get(rolesPath)
	if form.StatusCode != http.StatusOK {
		t.Fatalf("GET roles form: status %d", form.StatusCode)
	}
	var offered, checked []string
	form.doc.Find(`input[name=roles]`).Each(func(_ int, s *goquery.Selection) {
		offered = append(offered, s.AttrOr("value", ""))
		if _, ok := s.Attr("checked"); ok {
			checked = append(checked, s.AttrOr("value", ""))
		}
		if id, _ := s.Attr("id"); form.doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("checkbox %q has no label", id)
		}
	})
	if slices.Contains(offered, "owner") || !slices.Equal(checked, []string{"video"}) {
		t.Errorf("offered %q, checked %q", offered, checked)
	}
	if got := form.text("h1"); got != "Change roles of Max Member" {
		t.Errorf("heading %q", got)
	}

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			roles []string
			want  string
		}{
			{nil, "Choose at least one role."},
			{[]string{"owner"}, "Organization Owner cannot be given here"},
			{[]string{"owner", "admin"}, "Organization Owner cannot be given here"},
			{[]string{"wizard"}, `"wizard" is not a role`},
		}
		for _, tt := range tests {
			events := app.auditCount(t, app.owner)
			r := ana.postForm(rolesPath, url.Values{"roles": tt.roles})
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%q: status %d", tt.roles, r.StatusCode)
			}
			if got := r.text(`[data-testid=error-roles]`); !strings.Contains(got, tt.want) {
				t.Errorf("%q: message %q, want %q", tt.roles, got, tt.want)
			}
			if got := whoami(t); !slices.Equal(got, []string{"video"}) {
				t.Errorf("%q: roles became %q", tt.roles, got)
			}
			if got := app.auditCount(t, app.owner); got != events {
				t.Errorf("%q: wrote %d events", tt.roles, got-events)
			}
		}
	})
	t.Run("the owner's own roles", func(t *testing.T) {
		own := fmt.Sprintf("/members/%d/roles", app.owner.ID)
		for _, r := range []*response{ana.get(own), ana.postForm(own, url.Values{"roles": {"viewer"}})} {
			if r.StatusCode != http.StatusForbidden || !strings.Contains(r.text("main"), "The owner's roles cannot be changed.") {
				t.Errorf("status %d\n%s", r.StatusCode, r.text("main"))
			}
		}
		if m, _ := app.db.MemberByID(context.Background(), app.owner, app.owner.ID); !m.IsOwner() {
			t.Error("the owner is no longer owner")
		}
	})
	t.Run("saved and seen by the member's token at its next use", func(t *testing.T) {
		r := ana.postForm(rolesPath, url.Values{"roles": {"billing", "admin"}})
		if r.StatusCode != http.StatusSeeOther || r.location() != "/members" {
			t.Fatalf("status %d to %q\n%s", r.StatusCode, r.location(), r.body)
		}
		page := ana.get("/members")
		if got := page.text(`[data-testid=flash]`); got != "Roles of Max Member changed to Administrator and Billing Manager." {
			t.Errorf("flash %q", got)
		}
		if got := memberCell(page.memberRow(t, app.member.ID), "member-roles"); got != "Administrator, Billing Manager" {
			t.Errorf("roles in the list %q", got)
		}
		if got := whoami(t); !slices.Equal(got, []string{"admin", "billing"}) {
			t.Errorf("the token acts with %q, want [admin billing]", got)
		}
		if got := app.auditTail(t, app.owner, 1); !slices.Equal(got, []string{"member.roles_changed member Max Member <max@acme.test>"}) {
			t.Errorf("audit %q", got)
		}
	})
	t.Run("a former member's roles", func(t *testing.T) {
		if _, _, err := app.db.RemoveMemberByID(context.Background(), app.owner, app.member2.ID); err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/members/%d/roles", app.member2.ID)
		if r := ana.get(path); r.StatusCode != http.StatusConflict {
			t.Errorf("GET: status %d", r.StatusCode)
		}
		if r := ana.postForm(path, url.Values{"roles": {"admin"}}); r.StatusCode != http.StatusConflict {
			t.Errorf("POST: status %d", r.StatusCode)
		}
	})
}

func TestRemoveMember(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	// Max is an administrator: his personal token makes a system token,
	// which stays when he leaves.
	if _, err := app.db.SetMemberRoles(ctx, app.owner, app.member.ID, []store.Role{store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	laptop, maxKey := app.createToken(app.member, store.KindPersonal, "max-laptop")
	ci, ciKey := app.createToken(app.member, store.KindPersonal, "max-ci")
	old, _ := app.createToken(app.member, store.KindPersonal, "max-old")
	app.revokeInStore(t, app.member, old.ID)
	var made struct {
		Token struct {
			ID int64 `json:"id"`
		} `json:"token"`
		Key string `json:"key"`
	}
	app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(maxKey),
		map[string]any{"kind": "system", "name": "max-made-deploy", "roles": []string{"video"}}).ok(t, http.StatusCreated, &made)
	anaSystem, _ := app.createToken(app.owner, store.KindSystem, "ana-made", store.RoleViewer)

	maxBrowser := app.signIn(app.member)
	ana := app.signIn(app.owner)
	removePath := fmt.Sprintf("/members/%d/remove", app.member.ID)

	page := ana.get(removePath)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("offboarding page: status %d\n%s", page.StatusCode, page.body)
	}
	if got := page.text(`#leaving-heading`); got != "What leaves with Max Member" {
		t.Errorf("heading %q", got)
	}
	var leaving, staying []string
	page.doc.Find(`[data-testid=leaving-token] [data-testid=token-name]`).Each(func(_ int, s *goquery.Selection) {
		leaving = append(leaving, strings.TrimSpace(s.Text()))
	})
	page.doc.Find(`[data-testid=staying-token] [data-testid=token-name]`).Each(func(_ int, s *goquery.Selection) {
		staying = append(staying, strings.TrimSpace(s.Text()))
	})
	slices.Sort(leaving)
	if !slices.Equal(leaving, []string{"max-ci", "max-laptop"}) || !slices.Equal(staying, []string{"max-made-deploy"}) {
		t.Errorf("leaving %q, staying %q", leaving, staying)
	}
	if got := page.text(`[data-testid=leaving-token] [data-testid=token-last-used]`); got == "" {
		t.Error("leaving tokens show no last use")
	}
	stay := page.doc.Find(`[data-testid=staying-token]`)
	if href, _ := stay.Find(`[data-testid=token-events]`).Attr("href"); href != fmt.Sprintf("/audit?token_id=%d", made.Token.ID) {
		t.Errorf("staying token's Events links to %q", href)
	}
	if href, _ := stay.Find(`[data-testid=token-link]`).Attr("href"); href != fmt.Sprintf("/tokens/%d", made.Token.ID) {
		t.Errorf("staying token's name links to %q, want its page", href)
	}
	if href, _ := stay.Find(`[data-testid=revoke]`).Attr("href"); href != fmt.Sprintf("/tokens/%d/revoke", made.Token.ID) {
		t.Errorf("staying token's Revoke links to %q", href)
	}
	confirm := page.doc.Find(`[data-testid=remove-confirm] form`)
	if action, _ := confirm.Attr("action"); action != removePath || confirm.Find(`input[name=_csrf]`).Length() != 1 {
		t.Errorf("Yes, Remove posts to %q", action)
	}
	if got := page.text(`[data-testid=confirm-remove]`); got != "Yes, Remove" {
		t.Errorf("button %q", got)
	}
	if href, _ := page.doc.Find(`[data-testid=cancel-remove]`).Attr("href"); href != "/members" {
		t.Errorf("Cancel goes to %q", href)
	}

	r := ana.postForm(removePath, nil)
	if r.StatusCode != http.StatusSeeOther || r.location() != "/members?view=former" {
		t.Fatalf("Yes, Remove: status %d to %q\n%s", r.StatusCode, r.location(), r.body)
	}
	former := ana.get(r.location())
	if got := former.text(`[data-testid=flash]`); got != "Max Member was removed; 2 personal tokens were revoked." {
		t.Errorf("flash %q", got)
	}
	if got := former.memberNames(); !slices.Equal(got, []string{"Max Member"}) {
		t.Errorf("former members %q", got)
	}
	for name, key := range map[string]store.TokenText{"max-laptop": maxKey, "max-ci": ciKey} {
		if r := app.apiGet(t, "/api/v1/token", keyOf(key)); r.status != http.StatusUnauthorized {
			t.Errorf("%s after removal: status %d", name, r.status)
		}
	}
	for _, id := range []int64{laptop.ID, ci.ID} {
		if tok := app.token(id, app.owner); tok.RevokeReason != store.ReasonMemberLeft {
			t.Errorf("token %d revoke reason %q", id, tok.RevokeReason)
		}
	}
	if r := app.apiGet(t, "/api/v1/token", made.Key); r.status != http.StatusOK {
		t.Errorf("the system token Max made: status %d after he left", r.status)
	}
	if tok := app.token(anaSystem.ID, app.owner); !tok.Active() {
		t.Error("another system token was revoked")
	}
	if r := maxBrowser.get("/tokens"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("Max's browser after removal: status %d to %q, want sent to sign in", r.StatusCode, r.location())
	}
	tail := app.auditTail(t, app.owner, 3)
	slices.Sort(tail)
	want := []string{
		"member.removed member Max Member <max@acme.test>",
		"token.revoked member " + ci.Hint() + " (max-ci)",
		"token.revoked member " + laptop.Hint() + " (max-laptop)",
	}
	slices.Sort(want)
	if !slices.Equal(tail, want) {
		t.Errorf("audit %q, want %q", tail, want)
	}

	t.Run("removing again", func(t *testing.T) {
		events := app.auditCount(t, app.owner)
		if r := ana.get(removePath); r.StatusCode != http.StatusConflict {
			t.Errorf("GET: status %d", r.StatusCode)
		}
		if r := ana.postForm(removePath, nil); r.StatusCode != http.StatusConflict {
			t.Errorf("POST: status %d", r.StatusCode)
		}
		if got := app.auditCount(t, app.owner); got != events {
			t.Errorf("wrote %d events", got-events)
		}
	})
}

func TestOwnerCannotBeRemoved(t *testing.T) {
	app := newTestApp(t)
	ana := app.signIn(app.owner)
	path := fmt.Sprintf("/members/%d/remove", app.owner.ID)
	events := app.auditCount(t, app.owner)
	for _, r := range []*response{ana.get(path), ana.postForm(path, nil)} {
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.text("main"), "The owner cannot be removed from the organization.") {
			t.Errorf("status %d: %s", r.StatusCode, r.text("main"))
		}
	}
	if got := ana.get("/members").memberNames(); !slices.Contains(got, "Ana Owner") {
		t.Errorf("members %q", got)
	}
	if got := app.auditCount(t, app.owner); got != events {
		t.Errorf("wrote %d events", got-events)
	}
}

func TestMembersRoutesRefuseMembers(t *testing.T) {
	app := newTestApp(t)
	app.createToken(app.member2, store.KindPersonal, "mia-token")
	app.inviteLink(t, app.signIn(app.owner), "Pat", "pat@acme.test", store.RoleViewer)
	invs, _ := app.db.PendingInvitations(context.Background(), app.owner)
	max := app.signIn(app.member)
	before := app.membersState(t, app.owner)
	for _, rt := range membersRoutes(app.member2.ID, invs[0].ID) {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var r *response
			if rt.method == http.MethodGet {
				r = max.get(rt.path)
			} else {
				r = max.postForm(rt.path, rt.form)
			}
			if r.StatusCode != http.StatusForbidden || !strings.Contains(r.text("main"), "Only the organization owner can manage members.") {
				t.Errorf("status %d: %s", r.StatusCode, r.text("main"))
			}
			if strings.Contains(r.body, "mia@acme.test") || strings.Contains(r.body, "pat@acme.test") {
				t.Error("the refusal shows the organization's people")
			}
			if after := app.membersState(t, app.owner); after != before {
				t.Errorf("changed:\n%s\n%s", before, after)
			}
		})
	}
	if max.get("/tokens").has(`[data-testid=menu-members]`) {
		t.Error("a member's menu links to Members")
	}
}

func TestMembersOfAnotherOrganizationAreNotFound(t *testing.T) {
	app := newTestApp(t)
	app.inviteLink(t, app.signIn(app.owner), "Pat", "pat@acme.test", store.RoleViewer)
	invs, _ := app.db.PendingInvitations(context.Background(), app.owner)
	gus := app.signIn(app.otherOwner)
	acme, globex := app.membersState(t, app.owner), app.membersState(t, app.otherOwner)
	missingRoutes := membersRoutes(999999, 999999)
	for i, rt := range membersRoutes(app.member2.ID, invs[0].ID) {
		if !rt.withID {
			continue
		}
		missing := missingRoutes[i].path
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			do := func(path string) *response {
				if rt.method == http.MethodGet {
					return gus.get(path)
				}
				return gus.postForm(path, rt.form)
			}
			r, none := do(rt.path), do(missing)
			// The same words as for an id that names nothing (the page's
			// request id aside).
			say := func(r *response) string {
				return r.text(`[data-testid=error-page] h1`) + ": " + r.text(`[data-testid=error-page] h1 + p`)
			}
			if r.StatusCode != http.StatusNotFound || none.StatusCode != http.StatusNotFound || say(r) != say(none) {
				t.Errorf("status %d (%s), missing id %d (%s)", r.StatusCode, say(r), none.StatusCode, say(none))
			}
			for _, s := range []string{"Mia", "mia@acme.test", "pat@acme.test", "Acme"} {
				if strings.Contains(r.body, s) {
					t.Errorf("Globex's owner sees %q", s)
				}
			}
			if got := app.membersState(t, app.owner); got != acme {
				t.Errorf("Acme changed:\n%s\n%s", acme, got)
			}
			if got := app.membersState(t, app.otherOwner); got != globex {
				t.Errorf("Globex changed:\n%s\n%s", globex, got)
			}
		})
	}
}
