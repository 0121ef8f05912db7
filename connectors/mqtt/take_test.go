package mqtt

import (
	"context"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
)

// A message of a connection lost since is skipped and counted: not evaluated (this connector
// has nothing to evaluate with) and not added to the batch, whose ack the broker would drop.
func TestTakeSkipsAMessageOfALostConnection(t *testing.T) {
	c := &Connector{}
	c.conn.Add(1) // a connection was lost after the message came
	before := []paho.Message{msg{id: 1}}
	acks, ok := c.take(context.Background(), queued{m: msg{id: 2}, conn: 0}, before)
	assert.True(t, ok, "a stale message does not stop the evaluation")
	assert.Equal(t, before, acks, "a stale message is not acked")
	assert.EqualValues(t, 1, c.staleSkipped.Load())
}
