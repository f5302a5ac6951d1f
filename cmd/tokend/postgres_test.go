package main

// tokend on PostgreSQL (issue 8): the command line with --db postgres://…,
// and three `tokend serve` processes of the real binary on one schema. Each
// test gets a schema of its own from storetest; without TOKEND_TEST_POSTGRES
// they skip (or fail, with TOKEND_REQUIRE_POSTGRES=1).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tokend/store"
	"tokend/store/storetest"
)

// apiAnswer is what an API request got back.
type apiAnswer struct {
	status int
	code   string // error.code of a JSON error body
	header http.Header
	body   []byte
}

// apiRequest sends method url with key as the bearer token and body, if not
// nil, as JSON. It does not fail the test, so that goroutines may call it.
func apiRequest(c *http.Client, method, url, key string, body any) (apiAnswer, error) {
	return apiRequestFrom(c, method, url, key, body, "")
}

// apiRequestFrom is apiRequest from the client address from, as a trusted
// proxy in front of the server names it in X-Forwarded-For ("": none).
func apiRequestFrom(c *http.Client, method, url, key string, body any, from string) (apiAnswer, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiAnswer{}, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return apiAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	res, err := c.Do(req)
	if err != nil {
		return apiAnswer{}, err
	}
	defer res.Body.Close()
	a := apiAnswer{status: res.StatusCode, header: res.Header}
	if a.body, err = io.ReadAll(res.Body); err != nil {
		return a, err
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(a.body, &e) == nil {
		a.code = e.Error.Code
	}
	return a, nil
}

// createAPIToken makes a personal token through the API of the server at
// base with key, and returns its id and key.
func createAPIToken(t *testing.T, c *http.Client, base, key, name string) (int64, string) {
	t.Helper()
	a, err := apiRequest(c, http.MethodPost, base+"/api/v1/tokens", key, map[string]string{"name": name})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Token struct{ ID int64 } `json:"token"`
		Key   string             `json:"key"`
	}
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &out) != nil || out.Key == "" {
		t.Fatalf("POST %s/api/v1/tokens %q: %d %s, want 201 with a key", base, name, a.status, a.body)
	}
	return out.Token.ID, out.Key
}

var keyOnPage = regexp.MustCompile(`tk[ps]_[0-9A-Za-z]{36}`)

// createByForm fills in Add New Personal Token as a browser would and
// returns the key the page shows, this once.
func createByForm(t *testing.T, c *http.Client, base, name string) string {
	t.Helper()
	res, body := fetch(t, c, http.MethodGet, base+"/tokens/personal/new", nil)
	m := csrfInput.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s/tokens/personal/new: %d, CSRF input found: %v", base, res.StatusCode, m != nil)
	}
	res, body = fetch(t, c, http.MethodPost, base+"/tokens/personal", url.Values{"_csrf": {m[1]}, "name": {name}, "expires": {"never"}})
	key := keyOnPage.FindString(body)
	if res.StatusCode != http.StatusCreated || key == "" {
		t.Fatalf("POST %s/tokens/personal %q: %d, key shown: %q", base, name, res.StatusCode, key)
	}
	if _, ok := store.ParseTokenText(key); !ok {
		t.Fatalf("the page showed %q, which is not a key", key)
	}
	return key
}

// pgSnapshot is every row a command could have written to the PostgreSQL
// database at dsn, so that a refused command can be shown to write nothing.
func pgSnapshot(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name, coalesce(max_token_days, 0) FROM orgs ORDER BY id`,
		`SELECT id, org_id, email, name, password_hash, roles, coalesce(left_at, 0) FROM members ORDER BY id`,
		`SELECT id, name, coalesce(revoked_at, 0), coalesce(revoke_reason, ''), coalesce(last_used_at, 0) FROM tokens ORDER BY id`,
		`SELECT count(*) FROM sessions`,
		`SELECT name, value FROM settings ORDER BY name`,
		`SELECT seq FROM change_seq`,
		`SELECT name FROM migrations ORDER BY name`,
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// pgInt reads the one number query q gives on the database at dsn.
func pgInt(t *testing.T, dsn, q string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// pgCount is the number of rows of table in the database at dsn.
func pgCount(t *testing.T, dsn, table string) int64 {
	t.Helper()
	return pgInt(t, dsn, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize())
}

// pgRowsIfAny is pgCount, or 0 where there is no such table yet.
func pgRowsIfAny(t *testing.T, dsn, table string) int64 {
	t.Helper()
	if pgInt(t, dsn, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '`+table+`'`) == 0 {
		return 0
	}
	return pgCount(t, dsn, table)
}

