package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// newQuietLogOutput is a LogOutput that flushes only when told to (or when
// full, or for a line that must go out at once), so that a test sees what
// the buffer holds.
func newQuietLogOutput(t *testing.T, w *lockedBuffer, format string, level slog.Level) *LogOutput {
	t.Helper()
	o, err := NewLogOutput(w, LogOptions{Format: format, Level: level, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// The access log keeps every line: lines logged from many goroutines at
// once are all there after Close, none torn.
func TestLogOutputKeepsEveryLine(t *testing.T) {
	var out lockedBuffer
	o := newQuietLogOutput(t, &out, "text", slog.LevelInfo)
	const goroutines, each = 8, 2000 // more than one buffer's worth
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				o.AccessLogger().Info("request", "g", g, "i", i, "path", "/api/v1/token")
			}
		})
	}
	wg.Wait()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines, want %d", len(lines), goroutines*each)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || !strings.HasSuffix(l, "path=/api/v1/token") {
			t.Fatalf("torn line %q", l)
		}
	}
}

// An access-log line waits in the buffer; a line of any other logger goes
// out at once, after the access lines logged before it.
func TestLogOutputWritesFailuresAtOnce(t *testing.T) {
	var out lockedBuffer
	o := newQuietLogOutput(t, &out, "text", slog.LevelInfo)
	o.AccessLogger().Info("request", "n", 1)
	if got := out.String(); got != "" {
		t.Fatalf("an access line was written before a flush: %q", got)
	}
	o.Logger().Error("request failed", "n", 2)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "msg=request n=1") || !strings.Contains(lines[1], `msg="request failed" n=2`) {
		t.Errorf("after a failure, the log is %q, want the access line then the failure", lines)
	}
}

// --log-format json writes one JSON object a line, for both loggers.
func TestLogOutputJSON(t *testing.T) {
	var out lockedBuffer
	o := newQuietLogOutput(t, &out, "json", slog.LevelInfo)
	o.AccessLogger().Info("request", "method", "GET", "status", 200)
	o.Logger().Warn("database unreachable", "error", "connection refused")
	o.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), lines)
	}
	for i, want := range []map[string]any{
		{"level": "INFO", "msg": "request", "method": "GET", "status": 200.0},
		{"level": "WARN", "msg": "database unreachable", "error": "connection refused"},
	} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, lines[i])
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if _, ok := got["time"]; !ok {
			t.Errorf("line %d has no time: %s", i, lines[i])
		}
	}
}

// --log-level holds back the lines below it, but not the access log,
// which --access-log switches.
func TestLogOutputLevel(t *testing.T) {
	var out lockedBuffer
	o := newQuietLogOutput(t, &out, "text", slog.LevelWarn)
	o.Logger().Info("chatter")
	o.Logger().Warn("worth saying")
	o.AccessLogger().Info("request")
	o.Close()
	got := out.String()
	if strings.Contains(got, "chatter") || !strings.Contains(got, "worth saying") || !strings.Contains(got, "msg=request") {
		t.Errorf("at level warn, the log is:\n%s", got)
	}
}

// No line of either logger holds a key's text.
func TestLogOutputRedacts(t *testing.T) {
	key := fakeToken("tkp_")
	for _, format := range []string{"text", "json"} {
		var out lockedBuffer
		o := newQuietLogOutput(t, &out, format, slog.LevelDebug)
		o.AccessLogger().Info("request", "path", "/auth/verify/x/"+key)
		o.Logger().Error("failed on "+key, "error", errors.New("bad token "+key))
		o.Close()
		if got := out.String(); strings.Contains(got, key[4:34]) || !strings.Contains(got, "REDACTED") {
			t.Errorf("%s: the log holds the key or redacts nothing:\n%s", format, got)
		}
	}
}

// A destination that refuses lines loses them, counted; the next lines go
// out when it takes them again.
func TestLogOutputCountsDropped(t *testing.T) {
	w := &failingWriter{fail: true}
	o, err := NewLogOutput(w, LogOptions{FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		o.AccessLogger().Info("request")
	}
	o.Logger().Error("failed") // written at once, with the three before it
	if got := o.Dropped(); got != 4 {
		t.Errorf("Dropped() = %d, want 4", got)
	}
	w.setFail(false)
	o.AccessLogger().Info("request")
	o.Close()
	if got, n := o.Dropped(), strings.Count(w.String(), "\n"); got != 4 || n != 1 {
		t.Errorf("after recovering: %d dropped and %d lines written, want 4 and 1", got, n)
	}
}

type failingWriter struct {
	lockedBuffer
	mu   sync.Mutex
	fail bool
}

func (w *failingWriter) setFail(f bool) { w.mu.Lock(); w.fail = f; w.mu.Unlock() }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	fail := w.fail
	w.mu.Unlock()
	if fail {
		return 0, errors.New("no space left on device")
	}
	return w.lockedBuffer.Write(p)
}

func TestParseLogFlags(t *testing.T) {
	for _, s := range []string{"", "text", "JSON", " json "} {
		if _, err := ParseLogFormat(s); err != nil {
			t.Errorf("ParseLogFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseLogFormat("logfmt"); err == nil {
		t.Error("ParseLogFormat(logfmt): no error")
	}
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "": slog.LevelInfo, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLogLevel(s); err != nil || got != want {
			t.Errorf("ParseLogLevel(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseLogLevel("verbose"); err == nil {
		t.Error("ParseLogLevel(verbose): no error")
	}
}

// A flush writes the stripes' lines in the order they were logged, as one
// buffer would have, however the processors shared them out.
func TestLogOutputMergesStripesByTime(t *testing.T) {
	var out lockedBuffer
	o := newQuietLogOutput(t, &out, "text", slog.LevelInfo)
	if len(o.stripes) < 2 {
		o.stripes = make([]logStripe, 2)
	}
	put := func(stripe int, at int64, line string) {
		st := &o.stripes[stripe]
		st.buf = append(st.buf, line...)
		st.lines = append(st.lines, lineMark{at: at, end: len(st.buf)})
	}
	put(0, 10, "a\n")
	put(1, 5, "b\n")
	put(1, 20, "c\n")
	put(0, 30, "d\n")
	put(0, 40, "e\n")
	put(1, 35, "f\n")
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "b\na\nc\nd\nf\ne\n" {
		t.Errorf("flushed %q, want the lines by time: b a c d f e", got)
	}
	put(1, 50, "g\n") // the stripes are empty again, and take more
	o.Logger().Error("failed")
	if got := out.String(); !strings.HasPrefix(got, "b\na\nc\nd\nf\ne\ng\ntime=") || !strings.HasSuffix(got, "msg=failed\n") {
		t.Errorf("after a failure, the log is %q, want g, then the failure", got)
	}
}
