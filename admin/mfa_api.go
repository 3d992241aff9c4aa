package admin

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
	"github.com/pquerna/otp/totp"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	cproto "github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Body limits of the second-factor routes. A WebAuthn response carries an
// attestation object with, at most, a certificate chain.
const (
	maxCodeBody    = 1 << 10
	maxPasskeyBody = 64 << 10
	passkeyTTL     = 5 * time.Minute
)

// registerMFA adds the sign-in second step and the signed-in user's
// enrollment routes. The enrollment routes stay open to a session that must
// enroll (authedAny); everything else uses authed, which refuses it.
func (a *API) registerMFA(mux *http.ServeMux) {
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(a.Log, f) }
	mux.Handle("POST /api/v1/login/mfa", h(a.loginMFA))
	mux.Handle("POST /api/v1/login/passkey/begin", h(a.loginPasskeyBegin))
	mux.Handle("POST /api/v1/login/passkey/finish", h(a.loginPasskeyFinish))
	mux.Handle("GET /api/v1/me/mfa", h(a.authedAny(a.meMFA)))
	mux.Handle("POST /api/v1/me/mfa/totp", h(a.authedAny(a.totpBegin)))
	mux.Handle("POST /api/v1/me/mfa/totp/confirm", h(a.authedAny(a.totpConfirm)))
	mux.Handle("DELETE /api/v1/me/mfa/totp", h(a.authedAny(a.totpRemove)))
	mux.Handle("POST /api/v1/me/mfa/recovery", h(a.authedAny(a.recoveryRenew)))
	mux.Handle("POST /api/v1/me/passkeys/begin", h(a.authedAny(a.passkeyAddBegin)))
	mux.Handle("POST /api/v1/me/passkeys/finish", h(a.authedAny(a.passkeyAddFinish)))
	mux.Handle("GET /api/v1/me/passkeys", h(a.authedAny(a.passkeyList)))
	mux.Handle("DELETE /api/v1/me/passkeys/{id}", h(a.authedAny(a.passkeyRemove)))
}

// mfaRoutes are the console's second-factor routes.
func (a *API) mfaRoutes() []Route {
	return []Route{
		{Pattern: "POST /api/v1/admin/users/{id}/mfa/reset", Level: model.LevelAdmin, handler: a.mfaReset},
	}
}

// writeLogin answers a finished sign-in the way POST /api/v1/login does:
// the session cookie always, and the token in the body only for programs.
func writeLogin(w http.ResponseWriter, r *http.Request, res *LoginResponse, webClient bool) error {
	if res.MFA != nil {
		return web.WriteJSON(w, http.StatusOK, map[string]any{"mfa": res.MFA})
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: res.Token, Path: "/",
		Expires:  time.UnixMilli(res.ExpiresAt),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	if webClient {
		// A browser keeps the token in the HttpOnly cookie only, out of
		// reach of script.
		c := *res
		c.Token = ""
		res = &c
	}
	return web.WriteJSON(w, http.StatusOK, res)
}

func (a *API) loginMFA(w http.ResponseWriter, r *http.Request) error {
	var req mfaLoginRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Code) == "" {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "enter the 6-digit code from your authenticator app, or a recovery code")
	}
	res, err := a.Auth.CompleteMFA(r.Context(), web.ClientIP(r), req.Token, req.Code)
	if err != nil {
		return err
	}
	return writeLogin(w, r, res, req.Web)
}

// ------------------------------------------------------------- WebAuthn

// relyingParty returns the WebAuthn relying party this request is served
// as: PublicURL's host when set (behind a proxy, where the Host header may
// be the proxy's), otherwise the request's own Host and scheme.
func (a *API) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	var origin, host string
	if a.PublicURL != "" {
		u, err := url.Parse(a.PublicURL)
		if err != nil || u.Host == "" {
			return nil, web.Errorf(http.StatusInternalServerError, cproto.CodeInternal, "the server's public URL is not a URL")
		}
		origin, host = u.Scheme+"://"+u.Host, u.Hostname()
	} else {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin, host = scheme+"://"+r.Host, r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
	}
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return nil, web.Errorf(http.StatusBadRequest, CodePasskeyUnavailable, "passkeys work only when Curbside is opened by its name, not by an IP address")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: host, RPDisplayName: "Curbside", RPOrigins: []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTTL},
		},
	})
	if err != nil {
		return nil, web.Errorf(http.StatusBadRequest, CodePasskeyUnavailable, "passkeys cannot be used at this address: %v", err)
	}
	return wa, nil
}

