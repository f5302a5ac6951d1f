package web

import "unicode/utf8"

// jsonPlain are the ASCII bytes a JSON string holds as they are: not a
// control character, a quote or a backslash (slog's and encoding/json's
// safeSet). jsonPlainInHTML leaves out <, > and & too, which encoding/json
// escapes so that an answer pasted into a page stays inert.
var jsonPlain, jsonPlainInHTML = func() (plain, inHTML [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		plain[c] = c >= ' ' && c != '"' && c != '\\'
		inHTML[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return plain, inHTML
}()

const hexDigits = "0123456789abcdef"

// appendEscapedJSON appends s escaped for a JSON string, without the
// quotes: control characters escaped, invalid UTF-8 as U+FFFD, and U+2028
// and U+2029 (line breaks to JavaScript) escaped. api says whose escaping:
// encoding/json's for the API's answers (<, > and & as \u003c, \u003e,
// \u0026; backspace and form feed as \b, \f), or slog's JSONHandler's for
// the log (neither). apijson_test.go and logline_test.go hold each to its
// model.
func appendEscapedJSON(b []byte, s string, api bool) []byte {
	plain := &jsonPlain
	if api {
		plain = &jsonPlainInHTML
	}
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\')
			switch {
			case c == '\\' || c == '"':
				b = append(b, c)
			case c == '\n':
				b = append(b, 'n')
			case c == '\r':
				b = append(b, 'r')
			case c == '\t':
				b = append(b, 't')
			case api && c == '\b':
				b = append(b, 'b')
			case api && c == '\f':
				b = append(b, 'f')
			default:
				b = append(b, 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		} else {
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
