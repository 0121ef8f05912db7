package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"gongdan/pipeline/deadletter"
)

// permanentError marks a failure that a retry cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix: the message goes to the dead letters
// at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// attempts records the tries of one message, for its dead letter.
type attempts struct {
	n           int
	first, last time.Time
}

type attemptsKey struct{}

// countAttempts is the innermost middleware: it sees every try the retry middleware makes.
func (p *Pipeline) countAttempts(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil {
			if a, ok := msg.Context().Value(attemptsKey{}).(*attempts); ok {
				now := p.opts.Now()
				if a.n == 0 {
					a.first = now
				}
				a.n++
				a.last = now
			}
		}
		return out, err
	}
}

// deadLetters is the outermost middleware. A message whose handler still fails after the
// retries is stored as a dead letter and then acked; if the dead letter cannot be stored, the
// message is nacked and comes again, so nothing is lost either way.
func (p *Pipeline) deadLetters(handler, topic string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			a := &attempts{}
			msg.SetContext(context.WithValue(msg.Context(), attemptsKey{}, a))
			out, err := h(msg)
			if err == nil {
				p.metrics.handled.WithLabelValues(handler, "ok").Inc()
				return out, nil
			}
			if msg.Context().Err() != nil {
				return nil, err // shutting down: leave it to the bus to redeliver
			}
			connector := msg.Metadata.Get(metaConnector)
			now := p.opts.Now()
			if a.n == 0 {
				a.n, a.first, a.last = 1, now, now
			}
			dl, putErr := p.opts.DeadLetters.PutDeadLetter(msg.Context(), deadletter.DeadLetter{
				Key:           handler + "/" + keyOf(msg),
				Connector:     connector,
				Handler:       handler,
				Topic:         topic,
				Error:         err.Error(),
				Attempts:      a.n,
				FirstFailedAt: a.first,
				LastFailedAt:  a.last,
				MessageID:     msg.UUID,
				Metadata:      map[string]string(msg.Metadata),
				Payload:       msg.Payload,
			})
			if putErr != nil {
				p.metrics.handled.WithLabelValues(handler, "failed").Inc()
				return nil, fmt.Errorf("%w (and keeping it as a dead letter failed: %v)", err, putErr)
			}
			p.metrics.handled.WithLabelValues(handler, "dead_lettered").Inc()
			p.opts.OnDeadLetter(connector)
			p.opts.Logger.Warn("message dead-lettered", "dead_letter", dl.ID, "handler", handler,
				"connector", connector, "attempts", a.n, "err", err)
			return nil, nil
		}
	}
}

// keyOf identifies a message's content across redeliveries and replays.
func keyOf(msg *message.Message) string {
	if k := msg.Metadata.Get(metaKey); k != "" {
		return k
	}
	return msg.UUID
}

type pipelineMetrics struct {
	published *prometheus.CounterVec
	drafts    *prometheus.CounterVec
	handled   *prometheus.CounterVec
	intake    prometheus.Counter
	replayed  prometheus.Counter
}

func newPipelineMetrics(reg prometheus.Registerer) *pipelineMetrics {
	m := &pipelineMetrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_pipeline_envelopes_published_total",
			Help: "Raw envelopes stored on the bus, by connector.",
		}, []string{"connector"}),
		drafts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_pipeline_drafts_total",
			Help: "Drafts made by normalization, by connector.",
		}, []string{"connector"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_pipeline_messages_total",
			Help: "Messages handled, by handler and outcome (ok, dead_lettered, failed: neither handled nor kept, so redelivered).",
		}, []string{"handler", "outcome"}),
		intake: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gongdan_pipeline_drafts_taken_total",
			Help: "Drafts the core took in (created, duplicate or merged).",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gongdan_deadletters_replayed_total",
			Help: "Dead letters sent through the pipeline again.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.published, m.drafts, m.handled, m.intake, m.replayed)
	}
	return m
}
