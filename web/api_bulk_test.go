package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"tokend/store"
)

// apiFilterFixture is the filter fixture with the tokens that call the API:
// Ana's (the owner's: acts as admin), Max's, and a system token without
// admin. Their names start with zz- so that the filters below leave them
// out: calling records a use of them.
type apiFilterFixture struct {
	*filterFixture
	admin, max, system string
}

func newAPIFilterFixture(t *testing.T) *apiFilterFixture {
	f := &apiFilterFixture{filterFixture: newFilterFixture(t)}
	f.make(f.owner, store.KindPersonal, "zz-admin", time.Time{})
	f.make(f.member, store.KindPersonal, "zz-max", time.Time{})
	f.make(f.owner, store.KindSystem, "zz-system", time.Time{}, store.RoleViewer)
	f.admin, f.max, f.system = keyOf(f.keys["zz-admin"]), keyOf(f.keys["zz-max"]), keyOf(f.keys["zz-system"])
	return f
}

// listNames is what GET /api/v1/tokens?query lists for key, in its order,
// the callers left out.
func (f *apiFilterFixture) listNames(t *testing.T, key, query string) []string {
	t.Helper()
	var names []string
	for _, tok := range f.list(t, key, query).Tokens {
		if tok.Name[:3] != "zz-" {
			names = append(names, tok.Name)
		}
	}
	return names
}

func TestAPIListTokensFilters(t *testing.T) {
	t.Parallel()
	f := newAPIFilterFixture(t)
	miaID := strconv.FormatInt(f.member2.ID, 10)
	for _, tt := range []struct {
		query   string
		key     string
		want    []string
		ordered bool
	}{
		{"q=deploy", f.admin, []string{"deploy-staging", "mia-deploy", "deploy-prod", "deploy-bot"}, false},
		{"q=DEPLOY&kind=system", f.admin, []string{"deploy-bot"}, false},
		{"state=expiring", f.admin, []string{"mia-today", "deploy-staging", "deploy-bot"}, false},
		{"member_id=" + miaID, f.admin, []string{"mia-today", "mia-deploy", "mia-expired"}, false},
		{"member_id=" + miaID + "&state=all&q=expired", f.admin, []string{"mia-expired"}, false},
		{"role=billing", f.admin, []string{"billing-export"}, false},
		{"role=admin&kind=system", f.admin, []string{"deploy-bot"}, false},
		{"expires_before=2026-11-28", f.admin, []string{"mia-expired", "mia-today", "deploy-bot"}, false},
		{"expires_before=2026-11-28T14:00:00Z", f.admin, []string{"mia-expired", "mia-today", "deploy-bot", "deploy-staging"}, false},
		{"last_used_before=2026-10-01&q=-", f.admin, []string{"mia-today", "deploy-staging", "deploy-bot", "billing-export", "ana-cli", "mia-expired", "deploy-prod"}, false},
		{"never_used=true&kind=system", f.admin, []string{"deploy-bot", "billing-export"}, false},
		{"never_used=false&kind=system&q=o", f.admin, []string{"deploy-bot", "billing-export", "encoder"}, false},
		{"sort=last_used&kind=system", f.admin, []string{"encoder", "deploy-bot", "billing-export"}, true},
		{"sort=expires&q=deploy", f.admin, []string{"deploy-bot", "deploy-staging", "deploy-prod", "mia-deploy"}, true},
		{"sort=created&q=deploy", f.admin, []string{"deploy-bot", "deploy-staging", "mia-deploy", "deploy-prod"}, true},
		{"q=deploy", f.max, []string{"deploy-staging", "deploy-prod"}, false},
		{"state=expiring", f.max, []string{"deploy-staging"}, false},
		{"member_id=" + strconv.FormatInt(f.member.ID, 10), f.max, []string{"deploy-staging", "laptop", "deploy-prod"}, false},
	} {
		got := f.listNames(t, tt.key, tt.query)
		if tt.ordered && !slices.Equal(got, tt.want) || !tt.ordered && !sameNames(got, tt.want) {
			t.Errorf("?%s lists %q, want %q", tt.query, got, tt.want)
		}
	}
}

