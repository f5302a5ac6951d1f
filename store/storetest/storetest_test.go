package storetest

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := q.QueryRow(t.Context(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func schemaOf(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Query().Get("search_path")
}

func TestSchemasDoNotSeeEachOther(t *testing.T) {
	t.Parallel()
	a, b := connect(t, Postgres(t)), connect(t, Postgres(t))
	schemaA, schemaB := queryString(t, a, "SELECT current_schema()"), queryString(t, b, "SELECT current_schema()")
	if !strings.HasPrefix(schemaA, "tokend_t_") || schemaA == schemaB {
		t.Fatalf("current schemas %q and %q: want two different tokend_t_ schemas", schemaA, schemaB)
	}

	exec(t, a, "CREATE TABLE things (name text PRIMARY KEY)")
	exec(t, a, "INSERT INTO things VALUES ('only in a')")
	if got := queryString(t, b, "SELECT coalesce(to_regclass('things')::text, 'none')"); got != "none" {
		t.Fatalf("b sees a table things: %s", got)
	}
	// The same name in b is a table of b's own.
	exec(t, b, "CREATE TABLE things (name text PRIMARY KEY)")
	exec(t, b, "INSERT INTO things VALUES ('only in b')")
	if got := queryString(t, a, "SELECT string_agg(name, ',') FROM things"); got != "only in a" {
		t.Fatalf("a's things: %q", got)
	}
	if got := queryString(t, b, "SELECT string_agg(name, ',') FROM things"); got != "only in b" {
		t.Fatalf("b's things: %q", got)
	}
}

// Every connection of a pool opened with the URL works in the schema, not
// only the first one.
func TestSearchPathOnEveryPoolConnection(t *testing.T) {
	t.Parallel()
	u := Postgres(t)
	schema := schemaOf(t, u)
	const n = 5
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = n
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	// Create through the pool, unqualified: the table lands in the schema.
	if _, err := pool.Exec(t.Context(), "CREATE TABLE marks (pid int)"); err != nil {
		t.Fatal(err)
	}
	// Hold n connections at once, so that they are n different sessions.
	conns := make([]*pgxpool.Conn, n)
	for i := range conns {
		if conns[i], err = pool.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	pids := map[string]bool{}
	for _, c := range conns {
		if got := queryString(t, c, "SELECT current_schema()"); got != schema {
			t.Errorf("a pool connection's current schema is %q, want %q", got, schema)
		}
		if got := queryString(t, c, "SHOW search_path"); got != schema {
			t.Errorf("a pool connection's search_path is %q, want %q", got, schema)
		}
		pid := queryString(t, c, "INSERT INTO marks SELECT pg_backend_pid() RETURNING pid::text")
		pids[pid] = true
	}
	for _, c := range conns {
		c.Release()
	}
	if len(pids) != n {
		t.Fatalf("%d different sessions, want %d", len(pids), n)
	}
	var rows int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{schema, "marks"}.Sanitize()).Scan(&rows); err != nil || rows != n {
		t.Fatalf("%s.marks holds %d rows (%v), want %d", schema, rows, err, n)
	}
}

func TestCleanupDropsSchema(t *testing.T) {
	t.Parallel()
	server := serverURL(t)
	var schema string
	t.Run("test", func(t *testing.T) {
		u := Postgres(t)
		schema = schemaOf(t, u)
		exec(t, connect(t, u), "CREATE TABLE left_behind (x int)")
	})
	var exists bool
	if err := connect(t, server).QueryRow(t.Context(),
		"SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if schema == "" || exists {
		t.Fatalf("schema %q still exists after its test ended", schema)
	}
}

func TestWithParam(t *testing.T) {
	for _, c := range []struct{ base, key, value, want string }{
		{"postgres://tokend@127.0.0.1:55432/tokend?sslmode=disable", "search_path", "s1",
			"postgres://tokend@127.0.0.1:55432/tokend?search_path=s1&sslmode=disable"},
		{"postgresql://u:p@h/db?search_path=old", "search_path", "s1", "postgresql://u:p@h/db?search_path=s1"},
		{"host=127.0.0.1 dbname=tokend", "search_path", "s1", "host=127.0.0.1 dbname=tokend search_path=s1"},
	} {
		if got := withParam(t, c.base, c.key, c.value); got != c.want {
			t.Errorf("withParam(%q, %s=%s) = %q, want %q", c.base, c.key, c.value, got, c.want)
		}
	}
}

// recorder stands for a test, to see whether Postgres skips or fails it.
type recorder struct {
	testing.TB
	mu              sync.Mutex
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = sprint(args)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.mu.Lock()
	r.failed = sprint(args)
	r.mu.Unlock()
	runtime.Goexit()
}

func sprint(args []any) string { return fmt.Sprint(args...) }

// run calls f(r) as a test would, on a goroutine of its own so that Skip
// and Fatal can end it.
func run(r *recorder, f func(testing.TB) string) {
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
}

func TestWithoutPostgres(t *testing.T) {
	for _, f := range []struct {
		name string
		f    func(testing.TB) string
	}{{"Postgres", Postgres}} {
		t.Setenv(EnvPostgres, "")
		t.Setenv(EnvRequirePostgres, "")
		r := &recorder{TB: t}
		run(r, f.f)
		if r.skipped != "PostgreSQL not configured: set TOKEND_TEST_POSTGRES or run make test" || r.failed != "" {
			t.Errorf("%s without PostgreSQL: skipped %q, failed %q; want a skip", f.name, r.skipped, r.failed)
		}

		t.Setenv(EnvRequirePostgres, "1")
		r = &recorder{TB: t}
		run(r, f.f)
		if !strings.Contains(r.failed, "TOKEND_REQUIRE_POSTGRES=1") || r.skipped != "" {
			t.Errorf("%s without PostgreSQL, required: skipped %q, failed %q; want a failure", f.name, r.skipped, r.failed)
		}
	}
}
