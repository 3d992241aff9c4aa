package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/internal/nonce"
	"github.com/curbside-health/curbside/internal/ratelimit"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "curbside_session"

// Login rate limits: per source (an IPv4 address or an IPv6 /64), a burst
// of DefaultLoginBurst attempts, then one per DefaultLoginEvery; a sign-in
// that succeeds gives its attempt back, so it is failures that run the
// allowance down. The per-username backoff of the policy (backoff.go) is
// the second line, against slow distributed guessing.
const (
	DefaultLoginBurst = 10
	DefaultLoginEvery = 6 * time.Second
	maxLimiterKeys    = 10000 // allowances remembered before refilled ones are forgotten
)

// touchEvery is how stale a session's last-used time may get before a
// request writes it again, so reads do not each cost a write.
const touchEvery = time.Minute

// Auth signs users in and authenticates requests.
type Auth struct {
	store     *store.Store
	log       *slog.Logger
	publicURL string

	// passkeyRegs holds passkey registrations waiting for the browser's
	// answer.
	passkeyRegs passkeyRegs

	// limiter is the per-address (and per-session) allowance of sign-in
	// attempts.
	limiter *ratelimit.Keyed
	// stepUps is the per-user allowance of wrong step-up codes (StepUp).
	stepUps *ratelimit.Keyed

	// pending holds the sign-ins waiting for their second step.
	pending pendingLogins
	// ghosts holds the failures of usernames no account has.
	ghosts ghosts
	// proven holds the failures of sign-ins with a device proof, by device
	// (deviceKey): a device that guessed wrong waits its own wait.
	proven ghosts
	// nonces makes and checks the nonces of device proofs.
	nonces *nonce.Issuer
	// hashing caps the password checks running at once.
	hashing *hashGate
	// fails coalesces the audit rows of failed sign-ins.
	fails failAudit
	// skew shifts the clock TOTP codes are checked against, in
	// nanoseconds: tests step it forward instead of waiting 30 seconds for
	// a fresh code.
	skew atomic.Int64
}

// Now is the time second-step codes and sign-in waits are reckoned at: the
// clock, moved by ShiftClock.
func (a *Auth) Now() time.Time { return time.Now().Add(time.Duration(a.skew.Load())) }

// SetLoginLimit reshapes the per-address sign-in limiter: one attempt
// earned back every every, up to burst (zero leaves either as it is).
// Tests that sign in many times from one address raise the burst; those
// that count refusals stop the refill.
func (a *Auth) SetLoginLimit(every time.Duration, burst int) {
	a.limiter.SetRate(every, burst)
}

// Options configures an Auth.
type Options struct {
	Logger *slog.Logger
	// PublicURL is the origin people reach the server at, the passkeys'
	// relying party; empty: each request's own origin.
	PublicURL string
	// LoginEvery and LoginBurst shape the per-address sign-in limiter
	// (zero: the defaults); tests slow the refill so that slow machines
	// cannot earn attempts back.
	LoginEvery time.Duration
	LoginBurst int
	// MaxHashing caps the password checks running at once (zero:
	// DefaultMaxHashing).
	MaxHashing int
}

