package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
	"gongdan/draft"
)

// A connection lost while messages wait to be evaluated: their acks could not reach the
// broker, which delivers them again on the next connection. Each is evaluated once — no
// alarm is raised or cleared twice.
func TestMessagesOfALostConnectionAreEvaluatedOnce(t *testing.T) {
	const client = "gongdan-redelivery"
	b := startTestBroker(t, client)
	cfg, err := config.ParseWith("redelivery.yaml", fmt.Appendf(nil, `connectors:
  - name: plant
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    max_reconnect_interval: 1s
    rules:
      - {id: overheat, when: "temp > 85", clear_when: "temp < 75", urgency: orange}
`, b.Addr, client), connectors.Global.Validate)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		kinds    []string
		first    = make(chan struct{})
		release  = make(chan struct{})
		blockOne sync.Once
	)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Publish: func(ctx context.Context, e draft.Envelope) error {
		blocked := false
		blockOne.Do(func() { blocked = true })
		if blocked { // hold the first raise until the connection is gone
			close(first)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		kinds = append(kinds, e.Headers["kind"])
		mu.Unlock()
		return nil
	}})
	require.NoError(t, err)
	c := m.Instances()[0].Connector.(*mqtt.Connector)
	m.Start(context.Background())
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.Eventually(t, c.Subscribed, 10*time.Second, time.Millisecond)

	dev := publisher(t, b.Addr, "redelivery-device")
	require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(`{"temp": 91, "n": 0}`)))
	<-first // the raise is being published; what follows waits in the connector's queue
	for i := 1; i <= 6; i++ {
		temp := 70
		if i%2 == 0 {
			temp = 91
		}
		require.NoError(t, publish(dev, "factory/E1/telemetry", fmt.Appendf(nil, `{"temp": %d, "n": %d}`, temp, i)))
	}
	// Drop the connection only once the broker has sent all of them to the connector.
	require.Eventually(t, func() bool {
		b.hook.mu.Lock()
		defer b.hook.mu.Unlock()
		return len(b.hook.inflight) == 7
	}, 10*time.Second, time.Millisecond)
	cl, ok := b.server.Clients.Get(client)
	require.True(t, ok)
	cl.Stop(errors.New("the test drops the connection"))
	require.Eventually(t, func() bool { return !c.Subscribed() }, 10*time.Second, time.Millisecond)
	close(release)

	// After the reconnect every message is acked, and the transitions are those of one pass:
	// at most one per message — raise (n=0), then clear, raise, … for n=1..6 in the order the
	// broker delivers them again (mochi does not keep the original order). Evaluated twice,
	// the queued messages made 11.
	require.Eventually(t, func() bool {
		return c.Subscribed() && b.Unacked() == 0 && b.Acked("factory/E1/telemetry", []byte(`{"temp": 91, "n": 6}`)) >= 1
	},
		15*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, kinds)
	assert.Equal(t, "raise", kinds[0])
	assert.LessOrEqual(t, len(kinds), 7, "a message evaluated twice: %v", kinds)
	for i := 1; i < len(kinds); i++ {
		assert.NotEqual(t, kinds[i-1], kinds[i], "raised or cleared twice in a row: %v", kinds)
	}
	d := c.Details().(mqtt.Details)
	t.Logf("transitions %v; messages of the lost connection skipped: %d; redeliveries of evaluated ones: %d", kinds, d.StaleSkipped, d.RedeliveriesSkipped)
}
