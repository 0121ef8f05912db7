package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/hotline"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// The hotline example validates, and its cases (one per vendor's format) pass as a user runs
// them: gongdan test --config configs/examples/hotline.yaml configs/examples/hotline-tests.
func TestTheHotlineExampleAndItsCases(t *testing.T) {
	t.Setenv("HOTLINE_CALLBACK_TOKEN", "dryrun-0123456789")
	t.Setenv("CALLCENTER_SECRET", "dryrun-0123456789")
	code, out, errOut := runCLI(t, "validate", "--config", "../../configs/examples/hotline.yaml")
	require.Equal(t, 0, code, out+errOut)
	code, out, errOut = runCLI(t, "test", "--config", "../../configs/examples/hotline.yaml", "../../configs/examples/hotline-tests")
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "6 passed, 0 failed")
}

const hotlineToken = "cb-0123456789abcdef"

// startHotlineServer serves a hotline connector with the callback token, on SQLite and the
// embedded bus under dir.
func startHotlineServer(t *testing.T, dir, addr string) *child {
	t.Helper()
	return startHotlineServerWith(t, dir, addr, "")
}

// startHotlineServerWith adds section to the hotline connector's keys.
func startHotlineServerWith(t *testing.T, dir, addr, section string) *child {
	t.Helper()
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `server:
  http: %s
  tokens: [{token: %s, actor: admin-1, role: admin}]
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - name: hotline
    type: hotline
    callback_token: %s
%s
normalize:
  device_patterns: ['\bE\d{9}\b', 'SN-\d{4}-\d{4}']
`, addr, ocrAdmin, hotlineToken, section), 0o600))
	srv := startChild(t, "serve", "--config", path, "--data", dir)
	srv.waitReady(addr)
	return srv
}

// aliyunResult is Aliyun's GetTaskResult of a call, task id task, the agent on channel 0.
func aliyunResult(task string, customer ...string) string {
	type sentence struct {
		ChannelId          int
		BeginTime, EndTime int64
		Text               string
	}
	ss := []sentence{{0, 300, 4000, "您好，工号3021，很高兴为您服务，请问有什么可以帮您？"}}
	at := int64(4300)
	for i, c := range customer {
		ss = append(ss, sentence{1, at, at + 4000, c})
		at += 4300
		if i == 0 {
			ss = append(ss, sentence{0, at, at + 2000, "好的，请问您的联系电话？"})
			at += 2300
		}
	}
	b, _ := json.Marshal(map[string]any{"TaskId": task, "StatusCode": 21050000, "StatusText": "SUCCESS", "Result": map[string]any{"Sentences": ss}})
	return string(b)
}

// A call becomes a ticket; the vendor's retry of the same callback after the server was killed
// -9 right after answering makes no second one; a second call from the same number about the
// same fault within the thread window joins it as a chase (催单, two calls), with both calls'
// transcripts kept.
func TestHotlineCallsThroughTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gongdan serve")
	}
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startHotlineServer(t, dir, addr)
	post := func(base, body string) int {
		status, b, err := call("POST", base+"/ingest/hotline?token="+hotlineToken, "", body)
		require.NoError(t, err)
		require.Equal(t, 200, status, "%s", b)
		return status
	}
	first := aliyunResult("task-0001", "喂，你好，我们小区3号楼的电梯困人了", "我的电话是一八六 幺二三四 五六七八")
	post(srv.url, first)
	srv.kill() // -9, right after the 200: the result was durable before it was answered

	srv = startHotlineServer(t, dir, addr)
	post(srv.url, first) // Aliyun calls back again: the same call
	second := aliyunResult("task-0002", "又是我，小区3号楼电梯又困人了，怎么还没人来", "电话一八六 幺二三四 五六七八")
	post(srv.url, second)

	tks := waitTickets(t, srv.url, 1)
	require.Eventually(t, func() bool {
		all, err := listTickets(srv.url, ocrAdmin)
		return err == nil && len(all) == 1 && all[0].Calls == 2
	}, 90*time.Second, 100*time.Millisecond, "both calls in one ticket")
	all, err := listTickets(srv.url, ocrAdmin)
	require.NoError(t, err)
	require.Len(t, all, 1, "one ticket: %v", tks)
	tk := all[0]
	assert.Equal(t, "18612345678", tk.Customer.Phone)
	assert.Equal(t, draft.UrgencyRed, tk.Urgency)
	assert.Contains(t, tk.Tags, ticket.TagChased)
	assert.Contains(t, tk.Tags, hotline.TagAgitated, "怎么还没人来")
	require.Len(t, tk.Sources, 2)
	for _, s := range tk.Sources {
		assert.Equal(t, "hotline", s.Source.Connector)
		assert.NotEmpty(t, s.Turns)
		assert.Equal(t, draft.RoleAgent, s.Turns[0].Role)
	}
}

