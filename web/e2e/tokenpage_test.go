package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// The owner opens a system token's page from its row, limits it to an
// office network (the page asks first, since that shuts out the browser),
// rotates its secret with an hour's grace, copies the new key, and ends the
// grace; axe finds nothing serious on the way.
func TestTokenPageEditAndRotate(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)
	tb.signIn(a.owner)
	page := fmt.Sprintf("/tokens/%d", a.encoders.ID)

	tb.clickToLoad(within("System Tokens", row("Encoder fleet")+`//a[@data-testid="token-page-link"]`))
	if got := tb.path(); got != page {
		t.Fatalf("the row's link opened %s, want %s", got, page)
	}
	if got := tb.text(`//h1`); got != "Encoder fleet" {
		t.Errorf("heading %q", got)
	}
	if got := tb.text(`//*[@data-testid="token-roles"]`); got != "Video User" {
		t.Errorf("roles %q", got)
	}
	if label := onElement[string](tb, `//*[@data-testid="usage-chart"]`, `e.getAttribute("aria-label")`); !strings.HasPrefix(label, "Uses per day from ") {
		t.Errorf("the chart is %q to assistive technology", label)
	}
	tb.click(`//summary[normalize-space(.)="Uses per day as a table"]`)
	tb.checkAccessibility("a token's page")
	tb.snapshot("token page")

	// An allow-list without this browser's address: asked first.
	tb.typeInto("Allowed IP addresses", "203.0.113.9/24")
	tb.expectStatus("POST", page+"/edit", 422)
	tb.clickToLoad(button("Save changes"))
	if got := tb.text(`//*[@data-testid="shut-out"]`); !strings.Contains(got, "127.0.0.1") {
		t.Errorf("the warning says %q", got)
	}
	if got := tb.value(field("Allowed IP addresses")); got != "203.0.113.0/24" {
		t.Errorf("the list came back as %q, want it normalized", got)
	}
	tb.checkAccessibility("the allow-list warning")
	tb.clickToLoad(button("Save anyway"))
	if got := tb.path(); got != page {
		t.Errorf("saving led to %s", got)
	}
	if got := tb.text(`//*[@data-testid="flash"]`); got != "Changes to “Encoder fleet” saved." {
		t.Errorf("flash %q", got)
	}
	if got := a.token(a.encoders.ID).AllowedIPs.String(); got != "203.0.113.0/24" {
		t.Errorf("saved %q", got)
	}

	tb.click(label("In 1 hour"))
	tb.clickToLoad(button("Rotate secret"))
	key := tb.newKey("system", "Encoder fleet")
	if got := tb.path(); got != page {
		t.Errorf("the address bar shows %s after rotating, want %s so a reload does not post again", got, page)
	}
	if !strings.HasSuffix(key, a.token(a.encoders.ID).LastFour) {
		t.Error("the key shown is not the token's new secret")
	}
	if got := tb.text(`//*[@data-testid="grace-until"]`); !strings.HasPrefix(got, "The previous secret ("+a.encoders.Hint()+") keeps working until ") {
		t.Errorf("the page says %q", got)
	}
	tb.click(button("Copy"))
	tb.waitFor("the copy status", `document.querySelector("[data-testid=copy-status]").innerText !== ""`)
	if got := eval[string](tb, `navigator.clipboard.readText()`); got != key {
		t.Errorf("the clipboard holds %q, want the key", got)
	}
	tb.checkAccessibility("a token's page showing its new key")
	tb.snapshot("rotated")
	if _, err := a.db.Verify(context.Background(), key, "203.0.113.5"); err != nil {
		t.Errorf("the new key does not work: %v", err)
	}

	tb.visit(page)
	tb.noKeyShown()
	tb.clickToLoad(button("End grace period now"))
	if got := tb.text(`//*[@data-testid="flash"]`); got != "The previous secret ("+a.encoders.Hint()+") no longer works." {
		t.Errorf("flash %q", got)
	}
	if tb.has(`//*[@data-testid="grace"]`) || !tb.has(button("Rotate secret")) {
		t.Error("after ending the grace the page still shows it, or offers no rotation")
	}
	tb.checkAccessibility("a token's page after its grace")
}
