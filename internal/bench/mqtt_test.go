package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startMochi runs an embedded MQTT broker that lets anyone in, on a free loopback port.
func startMochi(t *testing.T) string { return startMochiWith(t, new(auth.AllowHook), nil) }

// startMochiWith runs an embedded MQTT broker with an auth hook and its config.
func startMochiWith(t *testing.T, authHook mqtt.Hook, config any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, srv.AddHook(authHook, config))
	// The listener is handed over open, so no other process can take the port in between.
	require.NoError(t, srv.AddListener(listeners.NewNet("t", ln)))
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + ln.Addr().String()
}

// mqttOptions are the defaults of gongdan bench mqtt with broker and what change sets.
func mqttOptions(broker string, change func(o *MQTTOptions)) MQTTOptions {
	o := DefaultMQTTOptions()
	o.Broker = broker
	change(&o)
	return o
}

// runMQTT runs the bench and reads its report back from JSON, as gongdan bench mqtt --json
// prints it.
func runMQTT(t *testing.T, o MQTTOptions) MQTTReport {
	t.Helper()
	require.NoError(t, o.Check())
	rep, err := RunMQTT(context.Background(), o)
	require.NoError(t, err)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back MQTTReport
	require.NoError(t, json.Unmarshal(b, &back), string(b))
	return back
}

// runMQTTError runs the bench and returns its error, which it must have.
func runMQTTError(t *testing.T, o MQTTOptions) error {
	t.Helper()
	require.NoError(t, o.Check())
	_, err := RunMQTT(context.Background(), o)
	require.Error(t, err)
	return err
}

var serialPattern = regexp.MustCompile(`^E2026\d{7}$`)

// checkBaseline asserts what every baseline run must show: everything published was
// acknowledged and received once, and the numbers agree with one another.
func checkBaseline(t *testing.T, rep MQTTReport, messages int64, devices int) {
	t.Helper()
	assert.Equal(t, devices, rep.Devices)
	assert.Regexp(t, serialPattern, rep.FirstDevice)
	assert.Regexp(t, serialPattern, rep.LastDevice)
	first, _ := strconv.Atoi(rep.FirstDevice[5:])
	last, _ := strconv.Atoi(rep.LastDevice[5:])
	assert.Equal(t, devices-1, last-first, "serials are consecutive")

	p := rep.Publish
	assert.Equal(t, messages, p.Messages)
	assert.Equal(t, messages, p.Acked)
	assert.Zero(t, p.Errors, p.FirstError)
	assert.Equal(t, messages, p.Puback.Count, "one PUBACK latency per message")
	assert.Positive(t, p.Seconds)
	assert.InDelta(t, float64(p.Acked)/p.Seconds, p.Rate, 1e-6*p.Rate)
	assert.LessOrEqual(t, p.Puback.P50, p.Puback.P99)
	assert.LessOrEqual(t, p.Puback.P99, p.Puback.Max)

	assert.GreaterOrEqual(t, rep.CPUSeconds, 0.0)
	assert.InDelta(t, rep.CPUSeconds/float64(p.Messages)*1e6, rep.CPUMicrosPerMessage, 1e-6)

	b := rep.Baseline
	require.NotNil(t, b)
	assert.Equal(t, messages, b.Received, "the subscriber received every message")
	assert.Zero(t, b.Lost)
	assert.Zero(t, b.Duplicates)
	assert.Empty(t, b.Error)
	assert.Positive(t, b.Seconds)
	assert.InDelta(t, float64(b.Received)/b.Seconds, b.Rate, 1e-6*b.Rate)
	assert.Nil(t, rep.Gateway)
}

// benchPublishers are the engines every publishing test runs with.
var benchPublishers = []PublisherKind{PublisherRaw, PublisherPaho}

func TestBenchMQTTBaseline(t *testing.T) {
	broker := startMochi(t)
	for _, engine := range benchPublishers {
		t.Run(string(engine), func(t *testing.T) { testBenchMQTTBaseline(t, broker, engine) })
	}
}

