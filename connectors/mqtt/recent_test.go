package mqtt

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// msg is a paho.Message of a test.
type msg struct {
	id      uint16
	dup     bool
	topic   string
	payload string
}

func (m msg) Duplicate() bool   { return m.dup }
func (m msg) Qos() byte         { return 1 }
func (m msg) Retained() bool    { return false }
func (m msg) Topic() string     { return m.topic }
func (m msg) MessageID() uint16 { return m.id }
func (m msg) Payload() []byte   { return []byte(m.payload) }
func (m msg) Ack()              {}

func TestRecentRecognisesRedeliveries(t *testing.T) {
	r := newRecent()
	first := msg{id: 7, topic: "factory/E1/telemetry", payload: `{"temp": 91}`}
	r.add(first)
	assert.False(t, r.redelivered(first), "not a redelivery without DUP")
	dup := first
	dup.dup = true
	assert.True(t, r.redelivered(dup))
	other := dup
	other.payload = `{"temp": 92}`
	assert.False(t, r.redelivered(other), "the same packet id with another payload is another message")
	other = dup
	other.id = 8
	assert.False(t, r.redelivered(other))

	for i := range recentSize {
		r.add(msg{id: uint16(i), topic: "factory/E2/telemetry", payload: fmt.Sprint(i)})
	}
	assert.False(t, r.redelivered(dup), "forgotten after recentSize newer messages")
	assert.LessOrEqual(t, len(r.count), recentSize)
}
