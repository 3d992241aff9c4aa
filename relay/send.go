package relay

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"

	"slices"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// devicesChanged is the error for an envelope whose recipients' devices are
// not the ones the server holds active: the client refetches those users'
// keys, seals again and resends.
type devicesChanged struct {
	devices map[string][]int64
}

func (e *devicesChanged) Error() string {
	return "the recipients' devices changed; fetch their keys again and reseal"
}

// send authorises an envelope and submits it; the reply is written when the
// store has committed it.
func (r *Relay) send(ctx context.Context, s *session, env *protocol.Envelope, raw []byte, ref string) {
	m, pairs, err := r.authorise(ctx, s, env, raw)
	var dc *devicesChanged
	if errors.As(err, &dc) {
		// A resend of a message accepted before the devices changed is
		// still a duplicate, not a new message to reseal.
		sum := sha256.Sum256(raw)
		if ts, ok, lerr := r.store.Accepted(ctx, env.ID, s.user, sum[:]); lerr == nil && ok {
			b, _ := json.Marshal(protocol.Accepted{Type: protocol.TAccepted, ID: env.ID, TS: ts, Dup: true})
			s.reply(b)
			return
		}
	}
	if err != nil {
		s.reply(s.errorFrame(ref, err))
		return
	}
	err = r.store.AcceptAsync(ctx, m, func(res model.AcceptResult, err error) {
		if err != nil {
			s.reply(s.errorFrame(ref, err))
			return
		}
		r.pres.addPairs(pairs)
		if r.waker != nil && !res.Dup {
			r.waker.offer(env)
		}
		b, _ := json.Marshal(protocol.Accepted{Type: protocol.TAccepted, ID: env.ID, TS: res.TS, Dup: res.Dup})
		s.reply(b)
	})
	if err != nil {
		s.reply(s.errorFrame(ref, err))
	}
}

