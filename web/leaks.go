package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/labstack/echo/v4"

	"tokend/store"
)

// Leak reports: POST /api/v1/leaks, in the shape of GitHub's secret
// scanning partner program. Whoever finds strings that look like tokend
// keys (GitHub, a scanner of one's own) posts them; every one that is a
// working key is revoked at once. No bearer token: the finder holds none.
// The answer says per string whether it is one of ours, never whose.

// LeakReportKeys are the public keys leak reports must be signed with, by
// key id. Empty: reports need no signature.
type LeakReportKeys map[string]*ecdsa.PublicKey

// ParseLeakReportKeys reads PEM "PUBLIC KEY" blocks, each an ECDSA P-256
// key in SubjectPublicKeyInfo form. A key's id is the SHA-256 of that DER,
// in lower-case hex, and also, if the block has one, its "Key-Id" header
// (as GitHub names its keys: key_identifier in
// https://api.github.com/meta/public_keys/secret_scanning).
func ParseLeakReportKeys(data []byte) (LeakReportKeys, error) {
	keys := LeakReportKeys{}
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %d is a %q; want PUBLIC KEY", n, b.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("PEM block %d is not an ECDSA P-256 public key", n)
		}
		sum := sha256.Sum256(b.Bytes)
		keys[hex.EncodeToString(sum[:])] = ec
		if id := strings.TrimSpace(b.Headers["Key-Id"]); id != "" {
			keys[strings.ToLower(id)] = ec
		}
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("the file holds something other than PEM PUBLIC KEY blocks")
	}
	if len(keys) == 0 {
		return nil, errors.New("the file holds no PEM PUBLIC KEY block")
	}
	return keys, nil
}

// Leak reports are limited per client address: a burst of
// leakReportBurst, then leakReportsPerMinute a minute.
const (
	leakReportsPerMinute = 10
	leakReportBurst      = 10
)

// leakReports is what POST /api/v1/leaks needs beyond the store.
type leakReports struct {
	keys  LeakReportKeys
	limit *failureLimiter
}

func newLeakReports(keys LeakReportKeys) *leakReports {
	return &leakReports{keys: keys, limit: newFailureLimiter(leakReportsPerMinute/60.0, leakReportBurst)}
}

// The headers a signature comes in: GitHub's, and generic names for
// other scanners.
var (
	keyIDHeaders     = []string{"Github-Public-Key-Identifier", "X-Signature-Key-Id"}
	signatureHeaders = []string{"Github-Public-Key-Signature", "X-Signature"}
)

func firstHeader(h http.Header, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

func errInvalidSignature(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: msg}
}

// checkSignature checks that body is signed by one of keys: an ASN.1 DER
// ECDSA signature, base64, over the SHA-256 of the body exactly as sent.
func (keys LeakReportKeys) checkSignature(h http.Header, body []byte) error {
	id, sig := firstHeader(h, keyIDHeaders), firstHeader(h, signatureHeaders)
	if id == "" || sig == "" {
		return errInvalidSignature("Sign the report: send the key id in Github-Public-Key-Identifier (or X-Signature-Key-Id) and the signature in Github-Public-Key-Signature (or X-Signature).")
	}
	pub := keys[strings.ToLower(id)]
	if pub == nil {
		return errInvalidSignature("The report is signed with a key this server does not know.")
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		der, err = base64.RawStdEncoding.DecodeString(sig)
	}
	sum := sha256.Sum256(body)
	if err != nil || !ecdsa.VerifyASN1(pub, sum[:], der) {
		return errInvalidSignature("The report's signature does not match its body.")
	}
	return nil
}

// apiLeakItem is one string found, as GitHub sends it. Members GitHub may
// add later are ignored.
type apiLeakItem struct {
	Token  *string `json:"token"`
	Type   string  `json:"type"`
	URL    string  `json:"url"`
	Source string  `json:"source"`
}

// apiLeakResult is the answer about one string.
type apiLeakResult struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// apiReportLeaks is POST /api/v1/leaks.
func (s *Server) apiReportLeaks(c echo.Context) error {
	key, now := clientKey(c.RealIP()), time.Now()
	if wait := s.leaks.limit.retryAfter(key, now); wait > 0 {
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "Too many leak reports from your address; try again later.", RetryAfter: wait}
	}
	// Every report counts, signed or not, true or not: each costs a
	// database write, and a flood of them is no report.
	s.leaks.limit.fail(key, now)

	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	if len(s.leaks.keys) > 0 {
		if err := s.leaks.keys.checkSignature(c.Request().Header, body); err != nil {
			return err
		}
	}
	var in []apiLeakItem
	if err := json.Unmarshal(body, &in); err != nil {
		return invalidRequest("", "The body must be a JSON list of objects, each with a token (a string) and optionally type, url and source.")
	}
	if len(in) == 0 || len(in) > store.MaxLeakReport {
		return invalidRequest("", fmt.Sprintf("A report holds from 1 to %d strings; this one has %d.", store.MaxLeakReport, len(in)))
	}
	items := make([]store.LeakItem, len(in))
	for i, it := range in {
		if it.Token == nil {
			return invalidRequest("token", fmt.Sprintf("Item %d has no token: the string found.", i+1))
		}
		items[i] = store.LeakItem{Token: *it.Token, URL: it.URL, Source: it.Source}
	}
	results, err := s.db.ReportLeaks(c.Request().Context(), items)
	if err != nil {
		return err
	}
	out := make([]apiLeakResult, len(results))
	for i, r := range results {
		out[i] = apiLeakResult{TokenHash: r.TokenHash, TokenType: r.TokenType, Label: r.Label}
	}
	return c.JSON(http.StatusOK, out)
}
