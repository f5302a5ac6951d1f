package main

import (
	"context"
	"strings"
	"testing"

	"tokend/store"
)

// user passwd gives a member a new password: the old one stops working,
// their browsers are signed out, and a weak password or an unknown email is
// refused with one line.
func TestUserPasswd(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	db := openDB(t, path)
	m := addMember(t, db, "Acme Streaming", "max@acme.test", "Max", store.RoleVideo)
	sid, err := db.CreateSession(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}

	const newPassword = "a brand new passphrase"
	r := runTokend(t, map[string]string{"TOKEND_PASSWORD": newPassword}, "", "user", "passwd", "--db", path, "--email", "MAX@acme.test")
	if r.err != nil || !strings.Contains(r.stdout, "set a new password for Max <max@acme.test>") {
		t.Fatalf("passwd: %v %q", r.err, r.stdout)
	}
	if _, err := db.Authenticate(ctx, m.Email, testPassword); err == nil {
		t.Error("the old password still signs in")
	}
	if _, err := db.Authenticate(ctx, m.Email, newPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := db.SessionMember(ctx, sid); err == nil {
		t.Error("a browser signed in before is still signed in")
	}

	// From standard input too.
	if r := runTokend(t, nil, "another good passphrase\n", "user", "passwd", "--db", path, "--email", m.Email); r.err != nil {
		t.Fatalf("passwd from stdin: %v", r.err)
	}
	if _, err := db.Authenticate(ctx, m.Email, "another good passphrase"); err != nil {
		t.Errorf("the password from stdin does not sign in: %v", err)
	}

	for _, tt := range []struct {
		name, password, email, want string
	}{
		{"weak", "short", m.Email, "user passwd: password is too weak"},
		{"unknown email", newPassword, "nobody@acme.test", "user passwd: no member has email nobody@acme.test"},
		{"no email", newPassword, "", "user passwd: --email is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runTokend(t, map[string]string{"TOKEND_PASSWORD": tt.password}, "", "user", "passwd", "--db", path, "--email", tt.email)
			if r.err == nil || !strings.HasPrefix(r.err.Error(), tt.want) || strings.Contains(r.err.Error(), "\n") {
				t.Errorf("error %v, want one line starting %q", r.err, tt.want)
			}
		})
	}
	if _, err := db.Authenticate(ctx, m.Email, "another good passphrase"); err != nil {
		t.Errorf("a refused passwd changed the password: %v", err)
	}
}
