package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// openStore opens the data directory's store for an operator command; it
// works whether or not the server is running (SQLite's WAL lets both write).
func openStore(ctx context.Context, dir string) (*store.Store, error) {
	return store.Open(ctx, dir, store.Options{})
}

// readPassword reads one line from r: the password, without its newline.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, auth.MaxPasswordBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("--password-stdin: standard input held no password")
	}
	return line, nil
}

func runUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: curbside user add|list|passwd|state|mfa-reset|careteam [flags]")
	}
	switch args[0] {
	case "add":
		return userAdd(ctx, env, args[1:])
	case "list":
		return userList(ctx, env, args[1:])
	case "passwd":
		return userPasswd(ctx, env, args[1:])
	case "state":
		return userState(ctx, env, args[1:])
	case "mfa-reset":
		return userMFAReset(ctx, env, args[1:])
	case "careteam":
		return userCareteam(ctx, env, args[1:])
	}
	return usagef("unknown user command %q (want add, list, passwd, state, mfa-reset or careteam)", args[0])
}

func userAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user add")
	data := dataFlag(fs)
	username := fs.String("username", "", "sign-in name (required)")
	display := fs.String("display", "", "full name shown to others (required)")
	role := fs.String("role", model.RoleStaff, "admin, staff, external or patient (admin also gives the console's admin level)")
	level := fs.String("admin", "", "console access: owner, admin or helpdesk (default: admin for --role admin, else none)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case !model.ValidUsername(*username):
		return usagef("--username: 1-64 characters of letters, digits, '.', '_', '-' or '@'")
	case strings.TrimSpace(*display) == "" || len(*display) > 100:
		return usagef("--display: the person's full name, 1-100 characters")
	case !model.ValidRole(*role):
		return usagef("--role %q: want admin, staff, external or patient", *role)
	case model.LevelRank(*level) < 0:
		return usagef("--admin %q: want owner, admin or helpdesk", *level)
	case !*pwStdin:
		return usagef("--password-stdin is required: passwords are never taken as arguments, which other users can see")
	}
	pw, st, err := passwordAndStore(ctx, env, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	hash, err := newPasswordHash(ctx, st, pw)
	if err != nil {
		return err
	}
	u := &model.User{Username: *username, Display: strings.TrimSpace(*display), Role: *role, State: model.StateActive, AdminLevel: *level, PasswordHash: hash}
	rec := operatorEntry("user.create", "", map[string]any{"username": u.Username, "role": u.Role})
	rec.Complete = func(p *store.Pending) {
		p.Entry.Target = userTarget(u)
		p.Detail["admin_level"] = u.AdminLevel // as CreateUser stored it
	}
	if err := st.CreateUser(store.WithAudit(ctx, rec), u); err != nil {
		if errors.Is(err, model.ErrExists) {
			return fmt.Errorf("a user named %q already exists", *username)
		}
		return err
	}
	if u.AdminLevel != "" {
		fmt.Fprintf(env.Stdout, "created user %s (id %d, role %s, console level %s)\n", u.Username, u.ID, u.Role, u.AdminLevel)
	} else {
		fmt.Fprintf(env.Stdout, "created user %s (id %d, role %s)\n", u.Username, u.ID, u.Role)
	}
	return nil
}

// passwordAndStore reads a password from standard input and then opens the
// store, for the commands that set one.
func passwordAndStore(ctx context.Context, env *Env, data string) (string, *store.Store, error) {
	pw, err := readPassword(env.Stdin)
	if err != nil {
		return "", nil, err
	}
	st, err := openStore(ctx, data)
	if err != nil {
		return "", nil, err
	}
	return pw, st, nil
}

// newPasswordHash checks a new password against the stored policy and
// hashes it.
func newPasswordHash(ctx context.Context, st *store.Store, pw string) (string, error) {
	pol, err := st.LoadPolicy(ctx)
	if err != nil {
		return "", err
	}
	if err := auth.CheckNewPassword(pw, &pol); err != nil {
		return "", err
	}
	return auth.HashPassword(pw)
}

func userList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user list")
	data := dataFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.SearchUsers(ctx, "", 1<<30)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, u := range users {
			enc.Encode(u)
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tDISPLAY\tROLE\tSTATE\tCONSOLE")
	for _, u := range users {
		lv := u.AdminLevel
		if lv == "" {
			lv = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Display, u.Role, u.State, lv)
	}
	return tw.Flush()
}

func userPasswd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user passwd")
	data := dataFlag(fs)
	username := fs.String("username", "", "the user (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the new password from standard input (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || !*pwStdin {
		return usagef("usage: curbside user passwd --username NAME --password-stdin")
	}
	pw, err := readPassword(env.Stdin)
	if err != nil {
		return err
	}
	st, u, err := storeAndUser(ctx, *data, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	hash, err := newPasswordHash(ctx, st, pw)
	if err != nil {
		return err
	}
	// SetPassword notes the sessions it ended in the entry.
	ended, err := st.SetPassword(operatorRecord(ctx, "user.password_set", userTarget(u), nil), u.ID, hash)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "password of %s changed; %d session(s) ended\n", u.Username, ended)
	return nil
}

func userState(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user state")
	data := dataFlag(fs)
	username := fs.String("username", "", "the user (required)")
	state := fs.String("set", "", "active, locked or disabled (required); leaving active ends the user's sessions")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || !model.ValidState(*state) {
		return usagef("usage: curbside user state --username NAME --set active|locked|disabled")
	}
	st, u, err := storeAndUser(ctx, *data, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetUserState(operatorRecord(ctx, "user.state", userTarget(u), map[string]any{"from": u.State, "to": *state}), u.ID, *state); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "user %s is now %s\n", u.Username, *state)
	return nil
}