func testBenchMQTTBaseline(t *testing.T, broker string, engine PublisherKind) {
	bench := func(t *testing.T, o MQTTOptions) MQTTReport {
		t.Helper()
		o.Publisher = engine
		rep := runMQTT(t, o)
		assert.Equal(t, engine, rep.Publisher)
		assert.Empty(t, rep.PublisherNote)
		return rep
	}
	t.Run("as fast as possible", func(t *testing.T) {
		rep := bench(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.Duration = true, 50, 500, 0, 10*time.Second
		}))
		checkBaseline(t, rep, 500, 50)
		assert.Equal(t, 4, rep.Publishers)
		assert.Equal(t, 1, rep.BreachingDevices, "1 % of 50, rounded")
		assert.Equal(t, 1, rep.BreachesPublished, "with no known length the breach starts at once")
	})
	t.Run("paced", func(t *testing.T) {
		// Someone else publishes on the same topics meanwhile: not counted as received.
		other := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("other-" + newRunID()))
		require.True(t, other.Connect().WaitTimeout(5*time.Second))
		defer other.Disconnect(100)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(stop)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
					other.Publish("factory/X-1/telemetry", 1, false, `{"temp":50}`).Wait()
					other.Publish("factory/E20260004200/telemetry", 1, false, `{"temp":50}`).Wait() // one of ours, no seq
				}
			}
		})

		// 2,000/s for 500 messages: a quarter of a second. Only counts are asserted, no timing.
		rep := bench(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate = true, 50, 500, 2000
			o.Publishers, o.QoS, o.BreachRatio, o.FirstDevice = 3, 1, 0.1, 4200
		}))
		checkBaseline(t, rep, 500, 50)
		assert.Equal(t, "E20260004200", rep.FirstDevice)
		assert.Positive(t, rep.Baseline.Foreign)
		assert.Equal(t, 3, rep.Publishers)
		assert.Equal(t, 5, rep.BreachingDevices)
	})
	t.Run("text", func(t *testing.T) {
		rep := bench(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.Password, o.Username = true, 20, 100, 0, "s3cret-pass", "bench"
		}))
		out := rep.Text()
		assert.Contains(t, out, "(publisher: "+string(engine)+")")
		assert.Regexp(t, `this process's CPU \(.*\): [0-9.]+s, [0-9.]+ µs per message published`, out)
		assert.Contains(t, out, "published 100 messages, 100 acknowledged")
		assert.Contains(t, out, "received 100 of 100 published (0 lost, 0 duplicates)")
		assert.NotContains(t, out, "s3cret-pass")
	})
}

// With GONGDAN_TEST_MQTT set, the same against the Mosquitto on 127.0.0.1:1883.
func TestBenchMQTTSharedMosquitto(t *testing.T) {
	if os.Getenv("GONGDAN_TEST_MQTT") == "" {
		t.Skip("set GONGDAN_TEST_MQTT=1 to run against the Mosquitto on 127.0.0.1:1883")
	}
	for _, engine := range benchPublishers {
		t.Run(string(engine), func(t *testing.T) {
			// 500 messages stay within Mosquitto's default queue of 1000 for a subscriber.
			rep := runMQTT(t, mqttOptions("tcp://127.0.0.1:1883", func(o *MQTTOptions) {
				o.Baseline, o.Devices, o.Messages, o.Rate, o.Publisher = true, 50, 500, 0, engine
			}))
			checkBaseline(t, rep, 500, 50)
			assert.Equal(t, engine, rep.Publisher)
		})
	}
	t.Run("raw, paced", func(t *testing.T) {
		rep := runMQTT(t, mqttOptions("tcp://127.0.0.1:1883", func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Rate, o.Duration, o.Publishers = true, 20, 200, 1*time.Second, 2
		}))
		assert.Equal(t, PublisherRaw, rep.Publisher)
		assert.LessOrEqual(t, rep.Publish.Messages, int64(200))
		assert.GreaterOrEqual(t, rep.Publish.Messages, int64(150))
		checkBaseline(t, rep, rep.Publish.Messages, 20)
	})
}

