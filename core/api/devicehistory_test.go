package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
	"gongdan/predict"
)

// historyServer starts a server with a registry holding the compressor and predictive
// maintenance on, after the given tickets (device, hours after deviceClock) were raised and
// their events handed to the tracker as the consumer would.
func historyServer(t *testing.T, tickets []historyTicket) *client {
	t.Helper()
	ctx := context.Background()
	st := enginekit.OpenStore(t, "")
	now := deviceClock
	clock := func() time.Time { return now }
	var tr *predict.Tracker
	eng := enginekit.Start(t, engine.Options{Store: st, Now: clock,
		Tags: func(d draft.Draft, at time.Time) []string { return tr.Tags(d, at) }})
	tr, err := predict.New(ctx, predict.Options{Store: st, Now: clock, Location: time.UTC})
	require.NoError(t, err)
	for i, tk := range tickets {
		now = deviceClock.Add(tk.at)
		_, _, err := eng.Create(ctx, engine.CreateRequest{Actor: ticket.ConnectorActor("plant"), Draft: draft.Draft{
			Source: draft.Source{Connector: "plant"}, DedupKey: fmt.Sprintf("plant/%d", i), Title: "过热", Category: "过热",
			Device: draft.Device{ID: tk.device}, Tags: []string{}}})
		require.NoError(t, err)
	}
	evs, err := st.EventsAfter(ctx, 0, 1000)
	require.NoError(t, err)
	for _, ev := range evs {
		payload, err := json.Marshal(ev)
		require.NoError(t, err)
		require.NoError(t, tr.Handle(ctx, payload, nil))
	}
	now = deviceClock.Add(100 * time.Hour)
	reg := devices.New([]devices.Device{compressor}, nil, func(d devices.Device) error {
		body, _ := json.Marshal(d)
		return st.Write(ctx, func(tx store.Tx) error { return tx.PutDevice(d.ID, body) })
	})
	h, err := api.New(api.Options{Engine: eng, Store: st, Tokens: tokens, Registerer: prometheus.NewRegistry(), MaxBodyBytes: 1 << 16,
		Devices: reg, DeviceHistory: tr})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &client{t: t, url: srv.URL, api: h}
}

type historyTicket struct {
	device string
	at     time.Duration
}

// The compressor (model GA37VSD+ in the registry) failed at 0 h, 24 h and 72 h: MTBF 36 h,
// next failure at 108 h, chronic (three within 30 days); E7 (no entry) at 10 h and 30 h.
var history = []historyTicket{{"E202308001", 0}, {"E202308001", 24 * time.Hour}, {"E7", 10 * time.Hour},
	{"E7", 30 * time.Hour}, {"E202308001", 72 * time.Hour}}

func TestADeviceShowsItsHistory(t *testing.T) {
	c := historyServer(t, history)
	r := c.do("GET", "/api/v1/devices/E202308001", "tok-agent", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m := r.json(t)
	assert.Equal(t, "GA37VSD+", m["model"])
	assert.Equal(t, "config", m["source"])
	assert.Equal(t, true, m["chronic"], "the registry's flag")
	h := m["health"].(map[string]any)
	assert.Equal(t, float64(3), h["failures"])
	assert.Equal(t, true, h["chronic"])
	assert.Equal(t, (36 * time.Hour).Seconds(), h["mtbf_seconds"])
	assert.Nil(t, h["mttr_seconds"], "nothing resolved yet")
	assert.Equal(t, deviceClock.Add(108*time.Hour).Format(time.RFC3339), h["estimated_next_failure"])
	mh := m["model_health"].(map[string]any)
	assert.Equal(t, "GA37VSD+", mh["model"], "the registry's model, the tickets naming none")

	// What GET answers may be sent back with PUT: the history is the server's and is dropped.
	r = c.do("PUT", "/api/v1/devices/E202308001", "tok-disp", string(r.body))
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	// A device with tickets and no registry entry answers with its history.
	r = c.do("GET", "/api/v1/devices/E7", "tok-eng", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m = r.json(t)
	assert.Equal(t, "E7", m["id"])
	assert.Equal(t, false, m["chronic"])
	assert.Equal(t, (20 * time.Hour).Seconds(), m["health"].(map[string]any)["mtbf_seconds"])

	p := requireProblem(t, c.do("GET", "/api/v1/devices/E404", "tok-agent", ""), http.StatusNotFound, "not-found")
	assert.Contains(t, p["detail"], `"E404"`)
	requireProblem(t, c.do("GET", "/api/v1/devices/E7", "tok-cust", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/devices/E7", "", ""), http.StatusUnauthorized, "unauthorized")
}

func TestDevicesReport(t *testing.T) {
	c := historyServer(t, history)
	r := c.do("GET", "/api/v1/reports/devices?top=20", "tok-qa", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var rep predict.Report
	require.NoError(t, json.Unmarshal(r.body, &rep))
	require.Len(t, rep.Devices, 2)
	assert.Equal(t, "E202308001", rep.Devices[0].DeviceID, "chronic first")
	assert.True(t, rep.Devices[0].Chronic)
	assert.Equal(t, "E7", rep.Devices[1].DeviceID)
	assert.Equal(t, 20, rep.Top)

	r = c.do("GET", "/api/v1/reports/devices?top=1", "tok-eng", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &rep))
	assert.Len(t, rep.Devices, 1)

	p := requireProblem(t, c.do("GET", "/api/v1/reports/devices?top=0", "tok-qa", ""), http.StatusBadRequest, "bad-request")
	assert.Equal(t, "top", p["field"])
	requireProblem(t, c.do("GET", "/api/v1/reports/devices?top=x", "tok-qa", ""), http.StatusBadRequest, "bad-request")
	requireProblem(t, c.do("GET", "/api/v1/reports/devices", "tok-cust", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/reports/devices", "", ""), http.StatusUnauthorized, "unauthorized")

	// The rebuild is the admin's, and gives the same report.
	requireProblem(t, c.do("POST", "/api/v1/reports/devices/rebuild", "tok-sup", ""), http.StatusForbidden, "forbidden")
	r = c.do("POST", "/api/v1/reports/devices/rebuild", "tok-admin", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, float64(5), r.json(t)["events"])
	r = c.do("GET", "/api/v1/reports/devices", "tok-qa", "")
	require.NoError(t, json.Unmarshal(r.body, &rep))
	assert.Len(t, rep.Devices, 2)
}

func TestDevicesReportWithoutPredict(t *testing.T) {
	c, _, _ := deviceServer(t, []devices.Device{compressor}, nil)
	p := requireProblem(t, c.do("GET", "/api/v1/reports/devices", "tok-qa", ""), http.StatusNotFound, "not-found")
	assert.Contains(t, p["detail"], "predict section")
	r := c.do("GET", "/api/v1/devices/E202308001", "tok-qa", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, r.json(t), "health")
}
