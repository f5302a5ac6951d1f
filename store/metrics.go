package store

import (
	"database/sql"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Observer hears what the store does in the background, for metrics. Its
// methods run on the store's own goroutines and must return at once.
type Observer interface {
	// LastUseWritten says that one batch of records of use was written,
	// for that many tokens.
	LastUseWritten(tokens int)
	// ChangeApplied says that this process's token cache now reflects a
	// change (a revoke, a member removed, …) committed lag ago.
	ChangeApplied(lag time.Duration)
}

// SetObserver makes o hear of the store's background work from now on;
// nil stops it. Safe while the store runs.
func (d *DB) SetObserver(o Observer) {
	if o == nil {
		d.metrics.observer.Store(nil)
		return
	}
	d.metrics.observer.Store(&o)
}

// Pools are the database/sql pools the store reads and writes through, by
// name ("read" and "write" on SQLite, "main" where one pool does both),
// for their figures (sql.DB.Stats).
func (d *DB) Pools() map[string]*sql.DB {
	if d.w.DB == d.db.DB {
		return map[string]*sql.DB{"main": d.db.DB}
	}
	return map[string]*sql.DB{"read": d.db.DB, "write": d.w.DB}
}

// storeMetrics is what the store keeps for its Observer: the latest change
// whose commit time this process knows, its own or one it heard of.
type storeMetrics struct {
	observer atomic.Pointer[Observer]

	mu        sync.Mutex
	commitSeq int64
	commitAt  time.Time
}

func (d *DB) observer() Observer {
	if o := d.metrics.observer.Load(); o != nil {
		return *o
	}
	return nil
}

// noteCommit records that change seq was committed now: by this process,
// or as its notification says (PostgreSQL delivers it at the commit).
func (d *DB) noteCommit(seq int64) {
	at := time.Now()
	m := &d.metrics
	m.mu.Lock()
	if seq > m.commitSeq {
		m.commitSeq, m.commitAt = seq, at
	}
	m.mu.Unlock()
}

// noteApplied tells the Observer how long ago the latest change the cache
// just applied, those after from up to to, was committed, when that is
// known: for this process's own changes, those it heard of, and on SQLite
// any process's, whose commit time the change signal carries.
func (d *DB) noteApplied(from, to int64) {
	o := d.observer()
	if o == nil {
		return
	}
	m := &d.metrics
	m.mu.Lock()
	seq, at := m.commitSeq, m.commitAt
	m.mu.Unlock()
	if fs, ok := d.signal.(*fileSignal); ok {
		if s, a, ok := fs.readStamp(); ok && s > seq && s <= to {
			seq, at = s, a
		}
	}
	if seq <= from || seq > to || at.IsZero() {
		return
	}
	o.ChangeApplied(max(0, time.Since(at)))
}

// noteLastUseWritten tells the Observer of a batch of records of use
// written.
func (d *DB) noteLastUseWritten(tokens int) {
	if o := d.observer(); o != nil {
		o.LastUseWritten(tokens)
	}
}

// The SQLite change signal's file holds the last change number at offset
// 0; after it, at stampOffset, that number again and the Unix nanoseconds
// of its commit, so that another process applying the change can tell how
// long it took. The number is repeated because a process of an older
// release writes only the first: a stamp whose number differs is not this
// change's.
const stampOffset = 8

// stamp records that change seq was committed now. Called before the
// change number itself is written, so a reader who sees the number mostly
// sees its stamp; one who does not, skips it.
func (s *fileSignal) stamp(seq int64) {
	at := time.Now()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seq))
	binary.LittleEndian.PutUint64(b[8:], uint64(at.UnixNano()))
	s.f.WriteAt(b[:], stampOffset)
}

// readStamp is the change number last stamped and its commit time, when
// the stamp is whole and for the change number the signal holds.
func (s *fileSignal) readStamp() (int64, time.Time, bool) {
	var b [24]byte
	if _, err := s.f.ReadAt(b[:], 0); err != nil {
		return 0, time.Time{}, false
	}
	seq := binary.LittleEndian.Uint64(b[:8])
	stamped := binary.LittleEndian.Uint64(b[8:16])
	at := int64(binary.LittleEndian.Uint64(b[16:]))
	if seq == 0 || stamped != seq || at <= 0 {
		return 0, time.Time{}, false
	}
	return int64(seq), time.Unix(0, at), true
}
