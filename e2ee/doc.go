// Package e2ee is Curbside's end-to-end encryption: per-device keys, sealing
// and opening message envelopes, signing and verifying device lists, the
// message plaintext format and safety numbers.
//
// It implements suite protocol.SuiteX25519AES256 with the Go standard
// library alone, so that it interoperates byte for byte with the browser
// client built on WebCrypto:
//
//   - Every message gets a fresh 256-bit content key K. The body is
//     AES-256-GCM(K, 12-byte random nonce, plaintext), with the envelope's
//     canonical header (protocol.Envelope.HeaderBytes) as associated data,
//     so any change to the routing metadata makes the body fail to open.
//   - K is sealed to every recipient device with single-shot HPKE (RFC 9180)
//     base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, with
//     info = protocol.KeyInfo(message id, device id), which binds each sealed
//     key to one message and one device. The output enc || ct is
//     protocol.SealedKeyBytes (80) bytes.
//   - The sending device signs protocol.Envelope.SignedBytes with Ed25519.
//     Recipients verify the signature before anything else: the relay does
//     not verify signatures on its hot path, so this is the only check that
//     the envelope came from the device it names.
//
// The package holds no state and does no I/O; key directories, pinning and
// the relay live in package client.
package e2ee
