package store

import (
	"hash/crc32"
	"strings"
	"testing"
)

// withChecksum appends the checksum ParseTokenText expects to body, so a test
// can build a token that is wrong in exactly one other way.
func withChecksum(body string) string {
	return string(appendChecksum([]byte(body), crc32.ChecksumIEEE([]byte(body))))
}

func allBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(base62, rune(s[i])) {
			return false
		}
	}
	return true
}

func TestNewTokenText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind   TokenKind
		prefix string
	}{
		{KindPersonal, "tkp_"},
		{KindSystem, "tks_"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			seen := make(map[TokenText]bool)
			for range 500 {
				text := newTokenText(tt.kind)
				s := string(text)
				if !strings.HasPrefix(s, tt.prefix) {
					t.Fatalf("%q does not start with %q", s, tt.prefix)
				}
				if len(s) != TokenTextLen {
					t.Fatalf("len(%q) = %d, want %d", s, len(s), TokenTextLen)
				}
				if !allBase62(s[len(tt.prefix):]) {
					t.Fatalf("%q: body is not base62", s)
				}
				if got := withChecksum(s[:prefixLen+randomLen]); got != s {
					t.Fatalf("%q: checksum should make it %q", s, got)
				}
				kind, ok := ParseTokenText(s)
				if !ok || kind != tt.kind {
					t.Fatalf("ParseTokenText(%q) = %q, %v; want %q, true", s, kind, ok, tt.kind)
				}
				if seen[text] {
					t.Fatalf("%q generated twice", s)
				}
				seen[text] = true
			}
		})
	}
}

// A generator that drew from part of the alphabet would still pass every
// shape check, so look at what it draws: over many tokens every base62
// character shows up.
func TestNewTokenTextUsesWholeAlphabet(t *testing.T) {
	t.Parallel()
	counts := make(map[byte]int)
	for range 200 {
		s := string(newTokenText(KindPersonal))
		for i := prefixLen; i < prefixLen+randomLen; i++ {
			counts[s[i]]++
		}
	}
	// 6000 draws over 62 characters: about 97 each; a missing one means the
	// alphabet or the sampling is wrong.
	for i := 0; i < len(base62); i++ {
		if counts[base62[i]] == 0 {
			t.Errorf("character %q never drawn in 6000 draws", base62[i])
		}
	}
}

func TestParseTokenTextRefusesOneCharacterChange(t *testing.T) {
	t.Parallel()
	// Besides every base62 character, a few a scanner might meet.
	replacements := base62 + "_- .+/=\x00\xff"
	for _, kind := range []TokenKind{KindPersonal, KindSystem} {
		t.Run(string(kind), func(t *testing.T) {
			s := string(newTokenText(kind))
			if _, ok := ParseTokenText(s); !ok {
				t.Fatalf("ParseTokenText(%q) refused a fresh token", s)
			}
			tried := 0
			for i := 0; i < len(s); i++ {
				for j := 0; j < len(replacements); j++ {
					c := replacements[j]
					if c == s[i] {
						continue
					}
					changed := s[:i] + string(c) + s[i+1:]
					tried++
					if kind, ok := ParseTokenText(changed); ok || kind != "" {
						t.Errorf("ParseTokenText(%q) = %q, %v after changing position %d; want refused", changed, kind, ok, i)
					}
				}
			}
			if tried < TokenTextLen*len(base62) {
				t.Fatalf("only %d changes tried", tried)
			}
		})
	}
}

