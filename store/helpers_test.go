package store

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokend/store/storetest"
)

// testClock is the fixed clock a test database runs on; a test moves it on
// by hand, so times are exact and no test sleeps.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testStart is where every test clock starts: whole seconds, UTC, as the
// store keeps times.
var testStart = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// testPassword is a password every validation rule accepts.
const testPassword = "correct horse battery"

// onPostgres is whether this run of the store's tests is the conformance
// suite on PostgreSQL (TOKEND_TEST_STORE=postgres, as make test runs it
// after the run on SQLite): every test that opens a database with
// newTestDB then runs on a PostgreSQL schema of its own.
var onPostgres = os.Getenv("TOKEND_TEST_STORE") == "postgres"

// testDSN is a fresh, empty database for t on the backend under test.
func testDSN(t *testing.T) string {
	t.Helper()
	if onPostgres {
		return storetest.Postgres(t)
	}
	return filepath.Join(t.TempDir(), "tokend.db")
}

// sqliteOnly skips a test of what only the SQLite backend has (its file,
// its migrations, its memory-mapped signal) when the suite runs on
// PostgreSQL.
func sqliteOnly(t *testing.T) {
	t.Helper()
	if onPostgres {
		t.Skip("SQLite only: this run is the conformance suite on PostgreSQL")
	}
}

// newTestDB opens a fresh database of its own, with cheap password hashing
// and a clock the test controls, opened with opts.
func newTestDB(t *testing.T, opts ...Option) (*DB, *testClock) {
	t.Helper()
	db, err := Open(context.Background(), testDSN(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &testClock{now: testStart}
	db.Now = clock.Now
	db.PasswordCost = bcrypt.MinCost
	return db, clock
}

// addMember creates a member with testPassword or fails the test.
func addMember(t *testing.T, db *DB, org, email string, roles ...Role) Member {
	t.Helper()
	m, err := db.CreateMember(context.Background(), NewMember{
		OrgName: org, Email: email, Name: "Name of " + email, Password: testPassword, Roles: roles,
	})
	if err != nil {
		t.Fatalf("CreateMember(%s, %s): %v", org, email, err)
	}
	return m
}

// addToken creates a token or fails the test.
func addToken(t *testing.T, db *DB, actor Member, kind TokenKind, name string, roles ...Role) (Token, TokenText) {
	t.Helper()
	tok, text, err := db.CreateToken(context.Background(), actor, NewToken{Kind: kind, Name: name, Roles: roles})
	if err != nil {
		t.Fatalf("CreateToken(%s, %s %q): %v", actor.Email, kind, name, err)
	}
	return tok, text
}

// revoke revokes a token the actor may manage or fails the test.
func revoke(t *testing.T, db *DB, actor Member, id int64) Token {
	t.Helper()
	tok, revoked, err := db.RevokeToken(context.Background(), actor, id)
	if err != nil || !revoked {
		t.Fatalf("RevokeToken(%s, %d) = revoked %v, %v", actor.Email, id, revoked, err)
	}
	return tok
}

// wantError fails the test unless err carries code and names field ("" for
// none).
func wantError(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
	if got := ErrorField(err); got != field {
		t.Fatalf("error field = %q (err %v), want %q", got, err, field)
	}
}

// countRows counts a table's rows behind the store's back, to show a refused
// call wrote nothing.
func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// twoOrgs is the cast most token tests need: Acme with its owner and two
// members, and Other with its owner and one member.
type twoOrgs struct {
	db                *DB
	clock             *testClock
	owner, alice, bob Member // Acme
	owner2, carol     Member // Other
}

func newTwoOrgs(t *testing.T) twoOrgs {
	t.Helper()
	db, clock := newTestDB(t)
	return twoOrgs{
		db:     db,
		clock:  clock,
		owner:  addMember(t, db, "Acme", "owner@acme.test", RoleOwner),
		alice:  addMember(t, db, "Acme", "alice@acme.test", RoleVideo),
		bob:    addMember(t, db, "Acme", "bob@acme.test", RoleViewer, RoleBilling),
		owner2: addMember(t, db, "Other", "owner@other.test", RoleOwner),
		carol:  addMember(t, db, "Other", "carol@other.test", RoleAdmin),
	}
}

// openRawAt makes a database file at path with the embedded migrations up to
// and including the one numbered upTo ("0002") applied and recorded, as an older release left it, and
// returns a plain connection to it for writing rows the old way. Open then
// applies the rest.
func openRawAt(t *testing.T, path, upTo string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	fsys := (&sqliteBackend{}).migrations()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if _, err := raw.Exec(`CREATE TABLE migrations (name TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name[:len(upTo)] > upTo {
			break
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(src)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Recorded as releases before PostgreSQL named them.
		if _, err := raw.Exec(`INSERT INTO migrations (name) VALUES (?)`, "migrations/"+name); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

// insertTokens writes tokens named names straight into the table, in one
// transaction, a few hundred a statement, as a quick way to make a list
// long: kind system by the owner, or personal of member when member is not
// zero.
func insertTokens(t *testing.T, db *DB, owner Member, member int64, names []string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.begin(ctx)
	must(t, err)
	defer tx.Rollback()
	kind, roles, memberID := KindSystem, "video", any(nil)
	if member != 0 {
		kind, roles, memberID = KindPersonal, "", member
	}
	const batch = 500
	for from := 0; from < len(names); from += batch {
		var rows []string
		var args []any
		for _, name := range names[from:min(from+batch, len(names))] {
			digest := DigestOf(string(newTokenText(kind)))
			rows = append(rows, `(?, ?, ?, ?, ?, ?, ?, 'abcd', ?, ?)`)
			args = append(args, owner.OrgID, kind, memberID, owner.ID, name, NameKey(name), digest[:], roles, testStart.Unix())
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (org_id, kind, member_id, created_by, name, name_key, digest, last_four, roles, created_at)
			VALUES `+strings.Join(rows, ", "), args...); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tx.Commit())
}

// numbered is n names: prefix and 0 to n-1.
func numbered(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i)
	}
	return names
}
