package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// recvMessage is how `client recv` prints a message.
type recvMessage struct {
	ID           string `json:"id"`
	Conv         string `json:"conv"`
	From         string `json:"from"`
	FromUser     int64  `json:"from_user"`
	FromDevice   int64  `json:"from_device"`
	Type         string `json:"type"`
	Text         string `json:"text"`
	ReplyTo      string `json:"reply_to,omitempty"`
	Created      string `json:"created"`
	SentAt       string `json:"sent_at"`
	AckRequested bool   `json:"ack_requested"`
	Urgent       bool   `json:"urgent,omitempty"`
	Seq          int64  `json:"seq"`
}

// recvEvent is how `client recv` prints a receipt, recall or presence.
type recvEvent struct {
	Event    string `json:"event"`
	Msg      string `json:"msg,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Status   string `json:"status,omitempty"`
	User     int64  `json:"user,omitempty"`
	Username string `json:"username,omitempty"`
	Device   int64  `json:"device,omitempty"`
	At       string `json:"at"`
	Seq      int64  `json:"seq,omitempty"`
	// A group membership event: its conversation, how it was made, and
	// what it says.
	Conv string `json:"conv,omitempty"`
	Via  string `json:"via,omitempty"`
	Text string `json:"text,omitempty"`
}

// clientRecv prints received messages and events as JSON lines. Only the
// connecting is bounded by --timeout; how long it receives is --wait's.
func clientRecv(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client recv")
	var cf clientFlags
	cf.register(fs)
	wait := fs.Duration("wait", 0, "keep receiving for this `duration`; 0 means until what is queued now is drained")
	count := fs.Int("count", 0, "stop after this many messages; fewer by the end of --wait is an error")
	presence := fs.Bool("presence", false, "print presence updates too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client recv takes no arguments; got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *wait < 0 || *count < 0 {
		return usagef("--wait and --count must not be negative")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, cf.timeout)
	conn, err := c.Connect(cctx)
	cancel()
	if err != nil {
		return explain(err, cf.state)
	}
	n, recvErr := recvLoop(ctx, env, conn, *wait, *count, *presence)
	conn.Close()
	if err := c.Save(cf.state); err != nil && recvErr == nil {
		recvErr = err
	}
	if recvErr != nil {
		return explain(recvErr, cf.state)
	}
	if *count > 0 && n < *count {
		return fmt.Errorf("received %d of %d messages before giving up (raise --wait to wait longer)", n, *count)
	}
	return nil
}

// recvLoop prints what conn delivers, acknowledging each item after it is
// printed, until the wait ends, the queue is drained, or count messages
// have come. It returns how many messages it printed.
func recvLoop(ctx context.Context, env *Env, conn *client.Conn, wait time.Duration, count int, presence bool) (int, error) {
	var deadline <-chan time.Time
	quiet := time.NewTimer(DefaultRecvQuiet)
	defer quiet.Stop()
	quietC := quiet.C
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline, quietC = t.C, nil
	}
	poke := func() {
		if quietC != nil {
			quiet.Reset(DefaultRecvQuiet)
		}
	}
	msgs, events, errs := conn.Messages(), conn.Events(), conn.Errors()
	n := 0
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				<-conn.Done()
				return n, conn.Err()
			}
			if err := printMessage(env, m); err != nil {
				return n, err // not printed, so not acknowledged
			}
			conn.Ack(m.Seq)
			n++
			if count > 0 && n >= count {
				return n, nil
			}
			poke()
		case ev, ok := <-events:
			if !ok {
				<-conn.Done()
				return n, conn.Err()
			}
			if ev.Type == protocol.TPresence && !presence {
				continue // ephemeral: nothing to acknowledge
			}
			if err := printEvent(env, ev); err != nil {
				return n, err
			}
			if ev.Seq > 0 {
				conn.Ack(ev.Seq)
			}
			poke()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			fmt.Fprintf(env.Stderr, "curbside: warning: %v\n", err)
			poke()
		case <-quietC:
			return n, nil
		case <-deadline:
			return n, nil
		case <-ctx.Done():
			return n, nil // interrupted: what was printed is acked, the rest stays queued
		}
	}
}

// printMessage prints a received message as one JSON line.
func printMessage(env *Env, m client.Incoming) error {
	return printJSON(env.Stdout, recvMessage{
		ID: m.ID, Conv: m.Conv, From: m.FromUsername, FromUser: m.FromUser, FromDevice: m.FromDevice,
		Type: m.Type, Text: m.Text, ReplyTo: m.ReplyTo, Created: fmtTime(m.Created), SentAt: fmtTime(m.SentAt),
		AckRequested: m.AckRequested(), Urgent: m.Urgent(), Seq: m.Seq,
	})
}

// printEvent prints a receipt, recall, membership event or presence update
// as one JSON line.
func printEvent(env *Env, ev client.Event) error {
	out := recvEvent{Event: ev.Type, Msg: ev.Msg, Kind: ev.Kind, Status: ev.Status,
		User: ev.User, Username: ev.Username, Device: ev.Device, At: fmtTime(ev.At), Seq: ev.Seq}
	if m := ev.Member; m != nil {
		out.Conv, out.Via, out.Text = m.Conv, m.Via, m.String()
	}
	return printJSON(env.Stdout, out)
}
