package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/curbside-health/curbside/protocol"
)

// Send seals and sends a message and waits until the server has made it
// durable. If the server answers devices_changed (a recipient added or lost
// a device since the keys were fetched), Send fetches those users' keys
// again, reseals and resends once, under the same message id.
func (cn *Conn) Send(ctx context.Context, out Outgoing) (Accepted, error) {
	p, err := cn.c.Prepare(ctx, out)
	if err != nil {
		return Accepted{}, err
	}
	acc, err := cn.SendPrepared(ctx, p)
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeDevicesChanged {
		return acc, err
	}
	var users []int64
	for k := range e.Devices {
		if u, perr := strconv.ParseInt(k, 10, 64); perr == nil {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		// The server did not say whose devices changed: refetch everyone's.
		users = append(append(users, p.users...), cn.c.user.ID)
	}
	cn.c.Refresh(users...)
	if err := cn.c.seal(ctx, p); err != nil {
		return Accepted{}, err
	}
	acc, err = cn.SendPrepared(ctx, p)
	if errors.As(err, &e) && e.Code == protocol.CodeDevicesChanged {
		return acc, cn.c.explainDevicesChanged(e)
	}
	return acc, err
}

// explainDevicesChanged looks at a devices_changed answer that came again
// after fresh keys: if the server counts as active a device that is not in
// the user's signed list, that is why, and it is the server adding a device
// the user never signed, which the client must refuse.
func (c *Client) explainDevicesChanged(e *Error) error {
	for k, active := range e.Devices {
		uid, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		c.mu.Lock()
		p := c.peers[uid]
		c.mu.Unlock()
		if p == nil {
			continue
		}
		var unlisted []int64
		for _, d := range active {
			if p.list == nil {
				unlisted = append(unlisted, d)
			} else if _, ok := p.list.Find(d); !ok {
				unlisted = append(unlisted, d)
			}
		}
		if len(unlisted) > 0 {
			return &UntrustedKeysError{User: uid, Username: p.user.Username,
				Reason: fmt.Sprintf("the server counts devices %v as active, but they are not in the user's signed device list, so this client will not encrypt to them", unlisted), Err: e}
		}
	}
	return e
}

// SendPrepared sends a prepared message and waits for the server's answer.
// Unlike Send it does not reseal on devices_changed: a load generator's
// prepared envelopes are its own business.
func (cn *Conn) SendPrepared(ctx context.Context, p *Prepared) (Accepted, error) {
	w := &waiter{}
	if err := cn.register(p.ID, w); err != nil {
		return Accepted{}, err
	}
	defer cn.unregister(p.ID, w)
	if err := cn.write(cn.ctx, p.Frame); err != nil {
		return Accepted{}, err
	}
	f, err := cn.wait(ctx, w)
	acc, err := accepted(frameResult{f: f, err: err})
	if err == nil {
		acc.Conv = p.Conv
	}
	return acc, err
}

// SendPreparedAsync writes a prepared message and returns at once; done is
// called with the server's answer (or the connection's end) on the reader
// goroutine, so it must be quick and must not call back into this Conn's
// blocking methods. It lets a load generator keep many sends in flight on
// one connection without a goroutine each.
func (cn *Conn) SendPreparedAsync(p *Prepared, done func(Accepted, error)) error {
	w := &waiter{async: done}
	if err := cn.register(p.ID, w); err != nil {
		return err
	}
	if err := cn.write(cn.ctx, p.Frame); err != nil {
		cn.unregister(p.ID, w)
		return err
	}
	return nil
}
