package e2ee

import (
	"errors"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

func signedList(t *testing.T, user int64, signer *DeviceKeys, others ...*DeviceKeys) *protocol.DeviceList {
	t.Helper()
	l := &protocol.DeviceList{User: user, Version: 3}
	// Listed out of order on purpose: SignDeviceList sorts.
	for i := len(others) - 1; i >= 0; i-- {
		l.Devices = append(l.Devices, others[i].Listed())
	}
	l.Devices = append(l.Devices, signer.Listed())
	if err := SignDeviceList(l, signer); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDeviceListSignVerify(t *testing.T) {
	a, b, c := newParty(t, 1).keys, newParty(t, 1).keys, newParty(t, 1).keys
	l := signedList(t, 1, a, b, c)
	if l.Signer != a.ID() {
		t.Fatalf("signer %d; want %d", l.Signer, a.ID())
	}
	for i := 1; i < len(l.Devices); i++ {
		if l.Devices[i-1].ID >= l.Devices[i].ID {
			t.Fatal("devices not sorted")
		}
	}
	if err := VerifyDeviceList(l); err != nil {
		t.Fatalf("fresh list: %v", err)
	}

	intruder := newParty(t, 1).keys
	for _, tc := range []struct {
		name   string
		mutate func(l *protocol.DeviceList)
	}{
		{"version", func(l *protocol.DeviceList) { l.Version++ }},
		{"user", func(l *protocol.DeviceList) { l.User = 2 }},
		{"device added by the server", func(l *protocol.DeviceList) {
			l.Devices = append(l.Devices, intruder.Listed())
			sortDevices(l)
		}},
		{"device removed", func(l *protocol.DeviceList) {
			for i, d := range l.Devices {
				if d.ID != l.Signer {
					l.Devices = append(l.Devices[:i], l.Devices[i+1:]...)
					break
				}
			}
		}},
		{"encryption key swapped", func(l *protocol.DeviceList) {
			for i := range l.Devices {
				if l.Devices[i].ID != l.Signer {
					l.Devices[i].Enc = intruder.EncPublic()
					break
				}
			}
		}},
		{"signer changed", func(l *protocol.DeviceList) {
			for _, d := range l.Devices {
				if d.ID != l.Signer {
					l.Signer = d.ID
					break
				}
			}
		}},
		{"sig flipped", func(l *protocol.DeviceList) { l.Sig[0] ^= 1 }},
		{"sig missing", func(l *protocol.DeviceList) { l.Sig = nil }},
		{"unsorted", func(l *protocol.DeviceList) { l.Devices[0], l.Devices[1] = l.Devices[1], l.Devices[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cloneList(l)
			tc.mutate(m)
			if err := VerifyDeviceList(m); err == nil {
				t.Fatal("modified list verifies")
			}
		})
	}
	if err := VerifyDeviceList(nil); err == nil {
		t.Fatal("nil list verifies")
	}
}

func TestDeviceListSignatureErrorIsTyped(t *testing.T) {
	a, b := newParty(t, 1).keys, newParty(t, 1).keys
	l := signedList(t, 1, a, b)
	l.Version++
	if err := VerifyDeviceList(l); !errors.Is(err, ErrDeviceListSignature) {
		t.Fatalf("got %v; want ErrDeviceListSignature", err)
	}
}

func TestSignDeviceListRejectsUnlistedSigner(t *testing.T) {
	a, b := newParty(t, 1).keys, newParty(t, 1).keys
	l := &protocol.DeviceList{User: 1, Version: 1, Devices: []protocol.ListedDevice{a.Listed()}}
	if err := SignDeviceList(l, b); err == nil {
		t.Fatal("signed a list by a device not in it")
	}
}

func cloneList(l *protocol.DeviceList) *protocol.DeviceList {
	m := *l
	m.Sig = append([]byte(nil), l.Sig...)
	m.Devices = nil
	for _, d := range l.Devices {
		m.Devices = append(m.Devices, protocol.ListedDevice{ID: d.ID, Enc: append([]byte(nil), d.Enc...), Sign: append([]byte(nil), d.Sign...)})
	}
	return &m
}

func sortDevices(l *protocol.DeviceList) {
	for i := 1; i < len(l.Devices); i++ {
		for j := i; j > 0 && l.Devices[j-1].ID > l.Devices[j].ID; j-- {
			l.Devices[j-1], l.Devices[j] = l.Devices[j], l.Devices[j-1]
		}
	}
}
