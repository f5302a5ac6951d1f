package web

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// The Token Management page's search and filters. They live in the URL, so
// that a filtered view can be bookmarked and shared: the filter form is a
// plain GET form, and every link on the page (paging, revoking, the bulk
// confirmation and back) carries them.

// tokenList names one list of the page, in URLs and element ids.
type tokenList string

const (
	listMy     tokenList = "my"     // My Tokens
	listUser   tokenList = "user"   // Organization User Tokens, the owner's
	listSystem tokenList = "system" // System Tokens, the owner's
)

var tokenListOrder = []tokenList{listMy, listUser, listSystem}

// before is the parameter that pages the list ("Show older tokens"); the
// first release's names, kept so old links still work.
func (l tokenList) before() string { return string(l) + "_before" }

// anchor is the id of the list's heading, where a link to it lands.
func (l tokenList) anchor() string { return string(l) + "-tokens-heading" }

// stateAll lists revoked tokens too: what ?show=revoked, the first
// release's "Show revoked tokens", asks for.
const stateAll = "all"

// lastUsedNever and the numbers of days are the "Last used" choices.
const lastUsedNever = "never"

var lastUsedDays = []int{30, 90, 365}

// tokenView is what the URL asks the page to show: the filter form's
// fields, read and checked. The zero value is the page as it opens.
type tokenView struct {
	Q     string
	Kind  store.TokenKind // owner's lists only
	State string          // "", active, expiring, expired, revoked or all
	// MemberID (Organization User Tokens), Role (System Tokens) and
	// CreatedBy (both) narrow the owner's lists.
	MemberID  int64
	Role      store.Role
	CreatedBy int64
	LastUsed  string // "", never, or a number of lastUsedDays
	Sort      string // "", store.SortLastUsed or store.SortExpires
}

// tokenViewParams are the filter form's fields, in the form's order.
var tokenViewParams = []string{"q", "kind", "state", "member_id", "role", "created_by", "last_used", "sort"}

// ownerOnlyParams narrow lists only the owner sees; for a member they are
// no filter at all, and are left out rather than refused.
var ownerOnlyParams = []string{"kind", "member_id", "role", "created_by"}

// readTokenView reads the view the query asks for, and by field what could
// not be read. An empty value is no filter (the form sends every field); a
// value given twice is refused rather than one of them guessed at.
func readTokenView(q url.Values, owner bool) (tokenView, map[string]string) {
	var v tokenView
	errs := map[string]string{}
	for _, k := range tokenViewParams {
		vs := q[k]
		if len(vs) == 0 || !owner && slices.Contains(ownerOnlyParams, k) {
			continue
		}
		if len(vs) > 1 {
			errs[k] = "Give " + k + " once, not " + strconv.Itoa(len(vs)) + " times."
			continue
		}
		val := strings.TrimSpace(vs[0])
		if val == "" {
			continue
		}
		switch k {
		case "q":
			v.Q = val
		case "kind":
			switch k := store.TokenKind(val); k {
			case store.KindPersonal, store.KindSystem:
				v.Kind = k
			default:
				errs["kind"] = "Choose a kind from the list: personal or system."
			}
		case "state":
			switch val {
			case store.StateActive, store.StateExpiring, store.StateExpired, store.StateRevoked, stateAll:
				v.State = val
			default:
				errs["state"] = "Choose a state from the list."
			}
		case "member_id", "created_by":
			id, ok := parseID(val)
			if !ok {
				errs[k] = "Choose a member from the list."
			} else if k == "member_id" {
				v.MemberID = id
			} else {
				v.CreatedBy = id
			}
		case "role":
			if r := store.Role(val); r.Assignable() {
				v.Role = r
			} else {
				errs["role"] = "Choose a role from the list."
			}
		case "last_used":
			if val != lastUsedNever && !slices.ContainsFunc(lastUsedDays, func(d int) bool { return strconv.Itoa(d) == val }) {
				errs["last_used"] = "Choose when the tokens were last used from the list."
				continue
			}
			v.LastUsed = val
		case "sort":
			switch val {
			case store.SortCreated:
			case store.SortLastUsed, store.SortExpires:
				v.Sort = val
			default:
				errs["sort"] = "Choose an order from the list."
			}
		}
	}
	if v.State == "" && len(q["show"]) == 1 && q.Get("show") == "revoked" {
		v.State = stateAll
	}
	return v, errs
}

// values is the view as a query: only what differs from the page as it
// opens, so links stay short.
func (v tokenView) values() url.Values {
	q := url.Values{}
	set := func(k, val string) {
		if val != "" {
			q.Set(k, val)
		}
	}
	set("q", v.Q)
	set("kind", string(v.Kind))
	set("state", v.State)
	set("member_id", optID(v.MemberID))
	set("role", string(v.Role))
	set("created_by", optID(v.CreatedBy))
	set("last_used", v.LastUsed)
	set("sort", v.Sort)
	return q
}

