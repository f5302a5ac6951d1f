package web

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// The answer of GET /api/v1/token, asked on every call of some
// integrations, is written by hand rather than by reflection: the bytes
// encoding/json writes for toAPIPrincipal (apijson_test.go holds the two
// together), at a fraction of the cost and with no allocation but the
// hint's.

var jsonContentType = []string{echo.MIMEApplicationJSON}

var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writePrincipalJSON answers p as c.JSON(status, toAPIPrincipal(*p))
// would: encoding/json's bytes and a newline.
func writePrincipalJSON(c echo.Context, status int, p *store.Principal) error {
	bp := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(bp)
	b := append(appendPrincipalJSON((*bp)[:0], p), '\n')
	*bp = b
	res := c.Response()
	res.Header()[echo.HeaderContentType] = jsonContentType
	res.WriteHeader(status)
	_, err := res.Write(b)
	return err
}

// appendPrincipalJSON appends the JSON of toAPIPrincipal(*p).
func appendPrincipalJSON(b []byte, p *store.Principal) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.TokenID, 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(p.Kind))
	b = append(b, `,"name":`...)
	b = appendJSONString(b, p.Name)
	b = append(b, `,"hint":`...)
	b = appendJSONString(b, p.Hint())
	b = append(b, `,"last_four":`...)
	b = appendJSONString(b, p.LastFour)
	b = append(b, `,"organization":{"id":`...)
	b = strconv.AppendInt(b, p.OrgID, 10)
	if p.OrgName != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, p.OrgName)
	}
	b = append(b, '}')
	if p.Kind == store.KindPersonal {
		b = append(b, `,"member":{"id":`...)
		b = strconv.AppendInt(b, p.MemberID, 10)
		b = append(b, `,"email":`...)
		b = appendJSONString(b, p.MemberEmail)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, p.MemberName)
		b = append(b, '}')
	}
	b = append(b, `,"roles":[`...)
	for i, r := range p.Roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(r))
	}
	b = append(b, `],"created_at":`...)
	b = appendJSONTime(b, p.CreatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendJSONOptTime(b, p.ExpiresAt)
	b = append(b, `,"last_used_at":`...)
	b = appendJSONOptTime(b, p.LastUsedAt)
	return append(b, '}')
}

// appendJSONTime is time.Time's MarshalJSON: RFC 3339 with nanoseconds as
// needed. The store's times are all within the years it can write.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	if t.Location() == time.UTC && t.Nanosecond() == 0 {
		b = appendUTCSecond(b, t)
	} else {
		b = t.AppendFormat(b, time.RFC3339Nano)
	}
	return append(b, '"')
}

// appendUTCSecond appends t, a whole second in UTC, as RFC 3339
// ("2006-01-02T15:04:05Z"), as t.AppendFormat(time.RFC3339Nano) does: the
// store keeps times in whole seconds, and this is every time of the
// answer to GET /api/v1/token, at a third of AppendFormat's cost.
func appendUTCSecond(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, second := t.Clock()
	return append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+second/10), byte('0'+second%10), 'Z')
}

// appendJSONOptTime is optTime(t)'s JSON: null for the zero time.
func appendJSONOptTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	return appendJSONTime(b, t)
}

// appendJSONString is encoding/json's string, quoted (appendEscapedJSON
// with the API's escaping).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscapedJSON(b, s, true)
	return append(b, '"')
}

// joinRoles is the roles' keys with a space between them, as
// X-Token-Roles and introspection's scope say them.
func joinRoles(rs []store.Role) string {
	switch len(rs) {
	case 0:
		return ""
	case 1:
		return string(rs[0])
	}
	n := len(rs) - 1
	for _, r := range rs {
		n += len(r)
	}
	var b strings.Builder
	b.Grow(n)
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(r))
	}
	return b.String()
}
