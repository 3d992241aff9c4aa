// Command curbside-bench runs Curbside's benchmarks on this machine and
// writes the figures as a markdown table: accepted-and-durable throughput
// at saturation (1:1 and group fan-out), latency at fixed offered rates
// (open loop), server RSS per idle relay connection, cold start, binary
// size, and the same 1:1 load against nats-server over WebSocket as a
// non-durable reference.
//
// Run it from bench/, the benchmark module:
//
//	cd bench && go run ./cmd/curbside-bench -out results/latest.md
//
// It builds the server (CGO_ENABLED=0), installs nats-server with
// `go install` into bench/.cache if it is not there, and runs every
// scenario against the built binary as a separate process on 127.0.0.1.
// docs/BENCHMARKS.md describes the method.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/curbside-health/curbside/bench"
)

type config struct {
	out, cache, natsVersion, only string
	keep                          bool
	warmup, measure               time.Duration
	body                          int
	pairs, window, perSender      int
	groups, groupSize, groupPer   int
	ratePairs                     int
	rates                         []float64
	idle                          int
	coldRuns                      int
	retries                       int
	maxOther                      float64
	restoreSize                   int64
}

func main() {
	var cfg config
	var rates string
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&cfg.cache, "cache", "bench/.cache", "directory for built binaries and nats-server (relative to the curbside module's root)")
	flag.StringVar(&cfg.natsVersion, "nats-version", "v2.15.2", "nats-server version to install")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory (data directories and server logs) and print its path")
	flag.StringVar(&cfg.only, "only", "", "comma-separated scenarios to run (size,cold,sat,repl,group,rate,idle,nats,restore); default all")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "warm-up before each measurement window")
	flag.DurationVar(&cfg.measure, "measure", 10*time.Second, "measurement window of each load run")
	flag.IntVar(&cfg.body, "body", 1024, "sealed body (ciphertext) bytes per message")
	flag.IntVar(&cfg.pairs, "pairs", 32, "1:1 saturation: sender/recipient pairs (one connection each)")
	flag.IntVar(&cfg.window, "window", 64, "saturation: sends in flight per connection")
	flag.IntVar(&cfg.perSender, "per-sender", 4000, "1:1 saturation: envelopes sealed per sender (bounds the run)")
	flag.IntVar(&cfg.groups, "groups", 4, "group saturation: number of groups")
	flag.IntVar(&cfg.groupSize, "group-size", 10, "group saturation: members per group, one device each, all sending")
	flag.IntVar(&cfg.groupPer, "group-per-sender", 800, "group saturation: envelopes sealed per member")
	flag.IntVar(&cfg.ratePairs, "rate-pairs", 16, "fixed-rate runs: sender/recipient pairs")
	flag.StringVar(&rates, "rates", "1000,5000,10000", "fixed offered rates, messages per second")
	flag.IntVar(&cfg.idle, "idle", 10000, "idle relay connections for the memory measurement")
	flag.IntVar(&cfg.coldRuns, "cold-runs", 20, "cold starts to take the median of")
	flag.IntVar(&cfg.retries, "retries", 2, "how many times to repeat a load measurement disturbed by other work")
	flag.Float64Var(&cfg.maxOther, "max-other", 0.4, "CPU (cores) other work may take during a window before it counts as disturbed")
	flag.Int64Var(&cfg.restoreSize, "restore-size", 1<<30, "restore: bytes of the synthetic database restored and drilled")
	flag.Parse()
	for _, f := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "curbside-bench: -rates %q: want positive numbers\n", rates)
			os.Exit(2)
		}
		cfg.rates = append(cfg.rates, r)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "curbside-bench:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func run(ctx context.Context, cfg config) error {
	want := func(s string) bool {
		return cfg.only == "" || strings.Contains(","+cfg.only+",", ","+s+",")
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cache := cfg.cache
	if !filepath.IsAbs(cache) {
		cache = filepath.Join(root, cache)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "curbside-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("scratch directory %s is kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	r := &report{cfg: cfg, started: time.Now(), machine: machine()}

	bin := filepath.Join(cache, "curbside")
	logf("building %s", bin)
	if err := bench.Build(ctx, root, bin); err != nil {
		return err
	}
	if want("size") {
		stripped := filepath.Join(cache, "curbside-stripped")
		if err := bench.Build(ctx, root, stripped, "-ldflags=-s -w"); err != nil {
			return err
		}
		r.size = &sizes{}
		for _, x := range []struct {
			path string
			n    *int64
		}{{bin, &r.size.plain}, {stripped, &r.size.stripped}} {
			fi, err := os.Stat(x.path)
			if err != nil {
				return err
			}
			*x.n = fi.Size()
		}
		if r.size.static, err = bench.StaticELF(stripped); err != nil {
			return err
		}
		logf("size: %d bytes plain, %d stripped, static=%v", r.size.plain, r.size.stripped, r.size.static)
	}
	if want("cold") {
		quiesce(tmp, cfg.keep)
		var ds []time.Duration
		for i := range cfg.coldRuns {
			p, d, err := bench.StartServer(ctx, bin, filepath.Join(tmp, fmt.Sprintf("cold-%d", i)))
			if err != nil {
				return err
			}
			p.Stop()
			ds = append(ds, d)
		}
		r.cold = bench.Summarise(append([]time.Duration(nil), ds...))
		r.coldMedian = bench.Median(ds)
		logf("cold start: median %v (%d runs)", r.coldMedian, len(ds))
	}
	// Each load scenario gets a fresh data directory and server process.
	// Before it, the previous scenarios' data directories are removed and
	// the file systems synced, so that no writeback of their pages competes
	// with this scenario's fsyncs.
	serve := func(name string, spec bench.SeedSpec) (*bench.Proc, *bench.Seeded, bench.LoadOptions, error) {
		quiesce(tmp, cfg.keep)
		dir := filepath.Join(tmp, name)
		logf("%s: seeding %d users", name, spec.Users)
		sd, err := bench.Seed(ctx, dir, spec)
		if err != nil {
			return nil, nil, bench.LoadOptions{}, err
		}
		p, _, err := bench.StartServer(ctx, bin, dir)
		if err != nil {
			return nil, nil, bench.LoadOptions{}, err
		}
		return p, sd, bench.LoadOptions{Server: p.URL, TmpDir: tmp, Body: cfg.body, Warmup: cfg.warmup,
			Measure: cfg.measure, Window: cfg.window, ServerPID: p.Pid(),
			Progress: func(phase string) { logf("%s: %s (server pid %d)", name, phase, p.Pid()) }}, nil
	}
	if want("repl") {
		// The same saturation with replication on, to a file replica on
		// the same disk: the throughput it costs and the lag under it.
		r.repl, err = retry(cfg, "1:1 saturation, replicating", func() (*replResult, float64, error) {
			url := "file://" + filepath.Join(tmp, "repl-replica")
			os.Setenv("CURBSIDE_REPLICA", url)
			p, sd, opt, err := serve("repl", bench.SeedSpec{Users: 2 * cfg.pairs, Prefix: "s"})
			os.Unsetenv("CURBSIDE_REPLICA")
			if err != nil {
				return nil, 0, err
			}
			defer p.Stop()
			// Sampled during the window only: while envelopes are sealed
			// nothing is written, and an idle replica's newest
			// transaction only grows older.
			var lag *bench.LagSampler
			var samples []time.Duration
			progress := opt.Progress
			opt.Progress = func(phase string) {
				progress(phase)
				switch phase {
				case "window open":
					lag, _ = bench.SampleLag(ctx, url, 100*time.Millisecond)
				case "window closed":
					if lag != nil {
						samples = lag.Stop()
					}
				}
			}
			res, err := bench.Saturation(ctx, opt, sd, bench.OneToOne, cfg.perSender)
			if err != nil {
				return nil, 0, err
			}
			out := &replResult{sat: res, lag: bench.Summarise(samples)}
			logf("1:1 saturation, replicating: %.0f accepted/s; replica lag median %v, max %v", res.AcceptedPerSec(), out.lag.P50, out.lag.Max)
			return out, res.OtherCores(), nil
		})
		if err != nil {
			return err
		}
	}
	if want("restore") {
		quiesce(tmp, cfg.keep)
		dir := filepath.Join(tmp, "restore-data")
		logf("restore: writing a %d-byte synthetic database", cfg.restoreSize)
		if err := bench.SynthDB(ctx, dir, cfg.restoreSize); err != nil {
			return err
		}
		if r.restore, err = bench.TimeRestore(ctx, dir, filepath.Join(tmp, "restore")); err != nil {
			return err
		}
		logf("restore: %d bytes; first sync %v, restore %v, drill %v (ok %v)", r.restore.DBBytes, r.restore.InitialSync, r.restore.Restore, r.restore.Drill, r.restore.DrillOK)
	}
	if want("sat") {
		r.sat, err = retry(cfg, "1:1 saturation", func() (*bench.SatResult, float64, error) {
			p, sd, opt, err := serve("sat", bench.SeedSpec{Users: 2 * cfg.pairs, Prefix: "s"})
			if err != nil {
				return nil, 0, err
			}
			defer p.Stop()
			logf("1:1 saturation: sealing %d envelopes, then %v + %v", cfg.pairs*cfg.perSender, cfg.warmup, cfg.measure)
			res, err := bench.Saturation(ctx, opt, sd, bench.OneToOne, cfg.perSender)
			if err != nil {
				return nil, 0, err
			}
			logf("1:1 saturation: %.0f accepted/s, %.0f delivered/s", res.AcceptedPerSec(), res.DeliveredPerSec())
			return res, res.OtherCores(), nil
		})
		if err != nil {
			return err
		}
	}
	if want("group") {
		r.group, err = retry(cfg, "group saturation", func() (*bench.SatResult, float64, error) {
			p, sd, opt, err := serve("group", bench.SeedSpec{Users: cfg.groups * cfg.groupSize, Prefix: "g", GroupSize: cfg.groupSize})
			if err != nil {
				return nil, 0, err
			}
			defer p.Stop()
			logf("group saturation: sealing %d envelopes, then %v + %v", cfg.groups*cfg.groupSize*cfg.groupPer, cfg.warmup, cfg.measure)
			res, err := bench.Saturation(ctx, opt, sd, bench.Group, cfg.groupPer)
			if err != nil {
				return nil, 0, err
			}
			logf("group saturation: %.0f accepted/s, %.0f delivered/s", res.AcceptedPerSec(), res.DeliveredPerSec())
			return res, res.OtherCores(), nil
		})
		if err != nil {
			return err
		}
	}
	if want("rate") {
		for _, rate := range cfg.rates {
			res, err := retry(cfg, fmt.Sprintf("fixed rate %.0f/s", rate), func() (*bench.RateResult, float64, error) {
				p, sd, opt, err := serve(fmt.Sprintf("rate-%.0f", rate), bench.SeedSpec{Users: 2 * cfg.ratePairs, Prefix: "r"})
				if err != nil {
					return nil, 0, err
				}
				defer p.Stop()
				logf("fixed rate %.0f/s", rate)
				res, err := bench.FixedRate(ctx, opt, sd, rate)
				if err != nil {
					return nil, 0, err
				}
				logf("fixed rate %.0f/s: p50 %s p99 %s max %s, achieved %.0f/s", rate, ms(res.Lat.P50), ms(res.Lat.P99), ms(res.Lat.Max), res.Achieved)
				return res, res.OtherCores(), nil
			})
			if err != nil {
				return err
			}
			r.rates = append(r.rates, res)
		}
	}
	if want("idle") {
		quiesce(tmp, cfg.keep)
		dir := filepath.Join(tmp, "idle")
		logf("idle: seeding %d users", cfg.idle)
		sd, err := bench.Seed(ctx, dir, bench.SeedSpec{Users: cfg.idle, Prefix: "i"})
		if err != nil {
			return err
		}
		p, _, err := bench.StartServer(ctx, bin, dir)
		if err != nil {
			return err
		}
		logf("idle: opening %d connections", cfg.idle)
		r.idle, err = bench.IdleRSS(ctx, p.URL, p.Pid(), sd.IDs, 5*time.Second, nil)
		p.Stop()
		if err != nil {
			return err
		}
		logf("idle: %.1f KB per connection", r.idle.PerConn()/1024)
	}
	if want("nats") {
		logf("nats: installing nats-server %s", cfg.natsVersion)
		nbin, err := bench.InstallNATS(ctx, cache, cfg.natsVersion)
		if err != nil {
			return err
		}
		quiesce(tmp, cfg.keep)
		np, err := bench.StartNATS(ctx, nbin, filepath.Join(tmp, "nats"))
		if err != nil {
			return err
		}
		defer np.Stop()
		r.natsSat, err = retry(cfg, "nats saturation", func() (*bench.SatResult, float64, error) {
			res, err := bench.NATSSaturation(ctx, np.WSURL, cfg.pairs, cfg.window, cfg.body, 2_000_000, cfg.warmup, cfg.measure, np.Pid())
			if err != nil {
				return nil, 0, err
			}
			logf("nats saturation: %.0f delivered/s", res.DeliveredPerSec())
			return res, res.OtherCores(), nil
		})
		if err != nil {
			return err
		}
		for _, rate := range cfg.rates {
			res, err := retry(cfg, fmt.Sprintf("nats fixed rate %.0f/s", rate), func() (*bench.RateResult, float64, error) {
				res, err := bench.NATSFixedRate(ctx, np.WSURL, cfg.ratePairs, cfg.body, rate, cfg.warmup, cfg.measure, np.Pid())
				if err != nil {
					return nil, 0, err
				}
				logf("nats fixed rate %.0f/s: p50 %s p99 %s max %s", rate, ms(res.Lat.P50), ms(res.Lat.P99), ms(res.Lat.Max))
				return res, res.OtherCores(), nil
			})
			if err != nil {
				return err
			}
			r.natsRates = append(r.natsRates, res)
		}
	}
	r.finished = time.Now()
	var w io.Writer = os.Stdout
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
			return err
		}
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	r.write(w)
	return nil
}

