package sla_test

// Cases taken from the published test suites of established business-hours libraries, each
// translated onto Calendar: the same working hours, the same days off, the same zone and the
// same expected answer. Every group names the repository, the file and the test it comes
// from. Where a library's convention differs from ours the case is adapted or left out, and a
// comment says so.
//
// Conventions of ours that matter here: a start outside working time counts from the next
// opening; a due time exactly at a closing stays at the closing; Add of 0 is the start
// itself; Elapsed counts working time in [from, to) and is 0 when to is not after from;
// Working is true in [opening, closing).

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/sla"
)

type pubAddCase struct {
	test  string // the test's name in the source
	cal   *sla.Calendar
	start time.Time
	d     time.Duration
	want  time.Time
}

type pubElapsedCase struct {
	test     string
	cal      *sla.Calendar
	from, to time.Time
	want     time.Duration
}

type pubWorkingCase struct {
	test string
	cal  *sla.Calendar
	at   time.Time
	want bool
}

func runPublished(t *testing.T, adds []pubAddCase, elapsed []pubElapsedCase, working []pubWorkingCase) {
	t.Helper()
	for _, tc := range adds {
		t.Run("Add/"+tc.test, func(t *testing.T) {
			got, ok := tc.cal.Add(tc.start, tc.d)
			require.True(t, ok)
			assert.True(t, tc.want.Equal(got), "Add(%s, %s) = %s, want %s", tc.start, tc.d, got, tc.want)
		})
	}
	for _, tc := range elapsed {
		t.Run("Elapsed/"+tc.test, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.cal.Elapsed(tc.from, tc.to), "Elapsed(%s, %s)", tc.from, tc.to)
		})
	}
	for _, tc := range working {
		t.Run("Working/"+tc.test, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.cal.Working(tc.at), "Working(%s)", tc.at)
		})
	}
}

func pubZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// pubAt is minute m of hour h on y-mo-d in loc.
func pubAt(loc *time.Location, y int, mo time.Month, d, h, m int) time.Time {
	return time.Date(y, mo, d, h, m, 0, 0, loc)
}

func pubSpan(fromH, fromM, toH, toM int) sla.Span {
	return sla.Span{Start: fromH*60 + fromM, End: toH*60 + toM}
}

// pubCalendar builds a calendar in loc with the given weekly hours and days off.
func pubCalendar(name string, loc *time.Location, week map[time.Weekday][]sla.Span, holidays ...sla.Date) *sla.Calendar {
	c := &sla.Calendar{Name: name, Location: loc, Holidays: map[sla.Date]bool{}}
	for d, spans := range week {
		c.Week[d] = spans
	}
	for _, h := range holidays {
		c.Holidays[h] = true
	}
	return c
}

// pubNineToFive is Monday to Friday, 09:00–17:00: the default of business_time, businesstime
// and rickar/cal.
func pubNineToFive(name string, loc *time.Location, holidays ...sla.Date) *sla.Calendar {
	week := map[time.Weekday][]sla.Span{}
	for d := time.Monday; d <= time.Friday; d++ {
		week[d] = []sla.Span{pubSpan(9, 0, 17, 0)}
	}
	return pubCalendar(name, loc, week, holidays...)
}

