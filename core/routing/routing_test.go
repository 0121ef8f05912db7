package routing_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"gongdan/core/routing"
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

// A Tuesday, 10:00 in Shanghai.
var tuesday10 = time.Date(2026, 11, 24, 10, 0, 0, 0, shanghai)

// Suzhou Industrial Park and places around it.
var (
	parkSite  = routing.Point{Lat: 31.3000, Lon: 120.6200} // the ticket's site
	near1km   = routing.Point{Lat: 31.3090, Lon: 120.6200}
	near3km   = routing.Point{Lat: 31.3270, Lon: 120.6200}
	far50km   = routing.Point{Lat: 31.7500, Lon: 120.6200}
	shanghaiC = routing.Point{Lat: 31.2304, Lon: 121.4737} // ~81 km
)

func officeCalendar() *sla.Calendar {
	c := &sla.Calendar{Name: "cn-office", Location: shanghai}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Week[d] = []sla.Span{{Start: 8*60 + 30, End: 12 * 60}, {Start: 13 * 60, End: 17*60 + 30}}
	}
	return c
}

func newRouter(t testing.TB, cfg routing.Config) *routing.Router {
	t.Helper()
	if cfg.Calendars == nil {
		cfg.Calendars = map[string]*sla.Calendar{"cn-office": officeCalendar()}
	}
	r, err := routing.New(cfg)
	require.NoError(t, err)
	return r
}

func engineer(id string, at routing.Point, skills ...string) routing.Engineer {
	return routing.Engineer{ID: id, Name: id, Skills: skills, Home: at, RadiusKM: 20, MaxOpen: 5, MaxDaily: 8, Status: routing.StatusOnDuty}
}

func ticketAt(p routing.Point, category string) routing.Env {
	return routing.Env{Category: category, Urgency: "orange", Location: routing.EnvLocation{Lat: p.Lat, Lon: p.Lon}}
}

func candidate(t *testing.T, d routing.Decision, team, id string) routing.Candidate {
	t.Helper()
	for _, tt := range d.Teams {
		if tt.Team != team {
			continue
		}
		for i, c := range tt.Candidates {
			if tt.Engineer(i) == id {
				return c
			}
		}
	}
	t.Fatalf("no candidate %s in team %s: %+v", id, team, d.Teams)
	return routing.Candidate{}
}

// Each filter on its own: one engineer who fails only that filter, and the reason recorded.
func TestEachFilter(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(e *routing.Engineer, live *routing.Live, req *routing.Request)
		filter routing.Filter
	}{
		{"declined this ticket", func(e *routing.Engineer, _ *routing.Live, req *routing.Request) {
			req.Exclude = map[string]string{e.ID: "declined: too_far"}
		}, routing.FilterExcluded},
		{"on leave", func(e *routing.Engineer, _ *routing.Live, _ *routing.Request) { e.Status = routing.StatusLeave }, routing.FilterOnDuty},
		{"off", func(e *routing.Engineer, _ *routing.Live, _ *routing.Request) { e.Status = routing.StatusOff }, routing.FilterOnDuty},
		{"put on leave live", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) { l.Status = routing.StatusLeave }, routing.FilterOnDuty},
		{"outside their working calendar", func(e *routing.Engineer, _ *routing.Live, req *routing.Request) {
			e.Calendar = "cn-office"
			req.Now = time.Date(2026, 11, 24, 12, 30, 0, 0, shanghai) // lunch
		}, routing.FilterOnDuty},
		{"red card", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) {
			l.SuspendedUntil = tuesday10.Add(time.Hour)
		}, routing.FilterNotSuspended},
		{"missing a skill", func(e *routing.Engineer, _ *routing.Live, _ *routing.Request) { e.Skills = []string{"hydraulics"} }, routing.FilterSkills},
		{"skills changed live", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) { l.Skills = []string{} }, routing.FilterSkills},
		{"out of radius", func(e *routing.Engineer, _ *routing.Live, _ *routing.Request) { e.Home, e.RadiusKM = far50km, 30 }, routing.FilterRadius},
		{"live location out of radius", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) { l.Location = shanghaiC }, routing.FilterRadius},
		{"at max_open", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) { l.Open = 5 }, routing.FilterMaxOpen},
		{"at max_daily", func(_ *routing.Engineer, l *routing.Live, _ *routing.Request) { l.Today = 8 }, routing.FilterMaxDaily},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := engineer("eng-li", near1km, "plc")
			var live routing.Live
			req := routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10}
			tc.edit(&e, &live, &req)
			req.Live = map[string]routing.Live{"eng-li": live}
			r := newRouter(t, routing.Config{
				Engineers: []routing.Engineer{e},
				Teams:     []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li"}}},
				Rules:     []routing.Rule{{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}}},
			})
			d := r.Decide(req)
			assert.Empty(t, d.Engineer)
			require.NotNil(t, d.Failure)
			assert.Equal(t, "sup-wang", d.Failure.Lead, "the lead is told")
			c := candidate(t, d, "suzhou-a", "eng-li")
			assert.False(t, c.Kept)
			for f := routing.FilterExcluded; f <= routing.FilterMaxDaily; f++ {
				assert.Equal(t, f != tc.filter, c.Passed(f), "filter %s", f)
			}
			if tc.filter == routing.FilterMaxOpen || tc.filter == routing.FilterMaxDaily {
				assert.Equal(t, routing.FailureAllOverCap, d.Failure.Reason)
			} else {
				assert.Equal(t, routing.FailureNoCandidate, d.Failure.Reason)
			}

			// The same engineer without the edit is assigned: the filter alone made the difference.
			r = newRouter(t, routing.Config{
				Engineers: []routing.Engineer{engineer("eng-li", near1km, "plc")},
				Teams:     []routing.Team{{ID: "suzhou-a", Members: []string{"eng-li"}}},
				Rules:     []routing.Rule{{ID: "estop", RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}}},
			})
			assert.Equal(t, "eng-li", r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10}).Engineer)
		})
	}
}

