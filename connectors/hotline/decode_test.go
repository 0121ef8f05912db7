package hotline

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite connectors/hotline/testdata/*/*.golden.json from Decode's output")

// fixture is one testdata/<dir>/<case>.{json,form,txt}: a body as a vendor (or a caller)
// sends it, its .source note (which page it came from, or that it was written from the field
// list) and its .golden.json (what Decode makes of it).
type fixture struct {
	dir, name   string
	path        string
	contentType string
	body        []byte
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*"))
	require.NoError(t, err)
	types := map[string]string{
		".json": "application/json",
		".form": "application/x-www-form-urlencoded",
		".txt":  "text/plain; charset=utf-8",
	}
	var out []fixture
	for _, p := range paths {
		ext := filepath.Ext(p)
		ct, ok := types[ext]
		if !ok || strings.HasSuffix(p, ".golden.json") {
			continue
		}
		body, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, fixture{
			dir:         filepath.Base(filepath.Dir(p)),
			name:        strings.TrimSuffix(filepath.Base(p), ext),
			path:        p,
			contentType: ct,
			body:        body,
		})
	}
	return out
}

// outcome is what the golden files hold: the transcript Decode returned (partial with an
// error) and the error.
type outcome struct {
	Transcript Transcript `json:"transcript"`
	Error      *struct {
		Kind   string `json:"kind"`
		Status int    `json:"status"`
		Field  string `json:"field,omitempty"`
		Reason string `json:"reason"`
	} `json:"error,omitempty"`
}

func outcomeOf(t testing.TB, tr Transcript, err error) outcome {
	o := outcome{Transcript: tr}
	if err != nil {
		var de *DecodeError
		require.ErrorAs(t, err, &de, "every error of Decode is a *DecodeError")
		o.Error = &struct {
			Kind   string `json:"kind"`
			Status int    `json:"status"`
			Field  string `json:"field,omitempty"`
			Reason string `json:"reason"`
		}{de.Kind.Error(), de.Status, de.Field, de.Reason}
	}
	return o
}

// TestGolden decodes every fixture with format auto and, in a vendor's folder, with that
// vendor forced (both must agree), and compares with <case>.golden.json. After a deliberate
// change run `go test ./connectors/hotline -run TestGolden -update` and review the diff.
func TestGolden(t *testing.T) {
	all := fixtures(t)
	require.GreaterOrEqual(t, len(all), 30, "golden fixtures missing")
	for _, fx := range all {
		t.Run(fx.dir+"/"+fx.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", fx.dir, fx.name+".source"))
			require.NoError(t, err, "every fixture names where it came from in <case>.source")
			require.NotEmpty(t, strings.TrimSpace(string(src)))

			tr, err := Decode(FormatAuto, fx.contentType, fx.body)
			got := outcomeOf(t, tr, err)
			if f := Format(fx.dir); slices.Contains(Formats, f) {
				tr2, err2 := Decode(f, fx.contentType, fx.body)
				assert.Equal(t, got, outcomeOf(t, tr2, err2), "format %s and auto must read the body alike", f)
			}
			raw, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			raw = append(raw, '\n')
			golden := filepath.Join("testdata", fx.dir, fx.name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(golden, raw, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to create it, then review it")
			assert.JSONEq(t, string(want), string(raw))
		})
	}
}

func decodeFile(t *testing.T, path string) (Transcript, error) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", path))
	require.NoError(t, err)
	ct := "application/json"
	if strings.HasSuffix(path, ".form") {
		ct = "application/x-www-form-urlencoded"
	}
	return Decode(FormatAuto, ct, body)
}

// The published examples, checked by hand beyond the golden files: what a reviewer would
// read off each vendor's page.
func TestPublishedExamples(t *testing.T) {
	t.Run("aliyun result and both callbacks say the same", func(t *testing.T) {
		want := []Turn{{Speaker: "0", StartMS: 340, EndMS: 2365, Text: "北京的天气。", Emotion: ptr(5.0)}}
		for _, c := range []struct{ file, shape, task string }{
			{"aliyun/get-task-result.json", "aliyun.GetTaskResult", "d429dd7dd75711e89305ab6170fe****"},
			{"aliyun/callback-v4.json", "aliyun.GetTaskResult", "36d01b244ad811e9952db7bb7ed2****"},
			{"aliyun/callback-legacy.json", "aliyun.callback.legacy", "3f5d4c0c399511e98dc025f34473****"},
			{"aliyun/get-task-result-words.json", "aliyun.GetTaskResult", "b505e78c4c6d11e9a213e11db149****"},
		} {
			tr, err := decodeFile(t, c.file)
			require.NoError(t, err, c.file)
			assert.Equal(t, want, tr.Turns, c.file)
			assert.Equal(t, c.shape, tr.Shape, c.file)
			assert.Equal(t, c.task, tr.TaskID, c.file)
			assert.Equal(t, int64(2956), tr.AudioMS, c.file)
		}
	})
	t.Run("tencent result, its SDK print and its callback", func(t *testing.T) {
		tr, err := decodeFile(t, "tencent/describe-task-status-success.json")
		require.NoError(t, err)
		assert.Equal(t, []Turn{{Speaker: "", StartMS: 20, EndMS: 2380, Text: "腾讯云语音识别欢迎您。"}}, tr.Turns)
		assert.Equal(t, "9266418", tr.TaskID)
		assert.Equal(t, int64(2380), tr.AudioMS)

		tr, err = decodeFile(t, "tencent/describe-task-status-sdk.json")
		require.NoError(t, err)
		assert.Equal(t, []Turn{{StartMS: 20, EndMS: 2380, Text: "腾讯云语音识别欢迎您。"}}, tr.Turns, "read from Result's lines")

		tr, err = decodeFile(t, "tencent/callback-text.form")
		require.NoError(t, err)
		assert.Equal(t, "4000048858", tr.TaskID)
		assert.Equal(t, int64(8420), tr.AudioMS)
		assert.Equal(t, []Turn{
			{StartMS: 1640, EndMS: 4600, Text: "我在马上上夜班。"},
			{StartMS: 5420, EndMS: 7820, Text: "明天早上说哈。"},
		}, tr.Turns)
	})
	t.Run("iflytek lattice and lattice2", func(t *testing.T) {
		for _, file := range []string{"iflytek/get-result.json", "iflytek/get-result-lattice2-only.json"} {
			tr, err := decodeFile(t, file)
			require.NoError(t, err, file)
			assert.Equal(t, []Turn{{Speaker: "0", StartMS: 50, EndMS: 1840, Text: "这是一条测试音频。"}}, tr.Turns, file)
			assert.Equal(t, "DKHJQ2022090510220905100562536FEF00062", tr.TaskID, file)
			assert.Equal(t, int64(200), tr.AudioMS, file)
		}
	})
}

func ptr(f float64) *float64 { return &f }

// The same made-up call in every vendor's shape reads as the same sentences at the same times.
func TestSameCallEveryVendor(t *testing.T) {
	ref, err := decodeFile(t, "generic/call.json")
	require.NoError(t, err)
	require.Len(t, ref.Turns, 8)
	assert.Equal(t, RoleAgent, ref.Turns[0].Role)
	assert.Equal(t, RoleCustomer, ref.Turns[1].Role)
	assert.Equal(t, "CC-20261123-094200-0042", ref.CallID)
	assert.Equal(t, time.Date(2026, 11, 23, 9, 42, 0, 0, time.FixedZone("", 8*3600)).Unix(), ref.StartedAt.Unix())
	for _, file := range []string{
		"aliyun/hotline-two-channel.json",
		"tencent/describe-task-status-hotline.json",
		"tencent/callback-detail.form",
		"iflytek/get-result-two-roles.json",
	} {
		tr, err := decodeFile(t, file)
		require.NoError(t, err, file)
		require.Len(t, tr.Turns, len(ref.Turns), file)
		for i, turn := range tr.Turns {
			assert.Equal(t, ref.Turns[i].Text, turn.Text, "%s turn %d", file, i)
			assert.Equal(t, ref.Turns[i].StartMS, turn.StartMS, "%s turn %d", file, i)
			assert.Equal(t, ref.Turns[i].EndMS, turn.EndMS, "%s turn %d", file, i)
			assert.Equal(t, RoleUnknown, turn.Role, "%s: an ASR vendor never says who the agent is", file)
			agent := i%2 == 0
			switch {
			case strings.HasPrefix(file, "iflytek"):
				assert.Equal(t, map[bool]string{true: "1", false: "2"}[agent], turn.Speaker, "%s turn %d: rl", file, i)
			default:
				assert.Equal(t, map[bool]string{true: "0", false: "1"}[agent], turn.Speaker, "%s turn %d", file, i)
			}
			if !strings.HasPrefix(file, "iflytek") {
				require.NotNil(t, turn.Emotion, "%s turn %d", file, i)
			}
		}
	}
	tr, err := decodeFile(t, "tencent/callback-detail.form")
	require.NoError(t, err)
	assert.Equal(t, "https://hotline-1251600000.cos.ap-shanghai.myqcloud.com/rec/2026/11/23/0942-18612345678.wav", tr.RecordingURL)
	assert.Equal(t, 8.1, *tr.Turns[7].Emotion)
}

func TestDecodeErrors(t *testing.T) {
	aliyun := func(code int, text, sentences string) string {
		return fmt.Sprintf(`{"TaskId":"t-1","StatusCode":%d,"StatusText":%q,"Result":{"Sentences":[%s]}}`, code, text, sentences)
	}
	tencent := func(status int, detail, msg string) string {
		return fmt.Sprintf(`{"Response":{"RequestId":"r","Data":{"TaskId":7,"Status":%d,"ErrorMsg":%q,"ResultDetail":[%s]}}}`, status, msg, detail)
	}
	cases := []struct {
		name    string
		format  Format
		ct      string
		body    string
		kind    error
		status  int
		field   string
		reason  string // a part of the reason
		tStatus Status // the transcript's status, when it has one
	}{
		{name: "unknown format", format: "whisper", body: `{}`, kind: ErrUnknownFormat, status: 400, reason: `format "whisper" is none of auto, aliyun, tencent, iflytek, generic`},
		{name: "empty body", body: " \n", kind: ErrMalformed, status: 400, reason: "the body is empty"},
		{name: "malformed JSON", body: `{"TaskId": "x",`, kind: ErrMalformed, status: 400, reason: "the body is not valid JSON"},
		{name: "malformed JSON sent as JSON", ct: "application/json", body: `TaskId=x`, kind: ErrMalformed, status: 400, reason: "not valid JSON"},
		{name: "a JSON string", body: `"hello"`, ct: "application/json", kind: ErrUnrecognised, status: 422, reason: "a JSON string, not an object"},
		{name: "no vendor's keys", body: `{"a": 1, "b": [2]}`, kind: ErrUnrecognised, status: 422, reason: "its keys are a, b; expected Aliyun"},
		{name: "forced vendor does not match", format: FormatTencent, body: aliyun(21050000, "SUCCESS", `{"Text":"x"}`), kind: ErrUnrecognised, status: 422, reason: "not in format tencent: its keys are Result, StatusCode, StatusText, TaskId; expected Tencent"},
		{name: "form data of no vendor", body: "a=1&b=2", kind: ErrUnrecognised, status: 422, reason: "form data but no ASR vendor's callback: its keys are a, b"},
		{name: "aliyun failure", body: `{"TaskId":"t-9","StatusCode":41050008,"StatusText":"UNSUPPORTED_SAMPLE_RATE"}`, kind: ErrVendorFailed, status: 422, reason: "Aliyun task t-9 failed: UNSUPPORTED_SAMPLE_RATE (41050008)", tStatus: StatusFailed},
		{name: "aliyun failure by text only", body: `{"TaskId":"t-9","StatusText":"FILE_TOO_LARGE"}`, kind: ErrVendorFailed, status: 422, reason: "failed: FILE_TOO_LARGE", tStatus: StatusFailed},
		{name: "aliyun status code not a number", body: `{"TaskId":"t-9","StatusCode":"soon"}`, kind: ErrInvalid, status: 422, field: "StatusCode", reason: `StatusCode "soon" is not a number`},
		{name: "aliyun empty", body: aliyun(21050000, "SUCCESS", `{"Text":" ","BeginTime":1,"EndTime":2}`), kind: ErrEmptyTranscript, status: 422, reason: "Aliyun task t-1 finished but recognised no speech", tStatus: StatusDone},
		{name: "aliyun bad time", body: aliyun(21050000, "SUCCESS", `{"Text":"x","BeginTime":"early"}`), kind: ErrInvalid, status: 422, field: "Result.Sentences[0]", reason: `Result.Sentences[0]: the start time "early" is not a number of milliseconds`},
		{name: "aliyun time past 48 h", body: aliyun(21050000, "SUCCESS", `{"Text":"x","BeginTime":1,"EndTime":172800001}`), kind: ErrInvalid, status: 422, reason: "more than 48 hours"},
		{name: "aliyun text not a string", body: aliyun(21050000, "SUCCESS", `{"Text":5}`), kind: ErrInvalid, status: 422, reason: "Text is a JSON number where a string is expected"},
		{name: "aliyun Result not an object", body: `{"TaskId":"t","StatusCode":21050000,"Result":"[]"}`, kind: ErrInvalid, status: 422, field: "Result", reason: "Result is a JSON string"},
		{name: "tencent status 3", body: tencent(3, "", "Failed to download audio file!"), kind: ErrVendorFailed, status: 422, reason: "Tencent task 7 failed: Failed to download audio file!", tStatus: StatusFailed},
		{name: "tencent running", body: tencent(1, "", ""), kind: ErrNotFinished, status: 422, reason: "Tencent task 7 is doing, not finished", tStatus: StatusRunning},
		{name: "tencent unknown status", body: tencent(9, "", ""), kind: ErrInvalid, status: 422, field: "Response.Data.Status", reason: "Response.Data.Status 9 is none of Tencent's"},
		{name: "tencent API error", body: `{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"signature expired"},"RequestId":"r-1"}}`, kind: ErrVendorAPI, status: 422, reason: "Tencent refused the request: AuthFailure.SignatureExpire: signature expired"},
		{name: "tencent Response without Data", body: `{"Response":{"RequestId":"r-1"}}`, kind: ErrUnrecognised, status: 422, reason: "the body has no Tencent Response.Data"},
		{name: "tencent callback failure", ct: "application/x-www-form-urlencoded", body: "code=10002&message=&requestId=55&text=", kind: ErrVendorFailed, status: 422, reason: "Tencent task 55 failed: 语音时长太短 (code 10002)", tStatus: StatusFailed},
		{name: "tencent callback without code", body: "requestId=55&text=hi", kind: ErrInvalid, status: 422, field: "code"},
		{name: "tencent callback broken resultDetail", body: "code=0&requestId=55&resultDetail=%5B%7B", kind: ErrMalformed, status: 400, field: "resultDetail", reason: "resultDetail is not valid JSON"},
		{name: "tencent callback empty", body: "code=0&requestId=55&text=&resultDetail=", kind: ErrEmptyTranscript, status: 422, tStatus: StatusDone},
		{name: "tencent bad time span", body: tencent(2, "", "")[:0] + `{"Data":{"TaskId":7,"Status":2,"Result":"[0:1.x,0:2.000]  hi"}}`, kind: ErrInvalid, status: 422, reason: "is not a time span"},
		{name: "iflytek still processing by code", body: `{"code":"26605","descInfo":"任务正在处理中，请稍后重试"}`, kind: ErrNotFinished, status: 422, tStatus: StatusRunning},
		{name: "iflytek rate limited", body: `{"code":"26603","descInfo":"接口访问频率受限"}`, kind: ErrVendorAPI, status: 422, reason: "iFlytek refused the request: 接口访问频率受限 (code 26603)"},
		{name: "iflytek order failed by code", body: `{"code":"26606","descInfo":"空音频，请检查"}`, kind: ErrVendorFailed, status: 422, tStatus: StatusFailed},
		{name: "iflytek upload answer", body: `{"code":"000000","descInfo":"success","content":{"orderId":"DKHJQ1","taskEstimateTime":28000}}`, kind: ErrNoResult, status: 422, reason: "upload answer for order DKHJQ1"},
		{name: "iflytek nested JSON broken", body: `{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":"{\"lattice\":[{\"json_1best\":\"{\\\"st\\\":\"}]}"}}`, kind: ErrMalformed, status: 400, field: "content.orderResult.lattice[0].json_1best"},
		{name: "iflytek done but empty", body: `{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":""}}`, kind: ErrEmptyTranscript, status: 422, tStatus: StatusDone},
		{name: "iflytek notice", body: "orderId=DKHJQ2&status=-1", kind: ErrNoResult, status: 422, reason: "order DKHJQ2 is failed", tStatus: StatusFailed},
		{name: "generic bad role", body: `{"call_id":"c","turns":[{"speaker":"1","role":"boss","text":"x"}]}`, kind: ErrInvalid, status: 422, field: "turns[0].role"},
		{name: "generic turns not an array", body: `{"call_id":"c","turns":{"text":"x"}}`, kind: ErrInvalid, status: 422, field: "turns"},
		{name: "generic caller an object", body: `{"call_id":"c","caller":{"n":1},"turns":[{"text":"x"}]}`, kind: ErrInvalid, status: 422, field: "caller"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			format := c.format
			if format == "" {
				format = FormatAuto
			}
			tr, err := Decode(format, c.ct, []byte(c.body))
			require.Error(t, err)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, c.kind)
			assert.Equal(t, c.status, de.Status)
			if c.field != "" {
				assert.Equal(t, c.field, de.Field)
			}
			assert.Contains(t, de.Error(), c.reason)
			assert.Equal(t, c.tStatus, tr.Status)
			assert.Empty(t, tr.Turns, "nothing half-made")
		})
	}
}

func TestTooLarge(t *testing.T) {
	_, err := Decode(FormatAuto, "", make([]byte, MaxBodyBytes+1))
	assert.ErrorIs(t, err, ErrTooLarge)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 413, de.Status)

	var b strings.Builder
	b.WriteString(`{"call_id":"c","turns":[`)
	for i := range MaxTurns + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"speaker":"agent","start_ms":%d,"end_ms":%d,"text":"好"}`, i*10, i*10+5)
	}
	b.WriteString("]}")
	tr, err := Decode(FormatGeneric, "", []byte(b.String()))
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Empty(t, tr.Turns)

	// Exactly MaxTurns is fine.
	body := strings.Replace(b.String(), `,{"speaker":"agent","start_ms":50000,"end_ms":50005,"text":"好"}`, "", 1)
	tr, err = Decode(FormatGeneric, "", []byte(body))
	require.NoError(t, err)
	assert.Len(t, tr.Turns, MaxTurns)
}

// A body may not make encoding/json allocate much more than its size: arrays are counted
// before they are decoded, form fields before they are parsed.
func TestAmplificationBounded(t *testing.T) {
	many := strings.Repeat("1,", maxElements) + "1"
	for name, c := range map[string]struct {
		format Format
		ct     string
		body   string
		field  string
	}{
		"generic turns":           {FormatAuto, "", `{"call_id":"c","turns":[` + many + `]}`, ""},
		"aliyun sentences":        {FormatAliyun, "", `{"TaskId":"t","StatusCode":21050000,"Result":{"Sentences":[` + many + `]}}`, ""},
		"tencent resultDetail":    {FormatAuto, "", "code=0&requestId=1&resultDetail=" + url.QueryEscape("["+many+"]"), "resultDetail"},
		"iflytek orderResult":     {FormatAuto, "", `{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":"{\"lattice\":[` + many + `]}"}}`, "content.orderResult"},
		"iflytek json_1best":      {FormatAuto, "", `{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":"{\"lattice\":[{\"json_1best\":\"{\\\"st\\\":{\\\"rt\\\":[` + many + `]}}\"}]}"}}`, "content.orderResult.lattice[0].json_1best"},
		"valid but deeply nested": {FormatAuto, "", `{"turns":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := Decode(c.format, c.ct, []byte(c.body))
			require.Error(t, err)
			assert.Empty(t, tr.Turns)
			if name == "valid but deeply nested" {
				assert.ErrorIs(t, err, ErrMalformed, "encoding/json refuses nesting past 10000")
				return
			}
			assert.ErrorIs(t, err, ErrTooLarge)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, 413, de.Status)
			assert.Equal(t, c.field, de.Field)
		})
	}
	_, err := Decode(FormatAuto, "", []byte(strings.Repeat("a=1&", 100)))
	assert.ErrorIs(t, err, ErrUnrecognised)
	assert.ErrorContains(t, err, "form data with 101 fields")

	// Below the bounds nothing is refused: a Tencent answer with word timings of a long call.
	var words strings.Builder
	for i := range 60000 {
		if i > 0 {
			words.WriteString(",")
		}
		fmt.Fprintf(&words, `{"Word":"好","OffsetStartMs":%d,"OffsetEndMs":%d}`, i, i+1)
	}
	body := `{"Response":{"Data":{"TaskId":1,"Status":2,"ResultDetail":[{"FinalSentence":"好","StartMs":0,"EndMs":9,"Words":[` + words.String() + `]}]}}}`
	tr, err := Decode(FormatAuto, "", []byte(body))
	require.NoError(t, err)
	assert.Len(t, tr.Turns, 1)
}

func TestTurnsAreCleaned(t *testing.T) {
	long := strings.Repeat("急", MaxTurnText) // 3 bytes each
	body, err := json.Marshal(map[string]any{
		"call_id": "c",
		"turns": []map[string]any{
			{"speaker": "customer", "start_ms": 5000, "end_ms": 4000, "text": "  end before start  "},
			{"speaker": "坐席", "start_ms": 1000, "end_ms": 2000, "text": "\u3000您好\u3000"},
			{"speaker": "1", "role": "customer", "start_ms": 1000, "end_ms": 3000, "text": long},
			{"speaker": "agent", "text": "no times at all"},
			{"speaker": "agent", "start_ms": 9000, "end_ms": 9100, "text": "\n\t "},
		},
	})
	require.NoError(t, err)
	body = []byte(strings.Replace(string(body), "no times at all", "bad \\udc00 utf", 1))
	tr, err := Decode(FormatAuto, "application/json", body)
	require.NoError(t, err)
	require.Len(t, tr.Turns, 4, "the blank turn is dropped")
	assert.Equal(t, "bad \uFFFD utf", tr.Turns[0].Text)
	assert.Equal(t, int64(0), tr.Turns[0].StartMS)
	assert.Equal(t, Turn{Speaker: "坐席", Role: RoleAgent, StartMS: 1000, EndMS: 2000, Text: "您好"}, tr.Turns[1])
	assert.Equal(t, RoleCustomer, tr.Turns[2].Role)
	assert.Equal(t, "1", tr.Turns[2].Speaker)
	assert.LessOrEqual(t, len(tr.Turns[2].Text), MaxTurnText)
	assert.True(t, utf8.ValidString(tr.Turns[2].Text))
	assert.Equal(t, Turn{Speaker: "customer", Role: RoleCustomer, StartMS: 5000, EndMS: 5000, Text: "end before start"}, tr.Turns[3])
}

// Two channels as Aliyun may list them (each channel's sentences together) come out in time
// order, ties in the vendor's order.
func TestTurnsSortedByStart(t *testing.T) {
	body := `{"TaskId":"t","StatusCode":21050000,"Result":{"Sentences":[
		{"ChannelId":0,"BeginTime":0,"EndTime":900,"Text":"您好"},
		{"ChannelId":0,"BeginTime":3000,"EndTime":3900,"Text":"请讲"},
		{"ChannelId":1,"BeginTime":1000,"EndTime":2900,"Text":"电梯困人了"},
		{"ChannelId":1,"BeginTime":3000,"EndTime":3500,"Text":"在三楼"}]}}`
	tr, err := Decode(FormatAliyun, "", []byte(body))
	require.NoError(t, err)
	var got []string
	for _, turn := range tr.Turns {
		got = append(got, turn.Speaker+":"+turn.Text)
	}
	assert.Equal(t, []string{"0:您好", "1:电梯困人了", "0:请讲", "1:在三楼"}, got)
}

func TestTencentResultLines(t *testing.T) {
	body := func(result string) []byte {
		b, _ := json.Marshal(map[string]any{"Response": map[string]any{"Data": map[string]any{"TaskId": 1, "Status": 2, "AudioDuration": 75.5, "Result": result}}})
		return b
	}
	tr, err := Decode(FormatTencent, "", body("[0:0.020,0:2.380,0]  您好，\n请讲。\n[0:2.5,1:3.04,1]  电梯困人了\n[1:0:00.000,1:0:01.000,1]  一小时后\n"))
	require.NoError(t, err)
	assert.Equal(t, []Turn{
		{Speaker: "0", StartMS: 20, EndMS: 2380, Text: "您好，请讲。"},
		{Speaker: "1", StartMS: 2500, EndMS: 63040, Text: "电梯困人了"},
		{Speaker: "1", StartMS: 3600000, EndMS: 3601000, Text: "一小时后"},
	}, tr.Turns)

	tr, err = Decode(FormatTencent, "", body("没有时间戳的一段话"))
	require.NoError(t, err)
	assert.Equal(t, []Turn{{StartMS: 0, EndMS: 75500, Text: "没有时间戳的一段话"}}, tr.Turns)

	_, err = Decode(FormatTencent, "", body("[0:1.000,0:2.000,x]  hi"))
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestClockMS(t *testing.T) {
	for in, want := range map[string]int64{"0:0.020": 20, "0:4.6": 4600, "2:03.45": 123450, "1:02:03.004": 3723004, "0:7": 7000, " 0:1.2345 ": 1234} {
		got, ok := clockMS(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "12", "a:1.0", "0:-1.0", "0:1.x", "1:2:3:4.0", "9999999:0.000"} {
		_, ok := clockMS(in)
		assert.False(t, ok, in)
	}
}

// The example on iFlytek's page: appid 595f23df, ts 1512041814, secret key
// d9f4aa7ea6d94faca62cd88a28fd5234 → MD5 0829d4012497c14a30e7e72aeebe565e → signa
// IrrzsJeOFk1NGfJHW6SkHUoN9CU=.
func TestIflytekSigna(t *testing.T) {
	assert.Equal(t, "IrrzsJeOFk1NGfJHW6SkHUoN9CU=", IflytekSigna("595f23df", "d9f4aa7ea6d94faca62cd88a28fd5234", 1512041814))
}

func TestDecodeIflytekCallback(t *testing.T) {
	cases := []struct {
		query string
		want  IflytekNotice
		err   string
	}{
		{query: "orderId=DKHJQ202004291620042916580FBC96690001F&status=1", want: IflytekNotice{OrderID: "DKHJQ202004291620042916580FBC96690001F", Status: StatusDone}},
		{query: "OrderId=DKHJQ2&status=-1", want: IflytekNotice{OrderID: "DKHJQ2", Status: StatusFailed}},
		{query: "orderId=DKHJQ3&status=1&resultType=translate", want: IflytekNotice{OrderID: "DKHJQ3", Status: StatusDone, ResultType: "translate"}},
		{query: "status=1", err: "no orderId"},
		{query: "orderId=DKHJQ4&status=4", err: `has status "4"; expected 1 (done) or -1 (failed)`},
	}
	for _, c := range cases {
		q, err := url.ParseQuery(c.query)
		require.NoError(t, err)
		got, err := DecodeIflytekCallback(q)
		if c.err != "" {
			assert.ErrorIs(t, err, ErrInvalid, c.query)
			assert.ErrorContains(t, err, c.err, c.query)
			continue
		}
		require.NoError(t, err, c.query)
		assert.Equal(t, c.want, got, c.query)
	}
}

func TestTencentCallbackAnswer(t *testing.T) {
	var v struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(TencentCallbackAnswer), &v))
	assert.Equal(t, 0, *v.Code)
	assert.Equal(t, "success", *v.Message)
}

func TestGenericStartedAt(t *testing.T) {
	for in, want := range map[string]time.Time{
		`"2026-11-23T09:42:00+08:00"`: time.Date(2026, 11, 23, 1, 42, 0, 0, time.UTC),
		`1795225320`:                  time.Unix(1795225320, 0),
		`1795225320123`:               time.UnixMilli(1795225320123),
		`"1795225320"`:                time.Time{}, // a string must be RFC 3339
	} {
		body := `{"call_id":"c","started_at":` + in + `,"turns":[{"speaker":"agent","text":"x"}]}`
		tr, err := Decode(FormatGeneric, "", []byte(body))
		if want.IsZero() {
			assert.ErrorIs(t, err, ErrInvalid, in)
			continue
		}
		require.NoError(t, err, in)
		assert.True(t, want.Equal(tr.StartedAt), "%s: got %s", in, tr.StartedAt)
	}
}

func TestErrorsIs(t *testing.T) {
	_, err := Decode(FormatAuto, "", []byte(`{"Response":{"Data":{"TaskId":1,"Status":3,"ErrorMsg":"bad"}}}`))
	assert.True(t, errors.Is(err, ErrVendorFailed))
	assert.False(t, errors.Is(err, ErrInvalid))
}
