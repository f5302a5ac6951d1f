package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpdateToken: name and description for either kind, roles for a
// system token by the owner only, the allow-list; each change one event;
// roles and allow-list hold at the next check, here and elsewhere.
func TestUpdateToken(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := fromBrowser()
	other := openAgain(t, o.db, o.clock)
	sys, sysText := addToken(t, o.db, o.owner, KindSystem, "deploy", RoleVideo)
	mine, _ := addToken(t, o.db, o.alice, KindPersonal, "laptop")
	addToken(t, o.db, o.alice, KindPersonal, "taken")
	verify(t, other, sysText)

	from := lastEventID(t, o.db)
	name, desc := "Laptop (home)", "  Used by the upload script.\r\nAsk Alice.  "
	got, err := o.db.UpdateToken(ctx, o.alice, mine.ID, TokenEdit{Name: &name, Description: &desc})
	must(t, err)
	if got.Name != name || got.Description != "Used by the upload script.\nAsk Alice." {
		t.Fatalf("updated to %q / %q", got.Name, got.Description)
	}
	roles := []Role{RoleViewer, RoleAdmin}
	got, err = o.db.UpdateToken(ctx, o.owner, sys.ID, TokenEdit{Roles: roles})
	must(t, err)
	if !slices.Equal(got.Roles, []Role{RoleAdmin, RoleViewer}) {
		t.Fatalf("roles = %v", got.Roles)
	}
	for _, db := range []*DB{o.db, other} {
		if p := verify(t, db, sysText); !p.Has(RoleBilling) {
			t.Errorf("the new roles do not hold at the next check: %v", p.Roles)
		}
	}
	if es := newEvents(t, o.db, from); len(es) != 2 || es[0].Action != ActionTokenUpdated || !strings.Contains(string(es[0].Details), `"description"`) {
		t.Fatalf("events: %+v", es)
	}

	// Refused, and nothing changed.
	taken, long, empty := "TAKEN", strings.Repeat("x", MaxDescriptionLen+1), " "
	refusals := []struct {
		name  string
		actor Actor
		id    int64
		edit  TokenEdit
		code  string
	}{
		{"name taken", o.alice, mine.ID, TokenEdit{Name: &taken}, ECONFLICT},
		{"empty name", o.alice, mine.ID, TokenEdit{Name: &empty}, EINVALID},
		{"long description", o.alice, mine.ID, TokenEdit{Description: &long}, EINVALID},
		{"roles on a personal token", o.owner, mine.ID, TokenEdit{Roles: []Role{RoleVideo}}, EINVALID},
		{"no roles", o.owner, sys.ID, TokenEdit{Roles: []Role{}}, EINVALID},
		{"owner role", o.owner, sys.ID, TokenEdit{Roles: []Role{RoleOwner}}, EINVALID},
		{"a member edits a system token", o.alice, sys.ID, TokenEdit{Name: &name}, ENOTFOUND},
		{"another org", o.owner2, mine.ID, TokenEdit{Name: &name}, ENOTFOUND},
	}
	from = lastEventID(t, o.db)
	for _, r := range refusals {
		if _, err := o.db.UpdateToken(ctx, r.actor, r.id, r.edit); ErrorCode(err) != r.code {
			t.Errorf("%s: %v, want %s", r.name, err, r.code)
		}
	}
	if es := newEvents(t, o.db, from); len(es) != 0 {
		t.Errorf("refused edits wrote %d events", len(es))
	}
	revoke(t, o.db, o.alice, mine.ID)
	if _, err := o.db.UpdateToken(ctx, o.alice, mine.ID, TokenEdit{Description: &desc}); ErrorCode(err) != ECONFLICT {
		t.Errorf("editing a revoked token: %v", err)
	}
}