func TestParseTokenText(t *testing.T) {
	t.Parallel()
	personal := string(newTokenText(KindPersonal))
	system := string(newTokenText(KindSystem))
	random := personal[prefixLen : prefixLen+randomLen]
	tests := []struct {
		name     string
		s        string
		wantKind TokenKind
		wantOK   bool
	}{
		{"personal", personal, KindPersonal, true},
		{"system", system, KindSystem, true},
		{"fixed personal", withChecksum("tkp_" + strings.Repeat("a", randomLen)), KindPersonal, true},
		{"empty", "", "", false},
		{"prefix only", "tkp_", "", false},
		{"unknown prefix with valid checksum", withChecksum("tkx_" + random), "", false},
		{"upper-case prefix with valid checksum", withChecksum("TKP_" + random), "", false},
		{"prefix without underscore", withChecksum("tkpx" + random), "", false},
		{"no prefix, right length", withChecksum(random + "abcd"), "", false},
		{"one character short", personal[:TokenTextLen-1], "", false},
		{"one character long", personal + "a", "", false},
		{"short random part with valid checksum", withChecksum("tkp_" + random[1:]), "", false},
		{"long random part with valid checksum", withChecksum("tkp_" + random + "a"), "", false},
		{"non-base62 in random part with valid checksum", withChecksum("tkp_" + random[:10] + "-" + random[11:]), "", false},
		{"space in random part with valid checksum", withChecksum("tkp_" + random[:10] + " " + random[11:]), "", false},
		{"multi-byte in random part, right byte length", withChecksum("tkp_" + random[:28] + "é"), "", false},
		{"leading space", " " + personal[:TokenTextLen-1], "", false},
		{"trailing newline", personal + "\n", "", false},
		{"personal body, system prefix", "tks_" + personal[prefixLen:], "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, ok := ParseTokenText(tt.s)
			if kind != tt.wantKind || ok != tt.wantOK {
				t.Errorf("ParseTokenText(%q) = %q, %v; want %q, %v", tt.s, kind, ok, tt.wantKind, tt.wantOK)
			}
		})
	}
}

func TestLastFour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text TokenText
		want string
	}{
		{"tkp_abcdefghijklmnopqrstuvwxyz0123WXYZ89", "YZ89"},
		{"abcd", "abcd"},
		{TokenText(withChecksum("tks_" + strings.Repeat("0", randomLen))), withChecksum("tks_" + strings.Repeat("0", randomLen))[TokenTextLen-4:]},
	}
	for _, tt := range tests {
		if got := tt.text.LastFour(); got != tt.want {
			t.Errorf("TokenText(%q).LastFour() = %q, want %q", tt.text, got, tt.want)
		}
	}
	for _, kind := range []TokenKind{KindPersonal, KindSystem} {
		text := newTokenText(kind)
		if got, want := text.LastFour(), string(text[TokenTextLen-4:]); got != want {
			t.Errorf("%q.LastFour() = %q, want %q", text, got, want)
		}
	}
}

func TestTokenHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tok  Token
		want string
	}{
		{Token{Kind: KindPersonal, LastFour: "a1B9"}, "tkp_…a1B9"},
		{Token{Kind: KindSystem, LastFour: "Zz00"}, "tks_…Zz00"},
	}
	for _, tt := range tests {
		if got := tt.tok.Hint(); got != tt.want {
			t.Errorf("%+v.Hint() = %q, want %q", tt.tok, got, tt.want)
		}
	}
}

func FuzzParseTokenText(f *testing.F) {
	personal := withChecksum("tkp_" + "0123456789ABCDEFGHIJabcdefghij")
	system := withChecksum("tks_" + "zyxwvutsrqponmlkjihgfedcbaZYXW")
	for _, s := range []string{
		personal,
		system,
		string(newTokenText(KindPersonal)),
		string(newTokenText(KindSystem)),
		"",
		"tkp_",
		personal[:TokenTextLen-1],
		personal + "0",
		"tks_" + personal[prefixLen:],
		"x" + personal[1:],
		personal[:10] + "-" + personal[11:],
		personal[:TokenTextLen-1] + "\xff",
		withChecksum("tkx_" + personal[prefixLen:prefixLen+randomLen]),
		strings.Repeat("é", TokenTextLen/2),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, ok := ParseTokenText(s)
		if !ok {
			if kind != "" {
				t.Fatalf("ParseTokenText(%q) refused but returned kind %q", s, kind)
			}
			return
		}
		if len(s) != TokenTextLen {
			t.Fatalf("ParseTokenText(%q) accepted length %d", s, len(s))
		}
		switch {
		case kind == KindPersonal && strings.HasPrefix(s, prefixPersonal):
		case kind == KindSystem && strings.HasPrefix(s, prefixSystem):
		default:
			t.Fatalf("ParseTokenText(%q) accepted kind %q", s, kind)
		}
		if !allBase62(s[prefixLen:]) {
			t.Fatalf("ParseTokenText(%q) accepted a non-base62 body", s)
		}
		if withChecksum(s[:prefixLen+randomLen]) != s {
			t.Fatalf("ParseTokenText(%q) accepted a wrong checksum", s)
		}
		if kind2, ok2 := ParseTokenText(s); kind2 != kind || !ok2 {
			t.Fatalf("ParseTokenText(%q) = %q, %v, then %q, %v", s, kind, ok, kind2, ok2)
		}
	})
}
