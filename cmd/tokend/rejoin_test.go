package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"tokend/store"
)

// The story of issue #7: a member removed with `user remove` can be added
// again with the same email, and every command agrees on who that is.
func TestUserRejoin(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	db := openDB(t, path)
	addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
	pw := func(p string) map[string]string { return map[string]string{"TOKEND_PASSWORD": p} }
	step := func(vars map[string]string, args ...string) result {
		t.Helper()
		r := runTokend(t, vars, "", append(args[:2:2], append([]string{"--db", path}, args[2:]...)...)...)
		if r.err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), r.err)
		}
		return r
	}

	step(pw(testPassword), "user", "add", "--org", "Acme Streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", "video")
	ms, err := db.Members(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var oldMax store.Member
	for _, m := range ms {
		if m.Email == "max@acme.test" {
			oldMax = m
		}
	}
	oldTok, oldKey, err := db.CreateToken(ctx, oldMax, store.NewToken{Kind: store.KindPersonal, Name: "Upload script"})
	if err != nil {
		t.Fatal(err)
	}
	step(nil, "user", "remove", "--email", "max@acme.test")

	r := step(pw("a brand new passphrase"), "user", "add", "--org", "Acme Streaming", "--email", "Max@Acme.test", "--name", "Max Again", "--role", "viewer")
	if want := "added Max Again <Max@Acme.test> to Acme Streaming as Viewer\n"; r.stdout != want {
		t.Errorf("user add again: stdout %q, want %q", r.stdout, want)
	}
	r = step(pw("yet another passphrase"), "user", "passwd", "--email", "max@acme.test")
	if want := "set a new password for Max Again <Max@Acme.test>; their browsers are signed out\n"; r.stdout != want {
		t.Errorf("user passwd: stdout %q, want %q", r.stdout, want)
	}
	newMax, err := db.Authenticate(ctx, "max@acme.test", "yet another passphrase")
	if err != nil || newMax.ID == oldMax.ID || newMax.Name != "Max Again" {
		t.Fatalf("sign in after passwd = %+v, %v; want the new member", newMax, err)
	}
	// What Max had before stays revoked; the new Max starts with nothing.
	if _, err := db.Verify(ctx, string(oldKey), "192.0.2.1"); !errors.Is(err, store.ErrTokenRevoked) {
		t.Errorf("old token: %v, want revoked", err)
	}
	if mine, err := db.ListTokens(ctx, newMax, store.TokenFilter{Kind: store.KindPersonal, MemberID: newMax.ID, IncludeRevoked: true}); err != nil || len(mine) != 0 {
		t.Errorf("new member's tokens = %+v, %v; want none (old one was %d)", mine, err, oldTok.ID)
	}

	r = step(nil, "user", "list")
	leftOn := ""
	if ms, err = db.Members(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == oldMax.ID {
			leftOn = m.LeftAt.Format("2006-01-02")
		}
	}
	var got [][]string
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		got = append(got, columnGap.Split(strings.TrimSpace(l), -1))
	}
	want := [][]string{
		{"ORGANIZATION", "EMAIL", "NAME", "ROLES", "STATUS"},
		{"Acme Streaming", "ana@acme.test", "Ana Owner", "Organization Owner", "member"},
		{"Acme Streaming", "Max@Acme.test", "Max Again", "Viewer", "member"},
		{"Acme Streaming", "max@acme.test", "Max Member", "Video User", "left " + leftOn},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user list printed\n%s\nwant rows %q", r.stdout, want)
	}

	// While the new Max is in, the email is taken, in any case.
	before := snapshot(t, path)
	for _, email := range []string{"max@acme.test", "MAX@ACME.TEST"} {
		r = runTokend(t, pw(testPassword), "", "user", "add", "--db", path, "--org", "Acme Streaming", "--email", email, "--name", "Max Thrice", "--role", "video")
		wantOneLineError(t, r.err, "user add: a member with email "+email+" already exists")
	}
	if after := snapshot(t, path); after != before {
		t.Errorf("a refused user add changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Names given on the command line follow the page's rules: an organization
// named in another case or spelling is the same organization, and a name
// that shows nothing is refused before anything is written.
func TestUserAddNames(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	db := openDB(t, path)
	addMember(t, db, "Café Streaming", "ana@cafe.test", "Ana Owner", store.RoleOwner)
	vars := map[string]string{"TOKEND_PASSWORD": testPassword}
	r := runTokend(t, vars, "", "user", "add", "--db", path, "--org", "CAFE\u0301 STREAMING", "--email", "bo@cafe.test", "--name", "Bo", "--role", "video")
	if r.err != nil || r.stdout != "added Bo <bo@cafe.test> to Café Streaming as Video User\n" {
		t.Errorf("user add to CAFÉ STREAMING: %q, %v; want Bo added to Café Streaming", r.stdout, r.err)
	}
	for _, tt := range []struct{ flag, value string }{
		{"--name", "\u200b"},
		{"--name", "Bo\u202e"},
		{"--org", "\u3164"},
		{"--org", "Acme\u200b"},
	} {
		args := []string{"user", "add", "--db", path, "--org", "Other", "--email", "cy@cafe.test", "--name", "Cy", "--role", "viewer"}
		for i := range args {
			if args[i] == tt.flag {
				args[i+1] = tt.value
			}
		}
		if r := runTokend(t, vars, "", args...); r.err == nil {
			t.Errorf("user add %s %q: accepted", tt.flag, tt.value)
		}
	}
	ms, err := db.Members(ctx, "")
	if err != nil || len(ms) != 2 {
		t.Errorf("members = %d, %v; want Ana and Bo only", len(ms), err)
	}
}
