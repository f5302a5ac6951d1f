package main

import (
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	const floor = 32 * mib
	for _, tc := range []struct {
		name        string
		live, roots uint64
		want        int
	}{
		{"no collection yet", 0, 0, 100},
		// The runtime's own least goal, 4 MiB at 100, grows with the
		// percent: at 800 it is the floor.
		{"a small heap waits for the floor", 1 * mib, 300 << 10, 800},
		{"a heap of a quarter of the floor", 8 * mib, 0, 300},
		{"a heap of 7 MiB, rounded up", 7 * mib, 0, 358},
		{"a heap with its roots", 8 * mib, 4 * mib, 200},
		{"a heap of half the floor", 16 * mib, 0, 100},
		{"past the floor, as by default", 20 * mib, 0, 100},
		// 2,000 connections' goroutine stacks: their own goal is past the
		// floor, so no more than by default.
		{"a small heap under large stacks", 1700 << 10, 51 * mib, 100},
		{"a large cache, as by default", 600 * mib, 2 * mib, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := gcPercentFor(tc.live, tc.roots, floor)
			if p != tc.want {
				t.Errorf("gcPercentFor(%d KiB, %d KiB) = %d, want %d", tc.live>>10, tc.roots>>10, p, tc.want)
			}
			if tc.live == 0 {
				return
			}
			// What the percent means, by the runtime's rule: the next
			// goal at the floor, or at the default's where that is larger.
			goalAt := func(p int) uint64 {
				return max(tc.live+(tc.live+tc.roots)*uint64(p)/100, runtimeHeapMinimum*uint64(p)/100)
			}
			want := max(goalAt(100), floor)
			if goal := goalAt(p); goal < want || goal > want+(tc.live+tc.roots)/100 {
				t.Errorf("heap goal %d KiB, want %d KiB: the floor, or the default's goal where larger", goal>>10, want>>10)
			}
		})
	}
}

// goRuntimeFigures is what a scrape of --metrics-addr says of the
// collector: its percent, its next heap goal and the collections so far.
type goRuntimeFigures struct{ percent, nextGC, collections float64 }

func scrapeGoRuntime(t *testing.T, c *http.Client, metricsURL string) goRuntimeFigures {
	t.Helper()
	_, body := getBody(t, c, metricsURL, "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		mf := mfs[name]
		if mf == nil || len(mf.GetMetric()) != 1 {
			t.Fatalf("the scrape has no %s:\n%s", name, body)
		}
		m := mf.GetMetric()[0]
		if s := m.GetSummary(); s != nil {
			return float64(s.GetSampleCount())
		}
		return m.GetGauge().GetValue()
	}
	return goRuntimeFigures{percent: value("go_gc_gogc_percent"), nextGC: value("go_memstats_next_gc_bytes"),
		collections: value("go_gc_duration_seconds")}
}

// runUntilCollected sends requests to the child until its scrape says
// enough collections have run (done), and returns that scrape. Each
// request leaves a few kilobytes of garbage, so collections come.
func runUntilCollected(t *testing.T, s *childServer, metricsURL string, done func(goRuntimeFigures) bool) goRuntimeFigures {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	for range 100 {
		if f := scrapeGoRuntime(t, c, metricsURL); done(f) {
			return f
		}
		for range 500 {
			getBody(t, c, s.base+"/healthz", "")
		}
	}
	f := scrapeGoRuntime(t, c, metricsURL)
	t.Fatalf("after 50,000 requests, the collector says %+v", f)
	return f
}

// tokend serve keeps its heap goal at heapFloor bytes at least,
// as an operator sees on its metrics, unless GOGC says otherwise.
func TestServeKeepsHeapFloor(t *testing.T) {
	bin := tokendBinary(t)
	t.Run("by default", func(t *testing.T) {
		t.Parallel()
		s := launchChild(t, bin, tempDBPath(t), "TOKEND_SESSION_KEY=0123456789abcdef0123456789abcdef",
			"TOKEND_METRICS_ADDR=127.0.0.1:0", "GOGC=")
		s.awaitServing(t)
		f := runUntilCollected(t, s, s.awaitStdout(t, metricsLine, "say where its metrics are")[1], func(f goRuntimeFigures) bool { return f.collections >= 1 && f.percent != 100 })
		if f.percent <= 100 || f.nextGC < heapFloor {
			t.Errorf("after %v collections, percent %v and next collection at %v bytes; want above 100 and at least %d", f.collections, f.percent, f.nextGC, heapFloor)
		}
	})
	t.Run("with GOGC set", func(t *testing.T) {
		t.Parallel()
		s := launchChild(t, bin, tempDBPath(t), "TOKEND_SESSION_KEY=0123456789abcdef0123456789abcdef",
			"TOKEND_METRICS_ADDR=127.0.0.1:0", "GOGC=100")
		s.awaitServing(t)
		f := runUntilCollected(t, s, s.awaitStdout(t, metricsLine, "say where its metrics are")[1], func(f goRuntimeFigures) bool { return f.collections >= 3 })
		if f.percent != 100 || f.nextGC >= heapFloor {
			t.Errorf("after %v collections, percent %v and next collection at %v bytes; want GOGC's 100, below %d", f.collections, f.percent, f.nextGC, heapFloor)
		}
	})
}

// gcPercentNow is the collector's percent, as runtime/metrics says it.
func gcPercentNow() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collectUntil runs collections until cond holds, each followed by a
// chance for the keeper's cleanup to run, at most 200 of them.
func collectUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		runtime.GC()
		runtime.Gosched()
	}
	t.Fatalf("after 200 collections, %s: the collector's percent is %d", what, gcPercentNow())
}

// The floor follows every collection, not only the first: a heap that
// grows past it is collected as by default, and one that shrinks again
// gets the floor back.
func TestHeapFloorFollowsTheHeap(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: the floor is off, as it should be")
	}
	keepHeapFloor(heapFloor) // this test process's, or the one a serve test started
	t.Cleanup(func() { runtime.GC() })
	collectUntil(t, "a small heap gets the floor", func() bool { return gcPercentNow() > 100 })
	live := make([]byte, 2*heapFloor)
	for i := range live {
		live[i] = 1 // resident, as a cache is
	}
	collectUntil(t, "a heap past the floor is collected as by default", func() bool { return gcPercentNow() == 100 })
	runtime.KeepAlive(live)
	live = nil
	collectUntil(t, "a heap that shrinks gets the floor back", func() bool { return gcPercentNow() > 100 })
}
