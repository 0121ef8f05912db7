package config

import (
	"errors"
	"slices"

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
