package hotline

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Tencent Cloud 录音文件识别 (asr 2019-06-14):
//
//   - DescribeTaskStatus (https://cloud.tencent.com/document/product/1093/37822) answers
//     {"Response": {"RequestId", "Data": {TaskId, Status, StatusStr, AudioDuration (seconds),
//     Result, ErrorMsg, ResultDetail: [SentenceDetail]}}}. Status 0 waiting and 1 doing are
//     not finished, 2 success is the result, 3 failed carries ErrorMsg.
//   - SentenceDetail (https://cloud.tencent.com/document/api/1093/37824) is {FinalSentence,
//     SliceSentence, WrittenText, StartMs, EndMs, WordsNum, Words, SpeechSpeed, SpeakerId,
//     EmotionalEnergy, SilenceTime, EmotionType, KeyWordResults}.
//   - The callback (https://cloud.tencent.com/document/product/1093/52632) POSTs form data:
//     code (0 success, else a failure described by message), message, requestId (the task
//     id), appid, projectid, audioUrl, text, resultDetail (the SentenceDetail array as a JSON
//     string; absent when the task asked for ResTextFormat 0), audioTime (seconds). It must be
//     answered with TencentCallbackAnswer.
//
// Without a ResultDetail the text (Result) is read instead: one line per sentence,
// "[0:1.640,0:4.600]  我在马上上夜班。", with the speaker as a third number when the task asked
// for speaker diarisation.

type tencentSentence struct {
	FinalSentence   string    `json:"FinalSentence"`
	StartMs         jsonInt   `json:"StartMs"`
	EndMs           jsonInt   `json:"EndMs"`
	SpeakerID       jsonText  `json:"SpeakerId"`
	EmotionalEnergy jsonFloat `json:"EmotionalEnergy"`
}

type tencentData struct {
	TaskID        jsonText          `json:"TaskId"`
	Status        jsonInt           `json:"Status"`
	StatusStr     string            `json:"StatusStr"`
	AudioDuration jsonFloat         `json:"AudioDuration"`
	Result        string            `json:"Result"`
	ErrorMsg      string            `json:"ErrorMsg"`
	ResultDetail  []tencentSentence `json:"ResultDetail"`
}

type tencentResponse struct {
	Data  *tencentData `json:"Data"`
	Error *struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
	RequestID string `json:"RequestId"`
}

// Tencent's task statuses.
const (
	tencentWaiting = 0
	tencentDoing   = 1
	tencentSuccess = 2
	tencentFailed  = 3
)

// tencentCallbackCodes are the failure codes of Tencent's callback, for a failure that came
// without a message.
var tencentCallbackCodes = map[int64]string{
	10000: "转码失败，请确认音频格式是否符合标准",
	10001: "识别失败",
	10002: "语音时长太短",
	10003: "语音时长太长",
	10004: "无效的语音文件",
	10005: "其他失败",
	10006: "音轨个数不匹配",
	10007: "音频下载失败",
}

// tencentBody is DescribeTaskStatus's answer, or its Data alone as the SDKs print it.
type tencentBody struct {
	Response *tencentResponse `json:"Response"`
	Data     *tencentData     `json:"Data"`
}

