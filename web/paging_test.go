package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"tokend/store"
)

// A long list shows its newest tokens and a link to older ones, a page at a
// time, with nothing left out and nothing twice.
func TestTokenListsPage(t *testing.T) {
	app := newTestApp(t)
	const n = pageSize + 5
	for i := range n {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("token %02d", i))
	}
	c := app.signIn(app.member)
	seen := map[string]bool{}
	path, pages := "/tokens", 0
	for path != "" {
		r := c.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, r.StatusCode)
		}
		names := r.rowNames("my-tokens")
		if pages == 0 && (len(names) != pageSize || names[0] != fmt.Sprintf("token %02d", n-1)) {
			t.Fatalf("first page: %d rows starting %q, want %d newest first", len(names), names[0], pageSize)
		}
		for _, name := range names {
			if seen[name] {
				t.Fatalf("%q listed twice", name)
			}
			seen[name] = true
		}
		path, _ = r.doc.Find(`[data-testid=my-tokens] [data-testid=show-older]`).Attr("href")
		path, _, _ = strings.Cut(path, "#")
		if pages++; pages > 3 {
			t.Fatal("more pages than there are tokens")
		}
	}
	if len(seen) != n || pages != 2 {
		t.Errorf("%d tokens over %d pages, want %d over 2", len(seen), pages, n)
	}
}
