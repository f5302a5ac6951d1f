package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// stopBackground stops db's once-a-second work (flushing last use, looking
// for changes), so that what a test sees is what the calls it makes do, not
// what a tick did in between. db.Close still works afterwards.
func stopBackground(t *testing.T, db *DB) {
	t.Helper()
	close(db.stop)
	<-db.done
	// Close closes stop and waits on done: give it a fresh stop; done is
	// closed already.
	db.stop = make(chan struct{})
}

// openAgain opens a second handle on db's file, as a second server process
// serving the same database would, on the same clock.
func openAgain(t *testing.T, db *DB, clock *testClock) *DB {
	t.Helper()
	other, err := Open(context.Background(), db.dsn)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	t.Cleanup(func() { other.Close() })
	other.Now = clock.Now
	other.PasswordCost = bcrypt.MinCost
	return other
}

// setClock puts the test clock at a given time, back or forth.
func setClock(c *testClock, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
}

// verify checks a token that must work, or fails the test.
func verify(t *testing.T, db *DB, text TokenText) Principal {
	t.Helper()
	p, err := db.Verify(context.Background(), string(text), "192.0.2.1")
	if err != nil {
		t.Fatalf("Verify(%s…): %v", text[:8], err)
	}
	return p
}

// wantRefused fails the test unless Verify refuses text with want.
func wantRefused(t *testing.T, db *DB, text string, want error) {
	t.Helper()
	p, err := db.Verify(context.Background(), text, "192.0.2.1")
	if !errors.Is(err, want) {
		t.Fatalf("Verify(%q) = %v, want %v", text, err, want)
	}
	if p.TokenID != 0 || p.Roles != nil || p.OrgID != 0 {
		t.Errorf("Verify(%q) returned %+v with its error", text, p)
	}
}

// isCached reports whether db's token cache holds text.
func isCached(db *DB, text TokenText) bool {
	c := db.cache
	rt := c.mu.RLock()
	defer c.mu.RUnlock(rt)
	d := DigestOf(string(text))
	ct, ok := c.tokens[d.key()]
	return ok && ct.digest == d
}

// changeOneChar returns text with the character at i replaced by another
// base62 character.
func changeOneChar(text TokenText, i int) string {
	b := []byte(text)
	if b[i] == 'x' {
		b[i] = 'y'
	} else {
		b[i] = 'x'
	}
	return string(b)
}

func TestVerifyValid(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	dave := addMember(t, o.db, "Acme", "dave@acme.test", RoleAdmin, RoleSupport)

	o.clock.Advance(time.Minute)
	created := o.clock.Now()
	expires := created.AddDate(0, 0, 30)
	ownerTok, ownerText := addToken(t, o.db, o.owner, KindPersonal, "owner laptop")
	aliceTok, aliceText, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "alice ci", ExpiresAt: new(expires)})
	if err != nil {
		t.Fatal(err)
	}
	bobTok, bobText := addToken(t, o.db, o.bob, KindPersonal, "bob reports")
	daveTok, daveText := addToken(t, o.db, dave, KindPersonal, "dave ops")
	sysTok, sysText := addToken(t, o.db, o.owner, KindSystem, "encoder", RoleVideo, RoleViewer)
	sysAdminTok, sysAdminText := addToken(t, o.db, o.owner, KindSystem, "automation", RoleAdmin)
	carolTok, carolText := addToken(t, o.db, o.carol, KindPersonal, "carol ci")

	tests := []struct {
		name      string
		text      TokenText
		tok       Token
		member    Member // zero for a system token
		wantRoles []Role
		wantExp   time.Time
	}{
		{"owner's personal token acts as admin", ownerText, ownerTok, o.owner, []Role{RoleAdmin}, time.Time{}},
		{"video member's personal token", aliceText, aliceTok, o.alice, []Role{RoleVideo}, expires},
		{"member with two roles", bobText, bobTok, o.bob, []Role{RoleViewer, RoleBilling}, time.Time{}},
		{"admin member", daveText, daveTok, dave, []Role{RoleAdmin, RoleSupport}, time.Time{}},
		{"system token", sysText, sysTok, Member{}, []Role{RoleVideo, RoleViewer}, time.Time{}},
		{"admin system token", sysAdminText, sysAdminTok, Member{}, []Role{RoleAdmin}, time.Time{}},
		{"other org's member", carolText, carolTok, o.carol, []Role{RoleAdmin}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: once read from the database, once from the cache.
			for _, from := range []string{"database", "cache"} {
				if cached := isCached(o.db, tt.text); cached != (from == "cache") {
					t.Fatalf("before the check from the %s: cached = %v", from, cached)
				}
				p := verify(t, o.db, tt.text)
				switch {
				case p.TokenID != tt.tok.ID, p.Kind != tt.tok.Kind, p.Name != tt.tok.Name, p.LastFour != tt.text.LastFour():
					t.Errorf("%s: Principal %+v; want token %d %s %q …%s", from, p, tt.tok.ID, tt.tok.Kind, tt.tok.Name, tt.text.LastFour())
				case p.OrgID != tt.tok.OrgID:
					t.Errorf("%s: OrgID = %d, want %d", from, p.OrgID, tt.tok.OrgID)
				case p.MemberID != tt.member.ID || p.MemberEmail != tt.member.Email || p.MemberName != tt.member.Name:
					t.Errorf("%s: member %d %q %q, want %d %q %q", from, p.MemberID, p.MemberEmail, p.MemberName, tt.member.ID, tt.member.Email, tt.member.Name)
				case !slices.Equal(p.Roles, tt.wantRoles):
					t.Errorf("%s: Roles = %q, want %q", from, p.Roles, tt.wantRoles)
				case !p.CreatedAt.Equal(created), !p.ExpiresAt.Equal(tt.wantExp):
					t.Errorf("%s: created %v, expires %v; want %v, %v", from, p.CreatedAt, p.ExpiresAt, created, tt.wantExp)
				case p.Hint() != tt.tok.Hint():
					t.Errorf("%s: Hint = %q, want %q", from, p.Hint(), tt.tok.Hint())
				}
				wantOrg := "Acme"
				if tt.tok.OrgID == o.owner2.OrgID {
					wantOrg = "Other"
				}
				if p.OrgName != wantOrg {
					t.Errorf("%s: OrgName = %q, want %q", from, p.OrgName, wantOrg)
				}
				for _, r := range AssignableRoles {
					want := slices.Contains(tt.wantRoles, r) || slices.Contains(tt.wantRoles, RoleAdmin)
					if p.Has(r) != want {
						t.Errorf("%s: Has(%s) = %v, want %v", from, r, p.Has(r), want)
					}
				}
			}
		})
	}
}

