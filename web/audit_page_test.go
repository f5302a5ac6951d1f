package web

// The Audit Log page's details: a refused retention comes back as the page
// with the message beside the field, the command line named once, a way
// back to the newest events, and a CSV that Excel reads as UTF-8.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// TestAuditRetentionRefusedBesideTheField: a retention not offered is the
// Audit Log again, 422, with the store's message beside the field, which
// is marked invalid and described by it; nothing changes and nothing is
// recorded.
func TestAuditRetentionRefusedBesideTheField(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	c := app.signIn(app.owner)
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"30 days", url.Values{"audit_retention_days": {"30"}}, "Keep audit events for 90 days, 1 year or forever."},
		{"not a number", url.Values{"audit_retention_days": {"a year"}}, "Keep audit events for 90 days, 1 year or forever."},
		{"empty", url.Values{"audit_retention_days": {""}}, "Keep audit events for 90 days, 1 year or forever."},
		{"missing", url.Values{}, "Keep audit events for 90 days, 1 year or forever."},
		{"two", url.Values{"audit_retention_days": {"90", "0"}}, "Choose one retention, not several."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.get("/audit")
			events := app.auditCount(t, app.owner)
			r := c.postForm("/audit/retention", tt.form)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422\n%s", r.StatusCode, r.body)
			}
			if got := r.text("h1"); got != "Audit Log" {
				t.Errorf("the page is headed %q, want the Audit Log again", got)
			}
			if !r.has("[data-testid=audit-row]") || !r.has("[data-testid=export-csv]") {
				t.Error("the page came back without its events")
			}
			msg := r.doc.Find("[data-testid=error-audit_retention_days]")
			if got := strings.TrimSpace(msg.Text()); got != tt.want {
				t.Errorf("beside the field: %q, want %q", got, tt.want)
			}
			sel := r.doc.Find("select#audit_retention_days")
			if sel.AttrOr("aria-invalid", "") != "true" {
				t.Error("the field is not marked invalid")
			}
			if !slices.Contains(strings.Fields(sel.AttrOr("aria-describedby", "")), msg.AttrOr("id", "-")) {
				t.Errorf("the field is described by %q, not by its message", sel.AttrOr("aria-describedby", ""))
			}
			if got := r.doc.Find("#audit_retention_days option[selected]").Text(); got != "1 year" {
				t.Errorf("the form shows %q, want the setting in force, 1 year", got)
			}
			if org, _ := app.db.Org(context.Background(), app.owner); org.AuditRetentionDays != store.DefaultAuditRetentionDays {
				t.Errorf("retention changed to %d", org.AuditRetentionDays)
			}
			if got := app.auditCount(t, app.owner); got != events {
				t.Errorf("a refused retention wrote %d events", got-events)
			}
		})
	}
	t.Run("a listed choice still saves", func(t *testing.T) {
		c.t = t
		c.get("/audit")
		if r := c.postForm("/audit/retention", url.Values{"audit_retention_days": {"90"}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.StatusCode)
		}
		r := c.get("/audit")
		if r.text("[data-testid=error-audit_retention_days]") != "" || r.has("select#audit_retention_days[aria-invalid]") {
			t.Error("the page after a save shows a retention error")
		}
	})
}

