package web

// The Audit Log's exports and its API: formulas neutralised, every
// matching event past one page, cursor paging, refusals by name, and never
// a key.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

// exportAs downloads the export of query as c. The body is a file, not a
// page: it is read as it is, never parsed as HTML.
func exportAs(t *testing.T, c *client, query string) *response {
	t.Helper()
	res, err := c.http.Do(c.request(http.MethodGet, "/audit/export?"+query, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("export %s: status %d\n%s", query, res.StatusCode, b)
	}
	if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
		t.Errorf("Cache-Control %q", got)
	}
	return &response{Response: res, body: string(b)}
}

func parseCSV(t *testing.T, body string) [][]string {
	t.Helper()
	body, ok := strings.CutPrefix(body, utf8BOM)
	if !ok {
		t.Error("the CSV does not start with a UTF-8 byte order mark")
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], auditColumns) {
		t.Fatalf("CSV header %q, want %q", rows[0], auditColumns)
	}
	return rows
}

func parseJSONL(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

// TestExportNeutralisesFormulas: names and user agents that a spreadsheet
// would run come out of the CSV with a quote in front, in every cell; the
// JSON lines keep them as they are.
func TestExportNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	evil := app.addMember("Acme Streaming", "eve@acme.test", `=HYPERLINK("http://evil.example","x")`, store.RoleVideo)
	uas := []string{"=1+1", "+1", "-1", "@SUM(A1)", "=cmd|' /C calc'!A0"}
	b := app.signIn(evil)
	for i, ua := range uas {
		r := b.postForm("/tokens/personal", url.Values{"name": {[]string{"=HYPERLINK(1)", "@SUM(1)", "+1", "-1", "plain"}[i]}, "expires": {"30"}},
			"User-Agent", ua, "X-Forwarded-For", auditIP)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("create: status %d", r.StatusCode)
		}
	}
	owner := app.signIn(app.owner)
	r := exportAs(t, owner, "format=csv")
	if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/csv") {
		t.Errorf("Content-Type %q", got)
	}
	wantName := "tokend-audit-acme-streaming-" + app.now.Format(time.DateOnly) + ".csv"
	if got := r.Header.Get("Content-Disposition"); got != `attachment; filename=`+wantName {
		t.Errorf("Content-Disposition %q, want attachment named %s", got, wantName)
	}
	rows := parseCSV(t, r.body)
	if len(rows)-1 != len(app.auditEvents(t, app.owner)) {
		t.Errorf("%d rows, want %d", len(rows)-1, len(app.auditEvents(t, app.owner)))
	}
	for i, row := range rows {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d, %s: %q would run as a formula", i, auditColumns[j], cell)
			}
		}
	}
	col := slices.Index(auditColumns, "user_agent")
	actor := slices.Index(auditColumns, "actor")
	var gotUAs []string
	evilActor := false
	for _, row := range rows[1:] {
		if row[col] != "" && row[col] != auditUA && !strings.HasPrefix(row[col], "Go-http-client") {
			gotUAs = append(gotUAs, row[col])
		}
		if row[actor] == `'`+auditMemberLabel(evil) {
			evilActor = true
		}
	}
	for _, ua := range uas {
		if !slices.Contains(gotUAs, "'"+ua) {
			t.Errorf("user agent %q not exported as %q: %q", ua, "'"+ua, gotUAs)
		}
	}
	if !evilActor {
		t.Errorf("the actor %q is not exported with a quote in front", auditMemberLabel(evil))
	}

	lines := parseJSONL(t, exportAs(t, owner, "format=jsonl").body)
	if len(lines) != len(rows)-1 {
		t.Errorf("%d JSON lines, %d CSV rows", len(lines), len(rows)-1)
	}
	var jsonUAs []string
	for _, m := range lines {
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, slices.Sorted(slices.Values(auditColumns))) {
			t.Errorf("JSON line fields %q, want %q", keys, auditColumns)
		}
		if _, ok := m["details"].(map[string]any); !ok {
			t.Errorf("details %v are not an object", m["details"])
		}
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(m["time"])); err != nil {
			t.Errorf("time %v: %v", m["time"], err)
		}
		jsonUAs = append(jsonUAs, fmt.Sprint(m["user_agent"]))
	}
	for _, ua := range uas {
		if !slices.Contains(jsonUAs, ua) {
			t.Errorf("JSON lines lack user agent %q as sent", ua)
		}
	}
}

