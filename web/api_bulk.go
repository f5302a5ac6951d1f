package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// tokenExpirationHeader names, on an API response, when the token that
// made the request expires, if that is within store.ExpiringWithin: a
// warning in every response an integration gets before its token breaks
// it, as GitHub's GitHub-Authentication-Token-Expiration.
const tokenExpirationHeader = "Tokend-Token-Expiration"

// warnExpiry sets tokenExpirationHeader for a token that expires soon. It
// runs on every API request: one comparison, and no allocation for a token
// that does not expire soon.
func (s *Server) warnExpiry(c echo.Context, p store.Principal) {
	if p.ExpiresAt.IsZero() || p.ExpiresAt.Sub(s.db.Now()) > store.ExpiringWithin {
		return
	}
	c.Response().Header()[tokenExpirationHeader] = []string{p.ExpiresAt.UTC().Format(time.RFC3339)}
}

// apiTokenListParams are the parameters GET /api/v1/tokens takes.
var apiTokenListParams = []string{"kind", "state", "q", "member_id", "role", "expires_before", "last_used_before", "never_used", "sort", "limit", "cursor"}

// apiTokenFilter reads the query of GET /api/v1/tokens strictly: each
// parameter once, not empty, and one of apiTokenListParams, with a value it
// takes; otherwise 400 naming the parameter. A token not acting as admin
// sees only its member's personal tokens, whatever it asks.
func apiTokenFilter(q url.Values, p store.Principal) (store.TokenFilter, error) {
	if err := queryOnce(q, apiTokenListParams...); err != nil {
		return store.TokenFilter{}, err
	}
	f := store.TokenFilter{Kind: store.TokenKind(q.Get("kind")), State: q.Get("state"), Q: q.Get("q"), Limit: defaultPageSize}
	switch f.Kind {
	case "", store.KindPersonal, store.KindSystem:
	default:
		return f, invalidRequest("kind", "kind must be personal or system.")
	}
	switch f.State {
	case "", store.StateActive, store.StateExpiring, store.StateExpired, store.StateRevoked:
	case "all":
		f.State, f.IncludeRevoked = "", true
	default:
		return f, invalidRequest("state", "state must be active, expiring, expired, revoked or all.")
	}
	if v := q.Get("member_id"); v != "" {
		id, ok := parseID(v)
		if !ok {
			return f, invalidRequest("member_id", "member_id must be a member's id: a whole number such as 12.")
		}
		f.MemberID = id
	}
	if v := q.Get("role"); v != "" {
		if f.Role = store.Role(v); !f.Role.Assignable() {
			return f, invalidRequest("role", "role must be admin, video, viewer, billing or support.")
		}
	}
	for _, k := range []string{"expires_before", "last_used_before"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, err := parseExpiry(v)
		if err != nil {
			return f, invalidRequest(k, k+" must be an RFC 3339 date-time, such as 2026-12-01T00:00:00Z, or a date.")
		}
		if k == "expires_before" {
			f.ExpiresBefore = t
		} else {
			f.LastUsedBefore = t
		}
	}
	switch q.Get("never_used") {
	case "", "false":
	case "true":
		f.NeverUsed = true
	default:
		return f, invalidRequest("never_used", "never_used must be true or false.")
	}
	switch f.Sort = q.Get("sort"); f.Sort {
	case "", store.SortCreated, store.SortLastUsed, store.SortExpires:
	default:
		return f, invalidRequest("sort", "sort must be created, last_used or expires.")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return f, invalidRequest("limit", "limit must be a number from 1 to "+strconv.Itoa(maxPageSize)+".")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		// TokenCursor.String(); a plain id, as the first release wrote, is
		// one too.
		c, ok := store.ParseTokenCursor(v)
		if !ok {
			return f, invalidRequest("cursor", "cursor is not one this API gave.")
		}
		f.After = c
	}
	if f.Role != "" && f.Kind == store.KindPersonal {
		return f, invalidRequest("role", "Personal tokens act with their member's roles; role filters system tokens.")
	}
	if !p.Has(store.RoleAdmin) {
		if f.Kind == store.KindSystem || p.Kind == store.KindSystem || f.Role != "" ||
			f.MemberID != 0 && f.MemberID != p.MemberID {
			return f, errInsufficientRole(store.RoleAdmin)
		}
		f.Kind, f.MemberID = store.KindPersonal, p.MemberID
	}
	return f, nil
}

// apiBulkRevoke is POST /api/v1/tokens/revoke: up to store.MaxBulkRevoke
// tokens revoked in one transaction, with a result per id, in the order
// given: revoked, already_revoked, or not_found for an id that names no
// token the caller may revoke (a token not acting as admin may revoke only
// its member's personal tokens). One not_found does not stop the others.
func (s *Server) apiBulkRevoke(c echo.Context) error {
	var in struct {
		IDs *[]int64 `json:"ids"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.IDs == nil || len(*in.IDs) == 0 || len(*in.IDs) > store.MaxBulkRevoke {
		return invalidRequest("ids", "ids must be a list of 1 to "+strconv.Itoa(store.MaxBulkRevoke)+" token ids.")
	}
	results, err := s.db.RevokeTokens(c.Request().Context(), principalOf(c), *in.IDs, false)
	if err != nil {
		return err
	}
	type result struct {
		ID     int64  `json:"id"`
		Result string `json:"result"`
	}
	out := struct {
		Results []result `json:"results"`
	}{Results: make([]result, len(results))}
	for i, r := range results {
		out.Results[i] = result{ID: r.ID, Result: r.Result}
	}
	return c.JSON(http.StatusOK, out)
}
