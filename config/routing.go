package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"gongdan/core/routing"
	"gongdan/core/sla"
)

// Routing is who gets which ticket: engineers, teams, ordered rules, score weights and the
// accept timeout (DESIGN.md §5). Engineers, teams and rules are core/routing's own types,
// decoded as they are, and routing.New checks them.
type Routing struct {
	// Engineers who can be assigned tickets.
	Engineers []routing.Engineer `yaml:"engineers"`
	// Teams that rules route to, each with its members, lead and overflow team.
	Teams []routing.Team `yaml:"teams"`
	// Rules, in order: the first whose when holds (within during) decides.
	Rules []routing.Rule `yaml:"rules"`
	// Weights of a candidate's score. Default distance 0.5, capacity 0.3, ftfr 0.2.
	Weights *routing.Weights `yaml:"weights"`
	// AcceptTimeout: an assignment not accepted in this time goes to someone else. Default 30m.
	AcceptTimeout Duration `yaml:"accept_timeout"`

	// Router is the section built; nil when the section is absent. Set by validation.
	Router *routing.Router `yaml:"-"`
}

// validate builds the router, reporting its problems at their keys. lead are rules of
// gongdan's own (predict.cluster.team's) put before the section's; they are checked where they
// come from, and the section's rules keep their indexes in what is reported.
func (r *Routing) validate(calendars map[string]*sla.Calendar, lead ...routing.Rule) []problem {
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
	// New keeps the engineers and teams it is given, and sets defaults in them: it gets copies,
	// so the section stays as written.
	cfg.Engineers, cfg.Teams, cfg.Rules = slices.Clone(r.Engineers), slices.Clone(r.Teams), append(slices.Clip(lead), r.Rules...)
	router, err := routing.New(cfg)
	var ces routing.ConfigErrors
	switch {
	case errors.As(err, &ces):
		for _, ce := range ces {
			ps = append(ps, problemf(ruleIndexShifted(ce.Path, len(lead)), "%s", ce.Msg))
		}
	case err != nil:
		ps = append(ps, problemf("", "%v", err))
	}
	if len(ps) == 0 {
		r.Router = router
	}
	return ps
}

// ruleIndexShifted is path ("rules[3].when") with its rule index less by n: the index in the
// section of a rule that n lead rules came before.
func ruleIndexShifted(path string, n int) string {
	rest, ok := strings.CutPrefix(path, "rules[")
	if !ok || n == 0 {
		return path
	}
	i := strings.IndexByte(rest, ']')
	idx, err := strconv.Atoi(rest[:max(i, 0)])
	if i < 0 || err != nil {
		return path
	}
	return "rules[" + strconv.Itoa(idx-n) + rest[i:]
}
