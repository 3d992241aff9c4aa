package console

import (
	"net/url"
	"testing"

	"github.com/curbside-health/curbside/store"
)

// FuzzParseAuditQuery checks that any query string either is refused or
// yields filters inside their limits.
func FuzzParseAuditQuery(f *testing.F) {
	for _, s := range []string{"", "limit=500", "q=%25&action=login.", "from=2026-01-01&to=2026-01-31", "before=10&actor=3&outcome=fail",
		"from=1700000000000&to=1", "limit=-1", "action=User.", "to=2026-02-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseAuditQuery(p)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > store.MaxAuditPage || q.Actor < 0 || q.Before < 0 || q.From < 0 || q.To < 0 ||
			(q.From != 0 && q.To != 0 && q.To <= q.From) || len([]rune(q.Text)) > maxAuditText || len(q.Action) > maxAuditAction {
			t.Fatalf("%q gave out-of-range filters %+v", raw, q)
		}
		switch q.Outcome {
		case "", store.OutcomeOK, store.OutcomeFail:
		default:
			t.Fatalf("%q gave outcome %q", raw, q.Outcome)
		}
	})
}
