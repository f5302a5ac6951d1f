package store

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		actor     func(twoOrgs) Member
		nt        NewToken
		wantName  string
		wantRoles []Role
	}{
		{"personal by a member", func(o twoOrgs) Member { return o.alice },
			NewToken{Kind: KindPersonal, Name: "CI deploy"}, "CI deploy", nil},
		{"personal by the owner", func(o twoOrgs) Member { return o.owner },
			NewToken{Kind: KindPersonal, Name: "laptop"}, "laptop", nil},
		{"personal, name trimmed", func(o twoOrgs) Member { return o.bob },
			NewToken{Kind: KindPersonal, Name: " \t CI deploy \n "}, "CI deploy", nil},
		{"system by the owner", func(o twoOrgs) Member { return o.owner },
			NewToken{Kind: KindSystem, Name: "encoder", Roles: []Role{RoleVideo}}, "encoder", []Role{RoleVideo}},
		{"system, roles sorted and de-duplicated", func(o twoOrgs) Member { return o.owner },
			NewToken{Kind: KindSystem, Name: " reports ", Roles: []Role{RoleSupport, RoleViewer, RoleAdmin, RoleViewer, RoleSupport}},
			"reports", []Role{RoleAdmin, RoleViewer, RoleSupport}},
		{"system by another org's owner", func(o twoOrgs) Member { return o.owner2 },
			NewToken{Kind: KindSystem, Name: "billing export", Roles: []Role{RoleBilling}}, "billing export", []Role{RoleBilling}},
		{"100 two-byte characters", func(o twoOrgs) Member { return o.alice },
			NewToken{Kind: KindPersonal, Name: strings.Repeat("é", 100)}, strings.Repeat("é", 100), nil},
		{"100 three-byte characters", func(o twoOrgs) Member { return o.alice },
			NewToken{Kind: KindPersonal, Name: strings.Repeat("日", 100)}, strings.Repeat("日", 100), nil},
		// A browser's maxlength counts UTF-16 code units: an emoji is two.
		{"50 four-byte characters", func(o twoOrgs) Member { return o.owner },
			NewToken{Kind: KindSystem, Name: strings.Repeat("🔑", 50), Roles: []Role{RoleViewer}}, strings.Repeat("🔑", 50), []Role{RoleViewer}},
		{"100 characters after trimming", func(o twoOrgs) Member { return o.alice },
			NewToken{Kind: KindPersonal, Name: "  " + strings.Repeat("n", 100) + "  "}, strings.Repeat("n", 100), nil},
	}
	o := newTwoOrgs(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actor := tt.actor(o)
			o.clock.Advance(90 * time.Second)
			wantCreated := o.clock.Now()
			tok, text, err := o.db.CreateToken(context.Background(), actor, tt.nt)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			kind, ok := ParseTokenText(string(text))
			if !ok || kind != tt.nt.Kind {
				t.Errorf("ParseTokenText(%q) = %q, %v; want %q", text, kind, ok, tt.nt.Kind)
			}
			wantMember := int64(0)
			if tt.nt.Kind == KindPersonal {
				wantMember = actor.ID
			}
			switch {
			case tok.ID == 0, tok.Kind != tt.nt.Kind, tok.OrgID != actor.OrgID:
				t.Errorf("token %+v; want a %s token of org %d", tok, tt.nt.Kind, actor.OrgID)
			case tok.Name != tt.wantName:
				t.Errorf("Name = %q, want %q", tok.Name, tt.wantName)
			case !slices.Equal(tok.Roles, tt.wantRoles):
				t.Errorf("Roles = %q, want %q", tok.Roles, tt.wantRoles)
			case tok.MemberID != wantMember:
				t.Errorf("MemberID = %d, want %d", tok.MemberID, wantMember)
			case tok.CreatedBy != actor.ID || tok.CreatedByName != actor.Name:
				t.Errorf("created by %d %q, want %d %q", tok.CreatedBy, tok.CreatedByName, actor.ID, actor.Name)
			case !tok.CreatedAt.Equal(wantCreated):
				t.Errorf("CreatedAt = %v, want %v", tok.CreatedAt, wantCreated)
			case !tok.Active() || tok.RevokeReason != "":
				t.Errorf("token %+v; want active", tok)
			case tok.LastFour != text.LastFour():
				t.Errorf("LastFour = %q, secret ends %q", tok.LastFour, text.LastFour())
			}
			if tt.nt.Kind == KindPersonal && (tok.MemberEmail != actor.Email || tok.MemberName != actor.Name) {
				t.Errorf("member %q %q, want %q %q", tok.MemberEmail, tok.MemberName, actor.Email, actor.Name)
			}
			// What CreateToken returns is what the store reads back.
			got, err := o.db.Token(context.Background(), actor, tok.ID)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if got.Name != tok.Name || !slices.Equal(got.Roles, tok.Roles) || got.LastFour != tok.LastFour || got.MemberID != tok.MemberID {
				t.Errorf("Token = %+v, CreateToken returned %+v", got, tok)
			}
		})
	}
}

func TestCreateTokenRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		byMember  bool // alice acts instead of the owner
		nt        NewToken
		wantCode  string
		wantField string
	}{
		{"system by a member", true, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleVideo}}, EFORBIDDEN, ""},
		{"system by a member, with the member's own role", true, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleVideo}}, EFORBIDDEN, ""},
		{"empty name", false, NewToken{Kind: KindPersonal, Name: ""}, EINVALID, "name"},
		{"blank name", false, NewToken{Kind: KindPersonal, Name: " \t\n "}, EINVALID, "name"},
		{"101 characters", false, NewToken{Kind: KindPersonal, Name: strings.Repeat("n", 101)}, EINVALID, "name"},
		{"101 multi-byte characters", false, NewToken{Kind: KindPersonal, Name: strings.Repeat("é", 101)}, EINVALID, "name"},
		{"51 four-byte characters", false, NewToken{Kind: KindPersonal, Name: strings.Repeat("🔑", 51)}, EINVALID, "name"},
		{"NUL", false, NewToken{Kind: KindPersonal, Name: "ci\x00"}, EINVALID, "name"},
		{"newline inside", false, NewToken{Kind: KindPersonal, Name: "ci\ndeploy"}, EINVALID, "name"},
		{"tab inside", false, NewToken{Kind: KindPersonal, Name: "ci\tdeploy"}, EINVALID, "name"},
		{"escape", false, NewToken{Kind: KindPersonal, Name: "ci\x1b[31m"}, EINVALID, "name"},
		{"DEL", false, NewToken{Kind: KindPersonal, Name: "ci\x7f"}, EINVALID, "name"},
		{"C1 control", false, NewToken{Kind: KindPersonal, Name: "ci\u0085deploy"}, EINVALID, "name"},
		{"right-to-left override", false, NewToken{Kind: KindPersonal, Name: "ci\u202edeploy"}, EINVALID, "name"},
		{"left-to-right embedding", false, NewToken{Kind: KindPersonal, Name: "\u202aci"}, EINVALID, "name"},
		{"right-to-left isolate", false, NewToken{Kind: KindPersonal, Name: "ci\u2067x"}, EINVALID, "name"},
		{"right-to-left mark", false, NewToken{Kind: KindPersonal, Name: "ci\u200f"}, EINVALID, "name"},
		{"arabic letter mark", false, NewToken{Kind: KindPersonal, Name: "ci\u061c"}, EINVALID, "name"},
		{"invalid UTF-8", false, NewToken{Kind: KindPersonal, Name: "ci\xff"}, EINVALID, "name"},
		{"bad name on a system token", false, NewToken{Kind: KindSystem, Name: "a\u202eb", Roles: []Role{RoleAdmin}}, EINVALID, "name"},
		{"system without roles", false, NewToken{Kind: KindSystem, Name: "deploy"}, EINVALID, "roles"},
		{"system with owner", false, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleOwner}}, EINVALID, "roles"},
		{"system with owner among others", false, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleAdmin, RoleOwner}}, EINVALID, "roles"},
		{"system with unknown role", false, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleViewer, "root"}}, EINVALID, "roles"},
		{"system with empty role", false, NewToken{Kind: KindSystem, Name: "deploy", Roles: []Role{""}}, EINVALID, "roles"},
		{"personal with roles", false, NewToken{Kind: KindPersonal, Name: "ci", Roles: []Role{RoleViewer}}, EINVALID, "roles"},
		{"personal by a member, with roles", true, NewToken{Kind: KindPersonal, Name: "ci", Roles: []Role{RoleAdmin}}, EINVALID, "roles"},
		{"no kind", false, NewToken{Name: "ci"}, EINVALID, "kind"},
		{"unknown kind", false, NewToken{Kind: "admin", Name: "ci", Roles: []Role{RoleAdmin}}, EINVALID, "kind"},
	}
	o := newTwoOrgs(t)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actor := o.owner
			if tt.byMember {
				actor = o.alice
			}
			before := countRows(t, o.db, "tokens")
			tok, text, err := o.db.CreateToken(ctx, actor, tt.nt)
			wantError(t, err, tt.wantCode, tt.wantField)
			if tok.ID != 0 || text != "" {
				t.Errorf("CreateToken returned %+v, %q with its error", tok, text)
			}
			if n := countRows(t, o.db, "tokens"); n != before {
				t.Errorf("tokens = %d after a refused create, want %d", n, before)
			}
		})
	}
}

