package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The raw publisher: MQTT 3.1.1 written by hand on a plain TCP connection, for `gongdan bench
// mqtt`. A load generator that shares the machine with the broker and the gateway under test
// must cost next to nothing: paho spends 20–30 µs of CPU a message on goroutine hand-offs,
// a token per publish and a write per packet; this writes PUBLISH packets straight into a
// large buffer that leaves in one system call when the in-flight window is full or nothing
// more is due, and reads PUBACKs in batches from a buffered reader. It speaks only what the
// bench needs: CONNECT with a clean session, PUBLISH at QoS 1, PUBACK, PINGREQ when idle,
// DISCONNECT. It never reconnects: a lost connection ends its publisher's part of the run and
// is reported.

// MQTT 3.1.1 packet types and flags, as first bytes of fixed headers.
const (
	mqttConnect    = 0x10
	mqttConnack    = 0x20
	mqttPublishQoS = 0x32 // PUBLISH, QoS 1, no DUP, no RETAIN
	mqttPuback     = 0x40
	mqttPingreq    = 0xC0
	mqttPingresp   = 0xD0
	mqttDisconnect = 0xE0
)

const (
	// rawKeepAlive is the keep-alive announced in CONNECT. The broker drops a client silent
	// for 1.5 times that; the publisher sends PINGREQ after rawPingAfter without a write.
	rawKeepAlive = 60 * time.Second
	rawPingAfter = 30 * time.Second
	// rawConnectTimeout bounds the dial and the wait for CONNACK, as paho's connect.
	rawConnectTimeout = 15 * time.Second
	// rawWriteBuffer holds what is published between two flushes: a window of 256 messages
	// of ~130 bytes fits with room to spare, and a larger window leaves in 128 KiB writes.
	rawWriteBuffer = 128 << 10
	rawReadBuffer  = 32 << 10
)

// rawSession is a publishSession on a connection of its own. The publishing goroutine
// writes (w, nextID, reserved and the timers are its alone); the reader goroutine reads
// PUBACKs, records them in the publisher, and gives their slots back to the window.
type rawSession struct {
	p        *publisher
	conn     net.Conn
	w        *bufio.Writer
	r        *bufio.Reader
	inflight int
	base     time.Time // sentAt is in nanoseconds since base

	// sentAt holds, per packet id, 1 + when its PUBLISH was sent, or 0 while the id is free.
	// The publisher stores before writing; the reader swaps back to 0 on its PUBACK. An id
	// is reused only once it is free again.
	sentAt [1 << 16]atomic.Int64

	// The window: slots the publisher may fill. It takes all that are free at once into
	// reserved, so that a batch of PUBACKs read together costs one lock.
	mu      sync.Mutex
	free    int
	waiting bool          // the publisher waits on wake
	want    int           // for free to reach before it is woken
	wake    chan struct{} // capacity 1

	reserved  int // the publisher's own
	unflushed int // messages written to w since the last flush
	lastID    uint16
	lastWrite time.Time     // of the last flush that wrote, for PINGREQ
	pingAfter time.Duration // rawPingAfter; shorter in tests
	timer     *time.Timer

	failure    atomic.Pointer[error] // the first error; publishing stops
	dead       chan struct{}         // closed when the reader stops on an error
	closing    atomic.Bool           // the connection is being closed on purpose
	closeOnce  sync.Once
	readerDone chan struct{}
}

