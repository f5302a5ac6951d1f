package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokend/store"
)

// Token-shaped texts: 36 base62 characters after the prefix, as a key has.
// The checksums are wrong, which redaction does not look at.
const (
	body36  = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	bodyS   = "9876543210zYxWvUtSrQpOnMlKjIhGfEdCbA"
	keyP    = "tkp_" + body36
	keyS    = "tks_" + bodyS
	redactP = "tkp_REDACTED"
	redactS = "tks_REDACTED"
)

// tokenShaped is what must never be left in a log line: a prefix, its
// underscore perhaps percent-encoded, and redactMinRun base62 characters.
var tokenShaped = regexp.MustCompile(`tk[ps](_|%5[Ff])[0-9A-Za-z]{24,}`)

// A longRun is left in a log line only when it is a hexRun: hexadecimal
// digits of one case.
var (
	longRun = regexp.MustCompile(`[0-9A-Za-z]{24,}`)
	hexRun  = regexp.MustCompile(`^([0-9a-f]+|[0-9A-F]+)$`)
)

// fullwidth is s in fullwidth letters and digits, as an input method for
// Chinese or Japanese types it.
func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isBase62(byte(r)) {
			return r - '0' + '０'
		}
		return r
	}, s)
}

// unmangled is s with what a client may have done to a key undone: percent
// escapes decoded as often as they decode, fullwidth letters made ASCII.
func unmangled(s string) string {
	s = strings.Map(func(r rune) rune {
		if '０' <= r && r <= 'ｚ' && isBase62(byte(r-'０'+'0')) {
			return r - '０' + '0'
		}
		return r
	}, s)
	for {
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			return s
		}
		s = u
	}
}

// holdsSecret tells whether s, unmangled, still holds redactMinRun
// characters in a row of the secret body.
func holdsSecret(s, body string) (string, bool) {
	s = unmangled(s)
	for i := 0; i+redactMinRun <= len(body); i++ {
		if strings.Contains(s, body[i:i+redactMinRun]) {
			return body[i : i+redactMinRun], true
		}
	}
	return "", false
}

// hexKey is the secret of a key, prefix left out, that is lowercase
// hexadecimal digits and has a good checksum: the one hexadecimal run
// that is redacted without a prefix.
func hexKey(t testing.TB, prefix string) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for n := uint64(1); n < 1e6; n++ {
		random := fmt.Sprintf("%030x", n*0x9e3779b97f4a7c15) // letters as well as digits
		sum := crc32.ChecksumIEEE([]byte(prefix + random))
		var c [6]byte
		for i := 5; i >= 0; i-- {
			c[i] = base62[sum%62]
			sum /= 62
		}
		key := prefix + random + string(c[:])
		if _, ok := store.ParseTokenText(key); !ok {
			t.Fatalf("the checksum of %s is not the store's", key)
		}
		if hexRun.MatchString(key[4:]) {
			return key[4:]
		}
	}
	t.Fatal("no hexadecimal key found")
	return ""
}