func TestScoreParts(t *testing.T) {
	cases := []struct {
		name  string
		e     routing.Engineer
		live  routing.Live
		site  routing.Point
		parts routing.ScoreParts
	}{
		{"at the site, idle, no history", engineer("a", parkSite), routing.Live{}, parkSite, routing.ScoreParts{Distance: 1, Capacity: 1, FTFR: 0.5}},
		{"half the radius away, 1 of 4 open, FTFR 0.9", routing.Engineer{ID: "a", Home: near1km, RadiusKM: 2 * routing.DistanceKM(near1km, parkSite), MaxOpen: 4, Status: routing.StatusOnDuty},
			routing.Live{Open: 1, FTFR: 0.9, FTFRKnown: true}, parkSite, routing.ScoreParts{Distance: 0.5, Capacity: 0.75, FTFR: 0.9}},
		{"no radius: 10 km counts 0.5; no cap: 1/(1+open)", routing.Engineer{ID: "a", Home: parkSite, Status: routing.StatusOnDuty},
			routing.Live{Open: 3}, routing.Point{Lat: parkSite.Lat + 10/111.195, Lon: parkSite.Lon}, routing.ScoreParts{Distance: 0.5, Capacity: 0.25, FTFR: 0.5}},
		{"ticket location unknown: neutral distance", engineer("a", near1km), routing.Live{}, routing.Point{}, routing.ScoreParts{Distance: 0.5, Capacity: 1, FTFR: 0.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRouter(t, routing.Config{
				Engineers: []routing.Engineer{tc.e},
				Teams:     []routing.Team{{ID: "t", Members: []string{"a"}}},
				Rules:     []routing.Rule{{ID: "all", RouteTo: routing.Target{Team: "t"}}},
				Weights:   routing.Weights{Distance: 0.5, Capacity: 0.3, FTFR: 0.2},
			})
			d := r.Decide(routing.Request{Ticket: ticketAt(tc.site, ""), Now: tuesday10, Live: map[string]routing.Live{"a": tc.live}})
			c := candidate(t, d, "t", "a")
			require.True(t, c.Kept)
			assert.InDelta(t, tc.parts.Distance, c.Parts.Distance, 0.001)
			assert.InDelta(t, tc.parts.Capacity, c.Parts.Capacity, 1e-9)
			assert.InDelta(t, tc.parts.FTFR, c.Parts.FTFR, 1e-9)
			assert.InDelta(t, 0.5*c.Parts.Distance+0.3*c.Parts.Capacity+0.2*c.Parts.FTFR, c.Score, 1e-9)
		})
	}
}

