// Package model holds the types that Curbside's layers share: users with
// their roles, states and admin levels; the security policy; the relay's
// queue items and new messages; blobs; and the errors a store returns.
//
// It depends on nothing but the wire format (package protocol), so the
// relay and the HTTP packages can speak of users, policy and queue items
// without importing a storage package, and a second storage backend
// (PostgreSQL for a larger practice) is an addition rather than a rewrite.
package model
