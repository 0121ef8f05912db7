package webhook_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	stdjson "encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/connectortest"
	_ "gongdan/connectors/webhook"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/problem"
)

// send POSTs an input as JSON.
var send = connectortest.PostWith("application/json")

func hmacHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestConformance(t *testing.T) {
	t.Run("drafts", func(t *testing.T) {
		connectortest.Run(t, connectortest.Harness{
			Config: "name: hooks\ntype: webhook\n",
			Send:   send,
			Good: func(i int) connectortest.Input {
				return connectortest.Input{
					Body:    fmt.Appendf(nil, `{"title": "3号线急停按钮失灵 %d", "urgency": "orange"}`, i),
					Headers: map[string]string{"Idempotency-Key": fmt.Sprintf("order-%d", i)},
				}
			},
			Bad:      connectortest.Input{Body: []byte(`{"urgency": "red"}`)},
			Rejected: &connectortest.Input{Body: []byte(`{"title": `)},
		})
	})
	t.Run("mapping and signature", func(t *testing.T) {
		const secret = "0123456789abcdef-test"
		t.Setenv("CONNECTORTEST_SECRET", secret)
		// Signed as the sender signs: a timestamp, the request id, the body. A redelivery is
		// signed anew, a few seconds later, as a retry is.
		signed := func(body []byte, requestID string, age time.Duration) connectortest.Input {
			ts := strconv.FormatInt(time.Now().Add(-age).Unix(), 10)
			return connectortest.Input{Body: body, Headers: map[string]string{
				"X-Request-Id":        requestID,
				"X-Gongdan-Timestamp": ts,
				"X-Signature-256":     "sha256=" + hmacHex(secret, []byte(ts+"."+requestID+"."+string(body))),
			}}
		}
		connectortest.Run(t, connectortest.Harness{
			Config: `name: crm
type: webhook
signature:
  secret: "${CONNECTORTEST_SECRET}"
  prefix: "sha256="
dedup_header: X-Request-Id
mapping:
  dedup_key: 'payload.order_id != nil ? "crm/" + string(payload.order_id) : ""'
  title: payload.subject
  customer.phone: payload.contact?.mobile ?? ""
`,
			Send: send,
			Good: func(i int) connectortest.Input {
				return signed(fmt.Appendf(nil, `{"order_id": %d, "subject": "冷库压缩机停机"}`, 900000000000000000+i), fmt.Sprintf("req-%d", i), 10*time.Second)
			},
			// A retry of the CRM carries a new request id: the order id makes it one ticket.
			Redelivery: func(i int) connectortest.Input {
				return signed(fmt.Appendf(nil, `{"order_id": %d, "subject": "冷库压缩机停机"}`, 900000000000000000+i), fmt.Sprintf("retry-%d", i), 0)
			},
			Bad:      signed([]byte(`{"order_id": 1, "subject": {"text": "an object"}}`), "req-bad", 0),
			Rejected: &connectortest.Input{Body: []byte(`{"order_id": 2, "subject": "x"}`), Headers: map[string]string{"X-Signature-256": "sha256=00"}},
		})
	})
	t.Run("body signature, GitHub style", func(t *testing.T) {
		const secret = "0123456789abcdef-test"
		t.Setenv("CONNECTORTEST_SECRET", secret)
		signed := func(body []byte, delivery string) connectortest.Input {
			return connectortest.Input{Body: body, Headers: map[string]string{
				"X-GitHub-Delivery":   delivery,
				"X-Hub-Signature-256": "sha256=" + hmacHex(secret, body),
			}}
		}
		connectortest.Run(t, connectortest.Harness{
			Config: `name: gh
type: webhook
signature:
  secret: "${CONNECTORTEST_SECRET}"
  mode: body
  header: X-Hub-Signature-256
  prefix: "sha256="
dedup_header: X-GitHub-Delivery
`,
			Send: send,
			Good: func(i int) connectortest.Input {
				return signed(fmt.Appendf(nil, `{"title": "CI 构建机 %d 号磁盘满"}`, i), fmt.Sprintf("delivery-%d", i))
			},
			// The delivery id is not signed: a replay of the body under another one is still
			// the same request.
			Redelivery: func(i int) connectortest.Input {
				return signed(fmt.Appendf(nil, `{"title": "CI 构建机 %d 号磁盘满"}`, i), fmt.Sprintf("forged-%d", i))
			},
			Bad:      signed([]byte(`{"urgency": "red"}`), "bad"),
			Rejected: &connectortest.Input{Body: []byte(`{"title": "x"}`), Headers: map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex("another-secret-0123456", []byte(`{"title": "x"}`))}},
		})
	})
}

