package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gongdan/connectors/ocr"
	"gongdan/internal/testkit"
)

// The test binary doubles as the gongdan binary: started as a child in the role gongdan, it
// runs the command line it was given instead of the tests, so tests can start, kill -9 and
// restart a real server process without a separate build.
func TestMain(m *testing.M) {
	if err := ocr.OneOpenMPThread(); err != nil {
		panic(err)
	}
	if testkit.Child("gongdan") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a gongdan process under test.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	return startChildIn(t, "", args...)
}

// startChildIn starts gongdan in the working directory wd ("": the test's).
func startChildIn(t *testing.T, wd string, args ...string) *child {
	t.Helper()
	cmd := testkit.ChildCommand("gongdan", args...)
	cmd.Dir = wd
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, logs: logs}
	t.Cleanup(func() { c.kill() })
	return c
}

// waitReady polls /readyz until the server answers (bounded, not a timing assertion).
func (c *child) waitReady(addr string) {
	c.t.Helper()
	c.url = "http://" + addr
	for range 300 {
		resp, err := http.Get(c.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("server never became ready; its log:\n%s", c.logs)
}

func (c *child) kill() { testkit.Kill(c.cmd) }

func writeConfig(t *testing.T, dir, addr string) string {
	t.Helper()
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(configText(addr)), 0o600))
	return path
}

// configText is the config the server tests run: real tokens, SQLite, embedded NATS, and two
// webhook connectors, one with a mapping.
func configText(addr string) string {
	return fmt.Sprintf(`server:
  http: %s
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
    - {token: test-super-token-0123456789, actor: sup-1, role: supervisor}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: hooks, type: webhook}
  - name: crm
    type: webhook
    mapping:
      title: payload.subject
      dedup_key: '"crm/" + string(payload.order_id)'
`, addr)
}

func call(method, url, token, body string, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func TestValidateReportsFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(path, []byte("server:\n  http: 127.0.0.1:8080\n  timezon: Asia/Shanghai\n"), 0o600))
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "--config", path}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), path+":3: server.timezon: unknown key \"timezon\"; did you mean \"timezone\"?")

	stdout.Reset()
	require.Equal(t, 0, run([]string{"validate"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "ok")
	pg := filepath.Join(dir, "pg.yaml")
	require.NoError(t, os.WriteFile(pg, []byte("store: {driver: postgres, dsn: \"postgres://x\"}\n"), 0o600))
	stderr.Reset()
	require.Equal(t, 1, run([]string{"validate", "--config", pg}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "store.driver: postgres is not available")
	require.Equal(t, 2, run([]string{"frobnicate"}, &stdout, &stderr))
	require.Equal(t, 2, run([]string{"serve", "--nope"}, &stdout, &stderr))
}

func TestServeRefusesDemoTokensOffLoopback(t *testing.T) {
	// In a child process: if the check were broken, the server would start and be killed
	// instead of hanging the test run.
	c := startChild(t, "serve", "--data", t.TempDir(), "--http", "0.0.0.0:0")
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, 1, ee.ExitCode())
		require.Contains(t, c.logs.String(), "refusing to listen")
	case <-time.After(30 * time.Second):
		t.Fatalf("serve started on 0.0.0.0 with demo tokens; its log:\n%s", c.logs)
	}
}

func TestQuickstartServes(t *testing.T) {
	addr := freeAddr(t)
	c := startChild(t, "serve", "--data", t.TempDir(), "--http", addr)
	c.waitReady(addr)
	status, body, err := call("POST", c.url+"/api/v1/tickets", "demo-agent", `{"title":"空调不制冷"}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, string(body))
	var tk struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &tk))
	require.Regexp(t, `^GD-\d{8}-000001$`, tk.ID)
}

// The commands check and build connectors with their relative paths under --data: validate
// beyond loopback (where the exposure check builds the connectors again) and the dry runs
// read an embedded broker's credentials_file from the data root, as serve does, and not from
// the directory they were started in.
func TestCommandsReadConnectorFilesUnderData(t *testing.T) {
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, "devices.passwd"), []byte("# no device yet\n"), 0o600))
	cfgPath := filepath.Join(t.TempDir(), "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`server:
  http: 0.0.0.0:18080
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
connectors:
  - name: plant
    type: mqtt
    client_id: gongdan-plant
    device_id: topic[1]
    topics: ["factory/+/telemetry"]
    embedded_broker: {listen: "0.0.0.0:11883", credentials_file: devices.passwd}
    rules:
      - {id: hot, when: "temp > 85"}
`), 0o600))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"validate", "--config", cfgPath, "--data", data}, &stdout, &stderr), stderr.String())
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, 1, run([]string{"validate", "--config", cfgPath, "--data", t.TempDir()}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "credentials_file", "without the file under --data")

	// A dry run builds the connectors again, with the config's data root.
	cfg, err := loadConfigIn(cfgPath, data)
	require.NoError(t, err)
	_, err = newDryRunner(cfg, time.Now())
	require.NoError(t, err, "the dry run reads devices.passwd under --data")
}
