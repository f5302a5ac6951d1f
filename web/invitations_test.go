package web

// Invitations, through the real router as browsers use them: the owner
// invites, the invitee opens the link in a browser of their own and joins;
// the link works once, until it expires or is withdrawn.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

func TestInviteThenJoin(t *testing.T) {
	app := newTestApp(t)
	ana := app.signIn(app.owner)

	r := ana.invite("Nia New", "nia@acme.test", store.RoleVideo, store.RoleViewer)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("invite: status %d\n%s", r.StatusCode, r.body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the link has Cache-Control %q, want no-store", cc)
	}
	path, code := r.invitationPath(t)
	box := r.text(`[data-testid=invitation-link]`)
	for _, want := range []string{"Nia New", "nia@acme.test", "You won't see it again", "works once", "expires in 7 days"} {
		if !strings.Contains(box, want) {
			t.Errorf("the link's box does not say %q: %q", want, box)
		}
	}
	if !r.has(`[data-testid=invitation-link] button[data-copy=invitation-link-value]`) {
		t.Error("no copy button")
	}
	if got := r.text(`[data-testid=invitations] [data-testid=invitation-email]`); got != "nia@acme.test" {
		t.Errorf("pending invitations %q", got)
	}
	if got := app.auditTail(t, app.owner, 1); !slices.Equal(got, []string{"member.invited member Nia New <nia@acme.test>"}) {
		t.Errorf("audit %q", got)
	}

	t.Run("the link is shown once", func(t *testing.T) {
		again := ana.get("/members")
		if strings.Contains(again.body, code) || again.has(`[data-testid=invitation-link]`) {
			t.Error("the Members page shows the link again")
		}
		row := again.doc.Find(`[data-testid=invitation-row]`)
		if got := memberCell(row, "invitation-invited-by"); got != "Ana Owner" {
			t.Errorf("invited by %q", got)
		}
		if got := memberCell(row, "invitation-roles"); got != "Video User, Viewer" {
			t.Errorf("roles %q", got)
		}
		if got := memberCell(row, "invitation-expires"); !strings.HasPrefix(got, app.now.Add(store.InvitationLifetime).Format(dateLayout)) {
			t.Errorf("expires %q", got)
		}
	})

	nia := app.client()
	t.Run("the link opens the join form", func(t *testing.T) {
		r := nia.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("status %d\n%s", r.StatusCode, r.body)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		if got := r.text("h1"); got != "Join Acme Streaming" {
			t.Errorf("heading %q", got)
		}
		email := r.doc.Find(`input[data-testid=join-email]`)
		if v, _ := email.Attr("value"); v != "nia@acme.test" || email.AttrOr("readonly", "no") == "no" {
			t.Errorf("email %q, read-only %v", v, email.AttrOr("readonly", "no") != "no")
		}
		if v, _ := r.doc.Find(`input[name=name]`).Attr("value"); v != "Nia New" {
			t.Errorf("name prefilled %q", v)
		}
		r.doc.Find(`form[data-testid=join-form] input:not([type=hidden])`).Each(func(_ int, s *goquery.Selection) {
			if id, _ := s.Attr("id"); id == "" || r.doc.Find(`label[for="`+id+`"]`).Length() != 1 {
				t.Errorf("input %q has no label", id)
			}
		})
		if action, _ := r.doc.Find(`form[data-testid=join-form]`).Attr("action"); action != path {
			t.Errorf("the form posts to %q", action)
		}
	})
	t.Run("mistakes keep the name and say what is wrong", func(t *testing.T) {
		tests := []struct {
			name, password, confirm, field string
		}{
			{"Nia N.", "short", "short", "password"},
			{"Nia N.", testPassword, testPassword + "x", "password_confirm"},
			{"   ", testPassword, testPassword, "name"},
		}
		for _, tt := range tests {
			r := nia.postForm(path, url.Values{"name": {tt.name}, "password": {tt.password}, "password_confirm": {tt.confirm}})
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s: status %d", tt.field, r.StatusCode)
			}
			if r.text(`[data-testid=error-`+tt.field+`]`) == "" {
				t.Errorf("%s: no message beside it", tt.field)
			}
			if v, _ := r.doc.Find(`input[name=name]`).Attr("value"); v != tt.name {
				t.Errorf("%s: name became %q", tt.field, v)
			}
		}
		if got := app.pending(t, app.owner); !slices.Equal(got, []string{"nia@acme.test"}) {
			t.Errorf("after mistakes, pending %q", got)
		}
	})

	t.Run("accepting makes the member and signs them in", func(t *testing.T) {
		r := nia.postForm(path, url.Values{"name": {"Nia N."}, "password": {testPassword}, "password_confirm": {testPassword}})
		if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens" {
			t.Fatalf("status %d to %q\n%s", r.StatusCode, r.location(), r.body)
		}
		page := nia.get("/tokens")
		if page.StatusCode != http.StatusOK {
			t.Fatalf("/tokens: status %d", page.StatusCode)
		}
		if got := page.text(`[data-testid=profile-name]`); got != "Nia N." {
			t.Errorf("signed in as %q", got)
		}
		if got := page.text(`[data-testid=flash]`); !strings.Contains(got, "Welcome to Acme Streaming") {
			t.Errorf("flash %q", got)
		}
		members := ana.get("/members")
		if got := members.memberNames(); len(got) != 4 || got[0] != "Nia N." {
			t.Errorf("members %q", got)
		}
		if members.has(`[data-testid=invitation-row]`) {
			t.Error("the accepted invitation is still pending")
		}
		if got := memberCell(members.doc.Find(`[data-testid=member-row]`).First(), "member-roles"); got != "Video User, Viewer" {
			t.Errorf("roles %q", got)
		}
		// Joining, then the sign-in it brings.
		tail := app.auditTail(t, app.owner, 2)
		if len(tail) != 2 || tail[0] != "sign_in.succeeded member Nia N. <nia@acme.test>" || tail[1] != "member.joined member Nia N. <nia@acme.test>" {
			t.Errorf("audit %q", tail)
		}
		// She signs in again with the password she chose.
		again := app.client()
		again.get("/login")
		if r := again.postForm("/login", url.Values{"email": {"nia@acme.test"}, "password": {testPassword}}); r.StatusCode != http.StatusSeeOther {
			t.Errorf("signing in with the new password: status %d", r.StatusCode)
		}
	})
	t.Run("the link works once", func(t *testing.T) {
		events := app.auditCount(t, app.owner)
		other := app.client()
		r := other.get(path)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(r.text(`[data-testid=error-page]`), store.ErrorMessage(store.ErrInvitationInvalid)) {
			t.Errorf("GET used link: status %d\n%s", r.StatusCode, r.text(`main`))
		}
		other.get("/login")
		r = other.postForm(path, url.Values{"name": {"Again"}, "password": {testPassword}, "password_confirm": {testPassword}})
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("POST used link: status %d", r.StatusCode)
		}
		if got := app.auditCount(t, app.owner); got != events {
			t.Errorf("%d events written by a used link", got-events)
		}
	})
}

