package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/configs"
	"gongdan/core/sla"
)

// SLAConfig is the sla section: working calendars and the SLA policies that run on them.
type SLAConfig struct {
	// Calendars are working calendars: weekly hours, holidays, make-up workdays.
	Calendars []Calendar `yaml:"calendars"`
	// Policies are tried in order; the first whose when holds applies to a ticket.
	Policies []Policy `yaml:"policies"`

	// Built are the calendars by name; set by validation.
	Built map[string]*sla.Calendar `yaml:"-"`
	// BuiltPolicies are the policies, compiled; set by validation.
	BuiltPolicies *sla.Policies `yaml:"-"`
	// Fingerprint identifies the calendars (with their holiday sets' contents) and the
	// policies: when it changes, the engine arms the open tickets' SLA timers again.
	Fingerprint string `yaml:"-"`
}

// Calendar is one working calendar.
type Calendar struct {
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
	// cn-2026: configs/calendars/), or files of the same form, relative to this config file.
	HolidaySets []string `yaml:"holiday_sets"`
	// Holidays are days off: "2026-12-24" or a range "2026-02-15..2026-02-23".
	Holidays []string `yaml:"holidays"`
	// Workdays are extra working days (调休).
	Workdays []string `yaml:"workdays"`
	// WorkdayHours are the spans a make-up workday is worked with. Default: Monday's (for a
	// calendar without Monday hours, the day's own, else its first working weekday's).
	WorkdayHours []string `yaml:"workday_hours"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// dayOrder sorts weekday keys mon … sun, then unknown ones.
func dayOrder(day string) int {
	if i := slices.Index([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, day); i >= 0 {
		return i
	}
	return 7
}

var spanPattern = regexp.MustCompile(`^(\d{2}):(\d{2})-(\d{2}):(\d{2})$`)

// validate builds the calendars and the policies.
func (s *SLAConfig) validate(defaultZone *time.Location, dir string) []problem {
	var ps []problem
	s.Built = map[string]*sla.Calendar{}
	// The fingerprint: the section as written and the contents of the holiday sets it takes
	// (build adds each set as it loads it).
	fp := sha256.New()
	_ = json.NewEncoder(fp).Encode([]any{s.Calendars, s.Policies})
	for i, c := range s.Calendars {
		at := indexPath("calendars", i)
		var parent *sla.Calendar
		if c.Extends != "" {
			if parent = s.Built[c.Extends]; parent == nil {
				ps = append(ps, problemf(at+".extends", "no calendar %q before this one; list the calendar it extends first", c.Extends))
			}
		}
		cal, cps := c.build(defaultZone, parent, dir, fp)
		ps = append(ps, under(at, cps)...)
		switch {
		case c.Name == "":
		case s.Built[c.Name] != nil:
			ps = append(ps, problemf(at+".name", "calendar %q is defined twice", c.Name))
		default:
			s.Built[c.Name] = cal
		}
	}
	s.Fingerprint = hex.EncodeToString(fp.Sum(nil))[:16]
	policies, pps := buildPolicies(s.Policies, s.Built)
	s.BuiltPolicies = policies
	return append(ps, pps...)
}

// build makes the calendar; the holiday sets it loads are written to sets (the fingerprint).
func (c *Calendar) build(defaultZone *time.Location, parent *sla.Calendar, dir string, sets io.Writer) (*sla.Calendar, []problem) {
	var ps []problem
	cal := &sla.Calendar{Name: c.Name, Location: defaultZone, Always: c.Always, Holidays: map[sla.Date]bool{}, Workdays: map[sla.Date]bool{}}
	if parent != nil {
		cal.Location, cal.Always, cal.Week, cal.WorkdayHours = parent.Location, parent.Always || c.Always, parent.Week, parent.WorkdayHours
		maps.Copy(cal.Holidays, parent.Holidays)
		maps.Copy(cal.Workdays, parent.Workdays)
	}
	if c.Name == "" {
		ps = append(ps, problemf("name", "required: rules, engineers and policies refer to the calendar by it"))
	}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			ps = append(ps, problemf("timezone", "unknown time zone %q; use an IANA name like Asia/Shanghai", c.Timezone))
		} else {
			cal.Location = loc
		}
	}
	if c.Always && len(c.Hours) > 0 {
		ps = append(ps, problemf("hours", "always: true is every hour; drop hours, or drop always"))
	} else if parent != nil && parent.Always && len(c.Hours) > 0 {
		ps = append(ps, problemf("hours", "calendar %q, which this one extends, is always: true (every hour); hours would change nothing: extend a calendar with hours", c.Extends))
	}
	if !cal.Always && len(c.Hours) == 0 && c.Name != "" && parent == nil {
		ps = append(ps, problemf("hours", "required unless always: true: working hours per weekday, like mon: [\"09:00-12:00\", \"13:00-18:00\"]"))
	}
	days := slices.SortedFunc(maps.Keys(c.Hours), func(a, b string) int { return dayOrder(a) - dayOrder(b) })
	for _, day := range days {
		wd, ok := weekdays[day]
		if !ok {
			ps = append(ps, problemf("hours."+day, "unknown weekday %q (mon, tue, wed, thu, fri, sat, sun)", day))
			continue
		}
		cal.Week[wd] = nil // this calendar's hours for the day replace the extended one's
		for j, text := range c.Hours[day] {
			key := indexPath("hours."+day, j)
			sp, err := parseSpan(text)
			switch {
			case err != nil:
				ps = append(ps, problemf(key, "%v", err))
			case len(cal.Week[wd]) > 0 && cal.Week[wd][len(cal.Week[wd])-1].End > sp.Start:
				ps = append(ps, problemf(key, "%q overlaps or precedes the span before it; list spans in order", text))
			default:
				cal.Week[wd] = append(cal.Week[wd], sp)
			}
		}
	}
	if len(c.WorkdayHours) > 0 {
		cal.WorkdayHours = nil
	}
	for j, text := range c.WorkdayHours {
		key := indexPath("workday_hours", j)
		sp, err := parseSpan(text)
		switch {
		case err != nil:
			ps = append(ps, problemf(key, "%v", err))
		case len(cal.WorkdayHours) > 0 && cal.WorkdayHours[len(cal.WorkdayHours)-1].End > sp.Start:
			ps = append(ps, problemf(key, "%q overlaps or precedes the span before it; list spans in order", text))
		default:
			cal.WorkdayHours = append(cal.WorkdayHours, sp)
		}
	}
	for j, name := range c.HolidaySets {
		set, err := loadHolidaySet(name, dir)
		if err != nil {
			ps = append(ps, problemf(indexPath("holiday_sets", j), "%v", err))
			continue
		}
		sets.Write(set.data)
		for d := range set.holidays {
			cal.Holidays[d], cal.Workdays[d] = true, false
		}
		for d := range set.workdays {
			cal.Workdays[d], cal.Holidays[d] = true, false
		}
	}
	// This calendar's own dates override the extended calendar's and the sets'.
	own := map[sla.Date]string{}
	for _, list := range []struct {
		key  string
		days []string
		into map[sla.Date]bool
		not  map[sla.Date]bool
	}{{"holidays", c.Holidays, cal.Holidays, cal.Workdays}, {"workdays", c.Workdays, cal.Workdays, cal.Holidays}} {
		for j, text := range list.days {
			days, err := parseDays(text)
			if err != nil {
				ps = append(ps, problemf(indexPath(list.key, j), "%v", err))
				continue
			}
			for _, d := range days {
				if was, ok := own[d]; ok && was != list.key {
					ps = append(ps, problemf(indexPath(list.key, j), "%s is both a holiday and a workday", d))
					break
				}
				own[d] = list.key
				list.into[d], list.not[d] = true, false
			}
		}
	}
	for _, m := range []map[sla.Date]bool{cal.Holidays, cal.Workdays} {
		maps.DeleteFunc(m, func(_ sla.Date, v bool) bool { return !v })
	}
	return cal, ps
}

// parseSpan reads "HH:MM-HH:MM".
func parseSpan(text string) (sla.Span, error) {
	m := spanPattern.FindStringSubmatch(text)
	if m == nil {
		return sla.Span{}, fmt.Errorf("%q is not a span; write HH:MM-HH:MM like 09:00-12:00", text)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	sp := sla.Span{Start: n(1)*60 + n(2), End: n(3)*60 + n(4)}
	switch {
	case n(1) > 23 || n(2) > 59 || n(4) > 59 || sp.End > 24*60:
		return sla.Span{}, fmt.Errorf("%q is not a time of day (00:00 to 24:00)", text)
	case sp.End <= sp.Start:
		return sla.Span{}, fmt.Errorf("%q ends before it starts; a span over midnight is two spans on two days", text)
	}
	return sp, nil
}

// parseDays reads "2026-12-24" or "2026-02-15..2026-02-23".
func parseDays(text string) ([]sla.Date, error) {
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
	var out []sla.Date
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		out = append(out, sla.DateOf(d))
	}
	return out, nil
}

// holidaySet is a file of days off and make-up workdays (configs/calendars/*.yaml).
type holidaySet struct {
	holidays, workdays map[sla.Date]bool
	data               []byte // the file
}

// HolidaySets lists the names of the shipped holiday sets.
func HolidaySets() []string {
	names, _ := fs.Glob(configs.Calendars, "calendars/*.yaml")
	for i, n := range names {
		names[i] = strings.TrimSuffix(strings.TrimPrefix(n, "calendars/"), ".yaml")
	}
	return names
}

// loadHolidaySet reads a shipped set by name, or a file (a name ending in .yaml or .yml,
// relative to dir). Errors name the file and the line.
func loadHolidaySet(name, dir string) (*holidaySet, error) {
	var data []byte
	var file string
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		file = name
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("cannot read the holiday set: %w", err)
		}
	} else {
		file = "configs/calendars/" + name + ".yaml (shipped)"
		var err error
		if data, err = configs.Calendars.ReadFile("calendars/" + name + ".yaml"); err != nil {
			return nil, fmt.Errorf("no holiday set %q ships with gongdan (there are: %s); a file of your own is named by its path, like my-holidays.yaml",
				name, strings.Join(HolidaySets(), ", "))
		}
	}
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
			return nil, fmt.Errorf("%s: %s", file, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	set := &holidaySet{holidays: map[sla.Date]bool{}, workdays: map[sla.Date]bool{}, data: data}
	for i, h := range doc.Holidays {
		days, err := parseDays(h.Dates)
		if err != nil {
			return nil, fmt.Errorf("%s: holidays[%d].dates: %v", file, i, err)
		}
		for _, d := range days {
			set.holidays[d] = true
		}
	}
	for i, w := range doc.Workdays {
		days, err := parseDays(w.Date)
		if err != nil || len(days) != 1 {
			return nil, fmt.Errorf("%s: workdays[%d].date: %q is not one date (YYYY-MM-DD)", file, i, w.Date)
		}
		if set.holidays[days[0]] {
			return nil, fmt.Errorf("%s: workdays[%d].date: %s is a holiday of the set too", file, i, days[0])
		}
		set.workdays[days[0]] = true
	}
	return set, nil
}

// Policy is one SLA policy.
type Policy struct {
	ID string `yaml:"id"`
	// When is an expr-lang condition over the ticket: urgency, category, tags, source,
	// channel, customer.{id,org}, team. Empty: every ticket.
	When string `yaml:"when"`
	// Calendar names the calendar the clocks run on (a name under sla.calendars).
	Calendar string `yaml:"calendar"`
	// Response is the time to accept (接单); Resolution the time to resolve. Either or both.
	Response   Duration `yaml:"response"`
	Resolution Duration `yaml:"resolution"`
	// NextUpdate is the time to answer a customer who wrote again (a message merged into
	// the ticket): until staff next acts on the ticket.
	NextUpdate Duration `yaml:"next_update"`
	// PauseIn are the states that stop the clocks (default awaiting_parts, paused).
	PauseIn []string `yaml:"pause_in"`
	// WarnAt is the share of a target after which a warning is recorded (0.8 = 80%).
	WarnAt float64 `yaml:"warn_at"`
	// Tiers fire after a breach, in order.
	Tiers []PolicyTier `yaml:"tiers"`
}

// PolicyTier is one escalation step after a breach.
type PolicyTier struct {
	Name string `yaml:"name"`
	// After the breach, in wall-clock time.
	After Duration `yaml:"after"`
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

// notifyRoles are the roles a tier may notify besides user:<id>.
var notifyRoles = []string{"assignee", "team_lead", "supervisor", "regional_director"}

// pausableStates are the states a policy may pause its clocks in.
var pausableStates = []string{"new", "assigned", "accepted", "in_progress", "awaiting_parts", "paused", "escalated"}

func buildPolicies(in []Policy, calendars map[string]*sla.Calendar) (*sla.Policies, []problem) {
	var ps []problem
	calendar := func(key, name string) *sla.Calendar {
		if name == "" {
			return nil
		}
		c := calendars[name]
		if c == nil {
			ps = append(ps, problemf(key, "unknown calendar %q (sla.calendars has: %s)", name, strings.Join(slices.Sorted(maps.Keys(calendars)), ", ")))
		}
		return c
	}
	var out []sla.Policy
	for i, p := range in {
		at := indexPath("policies", i)
		sp := sla.Policy{ID: p.ID, When: p.When, Calendar: calendar(at+".calendar", p.Calendar), Goals: map[sla.Target]time.Duration{},
			PauseIn: p.PauseIn, WarnAt: p.WarnAt}
		if p.Response != 0 {
			sp.Goals[sla.Response] = p.Response.Std()
		}
		if p.Resolution != 0 {
			sp.Goals[sla.Resolution] = p.Resolution.Std()
		}
		if p.NextUpdate != 0 {
			sp.Goals[sla.NextUpdate] = p.NextUpdate.Std()
		}
		for j, st := range p.PauseIn {
			if !slices.Contains(pausableStates, st) {
				ps = append(ps, problemf(indexPath(at+".pause_in", j), "%q is not a state a clock can pause in (one of: %s)", st, strings.Join(pausableStates, ", ")))
			}
		}
		for j, t := range p.Tiers {
			key := indexPath(at+".tiers", j)
			tier := sla.Tier{Name: t.Name, After: t.After.Std(), Notify: t.Notify, Escalate: t.Escalate, Reroute: t.Reroute,
				Quiet: calendar(key+".quiet", t.Quiet)}
			for k, n := range t.Notify {
				if !slices.Contains(notifyRoles, n) && (!strings.HasPrefix(n, "user:") || len(n) == len("user:")) {
					ps = append(ps, problemf(indexPath(key+".notify", k), "%q is neither a role (%s) nor a person (user:<id>)", n, strings.Join(notifyRoles, ", ")))
				}
			}
			sp.Tiers = append(sp.Tiers, tier)
		}
		if p.Calendar == "" {
			ps = append(ps, problemf(at+".calendar", "required: the calendar the clocks run on (a name under sla.calendars; one with always: true for round the clock)"))
			sp.Calendar = &sla.Calendar{Always: true}
		} else if sp.Calendar == nil {
			sp.Calendar = &sla.Calendar{Always: true} // reported above
		}
		out = append(out, sp)
	}
	built, errs := sla.NewPolicies(out)
	for _, e := range errs {
		ps = append(ps, problemf(e.Path, "%s", e.Msg))
	}
	return built, ps
}
