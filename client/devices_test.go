package client

import (
	"errors"
	"testing"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

func TestNextDeviceListFirstDevice(t *testing.T) {
	k, _ := e2ee.GenerateDeviceKeys()
	l, err := NextDeviceList(7, nil, nil, k)
	if err != nil {
		t.Fatal(err)
	}
	if l.User != 7 || l.Version != 1 || l.Signer != k.ID() || len(l.Devices) != 1 || l.Devices[0].ID != k.ID() {
		t.Fatalf("first list: %+v", l)
	}
	if err := e2ee.VerifyDeviceList(l); err != nil {
		t.Fatal(err)
	}
}

func TestNextDeviceListKeepsActiveDevices(t *testing.T) {
	a := newAccount(t, 7, "a", 3)
	revoked := a.devices[1].ID()
	k, _ := e2ee.GenerateDeviceKeys()
	l, err := NextDeviceList(7, a.list, []int64{a.devices[0].ID(), a.devices[2].ID()}, k)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != a.list.Version+1 || l.Signer != k.ID() {
		t.Fatalf("version %d signer %d; want %d and the new device", l.Version, l.Signer, a.list.Version+1)
	}
	if err := e2ee.VerifyDeviceList(l); err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{a.devices[0].ID(): true, a.devices[2].ID(): true, k.ID(): true}
	if len(l.Devices) != len(want) {
		t.Fatalf("%d devices; want %d", len(l.Devices), len(want))
	}
	for i, d := range l.Devices {
		if !want[d.ID] || d.ID == revoked {
			t.Fatalf("unexpected device %d", d.ID)
		}
		if i > 0 && l.Devices[i-1].ID >= d.ID {
			t.Fatal("devices not sorted by id")
		}
	}
	// An active id the list does not hold is not invented into it.
	stranger, _ := e2ee.GenerateDeviceKeys()
	l2, err := NextDeviceList(7, a.list, append(a.activeIDs(), stranger.ID()), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l2.Find(stranger.ID()); ok {
		t.Fatal("an active id without a listed key joined the list")
	}
}

func TestNextDeviceListRefuses(t *testing.T) {
	a := newAccount(t, 7, "a", 2)
	k, _ := e2ee.GenerateDeviceKeys()

	forged := *a.list
	intruder, _ := e2ee.GenerateDeviceKeys()
	forged.Devices = append([]protocol.ListedDevice{}, a.list.Devices...)
	forged.Devices = append(forged.Devices, intruder.Listed())
	sortListed(forged.Devices)
	if _, err := NextDeviceList(7, &forged, append(a.activeIDs(), intruder.ID()), k); !errors.Is(err, ErrUntrustedKeys) {
		t.Fatalf("a current list with a device nobody signed: %v; want ErrUntrustedKeys", err)
	}
	if _, err := NextDeviceList(8, a.list, a.activeIDs(), k); !errors.Is(err, ErrUntrustedKeys) {
		t.Fatalf("another user's list: %v; want ErrUntrustedKeys", err)
	}

	full := newAccount(t, 9, "full", protocol.MaxDevicesOfUser)
	if _, err := NextDeviceList(9, full.list, full.activeIDs(), k); err == nil {
		t.Fatal("a 33rd device was listed")
	}
}

func sortListed(ds []protocol.ListedDevice) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j-1].ID > ds[j].ID; j-- {
			ds[j-1], ds[j] = ds[j], ds[j-1]
		}
	}
}
