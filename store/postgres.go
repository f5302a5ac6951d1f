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
const pgConnectTimeout = 5 * time.Second

func openPostgres(ctx context.Context, url string, o options) (*DB, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	if config.ConnConfig.ConnectTimeout == 0 {
		config.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	// pgx prepares and caches statements, and after five runs PostgreSQL
	// may switch a statement to one generic plan for every parameter: the
	// list of an organization's personal tokens then walked the whole
	// tokens table backwards (31 ms at 100,000 system tokens, against
	// 0.04 ms planned for its parameters). The queries here are small, so
	// planning each run for its own values costs little.
	if _, set := config.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		config.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	// No parallel workers: starting one costs milliseconds, more than the
	// queries here take through their indexes, and a planner that weighs a
	// sequential scan shared by two processes against an index lookup
	// picked the scan (a name search of 0.1 ms took 12). A page makes its
	// reads side by side itself (web's tokenLists).
	if _, set := config.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"]; !set {
		config.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	}
	// Joins in the order they are written: every query here starts from
	// the rows it is about and looks the rest up by key (tokenQuery joins
	// five), which is the order the planner would choose, after twice as
	// long weighing the others (0.4 ms against 1.1 for each list).
	if _, set := config.ConnConfig.RuntimeParams["join_collapse_limit"]; !set {
		config.ConnConfig.RuntimeParams["join_collapse_limit"] = "1"
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
	d := newDB(b, db, db, o)
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	var indexed bool
	if err := b.pool.QueryRow(ctx, `SELECT to_regclass('tokens_names_personal') IS NOT NULL`).Scan(&indexed); err == nil && !indexed {
		d.logf("name searches read every token of a list: the pg_trgm extension could not be made for their indexes (see store/migrations/postgres/0006_token_name_search.sql)")
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

// prepareMigrations needs nothing: the table that records migrations is
// made under the advisory lock, by the first migrateFile.
func (b *postgresBackend) prepareMigrations(ctx context.Context, d *DB) error { return nil }

// migrateFile applies one migration unless it is recorded, in its own
// transaction under an advisory lock of this schema's, so that instances
// starting together apply each exactly once: the second waits for the
// lock, then finds the migration recorded.
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

// nameIndex adds no condition: the name's own, LIKE, is what the trigram
// indexes (tokens_names_*, pg_trgm) answer, and the planner weighs them
// against reading the list from its statistics. Newest first, by an order
// no index holds: the planner looks the tokens up through the name index
// and sorts them, rather than reading the list backwards in the hope of
// meeting a rare name soon.
func (b *postgresBackend) nameIndex(ctx context.Context, d *DB, kind TokenKind, key string) (string, []any, string, error) {
	return "", nil, `t.id + 0 DESC`, nil
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
	s.conn = conn
	s.id = fmt.Sprintf("%x", randomBytes(8))
	// A new instance's cache is empty, so it reflects every change made so
	// far: it joins as having heard them all.
	if _, err := b.pool.Exec(ctx, `INSERT INTO instances (id, heard_seq) SELECT $1, seq FROM change_seq WHERE id = 1`, s.id); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("register instance: %w", err)
	}
	return s, nil
}

// start begins listening, once the cache it refreshes exists.
func (s *listenSignal) start() {
	go s.run(s.conn)
	go s.heartbeat()
}

// listenSignal counts the notifications of changes this instance has
// heard, and counts one more each time it listens again after losing its
// connection: changes made meanwhile were not heard, so the cache must be
// brought up to date from the change counter before it is trusted again.
type listenSignal struct {
	b     *postgresBackend
	d     *DB
	id    string        // this instance's row in instances
	pid   atomic.Uint32 // the server process of the listening connection
	conn  *pgx.Conn     // the listening connection, until run takes it
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

// publishWait bounds how long a change waits for the instances to apply
// it. Listening instances apply it in a millisecond or two; one that has
// lost its listening connection applies it at its next background check
// (every 250 ms) and says so at its next heartbeat (every 250 ms while it
// cannot listen), so a second covers it too.
const publishWait = time.Second

// publish waits, at most publishWait, until every live instance has
// applied change seq, which was sent with the commit: first until this
// instance's own listener has heard it, then until every other instance
// that said it was alive in the last few seconds has recorded that its
// cache reflects it. So once a revoke is acknowledged to whoever made it,
// every instance refuses the token on its next request, those that have
// lost their listening connection included. An instance that does not
// answer within publishWait (its database connection gone, say) is not
// waited for longer.
func (s *listenSignal) publish(seq int64) error {
	deadline := time.NewTimer(publishWait)
	defer deadline.Stop()
	// This instance's own listener first (unless it is down: then the
	// others are waited for all the same; the notification went out).
	for s.up.Load() {
		s.heardMu.Lock()
		heard, ch := s.heardSeq, s.heardCh
		s.heardMu.Unlock()
		if heard >= seq {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil
		}
	}
	s.awaitInstances(seq, deadline)
	return nil
}

// heard notes a notification of change seq and wakes whoever waits on it.
func (s *listenSignal) heard(seq int64) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	s.heardSeq = max(s.heardSeq, seq)
	s.d.noteCommit(seq) // heard at its commit
	close(s.heardCh)
	s.heardCh = make(chan struct{})
}

func (s *listenSignal) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.b.config.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	s.pid.Store(conn.PgConn().PID())
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
			s.apply(ctx)
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

// apply brings the cache up to date with what was heard and records, for
// the instance that made the change and waits on it, that this instance
// has applied it.
func (s *listenSignal) apply(ctx context.Context) {
	if err := s.d.cache.refresh(ctx); err != nil {
		return // checks refresh on their own: the signal moved
	}
	s.ack(ctx)
}

// ack records the change number this instance's cache reflects, and that
// the instance is alive.
func (s *listenSignal) ack(ctx context.Context) error {
	_, err := s.b.pool.Exec(ctx, `INSERT INTO instances (id, heard_seq) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET heard_seq = greatest(instances.heard_seq, $2), seen_at = now()`, s.id, s.d.cache.appliedSeq())
	return err
}

// heartbeat says once a second that this instance is alive, and forgets
// instances not heard of for an hour.
// While this instance cannot listen, it acks every tick what its
// background check has applied, so that an instance waiting on a change
// hears within half a second that this one has it too.
func (s *listenSignal) heartbeat() {
	tick := time.NewTicker(backgroundTick)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if n%backgroundEvery != 0 && s.up.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if s.ack(ctx) == nil && n%(600*backgroundEvery) == 0 {
			s.b.pool.Exec(ctx, `DELETE FROM instances WHERE seen_at < now() - interval '1 hour'`)
		}
		cancel()
	}
}

// instanceAlive is how recently an instance must have said so to be
// waited for.
const instanceAlive = "3 seconds"

// awaitInstances waits, until deadline, for every other live instance to
// have applied change seq.
func (s *listenSignal) awaitInstances(seq int64, deadline *time.Timer) {
	ctx, cancel := context.WithTimeout(context.Background(), publishWait)
	defer cancel()
	for {
		var behind int
		err := s.b.pool.QueryRow(ctx, `SELECT count(*) FROM instances
			WHERE id <> $1 AND heard_seq < $2 AND seen_at > now() - interval '`+instanceAlive+`'`, s.id, seq).Scan(&behind)
		if err != nil || behind == 0 {
			return
		}
		select {
		case <-deadline.C:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

func (s *listenSignal) close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.b.pool.Exec(ctx, `DELETE FROM instances WHERE id = $1`, s.id)
	})
	return nil
}
