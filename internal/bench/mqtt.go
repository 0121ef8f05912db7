// Package bench holds the load generators of `gongdan bench`: a fleet of simulated MQTT
// devices with its own hand-written MQTT publisher (RunMQTT), a watcher of the gongdan under
// test (its /metrics and event stream), and a wrk-like HTTP client that sends prepared
// requests to an in-process server (Client, RunHTTP). Each costs the CPU it shares with what
// it measures as little as it can.
//
// It only generates load and measures: it parses no flags and builds no server — cmd/gongdan
// does both, and composes the server under test from the same parts as `gongdan serve`. For
// that reason it must never import gongdan's own packages (but the leaf internal/bufconn): it
// sees gongdan only from the outside, as a client would.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"gongdan/internal/bufconn"
)

// MQTTOptions say what RunMQTT publishes and what it measures: the flags of gongdan bench mqtt.
type MQTTOptions struct {
	Broker      string        // tcp://host:port of the broker
	Topic       string        // topic template; {device} is one whole level
	QoS         byte          // of the publishes and of the baseline subscription
	Devices     int           // devices simulated
	FirstDevice int           // number of the first device's serial; -1: a random block
	Rate        float64       // messages/s in all; 0: as fast as possible
	Duration    time.Duration // how long to publish
	Messages    int64         // stop after this many messages in all; 0: no limit
	BreachRatio float64       // share of the devices that overheat
	Publishers  int           // MQTT clients publishing in parallel
	Inflight    int           // unacknowledged publishes per publisher
	Publisher   PublisherKind
	Username    string
	Password    string // never printed
	Gongdan     string // base URL of the gongdan under test; empty: not measured
	Token       string // API token for its event stream; empty: tickets not followed
	Connector   string // the connector's name in gongdan's /metrics
	Drain       time.Duration
	Baseline    bool // measure a plain subscriber instead of gongdan
}

// DefaultMQTTOptions are the defaults of gongdan bench mqtt's flags.
func DefaultMQTTOptions() MQTTOptions {
	return MQTTOptions{
		Broker: "tcp://127.0.0.1:1883", Topic: "factory/{device}/telemetry", QoS: 1,
		Devices: 10000, FirstDevice: -1, Rate: 1000, Duration: 30 * time.Second, BreachRatio: 0.01,
		Publishers: 4, Inflight: 256, Publisher: PublisherRaw, Connector: "plant", Drain: 30 * time.Second,
	}
}

// Check says which option is out of range, by its flag's name.
func (o *MQTTOptions) Check() error {
	switch {
	case o.Devices < 1:
		return fmt.Errorf("--devices must be at least 1, got %d", o.Devices)
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return fmt.Errorf("--rate must be 0 (as fast as possible) or more, got %v", o.Rate)
	case o.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %v", o.Duration)
	case o.Messages < 0:
		return fmt.Errorf("--messages must be 0 (no limit) or more, got %d", o.Messages)
	case !(o.BreachRatio >= 0 && o.BreachRatio <= 1):
		return fmt.Errorf("--breach-ratio is a share between 0 and 1, got %v", o.BreachRatio)
	case o.Publishers < 1:
		return fmt.Errorf("--publishers must be at least 1, got %d", o.Publishers)
	case o.Inflight < 1 || o.Inflight > 65535:
		return fmt.Errorf("--inflight must be between 1 and 65535 (MQTT message ids), got %d", o.Inflight)
	case o.Drain < 0:
		return fmt.Errorf("--drain must not be negative, got %v", o.Drain)
	case o.FirstDevice < -1 || o.FirstDevice+o.Devices > serialSpace:
		return fmt.Errorf("--first-device %d with %d devices leaves the 7 digits of the serials", o.FirstDevice, o.Devices)
	}
	if _, err := topicFilter(o.Topic); err != nil {
		return err
	}
	u, err := url.Parse(o.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--broker %q is not a URL like tcp://127.0.0.1:1883", redactURL(o.Broker))
	}
	if o.Gongdan != "" {
		if u, err := url.Parse(o.Gongdan); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("--gongdan %q is not a URL like http://127.0.0.1:8080", o.Gongdan)
		}
	}
	return nil
}