// userListRows is `user list` split into rows of columns.
func userListRows(stdout string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		rows = append(rows, columnGap.Split(strings.TrimSpace(l), -1))
	}
	return rows
}

// noRecord checks a token without counting it as a use, which the handle
// would write down in the background, in the middle of a comparison.
var noRecord = store.VerifyOptions{Load: true}

// The command line on PostgreSQL: db migrate, user add, list, passwd and
// remove, a member added again, and the refusals, all with --db URL.
func TestPostgresCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.Postgres(t)
	pw := func(p string) map[string]string { return map[string]string{"TOKEND_PASSWORD": p} }
	// cli runs `tokend A B --db URL rest...`.
	cli := func(vars map[string]string, args ...string) result {
		t.Helper()
		return runTokend(t, vars, "", append(args[:2:2], append([]string{"--db", dsn}, args[2:]...)...)...)
	}
	ok := func(vars map[string]string, want string, args ...string) result {
		t.Helper()
		r := cli(vars, args...)
		if r.err != nil {
			t.Fatalf("tokend %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
		}
		if want != "" && r.stdout != want {
			t.Errorf("tokend %s printed %q, want %q", strings.Join(args, " "), r.stdout, want)
		}
		return r
	}

	// db migrate on an empty schema, then again: each time up to date,
	// and the second applies nothing.
	files, err := fs.Glob(os.DirFS("../../store/migrations/postgres"), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("PostgreSQL migrations: %v, %v", files, err)
	}
	upToDate := regexp.MustCompile(`^database postgres://\S+: every migration is applied\n$`)
	for i := range 2 {
		r := ok(nil, "", "db", "migrate")
		if !upToDate.MatchString(r.stdout) {
			t.Errorf("db migrate (run %d) printed %q, want \"database postgres://…: every migration is applied\"", i+1, r.stdout)
		}
		if n := pgCount(t, dsn, "migrations"); n != int64(len(files)) {
			t.Errorf("after db migrate run %d: %d migrations recorded, want %d", i+1, n, len(files))
		}
	}
	migrated := pgSnapshot(t, dsn)

	ok(pw(testPassword), "added Ana Owner <ana@acme.test> to Acme Streaming as Organization Owner\n",
		"user", "add", "--org", "Acme Streaming", "--email", "ana@acme.test", "--name", "Ana Owner", "--role", "owner")
	ok(pw(testPassword), "added Max Member <max@acme.test> to Acme Streaming as Video User, Viewer\n",
		"user", "add", "--org", "acme streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", "video,viewer")
	if after := pgSnapshot(t, dsn); after == migrated {
		t.Fatal("user add wrote nothing to the PostgreSQL database")
	}

	header := []string{"ORGANIZATION", "EMAIL", "NAME", "ROLES", "STATUS"}
	ana := []string{"Acme Streaming", "ana@acme.test", "Ana Owner", "Organization Owner", "member"}
	maxRow := []string{"Acme Streaming", "max@acme.test", "Max Member", "Video User, Viewer", "member"}
	if got, want := userListRows(ok(nil, "", "user", "list").stdout), [][]string{header, ana, maxRow}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("user list: %q, want %q", got, want)
	}

	// Refusals write nothing.
	before := pgSnapshot(t, dsn)
	r := cli(pw(testPassword), "user", "add", "--org", "Acme Streaming", "--email", "bob@acme.test", "--name", "Bob", "--role", "owner")
	wantOneLineError(t, r.err, "user add: organization Acme Streaming already has an owner (ana@acme.test)")
	r = cli(pw(testPassword), "user", "add", "--org", "Globex", "--email", "MAX@Acme.Test", "--name", "Max Twice", "--role", "owner")
	wantOneLineError(t, r.err, "user add: a member with email MAX@Acme.Test already exists")
	r = cli(nil, "user", "remove", "--email", "ana@acme.test")
	wantOneLineError(t, r.err, "user remove: ana@acme.test is the owner of Acme Streaming and cannot be removed")
	if after := pgSnapshot(t, dsn); after != before {
		t.Errorf("refused commands changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// passwd: the new password signs in, the old one does not, and a
	// browser signed in before is signed out.
	db := openDB(t, dsn)
	maxM, err := db.Authenticate(ctx, "max@acme.test", testPassword)
	if err != nil {
		t.Fatalf("Max signs in with the password user add set: %v", err)
	}
	sid, err := db.CreateSession(ctx, maxM.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, maxKey, err := db.CreateToken(ctx, maxM, store.NewToken{Kind: store.KindPersonal, Name: "Upload script"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.VerifyWith(ctx, string(maxKey), "", noRecord); err != nil {
		t.Fatalf("Max's key before user remove: %v", err)
	}
	const newPassword = "a brand new passphrase"
	ok(pw(newPassword), "set a new password for Max Member <max@acme.test>; their browsers are signed out\n",
		"user", "passwd", "--email", "Max@acme.test")
	if _, err := db.Authenticate(ctx, "max@acme.test", testPassword); err == nil {
		t.Error("the old password still signs in after user passwd")
	}
	if _, err := db.Authenticate(ctx, "max@acme.test", newPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := db.SessionMember(ctx, sid); err == nil {
		t.Error("a browser signed in before user passwd is still signed in")
	}

	// remove: Max's key stops working at once (this handle had it cached),
	// and the list says he left.
	ok(nil, "removed Max Member <max@acme.test> from Acme Streaming; their personal tokens no longer work\n",
		"user", "remove", "--email", "max@acme.test")
	if _, err := db.VerifyWith(ctx, string(maxKey), "", noRecord); !errors.Is(err, store.ErrTokenRevoked) {
		t.Errorf("Max's key after user remove: %v, want revoked", err)
	}
	if _, err := db.Authenticate(ctx, "max@acme.test", newPassword); err == nil {
		t.Error("Max still signs in after user remove")
	}
	leftOn := time.Now().UTC().Format("2006-01-02")
	maxLeft := []string{"Acme Streaming", "max@acme.test", "Max Member", "Video User, Viewer", "left " + leftOn}
	if got, want := userListRows(ok(nil, "", "user", "list").stdout), [][]string{header, ana, maxLeft}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user list after remove: %q, want %q", got, want)
	}
	r = cli(nil, "user", "remove", "--email", "max@acme.test")
	wantOneLineError(t, r.err, "user remove: max@acme.test already left Acme Streaming")

	// The email is free again: a new member, the one who left kept.
	ok(pw(testPassword), "added Max Again <Max@Acme.test> to Acme Streaming as Viewer\n",
		"user", "add", "--org", "Acme Streaming", "--email", "Max@Acme.test", "--name", "Max Again", "--role", "viewer")
	again := []string{"Acme Streaming", "Max@Acme.test", "Max Again", "Viewer", "member"}
	want := [][]string{header, ana, again, maxLeft}
	if got := userListRows(ok(nil, "", "user", "list").stdout); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user list after adding Max again: %q, want %q", got, want)
	}
	if m, err := db.Authenticate(ctx, "max@acme.test", testPassword); err != nil || m.ID == maxM.ID || m.Name != "Max Again" {
		t.Errorf("sign in as max@acme.test: %+v, %v; want the new member", m, err)
	}
	if _, err := db.VerifyWith(ctx, string(maxKey), "", noRecord); !errors.Is(err, store.ErrTokenRevoked) {
		t.Errorf("the old Max's key once the email is back: %v, want revoked", err)
	}

	// Migrating a database in use changes nothing in it.
	before = pgSnapshot(t, dsn)
	if r := ok(nil, "", "db", "migrate"); !upToDate.MatchString(r.stdout) {
		t.Errorf("db migrate on a database in use printed %q", r.stdout)
	}
	if after := pgSnapshot(t, dsn); after != before {
		t.Errorf("db migrate changed a database that was up to date:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// TOKEND_DB names the database too, and postgresql:// is PostgreSQL.
	alt := "postgresql://" + strings.TrimPrefix(dsn, "postgres://")
	r = runTokend(t, map[string]string{"TOKEND_DB": alt}, "", "user", "list", "--org", "ACME STREAMING")
	if r.err != nil {
		t.Fatalf("user list with TOKEND_DB=postgresql://…: %v", r.err)
	}
	if got := userListRows(r.stdout); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user list with TOKEND_DB=postgresql://…: %q, want %q", got, want)
	}
}

// refusal is how many requests an instance answered before it refused a key
// as revoked, polling for at most a deadline.
type refusal struct {
	requests int
	refused  bool
	other    string        // an answer that was neither 200 nor 401 revoked_token
	after    time.Duration // from the start of the watch to the refusal, for the log
}

// watchRefusal asks the server at base about key, for a client at address
// from, until it is refused as revoked, for at most 2 s.
func watchRefusal(c *http.Client, base, key, from string) refusal {
	var r refusal
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if r.requests > 0 {
			time.Sleep(time.Millisecond) // polling, not a busy loop that starves the server
		}
		r.requests++
		a, err := apiRequestFrom(c, http.MethodGet, base+"/api/v1/token", key, nil, from)
		switch {
		case err != nil:
			r.other = err.Error()
			return r
		case a.status == http.StatusUnauthorized && a.code == "revoked_token":
			r.refused, r.after = true, time.Since(start)
			return r
		case a.status != http.StatusOK:
			r.other = fmt.Sprintf("%d %s", a.status, a.body)
			return r
		}
	}
	return r
}

// watchAll watches every server at once and returns what each saw. Each
// refusal counts against the client address, whose budget of failed checks
// is ten: each watch is from an address of its own.
func watchAll(c *http.Client, key, from string, servers ...*childServer) []refusal {
	out := make([]refusal, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { out[i] = watchRefusal(c, s.base, key, from) })
	}
	wg.Wait()
	return out
}

// wantWorksOn checks that key works on each server as token id.
func wantWorksOn(t *testing.T, c *http.Client, key string, id int64, servers ...*childServer) {
	t.Helper()
	for _, s := range servers {
		status, got, _, err := s.whoAmI(c, key)
		if err != nil || status != http.StatusOK || got != id {
			t.Fatalf("%s GET /api/v1/token: %d, token %d (%v); want 200 as token %d", s.base, status, got, err, id)
		}
	}
}

// Three `tokend serve` processes on one PostgreSQL schema, started together
// with no session key configured, behind an imaginary load balancer: a key
// made through A works on B and C; revoked through B, it is refused by A and
// C on their next request; a member removed by the CLI loses their keys on
// all three; a browser signed in through A is signed in on C; and SIGKILL of
// B while it creates tokens loses nothing it acknowledged.
func TestPostgresInstances(t *testing.T) {
	// Not parallel: "on their next request" is measured on a quiet machine.
	ctx := context.Background()
	dsn := storetest.Postgres(t)
	bin := tokendBinary(t)
	pw := map[string]string{"TOKEND_PASSWORD": testPassword}
	for _, args := range [][]string{
		{"--org", "Acme Streaming", "--email", "ana@acme.test", "--name", "Ana Owner", "--role", "owner"},
		{"--org", "Acme Streaming", "--email", "max@acme.test", "--name", "Max Member", "--role", "video"},
	} {
		if r := runTokend(t, pw, "", append([]string{"user", "add", "--db", dsn}, args...)...); r.err != nil {
			t.Fatalf("user add: %v", r.err)
		}
	}
	db := openDB(t, dsn)
	owner, err := db.Authenticate(ctx, "ana@acme.test", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, ownerKeyText, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	ownerKey := string(ownerKeyText)
	db.Close() // the servers have the database to themselves

	// Started together: they agree on migrations and on one session key.
	// Behind a load balancer on loopback, which names the client.
	proxy := "TOKEND_TRUSTED_PROXIES=127.0.0.1/32"
	servers := []*childServer{launchChild(t, bin, dsn, proxy), launchChild(t, bin, dsn, proxy), launchChild(t, bin, dsn, proxy)}
	for _, s := range servers {
		s.awaitServing(t)
	}
	a, b, c := servers[0], servers[1], servers[2]
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// Signed in through A, signed in on B and C: the cookie jar sends the
	// one cookie to each (cookies ignore the port).
	maxBrowser := browser(t)
	signIn(t, maxBrowser, a.base, "max@acme.test", testPassword)
	wantTokensPage(t, maxBrowser, c.base, "Max Member")
	wantTokensPage(t, maxBrowser, b.base, "Max Member")

	// A key made on A's page works on all three.
	key := createByForm(t, maxBrowser, a.base, "Upload script")
	status, id, name, err := a.whoAmI(client, key)
	if err != nil || status != http.StatusOK || name != "Upload script" {
		t.Fatalf("the key made on A's page, on A: %d %q (%v)", status, name, err)
	}
	wantWorksOn(t, client, key, id, b, c)

	// Revoked through B: A and C, which have it cached, refuse it.
	type round struct {
		what string
		seen []refusal // A, C
	}
	var rounds []round
	revokeThroughB := func(what, key string, id int64) {
		t.Helper()
		ans, err := apiRequest(client, http.MethodDelete, fmt.Sprintf("%s/api/v1/tokens/%d", b.base, id), ownerKey, nil)
		if err != nil || ans.status != http.StatusOK {
			t.Fatalf("DELETE /api/v1/tokens/%d through B: %d %s (%v)", id, ans.status, ans.body, err)
		}
		rounds = append(rounds, round{what, watchAll(client, key, fmt.Sprintf("203.0.113.%d", len(rounds)+1), a, c)})
	}
	revokeThroughB("key made on A's page", key, id)
	// More of the same, for numbers: keys made through A's API.
	for i := range 20 {
		id, key := createAPIToken(t, client, a.base, ownerKey, fmt.Sprintf("propagation %d", i))
		wantWorksOn(t, client, key, id, a, b, c)
		revokeThroughB(fmt.Sprintf("API key %d", i), key, id)
	}

	// Removed by the CLI (the real binary, a process of its own): Max's
	// key is refused by all three, and his browser is signed out.
	key2 := createByForm(t, maxBrowser, c.base, "Second script")
	_, id2, _, _ := c.whoAmI(client, key2)
	wantWorksOn(t, client, key2, id2, a, b, c)
	cmd := exec.Command(bin, "user", "remove", "--db", dsn, "--email", "max@acme.test")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "removed Max Member <max@acme.test>") {
		t.Fatalf("tokend user remove: %v\n%s", err, out)
	}
	removal := watchAll(client, key2, "198.51.100.1", a, b, c)

	firsts, worst, late := map[string]int{}, map[string]int{}, map[string][]string{}
	note := func(server string, r refusal, what string) {
		switch {
		case r.other != "":
			t.Errorf("%s, %s: answered %s, want 200 until refused as revoked", what, server, r.other)
		case !r.refused:
			t.Errorf("%s, %s: still accepted after %d requests over 2 s", what, server, r.requests)
		}
		if r.refused && r.requests == 1 {
			firsts[server]++
		} else if r.refused {
			late[server] = append(late[server], fmt.Sprintf("%d requests/%v", r.requests, r.after.Round(10*time.Microsecond)))
		}
		worst[server] = max(worst[server], r.requests)
	}
	for _, rd := range rounds {
		note("A", rd.seen[0], "revoked through B: "+rd.what)
		note("C", rd.seen[1], "revoked through B: "+rd.what)
	}
	for i, name := range []string{"A", "B", "C"} {
		note(name+" (user remove)", removal[i], "member removed by the CLI")
	}
	t.Logf("revokes through B: refused at the first request after the revoke's answer by A in %d of %d, by C in %d of %d; most requests before refusal: A %d, C %d",
		firsts["A"], len(rounds), firsts["C"], len(rounds), worst["A"], worst["C"])
	t.Logf("revokes not refused at once: A %v, C %v", late["A"], late["C"])
	t.Logf("user remove by the CLI: requests before refusal: A %d, B %d, C %d", removal[0].requests, removal[1].requests, removal[2].requests)
	if firsts["A"] != len(rounds) || firsts["C"] != len(rounds) {
		t.Errorf("a revoke through B was not refused on the very next request everywhere: A %d of %d, C %d of %d",
			firsts["A"], len(rounds), firsts["C"], len(rounds))
	}
	for _, s := range []*childServer{a, b, c} {
		res, _ := fetch(t, maxBrowser, http.MethodGet, s.base+"/tokens", nil)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("%s GET /tokens for removed Max: %d to %q, want 303 to /login", s.base, res.StatusCode, res.Header.Get("Location"))
		}
	}
	wantWorksOn(t, client, ownerKey, ownerTokenID(t, client, a, ownerKey), b, c)

	// SIGKILL B while clients create tokens through its API.
	killMidStream(t, client, b, a, ownerKey)
}

// ownerTokenID is the id of the token key, as the server s says.
func ownerTokenID(t *testing.T, c *http.Client, s *childServer, key string) int64 {
	t.Helper()
	status, id, _, err := s.whoAmI(c, key)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s GET /api/v1/token: %d (%v)", s.base, status, err)
	}
	return id
}

