// Package storetest is the test kit that the store, web, cmd and e2e tests
// share: a fresh SQLite file or PostgreSQL schema of its own for every test.
//
// The test PostgreSQL comes from the environment:
//
//	TOKEND_TEST_POSTGRES     connection URL of a server where the role may create
//	                         schemas (make test and .ci/pg-start
//	                         start one and set it)
//	TOKEND_REQUIRE_POSTGRES  "1" (set by CI): a missing server fails the tests
//	                         that need one instead of skipping them
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables the kit reads.
const (
	EnvPostgres        = "TOKEND_TEST_POSTGRES"
	EnvRequirePostgres = "TOKEND_REQUIRE_POSTGRES"
)

// SQLite returns the path of a database file that does not exist yet, in a
// directory of t's own that is removed when t ends.
func SQLite(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "tokend.db")
}

// Postgres returns a connection URL for a new, empty schema of t's own on the
// test PostgreSQL: the URL of TOKEND_TEST_POSTGRES with search_path=<schema>
// added. pgx sends URL parameters it does not know as run-time parameters at
// connect time, so every connection opened with that URL, every connection
// of a pool too, works in the schema. The schema is dropped with everything
// in it when t ends (after t's later cleanups, such as closing its pool).
//
// Schemas share one database: what is database-wide is shared with the tests
// running beside t, namely LISTEN/NOTIFY channels and advisory locks, which
// tokend therefore names after the schema it works in.
//
// Without TOKEND_TEST_POSTGRES, Postgres skips t, or fails it when
// TOKEND_REQUIRE_POSTGRES=1.
func Postgres(t testing.TB) string {
	t.Helper()
	base := serverURL(t)
	name := newName(t)
	admin(t, base, "CREATE SCHEMA "+name)
	t.Cleanup(func() { admin(t, base, "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
	return withParam(t, base, "search_path", name)
}

// serverURL returns TOKEND_TEST_POSTGRES, or skips or fails t without it.
func serverURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvPostgres); u != "" {
		return u
	}
	if os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatal("PostgreSQL is required (TOKEND_REQUIRE_POSTGRES=1) but TOKEND_TEST_POSTGRES is not set: run make test, or set it to the URL that .ci/pg-start prints")
	}
	t.Skip("PostgreSQL not configured: set TOKEND_TEST_POSTGRES or run make test")
	return ""
}

// newName returns tokend_t_ and 16 random hex digits: a name no other test
// uses, and one that needs no quoting in SQL.
func newName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tokend_t_" + hex.EncodeToString(b)
}

// admin runs one statement on its own connection to the server.
func admin(t testing.TB, base, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL %s (is it running? make pg-start): %v", redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s on the test PostgreSQL %s: %v", sql, redact(base), err)
	}
}

// withParam returns the connection string base with the parameter key set to
// value: a URL query parameter (dbname: the URL's path), or a key=value pair
// in a keyword/value connection string.
func withParam(t testing.TB, base, key, value string) string {
	t.Helper()
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " " + key + "=" + value
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// redact hides a password in a connection string for a message.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(" + EnvPostgres + ")"
}
