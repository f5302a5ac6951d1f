package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tokend/store"
)

func TestOwnerCreatesPersonalTokenAndSeesItOnce(t *testing.T) {
	app := newTestApp(t)
	c := app.signIn(app.owner)
	c.get("/tokens/personal/new")
	r := c.postForm("/tokens/personal", url.Values{"name": {"  Deploy bot  "}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("status %d\n%s", r.StatusCode, r.body)
	}
	key, _ := r.doc.Find(`[data-testid=new-key-value]`).Attr("value")
	if _, ok := store.ParseTokenText(key); !ok {
		t.Fatalf("key %q is not a token", key)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.text(`[data-testid=my-tokens] [data-testid=token-name]`); got != "Deploy bot" {
		t.Errorf("My Tokens = %q", got)
	}
	again := c.get("/tokens")
	if again.has(`[data-testid=new-key]`) || again.body == "" || strings.Contains(again.body, key) {
		t.Errorf("the key is shown again after reload")
	}
}
