package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	cproto "github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// relyingParty returns the WebAuthn relying party this request is served
// as: PublicURL's host when set (behind a proxy, where the Host header may
// be the proxy's), otherwise the request's own Host and scheme.
func (a *Auth) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	var origin, host string
	if a.publicURL != "" {
		u, err := url.Parse(a.publicURL)
		if err != nil || u.Host == "" {
			return nil, cproto.Errorf(cproto.CodeInternal, "the server's public URL is not a URL")
		}
		origin, host = u.Scheme+"://"+u.Host, u.Hostname()
	} else {
		scheme := "http"
		if web.IsHTTPS(r) {
			scheme = "https"
		}
		origin, host = scheme+"://"+r.Host, r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
	}
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return nil, cproto.Errorf(cproto.CodePasskeyUnavailable, "passkeys work only when Curbside is opened by its name, not by an IP address")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: host, RPDisplayName: "Curbside", RPOrigins: []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTTL},
		},
	})
	if err != nil {
		return nil, cproto.Errorf(cproto.CodePasskeyUnavailable, "passkeys cannot be used at this address: %v", err)
	}
	return wa, nil
}

// waUser is a user as the WebAuthn library sees it. The user handle is the
// user's id: stable, not personal, and what a discoverable credential
// carries back.
type waUser struct {
	u     *model.User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(w.u.ID >> (8 * i))
	}
	return b
}

func (w *waUser) WebAuthnName() string { return w.u.Username }

func (w *waUser) WebAuthnDisplayName() string { return firstSet(w.u.Display, w.u.Username) }

func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// waUserOf loads u's passkeys as library credentials.
func (a *Auth) waUserOf(r *http.Request, u *model.User) (*waUser, []*store.Passkey, error) {
	pks, err := a.store.PasskeysOf(r.Context(), u.ID)
	if err != nil {
		return nil, nil, cproto.Internal(err)
	}
	wu := &waUser{u: u}
	for _, p := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(p.Credential, &c); err != nil {
			a.log.Error("stored passkey does not parse", "user", u.ID, "err", err)
			continue
		}
		wu.creds = append(wu.creds, c)
	}
	return wu, pks, nil
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (a *Auth) loginPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	// No rate limit here: nothing is checked but the pending token, and
	// the answer to these options is limited in finish.
	ctx, ip := r.Context(), web.ClientIP(r)
	p, ok := a.pending.get(req.Token)
	if !ok {
		return errMFAExpired
	}
	u, _, err := a.pendingUser(ctx, ip, req.Token, p.user)
	if err != nil {
		return err
	}
	wa, err := a.relyingParty(r)
	if err != nil {
		return err
	}
	wu, _, err := a.waUserOf(r, u)
	if err != nil {
		return err
	}
	if len(wu.creds) == 0 {
		return cproto.Errorf(cproto.CodeConflict, "this account has no passkey; use a code")
	}
	opts, sd, err := wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return cproto.Internal(err)
	}
	if !a.pending.setPasskey(req.Token, sd) {
		return errMFAExpired
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"options": opts})
}

type passkeyLoginRequest struct {
	Token      string          `json:"token"`
	Credential json.RawMessage `json:"credential"`
	Web        bool            `json:"web,omitempty"`
}

func (a *Auth) loginPasskeyFinish(w http.ResponseWriter, r *http.Request) error {
	var req passkeyLoginRequest
	if err := web.DecodeJSON(w, r, maxPasskeyBody, &req); err != nil {
		return err
	}
	ctx, ip := r.Context(), web.ClientIP(r)
	refund, ok := a.reserveLogin(web.SourceKey(ip))
	if !ok {
		return errRateLimited
	}
	p, ok := a.pending.get(req.Token)
	if !ok {
		return errMFAExpired
	}
	if p.passkey == nil {
		return cproto.Errorf(cproto.CodeBadRequest, "begin the passkey sign-in first (POST /api/v1/login/passkey/begin)")
	}
	if len(req.Credential) == 0 {
		return cproto.Errorf(cproto.CodeBadRequest, "credential is missing")
	}
	u, pol, err := a.pendingUser(ctx, ip, req.Token, p.user)
	if err != nil {
		return err
	}
	wa, err := a.relyingParty(r)
	if err != nil {
		return err
	}
	wu, _, err := a.waUserOf(r, u)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(req.Credential)
	if err != nil {
		return cproto.Errorf(cproto.CodePasskeyFailed, "the passkey answer is not a WebAuthn assertion: %s", waMessage(err))
	}
	cred, err := wa.ValidateLogin(wu, *p.passkey, parsed)
	if err != nil {
		a.log.Info("passkey sign-in did not verify", "user", u.ID, "err", waMessage(err))
		return a.wrongSecondStep(ctx, ip, req.Token, u, pol, "passkey")
	}
	if !a.pending.consume(req.Token) {
		return errMFAExpired
	}
	if b, err := json.Marshal(cred); err == nil {
		// The new signature counter: a cloned authenticator shows up as a
		// counter that goes backwards (the library flags it).
		if err := a.store.PasskeyUsed(ctx, u.ID, cred.ID, b); err != nil && !errors.Is(err, model.ErrNotFound) {
			a.log.Error("passkey use not recorded", "user", u.ID, "err", err)
		}
	}
	detail := map[string]any{"passkey": passkeyRef(cred.ID)}
	if cred.Authenticator.CloneWarning {
		detail["clone_warning"] = true
	}
	res, err := a.startSession(ctx, ip, u, pol, "passkey", signInEntry(ip, "mfa.passkey_used", u, store.OutcomeOK, detail))
	if err != nil {
		return err
	}
	refund()
	return writeLogin(w, r, res, req.Web)
}

