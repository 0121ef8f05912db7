package bus

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
)

// Benchmarks of the bus on its own, without the pipeline's handlers: how many messages a
// second it stores (publish returns after the PubAck) and carries from publish to ack.
// Messages are about 1 KiB, like a raw envelope, with the two metadata entries the pipeline
// sets. Each reports msgs/s. Run them with
//
//	go test -run '^$' -bench Bus -benchtime 20000x -count 5 ./pipeline/bus/
//
// with GONGDAN_TEST_NATS set to include an external server.

// benchBus is one backend under benchmark.
type benchBus struct {
	name       string
	kind       busKind
	syncAlways bool
}

func benchBuses(b *testing.B) []benchBus {
	buses := []benchBus{
		{name: "memory", kind: memoryKind},
		{name: "embedded", kind: embeddedKind},
		{name: "embedded-syncalways", kind: embeddedKind, syncAlways: true},
	}
	if os.Getenv("GONGDAN_TEST_NATS") != "" {
		buses = append(buses, benchBus{name: "external", kind: externalKind})
	} else {
		b.Log("GONGDAN_TEST_NATS is not set: no external NATS benchmarks")
	}
	return buses
}

func (bb benchBus) open(b *testing.B) *Bus {
	b.Helper()
	cfg := testBusConfig(b, bb.kind)
	cfg.SyncAlways = bb.syncAlways
	bus, err := Open(context.Background(), cfg, testLogger(b))
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, bus.Close()) })
	return bus
}

var benchPayload = []byte(`{"id":"` + strings.Repeat("0", 26) + `","connector":"hooks","type":"webhook",` +
	`"received_at":"2026-11-23T09:42:03+08:00","content_type":"application/json","payload":"` +
	strings.Repeat("x", 850) + `"}`)

func benchMessage(i int) *message.Message {
	msg := message.NewMessage(fmt.Sprintf("bench-%d-%s", i, testPrefix()), benchPayload)
	msg.Metadata.Set("gongdan_connector", "hooks")
	msg.Metadata.Set("gongdan_key", msg.UUID)
	return msg
}

// publishAll publishes n messages from publishers goroutines.
func publishAll(b *testing.B, pub message.Publisher, topic string, n, publishers int) {
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < n; i += publishers {
				if err := pub.Publish(topic, benchMessage(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkBusPublish(b *testing.B) {
	for _, bb := range benchBuses(b) {
		for _, publishers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/publishers=%d", bb.name, publishers), func(b *testing.B) {
				bus := bb.open(b)
				pub := bus.Publisher()
				b.ResetTimer()
				publishAll(b, pub, "raw.hooks", b.N, publishers)
				b.StopTimer()
				reportRate(b)
			})
		}
	}
}

// BenchmarkBusEndToEnd publishes from 16 goroutines to a group consuming with concurrency
// 16, which acks each message as it gets it, and stops when all are acked.
func BenchmarkBusEndToEnd(b *testing.B) {
	for _, bb := range benchBuses(b) {
		b.Run(bb.name, func(b *testing.B) {
			bus := bb.open(b)
			pub := bus.Publisher()
			sub, err := bus.Subscriber("bench", 16)
			require.NoError(b, err)
			defer sub.Close()
			ch, err := sub.Subscribe(context.Background(), "raw.hooks")
			require.NoError(b, err)
			// One message through first: the subscriptions are up and the consumer is
			// past its idle hold.
			require.NoError(b, pub.Publish("raw.hooks", benchMessage(-1)))
			(<-ch).Ack()

			done := make(chan struct{})
			go func() {
				defer close(done)
				for range b.N {
					msg, ok := <-ch
					if !ok {
						b.Error("subscription closed")
						return
					}
					msg.Ack()
				}
			}()
			b.ResetTimer()
			publishAll(b, pub, "raw.hooks", b.N, 16)
			<-done
			b.StopTimer()
			reportRate(b)
		})
	}
}