// The store checks the actor against the database, not against the copy the
// caller passes in.
func TestCreateTokenChecksActor(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	bob := o.bob
	if _, err := o.db.RemoveMember(ctx, bob.Email); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		actor func() Member
		nt    NewToken
	}{
		{"member posing as owner", func() Member {
			m := o.alice
			m.Roles = []Role{RoleOwner}
			return m
		}, NewToken{Kind: KindSystem, Name: "sneaky", Roles: []Role{RoleAdmin}}},
		{"member claiming another org", func() Member {
			m := o.alice
			m.OrgID = o.owner2.OrgID
			return m
		}, NewToken{Kind: KindPersonal, Name: "sneaky"}},
		{"owner claiming another org", func() Member {
			m := o.owner
			m.OrgID = o.owner2.OrgID
			return m
		}, NewToken{Kind: KindSystem, Name: "sneaky", Roles: []Role{RoleAdmin}}},
		{"removed member", func() Member { return bob }, NewToken{Kind: KindPersonal, Name: "sneaky"}},
		{"member that never was", func() Member {
			return Member{ID: 9999, OrgID: o.owner.OrgID, Roles: []Role{RoleOwner}}
		}, NewToken{Kind: KindSystem, Name: "sneaky", Roles: []Role{RoleAdmin}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countRows(t, o.db, "tokens")
			_, _, err := o.db.CreateToken(ctx, tt.actor(), tt.nt)
			wantError(t, err, EFORBIDDEN, "")
			if n := countRows(t, o.db, "tokens"); n != before {
				t.Errorf("tokens = %d after a refused create, want %d", n, before)
			}
		})
	}
}

