package sla

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/internal/yamlkit"
)

// The shapes below are the sla section of the config file as it is written; BuildCalendars
// and BuildPolicies turn them into Calendars and Policies. The config hashes them as JSON
// (its SLA fingerprint, which re-arms the open tickets' timers when it changes), and JSON
// names fields by their Go names: renaming, reordering or retyping a field changes every
// deployment's fingerprint.

// CalendarSpec is one working calendar, as written.
type CalendarSpec struct {
	Name string `yaml:"name"`
	// Extends names a calendar listed before this one: its hours, time zone, holiday sets,
	// holidays and workdays are this one's too, and what this one says overrides them
	// (hours per weekday; a date listed here as a workday is no longer a holiday, and the
	// other way round).
	Extends string `yaml:"extends"`
	// Timezone is an IANA zone. Default: the extended calendar's, else server.timezone.
	Timezone string `yaml:"timezone"`
	// Always: every hour of every day (24×7).
	Always bool `yaml:"always"`
	// Hours per weekday (mon … sun): spans like "09:00-12:00".
	Hours map[string][]string `yaml:"hours"`
	// HolidaySets name shipped sets of public holidays and make-up workdays (cn-2025,
	// cn-2026: configs/calendars/), or files of the same form, relative to the config file.
	HolidaySets []string `yaml:"holiday_sets"`
	// Holidays are days off: "2026-12-24" or a range "2026-02-15..2026-02-23".
	Holidays []string `yaml:"holidays"`
	// Workdays are extra working days (调休).
	Workdays []string `yaml:"workdays"`
	// WorkdayHours are the spans a make-up workday is worked with. Default: Monday's (for a
	// calendar without Monday hours, the day's own, else its first working weekday's).
	WorkdayHours []string `yaml:"workday_hours"`
}

// PolicySpec is one SLA policy, as written.
type PolicySpec struct {
	ID string `yaml:"id"`
	// When is an expr-lang condition over the ticket: urgency, category, tags, source,
	// channel, customer.{id,org}, team. Empty: every ticket.
	When string `yaml:"when"`
	// Calendar names the calendar the clocks run on (a name under sla.calendars).
	Calendar string `yaml:"calendar"`
	// Response is the time to accept (接单); Resolution the time to resolve. Either or both.
	Response   yamlkit.Duration `yaml:"response"`
	Resolution yamlkit.Duration `yaml:"resolution"`
	// NextUpdate is the time to answer a customer who wrote again (a message merged into
	// the ticket): until staff next acts on the ticket.
	NextUpdate yamlkit.Duration `yaml:"next_update"`
	// PauseIn are the states that stop the clocks (default awaiting_parts, paused).
	PauseIn []string `yaml:"pause_in"`
	// WarnAt is the share of a target after which a warning is recorded (0.8 = 80%).
	WarnAt float64 `yaml:"warn_at"`
	// Tiers fire after a breach, in order.
	Tiers []TierSpec `yaml:"tiers"`
}

// TierSpec is one escalation step after a breach, as written.
type TierSpec struct {
	Name string `yaml:"name"`
	// After the breach, in wall-clock time.
	After yamlkit.Duration `yaml:"after"`
	// Notify are roles (assignee, team_lead, supervisor, regional_director) or people
	// (user:<id>).
	Notify []string `yaml:"notify"`
	// Escalate moves the ticket to escalated.
	Escalate bool `yaml:"escalate"`
	// Reroute routes the ticket again, without the engineer who has it (needs routing).
	Reroute bool `yaml:"reroute"`
	// Quiet names a calendar: the tier fires only in its working time (at the next opening
	// when it falls due outside it). Empty: at any hour.
	Quiet string `yaml:"quiet"`
}

// ConfigError is a problem with a calendar or a policy as written, at a path like
// "policies[1].when" or "calendars[0].hours.mon[1]".
type ConfigError struct {
	Path string
	Msg  string
}

func (e ConfigError) Error() string { return e.Path + ": " + e.Msg }

// HolidaySet is a set of days off and make-up workdays, like the shipped
// configs/calendars/cn-2026.yaml.
type HolidaySet struct {
	Holidays, Workdays map[Date]bool
}

