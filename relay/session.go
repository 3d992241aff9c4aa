package relay

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/internal/ratelimit"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// session is one connected device. Three things feed its writer: queue
// items pushed live by the store's notifier, replies to its own frames, and
// ephemeral frames (presence). Queue items carry seqs; the session tracks the
// highest seq it has taken (cursor), so an item read from the store during
// catch-up and pushed live as well is sent once.
type session struct {
	r      *Relay
	conn   *websocket.Conn
	user   int64
	device int64
	// token is the SHA-256 of the sign-in session's token the connection
	// was admitted under (nil when the relay runs without Config.Sessions):
	// the connection lives only as long as that session.
	token []byte
	// typingRate bounds this connection's typing frames
	// (protocol.TypingBurst at once, then protocol.TypingPerSecond); only
	// the session's reader touches it.
	typingRate ratelimit.Bucket
	// used is set when the device sends a frame, and cleared when the
	// relay records that use on the sign-in session (Sessions.Touch).
	used atomic.Bool

	out      chan []byte   // frames for the writer, in order
	outBytes atomic.Int64  // bytes of the frames in out and the one being written
	inflight chan struct{} // a slot per client frame being processed
	wake     chan struct{} // pokes the writer: catch-up needed or replies waiting
	done     chan struct{} // closed when the session ends
	killOnce sync.Once

	mu       sync.Mutex
	catchUp  bool     // live items are not buffered; the writer reads the store
	missed   bool     // a live item was passed over since catch-up began its pass
	cursor   int64    // highest seq handed to the writer
	replies  [][]byte // replies to this device's frames, in the order they were submitted
	killCode websocket.StatusCode
	killMsg  string
}

func newSession(r *Relay, conn *websocket.Conn, user, device int64, token []byte) *session {
	return &session{
		r: r, conn: conn, user: user, device: device, token: token,
		out:      make(chan []byte, r.cfg.OutBuffer),
		inflight: make(chan struct{}, r.cfg.MaxInFlight),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		catchUp:  true, // a new connection first reads what was queued while away
	}
}

