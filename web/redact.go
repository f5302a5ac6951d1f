package web

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strings"

	"tokend/store"
)

// A token's plaintext never reaches a log line, whatever part of a request
// it rides in: anything that could be one, or most of one, is redacted on
// its way to the log.
//
// What is redacted does not depend on the prefix. A key's 36 characters
// after it are the secret whatever comes before them: a prefix typed in
// capitals (TKP_), with a dash, a dot or two underscores, its underscore
// escaped once, twice or more, a stray %20 after it, in fullwidth letters,
// or no prefix at all. So redact looks at segments: the stretches of a
// line between separators, a separator being anything but
//
//   - an ASCII letter or digit, a key's alphabet (base62);
//   - a fullwidth letter or digit (U+FF10–FF19, U+FF21–FF3A, U+FF41–FF5A),
//     as a Chinese or Japanese input method types a key: not a key to the
//     server, but it spells one;
//   - a %, which with the two digits after it may escape a letter of a key
//     (%41 is A) or stand between its characters (%20).
//
// A segment with redactMinRun letters and digits or more is replaced by
// REDACTED, less what says which kind of key it was: a prefix at its start
// (tkp%5F, TKS%255f) and the next key's at its end (…tks before _). What
// comes before a segment is kept as it is: "tkp_REDACTED",
// "TKP_REDACTED", "tkp-REDACTED", "tkp%5FREDACTED", "/x/REDACTED".
//
// What else in a log line has such a segment? Not a path of this server's
// own (/api/v1/openapi.json, /tokens/1234/revoke), an address, a
// duration, a number below 10^24, nor a UUID (dashes). But a path below
// /auth/verify is any path a proxy protects, and may hold an id: a
// hexadecimal one, a hash or an object id, stays readable (see hexOnly),
// other long ones are lost to the log (a KSUID's 27 base62 characters, a
// ULID's 26), as is a Go identifier of 24 characters or more in a panic's
// stack. Nothing this server logs itself is such an id; the cost is
// readability, never a key.
//
// Not caught: a key the client cut into pieces shorter than redactMinRun
// with a separator between them, /x/ + first 18 + / + last 18. No piece
// alone can be told from a short id without redacting those too, and
// alone a piece is far from the key: the first 18 characters leave 12
// random ones to guess (71 bits); the last 18, 12 random ones and the
// 6-character checksum, leave 18 (107 bits, 75 once the checksum's 32 bits
// have sorted the guesses). A line that holds the pieces in order holds
// the key for whoever joins them: redaction undoes a prefix mangled, a key
// cut short or padded, characters escaped or typed in fullwidth, not a key
// taken apart.

// redactMinRun is the fewest letters and digits of a segment that is
// redacted. It is less than a key's 36 so that a key with characters lost
// is redacted too: 30 are a whole random part, whose checksum anyone can
// compute, and fewer leave at least 7 characters (41 bits) to guess
// against the failure limiter.
const redactMinRun = 24

// redactTokens returns s with every segment that may be a token's secret,
// whole or cut (see above), replaced by REDACTED. The checksum is not
// checked: a mistyped key is as secret as a good one. Without such a
// segment in s it returns s itself and allocates nothing.
func redactTokens(s string) string {
	r, _ := redact(s)
	return r
}

// redact is redactTokens, and whether it changed anything.
func redact(s string) (string, bool) {
	i, j := nextSecret(s, 0)
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	done := 0 // s[:done] is in b
	for i >= 0 {
		b.WriteString(s[done:i])
		b.WriteString("REDACTED")
		done = j
		i, j = nextSecret(s, j)
	}
	b.WriteString(s[done:])
	return b.String(), true
}

// hasSecret reports whether redact would change s.
func hasSecret(s string) bool {
	i, _ := nextSecret(s, 0)
	return i >= 0
}

