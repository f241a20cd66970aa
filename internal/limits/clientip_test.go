package limits

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClientIP(t *testing.T) {
	trusted := mustParseTrusted(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	tests := []struct {
		name     string
		remote   string
		trusted  []netip.Prefix
		xff      []string // X-Forwarded-For lines
		realIP   string
		wantAddr string // "" for the zero Addr
	}{
		{name: "no proxies: peer", remote: "203.0.113.5:1234", wantAddr: "203.0.113.5"},
		{name: "no proxies: forged XFF ignored", remote: "203.0.113.5:1234", xff: []string{"198.51.100.7"}, wantAddr: "203.0.113.5"},
		{name: "untrusted peer: forged XFF ignored", remote: "203.0.113.5:1234", trusted: trusted, xff: []string{"10.0.0.3"}, wantAddr: "203.0.113.5"},
		{name: "untrusted peer: forged X-Real-IP ignored", remote: "203.0.113.5:1234", trusted: trusted, realIP: "198.51.100.7", wantAddr: "203.0.113.5"},
		{name: "trusted peer: client from XFF", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7"}, wantAddr: "198.51.100.7"},
		{name: "trusted peer: forged left-most entry ignored", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"1.1.1.1, 198.51.100.7"}, wantAddr: "198.51.100.7"},
		{name: "two trusted hops", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7, 10.0.0.3"}, wantAddr: "198.51.100.7"},
		{name: "forged trusted address left of the client", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"10.9.9.9, 198.51.100.7"}, wantAddr: "198.51.100.7"},
		{name: "several header lines form one list", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"1.1.1.1", "198.51.100.7, 10.0.0.3"}, wantAddr: "198.51.100.7"},
		{name: "client on an earlier header line", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7", "10.0.0.3"}, wantAddr: "198.51.100.7"},
		{name: "every hop trusted: left-most", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"10.0.0.9, 10.0.0.3"}, wantAddr: "10.0.0.9"},
		{name: "spaces and tabs", remote: "10.0.0.2:80", trusted: trusted, xff: []string{" 1.1.1.1 ,\t198.51.100.7\t, 10.0.0.3 "}, wantAddr: "198.51.100.7"},
		{name: "entries with ports", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7:5555, 10.0.0.3:443"}, wantAddr: "198.51.100.7"},
		{name: "malformed right-most entry: the peer", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"garbage"}, wantAddr: "10.0.0.2"},
		{name: "malformed entry left of the client is never reached", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"garbage, 198.51.100.7"}, wantAddr: "198.51.100.7"},
		{name: "malformed entry behind a trusted hop: that hop", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7, bogus, 10.0.0.3"}, wantAddr: "10.0.0.3"},
		{name: "empty entry: the peer", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7,"}, wantAddr: "10.0.0.2"},
		{name: "empty header: the peer", remote: "10.0.0.2:80", trusted: trusted, xff: []string{""}, wantAddr: "10.0.0.2"},
		{name: "CIDR in XFF is malformed", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.0/24"}, wantAddr: "10.0.0.2"},
		{name: "X-Real-IP from a trusted peer", remote: "10.0.0.2:80", trusted: trusted, realIP: "198.51.100.7", wantAddr: "198.51.100.7"},
		{name: "malformed X-Real-IP: the peer", remote: "10.0.0.2:80", trusted: trusted, realIP: "198.51.100.7.1", wantAddr: "10.0.0.2"},
		{name: "XFF wins over X-Real-IP", remote: "10.0.0.2:80", trusted: trusted, xff: []string{"198.51.100.7"}, realIP: "198.51.100.8", wantAddr: "198.51.100.7"},
		{name: "IPv6 peer", remote: "[2001:db8::1]:443", trusted: trusted, wantAddr: "2001:db8::1"},
		{name: "IPv6 peer with forged XFF", remote: "[2001:db8::1]:443", trusted: trusted, xff: []string{"198.51.100.7"}, wantAddr: "2001:db8::1"},
		{name: "IPv6 trusted proxy, IPv6 client", remote: "[2001:db8:ffff::1]:443", trusted: trusted, xff: []string{"2001:db8:1::5, 2001:db8:ffff::2"}, wantAddr: "2001:db8:1::5"},
		{name: "IPv6 client with port", remote: "[2001:db8:ffff::1]:443", trusted: trusted, xff: []string{"[2001:db8:1::5]:8080"}, wantAddr: "2001:db8:1::5"},
		{name: "IPv4-mapped peer is IPv4 and trusted", remote: "[::ffff:10.0.0.2]:80", trusted: trusted, xff: []string{"::ffff:198.51.100.7"}, wantAddr: "198.51.100.7"},
		{name: "zone dropped", remote: "[fe80::1%eth0]:80", trusted: trusted, wantAddr: "fe80::1"},
		{name: "RemoteAddr without port", remote: "203.0.113.5", trusted: trusted, wantAddr: ""},
		{name: "RemoteAddr not an address", remote: "@", trusted: trusted, xff: []string{"198.51.100.7"}, wantAddr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			var want netip.Addr
			if tt.wantAddr != "" {
				want = netip.MustParseAddr(tt.wantAddr)
			}
			if got := ClientIP(r, tt.trusted); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: " , ,", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: "10.0.0.0/8, 192.0.2.7 ,fd00::/8", want: []string{"10.0.0.0/8", "192.0.2.7/32", "fd00::/8"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "2001:db8::1", want: []string{"2001:db8::1/128"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "::ffff:192.0.2.7", want: []string{"192.0.2.7/32"}},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "10.0.0.0/8, proxy.internal", wantErr: true},
		{in: "fe80::1%eth0", wantErr: true},
		{in: "10.0.0.0/8/8", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseTrustedProxies(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q): %v", tt.in, err)
			}
			var gotStrings []string
			for _, p := range got {
				gotStrings = append(gotStrings, p.String())
			}
			if diff := cmp.Diff(tt.want, gotStrings); diff != "" {
				t.Errorf("ParseTrustedProxies(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr netip.Addr
		want netip.Prefix
	}{
		{netip.MustParseAddr("198.51.100.7"), netip.MustParsePrefix("198.51.100.7/32")},
		{netip.MustParseAddr("::ffff:198.51.100.7"), netip.MustParsePrefix("198.51.100.7/32")},
		{netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), netip.MustParsePrefix("2001:db8:1:2::/64")},
		{netip.MustParseAddr("fe80::1%eth0"), netip.MustParsePrefix("fe80::/64")},
		{netip.Addr{}, netip.Prefix{}},
	}
	for _, tt := range tests {
		if got := ClientKey(tt.addr); got != tt.want {
			t.Errorf("ClientKey(%v) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	// Two addresses in one /64 are one client.
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:1")
	if ClientKey(a) != ClientKey(b) {
		t.Errorf("ClientKey(%v) != ClientKey(%v)", a, b)
	}
}

func TestClientIPMiddleware(t *testing.T) {
	trusted := mustParseTrusted(t, "10.0.0.0/8")
	var got netip.Addr
	var found bool
	h := ClientIPMiddleware(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, found = ClientIPFromContext(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	r.RemoteAddr = "10.0.0.2:80"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if want := netip.MustParseAddr("198.51.100.7"); !found || got != want {
		t.Errorf("ClientIPFromContext = %v, %t; want %v, true", got, found, want)
	}
	if addr, ok := ClientIPFromContext(context.Background()); ok {
		t.Errorf("ClientIPFromContext(empty context) = %v, true; want false", addr)
	}
}

func mustParseTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
