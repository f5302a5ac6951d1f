package web

// Audit events written straight into the table, for the tests and
// benchmarks that need many: the store writes one per change, which at a
// million would take the better part of an hour.

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tokend/store"
)

// auditSeedColumns are the columns seedAuditEvents fills; id is left to
// the database, so seeded events are newer than what was there.
var auditSeedColumns = []string{"org_id", "at", "action", "actor_kind", "actor_member_id", "actor_token_id", "actor_label",
	"target_kind", "target_token_id", "target_member_id", "target_label", "client_ip", "user_agent", "details"}

// auditSeedBatch is how many rows one INSERT carries: 14 columns × 100 rows
// keeps under SQLite's and PostgreSQL's limits on parameters.
const auditSeedBatch = 100

// auditSeed is what seeded events are about: an organization's members and
// tokens, which actors and targets cycle through.
type auditSeed struct {
	org     int64
	members []store.Member
	tokens  []store.Token
	// first is when the first event happened; the i-th is step later each.
	first time.Time
	step  time.Duration
}

// row is the i-th seeded event, in auditSeedColumns' order: an action of
// each kind in turn, by a member on the page or by a token (and so its
// member), about a token.
func (s auditSeed) row(i int) []any {
	action := store.AuditActions[i%len(store.AuditActions)].Key
	target := s.tokens[(i*3)%len(s.tokens)]
	targetLabel := target.Hint() + " (" + target.Name + ")"
	var actorKind, actorLabel string
	var actorMember, actorToken any
	if i%10 < 7 {
		m := s.members[i%len(s.members)]
		actorKind, actorMember, actorLabel = store.ActorMember, m.ID, m.Name+" <"+m.Email+">"
	} else {
		t := s.tokens[i%len(s.tokens)]
		actorKind, actorToken, actorLabel = store.ActorToken, t.ID, t.Hint()+" ("+t.Name+")"
		if t.MemberID != 0 {
			actorMember = t.MemberID
		}
	}
	return []any{
		s.org, s.first.Add(time.Duration(i) * s.step).Unix(), action, actorKind, actorMember, actorToken, actorLabel,
		store.TargetToken, target.ID, nil, targetLabel,
		"203.0.113." + strconv.Itoa(i%250+1), "Mozilla/5.0 (X11; Linux x86_64) seed/" + strconv.Itoa(i%7),
		`{"kind":"` + string(target.Kind) + `","name":` + strconv.Quote(target.Name) + `,"roles":["video","viewer"],"seq":` + strconv.Itoa(i) + `}`,
	}
}

// insertSQL is an INSERT of rows rows, with ? or $n placeholders.
func auditInsertSQL(rows int, dollar bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_events (" + strings.Join(auditSeedColumns, ", ") + ") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range auditSeedColumns {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if dollar {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// seedAuditEvents writes n events of s into the database db uses, in one
// transaction, through one prepared statement of auditSeedBatch rows.
func seedAuditEvents(tb testing.TB, db *store.DB, dsn string, s auditSeed, n int) {
	tb.Helper()
	if n%auditSeedBatch != 0 {
		tb.Fatalf("seed %d events: a multiple of %d, please", n, auditSeedBatch)
	}
	var err error
	if db.Backend() == "postgres" {
		err = seedAuditPostgres(dsn, s, n)
	} else {
		err = seedAuditSQLite(db.Path(), s, n)
	}
	if err != nil {
		tb.Fatalf("seed %d audit events: %v", n, err)
	}
}

func seedAuditSQLite(path string, s auditSeed, n int) error {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(auditInsertSQL(auditSeedBatch, false))
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 0, auditSeedBatch*len(auditSeedColumns))
	for i := 0; i < n; i += auditSeedBatch {
		args = args[:0]
		for j := range auditSeedBatch {
			args = append(args, s.row(i+j)...)
		}
		if _, err := stmt.Exec(args...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return tx.Commit()
}

func seedAuditPostgres(dsn string, s auditSeed, n int) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	stmt, err := tx.Prepare(ctx, "seed_audit", auditInsertSQL(auditSeedBatch, true))
	if err != nil {
		return err
	}
	args := make([]any, 0, auditSeedBatch*len(auditSeedColumns))
	for i := 0; i < n; i += auditSeedBatch {
		args = args[:0]
		for j := range auditSeedBatch {
			args = append(args, s.row(i+j)...)
		}
		if _, err := tx.Exec(ctx, stmt.Name, args...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// As autovacuum would have by the time a log is this long.
	_, err = conn.Exec(ctx, "ANALYZE audit_events")
	return err
}
