package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/curbside-health/curbside/protocol"
	"github.com/pquerna/otp/totp"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// Body limits of the second-factor routes. A WebAuthn response carries an
// attestation object with, at most, a certificate chain.
const (
	maxCodeBody    = 1 << 10
	maxPasskeyBody = 64 << 10
	passkeyTTL     = 5 * time.Minute
)

// ------------------------------------------------------------- WebAuthn

// ------------------------------------------------------------ enrollment

func (a *Auth) meMFA(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	m, err := a.store.MFAStatusOf(ctx, s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	pks, err := a.store.PasskeysOf(ctx, s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return protocol.Internal(err)
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
func (a *Auth) confirmedToAdd(r *http.Request, s *Session) error {
	if s.MFA != "" {
		return nil
	}
	m, err := a.store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	if m.Has() {
		return protocol.Errorf(protocol.CodeMFARequired, "this session was signed in with the password alone: sign in again with your second step to add another")
	}
	return nil
}

func (a *Auth) totpBegin(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	issuer := "Curbside"
	if u, err := url.Parse(a.publicURL); err == nil && u.Hostname() != "" {
		issuer = "Curbside (" + u.Hostname() + ")"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: s.User.Username, Period: TOTPPeriod, SecretSize: 20})
	if err != nil {
		return protocol.Internal(err)
	}
	err = a.store.StartTOTP(r.Context(), s.User.ID, key.Secret())
	if errors.Is(err, model.ErrExists) {
		return protocol.Errorf(protocol.CodeConflict, "an authenticator app is already set up: turn it off first to set up another")
	}
	if err != nil {
		return protocol.Internal(err)
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
		return "", protocol.Errorf(protocol.CodeBadRequest, "code must be the 6 digits your authenticator app shows")
	}
	return c, nil
}

var errWrongCode = protocol.Errorf(protocol.CodeCodeNotAccepted, "that code is not right or was already used: enter the code the app shows now")

func (a *Auth) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	if err := a.confirmedToAdd(r, s); err != nil {
		return err
	}
	code, err := readCode(w, r)
	if err != nil {
		return err
	}
	t, err := a.store.TOTPOf(ctx, s.User.ID)
	if errors.Is(err, model.ErrNotFound) || (err == nil && t.Confirmed) {
		return protocol.Errorf(protocol.CodeConflict, "there is no authenticator app set-up to confirm: start one first (POST /api/v1/me/mfa/totp)")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	refund, ok := a.reserveLogin(sessionLimitKey(s))
	if !ok {
		return errRateLimited
	}
	step, ok := matchTOTP(t.Secret, code, a.Now())
	if !ok {
		return errWrongCode
	}
	refund()
	codes, hashes := newRecoveryCodes()
	err = a.store.ConfirmTOTP(Record(r, "mfa.totp_enrolled", UserTarget(s.User.ID), nil), s.User.ID, step, hashes)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeConflict, "the authenticator app was set up meanwhile")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	a.confirmSession(r, s, "totp")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// confirmSession marks the current session as confirmed by a second
// factor the user just proved to hold.
func (a *Auth) confirmSession(r *http.Request, s *Session, how string) {
	if s.MFA != "" {
		return
	}
	if err := a.store.SetSessionMFA(r.Context(), s.TokenHash, how); err != nil {
		a.log.Error("session not marked confirmed", "user", s.User.ID, "err", err)
	}
}

// lastFactorGuard refuses to remove the user's last factor while the
// policy requires one: the account would fall back to enrollment-only.
func (a *Auth) lastFactorGuard(r *http.Request, s *Session, remaining func(store.MFAStatus) bool) error {
	pol, err := a.store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	if !pol.MFARequiredFor(s.User) {
		return nil
	}
	m, err := a.store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	if !remaining(m) {
		return protocol.Errorf(protocol.CodeConflict, "your practice requires a second sign-in step: add another one before removing this one")
	}
	return nil
}

// checkOwnCode checks a current TOTP code of the signed-in user, using it
// up.
//
// Wrong codes are rate limited per session as sign-in attempts are per
// address: a stolen session must not be a way to guess codes faster than a
// sign-in could.
func (a *Auth) checkOwnCode(r *http.Request, s *Session, code string) error {
	refund, ok := a.reserveLogin(sessionLimitKey(s))
	if !ok {
		return errRateLimited
	}
	good, err := a.checkTOTP(r.Context(), s.User.ID, code)
	if err != nil {
		return protocol.Internal(err)
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

func (a *Auth) totpRemove(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	code, err := readCode(w, r)
	if err != nil {
		return err
	}
	m, err := a.store.MFAStatusOf(r.Context(), s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	if !m.TOTP {
		return protocol.Errorf(protocol.CodeNotFound, "no authenticator app is set up")
	}
	if err := a.lastFactorGuard(r, s, func(m store.MFAStatus) bool { return m.Passkeys > 0 }); err != nil {
		return err
	}
	if err := a.checkOwnCode(r, s, code); err != nil {
		return err
	}
	if err := a.store.DeleteTOTP(Record(r, "mfa.totp_removed", UserTarget(s.User.ID), nil), s.User.ID); err != nil && !errors.Is(err, model.ErrNotFound) {
		return protocol.Internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Auth) recoveryRenew(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	ctx := r.Context()
	var req codeRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	m, err := a.store.MFAStatusOf(ctx, s.User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	switch {
	case m.TOTP:
		c := normCode(req.Code)
		if !isSixDigits(c) {
			return protocol.Errorf(protocol.CodeBadRequest, "code must be the 6 digits your authenticator app shows")
		}
		if err := a.checkOwnCode(r, s, c); err != nil {
			return err
		}
	case m.Passkeys > 0 && s.MFA == "passkey":
		// A passkey-only account has no code to give: a sign-in confirmed
		// with the passkey stands in for it.
	case m.Passkeys > 0:
		return protocol.Errorf(protocol.CodeForbidden, "sign in with your passkey to make new recovery codes")
	default:
		return protocol.Errorf(protocol.CodeConflict, "set up an authenticator app or a passkey first: recovery codes back one up")
	}
	codes, hashes := newRecoveryCodes()
	if err := a.store.ReplaceRecoveryCodes(Record(r, "mfa.recovery_regenerated", UserTarget(s.User.ID), map[string]any{"codes": len(codes)}), s.User.ID, hashes); err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// ------------------------------------------------------------ the console
