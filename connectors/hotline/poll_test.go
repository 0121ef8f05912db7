package hotline_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/hotline"
	"gongdan/internal/testkit"
)

const (
	tencentTask = "12868421457"
	aliyunTask  = "8f3c2a10c9e611ee8a4d0b1f2c3d0001"
)

// tencentRunningThenDone and aliyunRunningThenDone answer a task running n times, then its
// result.
func tencentRunningThenDone(t *testing.T, n int) func(string, int) answer {
	return func(id string, call int) answer {
		if call <= n {
			return answer{200, tencentBody(t, "tencent/describe-task-status-doing.json", id)}
		}
		return answer{200, tencentBody(t, "tencent/describe-task-status-hotline.json", id)}
	}
}

func aliyunRunningThenDone(t *testing.T, n int) func(string, int) answer {
	return func(id string, call int) answer {
		if call <= n {
			return answer{200, aliyunBody(t, "aliyun/running.json", id)}
		}
		return answer{200, aliyunBody(t, "aliyun/hotline-two-channel.json", id)}
	}
}

type tasksAnswer struct {
	Tasks []struct {
		Vendor string `json:"vendor"`
		TaskID string `json:"task_id"`
		State  string `json:"state"`
	} `json:"tasks"`
}

func readTasksAnswer(t *testing.T, body string) tasksAnswer {
	var a tasksAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &a), body)
	return a
}

// Task ids posted to /tasks are kept and answered 202; each vendor's task API is asked (signed:
// the fakes check every request) until the task is done, and its result is published as the
// envelope its body posted to /ingest would make.
func TestPolledTasksArePublished(t *testing.T) {
	f := newFakes(t)
	f.tencent.setScript(tencentRunningThenDone(t, 2))
	f.aliyun.setScript(aliyunRunningThenDone(t, 1))
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	w := r.tasks(`[{"vendor":"tencent","task_id":` + tencentTask + `,"call_id":"C-1"},{"vendor":"aliyun","task_id":"` + aliyunTask + `"}]`)
	require.Equal(t, http.StatusAccepted, w.Code, "%s", w.Body)
	a := readTasksAnswer(t, w.Body.String())
	require.Len(t, a.Tasks, 2)
	assert.Equal(t, "queued", a.Tasks[0].State)

	envs := r.await(2)
	r.settled()
	keys := map[string]bool{}
	for _, env := range envs {
		assert.Equal(t, hotline.EnvelopeType, env.Type)
		keys[r.normalize(env).DedupKey] = true
	}
	vendorTasks := map[string]bool{}
	for k := range keys {
		vendorTasks[strings.Join(strings.SplitN(k, "/", 3)[:2], "/")] = true
	}
	assert.Equal(t, map[string]bool{"tencent/" + tencentTask: true, "aliyun/" + aliyunTask: true}, vendorTasks)
	assert.Equal(t, 3, f.tencent.callsFor(tencentTask))
	assert.Equal(t, 2, f.aliyun.callsFor(aliyunTask))
	assert.Zero(t, f.tencent.bad()+f.aliyun.bad(), "every request was signed")

	// Handed over again: known, nothing asked or published again.
	w = r.tasks(`{"vendor":"aliyun","task_id":"` + aliyunTask + `"}`)
	require.Equal(t, http.StatusAccepted, w.Code, "%s", w.Body)
	assert.Equal(t, "known", readTasksAnswer(t, w.Body.String()).Tasks[0].State)
	r.settled()
	assert.Equal(t, 2, r.rec.count())
	assert.Equal(t, 2, f.aliyun.callsFor(aliyunTask))
	r.noSecrets()
}

// The vendors' rate limits and faults are asked again after a back-off; the task is published
// once.
func TestRateLimitsAndFaultsAreAskedAgain(t *testing.T) {
	f := newFakes(t)
	f.tencent.setScript(func(id string, n int) answer {
		switch n {
		case 1:
			return answer{200, `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"请求的次数超过了频率限制。"},"RequestId":"r-1"}}`}
		case 2:
			return answer{503, `service unavailable`}
		case 3:
			return answer{200, `{"Response":{"Error":{"Code":"InternalError","Message":"内部错误。"},"RequestId":"r-3"}}`}
		}
		return tencentRunningThenDone(t, 0)(id, n)
	})
	f.aliyun.setScript(func(id string, n int) answer {
		switch n {
		case 1:
			return answer{503, `{"RequestId":"r-1","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`}
		case 2:
			return answer{429, ``}
		}
		return aliyunRunningThenDone(t, 0)(id, n)
	})
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	require.Equal(t, http.StatusAccepted, r.tasks(`[{"vendor":"tencent","task_id":"`+tencentTask+`"},{"vendor":"aliyun","task_id":"`+aliyunTask+`"}]`).Code)
	r.await(2)
	r.settled()
	assert.Equal(t, 4, f.tencent.callsFor(tencentTask))
	assert.Equal(t, 3, f.aliyun.callsFor(aliyunTask))
	assert.Equal(t, 2, r.rec.count())
	for _, env := range r.rec.envs {
		assert.Equal(t, hotline.EnvelopeType, env.Type)
	}
}

