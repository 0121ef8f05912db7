package mqtt_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// testBroker is a mochi broker on a free loopback port that watches what one client (the
// connector under test) acks: the test's view of "the source was acked".
type testBroker struct {
	Addr   string
	server *mochi.Server
	hook   *ackHook
}

func startTestBroker(t testing.TB, watch string) *testBroker {
	t.Helper()
	addr := freePort(t)
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, s.AddHook(new(auth.AllowHook), nil))
	h := &ackHook{client: watch, inflight: map[uint16]string{}, acked: map[string]int{}, delivered: map[string]int{}}
	h.cond = sync.NewCond(&h.mu)
	require.NoError(t, s.AddHook(h, nil))
	require.NoError(t, s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})))
	require.NoError(t, s.Serve())
	t.Cleanup(func() { _ = s.Close() })
	return &testBroker{Addr: addr, server: s, hook: h}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// ackHook counts, per topic and payload, the messages the watched client was sent and acked.
type ackHook struct {
	mochi.HookBase
	client string

	mu        sync.Mutex
	cond      *sync.Cond
	inflight  map[uint16]string // packet id → key, sent and not yet acked
	acked     map[string]int
	delivered map[string]int
}

func key(topic string, payload []byte) string { return topic + "\x00" + string(payload) }

func (h *ackHook) ID() string { return "ack-watch" }

func (h *ackHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnQosPublish, mochi.OnQosComplete}, []byte{b})
}

func (h *ackHook) OnQosPublish(cl *mochi.Client, pk packets.Packet, _ int64, resends int) {
	if cl.ID != h.client {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := key(pk.TopicName, pk.Payload)
	if _, again := h.inflight[pk.PacketID]; !again || resends == 0 {
		h.delivered[k]++
	}
	h.inflight[pk.PacketID] = k
}

func (h *ackHook) OnQosComplete(cl *mochi.Client, pk packets.Packet) {
	if cl.ID != h.client {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.inflight[pk.PacketID]; ok {
		delete(h.inflight, pk.PacketID)
		h.acked[k]++
		h.cond.Broadcast()
	}
}

// Acked is how many messages of topic and payload the watched client acked.
func (b *testBroker) Acked(topic string, payload []byte) int {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	return b.hook.acked[key(topic, payload)]
}

// Unacked is how many messages the watched client holds without an ack.
func (b *testBroker) Unacked() int {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	return len(b.hook.inflight)
}

// publisher is a device: a paho client publishing with QoS 1.
func publisher(t *testing.T, addr, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetAutoReconnect(false))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "publisher %s: no CONNACK", id)
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(c paho.Client, topic string, payload []byte) error {
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publish %s: no PUBACK from the broker", topic)
	}
	return tok.Error()
}
