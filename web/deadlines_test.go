package web

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client that sends a request's headers and then holds its body back
// gets an answer and loses its connection once the body's time limit is
// up, instead of holding a connection and a goroutine for as long as it
// likes; a client that sends no body at all is not held to it.
func TestBodyMustArriveInTime(t *testing.T) {
	app := newTestApp(t)
	srv := app.server.Config.Handler.(*Server)
	srv.bodyReadTimeout = 200 * time.Millisecond

	conn, err := net.Dial("tcp", app.server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A generous bound, so that a server that never gives up fails the
	// test rather than hanging it.
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = conn.Write([]byte("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: 100\r\n\r\nemail=a"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body held back: %v", err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Errorf("status %d to a body that never came, want a refusal", res.StatusCode)
	}
	if !res.Close && !strings.EqualFold(res.Header.Get("Connection"), "close") {
		// The connection may instead be closed under the client.
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("the connection stays open after a body that never came")
		}
	}

	// A request without a body, on a connection kept open past the body's
	// limit, is answered.
	c2, err := net.Dial("tcp", app.server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c2)
	for i := range 2 {
		if _, err := c2.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("request %d: status %d", i+1, res.StatusCode)
		}
		time.Sleep(2 * srv.bodyReadTimeout)
	}
}
