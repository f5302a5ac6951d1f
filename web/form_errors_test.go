package web

import (
	"net/http"
	"net/url"
	"testing"
)

// A form with several mistakes shows every one beside its field at once,
// and keeps what was typed.
func TestTokenFormShowsEveryMistakeAtOnce(t *testing.T) {
	app := newTestApp(t)
	c := app.signIn(app.owner)
	c.get("/tokens/system/new")
	r := c.postForm("/tokens/system", url.Values{
		"name": {"   "}, "expires": {"custom"}, "expires_on": {"someday"},
	})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.StatusCode)
	}
	for _, field := range []string{"name", "roles", "expires"} {
		if r.text(`[data-testid=error-`+field+`]`) == "" {
			t.Errorf("no message beside %s", field)
		}
	}
	if v, _ := r.doc.Find(`input#expires_on`).Attr("value"); v != "someday" {
		t.Errorf("the typed date came back as %q", v)
	}
	if n := len(app.allTokens(app.owner)); n != 0 {
		t.Errorf("%d tokens written", n)
	}
}