// A token that cannot be one is refused from its text alone: the database
// is closed under the store and the refusal still comes, the same as for a
// well-formed token that does not exist.
func TestVerifyRefusesMalformedWithoutDatabase(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	_, text := addToken(t, o.db, o.alice, KindPersonal, "ci")
	_, sysText := addToken(t, o.db, o.owner, KindSystem, "deploy", RoleVideo)
	s := string(text)
	random := s[prefixLen : prefixLen+randomLen]

	refused := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"prefix only", "tkp_"},
		{"one character short", s[:TokenTextLen-1]},
		{"one character long", s + "a"},
		{"wrong prefix, valid checksum", withChecksum("ghp_" + random)},
		{"upper-case prefix, valid checksum", withChecksum("TKP_" + random)},
		{"system prefix on a personal token", "tks_" + s[prefixLen:]},
		{"personal prefix on a system token", "tkp_" + string(sysText[prefixLen:])},
		{"bad checksum: first random character changed", changeOneChar(text, prefixLen)},
		{"bad checksum: last random character changed", changeOneChar(text, prefixLen+randomLen-1)},
		{"bad checksum: checksum character changed", changeOneChar(text, TokenTextLen-1)},
		{"bad checksum on a system token", changeOneChar(sysText, 10)},
		{"non-base62 character, valid checksum", withChecksum("tkp_" + random[:5] + "-" + random[6:])},
		{"Bearer scheme left on", "Bearer " + s},
		{"leading space", " " + s},
		{"trailing newline", s + "\n"},
		{"lower-cased", toLower(s)},
	}
	// First with the database open, as a baseline.
	for _, tt := range refused {
		wantRefused(t, o.db, tt.text, ErrTokenInvalid)
	}
	unknown := newTokenText(KindPersonal)
	wantRefused(t, o.db, string(unknown), ErrTokenInvalid)
	verify(t, o.db, text) // now cached

	stopBackground(t, o.db)
	o.db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := o.db.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantRefused(t, o.db, tt.text, ErrTokenInvalid)
		})
	}
	// The contrast: a well-formed token needs the database, which is gone.
	if _, err := o.db.Verify(ctx, string(newTokenText(KindSystem)), "192.0.2.1"); err == nil || errors.Is(err, ErrTokenInvalid) {
		t.Errorf("well-formed unknown token with the database closed: %v; want a database error", err)
	}
	// And a token checked before needs no database either.
	if p, err := o.db.Verify(ctx, s, "192.0.2.1"); err != nil || p.MemberID != o.alice.ID {
		t.Errorf("cached token with the database closed = %+v, %v; want alice's", p, err)
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestVerifyUnknownToken(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	addToken(t, o.db, o.alice, KindPersonal, "ci")
	for _, kind := range []TokenKind{KindPersonal, KindSystem} {
		text := newTokenText(kind)
		wantRefused(t, o.db, string(text), ErrTokenInvalid)
		// Not remembered as anything: the same answer again.
		wantRefused(t, o.db, string(text), ErrTokenInvalid)
		if isCached(o.db, text) {
			t.Errorf("unknown %s token cached", kind)
		}
	}
}

func TestVerifyRevoked(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	stopBackground(t, o.db) // nothing but the revoke itself may drop the cache
	aliceTok, aliceText := addToken(t, o.db, o.alice, KindPersonal, "ci")
	sysTok, sysText := addToken(t, o.db, o.owner, KindSystem, "deploy", RoleVideo)
	selfTok, selfText := addToken(t, o.db, o.bob, KindPersonal, "self")
	_, keptText := addToken(t, o.db, o.alice, KindPersonal, "kept")

	t.Run("by its member", func(t *testing.T) {
		verify(t, o.db, aliceText)
		if !isCached(o.db, aliceText) {
			t.Fatal("token not cached after a check")
		}
		revoke(t, o.db, o.alice, aliceTok.ID)
		wantRefused(t, o.db, string(aliceText), ErrTokenRevoked)
		wantRefused(t, o.db, string(aliceText), ErrTokenRevoked)
		verify(t, o.db, keptText) // the member's other token still works
	})
	t.Run("system token by the owner", func(t *testing.T) {
		verify(t, o.db, sysText)
		revoke(t, o.db, o.owner, sysTok.ID)
		wantRefused(t, o.db, string(sysText), ErrTokenRevoked)
	})
	t.Run("a token revoking itself on the API", func(t *testing.T) {
		p := verify(t, o.db, selfText)
		if _, revoked, err := o.db.RevokeToken(ctx, p, selfTok.ID); err != nil || !revoked {
			t.Fatalf("RevokeToken(self) = %v, %v", revoked, err)
		}
		wantRefused(t, o.db, string(selfText), ErrTokenRevoked)
		// Its Principal, still held by the caller, acts no more.
		_, _, err := o.db.RevokeToken(ctx, p, selfTok.ID)
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("RevokeToken by a revoked token = %v, want ErrTokenRevoked", err)
		}
	})
}

