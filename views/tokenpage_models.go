package views

// TokenPage is a token's own page: what it is, how it is used, and what
// may be done with it.
type TokenPage struct {
	Viewer Viewer
	// Flash is a one-time message: what just happened.
	Flash string
	// Error says why the last action on the page was refused, when it is
	// about no one field (a rotation during a grace, a revoked token).
	Error string
	// NewKey is set only in the one response after a rotation.
	NewKey *NewKey
	Token  TokenDetails
	Usage  UsageChart
	// Addresses are the client addresses seen in the last 30 days.
	Addresses []AddressRow
	// Edit and Rotate are offered only while the token works.
	Edit   *TokenEditForm
	Rotate *RotateForm
}

// TokenDetails is a token as its page shows it.
type TokenDetails struct {
	ID          int64
	Name        string
	Description string
	// KindTitle is "Personal Access Token" or "System Access Token".
	KindTitle string
	Hint      string
	System    bool
	// Roles are a system token's, as people read them.
	Roles []string
	// Member is whose personal token this is.
	Member              string
	CreatedBy           string
	Created, CreatedISO string
	Expires, ExpiresISO string
	// ExpiresIn says how soon it expires ("in 3 days") when within a week.
	ExpiresIn string
	// State is "active", "expired" or "revoked"; StateTitle in words.
	State, StateTitle string
	// Revoked: by whom, when and why, for a revoked token.
	RevokedBy, RevokedAt, RevokedAtISO, RevokeReason string
	// Leaked is set when a leak report named its key: when and where.
	Leaked                bool
	LeakedAt, LeakedAtISO string
	LeakURL               string
	// LeakURLSafe is LeakURL when it is an http(s) address, to link to.
	LeakURLSafe string
	// LastUsed is "Never" or when; LastUsedIP from where.
	LastUsed, LastUsedISO, LastUsedIP string
	// AllowedIPs are the addresses and ranges it may be used from; empty
	// for any.
	AllowedIPs []string
	// Rotated is when its secret was last replaced; empty for never.
	Rotated, RotatedISO string
	// Grace is set while the secret before the last rotation still works.
	Grace *GracePeriod
	// OldSecretUsed warns that the secret before the last rotation was
	// presented after its grace: when and from where.
	OldSecretUsed, OldSecretUsedISO, OldSecretUsedIP string
	// EventsURL lists its audit events; the owner's only.
	EventsURL string
	// RevokeURL asks to revoke it; empty once it is revoked.
	RevokeURL string
}

// GracePeriod is the time the previous secret keeps working.
type GracePeriod struct {
	PrevHint        string
	Until, UntilISO string
	EndURL          string
}

// UsageChart is a token's uses per day over the last 30 days, drawn as
// bars and given as a table.
type UsageChart struct {
	Days []UsageDay
	// Total is the uses over the days; Summary says the chart in words.
	Total   int64
	Summary string
	// Width and Height are the chart's viewBox; Max the tallest bar's uses.
	Width, Height int
	Max           int64
}

// UsageDay is one bar of the chart and one row of its table.
type UsageDay struct {
	Label, ISO string // "Nov 26", "2026-11-26"
	Uses       int64
	// X, Y, W, H place its bar in the chart's viewBox.
	X, Y, W, H int
}

// AddressRow is a client address the token was used from.
type AddressRow struct {
	Addr                    string
	FirstSeen, FirstSeenISO string
	LastSeen, LastSeenISO   string
	Uses                    int64
}

// TokenEditForm changes a token's name, description, roles and
// allow-list; again with what was typed and what was wrong with it.
type TokenEditForm struct {
	Action      string
	Name        string
	Description string
	// DescriptionMax is the longest description, in characters.
	DescriptionMax int
	// EditRoles offers a system token's roles: the owner's only.
	EditRoles bool
	Roles     []RoleOption
	// AllowedIPs is the allow-list as typed, or as saved (normalized), one
	// entry a line.
	AllowedIPs string
	// ShutOut, when set, says the list would shut out the address saving
	// it: nothing was saved, and Save anyway is offered.
	ShutOut string
	// Errors by field: "name", "description", "roles", "allowed_ips", or ""
	// for the form as a whole.
	Errors map[string]string
}

// RotateForm asks when the old secret should stop working.
type RotateForm struct {
	Action string
	Graces []Option
	Error  string
	// Blocked says why no rotation is offered now (a grace is running).
	Blocked string
}
