package hotline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	segjson "github.com/segmentio/encoding/json"
)

// The vendors' shapes, as the decoders unmarshal them.
var vendorShapes = []func() any{
	func() any { return new(aliyunBody) },
	func() any { return new(aliyunLegacyBody) },
	func() any { return new(tencentBody) },
	func() any { return new([]tencentSentence) },
	func() any { return new(iflytekBody) },
	func() any { return new(iflytekOrderResult) },
	func() any { return new(iflytekSentence) },
	func() any { return new(genericCall) },
}

// unmarshalSeeds are bodies where two JSON decoders are known to part: keys in other cases,
// twice, folded from non-ASCII; null into the number and text types; strings with escapes,
// control characters, invalid UTF-8 and lone surrogates; numbers JSON does not allow;
// malformed values where no field takes them; trailing data.
var unmarshalSeeds = []string{
	`{"taskid":"a","statuscode":21050000,"RESULT":{"sentences":[{"text":"hi","begintime":"5"}]}}`,
	`{"TaskId":"a","result":{"Sentences":[{"Text":"x"}]},"Result":{"Sentences":[{"Text":"y"}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x"}]},"Result":{"Other":1}}`,
	`{"TaskId":"a","TaskId":"b","TASKID":"c","StatusCode":1,"StatusCode":null}`,
	`{"ſtatusCode":5,"TasKId":"a","\u017ftatusCode":6}`,
	`{"TaskId":null,"StatusCode":null,"BizDuration":" 7 ","Result":null}`,
	`{"TaskId":"a\"b\\c\/d\u00e9\ud83d\ude00\ud800x","Result":{"Sentences":[{"Text":"` + "\xff\xfe 好 \xe5\xa5" + `"}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"ctl ` + "\x01" + `"}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","BeginTime":01}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","BeginTime":1.5e3,"EndTime":-0,"EmotionValue":1e400}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","Extra":[1,2,}]}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","Extra":{"a":[1,{"b":"\u12"}]}}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","Extra":tru}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x"} {"Text":"y"}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":"x","ChannelId":[1]}]}}`,
	`{"TaskId":"a","Result":{"Sentences":[{"Text":5}]}}`,
	`{"TaskId":"a"} x`,
	`{"Response":{"Data":{"TaskId":12868421457,"Status":2,"ResultDetail":[{"FinalSentence":"好","StartMs":"0","SpeakerId":1,"EmotionalEnergy":"5.5"}]}}}`,
	`[{"FinalSentence":"好","StartMs":0,"EndMs":9,"Words":[{"Word":"好"}]},null]`,
	`{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":"{\"lattice\":[]}"}}`,
	`{"lattice":[{"json_1best":"{}"}],"lattice2":[{"json_1best":{"st":{"bg":"9"}}},{"json_1best": [ 1 , 2 ] }]}`,
	`{"st":{"bg":"9","ed":3,"rl":"1","rt":[{"ws":[{"cw":[{"w":"好"},{"w":null}]}]}]}}`,
	`{"call_id":7,"caller":"18612345678","started_at":"2026-11-23T09:42:00+08:00","turns":[{"speaker":"agent","start_ms":0,"text":"您好"}]}`,
	`{"call_id":"c","started_at":  1795923781 ,"turns":null}`,
	`{"turns":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
}

// FuzzUnmarshalAsEncodingJSON: whatever segmentio's decoder accepts in unmarshal, encoding/json
// accepts too and decodes to the same value, in every vendor's shape; and unmarshal answers
// as encoding/json does, error for error.
//
//	go test ./connectors/hotline -run '^$' -fuzz FuzzUnmarshalAsEncodingJSON -fuzztime 60s
func FuzzUnmarshalAsEncodingJSON(f *testing.F) {
	for _, fx := range fixtures(f) {
		if strings.HasSuffix(fx.path, ".json") {
			f.Add(fx.body)
		}
	}
	for _, s := range unmarshalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, shape := range vendorShapes {
			want, fast, got := shape(), shape(), shape()
			wantErr := json.Unmarshal(body, want)
			if fastDecodable(body) && segjson.Unmarshal(body, fast) == nil {
				if wantErr != nil {
					t.Fatalf("%T: segmentio accepts what encoding/json refuses (%v)", want, wantErr)
				}
				if !reflect.DeepEqual(fast, want) {
					t.Fatalf("%T: segmentio reads\n%+v\nencoding/json\n%+v", want, fast, want)
				}
			}
			err := unmarshal(body, got)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || !reflect.DeepEqual(got, want) {
				t.Fatalf("%T: unmarshal: %v\n%+v\nencoding/json: %v\n%+v", want, err, got, wantErr, want)
			}
		}
	})
}

func TestFastDecodable(t *testing.T) {
	for body, want := range map[string]bool{
		`{"TaskId":"a"}`:                     true,
		`{"ſtatusCode":1}`:                   false,
		`{"TasKId":1}`:                       false,
		`{"\u017FtatusCode":1}`:              false,
		`{"Task\u212aId":1}`:                 false,
		`{"a":"\u017"}`:                      true, // not an escape of either: encoding/json refuses it
		`{"a":` + strings.Repeat("[", 10001): false,
		`{"a":` + strings.Repeat("[", 9999):  true,
	} {
		assert := fastDecodable([]byte(body))
		if assert != want {
			t.Errorf("fastDecodable(%.40q) = %v, want %v", body, assert, want)
		}
	}
}