// Bad values are refused with 400 naming the parameter; what a token not
// acting as admin may not see is 403.
func TestAPIListTokensRefusesBadFilters(t *testing.T) {
	t.Parallel()
	f := newAPIFilterFixture(t)
	for query, field := range map[string]string{
		"member_id=abc":                       "member_id",
		"member_id=0":                         "member_id",
		"member_id=07":                        "member_id",
		"role=owner":                          "role",
		"role=Admin":                          "role",
		"role=admin&kind=personal":            "role",
		"expires_before=tomorrow":             "expires_before",
		"expires_before=2026-13-01":           "expires_before",
		"last_used_before=2026-11-26%2010:00": "last_used_before",
		"never_used=yes":                      "never_used",
		"never_used=1":                        "never_used",
		"sort=name":                           "sort",
		"sort=created&sort=expires":           "sort",
		"q=":                                  "q",
		"q=a&q=b":                             "q",
		"state=soon":                          "state",
		"cursor=1.x":                          "cursor",
		"cursor=5.0":                          "cursor",
		"member=2":                            "member",
	} {
		f.apiGet(t, "/api/v1/tokens?"+query, f.admin).invalid(t, field)
	}
	for _, query := range []string{"member_id=" + strconv.FormatInt(f.member2.ID, 10), "role=video", "kind=system"} {
		f.apiGet(t, "/api/v1/tokens?"+query, f.max).refusal(t, http.StatusForbidden, "insufficient_role")
	}
	f.apiGet(t, "/api/v1/tokens?q=deploy", f.system).refusal(t, http.StatusForbidden, "insufficient_role")
}

// Every sort pages with its cursor, each token once, in order, and the
// first release's plain-id cursor still works.
func TestAPIListTokensSortedPages(t *testing.T) {
	t.Parallel()
	f := newAPIFilterFixture(t)
	// The caller's own use, written now rather than by the background
	// flush halfway through.
	f.list(t, f.admin, "")
	if err := f.db.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"created", "last_used", "expires"} {
		all := f.listNames(t, f.admin, "state=all&q=-&sort="+sort)
		var paged []string
		query := "state=all&q=-&limit=2&sort=" + sort
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("sort=%s: more pages than tokens", sort)
			}
			p := f.list(t, f.admin, query)
			for _, tok := range p.Tokens {
				if tok.Name[:3] != "zz-" {
					paged = append(paged, tok.Name)
				}
			}
			if p.NextCursor == nil {
				break
			}
			query = "state=all&q=-&limit=2&sort=" + sort + "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		if !slices.Equal(paged, all) {
			t.Errorf("sort=%s pages through %q, want %q", sort, paged, all)
		}
	}
	p := f.list(t, f.admin, "q=-&limit=1")
	if p.NextCursor == nil {
		t.Fatal("no next page")
	}
	if _, err := strconv.ParseInt(*p.NextCursor, 10, 64); err != nil {
		t.Errorf("the created order's cursor is %q, want a plain id as before", *p.NextCursor)
	}
}

