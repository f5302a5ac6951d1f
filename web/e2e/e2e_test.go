package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"tokend/store"
)

// keyPattern is a token as the new-key box shows it.
var keyPattern = regexp.MustCompile(`^tk[ps]_[0-9A-Za-z]{20,}$`)

const keyWarning = "Copy the key and store it somewhere securely. You won't see it again after you leave the page or refresh it."

// A member signs in, finds Token Management in the profile menu, makes a
// personal token, copies it, reloads and goes back without seeing it again,
// and signs out.
func TestPersonalTokenFromSignInToSignOut(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)

	tb.visit("/tokens")
	if got := tb.path(); got != "/login?next=%2Ftokens" {
		t.Errorf("signed out, /tokens went to %s, want the sign-in page", got)
	}
	tb.checkAccessibility("the sign-in page")
	tb.typeInto("Email", a.member.Email)
	tb.typeInto("Password", password)
	tb.clickToLoad(button("Sign in"))
	if got := tb.path(); got != "/tokens" {
		t.Fatalf("after signing in the page is %s, want /tokens", got)
	}

	// From somewhere else, the way the documentation tells: the profile in
	// the upper left, then Token Management under Organization.
	tb.visit("/tokens/personal/new")
	tb.openProfileMenu("Max Member")
	tb.clickToLoad(menuItem("Token Management"))
	if got := tb.path(); got != "/tokens" {
		t.Fatalf("Token Management opened %s", got)
	}
	if got := tb.text(`//h1`); got != "Token Management" {
		t.Errorf("heading %q, want Token Management", got)
	}
	for _, section := range []string{"Organization User Tokens", "System Tokens"} {
		if tb.has(heading(section)) {
			t.Errorf("a member sees %s", section)
		}
	}
	if tb.has(button("Add New System Token")) {
		t.Error("a member is offered Add New System Token")
	}
	tb.checkAccessibility("Token Management as a member")

	tb.clickToLoad(button("Add New Personal Token"))
	tb.checkAccessibility("Add New Personal Token")
	tb.typeInto("Token Name", "Stream checker")
	tb.clickToLoad(button("Create Personal Token"))

	key := tb.newKey("personal", "Stream checker")
	if got := tb.path(); got != "/tokens" {
		t.Errorf("the address bar shows %s after creating, want /tokens so a reload does not post again", got)
	}
	tb.snapshot("new personal key")
	tb.checkAccessibility("Token Management showing a new key")

	// Copy: the clipboard holds the key, and the page says so.
	tb.click(button("Copy"))
	tb.waitFor("the copy status", `document.querySelector("[data-testid=copy-status]").innerText !== ""`)
	if got := tb.text(`//*[@data-testid="copy-status"]`); got != "Copied to the clipboard." {
		t.Errorf("after Copy the status says %q", got)
	}
	if got := eval[string](tb, `navigator.clipboard.readText()`); got != key {
		t.Errorf("the clipboard holds %q, want the key %q", got, key)
	}
	if got := eval[string](tb, `document.getSelection().toString() || (() => { const i = document.activeElement; return i.value.slice(i.selectionStart, i.selectionEnd) })()`); got != key {
		t.Errorf("after Copy the selection is %q, want the key", got)
	}

	// Reload: a GET of /tokens, no form posted again, and no key.
	tb.loads()
	tb.do("reload", chromedp.Reload())
	if got := tb.loads(); !slices.Equal(got, []string{"GET /tokens"}) {
		t.Errorf("the reload loaded %q, want only GET /tokens", got)
	}
	tb.noKeyShown()
	if !tb.has(within("My Tokens", row("Stream checker"))) {
		t.Error("Stream checker is not in My Tokens after the reload")
	}
	if got, want := tb.text(within("My Tokens", row("Stream checker")+`//*[@data-testid="token-hint"]`)), "tkp_…"+key[len(key)-4:]; got != want {
		t.Errorf("the row shows %q, want the last four of the key: %q", got, want)
	}

	// Back to the form and forward again: still no key, whether the page
	// loads again or comes back from the back/forward cache.
	how := tb.goHistory(-1)
	if got := tb.path(); got != "/tokens/personal/new" {
		t.Errorf("Back went to %s", got)
	}
	t.Logf("Back came by %s", how)
	how = tb.goHistory(+1)
	t.Logf("Forward came by %s", how)
	if got := tb.path(); got != "/tokens" {
		t.Errorf("Forward went to %s", got)
	}
	tb.noKeyShown()

	tb.openProfileMenu("Max Member")
	tb.clickToLoad(button("Sign out"))
	if got := tb.path(); got != "/login" {
		t.Errorf("signing out led to %s, want /login", got)
	}
	tb.visit("/tokens")
	if !strings.HasPrefix(tb.path(), "/login") {
		t.Errorf("signed out, /tokens shows %s", tb.path())
	}
}

