package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// lineHandler writes what slog's TextHandler and JSONHandler write, byte
// for byte, for every record: those it writes itself and those it hands
// to them.
func TestLineHandlerIsSlogs(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 4, 5, 678901234, time.UTC)
	odd := []string{"", "plain", "two words", "a=b", `quote"d`, `back\slash`, "tab\tnl\nCR\r", "\x00\x01\x1f\x7f", "back\bform\f",
		"é ✓ 日本", "\u00a0nbsp", "\u2028\u2029", "bad \xff utf-8", "<html>&", "REDACTED", "/auth/verify/x?role=video"}
	var records []slog.Record
	for _, s := range odd {
		r := slog.NewRecord(at, slog.LevelInfo, s, 0)
		r.AddAttrs(slog.String(s+"k", s), slog.String("v", s))
		records = append(records, r)
	}
	access := slog.NewRecord(at, slog.LevelError, "request", 0)
	access.AddAttrs(slog.String("method", "GET"), slog.String("path", "/api/v1/token"), slog.Int("status", 500),
		slog.Duration("took", 1234567*time.Nanosecond), slog.String("remote", "::1"), slog.String("request_id", "abc"),
		slog.String("error", "the disk is on fire"))
	records = append(records, access)
	// The same instant elsewhere, and the next millisecond: not the
	// text of the millisecond before.
	for _, t := range []time.Time{at.In(time.FixedZone("IST", 5*3600+1800)), at.Add(time.Millisecond), at.Add(-time.Hour)} {
		records = append(records, slog.NewRecord(t, slog.LevelInfo, "again", 0))
	}
	for _, d := range []time.Duration{0, 1, 999, time.Microsecond, 1500 * time.Microsecond, time.Second, 90 * time.Minute, -time.Millisecond} {
		r := slog.NewRecord(at, slog.LevelDebug, "took", 0)
		r.AddAttrs(slog.Duration("d", d))
		records = append(records, r)
	}
	numbers := slog.NewRecord(at, slog.LevelWarn+1, "numbers", 0)
	numbers.AddAttrs(slog.Int64("i", -1<<63), slog.Uint64("u", 1<<64-1), slog.Bool("yes", true), slog.Bool("no", false))
	records = append(records, numbers)
	// Handed to slog's own: other kinds, groups, an empty key, no time, a
	// time JSON cannot write.
	other := slog.NewRecord(at, slog.LevelInfo, "other", 0)
	other.AddAttrs(slog.Float64("f", 1.5), slog.Time("t", at), slog.Any("err", errors.New("boom")),
		slog.Group("g", slog.String("a", "b")), slog.Any("nil", nil))
	records = append(records, other, slog.NewRecord(time.Time{}, slog.LevelInfo, "no time", 0))
	empty := slog.NewRecord(at, slog.LevelInfo, "empty key", 0)
	empty.AddAttrs(slog.String("", "value"))
	records = append(records, empty, slog.NewRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "far", 0))

	for _, json := range []bool{false, true} {
		var got, want bytes.Buffer
		fast := newLineHandler(&got, json, slog.LevelDebug)
		var std slog.Handler = slog.NewTextHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug})
		if json {
			std = slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
		for _, r := range records {
			got.Reset()
			want.Reset()
			fast.Handle(context.Background(), r)
			std.Handle(context.Background(), r)
			if got.String() != want.String() {
				t.Errorf("json=%v:\n got %q\nwant %q", json, got.String(), want.String())
			}
		}
		// Handlers derived from it are slog's own.
		got.Reset()
		want.Reset()
		fast.WithAttrs([]slog.Attr{slog.String("a", "b")}).WithGroup("g").Handle(context.Background(), access)
		std.WithAttrs([]slog.Attr{slog.String("a", "b")}).WithGroup("g").Handle(context.Background(), access)
		if got.String() != want.String() {
			t.Errorf("json=%v, derived:\n got %q\nwant %q", json, got.String(), want.String())
		}
	}
}

// A record lineHandler writes itself allocates nothing beyond the line.
func TestLineHandlerAllocatesNothing(t *testing.T) {
	h := newLineHandler(discardWriter{}, false, slog.LevelInfo)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.String("path", "/api/v1/token"), slog.Int("status", 200),
		slog.Duration("took", 1234567*time.Nanosecond), slog.String("remote", "127.0.0.1"))
	if n := testing.AllocsPerRun(100, func() { h.Handle(context.Background(), r) }); n != 0 {
		t.Errorf("%v allocations a line, want 0", n)
	}
}

// The access log's line written directly is the line slog's own handlers
// write for the same request, redacted as they would be; and it allocates
// nothing.
func TestRequestLineIsSlogs(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 4, 5, 678901234, time.UTC)
	key := "tkp_" + strings.Repeat("A1b2", 9)
	lines := []requestLine{
		{at: at, method: "GET", path: "/api/v1/token", status: 200, took: 41234 * time.Nanosecond, remote: "10.0.0.7", id: "f9c2d41e-e053-4a28-9d11-544c9ce53cb3"},
		{at: at, method: "POST", path: "/tokens/1/revoke", status: 303, took: 3 * time.Millisecond, remote: "::1", id: "x"},
		{at: at, method: "GET", path: "/auth/verify/app/" + key + "?x=1", status: 401, took: time.Microsecond, remote: "::1", id: "y"},
		{at: at, method: key, path: "/", status: 405, remote: "127.0.0.1", id: "z"},
		{at: at, method: "GET", path: `/a "quoted" path=é`, status: 404, remote: "127.0.0.1", id: "q"},
		{at: at, method: "GET", path: "/tokens", status: 500, remote: "127.0.0.1", id: "e", err: errors.New("the disk is on fire near " + key)},
	}
	for _, json := range []bool{false, true} {
		var got, want bytes.Buffer
		fast := newLineHandler(&got, json, slog.LevelDebug)
		var std slog.Handler = slog.NewTextHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug})
		if json {
			std = slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
		direct := requestLoggerFor(RedactingHandler(fast))
		if _, ok := direct.(*lineHandler); !ok {
			t.Fatalf("LogOutput's handler logs requests through %T, want the line handler itself", direct)
		}
		for _, l := range lines {
			got.Reset()
			want.Reset()
			direct.writeRequest(context.Background(), l)
			slogRequests{RedactingHandler(std)}.writeRequest(context.Background(), l)
			if got.String() != want.String() {
				t.Errorf("json=%v:\n got %q\nwant %q", json, got.String(), want.String())
			}
			if strings.Contains(got.String(), key[4:]) {
				t.Errorf("json=%v: the key is in the line %q", json, got.String())
			}
		}
	}
	h := newLineHandler(discardWriter{}, false, slog.LevelInfo)
	if n := testing.AllocsPerRun(100, func() { h.writeRequest(context.Background(), lines[0]) }); n != 0 {
		t.Errorf("%v allocations a request line, want 0", n)
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
