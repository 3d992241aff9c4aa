package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curbside-health/curbside/replica"
)

// The registry runs its checks in the order they were registered and
// reports those failing; a name cannot be taken twice.
func TestHealthRegistry(t *testing.T) {
	h := NewHealth()
	var lag atomic.Bool
	h.Register("writes", func(context.Context) error { return nil })
	h.Register("replication", func(context.Context) error {
		if lag.Load() {
			return errors.New("replication is 5m0s behind")
		}
		return nil
	})
	h.Register("other", func(context.Context) error { return errors.New("other is down") })
	got := h.Check(context.Background())
	if len(got) != 1 || got[0] != (HealthProblem{"other", "other is down"}) {
		t.Fatalf("failing checks %+v, want other only", got)
	}
	lag.Store(true)
	got = h.Check(context.Background())
	if len(got) != 2 || got[0].Check != "replication" || got[1].Check != "other" {
		t.Fatalf("failing checks %+v, want replication then other", got)
	}
	for _, bad := range []func(){
		func() { h.Register("writes", func(context.Context) error { return nil }) },
		func() { h.Register("", func(context.Context) error { return nil }) },
		func() { h.Register("nil", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a bad registration did not panic")
				}
			}()
			bad()
		}()
	}
}

// GET /healthz: 503 starting before the server is ready, 503 with the
// failing checks and their reasons while any fails, 200 once none does.
func TestHealthz(t *testing.T) {
	var ready atomic.Bool
	h := NewHealth()
	var full atomic.Bool
	h.Register("writes", func(context.Context) error {
		if full.Load() {
			return errors.New("the disk is full: writes are refused")
		}
		return nil
	})
	get := func() (int, map[string]any) {
		w := httptest.NewRecorder()
		if err := healthz(&ready, h)(w, httptest.NewRequest("GET", "/healthz", nil)); err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body
	}
	if code, body := get(); code != http.StatusServiceUnavailable || body["status"] != "starting" {
		t.Fatalf("before ready: %d %v", code, body)
	}
	ready.Store(true)
	if code, body := get(); code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("healthy: %d %v", code, body)
	}
	full.Store(true)
	code, body := get()
	checks, _ := body["checks"].([]any)
	if code != http.StatusServiceUnavailable || body["status"] != "failing" ||
		body["reason"] != "writes: the disk is full: writes are refused" || len(checks) != 1 {
		t.Fatalf("failing: %d %v", code, body)
	}
	full.Store(false)
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("after recovery: %d", code)
	}
}

// TestReplicationCheck: /healthz's replication check fails once the
// replica is further behind than the limit, with words saying how far,
// and passes again when a sync catches up.
func TestReplicationCheck(t *testing.T) {
	st := replica.Status{LagMS: 2000}
	check := replicationCheck(func() replica.Status { return st }, time.Minute)
	if err := check(context.Background()); err != nil {
		t.Fatalf("2 s behind: %v", err)
	}
	st.LagMS = (6 * time.Minute).Milliseconds()
	err := check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "6m0s behind") {
		t.Fatalf("6 minutes behind: %v", err)
	}
	st.LagMS = 500
	if err := check(context.Background()); err != nil {
		t.Fatalf("caught up: %v", err)
	}
}