// percentEncoded is every byte of s as a percent escape.
func percentEncoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestRedactTokens(t *testing.T) {
	hexP, hexS := hexKey(t, "tkp_"), hexKey(t, "tks_")
	last := byte('0')
	if hexP[35] == '0' {
		last = '1'
	}
	hexBad := hexP[:35] + string(last) // the checksum one off
	sha256hex := strings.Repeat("0123456789abcdef", 4)
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no token", "/tokens/12/revoke", "/tokens/12/revoke"},
		{"the API's paths", "/api/v1/openapi.json /api/v1/tokens/1234 /auth/verify/videos/abc/master.m3u8",
			"/api/v1/openapi.json /api/v1/tokens/1234 /auth/verify/videos/abc/master.m3u8"},
		{"tokend", "tokend serving http://localhost:8080 (database tokend.db)", "tokend serving http://localhost:8080 (database tokend.db)"},
		{"a word with tk", "/static/tk.css?tkp=1&tks_=2", "/static/tk.css?tkp=1&tks_=2"},
		{"short ids", "/x/0123456789abcdefghijklm/ABCDEFGHIJKLMNOPQRSTUVW", "/x/0123456789abcdefghijklm/ABCDEFGHIJKLMNOPQRSTUVW"},
		{"a UUID", "/videos/123e4567-e89b-12d3-a456-426614174000/master.m3u8", "/videos/123e4567-e89b-12d3-a456-426614174000/master.m3u8"},
		{"addresses", "remote=2001:db8:85a3::8a2e:370:7334 remote=192.0.2.1:1234", "remote=2001:db8:85a3::8a2e:370:7334 remote=192.0.2.1:1234"},
		{"prefix with a short run", "tkp_short tks_0123456789abcdefghijklm", "tkp_short tks_0123456789abcdefghijklm"},
		{"other prefixes", "tkx_" + body36 + " tk_" + body36 + " tkp-" + body36, "tkx_REDACTED tk_REDACTED tkp-REDACTED"},
		{"key alone", keyP, redactP},
		{"system key", keyS, redactS},
		{"key at the start", keyP + "/master.m3u8", redactP + "/master.m3u8"},
		{"key at the end", "/auth/verify/videos/" + keyP, "/auth/verify/videos/" + redactP},
		{"Envoy path", "/auth/verify/videos/" + keyP + "/master.m3u8", "/auth/verify/videos/" + redactP + "/master.m3u8"},
		{"two keys", keyP + " and " + keyS, redactP + " and " + redactS},
		{"adjacent keys", keyP + keyS + keyP, redactP + redactS + redactP},
		{"adjacent keys in capitals", keyP + "TKS_" + bodyS + "Tkp_" + body36, redactP + "TKS_REDACTEDTkp_REDACTED"},
		// A segment runs on through an escaped underscore: the next prefix goes.
		{"adjacent keys, the underscore escaped", keyP + "tks%5F" + bodyS, redactP},
		{"key followed by more base62", keyP + "MORE123", redactP},
		{"key inside a word", "x" + keyS + "-y", "x" + redactS + "-y"},
		{"key one character short", keyP[:len(keyP)-1], redactP},
		{"key cut to its random part", keyP[:4+30] + "/x", redactP + "/x"},
		{"key cut to 24 characters", keyP[:4+24] + "/x", redactP + "/x"},
		{"key cut to 23 characters", keyP[:4+23] + "/x", keyP[:4+23] + "/x"},
		{"bearer header", "Bearer " + keyS, "Bearer " + redactS},
		{"encoded underscore", "/x/tkp%5F" + body36 + "/y", "/x/tkp%5FREDACTED/y"},
		{"lowercase encoded underscore", "?token=tks%5f" + body36, "?token=tks%5fREDACTED"},
		{"double-encoded underscore", "tkp%255F" + body36, "tkp%255FREDACTED"},
		{"quoted by a JSON error", `json: unknown field "` + keyP + `"`, `json: unknown field "` + redactP + `"`},
		{"tk repeated before a key", "tktktk" + keyP, "tktktk" + redactP},
		{"short prefix run then a key", "tkp_ab" + keyS, "tkp_ab" + redactS},
		{"a key then a short prefix run", keyP + "tkp_short", redactP + "tkp_short"},
		{"prefix at the very end", "path/tkp_", "path/tkp_"},
		{"truncated encoded prefix", "tkp%5", "tkp%5"},
		{"a percent sign at the very end", "/x/" + body36 + "%", "/x/REDACTED"},

		// The reviewer's: the secret without its prefix as it is.
		{"prefix in capitals", "/x/TKP_" + body36, "/x/TKP_REDACTED"},
		{"prefix capitalised", "/x/Tkp_" + body36, "/x/Tkp_REDACTED"},
		{"prefix with a capital", "/x/tkP_" + body36, "/x/tkP_REDACTED"},
		{"no prefix", "/x/" + body36, "/x/REDACTED"},
		{"a system key's secret alone", "/x/" + bodyS + "/y", "/x/REDACTED/y"},
		{"prefix with a dash", "/x/tkp-" + body36, "/x/tkp-REDACTED"},
		{"prefix with a dot", "/x/tkp." + body36, "/x/tkp.REDACTED"},
		{"prefix with two underscores", "/x/tkp__" + body36, "/x/tkp__REDACTED"},
		{"an encoded space after the prefix", "/x/tkp_%20" + body36, "/x/tkp_REDACTED"},
		{"a space after the prefix", "/x/tkp_ " + body36, "/x/tkp_ REDACTED"},
		{"fullwidth prefix", "/x/ｔｋｐ＿" + body36, "/x/ｔｋｐ＿REDACTED"},
		{"fullwidth key", "/x/" + fullwidth("tkp") + "＿" + fullwidth(body36), "/x/ｔｋｐ＿REDACTED"},
		{"half fullwidth", "/x/tkp_" + fullwidth(body36[:18]) + body36[18:], "/x/tkp_REDACTED"},
		{"fullwidth cut to 24", "/x/" + fullwidth(body36[:24]) + "/y", "/x/REDACTED/y"},
		{"fullwidth cut to 23", "/x/" + fullwidth(body36[:23]) + "/y", "/x/" + fullwidth(body36[:23]) + "/y"},
		{"underscore encoded thrice", "/auth/verify/tkp%25255F" + body36, "/auth/verify/tkp%25255FREDACTED"},
		{"prefix letter encoded", "/x/%74kp_" + body36, "/x/%74kp_REDACTED"},
		{"a letter of the secret encoded", "/x/tkp_" + body36[:12] + "%" + fmt.Sprintf("%X", body36[12]) + body36[13:], "/x/tkp_REDACTED"},
		{"a letter of the secret encoded twice", "/x/tkp_" + body36[:12] + "%25" + fmt.Sprintf("%x", body36[12]) + body36[13:], "/x/tkp_REDACTED"},
		{"every letter encoded", "/x/tkp_" + percentEncoded(body36), "/x/tkp_REDACTED"},
		{"a stray escape inside", "/x/tkp_" + body36[:12] + "%20" + body36[12:], "/x/tkp_REDACTED"},
		{"key split in halves by an escape", "/x/tkp_" + body36[:18] + "%2F" + body36[18:], "/x/tkp_REDACTED"},
		// The digits of an escape count: the letters of a key may be them.
		{"an escape and 22 characters", "/x/%00" + body36[:22] + "/y", "/x/REDACTED/y"},
		{"an escape and 21 characters", "/x/%00" + body36[:21] + "/y", "/x/%00" + body36[:21] + "/y"},
		// Not caught, by design: each piece is shorter than redactMinRun
		// (see redact.go), and so is neither in the output.
		{"key split in halves", "/x/" + body36[:18] + "/" + body36[18:], "/x/" + body36[:18] + "/" + body36[18:]},
		{"key split in halves by a space", "/x/tkp_" + body36[:18] + " " + body36[18:], "/x/tkp_" + body36[:18] + " " + body36[18:]},

		// Hexadecimal of one case is a hash or an id, unless a prefix or a
		// checksum says it is a key.
		{"a SHA-256", "/videos/" + sha256hex + "/master.m3u8", "/videos/" + sha256hex + "/master.m3u8"},
		{"an object id", "/videos/507F1F77BCF86CD799439011/x", "/videos/507F1F77BCF86CD799439011/x"},
		{"a long number", "/x/" + strings.Repeat("1234567890", 4), "/x/" + strings.Repeat("1234567890", 4)},
		{"hexadecimal of both cases", "/x/507F1F77BCF86CD799439011abc", "/x/REDACTED"},
		{"hexadecimal after a prefix", "tkp_" + sha256hex + " tks%5f" + sha256hex, "tkp_REDACTED tks%5fREDACTED"},
		{"hexadecimal after an encoded prefix", "TKS%255f" + sha256hex, "TKS%255fREDACTED"},
		{"a hexadecimal personal key's secret alone", "/x/" + hexP + "/y", "/x/REDACTED/y"},
		{"a hexadecimal system key's secret alone", "/x/" + hexS, "/x/REDACTED"},
		{"a hexadecimal key's secret with a bad checksum", "/x/" + hexBad, "/x/" + hexBad},
		{"hexadecimal then a prefix", strings.Repeat("0", 24) + "tkp_", "REDACTEDtkp_"},

		// What else is a run: a long identifier in a stack.
		{"a long identifier", "echo.HeaderAccessControlAllowCredentials", "echo.REDACTED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := redactTokens(tt.in)
			if got != tt.want {
				t.Errorf("redactTokens(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			for _, body := range []string{body36, bodyS} {
				if part, ok := holdsSecret(got, body); ok {
					t.Errorf("redactTokens(%q) = %q, still holds %q", tt.in, got, part)
				}
			}
		})
	}
}