// nextSecret returns the bounds of the first part of s[from:] to redact,
// or -1, -1. A segment starts at from, if it is not a separator.
//
// Most lines have no segment of redactMinRun bytes, and are looked at a
// window of redactMinRun bytes at a time, from its last byte back: an
// ASCII separator (a slash, a dot, a space) means that no segment crosses
// it, and the next window starts after it. Only a window with none is
// looked at character by character.
func nextSecret(s string, from int) (int, int) {
	i := from
	for i+redactMinRun <= len(s) {
		k := i + redactMinRun - 1
		for k >= i && byteClass[s[k]] != separator {
			k--
		}
		if k >= i {
			i = k + 1
			continue
		}
		e := i + redactMinRun
		for e < len(s) && byteClass[s[e]] != separator {
			e++
		}
		if a, b := secretBetween(s, i, e); a >= 0 {
			return a, b
		}
		i = e + 1 // s[e] is a separator
	}
	return -1, -1
}

// byteClass tells what a byte may be in a segment: an ASCII letter or
// digit, %, or a byte of a character beyond ASCII, which may be a
// fullwidth letter or digit; or else a separator.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case isBase62(byte(c)):
			t[c] = alnum
		case c == '%':
			t[c] = percent
		case c >= 0x80:
			t[c] = beyondASCII
		}
	}
	return t
}()

const (
	separator = iota
	alnum
	percent
	beyondASCII
)

// secretBetween looks for a segment to redact in s[i:e], where no ASCII
// separator is, and returns the bounds of what to redact, or -1, -1.
func secretBetween(s string, i, e int) (int, int) {
	for k := i; k < e; {
		start, n := k, 0 // n letters and digits in s[start:k]
	segment:
		for k < e {
			switch byteClass[s[k]] {
			case alnum:
				k++
				n++
			case percent:
				k++
			default:
				if !fullwidthAt(s, k) {
					break segment
				}
				k += 3
				n++
			}
		}
		if n >= redactMinRun {
			if a, b, ok := secretIn(s, start, k, n); ok {
				return a, b
			}
		}
		if k == start {
			k++ // a separator beyond ASCII, or a byte of one
		}
	}
	return -1, -1
}

// fullwidthAt tells whether a fullwidth letter or digit, 3 bytes of UTF-8,
// is at s[k:]: U+FF10–FF19 (EF BC 90–99), U+FF21–FF3A (EF BC A1–BA) or
// U+FF41–FF5A (EF BD 81–9A).
func fullwidthAt(s string, k int) bool {
	if k+2 >= len(s) || s[k] != 0xEF {
		return false
	}
	c1, c2 := s[k+1], s[k+2]
	return c1 == 0xBC && (0x90 <= c2 && c2 <= 0x99 || 0xA1 <= c2 && c2 <= 0xBA) || c1 == 0xBD && 0x81 <= c2 && c2 <= 0x9A
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// secretIn decides on the segment s[start:end] of n letters and digits, n
// at least redactMinRun: whether to redact it, and which part.
func secretIn(s string, start, end, n int) (int, int, bool) {
	afterPrefix := start >= 4 && s[start-1] == '_' && isKeyPrefix(s[start-4:start-1])
	// A prefix with its underscore escaped is kept: tkp%5F, tkp%255F.
	if p := escapedPrefixEnd(s[start:end]); p > 0 && n-(p-1) >= redactMinRun {
		start, n, afterPrefix = start+p, n-(p-1), true
	}
	if hexOnly(s[start:end]) && !afterPrefix && !isKeySecret(s[start:end]) {
		return 0, 0, false
	}
	// Adjacent keys: once this segment is long enough to go, the next
	// key's prefix at its end (…tks_) is kept, as that key's own.
	if n-3 >= redactMinRun && isKeyPrefix(s[end-3:end]) && end < len(s) && s[end] == '_' {
		end -= 3
	}
	return start, end, true
}

// isKeyPrefix tells whether p is tkp or tks, in any case.
func isKeyPrefix(p string) bool {
	return len(p) == 3 && p[0]|0x20 == 't' && p[1]|0x20 == 'k' && (p[2]|0x20 == 'p' || p[2]|0x20 == 's')
}

// escapedPrefixEnd is the length of the prefix at the start of seg with
// its underscore escaped up to three times (tkp%5F, tkp%255F, tkp%25255F,
// any case), or 0 if there is none. More escaping than that is redacted
// with the key, so that what is kept stays short of redactMinRun.
func escapedPrefixEnd(seg string) int {
	if len(seg) < 6 || !isKeyPrefix(seg[:3]) || seg[3] != '%' {
		return 0
	}
	for i := 4; i <= 8 && i+2 <= len(seg); i += 2 {
		switch seg[i : i+2] {
		case "5F", "5f":
			return i + 2
		case "25":
		default:
			return 0
		}
	}
	return 0
}

// hexOnly tells whether r is hexadecimal digits of one case, as hashes and
// object ids are written: such a segment is kept unless a prefix or a
// checksum says it is a key. 24 characters of a key are hexadecimal digits
// of one case once in 10^14 (2·(16/62)^24), its 36 once in 10^21.
func hexOnly(r string) bool {
	var lower, upper bool
	for i := 0; i < len(r); i++ {
		switch c := r[i]; {
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'f':
			lower = true
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return false
		}
	}
	return !(lower && upper)
}

// isKeySecret tells whether r is the 36 characters after the prefix of a
// token whose checksum holds: a key's secret is known without its prefix.
// Only a hexadecimal segment needs the test; any other is redacted anyway.
func isKeySecret(r string) bool {
	if len(r) != 36 {
		return false
	}
	_, p := store.ParseTokenText("tkp_" + r)
	_, s := store.ParseTokenText("tks_" + r)
	return p || s
}

// RedactingHandler wraps h so that no message, attribute key or value it
// is given reaches h with a token's text in it: the access log, error
// lines, the HTTP server's own messages and whatever logs through it later.
// A record with nothing to redact is passed on as it is.
func RedactingHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(redactingHandler); ok {
		return h
	}
	return redactingHandler{h}
}

