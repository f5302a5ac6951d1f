package web

import (
	"context"
	"net/http"
	"testing"

	"tokend/store"
)

// A token made through the API names the member behind it and the token it
// came through; a system token whose maker has left keeps working and is
// flagged, in the API and on the page.
func TestCreatorOfATokenMadeThroughTheAPI(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ada := app.addMember("Acme Streaming", "ada@acme.test", "Ada Admin", store.RoleAdmin)
	anaTok, anaKey := app.createToken(app.owner, store.KindPersonal, "ana-ci")
	adaTok, adaKey := app.createToken(ada, store.KindPersonal, "ada-ci")
	autoTok, autoKey := app.createToken(app.owner, store.KindSystem, "automation", store.RoleAdmin)
	app.createToken(app.owner, store.KindSystem, "on the page", store.RoleViewer)
	create := func(key store.TokenText, name string) wireCreated {
		t.Helper()
		var c wireCreated
		app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(key),
			map[string]any{"kind": "system", "name": name, "roles": []string{"video"}}).ok(t, http.StatusCreated, &c)
		return c
	}
	deploy := create(anaKey, "deploy").Token
	nightly := create(adaKey, "nightly")
	chained := create(autoKey, "chained").Token

	byName := func(p wirePage) map[string]wireToken {
		m := map[string]wireToken{}
		for _, tok := range p.Tokens {
			m[tok.Name] = tok
		}
		return m
	}
	type creator struct {
		createdBy            string
		memberID             int64
		memberEmail          string
		tokenID              int64
		tokenName, tokenHint string
		left                 bool
	}
	check := func(t *testing.T, tok wireToken, want creator) {
		t.Helper()
		got := creator{createdBy: tok.CreatedBy, left: tok.CreatorLeft}
		if m := tok.CreatedByMember; m != nil {
			got.memberID, got.memberEmail = m.ID, m.Email
			if (m.LeftAt != nil) != want.left {
				t.Errorf("%s: created_by_member.left_at %v, want set %v", tok.Name, m.LeftAt, want.left)
			}
		}
		if ct := tok.CreatedByToken; ct != nil {
			got.tokenID, got.tokenName, got.tokenHint = ct.ID, ct.Name, ct.Hint
		}
		if got != want {
			t.Errorf("%s was made by %+v, want %+v", tok.Name, got, want)
		}
	}
	wantDeploy := creator{"Ana Owner", app.owner.ID, app.owner.Email, anaTok.ID, "ana-ci", "tkp_…" + anaTok.LastFour, false}
	wantNightly := creator{"Ada Admin", ada.ID, ada.Email, adaTok.ID, "ada-ci", "tkp_…" + adaTok.LastFour, false}
	wantChained := creator{"system token automation", 0, "", autoTok.ID, "automation", "tks_…" + autoTok.LastFour, false}
	wantPage := creator{"Ana Owner", app.owner.ID, app.owner.Email, 0, "", "", false}

	t.Run("as created", func(t *testing.T) {
		check(t, deploy, wantDeploy)
		check(t, nightly.Token, wantNightly)
		check(t, chained, wantChained)
	})
	t.Run("as listed", func(t *testing.T) {
		got := byName(app.list(t, keyOf(anaKey), "kind=system"))
		check(t, got["deploy"], wantDeploy)
		check(t, got["nightly"], wantNightly)
		check(t, got["chained"], wantChained)
		check(t, got["on the page"], wantPage)
	})

	if _, err := app.db.RemoveMember(context.Background(), ada.Email); err != nil {
		t.Fatal(err)
	}
	wantNightly.left = true

	t.Run("the maker has left", func(t *testing.T) {
		var p wirePrincipal
		app.apiGet(t, "/api/v1/token", nightly.Key).ok(t, http.StatusOK, &p)
		if p.Name != "nightly" {
			t.Errorf("nightly's key is %+v", p)
		}
		got := byName(app.list(t, keyOf(anaKey), "kind=system"))
		check(t, got["nightly"], wantNightly)
		check(t, got["deploy"], wantDeploy)
		check(t, got["chained"], wantChained)
		if got["nightly"].State != "active" {
			t.Errorf("nightly is %s, want still active", got["nightly"].State)
		}
	})

	t.Run("on the page", func(t *testing.T) {
		page := app.signIn(app.owner).get("/tokens")
		for _, c := range []struct {
			name, createdBy string
			left            bool
		}{
			{"deploy", "Ana Owner (via token “ana-ci”)", false},
			{"nightly", "Ada Admin (via token “ada-ci”) — left the organization Nov 26, 2026", true},
			{"chained", "system token “automation”", false},
			{"on the page", "Ana Owner", false},
		} {
			row := page.row(t, "system-tokens", c.name)
			if got := cellText(row.Find(`[data-testid=token-created-by]`)); got != c.createdBy {
				t.Errorf("%s: created by %q, want %q", c.name, got, c.createdBy)
			}
			if flagged := row.Find(`[data-testid=creator-left]`).Length() == 1; flagged != c.left {
				t.Errorf("%s: creator-left flag %v, want %v", c.name, flagged, c.left)
			}
		}
	})
}
