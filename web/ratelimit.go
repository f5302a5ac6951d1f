package web

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter slows down guessing: each client address may fail a token
// check at a steady rate after a burst; past it, every token check from that
// address is refused until the next failure would be allowed. Valid tokens
// cost nothing here but one lookup in a map that is empty in normal running.
type failureLimiter struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	perIP map[string]*rate.Limiter

	blocked sync.Map // address → time.Time until which it is refused
}

func newFailureLimiter(perSecond float64, burst int) *failureLimiter {
	return &failureLimiter{limit: rate.Limit(perSecond), burst: burst, perIP: make(map[string]*rate.Limiter)}
}

// retryAfter is how long ip must wait before its next token check, or 0.
func (l *failureLimiter) retryAfter(ip string, now time.Time) time.Duration {
	v, ok := l.blocked.Load(ip)
	if !ok {
		return 0
	}
	if until := v.(time.Time); now.Before(until) {
		return until.Sub(now)
	}
	l.blocked.Delete(ip)
	return 0
}

// fail counts a failed token check from ip.
func (l *failureLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	lim := l.perIP[ip]
	if lim == nil {
		if len(l.perIP) >= 100_000 {
			l.forgetIdle(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.perIP[ip] = lim
	}
	allowed := lim.AllowN(now, 1)
	l.mu.Unlock()
	if !allowed {
		wait := time.Duration(float64(time.Second) / float64(l.limit))
		l.blocked.Store(ip, now.Add(wait))
	}
}

// forgetIdle drops the addresses whose budget has refilled: they are as
// good as new.
func (l *failureLimiter) forgetIdle(now time.Time) {
	for ip, lim := range l.perIP {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.perIP, ip)
		}
	}
}

// retryAfterSeconds is the Retry-After header's value: whole seconds, at
// least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
