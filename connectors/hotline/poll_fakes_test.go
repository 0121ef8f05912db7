package hotline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/hotline"
	"gongdan/draft"
	"gongdan/internal/cloudsign"
	"gongdan/internal/testkit"
)

// Fakes of the vendors' task APIs: each checks the signature of every request as the vendor
// would (a request that fails the check is counted and refused as the vendor refuses it) and
// answers each task's n-th call from a script.

// The credentials the fakes know; none may ever show in a log, an error or an answer.
const (
	iflytekAppID     = "5f2b7c9e"
	iflytekSecret    = "ifly-secret-0123456789abcdef"
	tencentSecretID  = "AKIDfakeTencent0123456789"
	tencentSecretKey = "tc-secret-0123456789abcdef"
	aliyunKeyID      = "LTAIfakeAliyun0123"
	aliyunKeySecret  = "aly-secret-0123456789abcdef"
)

var secrets = []string{iflytekSecret, tencentSecretKey, aliyunKeySecret}

// answer is a scripted answer: an HTTP status and a body.
type answer struct {
	status int
	body   string
}

type fakeVendor struct {
	srv *httptest.Server

	mu      sync.Mutex
	calls   map[string]int // by task id
	badSigs int
	script  func(taskID string, n int) answer
}

// newFake starts a vendor fake: verify checks a request and returns the task id it asks
// about (ok false: the signature is wrong, and refused is the vendor's answer to that).
func newFake(t *testing.T, verify func(r *http.Request, body []byte) (taskID string, ok bool, refused answer)) *fakeVendor {
	f := &fakeVendor{calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ok, refused := verify(r, body)
		f.mu.Lock()
		a := refused
		if ok {
			f.calls[id]++
			a = f.script(id, f.calls[id])
		} else {
			f.badSigs++
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVendor) setScript(s func(taskID string, n int) answer) {
	f.mu.Lock()
	f.script = s
	f.mu.Unlock()
}

func (f *fakeVendor) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeVendor) bad() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badSigs
}

// iFlytek getResult: POST /v2/api/getResult?signa&ts&appId&orderId&resultType.
func newIflytekFake(t *testing.T) *fakeVendor {
	return newFake(t, func(r *http.Request, _ []byte) (string, bool, answer) {
		q := r.URL.Query()
		ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
		ok := r.Method == http.MethodPost && r.URL.Path == "/v2/api/getResult" && err == nil &&
			q.Get("appId") == iflytekAppID && q.Get("signa") == hotline.IflytekSigna(iflytekAppID, iflytekSecret, ts) &&
			q.Get("resultType") == "transfer"
		return q.Get("orderId"), ok, answer{200, `{"code":"26601","descInfo":"非法应用信息"}`}
	})
}

// Tencent DescribeTaskStatus: POST / with {"TaskId": n}, TC3-HMAC-SHA256 over the body and the
// content-type and host headers.
func newTencentFake(t *testing.T) *fakeVendor {
	return newFake(t, func(r *http.Request, body []byte) (string, bool, answer) {
		ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		var req struct{ TaskId json.Number }
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		ok := r.Method == http.MethodPost && r.URL.Path == "/" && err == nil && dec.Decode(&req) == nil &&
			r.Header.Get("X-TC-Action") == "DescribeTaskStatus" && r.Header.Get("X-TC-Version") == "2019-06-14" &&
			r.Header.Get("Authorization") == cloudsign.TencentTC3Authorization(tencentSecretID, tencentSecretKey, "asr", r.Host, r.Header.Get("Content-Type"), ts, body)
		return req.TaskId.String(), ok, answer{200, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"r-bad"}}`}
	})
}

// Aliyun GetTaskResult: GET /?Action=GetTaskResult&…&Signature, HMAC-SHA1 over the sorted
// parameters.
func newAliyunFake(t *testing.T) *fakeVendor {
	return newFake(t, func(r *http.Request, _ []byte) (string, bool, answer) {
		q := r.URL.Query()
		params := map[string]string{}
		for k, v := range q {
			params[k] = v[0]
		}
		ok := r.Method == http.MethodGet && q.Get("Action") == "GetTaskResult" && q.Get("Version") == "2018-08-17" &&
			q.Get("AccessKeyId") == aliyunKeyID && q.Get("SignatureNonce") != "" &&
			q.Get("Signature") == cloudsign.AliyunPOPSignature(http.MethodGet, params, aliyunKeySecret)
		return q.Get("TaskId"), ok, answer{400, `{"RequestId":"r-bad","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}`}
	})
}