// authorise checks that the session may send env: it comes from the
// session's own device, its conversation admits the sender and every
// recipient, and it is sealed to exactly the active devices of each
// recipient and of the sender's other devices.
func (r *Relay) authorise(ctx context.Context, s *session, env *protocol.Envelope, raw []byte) (*model.NewMessage, [][2]int64, error) {
	forbid := func(format string, a ...any) error { return protocol.Errorf(protocol.CodeForbidden, format, a...) }
	if env.V != protocol.EnvelopeVersion {
		// Version 1 envelopes still parse, for the clients that open those
		// queued before the upgrade; a new one is taken from no one.
		return nil, nil, protocol.Errorf(protocol.CodeUpdateRequired, "%s", protocol.CodeUpdateRequired.Message())
	}
	if env.From.User != s.user || env.From.Device != s.device {
		return nil, nil, forbid("from must be this session's user %d and device %d", s.user, s.device)
	}
	if st, err := r.dir.userState(ctx, s.user); err != nil && !errors.Is(err, model.ErrNotFound) {
		return nil, nil, err
	} else if st != model.StateActive {
		// The connection is about to be closed; nothing more is taken.
		return nil, nil, protocol.Errorf(protocol.CodeUnauthorized, "your account is no longer active; sign in again")
	}
	conv, _ := protocol.ParseConv(env.Conv) // validated with the envelope
	recipients := env.RecipientUsers()
	switch conv.Kind {
	case protocol.Direct:
		if s.user != conv.A && s.user != conv.B {
			return nil, nil, forbid("you are not in conversation %s", env.Conv)
		}
		other := conv.A + conv.B - s.user
		if len(recipients) != 1 || recipients[0] != other {
			return nil, nil, forbid("a direct message in %s goes to user %d only", env.Conv, other)
		}
		// Reach first: whether someone is active is told only to those who
		// may reach them.
		if err := r.checkReach(ctx, s.user, recipients); err != nil {
			return nil, nil, err
		}
		if err := r.checkActive(ctx, other); err != nil {
			return nil, nil, err
		}
	case protocol.Group:
		members, err := r.dir.groupMembers(ctx, conv.Group)
		if errors.Is(err, model.ErrNotFound) {
			return nil, nil, protocol.Errorf(protocol.CodeNotFound, "no group %d", conv.Group)
		}
		if err != nil {
			return nil, nil, err
		}
		if _, ok := slices.BinarySearch(members, s.user); !ok {
			return nil, nil, forbid("you are not a member of group %d", conv.Group)
		}
		// Every member with a device must get the message.
		want := make([]int64, 0, len(members))
		for _, u := range members {
			if u != s.user {
				want = append(want, u)
			}
		}
		for _, u := range recipients {
			if _, ok := slices.BinarySearch(members, u); !ok {
				return nil, nil, forbid("user %d is not a member of group %d", u, conv.Group)
			}
		}
		if err := r.checkAllSealed(ctx, env, want); err != nil {
			return nil, nil, err
		}
	case protocol.Broadcast:
		if s.user != conv.Owner {
			// A reply to a broadcast goes to its owner only.
			if len(recipients) != 1 || recipients[0] != conv.Owner {
				return nil, nil, forbid("a reply in broadcast %s goes to its sender, user %d, only", env.Conv, conv.Owner)
			}
		}
		if err := r.checkReach(ctx, s.user, recipients); err != nil {
			return nil, nil, err
		}
		if s.user != conv.Owner {
			if err := r.checkActive(ctx, conv.Owner); err != nil {
				return nil, nil, err
			}
		}
	}
	deliver, err := r.checkDevices(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	pol, err := r.dir.loadPolicy(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := r.checkFlags(ctx, s.user, env.Flags, pol); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(raw)
	m := &model.NewMessage{
		Env: env, Raw: raw, Digest: sum[:], Recipients: recipients, Deliver: deliver,
		ExpiresAt: time.Now().Add(pol.Retention).UnixMilli(), MaxQueued: pol.QueueMaxPerDevice,
	}
	pairs := r.pres.newPairs(s.user, recipients)
	m.Contacts = pairs
	return m, pairs, nil
}

// checkActive refuses a message to a user who is not in the active state
// (disabled or locked): such a user's devices are sent nothing, and the
// sender is told so rather than told it was delivered. A group's inactive
// members are left out instead (activeDevices lists no device of theirs),
// so the rest of the group is still reached.
func (r *Relay) checkActive(ctx context.Context, user int64) error {
	st, err := r.dir.userState(ctx, user)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no user %d", user)
	}
	if err != nil {
		return err
	}
	if st != model.StateActive {
		return protocol.Errorf(protocol.CodeRecipientInactive, "this person's account is %s, so they cannot receive messages now; ask your administrator", st)
	}
	return nil
}

// checkDevices verifies that, for every user the envelope names, its keys
// cover exactly that user's active devices (for the sender: all but the
// sending device), and returns the devices to queue it for.
func (r *Relay) checkDevices(ctx context.Context, env *protocol.Envelope) ([]int64, error) {
	byUser := map[int64][]int64{}
	for _, k := range env.Keys {
		byUser[k.User] = append(byUser[k.User], k.Device)
	}
	// The sender's other devices get a copy, so its history is the same on
	// every device; that holds even when the envelope names no sender key.
	if _, ok := byUser[env.From.User]; !ok {
		byUser[env.From.User] = nil
	}
	changed := map[string][]int64{}
	deliver := make([]int64, 0, len(env.Keys))
	for u, got := range byUser {
		active, err := r.dir.activeDevices(ctx, u)
		if err != nil {
			return nil, err
		}
		want := active
		if u == env.From.User {
			want = slices.DeleteFunc(slices.Clone(active), func(d int64) bool { return d == env.From.Device })
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			if len(active) == 0 && u != env.From.User {
				if _, err := r.store.UserByID(ctx, u); errors.Is(err, model.ErrNotFound) {
					return nil, protocol.Errorf(protocol.CodeNotFound, "no user %d", u)
				}
			}
			changed[strconv.FormatInt(u, 10)] = active
			continue
		}
		deliver = append(deliver, got...)
	}
	if len(changed) > 0 {
		return nil, &devicesChanged{devices: changed}
	}
	return deliver, nil
}

// checkAllSealed reports devicesChanged for any user in want that has
// active devices but no key in the envelope.
func (r *Relay) checkAllSealed(ctx context.Context, env *protocol.Envelope, want []int64) error {
	have := map[int64]bool{}
	for _, k := range env.Keys {
		have[k.User] = true
	}
	changed := map[string][]int64{}
	for _, u := range want {
		if have[u] {
			continue
		}
		active, err := r.dir.activeDevices(ctx, u)
		if err != nil {
			return err
		}
		if len(active) > 0 {
			changed[strconv.FormatInt(u, 10)] = active
		}
	}
	if len(changed) > 0 {
		return &devicesChanged{devices: changed}
	}
	return nil
}
