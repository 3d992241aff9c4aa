package cli

import "context"

// clientSafety prints the safety number this user shares with another,
// for the two to compare out of band. It saves the state file because
// fetching the device lists may pin keys this device had not seen.
func clientSafety(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client safety")
	var cf clientFlags
	cf.register(fs)
	user := fs.String("user", "", "the other user's `username` (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	u, err := c.UserByName(ctx, *user)
	if err != nil {
		return explain(err, cf.state)
	}
	n, err := c.SafetyNumber(ctx, u.ID)
	if err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"user": u.Username, "safety_number": n})
}
