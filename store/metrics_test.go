package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recordingObserver keeps what the store told it.
type recordingObserver struct {
	mu      sync.Mutex
	batches []int
	lags    []time.Duration
}

func (o *recordingObserver) LastUseWritten(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, n)
}

func (o *recordingObserver) ChangeApplied(lag time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lags = append(o.lags, lag)
}

func (o *recordingObserver) seen() ([]int, []time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.batches...), append([]time.Duration(nil), o.lags...)
}

// A batch of last-use records is reported with its size; a change, once
// this process's cache reflects it, with how long that took: for a change
// made here, and on SQLite for one made by another process, whose commit
// time the change signal carries.
func TestObserverHearsBatchesAndChanges(t *testing.T) {
	a, clock := newTestDB(t)
	stopBackground(t, a)
	obsA := &recordingObserver{}
	a.SetObserver(obsA)
	owner := addMember(t, a, "Acme", "ana@acme.test", RoleOwner)
	_, k1 := addToken(t, a, owner, KindPersonal, "one")
	_, k2 := addToken(t, a, owner, KindPersonal, "two")
	doomed, k3 := addToken(t, a, owner, KindPersonal, "doomed")
	for _, k := range []TokenText{k1, k2, k3} {
		verify(t, a, k)
	}
	if err := a.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.FlushLastUsed(context.Background()); err != nil { // nothing pending: no batch
		t.Fatal(err)
	}
	if batches, _ := obsA.seen(); len(batches) != 1 || batches[0] != 3 {
		t.Errorf("batches %v, want one of 3 tokens", batches)
	}
	_, before := obsA.seen()
	first, _ := addToken(t, a, owner, KindSystem, "first to go", RoleViewer)
	revoke(t, a, owner, first.ID) // applied here before it is acknowledged
	if _, lags := obsA.seen(); len(lags) != len(before)+1 || lags[len(lags)-1] < 0 {
		t.Errorf("a revoke made here: lags %v, want one more than %v", lags, before)
	}

	if onPostgres {
		return // another instance's change: see the PostgreSQL tests of the signal
	}
	b := openAgain(t, a, clock)
	stopBackground(t, b)
	verify(t, b, k3)
	obsB := &recordingObserver{}
	b.SetObserver(obsB)
	revoke(t, a, owner, doomed.ID)
	wantRefused(t, b, string(k3), ErrTokenRevoked) // b's check applies the change
	_, lags := obsB.seen()
	if len(lags) != 1 || lags[0] < 0 || lags[0] > time.Minute {
		t.Errorf("the other process's change applied with lags %v, want one", lags)
	}
	b.SetObserver(nil)
	revoke(t, a, owner, mustTokenID(t, a, owner, "two"))
	wantRefused(t, b, string(k2), ErrTokenRevoked)
	if _, again := obsB.seen(); len(again) != 1 {
		t.Errorf("an observer set to nil still heard: %v", again)
	}
}

func mustTokenID(t *testing.T, db *DB, owner Member, name string) int64 {
	t.Helper()
	ts, err := db.ListTokens(context.Background(), owner, TokenFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range ts {
		if tok.Name == name {
			return tok.ID
		}
	}
	t.Fatalf("no token %q", name)
	return 0
}

// The pools are named for their figures.
func TestPools(t *testing.T) {
	db, _ := newTestDB(t)
	pools := db.Pools()
	want := []string{"read", "write"}
	if onPostgres {
		want = []string{"main"}
	}
	if len(pools) != len(want) {
		t.Fatalf("pools %v, want %v", pools, want)
	}
	for _, name := range want {
		if pools[name] == nil {
			t.Errorf("no pool %q", name)
		}
	}
}