func decodeTencentTask(body []byte) (Transcript, error) {
	t := Transcript{Vendor: FormatTencent, Shape: "tencent.DescribeTaskStatus"}
	var tb tencentBody
	err := unmarshal(body, &tb)
	d, prefix := tb.Data, "Data"
	if r := tb.Response; r != nil {
		if r.Error != nil && (r.Error.Code != "" || r.Error.Message != "") {
			return t, fail(ErrVendorAPI, "Response.Error", "Tencent refused the request: %s: %s (RequestId %s); nothing is known about the task", clip(r.Error.Code, 128), clip(r.Error.Message, 512), clip(r.RequestID, 64))
		}
		d, prefix = r.Data, "Response.Data"
	}
	if d != nil {
		t.TaskID = d.TaskID.s
	}
	if err != nil {
		return t, jsonFault(err, "")
	}
	if d == nil {
		return t, fail(ErrUnrecognised, prefix, "the body has no Tencent %s; expected %s", prefix, expected[FormatTencent])
	}
	t.AudioMS = millis(d.AudioDuration.f)
	status := d.Status
	if status.bad != "" {
		return t, fail(ErrInvalid, prefix+".Status", "%s.Status %q is not a number", prefix, status.bad)
	}
	if !status.set {
		// Go by StatusStr, as Tencent spells the statuses.
		status.set = true
		switch strings.ToLower(d.StatusStr) {
		case "waiting":
			status.n = tencentWaiting
		case "doing":
			status.n = tencentDoing
		case "success":
			status.n = tencentSuccess
		case "failed":
			status.n = tencentFailed
		default:
			return t, fail(ErrInvalid, prefix+".Status", "Tencent task %s has no Status (0 waiting, 1 doing, 2 success, 3 failed)", nonEmpty(t.TaskID, "(no id)"))
		}
	}
	switch status.n {
	case tencentWaiting:
		return pending(t, "Tencent", "waiting")
	case tencentDoing:
		return pending(t, "Tencent", "doing")
	case tencentFailed:
		return failed(t, "Tencent", nonEmpty(strings.TrimSpace(d.ErrorMsg), "no ErrorMsg"))
	case tencentSuccess:
	default:
		return t, fail(ErrInvalid, prefix+".Status", "%s.Status %d is none of Tencent's (0 waiting, 1 doing, 2 success, 3 failed)", prefix, status.n)
	}
	b := builder{t: t}
	if err := tencentTurns(&b, prefix+".ResultDetail", d.ResultDetail, prefix+".Result", d.Result); err != nil {
		return t, err
	}
	return b.finish(tencentEmpty(t))
}

func tencentTurns(b *builder, detailField string, detail []tencentSentence, textField, text string) *DecodeError {
	if len(detail) == 0 {
		return tencentLines(b, textField, text)
	}
	b.expect(len(detail))
	for i, s := range detail {
		at := where{detailField, i}
		if s.SpeakerID.bad != "" {
			return fail(ErrInvalid, at.String()+".SpeakerId", "%s.SpeakerId %s is not a speaker number", at, s.SpeakerID.bad)
		}
		if err := b.add(at, s.SpeakerID.s, RoleUnknown, s.StartMs, s.EndMs, s.FinalSentence, s.EmotionalEnergy); err != nil {
			return err
		}
	}
	return nil
}

// tencentLines reads Tencent's result text, "[0:1.640,0:4.600]  text" or
// "[0:1.640,0:4.600,1]  text" a line; a line without a time span belongs to the sentence
// before it. Text with no time spans at all becomes one turn over the whole recording: it is
// what Tencent heard, with no times to give it.
func tencentLines(b *builder, field, text string) *DecodeError {
	type line struct {
		at         string
		start, end int64
		speaker    string
		text       string
	}
	var lines []line
	var lead string
	i := 0
	for l := range strings.Lines(text) {
		if i++; strings.TrimSpace(l) == "" {
			continue
		}
		l = strings.TrimSpace(l)
		at := fmt.Sprintf("%s line %d", field, i)
		start, end, speaker, rest, ok, err := stampedLine(at, field, l)
		if err != nil {
			return err
		}
		switch {
		case ok:
			if len(lines) == MaxTurns {
				return fail(ErrTooLarge, field, "%s has more than %d sentences, more than any call; split the recording", field, MaxTurns)
			}
			lines = append(lines, line{at, start, end, speaker, rest})
		case len(lines) > 0:
			if last := &lines[len(lines)-1]; len(last.text) < MaxTurnText { // past it the text is cut anyway
				last.text += l
			}
		case len(lead) < MaxTurnText:
			lead += l
		}
	}
	if len(lines) == 0 {
		return b.add(where{field, -1}, "", RoleUnknown, jsonInt{set: true}, jsonInt{n: b.t.AudioMS, set: true}, text, jsonFloat{})
	}
	lines[0].text = lead + lines[0].text
	for _, l := range lines {
		if err := b.add(where{l.at, -1}, l.speaker, RoleUnknown, jsonInt{n: l.start, set: true}, jsonInt{n: l.end, set: true}, l.text, jsonFloat{}); err != nil {
			return err
		}
	}
	return nil
}

