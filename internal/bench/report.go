package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Percentiles are in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func percentilesOf(h *latencyHistogram) Percentiles {
	return Percentiles{Count: int64(h.n), P50: ms(h.percentile(0.50)), P90: ms(h.percentile(0.90)), P99: ms(h.percentile(0.99)), Max: ms(h.max)}
}

func exactPercentiles(lat []time.Duration) Percentiles {
	if len(lat) == 0 {
		return Percentiles{}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	return Percentiles{Count: int64(len(lat)), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: ms(lat[len(lat)-1])}
}

// MQTTReport is what one run found; --json prints it as it is.
type MQTTReport struct {
	Broker            string  `json:"broker"`
	Topic             string  `json:"topic"`
	QoS               int     `json:"qos"`
	Devices           int     `json:"devices"`
	FirstDevice       string  `json:"first_device"`
	LastDevice        string  `json:"last_device"`
	BreachingDevices  int     `json:"breaching_devices"`
	BreachesPublished int     `json:"breaches_published"` // breaching devices that sent a breaching message
	Publishers        int     `json:"publishers"`
	Inflight          int     `json:"inflight_per_publisher"`
	TargetRate        float64 `json:"target_rate"` // messages/s; 0: as fast as possible
	Duration          string  `json:"duration"`
	Messages          int64   `json:"messages_limit,omitempty"` // --messages
	Interrupted       bool    `json:"interrupted,omitempty"`
	// CPUSeconds is this process's CPU (user + system) from the first publish to the end of the
	// drain: the publishers' and, with --baseline, the subscriber's.
	CPUSeconds          float64 `json:"bench_cpu_seconds"`
	CPUMicrosPerMessage float64 `json:"bench_cpu_us_per_message"` // CPUSeconds per message published
	// Publisher is the client that published: raw (hand-written packets) or paho.
	Publisher     PublisherKind `json:"publisher"`
	PublisherNote string        `json:"publisher_note,omitempty"` // why not the one asked for

	Publish struct {
		Messages   int64       `json:"messages"` // handed to the client
		Acked      int64       `json:"acked"`    // acknowledged by the broker (PUBACK at QoS 1)
		Errors     int64       `json:"errors"`
		FirstError string      `json:"first_error,omitempty"`
		Seconds    float64     `json:"seconds"` // first publish to last acknowledgement
		Rate       float64     `json:"rate"`    // acked messages/s over Seconds
		Puback     Percentiles `json:"puback"`
	} `json:"publish"`
	Baseline *BaselineReport `json:"baseline,omitempty"`
	Gateway  *GatewayReport  `json:"gateway,omitempty"`

	start, lastAck time.Time
}

// BaselineReport is what the plain subscriber of --baseline received.
type BaselineReport struct {
	Received   int64   `json:"received"` // distinct messages
	Duplicates int64   `json:"duplicates"`
	Foreign    int64   `json:"foreign,omitempty"` // messages on the topics that this run did not publish
	Lost       int64   `json:"lost"`              // published − received
	Seconds    float64 `json:"seconds"`           // first publish to last message received
	Rate       float64 `json:"rate"`              // received/s over Seconds
	Error      string  `json:"error,omitempty"`
}

// GatewayReport is the gongdan under test's side: deltas of its connector's counters over the run.
type GatewayReport struct {
	URL                 string        `json:"url"`
	Connector           string        `json:"connector"`
	Received            int64         `json:"received"`
	Missing             int64         `json:"missing"`               // published − received
	NotRunning          bool          `json:"not_running,omitempty"` // the connector was not receiving at the end
	Seconds             float64       `json:"seconds"`               // first publish to last message received (by polls 100 ms apart)
	Rate                float64       `json:"rate"`                  // received/s over Seconds
	Published           int64         `json:"published"`
	Rejected            int64         `json:"rejected"`
	DeadLettered        int64         `json:"dead_lettered"`
	CPUSeconds          float64       `json:"cpu_seconds,omitempty"`
	CPUMicrosPerMessage float64       `json:"cpu_us_per_message,omitempty"`
	Tickets             *TicketReport `json:"tickets,omitempty"`
}

type TicketReport struct {
	BreachingDevices int         `json:"breaching_devices"` // that sent a breaching message
	Created          int         `json:"created"`           // tickets created for them
	Merged           int         `json:"merged"`            // drafts merged into open tickets instead (from an earlier run)
	Missing          int         `json:"missing"`
	Unexpected       int         `json:"unexpected"` // tickets for our devices that did not breach
	BreachToCreated  Percentiles `json:"breach_to_created"`
	BreachToStream   Percentiles `json:"breach_to_stream"`
	StreamError      string      `json:"stream_error,omitempty"`
}

func (r *MQTTReport) Text() string {
	var b strings.Builder
	rate := "as fast as acknowledged"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("paced at %.0f messages/s", r.TargetRate)
	}
	length := "for " + r.Duration
	if r.Messages > 0 {
		length = fmt.Sprintf("%d messages within %s", r.Messages, r.Duration)
	}
	fmt.Fprintf(&b, "MQTT telemetry → %s (%s, QoS %d): %d devices %s…%s (%d breaching), %d publishers (publisher: %s), %s, %s\n",
		r.Broker, r.Topic, r.QoS, r.Devices, r.FirstDevice, r.LastDevice, r.BreachingDevices, r.Publishers, r.Publisher, rate, length)
	if r.PublisherNote != "" {
		fmt.Fprintf(&b, "  (%s)\n", r.PublisherNote)
	}
	if r.Interrupted {
		b.WriteString("  (interrupted)\n")
	}
	p := r.Publish
	fmt.Fprintf(&b, "  published %d messages, %d acknowledged in %.2fs (%.0f messages/s), %d errors\n",
		p.Messages, p.Acked, p.Seconds, p.Rate, p.Errors)
	if p.FirstError != "" {
		fmt.Fprintf(&b, "    first error: %s\n", p.FirstError)
	}
	ack := "PUBACK"
	if r.QoS == 0 {
		ack = "written (QoS 0)"
	}
	fmt.Fprintf(&b, "  publish → %s: p50 %s  p99 %s  max %s\n", ack, fmtMS(p.Puback.P50), fmtMS(p.Puback.P99), fmtMS(p.Puback.Max))
	who := "the publishers"
	if r.Baseline != nil {
		who = "the publishers and the subscriber"
	}
	fmt.Fprintf(&b, "  this process's CPU (user+system, from the first publish; %s): %.2fs, %.1f µs per message published\n",
		who, r.CPUSeconds, r.CPUMicrosPerMessage)
	if s := r.Baseline; s != nil {
		fmt.Fprintf(&b, "broker alone — a plain QoS %d subscriber in this process:\n", r.QoS)
		fmt.Fprintf(&b, "  received %d of %d published (%d lost, %d duplicates); the last %.2fs after the first publish: %.0f messages/s\n",
			s.Received, p.Messages, s.Lost, s.Duplicates, s.Seconds, s.Rate)
		if s.Foreign > 0 {
			fmt.Fprintf(&b, "  and %d messages of other publishers on the same topics (not counted)\n", s.Foreign)
		}
		if s.Error != "" {
			fmt.Fprintf(&b, "  %s\n", s.Error)
		}
	}
	if g := r.Gateway; g != nil {
		fmt.Fprintf(&b, "gongdan %s, connector %s (deltas of /metrics):\n", g.URL, g.Connector)
		fmt.Fprintf(&b, "  received %d of %d published (%d missing); the last %.2fs after the first publish: %.0f messages/s\n",
			g.Received, p.Messages, g.Missing, g.Seconds, g.Rate)
		if g.Received > p.Messages {
			b.WriteString("  received more than was published: other publishers on these topics, or a backlog the broker kept for the connector's persistent session while no gongdan was connected\n")
		}
		if g.NotRunning {
			b.WriteString("  the connector was not receiving at the end (gongdan_connector_running 0): see gongdan's log and GET /api/v1/connectors\n")
		}
		fmt.Fprintf(&b, "  published %d alarm transitions to the bus; rejected %d; dead-lettered %d\n", g.Published, g.Rejected, g.DeadLettered)
		if g.CPUSeconds > 0 {
			fmt.Fprintf(&b, "  gongdan's CPU: %.1fs, %.1f µs per message received\n", g.CPUSeconds, g.CPUMicrosPerMessage)
		}
		if t := g.Tickets; t == nil {
			b.WriteString("  tickets not followed (no --token)\n")
		} else {
			fmt.Fprintf(&b, "  tickets created for %d of %d devices that breached (%d missing, %d merged into open tickets, %d unexpected)\n",
				t.Created, t.BreachingDevices, t.Missing, t.Merged, t.Unexpected)
			if t.Merged > 0 {
				b.WriteString("    merged: those devices have open tickets from an earlier run; use new devices (--first-device) or a fresh gongdan\n")
			}
			for _, l := range []struct {
				what string
				p    Percentiles
			}{{"created", t.BreachToCreated}, {"on the stream", t.BreachToStream}} {
				if l.p.Count > 0 {
					fmt.Fprintf(&b, "  first breaching message → ticket %s: p50 %s  p90 %s  p99 %s  max %s (%d tickets)\n",
						l.what, fmtMS(l.p.P50), fmtMS(l.p.P90), fmtMS(l.p.P99), fmtMS(l.p.Max), l.p.Count)
				}
			}
			if t.StreamError != "" {
				fmt.Fprintf(&b, "  the event stream dropped and was reopened (last: %s)\n", t.StreamError)
			}
		}
	}
	return b.String()
}

func fmtMS(v float64) string {
	return (time.Duration(v * float64(time.Millisecond))).Round(10 * time.Microsecond).String()
}
