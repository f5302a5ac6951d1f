package views

// MembersPage is the owner's Members page: the organization's members (or
// those who left), a search, and the invitations waiting to be accepted.
type MembersPage struct {
	Viewer Viewer
	// Flash is a one-time message: what just happened.
	Flash string
	// Invitation is set only in the one response after an invitation is
	// made: its link, shown once.
	Invitation *InvitationLink
	List       MemberList
	// Invitations are the pending invitations, listed in the current view.
	Invitations []InvitationRow
}

// MemberList is the table of members and what chose it; htmx swaps it
// whole when the search changes.
type MemberList struct {
	// Q is the search as typed; Former lists those who left.
	Q      string
	Former bool
	// CurrentURL and FormerURL switch between the two views, keeping the
	// search.
	CurrentURL, FormerURL string
	Members               []MemberRow
	// MoreURL links to the next page of the list, if there is one.
	MoreURL string
}

// Empty is what the list says when nobody is in it.
func (l MemberList) Empty() string {
	switch {
	case l.Q != "" && l.Former:
		return "No former member matches “" + l.Q + "”."
	case l.Q != "":
		return "No member matches “" + l.Q + "”."
	case l.Former:
		return "Nobody has left the organization."
	}
	return "The organization has no members."
}

// MemberRow is one member in the list.
type MemberRow struct {
	ID    int64
	Name  string
	Email string
	// Roles are the member's roles as people read them.
	Roles []string
	// ActiveTokens is how many of their personal tokens work now.
	ActiveTokens int
	// LastSignIn is "Never" or a date; LastSignInISO is empty for never.
	LastSignIn, LastSignInISO string
	Joined, JoinedISO         string
	// Left is when a former member left; empty for a member.
	Left, LeftISO string
	// You marks the viewer's own row, which has no Change roles or Remove.
	You bool
	// RolesURL and RemoveURL are empty where the action is not offered.
	RolesURL, RemoveURL string
	EventsURL           string
}

// InvitationRow is a pending invitation.
type InvitationRow struct {
	ID                  int64
	Email, Name         string
	Roles               []string
	InvitedBy           string
	Invited, InvitedISO string
	Expires, ExpiresISO string
	WithdrawURL         string
}

// InvitationLink is a new invitation's link, shown once.
type InvitationLink struct {
	Name, Email string
	Link        string
	// Expires is when the link stops working.
	Expires, ExpiresISO string
	// Lifetime says how long that is, in words: "7 days".
	Lifetime string
}

// InviteForm is Invite member, empty or again with what was typed and what
// was wrong with it.
type InviteForm struct {
	Viewer Viewer
	Name   string
	Email  string
	Roles  []RoleOption
	// Lifetime says how long the link will work, in words: "7 days".
	Lifetime string
	// Errors by field: "name", "email", "roles", or "" for the form as a
	// whole.
	Errors map[string]string
}

// MemberRolesForm is Change roles of one member.
type MemberRolesForm struct {
	Viewer Viewer
	Member MemberRow
	Roles  []RoleOption
	// Errors by field: "roles", or "" for the form as a whole.
	Errors map[string]string
}

// OffboardingPage shows what leaves with a member and what stays, before
// the owner removes them.
type OffboardingPage struct {
	Viewer Viewer
	Member MemberRow
	// Leaving are their working personal tokens; Staying the working
	// system tokens they made.
	Leaving []OffboardingToken
	Staying []OffboardingToken
}

// OffboardingToken is a token on the offboarding page.
type OffboardingToken struct {
	ID       int64
	Name     string
	Hint     string
	Roles    []string
	LastUsed string
	Expires  string
	// PageURL is the token's own page, EventsURL its history in the Audit
	// Log, RevokeURL its Revoke Token confirmation.
	PageURL, EventsURL, RevokeURL string
}

// JoinPage is where an invitation link leads: the invitee confirms their
// name and chooses a password.
type JoinPage struct {
	CSRF      string
	OrgName   string
	Email     string
	Name      string
	Roles     []string
	InvitedBy string
	// Action is where the form posts: the link itself.
	Action string
	// MinPasswordLen is the shortest password allowed.
	MinPasswordLen int
	// Errors by field: "name", "password", "password_confirm", or "" for
	// the form as a whole.
	Errors map[string]string
}
