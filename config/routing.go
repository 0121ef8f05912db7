package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gongdan/core/routing"
	"gongdan/core/sla"
)

// Routing is who gets which ticket: engineers, teams, ordered rules, score weights and the
// accept timeout (DESIGN.md §5).
type Routing struct {
	// Engineers who can be assigned tickets.
	Engineers []Engineer `yaml:"engineers"`
	// Teams that rules route to, each with its members, lead and overflow team.
	Teams []Team `yaml:"teams"`
	// Rules, in order: the first whose when holds (within during) decides.
	Rules []RoutingRule `yaml:"rules"`
	// Weights of a candidate's score. Default distance 0.5, capacity 0.3, ftfr 0.2.
	Weights *Weights `yaml:"weights"`
	// AcceptTimeout: an assignment not accepted in this time goes to someone else. Default 30m.
	AcceptTimeout Duration `yaml:"accept_timeout"`

	// Router is the section built; nil when the section is absent. Set by validation.
	Router *routing.Router `yaml:"-"`
}

// Engineer is one person routing may assign to.
type Engineer struct {
	// ID is the engineer's actor id (the one their API token acts as). Required.
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"`
	// Skills the engineer has (plc, hydraulics, …), matched against a rule's require_skills.
	Skills []string `yaml:"skills"`
	// Home is where the engineer starts from.
	Home *Point `yaml:"home"`
	// RadiusKM is how far from home the engineer serves; 0: no limit.
	RadiusKM float64 `yaml:"radius_km"`
	// MaxOpen caps the engineer's open tickets, MaxDaily the tickets assigned a day; 0: no cap.
	MaxOpen  int `yaml:"max_open"`
	MaxDaily int `yaml:"max_daily"`
	// Calendar names a calendar under sla.calendars: on duty only in its working time.
	Calendar string `yaml:"calendar"`
	// Status is on_duty (default), off, leave or suspended; PUT /api/v1/engineers/{id} changes it live.
	Status string `yaml:"status"`
}

// Point is a position in degrees.
type Point struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// Team is a group of engineers.
type Team struct {
	ID      string   `yaml:"id"`
	Lead    string   `yaml:"lead"`
	Region  string   `yaml:"region"`
	Members []string `yaml:"members"`
	// Overflow is the team that takes over when no member can (二级轮询池).
	Overflow string `yaml:"overflow"`
}

// RoutingRule is one rule.
type RoutingRule struct {
	ID string `yaml:"id"`
	// When is an expr-lang condition over the ticket: source, channel, category, tags,
	// urgency, title, description, customer.{id,name,phone,org}, device.{id,model,product_type},
	// location.{address,city,lat,lon}. Empty: always.
	When string `yaml:"when"`
	// During limits the rule to a calendar's working time.
	During *During `yaml:"during"`
	// RouteTo is a team, an engineer, or an engineer with their team as the fallback.
	RouteTo       RouteTo  `yaml:"route_to"`
	RequireSkills []string `yaml:"require_skills"`
	// Set changes the ticket's urgency, category or tags (added) with the assignment.
	Set *RuleSet `yaml:"set"`
}

// During names a calendar.
type During struct {
	Calendar string `yaml:"calendar"`
}

// RouteTo is where a rule sends a ticket.
type RouteTo struct {
	Team     string `yaml:"team"`
	Engineer string `yaml:"engineer"`
}

// RuleSet is what a rule sets.
type RuleSet struct {
	Urgency  string   `yaml:"urgency"`
	Category string   `yaml:"category"`
	Tags     []string `yaml:"tags"`
}

// Weights weigh a candidate's score parts.
type Weights struct {
	Distance float64 `yaml:"distance"`
	Capacity float64 `yaml:"capacity"`
	FTFR     float64 `yaml:"ftfr"`
}

// SLAConfig is the sla section. This version acts on its calendars only.
type SLAConfig struct {
	// Calendars are working calendars: weekly hours, holidays, make-up workdays.
	Calendars []Calendar `yaml:"calendars"`
	// Policies come with a later version; refused when present.
	Policies Section `yaml:"policies"`

	// Built are the calendars by name; set by validation.
	Built map[string]*sla.Calendar `yaml:"-"`
}

