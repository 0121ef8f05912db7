package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTheTrackingLinkThroughTheServer: a ticket made through the API has a tracking link that
// staff read as tracking_url under server.public_url; the page answers there, and the same
// link still works after a kill -9 (its key is the store's, not the process's).
func TestTheTrackingLinkThroughTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gongdan serve")
	}
	dir, addr := t.TempDir(), freeAddr(t)
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `server:
  http: %s
  public_url: http://%s
  tokens: [{token: %s, actor: admin-1, role: admin}]
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors: [{name: hooks, type: webhook}]
tracking: {ttl: 30d}
confirm: {remind: [24h, 48h], timeout: 72h}
followup: {after: 2d}
`, addr, addr, ocrAdmin), 0o600))
	start := func() *child {
		srv := startChild(t, "serve", "--config", path, "--data", dir)
		srv.waitReady(addr)
		return srv
	}
	srv := start()
	status, body, err := call("POST", srv.url+"/api/v1/tickets", ocrAdmin, `{"title":"冷库温度报警","description":"2号冷库 -5°C","urgency":"orange"}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%s", body)
	var tk struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &tk))
	status, body, err = call("GET", srv.url+"/api/v1/tickets/"+tk.ID, ocrAdmin, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	var got struct {
		TrackingURL string `json:"tracking_url"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.True(t, strings.HasPrefix(got.TrackingURL, "http://"+addr+"/t/"), got.TrackingURL)

	page := func() (int, string) {
		status, b, err := call("GET", got.TrackingURL, "", "")
		require.NoError(t, err)
		return status, string(b)
	}
	status, html := page()
	require.Equal(t, 200, status)
	assert.Contains(t, html, "冷库温度报警")
	assert.Contains(t, html, tk.ID)

	srv.kill()
	srv = start()
	status, html = page()
	assert.Equal(t, 200, status, "the same link after a restart")
	assert.Contains(t, html, "冷库温度报警")
	status, _ = func() (int, string) {
		s, b, err := call("GET", srv.url+"/t/"+strings.Repeat("A", 24), "", "")
		require.NoError(t, err)
		return s, string(b)
	}()
	assert.Equal(t, 404, status)
}
