package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// Pending is the audit entry of an action that is about to be written. It
// travels with the write in its context (WithAudit) and is appended to the
// audit log inside the write's own transaction, once the write's statements
// have succeeded: the action and its record commit together, or neither
// does. A write that fails appends nothing, so an action that did not
// happen is never recorded as done; and an entry that cannot be appended
// fails the write, so no action happens unrecorded.
type Pending struct {
	Entry AuditEntry
	// Detail is marshalled into Entry.Detail as the entry is appended, so
	// the write and Complete can still add to it. Nil leaves Entry.Detail
	// as it is.
	Detail map[string]any
	// Complete, when set, runs inside the transaction after the write and
	// before the entry is appended: it fills in what only the write's
	// result says, such as the id of a row it created.
	Complete func(p *Pending)
	// Result is what the write produced, for Complete: set by the writes
	// whose entry needs it, as their doc comments say (CreateGroupIn: the
	// new group's id, an int64).
	Result any
}

type pendingKey struct{}

// pendingSet is what WithAudit puts in a context: the entries, and whether
// a write has taken them yet.
type pendingSet struct {
	list  []*Pending
	taken atomic.Bool
	idle  bool // the write found nothing to do (nothingDone)
}

// WithAudit returns ctx carrying ps. The first write made with the returned
// context, or with one derived from it, takes them and appends them in its
// transaction, in order, after its own statements; later writes with the
// same context append nothing more. Reads ignore them. So an action of
// several writes records itself with the context of the write that does it,
// and passes its caller's context to the others.
func WithAudit(ctx context.Context, ps ...*Pending) context.Context {
	return context.WithValue(ctx, pendingKey{}, &pendingSet{list: ps})
}

// withPending returns fn followed by the appending of the entries ctx
// carries, if this is the write that takes them; otherwise fn itself. The
// result may run more than once (a batch rolled back is retried one
// operation per transaction), and appends the entries afresh each time.
func withPending(ctx context.Context, fn func(tx *sql.Tx) error) func(tx *sql.Tx) error {
	set, _ := ctx.Value(pendingKey{}).(*pendingSet)
	if set == nil || !set.taken.CompareAndSwap(false, true) {
		return fn
	}
	return func(tx *sql.Tx) error {
		set.idle = false
		if err := fn(tx); err != nil {
			return err
		}
		if set.idle {
			return nil
		}
		for _, p := range set.list {
			if p.Complete != nil {
				p.Complete(p)
			}
			if p.Detail != nil {
				b, err := json.Marshal(p.Detail)
				if err != nil {
					return fmt.Errorf("store: audit %s: detail: %w", p.Entry.Action, err)
				}
				p.Entry.Detail = string(b)
			}
			if err := appendAudit(tx, &p.Entry); err != nil {
				return fmt.Errorf("store: audit %s: %w", p.Entry.Action, err)
			}
		}
		return nil
	}
}

// Detail keys a write adds to the entry it carries (note), for what only
// it knows.
const (
	// NoteSessionsEnded is how many sessions the write ended.
	NoteSessionsEnded = "sessions_ended"
	// NoteDevicesToWipe is how many of an offboarded user's devices are
	// left to wipe, each in a write and entry of its own.
	NoteDevicesToWipe = "devices_to_wipe"
)

// note sets key to v in the detail of the first entry ctx carries (the
// action's own), from inside the write's transaction: for what only the
// write knows, such as how many sessions it ended. Without an entry it does
// nothing. Only the writer goroutine runs writes, so this needs no lock.
func note(ctx context.Context, key string, v any) {
	set, _ := ctx.Value(pendingKey{}).(*pendingSet)
	if set == nil || len(set.list) == 0 {
		return
	}
	p := set.list[0]
	if p.Detail == nil {
		p.Detail = map[string]any{}
	}
	p.Detail[key] = v
}

// failed marks, from inside a write's transaction, the first entry ctx
// carries as a failure with reason: for a write that commits what a refusal
// changed (a count of wrong codes) and is then answered as refused.
func failed(ctx context.Context, reason string) {
	if set, _ := ctx.Value(pendingKey{}).(*pendingSet); set != nil && len(set.list) > 0 {
		set.list[0].Entry.Outcome = OutcomeFail
		note(ctx, "reason", reason)
	}
}

// nothingDone tells, from inside a write's transaction, that the write
// found nothing to do and changed nothing: the entries ctx carries are not
// appended, as there is no action to record.
func nothingDone(ctx context.Context) {
	if set, _ := ctx.Value(pendingKey{}).(*pendingSet); set != nil {
		set.idle = true
	}
}

// result records, from inside a write's transaction, what the write
// produced in the first entry ctx carries, for that entry's Complete.
func result(ctx context.Context, v any) {
	if set, _ := ctx.Value(pendingKey{}).(*pendingSet); set != nil && len(set.list) > 0 {
		set.list[0].Result = v
	}
}