// Whatever the input, nothing token-shaped is left, no run but a
// hexadecimal one, and text without a run is returned as it is.
func FuzzRedactTokens(f *testing.F) {
	for _, s := range []string{"", keyP, keyP + keyS, "tkp%5F" + body36, "tkp_ab" + keyS, keyP[:30] + "tkp_" + body36, "/tokens/1",
		"/x/TKP_" + body36, "/x/tkp_%20" + body36, "/x/ｔｋｐ＿" + fullwidth(body36), "tkp%25255F" + body36, "/x/%74kp_" + body36,
		"/x/tkp_" + body36[:12] + "%2541" + body36[13:], "/x/" + strings.Repeat("0123456789abcdef", 4)} {
		f.Add(s)
	}
	// Anything that may be a run: ASCII letters and digits, %, and all
	// beyond ASCII.
	mayRun := regexp.MustCompile(`[^\x00-\x24\x26-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]{24,}`)
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := redact(s)
		if loc := tokenShaped.FindStringIndex(got); loc != nil {
			t.Errorf("redact(%q) = %q, still holds %q", s, got, got[loc[0]:loc[1]])
		}
		for _, run := range longRun.FindAllString(got, -1) {
			if !hexRun.MatchString(run) {
				t.Errorf("redact(%q) = %q, still holds %q", s, got, run)
			}
		}
		if changed != (got != s) {
			t.Errorf("redact(%q) = %q, %v", s, got, changed)
		}
		if changed && !mayRun.MatchString(s) {
			t.Errorf("redact(%q) = %q, changed text with no run in it", s, got)
		}
		if again, _ := redact(got); again != got {
			t.Errorf("redact(%q) = %q, and redacted again %q", s, got, again)
		}
	})
}

