package store

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"unsafe"
)

// TokenKind tells a personal token from a system token.
type TokenKind string

const (
	KindPersonal TokenKind = "personal"
	KindSystem   TokenKind = "system"
)

// Title is the kind as a sentence starts with it: "Personal" or "System".
func (k TokenKind) Title() string {
	if k == KindSystem {
		return "System"
	}
	return "Personal"
}

// Token text: prefix, randomLen base62 characters from crypto/rand, then a
// checksumLen base62 CRC32 of everything before it. 30 base62 characters
// carry 178 bits, above the 160 PRODUCT.md asks for.
const (
	prefixPersonal = "tkp_"
	prefixSystem   = "tks_"
	prefixLen      = 4
	randomLen      = 30
	checksumLen    = 6
	TokenTextLen   = prefixLen + randomLen + checksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Digest is the SHA-256 of a token's whole text: the only form of the secret
// the store keeps.
type Digest [sha256.Size]byte

// TokenText is a token's secret as the one response after creation shows it.
type TokenText string

// newTokenText draws a fresh secret of the given kind.
func newTokenText(kind TokenKind) TokenText {
	b := make([]byte, 0, TokenTextLen)
	b = appendBase62Random(append(b, kindPrefix(kind)...), randomLen)
	b = appendChecksum(b, crc32.ChecksumIEEE(b))
	return TokenText(b)
}

// appendBase62Random appends n base62 characters from crypto/rand to b.
func appendBase62Random(b []byte, n int) []byte {
	// Rejection sampling keeps every character equally likely: 248 is the
	// largest multiple of 62 that fits a byte.
	var buf [64]byte
	for want := len(b) + n; len(b) < want; {
		rand.Read(buf[:]) // never returns an error (crypto/rand, Go 1.24+)
		for _, c := range buf {
			if c < 248 && len(b) < want {
				b = append(b, base62[c%62])
			}
		}
	}
	return b
}

func kindPrefix(kind TokenKind) string {
	if kind == KindSystem {
		return prefixSystem
	}
	return prefixPersonal
}

func appendChecksum(b []byte, sum uint32) []byte {
	var c [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		c[i] = base62[sum%62]
		sum /= 62
	}
	return append(b, c[:]...)
}

// ParseTokenText checks a presented token's shape and checksum without
// touching the database, and returns its kind. A mistyped or made-up token
// fails here.
func ParseTokenText(s string) (TokenKind, bool) {
	if len(s) != TokenTextLen {
		return "", false
	}
	var kind TokenKind
	switch s[:prefixLen] {
	case prefixPersonal:
		kind = KindPersonal
	case prefixSystem:
		kind = KindSystem
	default:
		return "", false
	}
	body := s[:prefixLen+randomLen]
	for i := prefixLen; i < len(s); i++ {
		if !isBase62(s[i]) {
			return "", false
		}
	}
	var want [checksumLen]byte
	appendChecksum(want[:0], checksumOf(body))
	if string(want[:]) != s[prefixLen+randomLen:] {
		return "", false
	}
	return kind, true
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// checksumOf is crc32.ChecksumIEEE of s. It reads s in place: converted
// to []byte, s would be copied to the heap on every token check, and
// crc32 only reads what it is given.
func checksumOf(s string) uint32 {
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// DigestOf returns the digest stored for a token text. A token's text is
// hashed from a copy on the stack: converted to []byte it would be copied
// to the heap on every check, being longer than the compiler's 32-byte
// stack buffer for such conversions.
func DigestOf(s string) Digest {
	var buf [64]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	return sha256.Sum256([]byte(s))
}

// LastFour is the part of a token kept for display.
func (t TokenText) LastFour() string { return string(t[len(t)-4:]) }
