package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tokend/store"
)

// Names that try to break out of SQL, HTML or the line are taken as text:
// stored as typed (trimmed), shown escaped, matched exactly; or refused with
// a message when they hold characters a name may not have. Through the page
// and through the API alike.
func TestHostileTokenNames(t *testing.T) {
	tests := []struct {
		name   string
		stored bool
	}{
		{`Robert'); DROP TABLE tokens;--`, true},
		{`" OR "1"="1`, true},
		{`%' OR name LIKE '%`, true},
		{`<script>alert(document.cookie)</script>`, true},
		{`<img src=x onerror=alert(1)>`, true},
		{`{{.}} ${7*7} #{7*7}`, true},
		{"../../etc/passwd", true},
		{"名前 🔑 token", true},
		{"nul\x00byte", false},
		{"line\nbreak", false},
		{"bell\a", false},
		{"right\u202eto-left", false},
		{"isolate\u2066x\u2069", false},
		{strings.Repeat("x", 101), false},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			app := newTestApp(t)
			c := app.signIn(app.member)
			c.get("/tokens/personal/new")
			page := c.postForm("/tokens/personal", url.Values{"name": {tt.name}, "expires": {"never"}})

			_, key := app.createToken(app.member, store.KindPersonal, "api caller")
			api := app.apiJSON(t, http.MethodPost, "/api/v1/tokens", string(key), map[string]string{"name": tt.name})

			tokens := app.allTokens(app.owner)
			if !tt.stored {
				if page.StatusCode != http.StatusUnprocessableEntity || api.status != http.StatusBadRequest || len(tokens) != 1 {
					t.Fatalf("page %d, API %d, %d tokens; want 422, 400 and only the caller's", page.StatusCode, api.status, len(tokens))
				}
				return
			}
			// The page made it; the API, with the same name for the same
			// member, is told it exists.
			if page.StatusCode != http.StatusCreated || api.status != http.StatusConflict {
				t.Fatalf("page %d, API %d; want 201 and 409", page.StatusCode, api.status)
			}
			var found int
			for _, tok := range tokens {
				if tok.Name == tt.name {
					found++
				}
			}
			if found != 1 || len(tokens) != 2 {
				t.Fatalf("%d tokens named %q among %d", found, tt.name, len(tokens))
			}
			list := c.get("/tokens")
			if got := list.rowNames("my-tokens"); len(got) != 2 || got[1] != tt.name {
				t.Errorf("My Tokens = %q", got)
			}
			if n := list.doc.Find("script").Length(); n != 2 {
				t.Errorf("%d <script> elements on the page, want the two static ones", n)
			}
			if n := list.doc.Find("img").Length(); n != 0 {
				t.Errorf("%d <img> elements on the page", n)
			}
			// The database is whole: every table still answers.
			if _, err := app.db.Members(context.Background(), ""); err != nil {
				t.Errorf("members after the name: %v", err)
			}
		})
	}
}