func TestCreateTokenDuplicateName(t *testing.T) {
	t.Parallel()
	type step struct {
		actor func(twoOrgs) Member
		nt    NewToken
	}
	owner := func(o twoOrgs) Member { return o.owner }
	alice := func(o twoOrgs) Member { return o.alice }
	bob := func(o twoOrgs) Member { return o.bob }
	owner2 := func(o twoOrgs) Member { return o.owner2 }
	personal := func(name string) NewToken { return NewToken{Kind: KindPersonal, Name: name} }
	system := func(name string) NewToken { return NewToken{Kind: KindSystem, Name: name, Roles: []Role{RoleViewer}} }

	// Every case uses names of its own, so all share one database.
	tests := []struct {
		name        string
		first       step
		revokeFirst bool
		second      step
		wantCode    string // "" when the second token is made
	}{
		{"same member, same name", step{alice, personal("deploy a")}, false, step{alice, personal("deploy a")}, ECONFLICT},
		{"same member, other case", step{alice, personal("Deploy B")}, false, step{alice, personal("dEPLOY b")}, ECONFLICT},
		{"same member, padded", step{alice, personal("deploy c")}, false, step{alice, personal("  deploy c ")}, ECONFLICT},
		{"system, same name", step{owner, system("encoder d")}, false, step{owner, system("ENCODER D")}, ECONFLICT},
		{"another member", step{alice, personal("deploy e")}, false, step{bob, personal("deploy e")}, ""},
		{"owner and a member", step{alice, personal("deploy f")}, false, step{owner, personal("deploy f")}, ""},
		{"personal then system", step{owner, personal("deploy g")}, false, step{owner, system("deploy g")}, ""},
		{"system then personal", step{owner, system("deploy h")}, false, step{owner, personal("deploy h")}, ""},
		{"after revoking", step{alice, personal("deploy i")}, true, step{alice, personal("deploy i")}, ""},
		{"system after revoking", step{owner, system("deploy j")}, true, step{owner, system("Deploy J")}, ""},
		{"another org's system token", step{owner, system("deploy k")}, false, step{owner2, system("deploy k")}, ""},
		{"a similar name", step{alice, personal("deploy l")}, false, step{alice, personal("deploy l2")}, ""},
	}
	o := newTwoOrgs(t)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firstActor := tt.first.actor(o)
			first, _ := addToken(t, o.db, firstActor, tt.first.nt.Kind, tt.first.nt.Name, tt.first.nt.Roles...)
			if tt.revokeFirst {
				revoke(t, o.db, firstActor, first.ID)
			}
			before := countRows(t, o.db, "tokens")
			tok, _, err := o.db.CreateToken(ctx, tt.second.actor(o), tt.second.nt)
			if tt.wantCode == "" {
				if err != nil || tok.ID == 0 {
					t.Fatalf("second CreateToken = %+v, %v; want made", tok, err)
				}
				return
			}
			wantError(t, err, tt.wantCode, "name")
			if n := countRows(t, o.db, "tokens"); n != before {
				t.Errorf("tokens = %d after a refused create, want %d", n, before)
			}
		})
	}
}

// readDBFiles returns the bytes of the database file and its write-ahead
// log, wherever SQLite has put the rows so far.
func readDBFiles(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database files at %s", path)
	}
	return all
}

func TestTokenSecretNeverStored(t *testing.T) {
	sqliteOnly(t) // reads the database's files; the code that writes is one for both
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	type made struct {
		tok  Token
		text TokenText
	}
	var tokens []made
	for i, nt := range []NewToken{
		{Kind: KindPersonal, Name: "ci"},
		{Kind: KindSystem, Name: "deploy", Roles: []Role{RoleAdmin}},
		{Kind: KindPersonal, Name: "revoked later"},
	} {
		tok, text := addToken(t, o.db, o.owner, nt.Kind, nt.Name, nt.Roles...)
		if i == 2 {
			revoke(t, o.db, o.owner, tok.ID)
		}
		tokens = append(tokens, made{tok, text})
	}

	check := func(t *testing.T, files []byte) {
		for _, m := range tokens {
			random := string(m.text[prefixLen : prefixLen+randomLen])
			for _, secret := range []string{string(m.text), random, random[:15], random[15:]} {
				if bytes.Contains(files, []byte(secret)) {
					t.Errorf("database files contain %q of token %q", secret, m.text)
				}
			}
			digest := DigestOf(string(m.text))
			if !bytes.Contains(files, digest[:]) {
				t.Errorf("database files lack the digest of token %q", m.text)
			}
		}
	}
	t.Run("open", func(t *testing.T) { check(t, readDBFiles(t, o.db.Path())) })

	for _, m := range tokens {
		var digest []byte
		var lastFour string
		if err := o.db.db.QueryRowContext(ctx, `SELECT digest, last_four FROM tokens WHERE id = ?`, m.tok.ID).Scan(&digest, &lastFour); err != nil {
			t.Fatal(err)
		}
		want := DigestOf(string(m.text))
		if !bytes.Equal(digest, want[:]) {
			t.Errorf("token %d: digest %x, want SHA-256 of the text %x", m.tok.ID, digest, want)
		}
		if lastFour != m.text.LastFour() || lastFour != string(m.text[TokenTextLen-4:]) {
			t.Errorf("token %d: last_four %q, text ends %q", m.tok.ID, lastFour, m.text[TokenTextLen-4:])
		}
	}

	// Closing checkpoints the log into the main file; look again.
	if err := o.db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("closed", func(t *testing.T) { check(t, readDBFiles(t, o.db.Path())) })
}