// TestPublishedBusinessTime: the Ruby gem bokmann/business_time. Its default is Monday to
// Friday, 09:00–17:00, no holidays (test/helper.rb resets the configuration after each test).
// In its work_hours setting ["0:00", "0:00"] means the whole day, and a day left out of
// work_hours is not worked.
func TestPublishedBusinessTime(t *testing.T) {
	eastern := pubZone(t, "America/New_York")
	utc := time.UTC

	// Dec 24 2010 is a Friday; Dec 27 a Monday.
	workHours := pubCalendar("business_time work_hours", utc, map[time.Weekday][]sla.Span{
		time.Monday:   {pubSpan(9, 0, 17, 0)},
		time.Friday:   {pubSpan(9, 0, 17, 0)},
		time.Saturday: {pubSpan(10, 0, 15, 0)},
	})
	someWholeDays := pubCalendar("business_time some 24 hour days", utc, map[time.Weekday][]sla.Span{
		time.Monday:   {pubSpan(0, 0, 24, 0)},
		time.Friday:   {pubSpan(0, 0, 24, 0)},
		time.Saturday: {pubSpan(11, 0, 15, 0)},
	})
	fridayOnly := pubCalendar("business_time friday only", utc, map[time.Weekday][]sla.Span{
		time.Friday: {pubSpan(9, 0, 17, 0)},
	})

	adds := []pubAddCase{
		// bokmann/business_time, test/test_business_hours_eastern.rb, "business hours" /
		// "with a TimeWithZone object in US Eastern" / "when adding/subtracting positive
		// business hours" (Time.zone = 'Eastern Time (US & Canada)', i.e. America/New_York).
		{
			"eastern: move to tomorrow if we add 8 business hours",
			pubNineToFive("business_time eastern", eastern),
			pubAt(eastern, 2010, time.August, 4, 9, 35), 8 * time.Hour,
			pubAt(eastern, 2010, time.August, 5, 9, 35),
		},
		{
			"eastern: take into account a weekend when adding an hour",
			pubNineToFive("business_time eastern", eastern),
			pubAt(eastern, 2010, time.April, 9, 16, 50), time.Hour,
			pubAt(eastern, 2010, time.April, 12, 9, 50),
		},
		{
			"eastern: take into account a holiday",
			pubNineToFive("business_time eastern", eastern, sla.Date{Year: 2010, Month: time.July, Day: 5}),
			pubAt(eastern, 2010, time.July, 2, 16, 50), time.Hour,
			pubAt(eastern, 2010, time.July, 6, 9, 50),
		},

		// bokmann/business_time, test/test_business_hours.rb, "business hours" / "with a
		// standard Time object". These parse times in the machine's local zone; none of them
		// spans a change of offset, so we use UTC for both the calendar and the times.
		{
			"respect work_hours",
			workHours,
			pubAt(utc, 2010, time.December, 24, 15, 0), 9 * time.Hour,
			pubAt(utc, 2010, time.December, 27, 11, 0),
		},
		{
			"respect work_hours when starting before beginning of workday",
			workHours,
			pubAt(utc, 2010, time.December, 24, 8, 0), 15 * time.Hour,
			pubAt(utc, 2010, time.December, 27, 11, 0),
		},
		{
			"respect work_hours with some 24 hour days",
			someWholeDays,
			pubAt(utc, 2010, time.December, 24, 15, 0), 24 * time.Hour,
			pubAt(utc, 2010, time.December, 27, 11, 0),
		},
		{
			// The due time falls exactly at Friday's closing, and business_time, like us,
			// answers the closing (17:00), not the next opening.
			"respect work_hours within same day",
			fridayOnly,
			pubAt(utc, 2010, time.December, 24, 8, 0), 8 * time.Hour,
			pubAt(utc, 2010, time.December, 24, 17, 0),
		},
	}

	elapsed := []pubElapsedCase{
		// bokmann/business_time, test/test_calculating_business_duration.rb, "calculating
		// business duration" (business_time_until). Local-zone times as above: UTC.
		{
			"properly calculate business time with respect to work_hours",
			workHours,
			pubAt(utc, 2010, time.December, 24, 15, 0), pubAt(utc, 2010, time.December, 27, 11, 0),
			9 * time.Hour,
		},
		{
			// Time.zone = 'UTC' with times parsed at +0300: the hours are read in UTC. The
			// expected 53805.0 seconds is 14h56m45s.
			"properly calculate business time with respect to work_hours with UTC time zone",
			pubCalendar("business_time mon-wed 9-18", utc, map[time.Weekday][]sla.Span{
				time.Monday:    {pubSpan(9, 0, 18, 0)},
				time.Tuesday:   {pubSpan(9, 0, 18, 0)},
				time.Wednesday: {pubSpan(9, 0, 18, 0)},
			}),
			time.Date(2012, time.May, 28, 11, 4, 26, 0, time.FixedZone("+0300", 3*3600)),
			time.Date(2012, time.May, 29, 17, 56, 45, 0, time.FixedZone("+0300", 3*3600)),
			53805 * time.Second,
		},
		{
			"properly calculate business time with respect to work_hours with all days as 00:24",
			pubCalendar("business_time all 24 hour days", utc, map[time.Weekday][]sla.Span{
				time.Monday:   {pubSpan(0, 0, 24, 0)},
				time.Friday:   {pubSpan(0, 0, 24, 0)},
				time.Saturday: {pubSpan(0, 0, 24, 0)},
				time.Sunday:   {pubSpan(0, 0, 24, 0)},
			}),
			pubAt(utc, 2010, time.December, 24, 15, 0), pubAt(utc, 2010, time.December, 27, 11, 0),
			68 * time.Hour,
		},
		{
			"properly calculate overnight business time",
			pubCalendar("business_time mon-tue 8-20", utc, map[time.Weekday][]sla.Span{
				time.Monday:  {pubSpan(8, 0, 20, 0)},
				time.Tuesday: {pubSpan(8, 0, 20, 0)},
			}),
			pubAt(utc, 2014, time.May, 12, 20, 50), pubAt(utc, 2014, time.May, 13, 8, 10),
			10 * time.Minute,
		},
	}

	runPublished(t, adds, elapsed, nil)
}

