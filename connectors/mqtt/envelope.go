package mqtt

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gongdan/connectors/mqtt/alarm"
	"gongdan/devices"
	"gongdan/draft"
)

// TagUnregistered marks tickets of devices the registry does not know.
const TagUnregistered = "unregistered_device"

// alarmPayload is the payload of an mqtt.alarm envelope: the transition and what the
// registry knew of the device when it was made, so that a replay makes the same draft.
type alarmPayload struct {
	Transition alarm.Transition `json:"transition"`
	Registered bool             `json:"registered"`
	Device     devices.Device   `json:"device"`
}

// envelope wraps a transition. The envelope id is made once per transition, so retries of its
// publish are one message to the bus.
func (c *Connector) envelope(t alarm.Transition) (draft.Envelope, error) {
	p := alarmPayload{Transition: t}
	p.Device, p.Registered = c.lookup(t.Device)
	if !p.Registered {
		p.Device = devices.Device{ID: t.Device, Model: t.Model}
		c.counts.unknown.Add(1)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return draft.Envelope{}, err
	}
	return draft.Envelope{
		ID: c.env.NewID(), Connector: c.name, ConnectorType: "mqtt", Type: EnvelopeAlarm,
		ReceivedAt: c.now(), DedupKey: transitionKey(c.name, t), ContentType: "application/json",
		Headers: map[string]string{"topic": t.Topic, "device": t.Device, "rule": t.Rule, "kind": string(t.Kind)},
		Payload: b,
	}, nil
}

// transitionKey identifies a transition: the same transition published twice (a retry, a
// redelivered message evaluated again on a restored state) makes one ticket or one event.
func transitionKey(connector string, t alarm.Transition) string {
	since := t.Since
	if t.Kind != alarm.Raise {
		since = t.At
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s", connector, t.Device, t.Rule, t.Kind, since.UTC().Format(time.RFC3339Nano))
}

// normalizer reads the connector's envelopes. It needs nothing of the connector's config:
// the envelope holds all, so a replay after a config change makes the same draft.
type normalizer struct{}

func (normalizer) Normalize(env draft.Envelope) ([]draft.Draft, error) {
	switch env.Type {
	case EnvelopeAlarm:
		var p alarmPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("mqtt.alarm envelope: %w", err)
		}
		switch p.Transition.Kind {
		case alarm.Raise, alarm.Clear, alarm.Storm:
		default:
			return nil, fmt.Errorf("mqtt.alarm envelope: unknown transition kind %q", p.Transition.Kind)
		}
		d := alarmDraft(env, p)
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("mqtt.alarm envelope: %w", err)
		}
		return []draft.Draft{d}, nil
	case EnvelopeBadPayload:
		return nil, fmt.Errorf("bad payload from device %q on topic %q: %s", env.Headers["device"], env.Headers["topic"], env.Headers["error"])
	}
	return nil, errors.New("the mqtt connector does not make envelopes of type " + env.Type)
}

// alarmDraft makes the draft of a transition: a raise opens (or merges into) the ticket of
// its thread; a clear and a storm summary only update that ticket.
func alarmDraft(env draft.Envelope, p alarmPayload) draft.Draft {
	t, dev := p.Transition, p.Device
	d := draft.Draft{
		Source:     draft.Source{Connector: env.Connector, Type: env.ConnectorType, Kind: "alarm." + string(t.Kind), ExternalID: env.DedupKey},
		DedupKey:   env.DedupKey,
		ThreadKey:  t.ThreadKey(),
		ReceivedAt: env.ReceivedAt,
		OccurredAt: t.At,
		Customer:   dev.Customer,
		Device:     draft.Device{ID: t.Device, Model: firstOf(dev.Model, t.Model), Firmware: dev.Firmware, ProductType: dev.ProductType},
		Location:   dev.Location,
		Category:   t.Category,
		Urgency:    draft.Urgency(t.Urgency),
		Tags:       []string{"mqtt_alarm", t.Rule},
	}
	if !p.Registered {
		d.Tags = append(d.Tags, TagUnregistered)
	}
	values := formatFields(t.Fields)
	switch t.Kind {
	case alarm.Raise:
		d.OccurredAt = t.Since
		d.Title = t.Title
		d.Description = fmt.Sprintf("告警 %s：设备 %s 自 %s 起满足条件，%s 触发。", t.Rule, t.Device, local(t.Since), local(t.At))
		if values != "" {
			d.Description += "\n读数：" + values
		}
		if t.Topic != "" {
			d.Description += "\n主题：" + t.Topic
		}
		if t.Suppressed > 0 {
			d.Description += fmt.Sprintf("\n风暴抑制：此前一小时内另有 %d 次告警被抑制。", t.Suppressed)
		}
	case alarm.Clear:
		d.Intent = draft.IntentUpdate
		if t.AutoResolve {
			d.Intent = draft.IntentResolve
		}
		d.Title = "告警恢复：" + t.Title
		d.Description = fmt.Sprintf("告警 %s 已恢复：设备 %s 自 %s 起恢复正常，%s 确认。", t.Rule, t.Device, local(t.Since), local(t.At))
		if values != "" {
			d.Description += "\n读数：" + values
		}
	case alarm.Storm:
		d.Intent = draft.IntentUpdate
		d.Title = fmt.Sprintf("设备 %s 告警风暴：后续告警被抑制", t.Device)
		d.Description = fmt.Sprintf("设备 %s 一小时内告警次数已达上限，%s 起的告警暂被抑制；放行的下一次告警会注明被抑制的次数。", t.Device, local(t.At))
	}
	d.Title = draft.Clip(d.Title, draft.MaxTitleRunes)
	d.Description = draft.Clip(d.Description, draft.MaxDescriptionRunes)
	return d
}

func local(t time.Time) string { return t.Format("2006-01-02 15:04:05 Z07:00") }

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// formatFields writes a message's values as "humidity=40, temp=92.5", by name.
func formatFields(fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", draft.Clip(k, 64), draft.Clip(fmt.Sprint(fields[k]), 200))
	}
	return b.String()
}
