package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokend/store"
)

const testPassword = "correct horse battery staple"

// TestMain lowers the bcrypt cost of every database run opens: at the
// default cost one password takes seconds under the race detector. The
// built binary of TestBinary keeps the default.
func TestMain(m *testing.M) {
	openStore = func(ctx context.Context, path string, opts ...store.Option) (*store.DB, error) {
		db, err := store.Open(ctx, path, opts...)
		if err == nil {
			db.PasswordCost = bcrypt.MinCost
		}
		return db, err
	}
	os.Exit(m.Run())
}

// mapEnv is a getenv that reads only the given variables.
func mapEnv(vars map[string]string) env {
	return func(key string) string { return vars[key] }
}

type result struct {
	err            error
	stdout, stderr string
}

// runTokend calls run as main would, with the given environment and stdin.
func runTokend(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, mapEnv(vars), strings.NewReader(stdin), &stdout, &stderr)
	return result{err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// wantOneLineError checks that err is set, is one line, and says want.
func wantOneLineError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want one saying %q", want)
	case strings.Contains(err.Error(), "\n"):
		t.Errorf("error is more than one line: %q", err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not say %q", err, want)
	}
}

func tempDBPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "tokend.db")
}

// openDB opens the database at path through the store, for setup and checks.
func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.PasswordCost = bcrypt.MinCost
	t.Cleanup(func() { db.Close() })
	return db
}

