package store

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names people give things (tokens, organizations, members) follow one set of
// rules, so that what a person sees is what the store compares:
//
//   - stored in Unicode NFC, trimmed of white space;
//   - at most a limit counted in UTF-16 code units of the name as typed,
//     which is what a browser's maxlength counts (HTML: "the length of the value in code units"), so
//     the form and the server stop at the same place: 100 letters of most
//     scripts, fewer emoji;
//   - no control, text-direction or invisible formatting characters inside,
//     except the joiners and selectors emoji and several scripts are written
//     with (U+200C, U+200D, variation selectors, emoji tags); no private-use
//     characters or noncharacters;
//   - at least one letter, digit, punctuation mark or symbol;
//   - compared by NameKey: two names with the same key are one name.

// NameKey is the form in which names are compared for uniqueness: without
// invisible characters, NFKC-normalized and case-folded the Unicode way
// (UAX #31's NFKC_Casefold, approximated as NFKC(Fold(NFKC(s)))), with runs of
// white space made one space. "Café", "CAFÉ", "Cafe\u0301" and
// "Ｃａｆé\u200b" share one key.
func NameKey(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case invisible(r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, s)
	s = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	return strings.Join(strings.Fields(s), " ")
}

// cleanName is a name as it is stored: NFC, trimmed of white space.
// Invisible characters are not trimmed but refused, so that a pasted name
// that carries one is pointed out rather than silently changed.
func cleanName(s string) string {
	return strings.TrimSpace(norm.NFC.String(s))
}

// nameLen is the length of s in UTF-16 code units, as a browser counts it.
func nameLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// nameProblem says what is wrong with a name as typed, or "" if nothing is.
// Its length is counted as typed (trimmed), which is what a browser's
// maxlength saw: NFC can make a name longer (U+0958 is two code points in
// NFC) or shorter, and either way the form and the server must agree. The
// rest is checked on the name as it will be stored. what names the thing
// in the message: "Token name", "Organization name".
func nameProblem(what, typed string, maxLen int) string {
	name := cleanName(typed)
	switch n := nameLen(strings.TrimSpace(typed)); {
	case name == "":
		return "Enter a " + strings.ToLower(what) + "."
	case !utf8.ValidString(typed):
		return what + " is not valid UTF-8 text."
	case n > maxLen:
		return what + " must be at most " + strconv.Itoa(maxLen) + " characters (this one has " + strconv.Itoa(n) + "; some emoji count as two or more)."
	case strings.ContainsFunc(name, forbiddenInName):
		return what + " cannot contain control, invisible, private-use or text-direction characters."
	case !strings.ContainsFunc(name, visible):
		return what + " must contain a letter, a digit, a punctuation mark or a symbol."
	}
	return ""
}

// invisible reports whether r is drawn as nothing: a formatting character
// (other than the prepended marks some scripts show), a default-ignorable
// code point such as the Hangul fillers, or a variation selector.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Prepended_Concatenation_Mark, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// joiner reports whether r is an invisible character that text needs: the
// zero-width (non-)joiner of emoji sequences and of Arabic and Indic scripts,
// variation selectors, and the tag characters of subdivision flags.
func joiner(r rune) bool {
	return r == '\u200c' || r == '\u200d' || unicode.Is(unicode.Variation_Selector, r) || 0xe0020 <= r && r <= 0xe007f
}

// forbiddenInName refuses control characters, line and paragraph separators,
// the formatting characters that reorder text, every other invisible
// character, private-use characters and noncharacters, each of which can
// make one name look like another or like none.
func forbiddenInName(r rune) bool {
	switch {
	case r == utf8.RuneError, unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case unicode.Is(unicode.Bidi_Control, r):
		return true
	// Private-use characters show as whatever a font makes of them, often
	// nothing; noncharacters are not text; a blank braille pattern looks
	// like a space that is not one.
	case unicode.Is(unicode.Co, r), r&0xfffe == 0xfffe, 0xfdd0 <= r && r <= 0xfdef, r == '\u2800':
		return true
	}
	return invisible(r) && !joiner(r)
}

// visible reports whether r shows as something: a letter, digit,
// punctuation mark or symbol (not a blank braille pattern).
func visible(r rune) bool {
	return r != '\u2800' && !invisible(r) && unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// storable reports whether s can be sent to either database as text: valid
// UTF-8 without NUL, which PostgreSQL refuses in text. What is not storable
// matches nothing stored.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
