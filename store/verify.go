package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"tokend/store/stripe"
)

// Principal is a verified token: what acts on the API, and with which roles.
type Principal struct {
	TokenID  int64
	Kind     TokenKind
	Name     string
	LastFour string
	OrgID    int64
	OrgName  string

	// The member a personal token belongs to.
	MemberID    int64
	MemberEmail string
	MemberName  string

	// Roles are the roles in effect now: a system token's own, or a personal
	// token's member's, with owner acting as admin. Shared; do not modify.
	Roles []Role

	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time

	// AllowedIPs are the addresses the token may be used from; empty: any.
	// Introspection reports them, for the calling service to apply.
	// Shared; do not modify.
	AllowedIPs AllowList

	memberRoles []Role
}

// Has reports whether the principal may act as r; admin may act as any role.
func (p Principal) Has(r Role) bool { return covers(p.Roles, r) }

// Hint is how the token is shown: prefix and last four characters.
func (p Principal) Hint() string { return kindPrefix(p.Kind) + "…" + p.LastFour }

// Why a presented token is refused.
var (
	ErrTokenInvalid = &Error{Code: EUNAUTHORIZED, Message: "The access token is malformed, mistyped or unknown."}
	ErrTokenExpired = &Error{Code: EUNAUTHORIZED, Message: "The access token has expired."}
	ErrTokenRevoked = &Error{Code: EUNAUTHORIZED, Message: "The access token has been revoked."}
)

// Verify checks a token presented on the API from address addr and returns
// what it may do. A malformed token or a bad checksum is refused without
// reading its row (a change signalled since the last check is still read
// first, as for any check); a token seen before costs a digest and a map
// lookup, since verified tokens are cached and the cache re-reads only
// what changed when any process on this database revokes a token or
// removes a member. Use is recorded at most once a minute per token, off
// this path.
func (d *DB) Verify(ctx context.Context, text, addr string) (Principal, error) {
	return d.VerifyWith(ctx, text, addr, VerifyOptions{Record: true, Load: true})
}

// VerifyOptions say how far a check may go.
type VerifyOptions struct {
	// Record counts the check as a use of the token from addr.
	Record bool
	// Load lets a token not in the cache be read from the database; without
	// it such a token is refused with ErrNotCached.
	Load bool
	// UserAgent is the client's User-Agent header, with any key redacted:
	// an audit event of a dead token presented names it.
	UserAgent string
	// AnyAddress skips the token's allow-list: for introspection, whose
	// caller checks a token presented to it by its own client, and is told
	// the list to apply. Without it, a token presented from outside its
	// list is refused with ErrAddressNotAllowed.
	AnyAddress bool
}

// ErrNotCached refuses a check that would need a database read when the
// caller allowed none.
var ErrNotCached = &Error{Code: EUNAUTHORIZED, Message: "The access token was not checked."}

// VerifyWith is Verify with a say in how far the check goes: introspection
// of someone else's token records no use of it, and a client past its
// failure budget is answered only from the cache.
func (d *DB) VerifyWith(ctx context.Context, text, addr string, opt VerifyOptions) (Principal, error) {
	// The shape and checksum are checked only where the cache has not
	// answered: a cached token's digest is that of a text that passed
	// them, and SHA-256 makes it the only text with that digest. A
	// made-up token is still refused without reading its row.
	if len(text) != TokenTextLen {
		return Principal{}, ErrTokenInvalid
	}
	digest := DigestOf(text)
	c := d.cache
	ct, err := c.cached(ctx, digest)
	if ct == nil {
		if _, ok := ParseTokenText(text); !ok {
			return Principal{}, ErrTokenInvalid
		}
		if err != nil {
			return Principal{}, d.unavailableOr(err) // unsure what was revoked: refuse
		}
		c.misses.Add(1)
		if !opt.Load {
			return Principal{}, ErrNotCached
		}
		if ct, err = c.load(ctx, digest); err != nil {
			return Principal{}, d.unavailableOr(err)
		}
	} else {
		c.hit(ct)
	}

	now := d.Now()
	switch {
	case ct.revoked || ct.member != nil && ct.member.left:
		d.presentedDead(ct, ActionTokenPresentedRevoked, now, addr, opt.UserAgent)
		return Principal{}, ErrTokenRevoked
	case ct.p.expired(now):
		d.presentedDead(ct, ActionTokenPresentedExpired, now, addr, opt.UserAgent)
		return Principal{}, ErrTokenExpired
	case ct.p.prev && now.Unix() >= ct.p.graceUntil:
		// The secret before a rotation, past its grace: it may have leaked.
		d.presentedDead(ct, ActionTokenOldSecretUsed, now, addr, opt.UserAgent)
		return Principal{}, ErrTokenRevoked
	case ct.p.AllowedIPs != nil && !opt.AnyAddress && !ct.p.AllowedIPs.Allows(addr):
		return Principal{}, ErrAddressNotAllowed
	}
	p := ct.p.principal()
	if m := ct.member; m != nil {
		p.MemberEmail, p.MemberName, p.Roles, p.memberRoles = m.email, m.name, m.effective, m.roles
	}
	p.LastUsedAt = unixTimeOrZero(ct.lastUsed.Load())
	if opt.Record {
		c.touch(ct, now, addr)
		d.usage.count(ct, addr, now.Unix())
	}
	return p, nil
}

