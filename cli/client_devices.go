package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/curbside-health/curbside/client"
)

// clientDevices lists the user's devices with their approval state. On a
// device that waits for approval it takes the next step of the exchange
// and shows the code to enter on the approving device; on an active
// device it answers every new request, so the new device can show its
// code, and lists the requests waiting. It saves the state file: both
// sides keep their nonces there.
func clientDevices(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client devices")
	var cf clientFlags
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client devices takes no arguments; got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	out := map[string]any{"device": c.DeviceID()}
	if c.Pending() {
		st, err := c.Approval(ctx)
		if errors.Is(err, client.ErrDenied) {
			return fmt.Errorf("%w\nthis state file's device will never be approved: delete %s", err, cf.state)
		}
		if err != nil {
			return explain(err, cf.state)
		}
		if err := c.Save(cf.state); err != nil {
			return err
		}
		if !st.Approved {
			out["state"] = "pending"
			if st.ByAdmin {
				out["approval"] = "admin"
			}
			switch {
			case st.Code != "" && st.ByAdmin:
				out["code"] = st.Code
				fmt.Fprintf(env.Stderr, "curbside: read code %s to your administrator, who types it in the console to approve this device\n", st.Code)
			case st.ByAdmin:
				fmt.Fprintln(env.Stderr, "curbside: you have no other device left, so your administrator approves this one: ask them to open your account in the console; a code appears here once they start")
			case st.Code != "":
				out["code"] = st.Code
				fmt.Fprintf(env.Stderr, "curbside: enter code %s on your other device: curbside client approve --state OTHER-FILE %s\n", st.Code, st.Code)
			default:
				fmt.Fprintln(env.Stderr, "curbside: this device waits for one of your other devices to answer; run `curbside client devices` on it, then here again")
			}
			return printJSON(env.Stdout, out)
		}
	}
	out["state"] = "active"
	reqs, err := c.DeviceRequests(ctx)
	if err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	devs, err := c.OwnDevices(ctx)
	if err != nil {
		return explain(err, cf.state)
	}
	list := make([]map[string]any, 0, len(devs)+len(reqs))
	for _, d := range devs {
		list = append(list, map[string]any{"id": d.ID, "name": d.Name, "state": d.State, "created": fmtMS(d.CreatedAt), "last_seen": fmtMS(d.LastSeen)})
	}
	for _, r := range reqs {
		e := map[string]any{"id": r.ID, "name": r.Name, "agent": r.Agent, "state": "pending", "created": fmtMS(r.CreatedAt)}
		switch {
		case r.Ready:
			e["approval"] = "ready: enter the code the new device shows with `curbside client approve`"
		case r.Answered:
			e["approval"] = "answered: the new device shows its code once it asks again"
		default:
			e["approval"] = "answered by another of your devices"
		}
		list = append(list, e)
		fmt.Fprintf(env.Stderr, "curbside: a new device wants to join your account: %q (%s); if it is not yours, deny it: curbside client deny --state %s %d\n", r.Name, r.Agent, cf.state, r.ID)
	}
	out["devices"] = list
	return printJSON(env.Stdout, out)
}

// clientApprove approves the waiting device that shows CODE, signing the
// account's device list with this device's key.
func clientApprove(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client approve")
	var cf clientFlags
	cf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("client approve takes the code the new device shows: curbside client approve --state FILE 123456")
	}
	if err := cf.check(); err != nil {
		return err
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	id, err := c.Approve(ctx, pos[0])
	if serr := c.Save(cf.state); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return explain(err, cf.state)
	}
	return printJSON(env.Stdout, map[string]any{"approved": id})
}

// clientDeny refuses a waiting device: its request is deleted.
func clientDeny(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client deny")
	var cf clientFlags
	cf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var id int64
	if len(pos) == 1 {
		id, err = strconv.ParseInt(pos[0], 10, 64)
	}
	if len(pos) != 1 || err != nil || id <= 0 {
		return usagef("client deny takes the id of the waiting device, as `client devices` lists it")
	}
	if err := cf.check(); err != nil {
		return err
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := c.Deny(ctx, id); err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"denied": id})
}