// TestAllowList: ranges normalized, repeats dropped, IPv6 and IPv4-mapped
// IPv6 understood; a check from outside the list is refused, here and in
// another process once the list changes.
func TestAllowList(t *testing.T) {
	l, err := ParseAllowList("10.0.0.1/8, 203.0.113.7\n2001:db8::1/32 ::ffff:198.51.100.9 10.1.2.3/8")
	must(t, err)
	if got := l.Strings(); !slices.Equal(got, []string{"10.0.0.0/8", "198.51.100.9", "203.0.113.7", "2001:db8::/32"}) {
		t.Fatalf("parsed %q", got)
	}
	for addr, want := range map[string]bool{
		"10.200.1.1": true, "11.0.0.1": false, "203.0.113.7": true, "203.0.113.8": false,
		"::ffff:10.9.9.9": true, "2001:db8:ffff::1": true, "2001:db9::1": false, "198.51.100.9": true,
		"fe80::1%eth0": false, "": false, "not an address": false,
	} {
		if l.Allows(addr) != want {
			t.Errorf("Allows(%q) = %v", addr, !want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "300.1.1.1", "10.0.0.0/", "fe80::1%eth0", "example.com", "::/129"} {
		if _, err := ParseAllowList(bad); ErrorField(err) != "allowed_ips" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	many := make([]string, MaxAllowedRanges+1)
	for i := range many {
		many[i] = "10.0.0." + string(rune('0'+i%10)) + string(rune('0'+i/10))
	}
	if _, err := ParseAllowList(many...); ErrorField(err) != "allowed_ips" {
		t.Errorf("%d entries: %v", len(many), err)
	}
	if !(AllowList{}).Allows("anything") {
		t.Error("an empty list refuses")
	}
	if readAllowList("10.0.0.0/8 nonsense").Allows("10.0.0.1") != true || readAllowList("nonsense").Allows("10.0.0.1") {
		t.Error("a stored list must fail closed on an entry it cannot read")
	}

	o := newTwoOrgs(t)
	ctx := context.Background()
	other := openAgain(t, o.db, o.clock)
	office, err := ParseAllowList("203.0.113.0/24")
	must(t, err)
	tok, text, err := o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "office", Roles: []Role{RoleVideo}, AllowedIPs: office})
	must(t, err)
	for _, db := range []*DB{o.db, other} {
		if _, err := db.Verify(ctx, string(text), "203.0.113.50"); err != nil {
			t.Fatalf("inside: %v", err)
		}
		if _, err := db.Verify(ctx, string(text), "198.51.100.1"); err != ErrAddressNotAllowed {
			t.Fatalf("outside: %v", err)
		}
	}
	home, err := ParseAllowList("198.51.100.1")
	must(t, err)
	_, err = o.db.UpdateToken(fromBrowser(), o.owner, tok.ID, TokenEdit{AllowedIPs: &home})
	must(t, err)
	for _, db := range []*DB{o.db, other} {
		if _, err := db.Verify(ctx, string(text), "198.51.100.1"); err != nil {
			t.Errorf("after the change, the new address: %v", err)
		}
		if _, err := db.Verify(ctx, string(text), "203.0.113.50"); err != ErrAddressNotAllowed {
			t.Errorf("after the change, the old range: %v", err)
		}
	}
}

// TestRotation: a new secret for the same token; the old one works
// through its grace, to the second, in this process and another, and is
// refused and flagged after; no second rotation while a grace runs.
func TestRotation(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := fromBrowser()
	other := openAgain(t, o.db, o.clock)
	exp := testStart.Add(30 * 24 * time.Hour)
	tok, oldText, err := o.db.CreateToken(ctx, o.owner, NewToken{Kind: KindSystem, Name: "ci", Roles: []Role{RoleVideo}, ExpiresAt: &exp, Description: "CI"})
	must(t, err)
	verify(t, other, oldText)
	o.clock.Advance(10 * 24 * time.Hour)

	if _, _, err := o.db.RotateToken(ctx, o.owner, tok.ID, 2*time.Hour); ErrorField(err) != "grace" {
		t.Fatalf("a grace not offered: %v", err)
	}
	rotated, newText, err := o.db.RotateToken(ctx, o.owner, tok.ID, time.Hour)
	must(t, err)
	now := o.clock.Now()
	if rotated.ID != tok.ID || rotated.Name != "ci" || rotated.Description != "CI" || newText == oldText || rotated.LastFour != newText.LastFour() {
		t.Fatalf("rotated = %+v", rotated)
	}
	if !rotated.ExpiresAt.Equal(now.Add(30 * 24 * time.Hour)) {
		t.Errorf("expires %v, want the 30 days counted from the rotation", rotated.ExpiresAt)
	}
	if !rotated.GraceUntil.Equal(now.Add(time.Hour)) || rotated.PrevHint != tok.Hint() {
		t.Errorf("grace until %v, previous %q", rotated.GraceUntil, rotated.PrevHint)
	}
	if _, _, err := o.db.RotateToken(ctx, o.owner, tok.ID, 0); ErrorCode(err) != ECONFLICT {
		t.Fatalf("rotated again during the grace: %v", err)
	}
	for _, db := range []*DB{o.db, other} {
		if p := verify(t, db, newText); p.TokenID != tok.ID {
			t.Fatalf("the new secret is token %d", p.TokenID)
		}
		verify(t, db, oldText)
	}
	o.clock.Advance(time.Hour - time.Second)
	verify(t, other, oldText)
	o.clock.Advance(time.Second)
	from := lastEventID(t, o.db)
	for _, db := range []*DB{o.db, other} {
		wantRefused(t, db, string(oldText), ErrTokenRevoked)
		verify(t, db, newText)
		must(t, db.FlushLastUsed(context.Background()))
	}
	flagged, err := o.db.Token(context.Background(), o.owner, tok.ID)
	must(t, err)
	if flagged.OldSecretUsedAt.IsZero() || flagged.OldSecretUsedIP == "" {
		t.Errorf("the old secret used after its grace is not flagged: %+v", flagged)
	}
	es := newEvents(t, o.db, from)
	if len(es) != 1 || es[0].Action != ActionTokenOldSecretUsed {
		t.Errorf("events: %+v", es)
	}

	// Ending a grace lets it be rotated again; now means now.
	_, third, err := o.db.RotateToken(ctx, o.owner, tok.ID, 24*time.Hour)
	must(t, err)
	_, err = o.db.EndGrace(ctx, o.owner, tok.ID)
	must(t, err)
	wantRefused(t, o.db, string(newText), ErrTokenRevoked)
	_, fourth, err := o.db.RotateToken(ctx, o.owner, tok.ID, 0)
	must(t, err)
	wantRefused(t, other, string(third), ErrTokenRevoked)
	verify(t, other, fourth)

	// Who may.
	if _, _, err := o.db.RotateToken(ctx, o.alice, tok.ID, 0); ErrorCode(err) != ENOTFOUND {
		t.Errorf("a member rotates a system token: %v", err)
	}
	revoke(t, o.db, o.owner, tok.ID)
	if _, _, err := o.db.RotateToken(ctx, o.owner, tok.ID, 0); ErrorCode(err) != ECONFLICT {
		t.Errorf("rotating a revoked token: %v", err)
	}
}

// TestLeakReports: a working key found is revoked at once with reason
// leaked; a key of ours that no longer works is marked; anything else is a
// false positive; the answer never says whose.
func TestLeakReports(t *testing.T) {
	o := newTwoOrgs(t)
	live, liveText := addToken(t, o.db, o.alice, KindPersonal, "leaky")
	dead, deadText := addToken(t, o.db, o.owner, KindSystem, "dead", RoleVideo)
	revoke(t, o.db, o.owner, dead.ID)
	other := openAgain(t, o.db, o.clock)
	verify(t, other, liveText)
	fake := string(liveText[:len(liveText)-1]) + "x"
	wellFormedUnknown := string(newTokenText(KindSystem))

	res, err := o.db.ReportLeaks(context.Background(), []LeakItem{
		{Token: string(liveText), URL: "https://gist.example/1", Source: "content"},
		{Token: string(deadText), URL: "https://gist.example/2"},
		{Token: fake},
		{Token: wellFormedUnknown},
		{Token: "hello world"},
	})
	must(t, err)
	var labels, types []string
	for _, r := range res {
		labels, types = append(labels, r.Label), append(types, r.TokenType)
	}
	if !slices.Equal(labels, []string{LeakTruePositive, LeakTruePositive, LeakFalsePositive, LeakFalsePositive, LeakFalsePositive}) {
		t.Errorf("labels %q", labels)
	}
	if !slices.Equal(types, []string{LeakTypePersonal, LeakTypeSystem, LeakTypeUnknown, LeakTypeSystem, LeakTypeUnknown}) {
		t.Errorf("types %q", types)
	}
	if len(res[0].TokenHash) != 64 {
		t.Errorf("hash %q", res[0].TokenHash)
	}
	wantRefused(t, other, string(liveText), ErrTokenRevoked)
	got, err := o.db.Token(context.Background(), o.owner, live.ID)
	must(t, err)
	if got.RevokeReason != ReasonLeaked || got.LeakURL != "https://gist.example/1" || got.LeakedAt.IsZero() {
		t.Errorf("leaked token: %+v", got)
	}
	got, err = o.db.Token(context.Background(), o.owner, dead.ID)
	must(t, err)
	if got.RevokeReason != ReasonRevoked || got.LeakedAt.IsZero() {
		t.Errorf("the revoked one found: %+v", got)
	}
	for _, bad := range [][]LeakItem{nil, make([]LeakItem, MaxLeakReport+1)} {
		if _, err := o.db.ReportLeaks(context.Background(), bad); ErrorCode(err) != EINVALID {
			t.Errorf("%d items: %v", len(bad), err)
		}
	}
}

// TestUsageCounts: the uses counted per day and per address after a run of
// checks equal the checks, in this process and another, written only when
// flushed; checks that record no use (introspection) are not counted.
func TestUsageCounts(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	other := openAgain(t, o.db, o.clock)
	tok, text := addToken(t, o.db, o.alice, KindPersonal, "counted")
	addrs := []string{"203.0.113.1", "2001:db8::7", "203.0.113.1"}
	for i := range 30 {
		if _, err := o.db.Verify(ctx, string(text), addrs[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, err := other.Verify(ctx, string(text), "198.51.100.4"); err != nil {
			t.Fatal(err)
		}
		if _, err := other.VerifyWith(ctx, string(text), "198.51.100.5", VerifyOptions{Load: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, o.db, "token_usage"); n != 0 {
		t.Fatalf("%d usage rows written on the check's path", n)
	}
	must(t, o.db.FlushLastUsed(ctx))
	must(t, other.FlushLastUsed(ctx))
	o.clock.Advance(24 * time.Hour)
	for range 7 {
		o.db.Verify(ctx, string(text), "203.0.113.1")
	}
	must(t, o.db.FlushLastUsed(ctx))

	u, err := o.db.TokenUsage(ctx, o.alice, tok.ID)
	must(t, err)
	if len(u.Days) != UsageDays || u.Total != 42 {
		t.Fatalf("%d days, %d uses; want %d days, 42", len(u.Days), u.Total, UsageDays)
	}
	if last, prev := u.Days[UsageDays-1], u.Days[UsageDays-2]; last.Uses != 7 || prev.Uses != 35 || !last.Day.Equal(prev.Day.Add(24*time.Hour)) {
		t.Errorf("yesterday %+v, today %+v; want 35 and 7", prev, last)
	}
	got := map[string]int64{}
	for _, a := range u.Addresses {
		got[a.Addr] = a.Uses
	}
	want := map[string]int64{"203.0.113.1": 27, "2001:db8::7": 10, "198.51.100.4": 5}
	if len(got) != len(want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("%s: %d uses, want %d", a, got[a], n)
		}
	}
	if u.Addresses[0].Addr != "203.0.113.1" || u.Addresses[0].FirstSeen.Equal(u.Addresses[0].LastSeen) {
		t.Errorf("most recent first, with first and last seen: %+v", u.Addresses[0])
	}
	if _, err := o.db.TokenUsage(ctx, o.bob, tok.ID); ErrorCode(err) != ENOTFOUND {
		t.Errorf("another member's usage: %v", err)
	}
}

// TestUsageAddressesBounded: a token used from more addresses between two
// flushes than are kept in memory counts every use, and the first
// maxAddrsPerToken addresses, even when its first checks, from several
// goroutines at once, all read it from the database.
func TestUsageAddressesBounded(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	tok, text := addToken(t, o.db, o.alice, KindPersonal, "crowded")
	const addrs = maxAddrsPerToken + 44
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < addrs; i += 4 {
				for range 2 {
					if _, err := o.db.Verify(ctx, string(text), fmt.Sprintf("198.18.%d.%d", i/256, i%256)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	must(t, o.db.FlushLastUsed(ctx))
	u, err := o.db.TokenUsage(ctx, o.alice, tok.ID)
	must(t, err)
	if u.Total != 2*addrs {
		t.Errorf("%d uses counted, want %d", u.Total, 2*addrs)
	}
	if n := countRows(t, o.db, "token_addresses"); n != maxAddrsPerToken {
		t.Errorf("%d addresses kept, want %d", n, maxAddrsPerToken)
	}
	for _, a := range u.Addresses {
		if a.Uses != 2 {
			t.Errorf("%s: %d uses, want 2", a.Addr, a.Uses)
		}
	}
}

// TestUsageCountsUnderConcurrentFlushes: checks from several goroutines and
// addresses while flushes run lose no use of the day's count.
func TestUsageCountsUnderConcurrentFlushes(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	tok, text := addToken(t, o.db, o.alice, KindPersonal, "busy")
	const workers, each = 4, 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			o.db.FlushLastUsed(ctx)
		}
	}()
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				addr := "203.0.113." + string(rune('1'+(w+i)%3))
				if _, err := o.db.Verify(ctx, string(text), addr); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		must(t, <-errs)
	}
	<-done
	must(t, o.db.FlushLastUsed(ctx))
	u, err := o.db.TokenUsage(ctx, o.alice, tok.ID)
	must(t, err)
	if u.Total != workers*each {
		t.Fatalf("%d uses counted, want %d", u.Total, workers*each)
	}
}
