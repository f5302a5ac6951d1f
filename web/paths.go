package web

import (
	"fmt"
	"net/url"
	"strconv"
	"tokend/store"

	"github.com/labstack/echo/v4"
)

// The paths of the pages, as handlers, views and redirects link to them
// (routes.go registers the routes): built here, not written out where
// they are linked.

const (
	tokensRoot = "/tokens"
	auditRoot  = "/audit"
	loginPath  = "/login"
)

// withQuery is path with the query q, or path alone.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// tokensPath is the Token Management page showing v.
func tokensPath(v tokenView) string { return withQuery(tokensRoot, v.values()) }

// olderTokensPath is list l's next page, after cursor, in view v.
func olderTokensPath(v tokenView, l tokenList, cursor store.TokenCursor) string {
	q := v.values()
	q.Set(l.before(), cursor.String())
	return withQuery(tokensRoot, q) + "#" + l.anchor()
}

// revokeTokenPath is a token's Revoke Token confirmation, which comes back
// to view v.
func revokeTokenPath(id int64, v tokenView) string {
	return withQuery(tokenPageURL(id)+"/revoke", v.values())
}

// expiringPath lists the tokens about to expire.
func expiringPath() string { return tokensPath(tokenView{State: store.StateExpiring}) }

// tokensURL is the Token Management page in the view the member chose.
func tokensURL(c echo.Context) string { return tokensPath(viewOf(c)) }

// tokenPageURL is a token's own page; the forms on it post below it.
func tokenPageURL(id int64) string { return tokensRoot + "/" + strconv.FormatInt(id, 10) }

// Paths of the Members pages.
const (
	membersPath    = "/members"
	invitationsDir = "/invitations/"
)

func memberRolesPath(id int64) string  { return fmt.Sprintf("/members/%d/roles", id) }
func memberRemovePath(id int64) string { return fmt.Sprintf("/members/%d/remove", id) }
func memberEventsPath(id int64) string { return fmt.Sprintf("/audit?member_id=%d", id) }
func tokenEventsPath(id int64) string  { return fmt.Sprintf("/audit?token_id=%d", id) }
func withdrawPath(id int64) string     { return fmt.Sprintf("/members/invitations/%d/withdraw", id) }

// membersURL is the Members page in a view: those in the organization or
// those who left, the search, and the page (members below id before).
func membersURL(q string, former bool, before int64) string {
	v := url.Values{}
	if former {
		v.Set("view", "former")
	}
	if q != "" {
		v.Set("q", q)
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	return withQuery(membersPath, v)
}
