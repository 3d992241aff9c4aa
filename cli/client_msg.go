package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// The commands in this file are about one message already sent, named by
// --msg; each runs over one connection that withConn opens and closes.

// msgFlag registers --msg, the id of the message a command is about.
func msgFlag(fs *flag.FlagSet) *string {
	return fs.String("msg", "", "the message `id` (required)")
}

// checkMsg refuses a --msg that cannot be a message id before anything
// goes to the server.
func checkMsg(id string) error {
	if !protocol.ValidID(id) {
		return usagef("--msg must be a message id (16-64 of A-Z a-z 0-9 _ -)")
	}
	return nil
}

// parseMsgCommand parses the flags of a command about one message: the
// client's flags, --msg, and any more that more registers.
func parseMsgCommand(env *Env, name string, args []string, more func(*flag.FlagSet)) (*clientFlags, *string, error) {
	fs := newFlagSet(env, "client "+name)
	cf := &clientFlags{}
	cf.register(fs)
	msg := msgFlag(fs)
	if more != nil {
		more(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	if err := cf.check(); err != nil {
		return nil, nil, err
	}
	if err := checkMsg(*msg); err != nil {
		return nil, nil, err
	}
	return cf, msg, nil
}

// clientReceipt tells the sender that a message was read or acknowledged.
func clientReceipt(ctx context.Context, env *Env, args []string) error {
	var kind, conv *string
	cf, msg, err := parseMsgCommand(env, "receipt", args, func(fs *flag.FlagSet) {
		kind = fs.String("kind", protocol.ReceiptRead, "read or acknowledged")
		conv = fs.String("conv", "", "the message's conversation `id` (required: the receipt is signed over it)")
	})
	if err != nil {
		return err
	}
	if *kind != protocol.ReceiptRead && *kind != protocol.ReceiptAcknowledged {
		return usagef("--kind must be read or acknowledged")
	}
	if _, err := protocol.ParseConv(*conv); err != nil {
		return usagef("--conv must be the message's conversation id (d:1:2, g:5, b:1:token)")
	}
	return withConn(ctx, env, cf, func(ctx context.Context, _ *client.Client, conn *client.Conn) error {
		if err := conn.Receipt(ctx, *msg, *conv, *kind); err != nil {
			return err
		}
		return printJSON(env.Stdout, map[string]any{"msg": *msg, "receipt": *kind})
	})
}

// clientRecall recalls a message this user sent.
func clientRecall(ctx context.Context, env *Env, args []string) error {
	cf, msg, err := parseMsgCommand(env, "recall", args, nil)
	if err != nil {
		return err
	}
	return withConn(ctx, env, cf, func(ctx context.Context, _ *client.Client, conn *client.Conn) error {
		// The recall is signed over the message's conversation, which the
		// sender's details give (recipients check it against their copy).
		before, err := conn.Details(ctx, *msg)
		if err != nil {
			return err
		}
		if err := conn.Recall(ctx, *msg, before.Conv); err != nil {
			return err
		}
		// Confirm from the server's own record rather than from silence.
		d, err := conn.Details(ctx, *msg)
		if err != nil {
			return fmt.Errorf("recall sent, but checking it failed: %w", err)
		}
		if !d.Recalled {
			return fmt.Errorf("the server does not show message %s as recalled", *msg)
		}
		return printJSON(env.Stdout, map[string]any{"msg": *msg, "recalled": true})
	})
}

// detailsOut is how `client details` prints a message's status.
type detailsOut struct {
	Msg          string         `json:"msg"`
	Conv         string         `json:"conv"`
	Created      string         `json:"created"`
	SentAt       string         `json:"sent_at"`
	AckRequested bool           `json:"ack_requested"`
	Recalled     bool           `json:"recalled"`
	Recipients   []recipientOut `json:"recipients"`
}

// recipientOut is how `client details` prints one recipient's progress.
type recipientOut struct {
	User         int64  `json:"user"`
	Username     string `json:"username,omitempty"`
	Delivered    string `json:"delivered,omitempty"`
	Read         string `json:"read,omitempty"`
	Acknowledged string `json:"acknowledged,omitempty"`
}

// clientDetails prints a sent message's delivery status, naming the
// recipients from the keys this device has pinned.
func clientDetails(ctx context.Context, env *Env, args []string) error {
	cf, msg, err := parseMsgCommand(env, "details", args, nil)
	if err != nil {
		return err
	}
	return withConn(ctx, env, cf, func(ctx context.Context, c *client.Client, conn *client.Conn) error {
		d, err := conn.Details(ctx, *msg)
		if err != nil {
			return err
		}
		out := detailsOut{Msg: d.Msg, Conv: d.Conv, Created: fmtMS(d.Created), SentAt: fmtMS(d.Sent),
			AckRequested: d.AckRequested, Recalled: d.Recalled, Recipients: []recipientOut{}}
		names := map[int64]string{}
		for _, p := range c.Pins() {
			names[p.User] = p.Username
		}
		for _, r := range d.Recipients {
			out.Recipients = append(out.Recipients, recipientOut{User: r.User, Username: names[r.User],
				Delivered: fmtMS(r.Delivered), Read: fmtMS(r.Read), Acknowledged: fmtMS(r.Acknowledged)})
		}
		return printJSON(env.Stdout, out)
	})
}
