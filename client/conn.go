package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// ErrClosed is the error of a Conn closed by Close.
var ErrClosed = errors.New("client: connection closed")

// closeFlushTimeout bounds how long Close spends writing pending acks.
const closeFlushTimeout = 5 * time.Second

// DefaultBuffer is the capacity of a Conn's Messages and Events channels.
const DefaultBuffer = 64

// RawFrame is a queued server frame as RawReceive passes it on, undecrypted.
type RawFrame struct {
	Type string // protocol.TMsg, protocol.TReceipt, protocol.TRecall or protocol.TMember
	Seq  int64
	TS   int64           // server time, ms
	Env  json.RawMessage // msg: the envelope
	Msg  string          // receipt and recall: the message id
}

// ConnOption configures Connect.
type ConnOption func(*connConfig)

type connConfig struct {
	autoAck bool
	raw     func(RawFrame)
	buffer  int
}

// AutoAck acknowledges each message and event as soon as the caller has
// taken it from its channel. Use it when taking is handling (a bot that
// keeps nothing); otherwise call Ack once the item is stored.
func AutoAck() ConnOption { return func(c *connConfig) { c.autoAck = true } }

// RawReceive passes each queued frame to fn without decrypting it and
// acknowledges it as it does; Messages and Events then carry nothing but
// presence. fn runs on the connection's reader goroutine and must be
// quick. It is for the load generator, which measures the server, not the
// client.
func RawReceive(fn func(RawFrame)) ConnOption { return func(c *connConfig) { c.raw = fn } }

// Buffer sets the capacity of the Messages and Events channels.
func Buffer(n int) ConnOption { return func(c *connConfig) { c.buffer = n } }

// Conn is a relay session of one device. Its methods are safe for
// concurrent use.
//
// Messages and events are delivered in the order the server queued them,
// through a goroutine that blocks until the caller takes each; a caller that
// uses one channel must drain the other too (or take presence only from
// Events). Sends do not wait for that goroutine, so a slow reader never
// stalls Send.
type Conn struct {
	c     *Client
	ws    *websocket.Conn
	hello protocol.Hello
	cfg   connConfig

	ctx    context.Context // the connection's lifetime
	cancel context.CancelFunc
	// dctx is the delivery goroutine's: Close ends it first, so that an
	// item it is handing over (and, with AutoAck, acking) is finished
	// before the last acks are flushed.
	dctx        context.Context
	dcancel     context.CancelFunc
	deliverDone chan struct{}

	msgs   chan Incoming
	events chan Event
	errs   chan error

	pmu     sync.Mutex
	pending map[string]*waiter // by send id or frame ref
	dead    bool               // set by failPending: register refuses

	amu     sync.Mutex
	acks    []int64
	ackWake chan struct{}
	ackStop chan struct{} // closed by Close: the ack goroutine finishes its write and ends
	ackDone chan struct{}
	unacked map[int64]string // seq → id of messages handed over, not yet acked
	// receiptFor holds, by seq, the messages from others handed over and
	// not yet acked; receipts, those acked whose signed delivered receipt
	// is yet to be written.
	receiptFor map[int64]deliveredMsg
	receipts   []deliveredMsg
	delivered  map[string]struct{} // ids of those messages

	qmu   sync.Mutex
	queue []*protocol.ServerFrame // frames for the delivery goroutine
	qWake chan struct{}

	wg        sync.WaitGroup // delivery and ack goroutines
	done      chan struct{}
	err       error // why the connection ended; set before done is closed
	closeOnce sync.Once
	closing   atomic.Bool
	dropped   atomic.Int64
}

// waiter is a caller waiting for the answer to one frame.
type waiter struct {
	ch    chan frameResult      // capacity 1
	async func(Accepted, error) // SendPreparedAsync: called instead of ch
	msg   string                // details: the message asked about
}

type frameResult struct {
	f   *protocol.ServerFrame
	err error
}

