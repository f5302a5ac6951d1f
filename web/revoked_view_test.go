package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"tokend/store"
)

// Revoked tokens stay in the record and can be shown: a member's token
// revoked because they left says so, and a revoked row offers no Revoke.
func TestShowRevokedTokens(t *testing.T) {
	app := newTestApp(t)
	left := app.addMember("Acme Streaming", "lea@acme.test", "Lea Leaving", store.RoleViewer)
	app.createToken(left, store.KindPersonal, "lea's script")
	mine, _ := app.createToken(app.owner, store.KindPersonal, "old laptop")
	app.createToken(app.owner, store.KindPersonal, "new laptop")
	if _, _, err := app.db.RevokeToken(context.Background(), app.owner, mine.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := app.db.RemoveMember(context.Background(), left.Email); err != nil {
		t.Fatal(err)
	}
	c := app.signIn(app.owner)

	plain := c.get("/tokens")
	if got := plain.rowNames("user-tokens"); len(got) != 1 || got[0] != "new laptop" {
		t.Errorf("default view lists %q, want only the working token", got)
	}
	// Revoked tokens are a choice of the State filter; the first
	// release's ?show=revoked still asks for them.
	if got := plain.doc.Find(`#filter-state option[selected]`).AttrOr("value", "?"); got != "" {
		t.Errorf("the State filter starts at %q, want Not revoked", got)
	}
	all := c.get("/tokens?show=revoked")
	if all.StatusCode != http.StatusOK {
		t.Fatalf("status %d", all.StatusCode)
	}
	if got := all.rowNames("user-tokens"); len(got) != 3 {
		t.Fatalf("with revoked: %q, want all three", got)
	}
	lea := all.row(t, "user-tokens", "lea's script")
	if got := cellText(lea.Find(`[data-testid=token-revoked]`)); !strings.HasPrefix(got, "Revoked: member left") {
		t.Errorf("the leaver's token says %q, want it revoked because the member left", got)
	}
	old := all.row(t, "my-tokens", "old laptop")
	if got := cellText(old.Find(`[data-testid=token-revoked]`)); !strings.HasPrefix(got, "Revoked ") {
		t.Errorf("a revoked token says %q", got)
	}
	if old.Find(`[data-testid=revoke]`).Length() != 0 || lea.Find(`[data-testid=revoke]`).Length() != 0 {
		t.Error("a revoked row offers Revoke")
	}
	if got := all.doc.Find(`#filter-state option[selected]`).AttrOr("value", ""); got != stateAll {
		t.Errorf("?show=revoked shows the State filter at %q, want all", got)
	}

	// Revoking from this view, without JavaScript, comes back to it.
	working := all.row(t, "my-tokens", "new laptop")
	link, _ := working.Find(`[data-testid=revoke]`).Attr("href")
	if !strings.HasSuffix(link, "?state=all") {
		t.Fatalf("revoke link %q loses the view", link)
	}
	confirm := c.get(link)
	if back, _ := confirm.doc.Find(`[data-testid=cancel-revoke]`).Attr("href"); back != "/tokens?state=all" {
		t.Errorf("Cancel goes to %q", back)
	}
	action, _ := confirm.doc.Find(`form[method=post]`).Last().Attr("action")
	r := c.postForm(action, nil)
	if r.StatusCode != http.StatusSeeOther || r.location() != "/tokens?state=all" {
		t.Errorf("after Yes, Revoke: %d to %q, want 303 to the same view", r.StatusCode, r.location())
	}
}