var update = flag.Bool("update", false, "rewrite connectors/webhook/testdata/*/expected.json from the mapping's output")

var shanghai = time.FixedZone("CST", 8*3600)

// receivedAt is when every request in these tests arrives.
var receivedAt = time.Date(2026, 11, 23, 9, 42, 3, 0, shanghai)

// build builds the webhook configured by yamlItem, as the server would, with a fixed clock and
// envelope ids.
func build(t testing.TB, yamlItem string, publish connectors.PublishFunc) (connectors.Connector, *connectors.Stats) {
	t.Helper()
	cfg, err := config.ParseWith("webhook.yaml", []byte(testkit.ConnectorFile(yamlItem)), connectors.Global.Validate)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	stats := &connectors.Stats{}
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish:  publish,
		Stats:    stats,
		Now:      func() time.Time { return receivedAt },
		Location: shanghai,
		NewID:    func() string { return "env-1" },
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return conn, stats
}

// recorder keeps what was published.
type recorder struct {
	mu   sync.Mutex
	envs []draft.Envelope
	err  error
}

func (r *recorder) publish(_ context.Context, env draft.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.envs = append(r.envs, env)
	return nil
}

const testSecret = "s3cret-0123456789abcdef"

func TestHTTP(t *testing.T) {
	const plain = "name: hooks\ntype: webhook\nmax_body_bytes: 64\nkeep_headers: [User-Agent, X-Request-Id, X-Trace]\n"
	// Signatures of the body alone (mode body): how the header is read, GitHub's style. Mode
	// timestamp has tests of its own below.
	hexSigned := "name: signed\ntype: webhook\nsignature:\n  secret: " + testSecret + "\n  mode: body\n  prefix: \"sha256=\"\n"
	b64Signed := "name: signed\ntype: webhook\nsignature:\n  secret: " + testSecret + "\n  mode: body\n  header: X-Hub-Signature\n  encoding: base64\n"
	body := `{"title": "漏水"}`
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(body))
	sum := mac.Sum(nil)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := maps.Clone(h)
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name        string
		config      string
		method      string
		headers     map[string]string
		body        string
		publishErr  error
		wantStatus  int
		wantType    string // problem type; empty for 202
		wantInError string
	}{
		{name: "draft", config: plain, headers: jsonCT, body: body, wantStatus: 202},
		{name: "charset and +json", config: plain, headers: map[string]string{"Content-Type": "application/vnd.crm+json; charset=utf-8"}, body: body, wantStatus: 202},
		{name: "no content type", config: plain, headers: map[string]string{}, body: body, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "text/plain", config: plain, headers: map[string]string{"Content-Type": "text/plain"}, body: body, wantStatus: 415, wantType: "unsupported-media-type", wantInError: "text/plain"},
		{name: "bad media type", config: plain, headers: map[string]string{"Content-Type": "application/"}, body: body, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "malformed JSON", config: plain, headers: jsonCT, body: `{"title": `, wantStatus: 400, wantType: "malformed-json", wantInError: "malformed JSON"},
		{name: "empty body", config: plain, headers: jsonCT, body: ``, wantStatus: 400, wantType: "malformed-json"},
		{name: "array", config: plain, headers: jsonCT, body: `[{"title": "漏水"}]`, wantStatus: 400, wantType: "malformed-json", wantInError: "one JSON object"},
		{name: "string", config: plain, headers: jsonCT, body: `"漏水"`, wantStatus: 400, wantType: "malformed-json", wantInError: "one JSON object"},
		{name: "number", config: plain, headers: jsonCT, body: `42`, wantStatus: 400, wantType: "malformed-json"},
		{name: "null", config: plain, headers: jsonCT, body: `null`, wantStatus: 400, wantType: "malformed-json"},
		{name: "two objects", config: plain, headers: jsonCT, body: `{} {}`, wantStatus: 400, wantType: "malformed-json"},
		{name: "over max_body_bytes", config: plain, headers: jsonCT, body: `{"title": "` + strings.Repeat("x", 64) + `"}`, wantStatus: 413, wantType: "payload-too-large", wantInError: "64 bytes"},
		{name: "dedup header too long", config: plain, headers: with(jsonCT, "Idempotency-Key", strings.Repeat("k", 201)), body: body, wantStatus: 400, wantType: "bad-request", wantInError: "Idempotency-Key"},
		{name: "GET", config: plain, method: http.MethodGet, headers: jsonCT, wantStatus: 405, wantType: "method-not-allowed"},
		{name: "publish fails", config: plain, headers: jsonCT, body: body, publishErr: errors.New("bus down"), wantStatus: 503, wantType: "unavailable", wantInError: "retry"},

		{name: "hex signature", config: hexSigned, headers: with(jsonCT, "X-Signature-256", "sha256="+hex.EncodeToString(sum)), body: body, wantStatus: 202},
		{name: "hex signature in capitals", config: hexSigned, headers: with(jsonCT, "X-Signature-256", "sha256="+strings.ToUpper(hex.EncodeToString(sum))), body: body, wantStatus: 202},
		{name: "signature missing", config: hexSigned, headers: jsonCT, body: body, wantStatus: 401, wantType: "bad-signature", wantInError: "no credential"},
		{name: "signature without prefix", config: hexSigned, headers: with(jsonCT, "X-Signature-256", hex.EncodeToString(sum)), body: body, wantStatus: 401, wantType: "bad-signature", wantInError: "sha256="},
		{name: "signature not hex", config: hexSigned, headers: with(jsonCT, "X-Signature-256", "sha256=zz"+hex.EncodeToString(sum)[2:]), body: body, wantStatus: 401, wantType: "bad-signature", wantInError: "not hex"},
		{name: "signature wrong", config: hexSigned, headers: with(jsonCT, "X-Signature-256", "sha256="+strings.Repeat("00", 32)), body: body, wantStatus: 401, wantType: "bad-signature", wantInError: "does not match"},
		{name: "signature of another body", config: hexSigned, headers: with(jsonCT, "X-Signature-256", "sha256="+hex.EncodeToString(sum)), body: `{"title": "漏水!"}`, wantStatus: 401, wantType: "bad-signature"},
		{name: "base64 signature", config: b64Signed, headers: with(jsonCT, "X-Hub-Signature", base64.StdEncoding.EncodeToString(sum)), body: body, wantStatus: 202},
		{name: "base64 signature not base64", config: b64Signed, headers: with(jsonCT, "X-Hub-Signature", "!!"+base64.StdEncoding.EncodeToString(sum)), body: body, wantStatus: 401, wantType: "bad-signature", wantInError: "not base64"},
		{name: "base64 signature as hex", config: b64Signed, headers: with(jsonCT, "X-Hub-Signature", hex.EncodeToString(sum)), body: body, wantStatus: 401, wantType: "bad-signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.publishErr}
			conn, stats := build(t, tt.config, rec.publish)
			method := cmp.Or(tt.method, http.MethodPost)
			req := httptest.NewRequest(method, "/ingest/x", strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			conn.(http.Handler).ServeHTTP(w, req)
			require.Equal(t, tt.wantStatus, w.Code, "body: %s", w.Body)
			if tt.wantStatus == http.StatusAccepted {
				assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
				var got map[string]string
				require.NoError(t, stdjson.Unmarshal(w.Body.Bytes(), &got))
				name := strings.TrimPrefix(strings.SplitN(tt.config, "\n", 2)[0], "name: ")
				assert.Equal(t, map[string]string{"envelope_id": "env-1", "connector": name}, got)
				require.Len(t, rec.envs, 1)
				env := rec.envs[0]
				assert.Equal(t, "env-1", env.ID)
				assert.Equal(t, name, env.Connector)
				assert.Equal(t, "webhook", env.ConnectorType)
				assert.Equal(t, draft.TypeDraft, env.Type)
				assert.True(t, env.ReceivedAt.Equal(receivedAt))
				assert.Equal(t, tt.body, string(env.Payload), "the payload is kept byte for byte")
				assert.Equal(t, int64(1), stats.Received.Load())
				assert.Zero(t, stats.Rejected.Load())
				return
			}
			assert.Empty(t, rec.envs, "nothing is published for a refused request")
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			var p problem.Problem
			require.NoError(t, stdjson.Unmarshal(w.Body.Bytes(), &p), "body: %s", w.Body)
			assert.Equal(t, "/problems/"+tt.wantType, p.Type)
			assert.Equal(t, tt.wantStatus, p.Status)
			assert.NotEmpty(t, p.Title)
			assert.Contains(t, p.Detail, tt.wantInError)
			assert.NotContains(t, w.Body.String(), testSecret)
			switch tt.wantStatus {
			case http.StatusMethodNotAllowed:
				assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
				assert.Zero(t, stats.Received.Load(), "a GET is not an input")
			case http.StatusServiceUnavailable:
				assert.NotEmpty(t, w.Header().Get("Retry-After"))
				assert.Zero(t, stats.Rejected.Load(), "a bus failure is not the sender's fault")
				assert.Zero(t, stats.Published.Load())
			default:
				assert.Equal(t, int64(1), stats.Received.Load())
				assert.Equal(t, int64(1), stats.Rejected.Load())
			}
		})
	}
}

