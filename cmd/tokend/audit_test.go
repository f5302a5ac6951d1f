package main

import (
	"context"
	"slices"
	"testing"

	"tokend/store"
)

// TestCommandLineRecordsEvents: user add, passwd and remove write the same
// audit events the page does, with the command line as their actor and no
// client address.
func TestCommandLineRecordsEvents(t *testing.T) {
	f := newRemoveFixture(t)
	steps := []struct {
		args  []string
		stdin string
		want  []string // action and target of each new event, oldest first
	}{
		{[]string{"user", "add", "--org", "Acme Streaming", "--email", "lea@acme.test", "--name", "Lea", "--role", "viewer"},
			testPassword + "\n", []string{"member.added Lea <lea@acme.test>"}},
		{[]string{"user", "passwd", "--email", "lea@acme.test"}, "another good password\n", []string{"password.changed Lea <lea@acme.test>"}},
		{[]string{"user", "remove", "--email", "max@acme.test"}, "", []string{
			"member.removed Max Member <max@acme.test>",
			"token.revoked " + f.maxToken.Hint() + " (Upload script)",
		}},
	}
	cliEvents := func() []store.AuditEvent {
		t.Helper()
		es, err := f.db.AuditEvents(context.Background(), f.owner, store.AuditFilter{ActorKind: store.ActorCLI, Limit: store.MaxAuditPage})
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(es)
		return es
	}
	seen := len(cliEvents()) // the fixture's members, added as user add does
	for _, s := range steps {
		r := runTokend(t, nil, s.stdin, append(s.args, "--db", f.path)...)
		if r.err != nil {
			t.Fatalf("%v: %v", s.args, r.err)
		}
		es := cliEvents()
		var got []string
		for _, e := range es[seen:] {
			got = append(got, e.Action+" "+e.Target)
			if e.Actor != "command line" || e.ClientIP != "" || e.UserAgent != "" {
				t.Errorf("%s: actor %q from %q %q", e.Action, e.Actor, e.ClientIP, e.UserAgent)
			}
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("%v wrote %q, want %q", s.args[:2], got, s.want)
		}
		seen = len(es)
	}
}
