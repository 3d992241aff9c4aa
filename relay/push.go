package relay

import (
	"sync"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Waker wakes a device that is not connected, by Web Push; push.Sender
// implements it. Wake must not block: it queues, and reports whether it
// did.
type Waker interface {
	Wake(w model.Wake) bool
}

// wakeQueue bounds the wake-ups waiting for a decision. They are offered
// on the store's writer goroutine, which must never wait, so one that
// finds the queue full is dropped; the message waits in the device's queue
// regardless.
const wakeQueue = 1024

// waker decides which offline devices to wake, and when. A new message for
// a device without a live connection is a candidate; it is sent on to the
// Waker unless
//
//   - the device was woken less than the policy's push_interval ago and has
//     not connected since (coalescing: one notification for many messages;
//     an urgent message still wakes a device woken only for normal ones),
//   - or its user chose do-not-disturb, unless the message is urgent and
//     the policy's push_urgent_dnd lets urgent ones through.
//
// It runs on a goroutine of its own, off the store's writer and the
// sessions, so a slow policy read delays no message.
type waker struct {
	r   *Relay
	w   Waker
	in  chan wakeCandidate
	now func() time.Time

	mu   sync.Mutex
	last map[int64]woken // device → its last wake-up since it was last connected
}

type wakeCandidate struct {
	user int64
	wake model.Wake
}

type woken struct {
	at     time.Time
	urgent bool
}

func newWaker(r *Relay, w Waker) *waker {
	now := r.cfg.PushClock
	if now == nil {
		now = time.Now
	}
	return &waker{r: r, w: w, in: make(chan wakeCandidate, wakeQueue), now: now, last: map[int64]woken{}}
}

// offer queues the recipients' devices of a newly accepted message that
// have no live connection. It runs on the store's writer goroutine (the
// accept's done), after the message went to the connected sessions, and
// never blocks. The sender's own other devices are not woken: the
// message is theirs.
func (k *waker) offer(env *protocol.Envelope) {
	urgent := env.Flags&protocol.FlagUrgent != 0
	k.r.mu.RLock()
	defer k.r.mu.RUnlock()
	for _, key := range env.Keys {
		if key.User == env.From.User || k.r.sessions[key.Device] != nil {
			continue
		}
		select {
		case k.in <- wakeCandidate{user: key.User, wake: model.Wake{Device: key.Device, Urgent: urgent, Conv: env.Conv}}:
		default:
			k.r.log.Warn("push: decision queue full; wake-up dropped", "device", key.Device)
		}
	}
}

// connected forgets a device's last wake-up once it has connected: the
// next message after it leaves wakes it again.
func (k *waker) connected(device int64) {
	k.mu.Lock()
	delete(k.last, device)
	k.mu.Unlock()
}

func (k *waker) run() {
	defer k.r.wg.Done()
	for {
		select {
		case <-k.r.ctx.Done():
			return
		case c := <-k.in:
			k.decide(c)
		}
	}
}

func (k *waker) decide(c wakeCandidate) {
	k.r.mu.RLock()
	online := k.r.sessions[c.wake.Device] != nil
	k.r.mu.RUnlock()
	if online {
		return // it connected meanwhile and has the message
	}
	pol, err := k.r.dir.loadPolicy(k.r.ctx)
	if err != nil {
		if k.r.ctx.Err() == nil {
			k.r.log.Error("push: read the policy", "err", err)
		}
		return
	}
	if k.r.pres.doNotDisturb(c.user) && !(c.wake.Urgent && pol.PushUrgentDND) {
		k.r.log.Debug("push: held back by do-not-disturb", "device", c.wake.Device)
		return
	}
	now := k.now()
	k.mu.Lock()
	prev, ok := k.last[c.wake.Device]
	if ok && now.Sub(prev.at) < pol.PushInterval && (prev.urgent || !c.wake.Urgent) {
		k.mu.Unlock()
		return // coalesced into the wake-up already sent
	}
	if len(k.last) >= 100000 {
		for d, w := range k.last {
			if now.Sub(w.at) >= pol.PushInterval {
				delete(k.last, d)
			}
		}
	}
	k.last[c.wake.Device] = woken{at: now, urgent: c.wake.Urgent}
	k.mu.Unlock()
	if !k.w.Wake(c.wake) {
		k.connected(c.wake.Device) // not sent: the next message may try again
	}
}
