package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// ConvKind is the kind of a conversation.
type ConvKind int

// Conversation kinds. The kind and its members are encoded in the
// conversation id itself, so the relay can authorise a message without a
// conversations table:
//
//	direct     "d:<lower user id>:<higher user id>"
//	group      "g:<group id>"
//	broadcast  "b:<owner user id>:<token>"  (token: 1-64 of [A-Za-z0-9_-])
const (
	Direct ConvKind = iota + 1
	Group
	Broadcast
)

// Conv is a parsed conversation id.
type Conv struct {
	Kind  ConvKind
	A, B  int64  // direct: the two users, A < B
	Group int64  // group: the group id
	Owner int64  // broadcast: the user who broadcasts
	Token string // broadcast: distinguishes one owner's broadcasts
}

// DirectConv returns the conversation id of the direct conversation between
// two users.
func DirectConv(a, b int64) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("d:%d:%d", a, b)
}

// GroupConv returns the conversation id of a group.
func GroupConv(group int64) string { return fmt.Sprintf("g:%d", group) }

// BroadcastConv returns the conversation id of one of owner's broadcasts.
func BroadcastConv(owner int64, token string) string { return fmt.Sprintf("b:%d:%s", owner, token) }

// ParseConv parses and validates a conversation id.
func ParseConv(s string) (Conv, error) {
	bad := func(why string) (Conv, error) {
		return Conv{}, Errorf(CodeBadEnvelope, "conversation id %q: %s", truncate(s, MaxConvLen), why)
	}
	if len(s) == 0 || len(s) > MaxConvLen {
		return bad(fmt.Sprintf("must be 1-%d characters", MaxConvLen))
	}
	parts := strings.Split(s, ":")
	id := func(p string) (int64, bool) {
		n, err := strconv.ParseInt(p, 10, 64)
		return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == p
	}
	switch parts[0] {
	case "d":
		if len(parts) != 3 {
			return bad("want d:<user>:<user>")
		}
		a, ok1 := id(parts[1])
		b, ok2 := id(parts[2])
		if !ok1 || !ok2 || a >= b {
			return bad("want two distinct user ids, lower first")
		}
		return Conv{Kind: Direct, A: a, B: b}, nil
	case "g":
		if len(parts) != 2 {
			return bad("want g:<group>")
		}
		g, ok := id(parts[1])
		if !ok {
			return bad("bad group id")
		}
		return Conv{Kind: Group, Group: g}, nil
	case "b":
		if len(parts) != 3 {
			return bad("want b:<owner>:<token>")
		}
		o, ok := id(parts[1])
		if !ok {
			return bad("bad owner id")
		}
		if !validToken(parts[2]) {
			return bad("token must be 1-64 of A-Z a-z 0-9 _ -")
		}
		return Conv{Kind: Broadcast, Owner: o, Token: parts[2]}, nil
	}
	return bad("unknown kind (want d:, g: or b:)")
}

func validToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	return idChars(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