// stampedLine reads one line of Tencent's result text; ok is false for a line with no time
// span in front.
func stampedLine(at, field, l string) (start, end int64, speaker, rest string, ok bool, _ *DecodeError) {
	stamp, rest, found := strings.Cut(l, "]")
	if !found || !strings.HasPrefix(stamp, "[") {
		return 0, 0, "", "", false, nil
	}
	parts := strings.Split(stamp[1:], ",")
	if len(parts) < 2 || len(parts) > 3 || !strings.Contains(parts[0], ":") {
		return 0, 0, "", "", false, nil
	}
	start, ok1 := clockMS(parts[0])
	end, ok2 := clockMS(parts[1])
	if !ok1 || !ok2 {
		return 0, 0, "", "", false, fail(ErrInvalid, field, "%s: %q is not a time span such as [0:1.640,0:4.600]", at, clip(stamp+"]", 64))
	}
	if len(parts) == 3 {
		speaker = strings.TrimSpace(parts[2])
		if _, err := strconv.ParseUint(speaker, 10, 32); err != nil {
			return 0, 0, "", "", false, fail(ErrInvalid, field, "%s: the speaker %q is not a number", at, clip(speaker, 32))
		}
	}
	return start, end, speaker, rest, true, nil
}

// clockMS reads Tencent's "m:ss.mmm" (or "h:mm:ss.mmm") offset as milliseconds.
func clockMS(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	units := strings.Split(s, ":")
	if len(units) < 2 || len(units) > 3 {
		return 0, false
	}
	secs, frac, _ := strings.Cut(units[len(units)-1], ".")
	var total int64
	for _, u := range append(units[:len(units)-1:len(units)-1], secs) {
		n, err := strconv.ParseInt(u, 10, 64)
		if err != nil || n < 0 || n > maxOffsetMS/1000 {
			return 0, false
		}
		total = total*60 + n
	}
	if len(frac) > 3 {
		frac = frac[:3]
	}
	ms := int64(0)
	if frac != "" {
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 3-len(frac)), 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		ms = n
	}
	total = total*1000 + ms
	return total, total <= maxOffsetMS
}

func decodeTencentCallback(form url.Values) (Transcript, error) {
	t := Transcript{Vendor: FormatTencent, Shape: "tencent.callback"}
	t.TaskID = clip(strings.TrimSpace(formValue(form, "requestId")), maxField)
	t.RecordingURL = clip(strings.TrimSpace(formValue(form, "audioUrl")), maxField)
	if s := strings.TrimSpace(formValue(form, "audioTime")); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return t, fail(ErrInvalid, "audioTime", "audioTime %q is not a number of seconds", clip(s, 32))
		}
		t.AudioMS = millis(f)
	}
	codeText := strings.TrimSpace(formValue(form, "code"))
	if codeText == "" {
		return t, fail(ErrInvalid, "code", "Tencent's callback for task %s has no code (0 success, else a failure)", nonEmpty(t.TaskID, "(no requestId)"))
	}
	code, err := strconv.ParseInt(codeText, 10, 64)
	if err != nil {
		return t, fail(ErrInvalid, "code", "code %q is not a number", clip(codeText, 32))
	}
	if code != 0 {
		msg := strings.TrimSpace(formValue(form, "message"))
		if msg == "" {
			msg = tencentCallbackCodes[code]
		}
		return failed(t, "Tencent", fmt.Sprintf("%s (code %d)", nonEmpty(msg, "no message"), code))
	}
	var detail []tencentSentence
	if raw := strings.TrimSpace(formValue(form, "resultDetail")); raw != "" && raw != "null" {
		rawJSON := []byte(raw)
		if err := checkElements(rawJSON, "resultDetail"); err != nil {
			return t, err
		}
		if err := unmarshal(rawJSON, &detail); err != nil {
			return t, jsonFault(err, "resultDetail")
		}
	}
	b := builder{t: t}
	if err := tencentTurns(&b, "resultDetail", detail, "text", formValue(form, "text")); err != nil {
		return t, err
	}
	return b.finish(tencentEmpty(t))
}

func tencentEmpty(t Transcript) string {
	return fmt.Sprintf("Tencent task %s succeeded but recognised no speech: no sentence has text; check that the recording holds the call", nonEmpty(t.TaskID, "(no id)"))
}