func suzhouTeam() routing.Config {
	return routing.Config{
		Engineers: []routing.Engineer{
			engineer("eng-far", near3km, "plc"),
			engineer("eng-near-busy", near1km, "plc"),
			engineer("eng-near", near1km, "plc"),
			engineer("eng-nearest-unskilled", parkSite, "hydraulics"),
			engineer("ovf-1", near3km, "plc"),
		},
		Teams: []routing.Team{
			{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-far", "eng-near-busy", "eng-near", "eng-nearest-unskilled"}, Overflow: "suzhou-b"},
			{ID: "suzhou-b", Lead: "sup-zhao", Members: []string{"ovf-1"}},
		},
		Rules: []routing.Rule{
			{ID: "estop-weekday", When: `category == "急停故障"`, During: &routing.During{Calendar: "cn-office"}, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}, Set: routing.Set{Urgency: "orange"}},
			{ID: "everything-else", RouteTo: routing.Target{Team: "suzhou-a"}},
		},
	}
}

func TestTheNearestQualifiedEngineerWithSpareCapacityWins(t *testing.T) {
	r := newRouter(t, suzhouTeam())
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: map[string]routing.Live{
		"eng-near-busy": {Open: 5}, // as near as eng-near, but at max_open
		"eng-far":       {Open: 1}, // spare capacity too, but 3 km away
		"eng-near":      {Open: 1},
	}})
	assert.Equal(t, "eng-near", d.Engineer)
	assert.Equal(t, "suzhou-a", d.Team)
	assert.Equal(t, "estop-weekday", d.Rule)
	assert.Equal(t, routing.Set{Urgency: "orange"}, d.Set)
	assert.False(t, candidate(t, d, "suzhou-a", "eng-near-busy").Kept)
	far := candidate(t, d, "suzhou-a", "eng-far")
	near := candidate(t, d, "suzhou-a", "eng-near")
	assert.True(t, far.Kept)
	assert.Greater(t, near.Score, far.Score)
	assert.InDelta(t, 1.0, near.DistanceKM, 0.05)
	assert.InDelta(t, 3.0, far.DistanceKM, 0.05)
}

func TestSkillsBeatDistance(t *testing.T) {
	r := newRouter(t, suzhouTeam())
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10})
	unskilled := candidate(t, d, "suzhou-a", "eng-nearest-unskilled")
	assert.Zero(t, unskilled.DistanceKM, "the nearest of all")
	assert.False(t, unskilled.Passed(routing.FilterSkills))
	assert.NotEqual(t, "eng-nearest-unskilled", d.Engineer)
	assert.Contains(t, []string{"eng-near", "eng-near-busy"}, d.Engineer)
}

func TestTheOverflowTeamTakesOverWhenEveryoneIsAtCap(t *testing.T) {
	r := newRouter(t, suzhouTeam())
	full := routing.Live{Open: 5}
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: map[string]routing.Live{
		"eng-far": full, "eng-near-busy": full, "eng-near": {Today: 8},
	}})
	assert.Equal(t, "ovf-1", d.Engineer)
	assert.Equal(t, "suzhou-b", d.Team)
	assert.True(t, d.Overflow)
	require.Len(t, d.Teams, 2)
	assert.Equal(t, "rule", d.Teams[0].Via)
	assert.Equal(t, "overflow of suzhou-a", d.Teams[1].Via)

	// The overflow team full as well: a failure for the first team's lead, as over cap.
	d = r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: map[string]routing.Live{
		"eng-far": full, "eng-near-busy": full, "eng-near": full, "ovf-1": full,
	}})
	assert.Empty(t, d.Engineer)
	require.NotNil(t, d.Failure)
	assert.Equal(t, routing.FailureAllOverCap, d.Failure.Reason)
	assert.Equal(t, "sup-wang", d.Failure.Lead)
}

func TestRulesInOrderWithCalendarWindows(t *testing.T) {
	r := newRouter(t, suzhouTeam())
	saturday := time.Date(2026, 11, 28, 10, 0, 0, 0, shanghai)
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: saturday})
	assert.Equal(t, "everything-else", d.Rule)
	assert.Equal(t, []routing.RuleVerdict{
		{Rule: "estop-weekday", Why: "outside calendar cn-office"},
		{Rule: "everything-else", Matched: true},
	}, d.Rules)

	d = r.Decide(routing.Request{Ticket: ticketAt(parkSite, "漏水"), Now: tuesday10})
	assert.Equal(t, []routing.RuleVerdict{
		{Rule: "estop-weekday", Why: "when is false"},
		{Rule: "everything-else", Matched: true},
	}, d.Rules)
	assert.Empty(t, d.RequiredSkills, "the second rule needs no skills")
}

