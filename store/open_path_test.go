package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A path is a file name, never a URI: '#', '?' and '%' in it (t.TempDir
// gives "#" to subtests named "") must not cut it short or be decoded.
func TestOpenUsesThePathAsGiven(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a#b.db", "a?b.db", "a%23b.db", "a b.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			db.PasswordCost = bcrypt.MinCost
			addMember(t, db, "Acme", "owner@acme.test", RoleOwner)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("no database at %q: %v", path, err)
			}
			// The database, and the change signal beside it.
			if entries, _ := os.ReadDir(dir); len(entries) != 2 || entries[0].Name() != name || entries[1].Name() != name+"-changes" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files in the directory: %q, want only %q and its -changes", names, name)
			}
		})
	}
}
