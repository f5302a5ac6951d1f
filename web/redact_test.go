package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Token-shaped texts: 36 base62 characters after the prefix, as a key has.
// The checksums are wrong, which redaction does not look at.
const (
	body36  = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	keyP    = "tkp_" + body36
	keyS    = "tks_" + "9876543210zYxWvUtSrQpOnMlKjIhGfEdCbA"
	redactP = "tkp_REDACTED"
	redactS = "tks_REDACTED"
)

// tokenShaped is what must never be left in a log line: a prefix, its
// underscore perhaps percent-encoded, and redactMinRun base62 characters.
var tokenShaped = regexp.MustCompile(`tk[ps](_|%5[Ff])[0-9A-Za-z]{24,}`)

func TestRedactTokens(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no token", "/tokens/12/revoke", "/tokens/12/revoke"},
		{"a word with tk", "/static/tk.css?tkp=1&tks_=2", "/static/tk.css?tkp=1&tks_=2"},
		{"prefix with a short run", "tkp_short tks_0123456789abcdefghijklm", "tkp_short tks_0123456789abcdefghijklm"},
		{"other prefixes", "tkx_" + body36 + " tk_" + body36 + " tkp-" + body36, "tkx_" + body36 + " tk_" + body36 + " tkp-" + body36},
		{"key alone", keyP, redactP},
		{"system key", keyS, redactS},
		{"key at the start", keyP + "/master.m3u8", redactP + "/master.m3u8"},
		{"key at the end", "/auth/verify/videos/" + keyP, "/auth/verify/videos/" + redactP},
		{"Envoy path", "/auth/verify/videos/" + keyP + "/master.m3u8", "/auth/verify/videos/" + redactP + "/master.m3u8"},
		{"two keys", keyP + " and " + keyS, redactP + " and " + redactS},
		{"adjacent keys", keyP + keyS + keyP, redactP + redactS + redactP},
		{"key followed by more base62", keyP + "MORE123", redactP},
		{"key inside a word", "x" + keyS + "-y", "x" + redactS + "-y"},
		{"key one character short", keyP[:len(keyP)-1], redactP},
		{"key cut to its random part", keyP[:4+30] + "/x", redactP + "/x"},
		{"key cut to 24 characters", keyP[:4+24] + "/x", redactP + "/x"},
		{"key cut to 23 characters", keyP[:4+23] + "/x", keyP[:4+23] + "/x"},
		{"bearer header", "Bearer " + keyS, "Bearer " + redactS},
		{"encoded underscore", "/x/tkp%5F" + body36 + "/y", "/x/" + redactP + "/y"},
		{"lowercase encoded underscore", "?token=tks%5f" + body36, "?token=" + redactS},
		{"double-encoded underscore stays undecoded", "tkp%255F" + body36, "tkp%255F" + body36},
		{"quoted by a JSON error", `json: unknown field "` + keyP + `"`, `json: unknown field "` + redactP + `"`},
		{"tk repeated before a key", "tktktk" + keyP, "tktktk" + redactP},
		{"short prefix run then a key", "tkp_ab" + keyS, "tkp_ab" + redactS},
		{"a key then a short prefix run", keyP + "tkp_short", redactP + "tkp_short"},
		{"prefix at the very end", "path/tkp_", "path/tkp_"},
		{"truncated encoded prefix", "tkp%5", "tkp%5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactTokens(tt.in); got != tt.want {
				t.Errorf("redactTokens(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// Whatever the input, nothing token-shaped is left, and text without a
// token is returned as it is.
func FuzzRedactTokens(f *testing.F) {
	for _, s := range []string{"", keyP, keyP + keyS, "tkp%5F" + body36, "tkp_ab" + keyS, keyP[:30] + "tkp_" + body36, "/tokens/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := redact(s)
		if loc := tokenShaped.FindStringIndex(got); loc != nil {
			t.Errorf("redact(%q) = %q, still holds %q", s, got, got[loc[0]:loc[1]])
		}
		if !tokenShaped.MatchString(s) && (changed || got != s) {
			t.Errorf("redact(%q) = %q, changed text with nothing token-shaped in it", s, got)
		}
	})
}

// The access log runs on every request: a path without a token costs no
// allocation.
func TestRedactTokensAllocatesNothingWithoutAToken(t *testing.T) {
	for _, s := range []string{"/api/v1/tokens", "/tokens/12/revoke", "/auth/verify/videos/12/master.m3u8", "tkp_short"} {
		if n := testing.AllocsPerRun(100, func() { redactTokens(s) }); n != 0 {
			t.Errorf("redactTokens(%q): %v allocations, want 0", s, n)
		}
	}
	h := RedactingHandler(nopHandler{})
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.String("path", "/tokens/12/revoke"), slog.Int("status", 200),
		slog.Duration("took", time.Millisecond), slog.String("remote", "192.0.2.1"))
	if n := testing.AllocsPerRun(100, func() { h.Handle(context.Background(), r) }); n != 0 {
		t.Errorf("RedactingHandler on an access log line: %v allocations, want 0", n)
	}
}

type nopHandler struct{}

func (nopHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (nopHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nopHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nopHandler) WithGroup(string) slog.Handler           { return h }

type keyHolder struct{ Key string }

type keyValuer struct{}

func (keyValuer) LogValue() slog.Value { return slog.StringValue("valued " + keyS) }

// TestRedactingHandler logs a key in every place a record can carry one,
// through the handler serve installs, and through the log.Logger it gives
// the HTTP server.
func TestRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	h := RedactingHandler(slog.NewTextHandler(&buf, nil))
	if RedactingHandler(h) != h {
		t.Errorf("RedactingHandler wraps a redacting handler again")
	}
	log := slog.New(h)
	log.Info("message " + keyP)
	log.Info("attrs",
		"path", "/auth/verify/videos/"+keyP+"/master.m3u8",
		"error", fmt.Errorf("decode: %w", errors.New(`unknown field "`+keyS+`"`)),
		"bytes", []byte("body "+keyP),
		"struct", keyHolder{Key: keyS},
		"valuer", keyValuer{},
		slog.Group("request", slog.String("authorization", "Bearer "+keyP), slog.Int("n", 7)),
		"key "+keyS, "value",
	)
	log.With("with", keyP).WithGroup("group "+keyS).Info("with", "inner", keyS)
	slog.NewLogLogger(h, slog.LevelWarn).Printf("http: panic serving 192.0.2.1:1234: %s", keyP)
	// What has no token in it keeps its form.
	log.Info("plain", "path", "/tokens/12", "status", 200, "error", errors.New("disk full"))

	out := buf.String()
	if loc := tokenShaped.FindStringIndex(out); loc != nil {
		t.Errorf("the log holds %q:\n%s", out[loc[0]:loc[1]], out)
	}
	for _, want := range []string{
		"msg=\"message " + redactP + "\"",
		"path=/auth/verify/videos/" + redactP + "/master.m3u8",
		`error="decode: unknown field \"` + redactS + `\""`,
		`bytes="body ` + redactP + `"`,
		`struct={Key:` + redactS + `}`,
		`valuer="valued ` + redactS + `"`,
		`request.authorization="Bearer ` + redactP + `"`,
		`request.n=7`,
		`"key ` + redactS + `"=value`,
		"with=" + redactP + " \"group " + redactS + ".inner\"=" + redactS,
		"msg=\"http: panic serving 192.0.2.1:1234: " + redactP + "\"",
		`msg=plain path=/tokens/12 status=200 error="disk full"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not hold %s:\n%s", want, out)
		}
	}
}

func BenchmarkRedactTokens(b *testing.B) {
	for _, bb := range []struct{ name, path string }{
		{"no token", "/api/v1/tokens/1234"},
		{"tk without a token", "/static/tk/tkp_icon.svg"},
		{"one token", "/auth/verify/videos/" + keyP + "/master.m3u8"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				redactTokens(bb.path)
			}
		})
	}
}

// BenchmarkRedactingHandler is the handler's cost on an access log line,
// on top of the handler it wraps.
func BenchmarkRedactingHandler(b *testing.B) {
	for _, bb := range []struct{ name, path string }{
		{"no token", "/tokens/1234/revoke"},
		{"one token", "/auth/verify/videos/" + keyP + "/master.m3u8"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			h := RedactingHandler(nopHandler{})
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, "request", 0)
			r.AddAttrs(slog.String("method", "GET"), slog.String("path", bb.path), slog.Int("status", 200),
				slog.Duration("took", time.Millisecond), slog.String("remote", "192.0.2.1"))
			b.ReportAllocs()
			for b.Loop() {
				h.Handle(context.Background(), r)
			}
		})
	}
}
