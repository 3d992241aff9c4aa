// Package protocol defines Curbside's wire format: the JSON frames exchanged
// over the relay's WebSocket, the end-to-end-encrypted message envelope, the
// signed device list, and the canonical byte encodings that signatures and
// AEAD associated data are computed over.
//
// The package holds no keys and does no cryptography of its own beyond
// hashing; sealing and opening live in package e2ee. The relay parses only
// what routing needs (ids, conversation, recipients, flags) and forwards the
// rest as opaque bytes. docs/PROTOCOL.md is the prose specification; this
// package is its reference implementation and the two must agree.
package protocol
