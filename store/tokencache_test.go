package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// addTokens makes n tokens of kind, named prefix 0, prefix 1, …; personal
// ones are by's own, system ones have the video role.
func addTokens(t *testing.T, db *DB, by Member, kind TokenKind, prefix string, n int) ([]Token, []TokenText) {
	t.Helper()
	toks, texts := make([]Token, n), make([]TokenText, n)
	for i := range n {
		var roles []Role
		if kind == KindSystem {
			roles = []Role{RoleVideo}
		}
		toks[i], texts[i] = addToken(t, db, by, kind, fmt.Sprintf("%s %d", prefix, i), roles...)
	}
	return toks, texts
}

// wantCacheSound checks the cache's bookkeeping: no more tokens than its
// bound, each in the map by digest, the map by id and one slot of the
// ring, every other slot free, and each cached member counting its cached
// tokens.
func wantCacheSound(t *testing.T, db *DB) {
	t.Helper()
	c := db.cache
	rt := c.mu.RLock()
	defer c.mu.RUnlock(rt)
	if len(c.tokens) > c.max {
		t.Fatalf("%d tokens cached, over the bound of %d", len(c.tokens), c.max)
	}
	byID := 0
	for id, ct := range c.byID {
		for ; ct != nil; ct = ct.sameID {
			if ct.p.TokenID != id {
				t.Fatalf("token %d listed under id %d", ct.p.TokenID, id)
			}
			byID++
		}
	}
	if len(c.ring) > c.max || len(c.ring)-len(c.free) != len(c.tokens) || byID != len(c.tokens) {
		t.Fatalf("%d tokens by digest, %d by id, ring of %d with %d free", len(c.tokens), byID, len(c.ring), len(c.free))
	}
	refs := make(map[*cachedMember]int)
	for slot, ct := range c.ring {
		if ct == nil {
			continue
		}
		listed := false
		for o := c.byID[ct.p.TokenID]; o != nil; o = o.sameID {
			listed = listed || o == ct
		}
		if ct.slot != slot || c.tokens[ct.digest.key()] != ct || !listed {
			t.Fatalf("token %d in slot %d says slot %d, or is not in the maps", ct.p.TokenID, slot, ct.slot)
		}
		if ct.member != nil {
			refs[ct.member]++
		}
	}
	for id, m := range c.members {
		if m.refs != refs[m] || m.refs == 0 {
			t.Fatalf("member %d counts %d cached tokens; %d are", id, m.refs, refs[m])
		}
	}
}

// A cache full of tokens makes room for a new one by dropping one not
// checked lately: tokens checked again and again stay, however many others
// are checked once, and their checks never read the database.
func TestCacheKeepsHotTokens(t *testing.T) {
	t.Parallel()
	const bound = 16
	db, _ := newTestDB(t, WithCacheSize(bound))
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	_, hotPersonal := addTokens(t, db, member, KindPersonal, "hot personal", 3)
	_, hotSystem := addTokens(t, db, owner, KindSystem, "hot system", 2)
	hot := append(hotPersonal, hotSystem...)
	_, coldPersonal := addTokens(t, db, member, KindPersonal, "cold personal", 30)
	_, coldSystem := addTokens(t, db, owner, KindSystem, "cold system", 30)
	cold := append(coldPersonal, coldSystem...)

	for _, text := range hot {
		verify(t, db, text)
	}
	for i, text := range cold {
		verify(t, db, text)
		for _, h := range hot {
			verify(t, db, h)
		}
		wantCacheSound(t, db)
		for j, h := range hot {
			if !isCached(db, h) {
				t.Fatalf("after %d cold tokens, hot token %d was evicted", i+1, j)
			}
		}
	}
	s := db.CacheStats()
	want := CacheStats{
		Entries:   bound,
		Capacity:  bound,
		Hits:      uint64(len(cold) * len(hot)),
		Misses:    uint64(len(hot) + len(cold)),
		Evictions: uint64(len(hot) + len(cold) - bound),
	}
	if s != want {
		t.Errorf("CacheStats = %+v, want %+v", s, want)
	}
	// The cold tokens checked last are still there; the first ones left.
	if !isCached(db, cold[len(cold)-1]) || isCached(db, cold[0]) {
		t.Errorf("cached: last cold token %v, first %v; want true, false", isCached(db, cold[len(cold)-1]), isCached(db, cold[0]))
	}
	// An evicted token still works: it is read again.
	verify(t, db, cold[0])
	if !isCached(db, cold[0]) {
		t.Error("an evicted token checked again is not cached again")
	}
	wantCacheSound(t, db)
}