// The kept headers are the ones listed, under their variable names, and never credentials or
// the signature, whatever the request sends.
func TestKeptHeaders(t *testing.T) {
	rec := &recorder{}
	conn, _ := build(t, `name: signed
type: webhook
signature:
  secret: `+testSecret+`
  mode: body
keep_headers: [User-Agent, X-Request-Id, x-trace]
`, rec.publish)
	body := `{"title": "漏水"}`
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(body))
	req := httptest.NewRequest(http.MethodPost, "/ingest/signed", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature-256", hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Authorization", "Bearer top-secret-token")
	req.Header.Set("Cookie", "session=top-secret")
	req.Header.Set("User-Agent", "crm/1.0")
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set("X-Trace", "trace-9")
	req.Header.Set("X-Other", "not kept")
	w := httptest.NewRecorder()
	conn.(http.Handler).ServeHTTP(w, req)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, rec.envs, 1)
	assert.Equal(t, map[string]string{"user_agent": "crm/1.0", "x_request_id": "req-1", "x_trace": "trace-9"}, rec.envs[0].Headers)
	raw, err := stdjson.Marshal(rec.envs[0])
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "top-secret")
	assert.NotContains(t, string(raw), hex.EncodeToString(mac.Sum(nil)))
}

// golden is one testdata/<case>: a connector item, a payload, optional headers, and the
// drafts (or the error) the mapping makes of them.
type golden struct {
	dir     string
	config  string
	input   []byte
	headers map[string]string
}

