package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The forms a probe of the running server found unmasked in its log are marked "probe".
func TestMaskPhones(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// mobiles, as the intake writes them
		{"13812345678", "138****5678"},
		{"电话13812345678请回电", "电话138****5678请回电"},
		{"138 1234 5678", "138****5678"},
		{"138-1234-5678 and 15900001111", "138****5678 and 159****1111"},
		{"13812345678,13912345678", "138****5678,139****5678"},
		{"13812345678 13912345678", "138****5678 139****5678"},
		{"13812345678/13912345678", "138****5678/139****5678"},
		{"138 - 1234 - 5678", "138****5678"},
		// country codes
		{"+86 138 1234 5678", "138****5678"},
		{"+8613812345678", "138****5678"},
		{"8613812345678", "138****5678"},
		{"86-138-1234-5678", "138****5678"},
		{"0086 13812345678", "138****5678"},
		{"0086-138-1234-5678", "138****5678"},
		{"(+86)13812345678", "138****5678"},
		{"（+86）138 1234 5678", "138****5678"},
		// probe: full-width digits and separators
		{"１３８１２３４５６７８", "138****5678"},
		{"电话：１３８－１２３４－５６７８。", "电话：138****5678。"},
		{"＋８６ １３８ １２３４ ５６７８", "138****5678"},
		{"138\u30001234\u30005678", "138****5678"},
		{"1３8１2３4５6７8", "138****5678"},
		// probe: dotted and underscored
		{"138.1234.5678", "138****5678"},
		{"138_1234_5678", "138****5678"},
		{"call 138.1234.5678.", "call 138****5678."},
		// probe: embedded in longer tokens, JSON and URLs
		{"tel13812345678x", "tel138****5678x"},
		{"订单13812345678已", "订单138****5678已"},
		{"phone=13812345678&name=王", "phone=138****5678&name=王"},
		{"/t/abc?phone=13812345678#top", "/t/abc?phone=138****5678#top"},
		{"?phone=%2B8613812345678", "?phone=%2B138****5678"},
		{`{"phone":"13812345678"}`, `{"phone":"138****5678"}`},
		{`{"phone":13812345678}`, `{"phone":138****5678}`},
		{`{"openid":"oX13812345678Yz"}`, `{"openid":"oX138****5678Yz"}`},
		{"user_13812345678", "user_138****5678"},
		{"a.13812345678", "a.138****5678"},
		// landlines
		{"call 021-12345678 for the office", "call 021-****5678 for the office"},
		{"(0512)6789 1234转88", "0512-****1234转88"},
		{"010-12345678-8001", "010-****5678-8001"},
		{"０２１－１２３４５６７８", "021-****5678"},
		{"office0755-87654321x", "office0755-****4321x"},
		// not phones: longer digit codes stay whole, not half-masked into nonsense
		{"order 202612071234567890", "order 202612071234567890"},
		{"order 201311234567890", "order 201311234567890"},
		{"９１３８１２３４５６７８", "９１３８１２３４５６７８"},
		{"138123456789", "138123456789"},
		{"2026-13812345678", "2026-13812345678"},
		{"138-1234-5678-9012", "138-1234-5678-9012"},
		{"1.13812345678", "1.13812345678"},
		{"13812345678_0", "13812345678_0"},
		{"12812345678", "12812345678"}, // 12x is not a mobile prefix
		{"1381234567", "1381234567"},   // ten digits
		{"GD-20261123-000042", "GD-20261123-000042"},
		{"2026-12-07T02:48:29.527Z took 13.812345678s", "2026-12-07T02:48:29.527Z took 13.812345678s"},
		{"138\n1234\n5678", "138\n1234\n5678"}, // three lines, three things
		{"0123456789", "0123456789"},           // 012 is no area code
		{"no digits here", "no digits here"},
		{"", ""},
	} {
		assert.Equal(t, tc.want, MaskPhones(tc.in), "MaskPhones(%q)", tc.in)
		assert.Equal(t, tc.want, MaskPhones(tc.want), "masking is idempotent: MaskPhones(%q)", tc.want)
	}
}

func TestMaskPhonesKeepsInvalidUTF8(t *testing.T) {
	in := "\xff13812345678\xfe\xed"
	assert.Equal(t, "\xff138****5678\xfe\xed", MaskPhones(in))
	in = "\xef\xbc13812345678" // a full-width digit cut short
	assert.Equal(t, "\xef\xbc138****5678", MaskPhones(in))
}

// visibleMobile is the rule MaskPhones documents, written out independently for the fuzz
// test in its simplest form: 11 digits 1[3-9]…, ASCII or full-width, with no digit (nor a
// '-', '.' or '_' and a digit) on either side.
var visibleMobile = regexp.MustCompile(`[1１][3-9３-９][0-9０-９]{9}`)

func standingMobiles(s string) []string {
	var out []string
	for _, loc := range visibleMobile.FindAllStringIndex(s, -1) {
		if !gluedBefore(s[:loc[0]]) && !gluedAfter(s[loc[1]:], true) {
			out = append(out, s[loc[0]:loc[1]])
		}
	}
	return out
}

