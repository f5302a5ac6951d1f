package web

// Address allow-lists where tokens are checked: the API and forward auth
// refuse a working token from outside its list with 403, counted as a
// failure; introspection reports the list and does not apply it. Client
// addresses IPv4, IPv6 and IPv4-mapped IPv6, from the connection or from a
// trusted proxy's X-Forwarded-For.

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"tokend/store"
)

// fencedToken is a token allowed from 203.0.113.0/24 and 2001:db8::/32.
func fencedToken(t *testing.T, app *testApp) (store.Token, store.TokenText) {
	t.Helper()
	return app.createWith(app.member, store.NewToken{Kind: store.KindPersonal, Name: "fenced",
		AllowedIPs: allowList(t, "203.0.113.0/24", "2001:db8::/32")})
}

// allowListCases are client addresses, as the connection gives them, and
// whether the fenced token works from each.
var allowListCases = []struct {
	name, remoteAddr string
	allowed          bool
}{
	{"IPv4 inside", "203.0.113.7:40000", true},
	{"IPv4 outside", "198.51.100.7:40000", false},
	{"IPv6 inside", "[2001:db8::7]:40000", true},
	{"IPv6 outside", "[2001:db9::7]:40000", false},
	{"IPv4-mapped IPv6 inside", "[::ffff:203.0.113.7]:40000", true},
	{"IPv4-mapped IPv6 outside", "[::ffff:198.51.100.7]:40000", false},
	{"IPv6 link-local with a zone", "[fe80::1%eth0]:40000", false},
}

func TestAllowListOnTheAPIAndForwardAuth(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	tok, key := fencedToken(t, app)
	_, open := app.createToken(app.member, store.KindPersonal, "open")
	for _, tc := range allowListCases {
		for _, path := range []string{"/api/v1/token", "/api/v1/tokens", "/auth/verify", "/auth/verify/some/path"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				r := app.apiFrom(t, http.MethodGet, path, keyOf(key), tc.remoteAddr, "")
				if tc.allowed {
					r.ok(t, http.StatusOK, nil)
					return
				}
				e := r.refusal(t, http.StatusForbidden, "address_not_allowed")
				if e.Message != store.ErrAddressNotAllowed.Message {
					t.Errorf("message %q", e.Message)
				}
				if r.header.Get("X-Token-Id") != "" || r.header.Get("WWW-Authenticate") != "" {
					t.Errorf("a refusal tells the token (%q) or asks for another (%q)", r.header.Get("X-Token-Id"), r.header.Get("WWW-Authenticate"))
				}
				// A token without a list works from anywhere.
				app.apiFrom(t, http.MethodGet, path, keyOf(open), tc.remoteAddr, "").ok(t, http.StatusOK, nil)
			})
		}
	}
	// What the token may do it may not do from outside either.
	app.apiFrom(t, http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tok.ID), keyOf(key), "198.51.100.7:1", "").
		refusal(t, http.StatusForbidden, "address_not_allowed")
	if !app.token(tok.ID, app.owner).Active() {
		t.Error("a token refused for its address revoked itself")
	}
}

// TestAllowListBehindATrustedProxy: the client address is the one
// X-Forwarded-For gives when the proxy is trusted, and the connection's
// when it is not.
func TestAllowListBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	trusting := newAPIApp(t, Config{FailuresPerSecond: 1000, FailureBurst: 100_000, TrustedProxies: []*net.IPNet{loopback}})
	_, key := fencedToken(t, trusting)
	for xff, want := range map[string]int{
		"203.0.113.7": http.StatusOK, "198.51.100.7": http.StatusForbidden,
		"2001:db8::7": http.StatusOK, "2001:db9::7": http.StatusForbidden,
		"::ffff:203.0.113.7": http.StatusOK, "::ffff:198.51.100.7": http.StatusForbidden,
		"198.51.100.7, 203.0.113.7": http.StatusOK, // the proxy appends the client it saw
	} {
		r := trusting.apiCall(t, http.MethodGet, "/auth/verify", keyOf(key), "", "", "X-Forwarded-For", xff)
		if r.status != want {
			t.Errorf("X-Forwarded-For %s: status %d, want %d: %s", xff, r.status, want, r.body)
		}
	}
	plain := tolerantApp(t)
	_, key = fencedToken(t, plain)
	plain.apiCall(t, http.MethodGet, "/auth/verify", keyOf(key), "", "", "X-Forwarded-For", "203.0.113.7").
		refusal(t, http.StatusForbidden, "address_not_allowed")
}

