package webhook_test

// Attacks on the webhook's intake (issue 17): a captured signed request sent again, a
// signature moved to another request, and a mapping whose key is shared by every request that
// lacks a field. Each test here fails on the webhook as it was before signatures covered a
// timestamp and keys failed loudly.

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/webhook"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/pipeline"
	"gongdan/pipeline/bus"
	"gongdan/pipeline/deadletter"
	"gongdan/problem"
)

// crmSigned is the CRM connector as the sample ships it: signed in the default mode.
const crmSigned = `name: crm
type: webhook
signature:
  secret: ` + testSecret + `
  prefix: "sha256="
dedup_header: X-Request-Id
mapping:
  dedup_key: 'payload.order_id != nil ? "crm/" + string(payload.order_id) : ""'
  title: payload.subject
`

// buildCounting builds like build, with envelope ids env-1, env-2, ….
func buildCounting(t testing.TB, yamlItem string, publish connectors.PublishFunc) (connectors.Connector, *connectors.Stats) {
	t.Helper()
	cfg, err := config.ParseWith("webhook.yaml", []byte(testkit.ConnectorFile(yamlItem)), connectors.Global.Validate)
	require.NoError(t, err)
	stats := &connectors.Stats{}
	var n atomic.Int64
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish: publish, Stats: stats, Location: shanghai,
		Now:   func() time.Time { return receivedAt },
		NewID: func() string { return fmt.Sprintf("env-%d", n.Add(1)) },
	})
	require.NoError(t, err)
	return conn, stats
}

// signedHeaders signs body as a sender does in mode timestamp, at ts, with the request id key.
func signedHeaders(ts time.Time, key, body string) map[string]string {
	t := strconv.FormatInt(ts.Unix(), 10)
	h := map[string]string{
		"Content-Type":        "application/json",
		"X-Gongdan-Timestamp": t,
		"X-Signature-256":     "sha256=" + hmacHex(testSecret, []byte(t+"."+key+"."+body)),
	}
	if key != "" {
		h["X-Request-Id"] = key
	}
	return h
}

func post(conn connectors.Connector, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/ingest/crm", strings.NewReader(body))
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
	require.NoError(t, stdjson.Unmarshal(w.Body.Bytes(), &p), "body: %s", w.Body)
	assert.NotContains(t, w.Body.String(), testSecret)
	return p
}

// The probe's replay: one captured signed request sent 7 times made 7 tickets. Now the first is
// taken, the 6 others are refused as replayed and counted, and one envelope is published.
func TestAReplayedSignedRequestIsRefused(t *testing.T) {
	rec := &recorder{}
	conn, stats := buildCounting(t, crmSigned, rec.publish)
	body := `{"order_id": 7781, "subject": "冷库压缩机停机"}`
	captured := signedHeaders(receivedAt.Add(-time.Minute), "req-1", body)
	require.Equal(t, http.StatusAccepted, post(conn, captured, body).Code)
	for i := 2; i <= 7; i++ {
		w := post(conn, captured, body)
		require.Equal(t, http.StatusConflict, w.Code, "replay %d: %s", i, w.Body)
		p := problemOf(t, w)
		assert.Equal(t, "/problems/replayed", p.Type)
		assert.Contains(t, p.Detail, "taken already")
	}
	assert.Len(t, rec.envs, 1, "one envelope for one request, however often it is replayed")
	assert.Equal(t, int64(7), stats.Received.Load())
	assert.Equal(t, int64(6), stats.Rejected.Load())
	assert.Equal(t, int64(6), conn.(connectors.Detailer).Details().(webhook.Status).RefusedByReason["replayed"])
}

