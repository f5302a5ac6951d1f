package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// listFixture is Acme with tokens of every kind and state: what the
// filters choose among.
type listFixture struct {
	twoOrgs
	names map[string]Token
}

func newListFixture(t *testing.T) listFixture {
	t.Helper()
	f := listFixture{twoOrgs: newTwoOrgs(t), names: map[string]Token{}}
	ctx := context.Background()
	mk := func(by Member, kind TokenKind, name string, expiresIn time.Duration, roles ...Role) {
		t.Helper()
		nt := NewToken{Kind: kind, Name: name, Roles: roles}
		if expiresIn != 0 {
			nt.ExpiresAt = new(f.clock.Now().Add(expiresIn))
		}
		tok, _, err := f.db.CreateToken(ctx, by, nt)
		must(t, err)
		f.names[name] = tok
		f.clock.Advance(time.Minute)
	}
	mk(f.alice, KindPersonal, "Upload Script", 0)
	mk(f.alice, KindPersonal, "Café dashboard", 3*24*time.Hour)
	mk(f.bob, KindPersonal, "Bob's laptop", 2*time.Hour)
	mk(f.owner, KindSystem, "CI pipeline", 0, RoleAdmin, RoleVideo)
	mk(f.owner, KindSystem, "Billing export", 30*24*time.Hour, RoleBilling)
	mk(f.owner, KindSystem, "Old upload bot", 0, RoleVideo)
	mk(f.owner2, KindSystem, "Other's upload", 0, RoleVideo)
	revoke(t, f.db, f.owner, f.names["Old upload bot"].ID)

	// Used: the upload script an hour ago, the CI pipeline 100 days ago.
	use := func(name string, ago time.Duration) {
		t.Helper()
		_, err := f.db.w.Exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, f.clock.Now().Add(-ago).Unix(), f.names[name].ID)
		must(t, err)
	}
	use("Upload Script", time.Hour)
	use("CI pipeline", 100*24*time.Hour)
	// Bob's laptop has expired.
	f.clock.Advance(3 * time.Hour)
	return f
}

func (f listFixture) list(t *testing.T, actor Actor, filter TokenFilter) []string {
	t.Helper()
	ts, err := f.db.ListTokens(context.Background(), actor, filter)
	must(t, err)
	n, err := f.db.CountTokens(context.Background(), actor, filter)
	must(t, err)
	if filter.Limit == 0 && filter.After.IsZero() && n != len(ts) {
		t.Errorf("%+v: counted %d, listed %d", filter, n, len(ts))
	}
	var names []string
	for _, tok := range ts {
		names = append(names, tok.Name)
	}
	return names
}

