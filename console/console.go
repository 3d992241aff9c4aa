// Package console is the API of the admin console, under /api/v1/admin/:
// users, groups, invitations, CSV import, policy, devices with remote lock
// and wipe, second-factor resets, the audit log, activity reports, the
// email settings and the backup's state.
//
// Every route says the least admin level that may call it (web.Helpdesk,
// Admin or Owner); the guard in package auth checks that level, the
// policy's admin networks and the second factor before a handler runs.
package console

import (
	"log/slog"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/devicecmd"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Console serves the admin console's API.
type Console struct {
	Auth     *auth.Auth
	Store    *store.Store
	Log      *slog.Logger
	Commands *devicecmd.Signer // signs remote wipes
	// Mail sends the console's email (invitation links, the test email)
	// and holds the email settings and alerts; nil: email is unavailable.
	Mail *mail.Service
	// DevicesChanged is called after a user's device set changes, so the
	// relay can drop what it cached.
	DevicesChanged func(user int64)
	// EndDevice, if set, disconnects one device's relay session at once
	// with a close code (protocol.CloseSessionEnded, CloseRevoked).
	EndDevice func(device int64, code int, reason string)
	// Connected, if set, reports whether a device holds a relay session
	// now, so the inventory can say "connected now" rather than a
	// last-seen time that is only written when a connection ends.
	Connected func(device int64) bool
	// RulesChanged, if set, is called after a change to who may reach whom
	// (assignments, group members, roles), so the relay can drop what it
	// cached.
	RulesChanged func()
	// Backup is the server's replication and drills; nil: no replica.
	Backup BackupSource
	// Version is the server's version, for the inventory report.
	Version string
	// PublicURL is the origin people reach the server at, for the links
	// in invitations; empty: the origin each request came to.
	PublicURL string
	// MailOrigin is the origin of the links the console mails: PublicURL,
	// or the address of a loopback listener; empty: links are not mailed.
	// Never the Host of the request, which the caller chooses: the mail
	// goes out from the practice's own address.
	MailOrigin string
}

// Routes lists the console's routes and the level each needs, one line
// per feature file.
func (a *Console) Routes() []web.Route {
	var rs []web.Route
	rs = append(rs, a.userRoutes()...)
	rs = append(rs, a.groupRoutes()...)
	rs = append(rs, a.invitationRoutes()...)
	rs = append(rs, a.policyRoutes()...)
	rs = append(rs, a.importRoutes()...)
	rs = append(rs, a.auditRoutes()...)
	rs = append(rs, a.reportRoutes()...)
	rs = append(rs, a.deviceRoutes()...)
	rs = append(rs, a.recoveryRoutes()...)
	rs = append(rs, a.mfaRoutes()...)
	rs = append(rs, a.assignmentRoutes()...)
	rs = append(rs, a.emailRoutes()...)
	rs = append(rs, a.backupRoutes()...)
	return rs
}

var (
	errNoUser   = protocol.Errorf(protocol.CodeNotFound, "no such user")
	errLowLevel = protocol.Errorf(protocol.CodeForbidden, "your administrator level does not allow this")
)
