package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/curbside-health/curbside/model"
)

func runPolicy(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "set") {
		return usagef("usage: curbside policy show | policy set KEY=VALUE... (keys: %s)", strings.Join(model.PolicyKeys(), ", "))
	}
	fs := newFlagSet(env, "policy "+args[0])
	data := dataFlag(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "set" {
		if fs.NArg() == 0 {
			return usagef("policy set needs KEY=VALUE arguments")
		}
		kv := map[string]string{}
		for _, a := range fs.Args() {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return usagef("policy set: %q is not KEY=VALUE", a)
			}
			kv[k] = v
		}
		old, err := st.LoadPolicy(ctx)
		if err != nil {
			return err
		}
		next := old
		changes := map[string]any{}
		for k, v := range kv {
			if err := next.Set(k, v); err != nil {
				return err
			}
			from, _ := old.Get(k)
			to, _ := next.Get(k)
			if from != to {
				changes[k] = map[string]string{"from": from, "to": to}
			}
		}
		if err := st.SetPolicy(operatorRecord(ctx, "policy.update", "policy", changes), kv); err != nil {
			return err
		}
	}
	p, err := st.LoadPolicy(ctx)
	if err != nil {
		return err
	}
	for _, k := range model.PolicyKeys() {
		v, _ := p.Get(k)
		fmt.Fprintf(env.Stdout, "%s=%s\n", k, v)
	}
	return nil
}
