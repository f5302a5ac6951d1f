package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// createSchema makes a new, empty schema tokend_load_<16 hex digits> on the
// PostgreSQL server base names, for one run to work in.
func createSchema(ctx context.Context, base string) (string, error) {
	b := make([]byte, 8)
	rand.Read(b)
	name := "tokend_load_" + hex.EncodeToString(b)
	if err := pgAdmin(ctx, base, "CREATE SCHEMA "+name); err != nil {
		return "", err
	}
	return name, nil
}

// dropSchema drops a schema createSchema made, with everything in it. It
// runs on the way out, when the run's context may be cancelled already.
func dropSchema(base, name string, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgAdmin(ctx, base, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
		fmt.Fprintf(out, "loadtest: could not drop schema %s: %v\n", name, err)
	}
}

// pgAdmin runs one statement on a connection of its own.
func pgAdmin(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL %s: %w", redact(base), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s on %s: %w", sql, redact(base), err)
	}
	return nil
}

// withParam returns the postgres:// URL base with the query parameter key
// set to value. pgx sends a parameter it does not know itself, such as
// search_path, as a run-time parameter when it connects, so every
// connection made with the URL, a pool's too, works in that schema.
func withParam(base, key, value string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL: %w", redact(base), err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redact hides a password in a URL for a message.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(the URL)"
}
