package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/devices"
	"gongdan/draft"
)

// probeEnvs records the Env each devicesprobe connector is built with, by instance name: what
// the stack hands the connectors.
var probeEnvs sync.Map

func init() {
	connectors.Register(connectors.Spec{
		Type:    "devicesprobe",
		Summary: "Test only: records the environment the stack builds connectors with.",
		New: func(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
			probeEnvs.Store(conf.Name(), env)
			return probe{}, nil
		},
	})
}

type probe struct{}

func (probe) Validate() error                 { return nil }
func (probe) Run(ctx context.Context) error   { <-ctx.Done(); return nil }
func (probe) Close(ctx context.Context) error { return nil }
func (probe) Normalizer() draft.Normalizer    { return draft.NormalizerFunc(draft.FromJSON) }

// devicesConfig is a server config whose devices come from devices.yaml beside it.
const devicesConfig = `server:
  http: 127.0.0.1:0
  tokens:
    - {token: test-disp-token-0123456789, actor: disp-chen, role: dispatcher}
    - {token: test-agent-token-0123456789, actor: agent-zhou, role: agent}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: plant, type: devicesprobe}
devices:
  file: devices.yaml
`

const devicesFile = `- id: E202308001
  model: GA37VSD+
  product_type: 空压机
  customer: {name: 王建国, phone: "13812345678", org: 华东仓}
  location: {address: 苏州工业园区星湖街328号, city: 苏州, lat: 31.3196, lon: 120.7239}
- id: E202308002
  model: evolution 200
`

// serveHTTP answers one request with the stack's API, as a client on loopback.
func serveHTTP(t *testing.T, s *stack, method, path, token, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// An edit through the API is in the registry the connectors read at once, is kept in the store,
// and after a restart still wins over the devices file; the file's other entries stay.
func TestADeviceEditSurvivesARestartAndWinsOverTheConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "devices.yaml"), []byte(devicesFile), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gongdan.yaml"), []byte(devicesConfig), 0o600))
	var logs bytes.Buffer
	open := func() *stack {
		t.Helper()
		cfg, err := loadConfigIn(filepath.Join(dir, "gongdan.yaml"), defaultDataDir)
		require.NoError(t, err)
		cfg.ResolvePaths(filepath.Join(dir, "data"))
		s, err := openStack(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
		require.NoError(t, err)
		return s
	}
	device := func(s *stack, id string) devices.Device {
		t.Helper()
		status, body := serveHTTP(t, s, "GET", "/api/v1/devices/"+id, "test-agent-token-0123456789", "")
		require.Equal(t, http.StatusOK, status, string(body))
		var d devices.Device
		require.NoError(t, json.Unmarshal(body, &d))
		return d
	}

	first := open()
	d := device(first, "E202308001")
	assert.Equal(t, []string{"GA37VSD+", "config", "王建国"}, []string{d.Model, d.Source, d.Customer.Name})
	status, body := serveHTTP(t, first, "PUT", "/api/v1/devices/E202308001", "test-disp-token-0123456789",
		`{"model":"GA45VSD+","firmware":"3.3.0","product_type":"空压机","customer":{"name":"陈秀英","phone":"0512-62881234"},
		  "location":{"address":"苏州工业园区星湖街328号3号楼","city":"苏州","lat":31.32,"lon":120.72}}`)
	require.Equal(t, http.StatusOK, status, string(body))
	env, ok := probeEnvs.Load("plant")
	require.True(t, ok, "the probe connector was built")
	assert.Equal(t, filepath.Join(dir, "data", "connectors", "plant"), env.(connectors.Env).StateDir, "state under --data")
	require.NotNil(t, env.(connectors.Env).Devices)
	looked, ok := env.(connectors.Env).Devices.Device("E202308001")
	require.True(t, ok)
	assert.Equal(t, "GA45VSD+", looked.Model, "the connectors' registry has the edit at once")
	require.NoError(t, first.close(context.Background()))

	second := open()
	t.Cleanup(func() { second.close(context.Background()) })
	d = device(second, "E202308001")
	assert.Equal(t, []string{"GA45VSD+", "3.3.0", "api", "disp-chen", "陈秀英", "苏州工业园区星湖街328号3号楼"},
		[]string{d.Model, d.Firmware, d.Source, d.UpdatedBy, d.Customer.Name, d.Location.Address}, "the edit, not the file")
	assert.False(t, d.UpdatedAt.IsZero())
	env, _ = probeEnvs.Load("plant")
	looked, _ = env.(connectors.Env).Devices.Device("E202308001")
	assert.Equal(t, d.Model, looked.Model, "the connectors' registry after the restart")
	other := device(second, "E202308002")
	assert.Equal(t, []string{"evolution 200", "config"}, []string{other.Model, other.Source}, "the file's other entry")
	assert.Contains(t, logs.String(), "from_config=2 edited_through_api=1")
}

// validate checks the devices file, and names its lines.
func TestValidateReportsDevicesFileErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "devices.yaml"), []byte("- id: E1\n  location: {lat: 95, lon: 120.6}\n- id: E1\n"), 0o600))
	cfgPath := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(devicesConfig), 0o600))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"validate", "--config", cfgPath}, &stdout, &stderr))
	devPath := filepath.Join(dir, "devices.yaml")
	assert.Contains(t, stderr.String(), devPath+":2: [0].location.lat: 95 is not a latitude")
	assert.Contains(t, stderr.String(), devPath+`:3: [1].id: duplicate device id "E1": `+devPath+":1 has it already")
	assert.Empty(t, stdout.String())
}
