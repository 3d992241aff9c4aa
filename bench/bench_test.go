package bench

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/server"
	"github.com/curbside-health/curbside/store"
)

// body is the benchmarks' sealed body size, as in the command's default.
const body = 1024

// storeFixture is an open store with two seeded users and b.N direct
// messages from the first to the second, encoded and ready to accept.
type storeFixture struct {
	st   *store.Store
	from Identity
	to   Identity
	msgs []*model.NewMessage
}

func newStoreFixture(b *testing.B) *storeFixture {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	sd, err := Seed(ctx, dir, SeedSpec{Users: 2, Prefix: "u"})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	f := &storeFixture{st: st, from: sd.IDs[0], to: sd.IDs[1]}
	to, err := e2ee.NewRecipient(f.to.User, f.to.Device, f.to.Keys.EncPublic())
	if err != nil {
		b.Fatal(err)
	}
	pt, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: TextFor(body)}).Marshal()
	hdr := protocol.Envelope{ID: e2ee.NewID(), Conv: protocol.DirectConv(f.from.User, f.to.User),
		From: protocol.Party{User: f.from.User, Device: f.from.Device}, Created: time.Now().UnixMilli()}
	tmpl, err := e2ee.Seal(hdr, []e2ee.Recipient{to}, pt, f.from.Keys.SignKey())
	if err != nil {
		b.Fatal(err)
	}
	// The store neither verifies nor opens envelopes: every message is the
	// template under a fresh id (its signature would fail; nothing checks it).
	f.msgs = make([]*model.NewMessage, b.N)
	expires := time.Now().Add(7 * 24 * time.Hour).UnixMilli()
	for i := range f.msgs {
		env := *tmpl
		env.ID = e2ee.NewID()
		raw, _ := json.Marshal(&env)
		sum := sha256.Sum256(raw)
		f.msgs[i] = &model.NewMessage{Env: &env, Raw: raw, Digest: sum[:], Recipients: []int64{f.to.User},
			Deliver: []int64{f.to.Device}, ExpiresAt: expires}
	}
	return f
}

// acceptAll submits every message with at most window in flight and waits
// for the last to commit.
func (f *storeFixture) acceptAll(b *testing.B, window int) {
	ctx := context.Background()
	slots := make(chan struct{}, window)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, m := range f.msgs {
		slots <- struct{}{}
		wg.Add(1)
		if err := f.st.AcceptAsync(ctx, m, func(_ model.AcceptResult, err error) {
			if err != nil {
				failed.Add(1)
			}
			<-slots
			wg.Done()
		}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d accepts failed", n)
	}
}

// BenchmarkStoreAccept measures the store alone: 1:1 messages with 1 KB
// bodies accepted durably (group commit, synchronous=FULL), 1024 in
// flight, nobody acknowledging.
func BenchmarkStoreAccept(b *testing.B) {
	f := newStoreFixture(b)
	b.SetBytes(int64(len(f.msgs[0].Raw)))
	c0, o0 := f.st.Stats()
	b.ResetTimer()
	f.acceptAll(b, 1024)
	b.StopTimer()
	f.report(b, c0, o0)
}

// report adds the throughput and the store's group-commit figures.
func (f *storeFixture) report(b *testing.B, c0, o0 int64) {
	c1, o1 := f.st.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(c1-c0)/float64(b.N), "commits/msg")
	if c1 > c0 {
		b.ReportMetric(float64(o1-o0)/float64(c1-c0), "ops/commit")
	}
}

// BenchmarkStoreAcceptAck measures the store's share of the relay's steady
// state: each message is accepted, acknowledged by its recipient (which
// queues a delivered receipt for the sender) and the receipt acknowledged
// by the sender; acks are batched as a client batches them. b.N messages
// complete the cycle.
func BenchmarkStoreAcceptAck(b *testing.B) {
	f := newStoreFixture(b)
	ctx := context.Background()
	type ack struct {
		user, device int64
		seq          int64
	}
	acks := make(chan ack, 1<<16)
	var receipts sync.WaitGroup
	receipts.Add(b.N)
	f.st.SetNotifier(func(items []model.Item) {
		for _, it := range items {
			switch it.Device {
			case f.to.Device:
				acks <- ack{f.to.User, f.to.Device, it.Seq}
			case f.from.Device:
				acks <- ack{f.from.User, f.from.Device, it.Seq}
				receipts.Done()
			}
		}
	})
	stop := make(chan struct{})
	ackerDone := make(chan struct{})
	go func() {
		// One acker per device, as each connection batches its own acks.
		defer close(ackerDone)
		pending := map[int64][]int64{}
		users := map[int64]int64{}
		flush := func() {
			for d, seqs := range pending {
				for len(seqs) > 0 {
					n := min(len(seqs), protocol.MaxAckSeqs)
					if err := f.st.AckAsync(ctx, users[d], d, seqs[:n], func(error) {}); err != nil {
						panic(err)
					}
					seqs = seqs[n:]
				}
				delete(pending, d)
			}
		}
		for {
			select {
			case a := <-acks:
				pending[a.device] = append(pending[a.device], a.seq)
				users[a.device] = a.user
			drain:
				for {
					select {
					case a := <-acks:
						pending[a.device] = append(pending[a.device], a.seq)
						users[a.device] = a.user
					default:
						break drain
					}
				}
				flush()
			case <-stop:
				return
			}
		}
	}()
	b.SetBytes(int64(len(f.msgs[0].Raw)))
	c0, o0 := f.st.Stats()
	b.ResetTimer()
	f.acceptAll(b, 1024)
	receipts.Wait()
	b.StopTimer()
	close(stop)
	<-ackerDone
	f.report(b, c0, o0)
}

