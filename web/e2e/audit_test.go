package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tokend/store"
)

// auditRows counts the rows of the Audit Log.
const auditRows = `document.querySelectorAll("[data-testid=audit-row]").length`

// wideScreen makes the tab a desktop screen, where the Audit Log is a
// table rather than cards.
func wideScreen(tb *tab) []chromedp.Action[chromedp.Void] {
	tb.width = 1024
	return []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1024, 768)}
}

// The owner opens the Audit Log from the profile menu, filters it by
// action and, from a token's row, by that token, and the address keeps the
// filters; the exports hold the filtered view; a retention not offered
// comes back beside its field. axe finds nothing on any of it.
func TestAuditLogFilterAndExport(t *testing.T) {
	a := newApp(t)
	laptop := a.tokenNamed(store.KindPersonal, "Max laptop")
	if _, _, err := a.db.RevokeToken(context.Background(), a.owner, laptop.ID); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, a, wideScreen)
	tb.signIn(a.owner)
	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(menuItem("Audit Log"))
	if got := tb.path(); got != "/audit" {
		t.Fatalf("Audit Log opened %s", got)
	}
	if got := tb.text(`//h1`); got != "Audit Log" {
		t.Errorf("heading %q", got)
	}
	all := eval[int](tb, auditRows)
	if all < 6 {
		t.Errorf("the log lists %d events, want the members added, the tokens made and revoked, the sign-in", all)
	}
	if got := tb.text(`//tr[@data-action="member.added"][1]//*[@data-testid="event-actor"]`); got != "Command line" {
		t.Errorf("the command line's actor cell reads %q", got)
	}
	if broken := tb.brokenWords(`//*[@data-testid="event-action"]`); len(broken) > 0 {
		t.Errorf("actions broken inside a word in the table: %q", broken)
	}
	tb.checkAccessibility("the Audit Log")
	tb.snapshot("audit log")

	// By action, with the form.
	tb.choose("Action", "Token revoked")
	tb.clickToLoad(button("Filter"))
	q := tb.query()
	if q.Get("action") != store.ActionTokenRevoked {
		t.Errorf("filtering by action led to %s", tb.path())
	}
	tb.onlyActions(store.ActionTokenRevoked)
	if got := tb.text(`//*[@data-testid="active-filter"]`); !strings.Contains(got, "Action: Token revoked") {
		t.Errorf("the filter in force reads %q", got)
	}
	tb.checkAccessibility("the Audit Log filtered by action")
	filtered := tb.path()
	tb.do("reload", chromedp.Reload())
	if got := tb.path(); got != filtered {
		t.Errorf("the reload shows %s, want %s", got, filtered)
	}
	tb.onlyActions(store.ActionTokenRevoked)

	day := time.Now().UTC().Format(time.DateOnly)
	csvFile := tb.export("Export CSV")
	if csvFile.Status != 200 || !strings.HasPrefix(csvFile.Type, "text/csv") || !csvFile.BOM {
		t.Errorf("CSV: status %d, type %q, byte order mark %v", csvFile.Status, csvFile.Type, csvFile.BOM)
	}
	if want := "attachment; filename=tokend-audit-acme-streaming-" + day + ".csv"; csvFile.Disposition != want {
		t.Errorf("CSV Content-Disposition %q, want %q", csvFile.Disposition, want)
	}
	rows := csvFile.csv(t)
	if len(rows) != 1 || rows[0]["action"] != store.ActionTokenRevoked || rows[0]["target_token_id"] != strconv.FormatInt(laptop.ID, 10) {
		t.Errorf("the CSV of the filtered view holds %v", rows)
	}
	jsonl := tb.export("Export JSON lines")
	if jsonl.Status != 200 || !strings.HasPrefix(jsonl.Type, "application/jsonl") || jsonl.BOM {
		t.Errorf("JSON lines: status %d, type %q, byte order mark %v", jsonl.Status, jsonl.Type, jsonl.BOM)
	}
	if want := "attachment; filename=tokend-audit-acme-streaming-" + day + ".jsonl"; jsonl.Disposition != want {
		t.Errorf("JSON lines Content-Disposition %q, want %q", jsonl.Disposition, want)
	}
	lines := jsonl.jsonl(t)
	if len(lines) != 1 || lines[0]["action"] != store.ActionTokenRevoked || lines[0]["target_token_id"] != float64(laptop.ID) {
		t.Errorf("the JSON lines of the filtered view hold %v", lines)
	}

	// By a token, from its row in Token Management, then by action too.
	tb.visit("/tokens")
	tb.clickToLoad(button("Events of Encoder fleet"))
	if got, want := tb.path(), fmt.Sprintf("/audit?token_id=%d", a.encoders.ID); got != want {
		t.Fatalf("Events led to %s, want %s", got, want)
	}
	if got := tb.text(`//*[@data-testid="active-filter"]`); !strings.Contains(got, "Encoder fleet") {
		t.Errorf("the filter in force reads %q, want the token named", got)
	}
	if got := tb.value(field("Token id")); got != strconv.FormatInt(a.encoders.ID, 10) {
		t.Errorf("the form's Token id holds %q", got)
	}
	tb.onlyTarget(a.encoders)
	tb.checkAccessibility("the Audit Log of a token")
	tb.choose("Action", "Token created")
	tb.clickToLoad(button("Filter"))
	q = tb.query()
	if q.Get("action") != store.ActionTokenCreated || q.Get("token_id") != strconv.FormatInt(a.encoders.ID, 10) {
		t.Errorf("filtering the token's events by action led to %s, want both filters kept", tb.path())
	}
	tb.onlyActions(store.ActionTokenCreated)
	tb.onlyTarget(a.encoders)
	if n := eval[int](tb, `document.querySelectorAll("[data-testid=active-filter]").length`); n != 2 {
		t.Errorf("%d filters in force, want 2", n)
	}
	tb.checkAccessibility("the Audit Log of a token, by action")
	rows = tb.export("Export CSV").csv(t)
	if len(rows) != 1 || rows[0]["action"] != store.ActionTokenCreated || rows[0]["target_token_id"] != strconv.FormatInt(a.encoders.ID, 10) {
		t.Errorf("the CSV of the token's events by action holds %v", rows)
	}

	// Retention: a value the list does not offer, as a crafted form sends.
	tb.visit("/audit")
	eval[bool](tb, `(() => { const s = document.getElementById("audit_retention_days"); s.add(new Option("30 days", "30", true, true)); return true; })()`)
	tb.expectStatus("POST", "/audit/retention", 422)
	tb.clickToLoad(button("Save"))
	tb.fieldError("Keep audit events for", "error-audit_retention_days")
	if got := tb.text(`//h1`); got != "Audit Log" {
		t.Errorf("the refused retention shows %q", got)
	}
	tb.checkAccessibility("the retention form with a mistake")
	tb.choose("Keep audit events for", "90 days")
	tb.clickToLoad(button("Save"))
	if got := tb.text(`//*[@data-testid="flash"]`); !strings.Contains(got, "kept for 90 days") {
		t.Errorf("after Save the page says %q", got)
	}
	tb.checkAccessibility("the Audit Log after saving the retention")
}

