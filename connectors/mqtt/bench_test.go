package mqtt_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
	"gongdan/draft"
	"gongdan/internal/testkit"
)

// BenchmarkConnector: messages a second through the connector alone (decode, evaluate, ack),
// from a broker on loopback, with 10,000 devices and a publish that returns at once. With
// GONGDAN_BENCH_MOSQUITTO=1 the broker is a Mosquitto of its own (limits raised, as the docs
// say to); otherwise mochi-mqtt in process.
//
//	go test -run '^$' -bench Connector -benchtime 200000x ./connectors/mqtt/
func BenchmarkConnector(b *testing.B) {
	addr := benchBroker(b)
	const devices = 10000
	cfg, err := config.ParseWith("bench.yaml", fmt.Appendf(nil, `connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: gongdan-bench-%d
    topics: ["bench/+/telemetry"]
    device_id: "topic[1]"
    queue: 8192
    rules:
      - {id: overheat, when: "temp > 85", for: 30s, clear_when: "temp < 75", urgency: orange}
      - {id: humid, when: "humidity > 95", urgency: yellow}
      - {id: volt, when: "voltage < 180 || voltage > 260", urgency: yellow}
`, addr, time.Now().UnixNano()), connectors.Global.Validate)
	require.NoError(b, err)
	var transitions atomic.Int64
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Publish: func(context.Context, draft.Envelope) error {
		transitions.Add(1)
		return nil
	}})
	require.NoError(b, err)
	inst := m.Instances()[0]
	conn := inst.Connector.(*mqtt.Connector)
	m.Start(context.Background())
	defer m.Close(context.Background())
	require.Eventually(b, conn.Subscribed, 10*time.Second, time.Millisecond)

	const publishers = 4
	clients := make([]paho.Client, publishers)
	for i := range clients {
		clients[i] = paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("bench-pub-%d-%d", i, time.Now().UnixNano())).
			SetAutoReconnect(false).SetMaxResumePubInFlight(1000))
		tok := clients[i].Connect()
		require.True(b, tok.WaitTimeout(10*time.Second))
		require.NoError(b, tok.Error())
		defer clients[i].Disconnect(0)
	}
	start := inst.Stats.Received.Load()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / publishers
	for p, c := range clients {
		wg.Go(func() {
			inflight := make(chan paho.Token, 500)
			go func() {
				for range per {
					(<-inflight).Wait()
				}
			}()
			for i := range per {
				dev := (p*per + i) % devices
				payload := fmt.Appendf(nil, `{"temp": %d.5, "humidity": 40, "voltage": 221, "ts": %d}`, 40+i%30, 1764547200000+i)
				inflight <- c.Publish(fmt.Sprintf("bench/E2026%05d/telemetry", dev), 1, false, payload)
			}
		})
	}
	wg.Wait()
	want := start + int64(per*publishers)
	deadline := time.Now().Add(time.Minute)
	for inst.Stats.Received.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("the connector received %d of %d messages", inst.Stats.Received.Load()-start, want-start)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(per*publishers)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
}

// benchBroker starts the broker the benchmark runs against and returns its address.
func benchBroker(b *testing.B) string {
	if os.Getenv("GONGDAN_BENCH_MOSQUITTO") == "" {
		tb := startTestBroker(b, "")
		return tb.Addr
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		b.Skip("no mosquitto binary")
	}
	dir := b.TempDir()
	l := freePort(b)
	conf := filepath.Join(dir, "mosquitto.conf")
	require.NoError(b, os.WriteFile(conf, fmt.Appendf(nil,
		"listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 1000\nmax_queued_messages 0\n", l[len("127.0.0.1:"):]), 0o600))
	cmd := exec.Command(bin, "-c", conf)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() { _ = testkit.Kill(cmd) })
	for range 200 {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + l).SetClientID("probe").SetAutoReconnect(false))
		if tok := c.Connect(); tok.WaitTimeout(time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("mosquitto did not start")
	return ""
}
