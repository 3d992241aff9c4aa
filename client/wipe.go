package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"

	"github.com/curbside-health/curbside/protocol"
)

// WipeCommand asks the server whether a wipe command waits for this
// device, proving with the device's key that it is the device asking (no
// session is needed: a wiped device has none). It returns nil when there is
// none. The caller verifies the command with the command key it pinned
// before acting on it.
func (c *Client) WipeCommand(ctx context.Context) (*protocol.DeviceCommand, error) {
	dev := c.keys().ID()
	var ch struct {
		Nonce []byte `json:"nonce"`
	}
	if err := c.api.do(ctx, "POST", fmt.Sprintf("/api/v1/devices/%d/wipe/challenge", dev), struct{}{}, &ch); err != nil {
		return nil, err
	}
	req := struct {
		Nonce []byte `json:"nonce"`
		Sig   []byte `json:"sig"`
	}{ch.Nonce, ed25519.Sign(c.keys().SignKey(), protocol.WipeCheckBytes(dev, ch.Nonce))}
	var cmd protocol.DeviceCommand
	err := c.api.do(ctx, "POST", fmt.Sprintf("/api/v1/devices/%d/wipe", dev), req, &cmd)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &cmd, nil
}
