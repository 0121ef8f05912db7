package draft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Envelope is one input exactly as a connector received it, before anything is made of it
// (DESIGN.md §1). Connectors make envelopes and ack their source once the envelope is durable;
// normalizers turn envelopes into drafts. An envelope is replayable: normalizing it again, after
// a config fix, must give what a first normalization with that config would have given.
type Envelope struct {
	// ID is unique per received input; the bus deduplicates on it.
	ID string `json:"id"`
	// Connector is the name of the connector instance that received it.
	Connector string `json:"connector"`
	// ConnectorType is that connector's type ("webhook").
	ConnectorType string `json:"connector_type"`
	// Type says what the payload is and picks the normalizer ("draft", "webhook.json").
	Type string `json:"type"`
	// ReceivedAt is when the connector received it. Normalizers read it as "now": relative
	// times in the text (昨天 14:05) are reckoned from it, never from the wall clock.
	ReceivedAt time.Time `json:"received_at"`
	// DedupKey identifies the input at its source (a message id, an Idempotency-Key); the same
	// input received twice carries the same key, so it makes one ticket.
	DedupKey string `json:"dedup_key,omitempty"`
	// ContentType is the payload's media type.
	ContentType string `json:"content_type,omitempty"`
	// Headers are the source's metadata worth keeping (HTTP headers, MQTT topic). Secrets and
	// signatures are not kept.
	Headers map[string]string `json:"headers,omitempty"`
	// Payload is the input, byte for byte.
	Payload []byte `json:"payload"`
}

// Normalizer turns an envelope into zero or more drafts. It is pure: the same envelope always
// gives the same drafts. An error means the input cannot become a draft as configured; the
// pipeline does not retry it but keeps it as a dead letter, to be replayed after a fix.
type Normalizer interface {
	Normalize(env Envelope) ([]Draft, error)
}

// NormalizerFunc adapts a function to Normalizer.
type NormalizerFunc func(env Envelope) ([]Draft, error)

// Normalize calls f.
func (f NormalizerFunc) Normalize(env Envelope) ([]Draft, error) { return f(env) }

// TypeDraft is the envelope type whose payload is already a draft (DESIGN.md §3) in JSON.
const TypeDraft = "draft"

// FromJSON is the normalizer of TypeDraft: it reads a payload that is a draft in JSON, fills
// what the envelope knows (the source, received_at, a dedup key) and validates it.
func FromJSON(env Envelope) ([]Draft, error) {
	if env.Type != TypeDraft {
		return nil, fmt.Errorf("envelope type %q: this connector's envelopes are drafts (type %q)", env.Type, TypeDraft)
	}
	var d Draft
	if err := DecodeJSON(env.Payload, &d); err != nil {
		return nil, err
	}
	// Only the knowledge base suggests: a payload's own are dropped, not judged (the pipeline
	// would drop them anyway; judged here, four of them made a dead letter of the request).
	d.Suggestions = nil
	d = Complete(d, env)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return []Draft{d}, nil
}

// Complete fills the fields of a draft that come from its envelope, where the draft does not
// set them itself: source connector and type, received_at, and a dedup key. The dedup key
// falls back to <connector>/<envelope dedup key or id>, so the same envelope always makes the
// same key and a redelivered envelope makes no second ticket.
func Complete(d Draft, env Envelope) Draft {
	if d.Source.Connector == "" {
		d.Source.Connector = env.Connector
	}
	if d.Source.Type == "" {
		d.Source.Type = env.ConnectorType
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = env.ReceivedAt
	}
	if d.DedupKey == "" {
		key := env.DedupKey
		if key == "" {
			key = env.ID
		}
		d.DedupKey = env.Connector + "/" + key
	}
	return d
}

// DecodeJSON decodes a JSON payload strictly: unknown fields and trailing data are errors, and
// the error names the offending field or byte offset.
func DecodeJSON(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if dec.More() {
		return errors.New("payload: more than one JSON value")
	}
	return nil
}

func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("payload: malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te) && te.Type == reflect.TypeFor[Window]():
		return &FieldError{Field: te.Field, Msg: fmt.Sprintf(`want a duration such as "30m" or a number of seconds, got %s`, te.Value)}
	case errors.As(err, &te):
		return &FieldError{Field: te.Field, Msg: fmt.Sprintf("want %s, got a JSON %s", te.Type, te.Value)}
	}
	return fmt.Errorf("payload: %v", err)
}
