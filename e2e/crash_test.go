package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the curbside command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "curbside-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "curbside")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is the curbside binary serving on a fixed loopback address.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed once the process has been waited for
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startProc(t *testing.T, data, addr string, extra ...string) *proc {
	t.Helper()
	return startProcArgs(t, data, "http://"+addr, http.DefaultClient, append([]string{"--listen", addr}, extra...)...)
}

// startProcArgs runs `curbside serve --data data` with args, logging to
// server.log in data, and waits until base+"/healthz" answers 200 through
// hc.
func startProcArgs(t *testing.T, data, base string, hc *http.Client, args ...string) *proc {
	t.Helper()
	return startProcLog(t, data, filepath.Join(data, "server.log"), base, hc, args...)
}

// startProcLog is startProcArgs logging to logPath.
func startProcLog(t *testing.T, data, logPath, base string, hc *http.Client, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, data, logPath, base, hc, args...)
}

// startProcEnv is startProcLog with env (KEY=value) added to the
// environment the binary inherits.
func startProcEnv(t *testing.T, env []string, data, logPath, base string, hc *http.Client, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), append([]string{"serve", "--data", data, "--log-level", "debug"}, args...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	p := &proc{cmd: cmd, addr: strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")}
	t.Cleanup(func() { p.kill() })
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.exited = exited
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("curbside serve %s exited:\n%s", strings.Join(args, " "), log)
		default:
		}
		res, err := hc.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("server at %s did not become healthy:\n%s", base, log)
	return nil
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// TestCrashLosesNothingAccepted: messages for an offline recipient are
// sent from several connections; the server is killed with SIGKILL in the
// middle of the load and restarted. Every message whose acceptance a sender
// saw is delivered, and the application sees none twice.
func TestCrashLosesNothingAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	data := t.TempDir()
	addr := freeAddr(t)
	srv := startProc(t, data, addr)
	ts := &testServer{URL: "http://" + addr, Data: data}
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	bob := ts.device(t, "bob")
	const senders = 4
	var accepted sync.Map
	var nAccepted atomic.Int64
	var wg sync.WaitGroup
	killAt := int64(600)
	killed := make(chan struct{})
	for i := range senders {
		a := ts.device(t, "alice")
		cn, err := a.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cn.Close()
			for j := 0; ; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				acc, err := cn.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Text: fmt.Sprintf("sender %d message %d", i, j)})
				cancel()
				if err != nil {
					return // the server died under us
				}
				accepted.Store(acc.ID, true)
				if nAccepted.Add(1) == killAt {
					close(killed)
				}
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d messages accepted in 60s", nAccepted.Load())
	}
	srv.kill()
	wg.Wait()
	total := nAccepted.Load()
	t.Logf("%d messages accepted before SIGKILL", total)

	startProc(t, data, addr)
	cn := connect(t, bob)
	in := newInbox(t, cn)
	in.waitFor(fmt.Sprintf("all %d accepted messages", total), func(ms []client.Incoming, _ []client.Event) bool {
		n := 0
		for _, m := range ms {
			if _, ok := accepted.Load(m.ID); ok {
				n++
			}
		}
		return int64(n) >= total
	})
	in.mu.Lock()
	defer in.mu.Unlock()
	seen := map[string]int{}
	for _, m := range in.msgs {
		seen[m.ID]++
		if seen[m.ID] > 1 {
			t.Errorf("message %s delivered to the application twice", m.ID)
		}
	}
	accepted.Range(func(k, _ any) bool {
		if seen[k.(string)] != 1 {
			t.Errorf("accepted message %s delivered %d times", k, seen[k.(string)])
		}
		return true
	})
}
