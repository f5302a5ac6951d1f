package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// How tokend serve spends less of its time collecting garbage: a heap floor.
//
// Every request allocates a few kilobytes, mostly in net/http, and keeps
// none of it; while the token cache is small, tokend's live heap is about
// a megabyte. At Go's default (GOGC=100) the collector then runs whenever
// 4 MiB have been allocated: about 50 times a second under load, each
// time scanning the goroutine stacks and globals of a larger program than
// a bare Echo server. That was 1 µs of processor time a token check, 5%
// of what the check costs the server end to end.
//
// After each collection tokend sets the collector's percent so that the
// heap goal of the next one (the collection itself starts somewhat
// before it) is heapFloor bytes, or GOGC=100's goal where that is larger.
// A cache large enough to pass the floor is collected exactly as by
// default, so the floor adds at most heapFloor to the heap goal. An
// operator who sets GOGC has chosen: tokend then leaves the collector
// alone. GOMEMLIMIT, where set, still caps the heap (a soft limit).
//
// This is written here rather than taken from a library: the known Go GC
// tuners (bytedance/gopkg's gctuner, after Uber's) keep a heap under a
// ceiling, lowering the percent below 100 past it, which Go's own
// GOMEMLIMIT does now; and they read runtime.MemStats, which stops the
// world, after every collection. runtime/metrics reads the live heap
// without a stop.

// heapFloor is the least heap goal, in bytes.
const heapFloor = 32 << 20

// defaultGCPercent is the percent Go's collector runs at when GOGC is not
// set: the next collection starts when the heap has grown by that share
// of what the last one found live.
const defaultGCPercent = 100

// runtimeHeapMinimum is the least heap goal of Go's collector at
// defaultGCPercent, which the runtime scales with the percent
// (runtime/mgcpacer.go, defaultHeapMinimum; "A Guide to the Go Garbage
// Collector"). A percent past heapFloor's share of it would move the
// collections later than the floor.
const runtimeHeapMinimum = 4 << 20

var startHeapFloor sync.Once

// keepHeapFloor keeps the heap goal at floor bytes at least for the rest
// of the process, unless GOGC is set in the environment the
// runtime read it from (set empty, it is the runtime's default, as unset).
// It is process-wide; calling it again does nothing.
func keepHeapFloor(floor uint64) {
	startHeapFloor.Do(func() {
		if os.Getenv("GOGC") != "" {
			return
		}
		f := &heapFloorKeeper{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"},
			{Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}, {Name: "/gc/gogc:percent"}}}
		f.adjust()
		f.watch()
	})
}

// heapFloorKeeper sets the collector's percent after each collection. Its
// fields need no lock: one sentinel is outstanding at a time, made after
// the last adjust, so no two adjusts overlap.
type heapFloorKeeper struct {
	floor  uint64
	sample []metrics.Sample
}

// gcSentinel is garbage made for the collector to find: its cleanup runs
// once a collection has found it unreachable. It holds a pointer so that
// it is not one of the tiny allocations that share a block, whose
// cleanups can wait for their neighbours.
type gcSentinel struct{ _ *byte }

// watch calls adjust after the next collection, and again after each one
// that follows.
func (f *heapFloorKeeper) watch() {
	runtime.AddCleanup(new(gcSentinel), func(f *heapFloorKeeper) {
		f.adjust()
		f.watch()
	}, f)
}

// adjust sets the percent for what the last collection found: the live
// heap, and the goroutine stacks and globals it scanned.
func (f *heapFloorKeeper) adjust() {
	metrics.Read(f.sample)
	var v [4]uint64 // live, stacks, globals, the percent now
	for i, s := range f.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return
		}
		v[i] = s.Value.Uint64()
	}
	if p := gcPercentFor(v[0], v[1]+v[2], f.floor); uint64(p) != v[3] {
		debug.SetGCPercent(p)
	}
}

// gcPercentFor is the collector's percent that makes the next heap goal
// floor bytes, when the last collection found live bytes of heap live and
// scanned roots bytes of goroutine stacks and globals; or defaultGCPercent
// where its goal is larger. The runtime's goal is live + (live + roots) ×
// percent/100 (runtime/mgcpacer.go), at least runtimeHeapMinimum ×
// percent/100.
func gcPercentFor(live, roots, floor uint64) int {
	scanned := live + roots
	if live == 0 || live+scanned*defaultGCPercent/100 >= floor {
		return defaultGCPercent
	}
	p := ((floor-live)*100 + scanned - 1) / scanned // rounded up: the goal reaches the floor
	return int(max(min(p, floor*100/runtimeHeapMinimum), defaultGCPercent))
}
