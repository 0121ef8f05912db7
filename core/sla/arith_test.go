package sla_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/sla"
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// cnOffice is the quickstart's office calendar with mainland China's 2026 holidays and
// make-up workdays (国务院办公厅, 2025-11-04).
func cnOffice() *sla.Calendar {
	c := &sla.Calendar{Name: "cn-office", Location: shanghai, Holidays: map[sla.Date]bool{}, Workdays: map[sla.Date]bool{}}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Week[d] = []sla.Span{{Start: 8*60 + 30, End: 12 * 60}, {Start: 13 * 60, End: 17*60 + 30}}
	}
	off := func(from, to string) {
		a, _ := time.Parse("2006-01-02", from)
		b, _ := time.Parse("2006-01-02", to)
		for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
			c.Holidays[sla.DateOf(d)] = true
		}
	}
	off("2026-01-01", "2026-01-03")
	off("2026-02-15", "2026-02-23")
	off("2026-04-04", "2026-04-06")
	off("2026-05-01", "2026-05-05")
	off("2026-06-19", "2026-06-21")
	off("2026-09-25", "2026-09-27")
	off("2026-10-01", "2026-10-07")
	for _, d := range []string{"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"} {
		t, _ := time.Parse("2006-01-02", d)
		c.Workdays[sla.DateOf(t)] = true
	}
	return c
}

func at(loc *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAddOnTheChinaOfficeCalendar(t *testing.T) {
	c := cnOffice()
	for _, tc := range []struct {
		name  string
		start string
		d     time.Duration
		want  string
	}{
		{"within the morning", "2026-11-24 09:00", 90 * time.Minute, "2026-11-24 10:30"},
		{"over lunch", "2026-11-24 11:30", time.Hour, "2026-11-24 13:30"},
		{"before opening counts from opening", "2026-11-24 06:00", 2 * time.Hour, "2026-11-24 10:30"},
		{"after closing counts from the next opening", "2026-11-24 19:00", time.Hour, "2026-11-25 09:30"},
		{"a deadline exactly at closing stays at closing", "2026-11-24 16:30", time.Hour, "2026-11-24 17:30"},
		{"a deadline exactly at the lunch break stays before it", "2026-11-24 11:00", time.Hour, "2026-11-24 12:00"},
		{"one minute more goes past lunch", "2026-11-24 11:00", 61 * time.Minute, "2026-11-24 13:01"},
		{"Friday afternoon to Monday", "2026-11-27 17:00", time.Hour, "2026-11-30 09:00"},
		{"a full working day (8 h) from opening", "2026-11-24 08:30", 8 * time.Hour, "2026-11-24 17:30"},
		{"a started on a Saturday", "2026-11-28 10:00", 30 * time.Minute, "2026-11-30 09:00"},
		// Spring Festival 2026: off 02-15..02-23, make-up workdays Saturday 02-14 and 02-28.
		{"the make-up Saturday before Spring Festival is worked", "2026-02-14 09:00", time.Hour, "2026-02-14 10:00"},
		{"from the last make-up day over the whole festival", "2026-02-14 17:00", time.Hour, "2026-02-24 09:00"},
		{"Friday before the festival", "2026-02-13 17:00", time.Hour, "2026-02-14 09:00"},
		{"a start during the festival waits for its end", "2026-02-18 10:00", 2 * time.Hour, "2026-02-24 10:30"},
		{"the make-up Saturday after it is worked", "2026-02-27 17:00", time.Hour, "2026-02-28 09:00"},
		// National Day 2026: off 10-01..10-07, make-up workdays Sunday 09-20 and Saturday 10-10.
		{"the make-up Sunday 09-20", "2026-09-19 12:00", time.Hour, "2026-09-20 09:30"},
		{"the day before National Day", "2026-09-30 17:00", time.Hour, "2026-10-08 09:00"},
		{"the make-up Saturday 10-10", "2026-10-09 17:00", time.Hour, "2026-10-10 09:00"},
		{"the Mid-Autumn weekend (09-25..09-27, Friday to Sunday)", "2026-09-24 17:00", time.Hour, "2026-09-28 09:00"},
		{"30 working days", "2026-11-02 08:30", 30 * 8 * time.Hour, "2026-12-11 17:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			due, ok := c.Add(at(shanghai, tc.start), tc.d)
			require.True(t, ok)
			assert.Equal(t, tc.want, due.In(shanghai).Format("2006-01-02 15:04"))
			// Elapsed is its inverse from the start.
			assert.Equal(t, tc.d, c.Elapsed(at(shanghai, tc.start), due), "Elapsed(start, due)")
		})
	}
}