func TestListTokens(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	// Made one a minute apart, in this order; newest first means reversed.
	mk := func(actor Member, kind TokenKind, name string, roles ...Role) Token {
		o.clock.Advance(time.Minute)
		tok, _ := addToken(t, o.db, actor, kind, name, roles...)
		return tok
	}
	mk(o.owner, KindPersonal, "o1")
	mk(o.alice, KindPersonal, "a1")
	mk(o.owner, KindSystem, "s1", RoleVideo)
	mk(o.owner2, KindPersonal, "x1")
	a2 := mk(o.alice, KindPersonal, "a2")
	mk(o.bob, KindPersonal, "b1")
	mk(o.owner2, KindSystem, "xs", RoleAdmin)
	s2 := mk(o.owner, KindSystem, "s2", RoleBilling)
	mk(o.carol, KindPersonal, "c1")
	mk(o.alice, KindPersonal, "a3")
	revoke(t, o.db, o.alice, a2.ID)
	revoke(t, o.db, o.owner, s2.ID)

	tests := []struct {
		name     string
		actor    Member
		filter   TokenFilter
		want     []string
		wantCode string
	}{
		{"member's own", o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID}, []string{"a3", "a1"}, ""},
		{"member's own with revoked", o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID, IncludeRevoked: true}, []string{"a3", "a2", "a1"}, ""},
		{"another member's own", o.bob, TokenFilter{Kind: KindPersonal, MemberID: o.bob.ID}, []string{"b1"}, ""},
		{"other org member's own", o.carol, TokenFilter{Kind: KindPersonal, MemberID: o.carol.ID}, []string{"c1"}, ""},
		{"member asks for everyone's personal", o.alice, TokenFilter{Kind: KindPersonal}, nil, EFORBIDDEN},
		{"member asks for another member's", o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.bob.ID}, nil, EFORBIDDEN},
		{"member asks for system", o.alice, TokenFilter{Kind: KindSystem}, nil, EFORBIDDEN},
		{"member asks for system as themselves", o.alice, TokenFilter{Kind: KindSystem, MemberID: o.alice.ID}, nil, EFORBIDDEN},
		{"member asks for every kind", o.alice, TokenFilter{MemberID: o.alice.ID}, nil, EFORBIDDEN},
		{"member asks for everything", o.alice, TokenFilter{IncludeRevoked: true}, nil, EFORBIDDEN},
		{"admin member asks for everyone's", o.carol, TokenFilter{Kind: KindPersonal}, nil, EFORBIDDEN},
		{"owner's own", o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.owner.ID}, []string{"o1"}, ""},
		{"owner, every member's personal", o.owner, TokenFilter{Kind: KindPersonal}, []string{"a3", "b1", "a1", "o1"}, ""},
		{"owner, every member's personal with revoked", o.owner, TokenFilter{Kind: KindPersonal, IncludeRevoked: true}, []string{"a3", "b1", "a2", "a1", "o1"}, ""},
		{"owner, one member's", o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID}, []string{"a3", "a1"}, ""},
		{"owner, another org's member", o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.carol.ID}, nil, ""},
		{"owner, system", o.owner, TokenFilter{Kind: KindSystem}, []string{"s1"}, ""},
		{"owner, system with revoked", o.owner, TokenFilter{Kind: KindSystem, IncludeRevoked: true}, []string{"s2", "s1"}, ""},
		{"owner, everything", o.owner, TokenFilter{IncludeRevoked: true}, []string{"a3", "s2", "b1", "a2", "s1", "a1", "o1"}, ""},
		{"other org's owner, personal", o.owner2, TokenFilter{Kind: KindPersonal}, []string{"c1", "x1"}, ""},
		{"other org's owner, system", o.owner2, TokenFilter{Kind: KindSystem}, []string{"xs"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := o.db.ListTokens(ctx, tt.actor, tt.filter)
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, "")
				if ts != nil {
					t.Errorf("ListTokens returned %d tokens with its error", len(ts))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, tok := range ts {
				got = append(got, tok.Name)
				if tok.OrgID != tt.actor.OrgID {
					t.Errorf("%s: token of org %d listed for org %d", tok.Name, tok.OrgID, tt.actor.OrgID)
				}
				if i > 0 && tok.CreatedAt.After(ts[i-1].CreatedAt) {
					t.Errorf("%s listed after the older %s", tok.Name, ts[i-1].Name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ListTokens = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("owner sees whose tokens they are", func(t *testing.T) {
		ts, err := o.db.ListTokens(ctx, o.owner, TokenFilter{Kind: KindPersonal})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Member{"a3": o.alice, "b1": o.bob, "a1": o.alice, "o1": o.owner}
		for _, tok := range ts {
			m := want[tok.Name]
			if tok.MemberID != m.ID || tok.MemberEmail != m.Email || tok.MemberName != m.Name {
				t.Errorf("%s: member %d %q %q, want %d %q %q", tok.Name, tok.MemberID, tok.MemberEmail, tok.MemberName, m.ID, m.Email, m.Name)
			}
		}
	})
}

func TestTokenAccess(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	// Each case revokes, or fails to revoke, a token made for it alone: who
	// made it, and its kind.
	type target struct {
		maker func() Member // nil: a token id that does not exist
		kind  TokenKind
	}
	alicePersonal := target{func() Member { return o.alice }, KindPersonal}
	bobPersonal := target{func() Member { return o.bob }, KindPersonal}
	ownerPersonal := target{func() Member { return o.owner }, KindPersonal}
	system := target{func() Member { return o.owner }, KindSystem}
	otherSystem := target{func() Member { return o.owner2 }, KindSystem}
	otherPersonal := target{func() Member { return o.carol }, KindPersonal}
	tests := []struct {
		name    string
		actor   Member
		target  target
		allowed bool
	}{
		{"member, own token", o.alice, alicePersonal, true},
		{"member, another member's token", o.alice, bobPersonal, false},
		{"member, owner's personal token", o.alice, ownerPersonal, false},
		{"member, system token", o.alice, system, false},
		{"member, other org's system token", o.alice, otherSystem, false},
		{"owner, member's token", o.owner, alicePersonal, true},
		{"owner, own personal token", o.owner, ownerPersonal, true},
		{"owner, system token", o.owner, system, true},
		{"owner, other org's system token", o.owner, otherSystem, false},
		{"owner, other org's member's token", o.owner, otherPersonal, false},
		{"other org's owner, member's token", o.owner2, alicePersonal, false},
		{"other org's owner, system token", o.owner2, system, false},
		{"other org's admin, member's token", o.carol, alicePersonal, false},
		{"owner, no such token", o.owner, target{}, false},
	}
	// A refusal reads exactly like a token that does not exist, so ids
	// reveal nothing.
	_, notFound := o.db.Token(ctx, o.owner, 1<<40)
	wantError(t, notFound, ENOTFOUND, "")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := int64(1 << 40)
			var maker Member
			if tt.target.maker != nil {
				maker = tt.target.maker()
				var roles []Role
				if tt.target.kind == KindSystem {
					roles = []Role{RoleViewer}
				}
				tok, _ := addToken(t, o.db, maker, tt.target.kind, tt.name, roles...)
				id = tok.ID
			}

			got, err := o.db.Token(ctx, tt.actor, id)
			if tt.allowed {
				if err != nil || got.ID != id || !got.Active() {
					t.Fatalf("Token = %+v, %v; want active token %d", got, err, id)
				}
			} else {
				wantError(t, err, ENOTFOUND, "")
				if err.Error() != notFound.Error() || got.ID != 0 {
					t.Errorf("Token = %+v, %q; want no token and %q", got, err, notFound)
				}
			}

			o.clock.Advance(time.Hour)
			revokedAt := o.clock.Now()
			tok, revoked, err := o.db.RevokeToken(ctx, tt.actor, id)
			if !tt.allowed {
				wantError(t, err, ENOTFOUND, "")
				if err.Error() != notFound.Error() || revoked || tok.ID != 0 {
					t.Errorf("RevokeToken = %+v, %v, %q; want no token and %q", tok, revoked, err, notFound)
				}
				if maker.ID != 0 {
					// Nothing changed: the token is as its org's owner
					// left it.
					orgOwner := o.owner
					if maker.OrgID == o.owner2.OrgID {
						orgOwner = o.owner2
					}
					if got, err := o.db.Token(ctx, orgOwner, id); err != nil || !got.Active() {
						t.Errorf("token after a refused RevokeToken = %+v, %v; want active", got, err)
					}
				}
				return
			}
			if err != nil || !revoked {
				t.Fatalf("RevokeToken = revoked %v, %v; want revoked", revoked, err)
			}
			if tok.ID != id || tok.Active() || !tok.RevokedAt.Equal(revokedAt) || tok.RevokeReason != ReasonRevoked {
				t.Errorf("RevokeToken = %+v; want token %d revoked at %v for %q", tok, id, revokedAt, ReasonRevoked)
			}
			var revokedBy int64
			if err := o.db.db.QueryRowContext(ctx, `SELECT revoked_by FROM tokens WHERE id = ?`, id).Scan(&revokedBy); err != nil || revokedBy != tt.actor.ID {
				t.Errorf("revoked_by = %d, %v; want %d", revokedBy, err, tt.actor.ID)
			}
			// Kept on record, listed only with revoked ones.
			active, err := o.db.ListTokens(ctx, o.owner, TokenFilter{})
			if err != nil {
				t.Fatal(err)
			}
			all, err := o.db.ListTokens(ctx, o.owner, TokenFilter{IncludeRevoked: true})
			if err != nil {
				t.Fatal(err)
			}
			isIt := func(t Token) bool { return t.ID == id }
			if slices.ContainsFunc(active, isIt) || !slices.ContainsFunc(all, isIt) {
				t.Errorf("revoked token %d listed among active ones, or missing from all", id)
			}
		})
	}
}

func TestRevokeTokenTwice(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	tests := []struct {
		name          string
		first, second Member
	}{
		{"member twice", o.alice, o.alice},
		{"member, then owner", o.alice, o.owner},
		{"owner, then member", o.owner, o.alice},
		{"owner twice", o.owner, o.owner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _ := addToken(t, o.db, o.alice, KindPersonal, tt.name)
			o.clock.Advance(time.Minute)
			revoke(t, o.db, tt.first, tok.ID)
			firstAt := o.clock.Now()

			o.clock.Advance(24 * time.Hour)
			got, revoked, err := o.db.RevokeToken(ctx, tt.second, tok.ID)
			if err != nil || revoked {
				t.Fatalf("second RevokeToken = revoked %v, %v; want false, nil", revoked, err)
			}
			if got.ID != tok.ID || !got.RevokedAt.Equal(firstAt) || got.RevokeReason != ReasonRevoked {
				t.Errorf("second RevokeToken = %+v; want revoked at %v for %q", got, firstAt, ReasonRevoked)
			}
			var revokedBy int64
			if err := o.db.db.QueryRowContext(ctx, `SELECT revoked_by FROM tokens WHERE id = ?`, tok.ID).Scan(&revokedBy); err != nil || revokedBy != tt.first.ID {
				t.Errorf("revoked_by = %d, %v; want the first revoker %d", revokedBy, err, tt.first.ID)
			}
			after, err := o.db.Token(ctx, o.owner, tok.ID)
			if err != nil || !after.RevokedAt.Equal(firstAt) || after.RevokeReason != ReasonRevoked {
				t.Errorf("token after second revoke = %+v, %v; want revoked at %v", after, err, firstAt)
			}
		})
	}

	// Last, as it takes alice out of the organization.
	t.Run("after member left", func(t *testing.T) {
		tok, _ := addToken(t, o.db, o.alice, KindPersonal, "ci")
		o.clock.Advance(time.Minute)
		if _, err := o.db.RemoveMember(ctx, o.alice.Email); err != nil {
			t.Fatal(err)
		}
		leftAt := o.clock.Now()
		o.clock.Advance(time.Hour)
		got, revoked, err := o.db.RevokeToken(ctx, o.owner, tok.ID)
		if err != nil || revoked || !got.RevokedAt.Equal(leftAt) || got.RevokeReason != ReasonMemberLeft {
			t.Errorf("RevokeToken = %+v, revoked %v, %v; want unchanged, left at %v", got, revoked, err, leftAt)
		}
	})
}