// fakeGateway stands in for gongdan with an MQTT connector: it subscribes to the telemetry,
// counts it on /metrics as the connector would, and opens a ticket on the event stream for
// the first message of each device above 85.
type fakeGateway struct {
	token     string
	holdUntil time.Time // until then, the connector is "reconnecting": not running, counting nothing

	mu       sync.Mutex
	received int64
	held     []paho.Message
	alarmed  map[string]bool
	events   [][]byte
	changed  chan struct{}
}

func startFakeGateway(t *testing.T, broker, token string, hold time.Duration) *httptest.Server {
	t.Helper()
	f := &fakeGateway{token: token, holdUntil: time.Now().Add(hold), alarmed: map[string]bool{}, changed: make(chan struct{}), received: 1000}
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("fake-gongdan-" + newRunID()).SetCleanSession(true).SetAutoReconnect(false)
	c := paho.NewClient(opts)
	require.True(t, c.Connect().WaitTimeout(5*time.Second))
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe("factory/+/telemetry", 1, func(_ paho.Client, m paho.Message) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.held = append(f.held, m)
		f.take()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.take()
		received, published, running := f.received, int64(len(f.events)), !time.Now().Before(f.holdUntil)
		f.mu.Unlock()
		fmt.Fprintf(w, "# HELP gongdan_connector_messages_total Inputs by connector and outcome.\n# TYPE gongdan_connector_messages_total counter\n")
		fmt.Fprintf(w, "gongdan_connector_messages_total{connector=\"hooks\",outcome=\"received\",type=\"webhook\"} 7\n")
		for outcome, n := range map[string]int64{"received": received, "published": published + 3, "rejected": 2, "dead_lettered": 0} {
			fmt.Fprintf(w, "gongdan_connector_messages_total{connector=\"plant\",outcome=%q,type=\"mqtt\"} %d\n", outcome, n)
		}
		fmt.Fprintf(w, "gongdan_connector_running{connector=\"hooks\",type=\"webhook\"} 1\n")
		if running {
			fmt.Fprintf(w, "gongdan_connector_running{connector=\"plant\",type=\"mqtt\"} 1\n")
		} else {
			fmt.Fprintf(w, "gongdan_connector_running{connector=\"plant\",type=\"mqtt\"} 0\n")
		}
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", float64(received)/1000)
	})
	mux.HandleFunc("GET /api/v1/stream", f.stream)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// take processes the held messages once the hold is over; f.mu is held.
func (f *fakeGateway) take() {
	if time.Now().Before(f.holdUntil) {
		return
	}
	for _, m := range f.held {
		var tel struct{ Temp float64 }
		json.Unmarshal(m.Payload(), &tel)
		device := strings.Split(m.Topic(), "/")[1]
		f.received++
		if tel.Temp > 85 && !f.alarmed[device] {
			f.alarmed[device] = true
			id := len(f.events) + 1
			ev := fmt.Sprintf(`{"id":%d,"ticket_id":"GD-20261123-%06d","action":"create","at":%q,"data":{"draft":{"source":{"connector":"plant","type":"mqtt"},"device":{"id":%q},"thread_key":"plant/device:%s:overheat"}}}`,
				id, id, time.Now().Format(time.RFC3339Nano), device, device)
			f.events = append(f.events, []byte(ev))
			close(f.changed)
			f.changed = make(chan struct{})
		}
	}
	f.held = f.held[:0]
}