func TestElapsed(t *testing.T) {
	c := cnOffice()
	for _, tc := range []struct {
		from, to string
		want     time.Duration
	}{
		{"2026-11-24 09:00", "2026-11-24 10:00", time.Hour},
		{"2026-11-24 11:00", "2026-11-24 14:00", 2 * time.Hour}, // lunch is not counted
		{"2026-11-24 18:00", "2026-11-25 08:00", 0},
		{"2026-11-27 17:00", "2026-11-30 09:00", time.Hour},         // the weekend is not counted
		{"2026-02-13 08:30", "2026-02-24 17:30", 3 * 8 * time.Hour}, // Friday, the make-up Saturday, the Tuesday after
		{"2026-11-24 10:00", "2026-11-24 09:00", 0},                 // backwards
		{"2026-11-02 00:00", "2026-11-30 00:00", 20 * 8 * time.Hour},
	} {
		assert.Equal(t, tc.want, c.Elapsed(at(shanghai, tc.from), at(shanghai, tc.to)), "%s → %s", tc.from, tc.to)
	}
}

// A calendar in a zone with daylight saving: working hours are wall-clock hours, so the day
// the clocks change has a shorter or longer night, not shorter working hours.
func TestAddAcrossDaylightSavingChanges(t *testing.T) {
	berlin := mustZone("Europe/Berlin")
	c := &sla.Calendar{Name: "de-office", Location: berlin}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Week[d] = []sla.Span{{Start: 9 * 60, End: 17 * 60}}
	}
	night := &sla.Calendar{Name: "de-night", Location: berlin}
	for d := time.Sunday; d <= time.Saturday; d++ {
		night.Week[d] = []sla.Span{{Start: 0, End: 24 * 60}}
	}
	for _, tc := range []struct {
		name  string
		cal   *sla.Calendar
		start string
		d     time.Duration
		want  string
	}{
		// 2026-03-29 (Sunday) 02:00 → 03:00; 2026-10-25 (Sunday) 03:00 → 02:00.
		{"Friday before spring-forward to Monday", c, "2026-03-27 16:00", 2 * time.Hour, "2026-03-30 10:00"},
		{"Friday before fall-back to Monday", c, "2026-10-23 16:00", 2 * time.Hour, "2026-10-26 10:00"},
		{"a whole week over spring-forward", c, "2026-03-23 09:00", 40 * time.Hour, "2026-03-27 17:00"},
		{"round the clock: the spring-forward day has 23 hours", night, "2026-03-29 00:00", 24 * time.Hour, "2026-03-30 01:00"},
		{"round the clock: the fall-back day has 25 hours", night, "2026-10-25 00:00", 24 * time.Hour, "2026-10-25 23:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			due, ok := tc.cal.Add(at(berlin, tc.start), tc.d)
			require.True(t, ok)
			assert.Equal(t, tc.want, due.In(berlin).Format("2006-01-02 15:04"))
			assert.Equal(t, tc.d, tc.cal.Elapsed(at(berlin, tc.start), due))
		})
	}
}

func TestAlwaysAndEmptyCalendars(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghai, Always: true}
	due, ok := always.Add(at(shanghai, "2026-10-01 03:00"), 30*time.Minute)
	require.True(t, ok)
	assert.Equal(t, at(shanghai, "2026-10-01 03:30"), due)
	assert.Equal(t, 2*time.Hour, always.Elapsed(at(shanghai, "2026-10-01 03:00"), at(shanghai, "2026-10-01 05:00")))

	never := &sla.Calendar{Name: "never", Location: shanghai}
	_, ok = never.Add(at(shanghai, "2026-10-01 03:00"), time.Minute)
	assert.False(t, ok, "no working time at all")

	start := at(shanghai, "2026-10-01 03:00")
	due, ok = cnOffice().Add(start, 0)
	assert.True(t, ok)
	assert.Equal(t, start, due, "Add of nothing is the start")
}

// Add and Elapsed agree with a minute-by-minute walk of the calendar, on random questions
// (the week skipping, holidays and make-up days included).
func TestAddAgreesWithAMinuteByMinuteWalk(t *testing.T) {
	c := cnOffice()
	rng := rand.New(rand.NewPCG(7, 11))
	base := at(shanghai, "2026-01-01 00:00")
	for i := range 300 {
		start := base.Add(time.Duration(rng.IntN(360*24*60)) * time.Minute)
		d := time.Duration(1+rng.IntN(40*60)) * time.Minute
		// The walk: count working minutes until d is used up.
		want, left := start, d
		for left > 0 {
			if c.Working(want) {
				left -= time.Minute
			}
			want = want.Add(time.Minute)
		}
		got, ok := c.Add(start, d)
		require.True(t, ok)
		// The walk ends after the last working minute; Add gives that same instant.
		require.Equal(t, want.Format(time.RFC3339), got.Format(time.RFC3339), "case %d: %s + %s", i, start.Format("2006-01-02 15:04 Mon"), d)
		require.Equal(t, d, c.Elapsed(start, got), fmt.Sprintf("case %d", i))
	}
}

