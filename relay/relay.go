// Package relay is Curbside's ciphertext relay: WebSocket sessions, one per
// device; authorisation of each envelope against the directory; the
// store-and-forward queue through which messages, receipts and recalls reach
// devices; and presence.
//
// The life of a message: a device sends an envelope; the relay checks its
// shape and that the sender may address those devices, and submits it to
// the store without waiting; the store commits it with whatever else is
// pending (group commit) and, in commit order, hands the new queue items to
// the relay, which pushes them to the recipients' connected devices and
// tells the sender "accepted". A device's ack deletes its copy. Devices that
// are offline, or too slow to keep up, read their queue from the store when
// they (re)connect or catch up, so nothing accepted is held only in memory.
package relay

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Defaults for Config.
const (
	DefaultWriteTimeout = 15 * time.Second           // a device that takes longer to read a frame is disconnected
	DefaultPingEvery    = 30 * time.Second           // keep-alive for idle connections behind NAT
	DefaultOutBuffer    = 64                         // frames buffered per device before it is switched to catch-up
	DefaultOutBytes     = 2 * protocol.MaxFrameBytes // bytes of frames buffered per device (4 MiB: two of the largest frames) before it is switched to catch-up
	DefaultMaxInFlight  = 64                         // frames of one device being processed at once
	sweepEvery          = time.Minute
	pageSize            = 256 // queue items read per catch-up query
)

// Config configures a Relay.
type Config struct {
	Store  Store
	Logger *slog.Logger

	// Sessions, if set, ties each connection to the sign-in session it
	// was opened under, which the relay checks every SessionPoll (zero:
	// DefaultSessionPoll) for changes, when the first live one is due to
	// end, and every half minute in full.
	Sessions    Sessions
	SessionPoll time.Duration

	WriteTimeout time.Duration
	PingEvery    time.Duration
	OutBuffer    int // frames
	OutBytes     int // bytes of the frames in OutBuffer
	MaxInFlight  int

	// Waker, if set, wakes devices that are offline when a message for
	// them arrives (Web Push); nil: push is off.
	Waker Waker
	// PushClock, if set, is the clock push_interval is measured by (when a
	// device was last woken); nil: time.Now. Tests move it rather than wait.
	PushClock func() time.Time

	// MemberEvents, if set, is where group membership events are taken
	// from to be queued for the members' devices (members.go); nil: none
	// are sent.
	MemberEvents MemberEvents
}

// Relay is the WebSocket relay. Create it with New, serve it as an
// http.Handler, and stop it with Close.
type Relay struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	dir     *directory
	pres    *presence
	uploads *uploadRate
	waker   *waker // nil when push is off

	mu       sync.RWMutex
	sessions map[int64]*session   // by device
	byUser   map[int64][]*session // by user
	closing  bool
	recheck  chan struct{} // asks watchSessions to check now
	// memberWake asks watchMemberEvents to fan out now.
	memberWake chan struct{}
	// sessionDue is when watchSessions next checks every connection's
	// session (Unix ms): when the first of them is due to end.
	sessionDue atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a relay over cfg.Store and starts its expiry sweeper.
