package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"tokend/store"
)

// halfPage writes the start of a page, then fails, as a template does
// that meets a nil it did not expect.
var halfPage = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, `<!DOCTYPE html><html><body><main data-testid="half-page"><h1>Tokens</h1><p>the first row`); err != nil {
		return err
	}
	return errors.New("template broke halfway")
})

var wholePage = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
	_, err := io.WriteString(w, `<!DOCTYPE html><html><body><main data-testid="whole-page">all of it</main></body></html>`)
	return err
})

// A page whose template fails halfway is answered with the error page and
// a 500, none of the half-written page, and a line in the log; one that
// renders is sent whole with the status asked for.
func TestRenderSendsNothingOfAFailedPage(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var log lockedBuffer
	srv, err := New(db, Config{
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		Logger:     slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.echo.GET("/render-test/broken", func(c echo.Context) error { return render(c, http.StatusOK, halfPage) })
	srv.echo.GET("/render-test/whole", func(c echo.Context) error { return render(c, http.StatusCreated, wholePage) })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	get := func(t *testing.T, path string, htmx bool) (*http.Response, *goquery.Document, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return res, doc, string(body)
	}

	for _, tt := range []struct {
		name   string
		htmx   bool
		testid string
	}{
		{"page", false, "error-page"},
		{"htmx", true, "error-dialog"},
	} {
		t.Run("fails halfway, "+tt.name, func(t *testing.T) {
			before := strings.Count(log.String(), "template broke halfway")
			res, doc, body := get(t, "/render-test/broken", tt.htmx)
			if res.StatusCode != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.StatusCode)
			}
			if doc.Find(`[data-testid="half-page"]`).Length() != 0 || strings.Contains(body, "the first row") {
				t.Errorf("the half-written page was sent:\n%s", body)
			}
			if doc.Find(`[data-testid="`+tt.testid+`"]`).Length() != 1 {
				t.Errorf("no %s in the answer:\n%s", tt.testid, body)
			}
			if strings.Contains(body, "template broke halfway") {
				t.Errorf("the internal error is shown to the user:\n%s", body)
			}
			if got := strings.Count(log.String(), "template broke halfway"); got != before+1 {
				t.Errorf("the error was logged %d times, want once; log:\n%s", got-before, log.String())
			}
		})
	}
	t.Run("renders whole", func(t *testing.T) {
		res, doc, body := get(t, "/render-test/whole", false)
		if res.StatusCode != http.StatusCreated {
			t.Errorf("status = %d, want 201", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != echo.MIMETextHTMLCharsetUTF8 {
			t.Errorf("Content-Type = %q", ct)
		}
		if doc.Find(`[data-testid="whole-page"]`).Text() != "all of it" {
			t.Errorf("page = %s", body)
		}
	})
}