func FuzzMaskPhones(f *testing.F) {
	for _, seed := range []string{
		"13812345678", "tel13812345678x", "１３８１２３４５６７８", "138.1234.5678", "138_1234_5678",
		"+86 138 1234 5678", "0086-13812345678", "(0512)6789 1234转88", "13900002138 1234 5678",
		"13900000086 138 1234 5678", "202612071234567890", "\xff13812345678\xfe", `{"p":13812345678}`,
		"0２1-1234 5678", "138 - 1234 - 5678", "86 86 13812345678",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := MaskPhones(in) // must not panic
		if again := MaskPhones(out); again != out {
			t.Fatalf("not idempotent:\n in   %q\n out  %q\n again %q", in, out, again)
		}
		if left := standingMobiles(out); len(left) > 0 {
			t.Fatalf("mobile numbers %q left in %q (from %q)", left, out, in)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("masking %q made invalid UTF-8: %q", in, out)
		}
	})
}

type stringer struct{}

func (stringer) String() string { return "customer 13812345678" }

type customer struct {
	Name  string
	Phone string
	Tel   int64
	Err   error
}

func TestLoggerMasksEverywhere(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := New(&buf, format, "debug")
		require.NoError(t, err)
		log.With("caller", "13900001111", slog.Group("with", "phone", "１３１１２３４５６７８")).
			WithGroup("g13212345678").
			Info("ticket from 13812345678",
				"phone", "15012345678",
				"err", errors.New("bad phone 18612345678"),
				"wrapped", fmt.Errorf("intake: %w", errors.New("订单18712345678已")),
				"who", stringer{},
				slog.Group("customer", "phone", "17712345678", slog.Group("deeper", "tel", "138.1111.2222")),
				"phone_number", int64(13312345678), "count", 42,
				"as_float", 13412345678.0,
				"struct", customer{Name: "王", Phone: "13512345678", Tel: 13612345678, Err: errors.New("call 13712345678")},
				"map", map[string]any{"phone": "14712345678", "n": int64(14812345678)},
				"ptr", &customer{Phone: "14912345678"},
				"bytes", []byte("tel 15112345678"),
				"13987654321", "a phone as a key",
			)
		out := buf.String()
		for _, raw := range []string{"13900001111", "１３１１２３４５６７８", "13212345678", "13812345678", "15012345678",
			"18612345678", "18712345678", "17712345678", "1111.2222", "13312345678", "13412345678", "1.3412345678e+10",
			"13512345678", "13612345678", "13712345678", "14712345678", "14812345678", "14912345678", "15112345678", "13987654321"} {
			assert.NotContains(t, out, raw, format)
		}
		for _, masked := range []string{"139****1111", "131****5678", "132****5678", "138****5678", "150****5678",
			"186****5678", "187****5678", "177****5678", "138****2222", "133****5678", "134****5678", "135****5678",
			"136****5678", "147****5678", "148****5678", "149****5678", "151****5678", "139****4321"} {
			assert.Contains(t, out, masked, format)
		}
		assert.Contains(t, out, "count", format)
		if format == "json" {
			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "one JSON line: %s", out)
			g := rec["g132****5678"].(map[string]any)
			assert.Equal(t, map[string]any{"phone": "147****5678", "n": "148****5678"}, g["map"],
				"a map stays a JSON object; a phone in a JSON number becomes a string")
			assert.Equal(t, "王", g["struct"].(map[string]any)["Name"], "a struct stays a JSON object")
			assert.Equal(t, float64(42), g["count"], "other numbers stay numbers")
		} else {
			assert.Contains(t, out, "Name:王", "structs as the text handler prints them (%+v)")
			// An error inside a struct has its text printed only by the text handler
			// (encoding/json sees no exported fields in it).
			assert.Contains(t, out, "Err:call 137****5678")
		}
	}
}

func TestLoggerKeepsWhatHasNoPhone(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := New(&buf, format, "debug")
		require.NoError(t, err)
		addr := netip.MustParseAddr("10.0.0.5")
		log.Info("order 202612071234567890", "addr", addr, "ids", []string{"GD-20261123-000042"}, "nil", nil)
		out := buf.String()
		assert.Contains(t, out, "202612071234567890")
		assert.Contains(t, out, "10.0.0.5")
		assert.Contains(t, out, "GD-20261123-000042")
		if format == "json" {
			assert.True(t, json.Valid(bytes.TrimSpace(buf.Bytes())), out)
			assert.Contains(t, out, `"nil":null`)
			assert.Contains(t, out, `"ids":["GD-20261123-000042"]`)
		} else {
			assert.Contains(t, out, "nil=<nil>")
		}
	}
}

// The standard library's log package reaches the handler once serve makes it slog's default.
func TestLoggerAsDefaultMasksTheLogPackage(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "text", "info")
	require.NoError(t, err)
	old := slog.Default()
	slog.SetDefault(log)
	defer slog.SetDefault(old)
	slogLogPrintf("client 13812345678 said hello")
	assert.NotContains(t, buf.String(), "13812345678")
	assert.True(t, strings.Contains(buf.String(), "138****5678"), buf.String())
}

func slogLogPrintf(s string) { stdlog.Print(s) }

func TestNewRejectsBadSettings(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "xml", "info")
	require.Error(t, err)
	_, err = New(&bytes.Buffer{}, "text", "loud")
	require.Error(t, err)
}
