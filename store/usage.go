package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A token's use is counted in memory, per token, per client address, and
// written with the last-use batch: one atomic add on the check, no write
// per request. Counts are given to the UTC day of the flush that writes
// them, so a check in the last second before midnight may count for the
// day after.

// UsageDays is how many days of use a token's page shows.
const UsageDays = 30

// usageKeepDays is how long counts are kept before the background prunes
// them.
const usageKeepDays = 90

// maxAddrsPerToken bounds the addresses counted in memory per token
// between two flushes; uses from more are counted for the token only.
const maxAddrsPerToken = 256

// usageCounts are what one cached token counts between flushes.
type usageCounts struct {
	uses atomic.Int64
	// last is the address of the latest check, counted without a lock
	// while the token keeps being used from it.
	last atomic.Pointer[addrCount]
}

type addrCount struct {
	addr  string
	uses  atomic.Int64
	first int64 // Unix time first counted since the last flush
	last  atomic.Int64
}

// usageTracker holds the tokens with uses not yet written and their
// addresses.
type usageTracker struct {
	mu        sync.Mutex
	dirty     map[*cachedToken]map[string]*addrCount
	unwritten []usageBatch
}

// count records one use of ct from addr at now.
func (u *usageTracker) count(ct *cachedToken, addr string, now int64) {
	if ct.usage.uses.Add(1) == 1 {
		u.mu.Lock()
		if u.dirty == nil {
			u.dirty = make(map[*cachedToken]map[string]*addrCount)
		}
		if _, ok := u.dirty[ct]; !ok {
			u.dirty[ct] = nil
		}
		u.mu.Unlock()
	}
	if a := ct.usage.last.Load(); a != nil && a.addr == addr {
		a.uses.Add(1)
		a.last.Store(now)
		return
	}
	u.mu.Lock()
	if u.dirty == nil { // taken by a flush since the add above
		u.dirty = make(map[*cachedToken]map[string]*addrCount)
	}
	addrs := u.dirty[ct]
	if addrs == nil {
		addrs = make(map[string]*addrCount)
		u.dirty[ct] = addrs
	}
	a := addrs[addr]
	if a == nil && len(addrs) < maxAddrsPerToken {
		a = &addrCount{addr: addr, first: now}
		addrs[addr] = a
	}
	if a != nil {
		a.uses.Add(1)
		a.last.Store(now)
		ct.usage.last.Store(a)
	}
	u.mu.Unlock()
}

// usageBatch is what one flush writes.
type usageBatch struct {
	day   int64
	uses  map[int64]int64 // token id → uses
	addrs []addrUse
}

type addrUse struct {
	tokenID     int64
	addr        string
	first, last int64
	uses        int64
}

// take empties the tracker into a batch for the day of now.
func (u *usageTracker) take(now time.Time) usageBatch {
	u.mu.Lock()
	dirty := u.dirty
	u.dirty = nil
	u.mu.Unlock()
	b := usageBatch{day: now.Unix() / 86400, uses: make(map[int64]int64, len(dirty))}
	for ct, addrs := range dirty {
		// The address counts go first: a check racing this one counts its
		// use again for the next flush, never for none.
		ct.usage.last.Store(nil)
		if n := ct.usage.uses.Swap(0); n > 0 {
			b.uses[ct.p.TokenID] += n
		}
		for _, a := range addrs {
			if n := a.uses.Swap(0); n > 0 {
				b.addrs = append(b.addrs, addrUse{tokenID: ct.p.TokenID, addr: a.addr, first: a.first, last: a.last.Load(), uses: n})
			}
		}
	}
	return b
}

// maxUnwrittenBatches bounds the batches kept while the database cannot
// be written: an hour of flushes; older ones are dropped.
const maxUnwrittenBatches = 3600

// keep holds batches that could not be written, to go with the next flush.
func (u *usageTracker) keep(bs []usageBatch) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.unwritten = append(bs, u.unwritten...)
	if over := len(u.unwritten) - maxUnwrittenBatches; over > 0 {
		u.unwritten = u.unwritten[over:]
	}
}

// hasDirty reports whether any token has counts not yet taken.
func (u *usageTracker) hasDirty() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.dirty) > 0
}

// unwrittenBatches takes what keep held.
func (u *usageTracker) unwrittenBatches() []usageBatch {
	u.mu.Lock()
	defer u.mu.Unlock()
	bs := u.unwritten
	u.unwritten = nil
	return bs
}

