package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestMain removes the benchmark store, if a benchmark made one.
func TestMain(m *testing.M) {
	code := m.Run()
	benchStore.close()
	os.Exit(code)
}

// benchTokens is how many tokens the benchmark store holds.
const benchTokens = 100_000

// benchStore is one database of benchTokens tokens, made once per test
// binary by the first benchmark that needs it.
var benchStore benchDB

type benchDB struct {
	once sync.Once
	dir  string
	db   *DB
	err  error

	personal, system TokenText   // made with CreateToken
	bulk             []TokenText // inserted directly, in id order
}

func (s *benchDB) close() {
	if s.db != nil {
		s.db.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// openBenchStore returns the benchmark store, making it on first use.
func openBenchStore(b *testing.B) *DB {
	b.Helper()
	s := &benchStore
	s.once.Do(func() {
		start := time.Now()
		s.err = s.build()
		if s.err == nil {
			fmt.Fprintf(os.Stderr, "bench store: %d tokens in %v\n", benchTokens+2, time.Since(start).Round(time.Millisecond))
		}
	})
	if s.err != nil {
		b.Fatalf("bench store: %v", s.err)
	}
	return s.db
}

func (s *benchDB) build() error {
	ctx := context.Background()
	var err error
	if s.dir, err = os.MkdirTemp("", "tokend-bench-"); err != nil {
		return err
	}
	if s.db, err = Open(ctx, filepath.Join(s.dir, "tokend.db")); err != nil {
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

	// The rest in one transaction: half the member's personal tokens, half
	// system tokens, as CreateToken would write them.
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tokens (org_id, kind, member_id, created_by, name, digest, last_four, roles, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	now := time.Now().Unix()
	s.bulk = make([]TokenText, benchTokens)
	for i := range s.bulk {
		kind, memberID, creator, roles := KindPersonal, any(member.ID), member.ID, ""
		if i%2 == 1 {
			kind, memberID, creator, roles = KindSystem, nil, owner.ID, "viewer"
		}
		text := newTokenText(kind)
		digest := DigestOf(string(text))
		if _, err := stmt.ExecContext(ctx, owner.OrgID, kind, memberID, creator, fmt.Sprintf("bulk %d", i), digest[:], text.LastFour(), roles, now); err != nil {
			return err
		}
		s.bulk[i] = text
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// clearCache empties db's token cache, as a process just started has it.
func clearCache(db *DB) {
	c := db.cache
	c.mu.Lock()
	c.tokens = make(map[Digest]*cachedToken)
	c.byID = make(map[int64]Digest)
	c.members = make(map[int64]*cachedMember)
	c.mu.Unlock()
}

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