// TestExportIsTheFilteredView: an export holds every event the filters
// match, past one page of the store, newest first; the API pages through
// the same events.
func TestExportIsTheFilteredView(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	_, adminKey := app.createToken(app.owner, store.KindSystem, "exporter", store.RoleAdmin)
	for i := range store.MaxAuditPage + 10 {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("bulk-%04d", i))
	}
	victim, _ := app.createToken(app.member, store.KindPersonal, "victim")
	app.revokeInStore(t, app.owner, victim.ID)
	c := app.signIn(app.owner)
	all := app.auditEvents(t, app.owner)

	rows := parseCSV(t, exportAs(t, c, "format=csv").body)[1:]
	if len(rows) != len(all) {
		t.Fatalf("%d rows, want all %d events", len(rows), len(all))
	}
	for i, row := range rows {
		if row[0] != strconv.FormatInt(all[i].ID, 10) {
			t.Fatalf("row %d is event %s, want %d", i, row[0], all[i].ID)
		}
	}
	lines := parseJSONL(t, exportAs(t, c, fmt.Sprintf("format=jsonl&token_id=%d", victim.ID)).body)
	if len(lines) != 2 || lines[0]["action"] != store.ActionTokenRevoked || lines[1]["action"] != store.ActionTokenCreated {
		t.Errorf("the victim's export: %v", lines)
	}

	var ids []int64
	cursor := ""
	for pages := 0; ; pages++ {
		q := "/api/v1/audit-events?limit=1000"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page wireAuditPage
		app.apiGet(t, q, string(adminKey)).ok(t, http.StatusOK, &page)
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == nil {
			break
		}
		if len(page.Events) != 1000 || pages > 2 {
			t.Fatalf("page %d of %d events, with a next cursor", pages, len(page.Events))
		}
		cursor = *page.NextCursor
	}
	if !slices.Equal(ids, eventIDs(all)) {
		t.Errorf("the API pages list %d events, want %d", len(ids), len(all))
	}
}

