package config

import (
	"errors"
	"slices"

	"gongdan/core/routing"
	"gongdan/core/sla"
)

// Routing is who gets which ticket: engineers, teams, ordered rules, score weights and the
// accept timeout (DESIGN.md §5). Engineers, teams, targets, what a rule sets and the weights
// are core/routing's own types, decoded as they are; only a rule keeps a shape of the file's
// (its during: is a mapping, and set: may be absent).
type Routing struct {
	// Engineers who can be assigned tickets.
	Engineers []routing.Engineer `yaml:"engineers"`
	// Teams that rules route to, each with its members, lead and overflow team.
	Teams []routing.Team `yaml:"teams"`
	// Rules, in order: the first whose when holds (within during) decides.
	Rules []RoutingRule `yaml:"rules"`
	// Weights of a candidate's score. Default distance 0.5, capacity 0.3, ftfr 0.2.
	Weights *routing.Weights `yaml:"weights"`
	// AcceptTimeout: an assignment not accepted in this time goes to someone else. Default 30m.
	AcceptTimeout Duration `yaml:"accept_timeout"`

	// Router is the section built; nil when the section is absent. Set by validation.
	Router *routing.Router `yaml:"-"`
}

// RoutingRule is one rule, as the file writes it.
type RoutingRule struct {
	ID string `yaml:"id"`
	// When is an expr-lang condition over the ticket: source, channel, category, tags,
	// urgency, title, description, customer.{id,name,phone,org}, device.{id,model,product_type},
	// location.{address,city,lat,lon}. Empty: always.
	When string `yaml:"when"`
	// During limits the rule to a calendar's working time.
	During *During `yaml:"during"`
	// RouteTo is a team, an engineer, or an engineer with their team as the fallback.
	RouteTo       routing.Target `yaml:"route_to"`
	RequireSkills []string       `yaml:"require_skills"`
	// Set changes the ticket's urgency, category or tags (added) with the assignment.
	Set *routing.Set `yaml:"set"`
}

// During names a calendar.
type During struct {
	Calendar string `yaml:"calendar"`
}

// validate builds the router, reporting its problems at their keys.
func (r *Routing) validate(calendars map[string]*sla.Calendar) []problem {
	var ps []problem
	cfg := routing.Config{Calendars: calendars}
	if r.Weights != nil {
		cfg.Weights = *r.Weights
		if cfg.Weights == (routing.Weights{}) {
			ps = append(ps, problemf("weights", "all weights are 0: every candidate would score the same"))
		}
	}
	if r.AcceptTimeout < 0 {
		ps = append(ps, problemf("accept_timeout", "must not be negative"))
	}
	// The router keeps slices of its own, as it did when they were copied field by field.
	cfg.Engineers = slices.Clone(r.Engineers)
	for i, e := range r.Engineers {
		// An engineer without a home has the zero Point, which is in range.
		if e.Home.Lat < -90 || e.Home.Lat > 90 || e.Home.Lon < -180 || e.Home.Lon > 180 {
			ps = append(ps, problemf(indexPath("engineers", i)+".home", "lat must be -90..90 and lon -180..180"))
		}
	}
	cfg.Teams = slices.Clone(r.Teams)
	for i, rule := range r.Rules {
		rr := routing.Rule{ID: rule.ID, When: rule.When, RouteTo: rule.RouteTo, RequireSkills: rule.RequireSkills}
		if rule.During != nil {
			rr.During = rule.During.Calendar
			if rr.During == "" {
				ps = append(ps, problemf(indexPath("rules", i)+".during.calendar", "required: the calendar whose working time the rule applies in"))
			}
		}
		if rule.Set != nil {
			rr.Set = *rule.Set
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
