package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// sendRequest is what `client send` was asked to do.
type sendRequest struct {
	cf      clientFlags
	to      string // comma-separated usernames; empty when group is set
	group   string
	id      string
	replyTo string
	ack     bool
	urgent  bool
	text    string
}

// sendOut is how `client send` prints the server's acceptance.
type sendOut struct {
	ID     string `json:"id"`
	SentAt string `json:"sent_at"`
	Dup    bool   `json:"dup,omitempty"` // the server had accepted this id before
}

// clientSend sends one end-to-end-encrypted message and prints the
// server's acceptance.
func clientSend(ctx context.Context, env *Env, args []string) error {
	req, err := parseSend(env, args)
	if err != nil {
		return err
	}
	c, err := req.cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, req.cf.timeout)
	defer cancel()
	out, err := req.outgoing(ctx, c)
	if err != nil {
		return err
	}
	acc, err := deliver(ctx, c, out, req.cf.state)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, sendOut{ID: acc.ID, SentAt: fmtTime(acc.SentAt), Dup: acc.Dup})
}

// parseSend parses the flags and text of `client send` and checks them
// before anything touches the state file or the network.
func parseSend(env *Env, args []string) (*sendRequest, error) {
	fs := newFlagSet(env, "client send")
	req := &sendRequest{}
	req.cf.register(fs)
	fs.StringVar(&req.to, "to", "", "recipient `usernames`, comma-separated: one is a direct message, several a broadcast")
	fs.StringVar(&req.group, "group", "", "send to the group with this `name` (one you belong to) instead of --to")
	fs.StringVar(&req.id, "id", "", "the message `id` (16-64 of A-Z a-z 0-9 _ -); resending the same id is idempotent")
	fs.BoolVar(&req.ack, "ack", false, "ask each recipient to acknowledge the message")
	fs.BoolVar(&req.urgent, "urgent", false, "mark the message urgent")
	fs.StringVar(&req.replyTo, "reply-to", "", "the `id` of the message this one answers")
	fromStdin := fs.Bool("stdin", false, "read the text from standard input instead of the arguments (keeps it out of the process list)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if err := req.cf.check(); err != nil {
		return nil, err
	}
	if req.text, err = sendText(env, pos, *fromStdin); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	return req, nil
}

// sendText is the message text: the positional arguments joined by
// spaces, or standard input without its trailing line ending.
func sendText(env *Env, pos []string, fromStdin bool) (string, error) {
	switch {
	case fromStdin && len(pos) > 0:
		return "", usagef("give the text as arguments or with --stdin, not both")
	case fromStdin:
		// Reading one byte past the limit keeps an over-long text over
		// the limit, so it is refused later instead of silently cut short.
		b, err := io.ReadAll(io.LimitReader(env.Stdin, protocol.MaxBodyBytes+1))
		if err != nil {
			return "", fmt.Errorf("reading the text from standard input: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return strings.Join(pos, " "), nil
}

// check reports the first thing wrong with the request as a usage error.
func (req *sendRequest) check() error {
	switch {
	case req.text == "":
		return usagef("no message text: give it as the last argument, like: curbside client send --state FILE --to bob \"Room 4 is ready\"")
	case req.to == "" && req.group == "":
		return usagef("say who to send to: --to USER[,USER...] or --group NAME")
	case req.to != "" && req.group != "":
		return usagef("use --to or --group, not both")
	case req.id != "" && !protocol.ValidID(req.id):
		return usagef("--id must be %d-%d characters of A-Z a-z 0-9 _ -", protocol.MinIDLen, protocol.MaxIDLen)
	case req.replyTo != "" && !protocol.ValidID(req.replyTo):
		return usagef("--reply-to must be a message id")
	}
	return nil
}

// outgoing builds the message to send, looking up its recipients by name.
func (req *sendRequest) outgoing(ctx context.Context, c *client.Client) (client.Outgoing, error) {
	out := client.Outgoing{ID: req.id, Text: req.text, ReplyTo: req.replyTo}
	if req.ack {
		out.Flags |= protocol.FlagAckRequested
	}
	if req.urgent {
		out.Flags |= protocol.FlagUrgent
	}
	var err error
	if req.group != "" {
		out.Conv, out.To, err = req.groupRecipients(ctx, c)
	} else {
		out.To, err = req.userRecipients(ctx, c)
	}
	return out, err
}

// groupRecipients resolves --group to its conversation and the members
// other than this user; this user's other devices get a copy anyway.
func (req *sendRequest) groupRecipients(ctx context.Context, c *client.Client) (string, []int64, error) {
	g, err := c.GroupByName(ctx, req.group)
	if err != nil {
		return "", nil, explain(err, req.cf.state)
	}
	var to []int64
	for _, m := range g.Members {
		if m.ID != c.User().ID {
			to = append(to, m.ID)
		}
	}
	if len(to) == 0 {
		return "", nil, fmt.Errorf("group %q has no members besides you", req.group)
	}
	return protocol.GroupConv(g.ID), to, nil
}

// userRecipients resolves the usernames of --to, ignoring blanks and
// repeats, and refuses this user's own name.
func (req *sendRequest) userRecipients(ctx context.Context, c *client.Client) ([]int64, error) {
	var to []int64
	seen := map[string]bool{}
	for _, name := range strings.Split(req.to, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if name == c.User().Username {
			return nil, usagef("--to lists yourself (%s); your other devices get a copy of every message anyway", name)
		}
		u, err := c.UserByName(ctx, name)
		if err != nil {
			return nil, explain(err, req.cf.state)
		}
		to = append(to, u.ID)
	}
	if len(to) == 0 {
		return nil, usagef("--to names no users")
	}
	return to, nil
}

// deliver sends out over a connection of its own and saves the state file
// even when the send fails, because pinned keys learned on the way count.
func deliver(ctx context.Context, c *client.Client, out client.Outgoing, state string) (client.Accepted, error) {
	conn, err := c.Connect(ctx, client.Buffer(0))
	if err != nil {
		return client.Accepted{}, explain(err, state)
	}
	acc, sendErr := conn.Send(ctx, out)
	conn.Close()
	if err := c.Save(state); err != nil && sendErr == nil {
		sendErr = err
	}
	if sendErr != nil {
		return client.Accepted{}, explain(sendErr, state)
	}
	return acc, nil
}
