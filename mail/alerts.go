package mail

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// alertRemind is how often an alert that lasts is mailed again.
const alertRemind = 24 * time.Hour

// Alert is a condition of the server the administrators must hear of.
type Alert struct {
	Key    string `json:"key"`              // what condition, e.g. "disk", "writes", "audit"
	Title  string `json:"title"`            // a few words for a subject line
	Detail string `json:"detail"`           // a sentence or two: what, and what to do
	Since  int64  `json:"since"`            // ms
	Mailed int64  `json:"mailed,omitempty"` // ms of the last mail about it; 0: not mailed yet
}

// Alerts holds the conditions raised and not yet cleared. Each is logged
// at ERROR when raised, shown in the console, and mailed to the owners and
// admins who have an email address: once when raised, then once a day
// while it lasts. Any part of the server may raise one (disk space, store
// writes, the audit chain; later replication lag), under a key of its own.
type Alerts struct {
	svc *Service
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	active map[string]*Alert
}

func newAlerts(svc *Service, log *slog.Logger) *Alerts {
	return &Alerts{svc: svc, log: log, now: time.Now, active: map[string]*Alert{}}
}

// Raise records that the condition key holds. The first raise logs it and
// mails the administrators; raising it again while it holds mails again
// only once a day (or once email is set up, if it was not).
func (a *Alerts) Raise(ctx context.Context, key, title, detail string) {
	if a == nil {
		return
	}
	now := a.now()
	a.mu.Lock()
	al, ok := a.active[key]
	if !ok {
		al = &Alert{Key: key, Title: title, Detail: detail, Since: now.UnixMilli()}
		a.active[key] = al
	}
	al.Title, al.Detail = title, detail
	due := al.Mailed == 0 || now.Sub(time.UnixMilli(al.Mailed)) >= alertRemind
	snapshot := *al
	a.mu.Unlock()
	if !ok {
		a.log.Error("alert: "+title, "alert", key, "detail", detail)
	}
	if !due {
		return
	}
	if a.mail(ctx, snapshot, !ok) {
		a.mu.Lock()
		if cur := a.active[key]; cur == al {
			al.Mailed = now.UnixMilli()
		}
		a.mu.Unlock()
	}
}

// mail sends alert to the owners and admins with an email address, and
// reports whether it was queued.
func (a *Alerts) mail(ctx context.Context, al Alert, first bool) bool {
	practice := a.svc.Practice(ctx)
	if practice == "" {
		if first {
			a.log.Warn("alert not mailed: email is not set up", "alert", al.Key)
		}
		return false
	}
	to, err := a.svc.st.AlertRecipients(ctx)
	if err != nil {
		a.log.Error("alert not mailed: read the administrators' addresses", "alert", al.Key, "err", err)
		return false
	}
	if len(to) == 0 {
		if first {
			a.log.Warn("alert not mailed: no owner or admin has an email address", "alert", al.Key)
		}
		return false
	}
	return a.svc.Enqueue(ctx, AlertMail(practice, to, al)) == nil
}

// Clear records that the condition key no longer holds; raised again, it
// is mailed again.
func (a *Alerts) Clear(key string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	al, ok := a.active[key]
	delete(a.active, key)
	a.mu.Unlock()
	if ok {
		a.log.Info("alert cleared: "+al.Title, "alert", key)
	}
}

// Active lists the conditions that hold, oldest first.
func (a *Alerts) Active() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Alert, 0, len(a.active))
	for _, al := range a.active {
		out = append(out, *al)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since < out[j].Since })
	return out
}