type redactingHandler struct{ next slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg, changed := redact(r.Message)
	if !changed {
		r.Attrs(func(a slog.Attr) bool {
			changed = mayHoldToken(a)
			return !changed
		})
		if !changed {
			return h.next.Handle(ctx, r)
		}
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a, _ = redactAttr(a)
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i], _ = redactAttr(a)
	}
	return redactingHandler{h.next.WithAttrs(out)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.next.WithGroup(redactTokens(name))}
}

// mayHoldToken is a quick look for a run to redact in an attribute: most
// have none, and then the record goes on as it is.
func mayHoldToken(a slog.Attr) bool {
	if hasSecret(a.Key) {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return hasSecret(a.Value.String())
	case slog.KindGroup:
		for _, ga := range a.Value.Group() {
			if mayHoldToken(ga) {
				return true
			}
		}
	case slog.KindAny, slog.KindLogValuer:
		return true // rare, and worked out in full by redactAttr
	}
	return false
}

// redactAttr redacts an attribute's key and value, and reports whether
// either changed.
func redactAttr(a slog.Attr) (slog.Attr, bool) {
	key, keyChanged := redact(a.Key)
	v, valueChanged := redactValue(a.Value)
	return slog.Attr{Key: key, Value: v}, keyChanged || valueChanged
}

func redactValue(v slog.Value) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		if s, ok := redact(v.String()); ok {
			return slog.StringValue(s), true
		}
	case slog.KindGroup:
		attrs := v.Group()
		var out []slog.Attr
		for i, a := range attrs {
			if ra, ok := redactAttr(a); ok {
				if out == nil {
					out = append([]slog.Attr(nil), attrs...)
				}
				out[i] = ra
			}
		}
		if out != nil {
			return slog.GroupValue(out...), true
		}
	case slog.KindLogValuer:
		if rv, ok := redactValue(v.Resolve()); ok {
			return rv, true
		}
	case slog.KindAny:
		// An error, a byte slice or a value the handler prints: redact the
		// text it would print, and keep the value when there is nothing to.
		if s, ok := redact(anyText(v.Any())); ok {
			return slog.StringValue(s), true
		}
	}
	return v, false
}

// anyText is how a handler would print x, near enough to see a token in it.
func anyText(x any) string {
	switch x := x.(type) {
	case error:
		return fmt.Sprint(x) // as Error() does, but a nil receiver does not panic here
	case []byte:
		return string(x)
	case encoding.TextMarshaler:
		b, err := x.MarshalText()
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	return fmt.Sprintf("%+v", x)
}