func TestNoRuleMatches(t *testing.T) {
	cfg := suzhouTeam()
	cfg.Rules = cfg.Rules[:1]
	d := newRouter(t, cfg).Decide(routing.Request{Ticket: ticketAt(parkSite, "漏水"), Now: tuesday10})
	require.NotNil(t, d.Failure)
	assert.Equal(t, routing.FailureNoRule, d.Failure.Reason)
	assert.Empty(t, d.Teams)
}

// Equal scores go round-robin in member order, starting after the team's pointer.
func TestTiesGoRoundRobin(t *testing.T) {
	cfg := routing.Config{
		Engineers: []routing.Engineer{engineer("a", near1km), engineer("b", near1km), engineer("c", near1km)},
		Teams:     []routing.Team{{ID: "t", Members: []string{"a", "b", "c"}}},
		Rules:     []routing.Rule{{ID: "all", RouteTo: routing.Target{Team: "t"}}},
	}
	r := newRouter(t, cfg)
	pointers := map[string]int{}
	var got []string
	for range 7 {
		d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, ""), Now: tuesday10, Pointers: pointers})
		got = append(got, d.Engineer)
		require.NotNil(t, d.Pointer)
		pointers[d.Pointer.Team] = d.Pointer.Index
	}
	assert.Equal(t, []string{"a", "b", "c", "a", "b", "c", "a"}, got)

	// A better score still wins over the turn.
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, ""), Now: tuesday10, Pointers: map[string]int{"t": 0},
		Live: map[string]routing.Live{"b": {Open: 1}}})
	assert.Equal(t, "c", d.Engineer, "b's turn, but b has an open ticket")
}

func TestARuleNamingAnEngineerFallsBackToTheTeam(t *testing.T) {
	cfg := suzhouTeam()
	cfg.Rules = []routing.Rule{{ID: "vip", RouteTo: routing.Target{Engineer: "eng-far", Team: "suzhou-a"}}}
	r := newRouter(t, cfg)
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, ""), Now: tuesday10})
	assert.Equal(t, "eng-far", d.Engineer, "named, though not the nearest")

	d = r.Decide(routing.Request{Ticket: ticketAt(parkSite, ""), Now: tuesday10, Live: map[string]routing.Live{"eng-far": {Status: routing.StatusLeave}}})
	assert.Equal(t, "suzhou-a", d.Team)
	assert.Equal(t, "eng-nearest-unskilled", d.Engineer, "the team's best; the rule needs no skills")
	assert.Equal(t, "rule names the engineer", d.Teams[0].Via)
	assert.Equal(t, "rule", d.Teams[1].Via)
}

func TestConfigProblemsAreAllReported(t *testing.T) {
	_, err := routing.New(routing.Config{
		Calendars: map[string]*sla.Calendar{"cn-office": officeCalendar()},
		Engineers: []routing.Engineer{{ID: "a", Status: "away"}, {ID: "a"}, {ID: "b", RadiusKM: 5}},
		Teams:     []routing.Team{{ID: "t", Members: []string{"a", "ghost"}, Overflow: "nowhere"}},
		Rules: []routing.Rule{
			{ID: "r1", When: `category ==`, RouteTo: routing.Target{Team: "t"}},
			{ID: "r1", When: `urgency + 1`, During: &routing.During{Calendar: "nope"}, RouteTo: routing.Target{Team: "missing"}},
			{RouteTo: routing.Target{}},
		},
	})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`engineers[0].status: unknown status "away"`,
		`engineers[1].id: "a" is used twice`,
		`engineers[2].radius_km: needs a home location`,
		`teams[0].members[1]: "ghost" is not an engineer`,
		`teams[0].overflow: team "nowhere" does not exist`,
		`rules[0].when: unexpected token EOF (1:11)`,
		`rules[1].id: "r1" is used twice`,
		`rules[1].when: invalid operation: + (mismatched types string and int) (1:9)`,
		`rules[1].during.calendar: unknown calendar "nope" (sla.calendars has: cn-office)`,
		`rules[1].route_to.team: team "missing" does not exist`,
		`rules[2].id: required`,
		`rules[2].route_to: needs a team or an engineer`,
	} {
		assert.Contains(t, msg, want)
	}
}