// Many goroutines checking more tokens than the cache holds never take it
// past its bound, and every check of a working token answers.
func TestCacheBoundUnderConcurrentChecks(t *testing.T) {
	t.Parallel()
	const bound = 8
	db, _ := newTestDB(t, WithCacheSize(bound))
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	members := []Member{
		addMember(t, db, "Acme", "max@acme.test", RoleVideo),
		addMember(t, db, "Acme", "mia@acme.test", RoleViewer),
	}
	var texts []TokenText
	for i, m := range members {
		_, ts := addTokens(t, db, m, KindPersonal, fmt.Sprintf("member %d", i), 10)
		texts = append(texts, ts...)
	}
	_, ts := addTokens(t, db, owner, KindSystem, "system", 10)
	texts = append(texts, ts...)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for round := range 5 {
				for i := range texts {
					text := texts[(i*7+g*11+round)%len(texts)]
					if _, err := db.Verify(context.Background(), string(text), "192.0.2.1"); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify: %v", err)
	}
	wantCacheSound(t, db)
	if s := db.CacheStats(); s.Entries != bound || s.Hits+s.Misses != uint64(4*5*len(texts)) {
		t.Errorf("CacheStats = %+v: want %d entries and %d checks", s, bound, 4*5*len(texts))
	}
}

// Eviction never brings a revoked token back: revoked while out of the
// cache, it is refused when read again; read again and then revoked, it
// is refused at once, here and in another process.
func TestCacheRevocationAfterEviction(t *testing.T) {
	t.Parallel()
	const bound = 2
	db, clock := newTestDB(t, WithCacheSize(bound))
	stopBackground(t, db) // nothing but the revoke itself may drop the cache
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	toks, texts := addTokens(t, db, member, KindPersonal, "ci", 3)
	sysToks, sysTexts := addTokens(t, db, owner, KindSystem, "deploy", 2)

	// evict checks others, working or revoked (cached either way), until
	// text is out of the cache.
	evict := func(text TokenText, others ...TokenText) {
		t.Helper()
		for _, o := range others {
			if _, err := db.Verify(context.Background(), string(o), "192.0.2.1"); err != nil && !errors.Is(err, ErrTokenRevoked) {
				t.Fatal(err)
			}
		}
		if isCached(db, text) {
			t.Fatal("token still cached after the cache filled with others")
		}
	}

	t.Run("revoked while evicted", func(t *testing.T) {
		verify(t, db, texts[0])
		evict(texts[0], texts[1], texts[2])
		revoke(t, db, member, toks[0].ID)
		wantRefused(t, db, string(texts[0]), ErrTokenRevoked)
		wantCacheSound(t, db)
	})
	t.Run("read again after eviction, then revoked", func(t *testing.T) {
		verify(t, db, sysTexts[0])
		evict(sysTexts[0], texts[1], texts[2])
		verify(t, db, sysTexts[0]) // read again, cached again
		if !isCached(db, sysTexts[0]) {
			t.Fatal("not cached after it was read again")
		}
		revoke(t, db, owner, sysToks[0].ID)
		wantRefused(t, db, string(sysTexts[0]), ErrTokenRevoked)
		wantCacheSound(t, db)
	})
	t.Run("read again after eviction, then revoked by another process", func(t *testing.T) {
		other := openAgain(t, db, clock)
		verify(t, db, sysTexts[1])
		evict(sysTexts[1], texts[1], texts[2])
		verify(t, db, sysTexts[1])
		revoke(t, other, owner, sysToks[1].ID)
		wantRefused(t, db, string(sysTexts[1]), ErrTokenRevoked)
		wantCacheSound(t, db)
	})
	t.Run("member removed while their tokens are evicted", func(t *testing.T) {
		verify(t, db, texts[1])
		evict(texts[1], sysTexts[0], sysTexts[1]) // revoked ones are cached too
		if _, err := db.RemoveMember(context.Background(), member.Email); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, db, string(texts[1]), ErrTokenRevoked)
		wantRefused(t, db, string(texts[2]), ErrTokenRevoked)
		wantCacheSound(t, db)
	})
}

// A token whose member's roles changed is read again into the slot it had:
// the cache does not grow, nor evict, and the new roles hold.
func TestCacheReloadTakesItsOwnSlot(t *testing.T) {
	t.Parallel()
	const bound = 3
	db, _ := newTestDB(t, WithCacheSize(bound))
	stopBackground(t, db)
	owner := addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	_, texts := addTokens(t, db, member, KindPersonal, "ci", 3)
	for _, text := range texts {
		verify(t, db, text)
	}
	if _, err := db.SetMemberRoles(context.Background(), owner, member.ID, []Role{RoleViewer}); err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if p := verify(t, db, text); !p.Has(RoleViewer) || p.Has(RoleVideo) {
			t.Fatalf("roles after the change = %v, want viewer only", p.Roles)
		}
	}
	wantCacheSound(t, db)
	s := db.CacheStats()
	if s.Entries != bound || s.Evictions != 0 || s.Misses != 2*bound || s.Refreshes != 1 {
		t.Errorf("CacheStats = %+v; want %d entries, no eviction, %d misses, 1 refresh", s, bound, 2*bound)
	}
	// The three share one member again, and the next check is a hit.
	verify(t, db, texts[0])
	if s := db.CacheStats(); s.Hits != 1 {
		t.Errorf("hits after the reload = %d, want 1", s.Hits)
	}
	wantCacheSound(t, db)
}

