package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// connectorCounters are one connector's counters on gongdan's /metrics, whether it is
// receiving, and the process's CPU.
type connectorCounters struct {
	Received, Published, Rejected, DeadLettered int64
	Running, HasRunning                         bool
	CPUSeconds                                  float64
	HasCPU                                      bool
}

// Names on gongdan's /metrics that the bench reads.
const (
	metricConnectorMessages = "gongdan_connector_messages_total" // {connector, outcome, type}
	metricConnectorRunning  = "gongdan_connector_running"        // {connector, type}: 1 or 0
	metricProcessCPU        = "process_cpu_seconds_total"
)

// parseConnectorMetrics reads the Prometheus text format for the one connector's counters.
// found lists the connectors seen, in the order they come, for the error when ours is not
// among them.
func parseConnectorMetrics(r io.Reader, connector string) (c connectorCounters, ok bool, found []string, err error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return connectorCounters{}, false, nil, err
	}
	if mf := families[metricProcessCPU]; mf != nil && len(mf.GetMetric()) > 0 {
		c.CPUSeconds, c.HasCPU = metricValue(mf.GetMetric()[0]), true
	}
	if mf := families[metricConnectorRunning]; mf != nil {
		for _, m := range mf.GetMetric() {
			if labelValue(m, "connector") == connector {
				c.Running, c.HasRunning = metricValue(m) == 1, true
			}
		}
	}
	if mf := families[metricConnectorMessages]; mf != nil {
		for _, m := range mf.GetMetric() {
			name := labelValue(m, "connector")
			if !slices.Contains(found, name) {
				found = append(found, name)
			}
			if name != connector {
				continue
			}
			ok = true
			n := int64(metricValue(m))
			switch labelValue(m, "outcome") {
			case "received":
				c.Received = n
			case "published":
				c.Published = n
			case "rejected":
				c.Rejected = n
			case "dead_lettered":
				c.DeadLettered = n
			}
		}
	}
	return c, ok, found, nil
}

// metricValue is the value of a counter, a gauge or an untyped sample (a line with no TYPE).
func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// gatewayWatch follows the gongdan under test: its /metrics and its event stream.
type gatewayWatch struct {
	o            MQTTOptions
	client       *http.Client // for /metrics
	streamClient *http.Client // for the event stream, which has no end
	devices      []*device
	serials      map[string]int
	cancel       context.CancelFunc
	done         chan struct{}

	mu         sync.Mutex
	created    map[int]ticketSeen // the first ticket of each of our devices
	merged     int                // breaching devices whose draft went into an open ticket
	mergedDev  map[int]bool
	lastTicket time.Time
	streamErr  string
}

type ticketSeen struct {
	at   time.Time // the creation event's time, on gongdan's clock
	seen time.Time // when it arrived on the stream, on ours
}