// ParseHolidaySet reads a holiday set file's contents. Errors name the key, not the file:
// the caller, which read it, knows its name.
func ParseHolidaySet(data []byte) (HolidaySet, error) {
	var doc struct {
		Name     string `yaml:"name"`
		Holidays []struct {
			Dates string `yaml:"dates"`
			Name  string `yaml:"name"`
		} `yaml:"holidays"`
		Workdays []struct {
			Date string `yaml:"date"`
			Name string `yaml:"name"`
		} `yaml:"workdays"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return HolidaySet{}, errors.New(strings.Join(te.Errors, "; "))
		}
		return HolidaySet{}, err
	}
	set := HolidaySet{Holidays: map[Date]bool{}, Workdays: map[Date]bool{}}
	for i, h := range doc.Holidays {
		dates, err := parseDates(h.Dates)
		if err != nil {
			return HolidaySet{}, fmt.Errorf("holidays[%d].dates: %v", i, err)
		}
		for _, d := range dates {
			set.Holidays[d] = true
		}
	}
	for i, w := range doc.Workdays {
		dates, err := parseDates(w.Date)
		if err != nil || len(dates) != 1 {
			return HolidaySet{}, fmt.Errorf("workdays[%d].date: %q is not one date (YYYY-MM-DD)", i, w.Date)
		}
		if set.Holidays[dates[0]] {
			return HolidaySet{}, fmt.Errorf("workdays[%d].date: %s is a holiday of the set too", i, dates[0])
		}
		set.Workdays[dates[0]] = true
	}
	return set, nil
}

// Sources are what calendars are built from besides their specs: files and the zone database,
// read by the caller, so that sla does no I/O.
type Sources struct {
	// HolidaySet gives the set a calendar names under holiday_sets; it is asked once for each
	// name listed, calendar by calendar, in order.
	HolidaySet func(name string) (HolidaySet, error)
	// Zone gives the IANA time zone of a name (config looks it up in the zone database).
	Zone func(name string) (*time.Location, error)
}

// BuildCalendars builds the calendars by name. A calendar without a time zone of its own or
// of the calendar it extends is in defaultZone. Every problem is reported; the calendars that
// could be built are returned all the same.
func BuildCalendars(specs []CalendarSpec, defaultZone *time.Location, src Sources) (map[string]*Calendar, []ConfigError) {
	var errs []ConfigError
	built := map[string]*Calendar{}
	for i, c := range specs {
		at := fmt.Sprintf("calendars[%d]", i)
		var parent *Calendar
		if c.Extends != "" {
			if parent = built[c.Extends]; parent == nil {
				errs = append(errs, errorf(at+".extends", "no calendar %q before this one; list the calendar it extends first", c.Extends))
			}
		}
		cal, cerrs := c.build(at, defaultZone, parent, src)
		errs = append(errs, cerrs...)
		switch {
		case c.Name == "":
		case built[c.Name] != nil:
			errs = append(errs, errorf(at+".name", "calendar %q is defined twice", c.Name))
		default:
			built[c.Name] = cal
		}
	}
	return built, errs
}

func errorf(path, format string, args ...any) ConfigError {
	return ConfigError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// weekdayNames are the keys of CalendarSpec.Hours.
var weekdayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// dayOrder sorts weekday keys mon … sun, then unknown ones.
func dayOrder(day string) int {
	if i := slices.Index([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, day); i >= 0 {
		return i
	}
	return 7
}

// build makes the calendar at path at, on top of parent (nil: none).
func (c *CalendarSpec) build(at string, defaultZone *time.Location, parent *Calendar, src Sources) (*Calendar, []ConfigError) {
	var errs []ConfigError
	bad := func(key, format string, args ...any) { errs = append(errs, errorf(at+"."+key, format, args...)) }
	cal := &Calendar{Name: c.Name, Location: defaultZone, Always: c.Always, Holidays: map[Date]bool{}, Workdays: map[Date]bool{}}
	if parent != nil {
		cal.Location, cal.Always, cal.Week, cal.WorkdayHours = parent.Location, parent.Always || c.Always, parent.Week, parent.WorkdayHours
		maps.Copy(cal.Holidays, parent.Holidays)
		maps.Copy(cal.Workdays, parent.Workdays)
	}
	if c.Name == "" {
		bad("name", "required: rules, engineers and policies refer to the calendar by it")
	}
	if c.Timezone != "" {
		loc, err := src.Zone(c.Timezone)
		if err != nil {
			bad("timezone", "unknown time zone %q; use an IANA name like Asia/Shanghai", c.Timezone)
		} else {
			cal.Location = loc
		}
	}
	if c.Always && len(c.Hours) > 0 {
		bad("hours", "always: true is every hour; drop hours, or drop always")
	} else if parent != nil && parent.Always && len(c.Hours) > 0 {
		bad("hours", "calendar %q, which this one extends, is always: true (every hour); hours would change nothing: extend a calendar with hours", c.Extends)
	}
	if !cal.Always && len(c.Hours) == 0 && c.Name != "" && parent == nil {
		bad("hours", "required unless always: true: working hours per weekday, like mon: [\"09:00-12:00\", \"13:00-18:00\"]")
	}
	// spans reads texts into a day's spans, in order and not overlapping.
	spans := func(path string, texts []string, into []Span) []Span {
		for j, text := range texts {
			key := fmt.Sprintf("%s[%d]", path, j)
			sp, err := parseSpan(text)
			switch {
			case err != nil:
				bad(key, "%v", err)
			case len(into) > 0 && into[len(into)-1].End > sp.Start:
				bad(key, "%q overlaps or precedes the span before it; list spans in order", text)
			default:
				into = append(into, sp)
			}
		}
		return into
	}
	for _, day := range slices.SortedFunc(maps.Keys(c.Hours), func(a, b string) int { return dayOrder(a) - dayOrder(b) }) {
		wd, ok := weekdayNames[day]
		if !ok {
			bad("hours."+day, "unknown weekday %q (mon, tue, wed, thu, fri, sat, sun)", day)
			continue
		}
		// This calendar's hours for the day replace the extended one's.
		cal.Week[wd] = spans("hours."+day, c.Hours[day], nil)
	}
	if len(c.WorkdayHours) > 0 {
		cal.WorkdayHours = spans("workday_hours", c.WorkdayHours, nil)
	}
	for j, name := range c.HolidaySets {
		set, err := src.HolidaySet(name)
		if err != nil {
			bad(fmt.Sprintf("holiday_sets[%d]", j), "%v", err)
			continue
		}
		for d := range set.Holidays {
			cal.Holidays[d], cal.Workdays[d] = true, false
		}
		for d := range set.Workdays {
			cal.Workdays[d], cal.Holidays[d] = true, false
		}
	}
	// This calendar's own dates override the extended calendar's and the sets'.
	own := map[Date]string{}
	for _, list := range []struct {
		key   string
		dates []string
		into  map[Date]bool
		not   map[Date]bool
	}{{"holidays", c.Holidays, cal.Holidays, cal.Workdays}, {"workdays", c.Workdays, cal.Workdays, cal.Holidays}} {
		for j, text := range list.dates {
			key := fmt.Sprintf("%s[%d]", list.key, j)
			dates, err := parseDates(text)
			if err != nil {
				bad(key, "%v", err)
				continue
			}
			for _, d := range dates {
				if was, ok := own[d]; ok && was != list.key {
					bad(key, "%s is both a holiday and a workday", d)
					break
				}
				own[d] = list.key
				list.into[d], list.not[d] = true, false
			}
		}
	}
	for _, m := range []map[Date]bool{cal.Holidays, cal.Workdays} {
		maps.DeleteFunc(m, func(_ Date, v bool) bool { return !v })
	}
	return cal, errs
}

var spanPattern = regexp.MustCompile(`^(\d{2}):(\d{2})-(\d{2}):(\d{2})$`)

// parseSpan reads "HH:MM-HH:MM".
func parseSpan(text string) (Span, error) {
	m := spanPattern.FindStringSubmatch(text)
	if m == nil {
		return Span{}, fmt.Errorf("%q is not a span; write HH:MM-HH:MM like 09:00-12:00", text)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	sp := Span{Start: n(1)*60 + n(2), End: n(3)*60 + n(4)}
	switch {
	case n(1) > 23 || n(2) > 59 || n(4) > 59 || sp.End > 24*60:
		return Span{}, fmt.Errorf("%q is not a time of day (00:00 to 24:00)", text)
	case sp.End <= sp.Start:
		return Span{}, fmt.Errorf("%q ends before it starts; a span over midnight is two spans on two days", text)
	}
	return sp, nil
}

// parseDates reads "2026-12-24" or "2026-02-15..2026-02-23".
func parseDates(text string) ([]Date, error) {
	from, to, isRange := strings.Cut(text, "..")
	a, err := time.Parse("2006-01-02", strings.TrimSpace(from))
	if err != nil {
		return nil, fmt.Errorf("%q is not a date; write YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD for a range", text)
	}
	b := a
	if isRange {
		if b, err = time.Parse("2006-01-02", strings.TrimSpace(to)); err != nil || b.Before(a) {
			return nil, fmt.Errorf("%q is not a range; write YYYY-MM-DD..YYYY-MM-DD, the first day first", text)
		}
		if b.Sub(a) > 366*24*time.Hour {
			return nil, fmt.Errorf("%q is longer than a year", text)
		}
	}
	var out []Date
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		out = append(out, DateOf(d))
	}
	return out, nil
}

// notifyRoles are the roles a tier may notify besides user:<id>.
var notifyRoles = []string{"assignee", "team_lead", "supervisor", "regional_director"}

// pausableStates are the states a policy may pause its clocks in.
var pausableStates = []string{"new", "assigned", "accepted", "in_progress", "awaiting_parts", "paused", "escalated"}

// BuildPolicies builds the policies of specs on calendars (by name), and checks them as
// NewPolicies does. Every problem is reported; a policy whose calendar is missing or unknown
// runs round the clock, so that the rest can still be checked.
func BuildPolicies(specs []PolicySpec, calendars map[string]*Calendar) (*Policies, []ConfigError) {
	var errs []ConfigError
	calendar := func(path, name string) *Calendar {
		if name == "" {
			return nil
		}
		c := calendars[name]
		if c == nil {
			errs = append(errs, errorf(path, "unknown calendar %q (sla.calendars has: %s)", name, strings.Join(slices.Sorted(maps.Keys(calendars)), ", ")))
		}
		return c
	}
	var out []Policy
	for i, p := range specs {
		at := fmt.Sprintf("policies[%d]", i)
		sp := Policy{ID: p.ID, When: p.When, Calendar: calendar(at+".calendar", p.Calendar), Goals: map[Target]time.Duration{},
			PauseIn: p.PauseIn, WarnAt: p.WarnAt}
		if p.Response != 0 {
			sp.Goals[Response] = p.Response.Std()
		}
		if p.Resolution != 0 {
			sp.Goals[Resolution] = p.Resolution.Std()
		}
		if p.NextUpdate != 0 {
			sp.Goals[NextUpdate] = p.NextUpdate.Std()
		}
		for j, st := range p.PauseIn {
			if !slices.Contains(pausableStates, st) {
				errs = append(errs, errorf(fmt.Sprintf("%s.pause_in[%d]", at, j), "%q is not a state a clock can pause in (one of: %s)", st, strings.Join(pausableStates, ", ")))
			}
		}
		for j, t := range p.Tiers {
			key := fmt.Sprintf("%s.tiers[%d]", at, j)
			tier := Tier{Name: t.Name, After: t.After.Std(), Notify: t.Notify, Escalate: t.Escalate, Reroute: t.Reroute,
				Quiet: calendar(key+".quiet", t.Quiet)}
			for k, n := range t.Notify {
				if !slices.Contains(notifyRoles, n) && (!strings.HasPrefix(n, "user:") || len(n) == len("user:")) {
					errs = append(errs, errorf(fmt.Sprintf("%s.notify[%d]", key, k), "%q is neither a role (%s) nor a person (user:<id>)", n, strings.Join(notifyRoles, ", ")))
				}
			}
			sp.Tiers = append(sp.Tiers, tier)
		}
		if p.Calendar == "" {
			errs = append(errs, errorf(at+".calendar", "required: the calendar the clocks run on (a name under sla.calendars; one with always: true for round the clock)"))
			sp.Calendar = &Calendar{Always: true}
		} else if sp.Calendar == nil {
			sp.Calendar = &Calendar{Always: true} // reported above
		}
		out = append(out, sp)
	}
	built, perrs := NewPolicies(out)
	return built, append(errs, perrs...)
}
