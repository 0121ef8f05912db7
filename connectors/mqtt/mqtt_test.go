package mqtt_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"gongdan/connectors/connectortest"
	"gongdan/connectors/mqtt"
)

const conformanceClient = "gongdan-conformance"

// TestConformance runs the connector suite against an embedded broker: the "source was
// acked" the suite asks about is the connector's PUBACK, as the broker sees it.
func TestConformance(t *testing.T) {
	b := startTestBroker(t, conformanceClient)
	dev := publisher(t, b.Addr, "conformance-devices")
	var mu sync.Mutex
	reserved := map[string]int{}
	send := func(t *testing.T, target connectortest.Target, in connectortest.Input) bool {
		c := target.Connector.(*mqtt.Connector)
		deadline := time.Now().Add(15 * time.Second)
		for !c.Subscribed() {
			if time.Now().After(deadline) {
				t.Error("the connector did not subscribe")
				return false
			}
			time.Sleep(time.Millisecond)
		}
		topic := in.Headers["topic"]
		mu.Lock()
		reserved[key(topic, in.Body)]++
		want := reserved[key(topic, in.Body)]
		mu.Unlock()
		failures := c.PublishFailures()
		if err := publish(dev, topic, in.Body); err != nil {
			t.Error(err)
			return false
		}
		// Acked: the broker got the connector's PUBACK. Not acked: the connector's publish to
		// the bus failed and it holds the message.
		for time.Now().Before(deadline) {
			if b.Acked(topic, in.Body) >= want {
				return true
			}
			if c.PublishFailures() > failures {
				return false
			}
			time.Sleep(time.Millisecond)
		}
		t.Errorf("the message on %s was neither acked nor failed", topic)
		return false
	}
	connectortest.Run(t, connectortest.Harness{
		Config: fmt.Sprintf(`name: plant
type: mqtt
brokers: ["tcp://%s"]
client_id: %s
topics: ["factory/+/telemetry"]
device_id: "topic[1]"
rules:
  - {id: overheat, when: "temp > 85", clear_when: "temp < 75", urgency: orange, category: 设备过热, title: "设备 {{device}} 温度 {{temp}}°C 超限"}
`, b.Addr, conformanceClient),
		Send: send,
		Good: func(i int) connectortest.Input {
			return connectortest.Input{Body: []byte(`{"temp": 91.5}`), Headers: map[string]string{"topic": fmt.Sprintf("factory/E2026%05d/telemetry", i)}}
		},
		Bad: connectortest.Input{Body: []byte(`{"temp": `), Headers: map[string]string{"topic": "factory/E202600999/telemetry"}},
		// One broker, one client id and the same topics for every connector the suite builds.
		SharedSource: true,
	})
}
