package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gongdan/connectors/mqtt/alarm"
	"gongdan/draft"
)

// Sample is the dry run (gongdan normalize, gongdan test): the envelopes one message would
// make on a device the connector has not heard from, if its reading held for as long as the
// rules' for asks. The Topic header names the topic it came on; Received, optionally, when
// (RFC 3339; default the dry run's clock). Offline rules never fire in a dry run.
func (c *Connector) Sample(payload []byte, headers map[string]string) ([]draft.Envelope, error) {
	var topic, received string
	for k, v := range headers {
		switch strings.ToLower(k) {
		case "topic":
			topic = v
		case "received":
			received = v
		}
	}
	if topic == "" {
		return nil, errors.New(`a dry run needs the topic the message came on: --header "Topic: factory/E202308001/telemetry" (headers: {topic: …} in a test case)`)
	}
	matched := false
	for _, f := range c.topics {
		matched = matched || alarm.MatchTopic(f, topic)
	}
	if !matched {
		return nil, fmt.Errorf("topic %q matches none of the connector's topics %v: the broker would not deliver it", topic, c.topics)
	}
	now := c.now()
	if received != "" {
		t, err := time.Parse(time.RFC3339Nano, received)
		if err != nil {
			return nil, fmt.Errorf("received: %w", err)
		}
		now = t
	}
	e, errs := alarm.New(c.alarmConfig)
	if len(errs) > 0 {
		return nil, fmt.Errorf("the rules do not compile: %v", errs[0])
	}
	e.HoldOffline(now.Add(100 * 365 * 24 * time.Hour))
	msg, err := c.decoder.Decode(topic, payload, now)
	if err != nil {
		// What serve does with it: counted, sampled into the dead letters.
		return nil, fmt.Errorf("bad payload (counted against device %q and sampled into the dead letters): %w", msg.Device, err)
	}
	if d, ok := c.lookup(msg.Device); ok {
		msg.Model = d.Model
	}
	ts := e.Evaluate(msg)
	var hold time.Duration
	for _, r := range c.alarmConfig.Rules {
		hold = max(hold, r.For)
	}
	if hold > 0 {
		ts = append(ts, e.Tick(now.Add(hold))...)
	}
	out := make([]draft.Envelope, 0, len(ts))
	for _, t := range ts {
		env, err := c.envelope(t)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}
