package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaskPhones(t *testing.T) {
	cases := map[string]string{
		"13812345678":                      "138****5678",
		"电话13812345678请回电":                 "电话138****5678请回电",
		"+86 138 1234 5678":                "138****5678",
		"8613812345678":                    "138****5678",
		"138-1234-5678 and 15900001111":    "138****5678 and 159****1111",
		"13812345678,13912345678":          "138****5678,139****5678",
		"order 201311234567890":            "order 201311234567890", // longer digit run: not a phone
		"12812345678":                      "12812345678",           // 12x is not a mobile prefix
		"GD-20261123-000042":               "GD-20261123-000042",
		"no digits here":                   "no digits here",
		"phone=13812345678&name=王":         "phone=138****5678&name=王",
		`{"phone":"13812345678"}`:          `{"phone":"138****5678"}`,
		"call 021-12345678 for the office": "call 021-****5678 for the office",
		"(0512)6789 1234转88":               "0512-****1234转88",
	}
	for in, want := range cases {
		assert.Equal(t, want, MaskPhones(in), in)
	}
}

type stringer struct{}

func (stringer) String() string { return "customer 13812345678" }

func TestLoggerMasksEverywhere(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := New(&buf, format, "debug")
		require.NoError(t, err)
		log.With("caller", "13900001111").WithGroup("g").Info("ticket from 13812345678",
			"phone", "15012345678",
			"err", errors.New("bad phone 18612345678"),
			"who", stringer{},
			slog.Group("customer", "phone", "17712345678"),
			"phone_number", int64(13312345678), "count", 42)
		out := buf.String()
		for _, raw := range []string{"13900001111", "13812345678", "15012345678", "18612345678", "17712345678", "13312345678"} {
			assert.NotContains(t, out, raw, format)
		}
		for _, masked := range []string{"139****1111", "138****5678", "150****5678", "186****5678", "177****5678", "133****5678"} {
			assert.Contains(t, out, masked, format)
		}
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "xml", "info")
	require.Error(t, err)
	_, err = New(&bytes.Buffer{}, "text", "loud")
	require.Error(t, err)
}
