package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokend/store"
)

// rowsIn is JavaScript counting the rows of the list with that data-testid.
func rowsIn(list string) string {
	return fmt.Sprintf(`document.querySelectorAll("[data-testid=%s] [data-testid=token-row]").length`, list)
}

// addExpiring makes a token in the store that expires at exp.
func (a *app) addExpiring(by store.Member, kind store.TokenKind, name string, exp time.Time, roles ...store.Role) store.Token {
	a.t.Helper()
	tok, _, err := a.db.CreateToken(context.Background(), by, store.NewToken{Kind: kind, Name: name, Roles: roles, ExpiresAt: &exp})
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// With JavaScript, the lists follow the search as one types, without a page
// load, and the address bar keeps the view; rows ticked are revoked through
// one Revoke Token dialog.
func TestLiveFilteringAndBulkRevokeDialog(t *testing.T) {
	a := newApp(t)
	deployA := a.addToken(a.member, store.KindPersonal, "deploy-api")
	deployW := a.addToken(a.member, store.KindPersonal, "deploy-web")
	a.addToken(a.owner, store.KindSystem, "deploy-robot", store.RoleVideo)
	exp := time.Now().Add(50 * time.Hour)
	a.addExpiring(a.member, store.KindPersonal, "nightly-export", exp)
	tb := newTab(t, a)
	tb.signIn(a.owner)
	if got := tb.text(`//*[@data-testid="expiry-notice"]`); got != "1 token expires within 7 days" {
		t.Errorf("the notice says %q", got)
	}
	today, day := time.Now().UTC().Truncate(24*time.Hour), exp.UTC().Truncate(24*time.Hour)
	want := fmt.Sprintf("Expires in %d days", int(day.Sub(today).Hours()/24)) // 2, or 3 late in the day (UTC)
	if got := tb.text(within("Organization User Tokens", row("nightly-export")+`//*[@data-testid="token-expires-soon"]`)); got != want {
		t.Errorf("the expiring row says %q, want %q", got, want)
	}
	tb.checkAccessibility("Token Management with the filters")
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.e2eMark = "the same page"`))
	tb.loads()

	tb.typeInto("Token name contains", "deploy")
	tb.waitFor("the lists to follow the search", rowsIn("user-tokens")+` === 2 && `+rowsIn("system-tokens")+` === 1`)
	tb.waitFor("the address bar to follow", `location.pathname + location.search === "/tokens?q=deploy"`)
	tb.waitFor("Clear filters to be offered", `document.querySelectorAll("[data-testid=clear-filters]").length === 1`)
	if got := tb.text(within("Organization User Tokens", `//*[@data-testid="list-count"]`)); got != "2 of 5 tokens" {
		t.Errorf("Organization User Tokens says %q", got)
	}
	eval[bool](tb, `(() => { const s = document.getElementById("filter-kind"); s.value = "personal"; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`)
	tb.waitGone("System Tokens to go", heading("System Tokens"))
	tb.waitFor("the address bar to follow", `location.search === "?kind=personal&q=deploy"`)
	if got := eval[string](tb, `window.e2eMark || ""`); got != "the same page" {
		t.Error("filtering loaded the page again")
	}
	if got := tb.loads(); len(got) != 0 {
		t.Errorf("filtering loaded pages: %q", got)
	}
	if got := tb.value(field("Token name contains")); got != "deploy" {
		t.Errorf("the search field holds %q after the lists changed", got)
	}
	tb.snapshot("filtered")

	// Tick two rows; Revoke selected opens one dialog naming both.
	tb.click(within("Organization User Tokens", field("Select deploy-api")))
	tb.click(within("Organization User Tokens", field("Select deploy-web")))
	tb.click(within("Organization User Tokens", button("Revoke selected")))
	tb.find(dialog)
	if got := tb.text(dialog + `//h2`); got != "Revoke Token" {
		t.Errorf("the dialog is titled %q", got)
	}
	if got := tb.text(dialog + `//*[@data-testid="bulk-revoke-count"]`); !strings.HasPrefix(got, "Revoke 2 tokens?") {
		t.Errorf("the dialog says %q", got)
	}
	tb.focusInDialog()
	tb.checkAccessibility("the Revoke Token dialog for two tokens")
	tb.click(dialog + button("Cancel"))
	tb.waitGone("Cancel to close the dialog", dialog)
	tb.stillThere("deploy-api", deployA.ID, "Cancel")

	tb.click(within("Organization User Tokens", button("Revoke selected")))
	tb.find(dialog)
	tb.click(dialog + button("Yes, Revoke"))
	tb.waitGone("the dialog to close", dialog)
	tb.waitFor("the rows to go", rowsIn("user-tokens")+` === 0`)
	if got := tb.text(`//*[@data-testid="flash"]`); got != "Revoked 2 tokens." {
		t.Errorf("after Yes, Revoke the page says %q", got)
	}
	if a.token(deployA.ID).Active() || a.token(deployW.ID).Active() {
		t.Error("the ticked tokens still work")
	}
	if got := tb.path(); got != "/tokens?kind=personal&q=deploy" {
		t.Errorf("after Yes, Revoke the address bar shows %s", got)
	}
	if got := eval[string](tb, `window.e2eMark || ""`); got != "the same page" {
		t.Error("Yes, Revoke loaded the page again")
	}
}