// CodePasskeyUnavailable: passkeys cannot work at the address the server
// was reached by (an IP address, a bad public URL).
const CodePasskeyUnavailable cproto.Code = "passkey_unavailable"

// CodePasskeyFailed: the browser's WebAuthn answer did not verify.
const CodePasskeyFailed cproto.Code = "passkey_failed"

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
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return firstSet(w.u.Display, w.u.Username) }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// waUserOf loads u's passkeys as library credentials.
func (a *API) waUserOf(r *http.Request, u *model.User) (*waUser, []*store.Passkey, error) {
	pks, err := a.Store.PasskeysOf(r.Context(), u.ID)
	if err != nil {
		return nil, nil, web.Internal(err)
	}
	wu := &waUser{u: u}
	for _, p := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(p.Credential, &c); err != nil {
			a.Log.Error("stored passkey does not parse", "user", u.ID, "err", err)
			continue
		}
		wu.creds = append(wu.creds, c)
	}
	return wu, pks, nil
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (a *API) loginPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	// No rate limit here: nothing is checked but the pending token, and
	// the answer to these options is limited in finish.
	ctx, ip := r.Context(), web.ClientIP(r)
	p, ok := a.Auth.pending.get(req.Token)
	if !ok {
		return errMFAExpired
	}
	u, _, err := a.Auth.pendingUser(ctx, ip, req.Token, p.user)
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
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "this account has no passkey; use a code")
	}
	opts, sd, err := wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return web.Internal(err)
	}
	if !a.Auth.pending.setPasskey(req.Token, sd) {
		return errMFAExpired
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"options": opts})
}

type passkeyLoginRequest struct {
	Token      string          `json:"token"`
	Credential json.RawMessage `json:"credential"`
	Web        bool            `json:"web,omitempty"`
}

func (a *API) loginPasskeyFinish(w http.ResponseWriter, r *http.Request) error {
	var req passkeyLoginRequest
	if err := web.DecodeJSON(w, r, maxPasskeyBody, &req); err != nil {
		return err
	}
	ctx, ip := r.Context(), web.ClientIP(r)
	refund, ok := a.Auth.reserveLogin(ip)
	if !ok {
		return errRateLimited
	}
	p, ok := a.Auth.pending.get(req.Token)
	if !ok {
		return errMFAExpired
	}
	if p.passkey == nil {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "begin the passkey sign-in first (POST /api/v1/login/passkey/begin)")
	}
	if len(req.Credential) == 0 {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "credential is missing")
	}
	u, pol, err := a.Auth.pendingUser(ctx, ip, req.Token, p.user)
	if err != nil {
		return err
	}
	wa, err := a.relyingParty(r)
	if err != nil {
		return err
	}
	wu, pks, err := a.waUserOf(r, u)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(req.Credential)
	if err != nil {
		return web.Errorf(http.StatusBadRequest, CodePasskeyFailed, "the passkey answer is not a WebAuthn assertion: %s", waMessage(err))
	}
	cred, err := wa.ValidateLogin(wu, *p.passkey, parsed)
	if err != nil {
		a.Log.Info("passkey sign-in did not verify", "user", u.ID, "err", waMessage(err))
		return a.Auth.wrongSecondStep(ctx, ip, req.Token, u, pol, "passkey")
	}
	if !a.Auth.pending.consume(req.Token) {
		return errMFAExpired
	}
	name := ""
	for _, pk := range pks {
		if string(pk.ID) == string(cred.ID) {
			name = pk.Name
		}
	}
	if b, err := json.Marshal(cred); err == nil {
		// The new signature counter: a cloned authenticator shows up as a
		// counter that goes backwards (the library flags it).
		if err := a.Store.PasskeyUsed(ctx, u.ID, cred.ID, b); err != nil && !errors.Is(err, model.ErrNotFound) {
			a.Log.Error("passkey use not recorded", "user", u.ID, "err", err)
		}
	}
	detail := map[string]any{"passkey": name}
	if cred.Authenticator.CloneWarning {
		detail["clone_warning"] = true
	}
	a.Auth.record(ctx, ip, "mfa.passkey_used", u, store.OutcomeOK, detail)
	res, err := a.Auth.startSession(ctx, ip, u, pol, "passkey")
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

