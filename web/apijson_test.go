package web

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"tokend/store"
)

// encodingJSON is what c.JSON writes for v: encoding/json, HTML escaped,
// and a newline.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// GET /api/v1/token's hand-written answer is byte for byte what
// encoding/json writes for the same principal, whatever the names hold.
func TestWhoAmIJSONIsEncodingJSONs(t *testing.T) {
	created := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	expires := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	used := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	fraction := created.Add(123456789 * time.Nanosecond)
	for _, p := range []store.Principal{
		{},
		{Kind: store.KindPersonal, Roles: []store.Role{}},
		{TokenID: 7, Kind: store.KindSystem, Name: "encoder", LastFour: "AbCd", OrgID: 3,
			Roles: []store.Role{store.RoleVideo, store.RoleViewer}, CreatedAt: created, ExpiresAt: expires},
		{TokenID: 1 << 62, Kind: store.KindPersonal, Name: `<script>alert("x")</script> & 'y' \ z`, LastFour: "0000",
			OrgID: 2, OrgName: "Ünïcode Ørg ✓ \u2028\u2029",
			MemberID: 9, MemberEmail: "a+b@example.test", MemberName: "Tab\there\nnew\rline\b\f\x00\x1f\x7f",
			Roles: []store.Role{store.RoleAdmin}, CreatedAt: fraction, LastUsedAt: used},
		{Kind: "odd", Name: "bad \xff utf-8 \xe2\x82 cut", OrgName: "\xed\xa0\x80 surrogate"},
	} {
		got := append(appendPrincipalJSON(nil, &p), '\n')
		if want := encodingJSON(t, toAPIPrincipal(p)); !bytes.Equal(got, want) {
			t.Errorf("appendPrincipalJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

// The served answer is the same as encoding/json's too, and ?pretty still
// indents it, as Echo's c.JSON does.
func TestWhoAmIServedJSON(t *testing.T) {
	app := newTestApp(t)
	_, key := app.createToken(app.owner, "personal", "json probe")
	r := app.apiGet(t, "/api/v1/token", string(key))
	var p apiPrincipal
	r.ok(t, 200, &p)
	if want := encodingJSON(t, p); !bytes.Equal(r.body, want) {
		t.Errorf("served:\n%s\nencoding/json of the same:\n%s", r.body, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	pretty := app.apiGet(t, "/api/v1/token?pretty", string(key))
	if !bytes.Contains(pretty.body, []byte("\n  \"id\": ")) {
		t.Errorf("?pretty is not indented:\n%s", pretty.body)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<>&", "\u2028", "\xff", "\x00\x1f", "é✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
		if !utf8.Valid(appendJSONString(nil, s)) {
			t.Errorf("%q: invalid UTF-8 out", s)
		}
	})
}

func TestJoinRoles(t *testing.T) {
	for _, rs := range [][]store.Role{nil, {store.RoleAdmin}, {store.RoleVideo, store.RoleViewer}, {store.RoleVideo, store.RoleViewer, store.RoleBilling}} {
		if got, want := joinRoles(rs), strings.Join(roleKeys(rs), " "); got != want {
			t.Errorf("joinRoles(%v) = %q, want %q", rs, got, want)
		}
	}
}

// BenchmarkPrincipalJSON is the answer of GET /api/v1/token for a
// personal token used before: `go test ./web/ -run '^$' -bench PrincipalJSON`.
func BenchmarkPrincipalJSON(b *testing.B) {
	at := time.Date(2026, 11, 30, 8, 57, 26, 0, time.UTC)
	p := store.Principal{TokenID: 1, Kind: store.KindPersonal, Name: "rig", LastFour: "pbJT", OrgID: 1, OrgName: "Rig",
		MemberID: 1, MemberEmail: "o@rig.test", MemberName: "Owner", Roles: []store.Role{store.RoleAdmin},
		CreatedAt: at, LastUsedAt: at.Add(2 * time.Hour)}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPrincipalJSON(buf[:0], &p)
	}
}

// appendUTCSecond writes what AppendFormat does, over the years the store
// can write and past them.
func TestAppendUTCSecond(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 2, 3, 4, 5, 6, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 30, 8, 57, 26, 0, time.UTC),
		time.Date(2028, 2, 29, 12, 30, 7, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 10, 20, 30, 0, time.UTC),
	} {
		if got, want := string(appendUTCSecond(nil, at)), at.Format(time.RFC3339Nano); got != want {
			t.Errorf("appendUTCSecond(%v) = %s, want %s", at, got, want)
		}
	}
	for s := int64(-62167219200); s < 253402300800; s += 86400*37 + 3607 {
		at := time.Unix(s, 0).UTC()
		if got, want := string(appendUTCSecond(nil, at)), at.Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendUTCSecond(%v) = %s, want %s", at, got, want)
		}
	}
}
