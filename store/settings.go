package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// SessionKey is the secret session cookies are signed and encrypted with
// when the operator configures none: made once by newKey, kept in the
// database, so that every process and every instance on the database
// agrees and a browser signed in through one is signed in on all. When two
// start together, the first to store its key wins and both use that one.
func (d *DB) SessionKey(ctx context.Context, newKey func() []byte) ([]byte, error) {
	const name = "session_key"
	key, err := d.setting(ctx, name)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return key, err
	}
	if _, err := d.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, newKey()); err != nil {
		return nil, err
	}
	return d.setting(ctx, name)
}

func (d *DB) setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := d.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, err
}

// Readiness is whether this process can do its work now: the database
// answers, and changes made elsewhere reach it (on PostgreSQL, its
// listening connection is open; on SQLite, always).
type Readiness struct {
	Database, ChangeSignal error
}

// Ready reports whether d can serve every request now, not only those its
// cache answers; see Readiness. It waits at most timeout for the database.
func (d *DB) Ready(ctx context.Context, timeout time.Duration) Readiness {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r Readiness
	var one int
	if err := d.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		r.Database = d.unavailableOr(err)
	}
	if !d.signal.listening() {
		r.ChangeSignal = errors.New("not listening for changes")
	}
	return r
}