// TestPublishedBiz: the Ruby gem zendesk/biz. Its specs share a schedule from
// spec/support/time.rb: Mon/Wed/Fri 09:00–17:00, Tue/Thu 10:00–16:00, Sat 11:00–14:30, in
// Etc/UTC, no holidays unless a spec gives some. January 1 2006 is a Sunday.
//
// Left out: spec/calculation/active_spec.rb, "when the time is at the end of an interval"
// (Mon 2006-01-02 17:00 is active in biz, whose intervals include their end; ours end
// exclusive, so Working is false there).
func TestPublishedBiz(t *testing.T) {
	etcUTC := pubZone(t, "Etc/UTC")
	bizWeek := map[time.Weekday][]sla.Span{
		time.Monday:    {pubSpan(9, 0, 17, 0)},
		time.Tuesday:   {pubSpan(10, 0, 16, 0)},
		time.Wednesday: {pubSpan(9, 0, 17, 0)},
		time.Thursday:  {pubSpan(10, 0, 16, 0)},
		time.Friday:    {pubSpan(9, 0, 17, 0)},
		time.Saturday:  {pubSpan(11, 0, 14, 30)},
	}
	support := pubCalendar("biz spec support schedule", etcUTC, bizWeek)
	// spec/schedule_spec.rb uses the same hours with holidays 2006-01-01 and 2006-12-25. It
	// also configures breaks (2006-01-02 10:00–11:30; 2006-01-03 14:15–14:30 and
	// 15:40–15:50), which Calendar cannot express; no case below touches those times.
	schedule := pubCalendar("biz schedule_spec", etcUTC, bizWeek,
		sla.Date{Year: 2006, Month: time.January, Day: 1},
		sla.Date{Year: 2006, Month: time.December, Day: 25})
	// spec/biz_spec.rb: Sundays 11:00–12:00 in Africa/Abidjan, holiday 2015-12-25.
	abidjan := pubCalendar("biz biz_spec", pubZone(t, "Africa/Abidjan"),
		map[time.Weekday][]sla.Span{time.Sunday: {pubSpan(11, 0, 12, 0)}},
		sla.Date{Year: 2015, Month: time.December, Day: 25})

	adds := []pubAddCase{
		// zendesk/biz, spec/calculation/for_duration_spec.rb, "#after", "returns the forward
		// time after the elapsed duration".
		{
			"for_duration after",
			support,
			pubAt(time.UTC, 2006, time.January, 2, 11, 0), 19 * time.Hour,
			pubAt(time.UTC, 2006, time.January, 4, 16, 0),
		},
		// zendesk/biz, spec/schedule_spec.rb, "#time", "returns the time after an amount of
		// elapsed business time".
		{
			"schedule time",
			schedule,
			pubAt(time.UTC, 2006, time.January, 2, 9, 0), 30 * time.Minute,
			pubAt(time.UTC, 2006, time.January, 2, 9, 30),
		},
		// zendesk/biz, spec/biz_spec.rb, ".time", "delegates to the top-level schedule": two
		// hours after the first Sunday's midnight end at the second Sunday's closing.
		{
			"biz time",
			abidjan,
			pubAt(time.UTC, 2006, time.January, 1, 0, 0), 2 * time.Hour,
			pubAt(time.UTC, 2006, time.January, 8, 12, 0),
		},
	}

	elapsed := []pubElapsedCase{
		// zendesk/biz, spec/calculation/duration_within_spec.rb.
		{
			"duration_within: when the calculation start time is before the end time",
			support,
			pubAt(time.UTC, 2006, time.January, 1, 0, 0), pubAt(time.UTC, 2006, time.January, 8, 0, 0),
			39*time.Hour + 30*time.Minute,
		},
		{
			"duration_within: when the calculation start time is after the end time",
			support,
			pubAt(time.UTC, 2006, time.January, 8, 0, 0), pubAt(time.UTC, 2006, time.January, 1, 0, 0),
			0,
		},
		// zendesk/biz, spec/schedule_spec.rb, "#within", "returns the amount of elapsed
		// business time between two times".
		{
			"schedule within",
			schedule,
			pubAt(time.UTC, 2006, time.January, 5, 12, 0), pubAt(time.UTC, 2006, time.January, 6, 12, 0),
			7 * time.Hour,
		},
		// zendesk/biz, spec/biz_spec.rb, ".within", "delegates to the top-level schedule".
		{
			"biz within",
			abidjan,
			pubAt(time.UTC, 2006, time.January, 1, 11, 30), pubAt(time.UTC, 2006, time.January, 8, 11, 30),
			time.Hour,
		},
	}

	working := []pubWorkingCase{
		// zendesk/biz, spec/schedule_spec.rb, "#in_hours?", "when the time is not in business
		// hours".
		{"schedule in_hours? not in business hours", schedule, pubAt(time.UTC, 2006, time.January, 2, 8, 0), false},
	}

	runPublished(t, adds, elapsed, working)
}

