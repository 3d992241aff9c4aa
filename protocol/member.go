package protocol

// TMember is the server frame type of a group membership change: a member
// was added to a group's conversation or removed from it. It is queued
// like a receipt (it has a seq and is acknowledged) for every device of
// every member of the group before and after the change, so an offline
// device gets it when it connects. Added within version 1; a client that
// does not know it ignores it, and a later connection delivers it again.
const TMember = "member"

// Member event kinds.
const (
	MemberAdded   = "added"
	MemberRemoved = "removed"
)

// Who made a membership change (MemberEvent.Via).
const (
	// ViaConsole: an administrator in the admin console; By and ByName
	// name them.
	ViaConsole = "console"
	// ViaSync: the directory import (a CSV of accounts and their groups)
	// or an invitation that adds its new account to groups.
	ViaSync = "sync"
	// ViaCLI: the operator command line on the server.
	ViaCLI = "cli"
	// ViaServer: a change the server made with no administrator behind
	// it that it can name.
	ViaServer = "server"
)

// MemberEvent is the queued frame of type TMember. User joined (Kind
// MemberAdded) or left (MemberRemoved) the members of Group, and so the
// recipients of Conv ("g:<Group>"), at TS (server time, ms). A change of a
// subgroup's members, or a subgroup moved under another group, is an event
// in each group above it whose members it changes.
//
// Nothing in it is signed: it is the server's word. Clients compare it
// with the member lists they are given and the recipients of the messages
// they receive (docs/PROTOCOL.md, "Group membership events").
type MemberEvent struct {
	Type   string `json:"type"` // TMember
	Seq    int64  `json:"seq"`
	Conv   string `json:"conv"`
	Group  int64  `json:"group"`
	Kind   string `json:"kind"`           // MemberAdded or MemberRemoved
	User   int64  `json:"user"`           // the member added or removed
	Name   string `json:"name,omitempty"` // the member's display name then
	By     int64  `json:"by,omitempty"`   // the administrator who made the change, if one
	ByName string `json:"by_name,omitempty"`
	Via    string `json:"via"` // ViaConsole, ViaSync, ViaCLI or ViaServer
	TS     int64  `json:"ts"`
}
