package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"sync"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// A sign-in from a known device. A device that already holds its keys
// proves it by signing a fresh server nonce with its Ed25519 key; a
// sign-in that carries such a proof for one of the user's active devices
// skips the account's backoff (backoff.go), so guessing at a clinician's
// password from elsewhere never keeps the clinician out. The password is
// still checked, a wrong one still counts, and the per-address limit
// still applies.
//
// The nonce is stateless: its expiry, random bytes and a MAC under a key
// made at start, so handing nonces out to anyone costs no memory. Only a
// nonce used with a signature that verifies is remembered, until it
// expires, so that it cannot be used twice.
const (
	loginNonceTTL  = 2 * time.Minute
	loginNonceLen  = 8 + 16 + 16 // expiry, random, MAC
	maxUsedNonces  = 10000
	loginProofName = "curbside/login/v1"
)

// DeviceProof is the optional "device" member of a sign-in: a device id,
// a nonce from POST /api/v1/login/challenge and the device's signature of
// LoginProofBytes.
type DeviceProof struct {
	ID    int64  `json:"id"`
	Nonce []byte `json:"nonce"`
	Sig   []byte `json:"sig"`
}

// LoginProofBytes is what a device signs to prove itself at sign-in:
// "curbside/login/v1" || u64 user || u64 device || str(nonce).
func LoginProofBytes(user, device int64, nonce []byte) []byte {
	o := len(loginProofName)
	b := append([]byte(loginProofName), make([]byte, 20+len(nonce))...)
	binary.BigEndian.PutUint64(b[o:], uint64(user))
	binary.BigEndian.PutUint64(b[o+8:], uint64(device))
	binary.BigEndian.PutUint32(b[o+16:], uint32(len(nonce)))
	copy(b[o+20:], nonce)
	return b
}

// loginNonces makes and checks sign-in nonces.
type loginNonces struct {
	key []byte

	mu   sync.Mutex
	used map[string]int64 // nonce → its expiry, Unix ms
}

func newLoginNonces() *loginNonces {
	k := make([]byte, 32)
	rand.Read(k)
	return &loginNonces{key: k, used: map[string]int64{}}
}

func (n *loginNonces) mac(b []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("curbside/login-nonce/v1"))
	m.Write(b)
	return m.Sum(nil)[:16]
}

// issue returns a new nonce and its expiry.
func (n *loginNonces) issue() ([]byte, int64) {
	exp := time.Now().Add(loginNonceTTL).UnixMilli()
	b := make([]byte, 24, loginNonceLen)
	binary.BigEndian.PutUint64(b, uint64(exp))
	rand.Read(b[8:24])
	return append(b, n.mac(b)...), exp
}

// valid reports whether nonce was made here and has not expired.
func (n *loginNonces) valid(nonce []byte, now int64) bool {
	if len(nonce) != loginNonceLen || !hmac.Equal(nonce[24:], n.mac(nonce[:24])) {
		return false
	}
	return int64(binary.BigEndian.Uint64(nonce)) > now
}

// use marks nonce used; false if it already was, or if too many live ones
// are remembered to take another.
func (n *loginNonces) use(nonce []byte, now int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, seen := n.used[string(nonce)]; seen {
		return false
	}
	if len(n.used) >= maxUsedNonces {
		for k, exp := range n.used {
			if exp <= now {
				delete(n.used, k)
			}
		}
		if len(n.used) >= maxUsedNonces {
			return false
		}
	}
	n.used[string(nonce)] = int64(binary.BigEndian.Uint64(nonce))
	return true
}

// knownDevice reports whether proof shows that the request comes from an
// active device of u. Any flaw in it only means "not shown": the sign-in
// then goes on as one without a proof.
func (a *Auth) knownDevice(ctx context.Context, ip string, u *model.User, p *DeviceProof) bool {
	if p == nil || p.ID <= 0 || len(p.Sig) != ed25519.SignatureSize {
		return false
	}
	now := time.Now().UnixMilli()
	if !a.nonces.valid(p.Nonce, now) {
		return false
	}
	d, err := a.store.DeviceByID(ctx, p.ID)
	if err != nil || d.User != u.ID || d.State != store.DeviceActive || len(d.Sign) != ed25519.PublicKeySize {
		return false
	}
	if !ed25519.Verify(d.Sign, LoginProofBytes(u.ID, d.ID, p.Nonce), p.Sig) {
		a.log.Info("sign-in device proof did not verify", "user", u.ID, "device", d.ID, "ip", ip)
		return false
	}
	if !a.nonces.use(p.Nonce, now) {
		return false
	}
	return true
}

// loginChallenge hands out a nonce for a device proof.
func (a *Auth) loginChallenge(w http.ResponseWriter, r *http.Request) error {
	nonce, exp := a.nonces.issue()
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"nonce": nonce, "expires_at": exp})
}
