package web

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"tokend/store"
)

// TestInviteMemberOfAnotherOrganization: inviting an email that belongs
// to another organization's member succeeds like any other, so the page
// tells the owner nothing about accounts elsewhere. The link is refused
// when the invitee uses it: 409 with the reason, and no one joins.
func TestInviteMemberOfAnotherOrganization(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ana := app.signIn(app.owner)
	r := ana.invite("Gus", app.otherOwner.Email, store.RoleViewer)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("invite %s: status %d, want 201 like any address\n%s", app.otherOwner.Email, r.StatusCode, r.body)
	}
	if got := r.text("[data-testid=error-email]"); got != "" {
		t.Errorf("the invitation says %q beside the email", got)
	}
	if strings.Contains(r.body, "already exists") || strings.Contains(r.body, "another organization") {
		t.Error("the owner is told the account exists")
	}
	if got := app.pending(t, app.owner); !slices.Equal(got, []string{app.otherOwner.Email}) {
		t.Errorf("pending %q", got)
	}
	path, _ := r.invitationPath(t)

	events := app.auditCount(t, app.owner)
	_, joined := app.join(t, path, "Gus Again")
	if joined.StatusCode != http.StatusConflict {
		t.Fatalf("accepting: status %d, want 409\n%s", joined.StatusCode, joined.body)
	}
	want := "An account with " + app.otherOwner.Email + " already exists"
	if got := joined.text("[data-testid=form-error]"); !strings.Contains(got, want) {
		t.Errorf("the join page says %q, want %q…", got, want)
	}
	if got := app.auditCount(t, app.owner); got != events {
		t.Errorf("a refused join wrote %d events", got-events)
	}
	r = ana.get("/members")
	if names := r.memberNames(); slices.Contains(names, "Gus Again") || slices.Contains(names, "Gus") {
		t.Errorf("Acme lists %q", names)
	}
	// Gus is still Globex's owner, and signs in there.
	if got := app.signIn(app.otherOwner).get("/tokens").text("[data-testid=profile-name]"); got != app.otherOwner.Name {
		t.Errorf("Gus signs in as %q", got)
	}
}