// Connect opens the relay session and waits for the server's hello. The
// session must be bound to this client's device (Login does that).
func (c *Client) Connect(ctx context.Context, opts ...ConnOption) (*Conn, error) {
	if c.Pending() {
		return nil, errors.New("this device is waiting to be approved on another of your devices, and receives nothing until then")
	}
	// Forward secrecy: retired keys past their time are deleted, and the
	// key rotated when the policy says it is due. A failure here leaves
	// the old key in use and is tried again at the next Connect; it is no
	// reason not to receive.
	_ = c.maintainKeys(ctx)
	cfg := connConfig{buffer: DefaultBuffer}
	for _, o := range opts {
		o(&cfg)
	}
	ws, resp, err := websocket.Dial(ctx, c.api.base+"/api/v1/relay", &websocket.DialOptions{
		HTTPClient:   c.api.hc,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + c.api.token}},
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, fmt.Errorf("connecting to the relay: %w", errorFromResponse(resp.StatusCode, body))
		}
		return nil, fmt.Errorf("connecting to the relay: %w", err)
	}
	if ws.Subprotocol() != protocol.Subprotocol {
		ws.Close(websocket.StatusProtocolError, "subprotocol")
		return nil, fmt.Errorf("connecting to the relay: the server does not speak %s; is it a curbside server of this version?", protocol.Subprotocol)
	}
	// A queued msg frame wraps an envelope of up to MaxFrameBytes; details
	// frames grow with recipients. Leave room for both.
	ws.SetReadLimit(2 * protocol.MaxFrameBytes)

	hello, err := readHello(ctx, ws, c.keys().ID())
	if err != nil {
		ws.Close(websocket.StatusPolicyViolation, "hello")
		return nil, err
	}
	if cfg.buffer < 0 {
		cfg.buffer = 0
	}
	lctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithCancel(lctx)
	cn := &Conn{
		c: c, ws: ws, hello: *hello, cfg: cfg, ctx: lctx, cancel: cancel,
		dctx: dctx, dcancel: dcancel, deliverDone: make(chan struct{}),
		msgs:       make(chan Incoming, cfg.buffer),
		events:     make(chan Event, cfg.buffer),
		errs:       make(chan error, 64),
		pending:    make(map[string]*waiter),
		unacked:    make(map[int64]string),
		receiptFor: make(map[int64]deliveredMsg),
		delivered:  make(map[string]struct{}),
		ackWake:    make(chan struct{}, 1),
		ackStop:    make(chan struct{}),
		ackDone:    make(chan struct{}),
		qWake:      make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	cn.wg.Add(2)
	go cn.deliverLoop()
	go cn.ackLoop()
	go cn.readLoop()
	go cn.keyLoop()
	return cn, nil
}

// keyCheckInterval is how often an open connection checks the device's
// keys (maintainKeys), so that a program that stays connected for weeks
// still rotates its key and deletes retired ones.
const keyCheckInterval = time.Hour

func (cn *Conn) keyLoop() {
	t := time.NewTicker(keyCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.ctx.Done():
			return
		case <-cn.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(cn.ctx, DefaultRequestTimeout)
			_ = cn.c.maintainKeys(ctx)
			cancel()
		}
	}
}

func readHello(ctx context.Context, ws *websocket.Conn, device int64) (*protocol.Hello, error) {
	_, data, err := ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the relay: waiting for hello: %w", err)
	}
	var f protocol.ServerFrame
	if err := protocol.StrictUnmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("connecting to the relay: the first frame is not strict JSON: %w", err)
	}
	switch {
	case f.Type == protocol.TError:
		return nil, fmt.Errorf("connecting to the relay: %w", &Error{Code: f.Code, Message: f.Message})
	case f.Type != protocol.THello:
		return nil, fmt.Errorf("connecting to the relay: the first frame is %q, not hello", f.Type)
	}
	var h protocol.Hello
	if err := protocol.StrictUnmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("connecting to the relay: hello: %w", err)
	}
	if h.Protocol != protocol.Version {
		return nil, fmt.Errorf("connecting to the relay: the server speaks protocol %d; this client speaks %d", h.Protocol, protocol.Version)
	}
	if h.Device != device {
		return nil, fmt.Errorf("connecting to the relay: the session is bound to device %d, not this device %d: log in again", h.Device, device)
	}
	return &h, nil
}

