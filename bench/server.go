package bench

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build builds the curbside command from the module at root into out,
// with CGO disabled (the release configuration), adding extra flags such
// as -ldflags=-s -w.
func Build(ctx context.Context, root, out string, extra ...string) error {
	args := append([]string{"build", "-o", out}, extra...)
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// StaticELF reports whether the ELF file at path is statically linked: it
// has no program interpreter and needs no shared libraries.
func StaticELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return false, err
	}
	return len(libs) == 0, nil
}

// FreeAddr returns a free loopback address.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Proc is a server running as a child process.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string
	URL  string
	log  *os.File
}

// StartServer runs `bin serve --data data --listen addr --max-conns-per-ip -1`, logging to
// data/server.log, and waits until /healthz answers 200. It returns the
// time from starting the process to the first 200.
func StartServer(ctx context.Context, bin, data string) (*Proc, time.Duration, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, 0, err
	}
	logf, err := os.OpenFile(filepath.Join(data, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	// The load generator opens its thousands of connections from one
	// address, so the per-address cap is lifted.
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", addr, "--log-level", "warn", "--max-conns-per-ip", "-1")
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &Proc{Cmd: cmd, Addr: addr, URL: "http://" + addr, log: logf}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, err
	}
	if _, err := WaitHealthy(ctx, p.URL, 15*time.Second); err != nil {
		p.Stop()
		return nil, 0, err
	}
	return p, time.Since(start), nil
}

// WaitHealthy polls url/healthz about every 200 µs until it answers 200
// and returns how long that took from the call.
func WaitHealthy(ctx context.Context, url string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	for time.Since(start) < limit {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		res, err := hc.Get(url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s/healthz did not answer 200 within %v", url, limit)
}

// Stop ends the server with SIGTERM (a graceful shutdown), or SIGKILL if
// it has not exited within 15 s.
func (p *Proc) Stop() error {
	defer p.log.Close()
	if p.Cmd.ProcessState != nil {
		return nil
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.Cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		p.Cmd.Process.Kill()
		return <-done
	}
}

// Pid returns the server's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// RSS returns a process's resident set size in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// WriteBytes returns how many bytes a process has caused to be written to
// storage (write_bytes in /proc/PID/io): its database, WAL and log.
func WriteBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes in /proc/%d/io", pid)
}

// MachineCPU returns the whole machine's busy and total CPU time so far
// (the cpu line of /proc/stat; idle and iowait count as not busy).
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	const hz = 100
	var sum, idle int64
	for i, x := range f[1:] {
		v, _ := strconv.ParseInt(x, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return time.Duration(sum-idle) * time.Second / hz, time.Duration(sum) * time.Second / hz, nil
}

// MachineBusy samples the share of the machine's CPU time that is busy
// over d.
func MachineBusy(d time.Duration) float64 {
	b0, t0, err := MachineCPU()
	if err != nil {
		return 0
	}
	time.Sleep(d)
	b1, t1, err := MachineCPU()
	if err != nil || t1 <= t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}

// CPUTime returns the user and system CPU time a process has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14: utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15: stime
	const hz = 100                           // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}
