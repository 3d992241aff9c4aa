package auth

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/internal/ratelimit"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// A step-up is a signed-in administrator proving again, for one grave
// action, that they hold their second factor: a code from their
// authenticator app or one of their recovery codes, given with the request
// that does the action. A stolen console cookie alone cannot do it.

// Step-up attempts: a few wrong codes, then one more a minute, per user.
const (
	stepUpBurst = 5
	stepUpEvery = time.Minute
)

func newStepUpLimiter() *ratelimit.Keyed {
	return ratelimit.New(stepUpEvery, stepUpBurst, maxLimiterKeys)
}

// StepUp checks code, a TOTP code or a recovery code of user (the signed-in
// administrator making request r), for one action, and says which it was
// ("totp" or "recovery"). A used code is spent: a TOTP code's step and a
// recovery code cannot serve twice; a recovery code's use is audited as
// mfa.recovery_used. It answers step_up_required when no code is given or
// the user has no second factor to give one with, code_not_accepted for a
// wrong one, and rate_limited after too many.
func (a *Auth) StepUp(r *http.Request, user int64, code string) (method string, err error) {
	ctx := r.Context()
	code = normCode(code)
	if code == "" {
		return "", protocol.CodeStepUpRequired.Err()
	}
	if len(code) > 64 {
		return "", protocol.Errorf(protocol.CodeBadRequest, "the code is too long")
	}
	m, err := a.store.MFAStatusOf(ctx, user)
	if err != nil {
		return "", protocol.Internal(err)
	}
	if !m.TOTP && m.RecoveryLeft == 0 {
		return "", protocol.CodeStepUpRequired.Err()
	}
	refund, ok := a.stepUps.Reserve(strconv.FormatInt(user, 10), a.Now())
	if !ok {
		a.log.Warn("step-up refused: too many wrong codes", "user", user)
		return "", protocol.CodeRateLimited.Err()
	}
	var good bool
	method = "totp"
	if isSixDigits(code) {
		good, err = a.checkTOTP(ctx, user, code)
	} else {
		method = "recovery"
		used := store.WithAudit(ctx, Entry(r, "mfa.recovery_used", UserTarget(user), map[string]any{"for": "step_up"}))
		_, err = a.store.UseRecoveryCode(used, user, recoveryHash(code))
		good = err == nil
		if errors.Is(err, model.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return "", protocol.Internal(err)
	}
	if !good {
		return "", protocol.CodeCodeNotAccepted.Err()
	}
	refund()
	return method, nil
}
