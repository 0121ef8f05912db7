package mqtt

import (
	"hash/maphash"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// recentSize is how many evaluated messages are remembered for recognising the broker's
// redeliveries. What the broker sends again after a reconnect is what it had in flight to
// the connector (a broker's in-flight window is tens to hundreds), and nothing new is
// evaluated between the loss and the redelivery, so the last few thousand cover it.
const recentSize = 4096

// recent remembers the last evaluated messages by packet id, topic and payload. When a
// connection is lost after a message was evaluated but before its PUBACK reached the broker,
// the broker sends it again on the next connection with its original packet id and the DUP
// flag [MQTT-4.4.0-1, MQTT-3.3.1-1]; one of those that matches is acked without being
// evaluated a second time. Only the evaluator goroutine uses it.
type recent struct {
	seed  maphash.Seed
	ring  [recentSize]uint64
	next  int
	count map[uint64]int
}

func newRecent() *recent {
	return &recent{seed: maphash.MakeSeed(), count: make(map[uint64]int, recentSize)}
}

func (r *recent) key(m paho.Message) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	var id [2]byte
	id[0], id[1] = byte(m.MessageID()>>8), byte(m.MessageID())
	h.Write(id[:])
	h.WriteString(m.Topic())
	h.WriteByte(0)
	h.Write(m.Payload())
	return h.Sum64()
}

// redelivered reports a DUP message that was evaluated lately.
func (r *recent) redelivered(m paho.Message) bool {
	return m.Duplicate() && r.count[r.key(m)] > 0
}

// add remembers an evaluated message, forgetting the oldest.
func (r *recent) add(m paho.Message) {
	k := r.key(m)
	if old := r.ring[r.next]; r.count[old] > 0 {
		if r.count[old]--; r.count[old] == 0 {
			delete(r.count, old)
		}
	}
	r.ring[r.next] = k
	r.next = (r.next + 1) % recentSize
	r.count[k]++
}