// waMessage is the library error's detail, which says what failed.
func waMessage(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return pe.Details + ": " + pe.DevInfo
	}
	return err.Error()
}

// passkeyRegs are the outstanding passkey registrations, by session.
type passkeyRegs struct {
	mu sync.Mutex
	m  map[string]*webauthn.SessionData
}

func (p *passkeyRegs) put(session []byte, sd *webauthn.SessionData) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*webauthn.SessionData{}
	}
	if len(p.m) > 10000 {
		now := time.Now()
		for k, v := range p.m {
			if now.After(v.Expires) {
				delete(p.m, k)
			}
		}
	}
	p.m[string(session)] = sd
}

func (p *passkeyRegs) take(session []byte) *webauthn.SessionData {
	p.mu.Lock()
	defer p.mu.Unlock()
	sd := p.m[string(session)]
	delete(p.m, string(session))
	return sd
}

// passkeyView is a passkey as its owner sees it.
type passkeyView struct {
	ID        string `json:"id"` // base64url of the credential id
	Name      string `json:"name"`
	CreatedAt int64  `json:"created_at"`
	LastUsed  int64  `json:"last_used"`
}

func viewPasskey(p *store.Passkey) passkeyView {
	return passkeyView{ID: base64.RawURLEncoding.EncodeToString(p.ID), Name: p.Name, CreatedAt: p.CreatedAt, LastUsed: p.LastUsed}
}

func (a *Auth) passkeyAddBegin(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	wa, err := a.relyingParty(r)
	if err != nil {
		return err
	}
	wu, _, err := a.waUserOf(r, s.User)
	if err != nil {
		return err
	}
	if len(wu.creds) >= 20 {
		return cproto.Errorf(cproto.CodeConflict, "you have 20 passkeys, the most allowed: remove one first")
	}
	excl := make([]protocol.CredentialDescriptor, 0, len(wu.creds))
	for i := range wu.creds {
		excl = append(excl, wu.creds[i].Descriptor())
	}
	opts, sd, err := wa.BeginRegistration(wu,
		webauthn.WithExclusions(excl),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return cproto.Internal(err)
	}
	a.passkeyRegs.put(s.TokenHash, sd)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"options": opts})
}

type passkeyAddRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

func (a *Auth) passkeyAddFinish(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	var req passkeyAddRequest
	if err := web.DecodeJSON(w, r, maxPasskeyBody, &req); err != nil {
		return err
	}
	name, ok := web.Trimmed(req.Name, 64)
	if !ok {
		return cproto.Errorf(cproto.CodeBadRequest, "name must be 1-64 characters")
	}
	if len(req.Credential) == 0 {
		return cproto.Errorf(cproto.CodeBadRequest, "credential is missing")
	}
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	sd := a.passkeyRegs.take(s.TokenHash)
	if sd == nil {
		return cproto.Errorf(cproto.CodeConflict, "begin adding a passkey first (POST /api/v1/me/passkeys/begin), then answer within 5 minutes")
	}
	wa, err := a.relyingParty(r)
	if err != nil {
		return err
	}
	wu, _, err := a.waUserOf(r, s.User)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		return cproto.Errorf(cproto.CodePasskeyFailed, "the passkey answer is not a WebAuthn registration: %s", waMessage(err))
	}
	cred, err := wa.CreateCredential(wu, *sd, parsed)
	if err != nil {
		return cproto.Errorf(cproto.CodePasskeyFailed, "the passkey did not verify: %s", waMessage(err))
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return cproto.Internal(err)
	}
	codes, hashes := newRecoveryCodes()
	pk := &store.Passkey{ID: cred.ID, User: s.User.ID, Name: name, Credential: b}
	stored, err := a.store.AddPasskey(Record(r, "mfa.passkey_added", UserTarget(s.User.ID), map[string]any{"passkey": passkeyRef(pk.ID)}), pk, hashes)
	if errors.Is(err, model.ErrExists) {
		return cproto.Errorf(cproto.CodeConflict, "that passkey is already registered")
	}
	if err != nil {
		return cproto.Internal(err)
	}
	a.confirmSession(r, s, "passkey")
	out := map[string]any{"passkey": viewPasskey(pk)}
	if stored {
		// A first factor comes with its fallback: codes for when the
		// passkey's device is lost.
		out["recovery_codes"] = codes
	}
	return web.WriteJSON(w, http.StatusCreated, out)
}

func (a *Auth) passkeyList(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	pks, err := a.store.PasskeysOf(r.Context(), s.User.ID)
	if err != nil {
		return cproto.Internal(err)
	}
	views := []passkeyView{}
	for _, p := range pks {
		views = append(views, viewPasskey(p))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"passkeys": views})
}

func (a *Auth) passkeyRemove(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	id, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return cproto.Errorf(cproto.CodeBadRequest, "id must be a passkey id (base64url)")
	}
	if err := a.lastFactorGuard(r, s, func(m store.MFAStatus) bool { return m.TOTP || m.Passkeys > 1 }); err != nil {
		return err
	}
	_, err = a.store.DeletePasskey(Record(r, "mfa.passkey_removed", UserTarget(s.User.ID), map[string]any{"passkey": passkeyRef(id)}), s.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return cproto.Errorf(cproto.CodeNotFound, "you have no passkey with that id")
	}
	if err != nil {
		return cproto.Internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// passkeyRef names a passkey in the audit log by the start of its
// credential id, not by the name its owner gave it: the log keeps for six
// years only what tells one factor from another.
func passkeyRef(id []byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:min(len(id), 6)])
}
