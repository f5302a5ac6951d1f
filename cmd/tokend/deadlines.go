package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Coarse deadlines. net/http sets a connection's deadlines eight times a
// request when its timeouts are on (Go 1.26's net/http/server.go): the
// header's, none for the body, the answer's, none for its background read,
// one long past to wake that read and none again, none for the answer once
// written, the idle wait's. Each arms or stops a timer of the Go
// runtime, which on a token check, answered in microseconds, costs about
// a tenth of a core's time per request (a CPU profile of tokend serve under
// wrk). The deadlines serve sets are seconds and minutes long, so they are
// kept here as plain times instead, and a janitor looking every tick
// enforces one that has passed, by giving the connection a real deadline
// in the past, as the runtime's timer would have: the blocked read or
// write fails with os.ErrDeadlineExceeded and net/http closes the
// connection. A deadline is enforced at most a tick late. One nearer than
// two ticks (net/http's long past one, aLongTimeAgo) is set on the
// connection at once.

// coarseListener gives its connections coarse deadlines, enforced every
// tick by a janitor that runs until the listener is closed and its last
// connection with it (http.Server.Shutdown closes the listener first, and
// the requests in flight keep their limits). Times are kept as durations
// since base, on the monotonic clock (see since), as the runtime's
// deadlines are: a step of the wall clock neither fires nor holds back a
// deadline set with time.Now().Add, as net/http's and tokend's are.
type coarseListener struct {
	net.Listener
	tick time.Duration
	base time.Time
	now  atomic.Int64 // since base, at the janitor's last look

	mu     sync.Mutex
	conns  map[*coarseConn]struct{}
	closed bool
}

// withCoarseDeadlines wraps ln.
func withCoarseDeadlines(ln net.Listener, tick time.Duration) *coarseListener {
	l := &coarseListener{Listener: ln, tick: tick, base: time.Now(), conns: make(map[*coarseConn]struct{})}
	go l.janitor()
	return l
}

func (l *coarseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &coarseConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		// Closed while this one was accepted: the janitor may be gone.
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[cc] = struct{}{}
	return cc, nil
}

func (l *coarseListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

func (l *coarseListener) janitor() {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	for range t.C {
		if !l.enforce(time.Since(l.base)) {
			return
		}
	}
}

// since is t as a time since base. A time with a monotonic reading, as
// time.Now().Add gives, is measured on the monotonic clock; one without
// (time.Unix, t.UTC()) is measured from now, as the runtime measures a
// deadline when it is set, unless it is before base by the wall clock:
// then it is past (net/http's aLongTimeAgo, once a request), and no clock
// is read. Were the wall clock stepped back since base, such a time could
// be ahead; it is still set on the connection itself, as a near one is,
// which the runtime measures rightly.
func (l *coarseListener) since(t time.Time) time.Duration {
	if t == t.Round(0) { // no monotonic reading to strip
		if t.Before(l.base) {
			return t.Sub(l.base) // by the wall clocks: negative, so near
		}
		now := time.Now()
		return now.Sub(l.base) + t.Sub(now)
	}
	return t.Sub(l.base)
}

// enforce notes the time now (since base) and enforces every connection's
// deadlines passed by then. It reports whether there may be more to
// enforce: false once the listener and all its connections are closed.
func (l *coarseListener) enforce(now time.Duration) bool {
	l.now.Store(int64(now))
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.enforce(int64(now))
	}
	return !l.closed || len(l.conns) > 0
}

// coarseConn is a connection whose deadlines a coarseListener keeps.
type coarseConn struct {
	net.Conn
	l *coarseListener

	mu          sync.Mutex
	read, write deadline
}

// deadline is one of a connection's: the one the janitor enforces (at,
// since the listener's base, when set), and whether one is set on the
// connection itself (armed).
type deadline struct {
	at         int64
	set, armed bool
}

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

func (c *coarseConn) SetReadDeadline(t time.Time) error {
	return c.set(t, &c.read, c.Conn.SetReadDeadline)
}

func (c *coarseConn) SetWriteDeadline(t time.Time) error {
	return c.set(t, &c.write, c.Conn.SetWriteDeadline)
}

func (c *coarseConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// set keeps t as a coarse deadline, or sets it on the connection itself
// when it is too near for the janitor, clearing a real deadline left
// from before.
func (c *coarseConn) set(t time.Time, d *deadline, real func(time.Time) error) error {
	// net/http clears a deadline four times a request, and sets one long
	// past once (to wake a read it abandons): no clock is read for either
	// (see since).
	none := t.IsZero()
	var at int64
	if !none {
		at = int64(c.l.since(t))
	}
	near := !none && at < c.l.now.Load()+2*int64(c.l.tick)
	c.mu.Lock()
	defer c.mu.Unlock()
	if near {
		d.set, d.armed = false, true
		return real(t)
	}
	d.at, d.set = at, !none
	if d.armed {
		d.armed = false
		return real(time.Time{})
	}
	return nil
}

// enforce gives the connection a real deadline in the past for each
// coarse one passed by now.
func (c *coarseConn) enforce(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.passed(now) {
		c.Conn.SetReadDeadline(aLongTimeAgo)
	}
	if c.write.passed(now) {
		c.Conn.SetWriteDeadline(aLongTimeAgo)
	}
}

// passed reports whether d is set and passed by now, and if so notes it
// armed on the connection instead.
func (d *deadline) passed(now int64) bool {
	if !d.set || d.at > now {
		return false
	}
	d.set, d.armed = false, true
	return true
}

func (c *coarseConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ReadFrom lets net/http send a file with sendfile, as it does on a TCP
// connection itself.
func (c *coarseConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// CloseWrite lets net/http half-close, as it does a TCP connection.
func (c *coarseConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// deadlineTick is how often tokend serve's janitor looks for deadlines
// passed: a header's 5 s may take 5.25 s.
const deadlineTick = 250 * time.Millisecond