// Copies of a captured request sent at once: one is taken.
func TestConcurrentReplaysTakeOne(t *testing.T) {
	rec := &recorder{}
	conn, _ := buildCounting(t, crmSigned, rec.publish)
	body := `{"order_id": 7781, "subject": "冷库压缩机停机"}`
	captured := signedHeaders(receivedAt, "req-1", body)
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for range 7 {
		wg.Go(func() {
			if post(conn, captured, body).Code == http.StatusAccepted {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), accepted.Load())
	assert.Len(t, rec.envs, 1)
}

// A request the bus did not take (503) is not remembered: the sender's retry of the very same
// request is taken.
func TestARequestNotStoredMayComeAgain(t *testing.T) {
	rec := &recorder{err: errors.New("bus down")}
	conn, _ := buildCounting(t, crmSigned, rec.publish)
	body := `{"order_id": 7781, "subject": "冷库压缩机停机"}`
	h := signedHeaders(receivedAt, "req-1", body)
	require.Equal(t, http.StatusServiceUnavailable, post(conn, h, body).Code)
	rec.mu.Lock()
	rec.err = nil
	rec.mu.Unlock()
	require.Equal(t, http.StatusAccepted, post(conn, h, body).Code)
	assert.Len(t, rec.envs, 1)
}

// A signature cannot be moved: not to a stale or future time, not to another idempotency key,
// and a signature of the body alone (what senders sent before) is refused in the default mode.
func TestSignatureAttacks(t *testing.T) {
	body := `{"order_id": 7781, "subject": "冷库压缩机停机"}`
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	good := signedHeaders(receivedAt, "req-1", body)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		detail  string
	}{
		{"stale timestamp, outside max_skew", signedHeaders(receivedAt.Add(-301*time.Second), "req-1", body), 401, "more than max_skew"},
		{"timestamp ahead, outside max_skew", signedHeaders(receivedAt.Add(301*time.Second), "req-1", body), 401, "more than max_skew"},
		{"signature over the body only", with(good, "X-Signature-256", "sha256="+hmacHex(testSecret, []byte(body))), 401, "does not match"},
		{"idempotency key swapped under a valid signature", with(good, "X-Request-Id", "req-2"), 401, "does not match"},
		{"idempotency key dropped", with(good, "X-Request-Id", ""), 401, "does not match"},
		{"fresh timestamp under an old signature", with(signedHeaders(receivedAt.Add(-time.Hour), "req-1", body), "X-Gongdan-Timestamp", strconv.FormatInt(receivedAt.Unix(), 10)), 401, "does not match"},
		{"no timestamp", with(good, "X-Gongdan-Timestamp", ""), 401, "X-Gongdan-Timestamp header is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			conn, stats := buildCounting(t, crmSigned, rec.publish)
			headers := map[string]string{}
			for k, v := range tc.headers {
				if v != "" {
					headers[k] = v
				}
			}
			w := post(conn, headers, body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			p := problemOf(t, w)
			assert.Equal(t, "/problems/bad-signature", p.Type)
			assert.Contains(t, p.Detail, tc.detail)
			assert.Empty(t, rec.envs)
			assert.Equal(t, int64(1), stats.Rejected.Load())
		})
	}
}

// In mode body the key header is not signed: a replayed body under new keys is taken, but it
// is the same request — its key is the body's SHA-256 — and makes one ticket.
func TestBodyModeReplaysMakeOneTicket(t *testing.T) {
	rec := &recorder{}
	conn, _ := buildCounting(t, "name: gh\ntype: webhook\nsignature: {secret: "+testSecret+", mode: body}\n", rec.publish)
	body := `{"title": "CI 构建机磁盘满"}`
	for i := range 7 {
		h := map[string]string{"Content-Type": "application/json", "X-Signature-256": hmacHex(testSecret, []byte(body)), "Idempotency-Key": fmt.Sprintf("forged-%d", i)}
		require.Equal(t, http.StatusAccepted, post(conn, h, body).Code)
	}
	keys := map[string]bool{}
	n := draft.NormalizerFunc(draft.FromJSON)
	for _, env := range rec.envs {
		ds, err := n.Normalize(env)
		require.NoError(t, err)
		keys[ds[0].DedupKey] = true
	}
	assert.Len(t, keys, 1, "one request, one dedup key: %v", keys)
	for k := range keys {
		assert.Contains(t, k, "sha256-")
	}
	// A dry run keys it the same way.
	envs, err := conn.(connectors.DryRunner).Sample([]byte(body), map[string]string{"Idempotency-Key": "dry-run"})
	require.NoError(t, err)
	assert.Equal(t, rec.envs[0].DedupKey, envs[0].DedupKey)
}

// Tokens: the sender proves who it is with Authorization: Bearer; nothing else is taken.
func TestWebhookTokens(t *testing.T) {
	rec := &recorder{}
	conn, _ := buildCounting(t, "name: erp\ntype: webhook\ntokens: [{name: erp-prod, token: "+testSecret+"}]\n", rec.publish)
	body := `{"title": "漏水"}`
	w := post(conn, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testSecret}, body)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	for _, auth := range []string{"", "Bearer not-the-token-at-all", "Bearer " + testSecret[:20]} {
		h := map[string]string{"Content-Type": "application/json"}
		if auth != "" {
			h["Authorization"] = auth
		}
		w := post(conn, h, body)
		require.Equal(t, http.StatusUnauthorized, w.Code, "Authorization %q", auth)
		assert.Equal(t, "/problems/unauthorized", problemOf(t, w).Type)
		assert.NotEmpty(t, w.Header().Get("WWW-Authenticate"))
	}
	assert.Len(t, rec.envs, 1)
	assert.NotContains(t, rec.envs[0].Headers, "authorization")
}