// killMidStream has four clients create tokens through victim's API as
// fast as it answers, kills it with SIGKILL once some creates are
// acknowledged and others are on their way, then checks through survivor
// that every acknowledged token is there and its key works.
func killMidStream(t *testing.T, client *http.Client, victim, survivor *childServer, key string) {
	t.Helper()
	const writers, killAfter = 4, 30
	var (
		mu        sync.Mutex
		acked     []createdToken
		attempted = map[string]bool{}
		problems  []string
		ackCount  atomic.Int64
		inFlight  atomic.Int64
	)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range 10_000 {
				name := fmt.Sprintf("kill %d-%d", w, i)
				mu.Lock()
				attempted[name] = true
				mu.Unlock()
				inFlight.Add(1)
				a, err := apiRequest(client, http.MethodPost, victim.base+"/api/v1/tokens", key, map[string]string{"name": name})
				inFlight.Add(-1)
				if err != nil {
					return // no whole answer: the server is gone, nothing acknowledged
				}
				var out struct {
					Token struct{ ID int64 } `json:"token"`
					Key   string             `json:"key"`
				}
				if a.status != http.StatusCreated || json.Unmarshal(a.body, &out) != nil || out.Key == "" {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("create %q through B: %d %s", name, a.status, a.body))
					mu.Unlock()
					return
				}
				mu.Lock()
				acked = append(acked, createdToken{id: out.Token.ID, name: name, key: out.Key})
				mu.Unlock()
				ackCount.Add(1)
			}
		})
	}
	inFlightAtKill := victim.killWhenBusy(t, &ackCount, &inFlight, killAfter)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(acked) < killAfter {
		t.Fatalf("only %d creates acknowledged by B within 15 s, want at least %d before the kill", len(acked), killAfter)
	}

	// Every token the survivor lists, a page at a time.
	listed := map[string]int64{}
	states := map[string]string{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("more than 100 pages of tokens")
		}
		u := survivor.base + "/api/v1/tokens?kind=personal&state=all&limit=100"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		a, err := apiRequest(client, http.MethodGet, u, key, nil)
		if err != nil || a.status != http.StatusOK {
			t.Fatalf("GET /api/v1/tokens through A: %d %s (%v)", a.status, a.body, err)
		}
		var out struct {
			Tokens []struct {
				ID    int64
				Name  string
				State string
			} `json:"tokens"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		for _, tok := range out.Tokens {
			listed[tok.Name], states[tok.Name] = tok.ID, tok.State
		}
		if cursor = out.NextCursor; cursor == "" {
			break
		}
	}
	for _, c := range acked {
		if id, ok := listed[c.name]; !ok || id != c.id || states[c.name] != store.StateActive {
			t.Errorf("acknowledged %q (id %d): listed through A as id %d, %q (listed: %v); want it there and active", c.name, c.id, id, states[c.name], ok)
			continue
		}
		if status, id, name, err := survivor.whoAmI(client, c.key); err != nil || status != http.StatusOK || id != c.id || name != c.name {
			t.Errorf("acknowledged %q (id %d) on A: %d, token %d %q (%v); want 200 as itself", c.name, c.id, status, id, name, err)
		}
	}
	made := 0
	for name := range listed {
		if strings.HasPrefix(name, "kill ") {
			made++
			if !attempted[name] {
				t.Errorf("token %q: no request asked for it", name)
			}
		}
	}
	t.Logf("SIGKILL of B: %d creates acknowledged, %d in flight at the kill, %d tokens made", len(acked), inFlightAtKill, made)
}
