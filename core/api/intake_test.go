package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/internal/testkit/enginekit"
	"gongdan/pipeline/deadletter"
)

// fakeConnectors is one running connector's status.
func fakeConnectors() any {
	return []connectors.Status{{Name: "hooks", Type: "webhook", State: connectors.StateRunning, Received: 3, Published: 2, Rejected: 1}}
}

// replayer marks dead letters replayed, as the pipeline does after publishing them.
type replayer struct{ store deadletter.Store }

func (r replayer) Replay(ctx context.Context, id string) (deadletter.DeadLetter, error) {
	return r.store.MarkReplayed(ctx, id, time.Now())
}

func newIntakeServer(t *testing.T, withPipeline bool) (*client, deadletter.Store) {
	t.Helper()
	f := enginekit.New(t, engine.Options{})
	st := f.Store
	opts := api.Options{Engine: f.Engine, Store: st, Tokens: tokens}
	if withPipeline {
		opts.Connectors, opts.DeadLetters, opts.Replayer = fakeConnectors, st, replayer{st}
	}
	h, err := api.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL, api: h}, st
}

func TestConnectorsAndDeadLettersEndpoints(t *testing.T) {
	c, st := newIntakeServer(t, true)
	now := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC)
	dl, err := st.PutDeadLetter(context.Background(), deadletter.DeadLetter{
		Key: "normalize.crm/env-1", Connector: "crm", Handler: "normalize.crm", Topic: "raw.crm",
		Error: "mapping title: cannot fetch subject", Attempts: 1, FirstFailedAt: now, LastFailedAt: now,
		Payload: []byte(`{"id":"env-1"}`),
	})
	require.NoError(t, err)

	r := c.do("GET", "/api/v1/connectors", "tok-sup", "")
	require.Equal(t, 200, r.status, string(r.body))
	list := r.json(t)["connectors"].([]any)
	require.Len(t, list, 1)
	assert.Equal(t, "running", list[0].(map[string]any)["state"])
	assert.Equal(t, float64(1), list[0].(map[string]any)["rejected"])

	r = c.do("GET", "/api/v1/deadletters?connector=crm", "tok-admin", "")
	require.Equal(t, 200, r.status, string(r.body))
	assert.Len(t, r.json(t)["dead_letters"], 1)
	r = c.do("GET", "/api/v1/deadletters?connector=hooks", "tok-admin", "")
	assert.Equal(t, []any{}, r.json(t)["dead_letters"], "an empty list, not null")
	r = c.do("GET", "/api/v1/deadletters/"+dl.ID, "tok-admin", "")
	require.Equal(t, 200, r.status)
	assert.Equal(t, "mapping title: cannot fetch subject", r.json(t)["error"])

	r = c.do("POST", "/api/v1/deadletters/"+dl.ID+"/replay", "tok-sup", "")
	require.Equal(t, 202, r.status, string(r.body))
	assert.Equal(t, "replayed", r.json(t)["state"])

	requireProblem(t, c.do("GET", "/api/v1/deadletters/DL-999999", "tok-admin", ""), 404, "not-found")
	requireProblem(t, c.do("POST", "/api/v1/deadletters/DL-999999/replay", "tok-admin", ""), 404, "not-found")
	p := requireProblem(t, c.do("GET", "/api/v1/deadletters?cursor=garbage", "tok-admin", ""), 400, "bad-request")
	assert.Equal(t, "cursor", p["field"])
	p = requireProblem(t, c.do("GET", "/api/v1/deadletters?state=lost", "tok-admin", ""), 400, "bad-request")
	assert.Equal(t, "state", p["field"])
	requireProblem(t, c.do("GET", "/api/v1/deadletters?limit=0", "tok-admin", ""), 400, "bad-request")
	for _, tok := range []string{"tok-eng", "tok-agent", "tok-cust", "tok-disp"} {
		requireProblem(t, c.do("GET", "/api/v1/deadletters", tok, ""), 403, "forbidden")
		requireProblem(t, c.do("GET", "/api/v1/connectors", tok, ""), 403, "forbidden")
	}
	requireProblem(t, c.do("GET", "/api/v1/deadletters", "", ""), 401, "unauthorized")

	// The API mounts no intake of its own: the composition root does (Options.Edge).
	requireProblem(t, c.do("POST", "/ingest/hooks", "", `{}`), 404, "not-found")
}

func TestDeadLettersWithoutAPipelineAnswer503(t *testing.T) {
	c, _ := newIntakeServer(t, false)
	requireProblem(t, c.do("GET", "/api/v1/deadletters", "tok-admin", ""), 503, "unavailable")
	requireProblem(t, c.do("POST", "/api/v1/deadletters/DL-000001/replay", "tok-admin", ""), 503, "unavailable")
	r := c.do("GET", "/api/v1/connectors", "tok-admin", "")
	require.Equal(t, 200, r.status)
	assert.Equal(t, []any{}, r.json(t)["connectors"])
	requireProblem(t, c.do("POST", "/ingest/hooks", "", `{}`), 404, "not-found")
}