// filtered reports whether the view narrows the lists at all.
func (v tokenView) filtered() bool { return v != tokenView{} }

// shows reports whether the page shows list l to its viewer: the owner's
// lists to the owner, and each only if the kind filter leaves it in.
func (v tokenView) shows(l tokenList, owner bool) bool {
	switch l {
	case listMy:
		return v.Kind != store.KindSystem
	case listUser:
		return owner && v.Kind != store.KindSystem
	}
	return owner && v.Kind != store.KindPersonal
}

// filter is the store's filter of list l for viewer m at now. The name,
// state, last use and order apply to every list; the member only to
// Organization User Tokens, the role only to System Tokens, the creator to
// both.
func (v tokenView) filter(l tokenList, m store.Member, now time.Time) store.TokenFilter {
	f := store.TokenFilter{Q: v.Q, Sort: v.Sort}
	if v.State == stateAll {
		f.IncludeRevoked = true
	} else {
		f.State = v.State
	}
	switch v.LastUsed {
	case "":
	case lastUsedNever:
		f.NeverUsed = true
	default:
		days, _ := strconv.Atoi(v.LastUsed)
		f.LastUsedBefore = now.AddDate(0, 0, -days)
	}
	switch l {
	case listMy:
		f.Kind, f.MemberID = store.KindPersonal, m.ID
	case listUser:
		f.Kind, f.MemberID, f.CreatedBy = store.KindPersonal, v.MemberID, v.CreatedBy
	case listSystem:
		f.Kind, f.Role, f.CreatedBy = store.KindSystem, v.Role, v.CreatedBy
	}
	return f
}

// revocable narrows f to the tokens of it that still work: those "Select
// all N matching" takes.
func revocable(f store.TokenFilter) (store.TokenFilter, bool) {
	switch {
	case f.State == store.StateRevoked:
		return f, false
	case f.IncludeRevoked:
		f.IncludeRevoked = false
	}
	return f, true
}

// URLs of the Token Management page, built here and nowhere else.

// bulkRevokePath is the Revoke selected confirmation (GET) and Yes,
// Revoke (POST).
const bulkRevokePath = "/tokens/bulk-revoke"

// viewOf is the view the request's URL asks for, whatever of it reads.
func viewOf(c echo.Context) tokenView {
	m, _ := memberOf(c)
	q, _ := url.ParseQuery(c.Request().URL.RawQuery)
	v, _ := readTokenView(q, m.IsOwner())
	return v
}

// tokenLists gathers what the Token Management page lists for m, in the
// view the URL asks for: their own personal tokens and, for the owner,
// everyone's, the system tokens and the organization's token policy. Each
// list shows its first tokens in the view's order, and later ones a page
// at a time from the cursor its "Show older tokens" link carries
// (?my_before=, ?user_before=, ?system_before=). A filter that does not
// read leaves the lists out and says why (Problem, and Filter.Errors).
//
// The lists, their counts, the notice and the form's choices are reads
// that do not depend on each other, made together: at 100,000 tokens a
// count takes milliseconds, and the page takes as long as the slowest of
// them rather than their sum.
func (s *Server) tokenLists(c echo.Context, m store.Member, flash string) (views.TokenLists, error) {
	ctx := c.Request().Context()
	now := s.db.Now()
	q, qerr := url.ParseQuery(c.Request().URL.RawQuery)
	v, errs := readTokenView(q, m.IsOwner())
	if qerr != nil {
		errs[""] = "The address's query does not parse."
	}
	l := views.TokenLists{Flash: flash, IsOwner: m.IsOwner(), OrgName: m.OrgName, MyRoles: joinTitles(store.RoleTitles(m.Roles))}
	// htmx swaps the lists alone: the form, and the members it offers,
	// stay as they are on the page.
	withMembers := !isHTMX(c)
	reads := []func() error{
		func() (err error) { l.Filter, err = s.tokenFilterForm(ctx, m, q, v, errs, withMembers); return err },
	}
	if m.IsOwner() {
		reads = append(reads, func() error {
			org, err := s.db.Org(ctx, m)
			l.Settings = views.TokenSettings{MaxLifetime: maxLifetimeOptions(org.MaxTokenDays)}
			return err
		})
	}
	if len(errs) > 0 {
		l.Problem = "These filters cannot be read: " + firstProblem(errs) + " Correct them to see the tokens."
		return l, parallel(reads...)
	}
	reads = append(reads, func() (err error) { l.Expiring, err = s.expiryNotice(ctx, m); return err })
	for _, list := range tokenListOrder {
		if !v.shows(list, m.IsOwner()) {
			continue
		}
		sum, rows, more := &l.My, &l.MyTokens, &l.MyMore
		switch list {
		case listUser:
			sum, rows, more = &l.User, &l.UserTokens, &l.UserMore
		case listSystem:
			sum, rows, more = &l.System, &l.SystemTokens, &l.SystemMore
		}
		reads = append(reads, func() (err error) {
			*sum, *rows, *more, err = s.tokenListPage(ctx, m, v, list, q.Get(list.before()), now)
			return err
		})
	}
	return l, parallel(reads...)
}

