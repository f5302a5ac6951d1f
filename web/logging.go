package web

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokend/store/stripe"
)

// LogOptions say how tokend serve writes its log.
type LogOptions struct {
	// Format is "text" (slog's key=value lines, the default) or "json".
	Format string
	// Level is the least severity logged; the access log is switched on
	// and off on its own (Config.AccessLog) and is not held back by it.
	Level slog.Level
	// FlushEvery is how often buffered access-log lines are written out;
	// zero takes the default, 200 ms.
	FlushEvery time.Duration
}

// ParseLogFormat reads --log-format.
func ParseLogFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case "", "text":
		return "text", nil
	case "json":
		return f, nil
	}
	return "", fmt.Errorf("log format %q: say text or json", s)
}

// ParseLogLevel reads --log-level: debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: say debug, info, warn or error", s)
}

// logBufferSize is what the access log holds between flushes, shared out
// among its stripes, each of which holds at least minStripeBuffer (so
// beyond 8 processors the log holds more): about 400 lines, so that a
// burst rarely writes before the next tick.
const (
	logBufferSize   = 64 << 10
	minStripeBuffer = 8 << 10
)

const defaultLogFlush = 200 * time.Millisecond

// LogOutput is the process's log: every line, redacted, into buffers in
// front of w. An access-log line only joins a buffer, and the buffers are
// written out every FlushEvery, when one is full, and on Close: a line per
// request costs no system call. Any other line (a failure, the store's
// news) is written out at once, after whatever access lines came before
// it, so the order holds and a failure is on disk before it is acted on.
//
// The access log's buffer is striped (package stripe): each processor appends
// to its own, and a flush merges them by each line's time, so the lines go
// out in the order they were logged, as from one buffer.
type LogOutput struct {
	format string
	level  slog.Level

	mu      sync.Mutex // held while writing to dst
	dst     io.Writer
	out     []byte      // a flush's lines, merged
	stripes []logStripe // stripe.Count of them
	closed  atomic.Bool

	dropped atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	logger, access *slog.Logger
}

// logStripe is one processor's share of the access log's buffer.
type logStripe struct {
	mu    sync.Mutex
	buf   []byte
	lines []lineMark
	// spare is what the last flush took, handed back to be filled next.
	spareBuf   []byte
	spareLines []lineMark
	_          [stripe.CacheLine]byte
}

// lineMark is where a line in a stripe's buffer ends, and when it was
// logged.
type lineMark struct {
	at  int64 // Unix nanoseconds
	end int
}

// NewLogOutput starts a log writing to w, flushed by a goroutine of its
// own until Close.
func NewLogOutput(w io.Writer, opts LogOptions) (*LogOutput, error) {
	format, err := ParseLogFormat(opts.Format)
	if err != nil {
		return nil, err
	}
	n := stripe.Count()
	o := &LogOutput{
		format: format, level: opts.Level, dst: w, stripes: make([]logStripe, n),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	size := max(logBufferSize/n, minStripeBuffer)
	for i := range o.stripes {
		st := &o.stripes[i]
		st.buf, st.spareBuf = make([]byte, 0, size), make([]byte, 0, size)
	}
	// Every line passes through the redaction that keeps a token's text
	// out of the log, whoever logs it.
	o.logger = slog.New(RedactingHandler(o.handler(urgentWriter{o}, opts.Level)))
	// The access log takes every line it is given: --access-log switches it.
	o.access = slog.New(RedactingHandler(o.handler(bufferedWriter{o}, slog.LevelDebug)))
	every := opts.FlushEvery
	if every <= 0 {
		every = defaultLogFlush
	}
	go o.flushEvery(every)
	return o, nil
}

// handler writes slog's text or JSON lines to w, quickly (lineHandler).
func (o *LogOutput) handler(w io.Writer, level slog.Level) slog.Handler {
	return newLineHandler(w, o.format == "json", level)
}

// Logger logs lines that are written out at once.
func (o *LogOutput) Logger() *slog.Logger { return o.logger }

// AccessLogger logs the access log's lines, buffered.
func (o *LogOutput) AccessLogger() *slog.Logger { return o.access }

// Dropped is how many lines were lost because the destination refused
// them (a closed pipe, a full disk). A slow destination loses nothing: the
// writer waits for it.
func (o *LogOutput) Dropped() uint64 { return o.dropped.Load() }

// Flush writes out what is buffered.
func (o *LogOutput) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writeOut(o.merged(o.out[:0]))
}