// openProfileMenu opens the user profile menu in the upper left of the
// page, checking it is there and names who is signed in.
func (tb *tab) openProfileMenu(name string) {
	tb.t.Helper()
	summary := fmt.Sprintf(`//summary[contains(normalize-space(.), %s)]`, xpathString(name))
	if at := tb.find(summary); at.X > 200 || at.Y > 60 {
		tb.t.Errorf("the profile menu is at (%.0f, %.0f), not in the upper left", at.X, at.Y)
	}
	if got, want := tb.accessibleName(summary), "DisclosureTriangle: User profile: "+name; !strings.HasPrefix(got, want) {
		tb.t.Errorf("the profile menu is %q to assistive technology, want %q…", got, want)
	}
	tb.click(summary)
	tb.waitFor("the profile menu to open", `document.querySelector("[data-testid=profile-menu]").open`)
}

// newKey returns the key the page shows once, after checking the box says
// what it must.
func (tb *tab) newKey(kind, name string) string {
	tb.t.Helper()
	if got, want := tb.text(`//*[@data-testid="new-key"]//h2`), fmt.Sprintf("Your new %s token “%s”", kind, name); got != want {
		tb.t.Errorf("the new key box says %q, want %q", got, want)
	}
	if got := tb.text(`//*[@data-testid="new-key"]//*[contains(@class, "warning")]`); got != keyWarning {
		tb.t.Errorf("the warning says %q, want %q", got, keyWarning)
	}
	key := tb.value(field("Token key"))
	if !keyPattern.MatchString(key) {
		tb.t.Fatalf("the key box holds %q", key)
	}
	return key
}

// noKeyShown checks the page shows no key.
func (tb *tab) noKeyShown() {
	tb.t.Helper()
	if tb.has(`//*[@data-testid="new-key"]`) || tb.has(`//input[starts-with(@value, "tk")]`) {
		tb.t.Errorf("%s shows a key again", tb.path())
	}
}

