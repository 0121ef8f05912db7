package normalize

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var shanghai = time.FixedZone("CST", 8*3600)

func TestParseChineseTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	at := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, shanghai)
	}
	tests := []struct {
		name     string
		text     string
		want     time.Time
		wantText string
	}{
		{"上午 H:MM", "上午 9:42 设备报警", at(11, 23, 9, 42), "上午 9:42"},
		{"下午3点", "下午3点开始漏水", at(11, 23, 15, 0), "下午3点"},
		{"今天下午3点", "今天下午3点停机", at(11, 23, 15, 0), "今天下午3点"},
		{"昨天 14:05", "昨天 14:05 跳闸", at(11, 22, 14, 5), "昨天 14:05"},
		{"前天晚上8点半", "前天晚上8点半发现", at(11, 21, 20, 30), "前天晚上8点半"},
		{"明天上午10点", "明天上午10点来人", at(11, 24, 10, 0), "明天上午10点"},
		{"month day", "11月23日 9:30报修", at(11, 23, 9, 30), "11月23日 9:30"},
		{"full date 时分", "2026年11月23日14时05分", at(11, 23, 14, 5), "2026年11月23日14时05分"},
		{"iso", "时间：2026-11-23 14:05", at(11, 23, 14, 5), "2026-11-23 14:05"},
		{"bare H:MM is today", "9:42 急停", at(11, 23, 9, 42), "9:42"},
		{"凌晨2点", "凌晨2点报警", at(11, 23, 2, 0), "凌晨2点"},
		{"中午12点", "中午12点", at(11, 23, 12, 0), "中午12点"},
		{"中午1点", "中午1点", at(11, 23, 13, 0), "中午1点"},
		{"凌晨12点 is midnight", "凌晨12点", at(11, 23, 0, 0), "凌晨12点"},
		{"下午 with 24-hour clock", "下午15:30", at(11, 23, 15, 30), "下午15:30"},
		{"一刻", "今天10点一刻", at(11, 23, 10, 15), "今天10点一刻"},
		{"minutes with 分", "昨晚9点5分", at(11, 22, 21, 5), "昨晚9点5分"},
		{"relative crosses month", "前天 8:00", at(11, 21, 8, 0), "前天 8:00"},
		{"first expression wins", "昨天 14:05 停机，今天 9:00 又停", at(11, 22, 14, 5), "昨天 14:05"},
		{"skips impossible date", "2月30日 9:00，后来 10:30", at(11, 23, 10, 30), "10:30"},
		{"seconds", "14:05:33", time.Date(2026, 11, 23, 14, 5, 33, 0, shanghai), "14:05:33"},
		{"full-width colon", "上午9：42", at(11, 23, 9, 42), "上午9：42"},
		{"一位数分钟不吞后面的数字", "下午3点2号线停了", at(11, 23, 15, 0), "下午3点"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, m, ok := ParseChineseTime(tt.text, now)
			require.True(t, ok, "no time found")
			assert.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
			assert.Equal(t, now.Location(), got.Location())
			assert.Equal(t, tt.wantText, m.Text)
			assert.Equal(t, tt.text[m.Start:m.End], m.Text)
			assert.Equal(t, tt.want.Format(time.RFC3339), m.Value)
		})
	}
}

func TestParseChineseTimeNotFound(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai)
	for _, text := range []string{
		"",
		"3号线急停",
		"有3点要求",    // a bare 点 time needs a date or part of the day
		"11月23日报修", // a date without a time of day
		"今天下午",     // no hour
		"晚上12点",    // which midnight?
		"晚上1点",     // 01:00 or 13:00?
		"上午14点",    // impossible
		"25:00",
		"9:60",
		"工单GD-20261123-000042",
		"19:423",           // the head of a longer number
		"2026-02-30 10:00", // impossible date: its time alone would be a guess
	} {
		t.Run(text, func(t *testing.T) {
			got, m, ok := ParseChineseTime(text, now)
			assert.False(t, ok, "found %s in %q (%q)", got, text, m.Text)
		})
	}
}

func TestParseChineseTimeUsesNowsLocation(t *testing.T) {
	utc := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	got, _, ok := ParseChineseTime("今天 9:00", utc)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), got)
	got, _, ok = ParseChineseTime("今天 9:00", utc.In(shanghai)) // already 24 Nov in Shanghai
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 24, 9, 0, 0, 0, shanghai), got)
}
