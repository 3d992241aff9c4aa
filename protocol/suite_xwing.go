package protocol

// Suite 2, the post-quantum hybrid (PROTOCOL.md "Suite 2: X-Wing"): a
// device that lists an X-Wing key (ListedDevice.PQ) opens it, and a sender
// uses it when every recipient device lists one.
const (
	// SuiteXWingAES256 is HPKE base mode with the X-Wing hybrid KEM
	// (ML-KEM-768 + X25519, HPKE KEM id 0x647a), HKDF-SHA256 and AES-256-GCM
	// for the per-device sealed content key; the body is AES-256-GCM as in
	// suite 1.
	SuiteXWingAES256 uint16 = 2

	// XWingKEMID is X-Wing's HPKE KEM identifier (MLKEM768-X25519).
	XWingKEMID uint16 = 0x647a
	// XWingSeedBytes is the size of an X-Wing private key: a 32-byte seed
	// that both ML-KEM-768's and X25519's keys are expanded from.
	XWingSeedBytes = 32
	// XWingPublicKeyBytes is the size of an X-Wing public key: ML-KEM-768's
	// encapsulation key (1,184 bytes) || X25519 public key (32).
	XWingPublicKeyBytes = 1184 + 32
	// XWingEncBytes is the size of X-Wing's HPKE enc: ML-KEM-768's
	// ciphertext (1,088 bytes) || X25519 ephemeral public key (32).
	XWingEncBytes = 1088 + 32
	// XWingSealedKeyBytes is the size of one suite-2 sealed content key:
	// enc || AES-256-GCM(32-byte content key) with its 16-byte tag.
	XWingSealedKeyBytes = XWingEncBytes + 32 + 16
)
