package telemetry

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Whatever the flat reader accepts, encoding/json reads the same, without an error; what it
// does not accept goes to encoding/json, so errors are encoding/json's.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{
		`{"temp": 61.5, "humidity": 40.2, "voltage": 221.3, "ts": 1764547200000, "seq": 1234}`,
		`{}`, ` { "a" : -0.5e+3 , "b":"x", "c":true,"d":false,"e":null } `, `{"a":1,"a":2}`,
		`{"a": 01}`, `{"a": 1.}`, `{"a": .5}`, `{"a": 1e400}`, `{"a": "\u00e9"}`, `{"a": [1]}`, `{"a": {"b": 1}}`,
		`{"a": 1} x`, `{"a": 1,}`, `{"a" 1}`, `{"a": -}`, `{"a": "tab	"}`, `{"温度": 23.5, "状态": "正常"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flat, ok := decodeFlat(b)
		if !ok {
			return
		}
		var want map[string]any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("the flat reader took %q, which encoding/json refuses: %v", b, err)
		}
		if want == nil {
			want = map[string]any{}
		}
		if !reflect.DeepEqual(flat, want) {
			t.Fatalf("%q: flat read %#v, encoding/json %#v", b, flat, want)
		}
	})
}
