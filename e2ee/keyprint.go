package e2ee

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// KeyFingerprint returns a short, readable name for one device's Ed25519
// signing key: the first 16 bytes of its SHA-256 in hex, in groups of four
// ("3f2a 9c01 …"). An administrator compares it with the one a device
// shows, to tell which physical device a row of the inventory is. It names
// a key; the safety number (SafetyNumber) is what people compare to detect
// tampering with a whole device list.
func KeyFingerprint(sign []byte) string {
	sum := sha256.Sum256(sign)
	h := hex.EncodeToString(sum[:16])
	groups := make([]string, 0, 8)
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, " ")
}
