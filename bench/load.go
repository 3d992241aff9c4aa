package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// LoadOptions configures the Curbside load scenarios.
type LoadOptions struct {
	Server    string // the server's base URL, http://127.0.0.1:PORT
	TmpDir    string // scratch directory for client state files
	Body      int    // sealed body (ciphertext) bytes per message
	Warmup    time.Duration
	Measure   time.Duration
	Window    int // saturation: sends in flight per connection
	ServerPID int // the server process, for CPU accounting (0: none)
	// Progress, if set, is told when a run enters a phase (sealed, window
	// open, window closed).
	Progress func(phase string)
}

func (o *LoadOptions) progress(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

// TextFor returns message text whose sealed body is body bytes long: the
// plaintext {"type":"text","text":"..."} plus the 16-byte AES-GCM tag.
func TextFor(body int) string {
	one, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: "x"}).Marshal()
	overhead := len(one) - 1 // the JSON around the text
	return strings.Repeat("x", max(1, body-16-overhead))
}

// counters are what every connection of a scenario counts as it receives.
type counters struct {
	delivered atomic.Int64 // msg frames
	receipts  atomic.Int64 // receipt frames
	accepted  atomic.Int64 // accepted answers
	errors    atomic.Int64 // error answers and failed writes
	inflight  atomic.Int64 // sends written, not yet answered
}

type snapshot struct {
	at                                    time.Time
	delivered, receipts, accepted, errors int64
	serverCPU, selfCPU                    time.Duration
	serverWrites                          int64         // bytes the server wrote to storage
	busy, total                           time.Duration // the machine's CPU time
}

func (c *counters) snap(serverPID int) snapshot {
	s := snapshot{at: time.Now(), delivered: c.delivered.Load(), receipts: c.receipts.Load(),
		accepted: c.accepted.Load(), errors: c.errors.Load()}
	if serverPID > 0 {
		s.serverCPU, _ = CPUTime(serverPID)
		s.serverWrites, _ = WriteBytes(serverPID)
	}
	s.selfCPU, _ = CPUTime(os.Getpid())
	s.busy, s.total, _ = MachineCPU()
	return s
}

// fleet is the connected devices of one scenario.
type fleet struct {
	clients []*client.Client
	conns   []*client.Conn
	cnt     *counters
}

// connect makes a client per identity and opens its relay session with
// RawReceive: every queued frame is counted, passed to onMsg (msg frames
// only, with the receive time) and acknowledged without decryption.
func connect(ctx context.Context, opt LoadOptions, ids []Identity, onMsg func(dev int, f client.RawFrame, at time.Time)) (*fleet, error) {
	fl := &fleet{clients: make([]*client.Client, len(ids)), conns: make([]*client.Conn, len(ids)), cnt: &counters{}}
	for i := range ids {
		c, err := ids[i].Client(opt.Server, opt.TmpDir)
		if err != nil {
			fl.close()
			return nil, err
		}
		fl.clients[i] = c
		cnt := fl.cnt
		cn, err := c.Connect(ctx, client.RawReceive(func(f client.RawFrame) {
			at := time.Now()
			switch f.Type {
			case protocol.TMsg:
				cnt.delivered.Add(1)
				if onMsg != nil {
					onMsg(i, f, at)
				}
			case protocol.TReceipt:
				cnt.receipts.Add(1)
			}
		}))
		if err != nil {
			fl.close()
			return nil, fmt.Errorf("connecting %s: %w", ids[i].Username, err)
		}
		fl.conns[i] = cn
	}
	return fl, nil
}

func (fl *fleet) close() {
	var wg sync.WaitGroup
	for _, cn := range fl.conns {
		if cn != nil {
			wg.Add(1)
			go func() { defer wg.Done(); cn.Close() }()
		}
	}
	wg.Wait()
}

// drain waits until no send is in flight, or limit passes.
func (fl *fleet) drain(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for fl.cnt.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// prepare seals n[s] messages for each sender s, out(s) saying to whom, on
// every core, and returns them with how long sealing took. Only the id and
// the send frame are kept.
func prepare(ctx context.Context, cs []*client.Client, senders []int, n []int, out func(s int) client.Outgoing) ([][]*client.Prepared, time.Duration, error) {
	start := time.Now()
	msgs := make([][]*client.Prepared, len(senders))
	type job struct{ s, k int }
	jobs := make(chan job, 1024)
	// Fetch and verify each sender's peers' keys once, before the bulk.
	for s, i := range senders {
		msgs[s] = make([]*client.Prepared, n[s])
		if n[s] == 0 {
			continue
		}
		p, err := cs[i].Prepare(ctx, out(s))
		if err != nil {
			return nil, 0, fmt.Errorf("sealing: %w", err)
		}
		msgs[s][0] = &client.Prepared{ID: p.ID, Conv: p.Conv, Frame: p.Frame}
	}
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p, err := cs[senders[j.s]].Prepare(ctx, out(j.s))
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				msgs[j.s][j.k] = &client.Prepared{ID: p.ID, Conv: p.Conv, Frame: p.Frame}
			}
		}()
	}
	for s := range senders {
		for k := 1; k < n[s]; k++ {
			jobs <- job{s, k}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, 0, fmt.Errorf("sealing: %w", firstErr)
	}
	return msgs, time.Since(start), nil
}

