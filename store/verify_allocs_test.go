//go:build !race

package store

import (
	"context"
	"testing"
)

// A check answered from the cache allocates nothing: with a million
// tokens cached, each allocation on this path would feed a collector that
// must scan them all. (Not under the race detector, which allocates.)
func TestVerifyCachedAllocatesNothing(t *testing.T) {
	o := newTwoOrgs(t)
	ctx := context.Background()
	_, personal := addToken(t, o.db, o.alice, KindPersonal, "ci")
	_, system := addToken(t, o.db, o.owner, KindSystem, "deploy", RoleVideo)
	for _, text := range []TokenText{personal, system} {
		verify(t, o.db, text) // read once, cached
		if n := testing.AllocsPerRun(100, func() {
			if _, err := o.db.Verify(ctx, string(text), "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("a cached check of a %s token allocates %v times", text[:3], n)
		}
	}
}