// startGatewayWatch checks that the gongdan under test has the connector and, with a token,
// opens its event stream; it returns once the stream is open.
func startGatewayWatch(ctx context.Context, o MQTTOptions, serials map[string]int, devices []*device) (*gatewayWatch, error) {
	g := &gatewayWatch{
		o: o, client: &http.Client{Timeout: 10 * time.Second}, streamClient: &http.Client{}, devices: devices, serials: serials,
		created: map[int]ticketSeen{}, mergedDev: map[int]bool{}, done: make(chan struct{}),
	}
	if _, err := g.scrape(ctx); err != nil {
		return nil, err
	}
	if o.Token == "" {
		close(g.done)
		g.cancel = func() {}
		return g, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	g.cancel = cancel
	opened := make(chan error, 1)
	go g.follow(sctx, opened)
	select {
	case err := <-opened:
		if err != nil {
			cancel()
			<-g.done
			return nil, err
		}
	case <-time.After(15 * time.Second):
		cancel()
		<-g.done
		return nil, fmt.Errorf("bench mqtt: %s/api/v1/stream did not open within 15s", o.Gongdan)
	}
	return g, nil
}

func (g *gatewayWatch) stop() {
	g.cancel()
	<-g.done
}

// scrape reads the connector's counters. A gongdan without the connector is a user error.
func (g *gatewayWatch) scrape(ctx context.Context) (connectorCounters, error) {
	get := func(token string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.Gongdan+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/plain")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return g.client.Do(req)
	}
	resp, err := get("")
	if err == nil && resp.StatusCode == http.StatusUnauthorized && g.o.Token != "" {
		// Beyond the server's own host /metrics wants the metrics token or an admin's; on
		// it, none (a staff token of another role would be refused).
		resp.Body.Close()
		resp, err = get(g.o.Token)
	}
	if err != nil {
		return connectorCounters{}, fmt.Errorf("bench mqtt: gongdan at %s: %v; is `gongdan serve` running there?", g.o.Gongdan, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return connectorCounters{}, fmt.Errorf("bench mqtt: %s/metrics answered %s", g.o.Gongdan, resp.Status)
	}
	c, ok, found, err := parseConnectorMetrics(resp.Body, g.o.Connector)
	if err != nil {
		return c, fmt.Errorf("bench mqtt: %s/metrics: %w", g.o.Gongdan, err)
	}
	if !ok {
		return c, fmt.Errorf("bench mqtt: gongdan at %s has no connector %q on /metrics (it has: %s); set --connector to the name of its MQTT connector",
			g.o.Gongdan, g.o.Connector, orElse(strings.Join(found, ", "), "none"))
	}
	return c, nil
}

// follow reads the event stream until ctx is done, reconnecting with Last-Event-ID when it
// drops (gongdan cuts off a client that falls behind). It reports on opened whether the
// first connection worked.
func (g *gatewayWatch) follow(ctx context.Context, opened chan<- error) {
	defer close(g.done)
	var lastID string
	first := true
	for ctx.Err() == nil {
		err := g.stream(ctx, &lastID, func() {
			if first {
				first = false
				opened <- nil
			}
		})
		if first {
			opened <- err
			return
		}
		if ctx.Err() != nil {
			return
		}
		g.mu.Lock()
		g.streamErr = err.Error()
		g.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (g *gatewayWatch) stream(ctx context.Context, lastID *string, open func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.Gongdan+"/api/v1/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.o.Token)
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := g.streamClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench mqtt: %s/api/v1/stream: %v", g.o.Gongdan, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("bench mqtt: %s/api/v1/stream answered %s; --token must be a token of a staff role in server.tokens", g.o.Gongdan, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("bench mqtt: %s/api/v1/stream answered %s", g.o.Gongdan, resp.Status)
	}
	open()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var data []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long event: gather it whole.
			rest, err2 := r.ReadBytes('\n')
			line, err = append(slices.Clone(line), rest...), err2
		}
		if err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				g.event(data, time.Now())
				data = data[:0]
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		case bytes.HasPrefix(line, []byte("id:")):
			*lastID = string(bytes.TrimSpace(line[3:]))
		}
	}
}