// TestPublishedPythonBusinesstime: the Python package seatgeek/businesstime,
// businesstime/test/__init__.py, class BusinessTimeTest: BusinessTime(holidays=
// USFederalHolidays()), whose default is Monday to Friday 09:00–17:00. Its datetimes are
// naive; we read them in UTC.
//
// businesstimedelta answers a timedelta in which a "day" is one full business day, that is
// the 8 opening hours (businesstime/__init__.py adds timedelta(days=1) per business day
// crossed), so timedelta(days=2, hours=1) is 17 hours of working time here.
func TestPublishedPythonBusinesstime(t *testing.T) {
	const bday = 8 * time.Hour
	utc := time.UTC
	// The US federal holidays of 2014 and 2015 as the same file's USFederalHolidaysTest
	// lists them (test_2014, test_2015).
	var holidays []sla.Date
	for _, d := range []string{
		"2014-01-01", "2014-01-20", "2014-02-17", "2014-05-26", "2014-07-04", "2014-09-01",
		"2014-10-13", "2014-11-11", "2014-11-27", "2014-12-25",
		"2015-01-01", "2015-01-19", "2015-02-16", "2015-05-25", "2015-07-03", "2015-07-04",
		"2015-09-07", "2015-10-12", "2015-11-11", "2015-11-26", "2015-12-25",
	} {
		day, err := time.Parse("2006-01-02", d)
		require.NoError(t, err)
		holidays = append(holidays, sla.DateOf(day))
	}
	bt := pubNineToFive("businesstime USFederalHolidays", utc, holidays...)

	elapsed := []pubElapsedCase{
		{
			// Thursday evening to Wednesday 10:00 over MLK day (Monday 2014-01-20).
			"test_businesstimedelta_after_during",
			bt,
			pubAt(utc, 2014, time.January, 16, 18, 30), pubAt(utc, 2014, time.January, 22, 10, 0),
			2*bday + time.Hour,
		},
		{
			// The second assertion of the test (start one minute after closing).
			"test_businesstimedelta_1_minute_after_during",
			bt,
			pubAt(utc, 2015, time.February, 23, 17, 1), pubAt(utc, 2015, time.February, 24, 14, 20),
			5*time.Hour + 20*time.Minute,
		},
		{
			"test_businesstimedelta_during_nonbusiness2",
			bt,
			pubAt(utc, 2014, time.January, 9, 16, 15), pubAt(utc, 2014, time.January, 12, 12, 30),
			bday + 45*time.Minute,
		},
		{
			"test_businesstimedelta_during_during",
			bt,
			pubAt(utc, 2014, time.January, 2, 9, 12), pubAt(utc, 2014, time.January, 3, 9, 10),
			7*time.Hour + 58*time.Minute,
		},
		{
			"test_businesstimedelta_exactly_one_day2",
			bt,
			pubAt(utc, 2014, time.January, 7, 9, 0), pubAt(utc, 2014, time.January, 8, 9, 0),
			bday,
		},
	}

	working := []pubWorkingCase{
		// test_isduringbusinessday, fourth assertion: 11:46:43 on MLK day.
		{
			"test_isduringbusinessday on MLK day",
			bt,
			time.Date(2014, time.January, 20, 11, 46, 43, 0, utc),
			false,
		},
	}

	runPublished(t, nil, elapsed, working)
}