var (
	iflytekOrderID = regexp.MustCompile(`"orderId": "[^"]*"`)
	jsonTaskID     = regexp.MustCompile(`"TaskId": ("[^"]*"|\d+)`)
)

// iflytekBody is an iFlytek fixture with the order id set.
func iflytekBody(t *testing.T, fixtureName, orderID string) string {
	return iflytekOrderID.ReplaceAllString(string(fixture(t, fixtureName)), `"orderId": "`+orderID+`"`)
}

// tencentBody and aliyunBody are fixtures with the task id set.
func tencentBody(t *testing.T, fixtureName, taskID string) string {
	return jsonTaskID.ReplaceAllString(string(fixture(t, fixtureName)), `"TaskId": `+taskID)
}

func aliyunBody(t *testing.T, fixtureName, taskID string) string {
	return jsonTaskID.ReplaceAllString(string(fixture(t, fixtureName)), `"TaskId": "`+taskID+`"`)
}

// fakes are the three vendors' fakes of one test.
type fakes struct {
	iflytek, tencent, aliyun *fakeVendor
}

func newFakes(t *testing.T) fakes {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	t.Setenv("IFLYTEK_TEST_SECRET", iflytekSecret)
	t.Setenv("TENCENT_TEST_SECRET", tencentSecretKey)
	t.Setenv("ALIYUN_TEST_SECRET", aliyunKeySecret)
	return fakes{newIflytekFake(t), newTencentFake(t), newAliyunFake(t)}
}

// item is a hotline asking these fakes, with intervals short enough for tests; more is added
// at the end (a cdr section).
func (f fakes) item(more string) string {
	return fmt.Sprintf(`name: hotline
type: hotline
callback_token: ${HOTLINE_TEST_TOKEN}
iflytek:
  app_id: %s
  secret_key: ${IFLYTEK_TEST_SECRET}
  base_url: %s
  interval: 10ms
poll:
  tencent:
    secret_id: %s
    secret_key: ${TENCENT_TEST_SECRET}
    region: ap-shanghai
    endpoint: %s
  aliyun:
    access_key_id: %s
    access_key_secret: ${ALIYUN_TEST_SECRET}
    endpoint: %s
  interval: 10ms
  max_interval: 20ms
`, iflytekAppID, f.iflytek.srv.URL, tencentSecretID, f.tencent.srv.URL, aliyunKeyID, f.aliyun.srv.URL) + more
}

// syncBuffer is a log sink safe for the connector's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is one running hotline instance on a state directory.
type rig struct {
	t     *testing.T
	dir   string
	conn  connectors.Connector
	stats *connectors.Stats
	rec   *recorder
	logs  *syncBuffer
	stop  func()
}

var envIDs atomic.Int64

// build builds a hotline on dir (not running); publish nil records what is published.
func buildRig(t *testing.T, item, dir string, publish connectors.PublishFunc) *rig {
	t.Helper()
	r := &rig{t: t, dir: dir, rec: &recorder{}, logs: &syncBuffer{}, stats: &connectors.Stats{}, stop: func() {}}
	if publish == nil {
		publish = r.rec.publish
	}
	cfg, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile(item)), connectors.Global.Validate)
	require.NoError(t, err)
	r.conn, _, err = connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish: publish, Stats: r.stats, Location: shanghai, StateDir: dir,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    time.Now,
		NewID:  func() string { return fmt.Sprintf("env-%d", envIDs.Add(1)) },
	})
	require.NoError(t, err)
	return r
}