// Refusals for good (a wrong key) and tasks past the vendor's retention are given up: a dead
// letter naming the task and why. A task the vendor reports failed is published as it
// answered: a dead letter with the vendor's reason, as when the body is posted.
func TestPolledTasksGivenUp(t *testing.T) {
	f := newFakes(t)
	f.aliyun.setScript(aliyunRunningThenDone(t, 1000))
	r := buildRig(t, f.item(""), t.TempDir(), nil)
	hotline.SetVendorLimits(r.conn, hotline.FormatAliyun, 0, 50*time.Millisecond, 20*time.Millisecond)
	r.start()
	// A Tencent task under a wrong key: the fake refuses the signature.
	wrong := buildRig(t, strings.Replace(f.item(""), "secret_id: "+tencentSecretID, "secret_id: AKIDwrong", 1), t.TempDir(), nil).start()
	f.tencent.setScript(func(id string, n int) answer {
		if id == "42" {
			return answer{200, tencentBody(t, "tencent/describe-task-status-failed.json", id)}
		}
		return tencentRunningThenDone(t, 0)(id, n)
	})
	require.Equal(t, http.StatusAccepted, wrong.tasks(`{"vendor":"tencent","task_id":"`+tencentTask+`"}`).Code)
	require.Equal(t, http.StatusAccepted, r.tasks(`[{"vendor":"aliyun","task_id":"`+aliyunTask+`","call_id":"C-9"},{"vendor":"tencent","task_id":42}]`).Code)

	env := wrong.await(1)[0]
	wrong.settled()
	_, err := wrong.conn.Normalizer().Normalize(env)
	require.ErrorIs(t, err, hotline.ErrGaveUp)
	assert.Contains(t, err.Error(), "Tencent task "+tencentTask)
	assert.Contains(t, err.Error(), "AuthFailure.SignatureFailure")
	assert.Contains(t, err.Error(), "check poll.tencent.secret_id")
	assert.Equal(t, 1, f.tencent.bad())
	wrong.noSecrets()

	envs := r.await(2)
	r.settled()
	reasons := map[string]error{}
	for _, env := range envs {
		_, err := r.conn.Normalizer().Normalize(env)
		require.Error(t, err)
		reasons[env.Type] = err
	}
	require.ErrorIs(t, reasons[hotline.EnvelopeTypeGaveUp], hotline.ErrGaveUp)
	assert.Contains(t, reasons[hotline.EnvelopeTypeGaveUp].Error(), "Aliyun task "+aliyunTask+": no result within 50ms")
	assert.Contains(t, reasons[hotline.EnvelopeTypeGaveUp].Error(), "(call C-9)")
	require.ErrorIs(t, reasons[hotline.EnvelopeType], hotline.ErrVendorFailed, "Tencent's Status 3, as when posted")
	assert.Empty(t, r.states()["pending"])
	r.noSecrets()
}

// Killed while a task was running, the connector resumes it after a restart and publishes it
// once, joined to its call record when one is configured.
func TestAPolledTaskSurvivesARestart(t *testing.T) {
	f := newFakes(t)
	f.tencent.setScript(tencentRunningThenDone(t, 1000))
	dir := t.TempDir()
	withRecords := f.item("cdr:\n  mapping:\n    call_id: payload.session_id\n    caller: payload.caller\ncdr_wait: 1h\n")
	r := buildRig(t, withRecords, dir, nil).start()
	require.Equal(t, http.StatusAccepted, r.tasks(`{"vendor":"tencent","task_id":"`+tencentTask+`","call_id":"S-7"}`).Code)
	require.Equal(t, http.StatusOK, r.post("/ingest/hotline/cdr?token="+callbackToken, "application/json", `{"session_id":"S-7","caller":"13912345678"}`).Code)
	require.Eventually(t, func() bool { return f.tencent.callsFor(tencentTask) >= 2 }, deadline, tick)
	r.stop()
	assert.Zero(t, r.rec.count())

	f.tencent.setScript(tencentRunningThenDone(t, 0))
	r2 := buildRig(t, withRecords, dir, nil).start()
	env := r2.await(1)[0]
	r2.settled()
	assert.Equal(t, 1, r2.rec.count())
	assert.Contains(t, env.Headers["cdr"], "13912345678", "joined to the record posted before the restart")
	assert.True(t, strings.HasPrefix(r2.normalize(env).DedupKey, "tencent/"+tencentTask+"/"), r2.normalize(env).DedupKey)
}

