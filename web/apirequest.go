package web

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"
)

// Reading a request strictly: its query, its media type, its JSON body, and
// RFC 3339 times, each refused with a message that names what is wrong.

// strictQuery is the request's query, refused when it does not parse.
// url.Values drops quietly what it cannot read (a pair with ';', a bad
// escape), and acting on the rest would be answering another request than
// the one sent.
func strictQuery(c echo.Context) (url.Values, error) {
	q, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, invalidRequest("", "The query does not parse: separate parameters with &, and escape ; and % as %3B and %25.")
	}
	return q, nil
}

// queryOnce refuses a query with a parameter not in allowed, or one of them
// given more than once or empty, naming the first such parameter in
// alphabetical order. A misspelt filter (?stat=revoked) would otherwise
// answer as if none had been given.
func queryOnce(q url.Values, allowed ...string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(allowed, k):
			return invalidRequest(k, k+" is not a parameter this request takes; it takes "+joinWords(allowed)+".")
		case len(q[k]) > 1:
			return invalidRequest(k, "Give "+k+" once, not "+strconv.Itoa(len(q[k]))+" times.")
		case q[k][0] == "":
			return invalidRequest(k, k+" is empty: give it a value, or leave it out.")
		}
	}
	return nil
}

// joinWords is "a, b and c".
func joinWords(w []string) string {
	if len(w) < 2 {
		return strings.Join(w, "")
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

// rfc3339 is RFC 3339's full-date, optionally followed by the rest of its
// date-time: "T" (or "t", §5.6), partial-time with an optional fraction
// after a dot, and "Z" (or "z") or a numeric offset. time.Parse's RFC3339
// layout reads more (a comma before the fraction, offsets to ±99:59) and
// less (no lower case, no leap second) than that.
var rfc3339 = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2})))?$`)

var errNotRFC3339 = errors.New("not an RFC 3339 date or date-time")

// parseExpiry reads a date (the token expires at its start, UTC) or an
// RFC 3339 date-time.
func parseExpiry(s string) (time.Time, error) {
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, errNotRFC3339
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	year, month, day := n(1), n(2), n(3)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) {
		return time.Time{}, errNotRFC3339
	}
	if m[4] == "" {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), nil
	}
	hour, minute, sec := n(4), n(5), n(6)
	offset := 0
	if m[9] != "" {
		oh, om := n(10), n(11)
		if oh > 23 || om > 59 {
			return time.Time{}, errNotRFC3339
		}
		offset = oh*3600 + om*60
		if m[9] == "-" {
			offset = -offset
		}
	}
	if hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, errNotRFC3339
	}
	var nsec int
	if frac := m[7]; frac != "" {
		frac = (frac + "00000000")[:9] // nanoseconds; finer digits are dropped
		nsec, _ = strconv.Atoi(frac)
	}
	zone := time.FixedZone("", offset)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone)
	if sec == 60 {
		// A leap second (RFC 3339 §5.7) ends a UTC day. Go's time has no
		// leap seconds; time.Date carries :60 over into the next minute,
		// the second after it, which is when such a token stops anyway.
		if last := time.Date(year, time.Month(month), day, hour, minute, 59, 0, zone).UTC(); last.Hour() != 23 || last.Minute() != 59 {
			return time.Time{}, errNotRFC3339
		}
	}
	return t.UTC(), nil
}

// daysIn is the number of days in month of year.
func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// mediaType is the request's media type, lower case and without parameters
// (RFC 9110 §8.3.1: type and subtype are case-insensitive). A request with
// more than one Content-Type, or one that does not parse, is refused.
func mediaType(c echo.Context) (string, error) {
	h := c.Request().Header[echo.HeaderContentType]
	switch len(h) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalidRequest("Content-Type", "Send one Content-Type header, not several.")
	}
	mt, params, err := mime.ParseMediaType(h[0])
	if err != nil {
		return "", invalidRequest("Content-Type", "The Content-Type header is not a media type.")
	}
	// JSON is UTF-8 (RFC 8259 §8.1), and so are forms here.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", errUnsupportedMediaType("UTF-8 text")
	}
	return mt, nil
}

func errUnsupportedMediaType(want string) *apiError {
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: "Send the body as " + want + "."}
}

// jsonBody is the body of c's request, which must say it is JSON; a body
// past the limit is the limit's 413.
func jsonBody(c echo.Context) ([]byte, error) {
	if mt, err := mediaType(c); err != nil {
		return nil, err
	} else if mt != echo.MIMEApplicationJSON {
		return nil, errUnsupportedMediaType("application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	var he *echo.HTTPError // the body limit's
	if errors.As(err, &he) {
		return nil, he
	}
	return body, err
}

// decodeJSON reads a JSON body into v. It refuses what a lenient reader
// would guess at: a duplicate member name, a member v does not have, a value
// of the wrong type, invalid UTF-8, and anything after the value. An error
// about one member names it as the field.
func decodeJSON(c echo.Context, v any) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidRequest("", "The body is empty: send a JSON object.")
	}
	err = json.Unmarshal(body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	// The answer says what is wrong in JSON's words, never Go's (no type
	// names), and quotes no key from the body: proxies log answers too.
	var field string
	var se *json.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		field = topMember(se.JSONPointer)
	case errors.As(err, &sy):
		field = topMember(sy.JSONPointer)
	}
	switch {
	case !utf8.Valid(body):
		return invalidRequest(field, "The body is not valid UTF-8.")
	case errors.Is(err, jsontext.ErrDuplicateName):
		return invalidRequest(field, "The body names "+field+" more than once.")
	// Before the type: an unknown member's error carries the type of the
	// object it is not in.
	case errors.Is(err, json.ErrUnknownName):
		return invalidRequest(field, field+" is not a field this request takes.")
	case se != nil && field == "":
		return invalidRequest("", "The body must be a JSON object.")
	case errors.Is(err, strconv.ErrRange):
		return invalidRequest(field, field+" is out of range.")
	case se != nil:
		t := memberType(v, field)
		if t == nil {
			t = se.GoType
		}
		return invalidRequest(field, field+" must be "+jsonTypeName(t)+".")
	case sy != nil:
		return invalidRequest(field, "The body is not valid JSON: "+redactTokens(sy.Err.Error())+
			" (after byte "+strconv.FormatInt(sy.ByteOffset, 10)+").")
	}
	return invalidRequest(field, "The body is not valid JSON.")
}

// memberType is the Go type of the member of struct *v named name in JSON.
func memberType(v any, name string) reflect.Type {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f.Type
		}
	}
	return nil
}

// jsonTypeName is what a JSON value read into t must be, in words.
func jsonTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		switch elem := jsonTypeName(t.Elem()); elem {
		case "a string", "a whole number", "a number":
			return "a list of " + strings.TrimPrefix(elem, "a ") + "s"
		}
		return "a list"
	}
	return "an object"
}

// topMember is the top-level member a JSON pointer is in: "roles" for
// "/roles/1".
func topMember(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return ""
}