// quiesce removes the data directories of earlier scenarios (unless keep)
// and syncs, so their dirty pages are not written back during the next
// measurement.
func quiesce(tmp string, keep bool) {
	if !keep {
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			if e.IsDir() {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
	syscall.Sync()
	// The figures are only meaningful on an otherwise idle machine: wait a
	// while for other work to finish, and say so.
	deadline := time.Now().Add(quietWait)
	for {
		busy := bench.MachineBusy(time.Second)
		if busy < 0.25 {
			return
		}
		if time.Now().After(deadline) {
			logf("warning: the machine is %.0f%% busy with other work; the next figures will be disturbed (see the \"other CPU\" column)", 100*busy)
			return
		}
		logf("the machine is %.0f%% busy with other work; waiting for it to settle", 100*busy)
		time.Sleep(4 * time.Second)
	}
}

// retry runs a measurement, and runs it again (up to cfg.retries more
// times) while other work on the machine took more than cfg.maxOther cores
// during its window; it keeps the least disturbed result.
func retry[T any](cfg config, name string, run func() (T, float64, error)) (T, error) {
	var best T
	bestOther := -1.0
	for i := 0; i <= cfg.retries; i++ {
		res, other, err := run()
		if err != nil {
			return best, err
		}
		if bestOther < 0 || other < bestOther {
			best, bestOther = res, other
		}
		if other <= cfg.maxOther {
			break
		}
		if i < cfg.retries {
			logf("%s: other work took %.2f cores during the window; measuring again", name, other)
		} else {
			logf("warning: %s: other work took %.2f cores during the least disturbed window", name, bestOther)
		}
	}
	return best, nil
}

// quietWait bounds how long quiesce waits for the machine to be idle.
const quietWait = 30 * time.Second

// moduleRoot returns the directory of the curbside module, the server the
// harness builds: the bench module's go.mod replaces it with ../.
func moduleRoot() (string, error) {
	b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/curbside-health/curbside").Output()
	if err != nil {
		return "", fmt.Errorf("run curbside-bench from bench/ (cd bench && go run ./cmd/curbside-bench): go list -m: %w", err)
	}
	dir := strings.TrimSpace(string(b))
	if dir == "" {
		return "", fmt.Errorf("go list -m found no directory for the curbside module")
	}
	return dir, nil
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					mem = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), %s RAM, Linux %s, %s", runtime.NumCPU(), model, mem, kernel, runtime.Version())
}
