package ocr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseSeparator(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	// Wednesday 2026-01-07 23:30 in Shanghai.
	at := time.Date(2026, 1, 7, 23, 30, 0, 0, sh)
	cases := []struct {
		in   string
		want string // "" when it is not a separator
	}{
		{"9:42", "2026-01-07 09:42"},
		{"09:42", "2026-01-07 09:42"},
		{"上午 9:42", "2026-01-07 09:42"},
		{"上午9:42", "2026-01-07 09:42"},
		{"下午 3:20", "2026-01-07 15:20"},
		{"晚上 8:15", "2026-01-07 20:15"},
		{"凌晨 12:05", "2026-01-07 00:05"},
		{"中午 12:30", "2026-01-07 12:30"},
		{"中午 1:10", "2026-01-07 13:10"},
		{"下午 12:10", "2026-01-07 12:10"},
		{"昨天 14:05", "2026-01-06 14:05"},
		{"昨天 下午 2:05", "2026-01-06 14:05"},
		{"前天 08:00", "2026-01-05 08:00"},
		{"星期一 08:10", "2026-01-05 08:10"},
		{"周日 21:00", "2026-01-04 21:00"},
		{"星期三 08:10", "2025-12-31 08:10"}, // today is Wednesday: a week ago
		{"2026年1月5日 下午3:20", "2026-01-05 15:20"},
		{"2025年12月30日 09:00", "2025-12-30 09:00"},
		{"12月30日 晚上 9:00", "2025-12-30 21:00"}, // no year, and this year's would be ahead
		{"1月5日 下午3:20", "2026-01-05 15:20"},
		{"１０：０５", "2026-01-07 10:05"}, // full-width, as OCR may give them
		{"23:50", "2026-01-06 23:50"}, // later than the screenshot: the day before
		{"2月30日 9:00", ""},
		{"2026年2月29日 9:00", ""}, // 2026 is no leap year
		{"10 : 05", "2026-01-07 10:05"},
		{"25:00", ""},
		{"9:75", ""},
		{"13月1日 9:00", ""},
		{"电话 13812345678", ""},
		{"报修 9:42", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, ok := parseSeparator(c.in, at)
		if c.want == "" {
			assert.False(t, ok, "%q is not a separator, got %v", c.in, got)
			continue
		}
		if assert.True(t, ok, "%q", c.in) {
			assert.Equal(t, c.want, got.Format("2006-01-02 15:04"), "%q", c.in)
			assert.Equal(t, sh, got.Location(), "%q", c.in)
		}
	}
}
