package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// coarsePair is a connection accepted by a coarseListener whose janitor
// never runs on its own (the test calls enforce), and the client's end.
// Deadlines more than two hours away are its to enforce (later).
func coarsePair(t *testing.T) (*coarseListener, *coarseConn, net.Conn) {
	return coarsePairTicking(t, time.Hour)
}

// coarsePairTicking is coarsePair with a janitor that looks every tick.
func coarsePairTicking(t *testing.T, tick time.Duration) (*coarseListener, *coarseConn, net.Conn) {
	t.Helper()
	l := coarseListen(t, tick)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return l, c.(*coarseConn), client
}

// coarseListen is a coarseListener on a loopback port, closed with the test.
func coarseListen(t *testing.T, tick time.Duration) *coarseListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := withCoarseDeadlines(ln, tick)
	t.Cleanup(func() { l.Close() })
	return l
}

// later is a deadline far enough away for coarsePair's janitor to keep.
func later() time.Time { return time.Now().Add(3 * time.Hour) }

// readResult reads from c in the background: what it read, or its error.
func readResult(c net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err == nil {
			err = fmt.Errorf("read %q", buf[:n])
		}
		done <- err
	}()
	return done
}

func waitFor(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked")
		return nil
	}
}

// A read past its deadline fails as past a runtime deadline does, once the
// janitor has looked; the connection reads again once given a new one.
func TestCoarseReadDeadlineEnforced(t *testing.T) {
	l, c, client := coarsePair(t)
	deadline := later()
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	done := readResult(c)
	l.enforce(deadline.Add(-time.Second).Sub(l.base)) // not yet
	l.enforce(deadline.Sub(l.base))
	if err := waitFor(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	c.SetReadDeadline(time.Time{})
	done = readResult(c)
	client.Write([]byte("next"))
	if err := waitFor(t, done); err == nil || err.Error() != `read "next"` {
		t.Errorf("after a new deadline: %v, want the next bytes read", err)
	}
}

// A write to a client that reads nothing fails past its deadline.
func TestCoarseWriteDeadlineEnforced(t *testing.T) {
	l, c, _ := coarsePair(t)
	deadline := later()
	c.SetWriteDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	l.enforce(deadline.Sub(l.base))
	if err := waitFor(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// A deadline cleared or moved before it passes is not enforced.
func TestCoarseDeadlineClearedHolds(t *testing.T) {
	l, c, client := coarsePair(t)
	first := later()
	c.SetReadDeadline(first)
	c.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(first)
	c.SetWriteDeadline(first.Add(time.Hour))
	done := readResult(c)
	l.enforce(first.Add(time.Minute).Sub(l.base))
	client.Write([]byte("hello"))
	if err := waitFor(t, done); err == nil || err.Error() != `read "hello"` {
		t.Errorf("a cleared read deadline: %v, want the bytes read", err)
	}
	if _, err := c.Write([]byte("still open")); err != nil {
		t.Errorf("a moved write deadline: %v", err)
	}
}

// A deadline nearer than the janitor's tick, such as the one net/http sets
// to wake a read it abandons, takes effect at once.
func TestCoarseNearDeadlineAtOnce(t *testing.T) {
	_, c, _ := coarsePair(t)
	done := readResult(c)
	c.SetReadDeadline(aLongTimeAgo)
	if err := waitFor(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a deadline passed: %v, want os.ErrDeadlineExceeded", err)
	}
}

// net/http over coarse deadlines: requests on one connection are answered,
// and a client that stops halfway through its headers is cut off once the
// header timeout has passed.
func TestCoarseDeadlinesUnderHTTP(t *testing.T) {
	l := coarseListen(t, 10*time.Millisecond)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 100 * time.Millisecond, WriteTimeout: time.Minute, IdleTimeout: time.Minute,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for i := range 3 {
		fmt.Fprintf(conn, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and no more
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("a client slow with its headers was not cut off: %v", err)
	}
	if len(rest) > 0 && !strings.Contains(string(rest), "408") {
		t.Errorf("a client slow with its headers got %q", rest)
	}
}

// A connection keeps its deadlines after its listener is closed, as
// http.Server.Shutdown closes the listener before the requests in flight
// are done.
func TestCoarseDeadlineAfterListenerClosed(t *testing.T) {
	l, c, _ := coarsePairTicking(t, 10*time.Millisecond)
	l.Close()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if err := waitFor(t, readResult(c)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline, the listener closed: %v, want os.ErrDeadlineExceeded", err)
	}
}

// The Unix epoch is a deadline like any other passed, not "none".
func TestCoarseEpochDeadline(t *testing.T) {
	_, c, _ := coarsePair(t)
	done := readResult(c)
	c.SetReadDeadline(time.Unix(0, 0))
	if err := waitFor(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with the epoch as its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// A deadline without a monotonic reading (t.UTC(), time.Unix) is kept and
// enforced like one with, measured from when it was set.
func TestCoarseWallDeadline(t *testing.T) {
	l, c, _ := coarsePair(t)
	deadline := later()
	c.SetReadDeadline(deadline.UTC())
	done := readResult(c)
	l.enforce(deadline.Add(-time.Minute).Sub(l.base))
	l.enforce(deadline.Add(time.Minute).Sub(l.base))
	if err := waitFor(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past a wall-clock deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// BenchmarkCoarseDeadlinesOfARequest is the eight deadlines net/http sets
// on a kept-alive connection for one request with tokend serve's timeouts
// (see the top of deadlines.go), in its order.
func BenchmarkCoarseDeadlinesOfARequest(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l := withCoarseDeadlines(ln, deadlineTick)
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	nc, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	b.ReportAllocs()
	for b.Loop() {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second)) // the header's
		nc.SetReadDeadline(time.Time{})                     // none for the body
		nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		nc.SetReadDeadline(time.Time{}) // the background read's
		nc.SetReadDeadline(aLongTimeAgo)
		nc.SetReadDeadline(time.Time{})
		nc.SetWriteDeadline(time.Time{})
		nc.SetReadDeadline(time.Now().Add(2 * time.Minute)) // the idle wait's
	}
}