// An unauthenticated webhook says so, at its signature key, for validate and serve to refuse
// it beyond loopback; a signed or token one does not.
func TestOpenIntake(t *testing.T) {
	conn, _ := build(t, "name: hooks\ntype: webhook\n", nil)
	errs := conn.(connectors.OpenIntake).OpenIntake()
	require.Len(t, errs, 1)
	var ce *config.Error
	require.ErrorAs(t, errs[0], &ce)
	assert.Equal(t, "connectors[0].signature", ce.Path)
	assert.Equal(t, 2, ce.Line)
	assert.Contains(t, ce.Msg, "POST /ingest/hooks takes requests from anyone")
	for _, c := range []string{crmSigned, "name: erp\ntype: webhook\ntokens: [{name: erp, token: " + testSecret + "}]\n"} {
		conn, _ := build(t, c, nil)
		assert.Empty(t, conn.(connectors.OpenIntake).OpenIntake())
	}
}

// miniCore is the core as far as dedup goes: one ticket per dedup key.
type miniCore struct {
	mu     sync.Mutex
	keys   map[string]int
	drafts int
}

func (c *miniCore) take(_ context.Context, d draft.Draft) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[d.DedupKey]++
	c.drafts++
	return nil
}

func (c *miniCore) tickets() (tickets, drafts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys), c.drafts
}

