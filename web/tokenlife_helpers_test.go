package web

// Helpers of the tests of a token's life: its page, rotation, allow-lists
// and leak reports.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// tokenPath is a token's own page.
func tokenPath(id int64) string { return fmt.Sprintf("/tokens/%d", id) }

// createWith makes a token straight in the store, with whatever nt says.
func (a *testApp) createWith(by store.Member, nt store.NewToken) (store.Token, store.TokenText) {
	a.t.Helper()
	t, key, err := a.db.CreateToken(context.Background(), by, nt)
	if err != nil {
		a.t.Fatal(err)
	}
	return t, key
}

// allowList parses an allow-list or fails the test.
func allowList(t *testing.T, entries ...string) store.AllowList {
	t.Helper()
	l, err := store.ParseAllowList(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// flush writes what the store keeps in memory of use: last use, counts,
// old secrets presented.
func (a *testApp) flush(t *testing.T) {
	t.Helper()
	if err := a.db.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// apiFrom sends one request straight to the server's handler as if from
// remoteAddr ("203.0.113.7:4242", "[2001:db8::7]:4242"): the client
// address the server sees without trusted proxies. header is name, value
// pairs.
func (a *testApp) apiFrom(t *testing.T, method, path, key, remoteAddr, body string, header ...string) *apiResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = remoteAddr
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.server.Config.Handler.ServeHTTP(rec, req)
	return &apiResponse{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// detail is the text of the element of the page with this data-testid.
func (r *response) detail(testid string) string {
	return r.text(`[data-testid=` + testid + `]`)
}

// keyShown is the key in the page's new-key box, "" for none.
func (r *response) keyShown() string {
	v, _ := r.doc.Find(`[data-testid=new-key-value]`).Attr("value")
	return v
}

// editForm is what the edit form of a token's page holds now, as a browser
// would post it.
func (r *response) editForm(t *testing.T) url.Values {
	t.Helper()
	form := r.doc.Find(`form[data-testid=edit-form]`)
	if form.Length() != 1 {
		t.Fatalf("no edit form on the page:\n%s", r.body)
	}
	v := url.Values{}
	v.Set("name", form.Find(`#name`).AttrOr("value", ""))
	v.Set("description", form.Find(`#description`).Text())
	v.Set("allowed_ips", form.Find(`#allowed_ips`).Text())
	if form.Find(`input[name=edit_roles]`).Length() > 0 {
		v.Set("edit_roles", "1")
		form.Find(`input[name=roles]:checked`).Each(func(_ int, s *goquery.Selection) {
			v.Add("roles", s.AttrOr("value", ""))
		})
	}
	return v
}

// leakKey is a P-256 key pair a test signs leak reports with, and its
// public half as the --leak-report-keys file holds it.
type leakKey struct {
	priv *ecdsa.PrivateKey
	id   string // the SHA-256 of its DER, hex
	pem  []byte
}

func newLeakKey(t *testing.T, headers map[string]string) leakKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return leakKey{priv: priv, id: fmt.Sprintf("%x", sum), pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: headers, Bytes: der})}
}

// sign is the signature of body, as GitHub sends it.
func (k leakKey) sign(t *testing.T, body string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// reportLeaks posts a leak report with header (name, value pairs).
func (a *testApp) reportLeaks(t *testing.T, body string, header ...string) *apiResponse {
	t.Helper()
	return a.apiCall(t, http.MethodPost, "/api/v1/leaks", "", "application/json", body, header...)
}

// leakAnswer is one item of a leak report's answer.
type leakAnswer struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// sha256Hex is the hash a leak report answers a string with.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", sum)
}