// Calendar is one working calendar.
type Calendar struct {
	Name string `yaml:"name"`
	// Timezone is an IANA zone. Default server.timezone.
	Timezone string `yaml:"timezone"`
	// Always: every hour of every day (24×7).
	Always bool `yaml:"always"`
	// Hours per weekday (mon … sun): spans like "09:00-12:00".
	Hours map[string][]string `yaml:"hours"`
	// HolidaySets name shipped sets of public holidays and make-up workdays.
	HolidaySets []string `yaml:"holiday_sets"`
	// Holidays are days off: "2026-12-24" or a range "2026-02-15..2026-02-23".
	Holidays []string `yaml:"holidays"`
	// Workdays are extra working days (调休), worked with Monday's hours.
	Workdays []string `yaml:"workdays"`
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

// validate builds the calendars.
func (s *SLAConfig) validate(defaultZone *time.Location) []problem {
	var ps []problem
	ps = append(ps, under("policies", s.Policies.validate())...)
	s.Built = map[string]*sla.Calendar{}
	for i, c := range s.Calendars {
		at := indexPath("calendars", i)
		cal, cps := c.build(defaultZone)
		ps = append(ps, under(at, cps)...)
		switch {
		case c.Name == "":
		case s.Built[c.Name] != nil:
			ps = append(ps, problemf(at+".name", "calendar %q is defined twice", c.Name))
		default:
			s.Built[c.Name] = cal
		}
	}
	return ps
}

func (c *Calendar) build(defaultZone *time.Location) (*sla.Calendar, []problem) {
	var ps []problem
	cal := &sla.Calendar{Name: c.Name, Location: defaultZone, Always: c.Always, Holidays: map[sla.Date]bool{}, Workdays: map[sla.Date]bool{}}
	if c.Name == "" {
		ps = append(ps, problemf("name", "required: rules and engineers refer to the calendar by it"))
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
	}
	if !c.Always && len(c.Hours) == 0 && c.Name != "" {
		ps = append(ps, problemf("hours", "required unless always: true: working hours per weekday, like mon: [\"09:00-12:00\", \"13:00-18:00\"]"))
	}
	days := slices.SortedFunc(maps.Keys(c.Hours), func(a, b string) int { return dayOrder(a) - dayOrder(b) })
	for _, day := range days {
		spans := c.Hours[day]
		wd, ok := weekdays[day]
		if !ok {
			ps = append(ps, problemf("hours."+day, "unknown weekday %q (mon, tue, wed, thu, fri, sat, sun)", day))
			continue
		}
		for j, text := range spans {
			key := indexPath("hours."+day, j)
			m := spanPattern.FindStringSubmatch(text)
			if m == nil {
				ps = append(ps, problemf(key, "%q is not a span; write HH:MM-HH:MM like 09:00-12:00", text))
				continue
			}
			n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
			sp := sla.Span{Start: n(1)*60 + n(2), End: n(3)*60 + n(4)}
			switch {
			case n(1) > 23 || n(2) > 59 || n(4) > 59 || sp.End > 24*60:
				ps = append(ps, problemf(key, "%q is not a time of day (00:00 to 24:00)", text))
			case sp.End <= sp.Start:
				ps = append(ps, problemf(key, "%q ends before it starts; a span over midnight is two spans on two days", text))
			case len(cal.Week[wd]) > 0 && cal.Week[wd][len(cal.Week[wd])-1].End > sp.Start:
				ps = append(ps, problemf(key, "%q overlaps or precedes the span before it; list spans in order", text))
			default:
				cal.Week[wd] = append(cal.Week[wd], sp)
			}
		}
	}
	if len(c.HolidaySets) > 0 {
		ps = append(ps, problemf("holiday_sets", "no holiday sets ship with this version yet; list the days off under holidays and the make-up workdays under workdays"))
	}
	for _, list := range []struct {
		key  string
		days []string
		into map[sla.Date]bool
	}{{"holidays", c.Holidays, cal.Holidays}, {"workdays", c.Workdays, cal.Workdays}} {
		for j, text := range list.days {
			days, err := parseDays(text)
			if err != nil {
				ps = append(ps, problemf(indexPath(list.key, j), "%v", err))
				continue
			}
			for _, d := range days {
				list.into[d] = true
			}
		}
	}
	for j, text := range c.Workdays {
		days, _ := parseDays(text)
		for _, d := range days {
			if cal.Holidays[d] {
				ps = append(ps, problemf(indexPath("workdays", j), "%s is both a holiday and a workday", d))
				break
			}
		}
	}
	return cal, ps
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

// validate builds the router, reporting its problems at their keys.
func (r *Routing) validate(calendars map[string]*sla.Calendar) []problem {
	var ps []problem
	cfg := routing.Config{Calendars: calendars}
	if r.Weights != nil {
		cfg.Weights = routing.Weights{Distance: r.Weights.Distance, Capacity: r.Weights.Capacity, FTFR: r.Weights.FTFR}
		if cfg.Weights == (routing.Weights{}) {
			ps = append(ps, problemf("weights", "all weights are 0: every candidate would score the same"))
		}
	}
	if r.AcceptTimeout < 0 {
		ps = append(ps, problemf("accept_timeout", "must not be negative"))
	}
	for _, e := range r.Engineers {
		re := routing.Engineer{ID: e.ID, Name: e.Name, Phone: e.Phone, Skills: e.Skills, RadiusKM: e.RadiusKM,
			MaxOpen: e.MaxOpen, MaxDaily: e.MaxDaily, Calendar: e.Calendar, Status: routing.Status(e.Status)}
		if e.Home != nil {
			re.Home = routing.Point{Lat: e.Home.Lat, Lon: e.Home.Lon}
		}
		cfg.Engineers = append(cfg.Engineers, re)
	}
	for i, e := range r.Engineers {
		if e.Home != nil && (e.Home.Lat < -90 || e.Home.Lat > 90 || e.Home.Lon < -180 || e.Home.Lon > 180) {
			ps = append(ps, problemf(indexPath("engineers", i)+".home", "lat must be -90..90 and lon -180..180"))
		}
	}
	for _, t := range r.Teams {
		cfg.Teams = append(cfg.Teams, routing.Team{ID: t.ID, Lead: t.Lead, Region: t.Region, Members: t.Members, Overflow: t.Overflow})
	}
	for i, rule := range r.Rules {
		rr := routing.Rule{ID: rule.ID, When: rule.When, RouteTo: routing.Target{Team: rule.RouteTo.Team, Engineer: rule.RouteTo.Engineer},
			RequireSkills: rule.RequireSkills}
		if rule.During != nil {
			rr.During = rule.During.Calendar
			if rr.During == "" {
				ps = append(ps, problemf(indexPath("rules", i)+".during.calendar", "required: the calendar whose working time the rule applies in"))
			}
		}
		if rule.Set != nil {
			rr.Set = routing.Set{Urgency: rule.Set.Urgency, Category: rule.Set.Category, Tags: rule.Set.Tags}
			if u := rule.Set.Urgency; u != "" && !slices.Contains([]string{"blue", "yellow", "orange", "red"}, u) {
				ps = append(ps, problemf(indexPath("rules", i)+".set.urgency", "unknown urgency %q (one of: blue, yellow, orange, red)", u))
			}
		}
		cfg.Rules = append(cfg.Rules, rr)
	}
	router, err := routing.New(cfg)
	var ces routing.ConfigErrors
	switch {
	case errors.As(err, &ces):
		for _, ce := range ces {
			ps = append(ps, problemf(ce.Path, "%s", ce.Msg))
		}
	case err != nil:
		ps = append(ps, problemf("", "%v", err))
	}
	if len(ps) == 0 {
		r.Router = router
	}
	return ps
}
