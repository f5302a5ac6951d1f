package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// bulkListed is how many tokens the confirmation names; "and N more" says
// the rest.
const bulkListed = 20

// confirmBulkRevoke is Revoke selected: the Revoke Token confirmation,
// naming how many tokens and the first of them, for the tokens ticked in a
// list (?ids=) or, with "Select all N matching" (?all=1&list=), every
// working token the list's filters match. A dialog for htmx, a page of its
// own without JavaScript. Yes, Revoke posts the ids resolved here, so what
// is revoked is what was confirmed, and comes back to the same view.
func (s *Server) confirmBulkRevoke(c echo.Context) error {
	m, _ := memberOf(c)
	q, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The address's query does not parse.")
	}
	v, errs := readTokenView(q, m.IsOwner())
	if len(errs) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, firstProblem(errs))
	}
	ts, err := s.bulkSelection(c.Request().Context(), m, q, v)
	if err != nil {
		return err
	}
	p := views.BulkRevokeConfirm{Viewer: viewerOf(c, m), Action: withQuery(bulkRevokePath, v.values()), BackURL: tokensPath(v)}
	for _, t := range ts {
		switch {
		case !t.Active():
			p.AlreadyRevoked++
			continue
		case len(p.Tokens) < bulkListed:
			p.Tokens = append(p.Tokens, bulkToken(t, m))
		default:
			p.More++
		}
		p.IDs = append(p.IDs, strconv.FormatInt(t.ID, 10))
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, views.BulkRevokeDialog(p))
	}
	return render(c, http.StatusOK, views.BulkRevokeConfirmView(p))
}

// bulkSelection is the tokens a Revoke selected asks about: every one that
// list's filters match, or the ids ticked, each of which must be m's to
// revoke.
func (s *Server) bulkSelection(ctx context.Context, m store.Member, q url.Values, v tokenView) ([]store.Token, error) {
	if all, ok := q["all"]; ok {
		l := tokenList(q.Get("list"))
		switch {
		case len(all) > 1 || all[0] != "1":
			return nil, &store.Error{Code: store.EINVALID, Field: "all", Message: "Tick “Select all matching”, or select tokens one by one."}
		case len(q["list"]) != 1 || !slices.Contains(tokenListOrder, l):
			return nil, &store.Error{Code: store.EINVALID, Field: "list", Message: "Say which list to select all matching tokens of: my, user or system."}
		}
		return s.allMatching(ctx, m, v.filter(l, m, s.db.Now()))
	}
	ids, bad := parseIDs(q["ids"])
	switch n := len(ids) + bad; {
	case n == 0:
		return nil, &store.Error{Code: store.EINVALID, Field: "ids", Message: "Select at least one token to revoke."}
	case n > store.MaxBulkRevoke:
		return nil, &store.Error{Code: store.EINVALID, Field: "ids", Message: fmt.Sprintf("At most %s tokens can be revoked at once.", views.Number(store.MaxBulkRevoke))}
	}
	ts := make([]store.Token, 0, len(ids))
	missing := bad
	for _, id := range ids {
		t, err := s.db.Token(ctx, m, id)
		switch {
		case store.ErrorCode(err) == store.ENOTFOUND:
			missing++
		case err != nil:
			return nil, err
		default:
			ts = append(ts, t)
		}
	}
	if missing > 0 {
		return nil, errNotYours(missing, len(ids)+bad)
	}
	return ts, nil
}

// allMatching is every working token f matches, for "Select all N
// matching": at most store.MaxBulkRevoke of them, or a refusal that says
// how many match.
func (s *Server) allMatching(ctx context.Context, m store.Member, f store.TokenFilter) ([]store.Token, error) {
	f, ok := revocable(f)
	if !ok {
		return nil, nil // revoked tokens: nothing left to revoke
	}
	f.Limit = store.MaxBulkRevoke + 1
	ts, err := s.db.ListTokens(ctx, m, f)
	if err != nil || len(ts) <= store.MaxBulkRevoke {
		return ts, err
	}
	f.Limit = 0
	n, err := s.db.CountTokens(ctx, m, f)
	if err != nil {
		return nil, err
	}
	return nil, &store.Error{Code: store.EINVALID, Field: "ids", Message: fmt.Sprintf(
		"%s tokens match these filters, and at most %s can be revoked at once. Narrow the filters, then revoke them in parts.",
		views.Number(n), views.Number(store.MaxBulkRevoke))}
}

// errNotYours refuses a selection with ids m may not revoke: a crafted
// list. It says as little as the store does (store.RevokeTokens), so ids
// reveal nothing.
func errNotYours(missing, of int) error {
	return store.Errorf(store.ENOTFOUND, "%d of the %d selected tokens cannot be revoked by you or do not exist; nothing was revoked.", missing, of)
}

// parseIDs reads the ids of a selection, each once, and counts the values
// that are no id as this server writes them.
func parseIDs(raw []string) (ids []int64, bad int) {
	for _, v := range raw {
		id, ok := parseID(v)
		switch {
		case !ok:
			bad++
		case !slices.Contains(ids, id):
			ids = append(ids, id)
		}
	}
	return ids, bad
}

// bulkToken is a token as the confirmation names it.
func bulkToken(t store.Token, viewer store.Member) views.BulkToken {
	b := views.BulkToken{Name: t.Name, Hint: t.Hint(), Whose: "system token"}
	switch {
	case t.Kind == store.KindSystem:
	case t.MemberID == viewer.ID:
		b.Whose = "your personal token"
	default:
		b.Whose = "personal token of " + t.MemberName
	}
	return b
}

// bulkRevoke is Yes, Revoke for several tokens: all of them in one
// transaction or, if any of the ids is not the member's to revoke (a
// crafted list), none, and the page says so. Back to the lists in the view
// they were left in, with what happened.
func (s *Server) bulkRevoke(c echo.Context) error {
	m, _ := memberOf(c)
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return unreadableForm(err)
	}
	ids, bad := parseIDs(r.PostForm["ids"])
	if bad > 0 {
		return errNotYours(bad, len(ids)+bad)
	}
	results, err := s.db.RevokeTokens(r.Context(), m, ids, true)
	if err != nil {
		return err
	}
	var revoked, already int
	for _, res := range results {
		if res.Result == store.BulkRevoked {
			revoked++
		} else {
			already++
		}
	}
	msg := "Revoked " + views.Count(revoked, "token", "tokens") + "."
	switch already {
	case 0:
	case 1:
		msg += " 1 was already revoked."
	default:
		msg += " " + views.Number(already) + " were already revoked."
	}
	return s.listsSaying(c, m, msg)
}
