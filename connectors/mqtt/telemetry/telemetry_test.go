package telemetry_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/mqtt/telemetry"
)

var received = time.Date(2026, 11, 23, 9, 42, 3, 0, time.FixedZone("CST", 8*3600))

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dec     telemetry.Decoder
		topic   string
		payload string
		device  string
		fields  map[string]any
		at      time.Time
	}{
		{"a JSON object, the device from the topic", telemetry.Decoder{DeviceID: "topic[1]"}, "factory/E202308001/telemetry",
			`{"temp": 91.5, "status": "run", "door": false}`, "E202308001", map[string]any{"temp": 91.5, "status": "run", "door": false}, received},
		{"nested objects stay objects", telemetry.Decoder{DeviceID: "meta.sn"}, "t",
			`{"meta": {"sn": "E1"}, "sensors": {"temp": 20}}`, "E1", map[string]any{"meta": map[string]any{"sn": "E1"}, "sensors": map[string]any{"temp": 20.0}}, received},
		{"a numeric device id", telemetry.Decoder{DeviceID: "id"}, "t", `{"id": 1024, "v": 1}`, "1024", map[string]any{"id": 1024.0, "v": 1.0}, received},
		{"a bare number", telemetry.Decoder{DeviceID: "topic[1]", Field: "temp"}, "plant/E7/temp", " 86.2\n", "E7", map[string]any{"temp": 86.2}, received},
		{"a bare number, default name", telemetry.Decoder{DeviceID: "topic[1]"}, "plant/E7/temp", "-3", "E7", map[string]any{"value": -3.0}, received},
		{"key=value lines", telemetry.Decoder{DeviceID: "topic[1]"}, "plant/E8", "temp=86.5\nhumidity=40\nstate=alarm\n", "E8",
			map[string]any{"temp": 86.5, "humidity": 40.0, "state": "alarm"}, received},
		{"key=value pairs on one line", telemetry.Decoder{DeviceID: "sn"}, "plant", "sn=E9,temp=70 v=1", "E9",
			map[string]any{"sn": "E9", "temp": 70.0, "v": 1.0}, received},
		{"the time from the payload, RFC 3339", telemetry.Decoder{DeviceID: "topic[0]", Time: "ts"}, "E1",
			`{"ts": "2026-11-23T09:42:00+08:00", "temp": 1}`, "E1", map[string]any{"ts": "2026-11-23T09:42:00+08:00", "temp": 1.0}, received.Add(-3 * time.Second)},
		{"the time in Unix milliseconds", telemetry.Decoder{DeviceID: "topic[0]", Time: "ts"}, "E1",
			`{"ts": 1795398120000, "temp": 1}`, "E1", map[string]any{"ts": 1795398120000.0, "temp": 1.0}, time.UnixMilli(1795398120000)},
		{"no time in the payload: receipt", telemetry.Decoder{DeviceID: "topic[0]", Time: "ts"}, "E1", `{"temp": 1}`, "E1", map[string]any{"temp": 1.0}, received},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.dec.Check())
			m, err := tc.dec.Decode(tc.topic, []byte(tc.payload), received)
			require.NoError(t, err)
			assert.Equal(t, tc.device, m.Device)
			assert.Equal(t, tc.fields, m.Fields)
			assert.True(t, tc.at.Equal(m.At), "at %s, want %s", m.At, tc.at)
			assert.Equal(t, tc.topic, m.Topic)
		})
	}
}