// serialSpace bounds the number in a serial: E2026 and 7 digits.
const serialSpace = 10_000_000

// deviceSerial is the serial of device number n, like E20260012345.
func deviceSerial(n int) string { return fmt.Sprintf("E2026%07d", n) }

// topicFilter turns the topic template into the filter a subscriber of every device uses.
// {device} must be a whole level, so that the gateway can take the id from it (topic[N]).
func topicFilter(topic string) (string, error) {
	levels := strings.Split(topic, "/")
	n := 0
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") {
			return "", fmt.Errorf("--topic %q: a topic to publish on has no wildcards", topic)
		}
		if strings.Contains(l, "{device}") {
			if l != "{device}" {
				return "", fmt.Errorf("--topic %q: {device} must be a whole level, like factory/{device}/telemetry", topic)
			}
			levels[i] = "+"
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("--topic %q must have {device} as exactly one level, like factory/{device}/telemetry", topic)
	}
	return strings.Join(levels, "/"), nil
}

// device is one simulated device. Each belongs to one publisher, which alone writes it
// while the run lasts.
type device struct {
	serial    string
	topic     string
	breaching bool
	// onset is when, after the start, the device starts to overheat; from its first message
	// after that its temperature stays above 85.
	onset                 time.Duration
	temp, humidity, volts float64 // its own normal values
	seq                   int64
	firstBreach           time.Time // when its first breaching message was published
}

const (
	breachAbove = 85.0 // the rule the gateway is configured with: temp > 85
	normalLow   = 40.0 // normal devices stay within [normalLow, normalHigh]
	normalHigh  = 70.0
)

// payload is the device's next message at now.
func (d *device) payload(now time.Time, sinceStart time.Duration, rng *mrand.Rand) []byte {
	d.seq++
	var temp float64
	if d.breaching && sinceStart >= d.onset {
		temp = max(breachAbove+1, 91+rng.NormFloat64()*2)
		if d.firstBreach.IsZero() {
			d.firstBreach = now
		}
	} else {
		temp = min(normalHigh, max(normalLow, d.temp+rng.NormFloat64()*1.5))
	}
	humidity := min(95, max(10, d.humidity+rng.NormFloat64()*2))
	volts := d.volts + rng.NormFloat64()*0.8
	b := make([]byte, 0, 96)
	b = append(b, `{"temp":`...)
	b = strconv.AppendFloat(b, temp, 'f', 1, 64)
	b = append(b, `,"humidity":`...)
	b = strconv.AppendFloat(b, humidity, 'f', 1, 64)
	b = append(b, `,"voltage":`...)
	b = strconv.AppendFloat(b, volts, 'f', 1, 64)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, d.seq, 10)
	return append(b, '}')
}

// newDevices makes the devices. The breaching ones are spread evenly over the device
// numbers (and so over the publishers), and their onsets evenly over onsetWindow, so that
// tickets arrive one by one through the run rather than in one burst.
func newDevices(o MQTTOptions, first int, onsetWindow time.Duration) []*device {
	rng := mrand.New(mrand.NewPCG(uint64(first), 2026))
	breaching := int(math.Round(float64(o.Devices) * o.BreachRatio))
	devs := make([]*device, o.Devices)
	k := 0
	for i := range devs {
		serial := deviceSerial(first + i)
		d := &device{
			serial:   serial,
			topic:    strings.Replace(o.Topic, "{device}", serial, 1),
			temp:     45 + 20*rng.Float64(),
			humidity: 35 + 30*rng.Float64(),
			volts:    224 + 8*rng.Float64(),
		}
		// Device i breaches when the k-th of `breaching` evenly spaced marks falls on it.
		if (i+1)*breaching/o.Devices > i*breaching/o.Devices {
			d.breaching = true
			d.onset = time.Duration((float64(k) + 0.5) / float64(breaching) * float64(onsetWindow))
			k++
		}
		devs[i] = d
	}
	return devs
}

