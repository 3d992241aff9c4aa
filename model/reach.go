package model

import "slices"

// The participation rules decide who may reach whom: address them in a
// direct message or a broadcast, find them in the directory, fetch their
// keys, and see their presence. They are symmetric: if a reaches b, b
// reaches a.
//
//   - Staff (roles staff and admin) reach each other and every external
//     provider.
//   - Anybody reaches the people linked to them by an assignment, in either
//     direction: the users an administrator assigned to them, the members
//     of the groups assigned to them (subgroup members included), and the
//     people who have them assigned that way. A patient's assignments are
//     their care team.
//   - Nobody else: a patient reaches only their care team, an external
//     provider the staff and their own assignments.
//
// Group conversations are apart from these rules: a group's members
// address one another in the group conversation because they are members.

// Reach is what the rules need to know about one user.
type Reach struct {
	User int64
	// Role is the user's role; empty when there is no such user, which
	// then reaches nobody and is reached by nobody.
	Role string
	// Links are the users linked to this one by an assignment, in either
	// direction.
	Links map[int64]bool
}

// RolesReached lists the roles a user of the given role reaches without
// an assignment.
func RolesReached(role string) []string {
	switch role {
	case RoleAdmin, RoleStaff:
		return []string{RoleAdmin, RoleStaff, RoleExternal}
	case RoleExternal:
		return []string{RoleAdmin, RoleStaff}
	}
	return []string{}
}

// RoleReaches reports whether a user of role from reaches a user of role
// to without an assignment.
func RoleReaches(from, to string) bool { return slices.Contains(RolesReached(from), to) }

// Reaches reports whether r's user may reach other's.
func (r *Reach) Reaches(other *Reach) bool {
	if r == nil || other == nil || r.Role == "" || other.Role == "" {
		return false
	}
	return r.User == other.User || r.Links[other.User] || other.Links[r.User] || RoleReaches(r.Role, other.Role)
}

// Entry is a directory entry as the apps see it: the minimum a person
// needs to address someone. Emails, admin levels, states and dates are for
// the console only.
type Entry struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Display  string `json:"display"`
	Role     string `json:"role"`
}

// EntryOf returns u's directory entry.
func EntryOf(u *User) *Entry {
	return &Entry{ID: u.ID, Username: u.Username, Display: u.Display, Role: u.Role}
}
