package connectors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is where a connector instance is in its life.
type State string

const (
	StateStarting State = "starting" // Run called, not yet receiving
	StateRunning  State = "running"  // receiving
	StateBackoff  State = "backoff"  // Run failed; waiting to run it again
	StateStopped  State = "stopped"  // closed
)

// Stats are one connector instance's counters and health, as GET /api/v1/connectors and
// /metrics show them. Safe for concurrent use.
type Stats struct {
	// Received counts inputs taken from the source (requests, messages, files).
	Received atomic.Int64
	// Published counts envelopes made durable on the bus.
	Published atomic.Int64
	// Rejected counts inputs refused at the edge (bad signature, malformed body, too large),
	// which never reach the bus.
	Rejected atomic.Int64
	// DeadLettered counts envelopes the pipeline could not turn into tickets.
	DeadLettered atomic.Int64

	mu        sync.Mutex
	state     State
	lastError string
	lastAt    time.Time
}

// SetState records the instance's state.
func (s *Stats) SetState(st State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// Fail records an error and when it happened. The message must hold no secret.
func (s *Stats) Fail(at time.Time, err error) {
	s.mu.Lock()
	s.lastError, s.lastAt = err.Error(), at
	s.mu.Unlock()
}

// Status is a snapshot of an instance for the API.
type Status struct {
	Name         string     `json:"name"`
	Type         string     `json:"type"`
	State        State      `json:"state"`
	Received     int64      `json:"received"`
	Published    int64      `json:"published"`
	Rejected     int64      `json:"rejected"`
	DeadLettered int64      `json:"dead_lettered"`
	LastError    string     `json:"last_error,omitempty"`
	LastErrorAt  *time.Time `json:"last_error_at,omitempty"`
	// Details is what the connector type reports beyond the counters (a Detailer's).
	Details any `json:"details,omitempty"`
}

// Snapshot reads the stats at one moment.
func (s *Stats) Snapshot(name, typ string) Status {
	st := Status{
		Name: name, Type: typ,
		Received:     s.Received.Load(),
		Published:    s.Published.Load(),
		Rejected:     s.Rejected.Load(),
		DeadLettered: s.DeadLettered.Load(),
	}
	s.mu.Lock()
	st.State, st.LastError = s.state, s.lastError
	if !s.lastAt.IsZero() {
		at := s.lastAt
		st.LastErrorAt = &at
	}
	s.mu.Unlock()
	if st.State == "" {
		st.State = StateStopped
	}
	return st
}

// collector exports every instance's counters as gongdan_connector_messages_total{connector,
// type, outcome}, read at scrape time so the hot path touches only atomics, and the metrics of
// the instances that are prometheus.Collectors themselves (a type's own counters; one
// registration serves every instance of it).
type collector struct {
	m    *Manager
	desc *prometheus.Desc
	up   *prometheus.Desc
}

func newCollector(m *Manager) *collector {
	return &collector{
		m: m,
		desc: prometheus.NewDesc("gongdan_connector_messages_total",
			"Inputs by connector and outcome: received from the source, published to the bus, rejected at the edge, dead-lettered by the pipeline.",
			[]string{"connector", "type", "outcome"}, nil),
		up: prometheus.NewDesc("gongdan_connector_running",
			"1 when the connector is receiving, 0 otherwise.",
			[]string{"connector", "type"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.up
	for _, inst := range c.m.instances {
		if pc, ok := inst.Connector.(prometheus.Collector); ok {
			pc.Describe(ch)
		}
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, inst := range c.m.instances {
		if pc, ok := inst.Connector.(prometheus.Collector); ok {
			pc.Collect(ch)
		}
	}
	for _, st := range c.m.Status() {
		for outcome, n := range map[string]int64{"received": st.Received, "published": st.Published, "rejected": st.Rejected, "dead_lettered": st.DeadLettered} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), st.Name, st.Type, outcome)
		}
		up := 0.0
		if st.State == StateRunning {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, st.Name, st.Type)
	}
}
