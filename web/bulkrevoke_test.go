package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// Without JavaScript: tick rows, Revoke selected opens the Revoke Token
// page naming how many and which; Cancel goes back; Yes, Revoke revokes
// them and comes back to the same view saying so.
func TestBulkRevokeWithoutJavaScript(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	page := c.get("/tokens?q=deploy&sort=expires")
	path := bulkRequest(t, page, "user", false, "deploy-prod", "mia-deploy")
	if !strings.HasPrefix(path, "/tokens/bulk-revoke?") {
		t.Fatalf("Revoke selected asks %q", path)
	}
	confirm := c.get(path)
	if confirm.StatusCode != http.StatusOK {
		t.Fatalf("confirmation: status %d\n%s", confirm.StatusCode, confirm.body)
	}
	if got := confirm.text(`h1`); got != "Revoke Token" {
		t.Errorf("the confirmation is titled %q", got)
	}
	if got := confirm.text(`[data-testid=bulk-revoke-count]`); !strings.HasPrefix(got, "Revoke 2 tokens?") {
		t.Errorf("the confirmation says %q", got)
	}
	if got := confirmNames(confirm); !sameNames(got, []string{"deploy-prod", "mia-deploy"}) {
		t.Errorf("the confirmation names %q", got)
	}
	if got := confirm.text(`[data-testid=bulk-revoke-list]`); !strings.Contains(got, "personal token of Mia Member") {
		t.Errorf("the confirmation does not say whose: %q", got)
	}
	if back := confirm.doc.Find(`[data-testid=cancel-revoke]`).AttrOr("href", ""); back != "/tokens?q=deploy&sort=expires" {
		t.Errorf("Cancel goes to %q", back)
	}
	for _, name := range []string{"deploy-prod", "mia-deploy"} {
		if !f.active(name) {
			t.Fatalf("%s revoked before Yes, Revoke", name)
		}
	}

	action, ids := confirmForm(t, confirm)
	if action != "/tokens/bulk-revoke?q=deploy&sort=expires" {
		t.Errorf("Yes, Revoke posts to %q", action)
	}
	done := c.postForm(action, ids)
	if done.StatusCode != http.StatusSeeOther || done.location() != "/tokens?q=deploy&sort=expires" {
		t.Fatalf("Yes, Revoke: %d to %q, want 303 to the view", done.StatusCode, done.location())
	}
	after := c.get(done.location())
	if got := after.text(`[data-testid=flash]`); got != "Revoked 2 tokens." {
		t.Errorf("the page says %q", got)
	}
	for name, want := range map[string]bool{"deploy-prod": false, "mia-deploy": false, "deploy-staging": true, "laptop": true, "deploy-bot": true} {
		if f.active(name) != want {
			t.Errorf("%s active: %v, want %v", name, !want, want)
		}
	}
	got := f.token(f.ids["deploy-prod"], f.owner)
	if got.RevokeReason != store.ReasonRevoked || !strings.Contains(got.RevokedBy, "Ana Owner") {
		t.Errorf("revoked with reason %q by %q", got.RevokeReason, got.RevokedBy)
	}
}

