package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestNameKey(t *testing.T) {
	t.Parallel()
	for _, group := range [][]string{
		{"Café", "CAFÉ", "cafe\u0301", "CAFE\u0301", "Ｃａｆé", "café"},
		{"Deploy", "deploy", "DEPLOY", " deploy ", "De\u200bploy", "Deploy\u2060", "\ufeffDeploy"},
		{"Straße", "STRASSE", "strasse"},
		{"ǅemo", "Ǆemo", "ǆemo", "DŽemo"},
		{"ci deploy", "ci  deploy", "ci\u00a0deploy", "ci\u3000deploy"},
		{"Σίσυφος", "ΣΊΣΥΦΟΣ", "σίσυφοσ"},
	} {
		want := NameKey(group[0])
		for _, s := range group[1:] {
			if got := NameKey(s); got != want {
				t.Errorf("NameKey(%q) = %q, want %q as for %q", s, got, want, group[0])
			}
		}
	}
	for _, pair := range [][2]string{{"deploy", "deploy2"}, {"café", "cafe"}, {"ci-deploy", "ci deploy"}, {"日本", "日本語"}} {
		if NameKey(pair[0]) == NameKey(pair[1]) {
			t.Errorf("NameKey(%q) = NameKey(%q): two names taken for one", pair[0], pair[1])
		}
	}
}

// Rows stored under the old rules may hold names that are one name under
// the new ones. The migration keeps them all working, and no new name can
// join them.
func TestMigrationKeysExistingLookAlikes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokend.db")
	raw := openRawAt(t, path, "0001")
	d1, d2, d3, d4 := DigestOf("1"), DigestOf("2"), DigestOf("3"), DigestOf("4")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orgs (id, name, created_at) VALUES (1, 'Café', 100), (2, 'CAFÉ', 200)`, nil},
		{`INSERT INTO members (id, org_id, email, name, password_hash, roles, created_at) VALUES
			(1, 1, 'ana@cafe.test', 'Ana', 'x', 'owner', 100), (2, 2, 'bo@cafe.test', 'Bo', 'x', 'owner', 200)`, nil},
		{`INSERT INTO tokens (id, org_id, kind, member_id, created_by, name, digest, last_four, created_at) VALUES
			(1, 1, 'personal', 1, 1, 'Café', ?, 'aaaa', 100),
			(2, 1, 'personal', 1, 1, 'CAFÉ', ?, 'bbbb', 200),
			(3, 1, 'personal', 1, 1, 'Deploy` + "\u200b" + `', ?, 'cccc', 300),
			(4, 1, 'personal', 1, 1, 'Deploy', ?, 'dddd', 400)`, []any{d1[:], d2[:], d3[:], d4[:]}},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open on look-alike rows: %v", err)
	}
	defer db.Close()
	ana, err := findMember(ctx, db.db, `m.id = 1`)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := db.ListTokens(ctx, ana, TokenFilter{Kind: KindPersonal, MemberID: ana.ID})
	if err != nil || len(ts) != 4 {
		t.Fatalf("ListTokens = %d tokens, %v; want the 4 stored", len(ts), err)
	}
	for _, name := range []string{"cafe\u0301", "CAFÉ", "deploy"} {
		_, _, err := db.CreateToken(ctx, ana, NewToken{Kind: KindPersonal, Name: name})
		wantError(t, err, ECONFLICT, "name")
	}
	// Once every look-alike is revoked, the name is free again.
	for _, id := range []int64{1, 2} {
		if _, _, err := db.RevokeToken(ctx, ana, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.CreateToken(ctx, ana, NewToken{Kind: KindPersonal, Name: "café"}); err != nil {
		t.Errorf("café after both look-alikes were revoked: %v", err)
	}
	// The second organization keeps its name and its owner; a new member
	// of "CAFÉ" joins the oldest of the two.
	m, err := db.CreateMember(ctx, NewMember{OrgName: "cafe\u0301", Email: "cy@cafe.test", Name: "Cy", Password: strings.Repeat("pw", 8), Roles: []Role{RoleViewer}})
	if err != nil || m.OrgID != 1 {
		t.Errorf("a member of %q joined org %d (%v), want 1", "cafe\u0301", m.OrgID, err)
	}
}

func TestNameProblems(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		// Counted as typed, as a browser's maxlength counts: U+0958 is one
		// code unit typed and two in NFC; "o" and a combining accent are
		// two typed and one in NFC.
		{strings.Repeat("\u0958", 100), true},
		{strings.Repeat("\u0958", 101), false},
		{strings.Repeat("o\u0301", 50), true},
		{strings.Repeat("o\u0301", 51), false},
		{"Deploy\u2800", false},
		{"Deploy\ue000", false},
		{"\U000f0000 key", false},
		{"Deploy\uffff", false},
		{"Deploy\ufdd0", false},
		{"Deploy", true},
	} {
		msg := nameProblem("Token name", tt.name, MaxTokenNameLen)
		if (msg == "") != tt.ok {
			t.Errorf("nameProblem(%+q) = %q, want ok %v", tt.name, msg, tt.ok)
		}
	}
}