func (f *fakeGateway) stream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, ": gongdan ticket events\n\n")
	w.(http.Flusher).Flush()
	f.mu.Lock()
	next := len(f.events) // live only, as gongdan's stream without Last-Event-ID
	f.mu.Unlock()
	for {
		f.mu.Lock()
		evs, changed := f.events[next:], f.changed
		f.mu.Unlock()
		for _, ev := range evs {
			next++
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", next, ev)
		}
		w.(http.Flusher).Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

func TestBenchMQTTGateway(t *testing.T) {
	broker := startMochi(t)
	const token = "bench-token-0123456789abcdef"
	gw := startFakeGateway(t, broker, token, 0)

	// 60 devices at 2,000 messages/s for 600 messages: 10 each; the 6 breaching ones start to
	// overheat within the first half of it.
	rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
		o.Gongdan, o.Token, o.Devices, o.Messages, o.Rate, o.BreachRatio, o.Drain = gw.URL, token, 60, 600, 2000, 0.1, 10*time.Second
	}))
	assert.Equal(t, int64(600), rep.Publish.Acked)
	assert.Equal(t, 6, rep.BreachingDevices)
	assert.Equal(t, 6, rep.BreachesPublished)
	assert.Nil(t, rep.Baseline)
	g := rep.Gateway
	require.NotNil(t, g)
	assert.Equal(t, "plant", g.Connector)
	assert.Equal(t, int64(600), g.Received, "the delta, not the counter")
	assert.Zero(t, g.Missing)
	assert.Equal(t, int64(6), g.Published)
	assert.Zero(t, g.Rejected)
	assert.Positive(t, g.Seconds)
	assert.InDelta(t, float64(g.Received)/g.Seconds, g.Rate, 1e-6*g.Rate)
	assert.InDelta(t, 0.6, g.CPUSeconds, 1e-9)
	tk := g.Tickets
	require.NotNil(t, tk)
	assert.Equal(t, 6, tk.BreachingDevices)
	assert.Equal(t, 6, tk.Created)
	assert.Zero(t, tk.Missing)
	assert.Zero(t, tk.Merged)
	assert.Zero(t, tk.Unexpected)
	assert.Empty(t, tk.StreamError)
	for _, p := range []Percentiles{tk.BreachToCreated, tk.BreachToStream} {
		assert.Equal(t, int64(6), p.Count)
		assert.LessOrEqual(t, p.P50, p.P90)
		assert.LessOrEqual(t, p.P90, p.P99)
		assert.LessOrEqual(t, p.P99, p.Max)
		assert.GreaterOrEqual(t, p.P50, 0.0, "a ticket comes after its breach")
	}

	t.Run("connector reconnecting", func(t *testing.T) {
		// The connector counts nothing for longer than the bench's quiet period, but it is
		// not running: the bench waits for it, and then has every message and ticket.
		slow := startFakeGateway(t, broker, token, gatewayQuietPeriod+time.Second)
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Gongdan, o.Token, o.Devices, o.Messages, o.Rate, o.BreachRatio, o.Drain = slow.URL, token, 20, 200, 0, 0.1, 20*time.Second
		}))
		g := rep.Gateway
		require.NotNil(t, g)
		assert.Equal(t, int64(200), g.Received)
		assert.False(t, g.NotRunning)
		assert.Greater(t, g.Seconds, gatewayQuietPeriod.Seconds(), "the last message came after the hold")
		require.NotNil(t, g.Tickets)
		assert.Equal(t, 2, g.Tickets.Created)
	})
	t.Run("wrong connector", func(t *testing.T) {
		err := runMQTTError(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Gongdan, o.Token, o.Connector, o.Devices, o.Messages = gw.URL, token, "line3", 5, 5
		}))
		assert.Contains(t, err.Error(), `no connector "line3" on /metrics (it has: hooks, plant)`)
	})
	t.Run("wrong token", func(t *testing.T) {
		err := runMQTTError(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Gongdan, o.Token, o.Devices, o.Messages = gw.URL, "nope", 5, 5
		}))
		assert.Contains(t, err.Error(), "401")
		assert.NotContains(t, err.Error(), "nope")
	})
	t.Run("text without a token", func(t *testing.T) {
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Gongdan, o.Token, o.Devices, o.Messages, o.Rate = gw.URL, "", 10, 50, 0
		}))
		out := rep.Text()
		assert.Contains(t, out, "received 50 of 50 published (0 missing)")
		assert.Contains(t, out, "tickets not followed (no --token)")
	})
}