// dialRawSession connects p's client to the broker of o and starts its reader.
func dialRawSession(p *publisher, o MQTTOptions, clientID string) (*rawSession, error) {
	u, err := url.Parse(o.Broker)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1883")
	}
	broker := redactURL(o.Broker)
	connect, err := rawConnectPacket(clientID, o.Username, o.Password)
	if err != nil {
		return nil, fmt.Errorf("bench mqtt: %v", err)
	}
	conn, err := net.DialTimeout("tcp", host, rawConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("bench mqtt: broker %s: connect: %v; is the broker running and reachable?", broker, err)
	}
	conn.SetDeadline(time.Now().Add(rawConnectTimeout))
	r := bufio.NewReaderSize(conn, rawReadBuffer)
	if err := rawHandshake(conn, r, connect); err != nil {
		conn.Close()
		var refused connackRefused
		switch {
		case errors.As(err, &refused):
			return nil, fmt.Errorf("bench mqtt: broker %s refused CONNECT: %v; are --username/--password right, and may this client connect?", broker, err)
		case errors.Is(err, errRawNotConnack):
			return nil, fmt.Errorf("bench mqtt: broker %s: %v; is it an MQTT 3.1.1 broker?", broker, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("bench mqtt: broker %s did not answer CONNECT within %v; is it running and reachable?", broker, rawConnectTimeout)
		}
		return nil, fmt.Errorf("bench mqtt: broker %s: connect: %v; is the broker running, and are --username/--password right?", broker, err)
	}
	conn.SetDeadline(time.Time{})
	s := &rawSession{
		p: p, conn: conn, r: r, inflight: o.Inflight, free: o.Inflight, base: time.Now(),
		wake: make(chan struct{}, 1), dead: make(chan struct{}), readerDone: make(chan struct{}),
		timer: time.NewTimer(time.Hour), lastWrite: time.Now(), pingAfter: rawPingAfter,
	}
	s.timer.Stop()
	// A broker that stops reading must not hang the bench: each write gets ackTimeout.
	s.w = bufio.NewWriterSize(deadlineWriter{conn}, rawWriteBuffer)
	go s.read()
	return s, nil
}

// rawConnectPacket is CONNECT: MQTT 3.1.1, a clean session, rawKeepAlive, and the user name
// and password when there are. (3.1.1 allows no password without a user name: an empty one
// is sent then.)
func rawConnectPacket(clientID, username, password string) ([]byte, error) {
	for _, f := range []struct{ what, s string }{{"the client id", clientID}, {"--username", username}, {"--password", password}} {
		if len(f.s) > 0xFFFF {
			return nil, fmt.Errorf("%s is %d bytes; MQTT allows 65535", f.what, len(f.s))
		}
	}
	flags := byte(0x02) // clean session
	if username != "" || password != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, byte(rawKeepAlive / time.Second >> 8), byte(rawKeepAlive / time.Second)}
	body = appendMQTTString(body, clientID)
	if flags&0x80 != 0 {
		body = appendMQTTString(body, username)
	}
	if flags&0x40 != 0 {
		body = appendMQTTString(body, password)
	}
	b := appendRemainingLength([]byte{mqttConnect}, len(body))
	return append(b, body...), nil
}

func appendMQTTString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

// appendRemainingLength appends n as MQTT's variable-length integer: 7 bits a byte, the
// least significant first, the high bit set on all but the last.
func appendRemainingLength(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7F)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// readRemainingLength reads the variable-length integer that appendRemainingLength writes.
func readRemainingLength(r io.ByteReader) (int, error) {
	n := 0
	for i := range 4 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return n, nil
		}
	}
	return 0, errors.New("malformed remaining length (more than 4 bytes)")
}

var errRawNotConnack = errors.New("answered CONNECT with something other than CONNACK")

// connackRefused is a CONNACK's return code other than 0.
type connackRefused byte

func (c connackRefused) Error() string {
	reasons := [...]string{1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
		4: "bad user name or password", 5: "not authorized"}
	if int(c) < len(reasons) {
		return fmt.Sprintf("%s (CONNACK return code %d)", reasons[c], byte(c))
	}
	return fmt.Sprintf("CONNACK return code %d", byte(c))
}

// rawHandshake sends CONNECT and reads CONNACK.
func rawHandshake(conn net.Conn, r *bufio.Reader, connect []byte) error {
	if _, err := conn.Write(connect); err != nil {
		return err
	}
	var ack [4]byte
	if _, err := io.ReadFull(r, ack[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("closed the connection after CONNECT, before CONNACK")
		}
		return err
	}
	if ack[0] != mqttConnack || ack[1] != 2 {
		return fmt.Errorf("%w (first bytes % x)", errRawNotConnack, ack)
	}
	if ack[3] != 0 {
		return connackRefused(ack[3])
	}
	return nil
}

// deadlineWriter gives each write to the connection ackTimeout: a broker that takes nothing
// for that long fails the publisher rather than hanging it.
type deadlineWriter struct{ conn net.Conn }

