package mqtt

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// openConn dials the broker and reads through a buffer. paho reads each packet's header a
// byte at a time from the connection; unbuffered, that is three or four read system calls
// for every telemetry message, most of the connector's CPU at fleet rates.
func openConn(tlsConf *tls.Config) paho.OpenConnectionFunc {
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		dialer := &net.Dialer{Timeout: o.ConnectTimeout}
		var (
			conn net.Conn
			err  error
		)
		switch uri.Scheme {
		case "tcp", "mqtt":
			conn, err = dialer.Dial("tcp", uri.Host)
		case "ssl", "tls", "mqtts":
			conn, err = tls.DialWithDialer(dialer, "tcp", uri.Host, tlsConf)
		case "ws", "wss":
			u := *uri
			u.User = nil
			conn, err = paho.NewWebsocket(u.String(), tlsConf, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
		default:
			return nil, fmt.Errorf("broker %s: unknown scheme %q (tcp, ssl, ws, wss)", uri.Redacted(), uri.Scheme)
		}
		if err != nil {
			return nil, err
		}
		return newBufferedConn(conn), nil
	}
}

// bufferedConn is a net.Conn whose reads go through a buffer and whose writes are coalesced:
// paho writes every PUBACK on its own, a system call per message; here a write lands in a
// buffer that one goroutine flushes as soon as it can, so acks given while a write is under
// way go out together. Under light load that is one write per ack, as before.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	buf     []byte
	err     error // the first write error, reported to every later Write
	closed  bool
	kick    chan struct{}
	flushed chan struct{} // closed when the flusher has returned
}

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10), kick: make(chan struct{}, 1), flushed: make(chan struct{})}
	go c.flusher()
	return c
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil || c.closed {
		err := c.err
		c.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return 0, err
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a flush is already due
	}
	return len(p), nil
}

// flusher writes what the buffer holds whenever it is kicked, until Close.
func (c *bufferedConn) flusher() {
	defer close(c.flushed)
	var spare []byte
	for range c.kick {
		c.mu.Lock()
		b := c.buf
		c.buf = spare[:0]
		closed := c.closed
		c.mu.Unlock()
		if len(b) > 0 {
			if _, err := c.Conn.Write(b); err != nil {
				c.mu.Lock()
				if c.err == nil {
					c.err = err
				}
				c.mu.Unlock()
			}
		}
		spare = b
		if closed {
			return
		}
	}
}

// Close writes what is buffered (a DISCONNECT, the last acks), then closes.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.Conn.Close()
	}
	c.closed = true
	c.mu.Unlock()
	// A broker that stopped reading must not hold the close: the last flush gets two seconds.
	_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	select {
	case c.kick <- struct{}{}:
	default:
	}
	// The kick may have been taken by a flush under way that saw closed unset; kick until the
	// flusher has seen it.
	for done := false; !done; {
		select {
		case <-c.flushed:
			done = true
		case c.kick <- struct{}{}:
		}
	}
	return c.Conn.Close()
}
