// Package telemetry decodes device telemetry payloads — a JSON object, a bare number, or
// key=value lines — into alarm messages: the device id from a topic level or a payload field,
// the time from the payload or the receipt. It is pure (no I/O, no clock) and never panics on
// input: a payload it cannot read is an error that says why, for the connector to count per
// device and sample into the dead letters.
package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gongdan/connectors/mqtt/alarm"
)

// Format of a payload.
type Format string

const (
	// Auto tells them apart: a JSON object, a bare number, else key=value lines.
	Auto   Format = "auto"
	JSON   Format = "json"
	Number Format = "number"
	KV     Format = "kv"
)

// Decoder reads payloads of one connector.
type Decoder struct {
	Format Format
	// DeviceID says where the device id is: "topic[N]" (the Nth level of the topic, from 0)
	// or a payload field path ("id", "meta.sn").
	DeviceID string
	// Time, when set, is the payload field path of the time of the reading: RFC 3339, or Unix
	// seconds or milliseconds; empty (or missing in a payload): the time of receipt.
	Time string
	// Field names the value of a bare-number payload. Default "value".
	Field string
	// MaxBytes bounds a payload. Default 64 KiB.
	MaxBytes int
}

// Errors of Decode, wrapped with the particulars; test with errors.Is.
var (
	ErrTooLarge  = errors.New("payload too large")
	ErrMalformed = errors.New("malformed payload")
	ErrNoDevice  = errors.New("no device id")
	ErrBadValue  = errors.New("bad value")
)

// Check reports a decoder that cannot work.
func (d *Decoder) Check() error {
	switch d.Format {
	case "", Auto, JSON, Number, KV:
	default:
		return fmt.Errorf("unknown payload format %q (auto, json, number, kv)", d.Format)
	}
	if d.DeviceID == "" {
		return errors.New("device_id is required: topic[N] for a level of the topic, or a payload field like meta.sn")
	}
	if _, ok, err := topicLevel(d.DeviceID); ok && err != nil {
		return err
	}
	return nil
}

// Decode reads one payload received on topic at received.
func (d *Decoder) Decode(topic string, payload []byte, received time.Time) (alarm.Message, error) {
	m := alarm.Message{Topic: topic, At: received, Received: received}
	max := d.MaxBytes
	if max <= 0 {
		max = 64 << 10
	}
	if _, ok, _ := topicLevel(d.DeviceID); ok {
		// Known before the payload is read, so a bad payload is still counted against its
		// device.
		m.Device, _ = d.deviceID(topic, nil)
	}
	if len(payload) > max {
		return m, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, len(payload), max)
	}
	if !utf8.Valid(payload) {
		return m, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	format := d.Format
	trimmed := bytes.TrimSpace(payload)
	if format == "" || format == Auto {
		switch {
		case len(trimmed) > 0 && trimmed[0] == '{':
			format = JSON
		case isNumber(string(trimmed)):
			format = Number
		default:
			format = KV
		}
	}
	var err error
	switch format {
	case JSON:
		m.Fields, err = decodeJSON(trimmed)
	case Number:
		m.Fields, err = d.decodeNumber(string(trimmed))
	case KV:
		m.Fields, err = decodeKV(string(trimmed))
	}
	if err != nil {
		return m, err
	}
	if m.Device == "" {
		if m.Device, err = d.deviceID(topic, m.Fields); err != nil {
			return m, err
		}
	}
	if d.Time != "" {
		if v, ok := lookup(m.Fields, d.Time); ok {
			if m.At, err = parseTime(v); err != nil {
				return m, fmt.Errorf("%w: %s: %v", ErrBadValue, d.Time, err)
			}
		}
	}
	return m, nil
}

func decodeJSON(b []byte) (map[string]any, error) {
	obj, ok := decodeFlat(b)
	if !ok {
		var err error
		if obj, err = decodeAny(b); err != nil {
			return nil, err
		}
	}
	for k, v := range obj {
		if str, ok := v.(string); ok && notANumber(str) {
			// JSON has no NaN; sensors that fail write it as a string.
			return nil, fmt.Errorf("%w: %s is %q: a failed reading", ErrBadValue, k, str)
		}
	}
	return obj, nil
}

