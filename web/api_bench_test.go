package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"tokend/store"
)

// BenchmarkIntrospect is one RFC 7662 introspection through the whole
// router: an admin token authenticates, then asks about a system token.
func BenchmarkIntrospect(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.PasswordCost = bcrypt.MinCost
	srv, err := New(db, Config{
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.CreateMember(ctx, store.NewMember{
		OrgName: "Acme Streaming", Email: "ana@acme.test", Name: "Ana Owner", Password: testPassword, Roles: []store.Role{store.RoleOwner},
	})
	if err != nil {
		b.Fatal(err)
	}
	_, adminKey, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "introspector"})
	if err != nil {
		b.Fatal(err)
	}
	_, target, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindSystem, Name: "target", Roles: []store.Role{store.RoleVideo}})
	if err != nil {
		b.Fatal(err)
	}
	body := url.Values{"token": {string(target)}}.Encode()
	introspect := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/introspect", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+string(adminKey))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	// Once, to check the answer (and warm the token cache).
	rec := introspect()
	var got struct {
		Active bool   `json:"active"`
		Scope  string `json:"scope"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil || !got.Active || got.Scope != "video" {
		b.Fatalf("introspection: %d %s", rec.Code, rec.Body)
	}

	b.ReportAllocs()
	for b.Loop() {
		if rec := introspect(); rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkForwardAuthWithRole is GET /auth/verify?role=video through the
// whole router, as a proxy asks it on every request: the query is read
// once, for the token check and the role.
func BenchmarkForwardAuthWithRole(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.PasswordCost = bcrypt.MinCost
	srv, err := New(db, Config{SessionKey: []byte("0123456789abcdef0123456789abcdef"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.CreateMember(ctx, store.NewMember{
		OrgName: "Acme Streaming", Email: "ana@acme.test", Name: "Ana Owner", Password: testPassword, Roles: []store.Role{store.RoleOwner},
	})
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindSystem, Name: "encoder", Roles: []store.Role{store.RoleVideo}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/auth/verify?role=video", nil)
		req.Header.Set("Authorization", "Bearer "+string(key))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