// With htmx, the confirmation is a dialog and Yes, Revoke answers with the
// lists, the view kept.
func TestBulkRevokeWithHTMX(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.member)
	page := c.get("/tokens?q=deploy")
	form := page.doc.Find(`form#bulk-my`)
	if form.AttrOr("hx-get", "") != "/tokens/bulk-revoke" || form.AttrOr("hx-target", "") != "#dialog-slot" {
		t.Errorf("Revoke selected is not enhanced to a dialog")
	}
	dialog := c.get(bulkRequest(t, page, "my", false, "deploy-prod"), "HX-Request", "true")
	if dialog.StatusCode != http.StatusOK || !isFragment(dialog.body) || !dialog.has(`dialog[data-testid=revoke-confirm]`) {
		t.Fatalf("htmx got %d:\n%s", dialog.StatusCode, dialog.body)
	}
	if got := dialog.text(`dialog h2`); got != "Revoke Token" {
		t.Errorf("the dialog is titled %q", got)
	}
	if !dialog.has(`dialog [data-testid=cancel-revoke][autofocus]`) {
		t.Error("the dialog does not open on Cancel")
	}
	post := dialog.doc.Find(`dialog form[method=post]`)
	if post.AttrOr("hx-post", "") != "/tokens/bulk-revoke?q=deploy" || post.AttrOr("hx-target", "") != "#token-lists" {
		t.Errorf("Yes, Revoke is not enhanced: hx-post %q", post.AttrOr("hx-post", ""))
	}
	action, ids := confirmForm(t, dialog)
	r := c.postForm(action, ids, "HX-Request", "true")
	if r.StatusCode != http.StatusOK || !isFragment(r.body) {
		t.Fatalf("htmx Yes, Revoke: %d", r.StatusCode)
	}
	if got := r.text(`[data-testid=flash]`); got != "Revoked 1 token." {
		t.Errorf("the lists say %q", got)
	}
	if got := r.rowNames("my-tokens"); !slices.Equal(got, []string{"deploy-staging"}) {
		t.Errorf("the lists show %q, want the view without the revoked token", got)
	}
	if f.active("deploy-prod") {
		t.Error("deploy-prod still works")
	}
}

// A crafted selection with a token that is not the member's (another
// member's, another organization's, or none) revokes nothing and says so,
// at the confirmation and at Yes, Revoke.
func TestBulkRevokeCraftedForeignIDChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.member)
	c.get("/tokens")
	own := strconv.FormatInt(f.ids["deploy-prod"], 10)
	for name, foreign := range map[string]string{
		"another member's":       strconv.FormatInt(f.ids["mia-deploy"], 10),
		"a system token":         strconv.FormatInt(f.ids["encoder"], 10),
		"another organization's": strconv.FormatInt(f.ids["deploy-globex"], 10),
		"none":                   "999999",
		"not an id":              "abc",
		"an id written oddly":    "0" + own,
	} {
		t.Run(name, func(t *testing.T) {
			c := c.in(t)
			before := tokensByID(f.testApp)
			ids := url.Values{"ids": {own, foreign}}
			for _, r := range []*response{
				c.get("/tokens/bulk-revoke?" + ids.Encode()),
				c.postForm("/tokens/bulk-revoke", ids),
				c.postForm("/tokens/bulk-revoke", ids, "HX-Request", "true"),
			} {
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("status %d, want 404", r.StatusCode)
				}
				if !strings.Contains(r.body, "1 of the 2 selected tokens cannot be revoked by you or do not exist") {
					t.Errorf("the answer does not say why:\n%.2000s", r.body)
				}
				if r.has(`[data-testid=confirm-revoke]`) {
					t.Error("a refused selection still offers Yes, Revoke")
				}
			}
			assertUnchanged(t, before, tokensByID(f.testApp))
		})
	}
}

