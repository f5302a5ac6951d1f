package main

// `tokend db copy` (issue 8, point 4): an embedded database moved up to
// PostgreSQL keeps every member, session, token and setting, and every key
// that worked before works after, every revoked one stays refused.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokend/store"
	"tokend/store/storetest"
)

// copyTableNames are the tables a copy must move, counted on both sides.
var copyTableNames = []string{"orgs", "members", "sessions", "tokens", "settings", "invitations", "audit_events", "token_usage", "token_addresses"}

// sqliteCounts counts the rows of each table in the SQLite file at path,
// and reads its change counter.
func sqliteCounts(t *testing.T, path string) (map[string]int64, int64) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	counts := map[string]int64{}
	for _, table := range copyTableNames {
		var n int64
		if err := raw.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	var seq int64
	if err := raw.QueryRow(`SELECT seq FROM change_seq`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return counts, seq
}

// copySource is a SQLite database with a bit of everything, and what it
// holds as the store reads it.
type copySource struct {
	path           string
	ana, gus       store.Member // the owners of Acme Streaming and Globex
	members        []store.Member
	acme, globex   []store.Token // every token, revoked ones too
	orgs           []store.Org
	active         map[string]int64 // key → token id
	revoked        map[string]int64
	sessions       map[string]int64 // session id → member id; 0: signed out
	sessionKey     []byte
	lastUsed       int64 // the token whose last use was recorded
	revokedByAna   int64
	revokedMaxLeft []int64
	invitations    []store.Invitation // Acme's pending ones
	inviteCode     string             // of the first
	events         []store.AuditEvent // Acme's
}

// newCopySource builds the source with the CLI and the store: two
// organizations, members (one who left and came back), personal and system
// tokens (one made by a token, one expiring), one revoked by a person, two
// revoked because their member left, one with its last use recorded,
// sessions, the session key and an organization's maximum lifetime.
func newCopySource(t *testing.T) copySource {
	t.Helper()
	ctx := context.Background()
	src := copySource{path: tempDBPath(t), active: map[string]int64{}, revoked: map[string]int64{}, sessions: map[string]int64{}}
	pw := map[string]string{"TOKEND_PASSWORD": testPassword}
	add := func(org, email, name, role string) {
		t.Helper()
		if r := runTokend(t, pw, "", "user", "add", "--db", src.path, "--org", org, "--email", email, "--name", name, "--role", role); r.err != nil {
			t.Fatalf("user add %s: %v", email, r.err)
		}
	}
	add("Acme Streaming", "ana@acme.test", "Ana Owner", "owner")
	add("Acme Streaming", "max@acme.test", "Max Member", "video")
	add("Acme Streaming", "mia@acme.test", "Mia Member", "viewer,billing")
	add("Globex", "gus@globex.test", "Gus Owner", "owner")

	db := openDB(t, src.path)
	member := func(email string) store.Member {
		t.Helper()
		m, err := db.Authenticate(ctx, email, testPassword)
		if err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		return m
	}
	src.ana, src.gus = member("ana@acme.test"), member("gus@globex.test")
	maxOld, mia := member("max@acme.test"), member("mia@acme.test")
	token := func(by store.Actor, nt store.NewToken) (store.Token, string) {
		t.Helper()
		tok, key, err := db.CreateToken(ctx, by, nt)
		if err != nil {
			t.Fatalf("create %q: %v", nt.Name, err)
		}
		return tok, string(key)
	}
	session := func(m store.Member) string {
		t.Helper()
		sid, err := db.CreateSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		src.sessions[sid] = m.ID
		return sid
	}

	anaLaptop, anaKey := token(src.ana, store.NewToken{Kind: store.KindPersonal, Name: "Ana laptop"})
	src.active[anaKey] = anaLaptop.ID
	ci, ciKey := token(src.ana, store.NewToken{Kind: store.KindSystem, Name: "CI pipeline", Roles: []store.Role{store.RoleVideo}})
	src.active[ciKey] = ci.ID
	exp := time.Now().Add(30 * 24 * time.Hour)
	billing, billingKey := token(src.ana, store.NewToken{Kind: store.KindSystem, Name: "Billing export", Roles: []store.Role{store.RoleBilling}, ExpiresAt: &exp})
	src.active[billingKey] = billing.ID
	anaP, err := db.VerifyWith(ctx, anaKey, "", store.VerifyOptions{Load: true})
	if err != nil {
		t.Fatal(err)
	}
	deploy, deployKey := token(anaP, store.NewToken{Kind: store.KindSystem, Name: "Deploy bot", Roles: []store.Role{store.RoleAdmin}})
	src.active[deployKey] = deploy.ID
	old, oldKey := token(src.ana, store.NewToken{Kind: store.KindPersonal, Name: "Old laptop"})
	if _, _, err := db.RevokeToken(ctx, src.ana, old.ID); err != nil {
		t.Fatal(err)
	}
	src.revoked[oldKey], src.revokedByAna = old.ID, old.ID
	miaTok, miaKey := token(mia, store.NewToken{Kind: store.KindPersonal, Name: "Mia script"})
	src.active[miaKey] = miaTok.ID
	gusTok, gusKey := token(src.gus, store.NewToken{Kind: store.KindPersonal, Name: "Gus laptop"})
	src.active[gusKey] = gusTok.ID
	if _, err := db.SetMaxTokenLifetime(ctx, src.gus, 90); err != nil {
		t.Fatal(err)
	}

	// Max leaves with two tokens and a session, and comes back.
	for _, name := range []string{"Upload script", "Dashboard"} {
		tok, key := token(maxOld, store.NewToken{Kind: store.KindPersonal, Name: name})
		src.revoked[key] = tok.ID
		src.revokedMaxLeft = append(src.revokedMaxLeft, tok.ID)
	}
	maxOldSession := session(maxOld)
	session(src.ana)
	session(mia)
	if r := runTokend(t, nil, "", "user", "remove", "--db", src.path, "--email", "max@acme.test"); r.err != nil {
		t.Fatal(r.err)
	}
	src.sessions[maxOldSession] = 0
	add("Acme Streaming", "max@acme.test", "Max Again", "viewer")
	maxNew := member("max@acme.test")
	fresh, freshKey := token(maxNew, store.NewToken{Kind: store.KindPersonal, Name: "Upload script"})
	src.active[freshKey] = fresh.ID
	session(maxNew)

	// Invitations: one pending, one withdrawn.
	var inv store.Invitation
	if inv, src.inviteCode, err = db.InviteMember(ctx, src.ana, store.NewInvitation{Email: "ivy@acme.test", Name: "Ivy", Roles: []store.Role{store.RoleSupport}}); err != nil {
		t.Fatal(err)
	}
	if inv, _, err = db.InviteMember(ctx, src.ana, store.NewInvitation{Email: "wes@acme.test", Name: "Wes", Roles: []store.Role{store.RoleViewer}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WithdrawInvitation(ctx, src.ana, inv.ID); err != nil {
		t.Fatal(err)
	}

	// A use recorded, and the session key made, as serve would.
	if _, err := db.Verify(ctx, anaKey, "203.0.113.9"); err != nil {
		t.Fatal(err)
	}
	if err := db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	src.lastUsed = anaLaptop.ID
	if src.sessionKey, err = db.SessionKey(ctx, func() []byte { return []byte(strings.Repeat("0123456789abcdef", 4)) }); err != nil {
		t.Fatal(err)
	}

	// What the store reads, to compare with the copy.
	if src.members, err = db.Members(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if src.invitations, err = db.PendingInvitations(ctx, src.ana); err != nil {
		t.Fatal(err)
	}
	if src.acme, err = db.ListTokens(ctx, src.ana, store.TokenFilter{IncludeRevoked: true}); err != nil {
		t.Fatal(err)
	}
	if src.globex, err = db.ListTokens(ctx, src.gus, store.TokenFilter{IncludeRevoked: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []store.Member{src.ana, src.gus} {
		o, err := db.Org(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		src.orgs = append(src.orgs, o)
	}
	// The source itself is as meant: every active key works, every revoked
	// one is refused.
	for key, id := range src.active {
		if p, err := db.VerifyWith(ctx, key, "", store.VerifyOptions{Load: true}); err != nil || p.TokenID != id {
			t.Fatalf("on SQLite, key of token %d: %v", id, err)
		}
	}
	for key, id := range src.revoked {
		if _, err := db.VerifyWith(ctx, key, "", store.VerifyOptions{Load: true}); !errors.Is(err, store.ErrTokenRevoked) {
			t.Fatalf("on SQLite, revoked token %d: %v", id, err)
		}
	}
	// Those revoked keys presented are audit events too, written here.
	if err := db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if src.events, err = db.AuditEvents(ctx, src.ana, store.AuditFilter{Limit: store.MaxAuditPage}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // as an operator stops tokend before moving
		t.Fatal(err)
	}
	return src
}

var copiedLine = regexp.MustCompile(`^copied (\d+) orgs, (\d+) members, (\d+) sessions, (\d+) tokens, (\d+) settings, (\d+) invitations, (\d+) audit_events, (\d+) token_usage, (\d+) token_addresses from (\S+) to (postgres://\S+) in \S+\n$`)

func TestDBCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.Postgres(t) // before the source: dropped after its handles close
	src := newCopySource(t)
	counts, seq := sqliteCounts(t, src.path)
	want := map[string]int64{"orgs": 2, "members": 5, "sessions": 3, "tokens": 10, "settings": 1, "invitations": 2, "audit_events": counts["audit_events"],
		"token_usage": counts["token_usage"], "token_addresses": counts["token_addresses"]}
	if !reflect.DeepEqual(counts, want) || counts["audit_events"] < 20 {
		t.Fatalf("the source holds %v, want %v", counts, want)
	}

	r := runTokend(t, nil, "", "db", "copy", "--from", src.path, "--to", dsn)
	if r.err != nil {
		t.Fatalf("db copy: %v\nstderr: %s", r.err, r.stderr)
	}
	m := copiedLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("db copy printed %q, want \"copied N orgs, N members, N sessions, N tokens, N settings, N invitations, N audit_events, N token_usage, N token_addresses from FILE to URL in …\"", r.stdout)
	}
	if got, want := fmt.Sprint(m[1:10]), fmt.Sprint([]int64{2, 5, 3, 10, 1, 2, counts["audit_events"], counts["token_usage"], counts["token_addresses"]}); got != want {
		t.Errorf("db copy counted %s, want %s: %q", got, want, r.stdout)
	}
	if m[10] != src.path {
		t.Errorf("db copy names the source %q, want %q", m[10], src.path)
	}
	for _, table := range copyTableNames {
		if n := pgCount(t, dsn, table); n != counts[table] {
			t.Errorf("%s: %d rows on PostgreSQL, %d in the SQLite file", table, n, counts[table])
		}
	}

	pg := openDB(t, dsn)
	if pgSeq := pgInt(t, dsn, `SELECT seq FROM change_seq`); pgSeq != seq {
		t.Errorf("change counter on PostgreSQL: %d, want %d as in the file", pgSeq, seq)
	}

	// What the store reads is the same on both, field by field: members
	// (the one who left among them), tokens with their digests' last four,
	// creators, expiry, last use, revocations and their reasons, and the
	// organizations' settings.
	if es, err := pg.AuditEvents(ctx, src.ana, store.AuditFilter{Limit: store.MaxAuditPage}); err != nil || !reflect.DeepEqual(es, src.events) {
		t.Errorf("audit events on PostgreSQL (%v):\n%+v\nwant\n%+v", err, es, src.events)
	}
	if invs, err := pg.PendingInvitations(ctx, src.ana); err != nil || !reflect.DeepEqual(invs, src.invitations) {
		t.Errorf("invitations on PostgreSQL (%v):\n%+v\nwant\n%+v", err, invs, src.invitations)
	}
	if ms, err := pg.Members(ctx, ""); err != nil || !reflect.DeepEqual(ms, src.members) {
		t.Errorf("members on PostgreSQL (%v):\n%+v\nwant\n%+v", err, ms, src.members)
	}
	for _, c := range []struct {
		owner store.Member
		want  []store.Token
	}{{src.ana, src.acme}, {src.gus, src.globex}} {
		got, err := pg.ListTokens(ctx, c.owner, store.TokenFilter{IncludeRevoked: true})
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s's tokens on PostgreSQL (%v):\n%+v\nwant\n%+v", c.owner.OrgName, err, got, c.want)
		}
	}
	for i, m := range []store.Member{src.ana, src.gus} {
		if o, err := pg.Org(ctx, m); err != nil || o != src.orgs[i] {
			t.Errorf("organization on PostgreSQL: %+v (%v), want %+v", o, err, src.orgs[i])
		}
	}
	if tok, err := pg.Token(ctx, src.ana, src.lastUsed); err != nil || tok.LastUsedAt.IsZero() || tok.LastUsedIP != "203.0.113.9" {
		t.Errorf("the token used before the copy: last used %v from %q (%v), want its use kept", tok.LastUsedAt, tok.LastUsedIP, err)
	}
	if tok, err := pg.Token(ctx, src.ana, src.revokedByAna); err != nil || tok.RevokeReason != store.ReasonRevoked || tok.RevokedAt.IsZero() {
		t.Errorf("the token Ana revoked: reason %q at %v (%v), want %q", tok.RevokeReason, tok.RevokedAt, err, store.ReasonRevoked)
	}
	for _, id := range src.revokedMaxLeft {
		if tok, err := pg.Token(ctx, src.ana, id); err != nil || tok.RevokeReason != store.ReasonMemberLeft {
			t.Errorf("token %d of the member who left: reason %q (%v), want %q", id, tok.RevokeReason, err, store.ReasonMemberLeft)
		}
	}

	// Browsers stay signed in: the same key, the same sessions.
	if k, err := pg.SessionKey(ctx, func() []byte {
		t.Error("a new session key was made after the copy")
		return []byte(strings.Repeat("x", 32))
	}); err != nil || string(k) != string(src.sessionKey) {
		t.Errorf("session key on PostgreSQL: %q (%v), want the one from the file", k, err)
	}
	for sid, memberID := range src.sessions {
		m, err := pg.SessionMember(ctx, sid)
		if memberID == 0 && err == nil {
			t.Errorf("a session of the member who left signs in on PostgreSQL as %s", m.Email)
		} else if memberID != 0 && (err != nil || m.ID != memberID) {
			t.Errorf("session of member %d on PostgreSQL: %+v, %v", memberID, m, err)
		}
	}

	// Every key that worked works; every revoked one stays refused.
	for key, id := range src.active {
		if p, err := pg.Verify(ctx, key, "192.0.2.1"); err != nil || p.TokenID != id {
			t.Errorf("key of token %d on PostgreSQL: token %d, %v; want it to work", id, p.TokenID, err)
		}
	}
	for key, id := range src.revoked {
		if _, err := pg.Verify(ctx, key, "192.0.2.1"); !errors.Is(err, store.ErrTokenRevoked) {
			t.Errorf("revoked token %d on PostgreSQL: %v, want refused as revoked", id, err)
		}
	}

	// Life goes on: new ids follow the copied ones, a revoke holds.
	var maxToken, maxMember int64
	for _, tok := range src.acme {
		maxToken = max(maxToken, tok.ID)
	}
	for _, tok := range src.globex {
		maxToken = max(maxToken, tok.ID)
	}
	for _, m := range src.members {
		maxMember = max(maxMember, m.ID)
	}
	tok, key, err := pg.CreateToken(ctx, src.ana, store.NewToken{Kind: store.KindPersonal, Name: "After the move"})
	if err != nil || tok.ID <= maxToken {
		t.Fatalf("a token made after the copy: id %d (%v), want one past %d", tok.ID, err, maxToken)
	}
	if p, err := pg.Verify(ctx, string(key), "192.0.2.1"); err != nil || p.TokenID != tok.ID {
		t.Errorf("the key made after the copy: %v", err)
	}
	neo, err := pg.CreateMember(ctx, store.NewMember{OrgName: "Acme Streaming", Email: "neo@acme.test", Name: "Neo", Password: testPassword, Roles: []store.Role{store.RoleViewer}})
	if err != nil || neo.ID <= maxMember || neo.OrgID != src.ana.OrgID {
		t.Errorf("a member added after the copy: %+v (%v), want id past %d in Acme Streaming", neo, err, maxMember)
	}
	ini, err := pg.CreateMember(ctx, store.NewMember{OrgName: "Initech", Email: "ina@initech.test", Name: "Ina", Password: testPassword, Roles: []store.Role{store.RoleOwner}})
	if err != nil || ini.OrgID <= max(src.gus.OrgID, src.ana.OrgID) {
		t.Errorf("an organization made after the copy: %+v (%v), want a new id", ini, err)
	}
	for k, id := range src.active {
		if id == src.lastUsed {
			if _, _, err := pg.RevokeToken(ctx, src.ana, id); err != nil {
				t.Fatal(err)
			}
			if _, err := pg.Verify(ctx, k, "192.0.2.1"); !errors.Is(err, store.ErrTokenRevoked) {
				t.Errorf("a copied key revoked on PostgreSQL: %v, want refused", err)
			}
		}
	}

	// Copying again into the database, now in use: refused, nothing changed.
	before := pgSnapshot(t, dsn)
	r = runTokend(t, nil, "", "db", "copy", "--from", src.path, "--to", dsn)
	wantOneLineError(t, r.err, "db copy: the target database is not empty")
	if r.stdout != "" {
		t.Errorf("refused copy printed %q", r.stdout)
	}
	if after := pgSnapshot(t, dsn); after != before {
		t.Errorf("a refused copy changed the target:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// db copy refuses what it cannot do before it writes anything.
func TestDBCopyRefusals(t *testing.T) {
	t.Parallel()
	dsn := storetest.Postgres(t)
	src := tempDBPath(t)
	if r := runTokend(t, map[string]string{"TOKEND_PASSWORD": testPassword}, "", "user", "add", "--db", src,
		"--org", "Acme Streaming", "--email", "ana@acme.test", "--name", "Ana Owner", "--role", "owner"); r.err != nil {
		t.Fatal(r.err)
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name     string
		from, to string
		want     string
		noFile   string // a path that must not exist afterwards
	}{
		{"to a SQLite file", src, filepath.Join(dir, "target.db"), "db copy: --to must be a postgres:// or postgresql:// URL", filepath.Join(dir, "target.db")},
		{"from PostgreSQL", dsn, dsn, "db copy: --from must be a SQLite file", ""},
		{"without --from", "", dsn, "db copy: --from is required", ""},
		{"from a file that does not exist", filepath.Join(dir, "typo.db"), dsn, "typo.db", filepath.Join(dir, "typo.db")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"db", "copy", "--to", tt.to}
			if tt.from != "" {
				args = append(args, "--from", tt.from)
			}
			r := runTokend(t, nil, "", args...)
			if r.err == nil {
				t.Errorf("db copy --from %q --to %q: no error, printed %q; want one saying %q", tt.from, tt.to, r.stdout, tt.want)
			} else {
				wantOneLineError(t, r.err, tt.want)
				if r.stdout != "" {
					t.Errorf("printed %q", r.stdout)
				}
			}
			if tt.noFile != "" {
				if _, err := os.Stat(tt.noFile); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: %v, want no such file", tt.noFile, err)
				}
			}
		})
	}
	// The target is still empty, ready for a copy that works.
	for _, table := range copyTableNames {
		if n := pgRowsIfAny(t, dsn, table); n > 0 {
			t.Errorf("after refused copies, the target's %s table has %d rows", table, n)
		}
	}
}

// A SQLite database that keeps its session key in FILE.session-key, as
// releases before the key moved into the database did: the copy takes the
// key along, so browsers signed in stay signed in on PostgreSQL.
func TestDBCopyTakesTheSessionKeyFile(t *testing.T) {
	dsn := storetest.Postgres(t)
	src := tempDBPath(t)
	if r := runTokend(t, map[string]string{"TOKEND_PASSWORD": testPassword}, "", "user", "add", "--db", src,
		"--org", "Acme", "--email", "ana@acme.test", "--name", "Ana", "--role", "owner"); r.err != nil {
		t.Fatal(r.err)
	}
	key := []byte("an old session key of more than thirty-two bytes")
	if err := os.WriteFile(src+".session-key", append(key, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runTokend(t, nil, "", "db", "copy", "--from", src, "--to", dsn)
	if r.err != nil || !strings.Contains(r.stdout, "browsers stay signed in") {
		t.Fatalf("db copy: %q, %v; want the session key copied", r.stdout, r.err)
	}
	db := openDB(t, dsn)
	got, err := db.SessionKey(context.Background(), func() []byte { return []byte("a new key, which must not be made") })
	if err != nil || string(got) != string(key) {
		t.Errorf("session key on PostgreSQL = %q, %v; want the file's", got, err)
	}
}
