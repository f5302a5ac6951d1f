package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A member who left can be added again with the same email, spelled the same
// or not: a new member, with a clean slate, while the one who left keeps
// their record and their tokens stay revoked.
func TestRejoin(t *testing.T) {
	t.Parallel()
	const newPassword = "a brand new passphrase"
	tests := []struct {
		name, first, again string
	}{
		{"same email", "dana@acme.test", "dana@acme.test"},
		{"another letter case", "dana@acme.test", "DANA@Acme.Test"},
		{"a case beyond ASCII", "josé@acme.test", "JOSÉ@ACME.TEST"},
		{"another Unicode form", "josé@acme.test", "JOSE\u0301@acme.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newTwoOrgs(t)
			db, ctx := o.db, context.Background()
			old := addMember(t, db, "Acme", tt.first, RoleVideo)
			oldCI, oldCIText := addToken(t, db, old, KindPersonal, "ci")
			oldLaptop, oldLaptopText := addToken(t, db, old, KindPersonal, "laptop")
			verify(t, db, oldCIText) // cached, as a busy token would be
			o.clock.Advance(time.Hour)
			if _, err := db.RemoveMember(ctx, tt.first); err != nil {
				t.Fatal(err)
			}
			leftAt := o.clock.Now()
			o.clock.Advance(24 * time.Hour)

			again, err := db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: tt.again, Name: "Back Again", Password: newPassword, Roles: []Role{RoleViewer}})
			if err != nil {
				t.Fatalf("CreateMember again: %v", err)
			}
			if again.ID == old.ID || !again.LeftAt.IsZero() || again.Email != tt.again || !slices.Equal(again.Roles, []Role{RoleViewer}) {
				t.Fatalf("CreateMember again = %+v; want a new member (not %d), in, as %s", again, old.ID, tt.again)
			}

			// Sign-in finds the new member by either spelling, with the new
			// password only.
			for _, email := range []string{tt.first, tt.again} {
				if m, err := db.Authenticate(ctx, email, newPassword); err != nil || m.ID != again.ID {
					t.Errorf("Authenticate(%s, new password) = %+v, %v; want member %d", email, m, err, again.ID)
				}
				if _, err := db.Authenticate(ctx, email, testPassword); !errors.Is(err, ErrBadCredentials) {
					t.Errorf("Authenticate(%s, old password) = %v, want ErrBadCredentials", email, err)
				}
			}

			// The old tokens stay refused and on record as revoked because
			// the member left.
			wantRefused(t, db, string(oldCIText), ErrTokenRevoked)
			wantRefused(t, db, string(oldLaptopText), ErrTokenRevoked)
			oldToks, err := db.ListTokens(ctx, o.owner, TokenFilter{Kind: KindPersonal, MemberID: old.ID, IncludeRevoked: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(oldToks) != 2 {
				t.Fatalf("old member's tokens = %+v; want ci and laptop", oldToks)
			}
			for _, tok := range oldToks {
				if tok.ID != oldCI.ID && tok.ID != oldLaptop.ID || tok.State(o.clock.Now()) != StateRevoked ||
					tok.RevokeReason != ReasonMemberLeft || !tok.RevokedAt.Equal(leftAt) {
					t.Errorf("old token %+v; want revoked, reason %s, at %v", tok, ReasonMemberLeft, leftAt)
				}
			}

			// The new member starts clean, and may reuse an old token's name.
			mine, err := db.ListTokens(ctx, again, TokenFilter{Kind: KindPersonal, MemberID: again.ID, IncludeRevoked: true})
			if err != nil || len(mine) != 0 {
				t.Fatalf("new member's tokens = %+v, %v; want none", mine, err)
			}
			newCI, newCIText := addToken(t, db, again, KindPersonal, "CI")
			if p := verify(t, db, newCIText); p.MemberID != again.ID || !slices.Equal(p.Roles, []Role{RoleViewer}) {
				t.Errorf("new token acts as %+v; want the new member as viewer", p)
			}
			if got, err := db.Token(ctx, o.owner, oldCI.ID); err != nil || got.Active() || got.MemberID != old.ID {
				t.Errorf("old ci after a new one = %+v, %v; want still revoked, still the old member's", got, err)
			}

			// The email is taken again while the new member is in.
			for _, email := range []string{tt.first, tt.again, " " + tt.again + " "} {
				_, err := db.CreateMember(ctx, NewMember{OrgName: "Other", Email: email, Name: "Twin", Password: testPassword, Roles: []Role{RoleVideo}})
				wantError(t, err, ECONFLICT, "email")
			}

			// The other commands act on the member who is in.
			if m, err := db.SetPassword(ctx, tt.first, testPassword+"!"); err != nil || m.ID != again.ID {
				t.Errorf("SetPassword = %+v, %v; want member %d", m, err, again.ID)
			}
			if _, err := db.Authenticate(ctx, tt.again, testPassword+"!"); err != nil {
				t.Errorf("Authenticate after SetPassword: %v", err)
			}
			ms, err := db.Members(ctx, "Acme")
			if err != nil {
				t.Fatal(err)
			}
			var both []Member
			for _, m := range ms {
				if m.ID == old.ID || m.ID == again.ID {
					both = append(both, m)
				}
			}
			if len(both) != 2 || both[0].ID != again.ID || !both[0].LeftAt.IsZero() || both[1].ID != old.ID || !both[1].LeftAt.Equal(leftAt) {
				t.Errorf("Members = %+v; want the new member, then the one who left at %v", both, leftAt)
			}
			m, err := db.RemoveMember(ctx, tt.again)
			if err != nil || m.ID != again.ID {
				t.Fatalf("RemoveMember = %+v, %v; want member %d", m, err, again.ID)
			}
			wantRefused(t, db, string(newCIText), ErrTokenRevoked)
			if got, err := db.Token(ctx, o.owner, newCI.ID); err != nil || got.RevokeReason != ReasonMemberLeft {
				t.Errorf("new token after leaving = %+v, %v; want revoked, member left", got, err)
			}
			_, err = db.RemoveMember(ctx, tt.first)
			wantError(t, err, ECONFLICT, "")
		})
	}
}

