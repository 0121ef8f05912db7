package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/ticket"
	"gongdan/predict"
)

const predictConfig = `
server:
  http: 127.0.0.1:0
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
    - {token: test-agent-token-0123456789, actor: agent-zhou, role: agent}
    - {token: test-cust-token-0123456789, actor: cust-1, role: customer}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
devices:
  items:
    - {id: P1, model: GA37}
    - {id: P2, model: GA37}
    - {id: P3, model: GA37}
    - {id: P4, model: GA37}
routing:
  engineers:
    - {id: eng-li, name: 李工, max_open: 50}
    - {id: eng-wu, name: 吴工, max_open: 50}
  teams:
    - {id: suzhou-a, members: [eng-li]}
    - {id: maintenance, members: [eng-wu]}
  rules:
    - {id: all, route_to: {team: suzhou-a}}
predict:
  cluster: {devices: 3, within: 7d, team: maintenance}
  chronic: {tickets: 3, within: 30d}
`

// The whole stack: three devices of one model report one fault through the API; the predict
// consumer opens one preventive ticket, routed to predict.cluster.team; a fourth joins it; a
// restart (the consumer's events delivered again from wherever its acks left off) opens
// nothing more; the devices report answers through the CLI.
func TestPredictThroughTheStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack")
	}
	assert.Equal(t, config.PredictConnector, predict.Connector)
	dir := t.TempDir()
	open := func() (*stack, *httptest.Server) {
		cfg, err := config.ParseWith("predict.yaml", []byte(predictConfig), connectors.Global.Validate)
		require.NoError(t, err)
		cfg.ResolvePaths(dir)
		s, err := openStack(t.Context(), cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		require.NoError(t, err)
		require.NoError(t, s.start(t.Context()))
		return s, httptest.NewServer(s.api)
	}
	const agent, admin = "test-agent-token-0123456789", "test-admin-token-0123456789"
	s, srv := open()
	report := func(n int, device string) {
		t.Helper()
		body := fmt.Sprintf(`{"title":"%s 过热停机","category":"设备过热","device":{"id":"%s"},"dedup_key":"api/%d"}`, device, device, n)
		status, b, err := call("POST", srv.URL+"/api/v1/tickets", agent, body)
		require.NoError(t, err)
		require.Equal(t, 201, status, string(b))
	}
	preventive := func(srv *httptest.Server) []ticket.Ticket {
		status, b, err := call("GET", srv.URL+"/api/v1/tickets?limit=500", admin, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, string(b))
		var page struct{ Tickets []ticket.Ticket }
		require.NoError(t, json.Unmarshal(b, &page))
		var out []ticket.Ticket
		for _, tk := range page.Tickets {
			if tk.Category == predict.CategoryPreventive {
				out = append(out, tk)
			}
		}
		return out
	}
	for i, dev := range []string{"P1", "P2", "P3"} {
		report(i, dev)
	}
	var p ticket.Ticket
	require.Eventually(t, func() bool {
		ps := preventive(srv)
		if len(ps) == 1 {
			p = ps[0]
		}
		return len(ps) == 1 && p.Team != ""
	}, time.Minute, 20*time.Millisecond, "one preventive ticket, routed")
	assert.Equal(t, "maintenance", p.Team, "predict.cluster.team")
	assert.Equal(t, "eng-wu", p.Assignee)
	assert.Equal(t, "yellow", string(p.Urgency))
	assert.Equal(t, predict.Connector, p.Sources[0].Source.Connector)
	for _, dev := range []string{"P1", "P2", "P3"} {
		assert.Contains(t, p.Description, dev+"：GD-")
	}

	report(3, "P4")
	require.Eventually(t, func() bool {
		ps := preventive(srv)
		return len(ps) == 1 && len(ps[0].Sources) == 2
	}, time.Minute, 20*time.Millisecond, "the fourth device joins it")

	srv.Close()
	require.NoError(t, s.close(context.Background()))
	s, srv = open()
	defer func() { srv.Close(); s.close(context.Background()) }()
	time.Sleep(300 * time.Millisecond) // whatever was not acked is delivered again by now
	ps := preventive(srv)
	require.Len(t, ps, 1, "nothing twice after a restart")
	assert.Len(t, ps[0].Sources, 2)

	status, b, err := call("GET", srv.URL+"/api/v1/devices/P1", agent, "")
	require.NoError(t, err)
	require.Equal(t, 200, status, string(b))
	assert.Contains(t, string(b), `"health":{"failures":1`)

	// P1 twice more: chronic, and its next ticket, routed as usual, is tagged 频繁故障.
	report = func(n int, device string) {
		t.Helper()
		body := fmt.Sprintf(`{"title":"%s 漏油","category":"漏油","device":{"id":"%s"},"dedup_key":"api/%d"}`, device, device, n)
		status, b, err := call("POST", srv.URL+"/api/v1/tickets", agent, body)
		require.NoError(t, err)
		require.Equal(t, 201, status, string(b))
	}
	report(10, "P1")
	report(11, "P1")
	require.Eventually(t, func() bool {
		_, b, err := call("GET", srv.URL+"/api/v1/devices/P1", agent, "")
		return err == nil && strings.Contains(string(b), `"chronic":true`)
	}, time.Minute, 20*time.Millisecond, "P1 is chronic")
	status, b, err = call("POST", srv.URL+"/api/v1/tickets", agent, `{"title":"P1 又坏了","category":"漏油","device":{"id":"P1"},"dedup_key":"api/12"}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, string(b))
	var tagged ticket.Ticket
	require.NoError(t, json.Unmarshal(b, &tagged))
	assert.Contains(t, tagged.Tags, predict.TagChronic)
	assert.Equal(t, "suzhou-a", tagged.Team, "routed as any ticket")
	status, _, err = call("GET", srv.URL+"/api/v1/reports/devices", "test-cust-token-0123456789", "")
	require.NoError(t, err)
	assert.Equal(t, 403, status)

	var stdout, stderr bytes.Buffer
	code := run([]string{"report", "devices", "--top", "3", "--server", srv.URL, "--token", agent}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 6, stdout.String()) // the heading, a blank line, the header, 3 devices
	assert.Regexp(t, `^DEVICE\s+MODEL\s+FAILURES`, lines[2])
	assert.Regexp(t, `^P1\s+GA37\s+[34]\s+频繁故障\s`, lines[3])
	assert.Regexp(t, `^P\d\s+GA37\s+1\s`, lines[4])

	stdout.Reset()
	code = run([]string{"report", "devices", "--format", "json", "--server", srv.URL, "--token", agent}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var rep predict.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	assert.Len(t, rep.Devices, 4)
	assert.Equal(t, "P1", rep.Devices[0].DeviceID, "the chronic device first")
	assert.Equal(t, 20, rep.Top)

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"report", "devices", "--rebuild", "--format", "json", "--server", srv.URL, "--token", admin}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Regexp(t, `device history recorded again from \d+ events`, stderr.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	assert.Len(t, rep.Devices, 4)
	code = run([]string{"report", "devices", "--rebuild", "--server", srv.URL, "--token", agent}, &stdout, &stderr)
	assert.Equal(t, 1, code, "an agent may not rebuild")
	assert.Len(t, preventive(srv), 1, "a rebuild opens nothing")

	code = run([]string{"report", "devices", "--top", "0"}, &stdout, &stderr)
	assert.Equal(t, 2, code)
}

func TestTheDevicesReportTable(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	mtbf, mttr := (36 * time.Hour).Seconds(), (5*time.Hour + 30*time.Minute).Seconds()
	next := at.Add(12 * time.Hour)
	rep := predict.Report{At: at, Top: 20, Devices: []predict.ReportRow{
		{DeviceID: "E1", Model: "GA37", Health: predict.Health{Failures: 3, Chronic: true, LastFailure: at, MTBFSeconds: &mtbf, MTTRSeconds: &mttr, EstimatedNextFailure: &next}},
		{DeviceID: "E2", Health: predict.Health{Failures: 1, LastFailure: at}},
	}}
	var b bytes.Buffer
	require.NoError(t, writeDevicesReport(&b, rep, "table"))
	out := b.String()
	assert.Contains(t, out, "Devices at 2026-11-24 10:00, top 20")
	assert.Regexp(t, `E1\s+GA37\s+3\s+频繁故障\s+1d 12h\s+5h30m\s+2026-11-24 10:00\s+2026-11-24 22:00`, out)
	assert.Regexp(t, `E2\s+-\s+1\s+-\s+-\s+-\s+2026-11-24 10:00\s+-`, out)
}

// The example config of the README's predict section is valid.
func TestThePredictExampleValidates(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "--config", "../../configs/examples/predict.yaml")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "ok")
}
