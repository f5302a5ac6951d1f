package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestCreateMemberCreatesOrgOnFirstUse(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	ctx := context.Background()

	owner, err := db.CreateMember(ctx, NewMember{
		OrgName: "  Acme  ", Email: " owner@acme.test ", Name: " Olive Owner ", Password: testPassword,
		Roles: []Role{RoleOwner},
	})
	if err != nil {
		t.Fatalf("CreateMember: %v", err)
	}
	if owner.OrgName != "Acme" || owner.Email != "owner@acme.test" || owner.Name != "Olive Owner" {
		t.Errorf("owner = %+v; want org, email and name trimmed", owner)
	}
	if !owner.IsOwner() || !owner.CreatedAt.Equal(testStart) || !owner.LeftAt.IsZero() {
		t.Errorf("owner = %+v; want owner created at %v, not left", owner, testStart)
	}
	if n := countRows(t, db, "orgs"); n != 1 {
		t.Fatalf("orgs = %d after first member, want 1", n)
	}

	tests := []struct {
		org     string
		email   string
		sameOrg bool
		wantOrg string
	}{
		{"Acme", "alice@acme.test", true, "Acme"},
		{"ACME", "bob@acme.test", true, "Acme"},
		{"acme", "dan@acme.test", true, "Acme"},
		{"Acme Inc", "erin@acmeinc.test", false, "Acme Inc"},
		{"Other", "owner@other.test", false, "Other"},
	}
	for _, tt := range tests {
		t.Run(tt.org+"/"+tt.email, func(t *testing.T) {
			orgs := countRows(t, db, "orgs")
			m := addMember(t, db, tt.org, tt.email, RoleVideo)
			if got := m.OrgID == owner.OrgID; got != tt.sameOrg {
				t.Errorf("member in org %d, owner in org %d; want same org %v", m.OrgID, owner.OrgID, tt.sameOrg)
			}
			if m.OrgName != tt.wantOrg {
				t.Errorf("OrgName = %q, want %q", m.OrgName, tt.wantOrg)
			}
			wantOrgs := orgs
			if !tt.sameOrg {
				wantOrgs++
			}
			if n := countRows(t, db, "orgs"); n != wantOrgs {
				t.Errorf("orgs = %d, want %d", n, wantOrgs)
			}
		})
	}
}

func TestCreateMemberAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		nm        NewMember
		wantRoles []Role
	}{
		{"twelve characters", NewMember{Password: "abcdefghijkl", Roles: []Role{RoleViewer}}, []Role{RoleViewer}},
		{"72 bytes", NewMember{Password: strings.Repeat("ab", 36), Roles: []Role{RoleViewer}}, []Role{RoleViewer}},
		{"24 three-byte characters", NewMember{Password: strings.Repeat("日本", 12), Roles: []Role{RoleViewer}}, []Role{RoleViewer}},
		{"mostly one character", NewMember{Password: strings.Repeat("a", 11) + "b", Roles: []Role{RoleViewer}}, []Role{RoleViewer}},
		{"roles sorted and de-duplicated", NewMember{Password: testPassword, Roles: []Role{RoleSupport, RoleViewer, RoleAdmin, RoleViewer}},
			[]Role{RoleAdmin, RoleViewer, RoleSupport}},
		{"owner with other roles", NewMember{Password: testPassword, Roles: []Role{RoleBilling, RoleOwner}},
			[]Role{RoleOwner, RoleBilling}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, _ := newTestDB(t)
			ctx := context.Background()
			nm := tt.nm
			nm.OrgName, nm.Email, nm.Name = "Acme", "someone@acme.test", "Someone"
			m, err := db.CreateMember(ctx, nm)
			if err != nil {
				t.Fatalf("CreateMember: %v", err)
			}
			if !slices.Equal(m.Roles, tt.wantRoles) {
				t.Errorf("Roles = %q, want %q", m.Roles, tt.wantRoles)
			}
			// The password is the one that signs in: nothing was cut.
			if _, err := db.Authenticate(ctx, nm.Email, nm.Password); err != nil {
				t.Errorf("Authenticate with the password just set: %v", err)
			}
			if len(nm.Password) > 1 {
				if _, err := db.Authenticate(ctx, nm.Email, nm.Password[:len(nm.Password)-1]); !errors.Is(err, ErrBadCredentials) {
					t.Errorf("Authenticate with the password's last byte cut = %v, want ErrBadCredentials", err)
				}
			}
		})
	}
}