func addMember(t *testing.T, db *store.DB, org, email, name string, roles ...store.Role) store.Member {
	t.Helper()
	m, err := db.CreateMember(context.Background(), store.NewMember{
		OrgName: org, Email: email, Name: name, Password: testPassword, Roles: roles,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func createToken(t *testing.T, db *store.DB, by store.Member, kind store.TokenKind, name string, roles ...store.Role) store.Token {
	t.Helper()
	tok, _, err := db.CreateToken(context.Background(), by, store.NewToken{Kind: kind, Name: name, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func listMembers(t *testing.T, path string) []store.Member {
	t.Helper()
	ms, err := openDB(t, path).Members(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// snapshot is every row a CLI command could have written, read straight
// from the file, so that a refused command can be shown to write nothing.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name FROM orgs ORDER BY id`,
		`SELECT id, org_id, email, name, password_hash, roles, ifnull(left_at, 0) FROM members ORDER BY id`,
		`SELECT id, ifnull(revoked_at, 0), ifnull(revoke_reason, '') FROM tokens ORDER BY id`,
		`SELECT count(*) FROM sessions`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func rolesOf(rs ...store.Role) []store.Role { return rs }

// TestBinary runs the built program, for what only a process shows: the exit
// status and the one "tokend: …" line on stderr. The binary has the store's
// own bcrypt cost, not the one TestMain lowers.
func TestBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with:", err)
	}
	bin := filepath.Join(t.TempDir(), "tokend")
	built := make(chan error, 1)
	go func() {
		out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		built <- err
	}()
	// Parallel: this test waits for every other top-level test, while the
	// binary builds in the meantime.
	t.Parallel()
	if err := <-built; err != nil {
		t.Fatalf("go build: %v", err)
	}
	path := tempDBPath(t)

	tests := []struct {
		name           string
		env            []string
		args           []string
		wantStatus     int
		wantStdout     string // a part of it
		wantStderrLast string // the last line of stderr, exactly
		wantStderrOnly bool   // stderr is that line and nothing else
	}{
		{
			name:       "user add",
			env:        []string{"TOKEND_PASSWORD=" + testPassword},
			args:       []string{"user", "add", "--db", path, "--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			wantStatus: 0,
			wantStdout: "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
		},
		{
			name:           "second owner",
			env:            []string{"TOKEND_PASSWORD=" + testPassword},
			args:           []string{"user", "add", "--db", path, "--org", "Acme Streaming", "--email", "b@b.c", "--name", "Bo", "--role", "owner"},
			wantStatus:     1,
			wantStderrLast: "tokend: user add: organization Acme Streaming already has an owner (a@b.c)",
			wantStderrOnly: true,
		},
		{
			name:           "unknown email",
			args:           []string{"user", "remove", "--db", path, "--email", "nobody@b.c"},
			wantStatus:     1,
			wantStderrLast: "tokend: user remove: no member has email nobody@b.c",
			wantStderrOnly: true,
		},
		{
			name:           "unknown flag",
			args:           []string{"user", "list", "--db", path, "--all"},
			wantStatus:     1,
			wantStderrLast: "tokend: user list: flag provided but not defined: -all",
		},
		{
			name:           "no arguments",
			wantStatus:     1,
			wantStderrLast: "tokend: no command given",
		},
		{
			name:       "help",
			args:       []string{"help"},
			wantStatus: 0,
			wantStdout: "Usage:",
		},
		{
			name:       "user list",
			args:       []string{"user", "list", "--db", path},
			wantStatus: 0,
			wantStdout: "a@b.c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = tt.env // nothing from this process's environment
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				status = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("exit status %d, want %d\nstderr: %s", status, tt.wantStatus, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStderrLast != "" {
				lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				if last := lines[len(lines)-1]; last != tt.wantStderrLast {
					t.Errorf("last line of stderr = %q, want %q", last, tt.wantStderrLast)
				}
				if tt.wantStderrOnly && stderr.String() != tt.wantStderrLast+"\n" {
					t.Errorf("stderr = %q, want only the one line", stderr.String())
				}
			} else if tt.wantStatus == 0 && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}

	// The binary hashed the password at the store's default cost.
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var hash string
	if err := raw.QueryRow(`SELECT password_hash FROM members WHERE email = 'a@b.c'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != db.PasswordCost {
		t.Errorf("bcrypt cost of a password added by the binary: %d (%v), want the store's default %d", cost, err, db.PasswordCost)
	}
}

func TestUserAdd(t *testing.T) {
	const stdinPassword = "a password typed on stdin"
	tests := []struct {
		name      string
		env       map[string]string
		stdin     string
		args      []string // after "user add --db FILE", unless noDBFlag
		noDBFlag  bool
		email     string
		password  string // the one that must sign in
		wantOut   string
		wantRoles []store.Role
	}{
		{
			name:      "owner with TOKEND_PASSWORD",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  testPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
		{
			name:      "password from stdin when TOKEND_PASSWORD is empty",
			env:       map[string]string{"TOKEND_PASSWORD": ""},
			stdin:     stdinPassword + "\nnot part of the password\n",
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  stdinPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
		{
			name:      "password from stdin ending in CRLF",
			stdin:     stdinPassword + "\r\n",
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  stdinPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
		{
			name:      "password from stdin without a newline",
			stdin:     stdinPassword,
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  stdinPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
		{
			name:      "TOKEND_PASSWORD wins over stdin",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			stdin:     stdinPassword + "\n",
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  testPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
		{
			name:      "repeated --role",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			args:      []string{"--org", "Acme Streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", "video", "--role", "viewer"},
			email:     "max@acme.test",
			password:  testPassword,
			wantOut:   "added Max Member <max@acme.test> to Acme Streaming as Video User, Viewer\n",
			wantRoles: rolesOf(store.RoleVideo, store.RoleViewer),
		},
		{
			name:      "comma-separated --role",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			args:      []string{"--org", "Acme Streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", "video,viewer"},
			email:     "max@acme.test",
			password:  testPassword,
			wantOut:   "added Max Member <max@acme.test> to Acme Streaming as Video User, Viewer\n",
			wantRoles: rolesOf(store.RoleVideo, store.RoleViewer),
		},
		{
			name:      "roles spaced, capitalised, repeated and out of order",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			args:      []string{"--org", "Acme Streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", " Support , viewer", "--role", "VIDEO", "--role", "viewer"},
			email:     "max@acme.test",
			password:  testPassword,
			wantOut:   "added Max Member <max@acme.test> to Acme Streaming as Video User, Viewer, Support User\n",
			wantRoles: rolesOf(store.RoleVideo, store.RoleViewer, store.RoleSupport),
		},
		{
			name:      "flags written -flag=value",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			args:      []string{"-org=Acme Streaming", "-email=a@b.c", "-name=Ana", "-role=admin"},
			email:     "a@b.c",
			password:  testPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Administrator\n",
			wantRoles: rolesOf(store.RoleAdmin),
		},
		{
			name:      "database from TOKEND_DB",
			env:       map[string]string{"TOKEND_PASSWORD": testPassword},
			noDBFlag:  true,
			args:      []string{"--org", "Acme Streaming", "--email", "a@b.c", "--name", "Ana", "--role", "owner"},
			email:     "a@b.c",
			password:  testPassword,
			wantOut:   "added Ana <a@b.c> to Acme Streaming as Organization Owner\n",
			wantRoles: rolesOf(store.RoleOwner),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tempDBPath(t)
			vars := map[string]string{}
			for k, v := range tt.env {
				vars[k] = v
			}
			args := append([]string{"user", "add"}, tt.args...)
			if tt.noDBFlag {
				vars["TOKEND_DB"] = path
			} else {
				args = append([]string{"user", "add", "--db", path}, tt.args...)
			}

			r := runTokend(t, vars, tt.stdin, args...)
			if r.err != nil {
				t.Fatalf("user add: %v\nstderr: %s", r.err, r.stderr)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantOut)
			}

			ms := listMembers(t, path)
			if len(ms) != 1 {
				t.Fatalf("%d members, want 1: %+v", len(ms), ms)
			}
			m := ms[0]
			email := tt.email
			if m.OrgName != "Acme Streaming" || m.Email != email || !slices.Equal(m.Roles, tt.wantRoles) || !m.LeftAt.IsZero() {
				t.Errorf("member = %+v, want %s in Acme Streaming with roles %v", m, email, tt.wantRoles)
			}
			db := openDB(t, path)
			if _, err := db.Authenticate(context.Background(), email, tt.password); err != nil {
				t.Errorf("sign in with %q: %v", tt.password, err)
			}
		})
	}
}

func TestUserAddReusesOrganization(t *testing.T) {
	path := tempDBPath(t)
	vars := map[string]string{"TOKEND_PASSWORD": testPassword}
	for _, args := range [][]string{
		{"--org", "Acme Streaming", "--email", "ana@acme.test", "--name", "Ana Owner", "--role", "owner"},
		{"--org", " acme streaming ", "--email", "max@acme.test", "--name", "Max Member", "--role", "video"},
	} {
		if r := runTokend(t, vars, "", append([]string{"user", "add", "--db", path}, args...)...); r.err != nil {
			t.Fatalf("user add %v: %v", args, r.err)
		}
	}
	ms := listMembers(t, path)
	if len(ms) != 2 || ms[0].OrgID != ms[1].OrgID || ms[1].OrgName != "Acme Streaming" {
		t.Errorf("members = %+v, want both in the one organization Acme Streaming", ms)
	}
}

func TestUserAddRefusals(t *testing.T) {
	pw := map[string]string{"TOKEND_PASSWORD": testPassword}
	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string // after "user add --db FILE"
		want  string
	}{
		{
			name: "second owner",
			env:  pw,
			args: []string{"--org", "Acme Streaming", "--email", "bob@acme.test", "--name", "Bob", "--role", "owner"},
			want: "user add: organization Acme Streaming already has an owner (ana@acme.test)",
		},
		{
			name: "second owner, organization named in another case",
			env:  pw,
			args: []string{"--org", "ACME STREAMING", "--email", "bob@acme.test", "--name", "Bob", "--role", "owner"},
			want: "already has an owner (ana@acme.test)",
		},
		{
			name: "second owner among other roles",
			env:  pw,
			args: []string{"--org", "Acme Streaming", "--email", "bob@acme.test", "--name", "Bob", "--role", "admin,owner"},
			want: "already has an owner (ana@acme.test)",
		},
		{
			name: "unknown role",
			env:  pw,
			args: []string{"--org", "Acme Streaming", "--email", "bob@acme.test", "--name", "Bob", "--role", "boss"},
			want: `user add: "boss" is not a role; roles are owner, admin, video, viewer, billing, support`,
		},
		{
			name: "unknown role among known ones",
			env:  pw,
			args: []string{"--org", "Acme Streaming", "--email", "bob@acme.test", "--name", "Bob", "--role", "video", "--role", "viewer,editor"},
			want: `"editor" is not a role`,
		},
		{
			name: "duplicate email",
			env:  pw,
			args: []string{"--org", "Acme Streaming", "--email", "ana@acme.test", "--name", "Ana Again", "--role", "viewer"},
			want: "user add: a member with email ana@acme.test already exists",
		},
		{
			name: "duplicate email in another case and another organization",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "ANA@Acme.Test", "--name", "Ana Again", "--role", "owner"},
			want: "a member with email ANA@Acme.Test already exists",
		},
		{
			name: "empty password: no TOKEND_PASSWORD and empty stdin",
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: "user add: password is empty",
		},
		{
			name:  "empty password: blank line on stdin",
			stdin: "\n" + testPassword + "\n",
			args:  []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want:  "user add: password is empty",
		},
		{
			name: "weak password: short",
			env:  map[string]string{"TOKEND_PASSWORD": "s3cret!"},
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: "user add: password is too weak: use at least 12 characters",
		},
		{
			name:  "weak password: short, from stdin",
			stdin: "s3cret!\n",
			args:  []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want:  "user add: password is too weak: use at least 12 characters",
		},
		{
			name: "weak password: one character repeated",
			env:  map[string]string{"TOKEND_PASSWORD": strings.Repeat("a", 20)},
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: "user add: password is too weak: it repeats one character",
		},
		{
			name: "password longer than bcrypt reads",
			env:  map[string]string{"TOKEND_PASSWORD": strings.Repeat("ab", 40)},
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: "user add: password is too long: at most 72 bytes",
		},
		{
			name: "missing --email",
			env:  pw,
			args: []string{"--org", "Globex", "--name", "Gus", "--role", "owner"},
			want: "user add: --email is required",
		},
		{
			name: "not an email",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus", "--name", "Gus", "--role", "owner"},
			want: `user add: "gus" is not an email address`,
		},
		{
			name: "missing --role",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus"},
			want: "user add: --role is required",
		},
		{
			name: "--role with no role in it",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", " , "},
			want: "user add: --role is required",
		},
		{
			name: "missing --org",
			env:  pw,
			args: []string{"--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: "user add: --org is required",
		},
		{
			name: "missing --name",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--role", "owner"},
			want: "user add: --name is required",
		},
		{
			name: "unknown flag",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner", "--admin"},
			want: "user add: flag provided but not defined: -admin",
		},
		{
			name: "unexpected argument",
			env:  pw,
			args: []string{"--org", "Globex", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner", "extra"},
			want: `user add: unexpected argument "extra"`,
		},
		{
			name: "unquoted organization name spills into an argument",
			env:  pw,
			args: []string{"--org", "Globex", "Corp", "--email", "gus@globex.test", "--name", "Gus", "--role", "owner"},
			want: `user add: unexpected argument "Corp"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tempDBPath(t)
			db := openDB(t, path)
			addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
			before := snapshot(t, path)

			r := runTokend(t, tt.env, tt.stdin, append([]string{"user", "add", "--db", path}, tt.args...)...)
			wantOneLineError(t, r.err, tt.want)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if after := snapshot(t, path); after != before {
				t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// A command refused for its flags alone does not create a database.
func TestRefusedFlagsCreateNoDatabase(t *testing.T) {
	pw := map[string]string{"TOKEND_PASSWORD": testPassword}
	tests := []struct {
		name string
		args []string // after the command, before "--db FILE"
		want string
	}{
		{"user add: unknown role", []string{"user", "add", "--org", "G", "--email", "g@g.test", "--name", "G", "--role", "boss"}, `"boss" is not a role`},
		{"user add: missing --email", []string{"user", "add", "--org", "G", "--name", "G", "--role", "owner"}, "--email is required"},
		{"user add: missing --role", []string{"user", "add", "--org", "G", "--email", "g@g.test", "--name", "G"}, "--role is required"},
		{"user add: unknown flag", []string{"user", "add", "--bogus"}, "flag provided but not defined: -bogus"},
		{"user remove: missing --email", []string{"user", "remove"}, "user remove: --email is required"},
		{"user remove: unexpected argument", []string{"user", "remove", "--email", "g@g.test", "now"}, `user remove: unexpected argument "now"`},
		{"user list: unexpected argument", []string{"user", "list", "Globex"}, `user list: unexpected argument "Globex"`},
		{"serve: unknown flag", []string{"serve", "--port", "8080"}, "serve: flag provided but not defined: -port"},
		{"serve: unexpected argument", []string{"serve", "--demo", "yes"}, `serve: unexpected argument "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tempDBPath(t)
			args := slices.Concat(tt.args[:2], []string{"--db", path}, tt.args[2:])
			if tt.args[0] == "serve" {
				args = slices.Concat(tt.args[:1], []string{"--db", path, "--addr", "127.0.0.1:0"}, tt.args[1:])
			}
			r := runTokend(t, pw, "", args...)
			wantOneLineError(t, r.err, tt.want)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > 0 {
				t.Errorf("refused command left files behind: %v", entries)
			}
		})
	}
}

// removeFixture is an organization whose member Max has a personal token, as
// does Mia; the owner has made a system token.
type removeFixture struct {
	path                     string
	db                       *store.DB
	owner, max, mia          store.Member
	maxToken, miaToken, sysT store.Token
}

func newRemoveFixture(t *testing.T) removeFixture {
	t.Helper()
	f := removeFixture{path: tempDBPath(t)}
	f.db = openDB(t, f.path)
	f.owner = addMember(t, f.db, "Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
	f.max = addMember(t, f.db, "Acme Streaming", "max@acme.test", "Max Member", store.RoleVideo)
	f.mia = addMember(t, f.db, "Acme Streaming", "mia@acme.test", "Mia Member", store.RoleViewer)
	f.maxToken = createToken(t, f.db, f.max, store.KindPersonal, "Upload script")
	f.miaToken = createToken(t, f.db, f.mia, store.KindPersonal, "Dashboard")
	f.sysT = createToken(t, f.db, f.owner, store.KindSystem, "CI pipeline", store.RoleVideo)
	return f
}

func (f removeFixture) token(t *testing.T, id int64) store.Token {
	t.Helper()
	tok, err := f.db.Token(context.Background(), f.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestUserRemove(t *testing.T) {
	for _, email := range []string{"max@acme.test", "MAX@Acme.Test", " max@acme.test "} {
		t.Run(email, func(t *testing.T) {
			t.Parallel()
			f := newRemoveFixture(t)
			r := runTokend(t, nil, "", "user", "remove", "--db", f.path, "--email", email)
			if r.err != nil {
				t.Fatalf("user remove: %v", r.err)
			}
			if want := "removed Max Member <max@acme.test> from Acme Streaming; their personal tokens no longer work\n"; r.stdout != want {
				t.Errorf("stdout = %q, want %q", r.stdout, want)
			}

			if tok := f.token(t, f.maxToken.ID); tok.Active() || tok.RevokeReason != store.ReasonMemberLeft {
				t.Errorf("Max's personal token: revoked at %v, reason %q; want revoked, reason %q", tok.RevokedAt, tok.RevokeReason, store.ReasonMemberLeft)
			}
			if tok := f.token(t, f.miaToken.ID); !tok.Active() {
				t.Errorf("Mia's personal token was revoked (%s)", tok.RevokeReason)
			}
			if tok := f.token(t, f.sysT.ID); !tok.Active() {
				t.Errorf("system token was revoked (%s)", tok.RevokeReason)
			}
			if _, err := f.db.Authenticate(context.Background(), "max@acme.test", testPassword); err == nil {
				t.Error("Max can still sign in")
			}
			for _, m := range listMembers(t, f.path) {
				if left := !m.LeftAt.IsZero(); left != (m.ID == f.max.ID) {
					t.Errorf("%s: left = %v", m.Email, left)
				}
			}
		})
	}
}

func TestUserRemoveRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string // after "user remove --db FILE"
		want string
	}{
		{"the owner", []string{"--email", "ana@acme.test"}, "user remove: ana@acme.test is the owner of Acme Streaming and cannot be removed"},
		{"unknown email", []string{"--email", "nobody@acme.test"}, "user remove: no member has email nobody@acme.test"},
		{"member who already left", []string{"--email", "mia@acme.test"}, "user remove: mia@acme.test already left Acme Streaming"},
		{"missing --email", nil, "user remove: --email is required"},
		{"empty --email", []string{"--email", " "}, "user remove: --email is required"},
		{"unknown flag", []string{"--email", "max@acme.test", "--force"}, "user remove: flag provided but not defined: -force"},
		{"unexpected argument", []string{"max@acme.test"}, `user remove: unexpected argument "max@acme.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRemoveFixture(t)
			if _, err := f.db.RemoveMember(context.Background(), f.mia.Email); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, f.path)
			r := runTokend(t, nil, "", append([]string{"user", "remove", "--db", f.path}, tt.args...)...)
			wantOneLineError(t, r.err, tt.want)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if after := snapshot(t, f.path); after != before {
				t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

var columnGap = regexp.MustCompile(`\s{2,}`)

func TestUserList(t *testing.T) {
	path := tempDBPath(t)
	db := openDB(t, path)
	db.Now = func() time.Time { return time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC) }
	addMember(t, db, "Globex", "gus@globex.test", "Gus Owner", store.RoleOwner)
	addMember(t, db, "Acme Streaming", "max@acme.test", "Max Member", store.RoleViewer, store.RoleVideo)
	addMember(t, db, "Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
	mia := addMember(t, db, "Acme Streaming", "mia@acme.test", "Mia Member", store.RoleViewer)
	if _, err := db.RemoveMember(context.Background(), mia.Email); err != nil {
		t.Fatal(err)
	}

	header := []string{"ORGANIZATION", "EMAIL", "NAME", "ROLES", "STATUS"}
	ana := []string{"Acme Streaming", "ana@acme.test", "Ana Owner", "Organization Owner", "member"}
	max := []string{"Acme Streaming", "max@acme.test", "Max Member", "Video User, Viewer", "member"}
	miaRow := []string{"Acme Streaming", "mia@acme.test", "Mia Member", "Viewer", "left 2026-11-26"}
	gus := []string{"Globex", "gus@globex.test", "Gus Owner", "Organization Owner", "member"}

	tests := []struct {
		name string
		path string
		args []string
		want [][]string
	}{
		{"every organization", path, nil, [][]string{header, ana, max, miaRow, gus}},
		{"one organization", path, []string{"--org", "Globex"}, [][]string{header, gus}},
		{"an organization with nobody", path, []string{"--org", "Initech"}, [][]string{header}},
		{"an empty database", tempDBPath(t), nil, [][]string{header}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTokend(t, nil, "", append([]string{"user", "list", "--db", tt.path}, tt.args...)...)
			if r.err != nil {
				t.Fatalf("user list: %v", r.err)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			var got [][]string
			for _, l := range lines {
				got = append(got, columnGap.Split(strings.TrimSpace(l), -1))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("user list printed\n%s\nwant rows %q", r.stdout, tt.want)
			}
			// Columns line up under their headings.
			for i, l := range lines[1:] {
				for col, h := range header {
					at := strings.Index(lines[0], h)
					if !strings.HasPrefix(l[at:], tt.want[i+1][col]) {
						t.Errorf("row %d: %q is not under %s:\n%s", i+1, tt.want[i+1][col], h, r.stdout)
					}
				}
			}
		})
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStdout string
		wantStderr string // a part of it
	}{
		{name: "help", args: []string{"help"}, wantStdout: usage},
		{name: "-h", args: []string{"-h"}, wantStdout: usage},
		{name: "--help", args: []string{"--help"}, wantStdout: usage},
		{name: "no arguments", args: nil, wantErr: "no command given", wantStderr: usage},
		{name: "unknown command", args: []string{"start"}, wantErr: `unknown command "start"`, wantStderr: usage},
		{name: "user alone", args: []string{"user"}, wantErr: "user: say add, remove or list", wantStderr: usage},
		{name: "unknown user command", args: []string{"user", "delete"}, wantErr: "user delete: unknown command; say add, remove or list"},
		{name: "user add -h", args: []string{"user", "add", "-h"}, wantStderr: "-email"},
		{name: "user remove --help", args: []string{"user", "remove", "--help"}, wantStderr: "-email"},
		{name: "user list -help", args: []string{"user", "list", "-help"}, wantStderr: "-org"},
		{name: "serve -h", args: []string{"serve", "-h"}, wantStderr: "-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Nothing here may touch a database; if it did, it would be here.
			dir := t.TempDir()
			r := runTokend(t, map[string]string{"TOKEND_DB": filepath.Join(dir, "tokend.db")}, "", tt.args...)
			if tt.wantErr == "" {
				if r.err != nil {
					t.Errorf("error %v, want none", r.err)
				}
			} else {
				wantOneLineError(t, r.err, tt.wantErr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("left files behind: %v", entries)
			}
		})
	}
}

func TestUsageNamesEveryCommand(t *testing.T) {
	for _, s := range []string{"tokend serve", "tokend user add", "tokend user remove", "tokend user list",
		"TOKEND_DB", "TOKEND_ADDR", "TOKEND_SESSION_KEY", "TOKEND_PASSWORD", "owner, admin, video, viewer, billing, support"} {
		if !strings.Contains(usage, s) {
			t.Errorf("usage does not mention %q", s)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write to
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningServer is `tokend serve` running in a goroutine. Its stdout is read
// line by line as it is written, so the test waits on what it prints rather
// than on a clock.
type runningServer struct {
	cancel   context.CancelFunc
	done     chan error
	lines    chan string
	stderr   *syncBuffer
	stopOnce sync.Once
	err      error
}

// startServe runs `tokend serve --addr 127.0.0.1:0 args...`; the port the
// kernel picks is read from the line serve prints.
func startServe(t *testing.T, vars map[string]string, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &runningServer{cancel: cancel, done: make(chan error, 1), lines: make(chan string, 100), stderr: new(syncBuffer)}
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), mapEnv(vars), strings.NewReader(""), pw, s.stderr)
		pw.Close()
		s.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

var servingLine = regexp.MustCompile(`^tokend serving (http://localhost:[0-9]+) \(database (.+)\)$`)

// waitServing returns what serve printed before it said it was serving, the
// address it serves on, and the database it named.
func (s *runningServer) waitServing(t *testing.T) (before []string, base, dbPath string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("serve ended before serving: %v\nstdout: %q\nstderr: %s", s.stop(), before, s.stderr)
			}
			if m := servingLine.FindStringSubmatch(line); m != nil {
				return before, m[1], m[2]
			}
			before = append(before, line)
		case <-timeout:
			t.Fatalf("serve did not say it was serving within 10s; stdout so far: %q\nstderr: %s", before, s.stderr)
		}
	}
}

// stop cancels serve's context and returns what run returned.
func (s *runningServer) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(15 * time.Second):
			s.err = errors.New("serve did not return within 15s of its context ending")
		}
	})
	return s.err
}

// rest is what serve printed after the serving line; call after stop.
func (s *runningServer) rest() []string {
	var lines []string
	for l := range s.lines {
		lines = append(lines, l)
	}
	return lines
}

// browser keeps cookies and does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn goes through the sign-in form as a browser would.
func signIn(t *testing.T, c *http.Client, base, email, password string) {
	t.Helper()
	res, body := fetch(t, c, http.MethodGet, base+"/login", nil)
	m := csrfInput.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET /login: status %d, CSRF input found: %v", res.StatusCode, m != nil)
	}
	res, body = fetch(t, c, http.MethodPost, base+"/login", url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/tokens" {
		t.Fatalf("POST /login as %s: status %d, Location %q, want 303 to /tokens\n%s", email, res.StatusCode, res.Header.Get("Location"), body)
	}
}

// wantTokensPage checks that c is signed in as name on the server at base.
func wantTokensPage(t *testing.T, c *http.Client, base, name string) {
	t.Helper()
	res, body := fetch(t, c, http.MethodGet, base+"/tokens", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, name) {
		t.Errorf("GET /tokens: status %d (Location %q), want 200 for %s", res.StatusCode, res.Header.Get("Location"), name)
	}
}

var demoLine = regexp.MustCompile(`^Demo (.+): sign in as (\S+@\S+) with password (\S+)$`)

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "tokend.db") // serve makes the directory
	keyPath := path + ".session-key"
	credentialsPath := filepath.Join(dir, "data", "demo-credentials.txt")

	// First start: the demo organization is made and its sign-ins printed.
	s := startServe(t, nil, "--db", path, "--demo")
	printed, base, servedDB := s.waitServing(t)
	if servedDB != path {
		t.Errorf("serving line names database %q, want %q", servedDB, path)
	}
	if len(printed) != 2 {
		t.Fatalf("printed before serving: %q, want two demo sign-in lines", printed)
	}
	type account struct{ role, email, password string }
	var accounts []account
	for _, l := range printed {
		m := demoLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("%q is not a demo sign-in line", l)
		}
		accounts = append(accounts, account{m[1], m[2], m[3]})
	}
	if accounts[0].role != "Organization Owner" || accounts[0].email != "owner@acme.example" ||
		accounts[1].role != "Video User" || accounts[1].email != "member@acme.example" {
		t.Errorf("demo accounts = %+v, want the owner then the member", accounts)
	}
	if accounts[0].password == accounts[1].password || len(accounts[0].password) < store.MinPasswordLen {
		t.Errorf("demo passwords %q and %q: want two different passwords of at least %d characters",
			accounts[0].password, accounts[1].password, store.MinPasswordLen)
	}

	res, body := fetch(t, browser(t), http.MethodGet, base+"/healthz", nil)
	if res.StatusCode != http.StatusOK || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("GET /healthz: %d %q, want 200 {\"status\":\"ok\"}", res.StatusCode, body)
	}
	wantMode(t, credentialsPath, 0o600)
	// The session key is made once and kept in the database, where every
	// process and instance finds the same: no file beside it.
	if _, err := os.Stat(keyPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %v, want no session key file", keyPath, err)
	}

	owner := browser(t)
	signIn(t, owner, base, accounts[0].email, accounts[0].password)
	wantTokensPage(t, owner, base, "Ana Owner")
	member := browser(t)
	signIn(t, member, base, accounts[1].email, accounts[1].password)
	wantTokensPage(t, member, base, "Max Member")

	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v after its context ended, want nil (graceful shutdown)\nstderr: %s", err, s.stderr)
	}
	if rest := s.rest(); !slices.Equal(rest, []string{"tokend stopped"}) {
		t.Errorf("printed after serving: %q, want \"tokend stopped\"", rest)
	}
	first := snapshot(t, path)

	// Restart: same key, same sign-ins printed again, nothing added.
	s = startServe(t, nil, "--db", path, "--demo")
	printedAgain, base, _ := s.waitServing(t)
	if want := append(slices.Clone(printed), "(from "+credentialsPath+")"); !slices.Equal(printedAgain, want) {
		t.Errorf("printed on restart:\n%q\nwant\n%q", printedAgain, want)
	}
	// Still signed in: the cookie is keyed with the same key.
	wantTokensPage(t, owner, base, "Ana Owner")
	if err := s.stop(); err != nil {
		t.Fatalf("second serve returned %v, want nil", err)
	}
	s.rest()
	if again := snapshot(t, path); again != first {
		t.Errorf("restarting with --demo changed the database:\nbefore:\n%s\nafter:\n%s", first, again)
	}
	ms := listMembers(t, path)
	if len(ms) != 2 {
		t.Errorf("%d members after a restart, want the 2 demo members", len(ms))
	}
}

// Without --demo, an empty database stays empty and nothing about demo
// accounts is printed.
func TestServeWithoutDemo(t *testing.T) {
	path := tempDBPath(t)
	s := startServe(t, nil, "--db", path)
	printed, base, _ := s.waitServing(t)
	if len(printed) != 0 {
		t.Errorf("printed before serving: %q, want nothing", printed)
	}
	res, _ := fetch(t, browser(t), http.MethodGet, base+"/tokens", nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET /tokens signed out: %d to %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if ms := listMembers(t, path); len(ms) != 0 {
		t.Errorf("%d members, want none", len(ms))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "demo-credentials.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("demo-credentials.txt: %v, want none", err)
	}
}

func TestServeSessionKeyFromEnvironment(t *testing.T) {
	path := tempDBPath(t)
	s := startServe(t, map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 32)}, "--db", path)
	_, base, _ := s.waitServing(t)
	if res, _ := fetch(t, browser(t), http.MethodGet, base+"/healthz", nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", res.StatusCode)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".session-key"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.session-key: %v; want no key file when TOKEND_SESSION_KEY is set", path, err)
	}
}

func TestServeRefusals(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // not defer: the subtests run after this function returns

	tests := []struct {
		name    string
		env     map[string]string
		keyFile string // written to FILE.session-key first, if set
		addr    string // 127.0.0.1:0 if empty
		want    string
	}{
		{
			name: "TOKEND_SESSION_KEY of 31 bytes",
			env:  map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 31)},
			want: "TOKEND_SESSION_KEY must be at least 32 bytes",
		},
		{
			name: "TOKEND_SESSION_KEY of one byte",
			env:  map[string]string{"TOKEND_SESSION_KEY": "k"},
			want: "TOKEND_SESSION_KEY must be at least 32 bytes",
		},
		{
			name:    "key file of 31 bytes",
			keyFile: strings.Repeat("k", 31) + "\n",
			want:    "session-key must be at least 32 bytes",
		},
		{
			name: "address in use",
			addr: busy.Addr().String(),
			want: "address already in use",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tempDBPath(t)
			if tt.keyFile != "" {
				if err := os.WriteFile(path+".session-key", []byte(tt.keyFile), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Bounded, in case serve wrongly starts: it then stops at the
			// deadline and returns nil, which fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			addr := cmp.Or(tt.addr, "127.0.0.1:0")
			var stdout, stderr syncBuffer
			err := run(ctx, []string{"serve", "--db", path, "--addr", addr}, mapEnv(tt.env), strings.NewReader(""), &stdout, &stderr)
			wantOneLineError(t, err, tt.want)
			if strings.Contains(stdout.String(), "serving") {
				t.Errorf("serve started: %q", stdout.String())
			}
			if tt.keyFile == "" && tt.env != nil {
				if _, err := os.Stat(path + ".session-key"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("key file: %v, want none", err)
				}
			}
		})
	}
}