// Without JavaScript the filters are a plain form: the address carries
// them, a filter is dropped by its link, and Clear filters shows all.
func TestAuditLogWithoutJavaScript(t *testing.T) {
	a := newApp(t)
	tb := newTab(t, a, withoutJavaScript)
	tb.signIn(a.owner)
	if !eval[bool](tb, `typeof window.htmx === "undefined"`) {
		t.Fatal("the page's scripts ran: JavaScript is not off")
	}
	tb.openProfileMenu("Ana Owner")
	tb.clickToLoad(menuItem("Audit Log"))
	all := eval[int](tb, auditRows)
	tb.checkAccessibility("the Audit Log, without JavaScript")

	tb.choose("Action", "Token created")
	tb.typeInto("Member id", strconv.FormatInt(a.member.ID, 10))
	tb.clickToLoad(button("Filter"))
	q := tb.query()
	if q.Get("action") != store.ActionTokenCreated || q.Get("member_id") != strconv.FormatInt(a.member.ID, 10) {
		t.Errorf("Filter led to %s", tb.path())
	}
	tb.onlyActions(store.ActionTokenCreated)
	if got := tb.text(`//*[@data-testid="event-target"]`); !strings.Contains(got, "Max laptop") {
		t.Errorf("Max's token created reads %q", got)
	}
	tb.checkAccessibility("the Audit Log filtered, without JavaScript")

	tb.clickToLoad(button("Remove the filter Action"))
	q = tb.query()
	if q.Has("action") || q.Get("member_id") != strconv.FormatInt(a.member.ID, 10) {
		t.Errorf("dropping the action led to %s, want the member kept", tb.path())
	}
	tb.clickToLoad(button("Clear filters"))
	if got := tb.path(); got != "/audit" {
		t.Errorf("Clear filters led to %s", got)
	}
	if n := eval[int](tb, auditRows); n != all {
		t.Errorf("after Clear filters %d events, want all %d", n, all)
	}
}