// What a rule sets, the calendar it names and an engineer's home are checked with the rest.
func TestRulesAndHomesAreChecked(t *testing.T) {
	_, err := routing.New(routing.Config{
		Calendars: map[string]*sla.Calendar{"cn-office": officeCalendar()},
		Engineers: []routing.Engineer{{ID: "a", Home: routing.Point{Lat: 91, Lon: 120}}, {ID: "b", Home: routing.Point{Lat: 31, Lon: -181}}},
		Teams:     []routing.Team{{ID: "t", Members: []string{"a", "b"}}},
		Rules: []routing.Rule{
			{ID: "r1", During: &routing.During{}, RouteTo: routing.Target{Team: "t"}, Set: routing.Set{Urgency: "purple"}},
			{ID: "r2", During: &routing.During{Calendar: "cn-office"}, RouteTo: routing.Target{Team: "t"}, Set: routing.Set{Urgency: "red"}},
		},
	})
	var ces routing.ConfigErrors
	require.ErrorAs(t, err, &ces)
	assert.Equal(t, routing.ConfigErrors{
		{Path: "engineers[0].home", Msg: "lat must be -90..90 and lon -180..180"},
		{Path: "engineers[1].home", Msg: "lat must be -90..90 and lon -180..180"},
		{Path: "rules[0].during.calendar", Msg: "required: the calendar whose working time the rule applies in"},
		{Path: "rules[0].set.urgency", Msg: `unknown urgency "purple" (one of: blue, yellow, orange, red)`},
	}, ces)
}

// Rules decode from the config file as they are.
func TestRulesDecodeFromYAML(t *testing.T) {
	var rules []routing.Rule
	require.NoError(t, yaml.Unmarshal([]byte(`
- {id: estop, when: 'category == "急停故障"', during: {calendar: cn-office}, route_to: {team: suzhou-a, engineer: eng-li},
   require_skills: [plc], set: {urgency: orange, tags: [vip]}}
- {id: rest, route_to: {team: suzhou-a}}
`), &rules))
	assert.Equal(t, []routing.Rule{
		{ID: "estop", When: `category == "急停故障"`, During: &routing.During{Calendar: "cn-office"}, RouteTo: routing.Target{Team: "suzhou-a", Engineer: "eng-li"},
			RequireSkills: []string{"plc"}, Set: routing.Set{Urgency: "orange", Tags: []string{"vip"}}},
		{ID: "rest", RouteTo: routing.Target{Team: "suzhou-a"}},
	}, rules)
}

func TestTheTraceInJSON(t *testing.T) {
	r := newRouter(t, suzhouTeam())
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: map[string]routing.Live{"eng-near-busy": {Open: 5}}})
	b, err := json.Marshal(d)
	require.NoError(t, err)
	var back struct {
		Rule  string
		Teams []struct {
			Candidates []struct {
				Engineer   string          `json:"engineer"`
				Kept       bool            `json:"kept"`
				Filters    map[string]bool `json:"filters"`
				DistanceKM *float64        `json:"distance_km"`
				Score      *float64        `json:"score"`
			}
		}
		Engineer string
	}
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "eng-near", back.Engineer)
	busy := back.Teams[0].Candidates[1]
	assert.Equal(t, "eng-near-busy", busy.Engineer)
	assert.Equal(t, map[string]bool{"not_excluded": true, "on_duty": true, "not_suspended": true, "skills": true, "radius": true, "max_open": false, "max_daily": true}, busy.Filters)
	assert.Nil(t, busy.Score, "no score for a candidate filtered out")
	require.NotNil(t, busy.DistanceKM)
	assert.InDelta(t, 1.0, *busy.DistanceKM, 0.05)
}