func BenchmarkAdd(b *testing.B) {
	c := cnOffice()
	start := at(shanghai, "2026-11-02 08:30")
	for _, span := range []struct {
		name string
		d    time.Duration
	}{{"4h", 4 * time.Hour}, {"30days", 30 * 8 * time.Hour}} {
		b.Run(span.name, func(b *testing.B) {
			for b.Loop() {
				c.Add(start, span.d)
			}
		})
	}
	b.Run("elapsed-30days", func(b *testing.B) {
		end := at(shanghai, "2026-12-02 08:30")
		for b.Loop() {
			c.Elapsed(start, end)
		}
	})
}

// A make-up workday is worked with Monday's hours; a calendar with no Monday hours (Tuesday to
// Saturday) works it with the day's own, and WorkdayHours overrides both.
func TestMakeUpWorkdayHours(t *testing.T) {
	day := func(s string) sla.Date { d, _ := time.Parse("2006-01-02", s); return sla.DateOf(d) }
	tueSat := &sla.Calendar{Name: "tue-sat", Location: shanghai, Workdays: map[sla.Date]bool{day("2026-02-14"): true, day("2026-02-15"): true}}
	for d := time.Tuesday; d <= time.Saturday; d++ {
		tueSat.Week[d] = []sla.Span{{Start: 9 * 60, End: 17 * 60}}
	}
	assert.Equal(t, 8*time.Hour, tueSat.Elapsed(at(shanghai, "2026-02-14 00:00"), at(shanghai, "2026-02-15 00:00")), "a Saturday it works anyway")
	assert.Equal(t, 8*time.Hour, tueSat.Elapsed(at(shanghai, "2026-02-15 00:00"), at(shanghai, "2026-02-16 00:00")), "a make-up Sunday: its first working weekday's hours")
	office := cnOffice()
	assert.Equal(t, 8*time.Hour, office.Elapsed(at(shanghai, "2026-02-14 00:00"), at(shanghai, "2026-02-15 00:00")), "Monday's hours")
	office = &sla.Calendar{Name: office.Name, Location: office.Location, Week: office.Week, Holidays: office.Holidays, Workdays: office.Workdays,
		WorkdayHours: []sla.Span{{Start: 9 * 60, End: 12 * 60}}}
	assert.Equal(t, 3*time.Hour, office.Elapsed(at(shanghai, "2026-02-14 00:00"), at(shanghai, "2026-02-15 00:00")), "workday_hours")
}

// Span edges at a wall time the clocks skip sit at the jump itself, in zones where Go's
// time.Date resolves such times backwards (America/Santiago) as well as forwards
// (Europe/Berlin): Add and Elapsed agree with a minute-by-minute walk of Working.
func TestSpanEdgesInsideTheSkippedHour(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		day   string // the day the clocks spring forward
		spans map[time.Weekday][]sla.Span
	}{
		// 2026-09-06 (Sunday): 00:00 -04 → 01:00 -03. Saturday 09–17, Sunday 00–08.
		{"America/Santiago", "2026-09-05", map[time.Weekday][]sla.Span{time.Saturday: {{Start: 9 * 60, End: 17 * 60}}, time.Sunday: {{Start: 0, End: 8 * 60}}}},
		// 2026-03-08 (Sunday): 02:00 EST → 03:00 EDT. Sunday 02:30–06:00.
		{"America/New_York", "2026-03-07", map[time.Weekday][]sla.Span{time.Sunday: {{Start: 2*60 + 30, End: 6 * 60}}, time.Saturday: {{Start: 9 * 60, End: 17 * 60}}}},
		// 2026-03-29 (Sunday): 02:00 CET → 03:00 CEST. Sunday 02:30–06:00.
		{"Europe/Berlin", "2026-03-28", map[time.Weekday][]sla.Span{time.Sunday: {{Start: 2*60 + 30, End: 6 * 60}}, time.Saturday: {{Start: 9 * 60, End: 17 * 60}}}},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			loc := mustZone(tc.zone)
			c := &sla.Calendar{Name: tc.zone, Location: loc}
			for wd, spans := range tc.spans {
				c.Week[wd] = spans
			}
			start := at(loc, tc.day+" 08:00")
			for i := range 60 {
				from := start.Add(time.Duration(i*13) * time.Minute)
				d := time.Duration(30+i*7) * time.Minute
				want, left := from, d
				for left > 0 {
					if c.Working(want) {
						left -= time.Minute
					}
					want = want.Add(time.Minute)
				}
				got, ok := c.Add(from, d)
				require.True(t, ok)
				require.True(t, want.Equal(got), "%s + %s: walk %s, Add %s", from, d, want, got)
				require.Equal(t, d, c.Elapsed(from, got))
			}
		})
	}
}

func TestTimesOutsideTheWorkingYearsAreRefused(t *testing.T) {
	c := cnOffice()
	_, ok := c.Add(time.Date(2300, 1, 2, 9, 0, 0, 0, shanghai), time.Hour)
	assert.False(t, ok)
	assert.Zero(t, c.Elapsed(time.Date(1600, 1, 2, 9, 0, 0, 0, shanghai), time.Date(2026, 1, 2, 9, 0, 0, 0, shanghai)))
}
