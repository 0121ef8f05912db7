package mqtt

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"golang.org/x/time/rate"
)

// gatedListener is a mochi TCP listener that decides at accept, before a byte is read,
// whether a connection may proceed: its remote address within its connection rate, and fewer
// than maxConns open. It gives each connection handshakeTimeout to send its CONNECT, and at
// shut closes every connection it accepted, those still in the handshake included (mochi's own
// listener leaves those to hang its Close).
type gatedListener struct {
	id, address string
	tls         *tls.Config // nil: plain TCP
	limiter     *ipLimiter  // nil: no rate limit
	maxConns    int         // 0: no bound
	onRefused   func(reason, remote string)
	onEnded     func(conn net.Conn, remote string, err error) // each connection served, when it ends

	ln    net.Listener
	log   *slog.Logger
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	shutB bool
	wg    sync.WaitGroup // connections being served
	done  chan struct{}  // closed when Serve has returned
}

var _ listeners.Listener = (*gatedListener)(nil)

// Why a gatedListener refused a connection.
const (
	refusedRate        = "connection_rate"
	refusedConnections = "connections" // maxConns open
)

func (l *gatedListener) ID() string { return l.id }

func (l *gatedListener) Protocol() string {
	if l.tls != nil {
		return "tls"
	}
	return "tcp"
}

func (l *gatedListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *gatedListener) Init(log *slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	if l.tls != nil {
		// The handshake happens at the first read, within the CONNECT's deadline.
		ln = tls.NewListener(ln, l.tls)
	}
	l.ln, l.log, l.conns, l.done = ln, log, map[net.Conn]struct{}{}, make(chan struct{})
	return nil
}

func (l *gatedListener) Serve(establish listeners.EstablishFn) {
	defer close(l.done)
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.isShut() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait, as net/http does, rather than stop
			// listening for good.
			l.log.Warn("mqtt: embedded broker: accept failed; retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		remote := conn.RemoteAddr().String()
		// Counted before the close, so that whoever sees the close sees the count.
		if l.limiter != nil && !l.limiter.allow(conn.RemoteAddr(), time.Now()) {
			l.onRefused(refusedRate, remote)
			_ = conn.Close()
			continue
		}
		if !l.track(conn) {
			if l.isShut() {
				_ = conn.Close()
				return
			}
			l.onRefused(refusedConnections, remote)
			_ = conn.Close()
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(handshakeTimeout)) // mochi moves it on after the CONNECT
		go func() {
			defer l.wg.Done()
			defer l.untrack(conn)
			err := establish(l.id, conn)
			if err != nil {
				l.log.Debug("mqtt: embedded broker: connection ended", "remote", remote, "err", err)
			}
			if l.onEnded != nil {
				l.onEnded(conn, remote, err)
			}
		}()
	}
}

// track adds conn (and one to wg), unless the listener is shut or full.
func (l *gatedListener) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shutB || (l.maxConns > 0 && len(l.conns) >= l.maxConns) {
		return false
	}
	l.conns[conn] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *gatedListener) untrack(conn net.Conn) {
	l.mu.Lock()
	delete(l.conns, conn)
	l.mu.Unlock()
	_ = conn.Close()
}

func (l *gatedListener) isShut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shutB
}

// shut stops accepting and closes every connection; wait then waits for their goroutines.
func (l *gatedListener) shut() {
	l.mu.Lock()
	if l.shutB {
		l.mu.Unlock()
		return
	}
	l.shutB = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// wait waits for Serve and every connection's goroutine to return, after shut.
func (l *gatedListener) wait() {
	if l.done != nil {
		select {
		case <-l.done:
		case <-time.After(time.Second): // Serve was never started
		}
	}
	l.wg.Wait()
}

// Close is mochi's: it runs in Server.Close, after shut and wait have left no client.
func (l *gatedListener) Close(closeClients listeners.CloseFn) {
	l.shut()
	closeClients(l.id)
}

// ipLimiter is a token bucket per remote address (an IPv6 address by its /64, which one host
// is usually given whole). It forgets addresses whose bucket is full again once it tracks
// maxTrackedAddrs; beyond that, new addresses share one bucket.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[netip.Prefix]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

const maxTrackedAddrs = 65536

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &ipLimiter{
		limit: rate.Limit(perSecond), burst: burst,
		buckets:  map[netip.Prefix]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

func addrKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (l *ipLimiter) allow(a net.Addr, now time.Time) bool {
	key := addrKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxTrackedAddrs && now.Sub(l.lastSweep) > time.Second {
			l.lastSweep = now
			for k, lim := range l.buckets {
				if lim.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
		}
		if len(l.buckets) >= maxTrackedAddrs {
			return l.overflow.AllowN(now, 1)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	return b.AllowN(now, 1)
}
