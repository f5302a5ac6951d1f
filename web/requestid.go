package web

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// maxRequestIDLen bounds an X-Request-Id taken from a proxy.
const maxRequestIDLen = 128

// newRequestID makes a request id: a random (version 4) UUID. It names a
// request in the log and on an error page; it guards nothing, so the
// runtime's fast generator (ChaCha8, seeded by the OS) is enough, and
// costs no system call. Its dashes keep it short of what the log's
// redaction looks at twice (see redact.go).
func newRequestID() string {
	var u [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	hex.Encode(s[9:13], u[4:6])
	hex.Encode(s[14:18], u[6:8])
	hex.Encode(s[19:23], u[8:10])
	hex.Encode(s[24:36], u[10:16])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

// validRequestID reports whether id, sent by a proxy, may be used as this
// request's id: printable ASCII without spaces, at most maxRequestIDLen
// characters, and nothing that could be a token's secret (a client could
// put one there, and the id is logged).
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return !hasSecret(id)
}

// requestIDFor is the id of the request c: the one its proxy sent in
// X-Request-Id when the connection comes from a trusted proxy and the id
// is valid, else a new one.
func (s *Server) requestIDFor(c echo.Context) string {
	r := c.Request()
	if len(s.trusted) > 0 {
		if h := r.Header[echo.HeaderXRequestID]; len(h) == 1 && validRequestID(h[0]) && s.fromTrustedProxy(r.RemoteAddr) {
			return h[0]
		}
	}
	return newRequestID()
}

// fromTrustedProxy reports whether the connection's peer, remoteAddr, is
// in one of the trusted proxies' networks.
func (s *Server) fromTrustedProxy(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip := net.IP(addr.Unmap().AsSlice())
	for _, n := range s.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// requestID is the id of the request being answered, as its response
// carries it; "" before the middleware gave it one.
func requestID(c echo.Context) string {
	if h := c.Response().Header()[echo.HeaderXRequestID]; len(h) > 0 {
		return h[0]
	}
	return ""
}