// start runs the rig's connector until stop (or the test's end).
func (r *rig) start() *rig {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.conn.Run(ctx); close(done) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			r.conn.Close(context.Background())
		})
	}
	r.t.Cleanup(r.stop)
	return r
}

// get and post send a request to the connector.
func (r *rig) get(target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	w := httptest.NewRecorder()
	r.conn.(http.Handler).ServeHTTP(w, req)
	return w
}

func (r *rig) post(target, contentType, body string) *httptest.ResponseRecorder {
	return send(r.conn, target, contentType, nil, []byte(body))
}

// notice sends iFlytek's completion notice for order, as iFlytek calls back.
func (r *rig) notice(order string, extra string) {
	r.t.Helper()
	w := r.get("/ingest/hotline?token=" + callbackToken + extra + "&orderId=" + order + "&status=1")
	require.Equal(r.t, http.StatusOK, w.Code, "%s", w.Body)
}

// tasks posts task ids and returns the answer.
func (r *rig) tasks(body string) *httptest.ResponseRecorder {
	return r.post("/ingest/hotline/tasks?token="+callbackToken, "application/json", body)
}

// await waits until n envelopes are published; no timing is asserted, only a deadline.
func (r *rig) await(n int) []draft.Envelope {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.rec.count() >= n }, 20*time.Second, 5*time.Millisecond,
		"waiting for %d envelopes; logs:\n%s", n, r.logs)
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	return append([]draft.Envelope(nil), r.rec.envs...)
}

// settled waits until no task is being asked about or published, and none waits on disk but
// those marked done.
func (r *rig) settled() {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		d := r.conn.(connectors.Detailer).Details().(hotline.Refusals)
		return d.Tasks != nil && len(d.Tasks.Waiting) == 0 && d.Tasks.Publishing == 0
	}, 20*time.Second, 5*time.Millisecond, "logs:\n%s", r.logs)
}

// states reads the kept tasks' states from disk.
func (r *rig) states() map[string]int {
	out := map[string]int{}
	entries, _ := os.ReadDir(filepath.Join(r.dir, "asr-tasks"))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, "asr-tasks", e.Name()))
		require.NoError(r.t, err)
		var s struct{ State string }
		require.NoError(r.t, json.Unmarshal(b, &s))
		out[s.State]++
	}
	return out
}

// normalize normalizes one envelope into its one draft.
func (r *rig) normalize(env draft.Envelope) draft.Draft {
	r.t.Helper()
	ds, err := r.conn.Normalizer().Normalize(env)
	require.NoError(r.t, err)
	require.Len(r.t, ds, 1)
	return ds[0]
}

// noSecrets checks that no credential shows in the logs, the last error or the details.
func (r *rig) noSecrets() {
	r.t.Helper()
	details, err := json.Marshal(r.conn.(connectors.Detailer).Details())
	require.NoError(r.t, err)
	st := r.stats.Snapshot("hotline", "hotline")
	for _, s := range secrets {
		require.NotContains(r.t, r.logs.String(), s, "a secret in the log")
		require.NotContains(r.t, st.LastError, s, "a secret in the last error")
		require.NotContains(r.t, string(details), s, "a secret in the details")
	}
}

// deadline and tick bound the waits for what runs in the background.
const deadline, tick = 20 * time.Second, 5 * time.Millisecond

// limits shortens iFlytek's facts for a test: its budget (0 keeps the 100 calls), retention
// ("" keeps 72 h), and a back-off of at most 20 ms.
func limits(t *testing.T, r *rig, maxCalls int, retention string) {
	t.Helper()
	if maxCalls == 0 {
		maxCalls = 100
	}
	keep := 72 * time.Hour
	if retention != "" {
		var err error
		keep, err = time.ParseDuration(retention)
		require.NoError(t, err)
	}
	hotline.SetVendorLimits(r.conn, hotline.FormatIflytek, maxCalls, keep, 20*time.Millisecond)
}
