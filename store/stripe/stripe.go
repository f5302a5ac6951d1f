// Package stripe records what every request records (its metrics, its
// access-log line, its token's use) in one of several copies, a stripe,
// each written from one processor, and sums them only when read (a
// scrape, a flush). One copy written from every core makes the cores take
// turns at its cache lines: on two busy cores that cost a token check
// more than the recording itself (web's BenchmarkHotWhoAmIParts, -cpu 2).
// It is the design of Java's LongAdder and of xsync's Counter.
//
// A caller finds its processor's stripe through sync.Pool, whose cache is
// per processor: Take hands back the token this processor released last,
// so a processor keeps to one stripe. A token lost to the garbage
// collector is replaced by the next stripe in turn; two processors sharing
// a stripe only share its cache lines, and lose nothing.
package stripe

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Token names a stripe: its number, which each striped recorder takes
// modulo its count.
type Token struct{ n uint32 }

var (
	tokens sync.Pool
	made   atomic.Uint32
)

// Take is the calling processor's stripe; give it back with Release
// when done.
func Take() *Token {
	if t, ok := tokens.Get().(*Token); ok {
		return t
	}
	return &Token{n: made.Add(1) - 1}
}

// Release gives t back, for the next Take on this processor.
func (t *Token) Release() { tokens.Put(t) }

// Of is t's stripe among count, a power of two.
func (t *Token) Of(count int) int { return int(t.n) & (count - 1) }

// Count is how many stripes a striped recorder keeps: the processors Go
// runs on, to a power of two (at most 64).
func Count() int {
	n := min(runtime.GOMAXPROCS(0), 64)
	return 1 << bits.Len(uint(n-1))
}

// CacheLine is what separates two stripes' counters, so that no cache line
// holds both.
const CacheLine = 64

// Counts is a set of counters, series 0 to n-1, striped.
type Counts struct {
	stripes [][]atomic.Uint64 // [stripe][series], Count of them
}

// NewCounts makes series counters.
func NewCounts(series int) *Counts {
	n := Count()
	s := &Counts{stripes: make([][]atomic.Uint64, n)}
	for i := range s.stripes {
		s.stripes[i] = paddedCounters(series)
	}
	return s
}

// paddedCounters is n counters with a cache line free on either side.
func paddedCounters(n int) []atomic.Uint64 {
	const pad = CacheLine / 8
	return make([]atomic.Uint64, n+2*pad)[pad : pad+n]
}

// Add adds 1 to series i, in stripe t.
func (s *Counts) Add(t *Token, i int) {
	s.stripes[t.Of(len(s.stripes))][i].Add(1)
}

// Value is series i's count, over every stripe.
func (s *Counts) Value(i int) uint64 {
	var v uint64
	for _, st := range s.stripes {
		v += st[i].Load()
	}
	return v
}

// Histograms is a set of duration histograms, series 0 to n-1,
// striped, each with the same buckets: what prometheus.HistogramVec
// records, in nanoseconds rather than float seconds so that the sum is an
// atomic add and not a compare-and-swap loop.
type Histograms struct {
	le      []float64       // upper bounds in seconds, ascending
	bounds  []time.Duration // the same
	width   int             // counters per series: a bucket per bound, +Inf, the sum
	stripes [][]atomic.Uint64
}

// NewHistograms makes series histograms with the upper bounds
// bounds, in seconds, as prometheus.HistogramOpts.Buckets takes them.
func NewHistograms(series int, bounds []float64) *Histograms {
	h := &Histograms{le: bounds, width: len(bounds) + 2}
	for _, b := range bounds {
		h.bounds = append(h.bounds, time.Duration(math.Round(b*float64(time.Second))))
	}
	n := Count()
	h.stripes = make([][]atomic.Uint64, n)
	for i := range h.stripes {
		h.stripes[i] = paddedCounters(series * h.width)
	}
	return h
}

// Observe records d in series i, in stripe t. A value equal to a bound
// counts in that bound's bucket, as Prometheus's "le" says.
func (h *Histograms) Observe(t *Token, i int, d time.Duration) {
	c := h.stripes[t.Of(len(h.stripes))][i*h.width : (i+1)*h.width]
	b := 0
	for b < len(h.bounds) && d > h.bounds[b] {
		b++
	}
	c[b].Add(1)
	c[len(c)-1].Add(uint64(max(d, 0)))
}

// HistogramSnapshot is one series' histogram, summed over the stripes.
type HistogramSnapshot struct {
	Count   uint64
	Sum     time.Duration
	Buckets map[float64]uint64 // cumulative, by upper bound in seconds
}

// Snapshot is series i over every stripe; ok is false while it has
// recorded nothing.
func (h *Histograms) Snapshot(i int) (s HistogramSnapshot, ok bool) {
	counts := make([]uint64, h.width)
	for _, st := range h.stripes {
		c := st[i*h.width : (i+1)*h.width]
		for j := range c {
			counts[j] += c[j].Load()
		}
	}
	s.Buckets = make(map[float64]uint64, len(h.le))
	for j, le := range h.le {
		s.Count += counts[j]
		s.Buckets[le] = s.Count
	}
	s.Count += counts[h.width-2] // above the last bound
	s.Sum = time.Duration(counts[h.width-1])
	return s, s.Count > 0
}
