package store

import (
	"encoding/binary"
	"time"
)

// How the token cache stays within its bound: CLOCK, or second chance.
// Every cached token has a slot in a ring, and a used bit that a check sets
// without a lock (an atomic store, made only when the bit is clear, so a hot
// token's cache line is not written on every check). A token loaded while
// the cache is full takes the slot of the first token the ring's hand finds
// unused since the hand last passed it; the hand clears the bits it passes.
// A token checked again within one turn of the hand stays; one checked once
// and never again goes first. Emptying the whole cache at its bound, as it
// once did, sent every integration to the database at once.

// maxSweep bounds how many second chances one insertion gives before it
// evicts the token under the hand regardless: when nearly every token is
// in use, the cache is too small for the traffic anyway, and readers must
// not wait on a write lock held for a sweep of a million slots.
const maxSweep = 4096

// insertLocked caches ct under digest, evicting a token if the cache is
// full. ct's member, if it has one, is shared with the cached tokens of the
// same member. Call with c.mu held for writing.
func (c *tokenCache) insertLocked(digest Digest, ct *cachedToken) {
	ct.digest = digest
	if m := ct.member; m != nil {
		if cur := c.members[m.id]; cur != nil && !cur.stale.Load() {
			ct.member = cur
		} else {
			c.members[m.id] = m
		}
		ct.member.refs++
	}
	var slot int
	if old := c.tokens[digest.key()]; old != nil {
		// Loaded again (its member had changed), or another token with
		// the same key: it takes the slot.
		slot = c.removeLocked(old)
	} else if n := len(c.free); n > 0 {
		slot = c.free[n-1]
		c.free = c.free[:n-1]
	} else if len(c.ring) < c.max {
		slot = len(c.ring)
		c.ring = append(c.ring, nil)
	} else {
		slot = c.evictLocked()
	}
	ct.slot = slot
	c.ring[slot] = ct
	c.tokens[digest.key()] = ct
	ct.sameID = c.byID[ct.p.TokenID]
	c.byID[ct.p.TokenID] = ct
}

// evictLocked frees the slot of a token not checked since the hand last
// passed it, and returns the slot. Only called with the ring full, and so
// with no free slot in it.
func (c *tokenCache) evictLocked() int {
	for swept := 0; ; swept++ {
		slot := c.hand
		if c.hand++; c.hand == len(c.ring) {
			c.hand = 0
		}
		ct := c.ring[slot]
		if swept < maxSweep && ct.used.Load() {
			ct.used.Store(false)
			continue
		}
		c.removeLocked(ct)
		c.evictions.Add(1)
		return slot
	}
}

// dropLocked removes ct from the cache, since it changed, and frees its
// slot. A check that found ct before it was dropped still answers from it:
// the answer was right when the check began.
func (c *tokenCache) dropLocked(ct *cachedToken) {
	c.free = append(c.free, c.removeLocked(ct))
}

// removeLocked removes ct from the cache and returns its slot, now empty,
// for the caller to fill or free.
func (c *tokenCache) removeLocked(ct *cachedToken) int {
	if k := ct.digest.key(); c.tokens[k] == ct {
		delete(c.tokens, k)
	}
	c.unlinkIDLocked(ct)
	c.ring[ct.slot] = nil
	if m := ct.member; m != nil {
		// A member is kept while a cached token of theirs is; one
		// replaced since it changed is no longer in c.members.
		if m.refs--; m.refs == 0 && c.members[m.id] == m {
			delete(c.members, m.id)
		}
	}
	return ct.slot
}

// unlinkIDLocked takes ct out of its id's list in c.byID: a token has one
// secret, or two while a rotation's grace runs, each cached on its own.
func (c *tokenCache) unlinkIDLocked(ct *cachedToken) {
	id := ct.p.TokenID
	switch head := c.byID[id]; {
	case head == ct && ct.sameID == nil:
		delete(c.byID, id)
	case head == ct:
		c.byID[id] = ct.sameID
	default:
		for prev := head; prev != nil; prev = prev.sameID {
			if prev.sameID == ct {
				prev.sameID = ct.sameID
				break
			}
		}
	}
	ct.sameID = nil
}

// clear empties the cache, as a process just started has it.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = make(map[uint64]*cachedToken)
	c.byID = make(map[int64]*cachedToken)
	c.members = make(map[int64]*cachedMember)
	c.ring, c.free, c.hand = nil, nil, 0
}

// key is what the cache keys a token by: 64 bits of its digest, which
// keep the map a third of the size it is with the whole digest, and so
// more of it in the CPU's caches. Two tokens with the same key, which
// happens once in billions of billions, take turns in the cache: a check
// compares the whole digest.
func (d *Digest) key() uint64 { return binary.LittleEndian.Uint64(d[:8]) }

// cachedPrincipal is what the cache keeps of a Principal: only what a
// token's row gives (its member's part is in cachedMember), times as Unix
// seconds. At half a Principal's size, a check reads fewer cache lines of
// memory, and a million tokens take less of it.
type cachedPrincipal struct {
	TokenID, OrgID, MemberID int64
	created, expires         int64
	expiresSet               bool
	Kind                     TokenKind
	Name, LastFour, OrgName  string
	Roles                    []Role    // a system token's; a member's are in cachedMember
	AllowedIPs               AllowList // nil: any address
	// prev marks the secret before the token's last rotation, which works
	// until graceUntil (Unix seconds).
	prev       bool
	graceUntil int64
}

func (p *cachedPrincipal) principal() Principal {
	return Principal{
		TokenID: p.TokenID, Kind: p.Kind, Name: p.Name, LastFour: p.LastFour,
		OrgID: p.OrgID, OrgName: p.OrgName, MemberID: p.MemberID, Roles: p.Roles,
		CreatedAt: unixTime(p.created), ExpiresAt: p.expiresAt(), AllowedIPs: p.AllowedIPs,
	}
}

func (p *cachedPrincipal) expiresAt() time.Time {
	if !p.expiresSet {
		return time.Time{}
	}
	return unixTime(p.expires)
}

func (p *cachedPrincipal) expired(now time.Time) bool { return expired(p.expiresAt(), now) }

// internKind is k as the constant it equals, so that a cached token's kind
// holds no memory of its own.
func internKind(k TokenKind) TokenKind {
	switch k {
	case KindPersonal:
		return KindPersonal
	case KindSystem:
		return KindSystem
	}
	return k
}