// A member may select and revoke only their own tokens: only those rows
// have a checkbox, revoked rows none, and the owner's lists are not theirs
// to select all of.
func TestBulkRevokeOnlyWhatTheViewerMayRevoke(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	maxc := f.signIn(f.member)
	page := maxc.get("/tokens?state=all")
	var ticked []string
	page.doc.Find(`input[name=ids]`).Each(func(_ int, box *goquery.Selection) {
		ticked = append(ticked, box.AttrOr("value", ""))
	})
	want := []string{strconv.FormatInt(f.ids["deploy-staging"], 10), strconv.FormatInt(f.ids["laptop"], 10), strconv.FormatInt(f.ids["deploy-prod"], 10)}
	if !sameNames(ticked, want) {
		t.Errorf("Max may tick %q, want his working tokens %q", ticked, want)
	}
	if page.row(t, "my-tokens", "old-ci").Find(`input[type=checkbox]`).Length() != 0 {
		t.Error("a revoked row has a checkbox")
	}
	for _, box := range page.doc.Find(`input[name=ids]`).EachIter() {
		id := box.AttrOr("id", "")
		if label := cellText(page.doc.Find(`label[for=` + id + `]`)); !strings.HasPrefix(label, "Select ") || len(label) <= len("Select ") {
			t.Errorf("checkbox %s is labelled %q", id, label)
		}
	}
	if page.has(`form#bulk-user`) || page.has(`form#bulk-system`) {
		t.Error("a member is offered the owner's lists")
	}
	for _, list := range []string{"user", "system"} {
		if r := maxc.get("/tokens/bulk-revoke?all=1&list=" + list); r.StatusCode != http.StatusForbidden {
			t.Errorf("a member selecting all of %s: status %d, want 403", list, r.StatusCode)
		}
	}

	owner := f.signIn(f.owner).get("/tokens?state=all")
	if owner.row(t, "user-tokens", "old-ci").Find(`input[type=checkbox]`).Length() != 0 {
		t.Error("the owner's revoked row has a checkbox")
	}
	if owner.row(t, "system-tokens", "encoder").Find(`input[name=ids][form=bulk-system]`).Length() != 1 {
		t.Error("the owner cannot tick a system token")
	}
	if got := owner.text(`#bulk-user label`); got != "Select all 7 matching" {
		t.Errorf("the owner is offered %q, want the 7 working tokens of the view", got)
	}
	if r := f.signIn(f.owner).get("/tokens?state=revoked"); r.has(`[data-testid=bulk-form]`) {
		t.Error("Revoke selected offered on a list of revoked tokens")
	}
}

// "Select all N matching" takes every working token the list's filters
// match, beyond the rows shown, listing the first 20.
func TestBulkRevokeSelectAllMatching(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	for i := range pageSize + 5 {
		f.make(f.member2, store.KindPersonal, fmt.Sprintf("batch %02d", i), f.now.AddDate(0, 0, 30))
	}
	c := f.signIn(f.owner)
	page := c.get("/tokens?q=batch&state=all")
	if got := len(page.rowNames("user-tokens")); got != pageSize {
		t.Fatalf("the page shows %d rows", got)
	}
	if got := page.text(`#bulk-user label`); got != fmt.Sprintf("Select all %d matching", pageSize+5) {
		t.Errorf("the choice says %q", got)
	}
	confirm := c.get(bulkRequest(t, page, "user", true, "batch 07"))
	if got := confirm.text(`[data-testid=bulk-revoke-count]`); !strings.HasPrefix(got, fmt.Sprintf("Revoke %d tokens?", pageSize+5)) {
		t.Errorf("the confirmation says %q", got)
	}
	if got := len(confirmNames(confirm)); got != 20 {
		t.Errorf("the confirmation names %d tokens, want the first 20", got)
	}
	if got := confirm.text(`[data-testid=bulk-revoke-more]`); got != fmt.Sprintf("and %d more", pageSize+5-20) {
		t.Errorf("then says %q", got)
	}
	action, ids := confirmForm(t, confirm)
	before := tokensByID(f.testApp)
	if r := c.postForm(action, ids); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Yes, Revoke: status %d", r.StatusCode)
	}
	if got := c.get("/tokens?q=batch&state=all").text(`[data-testid=flash]`); got != fmt.Sprintf("Revoked %d tokens.", pageSize+5) {
		t.Errorf("the page says %q", got)
	}
	revoked, created, other := tokenChanges(before, tokensByID(f.testApp))
	if len(revoked) != pageSize+5 || len(created)+len(other) > 0 {
		t.Fatalf("revoked %d, created %d, other %v", len(revoked), len(created), other)
	}
	for _, id := range revoked {
		if tok := f.token(id, f.owner); !strings.HasPrefix(tok.Name, "batch ") {
			t.Errorf("revoked %q, which the filter does not match", tok.Name)
		}
	}
}