// latencyHistogram counts durations in buckets 1 µs wide below 128 µs and 1/64 of a power of
// two wide above (under 1 % error), so that a run of any length takes the same memory.
type latencyHistogram struct {
	counts []uint64
	n      uint64
	max    time.Duration
}

func histogramBucket(d time.Duration) int {
	us := uint64(max(d, 0) / time.Microsecond)
	if us < 128 {
		return int(us)
	}
	shift := bits.Len64(us) - 7 // us>>shift is in [64, 128)
	return 128 + (shift-1)*64 + int(us>>shift) - 64
}

// histogramValue is the middle of bucket i.
func histogramValue(i int) time.Duration {
	if i < 128 {
		return time.Duration(i) * time.Microsecond
	}
	shift := (i-128)/64 + 1
	low := uint64((i-128)%64+64) << shift
	return time.Duration(low+(uint64(1)<<shift)/2) * time.Microsecond
}

func (h *latencyHistogram) record(d time.Duration) {
	i := histogramBucket(d)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
}

func (h *latencyHistogram) merge(o *latencyHistogram) {
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// percentile is the duration below which a share p of the recorded ones fall, by the same
// rank as the exact percentiles of bench intake.
func (h *latencyHistogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(h.n-1, uint64(p*float64(h.n)))
	if rank == h.n-1 {
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return min(histogramValue(i), h.max)
		}
	}
	return h.max
}

// publisher is one MQTT client publishing its share of the devices.
type publisher struct {
	id      int
	session publishSession
	devices []*device
	lost    atomic.Pointer[error] // the connection was lost: stop

	// Written by its goroutines while it runs, read after.
	published, acked int64
	errors           int64
	firstError       string
	firstPublish     time.Time
	lastPublish      time.Time
	lastAck          time.Time
	puback           latencyHistogram
}

// publishSession is one publisher's connection to the broker, as publisher.run drives
// it: from that one goroutine, reserve a slot in the in-flight window, then publish into it
// (or release it), as often as the pacing wants, then finish once. A goroutine of its own
// counts the acknowledgements into the publisher (acked, lastAck, puback); finish
// returns only after it has stopped and has counted what was never acknowledged as errors, so
// that the counters may be read after run. close, deferred by whoever connected it, is safe
// after finish and frees the connection when run never ran.
type publishSession interface {
	// reserve waits for a free slot in the in-flight window; false: stop publishing (ctx is
	// done, the connection failed, or no acknowledgement came within ackTimeout).
	reserve(ctx context.Context) bool
	// release gives back a slot that reserve gave and publish did not use.
	release()
	// publish sends one message in the slot reserve gave; sent is when, for the latency.
	publish(topic string, payload []byte, sent time.Time)
	// wait returns at until, or earlier when ctx is done: nothing is due before then.
	wait(ctx context.Context, until time.Time)
	// finish waits up to ackTimeout for the outstanding acknowledgements.
	finish()
	close()
}

// PublisherKind is the MQTT client that publishes the load.
type PublisherKind string

const (
	// PublisherRaw writes MQTT 3.1.1 packets by hand on a plain TCP connection (rawSession): a
	// few µs of CPU a message, so that the load generator leaves the machine's cores to the
	// broker and the gateway under test. tcp:// brokers and QoS 1 only.
	PublisherRaw PublisherKind = "raw"
	// PublisherPaho is the Eclipse paho client, as a gateway would use it: 20–30 µs a
	// message, and any broker URL and QoS.
	PublisherPaho PublisherKind = "paho"
)

func (e *PublisherKind) String() string { return string(*e) }

func (e *PublisherKind) Set(s string) error {
	switch PublisherKind(s) {
	case PublisherRaw, PublisherPaho:
		*e = PublisherKind(s)
		return nil
	}
	return fmt.Errorf("%q is neither raw nor paho", s)
}

