package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokend/store/storetest"
)

// TestMain removes the benchmark store, if a benchmark made one.
func TestMain(m *testing.M) {
	code := m.Run()
	benchStore.close()
	millionStore.close()
	os.Exit(code)
}

// benchTokens is how many tokens the benchmark store holds.
const benchTokens = 100_000

// benchBatch is how many rows one INSERT of the benchmark store writes: one
// statement per row would be a round trip each on PostgreSQL.
const benchBatch = 500

// benchStore is one database of benchTokens tokens, made once per test
// binary by the first benchmark that needs it, on the backend under test
// (see testDSN): a SQLite file, or with TOKEND_TEST_STORE=postgres a
// PostgreSQL schema of its own.
var benchStore = benchDB{size: benchTokens}

type benchDB struct {
	size int // tokens inserted directly, beside the two made with CreateToken
	once sync.Once
	tb   *benchTB
	db   *DB
	err  error
	skip string

	personal, system TokenText   // made with CreateToken
	bulk             []TokenText // inserted directly, in id order
}

func (s *benchDB) close() {
	if s.db != nil {
		s.db.Close()
	}
	if s.tb != nil {
		s.tb.cleanup()
	}
}

// benchTB is the testing.TB the benchmark store is made with, so that it
// comes from where testDSN's stores do (storetest) while outliving the
// benchmark that happened to make it: its cleanups (removing the directory,
// dropping the schema) run when the test binary ends, and a failure or skip
// comes back to openBenchStore rather than ending a goroutine inside
// sync.Once.
type benchTB struct {
	testing.TB
	cleanups []func()
}

type benchStop struct {
	skip bool
	msg  string
}

func (t *benchTB) Helper()           {}
func (t *benchTB) Cleanup(f func())  { t.cleanups = append(t.cleanups, f) }
func (t *benchTB) Fatal(args ...any) { panic(benchStop{msg: fmt.Sprint(args...)}) }
func (t *benchTB) Fatalf(format string, args ...any) {
	panic(benchStop{msg: fmt.Sprintf(format, args...)})
}
func (t *benchTB) Skip(args ...any) { panic(benchStop{skip: true, msg: fmt.Sprint(args...)}) }
func (t *benchTB) Skipf(format string, args ...any) {
	panic(benchStop{skip: true, msg: fmt.Sprintf(format, args...)})
}

func (t *benchTB) TempDir() string {
	dir, err := os.MkdirTemp("", "tokend-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the cleanups, last registered first, as testing does. It
// runs after every test, so a failure is only reported.
func (t *benchTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					fmt.Fprintf(os.Stderr, "bench store cleanup: %v\n", r)
				}
			}()
			t.cleanups[i]()
		}()
	}
	t.cleanups = nil
}

// openBenchStore returns the benchmark store, making it on first use.
func openBenchStore(b *testing.B) *DB {
	b.Helper()
	return openBench(b, &benchStore)
}

// openBench returns the store s, making it on first use.
func openBench(b *testing.B, s *benchDB) *DB {
	b.Helper()
	s.once.Do(func() {
		start := time.Now()
		s.tb = &benchTB{TB: b}
		s.err = s.build()
		if s.err == nil {
			fmt.Fprintf(os.Stderr, "bench store: %d tokens on %s in %v\n", s.size+2, s.db.Backend(), time.Since(start).Round(time.Millisecond))
		}
	})
	if s.skip != "" {
		b.Skip(s.skip)
	}
	if s.err != nil {
		b.Fatalf("bench store: %v", s.err)
	}
	return s.db
}

// benchDSN is a fresh, empty database on the backend under test, as testDSN
// gives a test.
func (s *benchDB) benchDSN() (dsn string, err error) {
	defer func() {
		if r := recover(); r != nil {
			stop, ok := r.(benchStop)
			if !ok {
				panic(r)
			}
			if stop.skip {
				s.skip = stop.msg
			}
			err = errors.New(stop.msg)
		}
	}()
	if onPostgres {
		return storetest.Postgres(s.tb), nil
	}
	return filepath.Join(s.tb.TempDir(), "tokend.db"), nil
}

