package main

import (
	"fmt"
	"io"
	"time"

	"github.com/curbside-health/curbside/bench"
)

type sizes struct {
	plain, stripped int64
	static          bool
}

// report is everything one run measured; a nil or empty field was not run.
type report struct {
	cfg               config
	machine           string
	started, finished time.Time

	size       *sizes
	cold       bench.Dist
	coldMedian time.Duration
	sat, group *bench.SatResult
	rates      []*bench.RateResult
	idle       *bench.IdleResult
	natsSat    *bench.SatResult
	natsRates  []*bench.RateResult
	repl       *replResult
	restore    *bench.RestoreTimes
}

// replResult is the saturation run with replication on, and the replica's
// lag sampled every 100 ms during it.
type replResult struct {
	sat *bench.SatResult
	lag bench.Dist
}

func ms(d time.Duration) string {
	if d == bench.Never {
		return "not delivered"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func yes(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func (r *report) write(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# Curbside benchmark results")
	p("")
	p("- Run: %s, %s", r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second))
	p("- Machine: %s", r.machine)
	p("- Load: loopback; %d-byte ciphertext bodies; each load run %v warm-up then a %v window; server = the built binary (CGO_ENABLED=0) in its own process, fresh data directory per run", r.cfg.body, r.cfg.warmup, r.cfg.measure)
	if r.sat != nil || r.group != nil || r.natsSat != nil {
		p("")
		p("## Throughput at saturation")
		p("")
		p("| load | connections | in flight per conn | accepted msgs/s | delivered msgs/s | receipts/s | per sender min / median / max | server CPU (cores) | server CPU µs / accepted msg | server disk writes KB / accepted msg | harness CPU (cores) | other CPU (cores) |")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		row := func(name string, s *bench.SatResult) {
			if s == nil {
				return
			}
			note := ""
			if s.Exhausted {
				note = " (window ended early: sealed envelopes ran out)"
			}
			if s.Errors > 0 {
				note += fmt.Sprintf(" (%d errors)", s.Errors)
			}
			fair := "–"
			if n := len(s.PerSender); n > 0 {
				fair = fmt.Sprintf("%.0f / %.0f / %.0f", s.PerSender[0], s.PerSender[n/2], s.PerSender[n-1])
			}
			perMsg := float64(s.Accepted)
			if perMsg == 0 {
				perMsg = 1
			}
			p("| %s%s | %d | %d | %.0f | %.0f | %.0f | %s | %.2f | %.0f | %.1f | %.2f | %.2f |", name, note, s.Conns, s.Window, s.AcceptedPerSec(),
				s.DeliveredPerSec(), float64(s.Receipts)/s.Duration.Seconds(), fair, s.ServerCores,
				s.ServerCores*s.Duration.Seconds()*1e6/perMsg, float64(s.ServerWrites)/1024/perMsg, s.SelfCores, s.OtherCores())
		}
		row(fmt.Sprintf("Curbside 1:1 (%d pairs)", r.cfg.pairs), r.sat)
		row(fmt.Sprintf("Curbside group fan-out (%d groups of %d, all sending)", r.cfg.groups, r.cfg.groupSize), r.group)
		row(fmt.Sprintf("nats-server 1:1 over WebSocket (%d pairs; not durable; \"accepted\" = published)", r.cfg.pairs), r.natsSat)
		if r.sat != nil && r.natsSat != nil && r.natsSat.DeliveredPerSec() > 0 {
			p("")
			p("Curbside 1:1 accepted msgs/s ÷ nats delivered msgs/s: **%.3f**.", r.sat.AcceptedPerSec()/r.natsSat.DeliveredPerSec())
		}
		if r.sat != nil {
			p("")
			p("Sealing the 1:1 run's %d envelopes took %v before the clock started; the group run's %s.", r.sat.Sealed, r.sat.SealTime.Round(time.Millisecond), groupSeal(r.group))
		}
	}
	if len(r.rates) > 0 || len(r.natsRates) > 0 {
		p("")
		p("## Latency at fixed offered rates (1:1, open loop, %d pairs)", r.cfg.ratePairs)
		p("")
		p("Latency = recipient receive time − scheduled send time, over the messages scheduled in the window; a message still undelivered when the run stopped waiting counts as longer than any (\"not delivered\"). \"accepted p50 / p99\" is the sender's accepted answer − scheduled send time (Curbside only: core NATS publishing has no answer).")
		p("")
		p("| offered msgs/s | system | achieved msgs/s | p50 | p99 | max | accepted p50 / p99 | samples | missing | server CPU (cores) | harness CPU (cores) | other CPU (cores) |")
		p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for i := range max(len(r.rates), len(r.natsRates)) {
			for _, x := range []struct {
				name string
				rs   []*bench.RateResult
			}{{"Curbside", r.rates}, {"nats-server", r.natsRates}} {
				if i >= len(x.rs) {
					continue
				}
				s := x.rs[i]
				acc := "–"
				if s.AcceptLat.N > 0 {
					acc = ms(s.AcceptLat.P50) + " / " + ms(s.AcceptLat.P99)
				}
				p("| %.0f | %s | %.0f | %s | %s | %s | %s | %d | %d | %.2f | %.2f | %.2f |", s.Offered, x.name, s.Achieved, ms(s.Lat.P50), ms(s.Lat.P99), ms(s.Lat.Max), acc, s.Lat.N, s.Missing, s.ServerCores, s.SelfCores, s.OtherCores())
			}
		}
		if len(r.rates) > 0 && len(r.natsRates) == len(r.rates) {
			p("")
			p("| offered msgs/s | Curbside p50 ÷ nats p50 | Curbside p99 ÷ nats p99 |")
			p("| ---: | ---: | ---: |")
			for i, s := range r.rates {
				n := r.natsRates[i]
				p("| %.0f | %s | %s |", s.Offered, ratio(s.Lat.P50, n.Lat.P50), ratio(s.Lat.P99, n.Lat.P99))
			}
		}
	}
	if r.repl != nil || r.restore != nil {
		p("")
		p("## Replication, restore and drill")
		p("")
		if r.repl != nil {
			p("| load | accepted msgs/s without replication | accepted msgs/s replicating | replica lag median / p99 / max (samples) |")
			p("| --- | ---: | ---: | ---: |")
			without := "not run"
			if r.sat != nil {
				without = fmt.Sprintf("%.0f", r.sat.AcceptedPerSec())
			}
			p("| 1:1 saturation, file replica on the same disk | %s | %.0f | %s / %s / %s (%d) |", without, r.repl.sat.AcceptedPerSec(),
				ms(r.repl.lag.P50), ms(r.repl.lag.P99), ms(r.repl.lag.Max), r.repl.lag.N)
			p("")
		}
		if x := r.restore; x != nil {
			p("| synthetic database | first full replication | restore into an empty directory | drill (restore, integrity check, audit chain, comparison) |")
			p("| ---: | ---: | ---: | ---: |")
			p("| %.2f GiB | %s | %s | %s%s |", float64(x.DBBytes)/(1<<30), ms(x.InitialSync), ms(x.Restore), ms(x.Drill), map[bool]string{true: "", false: " (failed)"}[x.DrillOK])
		}
	}
	if r.idle != nil || r.size != nil || r.cold.N > 0 {
		p("")
		p("## Memory, start-up, size")
		p("")
		p("| measure | value |")
		p("| --- | ---: |")
		if r.idle != nil {
			p("| server RSS per idle relay connection (%d connections) | %.1f KB |", r.idle.Conns, r.idle.PerConn()/1024)
			p("| server RSS before / after opening them | %.1f MB / %.1f MB |", float64(r.idle.Before)/(1<<20), float64(r.idle.After)/(1<<20))
			p("| time to open them (32 dialers) | %v |", r.idle.ConnectTime.Round(time.Millisecond))
		}
		if r.cold.N > 0 {
			p("| cold start to /healthz 200, empty data dir (median of %d) | %s |", r.cold.N, ms(r.coldMedian))
			p("| cold start min / max | %s / %s |", ms(r.cold.Min), ms(r.cold.Max))
		}
		if r.size != nil {
			p("| binary size, plain `go build` | %.1f MB |", float64(r.size.plain)/(1<<20))
			p("| binary size, `-ldflags=\"-s -w\"` | %.1f MB |", float64(r.size.stripped)/(1<<20))
			p("| statically linked (CGO_ENABLED=0) | %v |", r.size.static)
		}
	}
	p("")
	p("## Targets")
	p("")
	p("| target | measured | |")
	p("| --- | ---: | --- |")
	if r.sat != nil {
		p("| ≥ 20,000 accepted msgs/s (1:1) | %.0f | %s |", r.sat.AcceptedPerSec(), yes(r.sat.AcceptedPerSec() >= 20000))
	}
	for _, s := range r.rates {
		if s.Offered == 5000 {
			p("| p99 ≤ 10 ms at 5,000 msgs/s | %s | %s |", ms(s.Lat.P99), yes(s.Lat.P99 <= 10*time.Millisecond && s.Missing == 0))
		}
	}
	if r.idle != nil {
		p("| ≤ 16 KB RSS per idle connection | %.1f KB | %s |", r.idle.PerConn()/1024, yes(r.idle.PerConn() <= 16*1024))
	}
	if r.cold.N > 0 {
		p("| cold start ≤ 100 ms | %s | %s |", ms(r.coldMedian), yes(r.coldMedian <= 100*time.Millisecond))
	}
}

func ratio(a, b time.Duration) string {
	switch {
	case a == bench.Never:
		return "∞ (not delivered)"
	case b <= 0 || b == bench.Never:
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(a)/float64(b))
}

func groupSeal(g *bench.SatResult) string {
	if g == nil {
		return "was not run"
	}
	return fmt.Sprintf("%d envelopes (each to %s) took %v", g.Sealed, "the other members", g.SealTime.Round(time.Millisecond))
}