// TestAllowListRefusalsCountAsFailures: a working key from the wrong place
// spends the address's failure budget like a guess does.
func TestAllowListRefusalsCountAsFailures(t *testing.T) {
	t.Parallel()
	app := newAPIApp(t, Config{FailuresPerSecond: 0.001, FailureBurst: 3})
	_, key := fencedToken(t, app)
	_, open := app.createToken(app.member, store.KindPersonal, "open")
	const outside, inside = "198.51.100.7:1", "203.0.113.7:1"
	app.apiFrom(t, http.MethodGet, "/api/v1/token", keyOf(open), outside, "").ok(t, http.StatusOK, nil)
	for range 3 {
		app.apiFrom(t, http.MethodGet, "/api/v1/token", keyOf(key), outside, "").refusal(t, http.StatusForbidden, "address_not_allowed")
	}
	app.apiFrom(t, http.MethodGet, "/api/v1/token", keyOf(key), outside, "").refusal(t, http.StatusTooManyRequests, "rate_limited")
	app.apiFrom(t, http.MethodGet, "/auth/verify", fakeToken("tkp_"), outside, "").refusal(t, http.StatusTooManyRequests, "rate_limited")
	// A token already checked still works from that address; the list's
	// own addresses are not held back.
	app.apiFrom(t, http.MethodGet, "/api/v1/token", keyOf(open), outside, "").ok(t, http.StatusOK, nil)
	app.apiFrom(t, http.MethodGet, "/api/v1/token", keyOf(key), inside, "").ok(t, http.StatusOK, nil)
}

// TestIntrospectionReportsTheAllowList: the caller is told the list, to
// apply to its own client; the token is active wherever the caller is.
func TestIntrospectionReportsTheAllowList(t *testing.T) {
	t.Parallel()
	app := tolerantApp(t)
	_, adminKey := app.createToken(app.owner, store.KindPersonal, "introspector")
	_, key := fencedToken(t, app)
	_, open := app.createToken(app.member, store.KindPersonal, "open")
	for _, remote := range []string{"198.51.100.7:1", "[2001:db9::7]:1", "[::ffff:198.51.100.7]:1", "203.0.113.7:1"} {
		r := app.apiFrom(t, http.MethodPost, "/api/v1/introspect", keyOf(adminKey), remote, url.Values{"token": {keyOf(key)}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded")
		var got struct {
			Active     bool     `json:"active"`
			AllowedIPs []string `json:"allowed_ips"`
		}
		r.ok(t, http.StatusOK, &got)
		if !got.Active || !slices.Equal(got.AllowedIPs, []string{"203.0.113.0/24", "2001:db8::/32"}) {
			t.Errorf("from %s: %s", remote, r.body)
		}
	}
	r := app.introspect(t, adminKey, keyOf(open), true)
	if m := r.object(t); m["active"] != true || mapHas(m, "allowed_ips") {
		t.Errorf("a token without a list: %s", r.body)
	}
	// The caller's own token is still held to its list.
	_, fencedAdmin := app.createWith(app.owner, store.NewToken{Kind: store.KindSystem, Name: "fenced admin",
		Roles: []store.Role{store.RoleAdmin}, AllowedIPs: allowList(t, "10.0.0.0/8")})
	app.introspect(t, fencedAdmin, keyOf(open), false).refusal(t, http.StatusForbidden, "address_not_allowed")
}
