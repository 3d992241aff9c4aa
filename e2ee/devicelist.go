package e2ee

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/curbside-health/curbside/protocol"
)

// ErrDeviceListSignature means a device list's signature does not verify
// with its signer's key: someone other than a listed device changed it.
var ErrDeviceListSignature = errors.New("e2ee: device list signature does not verify")

// SignDeviceList signs list as device signer: it sorts the devices by id,
// sets Signer and Sig, and checks the result with Validate, so the list it
// leaves behind is exactly what a peer's VerifyDeviceList accepts. signer
// must be one of the listed devices.
func SignDeviceList(list *protocol.DeviceList, signer *DeviceKeys) error {
	slices.SortFunc(list.Devices, func(a, b protocol.ListedDevice) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	list.Signer = signer.ID()
	list.Sig = ed25519.Sign(signer.sign, list.SignedBytes())
	if err := list.Validate(); err != nil {
		return fmt.Errorf("e2ee: sign device list: %w", err)
	}
	return nil
}

// VerifyDeviceList checks a device list's shape (protocol's Validate) and
// its signature by the signer named in it, with the signer's key as listed.
//
// A valid signature proves that a listed device produced exactly this list;
// it does not prove the device is one the peer has seen before. That is what
// pinning and key-change warnings in package client are for.
func VerifyDeviceList(list *protocol.DeviceList) error {
	if list == nil {
		return errors.New("e2ee: device list is missing")
	}
	if err := list.Validate(); err != nil {
		return err
	}
	signer, _ := list.Find(list.Signer) // Validate checked it is listed
	if !ed25519.Verify(ed25519.PublicKey(signer.Sign), list.SignedBytes(), list.Sig) {
		return fmt.Errorf("%w (user %d, version %d, signer %d)", ErrDeviceListSignature, list.User, list.Version, list.Signer)
	}
	return nil
}
