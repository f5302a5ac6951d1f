package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// copyTables are the tables a copy moves, in an order in which every row's
// references are already there, with every column they have on both
// backends. change_seq is copied apart, as the one row it is.
var copyTables = []struct {
	name    string
	columns []string
	// identity: the table's id column draws from a sequence that must
	// continue after the copied ids.
	identity bool
}{
	{"orgs", []string{"id", "name", "name_key", "created_at", "max_token_days", "audit_retention_days"}, true},
	{"members", []string{"id", "org_id", "email", "email_key", "name", "name_key", "password_hash", "roles", "created_at", "left_at",
		"last_sign_in_at", "change_seq"}, true},
	{"sessions", []string{"digest", "member_id", "created_at", "expires_at"}, false},
	{"tokens", []string{"id", "org_id", "kind", "member_id", "created_by", "created_by_token", "name", "name_key", "digest",
		"last_four", "roles", "created_at", "expires_at", "last_used_at", "last_used_ip", "revoked_at", "revoked_by",
		"revoked_by_token", "revoke_reason", "change_seq", "description", "allowed_ips", "prev_digest", "prev_last_four", "rotated_at",
		"grace_until", "old_secret_used_at", "old_secret_used_ip", "leaked_at", "leak_url"}, true},
	{"settings", []string{"name", "value"}, false},
	{"invitations", []string{"id", "org_id", "email", "email_key", "name", "roles", "digest", "invited_by", "created_at", "expires_at",
		"accepted_at", "member_id", "withdrawn_at", "withdrawn_by"}, true},
	{"audit_events", []string{"id", "org_id", "at", "action", "actor_kind", "actor_member_id", "actor_token_id", "actor_label",
		"target_kind", "target_token_id", "target_member_id", "target_label", "client_ip", "user_agent", "details"}, true},
	{"token_usage", []string{"token_id", "day", "uses"}, false},
	{"token_addresses", []string{"token_id", "addr", "first_seen", "last_seen", "uses"}, false},
}

// CopyCounts is how many rows of each table a copy moved.
type CopyCounts map[string]int64

func (c CopyCounts) String() string {
	var parts []string
	for _, t := range copyTables {
		parts = append(parts, fmt.Sprintf("%d %s", c[t.name], t.name))
	}
	return strings.Join(parts, ", ")
}

// CopyTo copies everything in d (organizations, members, sessions, tokens
// with their digests, last use and revocations, settings, and the change
// counter) into to, a PostgreSQL database that must be empty, in one
// transaction: either all of it arrives, or nothing does. The rows are
// read in one read transaction, so they agree with each other; the counts
// in to are checked against them before the commit. Keys that worked on d
// work on to, and revoked ones stay refused.
//
// Errors: EINVALID if to is not PostgreSQL; ECONFLICT if to holds any row
// already.
func (d *DB) CopyTo(ctx context.Context, to *DB) (CopyCounts, error) {
	pg, ok := to.b.(*postgresBackend)
	if !ok {
		return nil, Errorf(EINVALID, "the target of a copy must be a PostgreSQL database")
	}
	// What is pending of last use belongs in the copy too.
	if err := d.FlushLastUsed(ctx); err != nil {
		return nil, err
	}
	src, err := d.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer src.Rollback()

	dst, err := pg.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer dst.Rollback(ctx)
	for _, t := range copyTables {
		var n int64
		if err := dst.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, Errorf(ECONFLICT, "the target database is not empty: its %s table has %d rows (copy into a new database, before any tokend has served on it)", t.name, n)
		}
	}

	counts := CopyCounts{}
	for _, t := range copyTables {
		rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(t.columns, ", ")+` FROM `+t.name+orderOf(t.columns))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.name, err)
		}
		n, err := dst.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, &sqlRowSource{rows: rows, width: len(t.columns)})
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", t.name, err)
		}
		counts[t.name] = n
		if t.identity {
			if _, err := dst.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce((SELECT max(id) FROM `+t.name+`), 0) + 1, false)`, t.name); err != nil {
				return nil, err
			}
		}
	}
	var seq int64
	if err := src.QueryRowContext(ctx, `SELECT seq FROM change_seq WHERE id = 1`).Scan(&seq); err != nil {
		return nil, err
	}
	if _, err := dst.Exec(ctx, `UPDATE change_seq SET seq = $1 WHERE id = 1`, seq); err != nil {
		return nil, err
	}

	// Check the counts on both sides before anything is committed.
	for _, t := range copyTables {
		var want, got int64
		if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&want); err != nil {
			return nil, err
		}
		if err := dst.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&got); err != nil {
			return nil, err
		}
		if got != want || counts[t.name] != want {
			return nil, fmt.Errorf("copy of %s: %d rows in the source, %d copied, %d in the target", t.name, want, counts[t.name], got)
		}
	}
	if err := dst.Commit(ctx); err != nil {
		return nil, err
	}
	// The target's instances, this handle among them, start from the copy.
	if err := to.cache.refresh(ctx); err != nil {
		return counts, err
	}
	return counts, nil
}

// orderOf orders a table's rows by id where it has one, so that rows that
// refer to earlier rows of the same table (a token made by a token) come
// after them.
func orderOf(columns []string) string {
	if columns[0] == "id" {
		return " ORDER BY id"
	}
	return ""
}

// sqlRowSource feeds database/sql rows to pgx's COPY.
type sqlRowSource struct {
	rows interface {
		Next() bool
		Scan(...any) error
		Err() error
	}
	width int
	vals  []any
	err   error
}

func (s *sqlRowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	s.vals = make([]any, s.width)
	ptrs := make([]any, s.width)
	for i := range s.vals {
		ptrs[i] = &s.vals[i]
	}
	s.err = s.rows.Scan(ptrs...)
	return s.err == nil
}

func (s *sqlRowSource) Values() ([]any, error) { return s.vals, s.err }

func (s *sqlRowSource) Err() error { return errors.Join(s.err, s.rows.Err()) }