// RawUnsupported says why the raw publisher cannot do what o asks ("" when it can).
func (o MQTTOptions) RawUnsupported() string {
	u, err := url.Parse(o.Broker)
	switch {
	case err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt"):
		return "it speaks plain tcp:// only"
	case o.QoS != 1:
		return fmt.Sprintf("it publishes at QoS 1 only, not %d", o.QoS)
	}
	return ""
}

// ackTimeout bounds the wait for one PUBACK.
const ackTimeout = 30 * time.Second

// run publishes until end, until it has published quota messages (-1: no limit) or ctx is
// done, then waits for the last acknowledgements.
func (p *publisher) run(ctx context.Context, o MQTTOptions, start, end time.Time, quota int64) {
	rng := mrand.New(mrand.NewPCG(uint64(start.UnixNano()), uint64(p.id)))
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Publishers) / o.Rate)
	}
	// The publishers start staggered within one interval, so that paced messages do not
	// leave in bursts of o.Publishers.
	offset := interval * time.Duration(p.id) / time.Duration(o.Publishers)
	s := p.session
	for i := 0; ; i++ {
		if ctx.Err() != nil || p.lost.Load() != nil {
			break
		}
		if interval > 0 {
			due := start.Add(offset + time.Duration(i)*interval)
			if !due.Before(end) {
				break
			}
			s.wait(ctx, due)
			if ctx.Err() != nil {
				break
			}
		}
		if quota >= 0 && p.published >= quota {
			break
		}
		if !s.reserve(ctx) {
			break
		}
		now := time.Now()
		if !now.Before(end) {
			s.release()
			break
		}
		d := p.devices[i%len(p.devices)]
		s.publish(d.topic, d.payload(now, now.Sub(start), rng), now)
		if p.published == 0 {
			p.firstPublish = now
		}
		p.published++
		p.lastPublish = now
	}
	s.finish()
}

// quota is the publisher's share of --messages (-1: no limit). Each has its own, rather than
// all taking from one budget, so that a publisher that gets going first does not send all of
// it and leave the devices of the others silent.
func (p *publisher) quota(o MQTTOptions) int64 {
	if o.Messages == 0 {
		return -1
	}
	q := o.Messages / int64(o.Publishers)
	if int64(p.id) < o.Messages%int64(o.Publishers) {
		q++
	}
	return q
}

func (p *publisher) fail(err error) {
	p.errors++
	if p.firstError == "" {
		p.firstError = fmt.Sprintf("publisher %d: %v", p.id, err)
	}
}

// sleepUntil returns at until or when ctx is done, whichever is first. timer is the caller's,
// reused.
func sleepUntil(ctx context.Context, until time.Time, timer *time.Timer) {
	d := time.Until(until)
	if d <= 0 {
		return
	}
	timer.Reset(d)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
}

// pahoSession publishes with a paho client; a goroutine waits for each publish's token in
// order.
type pahoSession struct {
	p       *publisher
	client  paho.Client
	qos     byte
	sem     chan struct{} // a slot per publish in flight
	pending chan pendingPublish
	acks    chan struct{} // closed when every pending publish is done
	timer   *time.Timer
}

type pendingPublish struct {
	token paho.Token
	sent  time.Time
}

func newPahoSession(p *publisher, client paho.Client, o MQTTOptions) *pahoSession {
	s := &pahoSession{
		p: p, client: client, qos: o.QoS,
		sem: make(chan struct{}, o.Inflight), pending: make(chan pendingPublish, o.Inflight), acks: make(chan struct{}),
		timer: time.NewTimer(time.Hour),
	}
	s.timer.Stop()
	go s.await()
	return s
}

