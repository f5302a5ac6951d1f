package web

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strings"
)

// A token's plaintext never reaches a log line, whatever part of a request
// it rides in: anything shaped like one is redacted on its way to the log.

// redactMinRun is the shortest run of base62 characters after a token
// prefix that is redacted. It is less than a key's 36 so that a key with
// characters lost is redacted too: 30 are a whole random part, whose
// checksum anyone can compute, and a shorter run leaves at least 7
// characters (41 bits) to guess against the failure limiter.
const redactMinRun = 24

// redactTokens returns s with every run shaped like a token (tkp_ or tks_,
// the underscore perhaps percent-encoded, then at least redactMinRun base62
// characters) replaced by its prefix and REDACTED. The checksum is not
// checked: a mistyped key is as secret as a good one. Without "tk" in s it
// returns s itself and allocates nothing.
func redactTokens(s string) string {
	r, _ := redact(s)
	return r
}

// redact is redactTokens, and whether it changed anything.
func redact(s string) (string, bool) {
	i := strings.Index(s, "tk")
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i >= 0 {
		if end, ok := tokenAt(s, i); ok {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[done:i])
			b.WriteString(s[i : i+3])
			b.WriteString("_REDACTED")
			done, i = end, end
		} else {
			i += 2
		}
		j := strings.Index(s[i:], "tk")
		if j < 0 {
			break
		}
		i += j
	}
	if done == 0 {
		return s, false
	}
	b.WriteString(s[done:])
	return b.String(), true
}

// tokenAt reports whether a token-shaped run starts at s[i:], where "tk"
// is, and where it ends.
func tokenAt(s string, i int) (end int, ok bool) {
	j := prefixEnd(s, i)
	if j < 0 {
		return 0, false
	}
	k := j
	for k < len(s) && isBase62(s[k]) {
		// Adjacent keys: once this run is long enough to go, the next key
		// starts where its prefix does, and is redacted as a key of its own.
		if k-j >= redactMinRun && s[k] == 't' && prefixEnd(s, k) > 0 {
			break
		}
		k++
	}
	return k, k-j >= redactMinRun
}

// prefixEnd is where the token prefix at s[i:] ends (after tkp_, tks_,
// tkp%5F or tks%5f), or -1 if there is none.
func prefixEnd(s string, i int) int {
	if len(s)-i < 4 || s[i] != 't' || s[i+1] != 'k' || s[i+2] != 'p' && s[i+2] != 's' {
		return -1
	}
	switch j := i + 3; {
	case s[j] == '_':
		return j + 1
	case len(s)-j >= 3 && s[j] == '%' && s[j+1] == '5' && (s[j+2] == 'F' || s[j+2] == 'f'):
		return j + 3
	}
	return -1
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// RedactingHandler wraps h so that no message, attribute key or value it
// is given reaches h with a token's text in it: the access log, error
// lines, the HTTP server's own messages and whatever logs through it later.
// A record with no "tk" in it is passed on as it is.
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

// mayHoldToken is a quick look for "tk" in an attribute: most have none,
// and then the record goes on as it is.
func mayHoldToken(a slog.Attr) bool {
	if strings.Contains(a.Key, "tk") {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return strings.Contains(a.Value.String(), "tk")
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