func (d deadlineWriter) Write(b []byte) (int, error) {
	d.conn.SetWriteDeadline(time.Now().Add(ackTimeout))
	return d.conn.Write(b)
}

// fail records the session's first error; publishing stops.
func (s *rawSession) fail(err error) {
	s.failure.CompareAndSwap(nil, &err)
}

func (s *rawSession) failed() bool { return s.failure.Load() != nil }

// reserve takes a slot. When the window is full it waits for half of it to be free again, so
// that the publisher wakes once for a batch of PUBACKs and writes the next batch in one
// system call — on loopback the kernel's work for each write and read (the broker's side of
// TCP included) costs more than all the rest of a message. It flushes before it waits when
// fewer than half are on their way to the broker: then what is buffered must leave for the
// window to open; otherwise the PUBACKs of those on their way open it first, and the buffer
// grows into a larger batch meanwhile.
func (s *rawSession) reserve(ctx context.Context) bool {
	if s.failed() {
		return false
	}
	if s.reserved > 0 {
		s.reserved--
		return true
	}
	for {
		s.mu.Lock()
		if s.free > 0 {
			s.reserved = s.free - 1
			s.free = 0
			s.mu.Unlock()
			return true
		}
		s.waiting, s.want = true, max(1, s.inflight/2)
		s.mu.Unlock()
		if s.unflushed*2 >= s.inflight && !s.flush() {
			return false
		}
		if !s.await(ctx) {
			return false
		}
	}
}

// await waits for the reader's wake-up: false when the connection failed, ctx is done, or
// no PUBACK came within ackTimeout.
func (s *rawSession) await(ctx context.Context) bool {
	s.mu.Lock()
	freeBefore := s.free
	s.mu.Unlock()
	for {
		s.timer.Reset(ackTimeout)
		select {
		case <-s.wake:
			return true
		case <-s.dead:
			return false
		case <-ctx.Done():
			return false
		case <-s.timer.C:
		}
		s.mu.Lock()
		free := s.free
		s.mu.Unlock()
		if free == freeBefore {
			s.fail(fmt.Errorf("no PUBACK within %v", ackTimeout))
			return false
		}
		freeBefore = free // slow, but coming
	}
}

func (s *rawSession) release() { s.reserved++ }

// publish writes a PUBLISH packet: the fixed header 0x32 and the remaining length, the topic
// with its length, the packet id, the payload.
func (s *rawSession) publish(topic string, payload []byte, sent time.Time) {
	id := s.nextID()
	s.sentAt[id].Store(int64(sent.Sub(s.base)) + 1)
	b := s.w.AvailableBuffer()
	b = append(b, mqttPublishQoS)
	b = appendRemainingLength(b, 2+len(topic)+2+len(payload))
	b = appendMQTTString(b, topic)
	b = append(b, byte(id>>8), byte(id))
	b = append(b, payload...)
	if _, err := s.w.Write(b); err != nil {
		s.fail(fmt.Errorf("write: %w", err))
	}
	s.unflushed++
}

// nextID is the next packet id after the last one, 1 to 65535 and round, that is not in
// flight. The window is smaller than the ids, so there is one.
func (s *rawSession) nextID() uint16 {
	for {
		s.lastID++
		if s.lastID == 0 {
			s.lastID = 1
		}
		if s.sentAt[s.lastID].Load() == 0 {
			return s.lastID
		}
	}
}

// flush writes what is buffered; false when that failed.
func (s *rawSession) flush() bool {
	if s.failed() {
		return false
	}
	if s.w.Buffered() == 0 {
		return true
	}
	if err := s.w.Flush(); err != nil {
		s.fail(fmt.Errorf("write: %w", err))
		return false
	}
	s.unflushed = 0
	s.lastWrite = time.Now()
	return true
}

// wait: nothing is due before until, so what is buffered leaves now; a PINGREQ keeps a
// connection idle for longer than rawPingAfter alive.
func (s *rawSession) wait(ctx context.Context, until time.Time) {
	if !until.After(time.Now()) {
		return // behind: the next message is due already, and joins this batch
	}
	if !s.flush() {
		return
	}
	for ctx.Err() == nil {
		next := until
		ping := s.lastWrite.Add(s.pingAfter)
		if ping.Before(until) {
			next = ping
		}
		sleepUntil(ctx, next, s.timer)
		if !time.Now().Before(until) {
			return
		}
		if !time.Now().Before(ping) {
			s.w.Write([]byte{mqttPingreq, 0})
			if !s.flush() {
				return
			}
		}
	}
}

