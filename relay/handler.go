package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
)

// Close codes of the relay (protocol.Close*).
const (
	closeReplaced = protocol.CloseReplaced // the same device connected again
	closeRevoked  = protocol.CloseRevoked  // the device was revoked or its user disabled
	// closeSessionEnded: the sign-in session the connection was opened
	// under ended (signed out, expired, the user disabled or locked, the
	// password changed, the second factors reset).
	closeSessionEnded = protocol.CloseSessionEnded
)

// ServeHTTP upgrades an authenticated device's request to the relay
// WebSocket and runs the session until either side ends it.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c, ok := web.CallerOf(req.Context())
	if !ok || c.Device == 0 {
		// Routes puts the relay behind the guard; reaching here without a
		// device session is a wiring fault.
		web.WriteError(r.log, w, req, errors.New("relay: request admitted without a device session"))
		return
	}
	user, device := c.User, c.Device
	conn, err := websocket.Accept(w, req, &websocket.AcceptOptions{
		// The old version is agreed to only to be told to update, in words
		// the app can show, rather than failing the handshake with nothing.
		Subprotocols:    []string{protocol.Subprotocol, protocol.SubprotocolV1},
		CompressionMode: websocket.CompressionDisabled, // ciphertext does not compress; a compressor per connection costs memory
	})
	if err != nil {
		return // Accept has written the HTTP error
	}
	if conn.Subprotocol() == protocol.SubprotocolV1 {
		r.refuseOldVersion(req.Context(), conn, user, device)
		return
	}
	if conn.Subprotocol() != protocol.Subprotocol {
		conn.Close(websocket.StatusPolicyViolation, "offer the "+protocol.Subprotocol+" subprotocol")
		return
	}
	conn.SetReadLimit(protocol.MaxFrameBytes)
	s := newSession(r, conn, user, device, c.Session)
	if !r.register(s) {
		conn.Close(websocket.StatusServiceRestart, "the server is shutting down")
		return
	}
	defer r.unregister(s)
	r.checkSession(s)
	r.run(req.Context(), s)
}

// refuseOldVersion answers a client that offered only curbside.v1: one
// error frame of code update_required, then a CloseUpdateRequired close.
// Nothing is read from it and nothing of its queue is sent: a version 1
// client would sign its receipts with nothing and seal without a key
// commitment, which version 2 clients refuse.
func (r *Relay) refuseOldVersion(ctx context.Context, conn *websocket.Conn, user, device int64) {
	r.log.Info("relay: refused a client of protocol version 1", "user", user, "device", device)
	b, _ := json.Marshal(protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeUpdateRequired, Message: protocol.CodeUpdateRequired.Message()})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
		conn.CloseNow()
		return
	}
	conn.Close(protocol.CloseUpdateRequired, "update the app: the server speaks "+protocol.Subprotocol)
}

func (r *Relay) register(s *session) bool {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return false
	}
	old := r.sessions[s.device]
	r.sessions[s.device] = s
	r.byUser[s.user] = append(r.byUser[s.user], s)
	r.mu.Unlock()
	if old != nil {
		old.kill(closeReplaced, "this device connected again elsewhere")
	}
	r.store.TouchDevice(r.ctx, s.device, time.Now().UnixMilli())
	return true
}

func (r *Relay) unregister(s *session) {
	r.mu.Lock()
	if r.sessions[s.device] == s {
		delete(r.sessions, s.device)
	}
	list := r.byUser[s.user]
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.byUser, s.user)
	} else {
		r.byUser[s.user] = list
	}
	r.mu.Unlock()
	r.pres.disconnected(s.user)
	if r.waker != nil {
		r.waker.connected(s.device)
	}
	r.store.TouchDevice(r.ctx, s.device, time.Now().UnixMilli())
}

// run drives a session: a reader goroutine parses and dispatches frames,
// this goroutine writes, and whichever stops first ends both.
func (r *Relay) run(parent context.Context, s *session) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	hello, _ := json.Marshal(protocol.Hello{Type: protocol.THello, Protocol: protocol.Version, User: s.user, Device: s.device, ServerTime: time.Now().UnixMilli()})
	snapshot := r.pres.connected(s.user)

	readErr := make(chan error, 1)
	go func() {
		readErr <- r.readLoop(ctx, s)
		s.kill(websocket.StatusNormalClosure, "")
	}()
	werr := s.writeLoop(ctx, hello, snapshot)
	// Close before cancelling ctx: cancelling the context of the reader's
	// pending Read drops the connection at once, and the close frame whose
	// code tells the device what to do next (replaced, revoked, session
	// ended) would be lost. The close ends that Read.
	s.mu.Lock()
	code, msg := s.killCode, s.killMsg
	s.mu.Unlock()
	var qf *queueFault
	switch {
	case code != 0 && code != websocket.StatusNormalClosure:
		s.conn.Close(code, msg)
	case errors.As(werr, &qf) && !errors.Is(werr, context.Canceled):
		r.log.Error("device queue not read; session ended", "user", s.user, "device", s.device, "err", werr)
		s.conn.Close(websocket.StatusInternalError, "the server could not read this device's messages; reconnect")
	case werr != nil && !errors.Is(werr, context.Canceled):
		r.log.Debug("session write failed", "device", s.device, "err", werr)
		s.conn.CloseNow()
	default:
		s.conn.Close(websocket.StatusNormalClosure, "")
	}
	cancel()
	<-readErr
}