func TestCreateMemberRefuses(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	ctx := context.Background()
	addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	addMember(t, db, "Acme", "alice@acme.test", RoleVideo)

	valid := NewMember{OrgName: "Acme", Email: "new@acme.test", Name: "New Person", Password: testPassword, Roles: []Role{RoleViewer}}
	tests := []struct {
		name      string
		change    func(*NewMember)
		wantCode  string
		wantField string
	}{
		{"second owner", func(nm *NewMember) { nm.Roles = []Role{RoleOwner} }, ECONFLICT, "roles"},
		{"second owner, org name in other case", func(nm *NewMember) { nm.OrgName, nm.Roles = "ACME", []Role{RoleOwner, RoleAdmin} }, ECONFLICT, "roles"},
		{"duplicate email", func(nm *NewMember) { nm.Email = "alice@acme.test" }, ECONFLICT, "email"},
		{"duplicate email, other case", func(nm *NewMember) { nm.Email = "Alice@ACME.test" }, ECONFLICT, "email"},
		{"duplicate email, padded", func(nm *NewMember) { nm.Email = "  alice@acme.test " }, ECONFLICT, "email"},
		{"duplicate email in a new org", func(nm *NewMember) { nm.OrgName, nm.Email = "Brand New", "ALICE@acme.test" }, ECONFLICT, "email"},
		{"duplicate owner email as owner of a new org", func(nm *NewMember) {
			nm.OrgName, nm.Email, nm.Roles = "Brand New", "owner@acme.test", []Role{RoleOwner}
		}, ECONFLICT, "email"},
		{"no roles", func(nm *NewMember) { nm.Roles = nil }, EINVALID, "roles"},
		{"unknown role", func(nm *NewMember) { nm.Roles = []Role{RoleViewer, "root"} }, EINVALID, "roles"},
		{"empty role", func(nm *NewMember) { nm.Roles = []Role{""} }, EINVALID, "roles"},
		{"role in upper case", func(nm *NewMember) { nm.Roles = []Role{"Admin"} }, EINVALID, "roles"},
		{"empty email", func(nm *NewMember) { nm.Email = "" }, EINVALID, "email"},
		{"email without @", func(nm *NewMember) { nm.Email = "new.acme.test" }, EINVALID, "email"},
		{"email without local part", func(nm *NewMember) { nm.Email = "@acme.test" }, EINVALID, "email"},
		{"email without domain", func(nm *NewMember) { nm.Email = "new@" }, EINVALID, "email"},
		{"email with a space", func(nm *NewMember) { nm.Email = "new person@acme.test" }, EINVALID, "email"},
		{"email with a control character", func(nm *NewMember) { nm.Email = "new\x00@acme.test" }, EINVALID, "email"},
		{"email too long", func(nm *NewMember) { nm.Email = strings.Repeat("a", 250) + "@acme.test" }, EINVALID, "email"},
		{"empty password", func(nm *NewMember) { nm.Password = "" }, EINVALID, "password"},
		{"eleven characters", func(nm *NewMember) { nm.Password = "abcdefghijk" }, EINVALID, "password"},
		{"eleven multi-byte characters", func(nm *NewMember) { nm.Password = strings.Repeat("日", 11) }, EINVALID, "password"},
		{"one character repeated", func(nm *NewMember) { nm.Password = strings.Repeat("a", 12) }, EINVALID, "password"},
		{"one character repeated, long", func(nm *NewMember) { nm.Password = strings.Repeat("7", 40) }, EINVALID, "password"},
		{"one multi-byte character repeated", func(nm *NewMember) { nm.Password = strings.Repeat("é", 12) }, EINVALID, "password"},
		{"one space repeated", func(nm *NewMember) { nm.Password = strings.Repeat(" ", 16) }, EINVALID, "password"},
		{"73 bytes", func(nm *NewMember) { nm.Password = strings.Repeat("ab", 36) + "c" }, EINVALID, "password"},
		{"25 three-byte characters", func(nm *NewMember) { nm.Password = strings.Repeat("日本", 12) + "語" }, EINVALID, "password"},
		{"empty org", func(nm *NewMember) { nm.OrgName = "  " }, EINVALID, "org"},
		{"org name of 101 characters", func(nm *NewMember) { nm.OrgName = strings.Repeat("o", 101) }, EINVALID, "org"},
		{"empty name", func(nm *NewMember) { nm.Name = "" }, EINVALID, "name"},
		{"name with a newline", func(nm *NewMember) { nm.Name = "New\nPerson" }, EINVALID, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members, orgs := countRows(t, db, "members"), countRows(t, db, "orgs")
			nm := valid
			nm.Roles = slices.Clone(valid.Roles)
			tt.change(&nm)
			m, err := db.CreateMember(ctx, nm)
			wantError(t, err, tt.wantCode, tt.wantField)
			if m.ID != 0 {
				t.Errorf("CreateMember returned member %+v with its error", m)
			}
			if n := countRows(t, db, "members"); n != members {
				t.Errorf("members = %d after a refused create, want %d", n, members)
			}
			if n := countRows(t, db, "orgs"); n != orgs {
				t.Errorf("orgs = %d after a refused create, want %d", n, orgs)
			}
		})
	}
	// The fixture itself is unchanged as Members reports it.
	ms, err := db.Members(ctx, "")
	if err != nil || len(ms) != 2 {
		t.Fatalf("Members = %d members, %v; want 2", len(ms), err)
	}
}