func TestVerifyMemberRemoved(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	stopBackground(t, o.db)
	dave := addMember(t, o.db, "Acme", "dave@acme.test", RoleAdmin)

	aliceTok, aliceText := addToken(t, o.db, o.alice, KindPersonal, "ci")
	_, aliceText2 := addToken(t, o.db, o.alice, KindPersonal, "laptop")
	_, bobText := addToken(t, o.db, o.bob, KindPersonal, "ci")
	_, ownerSysText := addToken(t, o.db, o.owner, KindSystem, "made by owner", RoleVideo)
	daveTok, daveText := addToken(t, o.db, dave, KindPersonal, "ops")

	// dave's personal token acts as admin on the API, so it may make a
	// system token: the organization's, not dave's.
	daveP := verify(t, o.db, daveText)
	daveSys, daveSysText, err := o.db.CreateToken(ctx, daveP, NewToken{Kind: KindSystem, Name: "made by dave", Roles: []Role{RoleVideo, RoleBilling}})
	if err != nil {
		t.Fatalf("CreateToken by dave's personal token: %v", err)
	}
	if daveSys.CreatedBy != dave.ID || daveSys.CreatedByToken != daveTok.ID || daveSys.MemberID != 0 {
		t.Errorf("system token made by dave's token: %+v", daveSys)
	}

	for _, text := range []TokenText{aliceText, aliceText2, bobText, ownerSysText, daveText, daveSysText} {
		verify(t, o.db, text) // all cached
	}

	t.Run("member", func(t *testing.T) {
		if _, err := o.db.RemoveMember(ctx, o.alice.Email); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, o.db, string(aliceText), ErrTokenRevoked)
		wantRefused(t, o.db, string(aliceText2), ErrTokenRevoked)
		verify(t, o.db, bobText)
		verify(t, o.db, ownerSysText)
		got, err := o.db.Token(ctx, o.owner, aliceTok.ID)
		if err != nil || got.RevokeReason != ReasonMemberLeft {
			t.Errorf("removed member's token = %+v, %v; want revoked for %q", got, err, ReasonMemberLeft)
		}
	})
	t.Run("admin member who made a system token", func(t *testing.T) {
		if _, err := o.db.RemoveMember(ctx, dave.Email); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, o.db, string(daveText), ErrTokenRevoked)
		p := verify(t, o.db, daveSysText)
		if p.TokenID != daveSys.ID || !slices.Equal(p.Roles, []Role{RoleVideo, RoleBilling}) {
			t.Errorf("system token dave made = %+v; want its own roles", p)
		}
		verify(t, o.db, ownerSysText)
		// It still says who made it, and that he has left.
		got, err := o.db.Token(ctx, o.owner, daveSys.ID)
		if err != nil || got.CreatedBy != dave.ID || !got.CreatorLeft.Equal(o.clock.Now()) || !got.Active() {
			t.Errorf("system token dave made = %+v, %v; want active, made by dave, who left at %v", got, err, o.clock.Now())
		}
		// dave's Principal, still held by a caller, acts no more.
		_, _, err = o.db.CreateToken(ctx, daveP, NewToken{Kind: KindSystem, Name: "after", Roles: []Role{RoleVideo}})
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("CreateToken by a removed member's token = %v, want ErrTokenRevoked", err)
		}
		_, _, err = o.db.RevokeToken(ctx, daveP, daveSys.ID)
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("RevokeToken by a removed member's token = %v, want ErrTokenRevoked", err)
		}
		verify(t, o.db, daveSysText)
	})
}

func TestVerifyExpiry(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	exp := o.clock.Now().Add(7 * 24 * time.Hour)
	tok, text, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "week", ExpiresAt: new(exp)})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("ExpiresAt = %v, want %v", tok.ExpiresAt, exp)
	}
	sysExp := exp.Add(time.Hour)
	_, sysText, err := o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "week", Roles: []Role{RoleViewer}, ExpiresAt: new(sysExp)})
	if err != nil {
		t.Fatal(err)
	}
	_, neverText := addToken(t, o.db, o.alice, KindPersonal, "never")

	setClock(o.clock, exp.Add(-time.Second))
	if p := verify(t, o.db, text); !p.ExpiresAt.Equal(exp) {
		t.Errorf("Principal.ExpiresAt = %v, want %v", p.ExpiresAt, exp)
	}
	setClock(o.clock, exp.Add(-time.Nanosecond))
	verify(t, o.db, text)
	setClock(o.clock, exp)
	wantRefused(t, o.db, string(text), ErrTokenExpired)
	// A process that never saw the token answers the same from the database.
	wantRefused(t, openAgain(t, o.db, o.clock), string(text), ErrTokenExpired)
	setClock(o.clock, exp.Add(time.Nanosecond))
	wantRefused(t, o.db, string(text), ErrTokenExpired)
	setClock(o.clock, exp.Add(365*24*time.Hour))
	wantRefused(t, o.db, string(text), ErrTokenExpired)
	verify(t, o.db, neverText)

	setClock(o.clock, sysExp.Add(-time.Second))
	verify(t, o.db, sysText)
	setClock(o.clock, sysExp)
	wantRefused(t, o.db, string(sysText), ErrTokenExpired)

	// Listed as expired, not revoked.
	got, err := o.db.Token(ctx, o.alice, tok.ID)
	if err != nil || !got.Active() || got.State(o.clock.Now()) != StateExpired {
		t.Errorf("expired token = %+v, %v; want active and in state expired", got, err)
	}
	// Revoked beats expired.
	revoke(t, o.db, o.alice, tok.ID)
	wantRefused(t, o.db, string(text), ErrTokenRevoked)
}

