package web

// The Add New Personal Token and Add New System Token forms: what they
// refuse, what they accept, and that a name is only ever shown as text.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

func TestTokenFormRefusesAndKeepsWhatWasTyped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   store.TokenKind
		typed  string
		roles  []string
		status int
		field  string // data-testid error-<field>, or "" for the form's alert
		says   string
	}{
		{"personal empty name", store.KindPersonal, "", nil, 422, "name", "Enter a token name"},
		{"personal whitespace name", store.KindPersonal, " \t  ", nil, 422, "name", "Enter a token name"},
		{"personal 101 characters", store.KindPersonal, strings.Repeat("a", 101), nil, 422, "name", "at most 100 characters"},
		{"personal 101 multi-byte characters", store.KindPersonal, strings.Repeat("é", 101), nil, 422, "name", "at most 100 characters"},
		{"personal control character", store.KindPersonal, "Deploy\x1bbot", nil, 422, "name", "control"},
		{"personal tab", store.KindPersonal, "Deploy\tbot", nil, 422, "name", "control"},
		{"personal text-direction override", store.KindPersonal, "Deploy\u202etob", nil, 422, "name", "text-direction"},
		{"personal duplicate, other case", store.KindPersonal, "DEPLOY", nil, 409, "name", "already"},
		{"personal with a role", store.KindPersonal, "With role", []string{"admin"}, 422, "", "roles"},
		{"system empty name", store.KindSystem, "", []string{"admin"}, 422, "name", "Enter a token name"},
		{"system whitespace name", store.KindSystem, "   ", []string{"admin", "video"}, 422, "name", "Enter a token name"},
		{"system 101 characters", store.KindSystem, strings.Repeat("x", 101), []string{"viewer"}, 422, "name", "at most 100 characters"},
		{"system control character", store.KindSystem, "Encoder\x00", []string{"viewer"}, 422, "name", "control"},
		{"system duplicate, other case", store.KindSystem, "encoder", []string{"billing"}, 409, "name", "already"},
		{"system no role", store.KindSystem, "Encoder 2", nil, 422, "roles", "at least one role"},
		{"system owner role", store.KindSystem, "Encoder 2", []string{"owner"}, 422, "roles", "cannot be assigned"},
		{"system owner and admin", store.KindSystem, "Encoder 2", []string{"admin", "owner"}, 422, "roles", "cannot be assigned"},
		{"system unknown role", store.KindSystem, "Encoder 2", []string{"superuser"}, 422, "roles", "not a role"},
		{"system unknown role beside a good one", store.KindSystem, "Encoder 2", []string{"support", "root"}, 422, "roles", "not a role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			who, path, title := app.member, "/tokens/personal", "Add New Personal Token"
			if tt.kind == store.KindSystem {
				who, path, title = app.owner, "/tokens/system", "Add New System Token"
			}
			app.createToken(app.member, store.KindPersonal, "Deploy")
			app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleAdmin)
			before := app.allTokens(app.owner)

			c := app.signIn(who)
			c.get(path + "/new")
			r := c.postForm(path, url.Values{"name": {tt.typed}, "roles": tt.roles})
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.status, r.body)
			}
			form := r.doc.Find(`form[data-testid=token-form]`)
			if r.text(`h1`) != title || form.AttrOr("action", "") != path {
				t.Fatalf("not the %s form again: h1 %q, action %q", title, r.text(`h1`), form.AttrOr("action", ""))
			}
			if got := form.Find(`input#name`).AttrOr("value", "<none>"); got != strings.ReplaceAll(tt.typed, "\x00", "\uFFFD") {
				t.Errorf("name field = %q, want %q as typed", got, tt.typed)
			}
			var checked, wantChecked []string
			form.Find(`input[type=checkbox][name=roles]:checked`).Each(func(_ int, s *goquery.Selection) {
				checked = append(checked, s.AttrOr("value", ""))
			})
			for _, role := range store.AssignableRoles {
				if slices.Contains(tt.roles, string(role)) {
					wantChecked = append(wantChecked, string(role))
				}
			}
			if tt.kind == store.KindSystem && !slices.Equal(checked, wantChecked) {
				t.Errorf("checked roles %q, want %q kept", checked, wantChecked)
			}

			messages := map[string]string{
				"name":  r.text(`[data-testid=error-name]`),
				"roles": r.text(`[data-testid=error-roles]`),
				"":      r.text(`main [role=alert]`),
			}
			if got := messages[tt.field]; !strings.Contains(got, tt.says) {
				t.Errorf("message for %q = %q, want it to say %q", tt.field, got, tt.says)
			}
			for field, msg := range messages {
				if field != tt.field && msg != "" {
					t.Errorf("message for %q as well: %q", field, msg)
				}
			}
			if inv := form.Find(`input#name`).AttrOr("aria-invalid", ""); (tt.field == "name") != (inv == "true") {
				t.Errorf("aria-invalid on the name = %q with the error on %q", inv, tt.field)
			}
			if r.has(`[data-testid=new-key]`) {
				t.Error("a refused form shows a key")
			}
			if after := app.allTokens(app.owner); len(after) != len(before) {
				t.Errorf("%d tokens stored before, %d after", len(before), len(after))
			}
		})
	}
}

func TestTokenFormAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  store.TokenKind
		typed string
		roles []string
		setup func(app *testApp)
	}{
		// 100 UTF-16 code units, as a browser's maxlength counts: 🔑 is two.
		{"100 multi-byte characters", store.KindPersonal, strings.Repeat("é", 50) + strings.Repeat("日", 48) + "🔑", nil, nil},
		{"100 multi-byte characters, system", store.KindSystem, strings.Repeat("ü", 100), []string{"viewer"}, nil},
		{"another member's name", store.KindPersonal, "Deploy", nil, func(app *testApp) {
			app.createToken(app.member2, store.KindPersonal, "Deploy")
		}},
		{"a revoked token's name", store.KindPersonal, "Deploy", nil, func(app *testApp) {
			tok, _ := app.createToken(app.member, store.KindPersonal, "Deploy")
			if _, _, err := app.db.RevokeToken(app.t.Context(), app.member, tok.ID); err != nil {
				app.t.Fatal(err)
			}
		}},
		{"a system token's name", store.KindPersonal, "Encoder", nil, func(app *testApp) {
			app.createToken(app.owner, store.KindSystem, "Encoder", store.RoleAdmin)
		}},
		{"every assignable role", store.KindSystem, "Everything", []string{"support", "billing", "viewer", "video", "admin"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			who, path, list := app.member, "/tokens/personal", "my-tokens"
			if tt.kind == store.KindSystem {
				who, path, list = app.owner, "/tokens/system", "system-tokens"
			}
			if tt.setup != nil {
				tt.setup(app)
			}
			before := len(app.allTokens(app.owner))
			c := app.signIn(who)
			c.get(path + "/new")
			r := c.postForm(path, url.Values{"name": {tt.typed}, "roles": tt.roles})
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("status %d\n%s", r.StatusCode, r.text(`form`))
			}
			if !r.has(`[data-testid=new-key-value]`) {
				t.Error("no key shown")
			}
			r.row(t, list, tt.typed)
			ts := app.allTokens(app.owner)
			if len(ts) != before+1 || ts[0].Name != tt.typed || ts[0].Kind != tt.kind {
				t.Errorf("stored %d tokens (was %d), newest %q %s", len(ts), before, ts[0].Name, ts[0].Kind)
			}
		})
	}
}

func TestTokenNamesAreShownAsText(t *testing.T) {
	t.Parallel()
	const personal = `<script>alert(1)</script>`
	const system = `"><img src=x onerror=alert(1)>`
	app := newTestApp(t)
	c := app.signIn(app.owner)

	c.get("/tokens/personal/new")
	created := c.postForm("/tokens/personal", url.Values{"name": {personal}})
	if created.StatusCode != http.StatusCreated {
		t.Fatalf("personal: status %d", created.StatusCode)
	}
	c.get("/tokens/system/new")
	createdSys := c.postForm("/tokens/system", url.Values{"name": {system}, "roles": {"admin"}})
	if createdSys.StatusCode != http.StatusCreated {
		t.Fatalf("system: status %d", createdSys.StatusCode)
	}
	ts := app.allTokens(app.owner)
	if len(ts) != 2 || ts[1].Name != personal || ts[0].Name != system {
		t.Fatalf("stored %+v", ts)
	}
	sysID, personalID := ts[0].ID, ts[1].ID

	// A refused form shows the typed name back, as text too.
	c.get("/tokens/personal/new")
	refused := c.postForm("/tokens/personal", url.Values{"name": {personal}})
	if refused.StatusCode != http.StatusConflict || refused.doc.Find(`input#name`).AttrOr("value", "") != personal {
		t.Errorf("duplicate: %d, name field %q", refused.StatusCode, refused.doc.Find(`input#name`).AttrOr("value", ""))
	}

	pages := map[string]*response{
		"personal created":  created,
		"system created":    createdSys,
		"duplicate refused": refused,
		"token management":  c.get("/tokens"),
		"revoke page":       c.get(fmt.Sprintf("/tokens/%d/revoke", personalID)),
		"revoke dialog":     c.get(fmt.Sprintf("/tokens/%d/revoke", sysID), "HX-Request", "true"),
	}
	for name, r := range pages {
		t.Run(name, func(t *testing.T) {
			wantScripts := 2
			if r.has(`dialog`) && !r.has(`html > head > title`) {
				wantScripts = 0
			}
			scripts := r.doc.Find(`script`)
			if scripts.Length() != wantScripts {
				t.Errorf("%d <script> elements, want %d", scripts.Length(), wantScripts)
			}
			scripts.Each(func(_ int, s *goquery.Selection) {
				if src := s.AttrOr("src", ""); !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
					t.Errorf("script src=%q with text %q", src, s.Text())
				}
			})
			if r.has(`img`) || r.has(`[onerror]`) {
				t.Error("the name became an element")
			}
			if strings.Contains(r.body, personal) || strings.Contains(r.body, "<img src=x") {
				t.Error("a name is in the page unescaped")
			}
			if !strings.Contains(r.doc.Text(), "alert(1)") && r.doc.Find(`input#name`).AttrOr("value", "") != personal {
				t.Error("the name is not shown at all")
			}
		})
	}
	if got := pages["token management"].rowNames("user-tokens"); !slices.Equal(got, []string{personal}) {
		t.Errorf("Organization User Tokens = %q", got)
	}
	if got := pages["token management"].rowNames("system-tokens"); !slices.Equal(got, []string{system}) {
		t.Errorf("System Tokens = %q", got)
	}
	if got := pages["revoke dialog"].text(`[data-testid=revoke-token-name]`); got != system {
		t.Errorf("dialog names %q", got)
	}
	if got := pages["revoke page"].text(`[data-testid=revoke-token-name]`); got != personal {
		t.Errorf("page names %q", got)
	}
}