func TestBenchMQTTLatencyHistogram(t *testing.T) {
	var h latencyHistogram
	for us := 1; us <= 100_000; us++ {
		h.record(time.Duration(us) * time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := h.percentile(c.p)
		assert.InEpsilon(t, float64(c.want), float64(got), 0.01, "p%v: %v", c.p*100, got)
	}
	assert.Equal(t, 100*time.Millisecond, h.max)
	assert.Equal(t, 100*time.Millisecond, h.percentile(1))

	// Buckets are contiguous and each value falls in a bucket whose middle is within 1 %.
	prev := -1
	for us := uint64(0); us < 1<<22; us = us*17/16 + 1 {
		i := histogramBucket(time.Duration(us) * time.Microsecond)
		assert.GreaterOrEqual(t, i, prev)
		prev = i
		if us > 0 {
			mid := histogramValue(i)
			assert.InEpsilon(t, float64(us), float64(mid/time.Microsecond), 0.01, "%d µs", us)
		}
	}
	var merged latencyHistogram
	merged.merge(&h)
	merged.merge(&h)
	assert.Equal(t, 2*h.n, merged.n)
	assert.Equal(t, h.percentile(0.5), merged.percentile(0.5))
}

func TestBenchMQTTParseMetrics(t *testing.T) {
	const text = `# HELP gongdan_connector_messages_total Inputs.
# TYPE gongdan_connector_messages_total counter
gongdan_connector_messages_total{connector="plant",outcome="dead_lettered",type="mqtt"} 1
gongdan_connector_messages_total{connector="plant",outcome="published",type="mqtt"} 42
gongdan_connector_messages_total{connector="plant",outcome="received",type="mqtt"} 1.234567e+06
gongdan_connector_messages_total{connector="plant",outcome="rejected",type="mqtt"} 3
gongdan_connector_messages_total{connector="we\"ird",outcome="received",type="mqtt"} 9
gongdan_connector_running{connector="plant",type="mqtt"} 1
gongdan_connector_running{connector="we\"ird",type="mqtt"} 0
process_cpu_seconds_total 12.5
`
	c, ok, found, err := parseConnectorMetrics(strings.NewReader(text), "plant")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, connectorCounters{Received: 1234567, Published: 42, Rejected: 3, DeadLettered: 1, Running: true, HasRunning: true, CPUSeconds: 12.5, HasCPU: true}, c)
	assert.Equal(t, []string{"plant", `we"ird`}, found)
	_, ok, _, err = parseConnectorMetrics(strings.NewReader(text), "line3")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestBenchMQTTDevices(t *testing.T) {
	o := MQTTOptions{Devices: 200, BreachRatio: 0.05, Topic: "factory/{device}/telemetry"}
	devs := newDevices(o, 0, 10*time.Second)
	n := 0
	for i, d := range devs {
		assert.Equal(t, fmt.Sprintf("E2026%07d", i), d.serial)
		assert.Equal(t, "factory/"+d.serial+"/telemetry", d.topic)
		if d.breaching {
			n++
			assert.Less(t, d.onset, 10*time.Second)
		}
	}
	assert.Equal(t, 10, n)

	// Normal devices stay within 40–70; a breaching one above 85 from its onset, and its first
	// breaching message is remembered.
	rng := mrand.New(mrand.NewPCG(1, 2))
	now := time.Now()
	for _, d := range devs {
		for k := range 20 {
			since := time.Duration(k) * time.Second
			var m struct {
				Temp, Humidity, Voltage float64
				TS                      int64
				Seq                     int64
			}
			require.NoError(t, json.Unmarshal(d.payload(now.Add(since), since, rng), &m))
			assert.Equal(t, int64(k+1), m.Seq)
			assert.Equal(t, now.Add(since).UnixMilli(), m.TS)
			if d.breaching && since >= d.onset {
				assert.Greater(t, m.Temp, 85.0)
			} else {
				assert.GreaterOrEqual(t, m.Temp, 40.0)
				assert.LessOrEqual(t, m.Temp, 70.0)
			}
		}
		assert.Equal(t, d.breaching, !d.firstBreach.IsZero())
	}
}

// The raw publisher against mochi: paced, with a user name and password, refused, and where
// it cannot go.
func TestBenchMQTTRaw(t *testing.T) {
	broker := startMochi(t)
	t.Run("paced", func(t *testing.T) {
		// 400 messages/s for 1 s from 2 publishers: 200 each are due within the second, and
		// none more. Only counts are asserted, no timing.
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Rate, o.Duration, o.Publishers = true, 20, 400, 1*time.Second, 2
		}))
		assert.Equal(t, PublisherRaw, rep.Publisher)
		assert.LessOrEqual(t, rep.Publish.Messages, int64(400), "never above the rate")
		assert.GreaterOrEqual(t, rep.Publish.Messages, int64(300), "roughly the rate")
		checkBaseline(t, rep, rep.Publish.Messages, 20)
	})
	t.Run("paced, slow", func(t *testing.T) {
		// 20/s: each message leaves on its own as it is due, rather than waiting for the next.
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Rate, o.Messages, o.Publishers = true, 5, 20, 10, 1
		}))
		checkBaseline(t, rep, 10, 5)
	})
	t.Run("small window", func(t *testing.T) {
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.Inflight = true, 30, 600, 0, 1
		}))
		checkBaseline(t, rep, 600, 30)
		rep = runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.Inflight = true, 30, 600, 0, 3
		}))
		checkBaseline(t, rep, 600, 30)
	})
	t.Run("paho where raw cannot go", func(t *testing.T) {
		rep := runMQTT(t, mqttOptions(broker, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.QoS = true, 10, 50, 0, 0
		}))
		assert.Equal(t, PublisherPaho, rep.Publisher)
		assert.Contains(t, rep.PublisherNote, "QoS 1 only")
		assert.Equal(t, int64(50), rep.Publish.Messages)
	})

	locked := startMochiWith(t, new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: auth.AuthRules{
		{Username: "bench", Password: "right-pass-123", Allow: true},
	}}})
	t.Run("user name and password", func(t *testing.T) {
		rep := runMQTT(t, mqttOptions(locked, func(o *MQTTOptions) {
			o.Baseline, o.Devices, o.Messages, o.Rate, o.Username, o.Password = true, 10, 100, 0, "bench", "right-pass-123"
		}))
		assert.Equal(t, PublisherRaw, rep.Publisher)
		checkBaseline(t, rep, 100, 10)
	})
	t.Run("refused", func(t *testing.T) {
		// Without --baseline: the raw publisher is the first to connect.
		err := runMQTTError(t, mqttOptions(locked, func(o *MQTTOptions) {
			o.Devices, o.Messages, o.Username, o.Password = 5, 5, "bench", "wrong-pass-456"
		}))
		assert.Contains(t, err.Error(), "broker "+locked+" refused CONNECT: not authorized (CONNACK return code 5)")
		assert.Contains(t, err.Error(), "are --username/--password right")
		assert.NotContains(t, err.Error(), "wrong-pass-456")
	})
}

