package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

const benchMQTTUsage = `usage: gongdan bench mqtt [--broker URL] [--devices N] [--rate R] [--duration D] [--breach-ratio X]
                          [--gongdan URL --token T [--connector NAME] | --baseline] [--json] [...]

Publishes device telemetry to an MQTT broker ({"temp":…,"humidity":…,"voltage":…,"ts":<Unix ms>,
"seq":…} on --topic, one topic per device E2026…) from --publishers clients at --rate messages/s
in all (0: as fast as the broker acknowledges) for --duration, and reports the publish rate and
PUBACK latency. The publishers write MQTT 3.1.1 packets by hand on plain TCP connections
(--publisher raw: a few µs of CPU a message, so that the load generator leaves the cores to what
it measures; tcp:// and QoS 1); --publisher paho uses the Eclipse paho client instead, for
comparison and for other brokers and QoS levels. A --breach-ratio share of the devices goes
above 85 °C at some point in the first half of the run and stays there; the others stay around
40–70 °C.

Then, with --token (or --gongdan), it measures the gongdan under test: the delta of its
connector's counters on /metrics (waiting up to --drain for received to stop growing), the
gateway's throughput from the first publish to the last message received, and, following the
event stream, for each breaching device the time from its first breaching message to its ticket.
With --baseline it runs a plain QoS 1 subscriber on the topic filter in this process instead —
the broker alone — and reports what it received.

The password may come from GONGDAN_BENCH_MQTT_PASSWORD and the API token from
GONGDAN_BENCH_TOKEN; neither is ever printed.`

// benchMQTTOptions are the flags of gongdan bench mqtt.
type benchMQTTOptions struct {
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
	Publisher   publisherEngine
	Username    string
	Password    string // never printed
	Gongdan     string // base URL of the gongdan under test; empty: not measured
	Token       string // API token for its event stream; empty: tickets not followed
	Connector   string // the connector's name in gongdan's /metrics
	Drain       time.Duration
	Baseline    bool // measure a plain subscriber instead of gongdan
	JSON        bool
}