func TestInvitationSignedInVisitorJoinsAsInvitee(t *testing.T) {
	app := newTestApp(t)
	path := app.inviteLink(t, app.signIn(app.owner), "Nia New", "nia@acme.test", store.RoleViewer)
	max := app.signIn(app.member)
	if r := max.get(path); r.StatusCode != http.StatusOK {
		t.Fatalf("GET link signed in: status %d", r.StatusCode)
	}
	r := max.postForm(path, url.Values{"name": {"Nia New"}, "password": {testPassword}, "password_confirm": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d\n%s", r.StatusCode, r.body)
	}
	if got := max.get("/tokens").text(`[data-testid=profile-name]`); got != "Nia New" {
		t.Errorf("the browser is signed in as %q, want the invitee", got)
	}
}

func TestInvitationExpiresAtItsBoundary(t *testing.T) {
	app := newTestApp(t)
	start := app.now
	path := app.inviteLink(t, app.signIn(app.owner), "Nia New", "nia@acme.test", store.RoleViewer)
	c := app.client()

	app.setNow(start.Add(store.InvitationLifetime - time.Second))
	if r := c.get(path); r.StatusCode != http.StatusOK {
		t.Fatalf("a second before expiry: status %d", r.StatusCode)
	}
	app.setNow(start.Add(store.InvitationLifetime))
	r := c.get(path)
	if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "may have expired") {
		t.Errorf("at expiry: status %d\n%s", r.StatusCode, r.text("main"))
	}
	r = c.postForm(path, url.Values{"name": {"Nia"}, "password": {testPassword}, "password_confirm": {testPassword}})
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("posting at expiry: status %d", r.StatusCode)
	}
	if got := app.pending(t, app.owner); len(got) != 0 {
		t.Errorf("an expired invitation is pending: %q", got)
	}
	if got := app.membersState(t, app.owner); strings.Contains(got, "nia@acme.test") {
		t.Errorf("a member was made from an expired link: %s", got)
	}
}

