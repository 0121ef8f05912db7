package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
	"gongdan/draft"
)

// Bad payloads — malformed, NaN, a field of the wrong type — are acked, counted per device and
// sampled into the dead letters up to the rate; the good messages around them go on.
func TestBadPayloadsAreCountedAndSampled(t *testing.T) {
	const client = "gongdan-bad"
	b := startTestBroker(t, client)
	cfg, err := config.ParseWith("bad.yaml", fmt.Appendf(nil, `connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    bad_payload_samples_per_minute: 2
    rules:
      - {id: overheat, when: "temp > 85", urgency: orange}
`, b.Addr, client), connectors.Global.Validate)
	require.NoError(t, err)
	var mu sync.Mutex
	var envs []draft.Envelope
	// A fixed clock: the sampling counts per minute, and this test must not straddle two.
	fixed := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Now: func() time.Time { return fixed }, Publish: func(_ context.Context, e draft.Envelope) error {
		mu.Lock()
		envs = append(envs, e)
		mu.Unlock()
		return nil
	}})
	require.NoError(t, err)
	inst := m.Instances()[0]
	c := inst.Connector.(*mqtt.Connector)
	m.Start(context.Background())
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.Eventually(t, c.Subscribed, 10*time.Second, time.Millisecond)

	dev := publisher(t, b.Addr, "bad-devices")
	inputs := []struct{ topic, payload string }{
		{"factory/E1/telemetry", `{"temp": `},       // malformed
		{"factory/E1/telemetry", `{"temp": "NaN"}`}, // a failed reading
		{"factory/E2/telemetry", `{"temp": "ERR"}`}, // the wrong type for the rule
		{"factory/E3/telemetry", `{"temp": 91}`},    // good: raises
		{"factory//telemetry", `{"temp": 20}`},      // no device id
	}
	for _, in := range inputs {
		require.NoError(t, publish(dev, in.topic, []byte(in.payload)))
	}
	require.Eventually(t, func() bool { return inst.Stats.Received.Load() == int64(len(inputs)) }, 10*time.Second, time.Millisecond)
	for _, in := range inputs {
		require.Eventually(t, func() bool { return b.Acked(in.topic, []byte(in.payload)) == 1 }, 10*time.Second, time.Millisecond, "%s not acked", in.payload)
	}

	d := c.Details().(mqtt.Details)
	assert.EqualValues(t, 4, d.BadPayloads)
	assert.Equal(t, []mqtt.BadDevice{{Device: "E1", Count: 2}, {Device: "(no device id)", Count: 1}, {Device: "E2", Count: 1}}, d.BadDevices)
	mu.Lock()
	defer mu.Unlock()
	var samples, alarms int
	for _, e := range envs {
		switch e.Type {
		case mqtt.EnvelopeBadPayload:
			samples++
			assert.NotEmpty(t, e.Headers["error"])
			_, err := c.Normalizer().Normalize(e)
			assert.Error(t, err, "a sample must become a dead letter")
		case mqtt.EnvelopeAlarm:
			alarms++
		}
	}
	assert.Equal(t, 2, samples, "sampled at most bad_payload_samples_per_minute")
	assert.EqualValues(t, 2, inst.Stats.Rejected.Load(), "the bad payloads not sampled")
	assert.Equal(t, 1, alarms, "the good message still raised")
}

// The connector's own counters reach Prometheus through the manager's collector, one series
// per instance.
func TestAlarmMetrics(t *testing.T) {
	const client = "gongdan-metrics"
	b := startTestBroker(t, client)
	cfg, err := config.ParseWith("metrics.yaml", fmt.Appendf(nil, `connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    rules:
      - {id: overheat, when: "temp > 85", clear_when: "temp < 75", urgency: orange}
  - name: lab
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s-lab
    topics: ["lab/+/telemetry"]
    device_id: "topic[1]"
    rules:
      - {id: leak, when: "water == true", urgency: red}
`, b.Addr, client, b.Addr, client), connectors.Global.Validate)
	require.NoError(t, err)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Publish: func(context.Context, draft.Envelope) error { return nil }})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m.Collector()), "two instances of a type register once")
	c := m.Instances()[0].Connector.(*mqtt.Connector)
	m.Start(context.Background())
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.Eventually(t, c.Subscribed, 10*time.Second, time.Millisecond)
	dev := publisher(t, b.Addr, "metrics-devices")
	for _, p := range []string{`{"temp": 91}`, `{"temp": 70}`, `{"temp": `} {
		require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(p)))
	}
	require.Eventually(t, func() bool { return b.Acked("factory/E1/telemetry", []byte(`{"temp": `)) == 1 }, 10*time.Second, time.Millisecond)
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gongdan_mqtt_alarms_total Alarm transitions published by an mqtt connector, by kind (raise, clear, storm).
# TYPE gongdan_mqtt_alarms_total counter
gongdan_mqtt_alarms_total{connector="lab",kind="clear"} 0
gongdan_mqtt_alarms_total{connector="lab",kind="raise"} 0
gongdan_mqtt_alarms_total{connector="lab",kind="storm"} 0
gongdan_mqtt_alarms_total{connector="plant",kind="clear"} 1
gongdan_mqtt_alarms_total{connector="plant",kind="raise"} 1
gongdan_mqtt_alarms_total{connector="plant",kind="storm"} 0
# HELP gongdan_mqtt_bad_payloads_total Payloads an mqtt connector could not read (malformed, too large, NaN, a field of the wrong type).
# TYPE gongdan_mqtt_bad_payloads_total counter
gongdan_mqtt_bad_payloads_total{connector="lab"} 0
gongdan_mqtt_bad_payloads_total{connector="plant"} 1
`), "gongdan_mqtt_alarms_total", "gongdan_mqtt_bad_payloads_total"))
}