// benchMQTTCmd is `gongdan bench mqtt`.
func benchMQTTCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench mqtt", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, benchMQTTUsage); fs.PrintDefaults() }
	var o benchMQTTOptions
	fs.StringVar(&o.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.StringVar(&o.Topic, "topic", "factory/{device}/telemetry", "topic of a device's telemetry; {device} is replaced by its serial")
	qos := fs.Int("qos", 1, "QoS of the publishes (and of the baseline subscription)")
	fs.IntVar(&o.Devices, "devices", 10000, "devices to simulate")
	fs.IntVar(&o.FirstDevice, "first-device", -1, "number in the first device's serial (E2026 + 7 digits); -1: a random block, so that runs against the same gongdan do not share devices")
	fs.Float64Var(&o.Rate, "rate", 1000, "messages/s in all, paced; 0 = as fast as the broker acknowledges")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to publish")
	fs.Int64Var(&o.Messages, "messages", 0, "stop after this many messages in all (0: when --duration is over)")
	fs.Float64Var(&o.BreachRatio, "breach-ratio", 0.01, "share of the devices whose temperature goes above 85 and stays there")
	fs.IntVar(&o.Publishers, "publishers", 4, "MQTT clients publishing in parallel; the devices are split among them")
	fs.IntVar(&o.Inflight, "inflight", 256, "unacknowledged publishes per publisher")
	o.Publisher = publisherRaw
	fs.Var(&o.Publisher, "publisher", "MQTT client that publishes: raw (hand-written MQTT 3.1.1 packets, a few µs of CPU a message; tcp:// and QoS 1, else paho is used) or paho (the Eclipse client, as a gateway would use; for comparison)")
	fs.StringVar(&o.Username, "username", "", "MQTT user name")
	// Secrets come from the environment after parsing, never as flag defaults: -h prints those.
	fs.StringVar(&o.Password, "password", "", "MQTT password (default $GONGDAN_BENCH_MQTT_PASSWORD)")
	gongdan := fs.String("gongdan", "http://127.0.0.1:8080", "base URL of the gongdan under test (measured with --token, or when given)")
	fs.StringVar(&o.Token, "token", "", "API token of a staff role, to follow gongdan's event stream; an admin token also reads /metrics of a gongdan on another host (default $GONGDAN_BENCH_TOKEN)")
	fs.StringVar(&o.Connector, "connector", "plant", "name of gongdan's MQTT connector, as on /metrics")
	fs.DurationVar(&o.Drain, "drain", 30*time.Second, "after publishing, wait at most this long for the receiving side to catch up")
	fs.BoolVar(&o.Baseline, "baseline", false, "measure a plain QoS 1 subscriber in this process (the broker alone) instead of gongdan")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (load generator and subscriber) to this file")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("bench mqtt: unexpected argument %q\n\n%s", fs.Arg(0), benchMQTTUsage)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["password"] {
		o.Password = os.Getenv("GONGDAN_BENCH_MQTT_PASSWORD")
	}
	if !given["token"] {
		o.Token = os.Getenv("GONGDAN_BENCH_TOKEN")
	}
	gongdanGiven := given["gongdan"]
	if !o.Baseline && (gongdanGiven || o.Token != "") {
		o.Gongdan = strings.TrimRight(*gongdan, "/")
	}
	if o.Baseline && gongdanGiven {
		return usageError("bench mqtt: --baseline measures the broker alone; leave out --gongdan\n\n%s", benchMQTTUsage)
	}
	if *qos < 0 || *qos > 2 {
		return usageError("bench mqtt: --qos must be 0, 1 or 2, got %d", *qos)
	}
	o.QoS = byte(*qos)
	if err := o.check(); err != nil {
		return usageError("bench mqtt: %v\n\n%s", err, benchMQTTUsage)
	}
	if why := o.rawUnsupported(); given["publisher"] && o.Publisher == publisherRaw && why != "" {
		return usageError("bench mqtt: --publisher raw: %s; use --publisher paho", why)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return userError(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// The first interrupt ends the publishing and reports what got through; a second one
	// kills, as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop)
	rep, err := runBenchMQTT(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.text())
	return err
}

func (o *benchMQTTOptions) check() error {
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

// benchDevice is one simulated device. Each belongs to one publisher, which alone writes it
// while the run lasts.
type benchDevice struct {
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
func (d *benchDevice) payload(now time.Time, sinceStart time.Duration, rng *mrand.Rand) []byte {
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

// newBenchDevices makes the devices. The breaching ones are spread evenly over the device
// numbers (and so over the publishers), and their onsets evenly over onsetWindow, so that
// tickets arrive one by one through the run rather than in one burst.
func newBenchDevices(o benchMQTTOptions, first int, onsetWindow time.Duration) []*benchDevice {
	rng := mrand.New(mrand.NewPCG(uint64(first), 2026))
	breaching := int(math.Round(float64(o.Devices) * o.BreachRatio))
	devs := make([]*benchDevice, o.Devices)
	k := 0
	for i := range devs {
		serial := deviceSerial(first + i)
		d := &benchDevice{
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

// benchPublisher is one MQTT client publishing its share of the devices.
type benchPublisher struct {
	id      int
	session publishSession
	devices []*benchDevice
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

// publishSession is one publisher's connection to the broker, as benchPublisher.run drives
// it: from that one goroutine, reserve a slot in the in-flight window, then publish into it
// (or release it), as often as the pacing wants, then finish once. A goroutine of its own
// counts the acknowledgements into the benchPublisher (acked, lastAck, puback); finish
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

// publisherEngine is the MQTT client that publishes the load.
type publisherEngine string

const (
	// publisherRaw writes MQTT 3.1.1 packets by hand on a plain TCP connection (rawSession): a
	// few µs of CPU a message, so that the load generator leaves the machine's cores to the
	// broker and the gateway under test. tcp:// brokers and QoS 1 only.
	publisherRaw publisherEngine = "raw"
	// publisherPaho is the Eclipse paho client, as a gateway would use it: 20–30 µs a
	// message, and any broker URL and QoS.
	publisherPaho publisherEngine = "paho"
)

func (e *publisherEngine) String() string { return string(*e) }

func (e *publisherEngine) Set(s string) error {
	switch publisherEngine(s) {
	case publisherRaw, publisherPaho:
		*e = publisherEngine(s)
		return nil
	}
	return fmt.Errorf("%q is neither raw nor paho", s)
}

// rawUnsupported says why the raw publisher cannot do what o asks ("" when it can).
func (o benchMQTTOptions) rawUnsupported() string {
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
func (p *benchPublisher) run(ctx context.Context, o benchMQTTOptions, start, end time.Time, quota int64) {
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
func (p *benchPublisher) quota(o benchMQTTOptions) int64 {
	if o.Messages == 0 {
		return -1
	}
	q := o.Messages / int64(o.Publishers)
	if int64(p.id) < o.Messages%int64(o.Publishers) {
		q++
	}
	return q
}

func (p *benchPublisher) fail(err error) {
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
	p       *benchPublisher
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

func newPahoSession(p *benchPublisher, client paho.Client, o benchMQTTOptions) *pahoSession {
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

// benchRunID tells this run's MQTT clients from those of other runs on the same broker.
func benchRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (o benchMQTTOptions) clientOptions(clientID string) *paho.ClientOptions {
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

// bufferedConn buffers both ways. paho reads each packet's fixed header a byte at a time and
// writes each packet with its own system call; on a bare connection those calls are most of
// what sending or receiving tens of thousands of messages a second costs — CPU this process
// would take from the broker and the gateway under test on the same machine. Reads go through
// a bufio.Reader; writes are queued and a flusher goroutine writes whatever has queued while
// its previous write was in the kernel, so nothing waits for a timer and, under load, one
// system call carries many packets.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    sync.Cond
	queued  []byte // written by paho, not yet to the connection
	spare   []byte
	err     error // the flusher's write error, returned to the next Write
	closing bool
	flushed chan struct{} // closed when the flusher has stopped
}

// maxQueuedWrites makes Write wait for the flusher beyond it.
const maxQueuedWrites = 256 << 10

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 32<<10), flushed: make(chan struct{})}
	c.cond.L = &c.mu
	go c.flush()
	return c
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *bufferedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queued) > maxQueuedWrites && c.err == nil && !c.closing {
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

func (c *bufferedConn) flush() {
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

// Close writes what is queued (paho closes right after its DISCONNECT), then closes.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.flushed:
	case <-time.After(time.Second): // a peer that reads nothing: the close below ends the write
	}
	return c.Conn.Close()
}

func dialBuffered(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: o.ConnectTimeout}).Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return newBufferedConn(conn), nil
}

// connect connects a client and says, when it cannot, what to check.
func (o benchMQTTOptions) connect(opts *paho.ClientOptions) (paho.Client, error) {
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		c.Disconnect(0)
		return nil, userError(fmt.Errorf("bench mqtt: broker %s did not answer CONNECT within 15s; is it running and reachable?", redactURL(o.Broker)))
	}
	if err := tok.Error(); err != nil {
		return nil, userError(fmt.Errorf("bench mqtt: broker %s: connect: %v; is the broker running, and are --username/--password right?", redactURL(o.Broker), err))
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

// runBenchMQTT runs the load and the measurement of the receiving side.
func runBenchMQTT(ctx context.Context, o benchMQTTOptions) (*benchMQTTReport, error) {
	o.Publishers = min(o.Publishers, o.Devices)
	var publisherNote string
	if why := o.rawUnsupported(); o.Publisher == publisherRaw && why != "" {
		o.Publisher = publisherPaho
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
	devices := newBenchDevices(o, first, expected/2)
	bySerial := make(map[string]int, len(devices))
	for i, d := range devices {
		bySerial[d.serial] = i
	}
	filter, _ := topicFilter(o.Topic)
	runID := benchRunID()
	rep := &benchMQTTReport{
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
			return nil, userError(fmt.Errorf("bench mqtt: subscribe to %q at %s: %v", filter, redactURL(o.Broker), tok.Error()))
		}
		if st, ok := tok.(*paho.SubscribeToken); ok {
			if q := st.Result()[filter]; q != o.QoS {
				return nil, userError(fmt.Errorf("bench mqtt: broker %s granted QoS %d for %q (asked %d); does its ACL allow it?", redactURL(o.Broker), q, filter, o.QoS))
			}
		}
	}

	pubs := make([]*benchPublisher, o.Publishers)
	for i := range pubs {
		p := &benchPublisher{id: i}
		for j := i; j < len(devices); j += o.Publishers {
			p.devices = append(p.devices, devices[j])
		}
		clientID := fmt.Sprintf("gongdan-bench-%s-pub-%d", runID, i)
		if o.Publisher == publisherRaw {
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
func drainBaseline(ctx context.Context, sub *baselineSubscriber, published int64, deadline, start time.Time) *baselineReport {
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
	b := &baselineReport{Received: unique, Duplicates: dups, Foreign: foreign, Lost: published - unique}
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

// connectorCounters are one connector's counters on gongdan's /metrics, whether it is
// receiving, and the process's CPU.
type connectorCounters struct {
	Received, Published, Rejected, DeadLettered int64
	Running, HasRunning                         bool
	CPUSeconds                                  float64
	HasCPU                                      bool
}

// parseConnectorMetrics reads the Prometheus text format for the one connector's counters.
// found lists the connectors seen, for the error when ours is not among them.
func parseConnectorMetrics(r io.Reader, connector string) (c connectorCounters, ok bool, found []string, err error) {
	const (
		messages = "gongdan_connector_messages_total{"
		running  = "gongdan_connector_running{"
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, isCPU := strings.CutPrefix(line, "process_cpu_seconds_total "); isCPU {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				c.CPUSeconds, c.HasCPU = f, true
			}
			continue
		}
		rest, isMessages := strings.CutPrefix(line, messages)
		if !isMessages {
			if rest, isRunning := strings.CutPrefix(line, running); isRunning {
				labels, value, err := parseLabels(rest)
				if err == nil && labels["connector"] == connector {
					c.Running, c.HasRunning = strings.Fields(value)[0] == "1", true
				}
			}
			continue
		}
		labels, value, err := parseLabels(rest)
		if err != nil {
			return c, false, nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		if !slices.Contains(found, labels["connector"]) {
			found = append(found, labels["connector"])
		}
		if labels["connector"] != connector {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return c, false, nil, fmt.Errorf("metric line %q: value: %w", line, err)
		}
		ok = true
		switch labels["outcome"] {
		case "received":
			c.Received = int64(f)
		case "published":
			c.Published = int64(f)
		case "rejected":
			c.Rejected = int64(f)
		case "dead_lettered":
			c.DeadLettered = int64(f)
		}
	}
	return c, ok, found, sc.Err()
}

// parseLabels reads `a="x",b="y"} value` into the labels and what follows the brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, ", ")
		if v, done := strings.CutPrefix(s, "}"); done {
			v = strings.TrimSpace(v)
			if v == "" {
				return nil, "", errors.New("no value")
			}
			return labels, v, nil
		}
		eq := strings.Index(s, `="`)
		if eq < 0 {
			return nil, "", errors.New("malformed labels")
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i == len(s) {
			return nil, "", errors.New("unterminated label value")
		}
		labels[key] = val.String()
		s = s[i+1:]
	}
}

// gatewayWatch follows the gongdan under test: its /metrics and its event stream.
type gatewayWatch struct {
	o            benchMQTTOptions
	client       *http.Client // for /metrics
	streamClient *http.Client // for the event stream, which has no end
	devices      []*benchDevice
	serials      map[string]int
	cancel       context.CancelFunc
	done         chan struct{}

	mu         sync.Mutex
	created    map[int]ticketSeen // the first ticket of each of our devices
	merged     int                // breaching devices whose draft went into an open ticket
	mergedDev  map[int]bool
	lastTicket time.Time
	streamErr  string
}

type ticketSeen struct {
	at   time.Time // the creation event's time, on gongdan's clock
	seen time.Time // when it arrived on the stream, on ours
}

// startGatewayWatch checks that the gongdan under test has the connector and, with a token,
// opens its event stream; it returns once the stream is open.
func startGatewayWatch(ctx context.Context, o benchMQTTOptions, serials map[string]int, devices []*benchDevice) (*gatewayWatch, error) {
	g := &gatewayWatch{
		o: o, client: &http.Client{Timeout: 10 * time.Second}, streamClient: &http.Client{}, devices: devices, serials: serials,
		created: map[int]ticketSeen{}, mergedDev: map[int]bool{}, done: make(chan struct{}),
	}
	if _, err := g.scrape(ctx); err != nil {
		return nil, err
	}
	if o.Token == "" {
		close(g.done)
		g.cancel = func() {}
		return g, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	g.cancel = cancel
	opened := make(chan error, 1)
	go g.follow(sctx, opened)
	select {
	case err := <-opened:
		if err != nil {
			cancel()
			<-g.done
			return nil, err
		}
	case <-time.After(15 * time.Second):
		cancel()
		<-g.done
		return nil, userError(fmt.Errorf("bench mqtt: %s/api/v1/stream did not open within 15s", o.Gongdan))
	}
	return g, nil
}

func (g *gatewayWatch) stop() {
	g.cancel()
	<-g.done
}

// scrape reads the connector's counters. A gongdan without the connector is a user error.
func (g *gatewayWatch) scrape(ctx context.Context) (connectorCounters, error) {
	get := func(token string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.Gongdan+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/plain")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return g.client.Do(req)
	}
	resp, err := get("")
	if err == nil && resp.StatusCode == http.StatusUnauthorized && g.o.Token != "" {
		// Beyond the server's own host /metrics wants the metrics token or an admin's; on
		// it, none (a staff token of another role would be refused).
		resp.Body.Close()
		resp, err = get(g.o.Token)
	}
	if err != nil {
		return connectorCounters{}, userError(fmt.Errorf("bench mqtt: gongdan at %s: %v; is `gongdan serve` running there?", g.o.Gongdan, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return connectorCounters{}, userError(fmt.Errorf("bench mqtt: %s/metrics answered %s", g.o.Gongdan, resp.Status))
	}
	c, ok, found, err := parseConnectorMetrics(resp.Body, g.o.Connector)
	if err != nil {
		return c, fmt.Errorf("bench mqtt: %s/metrics: %w", g.o.Gongdan, err)
	}
	if !ok {
		return c, userError(fmt.Errorf("bench mqtt: gongdan at %s has no connector %q on /metrics (it has: %s); set --connector to the name of its MQTT connector",
			g.o.Gongdan, g.o.Connector, orElse(strings.Join(found, ", "), "none")))
	}
	return c, nil
}

// follow reads the event stream until ctx is done, reconnecting with Last-Event-ID when it
// drops (gongdan cuts off a client that falls behind). It reports on opened whether the
// first connection worked.
func (g *gatewayWatch) follow(ctx context.Context, opened chan<- error) {
	defer close(g.done)
	var lastID string
	first := true
	for ctx.Err() == nil {
		err := g.stream(ctx, &lastID, func() {
			if first {
				first = false
				opened <- nil
			}
		})
		if first {
			opened <- err
			return
		}
		if ctx.Err() != nil {
			return
		}
		g.mu.Lock()
		g.streamErr = err.Error()
		g.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (g *gatewayWatch) stream(ctx context.Context, lastID *string, open func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.Gongdan+"/api/v1/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.o.Token)
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := g.streamClient.Do(req)
	if err != nil {
		return userError(fmt.Errorf("bench mqtt: %s/api/v1/stream: %v", g.o.Gongdan, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return userError(fmt.Errorf("bench mqtt: %s/api/v1/stream answered %s; --token must be a token of a staff role in server.tokens", g.o.Gongdan, resp.Status))
	case resp.StatusCode != http.StatusOK:
		return userError(fmt.Errorf("bench mqtt: %s/api/v1/stream answered %s", g.o.Gongdan, resp.Status))
	}
	open()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var data []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long event: gather it whole.
			rest, err2 := r.ReadBytes('\n')
			line, err = append(slices.Clone(line), rest...), err2
		}
		if err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				g.event(data, time.Now())
				data = data[:0]
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		case bytes.HasPrefix(line, []byte("id:")):
			*lastID = string(bytes.TrimSpace(line[3:]))
		}
	}
}

// event takes one ticket event: a creation for one of our devices is a ticket seen.
func (g *gatewayWatch) event(data []byte, seen time.Time) {
	var ev struct {
		Action string          `json:"action"`
		At     time.Time       `json:"at"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	type draft struct {
		Device    struct{ ID string } `json:"device"`
		ThreadKey string              `json:"thread_key"`
	}
	var d draft
	switch ev.Action {
	case "create":
		var cd struct {
			Draft draft `json:"draft"`
		}
		if json.Unmarshal(ev.Data, &cd) != nil {
			return
		}
		d = cd.Draft
	case "source_added":
		if json.Unmarshal(ev.Data, &d) != nil {
			return
		}
	default:
		return
	}
	id := d.Device.ID
	if id == "" {
		// <connector>/device:<id>:<rule>
		_, key, _ := strings.Cut(d.ThreadKey, "/")
		if rest, ok := strings.CutPrefix(key, "device:"); ok {
			id, _, _ = strings.Cut(rest, ":")
		}
	}
	i, ours := g.serials[id]
	if !ours {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastTicket = seen
	if ev.Action == "source_added" {
		if !g.mergedDev[i] {
			g.mergedDev[i] = true
			g.merged++
		}
		return
	}
	if _, dup := g.created[i]; !dup {
		g.created[i] = ticketSeen{at: ev.At, seen: seen}
	}
}

// gatewayQuietPeriod is quietPeriod for a gongdan: longer, for it may be between two polls
// of a slow moment (a WAL checkpoint, a garbage collection) with the broker holding the rest.
const gatewayQuietPeriod = 5 * time.Second

// drain waits until the connector has received every message published (or, while it is
// running, stops receiving for gatewayQuietPeriod: a connector that is reconnecting gets the
// messages the broker kept for it after) and every breaching device has its ticket (or no
// ticket came for gatewayQuietPeriod), at most until deadline, and makes the gateway's part
// of the report.
func (g *gatewayWatch) drain(ctx context.Context, before connectorCounters, published int64, breaches int, deadline, start time.Time) (*gatewayReport, error) {
	last := before
	lastGrowth := time.Now() // when received last grew, as far as the polls tell
	var lastReceivedAt time.Time
	for {
		// Read even after an interrupt, so that the report shows what got through.
		c, err := g.scrape(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if c.Received != last.Received {
			lastGrowth, lastReceivedAt = now, now
		}
		last = c
		g.mu.Lock()
		tickets, lastTicket := len(g.created)+g.merged, g.lastTicket
		g.mu.Unlock()
		received := c.Received - before.Received
		running := c.Running || !c.HasRunning
		receivedDone := received >= published || (running && now.Sub(lastGrowth) > gatewayQuietPeriod)
		ticketsDone := g.o.Token == "" || tickets >= breaches ||
			now.Sub(later(lastTicket, lastGrowth)) > gatewayQuietPeriod
		if (receivedDone && ticketsDone) || now.After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := &gatewayReport{
		URL: g.o.Gongdan, Connector: g.o.Connector,
		Received:     last.Received - before.Received,
		Published:    last.Published - before.Published,
		Rejected:     last.Rejected - before.Rejected,
		DeadLettered: last.DeadLettered - before.DeadLettered,
	}
	r.Missing = published - r.Received
	r.NotRunning = last.HasRunning && !last.Running
	if !lastReceivedAt.IsZero() {
		r.Seconds = lastReceivedAt.Sub(start).Seconds()
		if r.Seconds > 0 {
			r.Rate = float64(r.Received) / r.Seconds
		}
	}
	if last.HasCPU && before.HasCPU {
		r.CPUSeconds = last.CPUSeconds - before.CPUSeconds
		if r.Received > 0 {
			r.CPUMicrosPerMessage = r.CPUSeconds / float64(r.Received) * 1e6
		}
	}
	if g.o.Token == "" {
		return r, nil
	}
	t := &ticketReport{BreachingDevices: breaches, Merged: g.merged}
	g.mu.Lock()
	defer g.mu.Unlock()
	t.StreamError = g.streamErr
	var created, seen []time.Duration
	for i, ts := range g.created {
		d := g.devices[i]
		if !d.breaching {
			t.Unexpected++
			continue
		}
		if d.firstBreach.IsZero() {
			t.Unexpected++ // its ticket came before it breached here: not this run's
			continue
		}
		t.Created++
		created = append(created, ts.at.Sub(d.firstBreach))
		seen = append(seen, ts.seen.Sub(d.firstBreach))
	}
	t.Missing = breaches - t.Created - t.Merged
	t.BreachToCreated = exactPercentiles(created)
	t.BreachToStream = exactPercentiles(seen)
	r.Tickets = t
	return r, nil
}

// percentiles are in milliseconds.
type percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func percentilesOf(h *latencyHistogram) percentiles {
	return percentiles{Count: int64(h.n), P50: ms(h.percentile(0.50)), P90: ms(h.percentile(0.90)), P99: ms(h.percentile(0.99)), Max: ms(h.max)}
}

func exactPercentiles(lat []time.Duration) percentiles {
	if len(lat) == 0 {
		return percentiles{}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	return percentiles{Count: int64(len(lat)), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: ms(lat[len(lat)-1])}
}

// benchMQTTReport is what one run found; --json prints it as it is.
type benchMQTTReport struct {
	Broker            string  `json:"broker"`
	Topic             string  `json:"topic"`
	QoS               int     `json:"qos"`
	Devices           int     `json:"devices"`
	FirstDevice       string  `json:"first_device"`
	LastDevice        string  `json:"last_device"`
	BreachingDevices  int     `json:"breaching_devices"`
	BreachesPublished int     `json:"breaches_published"` // breaching devices that sent a breaching message
	Publishers        int     `json:"publishers"`
	Inflight          int     `json:"inflight_per_publisher"`
	TargetRate        float64 `json:"target_rate"` // messages/s; 0: as fast as possible
	Duration          string  `json:"duration"`
	Messages          int64   `json:"messages_limit,omitempty"` // --messages
	Interrupted       bool    `json:"interrupted,omitempty"`
	// CPUSeconds is this process's CPU (user + system) from the first publish to the end of the
	// drain: the publishers' and, with --baseline, the subscriber's.
	CPUSeconds          float64 `json:"bench_cpu_seconds"`
	CPUMicrosPerMessage float64 `json:"bench_cpu_us_per_message"` // CPUSeconds per message published
	// Publisher is the client that published: raw (hand-written packets) or paho.
	Publisher     publisherEngine `json:"publisher"`
	PublisherNote string          `json:"publisher_note,omitempty"` // why not the one asked for

	Publish struct {
		Messages   int64       `json:"messages"` // handed to the client
		Acked      int64       `json:"acked"`    // acknowledged by the broker (PUBACK at QoS 1)
		Errors     int64       `json:"errors"`
		FirstError string      `json:"first_error,omitempty"`
		Seconds    float64     `json:"seconds"` // first publish to last acknowledgement
		Rate       float64     `json:"rate"`    // acked messages/s over Seconds
		Puback     percentiles `json:"puback"`
	} `json:"publish"`
	Baseline *baselineReport `json:"baseline,omitempty"`
	Gateway  *gatewayReport  `json:"gateway,omitempty"`

	start, lastAck time.Time
}

// baselineReport is what the plain subscriber of --baseline received.
type baselineReport struct {
	Received   int64   `json:"received"` // distinct messages
	Duplicates int64   `json:"duplicates"`
	Foreign    int64   `json:"foreign,omitempty"` // messages on the topics that this run did not publish
	Lost       int64   `json:"lost"`              // published − received
	Seconds    float64 `json:"seconds"`           // first publish to last message received
	Rate       float64 `json:"rate"`              // received/s over Seconds
	Error      string  `json:"error,omitempty"`
}

// gatewayReport is the gongdan under test's side: deltas of its connector's counters over the run.
type gatewayReport struct {
	URL                 string        `json:"url"`
	Connector           string        `json:"connector"`
	Received            int64         `json:"received"`
	Missing             int64         `json:"missing"`               // published − received
	NotRunning          bool          `json:"not_running,omitempty"` // the connector was not receiving at the end
	Seconds             float64       `json:"seconds"`               // first publish to last message received (by polls 100 ms apart)
	Rate                float64       `json:"rate"`                  // received/s over Seconds
	Published           int64         `json:"published"`
	Rejected            int64         `json:"rejected"`
	DeadLettered        int64         `json:"dead_lettered"`
	CPUSeconds          float64       `json:"cpu_seconds,omitempty"`
	CPUMicrosPerMessage float64       `json:"cpu_us_per_message,omitempty"`
	Tickets             *ticketReport `json:"tickets,omitempty"`
}

type ticketReport struct {
	BreachingDevices int         `json:"breaching_devices"` // that sent a breaching message
	Created          int         `json:"created"`           // tickets created for them
	Merged           int         `json:"merged"`            // drafts merged into open tickets instead (from an earlier run)
	Missing          int         `json:"missing"`
	Unexpected       int         `json:"unexpected"` // tickets for our devices that did not breach
	BreachToCreated  percentiles `json:"breach_to_created"`
	BreachToStream   percentiles `json:"breach_to_stream"`
	StreamError      string      `json:"stream_error,omitempty"`
}

func (r *benchMQTTReport) text() string {
	var b strings.Builder
	rate := "as fast as acknowledged"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("paced at %.0f messages/s", r.TargetRate)
	}
	length := "for " + r.Duration
	if r.Messages > 0 {
		length = fmt.Sprintf("%d messages within %s", r.Messages, r.Duration)
	}
	fmt.Fprintf(&b, "MQTT telemetry → %s (%s, QoS %d): %d devices %s…%s (%d breaching), %d publishers (publisher: %s), %s, %s\n",
		r.Broker, r.Topic, r.QoS, r.Devices, r.FirstDevice, r.LastDevice, r.BreachingDevices, r.Publishers, r.Publisher, rate, length)
	if r.PublisherNote != "" {
		fmt.Fprintf(&b, "  (%s)\n", r.PublisherNote)
	}
	if r.Interrupted {
		b.WriteString("  (interrupted)\n")
	}
	p := r.Publish
	fmt.Fprintf(&b, "  published %d messages, %d acknowledged in %.2fs (%.0f messages/s), %d errors\n",
		p.Messages, p.Acked, p.Seconds, p.Rate, p.Errors)
	if p.FirstError != "" {
		fmt.Fprintf(&b, "    first error: %s\n", p.FirstError)
	}
	ack := "PUBACK"
	if r.QoS == 0 {
		ack = "written (QoS 0)"
	}
	fmt.Fprintf(&b, "  publish → %s: p50 %s  p99 %s  max %s\n", ack, fmtMS(p.Puback.P50), fmtMS(p.Puback.P99), fmtMS(p.Puback.Max))
	who := "the publishers"
	if r.Baseline != nil {
		who = "the publishers and the subscriber"
	}
	fmt.Fprintf(&b, "  this process's CPU (user+system, from the first publish; %s): %.2fs, %.1f µs per message published\n",
		who, r.CPUSeconds, r.CPUMicrosPerMessage)
	if s := r.Baseline; s != nil {
		fmt.Fprintf(&b, "broker alone — a plain QoS %d subscriber in this process:\n", r.QoS)
		fmt.Fprintf(&b, "  received %d of %d published (%d lost, %d duplicates); the last %.2fs after the first publish: %.0f messages/s\n",
			s.Received, p.Messages, s.Lost, s.Duplicates, s.Seconds, s.Rate)
		if s.Foreign > 0 {
			fmt.Fprintf(&b, "  and %d messages of other publishers on the same topics (not counted)\n", s.Foreign)
		}
		if s.Error != "" {
			fmt.Fprintf(&b, "  %s\n", s.Error)
		}
	}
	if g := r.Gateway; g != nil {
		fmt.Fprintf(&b, "gongdan %s, connector %s (deltas of /metrics):\n", g.URL, g.Connector)
		fmt.Fprintf(&b, "  received %d of %d published (%d missing); the last %.2fs after the first publish: %.0f messages/s\n",
			g.Received, p.Messages, g.Missing, g.Seconds, g.Rate)
		if g.Received > p.Messages {
			b.WriteString("  received more than was published: other publishers on these topics, or a backlog the broker kept for the connector's persistent session while no gongdan was connected\n")
		}
		if g.NotRunning {
			b.WriteString("  the connector was not receiving at the end (gongdan_connector_running 0): see gongdan's log and GET /api/v1/connectors\n")
		}
		fmt.Fprintf(&b, "  published %d alarm transitions to the bus; rejected %d; dead-lettered %d\n", g.Published, g.Rejected, g.DeadLettered)
		if g.CPUSeconds > 0 {
			fmt.Fprintf(&b, "  gongdan's CPU: %.1fs, %.1f µs per message received\n", g.CPUSeconds, g.CPUMicrosPerMessage)
		}
		if t := g.Tickets; t == nil {
			b.WriteString("  tickets not followed (no --token)\n")
		} else {
			fmt.Fprintf(&b, "  tickets created for %d of %d devices that breached (%d missing, %d merged into open tickets, %d unexpected)\n",
				t.Created, t.BreachingDevices, t.Missing, t.Merged, t.Unexpected)
			if t.Merged > 0 {
				b.WriteString("    merged: those devices have open tickets from an earlier run; use new devices (--first-device) or a fresh gongdan\n")
			}
			for _, l := range []struct {
				what string
				p    percentiles
			}{{"created", t.BreachToCreated}, {"on the stream", t.BreachToStream}} {
				if l.p.Count > 0 {
					fmt.Fprintf(&b, "  first breaching message → ticket %s: p50 %s  p90 %s  p99 %s  max %s (%d tickets)\n",
						l.what, fmtMS(l.p.P50), fmtMS(l.p.P90), fmtMS(l.p.P99), fmtMS(l.p.Max), l.p.Count)
				}
			}
			if t.StreamError != "" {
				fmt.Fprintf(&b, "  the event stream dropped and was reopened (last: %s)\n", t.StreamError)
			}
		}
	}
	return b.String()
}

func fmtMS(v float64) string {
	return (time.Duration(v * float64(time.Millisecond))).Round(10 * time.Microsecond).String()
}

var _ publishSession = (*pahoSession)(nil)
