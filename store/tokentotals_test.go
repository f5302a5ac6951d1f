package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestListTotals: a list's count in all (every token of its kind, or of its
// member, revoked ones too) is what listing it gives, however its tokens
// were written: made, revoked, inserted many at once, deleted; and
// nothing of another organization's.
func TestListTotals(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	laptop, _ := addToken(t, o.db, o.alice, KindPersonal, "laptop")
	addToken(t, o.db, o.alice, KindPersonal, "desktop")
	addToken(t, o.db, o.bob, KindPersonal, "phone")
	ci, _ := addToken(t, o.db, o.owner, KindSystem, "ci", RoleVideo)
	addToken(t, o.db, o.owner2, KindSystem, "theirs", RoleVideo)
	addToken(t, o.db, o.carol, KindPersonal, "carol's")
	revoke(t, o.db, o.owner, ci.ID)
	revoke(t, o.db, o.alice, laptop.ID)
	insertTokens(t, o.db, o.owner, 0, numbered("bulk ", 30))
	insertTokens(t, o.db, o.owner, o.bob.ID, numbered("bulk ", 20))
	_, err := o.db.w.Exec(`DELETE FROM tokens WHERE name = 'bulk 7'`) // one of the owner's, one of Bob's
	must(t, err)
	_, _, err = o.db.RemoveMemberByID(fromBrowser(), o.owner, o.alice.ID)
	must(t, err)

	for _, c := range []struct {
		name  string
		actor Member
		f     TokenFilter
		want  int
	}{
		{"system tokens", o.owner, TokenFilter{Kind: KindSystem}, 1 + 29},
		{"personal tokens", o.owner, TokenFilter{Kind: KindPersonal}, 3 + 19},
		{"both kinds", o.owner, TokenFilter{}, 1 + 29 + 3 + 19},
		{"a member who left", o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID}, 2},
		{"a member's own", o.bob, TokenFilter{Kind: KindPersonal, MemberID: o.bob.ID}, 1 + 19},
		{"a member's system tokens", o.owner, TokenFilter{Kind: KindSystem, MemberID: o.bob.ID}, 0},
		{"another organization's member", o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.carol.ID}, 0},
		{"the other organization", o.owner2, TokenFilter{Kind: KindSystem}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.f.IncludeRevoked = true
			n, err := o.db.CountTokens(ctx, c.actor, c.f)
			must(t, err)
			ts, err := o.db.ListTokens(ctx, c.actor, c.f)
			must(t, err)
			if n != c.want || len(ts) != c.want {
				t.Errorf("counted %d, listed %d, want %d", n, len(ts), c.want)
			}
		})
	}
}

// TestListTotalsOfTokensStoredBefore: the totals count the tokens stored
// before there were any.
func TestListTotalsOfTokensStoredBefore(t *testing.T) {
	sqliteOnly(t)
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokend.db")
	raw := openRawAt(t, path, "0008")
	d1, d2, d3 := DigestOf("1"), DigestOf("2"), DigestOf("3")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orgs (id, name, name_key, created_at) VALUES (1, 'Acme', 'acme', 100)`, nil},
		{`INSERT INTO members (id, org_id, email, email_key, name, name_key, password_hash, roles, created_at)
			VALUES (1, 1, 'ana@acme.test', 'ana@acme.test', 'Ana', 'ana', 'x', 'owner', 100)`, nil},
		{`INSERT INTO tokens (id, org_id, kind, member_id, created_by, name, name_key, digest, last_four, roles, created_at, revoked_at, revoke_reason) VALUES
			(1, 1, 'personal', 1, 1, 'Old laptop', 'old laptop', ?, 'aaaa', '', 100, NULL, NULL),
			(2, 1, 'personal', 1, 1, 'Old phone', 'old phone', ?, 'bbbb', '', 100, 150, 'revoked'),
			(3, 1, 'system', NULL, 1, 'Old deploy', 'old deploy', ?, 'cccc', 'video', 200, NULL, NULL)`, []any{d1[:], d2[:], d3[:]}},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	must(t, err)
	defer db.Close()
	ana, err := findMember(ctx, db.db, `m.id = 1`)
	must(t, err)
	for f, want := range map[TokenFilter]int{
		{Kind: KindPersonal, IncludeRevoked: true}:              2,
		{Kind: KindPersonal, MemberID: 1, IncludeRevoked: true}: 2,
		{Kind: KindSystem, IncludeRevoked: true}:                1,
		{IncludeRevoked: true}:                                  3,
	} {
		if n, err := db.CountTokens(ctx, ana, f); err != nil || n != want {
			t.Errorf("%+v: counted %d, %v; want %d", f, n, err, want)
		}
	}
}
