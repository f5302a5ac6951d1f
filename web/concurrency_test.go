package web

// Many members creating and revoking tokens at once, through the real router
// and a real SQLite file, on the page and on the API. Run with -race.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

const (
	concMembers   = 20 // extra members, each with its own lanes
	concPageLanes = 5  // goroutines per member working the page
	concAPILanes  = 5  // goroutines per member working the API
	// concLanes is every goroutine of every member: the requests in flight
	// together once the barrier falls.
	concLanes = concMembers * (concPageLanes + concAPILanes)
	// concOwn is how many tokens of its own each lane makes after asking
	// for the shared name; it revokes the first of them.
	concOwn = 2
	// concShared is the name every lane of a member asks for at once; the
	// API lanes ask in lower case, which names the same token.
	concShared = "Shared Deploy Key"
)

// concMember is one member and what its lanes act with.
type concMember struct {
	m      store.Member
	http   *http.Client // signed in: the page lanes share its session
	csrf   string
	apiKey store.TokenText // a personal token of the member's, for the API lanes
}

// concCreate is a create the server acknowledged with 201.
type concCreate struct {
	member int
	via    string // "page" or "api"
	name   string
	id     int64
	key    string
}

// concRevoke is a revoke the server acknowledged.
type concRevoke struct {
	member  int
	via     string
	id      int64
	revoked bool // the API's "revoked": this request did it (page: unknown, true)
}

// concLog collects what the lanes saw. Lanes never call t.Fatal: they run
// off the test's goroutine.
type concLog struct {
	mu       sync.Mutex
	problems []string
	creates  []concCreate
	revokes  []concRevoke
	// conflicts counts the 409s per member and name (lower case).
	conflicts map[string]int
	// slowest is the longest wait for an answer, and for what.
	slowest     time.Duration
	slowestWhat string
}

func (l *concLog) took(what string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d > l.slowest {
		l.slowest, l.slowestWhat = d, what
	}
}

func (l *concLog) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

func (l *concLog) created(c concCreate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creates = append(l.creates, c)
}

func (l *concLog) revokedOne(r concRevoke) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revokes = append(l.revokes, r)
}

func (l *concLog) conflict(member int, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conflicts[fmt.Sprintf("%d/%s", member, strings.ToLower(name))]++
}

// concSend makes one request and reads the whole answer. Every answer is
// checked for what must never reach a person: a 5xx, or SQLite's own words.
func (l *concLog) send(c *http.Client, req *http.Request, what string) (int, http.Header, string, bool) {
	start := time.Now()
	res, err := c.Do(req)
	l.took(what, time.Since(start))
	if err != nil {
		l.problem("%s: %v", what, err)
		return 0, nil, "", false
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		l.problem("%s: reading the body: %v", what, err)
		return 0, nil, "", false
	}
	body := string(b)
	lower := strings.ToLower(body)
	switch {
	case res.StatusCode >= 500:
		l.problem("%s: status %d: %s", what, res.StatusCode, concExcerpt(body))
		return 0, nil, "", false
	case strings.Contains(lower, "database is locked"), strings.Contains(lower, "sqlite_busy"),
		strings.Contains(lower, "sqlite_locked"), strings.Contains(lower, "database table is locked"):
		l.problem("%s: status %d with SQLite's words in the body: %s", what, res.StatusCode, concExcerpt(body))
		return 0, nil, "", false
	}
	return res.StatusCode, res.Header, body, true
}

