package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeriesByHand: days begin at midnight in the zone; a ticket counts its creation, first
// response and close in the days they happened, a rating in its own; the first and last days
// are cut to the period.
func TestSeriesByHand(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	at := func(day, hour int) int64 { return time.Date(2026, 11, day, hour, 0, 0, 0, sh).Unix() }
	w := Window{From: at(20, 15), Until: at(23, 9)}
	s, err := NewSeriesAccumulator(w, EveryDay, sh)
	require.NoError(t, err)
	// Created on the 20th, accepted on the 21st after 12 hours, closed on the 22nd.
	s.AddFacts(&Facts{CreatedAt: at(20, 20), FirstAcceptAt: at(21, 8), FirstClosedAt: at(22, 10), ResolvedAt: at(22, 9), EndedAt: at(22, 10), Policy: "std"})
	// Created before the period and closed in it on the 23rd, repeated within the week.
	s.AddFacts(&Facts{CreatedAt: at(19, 10), FirstAcceptAt: at(19, 11), FirstClosedAt: at(23, 8), EndedAt: at(23, 8), RepeatedAt: at(23, 9)})
	// Still open, created on the 23rd.
	s.AddFacts(&Facts{CreatedAt: at(23, 1)})
	s.AddRating(&Rating{At: at(22, 11), Timeliness: 4, Professionalism: 5})
	s.AddRating(&Rating{At: at(19, 11), Timeliness: 1, Professionalism: 1}) // before the period

	got := s.Series()
	require.Len(t, got.Points, 4)
	assert.Equal(t, time.Unix(at(20, 15), 0).In(sh), got.Points[0].From, "cut to the period")
	assert.Equal(t, time.Unix(at(21, 0)-1, 0).In(sh), got.Points[0].Until)
	assert.Equal(t, time.Unix(at(23, 9), 0).In(sh), got.Points[3].Until)
	var created []int
	for _, p := range got.Points {
		created = append(created, p.Created)
	}
	assert.Equal(t, []int{1, 0, 0, 1}, created)
	assert.Equal(t, 1, got.Points[1].FirstResponse.Count)
	assert.Equal(t, float64(12*3600), got.Points[1].FirstResponse.Median)
	assert.Equal(t, 1, got.Points[2].FTFR.Of)
	assert.Equal(t, 1, got.Points[2].FTFR.Count)
	assert.Equal(t, float64(37*3600), got.Points[2].Resolution.Median)
	assert.Equal(t, []SLATarget{{Policy: "std", Target: "resolution", Rate: rate(1, 1)}, {Policy: "std", Target: "response", Rate: rate(1, 1)}}, got.Points[2].SLAAttainment)
	assert.Equal(t, 1, got.Points[2].CSAT.Count)
	assert.Equal(t, 1, got.Points[3].FTFR.Of)
	assert.Equal(t, 0, got.Points[3].FTFR.Count, "repeated within the week")
	assert.Equal(t, 0, got.Points[0].CSAT.Count)

	weeks, err := NewSeriesAccumulator(Window{From: at(4, 12), Until: at(23, 9)}, EveryWeek, sh)
	require.NoError(t, err)
	ws := weeks.Series()
	require.Len(t, ws.Points, 4, "Wed 4th–Sun 8th, 9–15, 16–22, 23")
	for _, p := range ws.Points[1:] {
		assert.Equal(t, time.Monday, p.From.Weekday())
	}
	_, err = NewSeriesAccumulator(w, "month", sh)
	assert.Error(t, err)
}

// TestIntakeByHour: tickets are counted in the hour they were created, per connector, the
// busiest connector first; older tickets are not counted.
func TestIntakeByHour(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	a := NewIntakeAccumulator(now, 3, time.UTC)
	assert.Equal(t, time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC).Unix(), a.From())
	for _, f := range []Facts{
		{Connector: "mqtt", CreatedAt: now.Add(-10 * time.Minute).Unix()},
		{Connector: "mqtt", CreatedAt: now.Add(-2 * time.Hour).Unix()},
		{Connector: "wechat", CreatedAt: now.Add(-30 * time.Minute).Unix()},
		{Connector: "wechat", CreatedAt: now.Add(-3 * time.Hour).Unix()},
	} {
		a.AddFacts(&f)
	}
	in := a.Intake()
	require.Len(t, in.Hours, 3)
	assert.Equal(t, []ConnectorIntake{{Connector: "mqtt", Counts: []int{1, 0, 1}, Total: 2}, {Connector: "wechat", Counts: []int{0, 0, 1}, Total: 1}}, in.Connectors)
}