func TestWithdrawInvitation(t *testing.T) {
	app := newTestApp(t)
	ana := app.signIn(app.owner)
	path := app.inviteLink(t, ana, "Nia New", "nia@acme.test", store.RoleViewer)
	page := ana.get("/members")
	action, _ := page.doc.Find(`[data-testid=invitation-row] form`).Attr("action")
	if !regexp.MustCompile(`^/members/invitations/\d+/withdraw$`).MatchString(action) {
		t.Fatalf("Withdraw posts to %q", action)
	}
	if page.doc.Find(`[data-testid=invitation-row] form input[name=_csrf]`).Length() != 1 {
		t.Error("the Withdraw form carries no CSRF token")
	}
	r := ana.postForm(action, nil)
	if r.StatusCode != http.StatusSeeOther || r.location() != "/members" {
		t.Fatalf("withdraw: status %d to %q", r.StatusCode, r.location())
	}
	after := ana.get("/members")
	if got := after.text(`[data-testid=flash]`); got != "The invitation for nia@acme.test was withdrawn; its link no longer works." {
		t.Errorf("flash %q", got)
	}
	if after.has(`[data-testid=invitation-row]`) {
		t.Error("the withdrawn invitation is still listed")
	}
	if got := app.auditTail(t, app.owner, 1); !slices.Equal(got, []string{"invitation.withdrawn member Nia New <nia@acme.test>"}) {
		t.Errorf("audit %q", got)
	}
	if r := app.client().get(path); r.StatusCode != http.StatusNotFound {
		t.Errorf("the withdrawn link: status %d", r.StatusCode)
	}
	events := app.auditCount(t, app.owner)
	if r := ana.postForm(action, nil); r.StatusCode != http.StatusConflict {
		t.Errorf("withdrawing twice: status %d", r.StatusCode)
	}
	if got := app.auditCount(t, app.owner); got != events {
		t.Errorf("withdrawing twice wrote %d events", got-events)
	}
}