func New(cfg Config) (*Relay, error) {
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.PingEvery == 0 {
		cfg.PingEvery = DefaultPingEvery
	}
	if cfg.OutBuffer == 0 {
		cfg.OutBuffer = DefaultOutBuffer
	}
	if cfg.OutBytes == 0 {
		cfg.OutBytes = DefaultOutBytes
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.SessionPoll == 0 {
		cfg.SessionPoll = DefaultSessionPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{cfg: cfg, store: cfg.Store, log: cfg.Logger, sessions: map[int64]*session{}, byUser: map[int64][]*session{}, recheck: make(chan struct{}, 1), memberWake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	r.dir = newDirectory(cfg.Store)
	r.uploads = newUploadRate()
	var err error
	r.pres, err = newPresence(ctx, cfg.Store, r)
	if err != nil {
		cancel()
		return nil, err
	}
	cfg.Store.SetNotifier(r.deliver)
	r.wg.Add(1)
	go r.sweeper()
	if cfg.Waker != nil {
		r.waker = newWaker(r, cfg.Waker)
		r.wg.Add(1)
		go r.waker.run()
	}
	if cfg.Sessions != nil {
		r.wg.Add(1)
		go r.watchSessions()
	}
	if cfg.MemberEvents != nil {
		r.wg.Add(1)
		go r.watchMemberEvents()
	}
	return r, nil
}

// Routes lists the relay's routes: the WebSocket, and attachment
// ciphertext (POST /api/v1/blobs uploads, GET /api/v1/blobs/{id}
// downloads; the server stores the bytes it is given and never holds a
// key that opens them). All need a session bound to a device.
func (r *Relay) Routes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/relay", Access: web.Device, Handler: r},
		{Pattern: "POST /api/v1/blobs", Access: web.Device, Func: r.putBlob},
		{Pattern: "GET /api/v1/blobs/{id}", Access: web.Device, Func: r.getBlob},
	}
}

// DevicesChanged drops the relay's cached view of a user's devices and
// state, disconnects sessions of devices that are no longer active, and
// has the user's sign-in sessions checked at once (a change of the user's
// state ends them). The devices that may seal to the user are told with a
// devices frame (announceDevices).
func (r *Relay) DevicesChanged(user int64) {
	r.dir.forgetUser(user)
	r.sessionsChanged()
	r.announceDevices(user)
	active, err := r.store.ActiveDevices(r.ctx, user)
	if err != nil {
		return
	}
	keep := map[int64]bool{}
	for _, d := range active {
		keep[d] = true
	}
	r.mu.RLock()
	var drop []*session
	for dev, s := range r.sessions {
		if s.user == user && !keep[dev] {
			drop = append(drop, s)
		}
	}
	r.mu.RUnlock()
	for _, s := range drop {
		s.kill(closeRevoked, "this device was revoked")
	}
}

// EndDevice disconnects one device's session at once with the given close
// code and reason (protocol.CloseSessionEnded when an administrator locks
// the device, CloseRevoked when it is wiped). Nothing happens if the
// device is not connected.
func (r *Relay) EndDevice(device int64, code int, reason string) {
	r.mu.RLock()
	s := r.sessions[device]
	r.mu.RUnlock()
	if s != nil {
		s.kill(websocket.StatusCode(code), reason)
	}
}

// Connected reports whether a device holds a relay session now.
func (r *Relay) Connected(device int64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.sessions[device] != nil
}

// Close disconnects every device and stops the sweeper. The store stays
// open; close it after the relay.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closing = true
	all := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.kill(1012, "the server is restarting")
	}
	r.cancel()
	r.wg.Wait()
}

// Online reports how many devices are connected.
func (r *Relay) Online() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.sessions)
}

// UserConnected reports whether any device of user is connected now.
func (r *Relay) UserConnected(user int64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byUser[user]) > 0
}

// deliver receives newly committed queue items from the store, in commit
// order, and pushes each to its device if connected. It runs on the store's
// writer goroutine and never blocks: a device whose buffer is full is
// switched to catching up from the store.
func (r *Relay) deliver(items []model.Item) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := range items {
		if s := r.sessions[items[i].Device]; s != nil {
			s.pushItem(&items[i])
		}
	}
}

func (r *Relay) sweeper() {
	defer r.wg.Done()
	// The first sweep runs at start: whatever expired while the server
	// was down goes at once, and the sweep learns the policy's grace.
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			t.Reset(sweepInterval(r.Sweep(r.ctx)))
		}
	}
}

// sweepInterval is how long after a sweep the next one runs: every
// minute, or more often under a blob grace shorter than two minutes, so
// that an unreferenced upload outlives its grace by at most half as much.
func sweepInterval(blobGrace time.Duration) time.Duration {
	return min(sweepEvery, max(blobGrace/2, time.Second))
}

// Sweep deletes expired queue items and messages now, then expired blobs
// and blobs no message referenced within the policy's blob grace. It
// returns the grace it applied.
func (r *Relay) Sweep(ctx context.Context) (blobGrace time.Duration) {
	blobGrace = model.DefaultPolicy.BlobGrace
	for {
		items, msgs, err := r.store.Sweep(ctx, time.Now().UnixMilli(), 1000)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("expiry sweep failed", "err", err)
			}
			return
		}
		if items+msgs > 0 {
			r.log.Info("expired undelivered messages", "queue_items", items, "messages", msgs)
		}
		if items < 1000 && msgs < 1000 {
			break
		}
	}
	pol, err := r.dir.loadPolicy(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("attachment sweep: load policy", "err", err)
		}
		return
	}
	blobGrace = pol.BlobGrace
	for {
		now := time.Now()
		expired, unreferenced, err := r.store.SweepBlobs(ctx, now.UnixMilli(), now.Add(-blobGrace).UnixMilli(), 1000)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("attachment sweep failed", "err", err)
			}
			return
		}
		if expired+unreferenced > 0 {
			r.log.Info("attachments deleted", "expired", expired, "unreferenced", unreferenced, "grace", blobGrace)
		}
		if expired < 1000 && unreferenced < 1000 {
			return
		}
	}
}
