package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"

	"github.com/curbside-health/curbside/protocol"
)

// SignIn starts a new session for the device this client already holds,
// after its session expired or was ended: it signs in with the password
// and a proof of the device's key, then binds the new session to the
// device. The proof is what lets a device that already holds its keys
// sign in while someone elsewhere is guessing at the password (the
// server's per-username backoff does not apply to it). Save the client
// afterwards to keep the new session.
func (c *Client) SignIn(ctx context.Context, password string) error {
	dev := c.keys().ID()
	var ch struct {
		Nonce []byte `json:"nonce"`
	}
	c.api.token = ""
	if err := c.api.do(ctx, http.MethodPost, "/api/v1/login/challenge", struct{}{}, &ch); err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	proof := &deviceProof{ID: dev, Nonce: ch.Nonce, Sig: ed25519.Sign(c.keys().SignKey(), protocol.LoginProofBytes(c.user.ID, dev, ch.Nonce))}
	lr, err := c.api.login(ctx, c.user.Username, password, proof)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if lr.User.ID != c.user.ID {
		return fmt.Errorf("sign-in: the server signed in user %d, but this device belongs to user %d", lr.User.ID, c.user.ID)
	}
	c.api.token, c.user, c.expiresAt = lr.Token, lr.User, lr.ExpiresAt
	if err := c.api.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/devices/%d/challenge", dev), struct{}{}, &ch); err != nil {
		return fmt.Errorf("sign-in: binding the session to this device: %w", explainGone(err))
	}
	sig := ed25519.Sign(c.keys().SignKey(), protocol.ResumeBytes(c.user.ID, dev, ch.Nonce))
	if err := c.api.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/devices/%d/resume", dev), struct {
		Sig []byte `json:"sig"`
	}{sig}, nil); err != nil {
		return fmt.Errorf("sign-in: binding the session to this device: %w", explainGone(err))
	}
	return nil
}

// explainGone adds what to do when the server no longer knows the device.
func explainGone(err error) error {
	var e *Error
	if errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusForbidden) {
		return fmt.Errorf("%w (this device was revoked or wiped: sign in as a new device with `curbside client login --force`)", err)
	}
	return err
}
