package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Second-step limits.
const (
	mfaPendingTTL  = 5 * time.Minute // how long a right password waits for its second step
	mfaPendingMax  = 5               // wrong codes before the pending sign-in is dropped
	recoveryCount  = 10              // codes in a set
	TOTPPeriod     = 30              // seconds per TOTP step (RFC 6238 default, what every app uses)
	totpSkewSteps  = 1               // steps of clock drift accepted either way
	maxPendingKeep = 10000           // pending sign-ins held at most (memory bound)
)

var (
	errMFAExpired  = protocol.Errorf(protocol.CodeMFAExpired, "this sign-in step has expired or was already used: enter your password again")
	errEnrollFirst = protocol.Errorf(protocol.CodeEnrollRequired, "your practice requires a second sign-in step for your account: set one up first (an authenticator app or a passkey)")
)

// MFAChallenge is the answer to a right password when the user has a second
// factor: no session yet, only a single-use token for the second step.
type MFAChallenge struct {
	Token     string   `json:"token"`
	Methods   []string `json:"methods"` // of "totp", "recovery", "passkey"
	ExpiresAt int64    `json:"expires_at"`
}

func methodsOf(m store.MFAStatus) []string {
	var out []string
	if m.TOTP {
		out = append(out, "totp")
	}
	if m.RecoveryLeft > 0 {
		out = append(out, "recovery")
	}
	if m.Passkeys > 0 {
		out = append(out, "passkey")
	}
	return out
}

// pendingLogins are the sign-ins whose password was right and whose second
// step is outstanding. They live in memory only: a restart just means
// entering the password again.
type pendingLogins struct {
	mu sync.Mutex
	m  map[string]*pendingLogin
}

type pendingLogin struct {
	user    int64
	expires time.Time
	fails   int
	// passkey is the WebAuthn ceremony begun for this sign-in, if any.
	passkey *webauthn.SessionData
}

func (p *pendingLogins) start(user int64, methods []string) *MFAChallenge {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*pendingLogin{}
	}
	if len(p.m) >= maxPendingKeep {
		for k, v := range p.m {
			if now.After(v.expires) {
				delete(p.m, k)
			}
		}
		if len(p.m) >= maxPendingKeep { // still full: drop an arbitrary one
			for k := range p.m {
				delete(p.m, k)
				break
			}
		}
	}
	exp := now.Add(mfaPendingTTL)
	p.m[token] = &pendingLogin{user: user, expires: exp}
	return &MFAChallenge{Token: token, Methods: methods, ExpiresAt: exp.UnixMilli()}
}

// get returns a copy of the pending sign-in for token, if it is live.
func (p *pendingLogins) get(token string) (pendingLogin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[token]
	if !ok {
		return pendingLogin{}, false
	}
	if time.Now().After(e.expires) {
		delete(p.m, token)
		return pendingLogin{}, false
	}
	return *e, true
}

// fail counts a wrong answer and returns how many are left; at zero the
// pending sign-in is gone.
func (p *pendingLogins) fail(token string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[token]
	if !ok {
		return 0
	}
	e.fails++
	if e.fails >= mfaPendingMax {
		delete(p.m, token)
		return 0
	}
	return mfaPendingMax - e.fails
}

// setPasskey records the WebAuthn ceremony begun for the sign-in.
func (p *pendingLogins) setPasskey(token string, sd *webauthn.SessionData) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[token]
	if ok {
		e.passkey = sd
	}
	return ok
}

// consume ends the pending sign-in; only the first caller gets true, so
// two right answers racing make one session.
func (p *pendingLogins) consume(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[token]
	delete(p.m, token)
	return ok
}

func (p *pendingLogins) drop(token string) { p.consume(token) }

// ------------------------------------------------------------------ TOTP

// TOTPOpts are the TOTP parameters every authenticator app uses: 30-second
// steps, six digits, SHA-1.
var TOTPOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// matchTOTP returns the time step whose code equals code, within the
// accepted clock drift of now.
func matchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	if len(code) != 6 {
		return 0, false
	}
	for d := -totpSkewSteps; d <= totpSkewSteps; d++ {
		t := now.Add(time.Duration(d*TOTPPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, TOTPOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return t.Unix() / TOTPPeriod, true
		}
	}
	return 0, false
}

func isSixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// normCode strips what people type around a code: spaces and dashes.
func normCode(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.TrimSpace(s)))
}

