package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"gongdan/core/ticket"
)

// Client is who sent a request, as far as the server can tell.
type Client struct {
	// Addr is the client's address: the TCP peer's, or, when the peer is a trusted proxy, the
	// right-most address of X-Forwarded-For (else X-Real-IP) that is not a trusted proxy.
	// Invalid when the forwarding header named none that parses.
	Addr netip.Addr
	// Proxied: the request came through a proxy. Its TCP peer is a trusted proxy, or it
	// carries a forwarding header (Forwarded, X-Forwarded-*, X-Real-IP, Via), from a proxy we
	// were not told of or from a client pretending to be one: either way, the TCP peer is not
	// the client, and a loopback peer proves nothing.
	Proxied bool
}

// Local reports whether the client is on this host and reached it directly: the only case in
// which a demo token is honoured, and in which /metrics answers without a token.
func (c Client) Local() bool { return !c.Proxied && c.Addr.IsLoopback() }

// String is the client address for logs ("unknown" when a proxy named none that parses).
func (c Client) String() string {
	if !c.Addr.IsValid() {
		return "unknown"
	}
	return c.Addr.String()
}

// ClientOf returns the client of a request that went through the server's handler; the TCP
// peer, unproxied, for one that did not.
func ClientOf(r *http.Request) Client {
	if c, ok := r.Context().Value(clientKey).(Client); ok {
		return c
	}
	return Client{Addr: peerAddr(r), Proxied: forwarded(r.Header)}
}

// forwardingHeaders are the headers proxies add. Any of them means the request came through a
// proxy (or a client wants it believed so); X-Forwarded-* stands for the whole family.
var forwardingHeaders = []string{"Forwarded", "X-Real-Ip", "Via"}

func forwarded(h http.Header) bool {
	for k := range h {
		if slices.Contains(forwardingHeaders, k) || strings.HasPrefix(k, "X-Forwarded-") {
			return true
		}
	}
	return false
}

// clientOf works out a request's Client with the trusted proxies.
func (s *Server) clientOf(r *http.Request) Client {
	peer := peerAddr(r)
	trusted := s.trustedProxy(peer)
	c := Client{Addr: peer, Proxied: trusted || forwarded(r.Header)}
	if !trusted {
		return c // its forwarding headers are anyone's say-so
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	if len(hops) == 0 {
		if v := strings.TrimSpace(r.Header.Get("X-Real-Ip")); v != "" {
			hops = []string{v}
		}
	}
	// Each proxy appends the address it was reached from: walk back from the right over our
	// own proxies; the first address that is not one is the client. What is left of it was
	// written by the client and proves nothing.
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			return Client{Proxied: true}
		}
		c.Addr = addr
		if !s.trustedProxy(addr) {
			break
		}
	}
	return c
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the TCP peer's address, IPv4-mapped IPv6 as IPv4; invalid if RemoteAddr is not
// an address (a test's request, a listener of another kind).
func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port ("[::1]:80").
func parseHop(v string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Unmap(), true
	}
	if host, _, err := net.SplitHostPort(v); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// bearer returns the request's bearer token.
func bearer(r *http.Request) (string, bool) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(raw), ok
}

// token looks the request's bearer token up: ok is false when there is none or it is unknown;
// demoRefused when it is a demo token and the client is not Local.
func (s *Server) token(r *http.Request) (tok Token, ok, demoRefused bool) {
	raw, sent := bearer(r)
	if !sent {
		return Token{}, false, false
	}
	return s.lookup(r, raw)
}

// Lookup finds the token raw as the request r would present it: a demo token is found only for
// a Local client. The console exchanges a token for a session with it.
func (s *Server) Lookup(r *http.Request, raw string) (Token, bool) {
	tok, ok, _ := s.lookup(r, raw)
	return tok, ok
}

func (s *Server) lookup(r *http.Request, raw string) (tok Token, ok, demoRefused bool) {
	// Look tokens up by their hash: the lookup's timing then says nothing about the token.
	tok, known := s.tokens[sha256.Sum256([]byte(raw))]
	if !known {
		return Token{}, false, false
	}
	if tok.Demo && !ClientOf(r).Local() {
		return Token{}, false, true
	}
	return tok, true, false
}

// HasToken reports whether a configured token whose SHA-256 is sum still maps to actor: a
// console session made with a token ends when the token is taken out of the config.
func (s *Server) HasToken(sum [sha256.Size]byte, actor ticket.Actor) bool {
	tok, ok := s.tokens[sum]
	return ok && tok.Actor == actor
}

// metricsAuth guards /metrics: the metrics token or an admin token, from anywhere; without a
// metrics token configured, also no token at all from a Local client (a Prometheus on the
// same host). Metrics name connectors, routes and volumes: not for the world.
func (s *Server) metricsAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.metricsToken == nil && ClientOf(r).Local() {
			h.ServeHTTP(w, r)
			return
		}
		if raw, ok := bearer(r); ok && s.metricsToken != nil {
			sum := sha256.Sum256([]byte(raw))
			if subtle.ConstantTimeCompare(sum[:], s.metricsToken) == 1 {
				h.ServeHTTP(w, r)
				return
			}
		}
		tok, ok, demoRefused := s.token(r)
		switch {
		case !ok:
			s.unauthorized(w, r, demoRefused, "send Authorization: Bearer <token> with server.metrics_token or an admin token")
		case tok.Actor.Role != ticket.RoleAdmin:
			writeProblem(w, r, newProblem(http.StatusForbidden, "forbidden", "role "+string(tok.Actor.Role)+" may not read /metrics: use server.metrics_token or an admin token"))
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// unauthorized answers 401. A demo token refused says why: demo tokens are public, so saying
// that this one is one tells nothing, and it saves an operator behind a proxy some guessing.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, demoRefused bool, hint string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="gongdan"`)
	detail := hint
	if demoRefused {
		detail = "demo tokens are honoured only from this host, directly, never through a proxy; " + hint
	}
	writeProblem(w, r, newProblem(http.StatusUnauthorized, "unauthorized", detail))
}

// withClient puts the request's Client into its context.
func (s *Server) withClient(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientKey, s.clientOf(r)))
}

// AsClient is r as a handler mounted beside the API (a connector's intake) should see it: its
// RemoteAddr is the client's, not the trusted proxy's in front of it, so the handler's budgets
// and logs are per sender. A forwarding header from anyone else changes nothing.
func AsClient(r *http.Request) *http.Request {
	if c := ClientOf(r); c.Addr.IsValid() && c.Addr != peerAddr(r) {
		r = r.Clone(r.Context())
		r.RemoteAddr = netip.AddrPortFrom(c.Addr, 0).String()
	}
	return r
}