// read reads what the broker sends — PUBACKs, PINGRESPs — until the connection closes. It
// gives slots back to the window when it has read all that had arrived, before it blocks.
func (s *rawSession) read() {
	defer close(s.readerDone)
	p := s.p
	freed := 0
	err := func() error {
		for {
			if freed > 0 && s.r.Buffered() < 4 { // no whole PUBACK left: the next read may block
				s.give(freed)
				freed = 0
			}
			kind, err := s.r.ReadByte()
			if err != nil {
				return err
			}
			n, err := readRemainingLength(s.r)
			if err != nil {
				return err
			}
			switch {
			case kind == mqttPuback && n == 2:
				hi, _ := s.r.ReadByte()
				lo, err := s.r.ReadByte()
				if err != nil {
					return err
				}
				id := uint16(hi)<<8 | uint16(lo)
				now := time.Now()
				sent := s.sentAt[id].Swap(0)
				if sent == 0 {
					return rawProtocolError(fmt.Sprintf("the broker acknowledged packet id %d, which is not in flight", id))
				}
				p.acked++
				p.lastAck = now
				p.puback.record(now.Sub(s.base) - time.Duration(sent-1))
				freed++
			case kind == mqttPingresp && n == 0:
			default:
				return rawProtocolError(fmt.Sprintf("the broker sent an unexpected packet: type 0x%02x, %d bytes", kind, n))
			}
		}
	}()
	if s.closing.Load() {
		return
	}
	var protocol rawProtocolError
	switch {
	case errors.As(err, &protocol):
		err = fmt.Errorf("%w; closed the connection", err)
	case errors.Is(err, io.EOF):
		err = errors.New("connection lost: the broker closed it")
	default:
		err = fmt.Errorf("connection lost: %w", err)
	}
	s.fail(err)
	close(s.dead)
	s.conn.Close()
}

// rawProtocolError is something the broker sent that MQTT 3.1.1 does not allow here.
type rawProtocolError string

func (e rawProtocolError) Error() string { return string(e) }

// give puts n acknowledged slots back into the window and wakes the publisher if it waits.
func (s *rawSession) give(n int) {
	s.mu.Lock()
	s.free += n
	if s.waiting && s.free >= s.want {
		s.waiting = false
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

// finish waits up to ackTimeout for the PUBACKs still due, says DISCONNECT, closes, and
// counts what was not acknowledged as errors.
func (s *rawSession) finish() {
	if s.flush() {
		s.awaitAcks()
	}
	if !s.failed() {
		s.w.Write([]byte{mqttDisconnect, 0})
		s.flush()
	}
	s.close()
	// The reader has stopped: its counters may be read.
	p := s.p
	unacked := p.published - p.acked
	p.errors += unacked
	if p.firstError != "" {
		return
	}
	switch f := s.failure.Load(); {
	case f != nil && unacked > 0:
		p.firstError = fmt.Sprintf("publisher %d: %v (%d messages not acknowledged)", p.id, *f, unacked)
	case f != nil:
		p.firstError = fmt.Sprintf("publisher %d: %v", p.id, *f)
	case unacked > 0:
		p.firstError = fmt.Sprintf("publisher %d: %d messages not acknowledged", p.id, unacked)
	}
}

// awaitAcks returns when every slot of the window is free again, the connection fails, or
// no PUBACK came for ackTimeout.
func (s *rawSession) awaitAcks() {
	for !s.failed() {
		s.mu.Lock()
		all := s.free+s.reserved == s.inflight
		s.waiting, s.want = !all, s.inflight-s.reserved
		s.mu.Unlock()
		if all || !s.await(context.Background()) {
			return
		}
	}
}

// close closes the connection and waits for the reader; once is enough, and it is safe
// after finish.
func (s *rawSession) close() {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.conn.Close()
		<-s.readerDone
		s.timer.Stop()
	})
}

var _ publishSession = (*rawSession)(nil)
