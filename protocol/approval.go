package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Device approval (PROTOCOL.md 3.1) is a short-authentication-string
// exchange: the new device commits to a random nonce, an existing device
// answers with a nonce of its own, the new device reveals its nonce, and
// both compute the same six digits from the new device's keys and the two
// nonces. The commitment is made before the approver's nonce is known, so
// a server that swaps the new device's keys for its own has one chance in
// a million per attempt to match the code, whatever it computes.

const (
	labelApprovalCommit = "curbside/approval-commit/v1"
	labelApprovalCode   = "curbside/approval-code/v1"
)

// ApprovalNonceSize is the size of each side's approval nonce in bytes.
const ApprovalNonceSize = 32

// ApprovalCommit returns the new device's commitment to its nonce:
//
//	SHA-256("curbside/approval-commit/v1" || str(nonce))
func ApprovalCommit(nonce []byte) []byte {
	c := canon(labelApprovalCommit).bytes(nonce)
	sum := sha256.Sum256(c)
	return sum[:]
}

// ApprovalCode returns the six digits both devices show:
//
//	h = SHA-256("curbside/approval-code/v1" || u64 user || u64 device ||
//	            str(enc) || str(sign) || str(new nonce) || str(approver nonce))
//
// the first four bytes of h as a big-endian integer, mod 1 000 000,
// printed with leading zeros.
func ApprovalCode(user int64, dev ListedDevice, newNonce, approverNonce []byte) string {
	c := canon(labelApprovalCode).u64(user).u64(dev.ID).bytes(dev.Enc).bytes(dev.Sign).bytes(newNonce).bytes(approverNonce)
	sum := sha256.Sum256(c)
	return fmt.Sprintf("%06d", binary.BigEndian.Uint32(sum[:4])%1000000)
}
