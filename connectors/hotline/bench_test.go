package hotline

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// benchCall is a ten-minute two-speaker call: 120 sentences of 12–30 characters, 5 s apart.
func benchCall() []Turn {
	lines := []string{
		"您好，这里是华东设备售后服务热线，工号3021为您服务。",
		"你好，我们厂里三号线的急停按钮失灵了，按下去没反应。",
		"好的，请问设备的序列号是多少？",
		"SN零四二七杠零零幺九。",
		"请留一下您的联系电话和地址。",
		"一八六 幺二三四 五六七八，苏州工业园区星湖街三百二十八号。",
		"这个问题之前出现过吗？",
		"上个月也坏过一次，你们的人来修过，这是第三次打了。",
	}
	turns := make([]Turn, 120)
	for i := range turns {
		emotion := 4.5 + float64(i%5)
		turns[i] = Turn{Speaker: fmt.Sprint(i % 2), StartMS: int64(i) * 5000, EndMS: int64(i)*5000 + 4200, Text: lines[i%len(lines)], Emotion: &emotion}
	}
	return turns
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func tencentDetail(turns []Turn) []map[string]any {
	out := make([]map[string]any, len(turns))
	for i, t := range turns {
		var words []map[string]any
		runes := []rune(t.Text)
		for j := 0; j < len(runes); j += 2 {
			words = append(words, map[string]any{"Word": string(runes[j:min(j+2, len(runes))]), "OffsetStartMs": j * 100, "OffsetEndMs": j*100 + 200})
		}
		out[i] = map[string]any{"FinalSentence": t.Text, "SliceSentence": t.Text, "StartMs": t.StartMS, "EndMs": t.EndMS,
			"WordsNum": len(words), "Words": words, "SpeechSpeed": 5.9, "SpeakerId": i % 2, "EmotionalEnergy": *t.Emotion,
			"SilenceTime": 0, "EmotionType": []string{"neutral"}}
	}
	return out
}

// benchBodies is the call in each vendor's shape, as the vendor would send it.
func benchBodies() []struct {
	name, ct string
	body     []byte
} {
	turns := benchCall()
	var ali, legacy, generic []map[string]any
	var lattice []map[string]any
	for i, t := range turns {
		ali = append(ali, map[string]any{"EndTime": t.EndMS, "SilenceDuration": 0, "BeginTime": t.StartMS, "Text": t.Text, "ChannelId": i % 2, "SpeechRate": 240, "EmotionValue": *t.Emotion})
		legacy = append(legacy, map[string]any{"end_time": t.EndMS, "silence_duration": 0, "begin_time": t.StartMS, "text": t.Text, "channel_id": i % 2, "speech_rate": 240, "emotion_value": *t.Emotion})
		generic = append(generic, map[string]any{"speaker": map[bool]string{true: "agent", false: "customer"}[i%2 == 0], "start_ms": t.StartMS, "end_ms": t.EndMS, "text": t.Text})
		var ws []map[string]any
		for _, r := range t.Text {
			ws = append(ws, map[string]any{"cw": []map[string]any{{"w": string(r), "wp": "n", "wc": "1.0000"}}, "wb": 1, "we": 16})
		}
		st := map[string]any{"st": map[string]any{"sc": "0.86", "pa": "0", "rt": []map[string]any{{"ws": ws}}, "bg": fmt.Sprint(t.StartMS), "ed": fmt.Sprint(t.EndMS), "rl": fmt.Sprint(i%2 + 1)}}
		lattice = append(lattice, map[string]any{"json_1best": string(mustJSON(st))})
	}
	detail := tencentDetail(turns)
	form := url.Values{"code": {"0"}, "message": {""}, "requestId": {"12868421457"}, "appid": {"1251600000"}, "projectid": {"0"},
		"audioUrl": {"https://example.cos.ap-shanghai.myqcloud.com/a.wav"}, "text": {"…"}, "resultDetail": {string(mustJSON(detail))}, "audioTime": {"600.0"}}
	return []struct {
		name, ct string
		body     []byte
	}{
		{"aliyun", "application/json", mustJSON(map[string]any{"TaskId": "8f3c2a10c9e611ee8a4d0b1f2c3d0001", "RequestId": "5D2E8C41", "StatusText": "SUCCESS", "StatusCode": 21050000, "BizDuration": 600000, "SolveTime": 1795923781000, "Result": map[string]any{"Sentences": ali}})},
		{"aliyun-legacy", "application/json", mustJSON(map[string]any{"task_id": "3f5d4c0c399511e98dc025f34473", "status_code": 21050000, "status_text": "SUCCESS", "biz_duration": 600000, "result": legacy})},
		{"tencent", "application/json", mustJSON(map[string]any{"Response": map[string]any{"RequestId": "r", "Data": map[string]any{"TaskId": 12868421457, "Status": 2, "StatusStr": "success", "AudioDuration": 600.0, "Result": "…", "ResultDetail": detail, "ErrorMsg": ""}}})},
		{"tencent-callback", "application/x-www-form-urlencoded", []byte(form.Encode())},
		{"iflytek", "application/json", mustJSON(map[string]any{"code": "000000", "descInfo": "success", "content": map[string]any{"orderInfo": map[string]any{"orderId": "DKHJQ2026", "failType": 0, "status": 4, "originalDuration": 600000}, "orderResult": string(mustJSON(map[string]any{"lattice": lattice})), "taskEstimateTime": 0}})},
		{"generic", "application/json", mustJSON(map[string]any{"call_id": "CC-1", "caller": "18612345678", "callee": "4008001234", "started_at": "2026-11-23T09:42:00+08:00", "turns": generic})},
	}
}

// BenchmarkDecode decodes a ten-minute call (120 turns) in each vendor's shape, with format
// auto (which recognises the shape first). The connector's budget is 500 µs per transcript
// for everything it does; decoding should be a small part of it.
//
//	go test ./connectors/hotline -run '^$' -bench BenchmarkDecode -benchmem -cpu 1
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchBodies() {
		b.Run(c.name, func(b *testing.B) {
			tr, err := Decode(FormatAuto, c.ct, c.body)
			if err != nil || len(tr.Turns) != 120 || !strings.HasPrefix(tr.Shape, strings.Split(c.name, "-")[0]) {
				b.Fatalf("%s: %d turns, shape %s, %v", c.name, len(tr.Turns), tr.Shape, err)
			}
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(FormatAuto, c.ct, c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