// A transcript waits for its call record; gongdan is killed -9 between the two; the record is
// posted to the restarted server: one ticket, with the record's fields.
func TestACallJoinsItsRecordAcrossAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gongdan serve")
	}
	const cdr = `    cdr:
      mapping:
        call_id: payload.session_id
        caller: payload.caller
        agent_id: string(payload.agent_id)
        recording_url: payload.record_url
    cdr_wait: 10m`
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startHotlineServerWith(t, dir, addr, cdr)
	status, b, err := call("POST", srv.url+"/ingest/hotline?token="+hotlineToken+"&call_id=S-7", "",
		aliyunResult("task-0007", "你好，我家冰箱不制冷了", "好的谢谢"))
	require.NoError(t, err)
	require.Equal(t, 200, status, "%s", b)
	srv.kill()

	srv = startHotlineServerWith(t, dir, addr, cdr)
	status, b, err = call("POST", srv.url+"/ingest/hotline/cdr?token="+hotlineToken, "",
		`{"session_id":"S-7","caller":"13912345678","agent_id":3021,"record_url":"https://pbx.example.cn/r/S-7.wav"}`)
	require.NoError(t, err)
	require.Equal(t, 200, status, "%s", b)
	waitTickets(t, srv.url, 1)
	all, err := listTickets(srv.url, ocrAdmin)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, "13912345678", all[0].Customer.Phone, "the record's caller")
	assert.Equal(t, []draft.Attachment{{Kind: "recording", URI: "https://pbx.example.cn/r/S-7.wav"}}, all[0].Attachments)
	assert.Equal(t, "我家冰箱不制冷了", all[0].Title)
}

// The bench's calls are calls as the hotline reads them: the number, the serial and the
// urgency come out of the customer's words, so the bench measures the whole of the work.
func TestTheBenchsCallsAreRealCalls(t *testing.T) {
	t.Setenv("HOTLINE_CALLBACK_TOKEN", "dryrun-0123456789")
	t.Setenv("CALLCENTER_SECRET", "dryrun-0123456789")
	path, data := "../../configs/examples/hotline.yaml", t.TempDir()
	cfg, err := (&configFlags{path: &path, dataDir: &data}).load()
	require.NoError(t, err)
	dr, err := newDryRunner(cfg, time.Date(2026, 11, 23, 9, 50, 0, 0, time.Local))
	require.NoError(t, err)
	drafts, err := dr.drafts("hotline", []byte(benchCall(7)), nil)
	require.NoError(t, err)
	require.Len(t, drafts, 1)
	d := drafts[0]
	assert.Equal(t, "13900000007", d.Customer.Phone)
	assert.Equal(t, "E202400007", d.Device.ID)
	assert.Equal(t, draft.UrgencyRed, d.Urgency)
	assert.Len(t, d.Turns, 120)
	assert.Equal(t, "hotline/aliyun/bench-7", d.DedupKey)
}

// A call centre hands over only a Tencent task id; gongdan is killed -9 right after it answered
// 202; the restarted server polls Tencent (a fake that answers the hotline call's
// DescribeTaskStatus once the task is asked for) and makes the call's one ticket.
func TestATaskIDIsPolledAcrossAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gongdan serve")
	}
	body, err := os.ReadFile("../../connectors/hotline/testdata/tencent/describe-task-status-hotline.json")
	require.NoError(t, err)
	var asked atomic.Int64
	tencent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Header.Get("X-TC-Action") != "DescribeTaskStatus" || !strings.HasPrefix(r.Header.Get("Authorization"), "TC3-HMAC-SHA256 ") {
			http.Error(w, "not a signed DescribeTaskStatus", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer tencent.Close()
	poll := fmt.Sprintf(`    poll:
      interval: 100ms
      tencent: {secret_id: AKIDexample0123456789, secret_key: test-secret-key-0123456789, endpoint: %s}`, tencent.URL)
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startHotlineServerWith(t, dir, addr, poll)
	status, b, err := call("POST", srv.url+"/ingest/hotline/tasks?token="+hotlineToken, "", `{"vendor":"tencent","task_id":"12868421457"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status, "%s", b)
	srv.kill() // -9 right after the 202: the task was on disk before it was answered

	srv = startHotlineServerWith(t, dir, addr, poll)
	waitTickets(t, srv.url, 1)
	all, err := listTickets(srv.url, ocrAdmin)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, "18612345678", all[0].Customer.Phone)
	assert.Equal(t, "SN-0427-0019", all[0].Device.ID)
	assert.Positive(t, asked.Load())
}
