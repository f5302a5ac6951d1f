package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresBackend is a PostgreSQL database shared by any number of tokend
// instances: pgx and its pool, changes announced with NOTIFY in the
// transaction that makes them and heard on one dedicated LISTEN connection
// per instance.
type postgresBackend struct {
	pool   *pgxpool.Pool
	config *pgxpool.Config
	// schema is the schema the connections work in (from search_path);
	// the change channel is named after it, so that two tokend databases in
	// one PostgreSQL database do not hear each other.
	schema  string
	channel string
}

// pgConnectTimeout bounds a connection attempt that the URL sets no
// connect_timeout for: while the server is unreachable, a request that
// needs it fails in seconds rather than waiting out the OS's TCP timeout.
const pgConnectTimeout = 3 * time.Second

func openPostgres(ctx context.Context, url string) (*DB, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	if config.ConnConfig.ConnectTimeout == 0 {
		config.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	b := &postgresBackend{config: config}
	if b.pool, err = pgxpool.NewWithConfig(ctx, config); err != nil {
		return nil, fmt.Errorf("open %s: %w", b.describe(), err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&b.schema); err != nil {
		b.pool.Close()
		return nil, fmt.Errorf("open %s: %w", b.describe(), err)
	}
	b.channel = "tokend_changes"
	if b.schema != "public" {
		b.channel += "_" + b.schema
	}
	db := stdlib.OpenDBFromPool(b.pool)
	d := newDB(b, db, db)
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (b *postgresBackend) name() string       { return "postgres" }
func (b *postgresBackend) dollarParams() bool { return true }

func (b *postgresBackend) describe() string {
	c := b.config.ConnConfig
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.Database)
}

func (b *postgresBackend) close() error {
	b.pool.Close()
	return nil
}

func (b *postgresBackend) migrations() fs.FS {
	return migrationsIn("postgres")
}

// migrate applies each migration not yet recorded, in its own transaction
// under an advisory lock of this schema's, so that instances starting
// together apply each exactly once: the second waits for the lock, then
// finds the migration recorded.
func (b *postgresBackend) migrate(ctx context.Context, d *DB) error {
	fsys := b.migrations()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := b.migrateFile(ctx, d, fsys, name); err != nil {
			return err
		}
	}
	return nil
}

func (b *postgresBackend) migrateFile(ctx context.Context, d *DB, fsys fs.FS, name string) error {
	tx, err := d.w.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' tokend migrations'))`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = $1`, name).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	if err := applyMigration(ctx, tx, fsys, name, `INSERT INTO migrations (name) VALUES ($1)`); err != nil {
		return err
	}
	return tx.Commit()
}

// changing announces change seq to every instance, this one included: a
// NOTIFY in the transaction is delivered when, and only if, it commits.
func (b *postgresBackend) changing(ctx context.Context, tx *Tx, seq int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify(?, ?)`, b.channel, strconv.FormatInt(seq, 10))
	return err
}

func (b *postgresBackend) uniqueViolation(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}

// unavailable reports whether err is PostgreSQL being out of reach: no
// connection, a connection lost, the server shutting down or starting up.
func (b *postgresBackend) unavailable(err error) bool {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01–57P03: shutting down,
		// crashed, not yet accepting connections.
		return pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// openSignal starts listening for changes on a connection of its own.
func (b *postgresBackend) openSignal(ctx context.Context, d *DB) (signal, error) {
	s := &listenSignal{b: b, d: d, stop: make(chan struct{}), done: make(chan struct{}), heardCh: make(chan struct{})}
	// The first connection is made here, so that a tokend that cannot
	// listen does not start; later ones by the loop, as the server allows.
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen for changes: %w", err)
	}
	s.up.Store(true)
	go s.run(conn)
	return s, nil
}

// listenSignal counts the notifications of changes this instance has
// heard, and counts one more each time it listens again after losing its
// connection: changes made meanwhile were not heard, so the cache must be
// brought up to date from the change counter before it is trusted again.
type listenSignal struct {
	b     *postgresBackend
	d     *DB
	count atomic.Uint64
	// up is whether the listening connection is open. While it is not,
	// the background check runs more often, as the only news of changes.
	up        atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	heardMu  sync.Mutex
	heardSeq int64         // the latest change number heard
	heardCh  chan struct{} // closed and replaced at each one
}

func (s *listenSignal) load() uint64    { return s.count.Load() }
func (s *listenSignal) listening() bool { return s.up.Load() }

// publishWait bounds how long a change waits to be heard back.
const publishWait = 100 * time.Millisecond

// publish waits, at most publishWait, until this instance's own listener
// has heard change seq, which was sent with the commit. PostgreSQL hands a
// notification to every listening connection when it commits; once this
// one has it, the others have been sent theirs too, so by the time the
// change is acknowledged to whoever made it, every instance is about to
// refuse what it revoked. (How soon they do is measured by make bench.)
func (s *listenSignal) publish(seq int64) error {
	deadline := time.NewTimer(publishWait)
	defer deadline.Stop()
	for {
		s.heardMu.Lock()
		heard, ch := s.heardSeq, s.heardCh
		s.heardMu.Unlock()
		if heard >= seq || !s.up.Load() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil // the periodic check is the safety net
		}
	}
}

// heard notes a notification of change seq and wakes whoever waits on it.
func (s *listenSignal) heard(seq int64) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	s.heardSeq = max(s.heardSeq, seq)
	close(s.heardCh)
	s.heardCh = make(chan struct{})
}

func (s *listenSignal) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.b.config.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.b.channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// listenRetry is how long the loop waits between attempts to listen again.
const listenRetry = 250 * time.Millisecond

func (s *listenSignal) run(conn *pgx.Conn) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil {
					return
				}
				s.up.Store(false)
				s.d.logf("change notifications lost: %v", err)
				break
			}
			s.count.Add(1)
			if seq, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				s.heard(seq)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
		var err error
		if conn, err = s.connect(ctx); err == nil {
			s.up.Store(true)
			// Whatever changed while no one listened is read before the
			// next check is answered from the cache.
			s.count.Add(1)
			s.d.logf("change notifications heard again")
		}
	}
}

func (s *listenSignal) close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}