func TestRemoveMemberFindsWhoIsIn(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	if _, err := o.db.RemoveMember(ctx, "bob@acme.test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email string
		want        string
	}{
		{"only a member who left", "BOB@acme.test", ECONFLICT},
		{"unknown", "nobody@acme.test", ENOTFOUND},
		{"unknown, close to one who left", "bob@acme.tes", ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := o.db.RemoveMember(ctx, tt.email)
			wantError(t, err, tt.want, "")
			_, err = o.db.SetPassword(ctx, tt.email, testPassword)
			wantError(t, err, ENOTFOUND, "")
			if _, err := o.db.Authenticate(ctx, tt.email, testPassword); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("Authenticate = %v, want ErrBadCredentials", err)
			}
		})
	}
}

// Every unique index a racing writer can run into is named as the store's
// conflicts know it, on each backend.
func TestUniqueViolationNamesTheIndex(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	tok, _ := addToken(t, o.db, o.alice, KindPersonal, "ci")
	for _, tt := range []struct {
		name, index, sql string
		args             []any
	}{
		{"a second active alice", "members_active_email",
			`INSERT INTO members (org_id, email, email_key, name, password_hash, roles, created_at) VALUES (?, 'x', ?, 'x', 'x', 'video', 0)`,
			[]any{o.alice.OrgID, NameKey(o.alice.Email)}},
		{"a second owner", "members_one_owner",
			`INSERT INTO members (org_id, email, email_key, name, password_hash, roles, created_at) VALUES (?, 'x', 'x', 'x', 'x', 'owner', 0)`,
			[]any{o.alice.OrgID}},
		{"a second Acme", "orgs_name_key", `INSERT INTO orgs (name, name_key, created_at) VALUES ('ACME', ?, 0)`, []any{NameKey("Acme")}},
		{"a second active ci", "tokens_active_name",
			`INSERT INTO tokens (org_id, kind, member_id, created_by, name, name_key, digest, last_four, created_at) VALUES (?, 'personal', ?, ?, 'CI', 'ci', ?, 'xxxx', 0)`,
			[]any{o.alice.OrgID, o.alice.ID, o.alice.ID, []byte("another digest")}},
		{"a digest twice", "tokens_digest_key",
			`INSERT INTO tokens (org_id, kind, member_id, created_by, name, name_key, digest, last_four, created_at) SELECT org_id, kind, member_id, created_by, 'other', 'other', digest, 'xxxx', 0 FROM tokens WHERE id = ?`,
			[]any{tok.ID}},
	} {
		_, err := o.db.w.ExecContext(ctx, tt.sql, tt.args...)
		if index, ok := o.db.b.uniqueViolation(err); !ok || index != tt.index {
			t.Errorf("%s: uniqueViolation(%v) = %q, %v; want %q", tt.name, err, index, ok, tt.index)
		}
	}
	_, err := o.db.w.ExecContext(ctx, `INSERT INTO members (org_id) VALUES (?)`, o.alice.OrgID)
	if _, ok := o.db.b.uniqueViolation(err); err == nil || ok {
		t.Errorf("a NOT NULL violation: %v, want an error that is not a unique violation", err)
	}
	if _, ok := o.db.b.uniqueViolation(nil); ok {
		t.Error("nil is a unique violation")
	}
}

