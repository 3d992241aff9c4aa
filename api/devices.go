package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// challengeTTL is how long a resume challenge may be answered.
const challengeTTL = 2 * time.Minute

// challenges holds the outstanding resume nonces, by session token hash.
// They live in memory: a restart only makes a client ask again.
type challenges struct {
	mu sync.Mutex
	m  map[string]challenge
}

type challenge struct {
	device  int64
	nonce   []byte
	expires time.Time
}

func (c *challenges) put(session []byte, ch challenge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]challenge{}
	}
	now := time.Now()
	if len(c.m) > 10000 {
		for k, v := range c.m {
			if now.After(v.expires) {
				delete(c.m, k)
			}
		}
	}
	c.m[string(session)] = ch
}

// take removes and returns the session's challenge: each is single use.
func (c *challenges) take(session []byte) (challenge, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[string(session)]
	delete(c.m, string(session))
	return ch, ok && time.Now().Before(ch.expires)
}

// deviceOfMine returns the path's device if it is an active device of the
// session's user; a session that already has a device cannot take another.
func (a *API) deviceOfMine(r *http.Request) (*auth.Session, *store.Device, error) {
	s := auth.SessionOf(r.Context())
	if s.Device != 0 {
		return nil, nil, protocol.Errorf(protocol.CodeConflict, "this session already has device %d", s.Device)
	}
	id, err := web.PathID(r, "id")
	if err != nil {
		return nil, nil, err
	}
	d, err := a.Store.DeviceByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) || (err == nil && (d.User != s.User.ID || d.State != store.DeviceActive)) {
		return nil, nil, protocol.Errorf(protocol.CodeNotFound, "no active device %d of yours; register a new device", id)
	}
	if err != nil {
		return nil, nil, protocol.Internal(err)
	}
	return s, d, nil
}

func (a *API) challenge(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.deviceOfMine(r)
	if err != nil {
		return err
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	exp := time.Now().Add(challengeTTL)
	a.challenges.put(s.TokenHash, challenge{device: d.ID, nonce: nonce, expires: exp})
	return web.WriteJSON(w, http.StatusOK, map[string]any{"nonce": nonce, "expires_at": exp.UnixMilli()})
}

type resumeRequest struct {
	Sig []byte `json:"sig"`
}

func (a *API) resume(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.deviceOfMine(r)
	if err != nil {
		return err
	}
	var req resumeRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	ch, ok := a.challenges.take(s.TokenHash)
	if !ok || ch.device != d.ID {
		return protocol.Errorf(protocol.CodeBadRequest, "no live challenge for this device; ask for one first")
	}
	if len(req.Sig) != ed25519.SignatureSize || !ed25519.Verify(d.Sign, protocol.ResumeBytes(s.User.ID, d.ID, ch.nonce), req.Sig) {
		a.Log.Info("device resume refused", "user", s.User.ID, "device", d.ID, "reason", "bad signature")
		a.Auth.AuditRefused(r, "device.resume", auth.DeviceTarget(d.ID), map[string]any{"reason": "bad signature"})
		return protocol.Errorf(protocol.CodeForbidden, "the signature does not verify with that device's key")
	}
	err = a.Store.BindSession(auth.Record(r, "device.resume", auth.DeviceTarget(d.ID), nil), s.TokenHash, s.User.ID, d.ID)
	if errors.Is(err, model.ErrConflict) || errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeConflict, "the device or session changed meanwhile; sign in again")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	a.Log.Info("device resumed", "user", s.User.ID, "device", d.ID)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": d.ID})
}

// practiceName is the practice's name the apps print at the top of a
// conversation: the policy's practice_name, or else the name the email
// settings give (which every email already shows); "" when neither does.
func (a *API) practiceName(ctx context.Context, p model.Policy) string {
	if p.PracticeName != "" {
		return p.PracticeName
	}
	m, err := a.Store.MailSettings(ctx)
	if err != nil {
		if !errors.Is(err, model.ErrNotFound) {
			a.Log.Warn("config: reading the email settings for the practice's name", "err", err)
		}
		return ""
	}
	if m.Host == "" {
		return ""
	}
	return m.Practice
}

func (a *API) config(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	key, err := a.Commands.PublicKey(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	out := map[string]any{
		// Devices pin this key at set-up and obey only commands it signed.
		"command_key":    key,
		"policy":         p.Client(),
		"quick_messages": p.QuickMessages,
		"server_time":    time.Now().UnixMilli(),
		"version":        a.Version,
	}
	if name := a.practiceName(r.Context(), p); name != "" {
		out["practice"] = name
	}
	if a.Push != nil {
		// What PushManager.subscribe needs; absent when push is off.
		out["push"] = map[string]string{"vapid_key": a.Push.PublicKey()}
	}
	return web.WriteJSON(w, http.StatusOK, out)
}