func TestDecodeRefusesBadPayloads(t *testing.T) {
	dec := telemetry.Decoder{DeviceID: "topic[1]", Time: "ts", MaxBytes: 64}
	for _, tc := range []struct {
		name, topic, payload string
		want                 error
	}{
		{"too large", "a/E1", `{"v": "` + string(make([]byte, 100)) + `"}`, telemetry.ErrTooLarge},
		{"not JSON", "a/E1", `{"temp": 9`, telemetry.ErrMalformed},
		{"JSON but not an object", "a/E1", `{"a":1} {"b":2}`, telemetry.ErrMalformed},
		{"NaN", "a/E1", "NaN", telemetry.ErrBadValue},
		{"Inf in key=value", "a/E1", "temp=+Inf", telemetry.ErrBadValue},
		{"too big a number", "a/E1", "1e999", telemetry.ErrBadValue},
		{"not key=value", "a/E1", "hello world", telemetry.ErrMalformed},
		{"empty", "a/E1", "   ", telemetry.ErrMalformed},
		{"no such topic level", "a", `{"v": 1}`, telemetry.ErrNoDevice},
		{"a time that is not one", "a/E1", `{"ts": "yesterday"}`, telemetry.ErrBadValue},
		{"not UTF-8", "a/E1", "temp=\xff", telemetry.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dec.Decode(tc.topic, []byte(tc.payload), received)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "%v is not %v", err, tc.want)
		})
	}
	_, err := (&telemetry.Decoder{DeviceID: "sn"}).Decode("t", []byte(`{"sn": {"x": 1}}`), received)
	assert.ErrorIs(t, err, telemetry.ErrNoDevice)
	assert.Error(t, (&telemetry.Decoder{}).Check())
	assert.Error(t, (&telemetry.Decoder{DeviceID: "topic[x]"}).Check())
	assert.Error(t, (&telemetry.Decoder{DeviceID: "id", Format: "xml"}).Check())
}

// Whatever arrives, Decode neither panics nor lets a value through that rules cannot
// compare (NaN, Inf, types other than JSON's).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"temp": 91.5}`, "86.2", "temp=1\nh=2", `{"a": {"b": [1, 2]}}`, "NaN", "", "=", "a=b=c", `{"ts": 1e300}`} {
		f.Add("factory/E1/telemetry", s)
	}
	f.Fuzz(func(t *testing.T, topic, payload string) {
		for _, dec := range []telemetry.Decoder{{DeviceID: "topic[1]", Time: "ts"}, {DeviceID: "sn", Format: telemetry.KV}, {DeviceID: "id", Format: telemetry.JSON}} {
			m, err := dec.Decode(topic, []byte(payload), received)
			if err != nil {
				continue
			}
			if m.Device == "" {
				t.Fatalf("decoded without a device: %q", payload)
			}
			var check func(v any)
			check = func(v any) {
				switch x := v.(type) {
				case float64:
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("%v let through from %q", x, payload)
					}
				case map[string]any:
					for _, e := range x {
						check(e)
					}
				case []any:
					for _, e := range x {
						check(e)
					}
				case string, bool, nil:
				default:
					t.Fatalf("a %T from %q", v, payload)
				}
			}
			check(m.Fields)
		}
	})
}

// Sensors that fail write NaN as a string, since JSON has none: a bad value, not a reading.
func TestNaNStringsAreBadValues(t *testing.T) {
	d := telemetry.Decoder{DeviceID: "topic[1]"}
	for _, p := range []string{`{"temp": "NaN"}`, `{"temp": "-inf", "humidity": 40}`, `{"temp": " Infinity "}`} {
		_, err := d.Decode("factory/E1/telemetry", []byte(p), time.Now())
		assert.ErrorIs(t, err, telemetry.ErrBadValue, p)
	}
	m, err := d.Decode("factory/E1/telemetry", []byte(`{"status": "nano-fault"}`), time.Now())
	require.NoError(t, err, "a word that only starts like nan")
	assert.Equal(t, "nano-fault", m.Fields["status"])
}

// BenchmarkDecode: a typical JSON telemetry payload, as gongdan bench mqtt sends it.
func BenchmarkDecode(b *testing.B) {
	d := telemetry.Decoder{DeviceID: "topic[1]", Time: "ts"}
	payload := []byte(`{"temp": 61.5, "humidity": 40.2, "voltage": 221.3, "ts": 1764547200000, "seq": 1234}`)
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode("factory/E202600001/telemetry", payload, at); err != nil {
			b.Fatal(err)
		}
	}
}