// What /tasks refuses, it refuses with a problem that says why, counted, keeping nothing and
// asking no vendor.
func TestAttacksOnTasks(t *testing.T) {
	f := newFakes(t)
	onlyAliyun := strings.Replace(f.item("max_body_bytes: 4096\n"), "  tencent:\n    secret_id: "+tencentSecretID+"\n    secret_key: ${TENCENT_TEST_SECRET}\n    region: ap-shanghai\n    endpoint: "+f.tencent.srv.URL+"\n", "", 1)
	require.NotContains(t, onlyAliyun, "tencent:")
	dir := t.TempDir()
	r := buildRig(t, onlyAliyun, dir, nil).start()
	ok := "/ingest/hotline/tasks?token=" + callbackToken
	many := "[" + strings.Repeat(`{"vendor":"aliyun","task_id":"a1"},`, 1000) + `{"vendor":"aliyun","task_id":"a1"}]`
	for _, c := range []struct {
		name, target, ct, body string
		status                 int
		typ                    string
	}{
		{"no credential", "/ingest/hotline/tasks", "application/json", `{"vendor":"aliyun","task_id":"a1"}`, 401, ""},
		{"a wrong token", "/ingest/hotline/tasks?token=cb-0123456789abcdeX", "application/json", `{"vendor":"aliyun","task_id":"a1"}`, 401, ""},
		{"oversized", ok, "application/json", `{"vendor":"aliyun","task_id":"a1","call_id":"` + strings.Repeat("x", 5000) + `"}`, 413, "payload-too-large"},
		{"not JSON", ok, "text/plain", `vendor=aliyun`, 415, "unsupported-media-type"},
		{"malformed", ok, "application/json", `{"vendor":"aliyun",`, 400, "malformed-body"},
		{"an unknown vendor", ok, "application/json", `{"vendor":"baidu","task_id":"a1"}`, 422, "unknown-vendor"},
		{"a vendor not configured", ok, "application/json", `{"vendor":"tencent","task_id":"42"}`, 422, "vendor-not-configured"},
		{"one bad task among good ones", ok, "application/json", `[{"vendor":"aliyun","task_id":"a1"},{"vendor":"aliyun","task_id":"../../etc/passwd"}]`, 422, "bad-task-id"},
		{"no task id", ok, "application/json", `{"vendor":"aliyun"}`, 422, "bad-task-id"},
		{"a task id that is an object", ok, "application/json", `{"vendor":"aliyun","task_id":{"$gt":""}}`, 422, "bad-task-id"},
		{"an unknown field", ok, "application/json", `{"vendor":"aliyun","taskId":"a1"}`, 422, "bad-task"},
		{"no tasks", ok, "application/json", `[]`, 422, "too-many-tasks"},
		{"too many tasks", ok, "application/json", many, 413, "payload-too-large"},
		{"a call id with control characters", ok, "application/json", `{"vendor":"aliyun","task_id":"a1","call_id":"C\u0000-1"}`, 422, "bad-call-id"},
	} {
		before := r.stats.Rejected.Load()
		w := r.post(c.target, c.ct, c.body)
		assert.Equal(t, c.status, w.Code, "%s: %s", c.name, w.Body)
		p := problemOf(t, w)
		if c.typ != "" {
			assert.Contains(t, p.Type, c.typ, c.name)
		}
		assert.NotEmpty(t, p.Detail, c.name)
		assert.Equal(t, before+1, r.stats.Rejected.Load(), "%s is counted", c.name)
	}
	w := r.get(ok)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Empty(t, r.states(), "nothing kept")
	assert.Zero(t, f.aliyun.callsFor("a1")+f.tencent.callsFor("42"), "no vendor asked")
	assert.Zero(t, r.rec.count())

	// Too many tasks within the size limit.
	big := buildRig(t, f.item(""), t.TempDir(), nil)
	w = big.tasks(many)
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code, "%s", w.Body)
	assert.Contains(t, problemOf(t, w).Detail, "1 to 1000 tasks")
	// A Tencent task id is a number, sent to Tencent as a JSON integer.
	w = big.tasks(`{"vendor":"tencent","task_id":"abc"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code, "%s", w.Body)
	assert.Contains(t, problemOf(t, w).Detail, "whole numbers")
	w = big.tasks(`{"vendor":"tencent","task_id":"0042"}`)
	require.Equal(t, http.StatusAccepted, w.Code, "%s", w.Body)
	assert.Equal(t, "42", readTasksAnswer(t, w.Body.String()).Tasks[0].TaskID)

	// Without a poll or iflytek section there is no /tasks.
	plain, _ := build(t, "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n", (&recorder{}).publish)
	w = send(plain, ok, "application/json", nil, []byte(`{"vendor":"aliyun","task_id":"a1"}`))
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Empty(t, plain.(connectors.SubPaths).Paths())
	assert.Equal(t, []string{"tasks"}, r.conn.(connectors.SubPaths).Paths())
}

// Without a state directory (dry runs) nothing can be kept: the task is not taken (503), so
// the sender sends it again.
func TestTasksNeedAStateDirectory(t *testing.T) {
	f := newFakes(t)
	r := buildRig(t, f.item(""), "", nil)
	w := r.tasks(`{"vendor":"aliyun","task_id":"a1"}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "%s", w.Body)
	w = r.get("/ingest/hotline?token=" + callbackToken + "&orderId=" + order + "&status=1")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "%s", w.Body)
}

