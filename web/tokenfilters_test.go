package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
	"tokend/views"
)

// Each filter in the URL shows in the form and narrows the lists it applies
// to, and only those: the name, state, last use and order every list; the
// member Organization User Tokens; the role System Tokens; the creator
// both; the kind which lists there are.
func TestTokenFiltersRoundTripThroughTheURL(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	ana, maxc := f.signIn(f.owner), f.signIn(f.member)
	maxID, miaID := strconv.FormatInt(f.member.ID, 10), strconv.FormatInt(f.member2.ID, 10)
	allUser := []string{"mia-today", "deploy-staging", "ana-cli", "mia-deploy", "mia-expired", "laptop", "deploy-prod"}
	allSystem := []string{"deploy-bot", "billing-export", "encoder"}
	none := []string{}
	tests := []struct {
		name, query string
		viewer      *client
		// field is the form field the query fills in, and its value there.
		field, value string
		want         map[string][]string // by section; a section left out is not shown
		ordered      bool
	}{
		{"name contains", "q=deploy", ana, "filter-q", "deploy",
			map[string][]string{"my-tokens": none, "user-tokens": {"deploy-staging", "mia-deploy", "deploy-prod"}, "system-tokens": {"deploy-bot"}}, false},
		{"name contains, any case", "q=DePLoY", ana, "filter-q", "DePLoY",
			map[string][]string{"my-tokens": none, "user-tokens": {"deploy-staging", "mia-deploy", "deploy-prod"}, "system-tokens": {"deploy-bot"}}, false},
		{"kind system", "kind=system", ana, "filter-kind", "system",
			map[string][]string{"system-tokens": allSystem}, false},
		{"kind personal", "kind=personal", ana, "filter-kind", "personal",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": allUser}, false},
		{"state active", "state=active", ana, "filter-state", "active",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-today", "deploy-staging", "ana-cli", "mia-deploy", "laptop", "deploy-prod"}, "system-tokens": allSystem}, false},
		{"state expiring", "state=expiring", ana, "filter-state", "expiring",
			map[string][]string{"my-tokens": none, "user-tokens": {"mia-today", "deploy-staging"}, "system-tokens": {"deploy-bot"}}, false},
		{"state expired", "state=expired", ana, "filter-state", "expired",
			map[string][]string{"my-tokens": none, "user-tokens": {"mia-expired"}, "system-tokens": none}, false},
		{"state revoked", "state=revoked", ana, "filter-state", "revoked",
			map[string][]string{"my-tokens": none, "user-tokens": {"old-ci"}, "system-tokens": none}, false},
		{"state all", "state=all", ana, "filter-state", "all",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": append(slices.Clone(allUser), "old-ci"), "system-tokens": allSystem}, false},
		{"the first release's show=revoked", "show=revoked", ana, "filter-state", "all",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": append(slices.Clone(allUser), "old-ci"), "system-tokens": allSystem}, false},
		{"member", "member_id=" + miaID, ana, "filter-member", miaID,
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-today", "mia-deploy", "mia-expired"}, "system-tokens": allSystem}, false},
		{"role", "role=billing", ana, "filter-role", "billing",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": allUser, "system-tokens": {"billing-export"}}, false},
		{"created by", "created_by=" + maxID, ana, "filter-created-by", maxID,
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"deploy-staging", "laptop", "deploy-prod"}, "system-tokens": none}, false},
		{"never used", "last_used=never", ana, "filter-last-used", "never",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-today", "deploy-staging", "ana-cli", "mia-expired", "laptop"}, "system-tokens": {"deploy-bot", "billing-export"}}, false},
		{"not used in 90 days", "last_used=90", ana, "filter-last-used", "90",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-today", "deploy-staging", "ana-cli", "mia-expired", "laptop", "deploy-prod"}, "system-tokens": {"deploy-bot", "billing-export"}}, false},
		{"not used in 365 days", "last_used=365", ana, "filter-last-used", "365",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-today", "deploy-staging", "ana-cli", "mia-expired", "laptop"}, "system-tokens": {"deploy-bot", "billing-export"}}, false},
		{"sorted by last use", "sort=last_used", ana, "filter-sort", "last_used",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-deploy", "deploy-prod", "mia-today", "deploy-staging", "ana-cli", "mia-expired", "laptop"}, "system-tokens": {"encoder", "deploy-bot", "billing-export"}}, true},
		{"sorted by expiry", "sort=expires", ana, "filter-sort", "expires",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": {"mia-expired", "mia-today", "deploy-staging", "deploy-prod", "laptop", "mia-deploy", "ana-cli"}, "system-tokens": {"deploy-bot", "encoder", "billing-export"}}, true},
		{"name, state and last use together", "q=deploy&state=active&last_used=90", ana, "filter-q", "deploy",
			map[string][]string{"my-tokens": none, "user-tokens": {"deploy-staging", "deploy-prod"}, "system-tokens": {"deploy-bot"}}, false},
		{"empty fields, as the form sends them, are no filter", "q=&kind=&state=&member_id=&role=&created_by=&last_used=&sort=", ana, "filter-state", "",
			map[string][]string{"my-tokens": {"ana-cli"}, "user-tokens": allUser, "system-tokens": allSystem}, false},
		{"a member searches their own", "q=deploy", maxc, "filter-q", "deploy",
			map[string][]string{"my-tokens": {"deploy-staging", "deploy-prod"}}, false},
		{"a member's owner-only filters are no filter", "member_id=" + miaID + "&kind=system&role=admin", maxc, "filter-q", "",
			map[string][]string{"my-tokens": {"deploy-staging", "laptop", "deploy-prod"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.viewer.in(t).get("/tokens?" + tt.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d\n%s", r.StatusCode, r.body)
			}
			got := sections(r)
			for s, want := range tt.want {
				if g, ok := got[s]; !ok {
					t.Errorf("%s is not shown", s)
				} else if tt.ordered && !slices.Equal(g, want) || !tt.ordered && !sameNames(g, want) {
					t.Errorf("%s lists %q, want %q", s, g, want)
				}
			}
			for s := range got {
				if _, ok := tt.want[s]; !ok {
					t.Errorf("%s is shown, want it left out", s)
				}
			}
			if strings.Contains(r.body, "deploy-globex") {
				t.Error("Globex's token is on Acme's page")
			}
			value := r.doc.Find(`#`+tt.field).AttrOr("value", "")
			if tt.field != "filter-q" {
				value = r.selected(tt.field)
			}
			if value != tt.value {
				t.Errorf("the form shows %s = %q, want %q", tt.field, value, tt.value)
			}
			for _, label := range []string{"filter-q", "filter-state", "filter-last-used", "filter-sort"} {
				if !r.has(`label[for=` + label + `]`) {
					t.Errorf("%s has no label", label)
				}
			}
			if owner := tt.viewer == ana; r.has(`#filter-member`) != owner || r.has(`#filter-role`) != owner || r.has(`#filter-kind`) != owner {
				t.Errorf("owner-only filters shown: %v, want %v", r.has(`#filter-member`), owner)
			}
		})
	}
}

// The filter form works without JavaScript (a GET form to /tokens) and with
// htmx updates the lists in place as one types, the URL kept in step.
func TestTokenFilterFormAndHTMX(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	page := c.get("/tokens")
	form := page.doc.Find(`[data-testid=filter-form]`)
	if form.AttrOr("method", "") != "get" || form.AttrOr("action", "") != "/tokens" {
		t.Errorf("the filter form is %s %s, want a GET of /tokens", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	if form.AttrOr("hx-get", "") != "/tokens" || form.AttrOr("hx-target", "") != "#token-lists" || form.AttrOr("hx-push-url", "") != "true" ||
		!strings.Contains(form.AttrOr("hx-trigger", ""), "input changed delay:300ms") {
		t.Errorf("the filter form is not enhanced for live filtering: %v", form.Nodes[0].Attr)
	}
	if form.Find(`#token-lists`).Length() != 0 || page.doc.Find(`#token-lists [data-testid=filter-form]`).Length() != 0 {
		t.Error("the form is inside the lists htmx replaces: typing would lose the focus")
	}
	if page.has(`[data-testid=clear-filters]`) {
		t.Error("Clear filters offered with no filter")
	}

	r := c.get("/tokens?q=deploy&kind=&state=active&member_id=&role=&created_by=&last_used=&sort=", "HX-Request", "true")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	if !isFragment(r.body) || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="token-lists"`) {
		t.Errorf("htmx got more than the lists:\n%.300s", r.body)
	}
	if got := r.Header.Get("HX-Push-Url"); got != "/tokens?q=deploy&state=active" {
		t.Errorf("HX-Push-Url %q, want the view without the empty fields", got)
	}
	if got := sections(r)["user-tokens"]; !sameNames(got, []string{"deploy-staging", "mia-deploy", "deploy-prod"}) {
		t.Errorf("the fragment lists %q", got)
	}
	// The form's buttons come along out of band, so that Clear filters
	// appears as one filters and goes once nothing is.
	oob := r.doc.Find(`#filter-actions[hx-swap-oob=true]`)
	if oob.Length() != 1 || oob.Find(`[data-testid=clear-filters]`).AttrOr("href", "") != "/tokens" {
		t.Errorf("the filtered fragment does not bring Clear filters along:\n%s", r.body)
	}
	if page.doc.Find(`#filter-actions`).Length() != 1 || page.has(`[hx-swap-oob]`) {
		t.Error("the page's filter form has no #filter-actions for htmx to replace, or the page has an out-of-band part")
	}
	r = c.get("/tokens?q=", "HX-Request", "true")
	if oob := r.doc.Find(`#filter-actions[hx-swap-oob=true]`); oob.Length() != 1 || oob.Find(`[data-testid=clear-filters]`).Length() != 0 {
		t.Errorf("with the search emptied, the fragment's buttons still offer Clear filters:\n%s", r.body)
	}
	full := c.get("/tokens?q=deploy&state=active")
	if !full.has(`[data-testid=clear-filters]`) || full.doc.Find(`[data-testid=clear-filters]`).AttrOr("href", "") != "/tokens" {
		t.Error("a filtered page offers no Clear filters")
	}
}

// A value the form does not offer is said beside its field, and no list
// pretends to answer it.
func TestTokenFiltersRefuseWhatTheFormDoesNotOffer(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	for query, field := range map[string]string{
		"state=bogus":          "state",
		"kind=owner":           "kind",
		"role=owner":           "role",
		"member_id=abc":        "member_id",
		"created_by=020":       "created_by",
		"last_used=7":          "last_used",
		"sort=name":            "sort",
		"q=a&q=b":              "q",
		"state=active&state=a": "state",
	} {
		t.Run(query, func(t *testing.T) {
			r := c.in(t).get("/tokens?" + query)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.StatusCode)
			}
			if !r.has(`[data-testid=filter-error]`) || r.text(`[data-testid=error-`+field+`]`) == "" {
				t.Errorf("no message for %s", field)
			}
			if field != "q" && !r.has(`[name=`+field+`][aria-invalid=true]`) {
				t.Errorf("%s is not marked invalid", field)
			}
			if r.has(`[data-testid=token-row]`) {
				t.Error("lists shown for filters that do not read")
			}
		})
	}
	// What was typed stays in the form, to correct.
	if r := c.get("/tokens?state=bogus"); r.selected("filter-state") != "bogus" {
		t.Errorf("the form shows state %q, want what the URL said", r.selected("filter-state"))
	}
}

// "Show older tokens" keeps the filters and the order, and pages each list
// by its own cursor; the first release's ?my_before=<id> still works.
func TestTokenFiltersKeptWhenPaging(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	const n = pageSize + 5
	for i := range n {
		app.createExpiring(t, app.member, store.KindPersonal, fmt.Sprintf("deploy %02d", i), app.now.AddDate(0, 0, 60-i))
	}
	for i := range 3 {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("other %d", i))
	}
	c := app.signIn(app.member)
	for _, sort := range []string{"", "expires"} {
		t.Run("sort="+sort, func(t *testing.T) {
			path := "/tokens?q=deploy"
			if sort != "" {
				path += "&sort=" + sort
			}
			var seen []string
			for pages := 0; path != ""; pages++ {
				if pages > 2 {
					t.Fatal("more pages than there are tokens")
				}
				r := c.in(t).get(path)
				if r.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d", path, r.StatusCode)
				}
				if got := r.doc.Find(`#filter-q`).AttrOr("value", ""); got != "deploy" {
					t.Errorf("%s: the form lost the search: %q", path, got)
				}
				if got := r.text(`[data-testid=my-tokens] [data-testid=list-count]`); got != fmt.Sprintf("%d of %d tokens", n, n+3) {
					t.Errorf("count %q", got)
				}
				seen = append(seen, r.rowNames("my-tokens")...)
				path = r.doc.Find(`[data-testid=my-tokens] [data-testid=show-older]`).AttrOr("href", "")
				if path != "" {
					u, _ := url.Parse(path)
					if u.Query().Get("q") != "deploy" || u.Query().Get("sort") != sort || u.Query().Get("my_before") == "" || u.Fragment != "my-tokens-heading" {
						t.Errorf("Show older tokens is %q: it loses the view", path)
					}
				}
				path, _, _ = strings.Cut(path, "#")
			}
			want := make([]string, n)
			for i := range n {
				want[i] = fmt.Sprintf("deploy %02d", n-1-i) // newest first, and soonest to expire first
			}
			if !slices.Equal(seen, want) {
				t.Errorf("pages listed %q, want %q", seen, want)
			}
		})
	}
	t.Run("the first release's my_before", func(t *testing.T) {
		r := c.in(t).get("/tokens")
		older := r.doc.Find(`[data-testid=my-tokens] [data-testid=show-older]`).AttrOr("href", "")
		u, _ := url.Parse(older)
		id := u.Query().Get("my_before")
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			t.Fatalf("the created order's cursor is %q, want a plain id", id)
		}
		if got := c.in(t).get("/tokens?my_before=" + id).rowNames("my-tokens"); len(got) != n+3-pageSize {
			t.Errorf("?my_before=%s lists %d tokens, want %d", id, len(got), n+3-pageSize)
		}
	})
}

// Each list says how many tokens match and how many it holds.
func TestTokenListCounts(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	for query, want := range map[string][3]string{
		"":                           {"1 token", "7 of 8 tokens", "3 tokens"},
		"state=all":                  {"1 token", "8 tokens", "3 tokens"},
		"q=deploy":                   {"0 of 1 token", "3 of 8 tokens", "1 of 3 tokens"},
		"state=expiring":             {"0 of 1 token", "2 of 8 tokens", "1 of 3 tokens"},
		"last_used=never&q=mia":      {"0 of 1 token", "2 of 8 tokens", "0 of 3 tokens"},
		"state=revoked&sort=expires": {"0 of 1 token", "1 of 8 tokens", "0 of 3 tokens"},
	} {
		r := c.in(t).get("/tokens?" + query)
		for i, s := range []string{"my-tokens", "user-tokens", "system-tokens"} {
			if got := r.text(`[data-testid=` + s + `] [data-testid=list-count]`); got != want[i] {
				t.Errorf("?%s: %s says %q, want %q", query, s, got, want[i])
			}
		}
	}
	if got := f.signIn(f.member).get("/tokens").text(`[data-testid=my-tokens] [data-testid=list-count]`); got != "3 of 4 tokens" {
		t.Errorf("Max's count %q, want 3 of 4 tokens (one revoked)", got)
	}
	if got := c.get("/tokens?q=nothing-like-it").text(`[data-testid=user-tokens] [data-testid=empty]`); got != "No tokens match these filters." {
		t.Errorf("an empty filtered list says %q", got)
	}
}

// A notice at the top warns of the tokens the viewer manages that expire
// within 7 days and links to them; rows say when.
func TestExpiryWarnings(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	for _, tt := range []struct {
		who  store.Member
		want string
	}{
		{f.owner, "3 tokens expire within 7 days"},
		{f.member, "1 token expires within 7 days"},
		{f.member2, "1 token expires within 7 days"},
		{f.otherOwner, ""},
	} {
		r := f.signIn(tt.who).get("/tokens")
		if got := r.text(`[data-testid=expiry-notice]`); got != tt.want {
			t.Errorf("%s sees the notice %q, want %q", tt.who.Name, got, tt.want)
		}
		if tt.want != "" {
			if href := r.doc.Find(`[data-testid=expiry-notice] a`).AttrOr("href", ""); href != "/tokens?state=expiring" {
				t.Errorf("the notice links to %q", href)
			}
		}
	}
	r := f.signIn(f.owner).get("/tokens?state=all")
	for list, rows := range map[string]map[string]string{
		"user-tokens":   {"deploy-staging": "Expires in 2 days", "mia-today": "Expires today", "mia-expired": "", "laptop": "", "old-ci": ""},
		"system-tokens": {"deploy-bot": "Expires tomorrow", "encoder": ""},
	} {
		for name, want := range rows {
			row := r.row(t, list, name)
			if got := cellText(row.Find(`[data-testid=token-expires-soon]`)); got != want {
				t.Errorf("%s says %q, want %q", name, got, want)
			}
		}
	}
	expired := r.row(t, "user-tokens", "mia-expired")
	if got := cellText(expired.Find(`[data-testid=token-expired]`)); got != "Expired" {
		t.Errorf("an expired row says %q, want Expired", got)
	}
	// Eight days out is no warning.
	f.make(f.member, store.KindPersonal, "next-week", f.now.Add(8*24*time.Hour))
	if got := cellText(f.signIn(f.member).get("/tokens").row(t, "my-tokens", "next-week").Find(`[data-testid=token-expires-soon]`)); got != "" {
		t.Errorf("a token expiring in 8 days says %q", got)
	}
}

// Revoking one token from a filtered view comes back to it.
func TestRevokeKeepsTheFilters(t *testing.T) {
	t.Parallel()
	f := newFilterFixture(t)
	c := f.signIn(f.owner)
	r := c.get("/tokens?q=deploy&sort=expires")
	link := r.row(t, "user-tokens", "deploy-prod").Find(`[data-testid=revoke]`).AttrOr("href", "")
	if want := fmt.Sprintf("/tokens/%d/revoke?q=deploy&sort=expires", f.ids["deploy-prod"]); link != want {
		t.Fatalf("revoke link %q, want %q", link, want)
	}
	confirm := c.get(link)
	if back := confirm.doc.Find(`[data-testid=cancel-revoke]`).AttrOr("href", ""); back != "/tokens?q=deploy&sort=expires" {
		t.Errorf("Cancel goes to %q", back)
	}
	done := c.postForm(link, nil)
	if done.StatusCode != http.StatusSeeOther || done.location() != "/tokens?q=deploy&sort=expires" {
		t.Errorf("after Yes, Revoke: %d to %q", done.StatusCode, done.location())
	}
	hx := c.postForm(fmt.Sprintf("/tokens/%d/revoke?q=deploy", f.ids["mia-deploy"]), nil, "HX-Request", "true")
	if got := hx.rowNames("user-tokens"); !sameNames(got, []string{"deploy-staging"}) {
		t.Errorf("htmx revoke answered the lists %q, want the filtered view", got)
	}
}

// TestCountCapAgrees: the page says "10,000+" exactly where the store stops
// counting.
func TestCountCapAgrees(t *testing.T) {
	if views.CountCap != store.CountCap {
		t.Fatalf("views.CountCap = %d, store.CountCap = %d", views.CountCap, store.CountCap)
	}
	if got := views.Number(store.CountCap + 1); got != "10,000+" {
		t.Errorf("Number(cap+1) = %q", got)
	}
	// What matches stops at the cap; the list in all is counted whole.
	for _, tt := range []struct {
		s    views.ListSummary
		want string
	}{
		{views.ListSummary{Count: store.CountCap + 1, Total: 52_310}, "10,000+ of 52,310 tokens"},
		{views.ListSummary{Count: 3, Total: 120}, "3 of 120 tokens"},
		{views.ListSummary{Count: 12_000, Total: 12_000}, "12,000 tokens"},
		{views.ListSummary{Count: 1, Total: 1}, "1 token"},
	} {
		if got := tt.s.CountText(); got != tt.want {
			t.Errorf("%+v says %q, want %q", tt.s, got, tt.want)
		}
	}
}
