package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"gongdan/core/report"
	"gongdan/core/store"
)

// RoutingReport is how routing went over a period: what failed most, and how evenly the
// work was spread.
type RoutingReport struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Decisions counts every routing decision; Assigned those that found someone, Manual the
	// hand assignments, Failures those that found no one.
	Decisions int `json:"decisions"`
	Assigned  int `json:"assigned"`
	Manual    int `json:"manual"`
	Failures  int `json:"failures"`
	// Declines and OfferTimeouts count the decisions they caused.
	Declines      int `json:"declines"`
	OfferTimeouts int `json:"offer_timeouts"`
	// TopScenarios are the five most frequent trouble scenarios by rule and team: a failure
	// reason (no_candidate, all_over_cap, no_rule), a decline by reason (declined:too_far),
	// or offer_timeout.
	TopScenarios []Scenario `json:"top_scenarios"`
	// Assignments per engineer in the period (engineers with none included), and their Gini
	// coefficient: 0 is perfectly even, 1 is everything on one engineer.
	Assignments map[string]int `json:"assignments"`
	Gini        float64        `json:"gini"`
}

// Scenario is one kind of routing trouble.
type Scenario struct {
	Scenario string `json:"scenario"`
	Rule     string `json:"rule"`
	Team     string `json:"team"`
	Count    int    `json:"count"`
	// Examples are up to three tickets it happened to, the latest first.
	Examples []string `json:"examples"`
}

// BuildRoutingReport reads the decisions since since from s. engineers are every configured
// engineer, so that those who got nothing count in the balance.
func BuildRoutingReport(ctx context.Context, s store.Store, since, until time.Time, loc *time.Location, engineers []string) (RoutingReport, error) {
	rep := RoutingReport{Since: since, Until: until, Assignments: map[string]int{}}
	recs, err := s.RoutingSince(ctx, since)
	if err != nil {
		return rep, err
	}
	type key struct{ scenario, rule, team string }
	byKey := map[key]*Scenario{}
	for _, r := range recs {
		if r.At.After(until) {
			continue
		}
		rep.Decisions++
		var scenario string
		switch {
		case r.Manual:
			rep.Manual++
		case r.Failure != "":
			rep.Failures++
			scenario = r.Failure
		default:
			rep.Assigned++
		}
		switch r.Trigger {
		case TriggerDeclined:
			rep.Declines++
			scenario = "declined:" + r.Cause
		case TriggerOfferTimeout:
			rep.OfferTimeouts++
			scenario = TriggerOfferTimeout
		}
		if scenario == "" {
			continue
		}
		k := key{scenario, r.Rule, r.Team}
		sc := byKey[k]
		if sc == nil {
			sc = &Scenario{Scenario: scenario, Rule: r.Rule, Team: r.Team}
			byKey[k] = sc
		}
		sc.Count++
		sc.Examples = append([]string{r.TicketID}, sc.Examples...)[:min(3, len(sc.Examples)+1)]
	}
	for _, sc := range byKey {
		rep.TopScenarios = append(rep.TopScenarios, *sc)
	}
	slices.SortFunc(rep.TopScenarios, func(a, b Scenario) int {
		return cmp.Or(b.Count-a.Count, cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Team, b.Team))
	})
	rep.TopScenarios = rep.TopScenarios[:min(5, len(rep.TopScenarios))]
	if rep.TopScenarios == nil {
		rep.TopScenarios = []Scenario{}
	}

	counts, err := s.Assignments(ctx, since.In(loc).Format("20060102"), until.In(loc).Format("20060102"))
	if err != nil {
		return rep, err
	}
	for _, id := range engineers {
		rep.Assignments[id] = 0
	}
	for id, n := range counts {
		rep.Assignments[id] = n
	}
	values := make([]float64, 0, len(rep.Assignments))
	for _, n := range rep.Assignments {
		values = append(values, float64(n))
	}
	rep.Gini = report.Gini(values)
	return rep, nil
}

// RoutingReport builds the routing report for decisions since since, with every configured
// engineer in the balance.
func (e *Engine) RoutingReport(ctx context.Context, since time.Time) (RoutingReport, error) {
	var engineers []string
	if e.routing != nil {
		for _, eng := range e.routing.opts.Router.Engineers() {
			engineers = append(engineers, eng.ID)
		}
	}
	return BuildRoutingReport(ctx, e.store, since, e.now(), e.opts.Location, engineers)
}
