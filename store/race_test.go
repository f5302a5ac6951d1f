package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
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