func TestCreateMemberOwnerPerOrg(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	ctx := context.Background()
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	other := addMember(t, db, "Other", "owner@other.test", RoleOwner)
	if owner.OrgID == other.OrgID || !other.IsOwner() {
		t.Fatalf("owners %+v and %+v; want owners of two orgs", owner, other)
	}
	_, err := db.CreateMember(ctx, NewMember{OrgName: "other", Email: "third@other.test", Name: "Third",
		Password: testPassword, Roles: []Role{RoleOwner}})
	wantError(t, err, ECONFLICT, "roles")
	if !strings.Contains(ErrorMessage(err), "owner@other.test") {
		t.Errorf("message %q does not name the present owner", ErrorMessage(err))
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	if _, err := o.db.RemoveMember(ctx, "alice@acme.test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		org  string
		want []string
	}{
		// Per org by name, those still in first, then by email.
		{"Acme", []string{"bob@acme.test", "owner@acme.test", "alice@acme.test"}},
		{"acme", []string{"bob@acme.test", "owner@acme.test", "alice@acme.test"}},
		{"Other", []string{"carol@other.test", "owner@other.test"}},
		{"", []string{"bob@acme.test", "owner@acme.test", "alice@acme.test", "carol@other.test", "owner@other.test"}},
		{"Nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.org, func(t *testing.T) {
			ms, err := o.db.Members(ctx, tt.org)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Email)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Members(%q) = %q, want %q", tt.org, got, tt.want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	if _, err := o.db.RemoveMember(ctx, "bob@acme.test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		email    string
		password string
		want     int64 // member id, 0 for ErrBadCredentials
	}{
		{"right password", "alice@acme.test", testPassword, o.alice.ID},
		{"owner", "owner@acme.test", testPassword, o.owner.ID},
		{"email in other case, padded", "  ALICE@Acme.Test ", testPassword, o.alice.ID},
		{"wrong password", "alice@acme.test", testPassword + "!", 0},
		{"password in other case", "alice@acme.test", strings.ToUpper(testPassword), 0},
		{"empty password", "alice@acme.test", "", 0},
		{"another member's email", "carol@other.test", "wrong password here", 0},
		{"unknown email", "nobody@acme.test", testPassword, 0},
		{"empty email", "", testPassword, 0},
		{"removed member", "bob@acme.test", testPassword, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := o.db.Authenticate(ctx, tt.email, tt.password)
			if tt.want == 0 {
				if !errors.Is(err, ErrBadCredentials) || m.ID != 0 {
					t.Fatalf("Authenticate = %+v, %v; want ErrBadCredentials", m, err)
				}
				wantError(t, err, EFORBIDDEN, "")
				return
			}
			if err != nil || m.ID != tt.want {
				t.Fatalf("Authenticate = %+v, %v; want member %d", m, err, tt.want)
			}
			if m.OrgName != "Acme" || len(m.Roles) == 0 {
				t.Errorf("Authenticate = %+v; want a whole member of Acme", m)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	sid, err := o.db.CreateSession(ctx, o.alice.ID)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	sid2, err := o.db.CreateSession(ctx, o.alice.ID)
	if err != nil || sid2 == sid || len(sid) < 40 {
		t.Fatalf("second CreateSession = %q, %v; first was %q; want a different long id", sid2, err, sid)
	}
	// Only the digest is kept.
	var n int
	if err := o.db.db.QueryRow(`SELECT count(*) FROM sessions WHERE digest = ?`, []byte(sid)).Scan(&n); err != nil || n != 0 {
		t.Errorf("sessions stored by plain id: %d, %v", n, err)
	}
	digest := DigestOf(sid)
	if err := o.db.db.QueryRow(`SELECT count(*) FROM sessions WHERE digest = ?`, digest[:]).Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions stored by digest: %d, %v; want 1", n, err)
	}

	tests := []struct {
		name string
		sid  string
		want int64 // 0 for not found
	}{
		{"signed in", sid, o.alice.ID},
		{"second session", sid2, o.alice.ID},
		{"unknown", "no-such-session", 0},
		{"empty", "", 0},
		{"digest instead of id", string(digest[:]), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := o.db.SessionMember(ctx, tt.sid)
			if tt.want == 0 {
				wantError(t, err, ENOTFOUND, "")
				return
			}
			if err != nil || m.ID != tt.want || m.Email != "alice@acme.test" {
				t.Fatalf("SessionMember = %+v, %v; want member %d", m, err, tt.want)
			}
		})
	}

	if err := o.db.DeleteSession(ctx, sid); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := o.db.SessionMember(ctx, sid); ErrorCode(err) != ENOTFOUND {
		t.Errorf("SessionMember after DeleteSession = %v, want not found", err)
	}
	if m, err := o.db.SessionMember(ctx, sid2); err != nil || m.ID != o.alice.ID {
		t.Errorf("other session after DeleteSession = %+v, %v; want it kept", m, err)
	}
	for _, s := range []string{sid, "never-existed"} {
		if err := o.db.DeleteSession(ctx, s); err != nil {
			t.Errorf("DeleteSession(%q) = %v, want nil", s, err)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		after time.Duration
		found bool
	}{
		{0, true},
		{SessionLifetime - time.Second, true},
		{SessionLifetime, false},
		{SessionLifetime + time.Second, false},
		{30 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			t.Parallel()
			db, clock := newTestDB(t)
			ctx := context.Background()
			m := addMember(t, db, "Acme", "alice@acme.test", RoleVideo)
			sid, err := db.CreateSession(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.after)
			got, err := db.SessionMember(ctx, sid)
			if tt.found {
				if err != nil || got.ID != m.ID {
					t.Fatalf("SessionMember after %v = %+v, %v; want member %d", tt.after, got, err, m.ID)
				}
				return
			}
			wantError(t, err, ENOTFOUND, "")
			// Signing out anyone clears expired sessions away.
			if err := db.DeleteSession(ctx, "someone-else"); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, db, "sessions"); n != 0 {
				t.Errorf("sessions = %d after an expired one was swept, want 0", n)
			}
		})
	}
}

func TestSessionEndsWhenMemberRemoved(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	aliceSID, err := o.db.CreateSession(ctx, o.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	bobSID, err := o.db.CreateSession(ctx, o.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.db.RemoveMember(ctx, "alice@acme.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.db.SessionMember(ctx, aliceSID); ErrorCode(err) != ENOTFOUND {
		t.Errorf("removed member's SessionMember = %v, want not found", err)
	}
	var n int
	if err := o.db.db.QueryRow(`SELECT count(*) FROM sessions WHERE member_id = ?`, o.alice.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("removed member's sessions = %d, %v; want 0", n, err)
	}
	if m, err := o.db.SessionMember(ctx, bobSID); err != nil || m.ID != o.bob.ID {
		t.Errorf("another member's session = %+v, %v; want kept", m, err)
	}
}

func TestRemoveMember(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	db := o.db

	aliceOld, _ := addToken(t, db, o.alice, KindPersonal, "old")
	o.clock.Advance(time.Minute)
	aliceOld = revoke(t, db, o.alice, aliceOld.ID)
	alice1, _ := addToken(t, db, o.alice, KindPersonal, "ci")
	alice2, _ := addToken(t, db, o.alice, KindPersonal, "laptop")
	bobTok, _ := addToken(t, db, o.bob, KindPersonal, "ci")
	ownerTok, _ := addToken(t, db, o.owner, KindPersonal, "ci")
	sysTok, _ := addToken(t, db, o.owner, KindSystem, "deploy", RoleVideo)

	o.clock.Advance(time.Hour)
	leftAt := o.clock.Now()
	m, err := db.RemoveMember(ctx, " ALICE@acme.test ")
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if m.ID != o.alice.ID || !m.LeftAt.Equal(leftAt) {
		t.Errorf("RemoveMember = %+v; want alice, left at %v", m, leftAt)
	}

	tests := []struct {
		name       string
		tok        Token
		wantActive bool
		wantReason string
		wantAt     time.Time
	}{
		{"member's token", alice1, false, ReasonMemberLeft, leftAt},
		{"member's other token", alice2, false, ReasonMemberLeft, leftAt},
		{"member's token revoked before", aliceOld, false, ReasonRevoked, aliceOld.RevokedAt},
		{"another member's token", bobTok, true, "", time.Time{}},
		{"owner's personal token", ownerTok, true, "", time.Time{}},
		{"system token", sysTok, true, "", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Token(ctx, o.owner, tt.tok.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Active() != tt.wantActive || got.RevokeReason != tt.wantReason || !got.RevokedAt.Equal(tt.wantAt) {
				t.Errorf("token = active %v, reason %q, revoked at %v; want %v, %q, %v",
					got.Active(), got.RevokeReason, got.RevokedAt, tt.wantActive, tt.wantReason, tt.wantAt)
			}
		})
	}

	// The member is recorded as having left, not deleted, and can no longer
	// act with the copy of themselves a caller may still hold.
	ms, err := db.Members(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m Member) bool { return m.ID == o.alice.ID })
	if i < 0 || !ms[i].LeftAt.Equal(leftAt) {
		t.Errorf("Members after removal = %+v; want alice kept with LeftAt %v", ms, leftAt)
	}
	if _, err := db.Authenticate(ctx, "alice@acme.test", testPassword); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed member Authenticate = %v, want ErrBadCredentials", err)
	}
	_, _, err = db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "after"})
	wantError(t, err, EFORBIDDEN, "")
	_, _, err = db.RevokeToken(ctx, o.alice, alice1.ID)
	wantError(t, err, EFORBIDDEN, "")
}

