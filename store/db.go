package store

import (
	"context"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// backend is what differs between the databases tokend runs on: how to
// open and migrate one, how its changes reach other processes, and how it
// words its errors. Every query, rule and cache lives once, above it; the
// SQL is written with ? placeholders in the dialect both databases share.
type backend interface {
	// name is "sqlite" or "postgres".
	name() string
	// dollarParams is whether placeholders are $1, $2… rather than ?.
	dollarParams() bool
	// migrations are the backend's numbered .sql files, applied in name
	// order (DB.migrate).
	migrations() fs.FS
	// prepareMigrations readies the record of applied migrations.
	prepareMigrations(ctx context.Context, d *DB) error
	// migrateFile applies one migration unless it is recorded as applied,
	// in a transaction of its own, safe against other processes doing the
	// same at once.
	migrateFile(ctx context.Context, d *DB, fsys fs.FS, name string) error
	// openSignal starts the fast signal of changes made by any process.
	openSignal(ctx context.Context, d *DB) (signal, error)
	// changing runs inside the transaction that takes change number seq.
	changing(ctx context.Context, tx *Tx, seq int64) error
	// nameIndex is how the backend's index of token names (migrations
	// *_token_name_search) takes part in a search of kind's tokens for
	// key, of searchIndexMin characters or more: a condition on tokens t
	// and its arguments to add to the name's own ("" for none), and the
	// ORDER BY that lists the tokens it finds newest first ("" where
	// reading the list is cheaper than the index).
	nameIndex(ctx context.Context, d *DB, kind TokenKind, key string) (cond string, args []any, newestFirst string, err error)
	// uniqueViolation reports whether err is a unique index refusing a row,
	// and which index.
	uniqueViolation(err error) (index string, ok bool)
	// unavailable reports whether err means the database cannot be reached
	// now (as opposed to refusing what was asked).
	unavailable(err error) bool
	// describe is the database as a log line or a message may name it:
	// never with a password.
	describe() string
	close() error
}

// signal tells this process that some process committed a change. load is
// on the path of every token check, so it must cost next to nothing: a
// memory read. Its value only has to differ from the last one seen when a
// change may have been made; the database's change counter is the truth.
type signal interface {
	load() uint64
	// publish announces a committed change to the other processes, where
	// the backend needs it done after the commit.
	publish(seq int64) error
	// start begins whatever runs in the background, once the cache exists.
	start()
	// listening is whether changes are being heard; while they are not,
	// the background check looks for them more often.
	listening() bool
	close() error
}

// conn is a pool of connections that speaks its backend's placeholders.
type conn struct {
	*sql.DB
	b backend
}

func (c conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.DB.ExecContext(ctx, rebind(c.b, q), args...)
}

func (c conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.DB.QueryContext(ctx, rebind(c.b, q), args...)
}

func (c conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.DB.QueryRowContext(ctx, rebind(c.b, q), args...)
}

// QueryRow, Query and Exec are for tests and tools that read as they type.
func (c conn) QueryRow(q string, args ...any) *sql.Row {
	return c.QueryRowContext(context.Background(), q, args...)
}

func (c conn) Query(q string, args ...any) (*sql.Rows, error) {
	return c.QueryContext(context.Background(), q, args...)
}

func (c conn) Exec(q string, args ...any) (sql.Result, error) {
	return c.ExecContext(context.Background(), q, args...)
}

// Tx is a transaction with the time it runs at fixed once, so that every
// row it writes agrees on "now" (after wtf's sqlite.Tx).
type Tx struct {
	tx  *sql.Tx
	b   backend
	now time.Time
}

// begin starts a write transaction on the writer.
func (d *DB) begin(ctx context.Context) (*Tx, error) {
	tx, err := d.w.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, b: d.b, now: d.now()}, nil
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(t.b, q), args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(t.b, q), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(t.b, q), args...)
}

// insertID runs an INSERT … RETURNING id and returns the id.
func (t *Tx) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.QueryRowContext(ctx, q+` RETURNING id`, args...).Scan(&id)
	return id, err
}

func (t *Tx) Commit() error   { return t.tx.Commit() }
func (t *Tx) Rollback() error { return t.tx.Rollback() }

// rebind turns the ? placeholders of q into $1, $2… for a backend that
// wants those. A ? inside a quoted string is left alone.
func rebind(b backend, q string) string {
	if !b.dollarParams() || !strings.Contains(q, "?") {
		return q
	}
	var out strings.Builder
	out.Grow(len(q) + 8)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'':
			quoted = !quoted
			out.WriteByte(c)
		case c == '?' && !quoted:
			n++
			out.WriteByte('$')
			out.WriteString(strconv.Itoa(n))
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

// queryer is what reads need: the pool or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// conflictOnUnique turns a unique index refusing a row, which means another
// writer got in between a check and this write, into the error the check
// would have given.
func (d *DB) conflictOnUnique(err error, conflicts map[string]error) error {
	if index, ok := d.b.uniqueViolation(err); ok {
		if e, ok := conflicts[index]; ok {
			return e
		}
		return Errorf(ECONFLICT, "That already exists.")
	}
	return err
}
