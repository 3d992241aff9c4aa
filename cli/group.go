package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// groupFlags are the flags of every `curbside group` command.
type groupFlags struct {
	data   string
	name   string
	add    string // comma-separated usernames
	remove string // comma-separated usernames
}

// runGroup dispatches `curbside group add|members|show`. Each command does
// its own step and then the next one's: add creates the group and, given
// --add, sets members; members changes them; all end by showing the group.
func runGroup(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: curbside group add|members|show [flags]")
	}
	f, err := parseGroupFlags(env, args[0], args[1:])
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "add":
		if err := createGroup(ctx, env, st, f.name); err != nil {
			return err
		}
		if f.add == "" {
			return nil
		}
		fallthrough
	case "members":
		if err := changeGroupMembers(ctx, st, f); err != nil {
			return err
		}
		fallthrough
	case "show":
		return showGroup(ctx, env, st, f.name)
	}
	return usagef("unknown group command %q (want add, members or show)", args[0])
}

// parseGroupFlags parses the flags of group command cmd and checks --name.
func parseGroupFlags(env *Env, cmd string, args []string) (*groupFlags, error) {
	fs := newFlagSet(env, "group "+cmd)
	f := &groupFlags{}
	data := dataFlag(fs)
	fs.StringVar(&f.name, "name", "", "the group's name (required)")
	fs.StringVar(&f.add, "add", "", "members: comma-separated usernames to add")
	fs.StringVar(&f.remove, "remove", "", "members: comma-separated usernames to remove")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if strings.TrimSpace(f.name) == "" || len(f.name) > 64 {
		return nil, usagef("--name: the group's name, 1-64 characters")
	}
	f.data = *data
	return f, nil
}

// createGroup creates the group and audits it.
func createGroup(ctx context.Context, env *Env, st *store.Store, name string) error {
	rec := operatorEntry("group.create", "", nil)
	rec.Complete = func(p *store.Pending) { p.Entry.Target = fmt.Sprintf("group:%d", p.Result.(int64)) }
	id, err := st.CreateGroup(store.WithAudit(ctx, rec), strings.TrimSpace(name))
	if errors.Is(err, model.ErrExists) {
		return fmt.Errorf("a group named %q already exists", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "created group %s (id %d)\n", name, id)
	return nil
}

// changeGroupMembers adds the --add users to the group, then removes the
// --remove ones, auditing each change.
func changeGroupMembers(ctx context.Context, st *store.Store, f *groupFlags) error {
	g, err := st.GroupByName(ctx, f.name)
	if err != nil {
		return fmt.Errorf("group %q: %w", f.name, err)
	}
	for _, change := range []struct {
		list string
		add  bool
	}{{f.add, true}, {f.remove, false}} {
		if change.list == "" {
			continue
		}
		ids, err := userIDs(ctx, st, change.list)
		if err != nil {
			return err
		}
		key := "removed"
		if change.add {
			key = "added"
		}
		if err := st.SetGroupMembers(operatorRecord(ctx, "group.members", fmt.Sprintf("group:%d", g.ID), map[string]any{key: ids}), g.ID, ids, change.add); err != nil {
			return err
		}
	}
	return nil
}

// userIDs looks up the comma-separated usernames of list, failing on the
// first that does not exist so that no change is half made.
func userIDs(ctx context.Context, st *store.Store, list string) ([]int64, error) {
	var ids []int64
	for _, n := range strings.Split(list, ",") {
		u, err := st.UserByName(ctx, strings.TrimSpace(n))
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", n, err)
		}
		ids = append(ids, u.ID)
	}
	return ids, nil
}

// showGroup prints the group's name, id and members.
func showGroup(ctx context.Context, env *Env, st *store.Store, name string) error {
	g, err := st.GroupByName(ctx, name)
	if err != nil {
		return fmt.Errorf("group %q: %w", name, err)
	}
	names := make([]string, len(g.Members))
	for i, m := range g.Members {
		names[i] = m.Username
	}
	fmt.Fprintf(env.Stdout, "group %s (id %d): %s\n", g.Name, g.ID, strings.Join(names, ", "))
	return nil
}