// runPipeline runs the real pipeline on the memory bus for conn: what it publishes is
// normalized by its mapping and taken by a miniCore, or becomes a dead letter.
func runPipeline(t *testing.T, name string, conn connectors.Connector) (connectors.PublishFunc, *deadletter.Memory, *miniCore) {
	t.Helper()
	bus, err := bus.Open(context.Background(), bus.Config{Driver: bus.DriverMemory}, nil)
	require.NoError(t, err)
	dead, core := deadletter.NewMemory(), &miniCore{keys: map[string]int{}}
	p, err := pipeline.New(pipeline.Options{
		Bus: bus, DeadLetters: dead, Intake: core.take, RetryInterval: time.Millisecond,
		Sources: []pipeline.Source{{Name: name, Normalizer: conn.Normalizer()}},
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case <-p.Running():
	case err := <-done:
		t.Fatalf("pipeline: %v", err)
	}
	t.Cleanup(func() {
		assert.NoError(t, p.Close())
		<-done
		assert.NoError(t, bus.Close())
	})
	return p.Publish, dead, core
}

func waitDeadLetters(t *testing.T, dead *deadletter.Memory, n int) []deadletter.DeadLetter {
	t.Helper()
	var dls []deadletter.DeadLetter
	require.Eventually(t, func() bool {
		page, err := dead.DeadLetters(context.Background(), deadletter.Query{})
		dls = page.DeadLetters
		return err == nil && len(dls) >= n
	}, 30*time.Second, time.Millisecond, "want %d dead letters", n)
	return dls
}

// The probe's silent drop: with the mapping the CRM example shipped ('"crm/" +
// string(payload.order_id)'), every request without an order_id had the key "crm/<nil>": the
// first made a ticket and all the others were answered 202 and vanished as its duplicates, with
// no dead letter and no log line. Now each is a dead letter whose reason names the missing
// field: two requests, two dead letters, no ticket.
func TestAKeyOfAMissingFieldIsADeadLetter(t *testing.T) {
	var publish connectors.PublishFunc
	conn, _ := buildCounting(t, `name: crm
type: webhook
mapping:
  dedup_key: '"crm/" + string(payload.order_id)'
  title: payload.subject
`, func(ctx context.Context, env draft.Envelope) error { return publish(ctx, env) })
	var dead *deadletter.Memory
	var core *miniCore
	publish, dead, core = runPipeline(t, "crm", conn)
	for _, body := range []string{`{"subject": "门禁故障"}`, `{"subject": "空调不制冷"}`} {
		w := post(conn, map[string]string{"Content-Type": "application/json"}, body)
		require.Equal(t, http.StatusAccepted, w.Code, "the mapping runs in the pipeline: the request is taken")
	}
	dls := waitDeadLetters(t, dead, 2)
	assert.Len(t, dls, 2, "two requests, two dead letters")
	for _, dl := range dls {
		assert.Equal(t, "crm", dl.Connector)
		assert.Contains(t, dl.Error, "mapping dedup_key")
		assert.Contains(t, dl.Error, `"crm/<nil>"`)
		assert.Contains(t, dl.Error, "payload.order_id is missing")
		assert.Contains(t, dl.Error, `payload.order_id != nil ? "crm/" + string(payload.order_id) : ""`, "the fix is in the reason")
	}
	tickets, drafts := core.tickets()
	assert.Zero(t, tickets, "no ticket, and no request discarded as a duplicate")
	assert.Zero(t, drafts)
}

// The mapping as shipped now: a request without an order_id keeps its own key, so two of them
// are two tickets, and one with an order_id is keyed by it.
func TestTheShippedCRMMappingFallsBackToTheRequestsOwnKey(t *testing.T) {
	data, err := os.ReadFile("sample.yaml")
	require.NoError(t, err)
	crm := string(data[strings.Index(string(data), "- name: crm"):])
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(crm, "\n"), "\n") {
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "- "), "  ") + "\n")
	}
	t.Setenv("CRM_WEBHOOK_SECRET", testSecret)
	var publish connectors.PublishFunc
	conn, _ := buildCounting(t, b.String(), func(ctx context.Context, env draft.Envelope) error { return publish(ctx, env) })
	var core *miniCore
	publish, _, core = runPipeline(t, "crm", conn)
	for i, body := range []string{`{"subject": "门禁故障"}`, `{"subject": "空调不制冷"}`, `{"order_id": 7781, "subject": "冷库压缩机停机"}`} {
		w := post(conn, signedHeaders(receivedAt, fmt.Sprintf("req-%d", i), body), body)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	}
	require.Eventually(t, func() bool { _, drafts := core.tickets(); return drafts == 3 }, 30*time.Second, time.Millisecond)
	tickets, _ := core.tickets()
	assert.Equal(t, 3, tickets, "three requests, three tickets: %v", core.keys)
}