func TestDistanceKM(t *testing.T) {
	// Suzhou to Shanghai People's Square, about 81 km as the crow flies.
	assert.InDelta(t, 81, routing.DistanceKM(parkSite, shanghaiC), 2)
	assert.InDelta(t, 1.0, routing.DistanceKM(parkSite, near1km), 0.01)
	assert.Zero(t, routing.DistanceKM(parkSite, parkSite))
	// Antipodes: half the circumference.
	assert.InDelta(t, 20015, routing.DistanceKM(routing.Point{Lat: 0, Lon: 0.0001}, routing.Point{Lat: 0, Lon: 180.0001}), 1)
}

// One decision over 1,000 engineers and 50 rules, the last of which matches: all of them in
// one team (every engineer a candidate: the worst case), and in 20 teams of 50 (the matching
// rule's team has 50 candidates).
func BenchmarkDecide(b *testing.B) {
	for _, teams := range []int{1, 20} {
		b.Run(fmt.Sprintf("teams=%d", teams), func(b *testing.B) { benchDecide(b, teams) })
	}
}

func benchDecide(b *testing.B, teams int) {
	cfg := routing.Config{}
	members := make([][]string, teams)
	var lives []routing.Live // in config order, as the engine keeps them
	for i := range 1000 {
		id := fmt.Sprintf("eng-%04d", i)
		e := engineer(id, routing.Point{Lat: 31.2 + float64(i%40)*0.005, Lon: 120.5 + float64(i/40)*0.005}, "plc", "hydraulics")
		e.RadiusKM = 30
		if i%7 == 0 {
			e.Skills = []string{"hydraulics"}
		}
		cfg.Engineers = append(cfg.Engineers, e)
		members[i%teams] = append(members[i%teams], id)
		lives = append(lives, routing.Live{Open: i % 6, Today: i % 9, FTFR: float64(i%10) / 10, FTFRKnown: i%3 == 0})
	}
	for t := range teams {
		cfg.Teams = append(cfg.Teams, routing.Team{ID: fmt.Sprintf("team-%02d", t), Lead: "sup", Members: members[t]})
	}
	for i := range 49 {
		cfg.Rules = append(cfg.Rules, routing.Rule{ID: fmt.Sprintf("r%02d", i),
			When: fmt.Sprintf(`category == "cat-%d" && urgency in ["orange", "red"] && "vip" in tags`, i), RouteTo: routing.Target{Team: cfg.Teams[i%teams].ID}})
	}
	last := cfg.Teams[teams-1].ID
	cfg.Rules = append(cfg.Rules, routing.Rule{ID: "last", When: `category == "急停故障"`, RouteTo: routing.Target{Team: last}, RequireSkills: []string{"plc"}})
	r := newRouter(b, cfg)
	req := routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Lives: lives, Pointers: map[string]int{last: 17}}
	d := r.Decide(req)
	// The same question asked by id (a map, or a function) gets the same answer.
	byID := map[string]routing.Live{}
	for i, e := range cfg.Engineers {
		byID[e.ID] = lives[i]
	}
	viaMap, viaFunc := req, req
	viaMap.Lives, viaMap.Live = nil, byID
	viaFunc.Lives, viaFunc.LiveOf = nil, func(id string) routing.Live { return byID[id] }
	want := d.AppendJSON(nil, nil)
	dMap, dFunc := r.Decide(viaMap), r.Decide(viaFunc)
	if !bytes.Equal(dMap.AppendJSON(nil, nil), want) || !bytes.Equal(dFunc.AppendJSON(nil, nil), want) {
		b.Fatal("Lives, Live and LiveOf decide differently")
	}
	if d.Engineer == "" || d.Rule != "last" || len(d.Rules) != 50 || len(d.Teams[0].Candidates) != 1000/teams {
		b.Fatalf("the benchmark decision is not the one meant: rule %s, %d rules tried, %+v", d.Rule, len(d.Rules), d.Failure)
	}
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Decide(req)
		}
	})
	// As the engine decides: each decision reuses the memory of the one before.
	b.Run("reuse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req.Reuse = &d
			d = r.Decide(req)
		}
	})
}

