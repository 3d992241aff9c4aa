package model

import "strings"

// Roles a user can have.
const (
	RoleAdmin    = "admin"
	RoleStaff    = "staff"
	RoleExternal = "external"
	RolePatient  = "patient"
)

// User states. Locked users cannot sign in until an admin unlocks them;
// disabled users are offboarded.
const (
	StateActive   = "active"
	StateLocked   = "locked"
	StateDisabled = "disabled"
)

// Admin levels: what a user may do in the admin console. Each level can do
// all that the ones below it can. Helpdesk resets passwords, clears
// lockouts and locks devices; admin manages the directory, policy, devices
// and the audit log; owner also manages admins and other owners.
const (
	LevelNone     = ""
	LevelHelpdesk = "helpdesk"
	LevelAdmin    = "admin"
	LevelOwner    = "owner"
)

// LevelRank orders admin levels: 0 none, 1 helpdesk, 2 admin, 3 owner, -1
// unknown.
func LevelRank(level string) int {
	switch level {
	case LevelNone:
		return 0
	case LevelHelpdesk:
		return 1
	case LevelAdmin:
		return 2
	case LevelOwner:
		return 3
	}
	return -1
}

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	switch r {
	case RoleAdmin, RoleStaff, RoleExternal, RolePatient:
		return true
	}
	return false
}

// ValidState reports whether st is a known user state.
func ValidState(st string) bool {
	switch st {
	case StateActive, StateLocked, StateDisabled:
		return true
	}
	return false
}

// User is a directory entry.
type User struct {
	ID           int64  `json:"id"`
	Username     string `json:"username"`
	Display      string `json:"display"`
	Role         string `json:"role"`
	State        string `json:"state"`
	AdminLevel   string `json:"admin_level,omitempty"`
	Email        string `json:"email,omitempty"`
	OffboardedAt int64  `json:"offboarded_at,omitempty"`
	PasswordHash string `json:"-"`
	FailedLogins int    `json:"-"`
	LockedUntil  int64  `json:"-"`
	CreatedAt    int64  `json:"created_at"`
	// SignedInAt is when the user first signed in; 0 for someone invited
	// (or added) who never has.
	SignedInAt int64 `json:"signed_in_at"`
}

// The username rule: what ValidUsername accepts, and its words, which the
// welcome page shows as its hint (through webui's generated constants), so
// the hint and the server never disagree.
const (
	UsernameMaxLen  = 64
	UsernameSymbols = "._-@"
	UsernameRule    = "1-64 characters: letters, digits, dots (.), underscores (_), dashes (-) or @"
)

// ValidUsername reports whether s can be a username: 1-64 letters, digits,
// '.', '_', '-' or '@'.
func ValidUsername(s string) bool {
	if len(s) == 0 || len(s) > UsernameMaxLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(UsernameSymbols, c)) {
			return false
		}
	}
	return true
}
