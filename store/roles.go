package store

import (
	"slices"
	"strings"
)

// Role is a key from PRODUCT.md's role catalogue.
type Role string

const (
	RoleOwner   Role = "owner"
	RoleAdmin   Role = "admin"
	RoleVideo   Role = "video"
	RoleViewer  Role = "viewer"
	RoleBilling Role = "billing"
	RoleSupport Role = "support"
)

// Roles lists every role in catalogue order, owner first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleVideo, RoleViewer, RoleBilling, RoleSupport}

// AssignableRoles are the roles a system token may carry: all but owner.
var AssignableRoles = Roles[1:]

var roleTitles = map[Role]string{
	RoleOwner:   "Organization Owner",
	RoleAdmin:   "Administrator",
	RoleVideo:   "Video User",
	RoleViewer:  "Viewer",
	RoleBilling: "Billing Manager",
	RoleSupport: "Support User",
}

var roleDescriptions = map[Role]string{
	RoleOwner:   "Full access; manages members and system tokens.",
	RoleAdmin:   "Full API access, including managing the organization's tokens.",
	RoleVideo:   "Manage live streams, videos and players.",
	RoleViewer:  "Read-only access to streams, videos, players and analytics.",
	RoleBilling: "Read billing and usage.",
	RoleSupport: "Create and manage support tickets.",
}

// Title is the role's name as people read it.
func (r Role) Title() string { return roleTitles[r] }

// Description says in a line what the role may do.
func (r Role) Description() string { return roleDescriptions[r] }

// RoleTitles are the titles of roles, in order.
func RoleTitles(roles []Role) []string {
	t := make([]string, len(roles))
	for i, r := range roles {
		t[i] = r.Title()
	}
	return t
}

// Valid reports whether r is in the catalogue.
func (r Role) Valid() bool { _, ok := roleTitles[r]; return ok }

// Assignable reports whether a system token may carry r.
func (r Role) Assignable() bool { return r.Valid() && r != RoleOwner }

// ParseRoles turns keys such as "admin, video" or repeated values into a
// sorted, de-duplicated role list, refusing any key not in the catalogue.
func ParseRoles(values ...string) ([]Role, error) {
	var roles []Role
	for _, v := range values {
		for _, k := range strings.Split(v, ",") {
			k = strings.ToLower(strings.TrimSpace(k))
			if k == "" {
				continue
			}
			r := Role(k)
			if !r.Valid() {
				return nil, fieldError("roles", "%q is not a role; roles are %s", k, joinRoles(Roles, ", "))
			}
			roles = append(roles, r)
		}
	}
	return sortRoles(roles), nil
}

// sortRoles orders roles as the catalogue does and drops duplicates.
func sortRoles(roles []Role) []Role {
	slices.SortFunc(roles, func(a, b Role) int {
		return slices.Index(Roles, a) - slices.Index(Roles, b)
	})
	return slices.Compact(roles)
}

func joinRoles(roles []Role, sep string) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, sep)
}

// splitRoles reads the space-separated form roles are stored in.
func splitRoles(s string) []Role {
	var roles []Role
	for _, f := range strings.Fields(s) {
		roles = append(roles, Role(f))
	}
	return roles
}
