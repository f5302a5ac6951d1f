package web

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// filterFixture is a testApp whose Acme tokens differ in everything the
// filters look at. At app.now (Nov 26, 2026 12:00 UTC), by creation order:
//
//	deploy-prod     Max   personal  used 100 days ago
//	laptop          Max   personal  never used
//	old-ci          Max   personal  revoked
//	mia-expired     Mia   personal  expired yesterday
//	mia-deploy      Mia   personal  used yesterday
//	ana-cli         Ana   personal  never used
//	encoder         Acme  system    video, used yesterday
//	billing-export  Acme  system    billing
//	deploy-staging  Max   personal  expires in 2 days
//	deploy-bot      Acme  system    admin, expires tomorrow
//	mia-today       Mia   personal  expires today, in 3 hours
//
// and Globex has deploy-globex, which no Acme list may show.
type filterFixture struct {
	*testApp
	ids  map[string]int64
	keys map[string]store.TokenText
}

func newFilterFixture(t *testing.T) *filterFixture {
	t.Helper()
	f := &filterFixture{testApp: newTestApp(t), ids: map[string]int64{}, keys: map[string]store.TokenText{}}
	base := f.now
	f.setNow(base.AddDate(0, 0, -200))
	f.make(f.member, store.KindPersonal, "deploy-prod", time.Time{})
	f.make(f.member, store.KindPersonal, "laptop", time.Time{})
	f.make(f.member, store.KindPersonal, "old-ci", time.Time{})
	f.revokeInStore(t, f.member, f.ids["old-ci"])
	f.make(f.member2, store.KindPersonal, "mia-expired", base.AddDate(0, 0, -1))
	f.make(f.member2, store.KindPersonal, "mia-deploy", time.Time{})
	f.make(f.owner, store.KindPersonal, "ana-cli", time.Time{})
	f.make(f.owner, store.KindSystem, "encoder", time.Time{}, store.RoleVideo)
	f.make(f.owner, store.KindSystem, "billing-export", time.Time{}, store.RoleBilling)
	f.make(f.otherOwner, store.KindPersonal, "deploy-globex", time.Time{})
	f.useAt("deploy-prod", base.AddDate(0, 0, -100))
	f.useAt("mia-deploy", base.AddDate(0, 0, -1))
	f.useAt("encoder", base.AddDate(0, 0, -1))
	f.setNow(base)
	f.make(f.member, store.KindPersonal, "deploy-staging", base.Add(49*time.Hour))
	f.make(f.owner, store.KindSystem, "deploy-bot", base.Add(24*time.Hour), store.RoleAdmin)
	f.make(f.member2, store.KindPersonal, "mia-today", base.Add(3*time.Hour))
	return f
}

// make creates a token in the store, expiring at exp unless that is zero.
func (f *filterFixture) make(by store.Member, kind store.TokenKind, name string, exp time.Time, roles ...store.Role) store.Token {
	f.t.Helper()
	nt := store.NewToken{Kind: kind, Name: name, Roles: roles}
	if !exp.IsZero() {
		nt.ExpiresAt = &exp
	}
	tok, key, err := f.db.CreateToken(context.Background(), by, nt)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ids[name], f.keys[name] = tok.ID, key
	return tok
}

// useAt records a use of the token named name at the time at, as a check
// of it on the API would.
func (f *filterFixture) useAt(name string, at time.Time) {
	f.t.Helper()
	now := f.now
	f.setNow(at)
	defer f.setNow(now)
	ctx := context.Background()
	if _, err := f.db.Verify(ctx, string(f.keys[name]), "192.0.2.7"); err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.FlushLastUsed(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// active reports whether the token named name still works.
func (f *filterFixture) active(name string) bool {
	f.t.Helper()
	owner := f.owner
	if name == "deploy-globex" {
		owner = f.otherOwner
	}
	return f.token(f.ids[name], owner).Active()
}

// sections is what the page lists in each of its sections, by data-testid;
// a section the page does not show is absent.
func sections(r *response) map[string][]string {
	out := map[string][]string{}
	for _, s := range []string{"my-tokens", "user-tokens", "system-tokens"} {
		if r.has(`[data-testid=` + s + `]`) {
			out[s] = r.rowNames(s)
			if out[s] == nil {
				out[s] = []string{}
			}
		}
	}
	return out
}

// selected is the value of the option chosen in the select with id.
func (r *response) selected(id string) string {
	return r.doc.Find(`#`+id+` option[selected]`).AttrOr("value", "")
}

// bulkRequest is the GET a browser makes when Revoke selected of list (my,
// user or system) is pressed with the rows named tick ticked, and, if all,
// "Select all N matching": the form's action, its hidden fields, and the
// checkboxes that belong to it by their form attribute.
func bulkRequest(t *testing.T, r *response, list string, all bool, tick ...string) string {
	t.Helper()
	form := r.doc.Find(`form#bulk-` + list)
	if form.Length() != 1 {
		t.Fatalf("no Revoke selected form for %s", list)
	}
	q := url.Values{}
	form.Find(`input[type=hidden]`).Each(func(_ int, in *goquery.Selection) {
		q.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	if all {
		box := form.Find(`input[name=all]`)
		q.Add("all", box.AttrOr("value", ""))
	}
	for _, name := range tick {
		box := r.row(t, list+"-tokens", name).Find(`input[name=ids][form=bulk-` + list + `]`)
		if box.Length() != 1 {
			t.Fatalf("%s has no checkbox in %s", name, list)
		}
		q.Add("ids", box.AttrOr("value", ""))
	}
	return form.AttrOr("action", "") + "?" + q.Encode()
}

// confirmForm is the Yes, Revoke form of a bulk confirmation: where it
// posts and the ids it carries.
func confirmForm(t *testing.T, r *response) (string, url.Values) {
	t.Helper()
	form := r.doc.Find(`[data-testid=revoke-confirm] form[method=post]`)
	if form.Length() != 1 {
		t.Fatalf("no Yes, Revoke form:\n%s", r.body)
	}
	v := url.Values{}
	form.Find(`input[name=ids]`).Each(func(_ int, in *goquery.Selection) { v.Add("ids", in.AttrOr("value", "")) })
	return form.AttrOr("action", ""), v
}

// confirmNames are the tokens a bulk confirmation names.
func confirmNames(r *response) []string {
	var names []string
	r.doc.Find(`[data-testid=bulk-revoke-token] [data-testid=revoke-token-name]`).Each(func(_ int, s *goquery.Selection) {
		names = append(names, cellText(s))
	})
	return names
}

// sameNames reports whether got and want hold the same names, in any order.
func sameNames(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// isFragment reports whether body is a fragment of a page, not a page.
func isFragment(body string) bool {
	return !strings.Contains(strings.ToLower(body), "<html")
}
