package mqtt

import (
	"context"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"gongdan/draft"
)

// maxBadDevices bounds the per-device counts of bad payloads; beyond it new devices are
// counted together under "(others)".
const maxBadDevices = 10000

// badCounter counts bad payloads per device and decides which are sampled into the dead
// letters: at most perMinute in each minute.
type badCounter struct {
	mu       sync.Mutex
	byDevice map[string]int64
	n        int64
	minute   time.Time
	sampled  int
}

// add counts one bad payload of device and says whether to sample it.
func (b *badCounter) add(device string, now time.Time, perMinute int) (count int64, sample bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byDevice == nil {
		b.byDevice = map[string]int64{}
	}
	if device == "" {
		device = "(no device id)"
	}
	if _, ok := b.byDevice[device]; !ok && len(b.byDevice) >= maxBadDevices {
		device = "(others)"
	}
	b.byDevice[device]++
	b.n++
	if m := now.Truncate(time.Minute); !m.Equal(b.minute) {
		b.minute, b.sampled = m, 0
	}
	if b.sampled < perMinute {
		b.sampled++
		sample = true
	}
	return b.byDevice[device], sample
}

// BadDevice is a device's count of bad payloads.
type BadDevice struct {
	Device string `json:"device"`
	Count  int64  `json:"count"`
}

// total is the count of bad payloads of every device.
func (b *badCounter) total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// top returns the n devices with the most bad payloads, and the total.
func (b *badCounter) top(n int) ([]BadDevice, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BadDevice, 0, len(b.byDevice))
	for d, c := range b.byDevice {
		out = append(out, BadDevice{d, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Device < out[j].Device
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, b.n
}

// badPayload counts a payload that cannot be read and, within the sampling rate, publishes
// it as an envelope that the pipeline turns into a dead letter with the error. Whatever
// happens, the message is acked by the caller: a payload that cannot be read now cannot be
// read on redelivery either, and must not hold up the device's next messages.
func (c *Connector) badPayload(ctx context.Context, m paho.Message, device string, decodeErr error, now time.Time) {
	count, sample := c.bad.add(device, now, c.badPerMinute)
	if count == 1 || count&(count-1) == 0 { // the 1st, 2nd, 4th, 8th… of a device
		c.env.Logger.Warn("mqtt: bad payload", "device", device, "topic", m.Topic(), "bad_payloads_of_device", count, "err", decodeErr)
	}
	if !sample {
		c.env.Stats.Rejected.Add(1)
		return
	}
	env := draft.Envelope{
		ID: c.env.NewID(), Connector: c.name, ConnectorType: "mqtt", Type: EnvelopeBadPayload,
		ReceivedAt: now, ContentType: "application/octet-stream",
		Headers: map[string]string{"topic": m.Topic(), "device": device, "error": decodeErr.Error()},
		Payload: m.Payload(),
	}
	if err := c.env.Publish(ctx, env); err != nil {
		// A sample is not worth holding a device's telemetry for: count it as rejected.
		c.env.Stats.Rejected.Add(1)
		c.env.Logger.Warn("mqtt: a bad payload sample was not kept", "device", device, "err", err)
	}
}
