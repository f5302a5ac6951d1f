package web

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// lineHandler writes the lines slog's TextHandler or JSONHandler would,
// byte for byte (logline_test.go holds them together), for the records
// tokend logs most: flat ones, whose attributes are strings, numbers,
// booleans and durations, such as the access log's line per request. It
// costs a fraction of slog's handlers, which look every attribute up
// through ReplaceAttr, groups and reflection. Any other record, and any
// handler made by WithAttrs or WithGroup, is slog's own.
//
// Like slog's handlers, it writes each line with one Write; w must take
// Writes from several goroutines (LogOutput's writers do).
type lineHandler struct {
	json     bool
	level    slog.Leveler
	w        io.Writer
	fallback slog.Handler
	// stamp is the text time of the last millisecond a line was written
	// in: the lines of one millisecond share it.
	stamp atomic.Pointer[timeStamp]
}

// timeStamp is a millisecond in a location, as slog's text writes it.
type timeStamp struct {
	ms   int64
	loc  *time.Location
	text []byte
}

func newLineHandler(w io.Writer, json bool, level slog.Leveler) *lineHandler {
	opts := &slog.HandlerOptions{Level: level}
	h := &lineHandler{json: json, level: level, w: w}
	if json {
		h.fallback = slog.NewJSONHandler(w, opts)
	} else {
		h.fallback = slog.NewTextHandler(w, opts)
	}
	return h
}

func (h *lineHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.fallback.WithAttrs(as) }
func (h *lineHandler) WithGroup(name string) slog.Handler    { return h.fallback.WithGroup(name) }

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.flat(r) {
		return h.fallback.Handle(ctx, r)
	}
	bp := lineBuffers.Get().(*[]byte)
	b := h.appendHead((*bp)[:0], r.Time, r.Level, r.Message)
	sep := h.sep()
	r.Attrs(func(a slog.Attr) bool {
		b = h.appendKey(b, sep, a.Key)
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = h.appendString(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = h.appendDuration(b, v.Duration())
		}
		return true
	})
	_, err := h.w.Write(h.appendEnd(b))
	*bp = b
	lineBuffers.Put(bp)
	return err
}

// appendHead appends what starts a line: its time (unless zero), level
// and message.
func (h *lineHandler) appendHead(b []byte, at time.Time, level slog.Level, msg string) []byte {
	sep := ""
	if h.json {
		b = append(b, '{')
	}
	if !at.IsZero() {
		b = h.appendPlainKey(b, sep, slog.TimeKey)
		sep = h.sep()
		t := at.Round(0)
		if h.json {
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		} else {
			b = h.appendTextTime(b, t)
		}
	}
	b = h.appendPlainKey(b, sep, slog.LevelKey)
	b = h.appendString(b, level.String())
	b = h.appendPlainKey(b, h.sep(), slog.MessageKey)
	return h.appendString(b, msg)
}

// appendEnd appends what ends a line.
func (h *lineHandler) appendEnd(b []byte) []byte {
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendDuration appends d as slog does: nanoseconds in JSON, Go's
// duration text in text.
func (h *lineHandler) appendDuration(b []byte, d time.Duration) []byte {
	if h.json {
		return strconv.AppendInt(b, int64(d), 10)
	}
	return append(b, d.String()...)
}

// writeRequest writes the access log's line about a request (see
// requestLine.record), the line Handle writes for that record, without
// the record: at a line per request, the record's attributes looked at
// three times (to redact, to see that they are flat, to write them) cost
// more than the rest of the line. A line with an error is logged through
// the record, as it is rare.
func (h *lineHandler) writeRequest(ctx context.Context, l requestLine) error {
	if l.err != nil {
		if !h.Enabled(ctx, slog.LevelError) {
			return nil
		}
		return RedactingHandler(h).Handle(ctx, l.record())
	}
	if !h.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	bp := lineBuffers.Get().(*[]byte)
	b := h.appendHead((*bp)[:0], l.at, slog.LevelInfo, requestMessage)
	sep := h.sep()
	b = h.appendString(h.appendPlainKey(b, sep, "method"), redactTokens(l.method))
	b = h.appendString(h.appendPlainKey(b, sep, "path"), redactTokens(l.path))
	b = strconv.AppendInt(h.appendPlainKey(b, sep, "status"), int64(l.status), 10)
	b = h.appendDuration(h.appendPlainKey(b, sep, "took"), l.took)
	b = h.appendString(h.appendPlainKey(b, sep, "remote"), redactTokens(l.remote))
	b = h.appendString(h.appendPlainKey(b, sep, "request_id"), redactTokens(l.id))
	var err error
	if lw, ok := h.w.(lineWriter); ok {
		lw.writeLine(l.at, h.appendEnd(b))
	} else {
		_, err = h.w.Write(h.appendEnd(b))
	}
	*bp = b
	lineBuffers.Put(bp)
	return err
}

// lineWriter takes a line with the time it was logged (bufferedWriter).
type lineWriter interface {
	writeLine(at time.Time, p []byte)
}

// flat reports whether r is a record lineHandler writes itself: attributes
// of the kinds it knows, each with a key (slog drops an empty attribute),
// and a time slog's JSON can write.
func (h *lineHandler) flat(r slog.Record) bool {
	if h.json {
		if y := r.Time.Year(); !r.Time.IsZero() && (y < 0 || y >= 10000) {
			return false
		}
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Value.Kind() {
		case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindDuration:
			ok = a.Key != ""
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func (h *lineHandler) sep() string {
	if h.json {
		return ","
	}
	return " "
}

// appendPlainKey is appendKey of a key of this package's own, made of
// letters and underscores, which neither format quotes or escapes.
func (h *lineHandler) appendPlainKey(b []byte, sep, key string) []byte {
	b = append(b, sep...)
	if h.json {
		b = append(b, '"')
		b = append(b, key...)
		return append(b, '"', ':')
	}
	b = append(b, key...)
	return append(b, '=')
}

func (h *lineHandler) appendKey(b []byte, sep, key string) []byte {
	b = append(b, sep...)
	b = h.appendString(b, key)
	if h.json {
		return append(b, ':')
	}
	return append(b, '=')
}

func (h *lineHandler) appendString(b []byte, s string) []byte {
	if h.json {
		b = append(b, '"')
		b = appendEscapedJSON(b, s, false)
		return append(b, '"')
	}
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// appendTextTime appends t as slog's text does, from the last stamp
// made when t is in the same millisecond and location.
func (h *lineHandler) appendTextTime(b []byte, t time.Time) []byte {
	ms, loc := t.UnixMilli(), t.Location()
	if st := h.stamp.Load(); st != nil && st.ms == ms && st.loc == loc {
		return append(b, st.text...)
	}
	n := len(b)
	b = appendRFC3339Millis(b, t)
	h.stamp.Store(&timeStamp{ms: ms, loc: loc, text: slices.Clone(b[n:])})
	return b
}

// appendRFC3339Millis is slog's text time: RFC 3339 with milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond more
	// keeps four digits after the point, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// textPlain are the bytes a text value may hold unquoted: ASCII that JSON
// need not escape, or a backslash, but not a space or '='. Bytes of
// multi-byte characters are not in it: they are looked at as runes.
var textPlain = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c == '\\' || jsonPlain[c] && c != ' ' && c != '='
	}
	return t
}()

// textNeedsQuoting is slog's TextHandler's rule for quoting a string.
func textNeedsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if textPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return true
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