// Hello returns the server's hello frame.
func (cn *Conn) Hello() protocol.Hello { return cn.hello }

// Messages returns the channel of received messages. It is closed when the
// connection ends.
func (cn *Conn) Messages() <-chan Incoming { return cn.msgs }

// Events returns the channel of receipts, recalls and presence updates. It
// is closed when the connection ends.
func (cn *Conn) Events() <-chan Event { return cn.events }

// Errors returns the channel of problems that belong to no call: messages
// dropped as *MessageError, and relay error frames about no pending
// request. It is buffered; when it is full, further errors are counted in
// Dropped and discarded rather than stalling the connection. It is closed
// when the connection ends.
func (cn *Conn) Errors() <-chan error { return cn.errs }

// Dropped returns how many errors were discarded because Errors was full.
func (cn *Conn) Dropped() int64 { return cn.dropped.Load() }

// Done is closed when the connection has ended.
func (cn *Conn) Done() <-chan struct{} { return cn.done }

// Err returns why the connection ended (ErrClosed after Close), or nil
// while it is open.
func (cn *Conn) Err() error {
	select {
	case <-cn.done:
		return cn.err
	default:
		return nil
	}
}

// Close flushes pending acks, closes the connection and waits for its
// goroutines. Queued items not yet acknowledged stay on the server and
// come again on the next connection.
func (cn *Conn) Close() error {
	cn.closeOnce.Do(func() {
		cn.closing.Store(true)
		cn.dcancel()
		<-cn.deliverDone
		close(cn.ackStop)
		<-cn.ackDone
		ctx, cancel := context.WithTimeout(cn.ctx, closeFlushTimeout)
		cn.flushAcks(ctx)
		cancel()
		cn.ws.Close(websocket.StatusNormalClosure, "")
		cn.cancel()
	})
	<-cn.done
	return nil
}

// write sends one frame. Writes use the connection's own context, not the
// caller's: coder/websocket closes the connection when a write's context
// ends mid-write, and one caller's deadline must not cut everyone's session.
func (cn *Conn) write(ctx context.Context, frame []byte) error {
	if err := cn.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		if e := cn.Err(); e != nil {
			return e
		}
		return fmt.Errorf("writing to the relay: %w", err)
	}
	return nil
}

func (cn *Conn) writeJSON(f *protocol.ClientFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return cn.write(cn.ctx, b)
}

// readLoop reads and dispatches frames until the connection fails or is
// closed, then ends everything.
func (cn *Conn) readLoop() {
	var err error
	for {
		var data []byte
		if _, data, err = cn.ws.Read(cn.ctx); err != nil {
			break
		}
		// Strict, as the relay is with clients: a frame with a key twice,
		// or one in another case than its field's, could read differently
		// here than in the web app (protocol.CheckStrict).
		f := new(protocol.ServerFrame)
		if jerr := protocol.StrictUnmarshal(data, f); jerr != nil {
			cn.report(fmt.Errorf("the relay sent a frame that is not strict JSON: %w", jerr))
			continue
		}
		cn.dispatch(f)
	}
	if cn.closing.Load() {
		err = ErrClosed
	} else {
		err = fmt.Errorf("relay connection lost: %w", err)
	}
	cn.err = err
	cn.cancel()
	cn.failPending(err)
	cn.wg.Wait()
	close(cn.errs)
	close(cn.done)
}

