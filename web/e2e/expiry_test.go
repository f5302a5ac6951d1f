package e2e

import (
	"testing"
	"time"
)

// With JavaScript, the custom date appears only once "Custom date" is
// chosen, takes the focus, and the token made with it lists its expiry.
func TestCustomExpirationDate(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a)
	tb.signIn(a.member)
	tb.visit("/tokens/personal/new")
	if tb.has(field("Custom date")) {
		t.Error("the custom date shows before Custom date is chosen")
	}
	tb.typeInto("Token Name", "Quarterly export")
	eval[bool](tb, `(() => { const s = document.getElementById("expires"); s.value = "custom"; s.dispatchEvent(new Event("change")); return true; })()`)
	if !tb.has(field("Custom date")) {
		t.Fatal("choosing Custom date does not show the date")
	}
	if got := eval[string](tb, `document.activeElement.id`); got != "expires_on" {
		t.Errorf("after choosing Custom date the focus is on #%s, want the date", got)
	}
	day := time.Now().UTC().AddDate(0, 2, 0).Format(time.DateOnly)
	eval[bool](tb, `(() => { document.getElementById("expires_on").value = "`+day+`"; return true; })()`)
	tb.clickToLoad(button("Create Personal Token"))
	want, _ := time.Parse(time.DateOnly, day)
	if got := tb.text(row("Quarterly export") + `/td[@data-label="Expires"]`); got != want.Format("Jan 2, 2006") {
		t.Errorf("Expires %q, want %q", got, want.Format("Jan 2, 2006"))
	}
	tb.checkAccessibility("the new key with a custom expiry")
}
