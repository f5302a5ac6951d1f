package store

import (
	"sync/atomic"

	"tokend/store/stripe"
)

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
	rt := c.mu.RLock()
	entries := len(c.tokens)
	c.mu.RUnlock(rt)
	return CacheStats{
		Entries:   uint64(entries),
		Capacity:  uint64(c.max),
		Hits:      c.hits.Value(0),
		Misses:    c.misses.Load(),
		Evictions: c.evictions.Load(),
		Refreshes: c.refreshes.Load(),
	}
}

// cacheCounters are the tokenCache's figures behind CacheStats. Hits are
// counted on every check, striped; a miss reads the database, against
// which an atomic add on a shared counter costs nothing.
type cacheCounters struct {
	hits                         *stripe.Counts // one series
	misses, evictions, refreshes atomic.Uint64
}

// hit notes a check answered from ct: counted, in this processor's
// stripe, and marked used so that the CLOCK hand passes it by. The bit is
// written only when clear, so a hot token's line is not written by every
// core on every check.
func (c *tokenCache) hit(ct *cachedToken) {
	t := stripe.Take()
	c.hits.Add(t, 0)
	t.Release()
	if !ct.used.Load() {
		ct.used.Store(true)
	}
}