func (cn *Conn) dispatch(f *protocol.ServerFrame) {
	switch f.Type {
	case protocol.TAccepted:
		cn.resolve(f.ID, frameResult{f: f})
	case protocol.TOK:
		cn.resolve(f.Ref, frameResult{f: f})
	case protocol.TError:
		e := &Error{Code: f.Code, Message: f.Message, Ref: f.Ref, Devices: f.Devices, Seqs: f.Seqs}
		if len(f.Seqs) > 0 {
			// A refused ack (the server's disk full, say): its items
			// are still queued, so they go again with the next ack, and
			// in any case come again on the next connection.
			cn.amu.Lock()
			cn.acks = append(cn.acks, f.Seqs...)
			cn.amu.Unlock()
		}
		if f.Ref == "" || !cn.resolve(f.Ref, frameResult{err: e}) {
			cn.report(e)
		}
	case protocol.TDetails:
		if !cn.resolve(f.Ref, frameResult{f: f}) && !cn.resolveDetails(f) {
			cn.report(fmt.Errorf("the relay answered details for %s, which nobody asked", f.Msg))
		}
	case protocol.TMsg, protocol.TReceipt, protocol.TRecall, protocol.TMember:
		if cn.cfg.raw != nil {
			if f.Seq > 0 {
				cn.Ack(f.Seq)
			}
			cn.cfg.raw(RawFrame{Type: f.Type, Seq: f.Seq, TS: f.TS, Env: f.Env, Msg: f.Msg})
			return
		}
		cn.enqueue(f)
	case protocol.TPresence:
		cn.enqueue(f)
	default:
		// hello again, or a frame type from a newer server: nothing to do.
	}
}

func (cn *Conn) report(err error) {
	select {
	case cn.errs <- err:
	default:
		cn.dropped.Add(1)
	}
}

// register records a waiter for ref; a ref already waited on is refused, as
// two callers sending the same message id at once is a caller bug.
func (cn *Conn) register(ref string, w *waiter) error {
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	if cn.dead {
		return cn.err
	}
	if _, busy := cn.pending[ref]; busy {
		return fmt.Errorf("%s is already in flight on this connection", ref)
	}
	if w.ch == nil && w.async == nil {
		w.ch = make(chan frameResult, 1)
	}
	cn.pending[ref] = w
	return nil
}

func (cn *Conn) unregister(ref string, w *waiter) {
	cn.pmu.Lock()
	if cn.pending[ref] == w {
		delete(cn.pending, ref)
	}
	cn.pmu.Unlock()
}

// resolve hands r to whoever waits on ref and reports whether anyone did.
func (cn *Conn) resolve(ref string, r frameResult) bool {
	if ref == "" {
		return false
	}
	cn.pmu.Lock()
	w := cn.pending[ref]
	delete(cn.pending, ref)
	cn.pmu.Unlock()
	if w == nil {
		return false
	}
	cn.complete(w, r)
	return true
}

// resolveDetails matches a details answer without a ref by its message id.
func (cn *Conn) resolveDetails(f *protocol.ServerFrame) bool {
	cn.pmu.Lock()
	var ref string
	for k, w := range cn.pending {
		if w.msg != "" && w.msg == f.Msg {
			ref = k
			break
		}
	}
	cn.pmu.Unlock()
	return cn.resolve(ref, frameResult{f: f})
}

func (cn *Conn) complete(w *waiter, r frameResult) {
	if w.async != nil {
		acc, err := accepted(r)
		w.async(acc, err)
		return
	}
	w.ch <- r
}

func (cn *Conn) failPending(err error) {
	cn.pmu.Lock()
	ws := cn.pending
	cn.pending = map[string]*waiter{}
	cn.dead = true
	cn.pmu.Unlock()
	for _, w := range ws {
		cn.complete(w, frameResult{err: err})
	}
}

func (cn *Conn) wait(ctx context.Context, w *waiter) (*protocol.ServerFrame, error) {
	select {
	case r := <-w.ch:
		return r.f, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func accepted(r frameResult) (Accepted, error) {
	if r.err != nil {
		return Accepted{}, r.err
	}
	return Accepted{ID: r.f.ID, SentAt: time.UnixMilli(r.f.TS), Dup: r.f.Dup}, nil
}