// TestPublishedRickarCal: the Go module rickar/cal, v2/cal_business_test.go, with cal1 :=
// NewBusinessCalendar() (Monday to Friday 09:00–17:00, no holidays, times in UTC). The
// tests' cal2 has hours that change with the day of the month, which Calendar cannot
// express, so its cases are left out. WorkHoursInRange also answers the same for a flipped
// range, where our Elapsed answers 0; only the forward direction is taken.
func TestPublishedRickarCal(t *testing.T) {
	utc := time.UTC
	cal1 := pubNineToFive("rickar/cal NewBusinessCalendar", utc)

	adds := []pubAddCase{
		// TestAddWorkHours. 2020-04-01 is a Wednesday; 2020-04-04 a Saturday.
		{
			"TestAddWorkHours: before opening, a full day ends at the closing",
			cal1,
			pubAt(utc, 2020, time.April, 1, 6, 0), 8 * time.Hour,
			pubAt(utc, 2020, time.April, 1, 17, 0),
		},
		{
			"TestAddWorkHours: after closing",
			cal1,
			pubAt(utc, 2020, time.April, 1, 18, 0), 3 * time.Hour,
			pubAt(utc, 2020, time.April, 2, 12, 0),
		},
		{
			"TestAddWorkHours: zero on a Saturday",
			cal1,
			pubAt(utc, 2020, time.April, 4, 9, 0), 0,
			pubAt(utc, 2020, time.April, 4, 9, 0),
		},
		{
			"TestAddWorkHours: 24 hours from a Saturday",
			cal1,
			pubAt(utc, 2020, time.April, 4, 9, 0), 24 * time.Hour,
			pubAt(utc, 2020, time.April, 8, 17, 0),
		},
	}

	elapsed := []pubElapsedCase{
		// TestWorkHoursInRange.
		{
			"TestWorkHoursInRange: into the next day",
			cal1,
			pubAt(utc, 2020, time.April, 1, 9, 15), pubAt(utc, 2020, time.April, 2, 12, 0),
			10*time.Hour + 45*time.Minute,
		},
	}

	runPublished(t, adds, elapsed, nil)
}
