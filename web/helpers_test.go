package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"tokend/store"
)

const testPassword = "correct horse battery staple"

// testApp is a real server on a fresh database in a temp dir, with two
// organizations: Acme (owner Ana, members Max and Mia) and Globex (owner Gus).
type testApp struct {
	t      *testing.T
	db     *store.DB
	server *httptest.Server
	// now is the time the test reads; clock is the same time as the store
	// reads it, from any goroutine (its background flush of last use runs
	// every second). setNow moves both.
	now   time.Time
	clock atomic.Int64 // Unix nanoseconds

	owner, member, member2, otherOwner store.Member
}

// setNow moves the clock of the store and of the test.
func (a *testApp) setNow(t time.Time) {
	a.now = t
	a.clock.Store(t.UnixNano())
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	return newTestAppWith(t, nil)
}

// newTestAppWith is newTestApp with a say in the server's Config.
func newTestAppWith(t *testing.T, configure func(*Config)) *testApp {
	t.Helper()
	return newTestAppOn(t, filepath.Join(t.TempDir(), "tokend.db"), configure)
}

// newTestAppOn is newTestAppWith on the store at dsn, which must be new and
// empty: a SQLite file path, or a postgres:// URL (storetest.Postgres gives
// one with a schema of the test's own).
func newTestAppOn(t *testing.T, dsn string, configure func(*Config)) *testApp {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &testApp{t: t, db: db, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	db.PasswordCost = bcrypt.MinCost
	a.clock.Store(a.now.UnixNano())
	db.Now = func() time.Time { return time.Unix(0, a.clock.Load()).UTC() }

	cfg := Config{
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.server = httptest.NewServer(srv)
	t.Cleanup(a.server.Close)

	a.owner = a.addMember("Acme Streaming", "ana@acme.test", "Ana Owner", store.RoleOwner)
	a.member = a.addMember("Acme Streaming", "max@acme.test", "Max Member", store.RoleVideo)
	a.member2 = a.addMember("Acme Streaming", "mia@acme.test", "Mia Member", store.RoleViewer)
	a.otherOwner = a.addMember("Globex", "gus@globex.test", "Gus Owner", store.RoleOwner)
	return a
}

func (a *testApp) addMember(org, email, name string, roles ...store.Role) store.Member {
	a.t.Helper()
	m, err := a.db.CreateMember(context.Background(), store.NewMember{
		OrgName: org, Email: email, Name: name, Password: testPassword, Roles: roles,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

// createToken makes a token straight in the store, as setup for a test.
func (a *testApp) createToken(by store.Member, kind store.TokenKind, name string, roles ...store.Role) (store.Token, store.TokenText) {
	a.t.Helper()
	t, key, err := a.db.CreateToken(context.Background(), by, store.NewToken{Kind: kind, Name: name, Roles: roles})
	if err != nil {
		a.t.Fatal(err)
	}
	return t, key
}

// token reads a token as the owner of its organization sees it.
func (a *testApp) token(id int64, orgOwner store.Member) store.Token {
	a.t.Helper()
	t, err := a.db.Token(context.Background(), orgOwner, id)
	if err != nil {
		a.t.Fatal(err)
	}
	return t
}

// client is a browser: it keeps cookies and remembers the CSRF token of the
// last page it read, and does not follow redirects so tests can see them.
type client struct {
	t    *testing.T
	app  *testApp
	http *http.Client
	csrf string
}

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, app: a, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn returns a client signed in as m through the sign-in form.
func (a *testApp) signIn(m store.Member) *client {
	a.t.Helper()
	c := a.client()
	c.get("/login")
	r := c.postForm("/login", url.Values{"email": {m.Email}, "password": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("sign in as %s: status %d\n%s", m.Email, r.StatusCode, r.body)
	}
	c.get("/tokens")
	return c
}

type response struct {
	*http.Response
	body string
	doc  *goquery.Document
}

// text is the trimmed text of the elements matching selector.
func (r *response) text(selector string) string {
	return strings.Join(strings.Fields(r.doc.Find(selector).Text()), " ")
}

func (r *response) has(selector string) bool { return r.doc.Find(selector).Length() > 0 }

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	if v, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value"); ok {
		c.csrf = v
	}
	return &response{Response: res, body: string(b), doc: doc}
}

func (c *client) request(method, path string, body io.Reader, header ...string) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(method, c.app.server.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// get fetches path; header is name, value pairs.
func (c *client) get(path string, header ...string) *response {
	c.t.Helper()
	return c.do(c.request(http.MethodGet, path, nil, header...))
}

// postForm posts a form with the CSRF token of the last page read, as the
// browser does when a person presses the button.
func (c *client) postForm(path string, form url.Values, header ...string) *response {
	c.t.Helper()
	if c.csrf == "" {
		c.t.Fatal("no CSRF token: read a page with a form first")
	}
	form = cloneValues(form)
	if !form.Has("_csrf") {
		form.Set("_csrf", c.csrf)
	}
	return c.postRaw(path, form, header...)
}

// postRaw posts the form exactly as given, CSRF token or not.
func (c *client) postRaw(path string, form url.Values, header ...string) *response {
	c.t.Helper()
	req := c.request(http.MethodPost, path, strings.NewReader(form.Encode()), header...)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// location is where a redirect sends the browser, path and query only.
func (r *response) location() string {
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		return ""
	}
	return u.RequestURI()
}