// A key's secret is redacted whatever comes before it and after it.
func FuzzRedactSecretInContext(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"tkp_", "/x"}, {"/x/TKP-", "_"}, {"%", "%"}, {"%2", "5F"}, {"ｔｋｐ＿", ""}, {"abc", "def"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, before, after string) {
		for _, body := range []string{body36, fullwidth(bodyS)} {
			s := before + body + after
			got := redactTokens(s)
			if part, ok := holdsSecret(got, unmangled(body)); ok && !strings.Contains(unmangled(before+after), part) {
				t.Errorf("redactTokens(%q) = %q, still holds %q", s, got, part)
			}
		}
	})
}

// The access log runs on every request: a path without a token costs no
// allocation.
func TestRedactTokensAllocatesNothingWithoutAToken(t *testing.T) {
	for _, s := range []string{"/api/v1/tokens", "/tokens/12/revoke", "/auth/verify/videos/12/master.m3u8", "tkp_short",
		"/auth/verify/videos/" + strings.Repeat("0123456789abcdef", 4) + "/segment-00001.ts", "/x/" + fullwidth(body36[:23]) + "/é/%20%2F"} {
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
	// The secret whatever its prefix, or without one.
	log.Info("mangled", "path", "/x/TKP_"+body36, "bare", bodyS, "fullwidth", "ｔｋｐ＿"+fullwidth(body36), "escaped", "tkp%255F"+body36)
	// What has no token in it keeps its form.
	log.Info("plain", "path", "/tokens/12", "status", 200, "error", errors.New("disk full"))

	out := buf.String()
	for _, re := range []*regexp.Regexp{tokenShaped, longRun} {
		if loc := re.FindStringIndex(out); loc != nil {
			t.Errorf("the log holds %q:\n%s", out[loc[0]:loc[1]], out)
		}
	}
	for _, body := range []string{body36, bodyS} {
		if part, ok := holdsSecret(out, body); ok {
			t.Errorf("the log holds %q:\n%s", part, out)
		}
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
		`msg=mangled path=/x/TKP_REDACTED bare=REDACTED fullwidth=ｔｋｐ＿REDACTED escaped=tkp%255FREDACTED`,
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
		{"Envoy path without a token", "/auth/verify/videos/abc/master.m3u8"},
		{"tk without a token", "/static/tk/tkp_icon.svg"},
		{"a hash, no token", "/auth/verify/videos/" + strings.Repeat("0123456789abcdef", 4) + "/segment-00001.ts"},
		{"one token", "/auth/verify/videos/" + keyP + "/master.m3u8"},
		{"one token without its prefix", "/auth/verify/videos/" + body36 + "/master.m3u8"},
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
		{"Envoy path without a token", "/auth/verify/videos/abc/master.m3u8"},
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