// A key that does not depend on the request passes the checks of its form (no nil, no
// "<nil>", nothing cut off after a separator) and is still one key for every request without
// the field: '"order-" + string(payload.order_id ?? "")' gave crm/order- to each, and every
// request after the first vanished as its duplicate (or joined its thread). A key the request
// gives the same value as a request that carries nothing is a dead letter naming the field;
// keys made of the request's fields or headers are taken.
func TestAKeyTheSameForEveryRequestIsADeadLetter(t *testing.T) {
	const subject = `"subject": "门禁故障"`
	cases := []struct {
		name, field, expr, body string
		headers                 map[string]string
		refused                 string // part of the dead letter; "" when taken
		want                    string // the mapped key or id, when taken (the pipeline namespaces keys later)
	}{
		{name: "a fallback that is a constant", field: "dedup_key", expr: `'"order-" + string(payload.order_id ?? "")'`,
			body: `{` + subject + `}`, refused: `gave "order-", the same as a request that carries nothing`},
		{name: "a number fallback", field: "thread_key", expr: `'string(payload.customer_no ?? 0)'`,
			body: `{` + subject + `}`, refused: `gave "0", the same as a request that carries nothing`},
		{name: "a number fallback, not a string", field: "dedup_key", expr: `'payload.customer_no ?? 0'`,
			body: `{` + subject + `}`, refused: `gave "0"`},
		{name: "an id fallback", field: "customer.id", expr: `'payload.contact?.id ?? "anonymous"'`,
			body: `{` + subject + `}`, refused: `gave "anonymous"`},
		// One thread for everything a single monitor sends: meant, and said in the config.
		{name: "a constant thread", field: "thread_key", expr: `'"everyone"'`,
			body: `{` + subject + `}`, want: "everyone"},
		// The field is there; the request merely takes the branch an empty one takes.
		{name: "a branch an empty request takes too", field: "thread_key", expr: `'payload.region == "east" ? "desk/east" : "desk/main"'`,
			body: `{"region": "west", ` + subject + `}`, want: "desk/main"},
		{name: "a header that is missing", field: "thread_key", expr: `'"form:" + headers.x_form_id'`,
			body: `{` + subject + `}`, refused: `"form:", with nothing after its separator`},

		{name: "the fallback's field present", field: "dedup_key", expr: `'"order-" + string(payload.order_id ?? "")'`,
			body: `{"order_id": 7781, ` + subject + `}`, want: "order-7781"},
		{name: "the number present", field: "thread_key", expr: `'string(payload.customer_no ?? 0)'`,
			body: `{"customer_no": 42, ` + subject + `}`, want: "42"},
		{name: "one field or another", field: "dedup_key", expr: `'payload.order_id ?? payload.ticket_no'`,
			body: `{"ticket_no": "T-9", ` + subject + `}`, want: "T-9"},
		{name: "a prefix and the field", field: "dedup_key", expr: `'"crm/" + string(payload.order_id)'`,
			body: `{"order_id": 7781, ` + subject + `}`, want: "crm/7781"},
		{name: "a header", field: "thread_key", expr: `'"form:" + headers.x_form_id'`,
			body: `{` + subject + `}`, headers: map[string]string{"X-Form-Id": "form-7"}, want: "form:form-7"},
		{name: "the request's own key", field: "dedup_key", expr: `'payload.order_id != nil ? "crm/" + string(payload.order_id) : ""'`,
			body: `{` + subject + `}`, want: "crm/env-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, _ := build(t, "name: crm\ntype: webhook\nkeep_headers: [X-Form-Id]\nmapping:\n  "+c.field+": "+c.expr+"\n  title: payload.subject\n", nil)
			drafts, err := normalizeWith(conn, []byte(c.body), c.headers)
			if c.refused != "" {
				require.Error(t, err, "drafts: %+v", drafts)
				assert.Contains(t, err.Error(), "mapping "+c.field)
				assert.Contains(t, err.Error(), c.refused)
				if strings.Contains(c.expr, "payload.") {
					assert.Contains(t, err.Error(), "is missing from this request", "names the field")
					assert.Contains(t, err.Error(), `: ""`, "says the fix")
				}
				return
			}
			require.NoError(t, err)
			require.Len(t, drafts, 1)
			d := drafts[0]
			got := map[string]string{"dedup_key": d.DedupKey, "thread_key": d.ThreadKey, "customer.id": d.Customer.ID}[c.field]
			assert.Equal(t, c.want, got)
		})
	}
}

// TestAConstantDedupKeyIsAConfigError: a dedup_key that reads nothing of the request is the
// same for every request, so validate refuses it at its line, before any request is dropped.
func TestAConstantDedupKeyIsAConfigError(t *testing.T) {
	_, err := config.ParseWith("webhook.yaml", []byte(testkit.ConnectorFile("name: crm\ntype: webhook\nmapping:\n  dedup_key: '\"line-3\"'\n  title: payload.subject\n")), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "webhook.yaml:5: connectors[0].mapping.dedup_key: reads nothing of the request")
}
