// Package push wakes offline devices with Web Push (RFC 8030), encrypted
// to the browser (RFC 8291) and signed with the server's VAPID key
// (RFC 8292), through github.com/SherClockHolmes/webpush-go.
//
// What is sent carries no PHI: a push says only that a secure message is
// waiting, whether it is urgent, and the opaque id of its conversation, so
// that the notification opens the right one once the app is unlocked. The
// push service learns that and when a device was woken, never who wrote or
// what; see Payload.
//
// The relay decides when to wake a device (relay/push.go); a Sender does
// the sending, off the relay's path: Wake only queues, into a bounded
// queue, and a few workers send. A slow or failing push service delays
// nothing but its own pushes, and a full queue drops wake-ups (the message
// itself waits in the device's queue as always). Endpoints pass a Guard
// (guard.go) before the server connects anywhere.
package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/curbside-health/curbside/model"
)

// Defaults for Config.
const (
	DefaultQueue   = 1024             // wake-ups waiting to be sent before more are dropped
	DefaultWorkers = 2                // pushes sent at once
	DefaultTimeout = 15 * time.Second // one push, connection to answer
	// UrgentTTL is how long a push service keeps an urgent push for a
	// device it cannot reach (seconds): an urgent wake-up that arrives an
	// hour late helps nobody, and the message waits in the queue anyway.
	UrgentTTL = 5 * 60
	// NormalTTL is how long it keeps any other push (seconds).
	NormalTTL = 24 * 60 * 60
)

// Store is what the sender needs from storage; *store.Store implements it.
type Store interface {
	PushSubscription(ctx context.Context, device int64) (*model.PushSubscription, error)
	DeletePushSubscription(ctx context.Context, device int64, endpoint string) (bool, error)
}

// Config configures a Sender.
type Config struct {
	Store  Store
	Logger *slog.Logger
	Key    *ecdh.PrivateKey // the VAPID key (store.VAPIDKey)
	// Contact is the VAPID subject push services may write to about this
	// server's pushes: an https URL or an e-mail address.
	Contact string
	Guard   *Guard
	Queue   int // DefaultQueue when 0
	Workers int // DefaultWorkers when 0
	Timeout time.Duration
}

// Payload is everything a push carries, encrypted to the browser. It is
// deliberately this small: no sender, no text, no conversation title.
type Payload struct {
	V      int    `json:"v"`      // 1
	Type   string `json:"type"`   // "message": a secure message is waiting
	Urgent bool   `json:"urgent"` // it is marked urgent
	Conv   string `json:"conv"`   // the conversation id (protocol.ParseConv), opaque to the notification
}

// Sender sends Web Push wake-ups from a bounded queue.
type Sender struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	pub    string // the VAPID public key, base64url
	priv   string // the VAPID private key, base64url

	queue   chan model.Wake
	dropped atomic.Int64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New starts a sender's workers. Close stops them.
func New(cfg Config) (*Sender, error) {
	if cfg.Store == nil || cfg.Key == nil || cfg.Guard == nil {
		return nil, errors.New("push: a sender needs a store, a VAPID key and a guard")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		cfg: cfg, log: cfg.Logger, client: cfg.Guard.Client(cfg.Timeout),
		pub:   base64.RawURLEncoding.EncodeToString(cfg.Key.PublicKey().Bytes()),
		priv:  base64.RawURLEncoding.EncodeToString(cfg.Key.Bytes()),
		queue: make(chan model.Wake, cfg.Queue), ctx: ctx, cancel: cancel,
	}
	for range cfg.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// PublicKey is the VAPID public key (uncompressed P-256, base64url) that
// browsers subscribe with: PushManager.subscribe's applicationServerKey.
func (s *Sender) PublicKey() string { return s.pub }

// Guard is the sender's guard, for checking endpoints before they are
// stored.
func (s *Sender) Guard() *Guard { return s.cfg.Guard }

// Wake queues a wake-up for a device and reports whether it was queued.
// It never blocks: with the queue full the wake-up is dropped.
func (s *Sender) Wake(w model.Wake) bool {
	select {
	case s.queue <- w:
		return true
	default:
		n := s.dropped.Add(1)
		s.log.Warn("push: queue full; wake-up dropped", "device", w.Device, "dropped", n)
		return false
	}
}

// Close stops the workers; wake-ups still queued are not sent.
func (s *Sender) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Sender) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case w := <-s.queue:
			s.send(w)
		}
	}
}

// send pushes one wake-up to the device's subscription, if it has one.
func (s *Sender) send(w model.Wake) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	sub, err := s.cfg.Store.PushSubscription(ctx, w.Device)
	if errors.Is(err, model.ErrNotFound) {
		return
	}
	if err != nil {
		s.log.Error("push: read the subscription", "device", w.Device, "err", err)
		return
	}
	if _, err := s.cfg.Guard.CheckEndpoint(sub.Endpoint); err != nil {
		// Stored before the list of push services was narrowed.
		s.log.Warn("push: endpoint no longer allowed; not sent", "device", w.Device, "err", err)
		return
	}
	body, _ := json.Marshal(Payload{V: 1, Type: "message", Urgent: w.Urgent, Conv: w.Conv})
	opts := &webpush.Options{
		HTTPClient: s.client, Subscriber: s.cfg.Contact,
		VAPIDPublicKey: s.pub, VAPIDPrivateKey: s.priv,
		TTL: NormalTTL, Urgency: webpush.UrgencyNormal, Topic: "message",
	}
	if w.Urgent {
		opts.TTL, opts.Urgency, opts.Topic = UrgentTTL, webpush.UrgencyHigh, "urgent"
	}
	res, err := webpush.SendNotificationWithContext(ctx, body, &webpush.Subscription{
		Endpoint: sub.Endpoint,
		Keys: webpush.Keys{
			P256dh: base64.RawURLEncoding.EncodeToString(sub.P256DH),
			Auth:   base64.RawURLEncoding.EncodeToString(sub.Auth),
		},
	}, opts)
	if err != nil {
		s.log.Warn("push: not delivered to the push service", "device", w.Device, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusGone:
		// The browser unsubscribed, or the subscription expired: it will
		// never work again.
		if _, err := s.cfg.Store.DeletePushSubscription(s.ctx, w.Device, sub.Endpoint); err != nil {
			s.log.Error("push: delete a subscription that is gone", "device", w.Device, "err", err)
			return
		}
		s.log.Info("push: subscription gone; removed", "device", w.Device, "status", res.StatusCode)
	case res.StatusCode >= 200 && res.StatusCode < 300:
		s.log.Debug("push: sent", "device", w.Device, "urgent", w.Urgent, "status", res.StatusCode)
	default:
		s.log.Warn("push: the push service refused a push", "device", w.Device, "status", res.StatusCode)
	}
}
