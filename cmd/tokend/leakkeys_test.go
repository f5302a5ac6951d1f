package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeLeakReportKeys: --leak-report-keys (or TOKEND_LEAK_REPORT_KEYS)
// is read at start, and a file that is not ECDSA P-256 public keys stops
// serve with one line; with keys, an unsigned leak report is refused.
func TestServeLeakReportKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := write("github.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))

	for name, tt := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"missing file":         {args: []string{"--leak-report-keys", filepath.Join(dir, "none.pem")}, want: "leak report keys"},
		"not PEM":              {args: []string{"--leak-report-keys", write("junk.pem", "hello")}, want: "something other than PEM PUBLIC KEY blocks"},
		"from the environment": {env: map[string]string{"TOKEND_LEAK_REPORT_KEYS": write("empty.pem", "")}, want: "no PEM PUBLIC KEY block"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			args := append([]string{"serve", "--db", tempDBPath(t), "--addr", "127.0.0.1:0"}, tt.args...)
			wantOneLineError(t, run(ctx, args, mapEnv(tt.env), strings.NewReader(""), &stdout, &stderr), tt.want)
		})
	}

	s := startServe(t, nil, "--db", tempDBPath(t), "--access-log=false", "--leak-report-keys", good)
	_, base, _ := s.waitServing(t)
	res, err := http.Post(base+"/api/v1/leaks", "application/json", strings.NewReader(`[{"token":"hello"}]`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned report: status %d, want 401", res.StatusCode)
	}
}