// New returns an Auth over st.
func New(st *store.Store, opts Options) *Auth {
	a := &Auth{store: st, log: opts.Logger, publicURL: opts.PublicURL,
		limiter: ratelimit.New(cmp.Or(opts.LoginEvery, DefaultLoginEvery), cmp.Or(opts.LoginBurst, DefaultLoginBurst), maxLimiterKeys),
		nonces:  nonce.New("curbside/login-nonce/v1", loginNonceTTL), hashing: newHashGate(cmp.Or(opts.MaxHashing, DefaultMaxHashing())),
		stepUps: newStepUpLimiter()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// ShiftClock moves the clock that second-step codes and sign-in waits are
// reckoned at by d, so that a test can ask for the next code, or end a
// wait, at once instead of waiting for it.
func (a *Auth) ShiftClock(d time.Duration) { a.skew.Add(int64(d)) }

// AllowAttempt takes one attempt from the address's sign-in allowance, the
// one that password sign-ins use, for other guessable secrets (invitation
// links); false means the allowance is spent.
func (a *Auth) AllowAttempt(ip string) bool {
	_, ok := a.reserveLogin(web.SourceKey(ip))
	return ok
}

// reserveLogin takes one attempt from key's limiter (an address, or a
// session for signed-in code checks). The returned refund gives it back: a
// successful attempt calls it, so only failures use up the allowance and a
// practice signing in together from one address is not slowed down, while
// every attempt still waits its turn while the allowance is spent.
func (a *Auth) reserveLogin(key string) (refund func(), ok bool) {
	return a.limiter.Reserve(key, time.Now())
}

// Session is an authenticated request's session.
type Session struct {
	*store.Session
	Token string
	// EnrollmentRequired is set when the policy requires the user to use a
	// second factor and the user has none: the session may then only see
	// its own account and set one up.
	EnrollmentRequired bool
}

// HashToken returns the stored form of a session token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Device, when set, proves that the sign-in comes from a device the
	// user already has (deviceproof.go).
	Device *DeviceProof `json:"device,omitempty"`
	Web    bool         `json:"web,omitempty"` // a browser: the token goes in the cookie only
}

// LoginResponse is the body of a successful login.
type LoginResponse struct {
	Token     string      `json:"token,omitempty"`
	User      *model.User `json:"user,omitempty"`
	ExpiresAt int64       `json:"expires_at,omitempty"`
	// Confirmed says how the sign-in was confirmed beyond the password:
	// "totp", "recovery" or "passkey"; empty for a password alone.
	Confirmed string `json:"mfa_confirmed,omitempty"`
	// MFA, when set, is the only field: the password was right and the
	// sign-in needs its second step (POST /api/v1/login/mfa or a passkey).
	MFA *MFAChallenge `json:"mfa,omitempty"`
	// RecoveryLeft is how many recovery codes remain, after a sign-in with one.
	RecoveryLeft *int `json:"recovery_left,omitempty"`
}

var errBadLogin = protocol.Errorf(protocol.CodeBadLogin, "wrong username or password; if you are sure both are right, ask your administrator to check your account")

// Login checks a username and password. For a user without a second
// factor it starts a session; for one with a confirmed TOTP or a passkey it
// starts nothing and answers an MFA challenge, which CompleteMFA or a
// passkey sign-in then turns into a session.
func (a *Auth) Login(ctx context.Context, ip, username, password string) (*LoginResponse, error) {
	return a.LoginFrom(ctx, ip, username, password, nil)
}

// LoginFrom is Login with an optional proof that the sign-in comes from one
// of the user's devices, which lets it past the username's backoff.
//
// Every answer but success is the same for a username without an account,
// one without a password, one that is not active, and a wrong password:
// bad_login after one argon2id check, or the same wait once the username's
// failures started one. Only the log and the audit say which it was.
func (a *Auth) LoginFrom(ctx context.Context, ip, username, password string, proof *DeviceProof) (*LoginResponse, error) {
	refund, ok := a.reserveLogin(web.SourceKey(ip))
	if !ok {
		return nil, errRateLimited
	}
	if len(username) == 0 || len(username) > 64 || len(password) == 0 || len(password) > MaxPasswordBytes {
		return nil, errBadLogin
	}
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, protocol.Internal(err)
	}
	now := a.Now().UnixMilli() // the clock tests can move, as for codes
	u, err := a.store.UserByName(ctx, username)
	if errors.Is(err, model.ErrNotFound) {
		if until := a.ghosts.waiting(username, now); until > 0 {
			a.recordFail(ctx, ip, nil, map[string]any{"reason": "backoff"})
			return nil, errWait(until, now)
		}
		if _, err := a.checkPassword(ctx, dummyHash(), password); err == errHashBusy {
			refund()
			return nil, err
		}
		a.ghosts.fail(username, pol, now)
		a.log.Info("login failed", "reason", "unknown user", "ip", ip)
		a.recordFail(ctx, ip, nil, map[string]any{"reason": "unknown user"})
		return nil, errBadLogin
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	known := a.knownDevice(ctx, ip, u, proof)
	if known && a.proven.waiting(deviceKey(proof.ID), now) > 0 {
		// This device's own wrong passwords started a wait: its proof
		// lets it past no one's wait until that one ends.
		known = false
	}
	if until := accountWaiting(u, now); until > 0 && !known {
		a.recordFail(ctx, ip, u, map[string]any{"reason": "backoff"})
		return nil, errWait(until, now)
	}
	hash := u.PasswordHash
	if hash == "" {
		// Imported or invited, with no password set yet: the invitation
		// link is the way in. It looks like any failed sign-in.
		hash = dummyHash()
	}
	ok, err = a.checkPassword(ctx, hash, password)
	if err == errHashBusy {
		refund()
		return nil, err
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	var reason map[string]any
	switch {
	case u.PasswordHash == "":
		reason = map[string]any{"reason": "no password set"}
	case !ok:
		reason = map[string]any{"reason": "wrong password"}
	case u.State != model.StateActive:
		// A right password for an account that is not active is answered
		// as a wrong one, so the answer tells nothing of either.
		reason = map[string]any{"reason": "account state", "state": u.State}
	}
	if reason != nil {
		if known {
			reason["device"] = proof.ID
			a.proven.fail(deviceKey(proof.ID), pol, now)
		}
		a.log.Info("login failed", "reason", reason["reason"], "user", u.ID, "ip", ip)
		a.recordFail(ctx, ip, u, reason)
		return nil, a.countFailure(ctx, ip, u, pol, errBadLogin)
	}
	if known {
		a.log.Info("login from a known device", "user", u.ID, "device", proof.ID, "ip", ip)
		a.proven.forget(deviceKey(proof.ID))
	}
	m, err := a.store.MFAStatusOf(ctx, u.ID)
	if err != nil {
		return nil, protocol.Internal(err)
	}
	if m.Has() {
		// The failure count is cleared only after the second step: a right
		// password alone must not buy more guesses at the code.
		ch := a.pending.start(u.ID, methodsOf(m))
		a.log.Info("login password ok, second step pending", "user", u.ID, "ip", ip)
		refund()
		return &LoginResponse{MFA: ch}, nil
	}
	res, err := a.startSession(ctx, ip, u, pol, "")
	if err == nil {
		refund()
	}
	return res, err
}

// startSession makes a new session for u, confirmed by mfa ("" for a
// password alone), and records the sign-in in the session's transaction,
// after the entries of the steps that led to it (also).
func (a *Auth) startSession(ctx context.Context, ip string, u *model.User, pol model.Policy, mfa string, also ...*store.Pending) (*LoginResponse, error) {
	if u.FailedLogins > 0 || u.LockedUntil > 0 {
		if err := a.store.LoginSucceeded(ctx, u.ID); err != nil {
			return nil, protocol.Internal(err)
		}
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	expires := time.Now().Add(pol.SessionMax).UnixMilli()
	detail := map[string]any{"mfa": mfa}
	if mfa == "" {
		detail["mfa"] = "none"
	}
	rctx := store.WithAudit(ctx, append(also, signInEntry(ip, "login.ok", u, store.OutcomeOK, detail))...)
	if err := a.store.CreateSessionFrom(rctx, HashToken(token), u.ID, expires, mfa, ip); errors.Is(err, model.ErrLimit) {
		a.log.Warn("sign-in refused: sessions per user limit reached", "user", u.ID, "ip", ip)
		return nil, protocol.Errorf(protocol.CodeLimitReached, "Not signed in: %s.", model.ReasonOf(err, "you are signed in on as many browsers or devices as your practice allows"))
	} else if err != nil {
		return nil, protocol.Internal(err)
	}
	a.log.Info("login", "user", u.ID, "ip", ip, "mfa", mfa)
	return &LoginResponse{Token: token, User: u, ExpiresAt: expires, Confirmed: mfa}, nil
}

var errRateLimited = protocol.Errorf(protocol.CodeRateLimited, "too many sign-in attempts from this address; wait a minute and try again")

// TokenFrom returns the session token a request carries: a Bearer
// Authorization header (programs) or the session cookie (browsers).
func TokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

var errNoSession = protocol.Errorf(protocol.CodeUnauthorized, "sign in first: the session is missing, expired or ended")

// Authenticate returns the request's session, or an unauthorized error.
func (a *Auth) Authenticate(r *http.Request) (*Session, error) {
	token := TokenFrom(r)
	if token == "" || len(token) > 128 {
		return nil, errNoSession
	}
	ctx := r.Context()
	ss, err := a.store.SessionByHash(ctx, HashToken(token))
	if errors.Is(err, model.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, protocol.Internal(err)
	}
	now := time.Now().UnixMilli()
	if ss.ExpiresAt <= now || ss.LastUsed+pol.SessionIdle.Milliseconds() <= now || ss.User.State != model.StateActive {
		a.store.DeleteSession(ctx, ss.TokenHash)
		return nil, errNoSession
	}
	if now-ss.LastUsed > touchEvery.Milliseconds() {
		// On a full disk the last-used time is not worth refusing a
		// request for: an administrator must still reach the console
		// that says the disk is full. The store counts the refusal.
		if err := a.store.TouchSession(ctx, ss.TokenHash, now); err != nil && !errors.Is(err, model.ErrStorageFull) {
			return nil, protocol.Internal(err)
		}
	}
	sess := &Session{Session: ss, Token: token}
	if ss.MFA == "" && pol.MFARequiredFor(ss.User) {
		m, err := a.store.MFAStatusOf(ctx, ss.User.ID)
		if err != nil {
			return nil, protocol.Internal(err)
		}
		sess.EnrollmentRequired = !m.Has()
	}
	return sess, nil
}

// Logout ends the request's session.
func (a *Auth) Logout(r *http.Request) error {
	return a.logoutWith(r.Context(), r)
}

// logoutWith ends the request's session with ctx, which may carry the
// sign-out's audit entry.
func (a *Auth) logoutWith(ctx context.Context, r *http.Request) error {
	token := TokenFrom(r)
	if token == "" {
		return nil
	}
	return a.store.DeleteSession(ctx, HashToken(token))
}