// The owner makes a system token with two roles, sees the forms' messages,
// and revokes it through the dialog: Escape and Cancel leave it alone, Yes,
// Revoke takes its row away without loading the page again, and focus goes
// into the dialog and back to the button that opened it.
func TestOwnerSystemTokenAndRevokeDialog(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)
	tb.signIn(a.owner)
	for _, section := range []string{"My Tokens", "Organization User Tokens", "System Tokens"} {
		if !tb.has(heading(section)) {
			t.Errorf("the owner does not see %s", section)
		}
	}
	if got := tb.text(within("Organization User Tokens", row("Max laptop")+`//*[@data-testid="token-member"]`)); got != "Max Member (max@acme.test)" {
		t.Errorf("Organization User Tokens shows Max laptop as %q", got)
	}
	tb.checkAccessibility("Token Management as the owner")
	tb.snapshot("owner tokens")

	// A personal token without a name: the form comes back saying so.
	tb.clickToLoad(button("Add New Personal Token"))
	tb.expectStatus("POST", "/tokens/personal", 422)
	tb.clickToLoad(button("Create Personal Token"))
	tb.fieldError("Token Name", "error-name")
	tb.checkAccessibility("Add New Personal Token with a mistake")

	tb.visit("/tokens")
	tb.clickToLoad(button("Add New System Token"))
	tb.checkAccessibility("Add New System Token")
	tb.typeInto("Token Name", "Ingest robot")
	tb.expectStatus("POST", "/tokens/system", 422)
	tb.clickToLoad(button("Create System Token"))
	tb.fieldError("", "error-roles")
	if got := tb.value(field("Token Name")); got != "Ingest robot" {
		t.Errorf("the form came back with the name %q, want what was typed", got)
	}
	tb.checkAccessibility("Add New System Token with a mistake")

	tb.click(label("Video User"))
	tb.click(label("Viewer"))
	tb.clickToLoad(button("Create System Token"))
	tb.newKey("system", "Ingest robot")
	if got := tb.text(within("System Tokens", row("Ingest robot")+`//*[@data-testid="token-roles"]`)); got != "Video User, Viewer" {
		t.Errorf("System Tokens shows the roles of Ingest robot as %q, want Video User, Viewer", got)
	}
	ingest := a.tokenNamed(store.KindSystem, "Ingest robot")
	if !slices.Equal(ingest.Roles, []store.Role{store.RoleVideo, store.RoleViewer}) {
		t.Errorf("Ingest robot was made with the roles %v", ingest.Roles)
	}

	// Revoke, through the dialog, without a page load.
	revoke := within("System Tokens", row("Ingest robot")+`//a[normalize-space(.)="Revoke"]`)
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.e2eMark = "the same page"`))
	tb.loads()

	tb.openRevokeDialog(revoke, "Ingest robot")
	tb.checkAccessibility("the open Revoke Token dialog")
	tb.snapshot("revoke dialog")
	tb.press(kb.Escape)
	tb.waitGone("Escape to close the dialog", dialog)
	tb.focusBackOn("Revoke Ingest robot", "Escape")
	tb.stillThere("Ingest robot", ingest.ID, "Escape")

	tb.openRevokeDialog(revoke, "Ingest robot")
	tb.click(dialog + button("Cancel"))
	tb.waitGone("Cancel to close the dialog", dialog)
	tb.focusBackOn("Revoke Ingest robot", "Cancel")
	tb.stillThere("Ingest robot", ingest.ID, "Cancel")

	tb.openRevokeDialog(revoke, "Ingest robot")
	tb.click(dialog + button("Yes, Revoke"))
	tb.waitGone("the row to go", within("System Tokens", row("Ingest robot")))
	tb.waitGone("the dialog to close", dialog)
	if got := tb.text(`//*[@data-testid="flash"]`); !strings.Contains(got, "Ingest robot") || !strings.Contains(got, "revoked") {
		t.Errorf("after Yes, Revoke the page says %q", got)
	}
	tb.focusOnFlash("Ingest robot")
	if got := eval[string](tb, `window.e2eMark || ""`); got != "the same page" {
		t.Error("Yes, Revoke loaded the page again")
	}
	if got := tb.loads(); len(got) != 0 {
		t.Errorf("the dialog loaded pages: %q", got)
	}
	if a.token(ingest.ID).Active() {
		t.Error("Ingest robot is still active after Yes, Revoke")
	}
	if !tb.has(within("System Tokens", row("Encoder fleet"))) {
		t.Error("revoking Ingest robot took Encoder fleet off the page too")
	}

	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(button("Sign out"))
	if got := tb.path(); got != "/login" {
		t.Errorf("signing out led to %s", got)
	}
}