// BenchmarkSeal measures what the load generator pays per envelope before
// the clock starts: client.Prepare (HPKE per recipient device, AES-GCM,
// Ed25519, JSON) of a 1 KB body.
func BenchmarkSeal(b *testing.B) {
	for _, n := range []int{1, 9} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			keys, err := e2ee.GenerateDeviceKeys()
			if err != nil {
				b.Fatal(err)
			}
			var rs []e2ee.Recipient
			for i := range n {
				k, _ := e2ee.GenerateDeviceKeys()
				r, _ := e2ee.NewRecipient(int64(i+2), k.ID(), k.EncPublic())
				rs = append(rs, r)
			}
			pt, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: TextFor(body)}).Marshal()
			hdr := protocol.Envelope{Conv: "g:1", From: protocol.Party{User: 1, Device: keys.ID()}, Created: time.Now().UnixMilli()}
			b.ResetTimer()
			for b.Loop() {
				env, err := e2ee.Seal(hdr, rs, pt, keys.SignKey())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRelay1to1 runs the whole server in this process (server.Run on
// a loopback listener) with 16 sender/recipient pairs of relay clients,
// each sender keeping 64 sends in flight, and measures b.N messages from
// the first send until every one was accepted and delivered. Recipients
// and senders acknowledge what reaches them (RawReceive), so the store
// deletes and receipts are in the measurement. Clients share the process,
// so a CPU profile holds both; the server's part is under server, relay,
// store, admin and modernc.org/sqlite.
func BenchmarkRelay1to1(b *testing.B) {
	const pairs, window = 16, 64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := b.TempDir()
	sd, err := Seed(ctx, dir, SeedSpec{Users: 2 * pairs, Prefix: "p"})
	if err != nil {
		b.Fatal(err)
	}
	url, stop := serveInProcess(b, ctx, cancel, dir)
	defer stop()
	opt := LoadOptions{Server: url, TmpDir: b.TempDir(), Body: body}
	fl, err := connect(ctx, opt, sd.IDs, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fl.close()
	senders := make([]int, pairs)
	n := make([]int, pairs)
	for s := range senders {
		senders[s] = 2 * s
		n[s] = b.N / pairs
		if s < b.N%pairs {
			n[s]++
		}
	}
	text := TextFor(body)
	msgs, _, err := prepare(ctx, fl.clients, senders, n, func(s int) client.Outgoing {
		return client.Outgoing{To: []int64{sd.IDs[2*s+1].User}, Text: text}
	})
	if err != nil {
		b.Fatal(err)
	}
	cnt := fl.cnt
	b.ResetTimer()
	var wg sync.WaitGroup
	for s, i := range senders {
		cn := fl.conns[i]
		slots := make(chan struct{}, window)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range msgs[s] {
				slots <- struct{}{}
				if err := cn.SendPreparedAsync(p, func(_ client.Accepted, err error) {
					if err != nil {
						cnt.errors.Add(1)
					} else {
						cnt.accepted.Add(1)
					}
					<-slots
				}); err != nil {
					cnt.errors.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for (cnt.accepted.Load()+cnt.errors.Load() < int64(b.N) || cnt.delivered.Load() < int64(b.N)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if e := cnt.errors.Load(); e > 0 {
		b.Fatalf("%d sends failed", e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

var idleHeap = flag.String("idleheap", "", "BenchmarkIdleConn: write a heap profile to this file while the connections are open")

// BenchmarkIdleConn opens b.N relay WebSockets to a server in this process
// and leaves them idle, then reports the heap and goroutine stack memory
// in use per connection (after a GC), both ends included: take a heap
// profile (-idleheap FILE, taken while they are open; inuse_space) to
// tell the server's part (net/http, relay, coder/websocket.Accept) from the
// client's (websocket.Dial). The command's idle scenario measures the
// server's RSS in its own process.
func BenchmarkIdleConn(b *testing.B) {
	// Both ends are in this process: two descriptors per connection.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && uint64(2*b.N+256) > lim.Cur {
		b.Skipf("%d connections need %d file descriptors; the limit is %d (use -benchtime Nx with a smaller N)", b.N, 2*b.N+256, lim.Cur)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := b.TempDir()
	sd, err := Seed(ctx, dir, SeedSpec{Users: b.N, Prefix: "i"})
	if err != nil {
		b.Fatal(err)
	}
	url, stop := serveInProcess(b, ctx, cancel, dir)
	defer stop()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	b.ResetTimer()
	res, err := IdleRSS(ctx, url, os.Getpid(), sd.IDs, 0, func() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(b.N), "heap-B/conn")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(b.N), "stack-B/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(b.N), "goroutines/conn")
		if *idleHeap != "" {
			f, err := os.Create(*idleHeap)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				b.Fatal(err)
			}
			g, err := os.Create(*idleHeap + ".goroutines")
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			pprof.Lookup("goroutine").WriteTo(g, 1)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = res
}

// serveInProcess runs the real server on dir at a loopback port until stop
// is called, and returns its URL once it is healthy.
func serveInProcess(b *testing.B, ctx context.Context, cancel context.CancelFunc, dir string) (url string, stop func()) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{DataDir: dir, Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	}()
	stop = func() { cancel(); <-done }
	url = "http://" + ln.Addr().String()
	if _, err := WaitHealthy(ctx, url, 10*time.Second); err != nil {
		stop()
		b.Fatal(err)
	}
	return url, stop
}
