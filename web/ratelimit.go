package web

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter slows down guessing: each key (a client address, an
// account) may fail a check a burst of times and then at a steady rate; with
// its budget spent, every check for that key is refused until the budget
// holds one more failure. While no key is refused, a valid check costs one
// atomic load here.
type failureLimiter struct {
	limit rate.Limit
	burst int

	mu     sync.Mutex
	perKey map[string]*rate.Limiter

	blocked  sync.Map // key → time.Time until which it is refused
	nblocked atomic.Int64
}

func newFailureLimiter(perSecond float64, burst int) *failureLimiter {
	return &failureLimiter{limit: rate.Limit(perSecond), burst: burst, perKey: make(map[string]*rate.Limiter)}
}

// anyBlocked reports whether some key is refused, so that a caller need not
// work out its key when none is.
func (l *failureLimiter) anyBlocked() bool { return l.nblocked.Load() > 0 }

// retryAfter is how long key must wait before its next check, or 0.
func (l *failureLimiter) retryAfter(key string, now time.Time) time.Duration {
	v, ok := l.blocked.Load(key)
	if !ok {
		return 0
	}
	if until := v.(time.Time); now.Before(until) {
		return until.Sub(now)
	}
	l.unblock(key)
	return 0
}

func (l *failureLimiter) block(key string, until time.Time) {
	if _, was := l.blocked.Swap(key, until); !was {
		l.nblocked.Add(1)
	}
}

func (l *failureLimiter) unblock(key any) {
	if _, was := l.blocked.LoadAndDelete(key); was {
		l.nblocked.Add(-1)
	}
}

// fail counts a failed check from key (an address, an account). Once its
// budget is spent, key is refused until the budget holds one more failure.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	lim := l.perKey[key]
	if lim == nil {
		if len(l.perKey) >= maxTracked {
			l.forgetIdle(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.perKey[key] = lim
	}
	lim.AllowN(now, 1)
	left := lim.TokensAt(now)
	l.mu.Unlock()
	if left < 1 {
		wait := time.Duration((1 - left) / float64(l.limit) * float64(time.Second))
		l.block(key, now.Add(wait))
	}
}

// maxTracked bounds how many keys are remembered.
const maxTracked = 100_000

// forgetIdle drops the keys whose budget has refilled (they are as good as
// new) and the blocks that have run out. Should a flood of fresh keys still
// fill the table, it starts again empty: memory stays bounded, and each key
// gets one more burst.
func (l *failureLimiter) forgetIdle(now time.Time) {
	for key, lim := range l.perKey {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.perKey, key)
		}
	}
	l.blocked.Range(func(key, until any) bool {
		if !now.Before(until.(time.Time)) {
			l.unblock(key)
		}
		return true
	})
	if len(l.perKey) >= maxTracked {
		clear(l.perKey)
	}
}

// retryAfterSeconds is the Retry-After header's value: whole seconds, at
// least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
