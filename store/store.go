// Package store keeps tokend's organizations, members, sessions and tokens in
// SQLite or PostgreSQL and enforces the rules that hold whoever asks: one
// owner per organization, unique active token names, secrets kept only as
// digests. Every query and rule is written once; sqlite.go and postgres.go
// hold only what differs between the two databases.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// DB is an open tokend database: an embedded SQLite file, or PostgreSQL.
type DB struct {
	// db reads; w writes. On SQLite, w is the one connection that writes:
	// this process's writers queue for it in Go and are handed it the
	// moment it is free. Each on a connection of its own, they would
	// instead wait in SQLite's busy handler, which polls with sleeps of up
	// to 100 ms and favours no one: with a few dozen writers at once, one
	// could sleep out the whole busy timeout and fail with SQLITE_BUSY. The
	// busy timeout still orders writers in other processes (the CLI, a
	// second server). On PostgreSQL both are the one pool.
	db, w conn
	b     backend
	dsn   string // as given to Open, password and all: never shown
	opts  options

	// Now returns the current time; tests replace it to be exact.
	Now func() time.Time

	// PasswordCost is the bcrypt cost for new passwords.
	PasswordCost int

	// Logger hears of trouble in background work.
	Logger *slog.Logger

	signal    signal
	cache     *tokenCache
	metrics   storeMetrics // for the Observer (metrics.go)
	presented presentedQueue
	usage     usageTracker
	// lastPrune is when audit events were last pruned (background only).
	lastPrune time.Time
	stop      chan struct{}
	done      chan struct{}
	closed    sync.Once
	closeErr  error

	dummyMu   sync.Mutex
	dummy     []byte // see dummyHash
	dummyCost int
}

// IsPostgres reports whether dsn names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names, a postgres:// or postgresql:// URL or
// else the path of a SQLite file (created if missing), and applies any
// migrations it has not seen yet. libpq's PG* environment variables fill in
// what a PostgreSQL URL leaves out. opts configure it (WithCacheSize).
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("no database given: a SQLite file or a postgres:// URL")
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	open := openSQLite
	if IsPostgres(dsn) {
		open = openPostgres
	}
	d, err := open(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	d.dsn = dsn
	return d, nil
}

// newDB is a DB on db and w, not yet started.
func newDB(b backend, db, w *sql.DB, o options) *DB {
	return &DB{db: conn{db, b}, w: conn{w, b}, b: b, opts: o, Now: time.Now, PasswordCost: defaultPasswordCost, Logger: slog.Default()}
}

// start migrates the database, starts the change signal, fills the cache's
// view of changes and starts the background work. On error it closes what
// it opened, the backend included.
func (d *DB) start(ctx context.Context) error {
	fail := func(err error) error {
		d.closeHandles()
		return err
	}
	if err := d.migrate(ctx); err != nil {
		return fail(fmt.Errorf("migrate %s: %w", d.b.describe(), err))
	}
	var err error
	if d.signal, err = d.b.openSignal(ctx, d); err != nil {
		return fail(err)
	}
	d.cache = newTokenCache(d, d.opts.cacheSize)
	if err := d.cache.refresh(ctx); err != nil {
		d.signal.close()
		return fail(err)
	}
	d.signal.start()
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.background(d.stop, d.done)
	return nil
}

func (d *DB) closeHandles() error {
	errs := []error{d.db.Close()}
	if d.w.DB != d.db.DB {
		errs = append(errs, d.w.Close())
	}
	return errors.Join(append(errs, d.b.close())...)
}

// Close writes what is pending and closes the database. Closing again does
// nothing.
func (d *DB) Close() error {
	d.closed.Do(func() {
		close(d.stop)
		<-d.done
		err := d.FlushLastUsed(context.Background())
		d.closeErr = errors.Join(err, d.signal.close(), d.closeHandles())
	})
	return d.closeErr
}

func (d *DB) logf(format string, args ...any) { d.Logger.Warn(fmt.Sprintf(format, args...)) }

// Backend is "sqlite" or "postgres".
func (d *DB) Backend() string { return d.b.name() }

// Path is the SQLite file the database lives in, or "" on PostgreSQL.
func (d *DB) Path() string {
	if b, ok := d.b.(*sqliteBackend); ok {
		return b.path
	}
	return ""
}

// String names the database without any password: a file, or a URL.
func (d *DB) String() string { return d.b.describe() }

func (d *DB) now() time.Time { return d.Now().UTC().Truncate(time.Second) }

// migrationsIn is one backend's folder of migrations.
func migrationsIn(backend string) fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations/"+backend)
	if err != nil {
		panic(err) // the folder is embedded: only a typo gets here
	}
	return sub
}

// migrate applies each of the backend's migrations not yet recorded, in
// name order, each in its own transaction.
func (d *DB) migrate(ctx context.Context) error {
	if err := d.b.prepareMigrations(ctx, d); err != nil {
		return err
	}
	fsys := d.b.migrations()
	names, err := fs.Glob(fsys, "*.sql") // sorted
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := d.b.migrateFile(ctx, d, fsys, name); err != nil {
			return err
		}
	}
	return d.fillMemberNameKeys(ctx)
}

// fillMemberNameKeys computes the search keys of members a migration could
// not (on PostgreSQL, where NameKey, being Go, is not in SQL). A name
// always has a key, so an empty one is one not yet filled; once all are,
// this reads nothing.
func (d *DB) fillMemberNameKeys(ctx context.Context) error {
	rows, err := d.w.QueryContext(ctx, `SELECT id, name FROM members WHERE name_key = ''`)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		names[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(names) == 0 {
		return err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id, name := range names {
		if _, err := tx.ExecContext(ctx, `UPDATE members SET name_key = ? WHERE id = ?`, NameKey(name), id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// applyMigration runs one migration's SQL in tx and records it.
func applyMigration(ctx context.Context, tx *sql.Tx, fsys fs.FS, name string, record string) error {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(src)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err = tx.ExecContext(ctx, record, name)
	return err
}

// Bounds of the times the store hands out: what RFC 3339, and so JSON,
// can write (years 0000 to 9999).
var (
	minUnix = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// unixTime reads a stored time. A value beyond what RFC 3339 can write,
// which no rule lets in now but an older release did, is read as the
// nearest it can, so that no stored row can make a page, a list or a
// revoke fail.
func unixTime(s int64) time.Time { return time.Unix(min(max(s, minUnix), maxUnix), 0).UTC() }

func nullUnixTime(s sql.NullInt64) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return unixTime(s.Int64)
}
