// Package sla holds business calendars, SLA policies, clocks and escalation tiers.
//
// It is pure: no I/O and no clock. Every time it works with is passed in, so that a calendar
// answers the same for the same question in a test, in a replay and in production.
package sla

import (
	"fmt"
	"time"
)

// Span is a part of a day, from Start to End minutes after midnight (End exclusive; 1440 is
// midnight at the end of the day).
type Span struct {
	Start, End int
}

// Contains reports whether minute m of a day is in the span.
func (s Span) Contains(m int) bool { return m >= s.Start && m < s.End }

func (s Span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.Start/60, s.Start%60, s.End/60, s.End%60)
}

// Date is a calendar day, without a time or a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is t's date in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Calendar is when work is done: weekly working hours, days off (holidays) and extra working
// days (make-up workdays, 调休), in one time zone; or every hour of every day.
type Calendar struct {
	Name     string
	Location *time.Location
	// Always: every hour of every day (24×7); the rest is ignored.
	Always bool
	// Week holds each weekday's working spans, indexed by time.Weekday, in order and not
	// overlapping.
	Week [7][]Span
	// Holidays are days off whatever the weekday.
	Holidays map[Date]bool
	// Workdays are working days whatever the weekday, worked with WorkdayHours: a make-up
	// Saturday is worked like a normal weekday.
	Workdays map[Date]bool
	// WorkdayHours are the spans of a make-up workday. Empty: Monday's; a calendar with no
	// Monday hours, the day's own, else those of its first working weekday.
	WorkdayHours []Span

	days days // derived from the fields above at first use; change none of them after
}

// Spans returns the working spans of day d.
func (c *Calendar) Spans(d Date) []Span {
	if c.Always {
		return []Span{{0, 24 * 60}}
	}
	switch {
	case c.Holidays[d]:
		return nil
	case c.Workdays[d]:
		return c.workdayHours(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday())
	}
	return c.Week[time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()]
}

// workdayHours are the spans of a make-up workday that falls on weekday wd.
func (c *Calendar) workdayHours(wd time.Weekday) []Span {
	switch {
	case len(c.WorkdayHours) > 0:
		return c.WorkdayHours
	case len(c.Week[time.Monday]) > 0:
		return c.Week[time.Monday]
	case len(c.Week[wd]) > 0:
		return c.Week[wd]
	}
	for d := time.Monday; d <= time.Saturday+1; d++ {
		if spans := c.Week[d%7]; len(spans) > 0 {
			return spans
		}
	}
	return nil
}

// Working reports whether t falls in working time.
func (c *Calendar) Working(t time.Time) bool {
	if c.Always {
		return true
	}
	t = t.In(c.Location)
	m := t.Hour()*60 + t.Minute()
	for _, s := range c.Spans(DateOf(t)) {
		if s.Contains(m) {
			return true
		}
	}
	return false
}
