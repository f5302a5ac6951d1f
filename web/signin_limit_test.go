package web

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// Failed sign-ins are limited per address and per account; past a limit
// even the right password is refused with 429, and a success costs nothing.
func TestSignInRateLimit(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	limited := func(c *Config) {
		c.TrustedProxies = []*net.IPNet{loopback} // X-Forwarded-For names the client
		c.SignInFailures = &SignInLimits{PerAddrPerSecond: 0.001, AddrBurst: 4, PerAccountPerSecond: 0.001, AccountBurst: 3}
	}
	signIn := func(c *client, email, password, from string) *response {
		c.get("/login", "X-Forwarded-For", from)
		return c.postForm("/login", url.Values{"email": {email}, "password": {password}}, "X-Forwarded-For", from)
	}

	t.Run("per account, from many addresses", func(t *testing.T) {
		app := newTestAppWith(t, limited)
		c := app.client()
		for i := range 3 {
			if r := signIn(c, app.member.Email, "wrong password", "203.0.113."+strconv.Itoa(i)); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d", i+1, r.StatusCode)
			}
		}
		r := signIn(c, app.member.Email, testPassword, "203.0.113.99")
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("right password after the account's budget: %d, Retry-After %q; want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
		}
		if got := r.text(`[data-testid=login-error]`); got == "" {
			t.Error("no message says why")
		}
		// Another account from a fresh address is untouched.
		if r := signIn(app.client(), app.owner.Email, testPassword, "203.0.113.100"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("another account: status %d, want 303", r.StatusCode)
		}
	})

	t.Run("per address, across accounts", func(t *testing.T) {
		app := newTestAppWith(t, limited)
		c := app.client()
		for i := range 4 {
			signIn(c, "nobody"+strconv.Itoa(i)+"@acme.test", "wrong password", "198.51.100.7")
		}
		if r := signIn(c, app.owner.Email, testPassword, "198.51.100.7"); r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right password from a guessing address: %d, want 429", r.StatusCode)
		}
		if r := signIn(app.client(), app.owner.Email, testPassword, "198.51.100.8"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("the same account from another address: %d, want 303", r.StatusCode)
		}
	})

	t.Run("successes cost nothing", func(t *testing.T) {
		app := newTestAppWith(t, limited)
		for range 10 {
			if r := signIn(app.client(), app.member.Email, testPassword, "192.0.2.1"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d, want 303", r.StatusCode)
			}
		}
	})
}