// errExhausted reports a saturation run whose senders ran out of sealed
// envelopes before the measurement window opened.
var errExhausted = errors.New("a sender ran out of sealed envelopes during the warm-up: seal more per sender")

// Mode is a saturation scenario's addressing.
type Mode int

// Saturation modes.
const (
	OneToOne Mode = iota // identity 2i sends to 2i+1
	Group                // every member of a group sends to the group
)

// SatResult is the outcome of a saturation run, counted over the
// measurement window only.
type SatResult struct {
	Conns, Senders, Window int
	Sealed                 int           // envelopes sealed before the run
	SealTime               time.Duration // how long sealing them took
	Duration               time.Duration // the measurement window
	Accepted, Delivered    int64         // accepted answers; msg frames received
	Receipts, Errors       int64
	ServerCores, SelfCores float64 // CPU used during the window, in cores
	ServerWrites           int64   // bytes the server wrote to storage during the window
	MachineBusy            float64 // share of the machine's CPU time busy during the window, 0-1
	Exhausted              bool    // a sender ran out of sealed envelopes and ended the window early
	// PerSender is each sender's accepted messages per second in the
	// window, ascending (Curbside runs only): how evenly the server shares
	// its throughput among connections.
	PerSender []float64
}

func loadAll(xs []atomic.Int64) []int64 {
	out := make([]int64, len(xs))
	for i := range xs {
		out[i] = xs[i].Load()
	}
	return out
}

// AcceptedPerSec is accepted messages per second in the window.
func (r *SatResult) AcceptedPerSec() float64 { return float64(r.Accepted) / r.Duration.Seconds() }

// DeliveredPerSec is messages delivered to recipient devices per second.
func (r *SatResult) DeliveredPerSec() float64 { return float64(r.Delivered) / r.Duration.Seconds() }

