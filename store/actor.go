package store

import (
	"slices"
	"time"
)

// Actor is who asks the store for something: a member signed in on the page,
// or a verified token on the API. Every permission is decided from it here,
// whatever the caller checked before.
type Actor interface {
	acting() acting
}

// acting is what the store needs to know of an Actor.
type acting struct {
	orgID int64
	// memberID is the member acting, or whose personal token acts; 0 for a
	// system token.
	memberID int64
	// tokenID is the token acting on the API; 0 on the page.
	tokenID int64
	// manager may see and revoke every token of the organization and make
	// system tokens: the owner on the page, a token acting as admin on the
	// API.
	manager bool
	// owner is whether the member was the owner when the actor was made,
	// checked again when a change is written.
	owner bool
	// expires is when the acting token stops working; zero for never or
	// on the page. A token cannot make one that outlives it.
	expires time.Time
}

func (m Member) acting() acting {
	return acting{orgID: m.OrgID, memberID: m.ID, manager: m.IsOwner(), owner: m.IsOwner()}
}

func (p Principal) acting() acting {
	a := acting{orgID: p.OrgID, memberID: p.MemberID, tokenID: p.TokenID, manager: p.Has(RoleAdmin), expires: p.ExpiresAt}
	if p.Kind == KindPersonal {
		a.owner = slices.Contains(p.memberRoles, RoleOwner)
	}
	return a
}

// covers reports whether someone holding roles may hand out r: admin covers
// every assignable role, as it has full access.
func covers(roles []Role, r Role) bool {
	return slices.Contains(roles, r) || slices.Contains(roles, RoleAdmin)
}

// effectiveRoles are the roles a member's personal token acts with: the
// member's own, with owner acting as admin on the API.
func effectiveRoles(memberRoles []Role) []Role {
	if !slices.Contains(memberRoles, RoleOwner) {
		return memberRoles
	}
	roles := make([]Role, 0, len(memberRoles))
	for _, r := range memberRoles {
		if r == RoleOwner {
			r = RoleAdmin
		}
		roles = append(roles, r)
	}
	return sortRoles(roles)
}