func TestRemoveMemberRefuses(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	if _, err := o.db.RemoveMember(ctx, "bob@acme.test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		email string
		want  string
	}{
		{"owner", "owner@acme.test", EFORBIDDEN},
		{"owner, other case", "Owner@Acme.Test", EFORBIDDEN},
		{"other org's owner", "owner@other.test", EFORBIDDEN},
		{"removed twice", "bob@acme.test", ECONFLICT},
		{"unknown", "nobody@acme.test", ENOTFOUND},
		{"empty", "", ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := o.db.RemoveMember(ctx, tt.email)
			wantError(t, err, tt.want, "")
			if m.ID != 0 {
				t.Errorf("RemoveMember returned %+v with its error", m)
			}
		})
	}
	// Nobody else left along the way.
	ms, err := o.db.Members(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if left := !m.LeftAt.IsZero(); left != (m.ID == o.bob.ID) {
			t.Errorf("member %s left = %v", m.Email, left)
		}
	}
}

// An unknown email is checked against a hash of the cost real passwords get,
// so the answer takes as long as for a known email with a wrong password.
func TestDummyHashFollowsPasswordCost(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 1, bcrypt.MinCost} {
		db.PasswordCost = cost
		got, err := bcrypt.Cost(db.dummyHash())
		if err != nil || got != cost {
			t.Errorf("PasswordCost %d: dummy hash cost = %d, %v", cost, got, err)
		}
	}
}