// Saturation drives the server as hard as the senders can: each sender
// keeps opt.Window sends in flight on its connection, each answered
// accepted (durable) before its slot is reused, while every device
// receives and acknowledges what reaches it. perSender envelopes are
// sealed per sender before the clock starts; the window ends after
// opt.Measure, or earlier when a sender runs out.
func Saturation(ctx context.Context, opt LoadOptions, sd *Seeded, mode Mode, perSender int) (*SatResult, error) {
	fl, err := connect(ctx, opt, sd.IDs, nil)
	if err != nil {
		return nil, err
	}
	defer fl.close()
	var senders []int
	var out func(s int) client.Outgoing
	text := TextFor(opt.Body)
	switch mode {
	case OneToOne:
		for i := 0; i+1 < len(sd.IDs); i += 2 {
			senders = append(senders, i)
		}
		out = func(s int) client.Outgoing {
			return client.Outgoing{To: []int64{sd.IDs[senders[s]+1].User}, Text: text}
		}
	case Group:
		groupOf := map[int]int{}
		for g, ms := range sd.Groups {
			for _, i := range ms {
				groupOf[i] = g
				senders = append(senders, i)
			}
		}
		out = func(s int) client.Outgoing {
			g := groupOf[senders[s]]
			var to []int64
			for _, i := range sd.Groups[g] {
				if i != senders[s] {
					to = append(to, sd.IDs[i].User)
				}
			}
			return client.Outgoing{Conv: protocol.GroupConv(sd.Group[g]), To: to, Text: text}
		}
	}
	n := make([]int, len(senders))
	for s := range n {
		n[s] = perSender
	}
	msgs, sealTime, err := prepare(ctx, fl.clients, senders, n, out)
	if err != nil {
		return nil, err
	}
	res := &SatResult{Conns: len(fl.conns), Senders: len(senders), Window: opt.Window,
		Sealed: perSender * len(senders), SealTime: sealTime}
	runtime.GC() // the sealing garbage is not the run's
	opt.progress("sealed %d envelopes in %v; warming up", res.Sealed, sealTime.Round(time.Millisecond))

	cnt := fl.cnt
	perSent := make([]atomic.Int64, len(senders)) // accepted, per sender
	stop := make(chan struct{})
	exhausted := make(chan struct{})
	var exOnce sync.Once
	var wg sync.WaitGroup
	for s, i := range senders {
		cn := fl.conns[i]
		slots := make(chan struct{}, opt.Window)
		done := func(_ client.Accepted, err error) {
			if err != nil {
				cnt.errors.Add(1)
			} else {
				cnt.accepted.Add(1)
				perSent[s].Add(1)
			}
			cnt.inflight.Add(-1)
			<-slots
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range msgs[s] {
				select {
				case slots <- struct{}{}:
				case <-stop:
					return
				}
				cnt.inflight.Add(1)
				if err := cn.SendPreparedAsync(p, done); err != nil {
					cnt.inflight.Add(-1)
					cnt.errors.Add(1)
					return
				}
			}
			exOnce.Do(func() { close(exhausted) })
		}()
	}
	select {
	case <-time.After(opt.Warmup):
	case <-exhausted:
		close(stop)
		wg.Wait()
		fl.drain(30 * time.Second)
		return nil, errExhausted
	}
	a := cnt.snap(opt.ServerPID)
	per0 := loadAll(perSent)
	opt.progress("window open")
	select {
	case <-time.After(opt.Measure):
	case <-exhausted:
		res.Exhausted = true
	case <-ctx.Done():
	}
	b := cnt.snap(opt.ServerPID)
	per1 := loadAll(perSent)
	opt.progress("window closed")
	close(stop)
	wg.Wait()
	fl.drain(30 * time.Second)
	fillSat(res, a, b)
	res.PerSender = make([]float64, len(senders))
	for s := range senders {
		res.PerSender[s] = float64(per1[s]-per0[s]) / res.Duration.Seconds()
	}
	slices.Sort(res.PerSender)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

func fillSat(res *SatResult, a, b snapshot) {
	res.Duration = b.at.Sub(a.at)
	res.Accepted = b.accepted - a.accepted
	res.Delivered = b.delivered - a.delivered
	res.Receipts = b.receipts - a.receipts
	res.Errors = b.errors
	res.ServerCores = (b.serverCPU - a.serverCPU).Seconds() / res.Duration.Seconds()
	res.SelfCores = (b.selfCPU - a.selfCPU).Seconds() / res.Duration.Seconds()
	res.ServerWrites = b.serverWrites - a.serverWrites
	res.MachineBusy = busyShare(a, b)
}

// OtherCores is the CPU, in cores, that the machine spent during the window
// on anything but the server and the harness: other processes, and kernel
// work (such as softirqs) charged to no process.
func (r *SatResult) OtherCores() float64 {
	return r.MachineBusy*float64(runtime.NumCPU()) - r.ServerCores - r.SelfCores
}

// OtherCores is as SatResult.OtherCores.
func (r *RateResult) OtherCores() float64 {
	return r.MachineBusy*float64(runtime.NumCPU()) - r.ServerCores - r.SelfCores
}

func busyShare(a, b snapshot) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}

// RateResult is the outcome of a fixed-rate run.
type RateResult struct {
	Offered  float64 // messages per second scheduled
	Achieved float64 // messages delivered per second during the window
	// Lat is recipient receive time − scheduled send time, for messages
	// scheduled in the window; a message never delivered counts as Never.
	Lat Dist
	// AcceptLat is the sender's time of the accepted answer − scheduled
	// send time, for the same messages (Curbside runs only).
	AcceptLat Dist
	Missing   int // messages scheduled in the window not delivered by the end
	Errors    int64
	// CPU used during the window, in cores.
	ServerCores, SelfCores float64
	MachineBusy            float64 // share of the machine's CPU time busy during the window, 0-1
}

