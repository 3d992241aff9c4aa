package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/curbside-health/curbside/model"
)

func runGroup(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: curbside group add|members|show [flags]")
	}
	fs := newFlagSet(env, "group "+args[0])
	data := dataFlag(fs)
	name := fs.String("name", "", "the group's name (required)")
	add := fs.String("add", "", "members: comma-separated usernames to add")
	remove := fs.String("remove", "", "members: comma-separated usernames to remove")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || len(*name) > 64 {
		return usagef("--name: the group's name, 1-64 characters")
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "add":
		id, err := st.CreateGroup(ctx, strings.TrimSpace(*name))
		if errors.Is(err, model.ErrExists) {
			return fmt.Errorf("a group named %q already exists", *name)
		}
		if err != nil {
			return err
		}
		if err := operatorAudit(ctx, st, "group.create", fmt.Sprintf("group:%d", id), map[string]any{"name": *name}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "created group %s (id %d)\n", *name, id)
		if *add == "" {
			return nil
		}
		fallthrough
	case "members":
		g, err := st.GroupByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("group %q: %w", *name, err)
		}
		for _, change := range []struct {
			list string
			add  bool
		}{{*add, true}, {*remove, false}} {
			if change.list == "" {
				continue
			}
			var ids []int64
			for _, n := range strings.Split(change.list, ",") {
				u, err := st.UserByName(ctx, strings.TrimSpace(n))
				if err != nil {
					return fmt.Errorf("user %q: %w", n, err)
				}
				ids = append(ids, u.ID)
			}
			if err := st.SetGroupMembers(ctx, g.ID, ids, change.add); err != nil {
				return err
			}
			key := "removed"
			if change.add {
				key = "added"
			}
			if err := operatorAudit(ctx, st, "group.members", fmt.Sprintf("group:%d", g.ID), map[string]any{key: ids}); err != nil {
				return err
			}
		}
		fallthrough
	case "show":
		g, err := st.GroupByName(ctx, *name)
		if err != nil {
			return fmt.Errorf("group %q: %w", *name, err)
		}
		names := make([]string, len(g.Members))
		for i, m := range g.Members {
			names[i] = m.Username
		}
		fmt.Fprintf(env.Stdout, "group %s (id %d): %s\n", g.Name, g.ID, strings.Join(names, ", "))
		return nil
	}
	return usagef("unknown group command %q (want add, members or show)", args[0])
}
