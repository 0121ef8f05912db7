package engine

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/ticket"
)

type metrics struct {
	actions            *prometheus.CounterVec
	intake             *prometheus.CounterVec
	tickets            *prometheus.GaugeVec
	batchSize          prometheus.Histogram
	commitSeconds      prometheus.Histogram
	droppedSubscribers prometheus.Counter
	routed             *prometheus.CounterVec
	routingFailures    *prometheus.CounterVec
	routingSeconds     prometheus.Histogram
	offerTimeouts      prometheus.Counter
	redCards           prometheus.Counter
	cards              *prometheus.CounterVec
	slaMarks           *prometheus.CounterVec
	slaTargets         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_ticket_actions_total",
			Help: "Ticket actions (create included) by action and outcome: ok, replay, or why it was refused.",
		}, []string{"action", "outcome"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_intake_total",
			Help: "Drafts taken in, by outcome: created (a new ticket), duplicate (a dedup key or Idempotency-Key seen before), merged (into the open ticket of its thread), unmatched (a draft with an intent, such as an alarm clear, whose thread has no open ticket: nothing written).",
		}, []string{"outcome"}),
		tickets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gongdan_tickets",
			Help: "Tickets by state.",
		}, []string{"state"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gongdan_engine_batch_size",
			Help:    "Requests committed together in one store transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gongdan_engine_commit_seconds",
			Help:    "Time to decide and durably commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		droppedSubscribers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gongdan_engine_dropped_subscribers_total",
			Help: "Event subscribers dropped for falling behind.",
		}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_routing_assigned_total",
			Help: "Tickets assigned by routing, by trigger: created, declined, offer_timeout.",
		}, []string{"trigger"}),
		routingFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_routing_failures_total",
			Help: "Routing decisions that found no one, by reason: no_rule, no_candidate, all_over_cap, invalid_decision.",
		}, []string{"reason"}),
		routingSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gongdan_routing_decision_seconds",
			Help:    "Time to take one routing decision (rules, filters, scores), without the write.",
			Buckets: prometheus.ExponentialBuckets(0.000005, 2, 14),
		}),
		offerTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gongdan_routing_offer_timeouts_total",
			Help: "Assignments not accepted within accept_timeout, routed again.",
		}),
		slaMarks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_sla_marks_total",
			Help: "SLA events recorded on tickets, by policy, target (response, resolution) and kind: warning, breach, or the tier's name (breaches by tier).",
		}, []string{"policy", "target", "kind"}),
		slaTargets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_sla_targets_total",
			Help: "SLA targets that stopped (accepted for response, resolved for resolution), by policy, target and outcome: met, breached, or cancelled (rejected or force-closed). Attainment is met / (met + breached).",
		}, []string{"policy", "target", "outcome"}),
		redCards: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gongdan_routing_red_cards_total",
			Help: "Red cards given: engineers suspended after customer ratings of 1 in a row or after yellow cards.",
		}),
		cards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gongdan_routing_cards_total",
			Help: "Yellow and red cards given to engineers, by kind and cause (rating, dispute, repeat, sla_red; low_ratings, yellows).",
		}, []string{"kind", "cause"}),
	}
	for _, o := range []Outcome{Created, Duplicate, Merged, Unmatched} {
		m.intake.WithLabelValues(string(o)) // every outcome shows from the start, at 0
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.actions, m.intake, m.tickets, m.batchSize, m.commitSeconds, m.droppedSubscribers,
			m.routed, m.routingFailures, m.routingSeconds, m.offerTimeouts, m.redCards, m.cards, m.slaMarks, m.slaTargets} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// outcome names an error for the actions metric.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ticket.ErrFrozen):
		return "frozen"
	case errors.Is(err, ticket.ErrStaleVersion):
		return "stale_version"
	case errors.Is(err, ticket.ErrIllegalTransition):
		return "illegal_transition"
	case errors.Is(err, ticket.ErrForbidden):
		return "forbidden"
	case errors.Is(err, ticket.ErrInvalidData), errors.Is(err, ticket.ErrUnknownAction):
		return "invalid_data"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrCommandIDReused), errors.Is(err, ErrIdempotencyKeyReused):
		return "key_reused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}
