package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"tokend/store"
	"tokend/web"
)

const password = "correct horse battery staple"

// app is the real server with the real router on a random loopback port, on
// a fresh database with demo-like data: Acme Streaming with its owner Ana and
// the member Max, a system token and a personal token each.
type app struct {
	t   *testing.T
	db  *store.DB
	url string

	owner, member store.Member
	// encoders is the system token "Encoder fleet", roles Video User.
	encoders store.Token
}

func newApp(t *testing.T) *app {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.PasswordCost = bcrypt.MinCost
	srv, err := web.New(db, web.Config{
		SessionKey: []byte("e2e-session-key-0123456789abcdef"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	a := &app{t: t, db: db, url: ts.URL}
	a.owner = a.addMember("ana@acme.test", "Ana Owner", store.RoleOwner)
	a.member = a.addMember("max@acme.test", "Max Member", store.RoleVideo, store.RoleViewer)
	a.encoders = a.addToken(a.owner, store.KindSystem, "Encoder fleet", store.RoleVideo)
	a.addToken(a.owner, store.KindPersonal, "Ana's CLI")
	a.addToken(a.member, store.KindPersonal, "Max laptop")
	return a
}

func (a *app) addMember(email, name string, roles ...store.Role) store.Member {
	a.t.Helper()
	m, err := a.db.CreateMember(context.Background(), store.NewMember{
		OrgName: "Acme Streaming", Email: email, Name: name, Password: password, Roles: roles,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

func (a *app) addToken(by store.Member, kind store.TokenKind, name string, roles ...store.Role) store.Token {
	a.t.Helper()
	tok, _, err := a.db.CreateToken(context.Background(), by, store.NewToken{Kind: kind, Name: name, Roles: roles})
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// token reads a token as the owner sees it.
func (a *app) token(id int64) store.Token {
	a.t.Helper()
	tok, err := a.db.Token(context.Background(), a.owner, id)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// tokenNamed finds a token of the organization by name, as the owner sees it.
func (a *app) tokenNamed(kind store.TokenKind, name string) store.Token {
	a.t.Helper()
	ts, err := a.db.ListTokens(context.Background(), a.owner, store.TokenFilter{Kind: kind})
	if err != nil {
		a.t.Fatal(err)
	}
	for _, tok := range ts {
		if tok.Name == name {
			return tok
		}
	}
	a.t.Fatalf("no %s token named %q", kind, name)
	return store.Token{}
}