// decodeFlat reads the payload almost every device sends — one object of numbers, plain
// strings, booleans and nulls — without encoding/json's reflection, at a quarter of its
// cost. Anything else (nesting, escapes, a number JSON would refuse or cannot hold) is not
// ok, and encoding/json reads it, errors and all; FuzzDecodeFlat checks that whatever this
// accepts, encoding/json reads the same.
func decodeFlat(b []byte) (map[string]any, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	obj := make(map[string]any, 8)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return obj, skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := flatString(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, false
		}
		var v any
		switch c := b[i]; {
		case c == '"':
			var str string
			if str, i, ok = flatString(b, i); !ok {
				return nil, false
			}
			v = str
		case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
			v, i = true, i+4
		case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
			v, i = false, i+5
		case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
			v, i = nil, i+4
		case c == '-' || (c >= '0' && c <= '9'):
			end := jsonNumberEnd(b, i)
			if end < 0 {
				return nil, false
			}
			f, err := strconv.ParseFloat(string(b[i:end]), 64)
			if err != nil {
				return nil, false // out of range: encoding/json says so
			}
			v, i = f, end
		default:
			return nil, false
		}
		obj[key] = v
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return obj, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// flatString reads a string without escapes at b[i] (a quote); it returns the index after it.
func flatString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[i+1:j]) {
				return "", 0, false // encoding/json replaces what is not UTF-8
			}
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// jsonNumberEnd returns the end of the JSON number at b[i], or -1 if it is not one:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumberEnd(b []byte, i int) int {
	digits := func(i int) int {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func decodeAny(b []byte) (map[string]any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: a JSON payload must be an object, like {\"temp\": 23.5}", ErrMalformed)
	}
	return obj, nil
}

// notANumber reports the ways sensors spell a reading that is no number: NaN, Inf, Infinity.
func notANumber(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nan", "-nan", "+nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity":
		return true
	}
	return false
}

func (d *Decoder) decodeNumber(s string) (map[string]any, error) {
	f, err := parseFinite(s)
	if err != nil {
		return nil, err
	}
	name := d.Field
	if name == "" {
		name = "value"
	}
	return map[string]any{name: f}, nil
}

// decodeKV reads key=value lines (or key=value pairs separated by commas or spaces, as
// line protocols write them); values that are numbers become numbers.
func decodeKV(s string) (map[string]any, error) {
	out := map[string]any{}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ';' || r == ' ' || r == '\t' })
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: %q is not key=value", ErrMalformed, truncate(f, 40))
		}
		v = strings.TrimSpace(v)
		if isNumber(v) {
			n, err := parseFinite(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	return out, nil
}

// isNumber reports whether s looks like a number (NaN and Inf included, to be refused).
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil || errors.Is(err, strconv.ErrRange)
}

func parseFinite(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %q is not a finite number", ErrBadValue, truncate(s, 40))
	}
	return f, nil
}

// MaxDeviceID bounds a device id, in bytes: ids go into thread and dedup keys.
const MaxDeviceID = 128

func (d *Decoder) deviceID(topic string, fields map[string]any) (string, error) {
	id, err := d.findDeviceID(topic, fields)
	if err == nil && len(id) > MaxDeviceID {
		return "", fmt.Errorf("%w: a device id of %d bytes (at most %d): %s", ErrNoDevice, len(id), MaxDeviceID, truncate(id, 32))
	}
	return id, err
}

func (d *Decoder) findDeviceID(topic string, fields map[string]any) (string, error) {
	if n, ok, err := topicLevel(d.DeviceID); ok {
		if err != nil {
			return "", err
		}
		levels := strings.Split(topic, "/")
		if n >= len(levels) || levels[n] == "" {
			return "", fmt.Errorf("%w: topic %q has no level %d", ErrNoDevice, topic, n)
		}
		return levels[n], nil
	}
	v, ok := lookup(fields, d.DeviceID)
	if !ok {
		return "", fmt.Errorf("%w: the payload has no %s", ErrNoDevice, d.DeviceID)
	}
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x), nil
		}
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("%w: %s is %s, not a device id", ErrNoDevice, d.DeviceID, describe(v))
}

// topicLevel reads "topic[N]".
func topicLevel(spec string) (int, bool, error) {
	inner, ok := strings.CutPrefix(spec, "topic[")
	if !ok {
		return 0, false, nil
	}
	inner, ok = strings.CutSuffix(inner, "]")
	n, err := strconv.Atoi(inner)
	if !ok || err != nil || n < 0 {
		return 0, true, fmt.Errorf("device_id %q: write topic[N] with N a level from 0", spec)
	}
	return n, true, nil
}

// lookup finds a dotted path ("meta.sn") in nested objects.
func lookup(fields map[string]any, path string) (any, bool) {
	var cur any = fields
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return time.Parse(time.RFC3339Nano, x)
	case float64:
		switch {
		case x > 1e11 && x < 1e14: // milliseconds
			return time.UnixMilli(int64(x)), nil
		case x > 1e8 && x < 1e11: // seconds
			sec, frac := math.Modf(x)
			return time.Unix(int64(sec), int64(frac*1e9)), nil
		}
		return time.Time{}, fmt.Errorf("%v is neither Unix seconds nor milliseconds", x)
	}
	return time.Time{}, fmt.Errorf("%s is not a time", describe(v))
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	}
	return "a string"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
