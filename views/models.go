// Package views renders tokend's pages and fragments with templ. Components
// take the plain view models below, shaped for display; nothing here reads
// the database.
package views

// Viewer is the signed-in member as every page shows them.
type Viewer struct {
	Name    string
	Email   string
	OrgName string
	// RoleTitles are the member's roles as people read them.
	RoleTitles []string
	IsOwner    bool
	// CSRF is the token each state-changing form carries.
	CSRF string
}

// Initial is the letter in the profile button.
func (v Viewer) Initial() string {
	for _, r := range v.Name {
		return string(r)
	}
	return "?"
}

// TokenRow is one token in a list.
type TokenRow struct {
	ID      int64
	Name    string
	Hint    string // e.g. tkp_…a1B9
	Created string // e.g. Nov 26, 2026
	// CreatedISO is the machine-readable form for <time datetime>.
	CreatedISO string
	// Member is whose personal token this is, in Organization User Tokens.
	Member string
	// CreatedFull is the exact time, for a tooltip.
	CreatedFull string
	// CreatedBy is who made a system token: a member, and the token they
	// used on the API ("Ana (via token “ci”)"), or a system token.
	CreatedBy string
	// CreatorLeft is the date the member who made it left the organization;
	// empty while they are in it.
	CreatorLeft    string
	CreatorLeftISO string
	// Roles are a system token's roles, as people read them.
	Roles []string
	// Expires is "Never" or a date; Expired marks a token past it.
	Expires    string
	ExpiresISO string
	Expired    bool
	// LastUsed is "Never" or when and from where the token was last used.
	LastUsed string
	// Revoked says when and why the token was revoked; empty while it works.
	Revoked   string
	RevokeURL string
	// EventsURL lists the token's audit events; the owner's only.
	EventsURL string
	// PageURL is the token's own page.
	PageURL string
	// Leaked marks a token whose key a leak report named.
	Leaked bool
	// ExpiresSoon is "Expires in 2 days", "Expires tomorrow" or "Expires
	// today" for a working token that expires within 7 days.
	ExpiresSoon string
	// SelectForm is the id of the Revoke selected form the row's checkbox
	// belongs to; empty for a row the viewer may not revoke.
	SelectForm string
}

// TokensPage is the Token Management page.
type TokensPage struct {
	Viewer Viewer
	Lists  TokenLists
	// NewKey is set only in the one response after a token is created.
	NewKey *NewKey
}

// TokenLists are the lists on the Token Management page, the part htmx
// swaps after a revoke.
type TokenLists struct {
	// Flash is a one-time message: what just happened.
	Flash string
	// MyRoles are the roles the viewer's personal tokens act with.
	MyRoles string
	// Filter is the search and filters, as the URL fills them in;
	// Problem, when set, says why no list is shown (a filter that does
	// not read).
	Filter  TokenFilterForm
	Problem string
	// Expiring warns of tokens the viewer manages that expire soon.
	Expiring ExpiryNotice
	IsOwner  bool
	OrgName  string
	// My, User and System say how many tokens each list has and matches.
	My, User, System ListSummary
	MyTokens         []TokenRow
	// UserTokens and SystemTokens are the owner's only.
	UserTokens   []TokenRow
	SystemTokens []TokenRow
	// MyMore, UserMore and SystemMore link to each list's older tokens, if
	// there are more than one page shows.
	MyMore, UserMore, SystemMore string
	// Settings is the organization's token policy, the owner's only.
	Settings TokenSettings
}

// TokenSettings is the owner's form for the organization's token policy.
type TokenSettings struct {
	MaxLifetime []Option
}

// Option is one choice of a <select>.
type Option struct {
	Value    string
	Label    string
	Selected bool
}

// NewKey is a token's secret, shown once.
type NewKey struct {
	KindTitle string // "personal" or "system"
	Name      string
	Key       string
	// ReplaceURL is the page's address once shown, so that a reload asks
	// for the page, not the form again; "" for Token Management.
	ReplaceURL string
}

// ReplaceURLOrTokens is ReplaceURL, or Token Management.
func (k NewKey) ReplaceURLOrTokens() string {
	if k.ReplaceURL == "" {
		return "/tokens"
	}
	return k.ReplaceURL
}

// RoleOption is a checkbox in the Roles group.
type RoleOption struct {
	Key         string
	Title       string
	Description string
	Checked     bool
}

// TokenForm is Add New Personal Token or Add New System Token, empty or
// again with what was typed and what was wrong with it.
type TokenForm struct {
	Viewer Viewer
	System bool
	Name   string
	Roles  []RoleOption
	// Expiration is the choice of lifetime; ExpiresOn the custom date typed.
	Expiration []Option
	ExpiresOn  string
	// Today and MaxDate bound the custom date (YYYY-MM-DD); MaxDate is empty
	// without an organization maximum.
	Today, MaxDate string
	// Policy tells the organization's maximum lifetime, if it has one.
	Policy string
	// Description and AllowedIPs are as typed; optional.
	Description    string
	DescriptionMax int
	AllowedIPs     string
	// Errors by field: "name", "roles", "expires", or "" for the form as a
	// whole.
	Errors map[string]string
}

// Title is the form's heading, in the seed's words.
func (f TokenForm) Title() string {
	if f.System {
		return "Add New System Token"
	}
	return "Add New Personal Token"
}

// Action is where the form posts.
func (f TokenForm) Action() string {
	if f.System {
		return "/tokens/system"
	}
	return "/tokens/personal"
}

// Submit is the button's text, in the seed's words.
func (f TokenForm) Submit() string {
	if f.System {
		return "Create System Token"
	}
	return "Create Personal Token"
}

// RevokeConfirm asks whether to revoke one token.
type RevokeConfirm struct {
	Viewer    Viewer
	Token     TokenRow
	KindTitle string // "personal" or "system"
	// AlreadyRevoked says there is nothing left to confirm.
	AlreadyRevoked bool
	// BackURL is the Token Management page as it was left.
	BackURL string
}

// LoginPage is the sign-in form.
type LoginPage struct {
	CSRF  string
	Email string
	Next  string
	Error string
}

// ErrorPage tells a person what went wrong, in words.
type ErrorPage struct {
	Viewer  *Viewer // nil when not signed in
	Status  int
	Title   string
	Message string
	// RequestID names the request, for the person to quote.
	RequestID string
}
