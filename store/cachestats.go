package store

import "sync/atomic"

// CacheStats are the token cache's figures since the DB was opened, for
// metrics.
type CacheStats struct {
	// Entries is how many tokens are cached now; Capacity is the bound
	// (WithCacheSize).
	Entries, Capacity uint64
	// Hits are checks answered from the cache; Misses, checks of a token
	// not in it (read from the database, or refused unread to a client
	// past its failure budget). A malformed token is neither.
	Hits, Misses uint64
	// Evictions are tokens dropped to make room for another.
	Evictions uint64
	// Refreshes are the times the cache dropped what another change (a
	// revoke, a member removed, …) made stale, in this process or another.
	Refreshes uint64
}

// CacheStats reports the token cache's figures. It takes the cache's lock
// for reading once; call it at a scrape, not per request.
func (d *DB) CacheStats() CacheStats {
	c := d.cache
	c.mu.RLock()
	entries := len(c.tokens)
	c.mu.RUnlock()
	var hits uint64
	for i := range c.hits {
		hits += c.hits[i].n.Load()
	}
	return CacheStats{
		Entries:   uint64(entries),
		Capacity:  uint64(c.max),
		Hits:      hits,
		Misses:    c.misses.Load(),
		Evictions: c.evictions.Load(),
		Refreshes: c.refreshes.Load(),
	}
}

// hitShards spread the count of hits over as many cache lines, picked by
// the token's digest: checks of different tokens on different cores then
// do not contend for one counter. A miss reads the database, against
// which an atomic add on a shared counter costs nothing.
const hitShards = 16

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte // to 64 bytes: one counter per cache line
}

// cacheCounters are the tokenCache's figures behind CacheStats.
type cacheCounters struct {
	hits                         [hitShards]paddedCounter
	misses, evictions, refreshes atomic.Uint64
}

// hit notes a check answered from ct: counted, and marked used so that the
// CLOCK hand passes it by. The bit is written only when clear, so a hot
// token's line is not written by every core on every check.
func (c *tokenCache) hit(ct *cachedToken, digest Digest) {
	c.hits[digest[0]%hitShards].n.Add(1)
	if !ct.used.Load() {
		ct.used.Store(true)
	}
}