// pageCreate posts the Add New Personal Token form. On 201 it reads the key
// and the new row's id from the page, as a person would see them.
func (l *concLog) pageCreate(base string, cm *concMember, member int, name string) {
	what := fmt.Sprintf("member %d: page create %q", member, name)
	form := url.Values{"_csrf": {cm.csrf}, "name": {name}}
	req, _ := http.NewRequest(http.MethodPost, base+"/tokens/personal", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _, body, ok := l.send(cm.http, req, what)
	if !ok {
		return
	}
	switch status {
	case http.StatusConflict:
		l.conflict(member, name)
		return
	case http.StatusCreated:
	default:
		l.problem("%s: status %d, want 201 or 409: %s", what, status, concExcerpt(body))
		return
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		l.problem("%s: %v", what, err)
		return
	}
	key, _ := doc.Find(`#new-key-value`).Attr("value")
	var id int64
	doc.Find(`tr[data-testid=token-row]`).Each(func(_ int, row *goquery.Selection) {
		if strings.EqualFold(strings.TrimSpace(row.Find(`[data-testid=token-name]`).Text()), name) {
			v, _ := row.Attr("data-token-id")
			id, _ = strconv.ParseInt(v, 10, 64)
		}
	})
	if key == "" || id == 0 {
		l.problem("%s: 201 without the key (%q) or the row (id %d)", what, key, id)
		return
	}
	l.created(concCreate{member: member, via: "page", name: name, id: id, key: key})
}

// pageRevoke presses Yes, Revoke without JavaScript: 303 back to the list.
func (l *concLog) pageRevoke(base string, cm *concMember, member int, id int64) {
	what := fmt.Sprintf("member %d: page revoke %d", member, id)
	form := url.Values{"_csrf": {cm.csrf}}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/tokens/%d/revoke", base, id), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, h, body, ok := l.send(cm.http, req, what)
	if !ok {
		return
	}
	if status != http.StatusSeeOther || h.Get("Location") != "/tokens" {
		l.problem("%s: status %d to %q, want 303 to /tokens: %s", what, status, h.Get("Location"), concExcerpt(body))
		return
	}
	l.revokedOne(concRevoke{member: member, via: "page", id: id, revoked: true})
}

func (l *concLog) apiCreate(c *http.Client, base string, cm *concMember, member int, name string) {
	what := fmt.Sprintf("member %d: API create %q", member, name)
	in, _ := json.Marshal(map[string]string{"name": name})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/tokens", strings.NewReader(string(in)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(cm.apiKey))
	status, _, body, ok := l.send(c, req, what)
	if !ok {
		return
	}
	switch status {
	case http.StatusConflict:
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal([]byte(body), &e); e.Error.Code != "conflict" {
			l.problem("%s: 409 with code %q, want conflict", what, e.Error.Code)
		}
		l.conflict(member, name)
		return
	case http.StatusCreated:
	default:
		l.problem("%s: status %d, want 201 or 409: %s", what, status, concExcerpt(body))
		return
	}
	var out struct {
		Token struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"token"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Key == "" || out.Token.ID == 0 {
		l.problem("%s: 201 with body %q (%v)", what, body, err)
		return
	}
	l.created(concCreate{member: member, via: "api", name: name, id: out.Token.ID, key: out.Key})
}

func (l *concLog) apiRevoke(c *http.Client, base string, cm *concMember, member int, id int64) {
	what := fmt.Sprintf("member %d: API revoke %d", member, id)
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/v1/tokens/%d", base, id), nil)
	req.Header.Set("Authorization", "Bearer "+string(cm.apiKey))
	status, _, body, ok := l.send(c, req, what)
	if !ok {
		return
	}
	var out struct {
		Token struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
		} `json:"token"`
		Revoked bool `json:"revoked"`
	}
	if err := json.Unmarshal([]byte(body), &out); status != http.StatusOK || err != nil || out.Token.ID != id || out.Token.State != store.StateRevoked {
		l.problem("%s: status %d, body %s, want 200 with the token revoked", what, status, concExcerpt(body))
		return
	}
	l.revokedOne(concRevoke{member: member, via: "api", id: id, revoked: out.Revoked})
}

// createdBy finds the acknowledged create of member's token name, if any.
func (l *concLog) createdBy(member int, name string) (concCreate, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.creates {
		if c.member == member && c.name == name {
			return c, true
		}
	}
	return concCreate{}, false
}

// concGate stands in front of the router and holds the first want requests
// until all of them have arrived, so that they are in flight together,
// whatever order the scheduler starts the lanes in; then it lets them into
// the router at once. It counts the requests in the server, held or not.
type concGate struct {
	want    int
	wait    time.Duration // how long to hold for the rest before letting in who is there
	next    http.Handler
	open    chan struct{}
	mu      sync.Mutex
	arrived int
	now     int // requests in the server at this moment
	peak    int
	timeout bool // the gate opened on wait, not on the last arrival
}

func (g *concGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.now++
	g.peak = max(g.peak, g.now)
	held := g.arrived < g.want
	if held {
		g.arrived++
		if g.arrived == g.want {
			close(g.open)
		}
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	if held {
		select {
		case <-g.open:
		case <-time.After(g.wait):
			g.mu.Lock()
			g.timeout = true
			g.mu.Unlock()
		}
	}
	g.next.ServeHTTP(w, r)
}

// Twenty members at once, each with five lanes on the page and five on the
// API, 200 goroutines released by one barrier, their first requests all in
// the server together: every lane asks for the same name, makes two tokens
// of its own and revokes the first; an API lane revokes with two requests
// at once (about 900 requests, 700 of them writes). Nothing may fail on the
// server's side, and the store must hold exactly what was acknowledged.
func TestConcurrentCreatesAndRevokes(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	ctx := context.Background()

	// The lanes reach the router through the gate, on a server of their
	// own; cookies do not care for the port, so the sessions made through
	// app.server hold there too.
	gate := &concGate{want: concLanes, wait: 15 * time.Second, next: app.server.Config.Handler, open: make(chan struct{})}
	gated := httptest.NewServer(gate)
	t.Cleanup(gated.Close)
	base := gated.URL
	tr := &http.Transport{MaxIdleConnsPerHost: concLanes + 16}
	t.Cleanup(tr.CloseIdleConnections)
	api := &http.Client{Transport: tr}

	members := make([]*concMember, concMembers)
	for i := range members {
		m := app.addMember("Acme Streaming", fmt.Sprintf("load%02d@acme.test", i), fmt.Sprintf("Load Member %02d", i), store.RoleVideo)
		c := app.signIn(m)
		if c.csrf == "" {
			t.Fatalf("no CSRF token after signing in as %s", m.Email)
		}
		_, key := app.createToken(m, store.KindPersonal, "load api")
		page := &http.Client{Jar: c.http.Jar, CheckRedirect: c.http.CheckRedirect, Transport: tr}
		members[i] = &concMember{m: m, http: page, csrf: c.csrf, apiKey: key}
	}

	log := &concLog{conflicts: map[string]int{}}
	began := time.Now()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, cm := range members {
		for lane := range concPageLanes {
			wg.Go(func() {
				<-start
				log.pageCreate(base, cm, i, concShared)
				for k := range concOwn {
					log.pageCreate(base, cm, i, fmt.Sprintf("page-%d-%d", lane, k))
				}
				if c, ok := log.createdBy(i, fmt.Sprintf("page-%d-0", lane)); ok {
					log.pageRevoke(base, cm, i, c.id)
				}
			})
		}
		for lane := range concAPILanes {
			wg.Go(func() {
				<-start
				log.apiCreate(api, base, cm, i, strings.ToLower(concShared))
				for k := range concOwn {
					log.apiCreate(api, base, cm, i, fmt.Sprintf("api-%d-%d", lane, k))
				}
				if c, ok := log.createdBy(i, fmt.Sprintf("api-%d-0", lane)); ok {
					// Twice at once: both succeed, one of them did it.
					var both sync.WaitGroup
					for range 2 {
						both.Go(func() { log.apiRevoke(api, base, cm, i, c.id) })
					}
					both.Wait()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	took := time.Since(began)

	gate.mu.Lock()
	arrived, peak, timedOut := gate.arrived, gate.peak, gate.timeout
	gate.mu.Unlock()
	if timedOut || peak < concLanes {
		t.Errorf("at most %d requests were in the server at once (%d reached the gate), want %d", peak, arrived, concLanes)
	}
	for i, p := range log.problems {
		if i == 20 {
			t.Errorf("… and %d more problems", len(log.problems)-i)
			break
		}
		t.Error(p)
	}
	if t.Failed() {
		t.FailNow()
	}

	lanes := concPageLanes + concAPILanes
	for i, cm := range members {
		ts, err := app.db.ListTokens(ctx, cm.m, store.TokenFilter{Kind: store.KindPersonal, MemberID: cm.m.ID, IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string][]store.Token{}
		active := map[string]int{}
		revokedRows := 0
		for _, tok := range ts {
			n := strings.ToLower(tok.Name)
			byName[n] = append(byName[n], tok)
			if tok.Active() {
				active[n]++
			} else {
				revokedRows++
			}
		}
		// A name is never active twice for one member.
		for n, c := range active {
			if c > 1 {
				t.Errorf("member %d: %d active tokens named %q", i, c, n)
			}
		}

		// The shared name: one winner, every other lane told 409.
		var winners []concCreate
		for _, c := range log.creates {
			if c.member == i && strings.EqualFold(c.name, concShared) {
				winners = append(winners, c)
			}
		}
		if len(winners) != 1 || log.conflicts[fmt.Sprintf("%d/%s", i, strings.ToLower(concShared))] != lanes-1 {
			t.Errorf("member %d: %d creates of %q acknowledged and %d refused with 409, want 1 and %d",
				i, len(winners), concShared, log.conflicts[fmt.Sprintf("%d/%s", i, strings.ToLower(concShared))], lanes-1)
		}
		if rows := byName[strings.ToLower(concShared)]; len(rows) != 1 {
			t.Errorf("member %d: %d rows named %q, want 1", i, len(rows), concShared)
		}

		// Every acknowledged create is there once, as acknowledged, and
		// its key works unless it was revoked afterwards.
		revokedIDs := map[int64]int{}
		didRevoke := map[int64]int{}
		for _, r := range log.revokes {
			if r.member == i {
				revokedIDs[r.id]++
				if r.revoked {
					didRevoke[r.id]++
				}
			}
		}
		creates := 0
		for _, c := range log.creates {
			if c.member != i {
				continue
			}
			creates++
			rows := byName[strings.ToLower(c.name)]
			if len(rows) != 1 || rows[0].ID != c.id || rows[0].MemberID != cm.m.ID {
				t.Errorf("member %d: acknowledged %s create %q (id %d) has rows %+v, want exactly that one", i, c.via, c.name, c.id, rows)
				continue
			}
			row := rows[0]
			if last4 := c.key[len(c.key)-4:]; row.LastFour != last4 {
				t.Errorf("member %d: %q stored with last four %q, key ends %q", i, c.name, row.LastFour, last4)
			}
			p, err := app.db.Verify(ctx, c.key, "192.0.2.1")
			switch {
			case revokedIDs[c.id] > 0:
				if !errors.Is(err, store.ErrTokenRevoked) {
					t.Errorf("member %d: key of revoked %q: Verify = %v, want revoked", i, c.name, err)
				}
			case err != nil:
				t.Errorf("member %d: key of %q does not verify: %v", i, c.name, err)
			case p.TokenID != c.id || p.MemberID != cm.m.ID:
				t.Errorf("member %d: key of %q verifies as token %d of member %d, want %d of %d", i, c.name, p.TokenID, p.MemberID, c.id, cm.m.ID)
			}
		}
		// Every acknowledged revoke holds.
		for id, n := range revokedIDs {
			var row *store.Token
			for k := range ts {
				if ts[k].ID == id {
					row = &ts[k]
				}
			}
			if row == nil || row.Active() || row.RevokeReason != store.ReasonRevoked {
				t.Errorf("member %d: acknowledged revoke of %d does not hold: %+v", i, id, row)
			}
			if via := viaOf(log.revokes, id); via == "api" && (n != 2 || didRevoke[id] != 1) {
				t.Errorf("member %d: token %d revoked twice at once: %d answers, %d saying revoked, want 2 and 1", i, id, n, didRevoke[id])
			}
		}

		// The counts add up: the API token, the shared name, each lane's
		// own; one of each lane's revoked.
		if want := 1 + 1 + concOwn*lanes; creates != 1+concOwn*lanes || len(ts) != want {
			t.Errorf("member %d: %d creates acknowledged and %d tokens stored, want %d and %d", i, creates, len(ts), 1+concOwn*lanes, want)
		}
		if len(revokedIDs) != lanes || revokedRows != lanes {
			t.Errorf("member %d: %d tokens revoked by acknowledged requests and %d revoked rows, want %d", i, len(revokedIDs), revokedRows, lanes)
		}
	}

	// Nothing landed anywhere else.
	all, err := app.db.ListTokens(ctx, app.owner, store.TokenFilter{IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := concMembers * (2 + concOwn*lanes); len(all) != want {
		t.Errorf("%d tokens in the organization, want %d", len(all), want)
	}
	t.Logf("%d lanes, %d requests in the server at most at once; %d creates acknowledged, %d refused as duplicates, %d revokes acknowledged in %v; slowest answer %v (%s)",
		concLanes, peak, len(log.creates), sumValues(log.conflicts), len(log.revokes), took.Round(time.Millisecond), log.slowest.Round(time.Millisecond), log.slowestWhat)
}

// concExcerpt is what a failure shows of a body: a page's text, not its
// markup, and not too much of it.
func concExcerpt(body string) string {
	if doc, err := goquery.NewDocumentFromReader(strings.NewReader(body)); err == nil && strings.Contains(body, "<html") {
		body = doc.Find("main").Text()
	}
	body = strings.Join(strings.Fields(body), " ")
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return body
}

func viaOf(rs []concRevoke, id int64) string {
	for _, r := range rs {
		if r.id == id {
			return r.via
		}
	}
	return ""
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
