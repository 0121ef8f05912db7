package hotline

import (
	"fmt"
	"strconv"
	"strings"
)

// Aliyun 录音文件识别 (nls-filetrans, https://help.aliyun.com/document_detail/90727.html):
//
//   - GetTaskResult answers {TaskId, RequestId, StatusCode, StatusText, BizDuration, SolveTime,
//     Result: {Sentences: [{ChannelId, BeginTime, EndTime, Text, EmotionValue, SpeechRate,
//     SilenceDuration}], Words: […]}}.
//   - The callback of a task submitted with version "4.0" POSTs the same fields (RequestTime in
//     place of RequestId), so it decodes as GetTaskResult does.
//   - The callback of an older task (version 2.0, the default of early integrations) is snake
//     case and flat: {task_id, status_code, status_text, request_time, solve_time,
//     biz_duration, result: [{channel_id, begin_time, end_time, text, emotion_value,
//     speech_rate, silence_duration}]}.
//
// StatusCode 21050000 is success, 21050001 RUNNING and 21050002 QUEUEING are not finished,
// 21050003 (SUCCESS_WITH_NO_VALID_FRAGMENT, ASR_RESPONSE_HAVE_NO_WORDS) finished with no
// speech; every other code (41050xxx, 51050000, …) is a failure named by StatusText.

// Aliyun's task status codes.
const (
	aliyunSuccess       = 21050000
	aliyunRunning       = 21050001
	aliyunQueueing      = 21050002
	aliyunNoValidSpeech = 21050003
)

type aliyunSentence struct {
	ChannelID    jsonText  `json:"ChannelId"`
	BeginTime    jsonInt   `json:"BeginTime"`
	EndTime      jsonInt   `json:"EndTime"`
	Text         string    `json:"Text"`
	EmotionValue jsonFloat `json:"EmotionValue"`
}

type aliyunResult struct {
	Sentences []aliyunSentence `json:"Sentences"`
}

// aliyunBody is GetTaskResult's answer and the version 4.0 callback.
type aliyunBody struct {
	TaskID      jsonText      `json:"TaskId"`
	StatusCode  jsonInt       `json:"StatusCode"`
	StatusText  jsonText      `json:"StatusText"`
	BizDuration jsonInt       `json:"BizDuration"`
	Result      *aliyunResult `json:"Result"`
	Legacy      ignored       `json:"result"`
}

type aliyunLegacySentence struct {
	ChannelID    jsonText  `json:"channel_id"`
	BeginTime    jsonInt   `json:"begin_time"`
	EndTime      jsonInt   `json:"end_time"`
	Text         string    `json:"text"`
	EmotionValue jsonFloat `json:"emotion_value"`
}

// aliyunLegacyBody is the callback of a task without version 4.0.
type aliyunLegacyBody struct {
	TaskID      jsonText               `json:"task_id"`
	StatusCode  jsonInt                `json:"status_code"`
	StatusText  jsonText               `json:"status_text"`
	BizDuration jsonInt                `json:"biz_duration"`
	Result      []aliyunLegacySentence `json:"result"`
	V4          ignored                `json:"Result"`
}

func decodeAliyun(body []byte, keys keySet) (Transcript, error) {
	t := Transcript{Vendor: FormatAliyun, Shape: "aliyun.GetTaskResult"}
	var a aliyunBody
	err := unmarshal(body, &a)
	t.TaskID = a.TaskID.s
	t.AudioMS = length(a.BizDuration)
	if err != nil {
		return t, jsonFault(err, "")
	}
	if done, t, err := aliyunState(t, a.StatusCode, a.StatusText, "StatusCode", keys.has(keyResult)); !done {
		return t, err
	}
	b := builder{t: t}
	if a.Result != nil {
		b.expect(len(a.Result.Sentences))
		for i, s := range a.Result.Sentences {
			at := where{"Result.Sentences", i}
			if s.ChannelID.bad != "" {
				return t, fail(ErrInvalid, at.String()+".ChannelId", "%s.ChannelId %s is not a channel number", at, s.ChannelID.bad)
			}
			if err := b.add(at, s.ChannelID.s, RoleUnknown, s.BeginTime, s.EndTime, s.Text, s.EmotionValue); err != nil {
				return t, err
			}
		}
	}
	return b.finish(aliyunEmpty(t, a.StatusText))
}

func decodeAliyunLegacy(body []byte, keys keySet) (Transcript, error) {
	t := Transcript{Vendor: FormatAliyun, Shape: "aliyun.callback.legacy"}
	var a aliyunLegacyBody
	err := unmarshal(body, &a)
	t.TaskID = a.TaskID.s
	t.AudioMS = length(a.BizDuration)
	if err != nil {
		return t, jsonFault(err, "")
	}
	if done, t, err := aliyunState(t, a.StatusCode, a.StatusText, "status_code", keys.has(keyLegacyResult)); !done {
		return t, err
	}
	b := builder{t: t}
	b.expect(len(a.Result))
	for i, s := range a.Result {
		at := where{"result", i}
		if s.ChannelID.bad != "" {
			return t, fail(ErrInvalid, at.String()+".channel_id", "%s.channel_id %s is not a channel number", at, s.ChannelID.bad)
		}
		if err := b.add(at, s.ChannelID.s, RoleUnknown, s.BeginTime, s.EndTime, s.Text, s.EmotionValue); err != nil {
			return t, err
		}
	}
	return b.finish(aliyunEmpty(t, a.StatusText))
}

// aliyunState reads a task's status code and text. done reports a finished task (its result
// is then to be read); otherwise the transcript and error returned are the answer.
func aliyunState(t Transcript, code jsonInt, text jsonText, codeField string, hasResult bool) (done bool, _ Transcript, _ error) {
	statusText := text.s
	if !code.set && code.bad == "" {
		// No code at all: go by the text, as Aliyun spells the codes' names.
		switch strings.ToUpper(statusText) {
		case "SUCCESS", "SUCCESS_WITH_NO_VALID_FRAGMENT", "ASR_RESPONSE_HAVE_NO_WORDS":
			return true, t, nil
		case "RUNNING", "QUEUEING":
			t, err := pending(t, "Aliyun", strings.ToLower(statusText))
			return false, t, err
		case "":
			if hasResult {
				return true, t, nil
			}
			return false, t, fail(ErrInvalid, codeField, "Aliyun task %s has neither %s nor a result", nonEmpty(t.TaskID, "(no id)"), codeField)
		}
		t, err := failed(t, "Aliyun", statusText)
		return false, t, err
	}
	switch {
	case code.bad != "":
		return false, t, fail(ErrInvalid, codeField, "%s %q is not a number", codeField, code.bad)
	case code.n == aliyunSuccess || code.n == aliyunNoValidSpeech:
		return true, t, nil
	case code.n == aliyunRunning || code.n == aliyunQueueing:
		t, err := pending(t, "Aliyun", strings.ToLower(nonEmpty(statusText, "code "+strconv.FormatInt(code.n, 10))))
		return false, t, err
	}
	t, err := failed(t, "Aliyun", fmt.Sprintf("%s (%d)", nonEmpty(statusText, "no StatusText"), code.n))
	return false, t, err
}

func aliyunEmpty(t Transcript, text jsonText) string {
	why := ""
	if s := text.s; s != "" && !strings.EqualFold(s, "SUCCESS") {
		why = " (" + s + ")"
	}
	return fmt.Sprintf("Aliyun task %s finished but recognised no speech%s: no sentence has text; check that the recording holds the call", nonEmpty(t.TaskID, "(no id)"), why)
}
