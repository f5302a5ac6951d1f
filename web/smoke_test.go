package web

import (
	"io"
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

func TestReadyz(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	res, err := http.Get(app.server.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != `{"status":"ready","database":"ok","change_signal":"ok"}`+"\n" {
		t.Errorf("GET /readyz: %d %s, want 200 ready", res.StatusCode, body)
	}
	app.db.Close() // a database that no longer answers
	res, err = http.Get(app.server.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ = io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"status":"not ready"`) {
		t.Errorf("GET /readyz after the database closed: %d %s, want 503 not ready", res.StatusCode, body)
	}
}
