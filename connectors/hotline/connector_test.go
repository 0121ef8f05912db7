package hotline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/connectortest"
	"gongdan/connectors/hotline"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/problem"
)

const callbackToken = "cb-0123456789abcdef"

var shanghai = time.FixedZone("CST", 8*3600)

// genericCall is a call centre's own transcript, call i.
func genericCall(i int) []byte {
	return fmt.Appendf(nil, `{"call_id":"CC-%d","caller":"18612345678","started_at":"2026-11-23T09:42:00+08:00","turns":[
	 {"speaker":"agent","start_ms":0,"end_ms":3000,"text":"您好，工号3021为您服务"},
	 {"speaker":"customer","start_ms":3200,"end_ms":8000,"text":"你好，3号线急停按钮失灵了，第%d台"}]}`, i, i)
}

func TestConformance(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	connectortest.Run(t, connectortest.Harness{
		Config: "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n",
		Send:   connectortest.PostTo("token="+callbackToken, "application/json", http.StatusOK),
		Good:   func(i int) connectortest.Input { return connectortest.Input{Body: genericCall(i)} },
		// Tencent's failure is taken (Tencent must not call again) and kept as a dead letter
		// with Tencent's reason.
		Bad:      connectortest.Input{Body: []byte(`{"Response":{"RequestId":"r-1","Data":{"TaskId":42,"Status":3,"StatusStr":"failed","ErrorMsg":"audio decode failed"}}}`)},
		Rejected: &connectortest.Input{Body: []byte(`{"call_id": "CC-x", "turns": [`)},
	})
}

// build builds a hotline instance from a connectors: item, as serve does.
func build(t testing.TB, item string, publish connectors.PublishFunc) (connectors.Connector, *connectors.Stats) {
	t.Helper()
	return buildIn(t, item, publish, "")
}

// buildIn builds with stateDir as the instance's state directory.
func buildIn(t testing.TB, item string, publish connectors.PublishFunc, stateDir string) (connectors.Connector, *connectors.Stats) {
	t.Helper()
	cfg, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile(item)), connectors.Global.Validate)
	require.NoError(t, err)
	stats := &connectors.Stats{}
	var n atomic.Int64
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish: publish, Stats: stats, Location: shanghai, StateDir: stateDir, Logger: slog.New(slog.DiscardHandler),
		Now:   time.Now,
		NewID: func() string { return fmt.Sprintf("env-%d", n.Add(1)) },
	})
	require.NoError(t, err)
	return conn, stats
}

type recorder struct {
	mu   sync.Mutex
	envs []draft.Envelope
}

func (r *recorder) publish(_ context.Context, env draft.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.envs = append(r.envs, env)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.envs)
}

func send(conn connectors.Connector, target, contentType string, headers map[string]string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	conn.(http.Handler).ServeHTTP(w, req)
	return w
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	var p problem.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), "body: %s", w.Body)
	assert.NotContains(t, w.Body.String(), callbackToken, "a secret is never in an answer")
	return p
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// Tencent's callback is answered exactly as Tencent wants, once it is durable; anything else
// would make Tencent call again.
func TestTencentsCallbackIsAnsweredAsTencentWants(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	rec := &recorder{}
	conn, _ := build(t, "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\nagent_speaker: 0\n", rec.publish)
	w := send(conn, "/ingest/hotline?token="+callbackToken, "application/x-www-form-urlencoded", nil, fixture(t, "tencent/callback-detail.form"))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, hotline.TencentCallbackAnswer, w.Body.String())
	require.Equal(t, 1, rec.count())

	// Its failure is taken too, and answered the same: the dead letter has Tencent's reason.
	w = send(conn, "/ingest/hotline?token="+callbackToken, "application/x-www-form-urlencoded", nil, fixture(t, "tencent/callback-failed.form"))
	assert.Equal(t, hotline.TencentCallbackAnswer, w.Body.String())
	require.Equal(t, 2, rec.count())
	_, err := conn.Normalizer().Normalize(rec.envs[1])
	require.Error(t, err)
	assert.ErrorIs(t, err, hotline.ErrVendorFailed)

	// Not stored: not answered success, so Tencent calls again.
	conn, _ = build(t, "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n",
		func(context.Context, draft.Envelope) error { return fmt.Errorf("bus down") })
	w = send(conn, "/ingest/hotline?token="+callbackToken, "application/x-www-form-urlencoded", nil, fixture(t, "tencent/callback-detail.form"))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEqual(t, hotline.TencentCallbackAnswer, w.Body.String())
}

