package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// timeCopy times `tokend db copy` of a store seeded as the load runs' (an
// owner, two tokens and cfg.filler more) from a SQLite file into a fresh
// schema on the -db server, and prints the time and what the command
// printed (its counts, and the time of the copy itself).
func timeCopy(ctx context.Context, out io.Writer, cfg config, dir string) error {
	file := filepath.Join(dir, "copy-source.db")
	fmt.Fprintf(out, "\ncopy: seeding %d tokens in a SQLite file…\n", cfg.filler+2)
	if _, err := seed(ctx, file, cfg.filler); err != nil {
		return fmt.Errorf("seed %s: %w", file, err)
	}
	schema, err := createSchema(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer dropSchema(cfg.db, schema, out)
	to, err := withParam(cfg.db, "search_path", schema)
	if err != nil {
		return err
	}
	start := time.Now()
	printed, err := exec.CommandContext(ctx, cfg.bin, "db", "copy", "--from", file, "--to", to).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return fmt.Errorf("tokend db copy: %w\n%s", err, printed)
	}
	fmt.Fprintf(out, "tokend db copy of %d tokens, SQLite file → PostgreSQL schema %s: %s (the whole command: start, migrations, copy, exit)\n",
		cfg.filler+2, schema, took.Round(time.Millisecond))
	fmt.Fprintf(out, "it printed: %s\n", strings.TrimSpace(string(printed)))
	return nil
}
