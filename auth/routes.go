package auth

import "github.com/curbside-health/curbside/internal/web"

// Routes lists the sign-in routes and the signed-in user's own second
// factors. Those stay open to a session that must still set up a second
// factor (Enrolling): it is how such a session gets one.
func (a *Auth) Routes() []web.Route {
	return []web.Route{
		{Pattern: "POST /api/v1/login", Access: web.Public, Func: a.login},
		{Pattern: "POST /api/v1/login/challenge", Access: web.Public, Func: a.loginChallenge},
		{Pattern: "POST /api/v1/logout", Access: web.Public, Func: a.logout},
		{Pattern: "POST /api/v1/login/mfa", Access: web.Public, Func: a.loginMFA},
		{Pattern: "POST /api/v1/login/passkey/begin", Access: web.Public, Func: a.loginPasskeyBegin},
		{Pattern: "POST /api/v1/login/passkey/finish", Access: web.Public, Func: a.loginPasskeyFinish},
		{Pattern: "GET /api/v1/me/mfa", Access: web.Enrolling, Func: a.meMFA},
		{Pattern: "POST /api/v1/me/mfa/totp", Access: web.Enrolling, Func: a.totpBegin},
		{Pattern: "POST /api/v1/me/mfa/totp/confirm", Access: web.Enrolling, Func: a.totpConfirm},
		{Pattern: "DELETE /api/v1/me/mfa/totp", Access: web.Enrolling, Func: a.totpRemove},
		{Pattern: "POST /api/v1/me/mfa/recovery", Access: web.Enrolling, Func: a.recoveryRenew},
		{Pattern: "POST /api/v1/me/passkeys/begin", Access: web.Enrolling, Func: a.passkeyAddBegin},
		{Pattern: "POST /api/v1/me/passkeys/finish", Access: web.Enrolling, Func: a.passkeyAddFinish},
		{Pattern: "GET /api/v1/me/passkeys", Access: web.Enrolling, Func: a.passkeyList},
		{Pattern: "DELETE /api/v1/me/passkeys/{id}", Access: web.Enrolling, Func: a.passkeyRemove},
	}
}
