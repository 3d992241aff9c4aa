package e2ee

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/curbside-health/curbside/protocol"
)

// labelSafety separates safety-number hashes from every other hash.
const labelSafety = "curbside/safety/v2"

// Fingerprint returns 30 decimal digits that identify a user's set of
// devices: SHA-256 over
//
//	"curbside/safety/v2" || u64 user || u32 n ||
//	for each device in ascending id order: str(sign key) || str(enc key)
//
// read as six 5-byte big-endian numbers, each taken mod 100000 and printed
// as 5 digits. Both keys of every device count: a server that put its own
// encryption key in place of a device's (so that it, not the device, could
// open what is sealed to it) changes the number as surely as one that
// added a device. (Version 1 covered the signing keys only.) The list's
// version does not count: re-signing the same devices is not a change.
func Fingerprint(list *protocol.DeviceList) string {
	devs := slices.Clone(list.Devices)
	slices.SortFunc(devs, func(a, b protocol.ListedDevice) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	h := sha256.New()
	var b []byte
	b = append(b, labelSafety...)
	b = binary.BigEndian.AppendUint64(b, uint64(list.User))
	b = binary.BigEndian.AppendUint32(b, uint32(len(devs)))
	for _, d := range devs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(d.Sign)))
		b = append(b, d.Sign...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(d.Enc)))
		b = append(b, d.Enc...)
	}
	h.Write(b)
	sum := h.Sum(nil)
	var s strings.Builder
	for i := 0; i < 6; i++ {
		var n uint64
		for _, c := range sum[i*5 : i*5+5] {
			n = n<<8 | uint64(c)
		}
		fmt.Fprintf(&s, "%05d", n%100000)
	}
	return s.String()
}

// SafetyNumber returns the 60-digit number two users compare (read aloud or
// side by side) to check that neither's device list was tampered with: the
// two users' Fingerprints, the lower user id first so both sides see the
// same number, in twelve groups of five digits.
func SafetyNumber(a, b *protocol.DeviceList) string {
	if a.User > b.User {
		a, b = b, a
	}
	digits := Fingerprint(a) + Fingerprint(b)
	groups := make([]string, 0, 12)
	for i := 0; i < len(digits); i += 5 {
		groups = append(groups, digits[i:i+5])
	}
	return strings.Join(groups, " ")
}
