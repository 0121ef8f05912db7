// Package logging builds gongdan's slog logger. Whatever goes through it has mainland phone
// numbers masked (138****5678): in the message, in every attribute however it is typed, in
// errors and in values formatted for the log, so a log line cannot leak a customer's number
// however it was written. It must never be bypassed: serve sets it as slog's default, which
// also takes the standard library's log package.
package logging

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
)

// New returns a logger writing format ("text" or "json") at level ("debug", "info", "warn",
// "error") to w, with phone masking.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(MaskingHandler{h}), nil
}

// MaskingHandler masks phone numbers (see MaskPhones) in everything a record carries to the
// handler it wraps: the message, attribute keys and values, group names, and values of any
// kind as the handler would format them: errors by their text, other values as the text
// handler prints them (%+v, or their MarshalText) and as the JSON handler encodes them
// (their JSON, kept structured). Numbers stored as numbers are masked too, as strings.
type MaskingHandler struct{ slog.Handler }

func (h MaskingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, MaskPhones(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h MaskingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return MaskingHandler{h.Handler.WithAttrs(masked)}
}

func (h MaskingHandler) WithGroup(name string) slog.Handler {
	return MaskingHandler{h.Handler.WithGroup(MaskPhones(name))}
}

func maskAttr(a slog.Attr) slog.Attr {
	key := MaskPhones(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, MaskPhones(v.String()))
	case slog.KindInt64, slog.KindUint64:
		// A phone number stored as a number is still a phone number.
		if s := v.String(); MaskPhones(s) != s {
			return slog.String(key, MaskPhones(s))
		}
	case slog.KindFloat64:
		// So is one stored as a float, which the handlers would print as 1.3812345678e+10.
		if f := v.Float64(); f == math.Trunc(f) && math.Abs(f) < 1e15 {
			if s := strconv.FormatInt(int64(f), 10); MaskPhones(s) != s {
				return slog.String(key, MaskPhones(s))
			}
		}
	case slog.KindGroup:
		attrs := v.Group()
		masked := make([]any, len(attrs))
		for i, g := range attrs {
			masked[i] = maskAttr(g)
		}
		return slog.Group(key, masked...)
	case slog.KindAny:
		_, marshals := v.Any().(json.Marshaler)
		if err, ok := v.Any().(error); ok && !marshals {
			// Both handlers print an error by its text.
			return slog.String(key, MaskPhones(err.Error()))
		}
		return slog.Any(key, maskedValue{v.Any()})
	}
	return slog.Attr{Key: key, Value: v}
}

// maskedValue is a value of kind Any, masked as the handler at hand formats it: the text
// handler asks for MarshalText, the JSON handler (through encoding/json) for MarshalJSON.
type maskedValue struct{ v any }

// MarshalText is the value as the text handler prints it, masked.
func (m maskedValue) MarshalText() ([]byte, error) {
	var s string
	switch v := m.v.(type) {
	case encoding.TextMarshaler:
		text, err := v.MarshalText()
		if err != nil {
			return nil, err
		}
		s = string(text)
	case []byte:
		s = string(v)
	default:
		s = fmt.Sprintf("%+v", m.v)
	}
	return []byte(MaskPhones(s)), nil
}

// MarshalJSON is the value's JSON with phone numbers masked, still structured: byte slices
// as text (base64 would hide a number from the mask, not from a reader), and numbers that
// are phone numbers ({"phone":13812345678}) as strings, which keeps the JSON valid. A value
// with no JSON form is its masked text as a JSON string.
func (m maskedValue) MarshalJSON() ([]byte, error) {
	if b, ok := m.v.([]byte); ok {
		return json.Marshal(MaskPhones(string(b)))
	}
	raw, err := json.Marshal(m.v)
	if err != nil {
		text, err := m.MarshalText()
		if err != nil {
			return nil, err
		}
		return json.Marshal(string(text))
	}
	// Masking the encoded text is enough unless a number was masked.
	if masked := MaskPhones(string(raw)); masked == string(raw) || json.Valid([]byte(masked)) {
		return []byte(masked), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return json.Marshal(maskJSON(tree))
}

// maskJSON masks the strings, keys and numbers of a decoded JSON value.
func maskJSON(v any) any {
	switch v := v.(type) {
	case string:
		return MaskPhones(v)
	case json.Number:
		if masked := MaskPhones(v.String()); masked != v.String() {
			return masked
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[MaskPhones(k)] = maskJSON(x)
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = maskJSON(x)
		}
	}
	return v
}

var (
	_ slog.Handler           = MaskingHandler{}
	_ encoding.TextMarshaler = maskedValue{}
	_ json.Marshaler         = maskedValue{}
)