// Who may post, and what forged, oversized, malformed or foreign input does: refused with a
// problem that says why, counted, never published, no secret in the answer.
func TestAttacksOnTheHotline(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	t.Setenv("HOTLINE_TEST_BEARER", "bearer-0123456789abcdef")
	rec := &recorder{}
	conn, stats := build(t, `name: hotline
type: hotline
callback_token: ${HOTLINE_TEST_TOKEN}
tokens: [{name: pbx, token: "${HOTLINE_TEST_BEARER}"}]
max_body_bytes: 4096
`, rec.publish)
	ok := "/ingest/hotline?token=" + callbackToken
	big := fmt.Appendf(nil, `{"call_id":"CC-big","turns":[{"speaker":"customer","start_ms":0,"end_ms":1,"text":"%s"}]}`, strings.Repeat("急", 2000))
	for _, c := range []struct {
		name, target, ct string
		headers          map[string]string
		body             []byte
		status           int
		typ              string
	}{
		{"no credential", "/ingest/hotline", "application/json", nil, genericCall(1), 401, ""},
		{"a wrong URL token", "/ingest/hotline?token=cb-0123456789abcdeX", "application/json", nil, genericCall(1), 401, ""},
		{"another connector's token in the URL", "/ingest/hotline?token=" + "bearer-0123456789abcdef", "application/json", nil, genericCall(1), 401, ""},
		{"a wrong bearer", "/ingest/hotline", "application/json", map[string]string{"Authorization": "Bearer nope-0123456789abcdef"}, genericCall(1), 401, ""},
		{"oversized", ok, "application/json", nil, big, 413, "payload-too-large"},
		{"malformed JSON", ok, "application/json", nil, []byte(`{"call_id": `), 400, "malformed-body"},
		{"not an ASR result", ok, "application/json", nil, []byte(`{"title": "冷库不制冷"}`), 422, "not-an-asr-result"},
		{"an empty transcript", ok, "application/json", nil, []byte(`{"call_id":"CC-e","turns":[]}`), 422, ""},
		{"a task still running", ok, "application/json", nil, fixture(t, "tencent/describe-task-status-doing.json"), 422, "task-not-finished"},
		{"iFlytek's notice without the result", ok, "application/x-www-form-urlencoded", nil, fixture(t, "iflytek/callback-notice.form"), 422, ""},
		{"not JSON nor a form", ok, "application/xml", nil, []byte(`<xml/>`), 415, "unsupported-media-type"},
		{"another path", "/ingest/hotline/cdr?token=" + callbackToken, "application/json", nil, genericCall(1), 404, "not-found"},
	} {
		before := stats.Rejected.Load()
		w := send(conn, c.target, c.ct, c.headers, c.body)
		assert.Equal(t, c.status, w.Code, "%s: %s", c.name, w.Body)
		p := problemOf(t, w)
		if c.typ != "" {
			assert.Contains(t, p.Type, c.typ, c.name)
		}
		assert.NotEmpty(t, p.Detail, c.name)
		if c.status != 404 {
			assert.Equal(t, before+1, stats.Rejected.Load(), "%s is counted", c.name)
		}
	}
	assert.Zero(t, rec.count(), "nothing refused is published")

	// A GET is not taken.
	req := httptest.NewRequest(http.MethodGet, ok, nil)
	w := httptest.NewRecorder()
	conn.(http.Handler).ServeHTTP(w, req)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)

	// The bearer token and the URL token each prove the sender.
	assert.Equal(t, http.StatusOK, send(conn, ok, "application/json", nil, genericCall(2)).Code)
	assert.Equal(t, http.StatusOK, send(conn, "/ingest/hotline", "application/json",
		map[string]string{"Authorization": "Bearer bearer-0123456789abcdef"}, genericCall(3)).Code)
	assert.Equal(t, 2, rec.count())
}

// The same result sent twice (a vendor's retry, a replay of a captured callback) is the same
// call: its draft has the same dedup key, so the core makes one ticket.
func TestAReplayedResultIsOneCall(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	rec := &recorder{}
	conn, _ := build(t, "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n", rec.publish)
	for range 3 {
		require.Equal(t, http.StatusOK, send(conn, "/ingest/hotline?token="+callbackToken, "application/json", nil, fixture(t, "aliyun/hotline-two-channel.json")).Code)
	}
	keys := map[string]bool{}
	for _, env := range rec.envs {
		ds, err := conn.Normalizer().Normalize(env)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		keys[ds[0].DedupKey] = true
	}
	assert.Len(t, keys, 1, "one call, one key: %v", keys)
}

// Without a credential of any kind the hotline is open: validate says so at the key that would
// close it, and serve refuses it beyond loopback.
func TestAnOpenHotlineIsNamed(t *testing.T) {
	conn, _ := build(t, "name: hotline\ntype: hotline\n", (&recorder{}).publish)
	errs := conn.(connectors.OpenIntake).OpenIntake()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "callback_token")
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	conn, _ = build(t, "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n", (&recorder{}).publish)
	assert.Empty(t, conn.(connectors.OpenIntake).OpenIntake())
	// A short token is refused by validate.
	_, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile("name: hotline\ntype: hotline\ncallback_token: tiny-secret-x\n")), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "callback_token")
	assert.NotContains(t, err.Error(), "tiny-secret-x", "the secret is not echoed")
}
