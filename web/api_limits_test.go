package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"tokend/store"
)

// Looking a token up is no use of it: introspection records no last use.
func TestIntrospectionRecordsNoUse(t *testing.T) {
	app := newTestApp(t)
	looked, lookedKey := app.createToken(app.member, store.KindPersonal, "looked at")
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "introspector")
	app.introspect(t, adminKey, keyOf(lookedKey), false).ok(t, http.StatusOK, nil)
	if err := app.db.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := app.token(looked.ID, app.owner); !got.LastUsedAt.IsZero() {
		t.Errorf("introspection recorded a use at %v from %q", got.LastUsedAt, got.LastUsedIP)
	}
}

// Introspecting made-up tokens spends the caller's failure budget like any
// failed check, so introspection is no faster way to guess.
func TestIntrospectionFailuresAreLimited(t *testing.T) {
	app := newAPIApp(t, Config{FailuresPerSecond: 0.001, FailureBurst: 3})
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "introspector")
	for range 3 {
		r := app.introspect(t, adminKey, fakeToken("tkp_"), false)
		var got introspection
		r.ok(t, http.StatusOK, &got)
		if got.Active {
			t.Fatal("a made-up token is active")
		}
	}
	app.introspect(t, adminKey, fakeToken("tkp_"), false).refusal(t, http.StatusTooManyRequests, "rate_limited")
}

// owner is a member's role, never a token's: /auth/verify?role=owner is a
// mistake, not a question an admin token answers yes to.
func TestVerifyRoleMustBeAssignable(t *testing.T) {
	app := newTestApp(t)
	_, admin := app.createToken(app.owner, store.KindSystem, "admin", store.RoleAdmin)
	for _, role := range []string{"owner", "root"} {
		e := app.apiGet(t, "/auth/verify?role="+role, keyOf(admin)).refusal(t, http.StatusBadRequest, "invalid_request")
		if e.Field != "role" {
			t.Errorf("role=%s: field %q, want role", role, e.Field)
		}
	}
	app.apiGet(t, "/auth/verify?role=billing", keyOf(admin)).ok(t, http.StatusOK, nil)
}

// A token cannot make a token that outlives it.
func TestTokenCannotOutliveItsMaker(t *testing.T) {
	app := newTestApp(t)
	maker, makerKey, err := app.db.CreateToken(context.Background(), app.owner, store.NewToken{
		Kind: store.KindPersonal, Name: "seven days", ExpiresAt: new(app.now.AddDate(0, 0, 7)),
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body map[string]any) *apiResponse {
		return app.apiJSON(t, http.MethodPost, "/api/v1/tokens", keyOf(makerKey), body)
	}
	post(map[string]any{"name": "forever"}).invalid(t, "expires_at")
	post(map[string]any{"name": "a month", "expires_in_days": 30}).invalid(t, "expires_in_days")
	post(map[string]any{"kind": "system", "name": "admin forever", "roles": []string{"admin"}}).invalid(t, "expires_at")
	post(map[string]any{"name": "too late", "expires_at": maker.ExpiresAt.Add(time.Second).Format(time.RFC3339)}).invalid(t, "expires_at")

	var made wireCreated
	post(map[string]any{"name": "same day", "expires_at": maker.ExpiresAt.Format(time.RFC3339)}).ok(t, http.StatusCreated, &made)
	post(map[string]any{"name": "five days", "expires_in_days": 5}).ok(t, http.StatusCreated, nil)
}

// An IPv6 client is counted by its /64, which one client usually holds
// whole; IPv4 by its address.
func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":               "203.0.113.7",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"::ffff:203.0.113.7":        "::ffff:203.0.113.7",
		"not an address":            "not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// However many addresses fail, the limiter remembers a bounded number.
func TestFailureLimiterStaysBounded(t *testing.T) {
	l := newFailureLimiter(0.001, 1)
	now := time.Now()
	for i := range maxTracked + 10 {
		l.fail(fmt.Sprintf("key %d", i), now)
	}
	l.mu.Lock()
	n := len(l.perKey)
	l.mu.Unlock()
	if n > maxTracked {
		t.Errorf("%d keys remembered, want at most %d", n, maxTracked)
	}
	// Blocks that ran out are swept with them.
	l.forgetIdle(now.Add(time.Hour * 24 * 365))
	blocked := 0
	l.blocked.Range(func(any, any) bool { blocked++; return true })
	if blocked != 0 || l.anyBlocked() {
		t.Errorf("%d blocks kept after they ran out (anyBlocked %v)", blocked, l.anyBlocked())
	}
}
