package limits

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r.
//
// That is the connection's peer, unless the peer is one of the trusted
// proxies. Then it is the right-most address in X-Forwarded-For that is not
// itself trusted: every hop to its right was appended by a proxy storybot
// trusts, while anything to its left was written by the client and could be
// forged. Without X-Forwarded-For, a trusted peer's X-Real-IP is used.
//
// Malformed headers are never believed: a malformed X-Forwarded-For entry
// ends the walk at the last address a trusted proxy vouched for, and a
// malformed X-Real-IP is ignored. So a client cannot make itself look like
// the proxy (and share, or exhaust, everyone's limits) by sending garbage.
//
// IPv4-mapped IPv6 addresses are returned as IPv4 and zones are dropped. The
// zero Addr is returned only when r.RemoteAddr is not an IP address with a
// port (a Unix socket, say).
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := normalize(peer.Addr())
	if !isTrusted(addr, trusted) {
		return addr
	}
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		return walkForwardedFor(values, addr, trusted)
	}
	if real, ok := parseHop(r.Header.Get("X-Real-IP")); ok {
		return real
	}
	return addr
}

// walkForwardedFor returns the right-most untrusted address in the
// X-Forwarded-For header lines, which together form one comma-separated list.
// vouched is the trusted peer that sent them. When every entry is trusted,
// the left-most one is the client.
func walkForwardedFor(lines []string, vouched netip.Addr, trusted []netip.Prefix) netip.Addr {
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			entry := rest
			comma := strings.LastIndexByte(rest, ',')
			if comma >= 0 {
				entry, rest = rest[comma+1:], rest[:comma]
			}
			hop, ok := parseHop(entry)
			if !ok {
				return vouched
			}
			if !isTrusted(hop, trusted) {
				return hop
			}
			vouched = hop
			if comma < 0 {
				break
			}
		}
	}
	return vouched
}

// parseHop parses one address as proxies write it: bare ("192.0.2.1",
// "2001:db8::1"), or with a port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if addr, err := netip.ParseAddr(s); err == nil {
		return normalize(addr), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones, so that one
// client has one address and prefixes match it.
func normalize(addr netip.Addr) netip.Addr {
	return addr.Unmap().WithZone("")
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of IP addresses and CIDR
// prefixes, such as "10.0.0.0/8, 192.0.2.7, fd00::/8", as the trusted
// argument of ClientIP. Spaces and empty entries are ignored, so "" means no
// trusted proxies. A single address is a prefix of its full length.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix: %w", entry, err)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	// ClientIP unmaps addresses, so an IPv4-mapped prefix becomes the IPv4
	// prefix it stands for.
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ClientKey returns the rate-limiting key for a client address: the address
// itself for IPv4, and its /64 network for IPv6, since one subscriber is
// usually given at least a /64 and could otherwise appear as billions of
// clients. The zero Addr gives the zero Prefix, one shared key.
func ClientKey(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = normalize(addr)
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32)
	}
	return netip.PrefixFrom(addr, 64).Masked()
}

type clientIPKey struct{}

// ContextWithClientIP returns a copy of ctx that carries the client address.
func ContextWithClientIP(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, addr)
}

// ClientIPFromContext returns the client address that ContextWithClientIP or
// ClientIPMiddleware stored in ctx, and whether there was one.
func ClientIPFromContext(ctx context.Context) (netip.Addr, bool) {
	addr, ok := ctx.Value(clientIPKey{}).(netip.Addr)
	return addr, ok
}

// ClientIPMiddleware stores ClientIP(r, trusted) in each request's context,
// where resolvers and services can read it with ClientIPFromContext. gqlgen's
// websocket and SSE transports run operations under the request's context, so
// subscriptions see the address too.
func ClientIPMiddleware(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := ContextWithClientIP(r.Context(), ClientIP(r, trusted))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
