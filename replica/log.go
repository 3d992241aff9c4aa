package replica

import (
	"context"
	"log/slog"
)

// quieter passes Litestream's log to h with its INFO lines (a compaction
// every 30 seconds, a snapshot a day) lowered to DEBUG: the server's log
// keeps what an operator acts on, warnings and errors, at their level.
type quieter struct{ h slog.Handler }

func quiet(l *slog.Logger) *slog.Logger { return slog.New(quieter{l.Handler()}) }

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, lower(l))
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	r.Level = lower(r.Level)
	return q.h.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.h.WithAttrs(as)} }
func (q quieter) WithGroup(name string) slog.Handler    { return quieter{q.h.WithGroup(name)} }

func lower(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}