func TestCreateTokenExpiry(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	create := func(actor Actor, name string, exp *time.Time) (Token, error) {
		tok, _, err := o.db.CreateToken(ctx, actor, NewToken{Kind: KindPersonal, Name: name, ExpiresAt: exp})
		return tok, err
	}
	now := o.clock.Now()
	day := 24 * time.Hour
	countBefore := countRows(t, o.db, "tokens")

	for _, tt := range []struct {
		name string
		exp  time.Time
	}{
		{"in the past", now.Add(-day)},
		{"a second ago", now.Add(-time.Second)},
		{"now", now},
		// The zero time is a time long past, never "no expiry".
		{"the zero time", time.Time{}},
		{"year 1 in another zone", time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))},
		// One upper bound, whatever way the expiry is given.
		{"a second past the latest expiry", LatestExpiry(now).Add(time.Second)},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -3600))},
		{"year 292277026596", time.Unix(1<<62, 0)},
	} {
		_, err := create(o.alice, tt.name, new(tt.exp))
		wantError(t, err, EINVALID, "expires")
	}
	if tok, err := create(o.alice, "the latest expiry", new(LatestExpiry(now))); err != nil || !tok.ExpiresAt.Equal(now.AddDate(0, 0, MaxTokenLifetimeDays)) {
		t.Errorf("expiry %d days ahead: %+v, %v", MaxTokenLifetimeDays, tok, err)
	}
	if n := countRows(t, o.db, "tokens"); n != 1+countBefore {
		t.Errorf("tokens = %d after refused expiries, want %d", n, 1+countBefore)
	}
	if tok, err := create(o.alice, "in a second", new(now.Add(time.Second))); err != nil || !tok.ExpiresAt.Equal(now.Add(time.Second)) {
		t.Errorf("expiry a second ahead: %+v, %v", tok, err)
	}
	// Expiry is kept in whole seconds, so half a second ahead is now: a
	// token that would be born expired is refused, not made.
	_, err := create(o.alice, "half a second", new(now.Add(500*time.Millisecond)))
	wantError(t, err, EINVALID, "expires")
	tok, text, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "a second and a half", ExpiresAt: new(now.Add(1500 * time.Millisecond))})
	if err != nil || !tok.ExpiresAt.Equal(now.Add(time.Second)) {
		t.Errorf("expiry 1.5 s ahead: %+v, %v; want made, expiring in a second", tok, err)
	} else {
		verify(t, o.db, text)
	}

	// An organization maximum; a token made before it keeps working.
	_, beforeText := addToken(t, o.db, o.bob, KindPersonal, "made before the maximum")
	org, err := o.db.SetMaxTokenLifetime(ctx, o.owner, 30)
	if err != nil || org.MaxTokenDays != 30 || org.ID != o.owner.OrgID {
		t.Fatalf("SetMaxTokenLifetime(30) = %+v, %v", org, err)
	}
	if p := verify(t, o.db, beforeText); !p.ExpiresAt.IsZero() {
		t.Errorf("token made before the maximum now expires %v", p.ExpiresAt)
	}
	_, err = create(o.alice, "never", nil)
	wantError(t, err, EINVALID, "expires")
	_, err = create(o.alice, "31 days", new(now.Add(31*day)))
	wantError(t, err, EINVALID, "expires")
	_, err = create(o.alice, "30 days and a second", new(now.Add(30*day+time.Second)))
	wantError(t, err, EINVALID, "expires")
	_, _, err = o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "never", Roles: []Role{RoleVideo}})
	wantError(t, err, EINVALID, "expires")
	if _, err := create(o.alice, "30 days", new(now.Add(30*day))); err != nil {
		t.Errorf("30 days under a 30-day maximum: %v", err)
	}
	if _, _, err := o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "7 days", Roles: []Role{RoleVideo}, ExpiresAt: new(now.Add(7 * day))}); err != nil {
		t.Errorf("system token for 7 days under a 30-day maximum: %v", err)
	}
	// The other organization has no maximum.
	if _, err := create(o.carol, "never", nil); err != nil {
		t.Errorf("other org, no expiry: %v", err)
	}

	// Only the owner (on the API, a token acting as admin) sets it.
	dave := addMember(t, o.db, "Acme", "dave@acme.test", RoleAdmin)
	_, aliceText, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: "api", ExpiresAt: new(now.Add(day))})
	if err != nil {
		t.Fatal(err)
	}
	alice := verify(t, o.db, aliceText)
	for _, tt := range []struct {
		name  string
		actor Actor
	}{
		{"video member", o.alice},
		{"admin member on the page", dave},
		{"video member's token", alice},
	} {
		_, err := o.db.SetMaxTokenLifetime(ctx, tt.actor, 90)
		wantError(t, err, EFORBIDDEN, "")
	}
	// Another organization's owner sets their own organization's only.
	if org, err := o.db.SetMaxTokenLifetime(ctx, o.owner2, 90); err != nil || org.ID != o.owner2.OrgID || org.MaxTokenDays != 90 {
		t.Errorf("other org's owner: %+v, %v", org, err)
	}
	if org, err := o.db.Org(ctx, o.owner); err != nil || org.MaxTokenDays != 30 {
		t.Errorf("Acme after refused changes = %+v, %v; want 30 days", org, err)
	}
	for _, days := range []int{-1, MaxTokenLifetimeDays + 1} {
		_, err := o.db.SetMaxTokenLifetime(ctx, o.owner, days)
		wantError(t, err, EINVALID, "max_token_days")
	}

	// 0 lifts it; tokens made under it keep their expiry.
	if org, err := o.db.SetMaxTokenLifetime(ctx, o.owner, 0); err != nil || org.MaxTokenDays != 0 {
		t.Fatalf("SetMaxTokenLifetime(0) = %+v, %v", org, err)
	}
	if tok, err := create(o.alice, "never again", nil); err != nil || !tok.ExpiresAt.IsZero() {
		t.Errorf("no expiry after lifting the maximum: %+v, %v", tok, err)
	}
	if tok, err := create(o.alice, "a year", new(now.Add(365*day))); err != nil {
		t.Errorf("a year after lifting the maximum: %+v, %v", tok, err)
	}

	// An admin system token may set it on the API.
	_, sysText := addToken(t, o.db, o.owner, KindSystem, "automation", RoleAdmin)
	if org, err := o.db.SetMaxTokenLifetime(ctx, verify(t, o.db, sysText), 60); err != nil || org.MaxTokenDays != 60 {
		t.Errorf("SetMaxTokenLifetime by an admin system token = %+v, %v", org, err)
	}
}

// Two handles on one file stand for two server processes: a revoke or a
// removal through one is seen by the other on its very next check.
func TestVerifyAcrossProcesses(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	a := o.db
	b := openAgain(t, a, o.clock)
	// Only the change signal may tell b: no once-a-second look.
	stopBackground(t, b)

	aliceTok, aliceText := addToken(t, a, o.alice, KindPersonal, "ci")
	sysTok, sysText := addToken(t, a, o.owner, KindSystem, "deploy", RoleVideo)
	_, bobText := addToken(t, a, o.bob, KindPersonal, "ci")
	_, ownerText := addToken(t, a, o.owner, KindPersonal, "laptop")
	for _, text := range []TokenText{aliceText, sysText, bobText, ownerText} {
		verify(t, b, text)
		if !isCached(b, text) {
			t.Fatalf("token not cached in b")
		}
	}

	t.Run("revoke in a", func(t *testing.T) {
		revoke(t, a, o.alice, aliceTok.ID)
		wantRefused(t, b, string(aliceText), ErrTokenRevoked)
		revoke(t, a, o.owner, sysTok.ID)
		wantRefused(t, b, string(sysText), ErrTokenRevoked)
		verify(t, b, bobText)
		verify(t, b, ownerText)
	})
	t.Run("member removed in a", func(t *testing.T) {
		if _, err := a.RemoveMember(ctx, o.bob.Email); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, b, string(bobText), ErrTokenRevoked)
		verify(t, b, ownerText)
	})
	t.Run("revoke in b, seen in a", func(t *testing.T) {
		verify(t, a, ownerText)
		tok, err := b.ListTokens(ctx, o.owner, TokenFilter{Kind: KindPersonal, MemberID: o.owner.ID})
		if err != nil || len(tok) != 1 {
			t.Fatalf("owner's tokens = %d, %v; want 1", len(tok), err)
		}
		revoke(t, b, o.owner, tok[0].ID)
		wantRefused(t, a, string(ownerText), ErrTokenRevoked)
	})
}