func (s *benchDB) build() error {
	ctx := context.Background()
	dsn, err := s.benchDSN()
	if err != nil {
		return err
	}
	if s.db, err = Open(ctx, dsn); err != nil {
		return err
	}
	db := s.db
	db.PasswordCost = bcrypt.MinCost
	owner, err := db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: "owner@acme.test", Name: "Owner", Password: testPassword, Roles: []Role{RoleOwner}})
	if err != nil {
		return err
	}
	member, err := db.CreateMember(ctx, NewMember{OrgName: "Acme", Email: "alice@acme.test", Name: "Alice", Password: testPassword, Roles: []Role{RoleVideo}})
	if err != nil {
		return err
	}
	if _, s.personal, err = db.CreateToken(ctx, member, NewToken{Kind: KindPersonal, Name: "real personal"}); err != nil {
		return err
	}
	if _, s.system, err = db.CreateToken(ctx, owner, NewToken{Kind: KindSystem, Name: "real system", Roles: []Role{RoleVideo, RoleViewer}}); err != nil {
		return err
	}

	// The rest in one transaction, benchBatch rows a statement: half the
	// member's personal tokens, half system tokens, as CreateToken would
	// write them. The store's Tx speaks the backend's placeholders.
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const columns = 10
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", columns), ", ") + ")"
	now := time.Now().Unix()
	s.bulk = make([]TokenText, s.size)
	args := make([]any, 0, benchBatch*columns)
	for from := 0; from < s.size; from += benchBatch {
		to := min(from+benchBatch, s.size)
		args = args[:0]
		for i := from; i < to; i++ {
			kind, memberID, creator, roles := KindPersonal, any(member.ID), member.ID, ""
			if i%2 == 1 {
				kind, memberID, creator, roles = KindSystem, nil, owner.ID, "viewer"
			}
			text := newTokenText(kind)
			digest := DigestOf(string(text))
			name := fmt.Sprintf("bulk %d", i)
			args = append(args, owner.OrgID, kind, memberID, creator, name, NameKey(name), digest[:], text.LastFour(), roles, now)
			s.bulk[i] = text
		}
		q := `INSERT INTO tokens (org_id, kind, member_id, created_by, name, name_key, digest, last_four, roles, created_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat(row+", ", to-from), ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// clearCache empties db's token cache, as a process just started has it.
func clearCache(db *DB) { db.cache.clear() }

func BenchmarkParseTokenText(b *testing.B) {
	text := string(newTokenText(KindPersonal))
	for b.Loop() {
		if _, ok := ParseTokenText(text); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkParseTokenTextBadChecksum(b *testing.B) {
	text := changeOneChar(newTokenText(KindPersonal), 10)
	for b.Loop() {
		if _, ok := ParseTokenText(text); ok {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkVerifyValid is the check of a token seen before, as on every API
// call after an integration's first: the target is at most 5 µs with
// 100,000 tokens stored.
func BenchmarkVerifyValid(b *testing.B) {
	db := openBenchStore(b)
	ctx := context.Background()
	for _, bb := range []struct {
		name string
		text TokenText
	}{
		{"personal", benchStore.personal},
		{"system", benchStore.system},
	} {
		b.Run(bb.name, func(b *testing.B) {
			text := string(bb.text)
			if _, err := db.Verify(ctx, text, "192.0.2.1"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := db.Verify(ctx, text, "192.0.2.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyValidParallel checks 1,000 distinct cached tokens from every
// core at once.
func BenchmarkVerifyValidParallel(b *testing.B) {
	db := openBenchStore(b)
	ctx := context.Background()
	texts := make([]string, 1000)
	for i := range texts {
		texts[i] = string(benchStore.bulk[i*(benchTokens/len(texts))])
		if _, err := db.Verify(ctx, texts[i], "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 337)
		for pb.Next() {
			i++
			if _, err := db.Verify(ctx, texts[i%len(texts)], "192.0.2.1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyBadChecksum(b *testing.B) {
	db := openBenchStore(b)
	ctx := context.Background()
	text := changeOneChar(benchStore.personal, 10)
	for b.Loop() {
		if _, err := db.Verify(ctx, text, "192.0.2.1"); err != ErrTokenInvalid {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached is the first check of a token in a process: one
// read by digest from the database, for contrast with BenchmarkVerifyValid.
func BenchmarkVerifyUncached(b *testing.B) {
	db := openBenchStore(b)
	ctx := context.Background()
	bulk := benchStore.bulk
	clearCache(db)
	i := 0
	for b.Loop() {
		if i == len(bulk) {
			b.StopTimer()
			clearCache(db)
			i = 0
			b.StartTimer()
		}
		if _, err := db.Verify(ctx, string(bulk[i]), "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	clearCache(db)
}
