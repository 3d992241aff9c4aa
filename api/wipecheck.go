package api

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/curbside-health/curbside/internal/nonce"
	"github.com/curbside-health/curbside/internal/ratelimit"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// The wipe check: a device asks whether a wipe command waits for it with
// no session (a wiped device has none), so it proves instead that it holds
// the device's Ed25519 key. It asks for a nonce, signs WipeCheckBytes over
// it and posts the signature; only then does the server say whether, and
// with what command, the device was wiped. Anybody else learns nothing
// about any device: every refusal is the same. The proof is a signature
// by the device's signing key, or by the wipe-check key it registered
// (PUT /api/v1/devices/me/wipe-key), which a locked browser can still use. What is signed is
// protocol.WipeCheckBytes.
const (
	wipeNonceTTL = 2 * time.Minute
	// A practice's browsers all come from one address behind its router,
	// and each asks at every unlock screen, so the allowance is generous:
	// it bounds the work one address causes, and proves nothing by itself
	// (the signature does that).
	wipeBurst    = 120                    // requests (a nonce, an answer) an address may make at once...
	wipeEvery    = 500 * time.Millisecond // ...and one more each this long
	wipeMaxAddrs = 10000                  // addresses remembered before idle ones are forgotten
)

var (
	errWipeProof   = protocol.Errorf(protocol.CodeForbidden, "this device could not prove it holds its key; ask for a new challenge and sign it with the device's key")
	errWipeLimited = protocol.Errorf(protocol.CodeRateLimited, "too many wipe checks from this address; wait a minute and try again")
)

// wipeChecks holds what the wipe check needs in memory: its nonces (made
// with a key made at start, so a restart only makes a device ask again)
// and the per-address allowance.
type wipeChecks struct {
	once   sync.Once
	nonces *nonce.Issuer
	limit  *ratelimit.Keyed
}

// get returns the wipe checks, made on first use (the API is a plain
// struct its creator fills in).
func (c *wipeChecks) get() *wipeChecks {
	c.once.Do(func() {
		c.nonces = nonce.New("curbside/wipe-nonce/v1", wipeNonceTTL)
		c.limit = ratelimit.New(wipeEvery, wipeBurst, wipeMaxAddrs)
		c.limit.RefuseWhenFull = true // every remembered address is busy: bounded memory first
	})
	return c
}

// deviceBind is what a wipe-check nonce is bound to: its device.
func deviceBind(device int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(device)) }

// wipeChallenge hands out a nonce for a device's wipe check. It looks
// nothing up, so it says nothing about whether the device exists.
func (a *API) wipeChallenge(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if !a.wipes.get().limit.Allow(web.ClientIP(r), time.Now()) {
		return errWipeLimited
	}
	n, exp := a.wipes.get().nonces.Issue(deviceBind(id), time.Now())
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"nonce": n, "expires_at": exp.UnixMilli()})
}

type wipeCheckRequest struct {
	Nonce []byte `json:"nonce"`
	Sig   []byte `json:"sig"`
}

// wipeCommand serves a device's wipe command to that device alone: the
// request must carry a fresh nonce of this server for the device, signed
// with the device's key. The command says only that this device is to be
// erased; the device acts on it only if it verifies with the command key
// it pinned at set-up. An unknown device, a stale or reused nonce and a
// wrong signature are refused alike.
func (a *API) wipeCommand(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if !a.wipes.get().limit.Allow(web.ClientIP(r), time.Now()) {
		return errWipeLimited
	}
	var req wipeCheckRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if !a.wipes.get().nonces.Valid(deviceBind(id), req.Nonce, time.Now()) || len(req.Sig) != ed25519.SignatureSize {
		return errWipeProof
	}
	sign, wipeKey, err := a.Store.DeviceProofKeys(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return errWipeProof
	}
	if err != nil {
		return protocol.Internal(err)
	}
	msg := protocol.WipeCheckBytes(id, req.Nonce)
	if !verifiesWith(sign, msg, req.Sig) && !verifiesWith(wipeKey, msg, req.Sig) {
		a.Log.Info("wipe check refused", "device", id, "reason", "bad signature", "ip", web.ClientIP(r))
		return errWipeProof
	}
	if !a.wipes.get().nonces.Spend(req.Nonce, time.Now()) {
		return errWipeProof
	}
	w.Header().Set("Cache-Control", "no-store")
	cmd, err := a.Store.DeviceWipeCommand(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no wipe command for this device")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	// The device proved itself and is handed its command: that is the
	// console's confirmation that the wipe reached it.
	if err := a.Store.WipeFetched(r.Context(), id, time.Now().UnixMilli()); err != nil {
		a.Log.Error("recording a fetched wipe", "device", id, "err", err)
	}
	return web.WriteJSON(w, http.StatusOK, json.RawMessage(cmd))
}

func verifiesWith(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

type wipeKeyRequest struct {
	Key []byte `json:"key"`
}

// setWipeKey records the public half of the key this device proves itself
// with to the wipe check while it is locked (its signing key is then
// sealed under the PIN). Only the device's own session may set it.
func (a *API) setWipeKey(w http.ResponseWriter, r *http.Request) error {
	c, _ := web.CallerOf(r.Context())
	var req wipeKeyRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Key) != ed25519.PublicKeySize {
		return protocol.Errorf(protocol.CodeBadRequest, "key: an Ed25519 public key of 32 bytes")
	}
	err := a.Store.SetDeviceWipeKey(r.Context(), c.Device, req.Key)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "this device is no longer active")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": c.Device})
}
