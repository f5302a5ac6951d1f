package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"tokend/store"
)

// dbCommand is `tokend db migrate` and `tokend db copy`.
func dbCommand(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("db: say migrate or copy")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "migrate":
		return dbMigrate(ctx, rest, getenv, stdout, stderr)
	case "copy":
		return dbCopy(ctx, rest, stdout, stderr)
	default:
		return fmt.Errorf("db %s: unknown command; say migrate or copy", sub)
	}
}

// dbMigrate applies the migrations a database has not seen, without
// serving: what every command does on opening, for an operator who wants
// it done before the instances start.
func dbMigrate(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlags("db migrate", stderr)
	dsn := dbFlag(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("db migrate: %w", err)
	}
	defer db.Close()
	fmt.Fprintf(stdout, "database %s: every migration is applied\n", db)
	return nil
}

// dbCopy moves an embedded database to PostgreSQL.
func dbCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("db copy", stderr)
	from := fs.String("from", "", "the SQLite `file` to copy")
	to := fs.String("to", "", "the empty PostgreSQL database to copy into, as a postgres:// `URL`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *from == "":
		return errors.New("db copy: --from is required")
	case store.IsPostgres(*from):
		return errors.New("db copy: --from must be a SQLite file")
	case !store.IsPostgres(*to):
		return errors.New("db copy: --to must be a postgres:// or postgresql:// URL")
	}
	// Opening a SQLite path that does not exist would make an empty
	// database and copy nothing: a typo must not look like a copy.
	if _, err := os.Stat(*from); err != nil {
		return fmt.Errorf("db copy: --from: %w", err)
	}
	src, err := openStore(ctx, *from)
	if err != nil {
		return fmt.Errorf("db copy: %w", err)
	}
	defer src.Close()
	dst, err := openStore(ctx, *to)
	if err != nil {
		return fmt.Errorf("db copy: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	counts, err := src.CopyTo(ctx, dst)
	if err != nil {
		return fmt.Errorf("db copy: %s", errorText(err))
	}
	fmt.Fprintf(stdout, "copied %s from %s to %s in %s\n", counts, src, dst, time.Since(start).Round(time.Millisecond))
	// A database from before the key was kept in it has its session key in
	// a file beside it: the copy takes it along, or every browser signed in
	// would have to sign in again.
	key, path, err := legacySessionKey(*from)
	if err != nil {
		return fmt.Errorf("db copy: %w", err)
	}
	if key != nil {
		if got, err := dst.SessionKey(ctx, func() []byte { return key }); err != nil {
			return fmt.Errorf("db copy: session key: %w", err)
		} else if bytes.Equal(got, key) {
			fmt.Fprintf(stdout, "copied the session key from %s: browsers stay signed in\n", path)
		}
	}
	return nil
}

// errorText is a store error's message for a person, or the error itself
// for one the store did not word (an operator reads it, not a visitor).
func errorText(err error) string {
	if store.ErrorCode(err) != store.EINTERNAL {
		return store.ErrorMessage(err)
	}
	return err.Error()
}