// TestAuditActorNamedOnce: an event of the command line says "Command
// line" once, with no badge repeating it; a member's keeps the badge
// before their name.
func TestAuditActorNamedOnce(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	c := app.signIn(app.owner)
	c.get("/tokens/personal/new")
	if r := c.postForm("/tokens/personal", url.Values{"name": {"by-ana"}, "expires": {"30"}}); r.StatusCode != http.StatusCreated {
		t.Fatalf("create on the page: status %d", r.StatusCode)
	}
	r := c.get("/audit")
	cli := r.doc.Find(`[data-testid=audit-row][data-action="member.added"] [data-testid=event-actor]`)
	if cli.Length() == 0 {
		t.Fatal("no event of the command line listed")
	}
	cli.Each(func(_ int, cell *goquery.Selection) {
		if got := strings.Join(strings.Fields(cell.Text()), " "); got != "Command line" {
			t.Errorf("the command line's actor cell reads %q, want %q", got, "Command line")
		}
		if cell.Find(".badge").Length() != 0 {
			t.Error("the command line's actor cell has a badge")
		}
	})
	member := r.doc.Find(`[data-testid=audit-row][data-action="token.created"] [data-testid=event-actor]`).First()
	if got, want := strings.Join(strings.Fields(member.Text()), " "), "Member "+auditMemberLabel(app.owner); got != want {
		t.Errorf("a member's actor cell reads %q, want %q", got, want)
	}
	if got := member.Find(".badge").Text(); got != "Member" {
		t.Errorf("a member's badge reads %q", got)
	}
}

// TestAuditNewestEventsLink: the first page has no way back to itself;
// every later one links to the newest events with the same filters.
func TestAuditNewestEventsLink(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	for i := range 2*auditPageSize + 5 {
		app.createToken(app.member, store.KindPersonal, fmt.Sprintf("newest-%03d", i))
	}
	c := app.signIn(app.owner)
	for _, filter := range []string{"", "action=token.created"} {
		t.Run("filter "+filter, func(t *testing.T) {
			c.t = t
			start := strings.TrimSuffix("/audit?"+filter, "?")
			first := c.get(start)
			if first.has("[data-testid=show-newest]") {
				t.Error("the first page links to the newest events: itself")
			}
			next := first.doc.Find("[data-testid=show-older]").AttrOr("href", "")
			for page := 2; next != ""; page++ {
				r := c.get(next)
				href, ok := r.doc.Find("[data-testid=show-newest]").Attr("href")
				if !ok {
					t.Fatalf("page %d has no link to the newest events", page)
				}
				if href != start {
					t.Errorf("page %d: Newest events links to %q, want %q", page, href, start)
				}
				if got := r.text("[data-testid=show-newest]"); got != "Newest events" {
					t.Errorf("the link says %q", got)
				}
				if back := c.get(href); !slices.Equal(auditRowIDs(back), auditRowIDs(first)) {
					t.Errorf("page %d: Newest events lists %v, want the first page %v", page, auditRowIDs(back), auditRowIDs(first))
				}
				next = r.doc.Find("[data-testid=show-older]").AttrOr("href", "")
			}
		})
	}
}

// TestExportCSVStartsWithBOM: the CSV begins with the UTF-8 byte order
// mark and then its header, so Excel shows "tks_…" as it is; the JSON
// lines, read by programs, have none.
func TestExportCSVStartsWithBOM(t *testing.T) {
	t.Parallel()
	app := newAuditApp(t)
	tok, _ := app.createToken(app.owner, store.KindSystem, "encoder", store.RoleVideo)
	c := app.signIn(app.owner)
	body := exportAs(t, c, "format=csv").body
	if !strings.HasPrefix(body, "\xEF\xBB\xBF"+strings.Join(auditColumns, ",")+"\n") {
		t.Errorf("the CSV starts %q, want the bytes EF BB BF and then the header", body[:min(len(body), 40)])
	}
	if strings.Count(body, "\uFEFF") != 1 {
		t.Errorf("%d byte order marks in the CSV, want one", strings.Count(body, "\uFEFF"))
	}
	if !strings.Contains(body, tok.Hint()) || !strings.Contains(tok.Hint(), "…") {
		t.Errorf("the CSV lacks the hint %q as UTF-8", tok.Hint())
	}
	if rows := parseCSV(t, body); len(rows) < 2 {
		t.Errorf("%d rows", len(rows))
	}
	if jsonl := exportAs(t, c, "format=jsonl").body; !strings.HasPrefix(jsonl, "{") {
		t.Errorf("the JSON lines start %q", jsonl[:min(len(jsonl), 10)])
	}
}