func TestInviteRefusals(t *testing.T) {
	app := newTestApp(t)
	ana := app.signIn(app.owner)
	app.inviteLink(t, ana, "Pat Pending", "pat@acme.test", store.RoleViewer)
	tests := []struct {
		name, email string
		roles       []string
		status      int
		errs        map[string]string
	}{
		{"Max Again", "max@acme.test", []string{"video"}, http.StatusConflict,
			map[string]string{"email": "Max Member (max@acme.test) is already a member of this organization."}},
		{"Max Again", "  MAX@acme.test ", []string{"video", "billing"}, http.StatusConflict,
			map[string]string{"email": "already a member of this organization"}},
		{"Pat", "pat@acme.test", []string{"viewer"}, http.StatusConflict,
			map[string]string{"email": "already has a pending invitation"}},
		{"", "not-an-email", nil, http.StatusUnprocessableEntity,
			map[string]string{"name": "Enter a name.", "email": "Enter an email address", "roles": "Choose at least one role."}},
		{"Olga", "olga@acme.test", []string{"owner"}, http.StatusUnprocessableEntity,
			map[string]string{"roles": "Organization Owner cannot be given here"}},
		{"Olga", "olga@acme.test", []string{"wizard"}, http.StatusUnprocessableEntity,
			map[string]string{"roles": `"wizard" is not a role`}},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			events := app.auditCount(t, app.owner)
			var roles []store.Role
			for _, r := range tt.roles {
				roles = append(roles, store.Role(r))
			}
			r := ana.invite(tt.name, tt.email, roles...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.status, r.body)
			}
			for _, field := range []string{"name", "email", "roles"} {
				got := r.text(`[data-testid=error-` + field + `]`)
				if want, ok := tt.errs[field]; ok && !strings.Contains(got, want) {
					t.Errorf("%s: message %q, want %q", field, got, want)
				} else if !ok && got != "" {
					t.Errorf("%s: unexpected message %q", field, got)
				}
			}
			// Nothing typed is lost.
			if v, _ := r.doc.Find(`input[name=name]`).Attr("value"); v != tt.name {
				t.Errorf("name became %q", v)
			}
			if v, _ := r.doc.Find(`input[name=email]`).Attr("value"); v != tt.email {
				t.Errorf("email became %q", v)
			}
			var checked []string
			r.doc.Find(`input[name=roles][checked]`).Each(func(_ int, s *goquery.Selection) { checked = append(checked, s.AttrOr("value", "")) })
			wantChecked := slices.DeleteFunc(slices.Clone(tt.roles), func(r string) bool { return !store.Role(r).Assignable() })
			if !slices.Equal(checked, wantChecked) {
				t.Errorf("roles checked %q, want %q", checked, wantChecked)
			}
			if r.has(`[data-testid=invitation-link]`) {
				t.Error("a refused invitation shows a link")
			}
			if got := app.pending(t, app.owner); !slices.Equal(got, []string{"pat@acme.test"}) {
				t.Errorf("pending %q", got)
			}
			if got := app.auditCount(t, app.owner); got != events {
				t.Errorf("a refused invitation wrote %d events", got-events)
			}
		})
	}
	t.Run("every input has a label", func(t *testing.T) {
		r := ana.get("/members/invite")
		r.doc.Find(`form[data-testid=invite-form] input:not([type=hidden])`).Each(func(_ int, s *goquery.Selection) {
			if id, _ := s.Attr("id"); id == "" || r.doc.Find(`label[for="`+id+`"]`).Length() != 1 {
				t.Errorf("input %q has no label", id)
			}
		})
		var offered []string
		r.doc.Find(`input[name=roles]`).Each(func(_ int, s *goquery.Selection) { offered = append(offered, s.AttrOr("value", "")) })
		if slices.Contains(offered, "owner") || len(offered) != len(store.AssignableRoles) {
			t.Errorf("roles offered %q", offered)
		}
	})
}

func TestFormerMemberInvitedAgainStartsClean(t *testing.T) {
	app := newTestApp(t)
	app.createToken(app.member, store.KindPersonal, "max-old-laptop")
	if _, _, err := app.db.RemoveMemberByID(context.Background(), app.owner, app.member.ID); err != nil {
		t.Fatal(err)
	}
	ana := app.signIn(app.owner)
	path := app.inviteLink(t, ana, "Max Again", "max@acme.test", store.RoleViewer)
	maxNew, r := app.join(t, path, "Max Again")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: status %d\n%s", r.StatusCode, r.body)
	}
	tokens := maxNew.get("/tokens")
	if tokens.doc.Find(`[data-testid=my-tokens] [data-testid=token-row]`).Length() != 0 || strings.Contains(tokens.body, "max-old-laptop") {
		t.Error("the member who came back has their old tokens")
	}
	members := ana.get("/members")
	newRow := members.doc.Find(`[data-testid=member-row]`).First()
	id, _ := strconv.ParseInt(newRow.AttrOr("data-member-id", ""), 10, 64)
	if id == app.member.ID || memberCell(newRow, "member-name") != "Max Again" || memberCell(newRow, "member-tokens") != "0" ||
		memberCell(newRow, "member-roles") != "Viewer" {
		t.Errorf("new row: id %d (old %d), %q, tokens %q, roles %q", id, app.member.ID,
			memberCell(newRow, "member-name"), memberCell(newRow, "member-tokens"), memberCell(newRow, "member-roles"))
	}
	if got := ana.get("/members?view=former").memberNames(); !slices.Equal(got, []string{"Max Member"}) {
		t.Errorf("former members %q: the old record is kept", got)
	}
}
