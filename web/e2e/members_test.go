package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"tokend/store"
)

// invitationLinkPattern is an invitation link as the box shows it.
var invitationLinkPattern = regexp.MustCompile(`^http://127\.0\.0\.1:\d+(/invitations/[0-9A-Za-z]{32})$`)

// memberRows counts the rows of the member list.
const memberRows = `document.querySelectorAll("[data-testid=member-row]").length`

// The owner finds Members in the profile menu, invites someone (the form's
// messages first), copies the link; the invitee opens it in a browser of
// their own and joins; the owner finds them with the search, changes
// Max's roles and removes him through the offboarding page.
func TestMembersInviteJoinAndRemove(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)
	tb.signIn(a.owner)
	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(menuItem("Members"))
	if got := tb.path(); got != "/members" {
		t.Fatalf("Members opened %s", got)
	}
	if got := tb.text(`//h1`); got != "Members" {
		t.Errorf("heading %q", got)
	}
	tb.checkAccessibility("Members")

	tb.clickToLoad(button("Invite member"))
	tb.checkAccessibility("Invite member")
	tb.expectStatus("POST", "/members/invitations", 422)
	tb.clickToLoad(button("Create invitation link"))
	tb.fieldError("Name", "error-name")
	tb.fieldError("Email", "error-email")
	tb.fieldError("", "error-roles")
	tb.checkAccessibility("Invite member with mistakes")
	tb.typeInto("Name", "Nia New")
	tb.typeInto("Email", "nia@acme.test")
	tb.click(label("Video User"))
	tb.clickToLoad(button("Create invitation link"))
	if got := tb.path(); got != "/members" {
		t.Errorf("the address bar shows %s after inviting, want /members so a reload does not post again", got)
	}
	link := tb.value(field("Invitation link"))
	m := invitationLinkPattern.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("the invitation box holds %q", link)
	}
	tb.checkAccessibility("Members showing an invitation link")
	tb.click(button("Copy"))
	tb.waitFor("the copy status", `document.querySelector("[data-testid=copy-status]").innerText !== ""`)
	if got := eval[string](tb, `navigator.clipboard.readText()`); got != link {
		t.Errorf("the clipboard holds %q, want the link", got)
	}
	tb.snapshot("invitation link")

	// The invitee, in a browser of their own.
	nia := newTab(t, a)
	nia.visit(m[1])
	if got := nia.text(`//h1`); got != "Join Acme Streaming" {
		t.Errorf("the link opens %q", got)
	}
	nia.checkAccessibility("Join")
	nia.typeInto("Password", password)
	nia.typeInto("Confirm password", password)
	nia.clickToLoad(button("Join Acme Streaming"))
	if got := nia.path(); got != "/tokens" {
		t.Fatalf("joining led to %s", got)
	}
	if got := nia.text(`//*[@data-testid="profile-name"]`); got != "Nia New" {
		t.Errorf("signed in as %q", got)
	}
	nia.expectStatus("GET", m[1], 404)
	nia.visit(m[1])
	if got := nia.text(`//*[@data-testid="error-page"]/p[1]`); !strings.Contains(got, "not valid") {
		t.Errorf("the used link says %q", got)
	}

	// The owner searches as they type: the list alone changes.
	tb.visit("/members")
	tb.noLinkShown()
	tb.typeInto("Search by name or email", "nia")
	tb.waitFor("the search to narrow the list", memberRows+` === 1 && document.querySelector("[data-testid=member-name]").innerText.includes("Nia New")`)
	tb.waitFor("the address bar to keep the search", `location.search === "?q=nia"`)
	tb.checkAccessibility("Members searched")

	tb.visit("/members")
	tb.clickToLoad(button("Change roles of Max Member"))
	tb.checkAccessibility("Change roles")
	tb.click(label("Billing Manager"))
	tb.clickToLoad(button("Save roles"))
	if got := tb.text(`//*[@data-testid="flash"]`); !strings.Contains(got, "Roles of Max Member changed") {
		t.Errorf("after Save roles the page says %q", got)
	}

	laptop := a.tokenNamed(store.KindPersonal, "Max laptop")
	tb.clickToLoad(button("Remove Max Member"))
	if got := tb.text(`//h2[@id="leaving-heading"]`); got != "What leaves with Max Member" {
		t.Errorf("offboarding heading %q", got)
	}
	if !tb.has(within("What leaves with Max Member", row("Max laptop"))) {
		t.Error("Max laptop is not among what leaves")
	}
	tb.checkAccessibility("the offboarding page")
	tb.snapshot("offboarding")
	tb.clickToLoad(button("Yes, Remove"))
	if got := tb.path(); got != "/members?view=former" {
		t.Errorf("Yes, Remove led to %s", got)
	}
	if got := tb.text(`//*[@data-testid="flash"]`); got != "Max Member was removed; 1 personal token was revoked." {
		t.Errorf("flash %q", got)
	}
	tb.checkAccessibility("Former members")
	if a.token(laptop.ID).Active() {
		t.Error("Max laptop still works")
	}
}

// noLinkShown checks the page shows no invitation link.
func (tb *tab) noLinkShown() {
	tb.t.Helper()
	if tb.has(`//*[@data-testid="invitation-link"]`) || tb.has(`//input[contains(@value, "/invitations/")]`) {
		tb.t.Errorf("%s shows an invitation link again", tb.path())
	}
}

// Without JavaScript: search with the button, withdraw an invitation, and
// remove a member, each a page of its own; on a phone's width.
func TestMembersWithoutJavaScriptOnAPhone(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a, withoutJavaScript, narrowScreen)
	tb.signIn(a.owner)
	tb.visit("/members/invite")
	tb.typeInto("Name", "Pat Pending with a rather long name to wrap")
	tb.typeInto("Email", "pat.pending.with.a.long.address@acme.test")
	tb.click(label("Viewer"))
	tb.clickToLoad(button("Create invitation link"))
	if !invitationLinkPattern.MatchString(tb.value(field("Invitation link"))) {
		t.Fatal("no invitation link")
	}
	if tb.has(button("Copy")) {
		t.Error("the Copy button shows without the script that makes it work")
	}
	tb.fits("Members showing an invitation link")
	tb.checkAccessibility("Members showing an invitation link, without JavaScript")

	tb.visit("/members")
	tb.noLinkShown()
	tb.fits("Members")
	tb.typeInto("Search by name or email", "max")
	tb.clickToLoad(button("Search"))
	if got := tb.path(); got != "/members?q=max" {
		t.Errorf("Search led to %s", got)
	}
	if n := eval[int](tb, memberRows); n != 1 {
		t.Errorf("the search lists %d members", n)
	}

	tb.visit("/members")
	tb.clickToLoad(button("Withdraw the invitation for pat.pending.with.a.long.address@acme.test"))
	if got := tb.text(`//*[@data-testid="flash"]`); !strings.Contains(got, "was withdrawn") {
		t.Errorf("after Withdraw the page says %q", got)
	}

	tb.visit(fmt.Sprintf("/members/%d/remove", a.member.ID))
	tb.fits("the offboarding page")
	tb.clickToLoad(button("Cancel"))
	if got := tb.path(); got != "/members" {
		t.Errorf("Cancel led to %s", got)
	}
	tb.clickToLoad(button("Remove Max Member"))
	tb.clickToLoad(button("Yes, Remove"))
	if got := tb.path(); got != "/members?view=former" {
		t.Errorf("Yes, Remove led to %s", got)
	}
	tb.fits("Former members")
	tb.checkAccessibility("Former members, without JavaScript")
}
