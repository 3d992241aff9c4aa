// Package client is Curbside's Go client: it logs in, registers a device
// whose keys are made and kept locally, keeps a pinned directory of peers'
// device keys, and sends and receives end-to-end-encrypted messages over the
// relay's WebSocket. The command-line client, the integration tests and the
// load generator are built on it.
//
// # Sessions and state
//
// Login creates a Client; Save writes its state (server, session token,
// device private keys, pinned peer keys and recently seen message ids) to a
// file with mode 0600, and Load reads it back. The state file holds the
// device's private keys: whoever can read it can read the device's messages.
//
// # Key directory
//
// Before sealing to a user, or opening a message from one, the client
// fetches the user's signed device list and the server's set of active
// devices. The list's signature must verify (e2ee.VerifyDeviceList) or the
// peer is refused with an *UntrustedKeysError. The first list seen for a
// user is pinned (trust on first use); a later list with other devices is
// accepted but reported as a KeyChange, and an older or conflicting version
// is refused, so the server can neither roll a user back nor swap a list
// unnoticed. Messages are sealed only to devices that are both in the
// verified list and active: the server can withhold a device, never add one.
//
// # Relay
//
// Connect opens the relay session. Send blocks until the server has made
// the message durable; Messages delivers decrypted, signature-checked,
// deduplicated messages, and Events delivers receipts, recalls and presence.
// Delivery is at least once: a queued item stays on the server until the
// device acknowledges its seq, so a caller acknowledges only after it has
// handled the item durably (or asks for AutoAck). Messages that fail to
// verify or decrypt are reported on Errors and acknowledged at once, so a
// bad envelope cannot be redelivered forever.
//
// For the load generator, Prepare seals an envelope ahead of time and
// SendPrepared / SendPreparedAsync send it with no further work, and the
// RawReceive option acknowledges queued items without decrypting them.
package client
