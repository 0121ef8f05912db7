// Package bufconn is a net.Conn that buffers both ways, for paho's MQTT clients: the MQTT
// connector's and the publishers and subscriber of `gongdan bench mqtt`. paho reads each
// packet's fixed header a byte at a time and writes each packet (a PUBACK, a PUBLISH) with a
// system call of its own; on a bare connection those calls are most of what receiving or
// sending tens of thousands of messages a second costs.
//
// It is a leaf: it imports nothing of gongdan's.
package bufconn

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// Conn reads through a bufio.Reader and queues writes; a flusher goroutine writes whatever
// has queued while its previous write was in the kernel, so nothing waits for a timer and,
// under load, one system call carries many packets. Under light load that is one write per
// packet, as on a bare connection. Write returns once the bytes are queued; the first write
// error is returned to every later Write.
type Conn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    sync.Cond
	queued  []byte // written, not yet to the connection
	spare   []byte
	err     error // the flusher's first write error
	closing bool
	flushed chan struct{} // closed when the flusher has stopped
}

const (
	// readBuffer holds many small packets: a burst of telemetry is read in one system call.
	readBuffer = 64 << 10
	// maxQueued makes Write wait for the flusher beyond it, so that a peer that reads slowly
	// holds the writer back, as a bare connection would, rather than growing the queue.
	maxQueued = 256 << 10
	// closeFlushTimeout bounds the last flush at Close: a peer that reads nothing must not
	// hold it.
	closeFlushTimeout = 2 * time.Second
)

// New wraps conn; Close closes it.
func New(conn net.Conn) *Conn {
	c := &Conn{Conn: conn, r: bufio.NewReaderSize(conn, readBuffer), flushed: make(chan struct{})}
	c.cond.L = &c.mu
	go c.flush()
	return c
}

func (c *Conn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queued) > maxQueued && c.err == nil && !c.closing {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closing {
		return 0, net.ErrClosed
	}
	c.queued = append(c.queued, b...)
	c.cond.Broadcast()
	return len(b), nil
}

// flush writes what is queued until Close has been called and all is written, or a write
// fails.
func (c *Conn) flush() {
	defer close(c.flushed)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.queued) == 0 && !c.closing {
			c.cond.Wait()
		}
		if len(c.queued) == 0 || c.err != nil {
			return // closing, and all written
		}
		batch := c.queued
		c.queued = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(batch)
		c.mu.Lock()
		c.spare = batch
		if err != nil {
			c.err = err
			c.queued = nil
		}
		c.cond.Broadcast()
	}
}

// Close writes what is queued (paho closes right after its DISCONNECT; the last acks), within
// closeFlushTimeout, then closes. It may be called more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	if first {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		<-c.flushed
	}
	return c.Conn.Close()
}
