package store

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	sqliteOnly(t)
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokend.db")
	want, err := fs.Glob((&sqliteBackend{}).migrations(), "*.sql")
	if err != nil || len(want) == 0 {
		t.Fatalf("embedded migrations: %v, %v", want, err)
	}

	var first Member
	for i := range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		db.PasswordCost = bcrypt.MinCost
		var got []string
		rows, err := db.db.QueryContext(ctx, `SELECT name FROM migrations ORDER BY name`)
		if err != nil {
			t.Fatalf("Open #%d: read migrations: %v", i+1, err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
		}
		rows.Close()
		if !slices.Equal(got, want) {
			t.Errorf("Open #%d: recorded migrations %q, want %q", i+1, got, want)
		}

		switch i {
		case 0:
			first = addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
		default:
			// What the first Open wrote is still there: nothing was dropped
			// and re-created.
			m, err := db.Authenticate(ctx, "owner@acme.test", testPassword)
			if err != nil || m.ID != first.ID {
				t.Errorf("Open #%d: Authenticate = %+v, %v; want member %d", i+1, m, err, first.ID)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

func TestOpenPragmas(t *testing.T) {
	sqliteOnly(t)
	t.Parallel()
	db, _ := newTestDB(t)
	ctx := context.Background()
	// Several connections at once, so a pragma set on only one of them
	// would show.
	conns := make([]interface{ Close() error }, 0, 3)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		conn, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		var fk int
		var mode string
		if err := conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || mode != "wal" {
			t.Errorf("connection %d: foreign_keys = %d, journal_mode = %q; want 1, wal", i, fk, mode)
		}
	}
}
