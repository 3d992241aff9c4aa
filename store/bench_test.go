package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// BenchmarkAcceptAckCycle measures the store's side of one 1:1 message with
// 1 KB of ciphertext under concurrency: accept, the recipient's ack (with
// its delivered receipt), and the sender's ack of that receipt.
var benchPairs = 64

func BenchmarkAcceptAckCycle(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var mu sync.Mutex
	pending := map[int64][]int64{}
	s.SetNotifier(func(items []model.Item) {
		mu.Lock()
		for _, it := range items {
			pending[it.Device] = append(pending[it.Device], it.Seq)
		}
		mu.Unlock()
	})
	pairs := benchPairs
	for i := range pairs {
		a := &model.User{Username: fmt.Sprintf("a%d", i), Display: "a", Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
		r := &model.User{Username: fmt.Sprintf("b%d", i), Display: "b", Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
		s.CreateUser(ctx, a)
		s.CreateUser(ctx, r)
		s.submit(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen) VALUES (?, ?, 'd', x'00', x'00', 0, 0), (?, ?, 'd', x'00', x'00', 0, 0)`, 1000+i, a.ID, 2000+i, r.ID)
			return err
		})
	}
	raw := make([]byte, 1400)
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N/pairs + 1
	for i := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				id := fmt.Sprintf("bench-%04d-%08d-xxxx", i, j)
				env := &protocol.Envelope{ID: id, Conv: "d:1:2", From: protocol.Party{User: int64(2*i + 1), Device: int64(1000 + i)}, Created: 1}
				sum := sha256.Sum256([]byte(id))
				m := &model.NewMessage{Env: env, Raw: raw, Digest: sum[:], Recipients: []int64{int64(2*i + 2)}, Deliver: []int64{int64(2000 + i)}, ExpiresAt: time.Now().Add(time.Hour).UnixMilli()}
				if _, err := s.Accept(ctx, m); err != nil {
					b.Error(err)
					return
				}
				for _, dev := range []int64{int64(2000 + i), int64(1000 + i)} {
					mu.Lock()
					seqs := pending[dev]
					delete(pending, dev)
					mu.Unlock()
					if len(seqs) > 0 {
						user := int64(2*i + 2)
						if dev < 2000 {
							user = int64(2*i + 1)
						}
						s.Ack(ctx, user, dev, seqs)
					}
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
	c, o := s.Stats()
	b.ReportMetric(float64(o)/float64(c), "ops/commit")
}