// The same steps with JavaScript turned off: the menu, the forms and the
// confirmation as a page of its own all work as plain HTML.
func TestWithoutJavaScript(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a, withoutJavaScript)
	tb.signIn(a.owner)
	if !eval[bool](tb, `typeof window.htmx === "undefined"`) {
		t.Fatal("the page's scripts ran: JavaScript is not off")
	}
	tb.visit("/tokens/personal/new")
	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(menuItem("Token Management"))

	tb.clickToLoad(button("Add New Personal Token"))
	tb.typeInto("Token Name", "Shell scripts")
	tb.clickToLoad(button("Create Personal Token"))
	tb.newKey("personal", "Shell scripts")
	if tb.has(button("Copy")) {
		t.Error("the Copy button shows without the script that makes it work")
	}
	tb.checkAccessibility("Token Management showing a new key, without JavaScript")
	tb.visit("/tokens")
	tb.noKeyShown()

	tb.clickToLoad(button("Add New System Token"))
	tb.typeInto("Token Name", "Ingest robot")
	tb.click(label("Video User"))
	tb.click(label("Billing Manager"))
	tb.clickToLoad(button("Create System Token"))
	tb.newKey("system", "Ingest robot")
	if got := tb.text(within("System Tokens", row("Ingest robot")+`//*[@data-testid="token-roles"]`)); got != "Video User, Billing Manager" {
		t.Errorf("System Tokens shows the roles of Ingest robot as %q", got)
	}

	revoke := within("System Tokens", row("Encoder fleet")+`//a[normalize-space(.)="Revoke"]`)
	confirmPage := fmt.Sprintf("/tokens/%d/revoke", a.encoders.ID)
	tb.clickToLoad(revoke)
	if got := tb.path(); got != confirmPage {
		t.Fatalf("Revoke led to %s, want the confirmation page %s", got, confirmPage)
	}
	if got := tb.text(`//h1`); got != "Revoke Token" {
		t.Errorf("the confirmation page is headed %q", got)
	}
	if got := tb.text(`//*[@data-testid="revoke-token-name"]`); got != "Encoder fleet" {
		t.Errorf("the confirmation names %q", got)
	}
	tb.checkAccessibility("the Revoke Token page")
	tb.snapshot("revoke page")
	tb.clickToLoad(button("Cancel"))
	if got := tb.path(); got != "/tokens" {
		t.Errorf("Cancel led to %s", got)
	}
	tb.stillThere("Encoder fleet", a.encoders.ID, "Cancel")

	tb.clickToLoad(revoke)
	tb.clickToLoad(button("Yes, Revoke"))
	if got := tb.path(); got != "/tokens" {
		t.Errorf("Yes, Revoke led to %s, want /tokens", got)
	}
	if tb.has(within("System Tokens", row("Encoder fleet"))) {
		t.Error("Encoder fleet is still listed after Yes, Revoke")
	}
	if got := tb.text(`//*[@data-testid="flash"]`); !strings.Contains(got, "Encoder fleet") || !strings.Contains(got, "revoked") {
		t.Errorf("after Yes, Revoke the page says %q", got)
	}
	if a.token(a.encoders.ID).Active() {
		t.Error("Encoder fleet is still active after Yes, Revoke")
	}

	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(button("Sign out"))
	if got := tb.path(); got != "/login" {
		t.Errorf("signing out led to %s", got)
	}
}

// Everything with the keyboard alone: Tab, Enter and Escape.
func TestKeyboardOnly(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)
	tb.visit("/login")
	tb.waitFocused("textbox: Email", "the sign-in page starts")
	tb.press(a.member.Email)
	tb.tabTo("textbox: Password")
	tb.press(password)
	tb.pressToLoad(kb.Enter)
	if got := tb.path(); got != "/tokens" {
		t.Fatalf("signing in with the keyboard led to %s", got)
	}

	tb.tabTo("link: Add New Personal Token")
	tb.pressToLoad(kb.Enter)
	tb.waitFocused("textbox: Token Name", "Add New Personal Token starts")
	tb.press("Stream checker")
	tb.tabTo("button: Create Personal Token")
	tb.pressToLoad(kb.Enter)
	key := tb.newKey("personal", "Stream checker")

	tb.tabTo("button: Copy")
	tb.press(kb.Enter)
	tb.waitFor("the copy status", `document.querySelector("[data-testid=copy-status]").innerText !== ""`)
	if got := eval[string](tb, `navigator.clipboard.readText()`); got != key {
		t.Errorf("Copy by keyboard put %q on the clipboard, want the key", got)
	}

	tb.tabTo("link: Revoke Stream checker")
	tb.press(kb.Enter)
	tb.waitFor("the dialog", `!!document.querySelector("dialog[open]")`)
	tb.waitFocused("button: Cancel", "the dialog opens")
	tb.press(kb.Escape)
	tb.waitGone("Escape to close the dialog", dialog)
	tb.focusBackOn("Revoke Stream checker", "Escape")

	tb.press(kb.Enter)
	tb.waitFor("the dialog", `!!document.querySelector("dialog[open]")`)
	tb.waitFocused("button: Cancel", "the dialog opens again")
	tb.press(kb.Enter)
	tb.waitGone("Cancel to close the dialog", dialog)
	tb.focusBackOn("Revoke Stream checker", "Cancel")

	tb.press(kb.Enter)
	tb.waitFor("the dialog", `!!document.querySelector("dialog[open]")`)
	tb.tabTo("button: Yes, Revoke")
	tb.press(kb.Enter)
	tb.waitGone("the row to go", within("My Tokens", row("Stream checker")))
	tb.focusOnFlash("Stream checker")

	tb.tabTo("DisclosureTriangle: User profile: Max Member Acme Streaming")
	tb.press(kb.Enter)
	tb.tabTo("link: Token Management")
	tb.tabTo("button: Sign out")
	tb.pressToLoad(kb.Enter)
	if got := tb.path(); got != "/login" {
		t.Errorf("signing out with the keyboard led to %s", got)
	}
}