// ------------------------------------------------------------ enrollment

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

func (a *API) meMFA(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	m, err := a.Store.MFAStatusOf(ctx, s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	pks, err := a.Store.PasskeysOf(ctx, s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	pol, err := a.Store.LoadPolicy(ctx)
	if err != nil {
		return web.Internal(err)
	}
	views := []passkeyView{}
	for _, p := range pks {
		views = append(views, viewPasskey(p))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{
		"totp": m.TOTP, "totp_pending": m.TOTPPending, "passkeys": views, "recovery_left": m.RecoveryLeft,
		"required": pol.MFARequiredFor(s.User), "enrollment_required": s.EnrollmentRequired && !m.Has(), "session": s.MFA,
	})
}

// confirmedToAdd refuses to add a factor to an account that has one from a
// session whose sign-in did not use it: a password alone (a session from
// before the first factor was set up elsewhere) must not be enough to plant
// a factor of one's own.
func (a *API) confirmedToAdd(r *http.Request, s *Session) error {
	if s.MFA != "" {
		return nil
	}
	m, err := a.Store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	if m.Has() {
		return web.Errorf(http.StatusForbidden, CodeMFARequired, "this session was signed in with the password alone: sign in again with your second step to add another")
	}
	return nil
}

func (a *API) totpBegin(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	issuer := "Curbside"
	if u, err := url.Parse(a.PublicURL); err == nil && u.Hostname() != "" {
		issuer = "Curbside (" + u.Hostname() + ")"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: s.User.Username, Period: totpPeriod, SecretSize: 20})
	if err != nil {
		return web.Internal(err)
	}
	err = a.Store.StartTOTP(r.Context(), s.User.ID, key.Secret())
	if errors.Is(err, model.ErrExists) {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "an authenticator app is already set up: turn it off first to set up another")
	}
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"secret": key.Secret(), "uri": key.URL()})
}

type codeRequest struct {
	Code string `json:"code"`
}

// readCode decodes {code} and checks it is six digits.
func readCode(w http.ResponseWriter, r *http.Request) (string, error) {
	var req codeRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return "", err
	}
	c := normCode(req.Code)
	if !isSixDigits(c) {
		return "", web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "code must be the 6 digits your authenticator app shows")
	}
	return c, nil
}

var errWrongCode = web.Errorf(http.StatusBadRequest, CodeWrongCode, "that code is not right or was already used: enter the code the app shows now")

func (a *API) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	code, err := readCode(w, r)
	if err != nil {
		return err
	}
	t, err := a.Store.TOTPOf(ctx, s.User.ID)
	if errors.Is(err, model.ErrNotFound) || (err == nil && t.Confirmed) {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "there is no authenticator app set-up to confirm: start one first (POST /api/v1/me/mfa/totp)")
	}
	if err != nil {
		return web.Internal(err)
	}
	refund, ok := a.Auth.reserveLogin(sessionLimitKey(s))
	if !ok {
		return errRateLimited
	}
	step, ok := matchTOTP(t.Secret, code, a.Auth.now())
	if !ok {
		return errWrongCode
	}
	refund()
	codes, hashes := newRecoveryCodes()
	err = a.Store.ConfirmTOTP(ctx, s.User.ID, step, hashes)
	if errors.Is(err, model.ErrNotFound) {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "the authenticator app was set up meanwhile")
	}
	if err != nil {
		return web.Internal(err)
	}
	a.confirmSession(r, s, "totp")
	a.audit(r, "mfa.totp_enrolled", userTarget(s.User.ID), store.OutcomeOK, nil)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// confirmSession marks the current session as confirmed by a second