// parallel runs reads at once and returns the first error of them, in
// their order.
func parallel(reads ...func() error) error {
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads {
		wg.Go(func() { errs[i] = read() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// firstProblem is the message of the first field in the form's order that
// has one.
func firstProblem(errs map[string]string) string {
	for _, k := range append([]string{""}, tokenViewParams...) {
		if msg, ok := errs[k]; ok {
			return msg
		}
	}
	return ""
}

// tokenListPage is one page of list l in view v, from the cursor in after
// (a list's "Show older tokens"), with its counts and a link to its next
// page if there is one.
func (s *Server) tokenListPage(ctx context.Context, m store.Member, v tokenView, l tokenList, after string, now time.Time) (views.ListSummary, []views.TokenRow, string, error) {
	f := v.filter(l, m, now)
	sum := views.ListSummary{Key: string(l), Shown: true, Filtered: v.filtered(), Action: bulkRevokePath}
	for k, vs := range v.values() {
		sum.Keep = append(sum.Keep, views.Hidden{Name: k, Value: vs[0]})
	}
	slices.SortFunc(sum.Keep, func(a, b views.Hidden) int { return strings.Compare(a.Name, b.Name) })

	page := f
	page.After, _ = store.ParseTokenCursor(after)
	page.Limit = pageSize + 1
	// In all: the list without any filter, revoked tokens included.
	all := store.TokenFilter{Kind: f.Kind, IncludeRevoked: true}
	if l == listMy {
		all.MemberID = m.ID
	}
	var ts []store.Token
	err := parallel(
		func() (err error) { ts, err = s.db.ListTokens(ctx, m, page); return err },
		func() (err error) { sum.Total, err = s.db.CountTokens(ctx, m, all); return err },
	)
	if err != nil {
		return sum, nil, "", err
	}
	// A list its first page holds whole counts itself; a longer one, and
	// the working tokens of a list that shows revoked ones too ("Select
	// all N matching"), are counted.
	counts := []func() error{}
	if page.After.IsZero() && len(ts) <= pageSize {
		sum.Count = len(ts)
	} else {
		counts = append(counts, func() (err error) { sum.Count, err = s.db.CountTokens(ctx, m, f); return err })
	}
	live, ok := revocable(f)
	if ok && live != f {
		counts = append(counts, func() (err error) { sum.Revocable, err = s.db.CountTokens(ctx, m, live); return err })
	}
	if err := parallel(counts...); err != nil {
		return sum, nil, "", err
	}
	if ok && live == f {
		sum.Revocable = sum.Count
	}

	more := ""
	if len(ts) > pageSize {
		ts = ts[:pageSize]
		more = olderTokensPath(v, l, f.CursorAfter(ts[pageSize-1]))
	}
	rows := tokenRows(ts, m, now, v)
	for i := range rows {
		if rows[i].Revoked == "" {
			rows[i].SelectForm = sum.FormID()
		}
	}
	return sum, rows, more, nil
}

// tokenRows are the rows of a list in view v, whose revoke links come back
// to it.
func tokenRows(ts []store.Token, viewer store.Member, now time.Time, v tokenView) []views.TokenRow {
	rows := make([]views.TokenRow, len(ts))
	for i, t := range ts {
		rows[i] = tokenRow(t, viewer, now)
		rows[i].RevokeURL = revokeTokenPath(t.ID, v)
		rows[i].ExpiresSoon = expiresSoon(t, now)
	}
	return rows
}

// expiresSoon is "Expires in 2 days", "Expires tomorrow" or "Expires
// today" for a working token that expires within store.ExpiringWithin,
// counted in days of the calendar (UTC) as its date is shown; "" for any
// other.
func expiresSoon(t store.Token, now time.Time) string {
	if t.ExpiresAt.IsZero() || !t.Active() || !t.ExpiresAt.After(now) || t.ExpiresAt.Sub(now) > store.ExpiringWithin {
		return ""
	}
	y, m, d := now.UTC().Date()
	ey, em, ed := t.ExpiresAt.UTC().Date()
	days := int(time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC).Sub(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	switch days {
	case 0:
		return "Expires today"
	case 1:
		return "Expires tomorrow"
	}
	return fmt.Sprintf("Expires in %d days", days)
}

// expiryNotice warns m of the tokens they manage that expire within 7 days:
// their own, or for the owner every token of the organization.
func (s *Server) expiryNotice(ctx context.Context, m store.Member) (views.ExpiryNotice, error) {
	f := store.TokenFilter{State: store.StateExpiring}
	if !m.IsOwner() {
		f.Kind, f.MemberID = store.KindPersonal, m.ID
	}
	n, err := s.db.CountTokens(ctx, m, f)
	if err != nil || n == 0 {
		return views.ExpiryNotice{}, err
	}
	return views.ExpiryNotice{
		Text: views.Count(n, "token expires", "tokens expire") + " within " + strconv.Itoa(int(store.ExpiringWithin/(24*time.Hour))) + " days",
		URL:  expiringPath(),
	}, nil
}

// tokenFilterForm is the filter form filled in with what the URL says, a
// value the form does not offer included, so that a mistake can be seen
// and corrected where it was made.
func (s *Server) tokenFilterForm(ctx context.Context, m store.Member, q url.Values, v tokenView, errs map[string]string, withMembers bool) (views.TokenFilterForm, error) {
	f := views.TokenFilterForm{Owner: m.IsOwner(), Q: v.Q, Active: v.filtered(), Errors: errs}
	chosen := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	// choice marks the option the URL chose: the first for none.
	choice := func(k string, opts ...views.Option) []views.Option {
		val, found := chosen(k), false
		if k == "state" && val == "" && v.State == stateAll {
			val = stateAll // asked for as ?show=revoked
		}
		for i := range opts {
			if (opts[i].Value == val || val == "" && i == 0) && !found {
				opts[i].Selected, found = true, true
			}
		}
		if !found && val != "" {
			opts = append(opts, views.Option{Value: val, Label: val, Selected: true})
		}
		return opts
	}
	f.States = choice("state",
		views.Option{Value: "", Label: "Not revoked"},
		views.Option{Value: store.StateActive, Label: "Active"},
		views.Option{Value: store.StateExpiring, Label: "Expiring within 7 days"},
		views.Option{Value: store.StateExpired, Label: "Expired"},
		views.Option{Value: store.StateRevoked, Label: "Revoked"},
		views.Option{Value: stateAll, Label: "All, revoked included"})
	lastUsed := []views.Option{{Value: "", Label: "Any time, or never"}, {Value: lastUsedNever, Label: "Never used"}}
	for _, d := range lastUsedDays {
		lastUsed = append(lastUsed, views.Option{Value: strconv.Itoa(d), Label: fmt.Sprintf("Not in the last %d days", d)})
	}
	f.LastUsed = choice("last_used", lastUsed...)
	f.Sorts = choice("sort",
		views.Option{Value: store.SortCreated, Label: "Created, newest first"},
		views.Option{Value: store.SortLastUsed, Label: "Last used, latest first"},
		views.Option{Value: store.SortExpires, Label: "Expires, soonest first"})
	if !m.IsOwner() {
		return f, nil
	}
	f.Kinds = choice("kind",
		views.Option{Value: "", Label: "Personal and system"},
		views.Option{Value: string(store.KindPersonal), Label: "Personal Access Tokens"},
		views.Option{Value: string(store.KindSystem), Label: "System Access Tokens"})
	roles := []views.Option{{Value: "", Label: "Any role"}}
	for _, r := range store.AssignableRoles {
		roles = append(roles, views.Option{Value: string(r), Label: r.Title()})
	}
	f.Roles = choice("role", roles...)
	var members []views.Option
	if withMembers {
		var err error
		if members, err = s.memberOptions(ctx, m); err != nil {
			return f, err
		}
	}
	f.Members = choice("member_id", append([]views.Option{{Value: "", Label: "Any member"}}, members...)...)
	f.CreatedBy = choice("created_by", append([]views.Option{{Value: "", Label: "Anyone"}}, members...)...)
	return f, nil
}

// memberOptions are the organization's members to filter by, those who
// left too (their system tokens may still work), for the owner.
func (s *Server) memberOptions(ctx context.Context, owner store.Member) ([]views.Option, error) {
	ms, err := s.db.MemberChoices(ctx, owner)
	if err != nil {
		return nil, err
	}
	opts := make([]views.Option, 0, len(ms))
	for _, mem := range ms {
		label := mem.Name + " (" + mem.Email + ")"
		if !mem.LeftAt.IsZero() {
			label = mem.Name + " (" + mem.Email + ", left)"
		}
		opts = append(opts, views.Option{Value: strconv.FormatInt(mem.ID, 10), Label: label})
	}
	slices.SortStableFunc(opts, func(a, b views.Option) int {
		return strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label))
	})
	return opts, nil
}
