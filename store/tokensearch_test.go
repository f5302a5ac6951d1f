package store

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store/storetest"
)

// TestNameSearchThroughIndex: in lists longer than a search reads, names
// are found through the name index as they are by reading the list: case
// folded, % and _ as themselves, in every order and page, counted alike,
// after a rename under the new name only; and searches of one or two
// characters, which no index answers, still find what they name.
func TestNameSearchThroughIndex(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	mk := func(by Member, kind TokenKind, name string) Token {
		t.Helper()
		var roles []Role
		if kind == KindSystem {
			roles = []Role{RoleVideo}
		}
		tok, _ := addToken(t, o.db, by, kind, name, roles...)
		o.clock.Advance(time.Minute)
		return tok
	}
	// Old tokens, then more than searchWindow and searchIndexMost newer
	// ones in each list, then a few new ones.
	ancient := mk(o.owner, KindSystem, "Ancient DEPLOY key")
	for _, name := range []string{"50% off", "50x off", "snake_case", "snakeXcase", `say "hi" AND *`} {
		mk(o.owner, KindSystem, name)
	}
	revoked := mk(o.owner, KindSystem, "Retired deploy key")
	revoke(t, o.db, o.owner, revoked.ID)
	mk(o.alice, KindPersonal, "Alice's old laptop")
	insertTokens(t, o.db, o.owner, 0, numbered("filler ", searchIndexMost+100))
	insertTokens(t, o.db, o.owner, o.alice.ID, numbered("note ", searchWindow+100))
	mk(o.owner, KindSystem, "New deploy key")
	mk(o.alice, KindPersonal, "Alice's new laptop")
	mk(o.owner2, KindSystem, "Other's deploy key")

	// Last use, for the order by it: the ancient key most recently.
	_, err := o.db.w.Exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, o.clock.Now().Unix(), ancient.ID)
	must(t, err)

	fillers10 := []string{}
	for i := searchIndexMost + 99; i >= 0; i-- {
		if name := "filler " + strconv.Itoa(i); i == 10 || i/10 == 10 || i/100 == 10 || i/1000 == 10 {
			fillers10 = append(fillers10, name)
		}
	}
	sys := func(q string) TokenFilter { return TokenFilter{Kind: KindSystem, Q: q} }
	cases := []struct {
		name   string
		actor  Member
		filter TokenFilter
		want   []string
	}{
		{"case folded, older than the lists' newest", o.owner, sys("deploy"), []string{"New deploy key", "Ancient DEPLOY key"}},
		{"revoked too", o.owner, TokenFilter{Kind: KindSystem, Q: "Deploy", IncludeRevoked: true}, []string{"New deploy key", "Retired deploy key", "Ancient DEPLOY key"}},
		{"% as itself", o.owner, sys("50%"), []string{"50% off"}},
		{"_ as itself", o.owner, sys("e_c"), []string{"snake_case"}},
		{"quotes and what an index query would read", o.owner, sys(`"hi" and *`), []string{`say "hi" AND *`}},
		{"nothing", o.owner, sys("no such name"), nil},
		{"two characters", o.owner, sys("_c"), []string{"snake_case"}},
		{"one character", o.owner, sys("X"), []string{"snakeXcase", "50x off"}},
		{"one member's", o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID, Q: "laptop"}, []string{"Alice's new laptop", "Alice's old laptop"}},
		{"every member's", o.owner, TokenFilter{Kind: KindPersonal, Q: "LAPTOP"}, []string{"Alice's new laptop", "Alice's old laptop"}},
		{"a name many hold", o.owner, sys("filler 10"), fillers10},
		{"by last use", o.owner, TokenFilter{Kind: KindSystem, Q: "deploy", Sort: SortLastUsed}, []string{"Ancient DEPLOY key", "New deploy key"}},
		{"by expiry", o.owner, TokenFilter{Kind: KindSystem, Q: "deploy", Sort: SortExpires}, []string{"Ancient DEPLOY key", "New deploy key"}},
		{"the other organization's", o.owner2, sys("deploy"), []string{"Other's deploy key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, err := o.db.ListTokens(ctx, c.actor, c.filter)
			must(t, err)
			var got []string
			for _, tok := range ts {
				got = append(got, tok.Name)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("listed %q, want %q", got, c.want)
			}
			if n, err := o.db.CountTokens(ctx, c.actor, c.filter); err != nil || n != len(c.want) {
				t.Errorf("counted %d, %v; want %d", n, err, len(c.want))
			}
			// A page at a time, as the page asks (one more than it shows),
			// the same tokens in the same order.
			var paged []string
			page := c.filter
			page.Limit = 3
			for {
				ts, err := o.db.ListTokens(ctx, c.actor, page)
				must(t, err)
				for _, tok := range ts {
					paged = append(paged, tok.Name)
				}
				if len(ts) < page.Limit {
					break
				}
				page.After = page.CursorAfter(ts[len(ts)-1])
			}
			if !slices.Equal(paged, c.want) {
				t.Errorf("paged %q, want %q", paged, c.want)
			}
		})
	}

	// A name held by more tokens than an index lookup is worth: found by
	// reading the list, newest first, counted in full.
	ts, err := o.db.ListTokens(ctx, o.owner, TokenFilter{Kind: KindSystem, Q: "filler", Limit: 51})
	must(t, err)
	if len(ts) != 51 || ts[0].Name != "filler "+strconv.Itoa(searchIndexMost+99) {
		t.Errorf("a common name: %d tokens, the first %q", len(ts), ts[0].Name)
	}
	if n, err := o.db.CountTokens(ctx, o.owner, sys("filler")); err != nil || n != searchIndexMost+100 {
		t.Errorf("a common name counted %d, %v", n, err)
	}

	// Renamed: found under the new name, not the old.
	_, err = o.db.UpdateToken(fromBrowser(), o.owner, ancient.ID, TokenEdit{Name: new("Relic key")})
	must(t, err)
	for q, want := range map[string][]string{"deploy": {"New deploy key"}, "relic": {"Relic key"}, "ancient": nil} {
		ts, err := o.db.ListTokens(ctx, o.owner, TokenFilter{Kind: KindSystem, Q: q, Limit: 51})
		must(t, err)
		var got []string
		for _, tok := range ts {
			got = append(got, tok.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("after the rename, %q lists %q, want %q", q, got, want)
		}
	}
}