// TestTokenFilters: each filter of the Token Management page and the API
// keeps what it says, on either backend, and counts what it lists.
func TestTokenFilters(t *testing.T) {
	f := newListFixture(t)
	now := f.clock.Now()
	cases := []struct {
		name   string
		filter TokenFilter
		want   []string
	}{
		{"everything not revoked, newest first", TokenFilter{}, []string{"Billing export", "CI pipeline", "Bob's laptop", "Café dashboard", "Upload Script"}},
		{"name contains, folded", TokenFilter{Q: "UPLOAD", IncludeRevoked: true}, []string{"Old upload bot", "Upload Script"}},
		{"name contains an accent, folded", TokenFilter{Q: "CAFÉ"}, []string{"Café dashboard"}},
		{"name with a LIKE wildcard", TokenFilter{Q: "%"}, nil},
		{"kind", TokenFilter{Kind: KindSystem}, []string{"Billing export", "CI pipeline"}},
		{"member", TokenFilter{Kind: KindPersonal, MemberID: f.alice.ID}, []string{"Café dashboard", "Upload Script"}},
		{"active", TokenFilter{State: StateActive}, []string{"Billing export", "CI pipeline", "Café dashboard", "Upload Script"}},
		{"expiring within 7 days", TokenFilter{State: StateExpiring}, []string{"Café dashboard"}},
		{"expired", TokenFilter{State: StateExpired}, []string{"Bob's laptop"}},
		{"revoked", TokenFilter{State: StateRevoked}, []string{"Old upload bot"}},
		{"role", TokenFilter{Kind: KindSystem, Role: RoleVideo, IncludeRevoked: true}, []string{"Old upload bot", "CI pipeline"}},
		{"role admin is not video", TokenFilter{Role: RoleBilling}, []string{"Billing export"}},
		{"created by", TokenFilter{CreatedBy: f.alice.ID}, []string{"Café dashboard", "Upload Script"}},
		{"never used", TokenFilter{NeverUsed: true, State: StateActive}, []string{"Billing export", "Café dashboard"}},
		{"not used in 30 days", TokenFilter{LastUsedBefore: now.AddDate(0, 0, -30), State: StateActive}, []string{"Billing export", "CI pipeline", "Café dashboard"}},
		{"expires before", TokenFilter{ExpiresBefore: now.AddDate(0, 0, 10)}, []string{"Bob's laptop", "Café dashboard"}},
		{"sort by last used", TokenFilter{Sort: SortLastUsed, State: StateActive}, []string{"Upload Script", "CI pipeline", "Billing export", "Café dashboard"}},
		{"sort by expiry", TokenFilter{Sort: SortExpires}, []string{"Bob's laptop", "Café dashboard", "Billing export", "Upload Script", "CI pipeline"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := f.list(t, f.owner, c.filter); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}

	// Paging in every order gives the whole list once.
	for _, sort := range []string{SortCreated, SortLastUsed, SortExpires} {
		whole := f.list(t, f.owner, TokenFilter{Sort: sort, IncludeRevoked: true})
		var paged []string
		filter := TokenFilter{Sort: sort, IncludeRevoked: true, Limit: 2}
		for {
			ts, err := f.db.ListTokens(context.Background(), f.owner, filter)
			must(t, err)
			if len(ts) == 0 {
				break
			}
			for _, tok := range ts {
				paged = append(paged, tok.Name)
			}
			c := filter.CursorAfter(ts[len(ts)-1])
			back, ok := ParseTokenCursor(c.String())
			if !ok || back != c {
				t.Fatalf("cursor %+v reads back as %+v", c, back)
			}
			filter.After = back
		}
		if !slices.Equal(paged, whole) {
			t.Errorf("%s: paged %q, want %q", sort, paged, whole)
		}
	}

	// A member sees their own only; nobody sees another organization's.
	if got := f.list(t, f.alice, TokenFilter{Kind: KindPersonal, MemberID: f.alice.ID, Q: "a"}); !slices.Equal(got, []string{"Café dashboard", "Upload Script"}) {
		t.Errorf("alice's own: %q", got)
	}
	if _, err := f.db.CountTokens(context.Background(), f.alice, TokenFilter{Q: "a"}); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("a member counts the organization's tokens: %v", err)
	}
	if got := f.list(t, f.owner2, TokenFilter{Q: "upload", IncludeRevoked: true}); !slices.Equal(got, []string{"Other's upload"}) {
		t.Errorf("the other organization: %q", got)
	}
	for _, bad := range []TokenFilter{{State: "dormant"}, {Sort: "name"}, {Kind: "robot"}, {Role: RoleOwner}, {Role: RoleVideo, Kind: KindPersonal}} {
		if _, err := f.db.ListTokens(context.Background(), f.owner, bad); ErrorCode(err) != EINVALID {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	for _, s := range []string{"", "x", "1.", ".1", "0", "-1", "1.2.3"} {
		if c, ok := ParseTokenCursor(s); ok {
			t.Errorf("cursor %q read as %+v", s, c)
		}
	}
}

// TestBulkRevoke: one transaction, a result per id, one change for the
// cache, one event per token revoked; a stranger id refuses the page's
// request whole and is "not found" on the API's.
func TestBulkRevoke(t *testing.T) {
	f := newListFixture(t)
	ctx := fromBrowser()
	ids := []int64{f.names["Upload Script"].ID, f.names["CI pipeline"].ID, f.names["Old upload bot"].ID, f.names["Upload Script"].ID}
	theirs := f.names["Other's upload"].ID

	// The page: all or nothing.
	from := lastEventID(t, f.db)
	if _, err := f.db.RevokeTokens(ctx, f.owner, append(slices.Clone(ids), theirs), true); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("with another organization's id: %v", err)
	}
	if _, err := f.db.RevokeTokens(ctx, f.alice, ids, true); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("a member revoking others' tokens: %v", err)
	}
	if got := f.list(t, f.owner, TokenFilter{State: StateRevoked}); !slices.Equal(got, []string{"Old upload bot"}) {
		t.Fatalf("a refused bulk revoke revoked %q", got)
	}
	if es := newEvents(t, f.db, from); len(es) != 0 {
		t.Fatalf("a refused bulk revoke wrote %d events", len(es))
	}

	// The API: a result per id.
	res, err := f.db.RevokeTokens(ctx, f.owner, append(slices.Clone(ids), theirs, 999999), false)
	must(t, err)
	var got []string
	for _, r := range res {
		got = append(got, r.Result)
	}
	if want := []string{BulkRevoked, BulkRevoked, BulkAlreadyRevoked, BulkNotFound, BulkNotFound}; !slices.Equal(got, want) {
		t.Fatalf("results %q, want %q", got, want)
	}
	if res[0].Token.RevokedAt.IsZero() || res[3].Token.ID != 0 {
		t.Errorf("results carry %+v and %+v", res[0].Token, res[3].Token)
	}
	if es := newEvents(t, f.db, from); len(es) != 2 || es[0].Action != ActionTokenRevoked || es[0].ClientIP != testClient.Addr {
		t.Fatalf("events: %+v", es)
	}
	if n, err := f.db.CountTokens(context.Background(), f.owner2, TokenFilter{State: StateActive}); err != nil || n != 1 {
		t.Fatalf("the other organization's token: %d active, %v", n, err)
	}
	tooMany := make([]int64, MaxBulkRevoke+1)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	for _, bad := range [][]int64{nil, tooMany} {
		if _, err := f.db.RevokeTokens(ctx, f.owner, bad, false); ErrorCode(err) != EINVALID {
			t.Errorf("%d ids: %v", len(bad), err)
		}
	}
}

// TestBulkRevokeSeenAtNextCheck: a bulk revoke holds at the next check in
// this process and another.
func TestBulkRevokeSeenAtNextCheck(t *testing.T) {
	o := newTwoOrgs(t)
	other := openAgain(t, o.db, o.clock)
	var ids []int64
	var texts []TokenText
	for _, name := range []string{"a", "b", "c"} {
		tok, text := addToken(t, o.db, o.alice, KindPersonal, name)
		ids, texts = append(ids, tok.ID), append(texts, text)
		verify(t, other, text)
	}
	_, err := o.db.RevokeTokens(fromBrowser(), o.alice, ids, true)
	must(t, err)
	for _, db := range []*DB{o.db, other} {
		for _, text := range texts {
			wantRefused(t, db, string(text), ErrTokenRevoked)
		}
	}
}

// TestCountTokensStopsAtItsCap: past CountCap a count says only "more";
// a list in all is counted whole.
func TestCountTokensStopsAtItsCap(t *testing.T) {
	o := newTwoOrgs(t)
	insertTokens(t, o.db, o.owner, 0, numbered("t", CountCap+5))
	n, err := o.db.CountTokens(context.Background(), o.owner, TokenFilter{Kind: KindSystem})
	must(t, err)
	if n != CountCap+1 {
		t.Fatalf("counted %d, want %d (more than the cap)", n, CountCap+1)
	}
	// The list in all is counted exactly, from its total.
	n, err = o.db.CountTokens(context.Background(), o.owner, TokenFilter{Kind: KindSystem, IncludeRevoked: true})
	must(t, err)
	if n != CountCap+5 {
		t.Fatalf("counted %d in all, want %d", n, CountCap+5)
	}
	if n, _ := o.db.CountTokens(context.Background(), o.owner, TokenFilter{Kind: KindSystem, Q: "t9999"}); n != 1 {
		t.Fatalf("a narrow count: %d", n)
	}
}
