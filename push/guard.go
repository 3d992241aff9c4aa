package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultHosts are the push services of the browsers Curbside supports:
// Chrome, Edge and other Chromium browsers on Android and desktops (FCM),
// Firefox (Mozilla's autopush), Safari and iOS home-screen apps (Apple) and
// Windows (WNS). A pattern "*.example.com" admits any name below
// example.com, not example.com itself.
var DefaultHosts = []string{
	"fcm.googleapis.com",
	"updates.push.services.mozilla.com",
	"web.push.apple.com",
	"*.push.apple.com",
	"*.notify.windows.com",
}

// MaxEndpoint is the longest push endpoint URL accepted, in bytes. The
// push services' own are about 200.
const MaxEndpoint = 1024

// ErrRefused is the error of an endpoint, or an address it resolves to,
// that the guard does not let the server send to.
var ErrRefused = errors.New("push endpoint refused")

// Guard decides where the server may send pushes. The endpoint is chosen by
// the browser, that is by whoever holds a device's session, so without a
// guard the server could be made to POST to addresses inside the
// practice's network (SSRF). A Guard admits https URLs of the listed hosts
// only, and checks every address a connection is actually made to, after
// DNS, so a name that resolves to an inside address is refused however
// often its answers change (DNS rebinding).
type Guard struct {
	hosts []string
	// loopback admits http and https to loopback addresses, for a push
	// service run by the tests; never set in production.
	loopback bool
}

// NewGuard returns a guard admitting the given hosts (DefaultHosts when
// empty), and, when allowLoopback is set (tests only), loopback addresses.
func NewGuard(hosts []string, allowLoopback bool) *Guard {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	g := &Guard{loopback: allowLoopback}
	for _, h := range hosts {
		g.hosts = append(g.hosts, strings.ToLower(strings.TrimSpace(h)))
	}
	return g
}

// CheckEndpoint checks an endpoint URL before it is stored or used: its
// length, https, no credentials, and a host on the list. It cannot know the
// addresses the host will resolve to when a push is sent; the dialer checks
// those.
func (g *Guard) CheckEndpoint(raw string) (*url.URL, error) {
	if len(raw) > MaxEndpoint {
		return nil, fmt.Errorf("%w: the endpoint is longer than %d bytes", ErrRefused, MaxEndpoint)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: the endpoint is not an absolute URL", ErrRefused)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: the endpoint carries credentials", ErrRefused)
	}
	host := strings.ToLower(u.Hostname())
	if g.loopback && isLoopbackHost(host) && (u.Scheme == "http" || u.Scheme == "https") {
		return u, nil
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the endpoint must be https", ErrRefused)
	}
	if !g.hostAllowed(host) {
		return nil, fmt.Errorf("%w: %s is not a push service this server sends to", ErrRefused, host)
	}
	return u, nil
}

func (g *Guard) hostAllowed(host string) bool {
	for _, h := range g.hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CheckAddr reports whether the server may connect to ip: a public unicast
// address, never a private, loopback, link-local, unspecified, multicast or
// otherwise reserved one (loopback only when the guard admits it).
func (g *Guard) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	if g.loopback && ip.IsLoopback() {
		return nil
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return fmt.Errorf("%w: %s is not a public address", ErrRefused, ip)
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in the reserved range %s", ErrRefused, ip, p)
		}
	}
	// NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
	if nat64.Contains(ip) {
		b := ip.As16()
		return g.CheckAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	return nil
}

// reserved are ranges that IsGlobalUnicast and IsPrivate let through but
// that are not the public internet.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard
	// IPv6 forms no push service uses, some of which reach an IPv4
	// address of the server's own network through a translator or a
	// tunnel the host may have.
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// control is the dialer's Control: it runs for every connection attempt,
// with the address actually being dialled.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	return g.CheckAddr(ap.Addr())
}

// Client returns an HTTP client that connects only where the guard
// admits, follows no redirect (a push service answers, it does not send
// the server elsewhere) and uses no proxy from the environment.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
