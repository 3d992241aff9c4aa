package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/store"
)

// HealthCheck reports whether one part of the server is healthy: nil if
// it is, otherwise an error whose text says what is wrong. GET /healthz is
// public, so the text must be a few plain words with no path, address,
// secret or internal error in it ("the disk is full: writes are refused").
//
// A check runs on every /healthz request, so it must answer at once from
// what its part already knows (memory, an atomic); a part that has to
// measure something (replication lag, say) measures in its own goroutine
// and lets the check read the result.
type HealthCheck func(ctx context.Context) error

// Health is the server's registry of named health checks. GET /healthz
// runs every one and answers 503 while any fails, naming each failing
// check and its reason, and 200 while all pass; a monitor or a load
// balancer needs no more than the status.
//
// A part of the server registers its own check under its own name:
//
//	p.Health.Register("replication", func(ctx context.Context) error {
//		if lag := rep.Lag(); lag > maxLag {
//			return fmt.Errorf("replication is %s behind", lag.Round(time.Second))
//		}
//		return nil
//	})
//
// A check only makes /healthz honest; a condition an administrator must
// also be told of raises a mail.Alerts alert of its own as well.
type Health struct {
	mu     sync.RWMutex
	names  []string
	checks map[string]HealthCheck
}

// NewHealth returns an empty registry.
func NewHealth() *Health { return &Health{checks: map[string]HealthCheck{}} }

// Register adds a check under name. Two checks under one name are a wiring
// fault, so Register panics on it, as on an empty name or a nil check.
func (h *Health) Register(name string, check HealthCheck) {
	if name == "" || check == nil {
		panic("server: Health.Register needs a name and a check")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.checks[name]; ok {
		panic("server: health check " + name + " registered twice")
	}
	h.names = append(h.names, name)
	h.checks[name] = check
}

// HealthProblem is one failing check.
type HealthProblem struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Check runs every check, in the order they were registered, and returns
// those that fail.
func (h *Health) Check(ctx context.Context) []HealthProblem {
	h.mu.RLock()
	names := append([]string(nil), h.names...)
	checks := make([]HealthCheck, len(names))
	for i, n := range names {
		checks[i] = h.checks[n]
	}
	h.mu.RUnlock()
	var out []HealthProblem
	for i, c := range checks {
		if err := c(ctx); err != nil {
			out = append(out, HealthProblem{Check: names[i], Reason: err.Error()})
		}
	}
	return out
}

// healthz answers 503 {"status":"starting"} until the server accepts
// connections and while it shuts down; 503 {"status":"failing","reason",
// "checks"} while a check fails; and 200 {"status":"ok"} otherwise.
func healthz(ready *atomic.Bool, h *Health) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !ready.Load() {
			return web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		}
		if probs := h.Check(r.Context()); len(probs) > 0 {
			reasons := make([]string, len(probs))
			for i, p := range probs {
				reasons[i] = p.Check + ": " + p.Reason
			}
			return web.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
				"status": "failing", "reason": strings.Join(reasons, "; "), "checks": probs})
		}
		return web.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	}
}

// writesCheck fails while the store's writes fail: the disk is full, or
// the database cannot write for another reason. It recovers by itself
// with the first write that succeeds.
func writesCheck(st *store.Store) HealthCheck {
	return func(context.Context) error {
		h := st.WriteHealth()
		switch {
		case !h.Failing():
			return nil
		case h.Full && h.Refused > 0:
			return fmt.Errorf("the disk is full: writes are refused (%d since %s)", h.Refused, h.Since.UTC().Format(time.RFC3339))
		case h.Full:
			return fmt.Errorf("the disk is full: writes are refused")
		default:
			return fmt.Errorf("the database cannot write (%d failed writes since start)", h.Failures)
		}
	}
}
