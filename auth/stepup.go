package auth

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/internal/ratelimit"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
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
// administrator), for one action. A used code is spent: a TOTP code's step
// and a recovery code cannot serve twice. It answers step_up_required when
// no code is given or the user has no second factor to give one with,
// code_not_accepted for a wrong one, and rate_limited after too many.
func (a *Auth) StepUp(ctx context.Context, user int64, code string) error {
	code = normCode(code)
	if code == "" {
		return protocol.CodeStepUpRequired.Err()
	}
	if len(code) > 64 {
		return protocol.Errorf(protocol.CodeBadRequest, "the code is too long")
	}
	m, err := a.store.MFAStatusOf(ctx, user)
	if err != nil {
		return protocol.Internal(err)
	}
	if !m.TOTP && m.RecoveryLeft == 0 {
		return protocol.CodeStepUpRequired.Err()
	}
	refund, ok := a.stepUps.Reserve(strconv.FormatInt(user, 10), a.Now())
	if !ok {
		a.log.Warn("step-up refused: too many wrong codes", "user", user)
		return protocol.CodeRateLimited.Err()
	}
	var good bool
	if isSixDigits(code) {
		good, err = a.checkTOTP(ctx, user, code)
	} else {
		_, err = a.store.UseRecoveryCode(ctx, user, recoveryHash(code))
		good = err == nil
		if errors.Is(err, model.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return protocol.Internal(err)
	}
	if !good {
		return protocol.CodeCodeNotAccepted.Err()
	}
	refund()
	return nil
}