// cached is the token the cache holds for digest, or nil, once the cache
// has taken in any change signalled since it last looked. If it could
// not, it answers for no token and says why.
func (c *tokenCache) cached(ctx context.Context, digest Digest) (*cachedToken, error) {
	if c.d.signal.load() != c.seen.Load() {
		if err := c.refreshIfSignalled(ctx); err != nil {
			return nil, err
		}
	}
	rt := c.mu.RLock()
	ct := c.tokens[digest.key()]
	c.mu.RUnlock(rt)
	if !ct.answers(digest) {
		return nil, nil
	}
	return ct, nil
}

// answers reports whether ct, which may be nil, is the cached token of
// digest and may answer for it: its member, if any, has not changed since
// it was read.
func (ct *cachedToken) answers(digest Digest) bool {
	return ct != nil && ct.digest == digest && (ct.member == nil || !ct.member.stale.Load())
}

func unixTimeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return unixTime(s)
}

// tokenCache holds the tokens this process has verified, keyed by digest,
// at most max of them (tokencache.go says which go when it is full).
type tokenCache struct {
	d   *DB
	max int

	// mu is read by every check: a reader-biased lock, whose readers
	// touch no cache line that readers on other cores write.
	mu      *xsync.RBMutex
	tokens  map[uint64]*cachedToken // by Digest.key; check the digest
	byID    map[int64]*cachedToken  // each id's tokens, linked by sameID
	members map[int64]*cachedMember // those of cached tokens
	seq     int64                   // the change seq the cache reflects
	ring    []*cachedToken          // every cached token at its slot; nil in a free one
	free    []int                   // the free slots of ring
	hand    int                     // the ring's next slot to look at for eviction

	cacheCounters

	// seen is the change signal's value at the last refresh.
	seen      atomic.Uint64
	refreshMu sync.Mutex

	pendingMu sync.Mutex
	pending   map[int64]lastUse
}

// cachedToken is one token in the cache. What a check reads comes first,
// so that it spans as few cache lines of memory as may be.
type cachedToken struct {
	// In the first 64 bytes, what every check reads before it answers.
	digest Digest
	member *cachedMember
	// lastUsed is the Unix time of the last use recorded or queued.
	lastUsed atomic.Int64
	// used is set by a check and cleared by the CLOCK hand passing by.
	used    atomic.Bool
	revoked bool
	slot    int // in tokenCache.ring

	p cachedPrincipal
	// sameID is the next cached token of the same id, another of its
	// secrets (a rotated token's previous one), in tokenCache.byID.
	sameID *cachedToken
	// presented is the Unix time a presentation of it, revoked or
	// expired, was last queued for the audit log (presented.go).
	presented atomic.Int64
	// usage counts its checks until the next flush (usage.go).
	usage usageCounts
}

type cachedMember struct {
	email, name string
	roles       []Role
	effective   []Role
	left        bool
	stale       atomic.Bool // changed since loaded: load again
	id          int64
	refs        int // cached tokens of this member, under tokenCache.mu
}

type lastUse struct {
	at   int64
	addr string
}

func newTokenCache(d *DB, max int) *tokenCache {
	return &tokenCache{
		d:             d,
		max:           max,
		mu:            xsync.NewRBMutex(),
		cacheCounters: cacheCounters{hits: stripe.NewCounts(1)},
		tokens:        make(map[uint64]*cachedToken),
		byID:          make(map[int64]*cachedToken),
		members:       make(map[int64]*cachedMember),
		pending:       make(map[int64]lastUse),
	}
}

