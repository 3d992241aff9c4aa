package api

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

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
	wipeBurst     = 120                    // requests (a nonce, an answer) an address may make at once...
	wipeEvery     = 500 * time.Millisecond // ...and one more each this long
	wipeMaxAddrs  = 10000                  // addresses remembered before idle ones are forgotten
	wipeMaxUsed   = 10000                  // answered nonces remembered before expired ones are forgotten
	wipeNonceRand = 16
)

var (
	errWipeProof   = protocol.Errorf(protocol.CodeForbidden, "this device could not prove it holds its key; ask for a new challenge and sign it with the device's key")
	errWipeLimited = protocol.Errorf(protocol.CodeRateLimited, "too many wipe checks from this address; wait a minute and try again")
)

// wipeChecks holds what the wipe check needs in memory: the key its
// nonces are authenticated with (made at start, so a restart only makes
// a device ask again), the per-address allowance, and the nonces already
// answered (each is single use).
type wipeChecks struct {
	once sync.Once
	key  []byte

	mu    sync.Mutex
	addrs map[string]*wipeBucket
	used  map[string]time.Time // nonce → its expiry
}

type wipeBucket struct {
	tokens float64
	last   time.Time
}

func (c *wipeChecks) init() {
	c.once.Do(func() {
		c.key = make([]byte, 32)
		rand.Read(c.key)
		c.addrs = map[string]*wipeBucket{}
		c.used = map[string]time.Time{}
	})
}

// allow takes one check from the address's allowance.
func (c *wipeChecks) allow(addr string) bool {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if len(c.addrs) >= wipeMaxAddrs {
		for k, b := range c.addrs {
			if now.Sub(b.last) > wipeBurst*wipeEvery {
				delete(c.addrs, k)
			}
		}
	}
	b := c.addrs[addr]
	if b == nil {
		if len(c.addrs) >= wipeMaxAddrs {
			return false // every remembered address is busy: bounded memory first
		}
		b = &wipeBucket{tokens: wipeBurst, last: now}
		c.addrs[addr] = b
	}
	b.tokens = min(wipeBurst, b.tokens+float64(now.Sub(b.last))/float64(wipeEvery))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// nonce makes a nonce for device: its expiry, random bytes, and a MAC
// over both and the device, so the server need keep nothing until it is
// answered.
func (c *wipeChecks) nonce(device int64, exp time.Time) []byte {
	c.init()
	n := make([]byte, 8+wipeNonceRand, 8+wipeNonceRand+sha256.Size)
	binary.BigEndian.PutUint64(n, uint64(exp.UnixMilli()))
	rand.Read(n[8:])
	return append(n, c.mac(device, n)...)
}

func (c *wipeChecks) mac(device int64, body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], uint64(device))
	m.Write([]byte("curbside/wipe-nonce/v1"))
	m.Write(d[:])
	m.Write(body)
	return m.Sum(nil)
}

// valid reports whether nonce was made by this server for device and has
// not expired.
func (c *wipeChecks) valid(device int64, nonce []byte) bool {
	c.init()
	if len(nonce) != 8+wipeNonceRand+sha256.Size {
		return false
	}
	body := nonce[:8+wipeNonceRand]
	if !hmac.Equal(nonce[len(body):], c.mac(device, body)) {
		return false
	}
	return time.Now().UnixMilli() < int64(binary.BigEndian.Uint64(nonce))
}

// spend marks an answered nonce used; false if it was used before.
func (c *wipeChecks) spend(nonce []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if len(c.used) >= wipeMaxUsed {
		for k, exp := range c.used {
			if now.After(exp) {
				delete(c.used, k)
			}
		}
	}
	if _, ok := c.used[string(nonce)]; ok {
		return false
	}
	c.used[string(nonce)] = time.UnixMilli(int64(binary.BigEndian.Uint64(nonce)))
	return true
}

// wipeChallenge hands out a nonce for a device's wipe check. It looks
// nothing up, so it says nothing about whether the device exists.
func (a *API) wipeChallenge(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if !a.wipes.allow(web.ClientIP(r)) {
		return errWipeLimited
	}
	exp := time.Now().Add(wipeNonceTTL)
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"nonce": a.wipes.nonce(id, exp), "expires_at": exp.UnixMilli()})
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
	if !a.wipes.allow(web.ClientIP(r)) {
		return errWipeLimited
	}
	var req wipeCheckRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if !a.wipes.valid(id, req.Nonce) || len(req.Sig) != ed25519.SignatureSize {
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
	if !a.wipes.spend(req.Nonce) {
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