// On a phone 375 pixels wide, and on a tablet, nothing scrolls sideways and
// every button is on the screen, its words whole.
func TestNarrowScreen(t *testing.T) {
	a := newApp(t)
	long := a.addToken(a.owner, store.KindSystem, "eu_west_1_transcoder_production_primary", store.RoleAdmin)
	a.addToken(a.member, store.KindPersonal, "max_laptop_cli_uploads_for_the_weekly_highlights_reel")
	tb := newTab(t, a, narrowScreen)

	tb.visit("/login")
	tb.fits("the sign-in page")
	tb.signIn(a.owner)
	tb.fits("Token Management")
	tb.snapshot("narrow tokens")
	tb.openProfileMenu("Ana Owner")
	tb.fits("Token Management with the profile menu open")

	tb.visit("/tokens/personal/new")
	tb.fits("Add New Personal Token")
	tb.visit("/tokens/system/new")
	tb.fits("Add New System Token")
	tb.typeInto("Token Name", "nightly_transcode_pipeline_eu_west_1_backup")
	tb.expectStatus("POST", "/tokens/system", 422)
	tb.clickToLoad(button("Create System Token"))
	tb.fits("Add New System Token with a mistake")
	tb.click(label("Administrator"))
	tb.clickToLoad(button("Create System Token"))
	tb.newKey("system", "nightly_transcode_pipeline_eu_west_1_backup")
	tb.fits("Token Management showing a new key")
	tb.snapshot("narrow new key")

	revoke := within("System Tokens", row(long.Name)+`//a[normalize-space(.)="Revoke"]`)
	tb.openRevokeDialog(revoke, long.Name)
	tb.fits("the open Revoke Token dialog")
	tb.snapshot("narrow dialog")

	tb.visit(fmt.Sprintf("/tokens/%d/revoke", long.ID))
	tb.fits("the Revoke Token page")
	tb.snapshot("narrow confirmation")

	// A tablet held upright, where the lists are tables again.
	tb.do("turn into a tablet", chromedp.EmulateViewport(768, 1024, chromedp.EmulateMobile))
	tb.width = 768
	tb.visit("/tokens")
	tb.fits("Token Management on a tablet")
	tb.snapshot("tablet tokens")
}

// signIn signs in through the sign-in form, by its labels.
func (tb *tab) signIn(m store.Member) {
	tb.t.Helper()
	tb.visit("/login")
	tb.typeInto("Email", m.Email)
	tb.typeInto("Password", password)
	tb.clickToLoad(button("Sign in"))
	if got := tb.path(); got != "/tokens" {
		tb.t.Fatalf("signing in as %s led to %s", m.Email, got)
	}
}

// fieldError checks the form came back with a message beside the field,
// which describes the field, and the field marked invalid. An empty label
// is a group of checkboxes, which has no one field to mark.
func (tb *tab) fieldError(label, testid string) {
	tb.t.Helper()
	sel := fmt.Sprintf(`//*[@data-testid=%s]`, xpathString(testid))
	msg, id := tb.text(sel), onElement[string](tb, sel, `e.id`)
	if msg == "" {
		tb.t.Errorf("no message in %s", testid)
	}
	if label == "" {
		return
	}
	if got := onElement[string](tb, field(label), `e.getAttribute("aria-invalid") || ""`); got != "true" {
		tb.t.Errorf("%s is not marked invalid", label)
	}
	if got := onElement[string](tb, field(label), `e.getAttribute("aria-describedby") || ""`); !slices.Contains(strings.Fields(got), id) {
		tb.t.Errorf("%s is not described by its message %q", label, msg)
	}
}

// openRevokeDialog clicks a Revoke button and checks the dialog that opens
// names the token and has the focus.
func (tb *tab) openRevokeDialog(revoke, name string) {
	tb.t.Helper()
	tb.click(revoke)
	tb.find(dialog)
	if got := tb.text(dialog + `//h2`); got != "Revoke Token" {
		tb.t.Errorf("the dialog is titled %q, want Revoke Token", got)
	}
	if got := tb.text(dialog + `//*[@data-testid="revoke-token-name"]`); got != name {
		tb.t.Errorf("the dialog names %q, want %q", got, name)
	}
	if got := tb.accessibleName(dialog); got != "dialog: Revoke Token" {
		tb.t.Errorf("the dialog is %q to assistive technology", got)
	}
	tb.focusInDialog()
}

