package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
	"gongdan/connectors/mqtt/telemetry"
	"gongdan/devices"
	"gongdan/draft"
)

// FuzzAlarmNormalizer: whatever the payload of an mqtt.alarm or mqtt.bad_payload envelope,
// the normalizer neither panics nor hands on a draft the core would refuse. A bad payload is
// always an error (a dead letter); an alarm payload is an error or exactly one draft that
// passes Validate, carries the envelope's keys, and comes out the same when normalized again.
// The seeds are what a connector really published: a raise, its clear, a storm, bad payloads.
//
//	go test -run '^$' -fuzz FuzzAlarmNormalizer -fuzztime 60s ./connectors/mqtt/
func FuzzAlarmNormalizer(f *testing.F) {
	templates := map[string]draft.Envelope{}
	for _, env := range realEnvelopes(f) {
		if _, ok := templates[env.Type]; !ok {
			templates[env.Type] = env
		}
		f.Add(env.Type == mqtt.EnvelopeBadPayload, env.Payload)
	}
	require.Contains(f, templates, mqtt.EnvelopeAlarm)
	require.Contains(f, templates, mqtt.EnvelopeBadPayload)
	// The normalizer needs nothing of the connector's config: the zero connector's will do.
	n := (&mqtt.Connector{}).Normalizer()

	f.Fuzz(func(t *testing.T, badPayload bool, payload []byte) {
		env := templates[mqtt.EnvelopeAlarm]
		if badPayload {
			env = templates[mqtt.EnvelopeBadPayload]
		}
		env.Payload = payload
		drafts, err := n.Normalize(env)
		if badPayload {
			if err == nil || drafts != nil {
				t.Fatalf("a bad payload must become a dead letter: drafts %v, error %v", drafts, err)
			}
			return
		}
		if err != nil {
			if drafts != nil {
				t.Fatalf("drafts %v with the error %v", drafts, err)
			}
			return
		}
		if len(drafts) != 1 {
			t.Fatalf("%d drafts of one transition", len(drafts))
		}
		d := drafts[0]
		if err := d.Validate(); err != nil {
			// The core refuses it; the normalizer should have said so itself, with the
			// envelope kept as a dead letter to replay.
			t.Fatalf("mqtt.alarm payload %q made a draft that fails Validate: %v\ndraft: %+v", payload, err, d)
		}
		if d.DedupKey != env.DedupKey || d.Source.ExternalID != env.DedupKey || d.Source.Connector != env.Connector || d.Source.Type != "mqtt" {
			t.Fatalf("the draft's keys are not the envelope's: %+v", d.Source)
		}
		if !d.ReceivedAt.Equal(env.ReceivedAt) {
			t.Fatalf("received_at %s, the envelope's is %s", d.ReceivedAt, env.ReceivedAt)
		}
		if !strings.HasPrefix(d.ThreadKey, "device:") || len(d.Tags) == 0 || d.Tags[0] != "mqtt_alarm" {
			t.Fatalf("thread key %q, tags %v", d.ThreadKey, d.Tags)
		}
		switch d.Source.Kind {
		case "alarm.raise":
			if d.Intent != "" {
				t.Fatalf("a raise with intent %q: it must open (or merge into) a ticket", d.Intent)
			}
		case "alarm.clear", "alarm.storm":
			if d.Intent == "" {
				t.Fatalf("a %s without an intent would open a ticket", d.Source.Kind)
			}
		}
		again, err := n.Normalize(env)
		if err != nil || len(again) != 1 || !assert.ObjectsAreEqual(d, again[0]) {
			t.Fatalf("normalized again: %v, %v; first %+v", again, err, d)
		}
	})
}

