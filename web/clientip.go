package web

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5/middleware"
)

// clientIPMiddleware records the client's IP for throttling and logs when
// the peer is one of the trusted proxies: what the proxy says in header
// (X-Forwarded-For or X-Real-IP). Without trusted proxies it returns nil:
// clientIP then reads the TCP peer from the request itself.
func clientIPMiddleware(trusted []netip.Prefix, header string) func(http.Handler) http.Handler {
	if len(trusted) == 0 {
		return nil
	}
	prefixes := make([]string, len(trusted))
	for i, p := range trusted {
		prefixes[i] = p.String()
	}
	if http.CanonicalHeaderKey(header) == "X-Real-Ip" {
		return middleware.ClientIPFromHeader("X-Real-IP", prefixes...)
	}
	return middleware.ClientIPFromXFF(prefixes...)
}

// clientIP is the client's address as clientIPMiddleware found it, or the
// TCP peer when a trusted proxy sent nothing usable.
func clientIP(r *http.Request) string {
	if ip := middleware.GetClientIP(r.Context()); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientKey is the client's address as the per-IP limits count it: an
// IPv4 address as it is, and an IPv6 address by its first v6Bits bits
// ("2001:db8:1:2::/64" for 64), since one household or host holds a whole
// block and could rotate through it.
func clientKey(r *http.Request, v6Bits int) string {
	ip := clientIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, err := a.WithZone("").Prefix(v6Bits)
	if err != nil {
		return ip
	}
	return p.String()
}