// TestNameSearchIndexHoldsEveryToken: the name index holds exactly the
// tokens of its kind, those stored before it existed too, and follows
// renames and deletes (SQLite's FTS5 tables, kept by triggers).
func TestNameSearchIndexHoldsEveryToken(t *testing.T) {
	sqliteOnly(t)
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokend.db")
	raw := openRawAt(t, path, "0007")
	d1, d2 := DigestOf("1"), DigestOf("2")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orgs (id, name, name_key, created_at) VALUES (1, 'Acme', 'acme', 100)`, nil},
		{`INSERT INTO members (id, org_id, email, email_key, name, name_key, password_hash, roles, created_at)
			VALUES (1, 1, 'ana@acme.test', 'ana@acme.test', 'Ana', 'ana', 'x', 'owner', 100)`, nil},
		{`INSERT INTO tokens (id, org_id, kind, member_id, created_by, name, name_key, digest, last_four, roles, created_at) VALUES
			(1, 1, 'personal', 1, 1, 'Old laptop', 'old laptop', ?, 'aaaa', '', 100),
			(2, 1, 'system', NULL, 1, 'Old deploy', 'old deploy', ?, 'bbbb', 'video', 200)`, []any{d1[:], d2[:]}},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ana, err := findMember(ctx, db.db, `m.id = 1`)
	must(t, err)
	tok, _ := addToken(t, db, ana, KindSystem, "New deploy", RoleVideo)

	indexed := func(table, phrase string) []int64 {
		t.Helper()
		rows, err := db.db.Query(fmt.Sprintf(`SELECT rowid FROM %[1]s WHERE %[1]s MATCH ? ORDER BY rowid`, table), `"`+phrase+`"`)
		must(t, err)
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			must(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		must(t, rows.Err())
		return ids
	}
	check := func(when, table, phrase string, want ...int64) {
		t.Helper()
		if got := indexed(table, phrase); !slices.Equal(got, want) {
			t.Errorf("%s: %s holds %q as %v, want %v", when, table, phrase, got, want)
		}
	}
	check("stored before", "tokens_names_personal", "laptop", 1)
	check("stored before", "tokens_names_system", "deploy", 2, tok.ID)
	check("kinds apart", "tokens_names_personal", "deploy")

	_, err = db.UpdateToken(fromBrowser(), ana, 2, TokenEdit{Name: new("Old relic")})
	must(t, err)
	check("renamed", "tokens_names_system", "deploy", tok.ID)
	check("renamed", "tokens_names_system", "relic", 2)

	// Tokens are kept for the record; a tool may delete one all the same.
	d3 := DigestOf("3")
	_, err = db.w.Exec(`INSERT INTO tokens (id, org_id, kind, created_by, name, name_key, digest, last_four, roles, created_at)
		VALUES (99, 1, 'system', 1, 'Spare deploy', 'spare deploy', ?, 'cccc', 'video', 300)`, d3[:])
	must(t, err)
	check("added behind the store's back", "tokens_names_system", "deploy", tok.ID, 99)
	_, err = db.w.Exec(`DELETE FROM tokens WHERE id = 99`)
	must(t, err)
	check("deleted", "tokens_names_system", "deploy", tok.ID)
}

// TestNameIndexOutlivesAnotherSchema: on PostgreSQL the trigram indexes
// rest on pg_trgm, which belongs to the database; dropping one tokend
// schema with everything in it (as every test does at its end) leaves the
// extension, and another schema's indexes, working.
func TestNameIndexOutlivesAnotherSchema(t *testing.T) {
	if !onPostgres {
		t.Skip("PostgreSQL only: SQLite's index is a table in the database file")
	}
	t.Parallel()
	ctx := context.Background()
	doomedDSN := storetest.Postgres(t)
	doomed, err := Open(ctx, doomedDSN)
	must(t, err)
	doomed.Close()
	u, err := url.Parse(doomedDSN)
	must(t, err)
	db, _ := newTestDB(t)
	_, err = db.w.Exec(`DROP SCHEMA ` + u.Query().Get("search_path") + ` CASCADE`)
	must(t, err)

	rows, err := db.db.Query(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'tokens\_names\_%' ORDER BY indexname`)
	must(t, err)
	var names []string
	for rows.Next() {
		var name string
		must(t, rows.Scan(&name))
		names = append(names, name)
	}
	rows.Close()
	if want := []string{"tokens_names_personal", "tokens_names_system"}; !slices.Equal(names, want) {
		t.Fatalf("indexes %q, want %q", names, want)
	}
	// A search of a few among many goes through them, as the store
	// writes it.
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	insertTokens(t, db, owner, 0, numbered("filler ", 2000))
	_, err = db.w.Exec(`ANALYZE tokens`)
	must(t, err)
	rows, err = db.db.Query(`EXPLAIN SELECT count(*) FROM tokens t
		WHERE t.org_id = ` + strconv.FormatInt(owner.OrgID, 10) + ` AND t.kind = 'system' AND t.revoked_at IS NULL AND t.name_key LIKE '%dep\_loy%' ESCAPE '\'`)
	must(t, err)
	plan := ""
	for rows.Next() {
		var line string
		must(t, rows.Scan(&line))
		plan += line + "\n"
	}
	rows.Close()
	if !strings.Contains(plan, "tokens_names_system") {
		t.Errorf("a search of system tokens does not use their index:\n%s", plan)
	}
}
