package relay

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// typing passes "user is typing in conv" to the conversation's other
// participants who are connected, under the rules a message there
// follows: in a direct conversation the sender must be one of its two
// users and reach the other; in a group, a member, and it goes to the
// other members. It is never stored or queued: a device that is not
// connected, or whose buffer is full, misses it, as with presence.
func (r *Relay) typing(ctx context.Context, s *session, conv, ref string, release func()) {
	if !s.typingRate.Allow(time.Now(), time.Second/protocol.TypingPerSecond, protocol.TypingBurst) {
		s.reply(s.errorFrame(ref, protocol.Errorf(protocol.CodeRateLimited, "too many typing frames; send at most %d a second", protocol.TypingPerSecond)))
		return
	}
	to, err := r.typingTargets(ctx, s.user, conv)
	if err != nil {
		s.reply(s.errorFrame(ref, err))
		return
	}
	frame, _ := json.Marshal(protocol.Typing{Type: protocol.TTyping, User: s.user, Conv: conv, TS: time.Now().UnixMilli()})
	r.mu.RLock()
	for _, u := range to {
		for _, t := range r.byUser[u] {
			t.pushEphemeral(frame)
		}
	}
	r.mu.RUnlock()
	release()
}

// typingTargets returns the users a typing frame of user in conv goes to,
// or why it is refused.
func (r *Relay) typingTargets(ctx context.Context, user int64, conv string) ([]int64, error) {
	c, err := protocol.ParseConv(conv) // checked when the frame was decoded
	if err != nil {
		return nil, err
	}
	switch c.Kind {
	case protocol.Direct:
		if user != c.A && user != c.B {
			return nil, protocol.Errorf(protocol.CodeForbidden, "you are not in conversation %s", conv)
		}
		other := c.A + c.B - user
		if err := r.checkReach(ctx, user, []int64{other}); err != nil {
			return nil, err
		}
		return []int64{other}, nil
	case protocol.Group:
		members, err := r.dir.groupMembers(ctx, c.Group)
		if errors.Is(err, model.ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeForbidden, "you are not a member of group %d", c.Group)
		}
		if err != nil {
			return nil, err
		}
		if _, ok := slices.BinarySearch(members, user); !ok {
			return nil, protocol.Errorf(protocol.CodeForbidden, "you are not a member of group %d", c.Group)
		}
		return slices.DeleteFunc(slices.Clone(members), func(u int64) bool { return u == user }), nil
	}
	return nil, protocol.Errorf(protocol.CodeBadFrame, "typing is for direct and group conversations")
}
