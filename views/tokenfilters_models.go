package views

import (
	"strconv"
	"strings"
)

// TokenFilterForm is the search and filters above the token lists, filled
// in with what the URL asks for.
type TokenFilterForm struct {
	// Owner: the owner's lists take the kind, member, role and creator
	// filters too.
	Owner bool
	Q     string
	// The choices of each select, the URL's marked.
	Kinds, States, Members, Roles, LastUsed, CreatedBy, Sorts []Option
	// Active says some filter narrows the lists, so Clear filters is
	// offered.
	Active bool
	// Errors by field, for a value no choice of the form gives.
	Errors map[string]string
}

// Hidden is a hidden form field.
type Hidden struct {
	Name, Value string
}

// ListSummary is what a list on the Token Management page says about
// itself beside its heading, and how its tokens are revoked together.
type ListSummary struct {
	// Key names the list in URLs and element ids: my, user or system.
	Key string
	// Shown is false when the kind filter leaves the list out.
	Shown bool
	// Count is how many tokens match the filters; Total how many the list
	// holds, revoked ones too.
	Count, Total int
	// Filtered says some filter was chosen.
	Filtered bool
	// Revocable is how many of the matching tokens still work: what
	// "Select all N matching" takes.
	Revocable int
	// Action is where Revoke selected asks for the confirmation; Keep are
	// the filters in effect, which it carries there and back.
	Action string
	Keep   []Hidden
}

// FormID is the id of the list's Revoke selected form, which the row
// checkboxes belong to.
func (s ListSummary) FormID() string { return "bulk-" + s.Key }

// CountText is "3 of 120 tokens", or "120 tokens" when the filters leave
// out none. Total, the list in all, is exact; Count stops at CountCap
// ("10,000+ of 52,310 tokens").
func (s ListSummary) CountText() string {
	total := number(s.Total) + " tokens"
	if s.Total == 1 {
		total = "1 token"
	}
	if s.Count == s.Total {
		return total
	}
	return Number(s.Count) + " of " + total
}

// SelectAllText is the label of the choice that takes every matching token.
func (s ListSummary) SelectAllText() string {
	return "Select all " + Number(s.Revocable) + " matching"
}

// Count is n and the noun that goes with it: "1 token", "1,200 tokens".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Number(n) + " " + many
}

// CountCap is the most tokens a list counts exactly (store.CountCap); a
// count past it reads "10,000+".
const CountCap = 10_000

// Number writes n with thousands separated by commas; a count past
// CountCap as "10,000+".
func Number(n int) string {
	if n > CountCap {
		return number(CountCap) + "+"
	}
	return number(n)
}

func number(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ExpiryNotice warns of tokens the viewer manages that expire soon.
type ExpiryNotice struct {
	Text string // "3 tokens expire within 7 days"; empty for none
	URL  string // the list of them
}

// BulkRevokeConfirm asks whether to revoke several tokens at once.
type BulkRevokeConfirm struct {
	Viewer Viewer
	// Tokens are the first of those to revoke, More how many others.
	Tokens []BulkToken
	More   int
	// IDs are every token to revoke, which Yes, Revoke posts.
	IDs []string
	// AlreadyRevoked counts selected tokens that are revoked already and
	// stay as they are.
	AlreadyRevoked int
	// Action is where Yes, Revoke posts; BackURL the lists as they were.
	Action, BackURL string
}

// Count is how many tokens Yes, Revoke revokes.
func (p BulkRevokeConfirm) Count() int { return len(p.IDs) }

// BulkToken is one token named in the confirmation.
type BulkToken struct {
	Name, Hint string
	// Whose says which token it is: "personal token of Max Member" or
	// "system token".
	Whose string
}

// anySelectable reports whether some row of a list has a checkbox, and so
// the list a column for them.
func anySelectable(rows []TokenRow) bool {
	for _, r := range rows {
		if r.SelectForm != "" {
			return true
		}
	}
	return false
}

// selectID is the id of a row's checkbox: a token can be in two lists
// (the owner's own in My Tokens and Organization User Tokens).
func selectID(r TokenRow) string {
	return "select-" + r.SelectForm + "-" + strconv.FormatInt(r.ID, 10)
}

// Empty is what a list says when it shows no token: that the filters
// chosen match none, or none.
func (s ListSummary) Empty(none string) string {
	if !s.Filtered {
		return none
	}
	return "No tokens match these filters."
}
