package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// BenchmarkAuditAppend measures one audited action's entry: the head read,
// the hash and the two writes, each its own commit (as the console makes
// them, one per request).
func BenchmarkAuditAppend(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Audit(ctx, &AuditEntry{Actor: 1, ActorName: "admin", Action: "user.update", Target: fmt.Sprintf("user:%d", i),
			IP: "192.0.2.1", Detail: `{"display":"changed"}`}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditVerify measures the chain check per entry, over a log of
// 100,000 entries (a small practice's year or two).
func BenchmarkAuditVerify(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const n = 100000
	for done := 0; done < n; {
		ops := make(chan error, maxBatch)
		k := min(maxBatch, n-done)
		for j := range k {
			e := &AuditEntry{Actor: 1, ActorName: "admin", Action: "login.ok", Target: fmt.Sprintf("user:%d", done+j), IP: "192.0.2.1"}
			if err := s.submitAsync(ctx, func(tx *sql.Tx) error { return appendAudit(tx, e) }, func(err error) { ops <- err }); err != nil {
				b.Fatal(err)
			}
		}
		for range k {
			if err := <-ops; err != nil {
				b.Fatal(err)
			}
		}
		done += k
	}
	b.ResetTimer()
	for range b.N {
		v, err := s.VerifyAudit(ctx)
		if err != nil || !v.OK || v.Entries != n {
			b.Fatalf("%+v %v", v, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}
