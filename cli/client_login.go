package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/curbside-health/curbside/client"
)

// loginRequest is what `client login` was asked to do.
type loginRequest struct {
	cf         clientFlags
	server     string
	username   string
	deviceName string
	force      bool
	pq         bool
}

// clientLogin signs in, registers this device with keys made here, and
// writes the new state file.
func clientLogin(ctx context.Context, env *Env, args []string) error {
	req, err := parseLogin(env, args)
	if err != nil {
		return err
	}
	if err := checkStateFree(req.cf.state, req.force); err != nil {
		return err
	}
	password, err := readLoginPassword(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, req.cf.timeout)
	defer cancel()
	c, err := client.Login(ctx, req.server, req.username, password, req.deviceName, client.WithKeyChangeHandler(keyChangeWarner(env, req.cf.state)), client.WithPostQuantum(req.pq))
	if err != nil {
		return explain(err, req.cf.state)
	}
	if err := c.Save(req.cf.state); err != nil {
		return err
	}
	u := c.User()
	out := map[string]any{"user": u.Username, "user_id": u.ID, "device": c.DeviceID(), "state": req.cf.state}
	if c.PendingByAdmin() {
		out["approval"] = "pending"
		fmt.Fprintf(env.Stderr, "curbside: you have no other device left, so your administrator must approve this one before it receives anything: ask them to open your account in the console, then run `curbside client devices --state %s` here to see the code to read to them\n", req.cf.state)
	} else if c.Pending() {
		out["approval"] = "pending"
		fmt.Fprintf(env.Stderr, "curbside: this device must be approved on one of your other devices before it receives anything: run `curbside client devices` there, then `curbside client devices --state %s` here to see the code to enter\n", req.cf.state)
	}
	return printJSON(env.Stdout, out)
}

// parseLogin parses and checks the flags of `client login`. The password
// has no flag on purpose: flags show in the process list.
func parseLogin(env *Env, args []string) (*loginRequest, error) {
	fs := newFlagSet(env, "client login")
	req := &loginRequest{}
	req.cf.register(fs)
	fs.StringVar(&req.server, "server", "", "the server's `URL`, like https://curbside.example.org (required)")
	fs.StringVar(&req.username, "username", "", "your `username` (required)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	fs.StringVar(&req.deviceName, "device-name", client.DefaultDeviceName(), "the `name` this device is shown under")
	fs.BoolVar(&req.force, "force", false, "replace an existing state file (its device stays registered)")
	fs.BoolVar(&req.pq, "post-quantum", false, "list an X-Wing key for this device, so that messages to it use the post-quantum suite when every recipient device lists one")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("client login takes no arguments; got %q", fs.Args())
	}
	if err := req.cf.check(); err != nil {
		return nil, err
	}
	switch {
	case req.server == "":
		return nil, usagef("--server URL is required, like --server https://curbside.example.org")
	case req.username == "":
		return nil, usagef("--username is required")
	case !*passwordStdin:
		return nil, usagef("pass the password on standard input with --password-stdin; it is not taken as a flag so it stays out of the process list")
	}
	return req, nil
}

// checkStateFree refuses to overwrite an existing state file unless forced,
// because the device it holds would be left registered with no keys here.
func checkStateFree(state string, force bool) error {
	if _, err := os.Stat(state); err == nil && !force {
		return fmt.Errorf("%s already holds a device's state: use another --state file, or --force to replace it (the old device stays registered until an administrator revokes it)", state)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// readLoginPassword reads the password from the first line of standard input.
func readLoginPassword(env *Env) (string, error) {
	password, err := readLine(env.Stdin)
	if err != nil {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if password == "" {
		return "", usagef("standard input has no password: pipe it in, like: printf '%%s\\n' \"$PASSWORD\" | curbside client login ... --password-stdin")
	}
	return password, nil
}

// clientSignIn signs the state file's device in again, after its session
// expired or was ended, proving the device's key, and saves the new
// session in the state file.
func clientSignIn(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client signin")
	var cf clientFlags
	cf.register(fs)
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client signin takes no arguments; got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	if !*passwordStdin {
		return usagef("pass the password on standard input with --password-stdin; it is not taken as a flag so it stays out of the process list")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	password, err := readLoginPassword(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := c.SignIn(ctx, password); err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	u := c.User()
	return printJSON(env.Stdout, map[string]any{"user": u.Username, "user_id": u.ID, "device": c.DeviceID(), "state": cf.state})
}
