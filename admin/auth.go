package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "curbside_session"

// Login rate limits: per client address, a burst of loginBurst attempts,
// then one per loginEvery. The per-account lockout of the policy is the
// second line, against slow distributed guessing.
const (
	loginBurst = 10
	loginEvery = 6 * time.Second
)

// touchEvery is how stale a session's last-used time may get before a
// request writes it again, so reads do not each cost a write.
const touchEvery = time.Minute

// Auth signs users in and authenticates requests.
type Auth struct {
	store *store.Store
	log   *slog.Logger

	mu       sync.Mutex
	limiters map[string]*limiterEntry
	// loginEvery and loginBurst shape the per-address limiter; tests slow
	// the refill so that slow machines cannot earn attempts back.
	loginEvery time.Duration
	loginBurst int
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewAuth returns an Auth over st.
func NewAuth(st *store.Store, log *slog.Logger) *Auth {
	return &Auth{store: st, log: log, limiters: map[string]*limiterEntry{}, loginEvery: loginEvery, loginBurst: loginBurst}
}

func (a *Auth) allowLogin(ip string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.limiters) > 10000 { // forget idle addresses; bounded memory
		for k, e := range a.limiters {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(a.limiters, k)
			}
		}
	}
	e := a.limiters[ip]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Every(a.loginEvery), a.loginBurst)}
		a.limiters[ip] = e
	}
	e.seen = now
	return e.lim.Allow()
}

// Session is an authenticated request's session.
type Session struct {
	*store.Session
	Token string
}

// HashToken returns the stored form of a session token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Web      bool   `json:"web,omitempty"` // a browser: the token goes in the cookie only
}

// LoginResponse is the body of a successful login.
type LoginResponse struct {
	Token     string      `json:"token,omitempty"`
	User      *store.User `json:"user"`
	ExpiresAt int64       `json:"expires_at"`
}

var errBadLogin = web.Errorf(http.StatusUnauthorized, protocol.CodeBadLogin, "wrong username or password")

// Login checks a username and password and starts a session.
func (a *Auth) Login(ctx context.Context, ip, username, password string) (*LoginResponse, error) {
	if !a.allowLogin(ip) {
		return nil, web.Errorf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many sign-in attempts from this address; wait a minute and try again")
	}
	if len(username) == 0 || len(username) > 64 || len(password) == 0 || len(password) > MaxPasswordBytes {
		return nil, errBadLogin
	}
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, web.Internal(err)
	}
	u, err := a.store.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		CheckPassword(dummyHash(), password)
		a.log.Info("login failed", "reason", "unknown user", "ip", ip)
		return nil, errBadLogin
	}
	if err != nil {
		return nil, web.Internal(err)
	}
	now := time.Now()
	if u.LockedUntil > now.UnixMilli() {
		a.log.Info("login refused", "reason", "lockout", "user", u.ID, "ip", ip)
		return nil, lockedOut(u.LockedUntil)
	}
	if u.PasswordHash == "" {
		// Imported or invited, with no password set yet: the invitation
		// link is the way in. It looks like any failed sign-in.
		CheckPassword(dummyHash(), password)
		a.log.Info("login failed", "reason", "no password set", "user", u.ID, "ip", ip)
		return nil, errBadLogin
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return nil, web.Internal(err)
	}
	if !ok {
		until, err := a.store.LoginFailed(ctx, u.ID, pol.LockoutThreshold, pol.LockoutCooldown.Milliseconds())
		if err != nil {
			return nil, web.Internal(err)
		}
		a.log.Info("login failed", "reason", "wrong password", "user", u.ID, "ip", ip)
		if until > 0 {
			return nil, lockedOut(until)
		}
		return nil, errBadLogin
	}
	if u.State != store.StateActive {
		a.log.Info("login refused", "reason", "account "+u.State, "user", u.ID, "ip", ip)
		return nil, web.Errorf(http.StatusLocked, protocol.CodeLocked, "this account is %s; ask your administrator", u.State)
	}
	if u.FailedLogins > 0 {
		if err := a.store.LoginSucceeded(ctx, u.ID); err != nil {
			return nil, web.Internal(err)
		}
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	expires := now.Add(pol.SessionMax).UnixMilli()
	if err := a.store.CreateSession(ctx, HashToken(token), u.ID, expires); err != nil {
		return nil, web.Internal(err)
	}
	a.log.Info("login", "user", u.ID, "ip", ip)
	return &LoginResponse{Token: token, User: u, ExpiresAt: expires}, nil
}

func lockedOut(until int64) error {
	mins := (time.Until(time.UnixMilli(until)) + time.Minute - 1) / time.Minute
	return web.Errorf(http.StatusLocked, protocol.CodeLocked, "too many failed sign-ins: this account is locked for %d more minute(s)", max(mins, 1))
}

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

var errNoSession = web.Errorf(http.StatusUnauthorized, protocol.CodeUnauthorized, "sign in first: the session is missing, expired or ended")

// Authenticate returns the request's session, or an unauthorized error.
func (a *Auth) Authenticate(r *http.Request) (*Session, error) {
	token := TokenFrom(r)
	if token == "" || len(token) > 128 {
		return nil, errNoSession
	}
	ctx := r.Context()
	ss, err := a.store.SessionByHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, web.Internal(err)
	}
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, web.Internal(err)
	}
	now := time.Now().UnixMilli()
	if ss.ExpiresAt <= now || ss.LastUsed+pol.SessionIdle.Milliseconds() <= now || ss.User.State != store.StateActive {
		a.store.DeleteSession(ctx, ss.TokenHash)
		return nil, errNoSession
	}
	if now-ss.LastUsed > touchEvery.Milliseconds() {
		if err := a.store.TouchSession(ctx, ss.TokenHash, now); err != nil {
			return nil, web.Internal(err)
		}
	}
	return &Session{Session: ss, Token: token}, nil
}

// Logout ends the request's session.
func (a *Auth) Logout(r *http.Request) error {
	token := TokenFrom(r)
	if token == "" {
		return nil
	}
	return a.store.DeleteSession(r.Context(), HashToken(token))
}

// Device authenticates a relay connection: the session must have registered
// a device. It implements relay.Authenticator.
func (a *Auth) Device(r *http.Request) (user, device int64, err error) {
	s, err := a.Authenticate(r)
	if err != nil {
		return 0, 0, err
	}
	if s.Device == 0 {
		return 0, 0, web.Errorf(http.StatusForbidden, protocol.CodeForbidden, "register a device (POST /api/v1/devices) before connecting to the relay")
	}
	return s.User.ID, s.Device, nil
}
