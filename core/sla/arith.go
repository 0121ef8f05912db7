package sla

import (
	"sync"
	"time"
)

// maxDays bounds a search through a calendar: a calendar with no working time in five years
// has none at all.
const maxDays = 5 * 366

const (
	minute = int64(time.Minute)
	day    = 24 * 60 * minute
)

// days is what a calendar needs to walk day by day without map lookups by date or
// time.Date calls: the days off and the extra working days by day number (local days since
// 1970-01-01).
type days struct {
	once     sync.Once
	holidays map[int64]bool
	workdays map[int64]bool
	// weekly is the working time of a week without holidays, for skipping whole weeks.
	weekly time.Duration
}

func (c *Calendar) prepare() *days {
	c.days.once.Do(func() {
		c.days.holidays = make(map[int64]bool, len(c.Holidays))
		for d := range c.Holidays {
			c.days.holidays[d.number()] = true
		}
		c.days.workdays = make(map[int64]bool, len(c.Workdays))
		for d := range c.Workdays {
			c.days.workdays[d.number()] = true
		}
		for _, spans := range c.Week {
			for _, s := range spans {
				c.days.weekly += time.Duration(s.End-s.Start) * time.Minute
			}
		}
	})
	return &c.days
}

// number is d's day number: days since 1970-01-01.
func (d Date) number() int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dateOf is the date of day number n.
func dateOf(n int64) Date { return DateOf(time.Unix(n*86400, 0).UTC()) }

// spansOf is Spans by day number.
func (c *Calendar) spansOf(ds *days, n int64) []Span {
	switch {
	case ds.holidays[n]:
		return nil
	case ds.workdays[n]:
		return c.workdayHours(weekdayOf(n))
	}
	return c.Week[weekdayOf(n)]
}

// weekdayOf is the weekday of day number n (1970-01-01 was a Thursday).
func weekdayOf(n int64) time.Weekday { return time.Weekday(((n % 7) + 7 + 4) % 7) }

// walker turns a calendar's local days and minutes into instants (Unix nanoseconds). While
// the zone's offset holds for a whole day it is arithmetic; a day with a change of offset
// (daylight saving) is read with time.Date, minute by the clock on the wall.
type walker struct {
	loc      *time.Location
	off      int64 // the zone's offset, ns
	from, to int64 // while the offset holds, ns; math.MinInt64/MaxInt64 when for ever
}

func newWalker(loc *time.Location) *walker { return &walker{loc: loc, from: 1, to: 0} }

// dayOf is the local day number of instant ns.
func (w *walker) dayOf(ns int64) int64 {
	t := time.Unix(0, ns).In(w.loc)
	return DateOf(t).number()
}

// bounds returns the instants of minutes a and b of local day n.
func (w *walker) bounds(n int64, a, b int) (int64, int64) {
	mid := n*day - w.off
	if mid < w.from || mid+day+2*60*minute > w.to {
		w.reset(n)
		mid = n*day - w.off
	}
	if mid >= w.from && mid+day+2*60*minute <= w.to {
		return mid + int64(a)*minute, mid + int64(b)*minute
	}
	// The offset changes during the day: ask the wall clock.
	d := dateOf(n)
	at := func(m int) int64 {
		t := time.Date(d.Year, d.Month, d.Day, m/60, m%60, 0, 0, w.loc)
		if m < 24*60 && (t.Hour() != m/60 || t.Minute() != m%60) {
			// A wall time the clocks skip (spring forward): time.Date may put it on either
			// side of the jump; the span's edge is the jump itself.
			t = nearestZoneEdge(t)
		}
		return t.UnixNano()
	}
	return at(a), at(b)
}

// nearestZoneEdge is the change of offset nearest to t.
func nearestZoneEdge(t time.Time) time.Time {
	start, end := t.ZoneBounds()
	switch {
	case start.IsZero():
		return end
	case end.IsZero():
		return start
	case t.Sub(start) <= end.Sub(t):
		return start
	}
	return end
}

// reset reads the zone in effect at the start of local day n.
func (w *walker) reset(n int64) {
	d := dateOf(n)
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, w.loc)
	_, off := t.Zone()
	w.off = int64(off) * int64(time.Second)
	start, end := t.ZoneBounds()
	w.from, w.to = minInt64, maxInt64
	if !start.IsZero() {
		w.from = start.UnixNano()
	}
	if !end.IsZero() {
		w.to = end.UnixNano()
	}
}

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

// Add returns the instant d of working time after start: the due time of a target of d
// started at start. A start outside working time counts from the next opening; a due time
// that falls exactly at a closing stays at the closing (not the next opening). Add of 0 is
// start itself. ok is false when the calendar has no working time within five years.
func (c *Calendar) Add(start time.Time, d time.Duration) (due time.Time, ok bool) {
	if d <= 0 {
		return start, true
	}
	if !InRange(start) || !InRange(start.Add(d)) {
		return time.Time{}, false
	}
	if c.Always {
		return start.Add(d), true
	}
	ds := c.prepare()
	w := newWalker(c.Location)
	cur := start.UnixNano()
	left := int64(d)
	n := w.dayOf(cur)
	for range maxDays {
		// Whole weeks at a time while nothing special happens in them.
		if ds.weekly > 0 && left > int64(ds.weekly) {
			if skip, ok := c.plainWeek(ds, w, n, cur); ok {
				left -= int64(ds.weekly)
				cur = skip
				n += 7
				continue
			}
		}
		for _, s := range c.spansOf(ds, n) {
			a, b := w.bounds(n, s.Start, s.End)
			if b <= cur {
				continue
			}
			from := max(a, cur)
			if avail := b - from; left <= avail {
				return time.Unix(0, from+left).In(c.Location), true
			} else {
				left -= avail
			}
			cur = b
		}
		n++
	}
	return time.Time{}, false
}

// plainWeek reports whether the seven days from day n are ordinary (no holiday, no extra
// workday, no change of offset) and begin at or after cur; if so it returns their end.
func (c *Calendar) plainWeek(ds *days, w *walker, n, cur int64) (int64, bool) {
	start, _ := w.bounds(n, 0, 0)
	end, _ := w.bounds(n+7, 0, 0)
	if start < cur || end-start != 7*day {
		return 0, false
	}
	for i := n; i < n+7; i++ {
		if ds.holidays[i] || ds.workdays[i] {
			return 0, false
		}
	}
	return end, true
}

// InRange reports whether t is within the years calendars work in (they count in Unix
// nanoseconds): 1700 to 2200.
func InRange(t time.Time) bool { return t.Year() >= 1700 && t.Year() <= 2200 }

// Elapsed returns the working time between from and to (0 when to is not after from, or
// either is outside InRange).
func (c *Calendar) Elapsed(from, to time.Time) time.Duration {
	if !to.After(from) || !InRange(from) || !InRange(to) {
		return 0
	}
	if c.Always {
		return to.Sub(from)
	}
	ds := c.prepare()
	w := newWalker(c.Location)
	lo, hi := from.UnixNano(), to.UnixNano()
	var sum int64
	last := w.dayOf(hi)
	for n := w.dayOf(lo); n <= last; n++ {
		if ds.weekly > 0 && n+7 <= last {
			if end, ok := c.plainWeek(ds, w, n, lo); ok && end <= hi {
				sum += int64(ds.weekly)
				n += 6
				continue
			}
		}
		for _, s := range c.spansOf(ds, n) {
			a, b := w.bounds(n, s.Start, s.End)
			a, b = max(a, lo), min(b, hi)
			if b > a {
				sum += b - a
			}
		}
	}
	return time.Duration(sum)
}
