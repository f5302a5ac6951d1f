package web

// An export of any size streams: it is written page by page as the store
// reads it, never gathered whole first.

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

// pipeResponse is a ResponseWriter whose body goes into a pipe: each Write
// waits until the test has read it, so the handler can never be further
// ahead of the reader than the bytes of one Write.
type pipeResponse struct {
	header http.Header
	body   *io.PipeWriter
	status int
}

func (w *pipeResponse) Header() http.Header         { return w.header }
func (w *pipeResponse) WriteHeader(status int)      { w.status = status }
func (w *pipeResponse) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *pipeResponse) Flush()                      {}

// TestExportStreams exports 100,000 events through the real router into a
// pipe, which lets the handler run no further ahead of the reader than one
// write. Once the first rows have arrived, the oldest 1,000 events are
// deleted: an export that had read every page before writing would still
// hold them; one that streams reads its later pages after the deletion and
// does not. No clock and no heap figure is involved, so it holds however
// busy the machine is.
func TestExportStreams(t *testing.T) {
	t.Parallel()
	const events, deleted = 100_000, 1_000
	app := newAuditApp(t)
	owner := app.signIn(app.owner)
	maxTok, _ := app.createToken(app.member, store.KindPersonal, "max-laptop")
	sysTok, _ := app.createToken(app.owner, store.KindSystem, "encoder", store.RoleVideo)
	raw, err := sql.Open("sqlite", "file:"+app.db.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var before int64
	if err := raw.QueryRow(`SELECT coalesce(max(id), 0) FROM audit_events`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	seedAuditEvents(t, app.db, "", auditSeed{
		org: app.owner.OrgID, members: []store.Member{app.owner, app.member, app.member2},
		tokens: []store.Token{maxTok, sysTok}, first: app.now.AddDate(0, 0, -30), step: 10 * time.Second,
	}, events)
	var first, last int64
	if err := raw.QueryRow(`SELECT min(id), max(id) FROM audit_events WHERE id > ?`, before).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if last-first+1 != events {
		t.Fatalf("seeded ids %d to %d, want %d events", first, last, events)
	}

	req := httptest.NewRequest(http.MethodGet, "/audit/export?format=csv", nil)
	u, _ := url.Parse(app.server.URL)
	for _, ck := range owner.http.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	pr, pw := io.Pipe()
	res := &pipeResponse{header: http.Header{}, body: pw}
	go func() {
		// abortExport cuts a failed export with a panic, which only
		// net/http's server would recover.
		defer func() {
			if r := recover(); r != nil {
				pw.CloseWithError(fmt.Errorf("the export panicked: %v", r))
			}
		}()
		app.server.Config.Handler.ServeHTTP(res, req)
		pw.Close()
	}()
	defer pr.Close() // unblocks the handler if the test stops early

	br := bufio.NewReader(pr)
	bom := make([]byte, len(utf8BOM))
	if _, err := io.ReadFull(br, bom); err != nil || string(bom) != utf8BOM {
		t.Fatalf("the export starts %q (%v), want a byte order mark", bom, err)
	}
	rows := csv.NewReader(br)
	header, err := rows.Read()
	if err != nil || strings.Join(header, ",") != strings.Join(auditColumns, ",") {
		t.Fatalf("header %q (%v)", header, err)
	}
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	row, err := rows.Read()
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != strconv.FormatInt(last, 10) {
		t.Fatalf("the first row is event %s, want the newest, %d", row[0], last)
	}
	if _, err := raw.Exec(`DELETE FROM audit_events WHERE id < ?`, first+deleted); err != nil {
		t.Fatal(err)
	}

	n, lastID := 1, last
	for {
		row, err := rows.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", n, err)
		}
		id, _ := strconv.ParseInt(row[0], 10, 64)
		if id >= lastID {
			t.Fatalf("row %d is event %d, after %d: not newest first", n, id, lastID)
		}
		if id < first+deleted {
			t.Fatalf("event %d, deleted after the export began, is in it: the export read every page before it wrote the first", id)
		}
		lastID = id
		n++
	}
	if want := events - deleted; n != want {
		t.Errorf("%d rows, want the %d events left", n, want)
	}
}