// checkTOTP checks a 6-digit code against the user's confirmed secret and
// uses its step up, so the same code is refused the next time.
func (a *Auth) checkTOTP(ctx context.Context, user int64, code string) (bool, error) {
	t, err := a.store.TOTPOf(ctx, user)
	if errors.Is(err, model.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !t.Confirmed {
		return false, nil
	}
	step, ok := matchTOTP(t.Secret, code, a.Now())
	if !ok {
		return false, nil
	}
	err = a.store.UseTOTPStep(ctx, user, step)
	if errors.Is(err, model.ErrConflict) {
		return false, nil // replayed
	}
	return err == nil, err
}

// ------------------------------------------------------- recovery codes

var recoveryAlphabet = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newRecoveryCodes makes a set of codes and their stored hashes. Each code
// is 60 random bits shown as xxxx-xxxx-xxxx, from an alphabet without the
// look-alikes l, o, 0 and 1: high entropy, so a plain SHA-256 is a safe
// stored form (no guessing a 2^60 space offline).
func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCount {
		raw := make([]byte, 8)
		rand.Read(raw)
		s := recoveryAlphabet.EncodeToString(raw)[:12]
		codes = append(codes, s[0:4]+"-"+s[4:8]+"-"+s[8:12])
		hashes = append(hashes, recoveryHash(s))
	}
	return codes, hashes
}

func recoveryHash(norm string) []byte {
	h := sha256.Sum256([]byte("curbside/recovery/v1:" + norm))
	return h[:]
}

// ------------------------------------------------------------ the login

type mfaLoginRequest struct {
	Token string `json:"token"`
	Code  string `json:"code"`
	Web   bool   `json:"web,omitempty"`
}

// CompleteMFA finishes a pending sign-in with a TOTP code or a recovery
// code. Wrong codes count toward the account's backoff and the pending
// sign-in's own limit.
func (a *Auth) CompleteMFA(ctx context.Context, ip, token, code string) (*LoginResponse, error) {
	refund, ok := a.reserveLogin(web.SourceKey(ip))
	if !ok {
		return nil, errRateLimited
	}
	if token == "" || len(token) > 128 {
		return nil, errMFAExpired
	}
	if len(code) > 64 {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "the code is too long")
	}
	p, ok := a.pending.get(token)
	if !ok {
		return nil, errMFAExpired
	}
	u, pol, err := a.pendingUser(ctx, ip, token, p.user)
	if err != nil {
		return nil, err
	}
	code = normCode(code)
	how := "totp"
	var good bool
	var left int
	if isSixDigits(code) {
		good, err = a.checkTOTP(ctx, u.ID, code)
	} else {
		how = "recovery"
		// The code's use is recorded with it (UseRecoveryCode notes how
		// many are left); a code that is not one records nothing.
		used := store.WithAudit(ctx, signInEntry(ip, "mfa.recovery_used", u, store.OutcomeOK, nil))
		left, err = a.store.UseRecoveryCode(used, u.ID, recoveryHash(code))
		good = err == nil
		if errors.Is(err, model.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	if !good {
		return nil, a.wrongSecondStep(ctx, ip, token, u, pol, how)
	}
	if !a.pending.consume(token) {
		return nil, errMFAExpired
	}
	res, err := a.startSession(ctx, ip, u, pol, how)
	if err != nil {
		return nil, err
	}
	refund()
	if how == "recovery" {
		res.RecoveryLeft = &left
	}
	return res, nil
}

// pendingUser loads the user of a pending sign-in and checks that the
// account may still sign in: it may have been locked or disabled since the
// password was checked. The account's backoff does not apply here: the
// password step already passed it, and failures of others meanwhile must
// not cut short the real user's second step.
func (a *Auth) pendingUser(ctx context.Context, ip, token string, id int64) (*model.User, model.Policy, error) {
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, pol, protocol.Internal(err)
	}
	u, err := a.store.UserByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		a.pending.drop(token)
		return nil, pol, errMFAExpired
	}
	if err != nil {
		return nil, pol, protocol.Internal(err)
	}
	if u.State != model.StateActive {
		a.pending.drop(token)
		a.recordFail(ctx, ip, u, map[string]any{"reason": "account state", "state": u.State})
		return nil, pol, protocol.Errorf(protocol.CodeLocked, "this account is %s; ask your administrator", u.State)
	}
	return u, pol, nil
}

// wrongSecondStep records a wrong code or failed passkey and answers it.
func (a *Auth) wrongSecondStep(ctx context.Context, ip, token string, u *model.User, pol model.Policy, how string) error {
	left := a.pending.fail(token)
	a.log.Info("login failed", "reason", "wrong code", "method", how, "user", u.ID, "ip", ip)
	a.recordFail(ctx, ip, u, map[string]any{"reason": "wrong code", "method": how})
	var msg string
	switch {
	case left == 0:
		msg = "that is not right, and that was the last try: enter your password again"
	case how == "passkey":
		msg = "the passkey could not be verified; try again or use a code"
	default:
		msg = "that code is not right or was already used"
		if left <= 2 {
			msg += "; " + map[bool]string{true: "1 try", false: "2 tries"}[left == 1] + " left"
		}
	}
	fallback := protocol.Errorf(protocol.CodeWrongCode, "%s", msg)
	if left == 0 {
		fallback = protocol.Errorf(protocol.CodeMFAExpired, "%s", msg)
	}
	err := a.countFailure(ctx, ip, u, pol, fallback)
	if err != fallback {
		a.pending.drop(token) // the failure was not recorded: this sign-in is over
	}
	return err
}
