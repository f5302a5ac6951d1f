package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"tokend/store"
)

// seeded is what seed made that the runs use.
type seeded struct {
	owner       store.Member
	personalKey string // the owner's personal token: acts as admin
	systemKey   string
}

// seed makes the database dsn names (a SQLite file or a PostgreSQL URL): an
// owner with a personal token (acting as admin) and a system token, made
// through the store, then filler system tokens written straight into the
// table (their secrets are random digests nobody holds): on SQLite in one
// transaction, on PostgreSQL with COPY.
func seed(ctx context.Context, dsn string, filler int) (seeded, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return seeded{}, err
	}
	defer db.Close()
	db.PasswordCost = 4
	owner, err := db.CreateMember(ctx, store.NewMember{
		OrgName: orgName, Email: ownerEmail, Name: "Owner", Password: ownerPassword, Roles: []store.Role{store.RoleOwner},
	})
	if err != nil {
		return seeded{}, err
	}
	_, pk, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "load personal"})
	if err != nil {
		return seeded{}, err
	}
	_, sk, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindSystem, Name: "load system", Roles: []store.Role{store.RoleVideo}})
	if err != nil {
		return seeded{}, err
	}
	s := seeded{owner: owner, personalKey: string(pk), systemKey: string(sk)}
	if store.IsPostgres(dsn) {
		err = fillPostgres(ctx, dsn, owner, filler)
	} else {
		err = fillSQLite(ctx, dsn, owner, filler)
	}
	return s, err
}

// filler is the i-th filler token's row: a system token of the owner's
// organization with the viewer role. name_key is what the store compares
// names by (the unique index of active names is on it).
func fillerRow(owner store.Member, i int, now int64) []any {
	digest := make([]byte, 32)
	rand.Read(digest)
	name := "filler " + strconv.Itoa(i)
	return []any{owner.OrgID, "system", owner.ID, name, store.NameKey(name), digest, "fill", "viewer", now}
}

var fillerColumns = []string{"org_id", "kind", "created_by", "name", "name_key", "digest", "last_four", "roles", "created_at"}

func fillSQLite(ctx context.Context, path string, owner store.Member, filler int) error {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tokens (org_id, kind, created_by, name, name_key, digest, last_four, roles, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	now := time.Now().Unix()
	for i := range filler {
		if _, err := stmt.ExecContext(ctx, fillerRow(owner, i, now)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func fillPostgres(ctx context.Context, url string, owner store.Member, filler int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	now := time.Now().Unix()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"tokens"}, fillerColumns, pgx.CopyFromSlice(filler, func(i int) ([]any, error) {
		return fillerRow(owner, i, now), nil
	}))
	if err != nil {
		return err
	}
	if n != int64(filler) {
		return fmt.Errorf("COPY wrote %d tokens, not %d", n, filler)
	}
	// The planner is to know the table as it now is, as it would after
	// autovacuum's next look, not as the empty table it was.
	_, err = conn.Exec(ctx, `ANALYZE tokens`)
	return err
}