// mqttPacket is one packet as a broker reads it.
type mqttPacket struct {
	kind byte
	body []byte
}

// fakeRawBroker accepts one connection and hands over what the client sends, packet by
// packet; the test answers on conn.
type fakeRawBroker struct {
	ln      net.Listener
	conn    net.Conn
	packets chan mqttPacket // closed when the client has closed
}

func startFakeRawBroker(t *testing.T) *fakeRawBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return &fakeRawBroker{ln: ln, packets: make(chan mqttPacket, 100)}
}

// dial connects a raw session to the fake broker, checks its CONNECT and answers CONNACK.
func (f *fakeRawBroker) dial(t *testing.T, p *publisher, o MQTTOptions, wantConnect []byte) *rawSession {
	t.Helper()
	o.Broker = "tcp://" + f.ln.Addr().String()
	type dialed struct {
		s   *rawSession
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		s, err := dialRawSession(p, o, "cid-1")
		done <- dialed{s, err}
	}()
	conn, err := f.ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	f.conn = conn
	go func() {
		defer close(f.packets)
		r := bufio.NewReader(conn)
		for {
			kind, err := r.ReadByte()
			if err != nil {
				return
			}
			n, err := readRemainingLength(r)
			if err != nil {
				return
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			f.packets <- mqttPacket{kind, body}
		}
	}()
	connect := f.next(t)
	assert.Equal(t, wantConnect, append(appendRemainingLength([]byte{connect.kind}, len(connect.body)), connect.body...))
	f.write(t, 0x20, 2, 0, 0)
	d := <-done
	require.NoError(t, d.err)
	t.Cleanup(d.s.close)
	return d.s
}

func (f *fakeRawBroker) next(t *testing.T) mqttPacket {
	t.Helper()
	select {
	case pk, ok := <-f.packets:
		require.True(t, ok, "the client closed the connection")
		return pk
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no packet from the client")
		return mqttPacket{}
	}
}

func (f *fakeRawBroker) write(t *testing.T, b ...byte) {
	t.Helper()
	_, err := f.conn.Write(b)
	require.NoError(t, err)
}

// publishPacket is the body of a QoS 1 PUBLISH as the broker reads it.
func publishBody(topic string, id uint16, payload string) []byte {
	b := appendMQTTString(nil, topic)
	b = append(b, byte(id>>8), byte(id))
	return append(b, payload...)
}

// The packets on the wire, byte by byte: CONNECT, PUBLISH, PINGREQ, DISCONNECT; flushing when
// nothing more is due; packet ids that wrap and skip what is in flight; a PUBACK for an id not
// in flight.
func TestBenchMQTTRawProtocol(t *testing.T) {
	ctx := context.Background()
	t.Run("publish, ping, disconnect", func(t *testing.T) {
		f := startFakeRawBroker(t)
		p := &publisher{}
		s := f.dial(t, p, MQTTOptions{Inflight: 4, Username: "u", Password: "pw"}, []byte{
			0x10, 24, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 60, // protocol, level, user+password+clean, keep-alive 60 s
			0, 5, 'c', 'i', 'd', '-', '1', 0, 1, 'u', 0, 2, 'p', 'w',
		})
		require.True(t, s.reserve(ctx))
		s.publish("factory/E1/telemetry", []byte(`{"seq":1}`), time.Now())
		p.published++
		// Nothing more is due for an hour: the message leaves now.
		waitCtx, cancel := context.WithCancel(ctx)
		waited := make(chan struct{})
		go func() { s.wait(waitCtx, time.Now().Add(time.Hour)); close(waited) }()
		pk := f.next(t)
		cancel()
		<-waited
		assert.Equal(t, byte(0x32), pk.kind)
		assert.Equal(t, publishBody("factory/E1/telemetry", 1, `{"seq":1}`), pk.body)
		f.write(t, 0x40, 2, 0, 1)

		// Idle for longer than the ping interval: PINGREQ, answered.
		s.pingAfter = 20 * time.Millisecond
		waited = make(chan struct{})
		go func() { s.wait(ctx, time.Now().Add(100*time.Millisecond)); close(waited) }()
		pk = f.next(t)
		assert.Equal(t, mqttPacket{0xC0, []byte{}}, pk)
		f.write(t, 0xD0, 0)
		<-waited
		for len(f.packets) > 0 { // more pings, answered or not
			assert.Equal(t, byte(0xC0), f.next(t).kind)
		}
		assert.False(t, s.failed())

		s.finish()
		assert.Equal(t, mqttPacket{0xE0, []byte{}}, f.next(t))
		_, open := <-f.packets
		assert.False(t, open, "closed after DISCONNECT")
		assert.Equal(t, int64(1), p.acked)
		assert.Equal(t, uint64(1), p.puback.n)
		assert.Zero(t, p.errors)
		assert.Empty(t, p.firstError)
	})
	t.Run("window and packet ids", func(t *testing.T) {
		f := startFakeRawBroker(t)
		p := &publisher{id: 3}
		s := f.dial(t, p, MQTTOptions{Inflight: 3}, []byte{
			0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 5, 'c', 'i', 'd', '-', '1',
		})
		send := func(seq int) {
			s.publish("t", []byte(strconv.Itoa(seq)), time.Now())
			p.published++
		}
		require.True(t, s.reserve(ctx))
		send(1) // id 1, stays in flight
		s.lastID = 65534
		require.True(t, s.reserve(ctx))
		send(2) // 65535
		require.True(t, s.reserve(ctx))
		send(3) // 1 is in flight: 2
		// The window is full: the next reserve sends what is buffered and waits.
		reserved := make(chan bool, 1)
		go func() { reserved <- s.reserve(ctx) }()
		for _, want := range [][]byte{publishBody("t", 1, "1"), publishBody("t", 65535, "2"), publishBody("t", 2, "3")} {
			assert.Equal(t, want, f.next(t).body)
		}
		select {
		case <-reserved:
			t.Fatal("reserve returned with the window full")
		case <-time.After(50 * time.Millisecond):
		}
		f.write(t, 0x40, 2, 0xFF, 0xFF, 0x40, 2, 0, 1) // out of order
		require.True(t, <-reserved)
		send(4)
		s.flush()
		assert.Equal(t, publishBody("t", 3, "4"), f.next(t).body)

		// A PUBACK for an id that is not in flight ends the session with an error.
		f.write(t, 0x40, 2, 0, 77)
		_, open := <-f.packets
		assert.False(t, open, "the client closed the connection")
		assert.False(t, s.reserve(ctx))
		s.finish()
		assert.Equal(t, int64(2), p.acked)
		assert.Equal(t, uint64(2), p.puback.n)
		assert.Equal(t, int64(2), p.errors, "ids 2 and 3 were never acknowledged")
		assert.Contains(t, p.firstError, "publisher 3: the broker acknowledged packet id 77, which is not in flight")
	})
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			io.ReadFull(conn, make([]byte, 19)) // CONNECT
			conn.Write([]byte{0x20, 2, 0, 2})
			io.Copy(io.Discard, conn)
		}()
		_, err = dialRawSession(&publisher{}, MQTTOptions{Broker: "tcp://" + ln.Addr().String(), Inflight: 1}, "cid-1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused CONNECT: client identifier rejected (CONNACK return code 2)")
	})
}

func TestBenchMQTTRemainingLength(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0}}, {127, []byte{0x7F}}, {128, []byte{0x80, 0x01}}, {16383, []byte{0xFF, 0x7F}},
		{16384, []byte{0x80, 0x80, 0x01}}, {2097151, []byte{0xFF, 0xFF, 0x7F}}, {268435455, []byte{0xFF, 0xFF, 0xFF, 0x7F}},
	} {
		got := appendRemainingLength(nil, c.n)
		assert.Equal(t, c.want, got, "%d", c.n)
		n, err := readRemainingLength(bytes.NewReader(got))
		require.NoError(t, err)
		assert.Equal(t, c.n, n)
	}
	_, err := readRemainingLength(bytes.NewReader([]byte{0x80, 0x80, 0x80, 0x80, 0x01}))
	assert.Error(t, err)
}
