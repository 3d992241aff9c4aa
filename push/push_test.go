package push

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
)

// memStore is the in-memory Store the sender's tests run against.
type memStore struct {
	mu   sync.Mutex
	subs map[int64]*model.PushSubscription
}

func (m *memStore) PushSubscription(_ context.Context, device int64) (*model.PushSubscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.subs[device]; s != nil {
		return s, nil
	}
	return nil, model.ErrNotFound
}

func (m *memStore) DeletePushSubscription(_ context.Context, device int64, endpoint string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subs[device]
	if s == nil || (endpoint != "" && s.Endpoint != endpoint) {
		return false, nil
	}
	delete(m.subs, device)
	return true, nil
}

func (m *memStore) has(device int64) bool {
	_, err := m.PushSubscription(context.Background(), device)
	return err == nil
}

// browserKeys is a subscription's keys, as a browser makes them.
func browserKeys(t *testing.T, device int64, endpoint string) *model.PushSubscription {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return &model.PushSubscription{Device: device, Endpoint: endpoint, P256DH: k.PublicKey().Bytes(), Auth: auth}
}

type seen struct {
	path, urgency, ttl, topic, auth string
}

func newTestSender(t *testing.T, st Store, cfg Config) *Sender {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	cfg.Store, cfg.Key, cfg.Guard, cfg.Contact = st, key, NewGuard(nil, true), "ops@example.org"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A push carries the urgency and lifetime of what it announces, is signed
// with the VAPID key, and a subscription the push service calls gone (404,
// 410) is deleted.
func TestSenderHeadersAndGone(t *testing.T) {
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Urgency"), r.Header.Get("TTL"), r.Header.Get("Topic"), r.Header.Get("Authorization")}
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	st := &memStore{subs: map[int64]*model.PushSubscription{
		1: browserKeys(t, 1, srv.URL+"/ok"),
		2: browserKeys(t, 2, srv.URL+"/gone"),
	}}
	s := newTestSender(t, st, Config{})
	next := func() seen {
		t.Helper()
		select {
		case x := <-got:
			return x
		case <-time.After(20 * time.Second):
			t.Fatal("no push arrived")
		}
		return seen{}
	}
	s.Wake(model.Wake{Device: 1, Conv: "d:1:2"})
	if x := next(); x.urgency != "normal" || x.ttl != "86400" || x.topic != "message" || len(x.auth) < 20 {
		t.Fatalf("normal push: %+v", x)
	}
	s.Wake(model.Wake{Device: 1, Urgent: true, Conv: "d:1:2"})
	if x := next(); x.urgency != "high" || x.ttl != "300" || x.topic != "urgent" {
		t.Fatalf("urgent push: %+v", x)
	}
	s.Wake(model.Wake{Device: 3}) // no subscription: nothing is sent
	s.Wake(model.Wake{Device: 2})
	if x := next(); x.path != "/gone" {
		t.Fatalf("got a push to %s", x.path)
	}
	deadline := time.Now().Add(20 * time.Second)
	for st.has(2) {
		if time.Now().After(deadline) {
			t.Fatal("a subscription answered 410 was kept")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !st.has(1) {
		t.Fatal("a working subscription was deleted")
	}
}

// The queue is bounded: with the push service stuck, Wake drops instead of
// waiting, and the caller is never held up.
func TestSenderQueueIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	st := &memStore{subs: map[int64]*model.PushSubscription{1: browserKeys(t, 1, srv.URL+"/slow")}}
	s := newTestSender(t, st, Config{Queue: 4, Workers: 1})
	queued := 0
	for range 50 {
		if s.Wake(model.Wake{Device: 1}) {
			queued++
		}
	}
	// One being sent, four waiting, at most one more taken meanwhile.
	if queued > 6 || s.dropped.Load() < 44 {
		t.Fatalf("queued %d of 50 with a queue of 4 (dropped %d)", queued, s.dropped.Load())
	}
}