func TestAPIBulkRevoke(t *testing.T) {
	t.Parallel()
	f := newAPIFilterFixture(t)
	id := func(name string) int64 { return f.ids[name] }
	type result struct {
		ID     int64  `json:"id"`
		Result string `json:"result"`
	}
	var out struct {
		Results []result `json:"results"`
	}

	t.Run("a personal token revokes its member's own; the rest are not found", func(t *testing.T) {
		before := tokensByID(f.testApp)
		body := map[string]any{"ids": []int64{id("laptop"), id("mia-deploy"), id("encoder"), id("deploy-globex"), 999999, id("old-ci"), id("laptop")}}
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.max, body).ok(t, http.StatusOK, &out)
		want := []result{
			{id("laptop"), "revoked"}, {id("mia-deploy"), "not_found"}, {id("encoder"), "not_found"},
			{id("deploy-globex"), "not_found"}, {999999, "not_found"}, {id("old-ci"), "already_revoked"},
		}
		if !slices.Equal(out.Results, want) {
			t.Errorf("results %+v, want %+v", out.Results, want)
		}
		revoked, created, other := tokenChanges(before, tokensByID(f.testApp))
		if !slices.Equal(revoked, []int64{id("laptop")}) || len(created)+len(other) > 0 {
			t.Errorf("revoked %v, created %d, other %v", revoked, len(created), other)
		}
	})
	t.Run("a token acting as admin revokes any of its organization's", func(t *testing.T) {
		body := map[string]any{"ids": []int64{id("mia-deploy"), id("encoder"), id("laptop"), id("deploy-globex")}}
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.admin, body).ok(t, http.StatusOK, &out)
		want := []result{{id("mia-deploy"), "revoked"}, {id("encoder"), "revoked"}, {id("laptop"), "already_revoked"}, {id("deploy-globex"), "not_found"}}
		if !slices.Equal(out.Results, want) {
			t.Errorf("results %+v, want %+v", out.Results, want)
		}
		if f.active("mia-deploy") || f.active("encoder") || !f.active("deploy-globex") {
			t.Error("the store does not agree with the results")
		}
	})
	t.Run("a system token without admin revokes nothing", func(t *testing.T) {
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.system, map[string]any{"ids": []int64{id("billing-export")}}).ok(t, http.StatusOK, &out)
		if !slices.Equal(out.Results, []result{{id("billing-export"), "not_found"}}) || !f.active("billing-export") {
			t.Errorf("results %+v", out.Results)
		}
	})
	t.Run("bad bodies", func(t *testing.T) {
		tooMany := make([]int64, store.MaxBulkRevoke+1)
		for i := range tooMany {
			tooMany[i] = int64(i + 1)
		}
		for name, body := range map[string]any{
			"no ids":        `{}`,
			"null":          `{"ids": null}`,
			"empty":         `{"ids": []}`,
			"too many":      map[string]any{"ids": tooMany},
			"strings":       `{"ids": ["12"]}`,
			"fractions":     `{"ids": [1.5]}`,
			"another field": `{"ids": [1], "all": true}`,
		} {
			r := f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.admin, body)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", name, r.status, r.body)
			}
		}
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.admin, `{"ids": []}`).invalid(t, "ids")
		f.apiCall(t, http.MethodPost, "/api/v1/tokens/revoke", f.admin, "text/plain", `{"ids":[1]}`).refusal(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", "", `{"ids":[1]}`).refusal(t, http.StatusUnauthorized, "invalid_token")
		if !f.active("billing-export") {
			t.Error("a refused request revoked a token")
		}
	})
	t.Run("a thousand at once", func(t *testing.T) {
		ids := make([]int64, 0, store.MaxBulkRevoke)
		for i := range store.MaxBulkRevoke - 1 {
			ids = append(ids, int64(1_000_000+i))
		}
		ids = append(ids, id("billing-export"))
		f.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", f.admin, map[string]any{"ids": ids}).ok(t, http.StatusOK, &out)
		if len(out.Results) != store.MaxBulkRevoke || out.Results[len(ids)-1] != (result{id("billing-export"), "revoked"}) {
			t.Errorf("%d results, last %+v", len(out.Results), out.Results[len(out.Results)-1])
		}
	})
}

// A response to a token that expires within 7 days names its expiry in
// Tokend-Token-Expiration; to any other, no such header.
func TestAPITokenExpirationHeader(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	for _, tt := range []struct {
		name    string
		expires time.Time
		want    string
	}{
		{"in 3 hours", app.now.Add(3 * time.Hour), "2026-11-26T15:00:00Z"},
		{"in exactly 7 days", app.now.Add(store.ExpiringWithin), "2026-12-03T12:00:00Z"},
		{"in 7 days and a second", app.now.Add(store.ExpiringWithin + time.Second), ""},
		{"in 30 days", app.now.AddDate(0, 0, 30), ""},
		{"never", time.Time{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nt := store.NewToken{Kind: store.KindPersonal, Name: "expiring " + tt.name}
			if !tt.expires.IsZero() {
				nt.ExpiresAt = &tt.expires
			}
			_, key, err := app.db.CreateToken(t.Context(), app.member, nt)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []*apiResponse{
				app.apiGet(t, "/api/v1/tokens", keyOf(key)),
				app.apiGet(t, "/api/v1/token", keyOf(key)),
				app.apiGet(t, "/api/v1/token?pretty", keyOf(key)),
				app.apiJSON(t, http.MethodPost, "/api/v1/tokens/revoke", keyOf(key), `{"ids":[999999]}`),
			} {
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if got := r.header.Get("Tokend-Token-Expiration"); got != tt.want {
					t.Errorf("Tokend-Token-Expiration %q, want %q", got, tt.want)
				}
				if _, ok := r.header["Tokend-Token-Expiration"]; ok != (tt.want != "") {
					t.Errorf("header present: %v", ok)
				}
			}
		})
	}
	// A refused token gets no such header.
	if r := app.apiGet(t, "/api/v1/tokens", fmt.Sprint("tkp_", "nope")); r.header.Get("Tokend-Token-Expiration") != "" {
		t.Error("a refusal names an expiry")
	}
}