func goldenCases(t testing.TB) []golden {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []golden
	for _, c := range dirs {
		dir := filepath.Dir(c)
		g := golden{dir: dir}
		cfg, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		g.config = string(cfg)
		if g.input, err = os.ReadFile(filepath.Join(dir, "input.json")); err != nil {
			t.Fatal(err)
		}
		if h, err := os.ReadFile(filepath.Join(dir, "headers.json")); err == nil {
			if err := stdjson.Unmarshal(h, &g.headers); err != nil {
				t.Fatalf("%s/headers.json: %v", dir, err)
			}
		}
		out = append(out, g)
	}
	return out
}

// normalizeWith runs payload through the connector as the pipeline would: the envelope its
// Sample makes, and its normalizer (the draft normalizer when it has no mapping).
func normalizeWith(conn connectors.Connector, payload []byte, headers map[string]string) ([]draft.Draft, error) {
	envs, err := conn.(connectors.DryRunner).Sample(payload, headers)
	if err != nil {
		return nil, err
	}
	n := conn.Normalizer()
	var drafts []draft.Draft
	for _, env := range envs {
		// Through JSON, as over the bus.
		raw, err := stdjson.Marshal(env)
		if err != nil {
			return nil, err
		}
		var back draft.Envelope
		if err := stdjson.Unmarshal(raw, &back); err != nil {
			return nil, err
		}
		ds, err := n.Normalize(back)
		if err != nil {
			return nil, err
		}
		drafts = append(drafts, ds...)
	}
	return drafts, nil
}