func (s *pahoSession) await() {
	p := s.p
	defer close(s.acks)
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	for pp := range s.pending {
		timer.Reset(time.Until(pp.sent.Add(ackTimeout)))
		var err error
		select {
		case <-pp.token.Done():
			err = pp.token.Error()
		case <-timer.C:
			err = fmt.Errorf("no PUBACK within %v", ackTimeout)
		}
		now := time.Now()
		if err != nil {
			p.fail(err)
		} else {
			p.acked++
			p.lastAck = now
			p.puback.record(now.Sub(pp.sent))
		}
		<-s.sem
	}
}

func (s *pahoSession) reserve(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *pahoSession) release() { <-s.sem }

func (s *pahoSession) publish(topic string, payload []byte, sent time.Time) {
	s.pending <- pendingPublish{s.client.Publish(topic, s.qos, false, payload), sent}
}

func (s *pahoSession) wait(ctx context.Context, until time.Time) { sleepUntil(ctx, until, s.timer) }

func (s *pahoSession) finish() {
	close(s.pending)
	<-s.acks
}

func (s *pahoSession) close() { s.client.Disconnect(250) }

// newRunID tells this run's MQTT clients from those of other runs on the same broker.
func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (o MQTTOptions) clientOptions(clientID string) *paho.ClientOptions {
	opts := paho.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(clientID).
		SetCleanSession(true).
		SetAutoReconnect(false). // a lost client ends its part of the run and is reported
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second) // and no write timeout: paho would set two deadlines per message
	if u, err := url.Parse(o.Broker); err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt") {
		opts.SetCustomOpenConnectionFn(dialBuffered)
	}
	if o.Username != "" {
		opts.SetUsername(o.Username)
	}
	if o.Password != "" {
		opts.SetPassword(o.Password)
	}
	return opts
}

// dialBuffered dials a plain tcp:// broker for paho through a bufconn: paho would otherwise
// spend a system call on each packet it writes and on each header byte it reads.
func dialBuffered(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: o.ConnectTimeout}).Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return bufconn.New(conn), nil
}

// connect connects a client and says, when it cannot, what to check.
func (o MQTTOptions) connect(opts *paho.ClientOptions) (paho.Client, error) {
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("bench mqtt: broker %s did not answer CONNECT within 15s; is it running and reachable?", redactURL(o.Broker))
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("bench mqtt: broker %s: connect: %v; is the broker running, and are --username/--password right?", redactURL(o.Broker), err)
	}
	return c, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// baselineSubscriber is the plain subscriber of --baseline. It tells duplicates from new
// messages by each device's seq, so that lost is what never arrived.
type baselineSubscriber struct {
	level   int            // the topic level that holds the serial
	devices map[string]int // serial → index; read only

	mu         sync.Mutex
	received   int64 // distinct messages of this run
	duplicates int64
	foreign    int64      // messages of other publishers on the same topics
	seen       [][]uint64 // per device, a bit per seq
	last       time.Time  // when the last message of this run came
	lostErr    error
}

func (s *baselineSubscriber) handle(_ paho.Client, m paho.Message) {
	now := time.Now()
	d, ok := s.devices[topicLevel(m.Topic(), s.level)]
	seq, seqOK := payloadSeq(m.Payload())
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || !seqOK {
		s.foreign++
		return
	}
	word, bit := seq/64, uint64(1)<<(seq%64)
	if word >= len(s.seen[d]) {
		s.seen[d] = append(s.seen[d], make([]uint64, word+1-len(s.seen[d]))...)
	}
	if s.seen[d][word]&bit != 0 {
		s.duplicates++
		return
	}
	s.seen[d][word] |= bit
	s.received++
	s.last = now
}

func (s *baselineSubscriber) snapshot() (unique, duplicates, foreign int64, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received, s.duplicates, s.foreign, s.last
}

// topicLevel is level n of topic ("" when there is none), without allocating.
func topicLevel(topic string, n int) string {
	for range n {
		i := strings.IndexByte(topic, '/')
		if i < 0 {
			return ""
		}
		topic = topic[i+1:]
	}
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		return topic[:i]
	}
	return topic
}

