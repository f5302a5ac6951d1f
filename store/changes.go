package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
)

// nextChangeSeq takes the next change number, inside the transaction that
// makes the change: numbers follow commit order, since writers hold the
// write lock from the start of their transaction.
func nextChangeSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `UPDATE change_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq)
	return seq, err
}

// changed tells every process on this database, this one included, that
// change seq has been committed. Called after the commit, before the change
// is acknowledged, so that a revoke once answered holds on the next request
// anywhere.
func (d *DB) changed(seq int64) {
	if err := d.signal.publish(uint64(seq)); err != nil {
		// The periodic check still finds the change within a second.
		d.logf("publish change %d: %v", seq, err)
	}
	if err := d.cache.refresh(context.Background()); err != nil {
		// This process's checks refresh again on their own: the signal
		// now differs from what the cache last saw.
		d.logf("refresh after change %d: %v", seq, err)
	}
}

// changeSignal is a small file beside the database that holds the number of
// the last change. Processes map it into memory, so seeing whether anything
// changed costs one memory read, not a database query or a system call.
type changeSignal struct {
	f    *os.File
	view signalView
}

func openSignal(path string) (*changeSignal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if fi.Size() < signalSize {
		if err := f.Truncate(signalSize); err != nil {
			f.Close()
			return nil, err
		}
	}
	view, err := newSignalView(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	return &changeSignal{f: f, view: view}, nil
}

// signalSize is one page: what a memory map takes anyway.
const signalSize = 4096

func (s *changeSignal) publish(seq uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	_, err := s.f.WriteAt(b[:], 0)
	return err
}

// load is the last change number published. A value caught half-written
// merely differs from the last one seen, which leads to a re-read of the
// database, whose number is the truth.
func (s *changeSignal) load() uint64 { return s.view.load() }

func (s *changeSignal) close() error {
	s.view.close()
	return s.f.Close()
}
