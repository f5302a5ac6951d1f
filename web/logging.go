package web

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// logBufferSize is what the access log holds between flushes: about 400
// lines, so that a burst rarely writes before the next tick.
const logBufferSize = 64 << 10

const defaultLogFlush = 200 * time.Millisecond

// LogOutput is the process's log: every line, redacted, into one buffer in
// front of w. An access-log line only joins the buffer, which is written
// out every FlushEvery, when full, and on Close: a line per request costs
// no system call. Any other line (a failure, the store's news) is written
// out at once, after whatever access lines came before it, so the order
// holds and a failure is on disk before it is acted on.
type LogOutput struct {
	format string
	level  slog.Level

	mu     sync.Mutex
	dst    io.Writer
	buf    []byte
	lines  int // in buf
	closed bool

	dropped atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	logger, access *slog.Logger
}

// NewLogOutput starts a log writing to w, flushed by a goroutine of its
// own until Close.
func NewLogOutput(w io.Writer, opts LogOptions) (*LogOutput, error) {
	format, err := ParseLogFormat(opts.Format)
	if err != nil {
		return nil, err
	}
	o := &LogOutput{
		format: format, level: opts.Level, dst: w, buf: make([]byte, 0, logBufferSize),
		stop: make(chan struct{}), done: make(chan struct{}),
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
	return o.flushLocked()
}

// Close stops the flushing goroutine and writes out what is buffered.
// Lines logged after Close are written at once.
func (o *LogOutput) Close() error {
	o.once.Do(func() {
		close(o.stop)
		<-o.done
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	return o.flushLocked()
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

// write adds p, one or more whole lines, to the buffer; urgent or after
// Close, it writes the buffer out too.
func (o *LogOutput) write(p []byte, urgent bool) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf)+len(p) > cap(o.buf) {
		o.flushLocked()
	}
	var err error
	if len(p) > cap(o.buf) {
		_, err = o.dst.Write(p) // a line larger than the buffer goes on its own
		if err != nil {
			o.dropped.Add(uint64(bytes.Count(p, []byte{'\n'})))
		}
	} else {
		o.buf = append(o.buf, p...)
		o.lines += bytes.Count(p, []byte{'\n'})
	}
	if urgent || o.closed {
		if ferr := o.flushLocked(); err == nil {
			err = ferr
		}
	}
	// A line is never refused to its logger: what could not be written is
	// counted in Dropped.
	return len(p), nil
}

func (o *LogOutput) flushLocked() error {
	if len(o.buf) == 0 {
		return nil
	}
	_, err := o.dst.Write(o.buf)
	if err != nil {
		o.dropped.Add(uint64(o.lines))
	}
	o.buf, o.lines = o.buf[:0], 0
	return err
}

// bufferedWriter and urgentWriter are the two ways into a LogOutput's
// buffer; slog's handlers write one whole line per call.
type bufferedWriter struct{ o *LogOutput }

func (w bufferedWriter) Write(p []byte) (int, error) { return w.o.write(p, false) }

type urgentWriter struct{ o *LogOutput }

func (w urgentWriter) Write(p []byte) (int, error) { return w.o.write(p, true) }