// payloadSeq finds "seq":N in a payload of this bench.
func payloadSeq(b []byte) (int, bool) {
	const key = `"seq":`
	at := bytes.Index(b, []byte(key))
	if at < 0 {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range b[at+len(key):] {
		if c < '0' || c > '9' || digits > 9 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}

// quietPeriod is how long the receiving side must not move before a drain counts as done.
const quietPeriod = 2 * time.Second

// RunMQTT runs the load and the measurement of the receiving side.
func RunMQTT(ctx context.Context, o MQTTOptions) (*MQTTReport, error) {
	o.Publishers = min(o.Publishers, o.Devices)
	var publisherNote string
	if why := o.RawUnsupported(); o.Publisher == PublisherRaw && why != "" {
		o.Publisher = PublisherPaho
		publisherNote = "paho rather than the raw publisher: " + why
	}
	first := o.FirstDevice
	if first < 0 {
		blocks := max(1, (serialSpace-1)/o.Devices)
		first = 1 + mrand.IntN(blocks)*o.Devices
		if first+o.Devices > serialSpace {
			first = 0
		}
	}
	expected := o.Duration
	if o.Messages > 0 {
		if o.Rate > 0 {
			expected = min(expected, time.Duration(float64(o.Messages)/o.Rate*float64(time.Second)))
		} else {
			expected = 0 // unknown, and likely short: breach from the first message
		}
	}
	devices := newDevices(o, first, expected/2)
	bySerial := make(map[string]int, len(devices))
	for i, d := range devices {
		bySerial[d.serial] = i
	}
	filter, _ := topicFilter(o.Topic)
	runID := newRunID()
	rep := &MQTTReport{
		Broker: redactURL(o.Broker), Topic: o.Topic, QoS: int(o.QoS),
		Devices: o.Devices, FirstDevice: devices[0].serial, LastDevice: devices[len(devices)-1].serial,
		Publishers: o.Publishers, Publisher: o.Publisher, PublisherNote: publisherNote,
		Inflight: o.Inflight, TargetRate: o.Rate, Duration: o.Duration.String(), Messages: o.Messages,
	}
	for _, d := range devices {
		if d.breaching {
			rep.BreachingDevices++
		}
	}

	// The receiving side first, so that nothing published is missed.
	var gw *gatewayWatch
	if o.Gongdan != "" {
		var err error
		if gw, err = startGatewayWatch(ctx, o, bySerial, devices); err != nil {
			return nil, err
		}
		defer gw.stop()
	}
	var sub *baselineSubscriber
	if o.Baseline {
		level := slices.Index(strings.Split(o.Topic, "/"), "{device}")
		sub = &baselineSubscriber{level: level, devices: bySerial, seen: make([][]uint64, len(devices))}
		// Handlers in order: this one never blocks, and no goroutine per message is cheaper.
		opts := o.clientOptions("gongdan-bench-" + runID + "-sub").SetOrderMatters(true).
			SetConnectionLostHandler(func(_ paho.Client, err error) {
				sub.mu.Lock()
				sub.lostErr = err
				sub.mu.Unlock()
			})
		c, err := o.connect(opts)
		if err != nil {
			return nil, err
		}
		defer c.Disconnect(250)
		tok := c.Subscribe(filter, o.QoS, sub.handle)
		if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			return nil, fmt.Errorf("bench mqtt: subscribe to %q at %s: %v", filter, redactURL(o.Broker), tok.Error())
		}
		if st, ok := tok.(*paho.SubscribeToken); ok {
			if q := st.Result()[filter]; q != o.QoS {
				return nil, fmt.Errorf("bench mqtt: broker %s granted QoS %d for %q (asked %d); does its ACL allow it?", redactURL(o.Broker), q, filter, o.QoS)
			}
		}
	}

	pubs := make([]*publisher, o.Publishers)
	for i := range pubs {
		p := &publisher{id: i}
		for j := i; j < len(devices); j += o.Publishers {
			p.devices = append(p.devices, devices[j])
		}
		clientID := fmt.Sprintf("gongdan-bench-%s-pub-%d", runID, i)
		if o.Publisher == PublisherRaw {
			s, err := dialRawSession(p, o, clientID)
			if err != nil {
				return nil, err
			}
			p.session = s
		} else {
			// Publish tokens are completed from the client's own goroutines; nothing here needs
			// acks in order.
			opts := o.clientOptions(clientID).SetOrderMatters(false).
				SetConnectionLostHandler(func(_ paho.Client, err error) { p.lost.Store(&err) })
			c, err := o.connect(opts)
			if err != nil {
				return nil, err
			}
			p.session = newPahoSession(p, c, o)
		}
		defer p.session.close()
		pubs[i] = p
	}

	cpuBefore := processCPU()
	var gatewayBefore connectorCounters
	if gw != nil {
		var err error
		if gatewayBefore, err = gw.scrape(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Go(func() { p.run(ctx, o, start, end, p.quota(o)) })
	}
	wg.Wait()
	published := time.Now()

	var puback latencyHistogram
	pr := &rep.Publish
	for _, p := range pubs {
		pr.Messages += p.published
		pr.Acked += p.acked
		pr.Errors += p.errors
		if p.firstError == "" {
			if err := p.lost.Load(); err != nil {
				p.firstError = fmt.Sprintf("publisher %d: connection lost: %v", p.id, *err)
			}
		}
		if pr.FirstError == "" {
			pr.FirstError = p.firstError
		}
		if p.published > 0 && (rep.start.IsZero() || p.firstPublish.Before(rep.start)) {
			rep.start = p.firstPublish
		}
		if p.lastAck.After(rep.lastAck) {
			rep.lastAck = p.lastAck
		}
		puback.merge(&p.puback)
	}
	if pr.Messages == 0 {
		return nil, fmt.Errorf("bench mqtt: nothing was published (%s)", orElse(pr.FirstError, "interrupted"))
	}
	if !rep.lastAck.IsZero() {
		pr.Seconds = rep.lastAck.Sub(rep.start).Seconds()
		if pr.Seconds > 0 {
			pr.Rate = float64(pr.Acked) / pr.Seconds
		}
	}
	pr.Puback = percentilesOf(&puback)
	for _, d := range devices {
		if !d.firstBreach.IsZero() {
			rep.BreachesPublished++
		}
	}

	deadline := published.Add(o.Drain)
	if sub != nil {
		rep.Baseline = drainBaseline(ctx, sub, pr.Messages, deadline, rep.start)
	}
	if gw != nil {
		g, err := gw.drain(ctx, gatewayBefore, pr.Messages, rep.BreachesPublished, deadline, rep.start)
		if err != nil {
			return nil, err
		}
		rep.Gateway = g
	}
	rep.CPUSeconds = (processCPU() - cpuBefore).Seconds()
	rep.CPUMicrosPerMessage = rep.CPUSeconds / float64(pr.Messages) * 1e6
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func orElse(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// drainBaseline waits until the subscriber has every message, receives nothing for
// quietPeriod, or deadline passes.
func drainBaseline(ctx context.Context, sub *baselineSubscriber, published int64, deadline, start time.Time) *BaselineReport {
	drainStart := time.Now()
	for {
		unique, _, _, last := sub.snapshot()
		now := time.Now()
		if unique >= published || now.After(deadline) || ctx.Err() != nil || now.Sub(later(last, drainStart)) > quietPeriod {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	unique, dups, foreign, last := sub.snapshot()
	b := &BaselineReport{Received: unique, Duplicates: dups, Foreign: foreign, Lost: published - unique}
	sub.mu.Lock()
	if sub.lostErr != nil {
		b.Error = "subscriber: connection lost: " + sub.lostErr.Error()
	}
	sub.mu.Unlock()
	if !last.IsZero() {
		b.Seconds = last.Sub(start).Seconds()
		if b.Seconds > 0 {
			b.Rate = float64(unique) / b.Seconds
		}
	}
	return b
}

var _ publishSession = (*pahoSession)(nil)
