package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Steps a series may take (?every=).
const (
	EveryDay  = "day"
	EveryWeek = "week"
)

// Series is the KPIs of each day or week of a period: the dashboard's trend lines. Each point
// is computed as the report over its own window would be (the same definitions, docs/KPIS.md),
// less the backlog and the Gini, which are not per-period figures.
type Series struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Every  string    `json:"every"`
	Points []Point   `json:"points"`
}

// Point is the figures of one day or week. Days and weeks (from Monday) begin at midnight in
// the server's time zone; the first and the last are cut to the period.
type Point struct {
	From            time.Time   `json:"from"`
	Until           time.Time   `json:"until"`
	Created         int         `json:"created"`
	FirstResponse   Durations   `json:"first_response"`
	Resolution      Resolution  `json:"resolution"`
	SLAAttainment   []SLATarget `json:"sla_attainment"`
	FTFR            Rate        `json:"ftfr"`
	TrueClosureRate Rate        `json:"true_closure_rate"`
	CSAT            CSAT        `json:"csat"`
}

// SeriesAccumulator gathers facts and ratings into the points of a series.
type SeriesAccumulator struct {
	w      Window
	every  string
	loc    *time.Location
	starts []int64 // each point's first second
	accs   []*Accumulator
}

// NewSeriesAccumulator starts a series over w, a point each every (EveryDay or EveryWeek).
func NewSeriesAccumulator(w Window, every string, loc *time.Location) (*SeriesAccumulator, error) {
	if every != EveryDay && every != EveryWeek {
		return nil, fmt.Errorf("%q is not a step; one of: day, week", every)
	}
	if loc == nil {
		loc = time.UTC
	}
	s := &SeriesAccumulator{w: w, every: every, loc: loc}
	from := time.Unix(w.From, 0).In(loc)
	next := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	if every == EveryWeek {
		next = next.AddDate(0, 0, -((int(next.Weekday()) + 6) % 7)) // back to Monday
	}
	start := w.From
	for start <= w.Until {
		if every == EveryWeek {
			next = next.AddDate(0, 0, 7)
		} else {
			next = next.AddDate(0, 0, 1)
		}
		end := min(next.Unix()-1, w.Until)
		s.starts = append(s.starts, start)
		s.accs = append(s.accs, NewAccumulator(Window{From: start, Until: end}, "", nil, loc))
		start = end + 1
	}
	return s, nil
}

// point is the index of the point at (-1: outside the period, or never).
func (s *SeriesAccumulator) point(at int64) int {
	if !s.w.Contains(at) {
		return -1
	}
	i, found := slices.BinarySearch(s.starts, at)
	if !found {
		i--
	}
	return i
}

// AddFacts counts a ticket in the points its creation, first accept and first close fall in.
func (s *SeriesAccumulator) AddFacts(f *Facts) {
	done := [3]int{-1, -1, -1}
	for k, at := range []int64{f.CreatedAt, f.FirstAcceptAt, f.FirstClosedAt} {
		i := s.point(at)
		if i < 0 || slices.Contains(done[:k], i) {
			continue
		}
		done[k] = i
		s.accs[i].AddFacts(f)
	}
}

// AddRating counts a survey answer in its point.
func (s *SeriesAccumulator) AddRating(r *Rating) {
	if i := s.point(r.At); i >= 0 {
		s.accs[i].AddRating(r)
	}
}

// Series makes the series.
func (s *SeriesAccumulator) Series() Series {
	out := Series{Since: time.Unix(s.w.From, 0).In(s.loc), Until: time.Unix(s.w.Until, 0).In(s.loc), Every: s.every, Points: make([]Point, len(s.accs))}
	for i, a := range s.accs {
		f := a.figures(a.all)
		out.Points[i] = Point{From: time.Unix(a.w.From, 0).In(s.loc), Until: time.Unix(a.w.Until, 0).In(s.loc),
			Created: f.RepeatRate.Of, FirstResponse: f.FirstResponse, Resolution: f.Resolution, SLAAttainment: f.SLAAttainment,
			FTFR: f.FTFR, TrueClosureRate: f.TrueClosureRate, CSAT: f.CSAT}
	}
	return out
}

// Intake is how many tickets each connector opened in each hour of a period: the dashboard's
// intake chart. A draft merged into an open ticket opens none and is not counted.
type Intake struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Hours are the start of each hour, oldest first; the last is the hour now is in.
	Hours      []time.Time       `json:"hours"`
	Connectors []ConnectorIntake `json:"connectors"`
}

// ConnectorIntake is one connector's tickets per hour, in the order of Intake.Hours.
type ConnectorIntake struct {
	Connector string `json:"connector"`
	Counts    []int  `json:"counts"`
	Total     int    `json:"total"`
}

// IntakeAccumulator counts tickets by connector and hour.
type IntakeAccumulator struct {
	from, until int64
	hours       int
	loc         *time.Location
	counts      map[string][]int
}

// NewIntakeAccumulator counts the hours whole hours up to now's (now's hour included).
func NewIntakeAccumulator(now time.Time, hours int, loc *time.Location) *IntakeAccumulator {
	if loc == nil {
		loc = time.UTC
	}
	last := now.Truncate(time.Hour).Unix()
	return &IntakeAccumulator{from: last - int64(hours-1)*3600, until: now.Unix(), hours: hours, loc: loc, counts: map[string][]int{}}
}

// From is the first second counted: the store need send no ticket last touched before it.
func (a *IntakeAccumulator) From() int64 { return a.from }

// AddFacts counts a ticket created in the period.
func (a *IntakeAccumulator) AddFacts(f *Facts) {
	if f.CreatedAt < a.from || f.CreatedAt > a.until {
		return
	}
	c := a.counts[f.Connector]
	if c == nil {
		c = make([]int, a.hours)
		a.counts[f.Connector] = c
	}
	c[(f.CreatedAt-a.from)/3600]++
}

// Intake makes the counts: connectors by most tickets, then by name.
func (a *IntakeAccumulator) Intake() Intake {
	out := Intake{Since: time.Unix(a.from, 0).In(a.loc), Until: time.Unix(a.until, 0).In(a.loc), Connectors: []ConnectorIntake{}}
	for i := range a.hours {
		out.Hours = append(out.Hours, time.Unix(a.from+int64(i)*3600, 0).In(a.loc))
	}
	for name, c := range a.counts {
		n := 0
		for _, x := range c {
			n += x
		}
		out.Connectors = append(out.Connectors, ConnectorIntake{Connector: name, Counts: c, Total: n})
	}
	slices.SortFunc(out.Connectors, func(x, y ConnectorIntake) int {
		return cmp.Or(y.Total-x.Total, cmp.Compare(x.Connector, y.Connector))
	})
	return out
}
