package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
)

// Defaults for the connection limits of Config.
const (
	// DefaultMaxConnsPerIP is how many connections one address may hold at
	// once. A clinic behind one NAT shares an address: each browser holds
	// one relay WebSocket and a few HTTP connections, so 256 leaves room for
	// some 60 people at one address.
	DefaultMaxConnsPerIP = 256
	// fdReserve is the share of the process's file limit (1/fdReserve,
	// at least minFDReserve descriptors) kept out of the connection limit
	// for the database, attachment files and logs.
	fdReserve    = 8
	minFDReserve = 64
	// refusalWriteTimeout bounds how long writing the answer to a refused
	// connection may take.
	refusalWriteTimeout = time.Second
	// maxAnswering bounds the refused connections being answered at once;
	// past it a refused connection is closed without an answer, so a flood
	// cannot use up the descriptors the limits keep in reserve.
	maxAnswering = 64
	// limitLogEvery is how often a limit that keeps being hit is logged.
	limitLogEvery = time.Minute
)

// fileLimit returns the process's limit on open files (RLIMIT_NOFILE,
// soft), or 0 if it cannot be read.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}

// defaultMaxConns is the default total connection limit: the file limit
// less a reserve for the database, attachments and logs.
func defaultMaxConns(files uint64) int {
	if files == 0 || files > 1<<30 {
		return 1 << 20 // unknown or effectively unlimited
	}
	reserve := max(files/fdReserve, minFDReserve)
	if files <= reserve*2 {
		return int(files / 2)
	}
	return int(files - reserve)
}

// connLimiter wraps a listener so that it holds at most max connections in
// total and at most perIP from one remote address, an IPv6 /64 counting as
// one (0: no per-address limit). A connection over a limit is accepted,
// answered with a 503 that says why, and closed at once: it costs a file
// descriptor for a moment rather than for as long as the client likes.
// Listeners made with also share the counts: the limits are the
// process's, not one port's.
type connLimiter struct {
	net.Listener
	*connCounts
}

// connCounts are the connections open, shared by the limited listeners.
type connCounts struct {
	max, perIP int
	// exempt, if set, names addresses the per-address cap does not apply
	// to: trusted reverse proxies, which carry everyone's connections.
	exempt func(ip string) bool
	log    *slog.Logger

	mu      sync.Mutex
	total   int
	byIP    map[string]int       // by web.SourceKey
	logged  map[string]time.Time // when each kind of refusal was last logged
	refused map[string]int       // refusals of each kind since it was logged

	answering atomic.Int32 // refused connections being answered now
}

func limitListener(ln net.Listener, maxConns, perIP int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, connCounts: &connCounts{max: maxConns, perIP: perIP, log: log,
		byIP: map[string]int{}, logged: map[string]time.Time{}, refused: map[string]int{}}}
}

// also limits ln too, under the same counts.
func (l *connLimiter) also(ln net.Listener) *connLimiter {
	return &connLimiter{Listener: ln, connCounts: l.connCounts}
}

// Accept returns the next connection within the limits.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if why := l.take(ip); why != "" {
			if l.answering.Add(1) > maxAnswering {
				l.answering.Add(-1)
				c.Close() // too many being answered already: no words, no waiting
				continue
			}
			go func() { defer l.answering.Add(-1); refuse(c, why) }()
			continue
		}
		return &limitedConn{Conn: c, l: l.connCounts, ip: ip}, nil
	}
}

// take counts a new connection from ip, or says why it is refused: the
// catalogue's code for the cap it is over.
func (l *connCounts) take(ip string) protocol.Code {
	key := web.SourceKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		l.note("total", "connection limit reached: refusing new connections", "limit", l.max, "flag", "--max-conns")
		return protocol.CodeTooManyConnections
	case l.perIP > 0 && l.byIP[key] >= l.perIP && (l.exempt == nil || !l.exempt(ip)):
		l.note("ip:"+key, "connection limit for one address reached: refusing its new connections", "ip", key, "limit", l.perIP, "flag", "--max-conns-per-ip")
		return protocol.CodeTooManyFromAddress
	}
	l.total++
	l.byIP[key]++
	return ""
}

// note logs a refusal at WARN the first time it happens, and then at most
// once per limitLogEvery with the number refused since. l.mu is held.
func (l *connCounts) note(kind, msg string, args ...any) {
	l.refused[kind]++
	now := time.Now()
	if last, ok := l.logged[kind]; ok && now.Sub(last) < limitLogEvery {
		return
	}
	if len(l.logged) > 10000 {
		clear(l.logged)
		clear(l.refused)
		l.refused[kind] = 1
	}
	l.logged[kind] = now
	l.log.Warn(msg, append(args, "refused", l.refused[kind])...)
	l.refused[kind] = 0
}

func (l *connCounts) release(ip string) {
	key := web.SourceKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[key]--; l.byIP[key] <= 0 {
		delete(l.byIP, key)
	}
}

// limitedConn gives its slot back when it is closed.
type limitedConn struct {
	net.Conn
	l    *connCounts
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// refuse answers a connection over a limit with 503 and the catalogue's
// error body, then closes it. The request is not parsed: the answer is the
// same whatever it was. What the client sent is read and dropped for a
// moment after the answer, so that closing with unread data does not reset
// the connection before the client has read why.
func refuse(c net.Conn, why protocol.Code) {
	defer c.Close()
	body := fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, why, why.Message())
	c.SetDeadline(time.Now().Add(refusalWriteTimeout))
	_, err := fmt.Fprintf(c, "HTTP/1.1 %d Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nRetry-After: 10\r\nConnection: close\r\n\r\n%s",
		why.Status(), len(body), body)
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		tc.CloseWrite()
		io.CopyN(io.Discard, c, 64<<10)
	}
}
