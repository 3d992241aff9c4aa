package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// DefaultDeviceName is the device name Login uses when given none.
func DefaultDeviceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return "curbside cli on " + host
}

// NextDeviceList builds the device list that registers device dev for user
// user: the current list's devices that the server still reports active,
// plus dev, at the next version, signed by dev. current is nil for a user's
// first device; otherwise its signature must verify, so a new device never
// countersigns keys it was handed by a tampering server.
func NextDeviceList(user int64, current *protocol.DeviceList, active []int64, dev *e2ee.DeviceKeys) (*protocol.DeviceList, error) {
	next := &protocol.DeviceList{User: user, Version: 1}
	if current != nil {
		if err := e2ee.VerifyDeviceList(current); err != nil {
			return nil, &UntrustedKeysError{User: user, Reason: "your own current device list does not verify", Err: err}
		}
		if current.User != user {
			return nil, &UntrustedKeysError{User: user, Reason: fmt.Sprintf("your current device list is user %d's", current.User)}
		}
		next.Version = current.Version + 1
		isActive := make(map[int64]bool, len(active))
		for _, id := range active {
			isActive[id] = true
		}
		for _, d := range current.Devices {
			if isActive[d.ID] && d.ID != dev.ID() {
				next.Devices = append(next.Devices, d)
			}
		}
	}
	next.Devices = append(next.Devices, dev.Listed())
	if len(next.Devices) > protocol.MaxDevicesOfUser {
		return nil, fmt.Errorf("you already have %d active devices, the most a user may have: sign out of one, or ask an administrator to revoke old ones", len(next.Devices)-1)
	}
	if err := e2ee.SignDeviceList(next, dev); err != nil {
		return nil, err
	}
	return next, nil
}

// registerDevice adds this client's device to the user's signed list. If
// another device registered meanwhile, the server answers conflict; the list
// is rebuilt on the fresh one and sent once more.
func (c *Client) registerDevice(ctx context.Context, name string) error {
	if name == "" {
		name = DefaultDeviceName()
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var kr *keysResponse
		if kr, err = c.api.keys(ctx, c.user.ID); err != nil {
			return fmt.Errorf("registering the device: fetching your device list: %w", err)
		}
		var list *protocol.DeviceList
		if list, err = NextDeviceList(c.user.ID, kr.List, kr.Active, c.keys()); err != nil {
			return fmt.Errorf("registering the device: %w", err)
		}
		// The commitment to an approval nonce, used if the server makes
		// this device a request (the user has an active device already).
		p := &pendingState{Nonce: make([]byte, protocol.ApprovalNonceSize)}
		rand.Read(p.Nonce)
		var out registerResponse
		err = c.api.do(ctx, http.MethodPost, "/api/v1/devices", registerRequest{Name: name, List: list, Commit: protocol.ApprovalCommit(p.Nonce)}, &out)
		if ErrorCode(err) == protocol.CodeConflict {
			continue
		}
		if err != nil {
			return fmt.Errorf("registering the device: %w", err)
		}
		if out.Device != 0 && out.Device != c.keys().ID() {
			return fmt.Errorf("registering the device: the server registered device %d, not this device %d", out.Device, c.keys().ID())
		}
		if out.State == "pending" {
			// Not a device yet: another of the user's devices approves it
			// (Approval). Its own list is pinned once it is approved.
			p.ByAdmin = out.Approval == "admin"
			c.mu.Lock()
			c.pending = p
			c.mu.Unlock()
			return nil
		}
		// Pin the list this device signed: it is the one thing about its
		// own account a device knows first-hand.
		c.mu.Lock()
		c.pins[c.user.ID] = &Pin{User: c.user.ID, Username: c.user.Username, List: list, Since: nowMS()}
		if c.keys().PQPublic() != nil {
			c.pqSince = nowMS()
		}
		c.mu.Unlock()
		return nil
	}
	return fmt.Errorf("registering the device: another device was registering at the same time; try again: %w", err)
}
