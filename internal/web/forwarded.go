package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Client addresses behind a reverse proxy.
//
// Every part of Curbside that keys on who is calling (the sign-in limit,
// the policy's admin_networks, the audit log) asks ClientIP, and every part
// that must know whether the caller came over HTTPS (Secure cookies, HSTS,
// the origin of links) asks IsHTTPS. Both answer from the TCP peer and the
// TLS state of the connection, unless the peer is one of the configured
// trusted proxies: then, and only then, the forwarding headers it sends are
// believed.
//
// The forwarded chain (X-Forwarded-For, or RFC 7239 Forwarded) is read from
// the right, the end nearest the server: each trusted proxy appends the
// address it received the request from, so the right-most address that is
// not a trusted proxy is the one the outermost trusted proxy saw. Entries
// to its left were written by the client and may be anything. A hop that is
// not an address (Forwarded's "unknown" or an obfuscated name, or garbage)
// ends the walk: the request is then attributed to the trusted proxy that
// passed it on, never to a name the client chose.
//
// When a request carries both X-Forwarded-For and Forwarded and the two
// disagree, one of them passed through the proxy unchecked from the client;
// which one is not knowable here, so the request is attributed to the proxy
// itself. A proxy that sets one header and lets the other through cannot
// be used to pick an address this way.

// maxHops bounds how many forwarded hops are read from the right.
const maxHops = 32

// Proxies is the set of peers whose forwarding headers are believed. The
// zero value trusts no one.
type Proxies struct {
	nets []netip.Prefix
}

// ParseProxies parses a comma-separated list of CIDR ranges or single
// addresses (10.0.0.0/8, 192.168.1.5, ::1).
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return Proxies{}, fmt.Errorf("%q is not an address range; want CIDR such as 10.0.0.0/8 or an address such as 192.168.1.5", f)
			}
			a = a.Unmap()
			pfx = netip.PrefixFrom(a, a.BitLen())
		} else if pfx.Addr().Is4In6() {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), max(pfx.Bits()-96, 0))
		}
		p.nets = append(p.nets, pfx.Masked())
	}
	return p, nil
}

// Empty reports whether no proxy is trusted.
func (p Proxies) Empty() bool { return len(p.nets) == 0 }