// msgIndex finds the message id in a raw envelope ({"v":2,"suite":1,"id":"…").
func msgIndex(env []byte) string {
	const key = `"id":"`
	i := bytes.Index(env, []byte(key))
	if i < 0 {
		return ""
	}
	rest := env[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// FixedRate offers rate messages per second, 1:1 (identity 2i to 2i+1),
// open loop: message k of sender s is scheduled at a fixed time whatever
// the server answers, the senders together spaced evenly, and sent as soon
// as that time comes (or at once, if the sender is behind). Latency is the
// recipient's receive time minus the scheduled time, so time spent queued
// behind a slow server counts. Messages scheduled during the warm-up are
// not measured.
func FixedRate(ctx context.Context, opt LoadOptions, sd *Seeded, rate float64) (*RateResult, error) {
	var senders []int
	for i := 0; i+1 < len(sd.IDs); i += 2 {
		senders = append(senders, i)
	}
	S := len(senders)
	interval := time.Duration(float64(time.Second) * float64(S) / rate) // per sender
	total := opt.Warmup + opt.Measure
	perSender := int(total / interval)
	warmK := int(opt.Warmup / interval) // messages k < warmK are warm-up
	n := make([]int, S)
	for s := range n {
		n[s] = perSender
	}
	// Message (s, k) has index s*perSender+k; its id maps to that index.
	idx := make(map[string]int32, S*perSender)
	lat := make([]atomic.Int64, S*perSender)  // ns, 0 = not received
	alat := make([]atomic.Int64, S*perSender) // ns, 0 = not accepted
	var t0ns atomic.Int64
	sched := func(s, k int) time.Time {
		return time.Unix(0, t0ns.Load()).Add(time.Duration(k)*interval + time.Duration(s)*interval/time.Duration(S))
	}
	var idxMu sync.RWMutex
	onMsg := func(_ int, f client.RawFrame, at time.Time) {
		idxMu.RLock()
		g, ok := idx[msgIndex(f.Env)]
		idxMu.RUnlock()
		if !ok || t0ns.Load() == 0 {
			return
		}
		s, k := int(g)/perSender, int(g)%perSender
		d := at.Sub(sched(s, k))
		lat[g].CompareAndSwap(0, max(1, int64(d)))
	}
	fl, err := connect(ctx, opt, sd.IDs, onMsg)
	if err != nil {
		return nil, err
	}
	defer fl.close()
	text := TextFor(opt.Body)
	msgs, sealTime, err := prepare(ctx, fl.clients, senders, n, func(s int) client.Outgoing {
		return client.Outgoing{To: []int64{sd.IDs[senders[s]+1].User}, Text: text}
	})
	if err != nil {
		return nil, err
	}
	opt.progress("sealed %d envelopes in %v", S*perSender, sealTime.Round(time.Millisecond))
	idxMu.Lock()
	for s := range msgs {
		for k, p := range msgs[s] {
			idx[p.ID] = int32(s*perSender + k)
		}
	}
	idxMu.Unlock()
	runtime.GC()

	cnt := fl.cnt
	done := func(acc client.Accepted, err error) {
		at := time.Now()
		if err != nil {
			cnt.errors.Add(1)
		} else {
			cnt.accepted.Add(1)
			// idx is complete and no longer written: no lock needed.
			if g, ok := idx[acc.ID]; ok {
				s, k := int(g)/perSender, int(g)%perSender
				alat[g].CompareAndSwap(0, max(1, int64(at.Sub(sched(s, k)))))
			}
		}
		cnt.inflight.Add(-1)
	}
	t0 := time.Now().Add(50 * time.Millisecond)
	t0ns.Store(t0.UnixNano())
	var wg sync.WaitGroup
	for s, i := range senders {
		cn := fl.conns[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, p := range msgs[s] {
				if d := time.Until(sched(s, k)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				cnt.inflight.Add(1)
				if err := cn.SendPreparedAsync(p, done); err != nil {
					cnt.inflight.Add(-1)
					cnt.errors.Add(1)
					return
				}
			}
		}()
	}
	time.Sleep(time.Until(t0.Add(opt.Warmup)))
	a := cnt.snap(opt.ServerPID)
	opt.progress("window open")
	time.Sleep(time.Until(t0.Add(total)))
	b := cnt.snap(opt.ServerPID)
	opt.progress("window closed")
	wg.Wait()
	fl.drain(30 * time.Second)
	// Give the last messages time to arrive.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && cnt.delivered.Load() < int64(S*perSender) {
		time.Sleep(10 * time.Millisecond)
	}
	res := &RateResult{Offered: rate, Errors: cnt.errors.Load()}
	w := b.at.Sub(a.at)
	res.Achieved = float64(b.delivered-a.delivered) / w.Seconds()
	res.ServerCores = (b.serverCPU - a.serverCPU).Seconds() / w.Seconds()
	res.SelfCores = (b.selfCPU - a.selfCPU).Seconds() / w.Seconds()
	res.MachineBusy = busyShare(a, b)
	var xs, as []time.Duration
	for s := range S {
		for k := warmK; k < perSender; k++ {
			if v := alat[s*perSender+k].Load(); v != 0 {
				as = append(as, time.Duration(v))
			}
			v := lat[s*perSender+k].Load()
			if v == 0 {
				res.Missing++
				xs = append(xs, Never)
				continue
			}
			xs = append(xs, time.Duration(v))
		}
	}
	res.Lat = Summarise(xs)
	res.AcceptLat = Summarise(as)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Lat.N == 0 {
		return res, errors.New("no message was delivered")
	}
	return res, nil
}