func (tb *tab) focusInDialog() {
	tb.t.Helper()
	if !eval[bool](tb, `!!document.activeElement.closest("dialog[open]")`) {
		tb.t.Errorf("the dialog opened with the focus on %q, outside it", tb.focused())
	}
}

// focusOnFlash checks the focus is on the message that says the token
// was revoked.
func (tb *tab) focusOnFlash(name string) {
	tb.t.Helper()
	tb.waitFor("the focus on the message", fmt.Sprintf(`document.activeElement.dataset.testid === "flash" && document.activeElement.innerText.includes(%s)`, jsString("“"+name+"”")))
}

// focusBackOn checks the focus went back to the button named name.
func (tb *tab) focusBackOn(name, after string) {
	tb.t.Helper()
	tb.waitFor("the focus to come back", fmt.Sprintf(`document.activeElement && document.activeElement.getAttribute("aria-label") === %s`, jsString(name)))
}

// stillThere checks a token is listed and active after what should have
// changed nothing.
func (tb *tab) stillThere(name string, id int64, after string) {
	tb.t.Helper()
	if !tb.has(row(name)) {
		tb.t.Errorf("after %s, %s is no longer listed", after, name)
	}
	if !tb.app.token(id).Active() {
		tb.t.Errorf("after %s, %s is revoked", after, name)
	}
}

// waitFocused waits for the focus to be on want, as focused describes it:
// autofocus moves it a moment after the page loads.
func (tb *tab) waitFocused(want, when string) {
	tb.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(stepTimeout)
	for {
		got := tb.focused()
		if got == want {
			return
		}
		select {
		case <-timeout:
			tb.t.Errorf("%s with the focus on %q, want %q", when, got, want)
			return
		case <-tick.C:
		}
	}
}

// tabTo presses Tab until want has the focus, as focused describes it.
func (tb *tab) tabTo(want string) {
	tb.t.Helper()
	var seen []string
	for range 40 {
		got := tb.focused()
		if got == want {
			return
		}
		seen = append(seen, got)
		tb.press(kb.Tab)
	}
	tb.t.Fatalf("Tab never reached %q; it went through %q", want, seen)
}

// fits checks nothing on the page reaches beyond the width of the
// screen, and no button's words break across lines.
func (tb *tab) fits(what string) {
	tb.t.Helper()
	problems := eval[[]string](tb, `((width) => {
		const out = [];
		if (window.innerWidth !== width) out.push("the page is laid out " + window.innerWidth + " pixels wide");
		const sw = document.documentElement.scrollWidth;
		if (sw > width) out.push("the page scrolls sideways: " + sw + " pixels wide");
		for (const e of document.querySelectorAll("a.button, button, summary, input, select, dialog[open], h1, h2")) {
			if (!e.checkVisibility({visibilityProperty: true})) continue;
			const r = e.getBoundingClientRect();
			if (r.left < 0 || r.right > width) {
				out.push(e.tagName.toLowerCase() + " " + JSON.stringify(e.innerText.trim().slice(0, 40) || e.name || e.id) + " spans " + Math.round(r.left) + " to " + Math.round(r.right));
			}
		}
		for (const e of document.querySelectorAll("main, section, .card, dialog, h1, h2, p, td, th")) {
			if (e.checkVisibility() && !e.closest("thead, .visually-hidden") && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible") {
				out.push(e.tagName.toLowerCase() + " " + JSON.stringify(e.innerText.trim().slice(0, 40)) + " overflows its box");
			}
		}
		for (const e of document.querySelectorAll("a.button, button")) {
			if (!e.checkVisibility({visibilityProperty: true})) continue;
			const r = document.createRange();
			r.selectNodeContents(e);
			const lines = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
			if (lines.size > 1) out.push("the button " + JSON.stringify(e.innerText.replace(/\s+/g, " ").trim()) + " breaks over " + lines.size + " lines");
		}
		return out;
	})(`+fmt.Sprint(tb.width)+`)`)
	for _, p := range problems {
		tb.t.Errorf("%d pixels wide, %s (%s): %s", tb.width, what, tb.path(), p)
	}
	if len(problems) > 0 {
		tb.screenshot("narrow " + what)
	}
}