// TestGolden maps testdata/<case>/input.json with testdata/<case>/config.yaml and compares the
// drafts with expected.json, which is either the drafts or {"error": "<part of the message>"}.
// After a deliberate change run `go test ./connectors/webhook -run TestGolden -update` and
// review the diff (an error case then holds the whole message; trim it back to the part that
// matters).
func TestGolden(t *testing.T) {
	cases := goldenCases(t)
	require.GreaterOrEqual(t, len(cases), 10, "golden cases missing")
	for _, g := range cases {
		t.Run(filepath.Base(g.dir), func(t *testing.T) {
			conn, _ := build(t, g.config, nil)
			drafts, normErr := normalizeWith(conn, g.input, g.headers)
			var got []byte
			if normErr != nil {
				got, _ = stdjson.MarshalIndent(map[string]string{"error": normErr.Error()}, "", "  ")
			} else {
				for _, d := range drafts {
					require.NoError(t, d.Validate(), "a draft the mapping returns must be valid")
				}
				got, _ = stdjson.MarshalIndent(drafts, "", "  ")
			}
			got = append(got, '\n')
			expectedPath := filepath.Join(g.dir, "expected.json")
			if *update {
				require.NoError(t, os.WriteFile(expectedPath, got, 0o644))
			}
			want, err := os.ReadFile(expectedPath)
			require.NoError(t, err, "run with -update to create it, then review it")
			var wantErr struct {
				Error *string `json:"error"`
			}
			if stdjson.Unmarshal(want, &wantErr) == nil && wantErr.Error != nil {
				require.Error(t, normErr, "want an error containing %q; got drafts %s", *wantErr.Error, got)
				assert.Contains(t, normErr.Error(), *wantErr.Error)
				return
			}
			require.NoError(t, normErr)
			assert.JSONEq(t, string(want), string(got))
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		line   int
		path   string
		msg    string
	}{
		{
			name:   "mapping key that is no draft field",
			config: "connectors:\n  - name: crm\n    type: webhook\n    mapping:\n      title: payload.subject\n      titel: payload.subject\n",
			line:   6, path: "connectors[0].mapping.titel", msg: `"titel" is not a draft field`,
		},
		{
			name:   "nested draft field that is not mappable",
			config: "connectors:\n  - name: crm\n    type: webhook\n    mapping:\n      customer.fax: payload.fax\n",
			line:   5, path: "connectors[0].mapping.customer.fax", msg: "is not a draft field",
		},
		{
			name:   "expression that does not compile",
			config: "connectors:\n  - name: crm\n    type: webhook\n    mapping:\n      title: payload.subject +\n",
			line:   5, path: "connectors[0].mapping.title", msg: "does not compile",
		},
		{
			name:   "misspelt variable",
			config: "connectors:\n  - name: crm\n    type: webhook\n    mapping:\n      title: payload.subject\n\n      description: paylod.x\n",
			line:   7, path: "connectors[0].mapping.description", msg: "paylod",
		},
		{
			name:   "the wall clock is not available",
			config: "connectors:\n  - name: crm\n    type: webhook\n    mapping:\n      title: payload.subject\n      occurred_at: now()\n",
			line:   6, path: "connectors[0].mapping.occurred_at", msg: "does not compile",
		},
		{
			name:   "signature secret under 16 characters",
			config: "connectors:\n  - name: crm\n    type: webhook\n    signature:\n      header: X-Sig\n      secret: abc123xyz\n",
			line:   6, path: "connectors[0].signature.secret", msg: "at least 16 characters",
		},
		{
			name:   "signature without a secret",
			config: "connectors:\n  - name: crm\n    type: webhook\n    signature:\n      header: X-Sig\n",
			line:   5, path: "connectors[0].signature.secret", msg: "required",
		},
		{
			name:   "keep_headers with Authorization",
			config: "connectors:\n  - name: crm\n    type: webhook\n    keep_headers: [User-Agent, authorization]\n",
			line:   4, path: "connectors[0].keep_headers", msg: "authorization carries a credential",
		},
		{
			name:   "keep_headers with the signature header",
			config: "connectors:\n  - name: crm\n    type: webhook\n    signature: {secret: " + testSecret + "}\n    keep_headers: [X-Signature-256]\n",
			line:   5, path: "connectors[0].keep_headers", msg: "X-Signature-256 carries a credential",
		},
		{
			name:   "unknown signature encoding",
			config: "connectors:\n  - name: crm\n    type: webhook\n    signature: {secret: " + testSecret + ", encoding: base32}\n",
			line:   4, path: "connectors[0].signature.encoding", msg: `"base32" is not one of: hex, base64`,
		},
		{
			name:   "max_body_bytes over the maximum",
			config: "connectors:\n  - name: crm\n    type: webhook\n    max_body_bytes: 1000000000\n",
			line:   4, path: "connectors[0].max_body_bytes", msg: "above the maximum",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("webhook.yaml", []byte(tt.config), connectors.Global.Validate)
			var errs config.Errors
			require.ErrorAs(t, err, &errs)
			for _, e := range errs {
				assert.Equal(t, "webhook.yaml", e.File)
				assert.NotContains(t, e.Msg, testSecret)
				assert.NotContains(t, e.Msg, "abc123xyz")
			}
			for _, e := range errs {
				if e.Line == tt.line && e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("want webhook.yaml:%d: %s: …%s…; got\n%v", tt.line, tt.path, tt.msg, err)
		})
	}
}

// The sample file is what the docs show: it must validate.
func TestSampleValidates(t *testing.T) {
	t.Setenv("CRM_WEBHOOK_SECRET", testSecret)
	var b strings.Builder
	b.WriteString("connectors:\n")
	data, err := os.ReadFile("sample.yaml")
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	cfg, err := config.ParseWith("sample.yaml", []byte(b.String()), connectors.Global.Validate)
	require.NoError(t, err)
	assert.Len(t, cfg.Connectors, 2)
}

// FuzzMapping: whatever JSON arrives, the mapping either fails with an error or makes drafts
// that are valid; it never panics.
func FuzzMapping(f *testing.F) {
	for _, g := range goldenCases(f) {
		f.Add(g.input)
	}
	for _, s := range []string{`{}`, `{"order_id": 1e400}`, `{"order_id": -0}`, `{"site": {"lat": "NaN"}}`, `{"labels": [[]]}`,
		`{"subject": "x", "created_at": -99999999999999999}`, `{"subject": "x", "created_at": 1e300}`, `{"subject": "` + strings.Repeat("长", 300) + `"}`, `{"contact": null}`} {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"subject": "x", "at": -99999999999999999}`, `{"subject": "x", "at": 1e300}`, `{"subject": "x", "at": -1e300}`,
		`{"subject": "x", "lat": "NaN"}`, `{"subject": "x", "lon": 1e309}`, `{"id": 12345678901234567890, "body": "y"}`, `{"subject": "x", "urgency": "RED"}`} {
		f.Add([]byte(s))
	}
	// Every kind of setter, each straight from the payload, so that most inputs get through
	// the expressions to the setters and Validate.
	conn, _ := build(f, `name: fuzz
type: webhook
mapping:
  dedup_key: 'payload.id == nil ? "" : "fuzz/" + string(payload.id)'
  title: payload.subject ?? payload.title
  description: payload.body
  urgency: payload.urgency
  tags: payload.labels
  occurred_at: payload.at ?? payload.created_at
  location.lat: payload.lat ?? payload.site?.lat
  location.lon: payload.lon
  customer.phone: payload.contact?.mobile
  device.id: payload.serial
`, nil)
	n := conn.Normalizer()
	f.Fuzz(func(t *testing.T, payload []byte) {
		env := draft.Envelope{ID: "env-1", Connector: "crm", ConnectorType: "webhook", Type: "webhook.json", ReceivedAt: receivedAt, Payload: payload}
		drafts, err := n.Normalize(env)
		if err != nil {
			if len(drafts) > 0 {
				t.Fatalf("drafts and an error: %v", err)
			}
			return
		}
		if len(drafts) != 1 {
			t.Fatalf("a mapping makes one draft, got %d", len(drafts))
		}
		if err := drafts[0].Validate(); err != nil {
			t.Fatalf("invalid draft %+v: %v", drafts[0], err)
		}
		// The pipeline puts the draft on the bus as JSON.
		if _, err := stdjson.Marshal(drafts[0]); err != nil {
			t.Fatalf("draft %+v does not marshal: %v", drafts[0], err)
		}
	})
}

// FuzzEnvelope: whatever body arrives, the handler answers 202 or a 4xx problem, and never
// panics.
func FuzzEnvelope(f *testing.F) {
	for _, g := range goldenCases(f) {
		f.Add(g.input)
	}
	for _, s := range []string{``, `{`, `[]`, `null`, `{} {}`, `{"a":1}` + "\x00", "\xff\xfe{}", strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
	rec := &recorder{}
	conn, _ := build(f, "name: hooks\ntype: webhook\nmax_body_bytes: 4096\n", rec.publish)
	h := conn.(http.Handler)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/ingest/hooks", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusAccepted:
			if !stdjson.Valid(body) {
				t.Fatalf("202 for a body that is not JSON: %q", body)
			}
		case w.Code >= 400 && w.Code < 500:
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("a %d as %q", w.Code, ct)
			}
			var p problem.Problem
			if err := stdjson.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || !strings.HasPrefix(p.Type, "/problems/") {
				t.Fatalf("a %d with a body that is no problem: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
	})
}