// The rates kept to are the vendors' published limits unless the config says otherwise.
func TestVendorRates(t *testing.T) {
	f := newFakes(t)
	r := buildRig(t, f.item(""), t.TempDir(), nil)
	assert.Equal(t, 50.0, hotline.VendorRate(r.conn, hotline.FormatTencent), "DescribeTaskStatus: 50 a second")
	assert.Equal(t, 100.0, hotline.VendorRate(r.conn, hotline.FormatAliyun), "GetTaskResult: 100 QPS")
	assert.Equal(t, 10.0, hotline.VendorRate(r.conn, hotline.FormatIflytek))
	r = buildRig(t, strings.Replace(f.item(""), "    region: ap-shanghai\n", "    region: ap-shanghai\n    rate: 5\n", 1), t.TempDir(), nil)
	assert.Equal(t, 5.0, hotline.VendorRate(r.conn, hotline.FormatTencent))
}

// validate says what is wrong with the iflytek and poll sections, at their lines, never
// echoing a secret.
func TestPollConfigMistakesAreLocated(t *testing.T) {
	newFakes(t)
	for _, c := range []struct{ item, want string }{
		{"poll:\n  interval: 5s\n", "names no vendor to poll"},
		{"poll:\n  aliyun:\n    access_key_id: x\n", "access_key_secret: required"},
		{"poll:\n  tencent:\n    secret_id: x\n    secret_key: ${TENCENT_TEST_SECRET}\n    endpoint: asr.tencentcloudapi.com\n", "a URL with a scheme and a host only"},
		{"poll:\n  aliyun:\n    access_key_id: x\n    access_key_secret: ${ALIYUN_TEST_SECRET}\n  interval: 1m\n  max_interval: 10s\n", "is shorter than interval"},
		{"format: generic\niflytek:\n  app_id: x\n  secret_key: ${IFLYTEK_TEST_SECRET}\n", "format generic refuses iFlytek's results"},
		{"iflytek:\n  app_id: x\n", "secret_key: required"},
		{"iflytek:\n  app_id: x\n  secret_key: ${IFLYTEK_TEST_SECRET}\n  rate: 0\n", "below the minimum"},
	} {
		_, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile("name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n"+c.item)), connectors.Global.Validate)
		if assert.Error(t, err, c.item) {
			assert.Contains(t, err.Error(), c.want)
			assert.Regexp(t, `hotline\.yaml:\d+: `, err.Error())
			for _, s := range secrets {
				assert.NotContains(t, err.Error(), s)
			}
		}
	}
}

// Details shows the tasks waiting, by vendor.
func TestDetailsShowTheTasks(t *testing.T) {
	f := newFakes(t)
	f.aliyun.setScript(aliyunRunningThenDone(t, 1000))
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	require.Equal(t, http.StatusAccepted, r.tasks(`{"vendor":"aliyun","task_id":"`+aliyunTask+`"}`).Code)
	require.Eventually(t, func() bool { return f.aliyun.callsFor(aliyunTask) >= 1 }, deadline, tick)
	d := r.conn.(connectors.Detailer).Details().(hotline.Refusals)
	assert.Equal(t, map[string]int{"aliyun": 1}, d.Tasks.Waiting)
	b, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"asr_tasks":{"waiting":{"aliyun":1},"gave_up":0}`)
}
