package auth

import (
	"context"
	"sync"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// Failed sign-ins are written to the audit log coalesced per source: the
// first failure from an address in a minute is one row with its user and
// reason, and the further failures of that minute become one more row,
// written when the minute ends, that counts them (detail "count", and
// "reasons" with a count per reason). So a flood of bad sign-ins adds at
// most two rows per address per minute to a log kept for six years, and
// at most maxFailSources addresses are told apart in a minute; the rest
// share one row with no address.
const (
	failWindow     = time.Minute
	maxFailSources = 1024
	overflowSource = "*"
)

// failBucket is one source's minute.
type failBucket struct {
	start   time.Time
	ip      string
	count   int
	reasons map[string]int
}

// failAudit holds the open minutes.
type failAudit struct {
	mu sync.Mutex
	m  map[string]*failBucket
}

// recordFail records a failed sign-in step, coalesced per source.
func (a *Auth) recordFail(ctx context.Context, ip string, u *model.User, detail map[string]any) {
	key := web.SourceKey(ip)
	now := time.Now()
	reason, _ := detail["reason"].(string)
	a.fails.mu.Lock()
	if a.fails.m == nil {
		a.fails.m = map[string]*failBucket{}
	}
	b := a.fails.m[key]
	if b == nil && len(a.fails.m) >= maxFailSources {
		key = overflowSource
		b = a.fails.m[key]
	}
	if b != nil && now.Sub(b.start) < failWindow {
		b.count++
		b.reasons[reason]++
		if b.count == 1 {
			time.AfterFunc(failWindow-now.Sub(b.start), func() { a.flushFail(key, b) })
		}
		a.fails.mu.Unlock()
		return
	}
	// A new minute for this source: it is written in full.
	b = &failBucket{start: now, ip: ip, reasons: map[string]int{}}
	if key == overflowSource {
		b.ip = ""
	}
	a.fails.m[key] = b
	if len(a.fails.m) > maxFailSources/2 {
		for k, o := range a.fails.m { // minutes that ended with nothing to add
			if now.Sub(o.start) >= failWindow && o.count == 0 {
				delete(a.fails.m, k)
			}
		}
	}
	a.fails.mu.Unlock()
	if key == overflowSource {
		ip = ""
	}
	a.auditAlone(ctx, signInEntry(ip, "login.fail", u, store.OutcomeFail, detail))
}

// flushFail writes the count of b's minute, once it is over.
func (a *Auth) flushFail(key string, b *failBucket) {
	a.fails.mu.Lock()
	if a.fails.m[key] == b {
		delete(a.fails.m, key)
	}
	count, reasons := b.count, b.reasons
	b.count = 0
	a.fails.mu.Unlock()
	if count == 0 {
		return
	}
	a.auditAlone(context.Background(), signInEntry(b.ip, "login.fail", nil, store.OutcomeFail,
		map[string]any{"reason": "repeated", "count": count, "reasons": reasons, "window_s": int(failWindow / time.Second)}))
}

// FlushFailures writes every minute still open now, as if it had ended:
// at shutdown, and in tests that count the rows.
func (a *Auth) FlushFailures() {
	a.fails.mu.Lock()
	open := make(map[string]*failBucket, len(a.fails.m))
	for k, b := range a.fails.m {
		open[k] = b
	}
	a.fails.mu.Unlock()
	for k, b := range open {
		a.flushFail(k, b)
	}
}
