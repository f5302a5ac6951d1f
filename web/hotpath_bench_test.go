package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"tokend/store"
)

// hotPathServer is a server with its access log on, configure's changes,
// and a personal token to present.
func hotPathServer(b *testing.B, configure func(*Config)) (*Server, string) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.PasswordCost = bcrypt.MinCost
	cfg := Config{SessionKey: []byte("0123456789abcdef0123456789abcdef"), AccessLog: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	owner, err := db.CreateMember(ctx, store.NewMember{
		OrgName: "Acme Streaming", Email: "ana@acme.test", Name: "Ana Owner", Password: testPassword, Roles: []store.Role{store.RoleOwner},
	})
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := db.CreateToken(ctx, owner, store.NewToken{Kind: store.KindPersonal, Name: "hot"})
	if err != nil {
		b.Fatal(err)
	}
	return srv, string(key)
}

// discardResponse is a ResponseWriter that keeps nothing: what is measured
// is the server, not a recorder.
type discardResponse struct{ h http.Header }

func (w *discardResponse) Header() http.Header         { return w.h }
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardResponse) WriteHeader(int)             {}

func benchHot(b *testing.B, srv *Server, path, key string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	w := &discardResponse{h: http.Header{}}
	srv.ServeHTTP(w, req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		w := &discardResponse{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			srv.ServeHTTP(w, req)
		}
	})
}

// asShipped is tokend serve's setup: the access log buffered by a
// LogOutput (here in front of io.Discard), and metrics on.
func asShipped(b *testing.B) func(*Config) {
	return func(c *Config) {
		out, err := NewLogOutput(io.Discard, LogOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { out.Close() })
		c.Logger, c.AccessLogger, c.Metrics = out.Logger(), out.AccessLogger(), NewMetrics(out)
	}
}

// BenchmarkHotWhoAmI is GET /api/v1/token with a valid key, as tokend
// serve answers it: access log and metrics on.
func BenchmarkHotWhoAmI(b *testing.B) {
	srv, key := hotPathServer(b, asShipped(b))
	benchHot(b, srv, "/api/v1/token", key)
}

// BenchmarkHotVerify is GET /auth/verify with a valid key, likewise.
func BenchmarkHotVerify(b *testing.B) {
	srv, key := hotPathServer(b, asShipped(b))
	benchHot(b, srv, "/auth/verify", key)
}

// BenchmarkHotWhoAmIParts is BenchmarkHotWhoAmI with the access log and
// the metrics each on or off: what each costs a request, alone (-cpu 1)
// and with two goroutines writing the same counters and log (-cpu 2).
func BenchmarkHotWhoAmIParts(b *testing.B) {
	for _, v := range []struct {
		name         string
		log, metrics bool
	}{{"log+metrics", true, true}, {"log", true, false}, {"metrics", false, true}, {"neither", false, false}} {
		b.Run(v.name, func(b *testing.B) {
			srv, key := hotPathServer(b, func(c *Config) {
				asShipped(b)(c)
				c.AccessLog = v.log
				if !v.metrics {
					c.Metrics = nil
				}
			})
			benchHot(b, srv, "/api/v1/token", key)
		})
	}
}