// Close stops the flushing goroutine and writes out what is buffered.
// Lines logged after Close are written at once.
func (o *LogOutput) Close() error {
	o.once.Do(func() {
		close(o.stop)
		<-o.done
	})
	o.closed.Store(true)
	return o.Flush()
}

func (o *LogOutput) flushEvery(d time.Duration) {
	defer close(o.done)
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-tick.C:
			o.Flush()
		}
	}
}

// buffer adds p, one or more whole lines logged at at (Unix nanoseconds),
// to the calling processor's stripe; when the stripe is full, or after
// Close, it writes everything out first.
func (o *LogOutput) buffer(at int64, p []byte) {
	for {
		t := stripe.Take()
		st := &o.stripes[t.Of(len(o.stripes))]
		t.Release()
		st.mu.Lock()
		if len(st.buf)+len(p) <= cap(st.buf) && !o.closed.Load() {
			st.buf = append(st.buf, p...)
			st.lines = append(st.lines, lineMark{at: at, end: len(st.buf)})
			st.mu.Unlock()
			return
		}
		empty := len(st.buf) == 0
		st.mu.Unlock()
		if empty || o.closed.Load() {
			// A line larger than a stripe, or one logged after Close,
			// goes out on its own, after what came before it.
			o.writeNow(p)
			return
		}
		o.Flush()
	}
}

// writeNow writes out what is buffered and then p, one or more whole
// lines, in one write.
func (o *LogOutput) writeNow(p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writeOut(append(o.merged(o.out[:0]), p...))
}

// merged appends the stripes' lines to b, by the time each was logged,
// and empties the stripes. Lines of one stripe keep their order, as
// lines of one buffer did. o.mu is held.
func (o *LogOutput) merged(b []byte) []byte {
	// Take each stripe's lines, leaving it the buffers of the last flush.
	type taken struct {
		buf   []byte
		lines []lineMark
		start int // where the next line begins in buf
	}
	all := make([]taken, 0, len(o.stripes))
	for i := range o.stripes {
		st := &o.stripes[i]
		st.mu.Lock()
		if len(st.lines) > 0 {
			all = append(all, taken{buf: st.buf, lines: st.lines})
			st.buf, st.spareBuf = st.spareBuf[:0], st.buf
			st.lines, st.spareLines = st.spareLines[:0], st.lines
		}
		st.mu.Unlock()
	}
	for len(all) > 0 {
		first := 0
		for i := 1; i < len(all); i++ {
			if all[i].lines[0].at < all[first].lines[0].at {
				first = i
			}
		}
		tk := &all[first]
		end := tk.lines[0].end
		b = append(b, tk.buf[tk.start:end]...)
		tk.start, tk.lines = end, tk.lines[1:]
		if len(tk.lines) == 0 {
			all = slices.Delete(all, first, first+1)
		}
	}
	return b
}

// writeOut writes b, whole lines, to the destination, counting its lines
// as dropped if the destination refuses them. o.mu is held.
func (o *LogOutput) writeOut(b []byte) error {
	o.out = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := o.dst.Write(b)
	if err != nil {
		o.dropped.Add(uint64(bytes.Count(b, []byte{'\n'})))
	}
	return err
}

// bufferedWriter and urgentWriter are the two ways into a LogOutput;
// slog's handlers write one whole line per call. lineHandler gives
// bufferedWriter the line's time as well (writeLine).
type bufferedWriter struct{ o *LogOutput }

func (w bufferedWriter) Write(p []byte) (int, error) {
	w.o.buffer(time.Now().UnixNano(), p)
	return len(p), nil
}

func (w bufferedWriter) writeLine(at time.Time, p []byte) { w.o.buffer(at.UnixNano(), p) }

type urgentWriter struct{ o *LogOutput }

// Write never refuses a line: what could not be written is counted in
// Dropped.
func (w urgentWriter) Write(p []byte) (int, error) {
	w.o.writeNow(p)
	return len(p), nil
}
