package sla_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"gongdan/core/sla"
)

func TestWorking(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	office := &sla.Calendar{Name: "cn-office", Location: sh,
		Holidays: map[sla.Date]bool{{Year: 2026, Month: 10, Day: 1}: true},
		Workdays: map[sla.Date]bool{{Year: 2026, Month: 10, Day: 10}: true}} // 调休: a Saturday
	for d := time.Monday; d <= time.Friday; d++ {
		office.Week[d] = []sla.Span{{Start: 8*60 + 30, End: 12 * 60}, {Start: 13 * 60, End: 17*60 + 30}}
	}
	at := func(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, loc)
	}
	for _, tc := range []struct {
		name string
		t    time.Time
		want bool
	}{
		{"a Tuesday morning", at(sh, 2026, 11, 24, 10, 0), true},
		{"the first minute of the day's hours", at(sh, 2026, 11, 24, 8, 30), true},
		{"the closing minute is outside", at(sh, 2026, 11, 24, 17, 30), false},
		{"lunch", at(sh, 2026, 11, 24, 12, 0), false},
		{"a Saturday", at(sh, 2026, 11, 28, 10, 0), false},
		{"National Day, a Thursday", at(sh, 2026, 10, 1, 10, 0), false},
		{"the make-up Saturday, worked like a Monday", at(sh, 2026, 10, 10, 10, 0), true},
		{"the make-up Saturday at lunch", at(sh, 2026, 10, 10, 12, 30), false},
		{"a time given in another zone is read in the calendar's", at(berlin, 2026, 11, 24, 3, 0), true}, // 10:00 in Shanghai
		{"Monday 01:00 in Berlin is Monday 08:00 in Shanghai", at(berlin, 2026, 11, 23, 1, 0), false},
	} {
		assert.Equal(t, tc.want, office.Working(tc.t), tc.name)
	}
	always := &sla.Calendar{Name: "24x7", Location: sh, Always: true}
	assert.True(t, always.Working(at(sh, 2026, 10, 1, 3, 0)))
	assert.Equal(t, []sla.Span{{Start: 0, End: 1440}}, always.Spans(sla.Date{Year: 2026, Month: 10, Day: 1}))
	assert.Equal(t, "08:30-12:00", office.Week[time.Monday][0].String())
}
