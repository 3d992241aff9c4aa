// Package admin is Curbside's directory and authentication: users, groups,
// devices and their signed key lists, password sign-in with argon2id,
// sessions, lockout, and the HTTP API that clients use to sign in, register
// a device and look up the keys they encrypt to.
package admin