// "Select all N matching" ticks the rows shown and takes every token the
// filters match, beyond the first page.
func TestSelectAllMatching(t *testing.T) {
	a := newApp(t)
	const n = 55
	for i := range n {
		a.addToken(a.owner, store.KindSystem, fmt.Sprintf("batch %02d", i), store.RoleViewer)
	}
	tb := newTab(t, a)
	tb.signIn(a.owner)
	tb.visit("/tokens?q=batch&kind=system")
	all := fmt.Sprintf("Select all %d matching", n)
	tb.click(label(all))
	if got := eval[int](tb, `document.querySelectorAll("input[name=ids][form=bulk-system]:checked").length`); got != 50 {
		t.Errorf("Select all ticked %d rows, want the 50 shown", got)
	}
	tb.checkAccessibility("Select all ticked")
	tb.click(within("System Tokens", field("Select batch 54")))
	if eval[bool](tb, `document.getElementById("select-all-system").checked`) {
		t.Error("unticking a row left Select all ticked")
	}
	tb.click(label(all))
	tb.click(within("System Tokens", button("Revoke selected")))
	tb.find(dialog)
	if got := tb.text(dialog + `//*[@data-testid="bulk-revoke-count"]`); !strings.HasPrefix(got, fmt.Sprintf("Revoke %d tokens?", n)) {
		t.Errorf("the dialog says %q", got)
	}
	if got := tb.text(dialog + `//*[@data-testid="bulk-revoke-more"]`); got != fmt.Sprintf("and %d more", n-20) {
		t.Errorf("the dialog says %q after the first 20", got)
	}
	tb.click(dialog + button("Yes, Revoke"))
	tb.waitGone("the dialog to close", dialog)
	tb.waitFor("the message", `document.querySelector("[data-testid=flash]").innerText === "Revoked `+fmt.Sprint(n)+` tokens."`)
	if !a.token(a.encoders.ID).Active() {
		t.Error("Select all revoked a token the search does not match")
	}
	ts, err := a.db.ListTokens(context.Background(), a.owner, store.TokenFilter{Kind: store.KindSystem, Q: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 0 {
		t.Errorf("%d batch tokens still work", len(ts))
	}
}

// Without JavaScript the filter form is a plain GET, and Revoke selected
// leads to a Revoke Token page of its own.
func TestFiltersAndBulkRevokeWithoutJavaScript(t *testing.T) {
	a := newApp(t)
	tok := a.addToken(a.member, store.KindPersonal, "deploy-api")
	a.addToken(a.member, store.KindPersonal, "deploy-web")
	tb := newTab(t, a, withoutJavaScript)
	tb.signIn(a.owner)
	tb.typeInto("Token name contains", "deploy-a")
	tb.clickToLoad(button("Filter"))
	if got := tb.path(); !strings.HasPrefix(got, "/tokens?q=deploy-a&") {
		t.Errorf("Filter led to %s", got)
	}
	if got := tb.text(within("Organization User Tokens", `//*[@data-testid="list-count"]`)); got != "1 of 4 tokens" {
		t.Errorf("Organization User Tokens says %q", got)
	}
	tb.checkAccessibility("the filtered page, without JavaScript")
	tb.click(within("Organization User Tokens", field("Select deploy-api")))
	tb.clickToLoad(within("Organization User Tokens", button("Revoke selected")))
	if got := tb.path(); !strings.HasPrefix(got, "/tokens/bulk-revoke?") {
		t.Fatalf("Revoke selected led to %s", got)
	}
	if got := tb.text(`//h1`); got != "Revoke Token" {
		t.Errorf("the confirmation page is headed %q", got)
	}
	if got := tb.text(`//*[@data-testid="revoke-token-name"]`); got != "deploy-api" {
		t.Errorf("the confirmation names %q", got)
	}
	tb.checkAccessibility("the Revoke Token page for selected tokens")
	tb.clickToLoad(button("Yes, Revoke"))
	if got := tb.path(); got != "/tokens?q=deploy-a" {
		t.Errorf("Yes, Revoke led to %s", got)
	}
	if got := tb.text(`//*[@data-testid="flash"]`); got != "Revoked 1 token." {
		t.Errorf("the page says %q", got)
	}
	if a.token(tok.ID).Active() {
		t.Error("deploy-api still works")
	}
}