// verifyQuery reads the token whose secret, or secret before its last
// rotation, has a digest: the first three arguments are that digest.
const verifyQuery = `SELECT t.id, t.kind, t.name, t.last_four, t.roles, t.org_id, o.name,
	coalesce(t.member_id, 0), coalesce(m.email, ''), coalesce(m.name, ''), coalesce(m.roles, ''), m.left_at,
	t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
	t.allowed_ips, t.digest <> ?, coalesce(t.grace_until, 0), coalesce(t.prev_last_four, '')
	FROM tokens t JOIN orgs o ON o.id = t.org_id LEFT JOIN members m ON m.id = t.member_id
	WHERE t.digest = ? OR t.prev_digest = ?`

// load reads one token by digest and caches it, unless a change came in
// while it was read: then the answer is right but may not be kept.
func (c *tokenCache) load(ctx context.Context, digest Digest) (*cachedToken, error) {
	rt := c.mu.RLock()
	startSeq := c.seq
	c.mu.RUnlock(rt)

	ct, err := scanCachedToken(c.d.db.QueryRowContext(ctx, verifyQuery, digest[:], digest[:], digest[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrTokenInvalid
	} else if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != startSeq {
		return ct, nil
	}
	// Checks that missed at once all read the token; the first to get
	// here caches it, and the others count their use on that one, so a
	// token has one set of counts (and one bound on its addresses).
	if cur := c.tokens[digest.key()]; cur.answers(digest) {
		return cur, nil
	}
	c.insertLocked(digest, ct)
	return ct, nil
}

// scanCachedToken reads a row of verifyQuery as the cache keeps it.
func scanCachedToken(row interface{ Scan(dest ...any) error }) (*cachedToken, error) {
	ct := &cachedToken{}
	m := &cachedMember{}
	var roles, memberRoles, allowed, prevLastFour string
	var created int64
	var left, expires, lastUsed, revoked sql.NullInt64
	if err := row.Scan(
		&ct.p.TokenID, &ct.p.Kind, &ct.p.Name, &ct.p.LastFour, &roles, &ct.p.OrgID, &ct.p.OrgName,
		&ct.p.MemberID, &m.email, &m.name, &memberRoles, &left,
		&created, &expires, &lastUsed, &revoked,
		&allowed, &ct.p.prev, &ct.p.graceUntil, &prevLastFour); err != nil {
		return nil, err
	}
	if allowed != "" {
		ct.p.AllowedIPs = readAllowList(allowed)
	}
	if ct.p.prev {
		// The old secret answers as what it is: the hint it had.
		ct.p.LastFour = prevLastFour
	}
	ct.p.Kind = internKind(ct.p.Kind)
	ct.p.created = created
	ct.p.expires, ct.p.expiresSet = expires.Int64, expires.Valid
	ct.revoked = revoked.Valid
	ct.lastUsed.Store(lastUsed.Int64)
	if ct.p.Kind == KindSystem {
		ct.p.Roles = splitRoles(roles)
	} else {
		m.id, m.left = ct.p.MemberID, left.Valid
		m.roles = splitRoles(memberRoles)
		m.effective = effectiveRoles(m.roles)
		ct.member = m
	}
	return ct, nil
}

// appliedSeq is the change number the cache reflects.
func (c *tokenCache) appliedSeq() int64 {
	rt := c.mu.RLock()
	defer c.mu.RUnlock(rt)
	return c.seq
}

// refreshIfSignalled refreshes unless another goroutine did while this one
// waited its turn: a change wakes every check at once, one query serves.
func (c *tokenCache) refreshIfSignalled(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.d.signal.load() == c.seen.Load() {
		return nil
	}
	return c.refreshLocked(ctx)
}

// refresh drops from the cache whatever changed since it was filled, as the
// change_seq stamps in the database say, and notes the signal it acted on.
func (c *tokenCache) refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *tokenCache) refreshLocked(ctx context.Context) error {
	sig := c.d.signal.load()

	// Every row stamped up to dbSeq was committed before dbSeq was read; rows
	// stamped later and read here anyway are dropped again next time.
	var dbSeq int64
	if err := c.d.db.QueryRowContext(ctx, `SELECT seq FROM change_seq WHERE id = 1`).Scan(&dbSeq); err != nil {
		return err
	}
	rt := c.mu.RLock()
	from := c.seq
	c.mu.RUnlock(rt)
	if dbSeq != from {
		tokenIDs, err := c.changedIDs(ctx, `SELECT id FROM tokens WHERE change_seq > ?`, from)
		if err != nil {
			return err
		}
		memberIDs, err := c.changedIDs(ctx, `SELECT id FROM members WHERE change_seq > ?`, from)
		if err != nil {
			return err
		}
		c.mu.Lock()
		for _, id := range tokenIDs {
			for ct := c.byID[id]; ct != nil; ct = c.byID[id] {
				c.dropLocked(ct) // each of its secrets cached
			}
		}
		for _, id := range memberIDs {
			if m := c.members[id]; m != nil {
				m.stale.Store(true)
				delete(c.members, id)
			}
		}
		c.seq = dbSeq
		c.mu.Unlock()
		c.refreshes.Add(1)
		c.d.noteApplied(from, dbSeq)
	}
	c.seen.Store(sig)
	return nil
}

func (c *tokenCache) changedIDs(ctx context.Context, query string, since int64) ([]int64, error) {
	rows, err := c.d.db.QueryContext(ctx, query, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// lastUseInterval is how often at most a token's use is written down.
const lastUseInterval = time.Minute

// touch queues a record of this use if the last one is a minute old or
// more.
func (c *tokenCache) touch(ct *cachedToken, now time.Time, addr string) {
	last, t := ct.lastUsed.Load(), now.Unix()
	if t-last >= int64(lastUseInterval/time.Second) && ct.lastUsed.CompareAndSwap(last, t) {
		c.pendingMu.Lock()
		c.pending[ct.p.TokenID] = lastUse{at: t, addr: addr}
		c.pendingMu.Unlock()
	}
}

// FlushLastUsed writes the queued records of use in one transaction. The
// server does this every second; tests call it to see the result at once.
func (d *DB) FlushLastUsed(ctx context.Context) error {
	// Each batch is written, or kept for the next flush, whatever became
	// of the others.
	return errors.Join(d.flushPresented(ctx), d.flushUsage(ctx), d.flushLastUse(ctx))
}

// flushLastUse writes the queued times of last use.
func (d *DB) flushLastUse(ctx context.Context) error {
	c := d.cache
	c.pendingMu.Lock()
	pending := c.pending
	c.pending = make(map[int64]lastUse)
	c.pendingMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := d.writeLastUsed(ctx, pending); err != nil {
		// Kept for the next flush, unless a newer use came in meanwhile.
		c.pendingMu.Lock()
		for id, u := range pending {
			if cur, ok := c.pending[id]; !ok || cur.at < u.at {
				c.pending[id] = u
			}
		}
		c.pendingMu.Unlock()
		return err
	}
	d.noteLastUseWritten(len(pending))
	return nil
}

func (d *DB) writeLastUsed(ctx context.Context, pending map[int64]lastUse) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id, u := range pending {
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?, last_used_ip = ?
			WHERE id = ? AND coalesce(last_used_at, 0) < ?`, u.at, u.addr, id, u.at); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// unavailableOr is ErrUnavailable for an error that says the database
// cannot be reached, and err otherwise.
func (d *DB) unavailableOr(err error) error {
	if d.b.unavailable(err) {
		return ErrUnavailable
	}
	return err
}

// How often the background work runs: last use is written and changes are
// looked for once a second; while the change signal is not heard (its
// connection lost), changes are looked for at every tick.
const (
	backgroundTick  = 250 * time.Millisecond
	backgroundEvery = 4
)

// background flushes records of use and, as a safety net for a process that
// died between a commit and its signal or a notification not heard, looks
// for changes once a second (every tick while the signal is down). Trouble
// reaching the database is logged when it starts and when it ends, not at
// every tick.
func (d *DB) background(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(backgroundTick)
	defer tick.Stop()
	var failing bool
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		heard := d.signal.listening()
		if n%backgroundEvery != 0 && heard {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.FlushLastUsed(ctx)
		if err == nil {
			err = d.cache.refresh(ctx)
		}
		if err == nil {
			err = d.pruneHourly(ctx)
		}
		cancel()
		switch {
		case err != nil && !failing:
			d.logf("database unreachable, answering tokens already verified from memory: %v", err)
		case err == nil && failing:
			d.logf("database reachable again")
		}
		failing = err != nil
	}
}