func (s *session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pushItem offers a live queue item. It never blocks: when the buffer is
// full, in frames or in bytes, the session switches to catch-up and the
// item is read from the store later.
func (s *session) pushItem(it *model.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.Seq <= s.cursor {
		return
	}
	if s.catchUp {
		s.missed = true
		return
	}
	if f := itemFrame(nil, it); s.buffer(f) {
		s.cursor = it.Seq
		return
	}
	s.catchUp, s.missed = true, true
	s.poke()
}

// pushEphemeral offers a frame that may be dropped (presence).
func (s *session) pushEphemeral(frame []byte) {
	s.buffer(frame)
}

// buffer puts a frame in the out buffer if it has room for it, in frames
// and in bytes, and reports whether it did. It never blocks.
func (s *session) buffer(frame []byte) bool {
	n := int64(len(frame))
	if s.outBytes.Add(n) > int64(s.r.cfg.OutBytes) {
		s.outBytes.Add(-n)
		return false
	}
	select {
	case s.out <- frame:
		return true
	default:
		s.outBytes.Add(-n)
		return false
	}
}

// writeBuffered writes a frame taken from the out buffer and frees its
// bytes.
func (s *session) writeBuffered(ctx context.Context, frame []byte) error {
	defer s.outBytes.Add(-int64(len(frame)))
	return s.write(ctx, frame)
}

// reply queues the reply to one of the device's frames and frees its
// in-flight slot once written. Replies are never dropped; the in-flight
// limit bounds how many can wait.
func (s *session) reply(frame []byte) {
	s.mu.Lock()
	s.replies = append(s.replies, frame)
	s.mu.Unlock()
	s.poke()
}

// kill ends the session with a close frame.
func (s *session) kill(code websocket.StatusCode, msg string) {
	s.killOnce.Do(func() {
		s.mu.Lock()
		s.killCode, s.killMsg = code, msg
		s.mu.Unlock()
		close(s.done)
	})
}

// writeLoop is the only goroutine that writes to the connection.
func (s *session) writeLoop(ctx context.Context, hello []byte, snapshot []protocol.Presence) error {
	if err := s.write(ctx, hello); err != nil {
		return err
	}
	for _, p := range snapshot {
		b, _ := json.Marshal(p)
		if err := s.write(ctx, b); err != nil {
			return err
		}
	}
	ping := time.NewTimer(s.r.cfg.PingEvery)
	defer ping.Stop()
	for {
		// A session that was ended writes nothing more, not even frames
		// already buffered: its sign-in may be what ended.
		select {
		case <-s.done:
			return nil
		default:
		}
		if err := s.flushReplies(ctx); err != nil {
			return err
		}
		select {
		case f := <-s.out:
			if err := s.writeBuffered(ctx, f); err != nil {
				return err
			}
			continue
		default:
		}
		// The buffer is empty: everything taken live so far is written, so
		// catching up from the store cannot overtake it.
		if s.needsCatchUp() {
			if err := s.catchUpPass(ctx); err != nil {
				return err
			}
			continue
		}
		select {
		case f := <-s.out:
			if err := s.writeBuffered(ctx, f); err != nil {
				return err
			}
		case <-s.wake:
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, s.r.cfg.WriteTimeout)
			err := s.conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			ping.Reset(s.r.cfg.PingEvery)
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *session) flushReplies(ctx context.Context) error {
	for {
		s.mu.Lock()
		rs := s.replies
		s.replies = nil
		s.mu.Unlock()
		if len(rs) == 0 {
			return nil
		}
		for _, f := range rs {
			if err := s.write(ctx, f); err != nil {
				return err
			}
			<-s.inflight
		}
	}
}

func (s *session) needsCatchUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catchUp
}

// catchUpPass sends up to a page of queued items from the store. When a
// pass finds the queue drained and no live item was passed over while it
// read, the session returns to live delivery. Items are committed before
// they are pushed, so an item passed over is always in a later read.
func (s *session) catchUpPass(ctx context.Context) error {
	s.mu.Lock()
	s.missed = false
	after := s.cursor
	s.mu.Unlock()
	items, err := s.r.store.Pending(ctx, s.device, after, pageSize)
	if err != nil {
		return &queueFault{err}
	}
	var buf []byte
	for i := range items {
		select {
		case <-s.done:
			return nil
		default:
		}
		buf = itemFrame(buf[:0], &items[i])
		if err := s.write(ctx, buf); err != nil {
			return err
		}
		s.mu.Lock()
		s.cursor = max(s.cursor, items[i].Seq)
		s.mu.Unlock()
		if err := s.flushReplies(ctx); err != nil {
			return err
		}
	}
	if len(items) > 0 {
		// The store may return a short page (it bounds a page's bytes), so
		// only a pass that finds nothing more shows the queue drained.
		return nil
	}
	s.mu.Lock()
	if !s.missed {
		s.catchUp = false
	}
	s.mu.Unlock()
	return nil
}

func (s *session) write(ctx context.Context, frame []byte) error {
	wctx, cancel := context.WithTimeout(ctx, s.r.cfg.WriteTimeout)
	defer cancel()
	return s.conn.Write(wctx, websocket.MessageText, frame)
}

// ackErrorFrame is errorFrame for a refused ack: it also lists the seqs
// that stay queued.
func (s *session) ackErrorFrame(ref string, seqs []int64, err error) []byte {
	ef := s.errorFrameOf(ref, err)
	ef.Seqs = seqs
	b, _ := json.Marshal(ef)
	return b
}

// errorFrame encodes the error frame answering the frame ref. A server
// fault is logged here, once, at ERROR, with the frame and device it came
// from; the device is told only that the server could not store it.
func (s *session) errorFrame(ref string, err error) []byte {
	b, _ := json.Marshal(s.errorFrameOf(ref, err))
	return b
}

// errorFrameOf builds the error frame answering the frame ref, logging a
// server fault.
func (s *session) errorFrameOf(ref string, err error) protocol.ErrorFrame {
	ef := protocol.ErrorFrame{Type: protocol.TError, Ref: ref}
	var pe *protocol.Error
	var dc *devicesChanged
	switch {
	case errors.As(err, &dc):
		ef.Code, ef.Message, ef.Devices = protocol.CodeDevicesChanged, dc.Error(), dc.devices
	case errors.Is(err, model.ErrStorageFull):
		// The store counts these and logs them once a minute; one line
		// per frame would only fill the log on the disk that is full.
		ef.Code, ef.Message = protocol.CodeStorageFull, protocol.CodeStorageFull.Message()
	case errors.As(err, &pe):
		ef.Code, ef.Message = pe.Code, pe.Message
	case errors.Is(err, model.ErrIDReused):
		ef.Code, ef.Message = protocol.CodeIDReused, "this message id was already used for a different message; choose a new id"
	case errors.Is(err, model.ErrQueueFull):
		ef.Code, ef.Message = protocol.CodeQueueFull, capitalise(model.ReasonOf(err, "not sent: a recipient's device has too many messages waiting"))
		s.r.log.Warn("message refused: a recipient device's queue is full", "user", s.user, "device", s.device, "ref", ref)
	case errors.Is(err, model.ErrBlobGone):
		ef.Code, ef.Message = protocol.CodeAttachmentGone, capitalise(model.ReasonOf(err, protocol.CodeAttachmentGone.Message()))
		s.r.log.Warn("message refused: it names a blob that is not the sender's stored blob", "user", s.user, "device", s.device, "ref", ref)
	case errors.Is(err, model.ErrForbidden):
		ef.Code, ef.Message = protocol.CodeForbidden, model.ReasonOf(err, "this is not allowed")
	case errors.Is(err, model.ErrNotFound):
		ef.Code, ef.Message = protocol.CodeNotFound, "no such message (it may have expired)"
	case errors.Is(err, model.ErrClosed), errors.Is(err, context.Canceled):
		ef.Code, ef.Message = protocol.CodeUnavailable, "the server is shutting down; resend after reconnecting"
	default:
		ef.Code, ef.Message = protocol.CodeInternal, "the server could not store this; resend it later"
	}
	if ef.Code == protocol.CodeInternal {
		s.r.log.Error("frame failed", "user", s.user, "device", s.device, "ref", ref, "err", err)
	}
	return ef
}

// queueFault is a failure to read a device's queue: a fault of the server,
// not of the connection. The session ends with a close code that says so,
// and the device reconnects and reads its queue again.
type queueFault struct{ err error }

func (e *queueFault) Error() string { return "relay: read the queue: " + e.err.Error() }
func (e *queueFault) Unwrap() error { return e.err }