// TestAuditAPI: a token acting as admin reads the log, filtered and paged
// by cursor; any other token is refused, and so is a bad parameter, by
// name.
func TestAuditAPI(t *testing.T) {
	t.Parallel()
	s := newAuditScene(t)
	tok, _ := s.createToken(s.member, store.KindPersonal, "api-filtered")
	s.revokeInStore(t, s.owner, tok.ID)
	_, maxKey := s.createToken(s.member, store.KindPersonal, "max-video")
	_, videoKey := s.createToken(s.owner, store.KindSystem, "video-only", store.RoleVideo)
	_, ownerKey := s.createToken(s.owner, store.KindPersonal, "owner-personal")
	all := s.auditEvents(t, s.owner)

	t.Run("shape", func(t *testing.T) {
		r := s.apiGet(t, "/api/v1/audit-events", s.adminKey)
		body := r.object(t)
		if keys := slices.Sorted(maps.Keys(body)); !slices.Equal(keys, []string{"events", "next_cursor"}) || body["next_cursor"] != nil {
			t.Errorf("body keys %q, next_cursor %v", keys, body["next_cursor"])
		}
		events, _ := body["events"].([]any)
		if len(events) != len(all) {
			t.Fatalf("%d events, want %d", len(events), len(all))
		}
		for _, e := range events {
			m, _ := e.(map[string]any)
			if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{"action", "actor", "client_ip", "details", "id", "target", "time", "user_agent"}) {
				t.Fatalf("event keys %q", keys)
			}
			for _, party := range []string{"actor", "target"} {
				p, _ := m[party].(map[string]any)
				if keys := slices.Sorted(maps.Keys(p)); !slices.Equal(keys, []string{"kind", "label", "member_id", "token_id"}) {
					t.Fatalf("%s keys %q", party, keys)
				}
			}
		}
	})
	t.Run("the owner's personal token acts as admin", func(t *testing.T) {
		s.apiGet(t, "/api/v1/audit-events", string(ownerKey)).ok(t, http.StatusOK, nil)
	})
	t.Run("paging by cursor", func(t *testing.T) {
		var ids []int64
		cursor := ""
		for {
			q := "/api/v1/audit-events?limit=2"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var page wireAuditPage
			s.apiGet(t, q, s.adminKey).ok(t, http.StatusOK, &page)
			if len(page.Events) > 2 {
				t.Fatalf("a page of %d", len(page.Events))
			}
			for _, e := range page.Events {
				ids = append(ids, e.ID)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if !slices.Equal(ids, eventIDs(all)) {
			t.Errorf("paged %v, want %v", ids, eventIDs(all))
		}
	})
	t.Run("filters", func(t *testing.T) {
		for q, match := range map[string]func(store.AuditEvent) bool{
			"action=token.revoked":                          func(e store.AuditEvent) bool { return e.Action == store.ActionTokenRevoked },
			"actor_kind=member":                             func(e store.AuditEvent) bool { return e.ActorKind == store.ActorMember },
			fmt.Sprintf("token_id=%d", tok.ID):              func(e store.AuditEvent) bool { return e.TargetTokenID == tok.ID || e.ActorTokenID == tok.ID },
			fmt.Sprintf("member_id=%d", s.member.ID):        func(e store.AuditEvent) bool { return s.aboutMember(t, e, s.member.ID) },
			fmt.Sprintf("actor_member_id=%d", s.owner.ID):   func(e store.AuditEvent) bool { return e.ActorMemberID == s.owner.ID },
			fmt.Sprintf("actor_token_id=%d", s.adminTok.ID): func(e store.AuditEvent) bool { return e.ActorTokenID == s.adminTok.ID },
			"since=2026-11-26T12:00:00Z&until=2026-11-26T12:00:01Z": func(e store.AuditEvent) bool {
				return !e.At.Before(s.now) && e.At.Before(s.now.Add(time.Second))
			},
			"until=2026-11-26": func(store.AuditEvent) bool { return false },
		} {
			var want []int64
			for _, e := range all {
				if match(e) {
					want = append(want, e.ID)
				}
			}
			var page wireAuditPage
			s.apiGet(t, "/api/v1/audit-events?"+q, s.adminKey).ok(t, http.StatusOK, &page)
			var got []int64
			for _, e := range page.Events {
				got = append(got, e.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", q, got, want)
			}
		}
	})
	t.Run("tokens not acting as admin", func(t *testing.T) {
		for name, key := range map[string]store.TokenText{"member's personal": maxKey, "system video": videoKey} {
			if e := s.apiGet(t, "/api/v1/audit-events", string(key)).refusal(t, http.StatusForbidden, "insufficient_role"); e.Message == "" {
				t.Errorf("%s: no message", name)
			}
		}
		s.apiGet(t, "/api/v1/audit-events", "").refusal(t, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("bad parameters", func(t *testing.T) {
		for q, field := range map[string]string{
			"action=token.exploded":             "action",
			"action=":                           "action",
			"actor_kind=robot":                  "actor_kind",
			"actor_member_id=x":                 "actor_member_id",
			"actor_token_id=0":                  "actor_token_id",
			"token_id=012":                      "token_id",
			"member_id=-4":                      "member_id",
			"since=yesterday":                   "since",
			"until=2026-11-26T25:00:00Z":        "until",
			"since=2026-11-27&until=2026-11-26": "until",
			"limit=0":                           "limit",
			"limit=1001":                        "limit",
			"limit=1&limit=2":                   "limit",
			"cursor=abc":                        "cursor",
			"stat=revoked":                      "stat",
		} {
			t.Run(q, func(t *testing.T) {
				s.apiGet(t, "/api/v1/audit-events?"+q, s.adminKey).invalid(t, field)
			})
		}
	})
}

// TestNoKeyInTheAuditLog presents keys everywhere a request can carry one
// and finds neither a key nor its random part in any exported event, on
// the page or on the API.
func TestNoKeyInTheAuditLog(t *testing.T) {
	t.Parallel()
	s := newAuditScene(t)
	ctx := context.Background()
	_, live := s.createToken(s.member, store.KindPersonal, "live")
	revokedTok, revoked := s.createToken(s.member, store.KindPersonal, "dead")
	s.revokeInStore(t, s.owner, revokedTok.ID)
	exp := s.now.Add(time.Hour).Truncate(time.Second)
	_, expired := s.createExpiring(t, s.owner, store.KindSystem, "lapsing", exp, store.RoleVideo)
	created := s.apiJSON(t, http.MethodPost, "/api/v1/tokens", s.adminKey, map[string]any{"kind": "system", "name": "api-made", "roles": []string{"viewer"}}).object(t)
	apiKey, _ := created["key"].(string)
	s.memberBrowser.get("/tokens/personal/new")
	page := s.memberBrowser.postForm("/tokens/personal", url.Values{"name": {"page-made"}, "expires": {"30"}}, "User-Agent", "probe "+string(live))
	pageKey := page.doc.Find("[data-testid=new-key-value]").AttrOr("value", "")
	s.setNow(exp.Add(time.Minute))

	keys := []string{string(live), string(revoked), string(expired), apiKey, pageKey, s.adminKey}
	for _, key := range keys {
		if key == "" {
			t.Fatal("a key was not made")
		}
		h := []string{"User-Agent", "probe/1.0 " + key, "X-Forwarded-For", key, "Referer", "https://x.example/?t=" + key}
		s.apiCall(t, http.MethodGet, "/api/v1/token", key, "", "", h...)
		s.apiCall(t, http.MethodGet, "/api/v1/tokens?access_token="+key, key, "", "", h...)
		s.apiCall(t, http.MethodDelete, "/api/v1/tokens/"+key, key, "", "", h...)
		s.apiCall(t, http.MethodPost, "/api/v1/tokens", s.adminKey, "application/json", `{"kind":"system","name":"n-`+key[len(key)-8:]+`","roles":["video"]}`, h...)
		s.memberBrowser.postForm("/tokens/personal", url.Values{"name": {"ua-" + key[len(key)-6:]}, "expires": {"30"}}, h...)
		s.signInVia(t, s.member2, key, h...)
	}
	if err := s.db.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	dump.WriteString(exportAs(t, s.ownerBrowser, "format=csv").body)
	dump.WriteString(exportAs(t, s.ownerBrowser, "format=jsonl").body)
	dump.WriteString(s.ownerBrowser.get("/audit").body)
	dump.Write(s.apiGet(t, "/api/v1/audit-events?limit=1000", s.adminKey).body)
	for _, e := range s.auditEvents(t, s.owner) {
		fmt.Fprintf(&dump, "%+v\n", e)
	}
	text := dump.String()
	if !strings.Contains(text, "probe/1.0") {
		t.Fatal("no user agent of the probes was recorded: the test tests nothing")
	}
	for _, key := range keys {
		random := key[4 : len(key)-6]
		if strings.Contains(text, key) || strings.Contains(text, random) {
			t.Errorf("a key (%s…) is in the audit log", key[:4])
		}
	}
}