// factor the user just proved to hold.
func (a *API) confirmSession(r *http.Request, s *Session, how string) {
	if s.MFA != "" {
		return
	}
	if err := a.Store.SetSessionMFA(r.Context(), s.TokenHash, how); err != nil {
		a.Log.Error("session not marked confirmed", "user", s.User.ID, "err", err)
	}
}

// lastFactorGuard refuses to remove the user's last factor while the
// policy requires one: the account would fall back to enrollment-only.
func (a *API) lastFactorGuard(r *http.Request, s *Session, remaining func(store.MFAStatus) bool) error {
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return web.Internal(err)
	}
	if !pol.MFARequiredFor(s.User) {
		return nil
	}
	m, err := a.Store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	if !remaining(m) {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "your practice requires a second sign-in step: add another one before removing this one")
	}
	return nil
}

// checkOwnCode checks a current TOTP code of the signed-in user, using it
// up.
//
// Wrong codes are rate limited per session as sign-in attempts are per
// address: a stolen session must not be a way to guess codes faster than a
// sign-in could.
func (a *API) checkOwnCode(r *http.Request, s *Session, code string) error {
	refund, ok := a.Auth.reserveLogin(sessionLimitKey(s))
	if !ok {
		return errRateLimited
	}
	good, err := a.Auth.checkTOTP(r.Context(), s.User.ID, code)
	if err != nil {
		return web.Internal(err)
	}
	if !good {
		return errWrongCode
	}
	refund()
	return nil
}

// sessionLimitKey names a session's own limiter (apart from addresses').
func sessionLimitKey(s *Session) string {
	return "session:" + base64.RawURLEncoding.EncodeToString(s.TokenHash)
}

func (a *API) totpRemove(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	code, err := readCode(w, r)
	if err != nil {
		return err
	}
	m, err := a.Store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	if !m.TOTP {
		return web.Errorf(http.StatusNotFound, cproto.CodeNotFound, "no authenticator app is set up")
	}
	if err := a.lastFactorGuard(r, s, func(m store.MFAStatus) bool { return m.Passkeys > 0 }); err != nil {
		return err
	}
	if err := a.checkOwnCode(r, s, code); err != nil {
		return err
	}
	if err := a.Store.DeleteTOTP(r.Context(), s.User.ID); err != nil && !errors.Is(err, model.ErrNotFound) {
		return web.Internal(err)
	}
	a.audit(r, "mfa.totp_removed", userTarget(s.User.ID), store.OutcomeOK, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) recoveryRenew(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	var req codeRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	m, err := a.Store.MFAStatusOf(ctx, s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	switch {
	case m.TOTP:
		c := normCode(req.Code)
		if !isSixDigits(c) {
			return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "code must be the 6 digits your authenticator app shows")
		}
		if err := a.checkOwnCode(r, s, c); err != nil {
			return err
		}
	case m.Passkeys > 0 && s.MFA == "passkey":
		// A passkey-only account has no code to give: a sign-in confirmed
		// with the passkey stands in for it.
	case m.Passkeys > 0:
		return web.Errorf(http.StatusForbidden, cproto.CodeForbidden, "sign in with your passkey to make new recovery codes")
	default:
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "set up an authenticator app or a passkey first: recovery codes back one up")
	}
	codes, hashes := newRecoveryCodes()
	if err := a.Store.ReplaceRecoveryCodes(ctx, s.User.ID, hashes); err != nil {
		return web.Internal(err)
	}
	a.audit(r, "mfa.recovery_regenerated", userTarget(s.User.ID), store.OutcomeOK, map[string]any{"codes": len(codes)})
	return web.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *API) passkeyAddBegin(w http.ResponseWriter, r *http.Request) error {
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
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "you have 20 passkeys, the most allowed: remove one first")
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
		return web.Internal(err)
	}
	a.passkeyRegs.put(s.TokenHash, sd)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"options": opts})
}

type passkeyAddRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

func (a *API) passkeyAddFinish(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	var req passkeyAddRequest
	if err := web.DecodeJSON(w, r, maxPasskeyBody, &req); err != nil {
		return err
	}
	name, ok := trimmed(req.Name, 64)
	if !ok {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "name must be 1-64 characters")
	}
	if len(req.Credential) == 0 {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "credential is missing")
	}
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	sd := a.passkeyRegs.take(s.TokenHash)
	if sd == nil {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "begin adding a passkey first (POST /api/v1/me/passkeys/begin), then answer within 5 minutes")
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
		return web.Errorf(http.StatusBadRequest, CodePasskeyFailed, "the passkey answer is not a WebAuthn registration: %s", waMessage(err))
	}
	cred, err := wa.CreateCredential(wu, *sd, parsed)
	if err != nil {
		return web.Errorf(http.StatusBadRequest, CodePasskeyFailed, "the passkey did not verify: %s", waMessage(err))
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return web.Internal(err)
	}
	codes, hashes := newRecoveryCodes()
	pk := &store.Passkey{ID: cred.ID, User: s.User.ID, Name: name, Credential: b}
	stored, err := a.Store.AddPasskey(ctx, pk, hashes)
	if errors.Is(err, model.ErrExists) {
		return web.Errorf(http.StatusConflict, cproto.CodeConflict, "that passkey is already registered")
	}
	if err != nil {
		return web.Internal(err)
	}
	a.confirmSession(r, s, "passkey")
	a.audit(r, "mfa.passkey_added", userTarget(s.User.ID), store.OutcomeOK, map[string]any{"passkey": name})
	out := map[string]any{"passkey": viewPasskey(pk)}
	if stored {
		// A first factor comes with its fallback: codes for when the
		// passkey's device is lost.
		out["recovery_codes"] = codes
	}
	return web.WriteJSON(w, http.StatusCreated, out)
}

func (a *API) passkeyList(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	pks, err := a.Store.PasskeysOf(r.Context(), s.User.ID)
	if err != nil {
		return web.Internal(err)
	}
	views := []passkeyView{}
	for _, p := range pks {
		views = append(views, viewPasskey(p))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"passkeys": views})
}

func (a *API) passkeyRemove(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	id, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return web.Errorf(http.StatusBadRequest, cproto.CodeBadRequest, "id must be a passkey id (base64url)")
	}
	if err := a.lastFactorGuard(r, s, func(m store.MFAStatus) bool { return m.TOTP || m.Passkeys > 1 }); err != nil {
		return err
	}
	p, err := a.Store.DeletePasskey(r.Context(), s.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return web.Errorf(http.StatusNotFound, cproto.CodeNotFound, "you have no passkey with that id")
	}
	if err != nil {
		return web.Internal(err)
	}
	a.audit(r, "mfa.passkey_removed", userTarget(s.User.ID), store.OutcomeOK, map[string]any{"passkey": p.Name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ------------------------------------------------------------ the console

func (a *API) mfaReset(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := a.Store.UserByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return web.Internal(err)
	}
	if model.LevelRank(u.AdminLevel) > model.LevelRank(s.User.AdminLevel) {
		a.audit(r, "mfa.reset", userTarget(u.ID), store.OutcomeFail, map[string]any{"reason": "level"})
		return errLowLevel
	}
	before, ended, err := a.Store.ResetMFA(ctx, u.ID)
	if err != nil {
		return web.Internal(err)
	}
	a.audit(r, "mfa.reset", userTarget(u.ID), store.OutcomeOK, map[string]any{
		"totp": before.TOTP, "passkeys": before.Passkeys, "recovery_left": before.RecoveryLeft, "sessions_ended": ended})
	return web.WriteJSON(w, http.StatusOK, map[string]any{
		"user":             u,
		"removed":          map[string]any{"totp": before.TOTP, "passkeys": before.Passkeys, "recovery_codes": before.RecoveryLeft},
		"revoked_sessions": ended,
	})
}
