package auth

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// A sign-in from a known device. A device that already holds its keys
// proves it by signing a fresh server nonce with its Ed25519 signing key,
// or with the wipe-check key it registered (PUT /api/v1/devices/me/wipe-key):
// a browser whose session ended keeps its signing key sealed under the
// PIN, which it can only unlock with a session, so it proves itself with
// the wipe-check key, which opens nothing. A sign-in that carries such a
// proof for one of the user's active devices
// skips the account's backoff (backoff.go), so guessing at a clinician's
// password from elsewhere never keeps the clinician out. The password is
// still checked, a wrong one still counts, and the per-address limit
// still applies.
//
// The nonces are internal/nonce's: stateless until answered, single use.
const (
	loginNonceTTL = 2 * time.Minute
)

// DeviceProof is the optional "device" member of a sign-in: a device id,
// a nonce from POST /api/v1/login/challenge and the device's signature of
// protocol.LoginProofBytes, by its signing key or its wipe-check key.
type DeviceProof struct {
	ID    int64  `json:"id"`
	Nonce []byte `json:"nonce"`
	Sig   []byte `json:"sig"`
}

// knownDevice reports whether proof shows that the request comes from an
// active device of u. Any flaw in it only means "not shown": the sign-in
// then goes on as one without a proof.
func (a *Auth) knownDevice(ctx context.Context, ip string, u *model.User, p *DeviceProof) bool {
	if p == nil || p.ID <= 0 || len(p.Sig) != ed25519.SignatureSize {
		return false
	}
	now := time.Now()
	if !a.nonces.Valid(nil, p.Nonce, now) {
		return false
	}
	d, err := a.store.DeviceByID(ctx, p.ID)
	if err != nil || d.User != u.ID || d.State != store.DeviceActive {
		return false
	}
	_, wipeKey, err := a.store.DeviceProofKeys(ctx, d.ID)
	if err != nil {
		return false
	}
	msg := protocol.LoginProofBytes(u.ID, d.ID, p.Nonce)
	if !verifiesWith(d.Sign, msg, p.Sig) && !verifiesWith(wipeKey, msg, p.Sig) {
		a.log.Info("sign-in device proof did not verify", "user", u.ID, "device", d.ID, "ip", ip)
		return false
	}
	return a.nonces.Spend(p.Nonce, now)
}

// loginChallenge hands out a nonce for a device proof.
func (a *Auth) loginChallenge(w http.ResponseWriter, r *http.Request) error {
	nonce, exp := a.nonces.Issue(nil, time.Now())
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"nonce": nonce, "expires_at": exp.UnixMilli()})
}

func verifiesWith(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}
