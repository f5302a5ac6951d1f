package stripe

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A striped histogram counts what prometheus's own histogram counts for
// the same values: each bucket (a value on a bound counts in that bound's
// bucket), the count and the sum, from goroutines on every processor.
func TestStripedHistogramIsPrometheuss(t *testing.T) {
	bounds := []float64{1e-6, 2.5e-6, 1e-3, 0.25, 1}
	model := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "model", Buckets: bounds})
	striped := NewHistograms(3, bounds)
	values := []time.Duration{0, time.Nanosecond, time.Microsecond, time.Microsecond + 1, 2500 * time.Nanosecond,
		time.Millisecond, 250 * time.Millisecond, time.Second, time.Second + 1, time.Minute, -time.Second}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				for _, v := range values {
					model.Observe(max(v, 0).Seconds())
					t := Take()
					striped.Observe(t, 1, v)
					t.Release()
				}
			}
		})
	}
	wg.Wait()

	var want dto.Metric
	if err := model.Write(&want); err != nil {
		t.Fatal(err)
	}
	got, ok := striped.Snapshot(1)
	if !ok || got.Count != want.Histogram.GetSampleCount() {
		t.Errorf("count %d, want %d", got.Count, want.Histogram.GetSampleCount())
	}
	if math.Abs(got.Sum.Seconds()-want.Histogram.GetSampleSum()) > 1e-6 {
		t.Errorf("sum %v, want %vs", got.Sum, want.Histogram.GetSampleSum())
	}
	for _, b := range want.Histogram.GetBucket() {
		if got.Buckets[b.GetUpperBound()] != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), got.Buckets[b.GetUpperBound()], b.GetCumulativeCount())
		}
	}
	if _, ok := striped.Snapshot(0); ok {
		t.Error("a series nothing was recorded in says it has values")
	}
	if s, _ := striped.Snapshot(2); s.Count != 0 || len(s.Buckets) != len(bounds) {
		t.Errorf("an empty series: count %d, %d buckets; want 0 and every bucket at 0", s.Count, len(s.Buckets))
	}
}

// Striped counts lose no add, whichever stripes the adds land in.
func TestStripedCountsAddUp(t *testing.T) {
	c := NewCounts(2)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5000 {
				t := Take()
				c.Add(t, 1)
				t.Release()
			}
		})
	}
	wg.Wait()
	if c.Value(1) != 16*5000 || c.Value(0) != 0 {
		t.Errorf("counts %d and %d, want 0 and %d", c.Value(0), c.Value(1), 16*5000)
	}
}