// String lists the trusted ranges, comma-separated.
func (p Proxies) String() string {
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// Trusts reports whether a is a trusted proxy.
func (p Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client is who a request came from, as far as the server can tell.
type Client struct {
	IP    netip.Addr // invalid when the peer's address did not parse
	HTTPS bool       // the client reached the server, or the first trusted proxy, over TLS
}

// Resolve tells who r came from: the TCP peer and its TLS state, or, when
// the peer is a trusted proxy, what the forwarding headers say.
func (p Proxies) Resolve(r *http.Request) Client {
	peer := peerAddr(r.RemoteAddr)
	c := Client{IP: peer, HTTPS: r.TLS != nil}
	if !peer.IsValid() || !p.Trusts(peer) {
		return c
	}
	xff, hasXFF := r.Header["X-Forwarded-For"]
	fwd, hasFwd := r.Header["Forwarded"]
	var ip netip.Addr
	var proto string
	switch {
	case hasXFF && hasFwd:
		a := p.walk(peer, splitList(xff))
		hops, protos := parseForwarded(fwd)
		b, i := p.walkIndex(peer, hops)
		if a != b {
			return c // one of them came from the client: believe neither
		}
		ip, proto = a, protoAt(protos, i)
	case hasXFF:
		ip = p.walk(peer, splitList(xff))
	case hasFwd:
		hops, protos := parseForwarded(fwd)
		var i int
		ip, i = p.walkIndex(peer, hops)
		proto = protoAt(protos, i)
	default:
		ip = peer
	}
	if v, ok := r.Header["X-Forwarded-Proto"]; ok {
		// The right-most value is the one the nearest proxy wrote.
		if l := splitList(v); len(l) > 0 {
			proto = l[len(l)-1]
		}
	}
	c.IP = ip
	switch strings.ToLower(proto) {
	case "https", "wss":
		c.HTTPS = true
	case "http", "ws":
		c.HTTPS = false
	}
	return c
}

// walk returns the right-most hop of chain that is not a trusted proxy,
// starting from the trusted peer.
func (p Proxies) walk(peer netip.Addr, chain []string) netip.Addr {
	a, _ := p.walkIndex(peer, chain)
	return a
}

// walkIndex is walk that also returns the index in chain of the hop chosen
// (-1: the peer itself).
func (p Proxies) walkIndex(peer netip.Addr, chain []string) (netip.Addr, int) {
	last, at := peer, -1
	for i, n := len(chain)-1, 0; i >= 0 && n < maxHops; i, n = i-1, n+1 {
		a, ok := hopAddr(chain[i])
		if !ok {
			return last, at // not an address: the proxy that passed it on
		}
		last, at = a, i
		if !p.Trusts(a) {
			return a, i
		}
	}
	return last, at
}

// protoAt returns the proto given for hop i, or the right-most one given.
func protoAt(protos []string, i int) string {
	if i >= 0 && i < len(protos) && protos[i] != "" {
		return protos[i]
	}
	for j := len(protos) - 1; j >= 0; j-- {
		if protos[j] != "" {
			return protos[j]
		}
	}
	return ""
}

// splitList joins a header's lines and splits them at commas.
func splitList(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, f := range strings.Split(l, ",") {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
}

// parseForwarded reads RFC 7239 Forwarded header lines into, per element,
// its for= value and its proto= value ("" when absent). An element without
// for= counts as a hop that is not an address, and so ends a walk.
func parseForwarded(lines []string) (hops, protos []string) {
	for _, l := range lines {
		for _, elem := range splitQuoted(l, ',') {
			var hop, proto string
			for _, pair := range splitQuoted(elem, ';') {
				k, v, ok := strings.Cut(pair, "=")
				if !ok {
					continue
				}
				v = strings.TrimSpace(v)
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
				}
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "for":
					hop = v
				case "proto":
					proto = v
				}
			}
			hops, protos = append(hops, hop), append(protos, proto)
		}
	}
	return hops, protos
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case escaped:
			escaped = false
		case s[i] == '\\' && quoted:
			escaped = true
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// hopAddr parses one hop: an address, with or without a port, IPv6 in
// brackets or not. Zones are refused: they name an interface of the
// sender, not an address.
func hopAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			if a, err := netip.ParseAddr(s[1:end]); err == nil && a.Zone() == "" {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// SourceKey is the source an address counts as wherever callers are
// counted (the sign-in limit and its audit, the per-address connection
// cap): an IPv4 address (also mapped into IPv6) as it is, an IPv6 one by
// its /64 (one subscriber's network, which can hold any number of
// addresses); anything that is not an address, as it is.
func SourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// peerAddr parses an http.Request's RemoteAddr.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

type clientKey struct{}

// Handler resolves every request's client once, with Resolve, for ClientIP
// and IsHTTPS to read. Mount it outermost.
func (p Proxies) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := p.Resolve(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// ClientOf returns the client Handler resolved for r; without Handler, the
// TCP peer and its TLS state.
func ClientOf(r *http.Request) Client {
	if c, ok := r.Context().Value(clientKey{}).(Client); ok {
		return c
	}
	return Proxies{}.Resolve(r)
}

// ClientIP returns the address of the client r came from (see ClientOf):
// the key of the sign-in limit, the address admin_networks checks and the
// one the audit log records.
func ClientIP(r *http.Request) string {
	if c := ClientOf(r); c.IP.IsValid() {
		return c.IP.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsHTTPS reports whether the client reached Curbside over TLS, directly
// or through a trusted proxy that says so: what decides Secure cookies,
// HSTS and the scheme of the server's own origin.
func IsHTTPS(r *http.Request) bool {
	return ClientOf(r).HTTPS
}