// readLoop reads frames until the connection ends. A malformed frame gets
// an error frame and the session goes on; only transport errors end it.
func (r *Relay) readLoop(ctx context.Context, s *session) error {
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			return err
		}
		if !s.used.Load() {
			s.used.Store(true)
		}
		// Take a slot before handling: a device that sends faster than its
		// frames are stored waits here, and so does its TCP window. A frame
		// that is only refused needs one too (its error frame is a reply),
		// and waits for it the same way, so that a session ended meanwhile
		// does not leave the reader blocked.
		select {
		case s.inflight <- struct{}{}:
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		if typ != websocket.MessageText {
			s.reply(s.errorFrame("", protocol.Errorf(protocol.CodeBadFrame, "frames are JSON text messages")))
			continue
		}
		r.handle(ctx, s, data)
	}
}

// handle dispatches one client frame. Each frame holds one in-flight slot
// until its reply is written; frames with no reply on success (ack,
// presence) release it themselves.
func (r *Relay) handle(ctx context.Context, s *session, data []byte) {
	f, err := protocol.DecodeClientFrame(data)
	if err != nil {
		// A frame whose JSON two parsers could read differently is no
		// client's mistake: the log names the key, the client is told
		// only a short reason.
		var se *protocol.StrictError
		if errors.As(err, &se) {
			r.log.Warn("frame refused: ambiguous JSON", "user", s.user, "device", s.device,
				"reason", se.Reason, "key", se.Key, "path", se.Path)
		}
		ref := ""
		if f != nil {
			ref = f.Ref
		}
		s.reply(s.errorFrame(ref, err))
		return
	}
	// Frames whose success is otherwise silent are confirmed with an ok
	// frame when they carry a ref, so a client can wait for the outcome.
	release := func() {
		if f.Ref != "" {
			s.reply(okFrame(f.Ref))
			return
		}
		<-s.inflight
	}
	switch f.Type {
	case protocol.TSend:
		r.send(ctx, s, f.Envelope, f.Env, f.Ref)
	case protocol.TAck:
		r.ack(ctx, s, f, release)
	case protocol.TReceipt:
		r.replyOK(s, f.Ref, release, func(done func(error)) error {
			return r.store.ReceiptAsync(ctx, s.user, s.device, f.Msg, f.Kind, protocol.Signed{Conv: f.Conv, At: f.At, Sig: f.Sig}, done)
		})
	case protocol.TRecall:
		r.replyOK(s, f.Ref, release, func(done func(error)) error {
			return r.store.RecallAsync(ctx, s.user, s.device, f.Msg, protocol.Signed{Conv: f.Conv, At: f.At, Sig: f.Sig}, done)
		})
	case protocol.TPresence:
		r.pres.set(ctx, s.user, f.Status)
		release()
	case protocol.TContact:
		go func() {
			if err := r.contact(ctx, s, f.User); err != nil {
				s.reply(s.errorFrame(f.Ref, err))
				return
			}
			release()
		}()
	case protocol.TTyping:
		r.typing(ctx, s, f.Conv, f.Ref, release)
	case protocol.TDetails:
		// Details must reflect everything this device sent before asking,
		// so wait until those writes have committed.
		go func() {
			if err := r.store.Barrier(ctx); err != nil {
				s.reply(s.errorFrame(f.Ref, err))
				return
			}
			d, err := r.store.Details(ctx, s.user, f.Msg)
			if err != nil {
				s.reply(s.errorFrame(f.Ref, err))
				return
			}
			s.reply(detailsFrame(f.Ref, d))
		}()
	}
}

// ack deletes acknowledged items. A refused ack is answered with an error
// frame naming what it refused: its ref (a ref-less ack gets "ack:" and its
// first seq, as a send's ref defaults to its envelope id) and its seqs,
// which stay queued; the client may ack them again. Success stays silent
// unless the ack carried a ref of its own.
func (r *Relay) ack(ctx context.Context, s *session, f *protocol.ClientFrame, release func()) {
	ref := f.Ref
	if ref == "" {
		ref = "ack:" + strconv.FormatInt(f.Seqs[0], 10)
	}
	fail := func(err error) { s.reply(s.ackErrorFrame(ref, f.Seqs, err)) }
	err := r.store.AckAsync(ctx, s.user, s.device, f.Seqs, func(err error) {
		if err != nil {
			fail(err)
			return
		}
		release()
	})
	if err != nil {
		fail(err)
	}
}

// replyOK runs an operation whose effects reach devices through their
// queues (receipt, recall). Failure gets an error frame; success releases
// the frame's slot, with an ok frame if it carried a ref.
func (r *Relay) replyOK(s *session, ref string, release func(), start func(done func(error)) error) {
	err := start(func(err error) {
		if err != nil {
			s.reply(s.errorFrame(ref, err))
			return
		}
		release()
	})
	if err != nil {
		s.reply(s.errorFrame(ref, err))
	}
}

func okFrame(ref string) []byte {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Ref  string `json:"ref"`
	}{protocol.TOK, ref})
	return b
}