// A process that commits a change and dies before publishing the signal
// leaves the others to find the change by looking: refresh, run once a
// second in the background, is that look.
func TestVerifyChangeWithoutSignal(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	a := o.db
	b := openAgain(t, a, o.clock)
	stopBackground(t, b)

	aliceTok, aliceText := addToken(t, a, o.alice, KindPersonal, "ci")
	_, bobText := addToken(t, a, o.bob, KindPersonal, "ci")
	_, keptText := addToken(t, a, o.owner, KindSystem, "deploy", RoleVideo)
	for _, text := range []TokenText{aliceText, bobText, keptText} {
		verify(t, b, text)
	}
	signal := b.signal.load()

	// What RevokeToken and RemoveMember write, without the signal after.
	tx, err := a.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE change_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	now := o.clock.Now().Unix()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE tokens SET revoked_at = ?, revoked_by = ?, revoke_reason = 'revoked', change_seq = ? WHERE id = ?`, []any{now, o.alice.ID, seq, aliceTok.ID}},
		{`UPDATE members SET left_at = ?, change_seq = ? WHERE id = ?`, []any{now, seq, o.bob.ID}},
		{`UPDATE tokens SET revoked_at = ?, revoke_reason = 'member_left', change_seq = ? WHERE member_id = ? AND revoked_at IS NULL`, []any{now, seq, o.bob.ID}},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := b.signal.load(); got != signal {
		t.Fatalf("signal moved from %d to %d without a publish", signal, got)
	}

	// Until b looks, its cache still answers from before: this is the
	// window the safety net closes.
	verify(t, b, aliceText)
	verify(t, b, bobText)

	if err := b.cache.refresh(ctx); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	wantRefused(t, b, string(aliceText), ErrTokenRevoked)
	wantRefused(t, b, string(bobText), ErrTokenRevoked)
	verify(t, b, keptText)
	// a's own cache never held them: it reads the database.
	wantRefused(t, a, string(aliceText), ErrTokenRevoked)
}

func TestVerifyLastUsed(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	stopBackground(t, o.db) // the test flushes by hand
	tok, text := addToken(t, o.db, o.alice, KindPersonal, "ci")
	addToken(t, o.db, o.alice, KindPersonal, "other")

	pending := func() map[int64]lastUse {
		c := o.db.cache
		c.pendingMu.Lock()
		defer c.pendingMu.Unlock()
		return maps.Clone(c.pending)
	}
	stored := func() Token {
		t.Helper()
		got, err := o.db.Token(ctx, o.alice, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	if got := stored(); !got.LastUsedAt.IsZero() || got.LastUsedIP != "" {
		t.Fatalf("new token: last used %v from %q; want never", got.LastUsedAt, got.LastUsedIP)
	}
	o.clock.Advance(time.Hour)
	first := o.clock.Now()
	for i, addr := range []string{"192.0.2.10", "192.0.2.11", "2001:db8::1", "192.0.2.12"} {
		p, err := o.db.Verify(ctx, string(text), addr)
		if err != nil {
			t.Fatal(err)
		}
		// The Principal tells the use before this one: none for the
		// first check, the first for the rest.
		if want := first; (i == 0 && !p.LastUsedAt.IsZero()) || (i > 0 && !p.LastUsedAt.Equal(want)) {
			t.Errorf("check %d: Principal.LastUsedAt = %v, want the use before (first at %v)", i, p.LastUsedAt, want)
		}
		o.clock.Advance(15 * time.Second) // all within the minute
	}
	if got := pending(); len(got) != 1 || got[tok.ID] != (lastUse{at: first.Unix(), addr: "192.0.2.10"}) {
		t.Errorf("queued after four checks in a minute: %+v; want one record of the first", got)
	}
	if got := stored(); !got.LastUsedAt.IsZero() {
		t.Errorf("last used written before the flush: %v", got.LastUsedAt)
	}
	if err := o.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.LastUsedAt.Equal(first) || got.LastUsedIP != "192.0.2.10" {
		t.Errorf("after flush: last used %v from %q; want %v from 192.0.2.10", got.LastUsedAt, got.LastUsedIP, first)
	}
	if len(pending()) != 0 {
		t.Errorf("queue not emptied by the flush")
	}

	// 30 s after the recorded use: nothing new.
	setClock(o.clock, first.Add(30*time.Second))
	if _, err := o.db.Verify(ctx, string(text), "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	if len(pending()) != 0 {
		t.Errorf("queued 30 s after the last record: %+v", pending())
	}
	if err := o.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.LastUsedAt.Equal(first) || got.LastUsedIP != "192.0.2.10" {
		t.Errorf("30 s later: last used %v from %q; want unchanged", got.LastUsedAt, got.LastUsedIP)
	}

	// 61 s after: recorded again, with the new address.
	setClock(o.clock, first.Add(61*time.Second))
	second := o.clock.Now()
	p, err := o.db.Verify(ctx, string(text), "198.51.100.2")
	if err != nil {
		t.Fatal(err)
	}
	if !p.LastUsedAt.Equal(first) {
		t.Errorf("Principal.LastUsedAt = %v, want the use before, %v", p.LastUsedAt, first)
	}
	if err := o.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.LastUsedAt.Equal(second) || got.LastUsedIP != "198.51.100.2" {
		t.Errorf("61 s later: last used %v from %q; want %v from 198.51.100.2", got.LastUsedAt, got.LastUsedIP, second)
	}

	// The lists show it; a token never checked shows never.
	ts, err := o.db.ListTokens(ctx, o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range ts {
		switch lt.ID {
		case tok.ID:
			if !lt.LastUsedAt.Equal(second) || lt.LastUsedIP != "198.51.100.2" {
				t.Errorf("listed: last used %v from %q; want %v from 198.51.100.2", lt.LastUsedAt, lt.LastUsedIP, second)
			}
		default:
			if !lt.LastUsedAt.IsZero() || lt.LastUsedIP != "" {
				t.Errorf("token %q never checked, listed as last used %v from %q", lt.Name, lt.LastUsedAt, lt.LastUsedIP)
			}
		}
	}

	// A process that loads the token from the database knows the recorded
	// use and does not queue another within the minute.
	b := openAgain(t, o.db, o.clock)
	stopBackground(t, b)
	o.clock.Advance(10 * time.Second)
	if p := verify(t, b, text); !p.LastUsedAt.Equal(second) {
		t.Errorf("other process: Principal.LastUsedAt = %v, want %v", p.LastUsedAt, second)
	}
	b.cache.pendingMu.Lock()
	n := len(b.cache.pending)
	b.cache.pendingMu.Unlock()
	if n != 0 {
		t.Errorf("other process queued a use 10 s after the recorded one")
	}

	// An older record never overwrites a newer one.
	o.db.cache.pendingMu.Lock()
	o.db.cache.pending[tok.ID] = lastUse{at: first.Unix(), addr: "203.0.113.9"}
	o.db.cache.pendingMu.Unlock()
	if err := o.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.LastUsedAt.Equal(second) || got.LastUsedIP != "198.51.100.2" {
		t.Errorf("after flushing an older use: %v from %q; want %v from 198.51.100.2", got.LastUsedAt, got.LastUsedIP, second)
	}
}

// A verified token acting on the API is an Actor: the store decides what it
// may do from the token's kind and roles, as it does for a member.
func TestPrincipalActor(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	_, adminSysText := addToken(t, o.db, o.owner, KindSystem, "automation", RoleAdmin)
	_, videoSysText := addToken(t, o.db, o.owner, KindSystem, "encoder", RoleVideo, RoleViewer)
	_, ownerText := addToken(t, o.db, o.owner, KindPersonal, "owner laptop")
	_, aliceText := addToken(t, o.db, o.alice, KindPersonal, "alice laptop")
	bobTok, _ := addToken(t, o.db, o.bob, KindPersonal, "bob ci")
	carolTok, _ := addToken(t, o.db, o.carol, KindPersonal, "carol ci")
	otherSys, _ := addToken(t, o.db, o.owner2, KindSystem, "other deploy", RoleVideo)
	adminSys := verify(t, o.db, adminSysText)
	videoSys := verify(t, o.db, videoSysText)
	owner := verify(t, o.db, ownerText)
	alice := verify(t, o.db, aliceText)

	t.Run("admin system token makes a system token", func(t *testing.T) {
		for i, roles := range [][]Role{{RoleVideo}, {RoleBilling, RoleSupport}, {RoleAdmin}} {
			tok, text, err := o.db.CreateToken(ctx, adminSys, NewToken{Kind: KindSystem, Name: fmt.Sprintf("made by automation %d", i), Roles: roles})
			if err != nil {
				t.Fatalf("roles %q: %v", roles, err)
			}
			if tok.CreatedBy != 0 || tok.CreatedByToken != adminSys.TokenID || tok.CreatedByName != "" || tok.CreatedByTokenName != "automation" || tok.OrgID != o.owner.OrgID {
				t.Errorf("made %+v; want created by token %d of org %d", tok, adminSys.TokenID, o.owner.OrgID)
			}
			if p := verify(t, o.db, text); !slices.Equal(p.Roles, sortRoles(slices.Clone(roles))) {
				t.Errorf("new token acts with %q, want %q", p.Roles, roles)
			}
		}
	})
	t.Run("owner's personal token makes a system token", func(t *testing.T) {
		tok, _, err := o.db.CreateToken(ctx, owner, NewToken{Kind: KindSystem, Name: "made by owner's token", Roles: []Role{RoleAdmin, RoleVideo}})
		if err != nil || tok.CreatedByToken != owner.TokenID {
			t.Fatalf("CreateToken = %+v, %v", tok, err)
		}
	})
	t.Run("system token without admin", func(t *testing.T) {
		before := countRows(t, o.db, "tokens")
		for _, roles := range [][]Role{{RoleVideo}, {RoleViewer}} {
			_, _, err := o.db.CreateToken(ctx, videoSys, NewToken{Kind: KindSystem, Name: "sneaky", Roles: roles})
			wantError(t, err, EFORBIDDEN, "")
		}
		_, _, err := o.db.CreateToken(ctx, videoSys, NewToken{Kind: KindPersonal, Name: "sneaky"})
		wantError(t, err, EFORBIDDEN, "")
		if n := countRows(t, o.db, "tokens"); n != before {
			t.Errorf("tokens = %d after refusals, want %d", n, before)
		}
	})
	t.Run("system token cannot make a personal token", func(t *testing.T) {
		_, _, err := o.db.CreateToken(ctx, adminSys, NewToken{Kind: KindPersonal, Name: "sneaky"})
		wantError(t, err, EFORBIDDEN, "")
	})
	t.Run("member's personal token makes a personal token for the member", func(t *testing.T) {
		tok, text, err := o.db.CreateToken(ctx, alice, NewToken{Kind: KindPersonal, Name: "made by alice's token"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.MemberID != o.alice.ID || tok.CreatedByToken != alice.TokenID || tok.CreatedBy != o.alice.ID {
			t.Errorf("made %+v; want alice's, created by token %d", tok, alice.TokenID)
		}
		if p := verify(t, o.db, text); p.MemberID != o.alice.ID || !slices.Equal(p.Roles, []Role{RoleVideo}) {
			t.Errorf("new token acts as %+v; want alice as video", p)
		}
		_, _, err = o.db.CreateToken(ctx, alice, NewToken{Kind: KindSystem, Name: "sneaky", Roles: []Role{RoleVideo}})
		wantError(t, err, EFORBIDDEN, "")
	})
	t.Run("list as a member's token", func(t *testing.T) {
		ts, err := o.db.ListTokens(ctx, alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 {
			t.Errorf("alice's token sees %d tokens, want her 2", len(ts))
		}
		for _, tok := range ts {
			if tok.Kind != KindPersonal || tok.MemberID != o.alice.ID {
				t.Errorf("alice's token sees %+v", tok)
			}
		}
		for _, f := range []TokenFilter{
			{Kind: KindPersonal},
			{Kind: KindPersonal, MemberID: o.bob.ID},
			{Kind: KindSystem},
			{MemberID: o.alice.ID},
			{},
		} {
			_, err := o.db.ListTokens(ctx, alice, f)
			wantError(t, err, EFORBIDDEN, "")
		}
	})
	t.Run("list as a system token", func(t *testing.T) {
		_, err := o.db.ListTokens(ctx, videoSys, TokenFilter{Kind: KindPersonal})
		wantError(t, err, EFORBIDDEN, "")
		// A system token is no member: MemberID 0 is not "its own".
		_, err = o.db.ListTokens(ctx, videoSys, TokenFilter{Kind: KindPersonal, MemberID: 0})
		wantError(t, err, EFORBIDDEN, "")
		ts, err := o.db.ListTokens(ctx, adminSys, TokenFilter{Kind: KindPersonal})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range ts {
			if tok.OrgID != o.owner.OrgID {
				t.Errorf("admin token of Acme sees %+v", tok)
			}
		}
		if !slices.ContainsFunc(ts, func(tok Token) bool { return tok.ID == bobTok.ID }) {
			t.Errorf("admin token does not see bob's token")
		}
	})
	t.Run("admin system token manages its org only", func(t *testing.T) {
		if _, err := o.db.Token(ctx, adminSys, bobTok.ID); err != nil {
			t.Errorf("Token(bob's) = %v", err)
		}
		for _, id := range []int64{carolTok.ID, otherSys.ID} {
			_, err := o.db.Token(ctx, adminSys, id)
			wantError(t, err, ENOTFOUND, "")
			_, revoked, err := o.db.RevokeToken(ctx, adminSys, id)
			wantError(t, err, ENOTFOUND, "")
			if revoked {
				t.Errorf("revoked another org's token %d", id)
			}
		}
		_, _, err := o.db.RevokeToken(ctx, videoSys, bobTok.ID)
		wantError(t, err, ENOTFOUND, "")
		_, _, err = o.db.RevokeToken(ctx, alice, bobTok.ID)
		wantError(t, err, ENOTFOUND, "")

		tok, revoked, err := o.db.RevokeToken(ctx, adminSys, bobTok.ID)
		if err != nil || !revoked {
			t.Fatalf("RevokeToken(bob's) = %v, %v", revoked, err)
		}
		var byMember, byToken int64
		err = o.db.db.QueryRowContext(ctx, `SELECT coalesce(revoked_by, 0), coalesce(revoked_by_token, 0) FROM tokens WHERE id = ?`, tok.ID).Scan(&byMember, &byToken)
		if err != nil || byMember != 0 || byToken != adminSys.TokenID {
			t.Errorf("revoked by member %d, token %d, %v; want token %d", byMember, byToken, err, adminSys.TokenID)
		}
	})
	t.Run("revoked token's Principal acts no more", func(t *testing.T) {
		_, text := addToken(t, o.db, o.owner, KindSystem, "short-lived", RoleAdmin)
		p := verify(t, o.db, text)
		if _, revoked, err := o.db.RevokeToken(ctx, o.owner, p.TokenID); err != nil || !revoked {
			t.Fatal(err)
		}
		_, _, err := o.db.CreateToken(ctx, p, NewToken{Kind: KindSystem, Name: "late", Roles: []Role{RoleVideo}})
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("CreateToken = %v, want ErrTokenRevoked", err)
		}
		_, _, err = o.db.RevokeToken(ctx, p, videoSys.TokenID)
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("RevokeToken = %v, want ErrTokenRevoked", err)
		}
		_, err = o.db.SetMaxTokenLifetime(ctx, p, 30)
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("SetMaxTokenLifetime = %v, want ErrTokenRevoked", err)
		}
		verify(t, o.db, videoSysText) // untouched

		_, text = addToken(t, o.db, o.alice, KindPersonal, "short-lived")
		p = verify(t, o.db, text)
		revoke(t, o.db, o.alice, p.TokenID)
		_, _, err = o.db.CreateToken(ctx, p, NewToken{Kind: KindPersonal, Name: "late"})
		if !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("CreateToken by a revoked personal token = %v, want ErrTokenRevoked", err)
		}
	})
}

func TestListTokensState(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	start := o.clock.Now()
	mk := func(name string, exp *time.Time) Token {
		tok, _, err := o.db.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: name, ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mk("never", nil)
	mk("later", new(start.Add(48*time.Hour)))
	mk("soon", new(start.Add(time.Hour)))
	mk("at the hour", new(start.Add(2*time.Hour)))
	r1 := mk("revoked", nil)
	r2 := mk("revoked and expired", new(start.Add(time.Hour)))
	revoke(t, o.db, o.alice, r1.ID)
	revoke(t, o.db, o.alice, r2.ID)
	o.clock.Advance(2 * time.Hour) // "at the hour" expires exactly now

	tests := []struct {
		state string
		want  []string
	}{
		{StateActive, []string{"later", "never"}},
		{StateExpired, []string{"at the hour", "soon"}},
		{StateRevoked, []string{"revoked and expired", "revoked"}},
		{"", []string{"at the hour", "soon", "later", "never"}},
	}
	for _, tt := range tests {
		t.Run("state "+tt.state, func(t *testing.T) {
			for _, actor := range []Member{o.alice, o.owner} {
				ts, err := o.db.ListTokens(ctx, actor, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID, State: tt.state})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, tok := range ts {
					got = append(got, tok.Name)
					if tt.state != "" && tok.State(o.clock.Now()) != tt.state {
						t.Errorf("%s listed as %s, its State is %s", tok.Name, tt.state, tok.State(o.clock.Now()))
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: state %q = %q, want %q", actor.Email, tt.state, got, tt.want)
				}
			}
		})
	}
	_, err := o.db.ListTokens(ctx, o.alice, TokenFilter{Kind: KindPersonal, MemberID: o.alice.ID, State: "gone"})
	wantError(t, err, EINVALID, "state")
}

func TestListTokensPaging(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	for i := range 14 {
		if i%3 == 0 {
			addToken(t, o.db, o.owner, KindSystem, fmt.Sprintf("s%02d", i), RoleViewer)
		} else {
			addToken(t, o.db, o.alice, KindPersonal, fmt.Sprintf("p%02d", i))
		}
		if i%3 == 1 {
			addToken(t, o.db, o.carol, KindPersonal, fmt.Sprintf("other %02d", i)) // another org's, interleaved
		}
	}
	for _, f := range []TokenFilter{{}, {Kind: KindPersonal}, {Kind: KindSystem}, {Kind: KindPersonal, MemberID: o.alice.ID}} {
		for _, limit := range []int{1, 3, 5, 14, 100} {
			t.Run(fmt.Sprintf("%s/%d/limit %d", f.Kind, f.MemberID, limit), func(t *testing.T) {
				all, err := o.db.ListTokens(ctx, o.owner, f)
				if err != nil || len(all) < 5 {
					t.Fatalf("ListTokens = %d tokens, %v; want 5 or more to page through", len(all), err)
				}
				var ids []int64
				f := f
				f.Limit = limit
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatal("paging does not end")
					}
					page, err := o.db.ListTokens(ctx, o.owner, f)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > limit {
						t.Fatalf("page of %d, limit %d", len(page), limit)
					}
					for _, tok := range page {
						ids = append(ids, tok.ID)
					}
					if len(page) < limit {
						break
					}
					f.BeforeID = page[len(page)-1].ID
				}
				var want []int64
				for _, tok := range all {
					want = append(want, tok.ID)
				}
				if !slices.Equal(ids, want) {
					t.Errorf("pages = %v, want %v", ids, want)
				}
				if !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
					t.Errorf("pages not newest first without repeats: %v", ids)
				}
			})
		}
	}
}

// Many checks at once while tokens are revoked and a member removed: once a
// revoke (or the removal) has returned, no check of that token that starts
// afterwards succeeds, through either of two handles on the file.
func TestVerifyConcurrentRevoke(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	a := o.db
	b := openAgain(t, a, o.clock)

	type target struct {
		text TokenText
		id   int64
		gone atomic.Bool // set once its revoke has returned
	}
	var targets []*target
	add := func(actor Member, kind TokenKind, name string, roles ...Role) *target {
		tok, text := addToken(t, a, actor, kind, name, roles...)
		tg := &target{text: text, id: tok.ID}
		targets = append(targets, tg)
		return tg
	}
	shared := add(o.owner, KindSystem, "shared", RoleViewer) // checked by all, revoked mid-way
	var toRevoke, bobs, kept []*target
	for i := range 6 {
		toRevoke = append(toRevoke, add(o.alice, KindPersonal, fmt.Sprintf("alice %d", i)))
		kept = append(kept, add(o.owner, KindSystem, fmt.Sprintf("sys %d", i), RoleVideo))
		if i%2 == 0 {
			toRevoke = append(toRevoke, add(o.owner, KindSystem, fmt.Sprintf("sys revoked %d", i), RoleBilling))
		}
	}
	for i := range 3 {
		bobs = append(bobs, add(o.bob, KindPersonal, fmt.Sprintf("bob %d", i)))
	}
	toRevoke = append(toRevoke, shared)
	kept = append(kept, add(o.owner, KindPersonal, "owner"))

	var checks atomic.Int64
	var revokerDone atomic.Bool
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 20 {
			t.Errorf(format, args...)
		}
	}

	const verifiers = 8
	var wg sync.WaitGroup
	for g := range verifiers {
		h := a
		if g%2 == 1 {
			h = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("192.0.2.%d", g)
			for round := 0; ; round++ {
				last := revokerDone.Load() && round >= 20
				// Each goroutine starts at its own place, and checks the
				// shared token before every other one.
				for i := range 2 * len(targets) {
					tg := shared
					if i%2 == 1 {
						tg = targets[(i/2+g*5)%len(targets)]
					}
					gone := tg.gone.Load()
					_, err := h.Verify(ctx, string(tg.text), addr)
					checks.Add(1)
					switch {
					case err == nil:
						if gone {
							fail("goroutine %d: token %d verified after its revoke returned", g, tg.id)
						}
					case errors.Is(err, ErrTokenRevoked):
					default:
						fail("goroutine %d: token %d: %v", g, tg.id, err)
					}
				}
				if last {
					return
				}
				runtime.Gosched() // let the revoker on
			}
		}()
	}

	waitChecks := func(n int64) {
		for checks.Load() < n {
			runtime.Gosched()
		}
	}
	for i, tg := range toRevoke {
		waitChecks(int64(i+1) * 300)
		h := a
		if i%3 == 2 {
			h = b
		}
		if _, revoked, err := h.RevokeToken(ctx, o.owner, tg.id); err != nil || !revoked {
			t.Errorf("RevokeToken(%d) = %v, %v", tg.id, revoked, err)
		}
		tg.gone.Store(true)
		if i == len(toRevoke)/2 {
			if _, err := b.RemoveMember(ctx, o.bob.Email); err != nil {
				t.Errorf("RemoveMember: %v", err)
			}
			for _, tg := range bobs {
				tg.gone.Store(true)
			}
		}
	}
	revokerDone.Store(true)
	wg.Wait()

	for _, h := range []*DB{a, b} {
		for _, tg := range targets {
			_, err := h.Verify(ctx, string(tg.text), "192.0.2.99")
			if tg.gone.Load() != errors.Is(err, ErrTokenRevoked) || (err != nil && !errors.Is(err, ErrTokenRevoked)) {
				t.Errorf("after the storm, token %d (revoked %v): %v", tg.id, tg.gone.Load(), err)
			}
		}
	}
	for _, tg := range kept {
		if tg.gone.Load() {
			t.Fatalf("kept token %d marked gone", tg.id)
		}
	}
	t.Logf("%d checks", checks.Load())
}
