// Package store keeps tokend's organizations, members, sessions and tokens in
// SQLite and enforces the rules that hold whoever asks: one owner per
// organization, unique active token names, secrets kept only as digests.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open tokend database.
type DB struct {
	db *sql.DB // reads
	// w is the one connection that writes. This process's writers queue for
	// it in Go and are handed it the moment it is free. Each on a connection
	// of its own, they would instead wait in SQLite's busy handler, which
	// polls with sleeps of up to 100 ms and favours no one: with a few dozen
	// writers at once, one could sleep out the whole busy timeout and fail
	// with SQLITE_BUSY. The busy timeout still orders writers in other
	// processes (the CLI, a second server).
	w    *sql.DB
	path string

	// Now returns the current time; tests replace it to be exact.
	Now func() time.Time

	// PasswordCost is the bcrypt cost for new passwords.
	PasswordCost int

	// Logger hears of trouble in background work.
	Logger *slog.Logger

	signal   *changeSignal
	cache    *tokenCache
	stop     chan struct{}
	done     chan struct{}
	closed   sync.Once
	closeErr error

	dummyMu   sync.Mutex
	dummy     []byte // see dummyHash
	dummyCost int
}

// Open opens (creating if needed) the database file at path and applies any
// migrations it has not seen yet.
func Open(ctx context.Context, path string) (*DB, error) {
	// Pragmas live in the DSN so every pooled connection gets them. FULL
	// synchronous: a create that was acknowledged survives a power cut, and
	// writes here are rare enough not to care about the cost.
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	// Write transactions take the lock up front, so two writers queue on the
	// busy timeout instead of one failing with SQLITE_BUSY mid-transaction.
	q.Set("_txlock", "immediate")
	// In a file: URI, SQLite reads '?' and '#' as the end of the name and
	// decodes %XX; escaped, a path holding them still names its own file.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + uriPath + "?" + q.Encode()
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	closeAll := func() { sqldb.Close(); w.Close() }
	d := &DB{db: sqldb, w: w, path: path, Now: time.Now, PasswordCost: defaultPasswordCost, Logger: slog.Default()}
	if err := d.migrate(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if d.signal, err = openSignal(path + "-changes"); err != nil {
		closeAll()
		return nil, err
	}
	d.cache = newTokenCache(d)
	if err := d.cache.refresh(ctx); err != nil {
		d.signal.close()
		closeAll()
		return nil, err
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.background(d.stop, d.done)
	return d, nil
}

// Close writes what is pending and closes the database. Closing again does
// nothing.
func (d *DB) Close() error {
	d.closed.Do(func() {
		close(d.stop)
		<-d.done
		err := d.FlushLastUsed(context.Background())
		d.signal.close()
		d.closeErr = errors.Join(err, d.db.Close(), d.w.Close())
	})
	return d.closeErr
}

func (d *DB) logf(format string, args ...any) { d.Logger.Warn(fmt.Sprintf(format, args...)) }

// Path is the file the database lives in.
func (d *DB) Path() string { return d.path }

func (d *DB) now() time.Time { return d.Now().UTC().Truncate(time.Second) }

// migrate applies each embedded migration not yet recorded, in name order,
// each in its own transaction.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (d *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	src, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(src)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

func nullUnixTime(s sql.NullInt64) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return unixTime(s.Int64)
}