// event takes one ticket event: a creation for one of our devices is a ticket seen.
func (g *gatewayWatch) event(data []byte, seen time.Time) {
	var ev struct {
		Action string          `json:"action"`
		At     time.Time       `json:"at"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	type draft struct {
		Device    struct{ ID string } `json:"device"`
		ThreadKey string              `json:"thread_key"`
	}
	var d draft
	switch ev.Action {
	case "create":
		var cd struct {
			Draft draft `json:"draft"`
		}
		if json.Unmarshal(ev.Data, &cd) != nil {
			return
		}
		d = cd.Draft
	case "source_added":
		if json.Unmarshal(ev.Data, &d) != nil {
			return
		}
	default:
		return
	}
	id := d.Device.ID
	if id == "" {
		// <connector>/device:<id>:<rule>
		_, key, _ := strings.Cut(d.ThreadKey, "/")
		if rest, ok := strings.CutPrefix(key, "device:"); ok {
			id, _, _ = strings.Cut(rest, ":")
		}
	}
	i, ours := g.serials[id]
	if !ours {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastTicket = seen
	if ev.Action == "source_added" {
		if !g.mergedDev[i] {
			g.mergedDev[i] = true
			g.merged++
		}
		return
	}
	if _, dup := g.created[i]; !dup {
		g.created[i] = ticketSeen{at: ev.At, seen: seen}
	}
}

// gatewayQuietPeriod is quietPeriod for a gongdan: longer, for it may be between two polls
// of a slow moment (a WAL checkpoint, a garbage collection) with the broker holding the rest.
const gatewayQuietPeriod = 5 * time.Second

// drain waits until the connector has received every message published (or, while it is
// running, stops receiving for gatewayQuietPeriod: a connector that is reconnecting gets the
// messages the broker kept for it after) and every breaching device has its ticket (or no
// ticket came for gatewayQuietPeriod), at most until deadline, and makes the gateway's part
// of the report.
func (g *gatewayWatch) drain(ctx context.Context, before connectorCounters, published int64, breaches int, deadline, start time.Time) (*GatewayReport, error) {
	last := before
	lastGrowth := time.Now() // when received last grew, as far as the polls tell
	var lastReceivedAt time.Time
	for {
		// Read even after an interrupt, so that the report shows what got through.
		c, err := g.scrape(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if c.Received != last.Received {
			lastGrowth, lastReceivedAt = now, now
		}
		last = c
		g.mu.Lock()
		tickets, lastTicket := len(g.created)+g.merged, g.lastTicket
		g.mu.Unlock()
		received := c.Received - before.Received
		running := c.Running || !c.HasRunning
		receivedDone := received >= published || (running && now.Sub(lastGrowth) > gatewayQuietPeriod)
		ticketsDone := g.o.Token == "" || tickets >= breaches ||
			now.Sub(later(lastTicket, lastGrowth)) > gatewayQuietPeriod
		if (receivedDone && ticketsDone) || now.After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := &GatewayReport{
		URL: g.o.Gongdan, Connector: g.o.Connector,
		Received:     last.Received - before.Received,
		Published:    last.Published - before.Published,
		Rejected:     last.Rejected - before.Rejected,
		DeadLettered: last.DeadLettered - before.DeadLettered,
	}
	r.Missing = published - r.Received
	r.NotRunning = last.HasRunning && !last.Running
	if !lastReceivedAt.IsZero() {
		r.Seconds = lastReceivedAt.Sub(start).Seconds()
		if r.Seconds > 0 {
			r.Rate = float64(r.Received) / r.Seconds
		}
	}
	if last.HasCPU && before.HasCPU {
		r.CPUSeconds = last.CPUSeconds - before.CPUSeconds
		if r.Received > 0 {
			r.CPUMicrosPerMessage = r.CPUSeconds / float64(r.Received) * 1e6
		}
	}
	if g.o.Token == "" {
		return r, nil
	}
	t := &TicketReport{BreachingDevices: breaches, Merged: g.merged}
	g.mu.Lock()
	defer g.mu.Unlock()
	t.StreamError = g.streamErr
	var created, seen []time.Duration
	for i, ts := range g.created {
		d := g.devices[i]
		if !d.breaching {
			t.Unexpected++
			continue
		}
		if d.firstBreach.IsZero() {
			t.Unexpected++ // its ticket came before it breached here: not this run's
			continue
		}
		t.Created++
		created = append(created, ts.at.Sub(d.firstBreach))
		seen = append(seen, ts.seen.Sub(d.firstBreach))
	}
	t.Missing = breaches - t.Created - t.Merged
	t.BreachToCreated = exactPercentiles(created)
	t.BreachToStream = exactPercentiles(seen)
	r.Tickets = t
	return r, nil
}