// A database made before members could rejoin keeps every member, session
// and token, and every link between them, through migration 0003.
func TestMigrationRejoinKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokend.db")
	raw := openRawAt(t, path, "0002")
	hash := func(p string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	sid := "an old session id"
	sidDigest := DigestOf(sid)
	ciDigest, sysDigest, madeDigest := DigestOf("ci"), DigestOf("sys"), DigestOf("made")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orgs (id, name, name_key, created_at) VALUES (1, 'Acme', 'acme', 100)`, nil},
		{`INSERT INTO members (id, org_id, email, name, password_hash, roles, created_at, left_at) VALUES
			(1, 1, 'Owner@Acme.test', 'Ana', ?, 'owner', 100, NULL),
			(2, 1, 'gone@acme.test', 'Gone', ?, 'admin', 100, 500),
			(3, 1, 'josé@acme.test', 'José', ?, 'video', 100, NULL),
			(4, 1, 'JOSÉ@acme.test', 'Other José', ?, 'viewer', 200, NULL)`,
			[]any{hash("owner password"), hash("gone password"), hash("lower password"), hash("upper password")}},
		{`INSERT INTO sessions (digest, member_id, created_at, expires_at) VALUES (?, 1, 100, 4000000000)`, []any{sidDigest[:]}},
		{`INSERT INTO tokens (id, org_id, kind, member_id, created_by, name, name_key, digest, last_four, created_at, revoked_at, revoke_reason)
			VALUES (1, 1, 'personal', 2, 2, 'ci', 'ci', ?, 'aaaa', 100, 500, 'member_left')`, []any{ciDigest[:]}},
		{`INSERT INTO tokens (id, org_id, kind, created_by_token, name, name_key, digest, last_four, roles, created_at)
			VALUES (2, 1, 'system', 1, 'deploy', 'deploy', ?, 'bbbb', 'video', 200)`, []any{sysDigest[:]}},
		{`INSERT INTO tokens (id, org_id, kind, created_by, name, name_key, digest, last_four, roles, created_at)
			VALUES (3, 1, 'system', 3, 'made', 'made', ?, 'cccc', 'viewer', 300)`, []any{madeDigest[:]}},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	db.PasswordCost = bcrypt.MinCost

	for _, pragma := range []string{`PRAGMA foreign_key_check`, `PRAGMA integrity_check`} {
		rows, err := db.w.Query(pragma)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(vals...))
		}
		rows.Close()
		if want := map[string][]string{`PRAGMA integrity_check`: {"ok"}}[pragma]; !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", pragma, got, want)
		}
	}
	// Foreign keys are back on for the connection the migration ran on.
	var fk int
	if err := db.w.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on the writer = %d, %v; want 1", fk, err)
	}

	ms, err := db.Members(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%d %s %s left=%v", m.ID, m.Email, m.Name, !m.LeftAt.IsZero()))
	}
	want := []string{"3 josé@acme.test José left=false", "4 JOSÉ@acme.test Other José left=false",
		"1 Owner@Acme.test Ana left=false", "2 gone@acme.test Gone left=true"}
	if !slices.Equal(got, want) {
		t.Errorf("members after the migration:\n%q\nwant\n%q", got, want)
	}

	owner, err := db.SessionMember(ctx, sid)
	if err != nil || owner.ID != 1 {
		t.Fatalf("old session = %+v, %v; want the owner", owner, err)
	}
	for _, c := range []struct {
		email, password string
		id              int64
	}{
		{"owner@acme.test", "owner password", 1},
		{"josé@acme.test", "lower password", 3},
		// Two members the old rules let in, one address under the new:
		// each still signs in with the email they were given.
		{"JOSÉ@acme.test", "upper password", 4},
		{"JOSÉ@ACME.TEST", "upper password", 4},
	} {
		if m, err := db.Authenticate(ctx, c.email, c.password); err != nil || m.ID != c.id {
			t.Errorf("Authenticate(%s) = %+v, %v; want member %d", c.email, m, err, c.id)
		}
	}
	_, err = db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: "José@acme.test", Name: "Third", Password: testPassword, Roles: []Role{RoleVideo}})
	wantError(t, err, ECONFLICT, "email")
	if _, err := db.RemoveMember(ctx, "josé@acme.test"); err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: "José@acme.test", Name: "Third", Password: testPassword, Roles: []Role{RoleVideo}})
	wantError(t, err, ECONFLICT, "email") // the other José is still in

	// Tokens keep their members, creators and state.
	for _, c := range []struct {
		id                  int64
		memberID, createdBy int64
		creatorLeft, active bool
	}{
		{1, 2, 2, true, false},
		{2, 0, 2, true, true}, // made through the API by Gone's token
		{3, 0, 3, true, true}, // made on the page by José, who has just left
	} {
		tok, err := db.Token(ctx, owner, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if tok.MemberID != c.memberID || tok.CreatedBy != c.createdBy || tok.CreatorLeft.IsZero() != !c.creatorLeft || tok.Active() != c.active {
			t.Errorf("token %d = %+v; want member %d, made by %d (left %v), active %v", c.id, tok, c.memberID, c.createdBy, c.creatorLeft, c.active)
		}
	}
	// The email of the member who left may be added again.
	back, err := db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: "GONE@acme.test", Name: "Gone Again", Password: testPassword, Roles: []Role{RoleVideo}})
	if err != nil || back.ID == 2 {
		t.Errorf("CreateMember(gone again) = %+v, %v; want a new member", back, err)
	}
}

// A migration that leaves a row pointing at nothing is not committed.
func TestCheckForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := openRawAt(t, filepath.Join(t.TempDir(), "tokend.db"), "0003")
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := checkForeignKeys(ctx, tx); err != nil {
		t.Fatalf("an empty database: %v", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (digest, member_id, created_at, expires_at) VALUES (x'01', 42, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := checkForeignKeys(ctx, tx); err == nil || !strings.Contains(err.Error(), "sessions") {
		t.Errorf("a session of no member: %v, want an error naming sessions", err)
	}
}