// realEnvelopes runs a connector against the test broker and returns what it published:
// E1 (registered) raises, clears and, past max_raises_per_hour, storms; E2 (unregistered)
// raises; a malformed payload and a reading of the wrong type are sampled as bad payloads.
func realEnvelopes(tb testing.TB) []draft.Envelope {
	tb.Helper()
	const client = "gongdan-fuzz-seeds"
	b := startTestBroker(tb, client)
	cfg, err := config.ParseWith("seeds.yaml", fmt.Appendf(nil, `connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    max_raises_per_hour: 1
    rules:
      - {id: overheat, when: "temp > 85", clear_when: "temp < 75", urgency: orange, category: 设备过热, title: "设备 {{device}} 温度 {{temp}}°C 超限", auto_resolve: true}
`, b.Addr, client), connectors.Global.Validate)
	require.NoError(tb, err)
	registry := devices.New([]devices.Device{{
		ID: "E1", Model: "XR-200", Firmware: "2.4.1", ProductType: "注塑机",
		Customer: draft.Customer{ID: "C-0042", Name: "苏州精工", Phone: "13812345678"},
		Location: draft.Location{Address: "苏州工业园区星湖街 328 号", City: "苏州", Lat: 31.3, Lon: 120.6},
	}}, nil, nil)
	var mu sync.Mutex
	var envs []draft.Envelope
	fixed := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC) // bad payloads are sampled per minute
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Devices: registry, Now: func() time.Time { return fixed },
		Publish: func(_ context.Context, e draft.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			envs = append(envs, e)
			return nil
		}})
	require.NoError(tb, err)
	c := m.Instances()[0].Connector.(*mqtt.Connector)
	m.Start(context.Background())
	tb.Cleanup(func() { _ = m.Close(context.Background()) })
	require.Eventually(tb, c.Subscribed, wait, time.Millisecond)

	dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.Addr).SetClientID("fuzz-seed-devices").SetAutoReconnect(false))
	tok := dev.Connect()
	require.True(tb, tok.WaitTimeout(wait), "no CONNACK")
	require.NoError(tb, tok.Error())
	defer forget(tb, b, dev, "fuzz-seed-devices")
	for _, in := range []struct{ device, payload string }{
		{"E1", `{"temp": 91.5, "humidity": 40}`}, // raise
		{"E1", `{"temp": 70}`},                   // clear
		{"E1", `{"temp": 92}`},                   // storm: the second raise within the hour
		{"E2", `{"temp": 95}`},                   // raise of an unregistered device
		{"E2", `{"temp": `},                      // malformed
		{"E3", `{"temp": "ERR"}`},                // the wrong type for the rule
	} {
		topic := "factory/" + in.device + "/telemetry"
		require.NoError(tb, publish(dev, topic, []byte(in.payload)))
		require.Eventually(tb, func() bool { return b.Acked(topic, []byte(in.payload)) == 1 }, wait, time.Millisecond, "%s not acked", in.payload)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, e := range envs {
		got = append(got, e.Type+" "+e.Headers["kind"])
	}
	require.Equal(tb, []string{"mqtt.alarm raise", "mqtt.alarm clear", "mqtt.alarm storm", "mqtt.alarm raise", "mqtt.bad_payload ", "mqtt.bad_payload "}, got)
	return append([]draft.Envelope(nil), envs...)
}

// Readings the connector takes (within max_bytes) make drafts the core takes: a title or a
// description that would be too long is shortened (it used to be refused by the core, and the
// raise ended as a dead letter). A device id too long for the thread and dedup keys is a bad
// payload at the edge.
func TestLongReadingsStillMakeValidDrafts(t *testing.T) {
	tests := []struct {
		name, rule, topic, payload string
		badPayload                 bool
	}{
		{
			name:    "a string reading in the title template",
			rule:    `{id: fault, when: "code > 0", urgency: orange, title: "设备 {{device}}：{{message}}"}`,
			topic:   "factory/E1/telemetry",
			payload: `{"code": 3, "message": "` + strings.Repeat("温度传感器", 50) + `"}`, // 250 runes
		},
		{
			name:    "a long reading in the description",
			rule:    `{id: overheat, when: "temp > 85", urgency: orange}`,
			topic:   "factory/E1/telemetry",
			payload: `{"temp": 91, "log": "` + strings.Repeat("x", 25000) + `"}`, // under max_bytes (64 KiB)
		},
		{
			name:       "a long device id from the topic",
			rule:       `{id: overheat, when: "temp > 85", urgency: orange}`,
			topic:      "factory/" + strings.Repeat("E", 600) + "/telemetry",
			payload:    `{"temp": 91}`,
			badPayload: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.ParseWith("long.yaml", []byte(`connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://127.0.0.1:1883"]
    client_id: gd
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    rules:
      - `+tt.rule+"\n"), connectors.Global.Validate)
			require.NoError(t, err)
			m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher})
			require.NoError(t, err)
			c := m.Instances()[0].Connector.(*mqtt.Connector)
			// The dry run makes the envelopes serve would publish.
			envs, err := c.Sample([]byte(tt.payload), map[string]string{"topic": tt.topic})
			if tt.badPayload {
				require.ErrorIs(t, err, telemetry.ErrNoDevice)
				return
			}
			require.NoError(t, err)
			require.Len(t, envs, 1, "one raise")
			drafts, err := c.Normalizer().Normalize(envs[0])
			require.NoError(t, err)
			require.Len(t, drafts, 1)
			assert.NoError(t, drafts[0].Validate(), "the raise's draft, which the core must take")
		})
	}
}
