package cli

import (
	"context"
	"fmt"
)

// userMFAReset removes a user's second factors from the operator's shell:
// the way back in when the only owner has lost both the phone and the
// recovery codes, and so cannot reach the console that would reset them.
func userMFAReset(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user mfa-reset")
	data := dataFlag(fs)
	username := fs.String("username", "", "the user whose authenticator app, recovery codes and passkeys are removed (required); their sessions end")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("usage: curbside user mfa-reset --username NAME")
	}
	st, u, err := storeAndUser(ctx, *data, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	// ResetMFA notes what it removed and the sessions it ended.
	before, ended, err := st.ResetMFA(operatorRecord(ctx, "mfa.reset", userTarget(u), nil), u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed the second factors of %s (authenticator app: %v, passkeys: %d, unused recovery codes: %d); %d session(s) ended\n",
		u.Username, before.TOTP, before.Passkeys, before.RecoveryLeft, ended)
	return nil
}