// empty reports whether b holds nothing to write.
func (b usageBatch) empty() bool { return len(b.uses) == 0 && len(b.addrs) == 0 }

// writeUsage writes a batch in tx: day counts added, addresses upserted.
func writeUsage(ctx context.Context, tx *Tx, b usageBatch) error {
	for id, n := range b.uses {
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_usage (token_id, day, uses) VALUES (?, ?, ?)
			ON CONFLICT (token_id, day) DO UPDATE SET uses = token_usage.uses + excluded.uses`, id, b.day, n); err != nil {
			return err
		}
	}
	for _, a := range b.addrs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_addresses (token_id, addr, first_seen, last_seen, uses) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (token_id, addr) DO UPDATE SET uses = token_addresses.uses + excluded.uses,
				last_seen = CASE WHEN excluded.last_seen > token_addresses.last_seen THEN excluded.last_seen ELSE token_addresses.last_seen END`,
			a.tokenID, a.addr, a.first, a.last, a.uses); err != nil {
			return err
		}
	}
	return nil
}

// flushUsage writes the counts since the last flush, with any a failed
// flush kept, in one transaction.
func (d *DB) flushUsage(ctx context.Context) error {
	batches := d.usage.unwrittenBatches()
	if d.usage.hasDirty() {
		batches = append(batches, d.usage.take(d.now()))
	}
	batches = slices.DeleteFunc(batches, usageBatch.empty)
	if len(batches) == 0 {
		return nil
	}
	err := func() error {
		tx, err := d.begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, b := range batches {
			if err := writeUsage(ctx, tx, b); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		d.usage.keep(batches)
	}
	return err
}

// DayUses is how often a token was used on one UTC day.
type DayUses struct {
	Day  time.Time // midnight UTC
	Uses int64
}

// AddressUse is a client address a token was used from.
type AddressUse struct {
	Addr                string
	FirstSeen, LastSeen time.Time
	Uses                int64
}

// Usage is a token's use over the last UsageDays days.
type Usage struct {
	// Days has one entry per day, oldest first, today last, zero where
	// the token was not used.
	Days []DayUses
	// Addresses seen in those days, most recently seen first.
	Addresses []AddressUse
	Total     int64
}

// TokenUsage returns the use of a token actor may manage over the last
// UsageDays days, as written by the last flush.
func (d *DB) TokenUsage(ctx context.Context, actor Actor, id int64) (Usage, error) {
	if _, err := d.Token(ctx, actor, id); err != nil {
		return Usage{}, err
	}
	today := d.now().Unix() / 86400
	first := today - UsageDays + 1
	u := Usage{Days: make([]DayUses, UsageDays)}
	for i := range u.Days {
		u.Days[i].Day = time.Unix((first+int64(i))*86400, 0).UTC()
	}
	rows, err := d.db.QueryContext(ctx, `SELECT day, uses FROM token_usage WHERE token_id = ? AND day >= ? AND day <= ?`, id, first, today)
	if err != nil {
		return Usage{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var day, n int64
		if err := rows.Scan(&day, &n); err != nil {
			return Usage{}, err
		}
		u.Days[day-first].Uses = n
		u.Total += n
	}
	if err := rows.Err(); err != nil {
		return Usage{}, err
	}
	arows, err := d.db.QueryContext(ctx, `SELECT addr, first_seen, last_seen, uses FROM token_addresses
		WHERE token_id = ? AND last_seen >= ? ORDER BY last_seen DESC, addr LIMIT 100`, id, first*86400)
	if err != nil {
		return Usage{}, err
	}
	defer arows.Close()
	for arows.Next() {
		var a AddressUse
		var f, l int64
		if err := arows.Scan(&a.Addr, &f, &l, &a.Uses); err != nil {
			return Usage{}, err
		}
		a.FirstSeen, a.LastSeen = unixTime(f), unixTime(l)
		u.Addresses = append(u.Addresses, a)
	}
	return u, arows.Err()
}

// pruneUsage deletes counts older than usageKeepDays.
func (d *DB) pruneUsage(ctx context.Context) error {
	cut := d.now().Unix()/86400 - usageKeepDays
	if _, err := d.w.ExecContext(ctx, `DELETE FROM token_usage WHERE day < ?`, cut); err != nil {
		return err
	}
	_, err := d.w.ExecContext(ctx, `DELETE FROM token_addresses WHERE last_seen < ?`, cut*86400)
	return err
}
