package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Writers on several handles (on PostgreSQL, several instances) racing for
// one name, one owner or one email: exactly one wins, every other gets the
// conflict a check would give, never an internal error.
func TestRacesAnswerConflict(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	handles := []*DB{o.db, openAgain(t, o.db, o.clock), openAgain(t, o.db, o.clock)}
	const racers = 12

	race := func(t *testing.T, what string, do func(h *DB, i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = do(handles[i%len(handles)], i)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch ErrorCode(err) {
			case "":
				won++
			case ECONFLICT:
			default:
				t.Errorf("%s: racer %d: %v, want success or a conflict", what, i, err)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d racers won, want exactly 1", what, won)
		}
	}
	race(t, "one token name", func(h *DB, i int) error {
		// Spelled differently each time: one name all the same.
		names := []string{"Deploy", "DEPLOY", "deploy", " Deploy "}
		_, _, err := h.CreateToken(ctx, o.alice, NewToken{Kind: KindPersonal, Name: names[i%len(names)]})
		return err
	})
	race(t, "one system token name", func(h *DB, i int) error {
		_, _, err := h.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "Encoder", Roles: []Role{RoleVideo}})
		return err
	})
	race(t, "one email", func(h *DB, i int) error {
		_, err := h.CreateMember(ctx, NewMember{OrgName: "Acme", Email: []string{"new@acme.test", "NEW@acme.test", "New@Acme.Test"}[i%3], Name: "New", Password: testPassword, Roles: []Role{RoleVideo}})
		return err
	})
	race(t, "one owner", func(h *DB, i int) error {
		_, err := h.CreateMember(ctx, NewMember{OrgName: "Fresh Org", Email: fmt.Sprintf("owner%d@fresh.test", i), Name: "Owner", Password: testPassword, Roles: []Role{RoleOwner}})
		return err
	})
}

// Two revokes of one token at once, or two removals of one member: one does
// it, the other is told it was done already.
func TestRacesOverOneChange(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	other := openAgain(t, o.db, o.clock)
	for round := range 10 {
		tok, _ := addToken(t, o.db, o.alice, KindPersonal, fmt.Sprintf("twice %d", round))
		var wg sync.WaitGroup
		revoked := make([]bool, 2)
		errs := make([]error, 2)
		for i, h := range []*DB{o.db, other} {
			wg.Go(func() { _, revoked[i], errs[i] = h.RevokeToken(ctx, o.alice, tok.ID) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || revoked[0] == revoked[1] {
			t.Fatalf("round %d: two revokes = %v %v, %v %v; want one revoked, one already", round, revoked[0], errs[0], revoked[1], errs[1])
		}
	}
	for round := range 5 {
		email := fmt.Sprintf("leaving%d@acme.test", round)
		addMember(t, o.db, "Acme", email, RoleViewer)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, h := range []*DB{o.db, other} {
			wg.Go(func() { _, errs[i] = h.RemoveMember(ctx, email) })
		}
		wg.Wait()
		codes := []string{ErrorCode(errs[0]), ErrorCode(errs[1])}
		if !(codes[0] == "" && codes[1] == ECONFLICT || codes[0] == ECONFLICT && codes[1] == "") {
			t.Fatalf("round %d: two removals = %v, %v; want one removed, one told already left", round, errs[0], errs[1])
		}
	}
}

// What no stored email can hold (NUL, invalid UTF-8), and PostgreSQL
// cannot be asked about, finds no one: never an internal error.
func TestLookupsOfTextNoDatabaseHolds(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := context.Background()
	for _, email := range []string{"alice@acme.test\x00", "\x00", "alice@acme.test\xff"} {
		if _, err := o.db.Authenticate(ctx, email, testPassword); err != ErrBadCredentials {
			t.Errorf("Authenticate(%q) = %v, want ErrBadCredentials", email, err)
		}
		_, err := o.db.RemoveMember(ctx, email)
		wantError(t, err, ENOTFOUND, "")
		_, err = o.db.SetPassword(ctx, email, testPassword)
		wantError(t, err, ENOTFOUND, "")
	}
	if ms, err := o.db.Members(ctx, "Acme\x00"); err != nil || len(ms) != 0 {
		t.Errorf("Members(NUL) = %v, %v; want none", ms, err)
	}
}

// An instance that has lost its listening connection still refuses a token
// revoked elsewhere by the time that revoke is acknowledged: the revoking
// instance waits until every live instance has applied the change.
func TestRevokeWaitsForAnInstanceThatCannotListen(t *testing.T) {
	t.Parallel()
	if !onPostgres {
		t.Skip("PostgreSQL only: on SQLite the signal is a file every process reads")
	}
	o := newTwoOrgs(t)
	ctx := context.Background()
	other := openAgain(t, o.db, o.clock)
	deaf := other.signal.(*listenSignal)
	for round := range 4 {
		tok, text := addToken(t, o.db, o.alice, KindPersonal, fmt.Sprintf("round %d", round))
		verify(t, other, text) // cached there
		// The revoker too, in every other round: it then cannot hear its
		// own change back, and must still wait for the others.
		cut := []*listenSignal{deaf}
		if round%2 == 1 {
			cut = append(cut, o.db.signal.(*listenSignal))
		}
		for _, s := range cut {
			if _, err := o.db.w.ExecContext(ctx, `SELECT pg_terminate_backend(?)`, int64(s.pid.Load())); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); s.listening(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the listening connection was not lost")
				}
			}
		}
		revoke(t, o.db, o.alice, tok.ID)
		wantRefused(t, other, string(text), ErrTokenRevoked)
		for _, s := range cut {
			for deadline := time.Now().Add(5 * time.Second); !s.listening(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the listening connection did not come back")
				}
			}
		}
	}
}
