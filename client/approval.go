package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Device approval (PROTOCOL.md 3.1). A user's second and later devices are
// only requested at login: an existing device answers the request with a
// nonce, the new device reveals the nonce it committed to, both show the
// same six-digit code, and the existing device, given that code, signs the
// list that adds the new one.

// pendingState is what a device waiting for approval keeps: the nonce it
// committed to, secret until an approver has answered.
type pendingState struct {
	Nonce    []byte `json:"nonce"`
	Revealed bool   `json:"revealed,omitempty"`
	// ByAdmin: the user has no other device left, so an administrator
	// approves this one (PROTOCOL.md 3.2).
	ByAdmin bool `json:"by_admin,omitempty"`
	// Approver is the device that answered, whose signature the list
	// that approves this one must bear (0: an administrator, or not yet).
	Approver int64 `json:"approver,omitempty"`
}

// answerState is what an approving device keeps about a request it
// answered: its own nonce, and the keys and commitment it saw before
// answering. The code is computed from these, never from what the server
// says later.
type answerState struct {
	Device int64  `json:"device"`
	Nonce  []byte `json:"nonce"`
	Commit []byte `json:"commit"`
	Enc    []byte `json:"enc"`
	Sign   []byte `json:"sign"`
}

// ErrDenied means this device's request to join the account was denied on
// another device (or withdrawn): it will never be approved.
var ErrDenied = errors.New("this device was not approved: the request was denied on another of your devices, or it expired; sign in again to ask once more")

// Pending reports whether this device waits for approval by another of the
// user's devices (or an administrator: PendingByAdmin). A pending device
// cannot connect or send.
func (c *Client) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending != nil
}

// PendingByAdmin reports whether this device waits for an administrator's
// approval: the user had devices and has none left.
func (c *Client) PendingByAdmin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending != nil && c.pending.ByAdmin
}

// ApprovalStatus is where this device's approval stands.
type ApprovalStatus struct {
	Approved bool
	// Code is the six digits to enter on the approving device, once one
	// has answered; "" before that.
	Code string
	// ByAdmin: an administrator approves this device, in the console,
	// with the code read to them.
	ByAdmin bool
}

type myRequestResponse struct {
	State   string `json:"state"`
	Device  int64  `json:"device"`
	Request *struct {
		Approver      int64  `json:"approver"`
		ApproverNonce []byte `json:"approver_nonce"`
		Approval      string `json:"approval"`
	} `json:"request"`
}

// Approval asks the server how this device's approval stands and takes the
// next step: once an approver has answered it reveals this device's nonce
// and returns the code to show; once approved it pins the user's own
// device list. A denied request is ErrDenied. Save the client afterwards.
func (c *Client) Approval(ctx context.Context) (*ApprovalStatus, error) {
	c.mu.Lock()
	p := c.pending
	c.mu.Unlock()
	if p == nil {
		return &ApprovalStatus{Approved: true}, nil
	}
	var out myRequestResponse
	err := c.api.do(ctx, http.MethodGet, "/api/v1/devices/me/request", nil, &out)
	if ErrorCode(err) == protocol.CodeNotFound {
		return nil, ErrDenied
	}
	if err != nil {
		return nil, fmt.Errorf("checking this device's approval: %w", err)
	}
	if out.State == "active" {
		if out.Device != c.keys().ID() {
			return nil, fmt.Errorf("the server bound this session to device %d, not this device %d", out.Device, c.keys().ID())
		}
		// The own list, first-hand at last: it must name this device with
		// its keys, signed by one of the user's other devices (or, after an
		// administrator's approval, by this device itself).
		own, err := c.lookup(ctx, c.user.ID, true)
		if err != nil {
			return nil, fmt.Errorf("this device was approved, but %w", err)
		}
		if d, ok := own.list.Find(c.keys().ID()); own.list == nil || !ok || !bytes.Equal(d.Enc, c.keys().EncPublic()) || !bytes.Equal(d.Sign, c.keys().SignPublic()) {
			return nil, errors.New("this device was approved, but your device list does not name it with its keys")
		}
		// Whose signature it must bear: after an administrator's approval,
		// the list this device signed itself, naming only it; otherwise the
		// approving device's.
		switch {
		case p.ByAdmin && (own.list.Signer != c.keys().ID() || len(own.list.Devices) != 1):
			return nil, errors.New("this device was approved by an administrator, but your device list is not the one this device signed")
		case !p.ByAdmin && p.Approver != 0 && own.list.Signer != p.Approver:
			return nil, fmt.Errorf("this device was approved, but your device list is signed by device %d, not by the device that approved it (%d)", own.list.Signer, p.Approver)
		}
		c.mu.Lock()
		c.pending = nil
		c.mu.Unlock()
		return &ApprovalStatus{Approved: true}, nil
	}
	if out.Request == nil {
		return &ApprovalStatus{ByAdmin: p.ByAdmin}, nil
	}
	byAdmin := out.Request.Approval == "admin"
	if len(out.Request.ApproverNonce) != protocol.ApprovalNonceSize {
		return &ApprovalStatus{ByAdmin: byAdmin}, nil
	}
	if !p.Revealed {
		c.mu.Lock()
		p.Approver = out.Request.Approver
		c.mu.Unlock()
		if err := c.api.do(ctx, http.MethodPost, "/api/v1/devices/me/request/reveal", map[string][]byte{"nonce": p.Nonce}, nil); err != nil {
			return nil, fmt.Errorf("showing this device's code: %w", err)
		}
		c.mu.Lock()
		p.Revealed = true
		c.mu.Unlock()
	}
	return &ApprovalStatus{Code: protocol.ApprovalCode(c.user.ID, c.keys().Listed(), p.Nonce, out.Request.ApproverNonce), ByAdmin: byAdmin}, nil
}

