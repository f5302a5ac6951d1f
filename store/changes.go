package store

import "context"

// nextChangeSeq takes the next change number, inside the transaction that
// makes the change: numbers follow commit order, since a writer holds the
// counter's row (SQLite: the write lock) from here to its commit.
func nextChangeSeq(ctx context.Context, tx *Tx) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE change_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return 0, err
	}
	return seq, tx.b.changing(ctx, tx, seq)
}

// changed tells every process on this database, this one included, that
// change seq has been committed. Called after the commit, before the change
// is acknowledged, so that a revoke once answered holds on the next request
// anywhere.
func (d *DB) changed(seq int64) {
	d.noteCommit(seq)
	if err := d.signal.publish(seq); err != nil {
		// The periodic check still finds the change within a second.
		d.logf("publish change %d: %v", seq, err)
	}
	if err := d.cache.refresh(context.Background()); err != nil {
		// This process's checks refresh again on their own: the signal
		// now differs from what the cache last saw.
		d.logf("refresh after change %d: %v", seq, err)
	}
}
