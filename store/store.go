// Package store keeps tokend's organizations, members, sessions and tokens in
// SQLite and enforces the rules that hold whoever asks: one owner per
// organization, unique active token names, secrets kept only as digests.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
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

	"modernc.org/sqlite" // registers the "sqlite" driver
)

func init() {
	// Migrations compute name keys in SQL as the store does in Go.
	err := sqlite.RegisterDeterministicScalarFunction("tokend_name_key", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			s, _ := args[0].(string)
			return NameKey(s), nil
		})
	if err != nil {
		panic(err)
	}
}

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

// migrateFile applies one migration, unless it is recorded as applied, with
// foreign keys off: a migration that rebuilds a table others refer to
// (https://sqlite.org/lang_altertable.html#otheralter) drops it on the way,
// which foreign keys would refuse. SQLite ignores that pragma inside a
// transaction, so it is set before BEGIN on the one connection the
// migration runs on, and set back on it whatever happens; before the commit
// foreign_key_check shows the migration left every reference whole.
func (d *DB) migrateFile(ctx context.Context, name string) (err error) {
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		// Even when ctx is done: the connection goes back to the pool.
		_, onErr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
		err = errors.Join(err, onErr)
	}()
	tx, err := conn.BeginTx(ctx, nil)
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
	if err := checkForeignKeys(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// checkForeignKeys fails if any row refers to a row that does not exist.
func checkForeignKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		return fmt.Errorf("foreign key check: row %d of %s refers to a missing row of %s", rowid.Int64, table, parent)
	}
	return rows.Err()
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
