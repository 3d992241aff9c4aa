package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/curbside-health/curbside/store"
)

// userCareteam runs `curbside user careteam`: it shows, and with --add or
// --remove changes, the users and groups assigned to a user (a patient's
// care team). Items are usernames, or group:NAME for a group. A running
// server applies the change within a few seconds.
func userCareteam(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "user careteam")
	data := dataFlag(fs)
	username := fs.String("username", "", "whose care team (required)")
	add := fs.String("add", "", "comma-separated usernames, or group:NAME, to assign")
	remove := fs.String("remove", "", "comma-separated usernames, or group:NAME, to unassign")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("--username is required")
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(ctx, *username)
	if err != nil {
		return fmt.Errorf("user %q: %w", *username, err)
	}
	for _, change := range []struct {
		list   string
		add    bool
		action string
	}{{*add, true, "user.assign"}, {*remove, false, "user.unassign"}} {
		if change.list == "" {
			continue
		}
		for _, item := range strings.Split(change.list, ",") {
			kind, id, err := assignee(ctx, st, strings.TrimSpace(item))
			if err != nil {
				return err
			}
			rec := operatorRecord(ctx, change.action, userTarget(u), map[string]any{"kind": kind, "id": id})
			if change.add {
				err = st.Assign(rec, u.ID, kind, id)
			} else {
				err = st.Unassign(rec, u.ID, kind, id)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", item, err)
			}
		}
	}
	as, err := st.Assignments(ctx, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "care team of %s (%d):\n", u.Username, len(as))
	for _, a := range as {
		if a.Kind == store.AssignGroup {
			fmt.Fprintf(env.Stdout, "  group:%s\n", a.Name)
		} else {
			fmt.Fprintf(env.Stdout, "  %s (%s, %s)\n", a.Name, a.Display, a.Role)
		}
	}
	return nil
}

// assignee resolves a username or group:NAME.
func assignee(ctx context.Context, st *store.Store, item string) (string, int64, error) {
	if name, ok := strings.CutPrefix(item, "group:"); ok {
		g, err := st.GroupByName(ctx, name)
		if err != nil {
			return "", 0, fmt.Errorf("group %q: %w", name, err)
		}
		return store.AssignGroup, g.ID, nil
	}
	u, err := st.UserByName(ctx, item)
	if err != nil {
		return "", 0, fmt.Errorf("user %q: %w", item, err)
	}
	return store.AssignUser, u.ID, nil
}
