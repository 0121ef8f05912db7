// Package logging builds gongdan's slog logger. Whatever goes through it has mainland phone
// numbers masked (138****5678), in the message and in every string attribute, so a log line
// cannot leak a customer's number however it was written.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"gongdan/normalize"
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

// MaskPhones hides the middle of every phone number in s, as normalize.ExtractPhones finds
// them: mobiles become 138****5678, landlines 0512-****1234. The extractor is the one the
// intake uses, so whatever gongdan recognises as a phone in a message it also masks in a log.
func MaskPhones(s string) string {
	if !hasFourDigits(s) {
		return s
	}
	matches := normalize.ExtractPhones(s)
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m.Start])
		b.WriteString(maskNumber(m.Value))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskNumber keeps what identifies the kind of number and its last four digits.
func maskNumber(v string) string {
	if area, local, ok := strings.Cut(v, "-"); ok && len(local) > 4 {
		return area + "-****" + local[len(local)-4:]
	}
	if len(v) == 11 {
		return v[:3] + "****" + v[7:]
	}
	return "****"
}

// hasFourDigits is a cheap pre-check: any number the pattern matches has a run of 4 digits.
func hasFourDigits(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			run++
			if run >= 4 {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

// MaskingHandler masks phone numbers in the records it passes on.
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
	return MaskingHandler{h.Handler.WithGroup(name)}
}

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, MaskPhones(v.String()))
	case slog.KindInt64, slog.KindUint64:
		// a phone number stored as a number is still a phone number
		if s := v.String(); MaskPhones(s) != s {
			return slog.String(a.Key, MaskPhones(s))
		}
	case slog.KindGroup:
		attrs := v.Group()
		masked := make([]any, len(attrs))
		for i, g := range attrs {
			masked[i] = maskAttr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, MaskPhones(err.Error()))
		}
		if s, ok := v.Any().(fmt.Stringer); ok {
			return slog.String(a.Key, MaskPhones(s.String()))
		}
		return slog.String(a.Key, MaskPhones(strings.TrimSpace(fmt.Sprint(v.Any()))))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