func TestOpenRefusesCacheSizeBelowOne(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1} {
		db, err := Open(context.Background(), testDSN(t), WithCacheSize(n))
		if err == nil {
			db.Close()
			t.Fatalf("Open with a cache of %d tokens: no error", n)
		}
		if !strings.Contains(err.Error(), "cache size") {
			t.Errorf("Open with a cache of %d tokens: %v, want it to name the cache size", n, err)
		}
	}
	db, _ := newTestDB(t)
	if got := db.CacheStats().Capacity; got != DefaultCacheSize {
		t.Errorf("default capacity = %d, want %d", got, DefaultCacheSize)
	}
}

// A client past its failure budget is answered from the cache only; its
// refusals unread count as misses, never as loads.
func TestCacheStatsCountRefusalsUnread(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	_, text := addToken(t, db, member, KindPersonal, "ci")
	_, err := db.VerifyWith(context.Background(), string(text), "192.0.2.1", VerifyOptions{})
	if !errors.Is(err, ErrNotCached) {
		t.Fatalf("VerifyWith no load = %v, want ErrNotCached", err)
	}
	if s := db.CacheStats(); s.Misses != 1 || s.Entries != 0 {
		t.Errorf("CacheStats = %+v, want one miss and nothing cached", s)
	}
	wantRefused(t, db, "tkp_notatoken", ErrTokenInvalid) // malformed: neither
	if s := db.CacheStats(); s.Misses != 1 || s.Hits != 0 {
		t.Errorf("CacheStats after a malformed token = %+v, want it uncounted", s)
	}
}

// Two tokens whose digests share the 64 bits the cache keys them by never
// answer for each other: the check compares the whole digest, and the
// token read from the database takes the other's place.
func TestCacheKeyCollision(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	tok, text := addToken(t, db, member, KindPersonal, "ci")
	digest := DigestOf(string(text))
	other := digest
	other[31] ^= 1 // same key, another token
	if other.key() != digest.key() || other == digest {
		t.Fatal("the test's digests do not collide on the key alone")
	}
	impostor := &cachedToken{p: cachedPrincipal{TokenID: tok.ID + 1000, Kind: KindSystem, Roles: []Role{RoleAdmin}}}
	db.cache.mu.Lock()
	db.cache.insertLocked(other, impostor)
	db.cache.mu.Unlock()

	p := verify(t, db, text)
	if p.TokenID != tok.ID || p.Kind != KindPersonal || p.Has(RoleAdmin) {
		t.Fatalf("Verify answered %+v, want token %d of its own", p, tok.ID)
	}
	if !isCached(db, text) {
		t.Error("the token read from the database did not take the colliding one's place")
	}
	if s := db.CacheStats(); s.Entries != 1 || s.Misses != 1 {
		t.Errorf("CacheStats = %+v, want one token cached and one miss", s)
	}
	wantCacheSound(t, db)
}

// A token cached under two secrets, as a rotated token is while the old
// one's grace runs, has both dropped when it changes: revoked, neither
// answers from the cache.
func TestCacheDropsEverySecretOfAChangedToken(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	stopBackground(t, db)
	member := addMember(t, db, "Acme", "max@acme.test", RoleVideo)
	tok, text := addToken(t, db, member, KindPersonal, "ci")
	_, other := addToken(t, db, member, KindPersonal, "other")
	p := verify(t, db, text)
	verify(t, db, other)
	// The same token under a second secret, as the cache would hold it.
	second := DigestOf(string(newTokenText(KindPersonal)))
	db.cache.mu.Lock()
	db.cache.insertLocked(second, &cachedToken{p: cachedPrincipal{TokenID: p.TokenID, Kind: p.Kind, OrgID: p.OrgID}})
	db.cache.mu.Unlock()
	wantCacheSound(t, db)

	revoke(t, db, member, tok.ID)
	wantRefused(t, db, string(text), ErrTokenRevoked)
	rt := db.cache.mu.RLock()
	_, secondCached := db.cache.tokens[second.key()]
	db.cache.mu.RUnlock(rt)
	if secondCached {
		t.Error("the token's second secret is still cached after the revoke")
	}
	if !isCached(db, other) {
		t.Error("the member's other token was dropped too")
	}
	wantCacheSound(t, db)
}