// A decision that reuses the memory of an earlier one is the decision made afresh, whatever
// the earlier one was (more teams, fewer candidates, a failure).
func TestReuseDecidesTheSame(t *testing.T) {
	cfg := routing.Config{
		Engineers: []routing.Engineer{engineer("eng-li", near1km, "plc"), engineer("eng-zhao", near1km, "plc"), engineer("eng-wu", far50km, "plc")},
		Teams: []routing.Team{{ID: "a", Lead: "sup-a", Members: []string{"eng-li", "eng-zhao"}, Overflow: "b"},
			{ID: "b", Lead: "sup-b", Members: []string{"eng-wu"}}},
		Rules: []routing.Rule{
			{ID: "named", When: `category == "named"`, RouteTo: routing.Target{Engineer: "eng-wu", Team: "b"}},
			{ID: "any", RouteTo: routing.Target{Team: "a"}}},
	}
	r := newRouter(t, cfg)
	full := map[string]routing.Live{"eng-li": {Open: 5}, "eng-zhao": {Open: 5}}
	reqs := []routing.Request{
		{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10},
		{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: full}, // overflow to b
		{Ticket: ticketAt(parkSite, "named"), Now: tuesday10},
		{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: full, Exclude: map[string]string{"eng-wu": "declined: too_far"}}, // failure
		{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Pointers: map[string]int{"a": 0}},
	}
	var prev routing.Decision
	for round := range 3 {
		for i, req := range reqs {
			fresh := r.Decide(req)
			want := fresh.AppendJSON(nil, nil)
			req.Reuse = &prev
			prev = r.Decide(req)
			assert.JSONEq(t, string(want), string(prev.AppendJSON(nil, nil)), "round %d, request %d", round, i)
			assert.Equal(t, fresh.Engineer, prev.Engineer)
		}
	}
}

// The fast path of the distance (series for short distances) agrees with plain haversine.
func TestDistanceKMAgreesWithHaversine(t *testing.T) {
	haversine := func(a, b routing.Point) float64 {
		rad := math.Pi / 180
		dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
		h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
		return 2 * 6371.0088 * math.Asin(math.Min(1, math.Sqrt(h)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		a := routing.Point{Lat: rng.Float64()*170 - 85, Lon: rng.Float64()*360 - 180}
		// Mostly near a (what routing measures), sometimes anywhere.
		spread := 0.5
		if rng.IntN(10) == 0 {
			spread = 90
		}
		b := routing.Point{Lat: math.Max(-89, math.Min(89, a.Lat+(rng.Float64()*2-1)*spread)), Lon: a.Lon + (rng.Float64()*2-1)*spread}
		want := haversine(a, b)
		assert.InDelta(t, want, routing.DistanceKM(a, b), 1e-6+want*1e-9, "%v → %v", a, b)
	}
}

// The hand-written trace JSON is valid JSON whatever the names in it, and reads back the same.
func FuzzTraceJSON(f *testing.F) {
	for _, s := range []string{"eng-li", `quo"te`, "back\\slash", "ctl\x01\n\t", "王建国", "bad\xff\xfeutf8", "\u2028"} {
		f.Add(s, s+"-rule")
	}
	f.Fuzz(func(t *testing.T, name, rule string) {
		d := routing.Decision{
			Rules: []routing.RuleVerdict{{Rule: rule, Why: "when is false: " + name}, {Rule: rule, Matched: true}},
			Rule:  rule, Set: routing.Set{Category: name, Tags: []string{name}}, RequiredSkills: []string{name},
			Teams: []routing.TeamTrace{{Team: name, Via: "rule", Candidates: []routing.Candidate{
				{Kept: true, DistanceKM: 1.5, Score: 0.7, Winner: true},
				{Failed: 1 << routing.FilterExcluded, DistanceKM: -1},
			}, Engineers: []string{name, name + "2"}, Excluded: map[string]string{name + "2": name}}},
			Engineer: name, Failure: &routing.Failure{Reason: "no_candidate", Detail: name},
		}
		b, err := json.Marshal(d)
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid JSON for %q: %v\n%s", name, err, b)
		}
		var back struct {
			Rule     string `json:"rule"`
			Engineer string `json:"engineer"`
			Teams    []struct {
				Candidates []struct {
					Engineer string `json:"engineer"`
					Excluded string `json:"excluded"`
				} `json:"candidates"`
			} `json:"teams"`
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(name) && utf8.ValidString(rule) {
			c := back.Teams[0].Candidates
			if back.Engineer != name || back.Rule != rule || c[0].Engineer != name || c[1].Engineer != name+"2" || c[1].Excluded != name {
				t.Fatalf("read back %q/%q, wrote %q/%q", back.Engineer, back.Rule, name, rule)
			}
		}
	})
}
