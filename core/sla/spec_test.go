package sla_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/sla"
	"gongdan/internal/yamlkit"
)

func date(s string) sla.Date {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return sla.DateOf(d)
}

// holidaySets stands in for the config's loader: it knows the sets in sets and records the
// names it was asked for.
type holidaySets struct {
	sets  map[string]sla.HolidaySet
	asked []string
}

func (h *holidaySets) load(name string) (sla.HolidaySet, error) {
	h.asked = append(h.asked, name)
	set, ok := h.sets[name]
	if !ok {
		return sla.HolidaySet{}, errors.New("no such set")
	}
	return set, nil
}

func TestBuildCalendarsReportsEveryProblem(t *testing.T) {
	week := map[string][]string{"mon": {"09:00-18:00"}}
	for _, tc := range []struct {
		name  string
		specs []sla.CalendarSpec
		want  []sla.ConfigError
	}{
		{"no problems", []sla.CalendarSpec{{Name: "office", Hours: week}, {Name: "24x7", Always: true}}, nil},
		{"spans out of order, malformed, over midnight, on an unknown day", []sla.CalendarSpec{{Name: "c",
			Hours: map[string][]string{"mon": {"09:00-12:00", "11:00-13:00"}, "fri": {"9-17"}, "sun": {"18:00-08:00"}, "xyz": {}, "tue": {"23:00-24:60"}}}}, []sla.ConfigError{
			{"calendars[0].hours.mon[1]", `"11:00-13:00" overlaps or precedes the span before it; list spans in order`},
			{"calendars[0].hours.tue[0]", `"23:00-24:60" is not a time of day (00:00 to 24:00)`},
			{"calendars[0].hours.fri[0]", `"9-17" is not a span; write HH:MM-HH:MM like 09:00-12:00`},
			{"calendars[0].hours.sun[0]", `"18:00-08:00" ends before it starts; a span over midnight is two spans on two days`},
			{"calendars[0].hours.xyz", `unknown weekday "xyz" (mon, tue, wed, thu, fri, sat, sun)`}}},
		{"workday hours out of order", []sla.CalendarSpec{{Name: "c", Hours: week, WorkdayHours: []string{"13:00-18:00", "09:00-12:00"}}}, []sla.ConfigError{
			{"calendars[0].workday_hours[1]", `"09:00-12:00" overlaps or precedes the span before it; list spans in order`}}},
		{"dates", []sla.CalendarSpec{{Name: "c", Hours: week,
			Holidays: []string{"2026-13-01", "2026-02-23..2026-02-15", "2026-01-01..2027-02-01", "2026-02-15..2026-02-23"},
			Workdays: []string{"2026-02-16"}}}, []sla.ConfigError{
			{"calendars[0].holidays[0]", `"2026-13-01" is not a date; write YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD for a range`},
			{"calendars[0].holidays[1]", `"2026-02-23..2026-02-15" is not a range; write YYYY-MM-DD..YYYY-MM-DD, the first day first`},
			{"calendars[0].holidays[2]", `"2026-01-01..2027-02-01" is longer than a year`},
			{"calendars[0].workdays[0]", `2026-02-16 is both a holiday and a workday`}}},
		{"names, zones and hours", []sla.CalendarSpec{
			{Hours: week},
			{Name: "c", Timezone: "Mars/Olympus"},
			{Name: "c", Always: true, Hours: week},
			{Name: "child", Extends: "nobody"},
			{Name: "round-office", Extends: "c", Hours: week}}, []sla.ConfigError{
			{"calendars[0].name", "required: rules, engineers and policies refer to the calendar by it"},
			{"calendars[1].timezone", `unknown time zone "Mars/Olympus"; use an IANA name like Asia/Shanghai`},
			{"calendars[1].hours", `required unless always: true: working hours per weekday, like mon: ["09:00-12:00", "13:00-18:00"]`},
			{"calendars[2].hours", "always: true is every hour; drop hours, or drop always"},
			{"calendars[2].name", `calendar "c" is defined twice`},
			{"calendars[3].extends", `no calendar "nobody" before this one; list the calendar it extends first`},
			{"calendars[3].hours", `required unless always: true: working hours per weekday, like mon: ["09:00-12:00", "13:00-18:00"]`}}},
		{"hours on top of a round-the-clock calendar", []sla.CalendarSpec{{Name: "round", Always: true}, {Name: "office", Extends: "round", Hours: week}}, []sla.ConfigError{
			{"calendars[1].hours", `calendar "round", which this one extends, is always: true (every hour); hours would change nothing: extend a calendar with hours`}}},
		{"a holiday set the loader does not have", []sla.CalendarSpec{{Name: "c", Hours: week, HolidaySets: []string{"cn-2026", "cn-2099"}}}, []sla.ConfigError{
			{"calendars[0].holiday_sets[1]", "no such set"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets := &holidaySets{sets: map[string]sla.HolidaySet{"cn-2026": {}}}
			_, errs := sla.BuildCalendars(tc.specs, time.UTC, sla.Sources{HolidaySet: sets.load, Zone: time.LoadLocation})
			assert.Equal(t, tc.want, errs)
		})
	}
}

// A calendar takes holiday sets and extends another; its own dates override what it takes.
func TestBuildCalendarsExtendAndOverride(t *testing.T) {
	sets := &holidaySets{sets: map[string]sla.HolidaySet{
		"national": {Holidays: map[sla.Date]bool{date("2026-10-01"): true, date("2026-10-07"): true}, Workdays: map[sla.Date]bool{date("2026-10-10"): true}},
		"plant":    {Holidays: map[sla.Date]bool{date("2026-10-10"): true}},
	}}
	weekday := []string{"08:30-12:00", "13:00-17:30"}
	built, errs := sla.BuildCalendars([]sla.CalendarSpec{
		{Name: "office", Timezone: "Asia/Shanghai", HolidaySets: []string{"national"}, Holidays: []string{"2026-12-24"},
			Hours: map[string][]string{"mon": weekday, "tue": weekday}, WorkdayHours: []string{"09:00-12:00"}},
		{Name: "plant", Extends: "office", HolidaySets: []string{"plant"}, Hours: map[string][]string{"tue": {"10:00-12:00"}, "sat": {"09:00-12:00"}},
			Workdays: []string{"2026-10-07"}, Holidays: []string{"2026-02-14..2026-02-15"}},
		{Name: "berlin", Hours: map[string][]string{"mon": weekday}},
	}, time.UTC, sla.Sources{HolidaySet: sets.load, Zone: time.LoadLocation})
	require.Empty(t, errs)
	assert.Equal(t, []string{"national", "plant"}, sets.asked, "each set once, in order")
	office, plant := built["office"], built["plant"]
	require.NotNil(t, office)
	require.NotNil(t, plant)

	assert.Equal(t, "UTC", built["berlin"].Location.String(), "no time zone: the default one")
	assert.Equal(t, "Asia/Shanghai", plant.Location.String(), "the time zone is inherited")
	assert.Equal(t, office.Week[time.Monday], plant.Week[time.Monday], "hours are inherited")
	assert.Equal(t, []sla.Span{{Start: 10 * 60, End: 12 * 60}}, plant.Week[time.Tuesday], "a day of its own replaces the inherited one")
	assert.Equal(t, []sla.Span{{Start: 9 * 60, End: 12 * 60}}, plant.Week[time.Saturday], "and days are added")
	assert.Empty(t, office.Week[time.Saturday], "the extended calendar is not changed")
	assert.Equal(t, []sla.Span{{Start: 9 * 60, End: 12 * 60}}, plant.WorkdayHours, "make-up workday hours are inherited")

	assert.Equal(t, map[sla.Date]bool{date("2026-10-01"): true, date("2026-10-07"): true, date("2026-12-24"): true}, office.Holidays)
	assert.Equal(t, map[sla.Date]bool{date("2026-10-10"): true}, office.Workdays)
	assert.Equal(t, map[sla.Date]bool{date("2026-10-01"): true, date("2026-10-10"): true, date("2026-12-24"): true,
		date("2026-02-14"): true, date("2026-02-15"): true}, plant.Holidays,
		"a set's holiday overrides an inherited workday; a workday of its own an inherited holiday")
	assert.Equal(t, map[sla.Date]bool{date("2026-10-07"): true}, plant.Workdays)
}

func TestParseHolidaySet(t *testing.T) {
	set, err := sla.ParseHolidaySet([]byte(`name: cn-2026
holidays:
  - {dates: "2026-02-15..2026-02-17", name: 春节}
workdays:
  - {date: "2026-02-14", name: 春节调休}
`))
	require.NoError(t, err)
	assert.Equal(t, sla.HolidaySet{
		Holidays: map[sla.Date]bool{date("2026-02-15"): true, date("2026-02-16"): true, date("2026-02-17"): true},
		Workdays: map[sla.Date]bool{date("2026-02-14"): true}}, set)

	for _, tc := range []struct{ name, data, want string }{
		{"a key it does not know", "name: x\ncolour: red\n", "line 2: field colour not found"},
		{"not YAML", "holidays: [\n", "did not find expected node content"},
		{"a bad range", "holidays: [{dates: 2026-02-17..2026-02-15}]\n", `holidays[0].dates: "2026-02-17..2026-02-15" is not a range; write YYYY-MM-DD..YYYY-MM-DD, the first day first`},
		{"a workday range", "workdays: [{date: 2026-02-14..2026-02-15}]\n", `workdays[0].date: "2026-02-14..2026-02-15" is not one date (YYYY-MM-DD)`},
		{"a workday that is a holiday", "holidays: [{dates: 2026-02-15}]\nworkdays: [{date: 2026-02-15}]\n", "workdays[0].date: 2026-02-15 is a holiday of the set too"},
	} {
		_, err := sla.ParseHolidaySet([]byte(tc.data))
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestBuildPolicies(t *testing.T) {
	office := &sla.Calendar{Name: "office", Location: time.UTC, Week: [7][]sla.Span{time.Monday: {{Start: 9 * 60, End: 18 * 60}}}}
	calendars := map[string]*sla.Calendar{"office": office, "24x7": {Name: "24x7", Always: true}}
	minutes := func(n int) yamlkit.Duration { return yamlkit.Duration(time.Duration(n) * time.Minute) }

	ps, errs := sla.BuildPolicies([]sla.PolicySpec{{ID: "orange", When: `urgency == "orange"`, Calendar: "office",
		Response: minutes(30), Resolution: minutes(240), NextUpdate: minutes(60), WarnAt: 0.8,
		Tiers: []sla.TierSpec{{Name: "yellow", After: minutes(5), Notify: []string{"assignee", "user:li"}, Quiet: "office"},
			{Name: "black", After: minutes(120), Notify: []string{"regional_director"}, Escalate: true, Reroute: true}}}}, calendars)
	require.Empty(t, errs)
	p := ps.Get("orange")
	require.NotNil(t, p)
	assert.Equal(t, office, p.Calendar)
	assert.Equal(t, map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour, sla.NextUpdate: time.Hour}, p.Goals)
	assert.Equal(t, []sla.Tier{
		{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee", "user:li"}, Quiet: office},
		{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}, Escalate: true, Reroute: true}}, p.Tiers)
	assert.Equal(t, sla.DefaultPauseIn, p.PauseIn)
	assert.Equal(t, 0.8, p.WarnAt)

	for _, tc := range []struct {
		name string
		spec sla.PolicySpec
		want []sla.ConfigError
	}{
		{"no calendar, no target", sla.PolicySpec{ID: "p"}, []sla.ConfigError{
			{"policies[0].calendar", "required: the calendar the clocks run on (a name under sla.calendars; one with always: true for round the clock)"},
			{"policies[0]", "needs a target: response, resolution or next_update"}}},
		{"unknown calendars, states and people", sla.PolicySpec{ID: "p", Calendar: "nocal", Response: minutes(30), PauseIn: []string{"paused", "closed"},
			Tiers: []sla.TierSpec{{Name: "red", After: minutes(30), Notify: []string{"team_lead", "boss", "user:"}, Quiet: "quietcal"}}}, []sla.ConfigError{
			{"policies[0].calendar", `unknown calendar "nocal" (sla.calendars has: 24x7, office)`},
			{"policies[0].pause_in[1]", `"closed" is not a state a clock can pause in (one of: new, assigned, accepted, in_progress, awaiting_parts, paused, escalated)`},
			{"policies[0].tiers[0].quiet", `unknown calendar "quietcal" (sla.calendars has: 24x7, office)`},
			{"policies[0].tiers[0].notify[1]", `"boss" is neither a role (assignee, team_lead, supervisor, regional_director) nor a person (user:<id>)`},
			{"policies[0].tiers[0].notify[2]", `"user:" is neither a role (assignee, team_lead, supervisor, regional_director) nor a person (user:<id>)`}}},
		{"what NewPolicies finds comes after", sla.PolicySpec{ID: "p", Calendar: "office", Resolution: minutes(-60), WarnAt: 1.5, PauseIn: []string{"closed"}}, []sla.ConfigError{
			{"policies[0].pause_in[0]", `"closed" is not a state a clock can pause in (one of: new, assigned, accepted, in_progress, awaiting_parts, paused, escalated)`},
			{"policies[0].resolution", "must be more than 0"},
			{"policies[0].warn_at", "is a share of the target: more than 0 and less than 1 (0.8 warns at 80%), or 0 for no warning"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := sla.BuildPolicies([]sla.PolicySpec{tc.spec}, calendars)
			assert.Equal(t, tc.want, errs)
		})
	}
}

// The config's SLA fingerprint hashes the specs as JSON, under their Go field names: this pins
// that JSON, so that a field renamed, moved or retyped here fails here first (and not only in
// config's TestSLAFingerprintIsPinned).
func TestSpecsAsTheFingerprintSeesThem(t *testing.T) {
	b, err := json.Marshal([]any{
		[]sla.CalendarSpec{{Name: "plant", Extends: "office", Timezone: "Asia/Shanghai", Always: false, Hours: map[string][]string{"sat": {"09:00-12:00"}},
			HolidaySets: []string{"cn-2026"}, Holidays: []string{"2026-02-14"}, Workdays: []string{"2026-10-07"}, WorkdayHours: []string{"09:00-12:00"}}},
		[]sla.PolicySpec{{ID: "red", When: "true", Calendar: "plant", Response: yamlkit.Duration(time.Minute), Resolution: yamlkit.Duration(time.Hour),
			NextUpdate: yamlkit.Duration(time.Second), PauseIn: []string{"paused"}, WarnAt: 0.75,
			Tiers: []sla.TierSpec{{Name: "black", After: yamlkit.Duration(time.Millisecond), Notify: []string{"assignee"}, Escalate: true, Reroute: true, Quiet: "office"}}}},
	})
	require.NoError(t, err)
	assert.JSONEq(t, `[[{"Name":"plant","Extends":"office","Timezone":"Asia/Shanghai","Always":false,"Hours":{"sat":["09:00-12:00"]},
		"HolidaySets":["cn-2026"],"Holidays":["2026-02-14"],"Workdays":["2026-10-07"],"WorkdayHours":["09:00-12:00"]}],
		[{"ID":"red","When":"true","Calendar":"plant","Response":60000000000,"Resolution":3600000000000,"NextUpdate":1000000000,
		"PauseIn":["paused"],"WarnAt":0.75,"Tiers":[{"Name":"black","After":1000000,"Notify":["assignee"],"Escalate":true,"Reroute":true,"Quiet":"office"}]}]]`, string(b))
	assert.Equal(t, `[{"Name":"","Extends":"","Timezone":"","Always":false,"Hours":null,"HolidaySets":null,"Holidays":null,"Workdays":null,"WorkdayHours":null}]`,
		mustJSON(t, []sla.CalendarSpec{{}}), "and in this order")
	assert.Equal(t, `[{"ID":"","When":"","Calendar":"","Response":0,"Resolution":0,"NextUpdate":0,"PauseIn":null,"WarnAt":0,"Tiers":[{"Name":"","After":0,"Notify":null,"Escalate":false,"Reroute":false,"Quiet":""}]}]`,
		mustJSON(t, []sla.PolicySpec{{Tiers: []sla.TierSpec{{}}}}), "and in this order")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