// choose picks the option with this text in the select a label names, as
// a person does with the list open.
func (tb *tab) choose(label, option string) {
	tb.t.Helper()
	ok := onElement[bool](tb, field(label), fmt.Sprintf(`(() => {
		const o = [...e.options].find(o => o.text.trim() === %s);
		if (!o) return false;
		e.value = o.value;
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, jsString(option)))
	if !ok {
		tb.t.Fatalf("%s offers no %q", label, option)
	}
}

// query is the address bar's query.
func (tb *tab) query() url.Values {
	tb.t.Helper()
	u, err := url.Parse(tb.path())
	if err != nil {
		tb.t.Fatal(err)
	}
	return u.Query()
}

// onlyActions checks the log lists events, each of this action.
func (tb *tab) onlyActions(action string) {
	tb.t.Helper()
	got := eval[[]string](tb, `[...document.querySelectorAll("[data-testid=audit-row]")].map(r => r.dataset.action)`)
	if len(got) == 0 || slices.ContainsFunc(got, func(a string) bool { return a != action }) {
		tb.t.Errorf("%s lists %q, want only %s", tb.path(), got, action)
	}
}

// onlyTarget checks the log lists events, each about tok.
func (tb *tab) onlyTarget(tok store.Token) {
	tb.t.Helper()
	got := eval[[]string](tb, `[...document.querySelectorAll("[data-testid=event-target]")].map(c => c.innerText.trim())`)
	if len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return !strings.Contains(s, tok.Name) }) {
		tb.t.Errorf("%s lists targets %q, want only %s", tb.path(), got, tok.Name)
	}
}

// brokenWords are the words in the elements sel finds that the layout
// breaks across lines.
func (tb *tab) brokenWords(sel string) []string {
	tb.t.Helper()
	tb.find("(" + sel + ")[1]") // waits for the page
	return eval[[]string](tb, fmt.Sprintf(`(() => {
		const out = [];
		const found = document.evaluate(%s, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
		for (let i = 0; i < found.snapshotLength; i++) {
			const walk = document.createTreeWalker(found.snapshotItem(i), NodeFilter.SHOW_TEXT);
			for (let n = walk.nextNode(); n; n = walk.nextNode()) {
				for (const m of n.data.matchAll(/\S+/g)) {
					const r = document.createRange();
					r.setStart(n, m.index);
					r.setEnd(n, m.index + m[0].length);
					if (new Set([...r.getClientRects()].map(b => Math.round(b.top))).size > 1) out.push(m[0]);
				}
			}
		}
		return out;
	})()`, jsString(sel)))
}

// download is a file as the browser received it.
type download struct {
	Status      int    `json:"status"`
	Type        string `json:"type"`
	Disposition string `json:"disposition"`
	// BOM is whether the bytes begin with the UTF-8 byte order mark; Body
	// is the text after it.
	BOM  bool   `json:"bom"`
	Body string `json:"body"`
}

// export fetches what the link named name points to, with this browser's
// cookies, as clicking it would download.
func (tb *tab) export(name string) download {
	tb.t.Helper()
	href := onElement[string](tb, button(name), `e.href`)
	return eval[download](tb, fmt.Sprintf(`fetch(%s).then(async r => {
		const b = new Uint8Array(await r.arrayBuffer());
		const bom = b.length >= 3 && b[0] === 0xEF && b[1] === 0xBB && b[2] === 0xBF;
		return {
			status: r.status, type: r.headers.get("Content-Type") || "", disposition: r.headers.get("Content-Disposition") || "",
			bom, body: new TextDecoder("utf-8", {ignoreBOM: true}).decode(bom ? b.subarray(3) : b),
		};
	})`, jsString(href)))
}

// csv is the CSV's rows by column name.
func (d download) csv(t *testing.T) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(d.Body)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("the CSV does not read (%v): %q", err, d.Body)
	}
	if recs[0][0] != "id" || !slices.Contains(recs[0], "action") {
		t.Fatalf("the CSV's header is %q", recs[0])
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// jsonl is the JSON lines' objects.
func (d download) jsonl(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSuffix(d.Body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a line is not JSON: %v: %q", err, line)
		}
		out = append(out, m)
	}
	return out
}