// More than 1,000 matching tokens are refused with a clear message, and
// nothing is revoked.
func TestBulkRevokeRefusesMoreThanAThousand(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	for i := range store.MaxBulkRevoke + 1 {
		f.make(f.owner, store.KindSystem, fmt.Sprintf("fleet %04d", i), f.now.AddDate(1, 0, 0), store.RoleViewer)
	}
	c := f.signIn(f.owner)
	page := c.get("/tokens?q=fleet")
	if got := page.text(`#bulk-system label`); got != "Select all 1,001 matching" {
		t.Errorf("the choice says %q", got)
	}
	before := tokensByID(f.testApp)
	r := c.get(bulkRequest(t, page, "system", true))
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.StatusCode)
	}
	if !strings.Contains(r.body, "1,001 tokens match these filters, and at most 1,000 can be revoked at once.") {
		t.Errorf("the refusal does not say why:\n%.1500s", r.body)
	}
	ids := url.Values{}
	for _, tok := range before {
		if strings.HasPrefix(tok.Name, "fleet ") {
			ids.Add("ids", strconv.FormatInt(tok.ID, 10))
		}
	}
	if r := c.get("/tokens/bulk-revoke?" + ids.Encode()); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("1,001 ids ticked: status %d, want 422", r.StatusCode)
	}
	if r := c.postForm("/tokens/bulk-revoke", ids); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("1,001 ids posted: status %d, want 422", r.StatusCode)
	}
	if got := c.get("/tokens/bulk-revoke"); got.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got.body, "Select at least one token") {
		t.Errorf("nothing selected: status %d", got.StatusCode)
	}
	assertUnchanged(t, before, tokensByID(f.testApp))
}

// The permission matrix of Yes, Revoke for several tokens: each actor,
// each kind of token, alone and beside one of the actor's own.
func TestBulkRevokePermissionMatrix(t *testing.T) {
	t.Parallel()
	for _, row := range revokeMatrix {
		for a := maxMember; a < numActors; a++ {
			t.Run(fmt.Sprintf("%s %s", a, row.object), func(t *testing.T) {
				t.Parallel()
				f := newPermFixtureOn(t, filepath.Join(t.TempDir(), "tokend.db"))
				c := f.browser(a)
				before := f.tokens()
				id := strconv.FormatInt(f.ids[row.object], 10)
				confirm := c.get("/tokens/bulk-revoke?ids=" + id)
				r := c.postForm("/tokens/bulk-revoke", url.Values{"ids": {id}})
				after := f.tokens()
				revoked, created, other := tokenChanges(before, after)
				if len(created)+len(other) > 0 {
					t.Fatalf("created %d, other %v", len(created), other)
				}
				switch row.access[a] {
				case mayRevoke:
					if confirm.StatusCode != http.StatusOK || !slices.Equal(confirmNames(confirm), []string{row.object.String()}) {
						t.Errorf("confirmation: status %d naming %q", confirm.StatusCode, confirmNames(confirm))
					}
					if r.StatusCode != http.StatusSeeOther || !slices.Equal(revoked, []int64{f.ids[row.object]}) {
						t.Errorf("Yes, Revoke: status %d, revoked %v", r.StatusCode, revoked)
					}
				case notTheirs:
					if confirm.StatusCode != http.StatusNotFound || r.StatusCode != http.StatusNotFound || len(revoked) > 0 {
						t.Errorf("statuses %d and %d, revoked %v; want 404 and nothing", confirm.StatusCode, r.StatusCode, revoked)
					}
					for _, s := range f.secretsOf(a) {
						if strings.Contains(confirm.body+r.body, s) {
							t.Errorf("%s sees %q", a, s)
						}
					}
				}
			})
		}
	}
}

// Bulk revokes are in the audit log, one event a token.
func TestBulkRevokeIsAudited(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	c.get("/tokens")
	ids := url.Values{"ids": {strconv.FormatInt(f.ids["laptop"], 10), strconv.FormatInt(f.ids["encoder"], 10)}}
	if r := c.postForm("/tokens/bulk-revoke", ids); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", r.StatusCode)
	}
	es, err := f.db.AuditEvents(context.Background(), f.owner, store.AuditFilter{Action: store.ActionTokenRevoked})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range es {
		if e.ActorMemberID == f.owner.ID {
			got = append(got, e.TargetTokenID)
		}
	}
	if !sameIDs(got, []int64{f.ids["laptop"], f.ids["encoder"]}) {
		t.Errorf("audited revokes of %v", got)
	}
}

func sameIDs(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
