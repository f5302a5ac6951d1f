package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tokend/store"
)

const demoOrg = "Acme Streaming"

type demoAccount struct {
	name, email string
	roles       []store.Role
}

var demoAccounts = []demoAccount{
	{"Ana Owner", "owner@acme.example", []store.Role{store.RoleOwner}},
	{"Max Member", "member@acme.example", []store.Role{store.RoleVideo, store.RoleViewer}},
}

// seedDemo adds, to an empty database, an organization with an owner, a
// member and a few tokens, and prints how to sign in. The passwords are new
// for each database and kept in demo-credentials.txt beside it (on
// PostgreSQL, in the working directory), so they can be found again after
// a restart.
func seedDemo(ctx context.Context, db *store.DB, stdout io.Writer) error {
	credentials := "demo-credentials.txt"
	if db.Path() != "" {
		credentials = filepath.Join(filepath.Dir(db.Path()), credentials)
	}
	ms, err := db.Members(ctx, "")
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		if b, err := os.ReadFile(credentials); err == nil {
			fmt.Fprintf(stdout, "%s(from %s)\n", b, credentials)
		}
		return nil
	}

	var text string
	members := make([]store.Member, len(demoAccounts))
	for i, a := range demoAccounts {
		password := rand.Text()
		members[i], err = db.CreateMember(ctx, store.NewMember{
			OrgName: demoOrg, Email: a.email, Name: a.name, Password: password, Roles: a.roles,
		})
		if err != nil {
			return err
		}
		text += fmt.Sprintf("Demo %s: sign in as %s with password %s\n", members[i].Roles[0].Title(), a.email, password)
	}
	owner, member := members[0], members[1]
	for _, t := range []struct {
		by store.Member
		nt store.NewToken
	}{
		{owner, store.NewToken{Kind: store.KindPersonal, Name: "Local API experiments"}},
		{member, store.NewToken{Kind: store.KindPersonal, Name: "Upload script"}},
		{owner, store.NewToken{Kind: store.KindSystem, Name: "CI pipeline", Roles: []store.Role{store.RoleAdmin, store.RoleVideo}}},
		{owner, store.NewToken{Kind: store.KindSystem, Name: "Billing export", Roles: []store.Role{store.RoleBilling}}},
	} {
		// The demo's keys are thrown away: nobody has seen them, as with
		// any token whose page was left.
		if _, _, err := db.CreateToken(ctx, t.by, t.nt); err != nil {
			return err
		}
	}
	// A pending invitation for the Members page; its link, like the keys,
	// was never shown to anyone.
	if _, _, err := db.InviteMember(ctx, owner, store.NewInvitation{
		Email: "new.colleague@example.com", Name: "New Colleague", Roles: []store.Role{store.RoleViewer},
	}); err != nil {
		return err
	}
	if err := os.WriteFile(credentials, []byte(text), 0o600); err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	return nil
}
