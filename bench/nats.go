package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSModule is the nats-server module InstallNATS installs.
const NATSModule = "github.com/nats-io/nats-server/v2"

// InstallNATS returns the path of nats-server version in dir/bin-<version>,
// running `go install` (through the Go module proxy) if it is not there.
func InstallNATS(ctx context.Context, dir, version string) (string, error) {
	gobin, err := filepath.Abs(filepath.Join(dir, "nats-"+version))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(gobin, "nats-server")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", NATSModule+"@"+version)
	cmd.Dir = os.TempDir() // outside this module: install the module's own go.mod
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %v\n%s", NATSModule, version, err, b)
	}
	return bin, nil
}

// NATSProc is a nats-server child process with a plain WebSocket listener
// on loopback.
type NATSProc struct {
	Cmd   *exec.Cmd
	WSURL string // ws://127.0.0.1:PORT
	log   *os.File
}

// StartNATS runs bin with a configuration in dir that listens for NATS
// clients and WebSocket clients (without TLS) on loopback only, and waits
// until the WebSocket port accepts connections.
func StartNATS(ctx context.Context, bin, dir string) (*NATSProc, error) {
	wsAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nats.conf")
	text := fmt.Sprintf("listen: \"127.0.0.1:-1\"\nwebsocket {\n  listen: %q\n  no_tls: true\n}\n", wsAddr)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &NATSProc{Cmd: cmd, WSURL: "ws://" + wsAddr, log: logf}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", wsAddr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, fmt.Errorf("nats-server did not listen on %s: %v", wsAddr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends nats-server.
func (p *NATSProc) Stop() {
	defer p.log.Close()
	p.Cmd.Process.Kill()
	p.Cmd.Wait()
}

// Pid returns nats-server's process id.
func (p *NATSProc) Pid() int { return p.Cmd.Process.Pid }

// natsPairs connects pairs publisher and subscriber connections over
// WebSocket; subscriber i listens on bench.i and calls onMsg for each
// message with its receive time.
func natsPairs(url string, pairs int, onMsg func(pair int, data []byte, at time.Time)) (pubs, subs []*nats.Conn, err error) {
	closeAll := func() {
		for _, c := range append(pubs, subs...) {
			c.Close()
		}
	}
	for i := range pairs {
		sc, err := nats.Connect(url, nats.Name(fmt.Sprintf("sub-%d", i)))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		subs = append(subs, sc)
		sub, err := sc.Subscribe("bench."+strconv.Itoa(i), func(m *nats.Msg) { onMsg(i, m.Data, time.Now()) })
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		sub.SetPendingLimits(-1, -1) // count, do not drop: the run's bounds limit what can be pending
		if err := sc.Flush(); err != nil {
			closeAll()
			return nil, nil, err
		}
		pc, err := nats.Connect(url, nats.Name(fmt.Sprintf("pub-%d", i)))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		pubs = append(pubs, pc)
	}
	return pubs, subs, nil
}

// NATSSaturation is Saturation's 1:1 load against nats-server: pairs
// publishers each keep window messages of body bytes outstanding, where a
// message stops being outstanding when its subscriber has received it
// (core NATS has no acceptance answer; its delivery is the nearest
// equivalent, and it is not durable). Publishing stops after total
// messages per publisher or at the end of the window.
func NATSSaturation(ctx context.Context, url string, pairs, window, body, perPub int, warmup, measure time.Duration, pid int) (*SatResult, error) {
	cnt := &counters{}
	slots := make([]chan struct{}, pairs)
	for i := range slots {
		slots[i] = make(chan struct{}, window)
	}
	pubs, subs, err := natsPairs(url, pairs, func(i int, _ []byte, _ time.Time) {
		cnt.delivered.Add(1)
		<-slots[i]
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range append(pubs, subs...) {
			c.Close()
		}
	}()
	payload := make([]byte, body)
	runtime.GC()
	stop := make(chan struct{})
	exhausted := make(chan struct{})
	var exOnce sync.Once
	var wg sync.WaitGroup
	for i, pc := range pubs {
		subj := "bench." + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perPub {
				select {
				case slots[i] <- struct{}{}:
				case <-stop:
					return
				}
				if err := pc.Publish(subj, payload); err != nil {
					cnt.errors.Add(1)
					<-slots[i]
					return
				}
				cnt.accepted.Add(1)
			}
			exOnce.Do(func() { close(exhausted) })
		}()
	}
	select {
	case <-time.After(warmup):
	case <-exhausted:
		close(stop)
		wg.Wait()
		return nil, errExhausted
	}
	a := cnt.snap(pid)
	res := &SatResult{Conns: 2 * pairs, Senders: pairs, Window: window}
	select {
	case <-time.After(measure):
	case <-exhausted:
		res.Exhausted = true
	case <-ctx.Done():
	}
	b := cnt.snap(pid)
	close(stop)
	wg.Wait()
	fillSat(res, a, b)
	return res, ctx.Err()
}

// NATSFixedRate is FixedRate against nats-server: pairs publishers offer
// rate messages per second together, open loop, each payload carrying its
// (publisher, k) so the subscriber can compute the latency from the
// scheduled time.
func NATSFixedRate(ctx context.Context, url string, pairs, body int, rate float64, warmup, measure time.Duration, pid int) (*RateResult, error) {
	interval := time.Duration(float64(time.Second) * float64(pairs) / rate)
	total := warmup + measure
	perPub := int(total / interval)
	warmK := int(warmup / interval)
	lat := make([]atomic.Int64, pairs*perPub)
	var t0ns atomic.Int64
	sched := func(s, k int) time.Time {
		return time.Unix(0, t0ns.Load()).Add(time.Duration(k)*interval + time.Duration(s)*interval/time.Duration(pairs))
	}
	cnt := &counters{}
	pubs, subs, err := natsPairs(url, pairs, func(i int, data []byte, at time.Time) {
		cnt.delivered.Add(1)
		if len(data) < 8 {
			return
		}
		k := int(binary.BigEndian.Uint64(data))
		if k >= perPub {
			return
		}
		lat[i*perPub+k].CompareAndSwap(0, max(1, int64(at.Sub(sched(i, k)))))
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range append(pubs, subs...) {
			c.Close()
		}
	}()
	runtime.GC()
	t0 := time.Now().Add(50 * time.Millisecond)
	t0ns.Store(t0.UnixNano())
	var wg sync.WaitGroup
	for i, pc := range pubs {
		subj := "bench." + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perPub {
				payload := make([]byte, body)
				binary.BigEndian.PutUint64(payload, uint64(k))
				if d := time.Until(sched(i, k)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				if err := pc.Publish(subj, payload); err != nil {
					cnt.errors.Add(1)
					return
				}
			}
			pc.Flush()
		}()
	}
	time.Sleep(time.Until(t0.Add(warmup)))
	a := cnt.snap(pid)
	time.Sleep(time.Until(t0.Add(total)))
	b := cnt.snap(pid)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && cnt.delivered.Load() < int64(pairs*perPub) {
		time.Sleep(10 * time.Millisecond)
	}
	res := &RateResult{Offered: rate, Errors: cnt.errors.Load()}
	w := b.at.Sub(a.at)
	res.Achieved = float64(b.delivered-a.delivered) / w.Seconds()
	res.ServerCores = (b.serverCPU - a.serverCPU).Seconds() / w.Seconds()
	res.SelfCores = (b.selfCPU - a.selfCPU).Seconds() / w.Seconds()
	res.MachineBusy = busyShare(a, b)
	var xs []time.Duration
	for s := range pairs {
		for k := warmK; k < perPub; k++ {
			if v := lat[s*perPub+k].Load(); v != 0 {
				xs = append(xs, time.Duration(v))
			} else {
				res.Missing++
				xs = append(xs, Never)
			}
		}
	}
	res.Lat = Summarise(xs)
	return res, ctx.Err()
}
