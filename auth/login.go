package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// maxLoginBody bounds a sign-in request's body.
const maxLoginBody = 4 << 10

// writeLogin answers a finished sign-in the way POST /api/v1/login does:
// the session cookie always, and the token in the body only for programs.
func writeLogin(w http.ResponseWriter, r *http.Request, res *LoginResponse, webClient bool) error {
	if res.MFA != nil {
		return web.WriteJSON(w, http.StatusOK, map[string]any{"mfa": res.MFA})
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: res.Token, Path: "/",
		Expires:  time.UnixMilli(res.ExpiresAt),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: web.IsHTTPS(r),
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

func (a *Auth) loginMFA(w http.ResponseWriter, r *http.Request) error {
	var req mfaLoginRequest
	if err := web.DecodeJSON(w, r, maxCodeBody, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Code) == "" {
		return protocol.Errorf(protocol.CodeBadRequest, "enter the 6-digit code from your authenticator app, or a recovery code")
	}
	res, err := a.CompleteMFA(r.Context(), web.ClientIP(r), req.Token, req.Code)
	if err != nil {
		return err
	}
	return writeLogin(w, r, res, req.Web)
}

func (a *Auth) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := web.DecodeJSON(w, r, maxLoginBody, &req); err != nil {
		return err
	}
	res, err := a.LoginFrom(r.Context(), web.ClientIP(r), req.Username, req.Password, req.Device)
	if err != nil {
		return err
	}
	return writeLogin(w, r, res, req.Web)
}

func (a *Auth) logout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if t := TokenFrom(r); t != "" && len(t) <= 128 {
		if ss, err := a.store.SessionByHash(ctx, HashToken(t)); err == nil {
			ctx = store.WithAudit(ctx, signInEntry(web.ClientIP(r), "logout", ss.User, store.OutcomeOK, nil))
		}
	}
	if err := a.logoutWith(ctx, r); err != nil {
		return protocol.Internal(err)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: web.IsHTTPS(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
