package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
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

// sqliteBackend is an embedded SQLite file (modernc.org/sqlite, no cgo).
// Several processes on one machine may share it: writers queue on SQLite's
// lock, and changes reach every process through a memory-mapped file.
type sqliteBackend struct{ path string }

func openSQLite(ctx context.Context, path string, o options) (*DB, error) {
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
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	// Readers kept open for the next request: a page makes its reads
	// together (web's tokenLists), and database/sql's default of two idle
	// connections would open and close the rest, cold caches and all, on
	// every request.
	r.SetMaxIdleConns(8)
	d := newDB(&sqliteBackend{path: path}, r, w, o)
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (b *sqliteBackend) name() string       { return "sqlite" }
func (b *sqliteBackend) dollarParams() bool { return false }
func (b *sqliteBackend) describe() string   { return b.path }
func (b *sqliteBackend) close() error       { return nil }

func (b *sqliteBackend) migrations() fs.FS {
	return migrationsIn("sqlite")
}

// prepareMigrations makes the table that records migrations.
func (b *sqliteBackend) prepareMigrations(ctx context.Context, d *DB) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	// Releases before PostgreSQL recorded "migrations/0001_init.sql"; a
	// migration is named by its file alone now, as on PostgreSQL.
	_, err := d.w.ExecContext(ctx, `UPDATE migrations SET name = substr(name, 12) WHERE name LIKE 'migrations/%'`)
	return err
}

// migrateFile applies one migration with foreign keys off: a migration that
// rebuilds a table others refer to
// (https://sqlite.org/lang_altertable.html#otheralter) drops it on the way,
// which foreign keys would refuse. SQLite ignores that pragma inside a
// transaction, so it is set before BEGIN on the one connection the
// migration runs on, and set back on it whatever happens; before the commit
// foreign_key_check shows the migration left every reference whole. The
// write lock is taken at BEGIN, so a second process starting at the same
// time waits, then finds the migration recorded.
func (b *sqliteBackend) migrateFile(ctx context.Context, d *DB, fsys fs.FS, name string) (err error) {
	c, err := d.w.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		// Even when ctx is done: the connection goes back to the pool.
		_, onErr := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
		err = errors.Join(err, onErr)
	}()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil // another process applied it while this one waited
	}
	if err := applyMigration(ctx, tx, fsys, name, `INSERT INTO migrations (name) VALUES (?)`); err != nil {
		return err
	}
	if err := checkForeignKeys(ctx, tx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
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

func (b *sqliteBackend) openSignal(ctx context.Context, d *DB) (signal, error) {
	return openFileSignal(b.path + "-changes")
}

// changing needs nothing on SQLite: the file signal is written after the
// commit.
func (b *sqliteBackend) changing(ctx context.Context, tx *Tx, seq int64) error { return nil }

// searchIndexMost is the most tokens a search looks up through a name
// index (tokens_names_*, an FTS5 trigram index per kind, of every
// organization): each costs a lookup of its row, several times what
// reading it in a list costs, so a name held by more is searched for by
// reading the list. The count is of every organization's names, so a
// search's speed may hint whether other organizations hold 2,000 names
// with its text: a hint at names in general, never one of theirs, on a
// database that SQLite keeps to one machine and, mostly, one
// organization.
const searchIndexMost = 2000

// nameIndex asks the kind's index how many tokens hold key, up to
// searchIndexMost, and has those looked up if they are fewer. The key is
// one FTS5 string, so that none of its characters is read as FTS5's query
// syntax; the index folds case as LIKE does, and more, and LIKE has the
// last word.
func (b *sqliteBackend) nameIndex(ctx context.Context, d *DB, kind TokenKind, key string) (string, []any, string, error) {
	table := "tokens_names_personal"
	if kind == KindSystem {
		table = "tokens_names_system"
	}
	phrase := `"` + strings.ReplaceAll(key, `"`, `""`) + `"`
	var n int
	err := d.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %[1]s WHERE %[1]s MATCH ? LIMIT %[2]d)`,
		table, searchIndexMost), phrase).Scan(&n)
	if err != nil || n >= searchIndexMost {
		return "", nil, "", err
	}
	// The tokens the index holds are looked up by id, in the order of
	// their ids.
	return fmt.Sprintf(`t.id IN (SELECT rowid FROM %[1]s WHERE %[1]s MATCH ?)`, table), []any{phrase}, `t.id DESC`, nil
}

// SQLite names the columns of a plain unique index it refuses a row for,
// and the index itself only when the index has an expression.
var (
	sqliteUniqueIndex   = regexp.MustCompile(`UNIQUE constraint failed: index '([^']+)'`)
	sqliteUniqueColumns = regexp.MustCompile(`UNIQUE constraint failed: ([a-z_.]+(?:, [a-z_.]+)*)`)
	// sqliteIndexOf names, by their columns, the unique indexes both
	// backends have, as PostgreSQL names them.
	sqliteIndexOf = map[string]string{
		"members.email_key": "members_active_email",
		"members.org_id":    "members_one_owner",
		"orgs.name_key":     "orgs_name_key",
		"tokens.digest":     "tokens_digest_key",
	}
)

func (b *sqliteBackend) uniqueViolation(err error) (string, bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return "", false
	}
	msg := se.Error()
	if m := sqliteUniqueIndex.FindStringSubmatch(msg); m != nil {
		return m[1], true
	}
	if m := sqliteUniqueColumns.FindStringSubmatch(msg); m != nil {
		return sqliteIndexOf[m[1]], true
	}
	return "", true
}

// unavailable: a file on this machine is there or not; nothing to wait for.
func (b *sqliteBackend) unavailable(err error) bool { return false }

// fileSignal is a small file beside the database that holds the number of
// the last change. Processes map it into memory, so seeing whether anything
// changed costs one memory read, not a database query or a system call.
type fileSignal struct {
	f    *os.File
	view signalView
}

func openFileSignal(path string) (*fileSignal, error) {
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
	return &fileSignal{f: f, view: view}, nil
}

// signalSize is one page: what a memory map takes anyway.
const signalSize = 4096

func (s *fileSignal) publish(seq int64) error {
	s.stamp(seq)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seq))
	_, err := s.f.WriteAt(b[:], 0)
	return err
}

func (s *fileSignal) listening() bool { return true }
func (s *fileSignal) start()          {}

// load is the last change number published. A value caught half-written
// merely differs from the last one seen, which leads to a re-read of the
// database, whose number is the truth.
func (s *fileSignal) load() uint64 { return s.view.load() }

func (s *fileSignal) close() error {
	s.view.close()
	return s.f.Close()
}