// DeviceRequest is a device waiting to join the signed-in user's account,
// as an existing device sees it.
type DeviceRequest struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Agent     string `json:"agent"`
	CreatedAt int64  `json:"created_at"`
	Enc       []byte `json:"enc"`
	Sign      []byte `json:"sign"`
	Commit    []byte `json:"commit"`
	Approver  int64  `json:"approver"`
	Reveal    []byte `json:"reveal"`
	// Answered is set when this device is the one approving it; Ready
	// once the new device has shown its code too, so Approve can go ahead.
	Answered bool `json:"-"`
	Ready    bool `json:"-"`
}

// DeviceRequests lists the devices waiting to join the account and answers
// each that no device has answered yet, so the new device can show its
// code. Save the client afterwards: the answers are needed by Approve.
func (c *Client) DeviceRequests(ctx context.Context) ([]DeviceRequest, error) {
	if c.Pending() {
		return nil, errors.New("this device is waiting for approval itself")
	}
	var out struct {
		Requests []DeviceRequest `json:"requests"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/devices/requests", nil, &out); err != nil {
		return nil, fmt.Errorf("listing devices waiting for approval: %w", err)
	}
	for i := range out.Requests {
		r := &out.Requests[i]
		if protocol.DeviceID(r.Sign) != r.ID || len(r.Enc) != protocol.PublicKeyBytes || len(r.Commit) != 32 {
			return nil, fmt.Errorf("the server's request for device %d is malformed", r.ID)
		}
		c.mu.Lock()
		a := c.answers[r.ID]
		c.mu.Unlock()
		if a == nil && r.Approver == 0 {
			a = &answerState{Device: r.ID, Nonce: make([]byte, protocol.ApprovalNonceSize), Commit: r.Commit, Enc: r.Enc, Sign: r.Sign}
			rand.Read(a.Nonce)
			// Kept before it is sent: an answer the server recorded must
			// not be forgotten by a crash here.
			c.mu.Lock()
			c.answers[r.ID] = a
			c.mu.Unlock()
			err := c.api.do(ctx, http.MethodPost, "/api/v1/devices/requests/"+strconv.FormatInt(r.ID, 10)+"/answer", map[string][]byte{"nonce": a.Nonce}, nil)
			if err != nil {
				return nil, fmt.Errorf("answering device %d: %w", r.ID, err)
			}
			r.Approver = c.keys().ID()
		}
		r.Answered = a != nil && r.Approver == c.keys().ID()
		r.Ready = r.Answered && r.Reveal != nil
	}
	return out.Requests, nil
}

// normalizeCode keeps the digits of a code as typed ("123 456").
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// Approve approves the waiting device that shows code: it checks that the
// device revealed the nonce it committed to before this device answered,
// computes the code from the keys seen then, and, if it is the same,
// signs the user's device list with this device's key, adding the new
// device. It returns the approved device's id.
func (c *Client) Approve(ctx context.Context, code string) (int64, error) {
	code = normalizeCode(code)
	if len(code) != 6 {
		return 0, errors.New("the code has six digits, as the new device shows it")
	}
	reqs, err := c.DeviceRequests(ctx)
	if err != nil {
		return 0, err
	}
	waiting := false
	for _, r := range reqs {
		if !r.Answered {
			continue
		}
		if !r.Ready {
			waiting = true
			continue
		}
		c.mu.Lock()
		a := c.answers[r.ID]
		c.mu.Unlock()
		dev := protocol.ListedDevice{ID: a.Device, Enc: a.Enc, Sign: a.Sign}
		if subtle.ConstantTimeCompare(protocol.ApprovalCommit(r.Reveal), a.Commit) != 1 ||
			subtle.ConstantTimeCompare([]byte(protocol.ApprovalCode(c.user.ID, dev, r.Reveal, a.Nonce)), []byte(code)) != 1 {
			continue
		}
		return dev.ID, c.approve(ctx, dev)
	}
	if waiting {
		return 0, errors.New("the new device has not shown its code yet: keep it open until it does")
	}
	return 0, errors.New("no device waiting for approval shows that code; nothing was approved (check the code on the new device)")
}

// approve signs and sends the list that adds dev to the user's verified
// list.
func (c *Client) approve(ctx context.Context, dev protocol.ListedDevice) error {
	for attempt := 0; ; attempt++ {
		kr, err := c.api.keys(ctx, c.user.ID)
		if err != nil {
			return fmt.Errorf("approving device %d: fetching your device list: %w", dev.ID, err)
		}
		p, err := c.accept(c.user.ID, kr)
		if err != nil {
			return fmt.Errorf("approving device %d: %w", dev.ID, err)
		}
		if p.list == nil {
			return fmt.Errorf("approving device %d: your account has no device list", dev.ID)
		}
		next := &protocol.DeviceList{User: c.user.ID, Version: p.list.Version + 1}
		for _, r := range p.recips {
			d, _ := p.list.Find(r.Device)
			next.Devices = append(next.Devices, d)
		}
		next.Devices = append(next.Devices, dev)
		if err := e2ee.SignDeviceList(next, c.keys()); err != nil {
			return fmt.Errorf("approving device %d: %w", dev.ID, err)
		}
		err = c.api.do(ctx, http.MethodPost, "/api/v1/devices/requests/"+strconv.FormatInt(dev.ID, 10)+"/approve", map[string]any{"list": next}, nil)
		if ErrorCode(err) == protocol.CodeConflict && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("approving device %d: %w", dev.ID, err)
		}
		c.mu.Lock()
		c.pins[c.user.ID] = &Pin{User: c.user.ID, Username: c.user.Username, List: next, Since: nowMS()}
		delete(c.peers, c.user.ID)
		delete(c.answers, dev.ID)
		c.mu.Unlock()
		return nil
	}
}

// Deny refuses the waiting device id: its request is deleted, and it can
// never be approved.
func (c *Client) Deny(ctx context.Context, id int64) error {
	if err := c.api.do(ctx, http.MethodDelete, "/api/v1/devices/requests/"+strconv.FormatInt(id, 10), nil, nil); err != nil {
		return fmt.Errorf("denying device %d: %w", id, err)
	}
	c.mu.Lock()
	delete(c.answers, id)
	c.mu.Unlock()
	return nil
}

// OwnDevice is one of the signed-in user's registered devices.
type OwnDevice struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	CreatedAt int64  `json:"created_at"`
	LastSeen  int64  `json:"last_seen"`
}

// OwnDevices lists the signed-in user's registered devices, active and
// revoked (not those waiting for approval: see DeviceRequests).
func (c *Client) OwnDevices(ctx context.Context) ([]OwnDevice, error) {
	var out struct {
		Devices []OwnDevice `json:"devices"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/devices", nil, &out); err != nil {
		return nil, fmt.Errorf("listing your devices: %w", err)
	}
	return out.Devices, nil
}
