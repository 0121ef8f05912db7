package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
)

// The cards section reaches the engine: with red_after.yellows 1, a customer's rating of 2 is
// a yellow card and at once a red one, as the cards endpoint and the engineer's view show.
func TestTheCardsSectionReachesTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`server:
  http: 127.0.0.1:0
  tokens:
    - {token: test-agent-token-0123456789, actor: agent-1, role: agent}
    - {token: test-engineer-token-0123456789, actor: eng-li, role: engineer}
    - {token: test-customer-token-0123456789, actor: cust-wang, role: customer}
    - {token: test-supervisor-token-0123456789, actor: sup-wang, role: supervisor}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: memory}
routing:
  engineers: [{id: eng-li}]
  teams: [{id: a, lead: sup-wang, members: [eng-li]}]
  rules: [{id: all, route_to: {team: a}}]
cards:
  yellow: {dispute: false}
  red_after: {yellows: 1}
  suspend: 2d
`), 0o600))
	cfg, err := config.LoadWith(path, connectors.Global.Validate)
	require.NoError(t, err)
	cfg.ResolvePaths(dir)
	ctx := context.Background()
	st, err := openStack(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer st.close(context.Background())
	require.NoError(t, st.start(ctx))
	srv := httptest.NewServer(st.api)
	defer srv.Close()

	do := func(method, path, token, body string) map[string]any {
		t.Helper()
		status, b, err := call(method, srv.URL+path, token, body)
		require.NoError(t, err)
		require.Contains(t, []int{200, 201}, status, "%s %s: %s", method, path, b)
		var out map[string]any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	tk := do("POST", "/api/v1/tickets", "test-agent-token-0123456789", `{"title":"3号线急停按钮失灵","customer":{"id":"cust-wang"}}`)
	require.Equal(t, "eng-li", tk["assignee"])
	id := tk["id"].(string)
	for _, a := range []string{"accept", "start"} {
		do("POST", "/api/v1/tickets/"+id+"/actions/"+a, "test-engineer-token-0123456789", "")
	}
	do("POST", "/api/v1/tickets/"+id+"/actions/resolve", "test-engineer-token-0123456789", `{"data":{"root_cause":"接触不良"}}`)
	do("POST", "/api/v1/tickets/"+id+"/actions/confirm", "test-customer-token-0123456789", `{"data":{"solved":true,"timeliness":2,"professionalism":5}}`)

	cards := do("GET", "/api/v1/engineers/eng-li/cards", "test-engineer-token-0123456789", "")
	require.Len(t, cards["cards"], 2, "%v", cards)
	red, yellow := cards["cards"].([]any)[0].(map[string]any), cards["cards"].([]any)[1].(map[string]any)
	assert.Equal(t, []any{"red", "yellows", "yellow", "rating"}, []any{red["kind"], red["cause"], yellow["kind"], yellow["cause"]})
	at, err := time.Parse(time.RFC3339Nano, red["at"].(string))
	require.NoError(t, err)
	until, err := time.Parse(time.RFC3339Nano, cards["suspended_until"].(string))
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, until.Sub(at), "suspend: 2d")
	eng := do("GET", "/api/v1/engineers/eng-li", "test-supervisor-token-0123456789", "")
	assert.Equal(t, true, eng["suspended"])
}
