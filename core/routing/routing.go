// Package routing decides who takes a ticket. Ordered rules pick a team or an engineer (and
// may set urgency, category, tags and required skills); the team's members are filtered (on
// duty now, not suspended, skills, service radius, open-ticket and daily caps) and scored
// (distance, spare capacity, first-time-fix rate); ties go round-robin; when no one is left
// the overflow teams are tried, and after them the decision is a failure with its reason, for
// the team lead. Every decision carries the trace that says why. The rules of an engineer's
// record that feed those filters and scores are here too (open load and first-time-fix rate
// in record.go, yellow and red cards in cards.go); the engine keeps the counts.
//
// It is pure: no I/O and no clock. The engine passes in the ticket, the time, each engineer's
// live state and load and the round-robin pointers, and persists what comes out; that is how
// caps hold under concurrency (the engine decides and assigns in one transaction).
package routing

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"gongdan/core/sla"
)

// Status is an engineer's availability as set by a supervisor or the engineer.
type Status string

const (
	StatusOnDuty    Status = "on_duty"
	StatusOff       Status = "off"
	StatusLeave     Status = "leave"
	StatusSuspended Status = "suspended"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusOnDuty, StatusOff, StatusLeave, StatusSuspended:
		return true
	}
	return false
}

// Point is a position in degrees (WGS-84). The zero Point means unknown.
type Point struct {
	Lat float64 `json:"lat" yaml:"lat"`
	Lon float64 `json:"lon" yaml:"lon"`
}

// Known reports whether p is a position rather than the zero value.
func (p Point) Known() bool { return p.Lat != 0 || p.Lon != 0 }

// DistanceKM is the great-circle distance between a and b (haversine, mean Earth radius).
func DistanceKM(a, b Point) float64 {
	return distanceKM(a, b, math.Cos(a.Lat*degree), math.Cos(b.Lat*degree))
}

const (
	degree        = math.Pi / 180
	earthRadiusKM = 6371.0088
)

// distanceKM is DistanceKM with the cosines of both latitudes given: a decision computes the
// ticket's once and each engineer's home one is kept. For the short distances routing deals
// in, the sines and the arcsine are their Taylor series (error below 1e-10 of the distance
// under 600 km): trigonometry was a third of a decision's time.
func distanceKM(a, b Point, cosA, cosB float64) float64 {
	dLat := (b.Lat - a.Lat) * degree / 2
	dLon := (b.Lon - a.Lon) * degree / 2
	var sLat, sLon float64
	if math.Abs(dLat) < 0.05 && math.Abs(dLon) < 0.05 {
		sLat, sLon = smallSin(dLat), smallSin(dLon)
	} else {
		sLat, sLon = math.Sin(dLat), math.Sin(dLon)
	}
	h := sLat*sLat + cosA*cosB*sLon*sLon
	y := math.Sqrt(h)
	if y < 0.05 {
		return 2 * earthRadiusKM * (y + y*y*y/6 + 3*y*y*y*y*y/40)
	}
	return 2 * earthRadiusKM * math.Asin(math.Min(1, y))
}

// smallSin is sin x for |x| < 0.05, to 1e-13.
func smallSin(x float64) float64 {
	x2 := x * x
	return x * (1 - x2/6*(1-x2/20*(1-x2/42)))
}

// Engineer is a person who can be assigned tickets, as configured: the config's
// routing.engineers decode into it as they are.
type Engineer struct {
	ID     string   `json:"id" yaml:"id"`
	Name   string   `json:"name,omitempty" yaml:"name"`
	Phone  string   `json:"phone,omitempty" yaml:"phone"`
	Skills []string `json:"skills" yaml:"skills"`
	// Home is where the engineer starts from; a live location (Live.Location) overrides it.
	Home Point `json:"home" yaml:"home"`
	// RadiusKM is how far from Home (or the live location) the engineer serves; 0: no limit.
	RadiusKM float64 `json:"radius_km" yaml:"radius_km"`
	// MaxOpen caps the engineer's open tickets; MaxDaily the tickets assigned today. 0: no cap.
	MaxOpen  int `json:"max_open" yaml:"max_open"`
	MaxDaily int `json:"max_daily" yaml:"max_daily"`
	// Calendar names the engineer's working calendar: on duty only in its working time.
	// Empty: on duty whenever the status is on_duty.
	Calendar string `json:"calendar,omitempty" yaml:"calendar"`
	Status   Status `json:"status" yaml:"status"`
}

// Team is a group of engineers that rules route to.
type Team struct {
	ID     string `yaml:"id"`
	Lead   string `yaml:"lead"`
	Region string `yaml:"region"`
	// Members in round-robin order.
	Members []string `yaml:"members"`
	// Overflow is the team that takes over when no member can (二级轮询池); empty: none.
	Overflow string `yaml:"overflow"`
}

// Target is where a rule routes: an engineer, a team, or an engineer with their team as the
// fallback.
type Target struct {
	Team     string `yaml:"team"`
	Engineer string `yaml:"engineer"`
}

// Set are the ticket fields a matching rule sets; empty ones are left alone.
type Set struct {
	Urgency  string   `json:"urgency,omitempty" yaml:"urgency"`
	Category string   `json:"category,omitempty" yaml:"category"`
	Tags     []string `json:"tags,omitempty" yaml:"tags"`
}

// Rule is one routing rule; the first whose When holds (within During) decides. The config's
// routing.rules decode into it as they are.
type Rule struct {
	ID string `yaml:"id"`
	// When is an expr-lang condition over Env (`category == "急停故障" && urgency in ["orange", "red"]`);
	// empty: always.
	When string `yaml:"when"`
	// During limits the rule to a calendar's working time. Nil: any time.
	During *During `yaml:"during"`
	// RouteTo is a team, an engineer, or an engineer with their team as the fallback.
	RouteTo       Target   `yaml:"route_to"`
	RequireSkills []string `yaml:"require_skills"`
	// Set changes the ticket's urgency, category or tags (added) with the assignment.
	Set Set `yaml:"set"`
}

// During names the calendar in whose working time a rule applies: during: {calendar: cn-office}.
type During struct {
	Calendar string `yaml:"calendar"`
}

// urgencies are the urgencies a rule may set.
var urgencies = []string{"blue", "yellow", "orange", "red"}

// Weights weigh the parts of a candidate's score; they need not sum to 1.
type Weights struct {
	Distance float64 `yaml:"distance"`
	Capacity float64 `yaml:"capacity"`
	FTFR     float64 `yaml:"ftfr"`
}

// DefaultWeights favour the nearest engineer, then spare capacity, then track record.
var DefaultWeights = Weights{Distance: 0.5, Capacity: 0.3, FTFR: 0.2}

// Config is everything a Router is built from.
type Config struct {
	Engineers []Engineer
	Teams     []Team
	Rules     []Rule
	// Weights; the zero value means DefaultWeights.
	Weights Weights
	// Calendars by name, for Rule.During and Engineer.Calendar.
	Calendars map[string]*sla.Calendar
}

// Env is the ticket as rule conditions see it.
type Env struct {
	// Source is the connector the ticket came through ("plant-mqtt"); Channel its type ("mqtt").
	Source      string      `expr:"source"`
	Channel     string      `expr:"channel"`
	Category    string      `expr:"category"`
	Tags        []string    `expr:"tags"`
	Urgency     string      `expr:"urgency"`
	Title       string      `expr:"title"`
	Description string      `expr:"description"`
	Customer    EnvCustomer `expr:"customer"`
	Device      EnvDevice   `expr:"device"`
	Location    EnvLocation `expr:"location"`
}

// EnvCustomer is the customer in Env.
type EnvCustomer struct {
	ID    string `expr:"id"`
	Name  string `expr:"name"`
	Phone string `expr:"phone"`
	Org   string `expr:"org"`
}

// EnvDevice is the device in Env.
type EnvDevice struct {
	ID          string `expr:"id"`
	Model       string `expr:"model"`
	ProductType string `expr:"product_type"`
}

// EnvLocation is the location in Env.
type EnvLocation struct {
	Address string  `expr:"address"`
	City    string  `expr:"city"`
	Lat     float64 `expr:"lat"`
	Lon     float64 `expr:"lon"`
}

// Live is what the engine knows of an engineer now, beyond the config.
type Live struct {
	// Status, when set, overrides the configured status (GET/PUT /api/v1/engineers/{id}).
	Status Status
	// Location, when known, is where the engineer is now; it overrides Home.
	Location Point
	// Skills, when not nil, replace the configured skills.
	Skills []string
	// SuspendedUntil: no new assignments before it (red card).
	SuspendedUntil time.Time
	// Open is how many open tickets the engineer has; Today how many were assigned to them
	// today (in the engine's time zone).
	Open  int
	Today int
	// FTFR is the first-time-fix rate (0..1) when FTFRKnown.
	FTFR      float64
	FTFRKnown bool
}

// Request is one routing question.
type Request struct {
	Ticket Env
	Now    time.Time
	// Lives, when set, holds each engineer's state by their position in Config.Engineers
	// (Router.Index): the caller that keeps it current saves a lookup per candidate. It
	// must have one entry per configured engineer.
	Lives []Live
	// Live holds each engineer's state by id, when Lives is not set; an engineer not in it
	// has the zero Live.
	Live map[string]Live
	// LiveOf, when set (and Lives is not), is asked instead of Live, for the candidates only.
	LiveOf func(engineer string) Live
	// Exclude are engineers this ticket must not go to, with why (declined it, let an offer
	// time out).
	Exclude map[string]string
	// Pointers are the round-robin pointers: per team, the member index of its last winner.
	// A team not in it starts before its first member.
	Pointers map[string]int
	// Reuse, when set, is an earlier decision whose memory this one may take over (its
	// trace's slices); the caller must not use it afterwards. A caller that decides again
	// and again (the engine's committer) saves allocating and zeroing a trace each time:
	// with 1,000 candidates that was a third of a decision.
	Reuse *Decision
}

// spare hands out the memory of a decision being reused.
type spare struct {
	teams      []TeamTrace
	candidates [][]Candidate
}

func newSpare(d *Decision) *spare {
	s := &spare{}
	if d == nil {
		return s
	}
	s.teams = d.Teams[:0]
	for i := range d.Teams {
		if c := d.Teams[i].Candidates; cap(c) > 0 {
			s.candidates = append(s.candidates, c)
		}
		d.Teams[i] = TeamTrace{}
	}
	return s
}

// candidatesOf returns n zero candidates, in reused memory when there is enough.
func (s *spare) candidatesOf(n int) []Candidate {
	for i, c := range s.candidates {
		if cap(c) >= n {
			s.candidates = append(s.candidates[:i], s.candidates[i+1:]...)
			c = c[:n]
			clear(c)
			return c
		}
	}
	return make([]Candidate, n)
}

// live is m's state: in req.Lives, or copied into buf.
func (req *Request) live(m *member, buf *Live) *Live {
	switch {
	case req.Lives != nil:
		return &req.Lives[m.pos]
	case req.LiveOf != nil:
		*buf = req.LiveOf(m.ID)
	default:
		*buf = req.Live[m.ID]
	}
	return buf
}

// Router decides. It is safe for concurrent use; build a new one to change the config.
type Router struct {
	rules     []compiledRule
	engineers map[string]*Engineer
	teams     map[string]*Team
	teamOf    map[string]string   // engineer → the first team listing them
	order     []string            // engineer ids in config order
	index     map[string]int      // engineer → position in order
	members   map[string][]member // team → its members, resolved
	memberIDs map[string][]string // team → its members' ids, shared by every trace
	teamOrder []string
	calendars map[string]*sla.Calendar
	weights   Weights
	// vms are expr machines to run rules on: vm.Run makes a new one (and its stack) per call.
	vms sync.Pool
}

// member is a team member resolved for deciding: no map lookups per candidate.
type member struct {
	*Engineer
	cosHome float64 // cos of the home latitude
	index   int     // in Team.Members
	pos     int     // in Config.Engineers
}

func (r *Router) newMember(e *Engineer, index int) member {
	return member{Engineer: e, cosHome: math.Cos(e.Home.Lat * degree), index: index, pos: r.index[e.ID]}
}

type compiledRule struct {
	Rule
	when *vm.Program
}

// ConfigError is one problem with a Config, at a path like "rules[2].when".
type ConfigError struct {
	Path string
	Msg  string
}

func (e ConfigError) Error() string { return e.Path + ": " + e.Msg }

// ConfigErrors are all the problems New found.
type ConfigErrors []ConfigError

func (es ConfigErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// New checks cfg and compiles its rules. Every problem found is reported, as ConfigErrors.
func New(cfg Config) (*Router, error) {
	r := &Router{
		engineers: make(map[string]*Engineer, len(cfg.Engineers)),
		teams:     make(map[string]*Team, len(cfg.Teams)),
		teamOf:    make(map[string]string, len(cfg.Engineers)),
		index:     make(map[string]int, len(cfg.Engineers)),
		members:   make(map[string][]member, len(cfg.Teams)),
		memberIDs: make(map[string][]string, len(cfg.Teams)),
		calendars: cfg.Calendars,
		weights:   cfg.Weights,
	}
	if r.weights == (Weights{}) {
		r.weights = DefaultWeights
	}
	var errs ConfigErrors
	bad := func(path, format string, args ...any) {
		errs = append(errs, ConfigError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if r.weights.Distance < 0 || r.weights.Capacity < 0 || r.weights.FTFR < 0 {
		bad("weights", "must not be negative")
	}
	calendar := func(path, name string) {
		if name != "" && r.calendars[name] == nil {
			bad(path, "unknown calendar %q (sla.calendars has: %s)", name, strings.Join(slices.Sorted(maps.Keys(r.calendars)), ", "))
		}
	}
	for i := range cfg.Engineers {
		e := &cfg.Engineers[i]
		at := fmt.Sprintf("engineers[%d]", i)
		// An engineer without a home has the zero Point, which is in range.
		if e.Home.Lat < -90 || e.Home.Lat > 90 || e.Home.Lon < -180 || e.Home.Lon > 180 {
			bad(at+".home", "lat must be -90..90 and lon -180..180")
		}
		switch {
		case e.ID == "":
			bad(at+".id", "required: the engineer's id (the actor id of their API token)")
			continue
		case r.engineers[e.ID] != nil:
			bad(at+".id", "%q is used twice", e.ID)
			continue
		}
		if e.Status == "" {
			e.Status = StatusOnDuty
		}
		if !e.Status.Valid() {
			bad(at+".status", "unknown status %q (one of: on_duty, off, leave, suspended)", e.Status)
		}
		if e.RadiusKM < 0 {
			bad(at+".radius_km", "must not be negative")
		}
		if e.MaxOpen < 0 {
			bad(at+".max_open", "must not be negative (0: no cap)")
		}
		if e.MaxDaily < 0 {
			bad(at+".max_daily", "must not be negative (0: no cap)")
		}
		if e.RadiusKM > 0 && !e.Home.Known() {
			bad(at+".radius_km", "needs a home location (home: {lat, lon}) to measure from")
		}
		calendar(at+".calendar", e.Calendar)
		r.engineers[e.ID] = e
		r.index[e.ID] = len(r.order)
		r.order = append(r.order, e.ID)
	}
	for i := range cfg.Teams {
		t := &cfg.Teams[i]
		at := fmt.Sprintf("teams[%d]", i)
		switch {
		case t.ID == "":
			bad(at+".id", "required: the team's id")
			continue
		case r.teams[t.ID] != nil:
			bad(at+".id", "%q is used twice", t.ID)
			continue
		}
		for j, m := range t.Members {
			e := r.engineers[m]
			if e == nil {
				bad(fmt.Sprintf("%s.members[%d]", at, j), "%q is not an engineer under routing.engineers", m)
				continue
			}
			if _, ok := r.teamOf[m]; !ok {
				r.teamOf[m] = t.ID
			}
			r.members[t.ID] = append(r.members[t.ID], r.newMember(e, j))
			r.memberIDs[t.ID] = append(r.memberIDs[t.ID], m)
		}
		r.teams[t.ID] = t
		r.teamOrder = append(r.teamOrder, t.ID)
	}
	for i, t := range cfg.Teams {
		if t.Overflow != "" && r.teams[t.Overflow] == nil {
			bad(fmt.Sprintf("teams[%d].overflow", i), "team %q does not exist", t.Overflow)
		}
	}
	seen := map[string]bool{}
	for i, rule := range cfg.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if rule.During != nil && rule.During.Calendar == "" {
			bad(at+".during.calendar", "required: the calendar whose working time the rule applies in")
		}
		if u := rule.Set.Urgency; u != "" && !slices.Contains(urgencies, u) {
			bad(at+".set.urgency", "unknown urgency %q (one of: %s)", u, strings.Join(urgencies, ", "))
		}
		if rule.ID == "" {
			bad(at+".id", "required: it is recorded with every assignment the rule makes")
		} else if seen[rule.ID] {
			bad(at+".id", "%q is used twice", rule.ID)
		}
		seen[rule.ID] = true
		cr := compiledRule{Rule: rule}
		if strings.TrimSpace(rule.When) != "" {
			prog, err := expr.Compile(rule.When, expr.Env(&Env{}), expr.AsBool())
			if err != nil {
				msg, _, _ := strings.Cut(err.Error(), "\n") // the rest points at the column
				bad(at+".when", "%s", msg)
			}
			cr.when = prog
		}
		if rule.During != nil {
			calendar(at+".during.calendar", rule.During.Calendar)
		}
		switch {
		case rule.RouteTo.Team == "" && rule.RouteTo.Engineer == "":
			bad(at+".route_to", "needs a team or an engineer")
		case rule.RouteTo.Team != "" && r.teams[rule.RouteTo.Team] == nil:
			bad(at+".route_to.team", "team %q does not exist", rule.RouteTo.Team)
		case rule.RouteTo.Engineer != "" && r.engineers[rule.RouteTo.Engineer] == nil:
			bad(at+".route_to.engineer", "engineer %q does not exist", rule.RouteTo.Engineer)
		}
		r.rules = append(r.rules, cr)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// Engineer returns the configured engineer id.
func (r *Router) Engineer(id string) (Engineer, bool) {
	e, ok := r.engineers[id]
	if !ok {
		return Engineer{}, false
	}
	return *e, true
}

// Team returns the configured team id.
func (r *Router) Team(id string) (Team, bool) {
	t, ok := r.teams[id]
	if !ok {
		return Team{}, false
	}
	return *t, true
}

// LeadOf is the lead of the first team that lists engineer; empty when none does.
func (r *Router) LeadOf(engineer string) string {
	if t := r.teams[r.teamOf[engineer]]; t != nil {
		return t.Lead
	}
	return ""
}

// Index is the position of engineer id in Engineers (and in Request.Lives).
func (r *Router) Index(id string) (int, bool) {
	i, ok := r.index[id]
	return i, ok
}

// Engineers returns the configured engineers, in config order.
func (r *Router) Engineers() []Engineer {
	out := make([]Engineer, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, *r.engineers[id])
	}
	return out
}

// TeamsOf returns the ids of the teams that list engineer.
func (r *Router) TeamsOf(engineer string) []string {
	var out []string
	for _, id := range r.teamOrder {
		if slices.Contains(r.teams[id].Members, engineer) {
			out = append(out, id)
		}
	}
	return out
}

// working reports whether calendar name (empty: always) is in working time at t.
func (r *Router) working(name string, t time.Time) bool {
	if name == "" {
		return true
	}
	return r.calendars[name].Working(t)
}

// Decide answers req. It never fails: a ticket no one can take is a Decision with a
// Failure.
func (r *Router) Decide(req Request) Decision {
	var d Decision
	sp := newSpare(req.Reuse)
	if req.Reuse != nil && cap(req.Reuse.Rules) >= len(r.rules) {
		d.Rules = req.Reuse.Rules[:0]
	} else {
		d.Rules = make([]RuleVerdict, 0, len(r.rules))
	}
	d.Teams = sp.teams
	req.Reuse = nil
	var rule *compiledRule
	// The ticket goes to the rules as a pointer, converted once: as a value it was copied
	// into an interface for every rule.
	env := any(&req.Ticket)
	machine, _ := r.vms.Get().(*vm.VM)
	if machine == nil {
		machine = &vm.VM{}
	}
	defer r.vms.Put(machine)
	for i := range r.rules {
		cr := &r.rules[i]
		v := RuleVerdict{Rule: cr.ID}
		switch {
		case cr.During != nil && !r.working(cr.During.Calendar, req.Now):
			v.Why = "outside calendar " + cr.During.Calendar
		case cr.when != nil:
			out, err := machine.Run(cr.when, env)
			switch {
			case err != nil:
				v.Why = "error: " + err.Error()
			case out == true:
				v.Matched = true
			default:
				v.Why = "when is false"
			}
		default:
			v.Matched = true
		}
		d.Rules = append(d.Rules, v)
		if v.Matched {
			rule = cr
			break
		}
	}
	if rule == nil {
		d.Failure = &Failure{Reason: FailureNoRule, Detail: fmt.Sprintf("none of the %d rules matched", len(r.rules))}
		return d
	}
	d.Rule, d.Set, d.RequiredSkills = rule.ID, rule.Set, rule.RequireSkills

	loc := Point{Lat: req.Ticket.Location.Lat, Lon: req.Ticket.Location.Lon}
	anyCapped := false
	if id := rule.RouteTo.Engineer; id != "" {
		tt := TeamTrace{Team: r.teamOf[id], Via: "rule names the engineer", Engineers: []string{id}, Excluded: req.Exclude}
		tt.Candidates = sp.candidatesOf(1)
		c := &tt.Candidates[0]
		m := r.newMember(r.engineers[id], 0)
		var buf Live
		r.candidate(c, &m, req.live(&m, &buf), &req, rule.RequireSkills, loc, math.Cos(loc.Lat*degree))
		d.Teams = append(d.Teams, tt)
		if c.Kept {
			c.Winner = true
			d.Engineer, d.Team = id, tt.Team
			if rule.RouteTo.Team != "" {
				d.Team = rule.RouteTo.Team
			}
			return d
		}
		anyCapped = anyCapped || c.cappedOnly()
	}
	first := rule.RouteTo.Team
	if first == "" {
		first = r.teamOf[rule.RouteTo.Engineer]
	}
	visited := map[string]bool{}
	via := "rule"
	for team := first; team != "" && !visited[team]; team = r.teams[team].Overflow {
		visited[team] = true
		tt, winner := r.decideTeam(team, &req, rule.RequireSkills, loc, sp)
		tt.Via = via
		via = "overflow of " + team
		d.Teams = append(d.Teams, tt)
		if winner >= 0 {
			d.Engineer, d.Team = tt.Engineers[winner], team
			d.Overflow = team != first
			d.Pointer = &Pointer{Team: team, Index: tt.Candidates[winner].member}
			return d
		}
		for i := range tt.Candidates {
			anyCapped = anyCapped || tt.Candidates[i].cappedOnly()
		}
	}
	f := &Failure{Reason: FailureNoCandidate, Detail: "no engineer passed the filters"}
	if anyCapped {
		f.Reason, f.Detail = FailureAllOverCap, "every engineer who could take it is at a cap (max_open or max_daily)"
	}
	if t := r.teams[first]; t != nil {
		f.Lead = t.Lead
	}
	f.Detail += fmt.Sprintf(" (teams tried: %d)", len(d.Teams))
	d.Failure = f
	return d
}

// decideTeam filters and scores team's members and returns the trace and the index of the
// winner among its candidates, or -1.
func (r *Router) decideTeam(team string, req *Request, skills []string, loc Point, sp *spare) (TeamTrace, int) {
	members := r.members[team]
	tt := TeamTrace{Team: team, Candidates: sp.candidatesOf(len(members)), Engineers: r.memberIDs[team], Excluded: req.Exclude}
	cosLoc := math.Cos(loc.Lat * degree)
	best := math.Inf(-1)
	var buf Live
	for i := range members {
		m := &members[i]
		live := req.live(m, &buf)
		c := &tt.Candidates[i]
		r.candidate(c, m, live, req, skills, loc, cosLoc)
		if c.Kept {
			c.Score, c.Parts = r.score(m.Engineer, live, c.DistanceKM)
			best = math.Max(best, c.Score)
		}
	}
	if math.IsInf(best, -1) {
		return tt, -1
	}
	// Ties (equal within rounding) go to the first tied member after the team's pointer.
	pointer, ok := req.Pointers[team]
	if !ok {
		pointer = -1
	}
	n := len(r.teams[team].Members)
	winner, bestTurn := -1, n+1
	for i := range tt.Candidates {
		c := &tt.Candidates[i]
		if !c.Kept || best-c.Score > 1e-9 {
			continue
		}
		c.Tied = true
		turn := ((c.member-pointer-1)%n + n) % n
		if turn < bestTurn {
			winner, bestTurn = i, turn
		}
	}
	tt.Candidates[winner].Winner = true
	return tt, winner
}

// candidate runs every filter on m, whose live state is live, into c.
func (r *Router) candidate(c *Candidate, m *member, live *Live, req *Request, skills []string, loc Point, cosLoc float64) {
	e := m.Engineer
	// c is zero (a fresh slice): set only what is not.
	c.DistanceKM, c.Open, c.Today, c.member = -1, live.Open, live.Today, m.index
	fail := func(f Filter) { c.Failed |= 1 << f }

	if len(req.Exclude) > 0 {
		if _, ok := req.Exclude[e.ID]; ok {
			fail(FilterExcluded)
		}
	}
	status := e.Status
	if live.Status != "" {
		status = live.Status
	}
	if status != StatusOnDuty || !r.working(e.Calendar, req.Now) {
		fail(FilterOnDuty)
	}
	if req.Now.Before(live.SuspendedUntil) {
		fail(FilterNotSuspended)
		c.SuspendedUntil = live.SuspendedUntil.UnixNano()
	} else if status == StatusSuspended {
		fail(FilterNotSuspended)
	}
	have := e.Skills
	if live.Skills != nil {
		have = live.Skills
	}
	for _, s := range skills {
		if !slices.Contains(have, s) {
			fail(FilterSkills)
			break
		}
	}
	from, cosFrom := e.Home, m.cosHome
	if live.Location.Known() {
		from, cosFrom = live.Location, math.Cos(live.Location.Lat*degree)
	}
	if loc.Known() && from.Known() {
		c.DistanceKM = distanceKM(from, loc, cosFrom, cosLoc)
		if e.RadiusKM > 0 && c.DistanceKM > e.RadiusKM {
			fail(FilterRadius)
		}
	}
	if e.MaxOpen > 0 && live.Open >= e.MaxOpen {
		fail(FilterMaxOpen)
	}
	if e.MaxDaily > 0 && live.Today >= e.MaxDaily {
		fail(FilterMaxDaily)
	}
	c.Kept = c.Failed == 0
}

// score weighs a kept candidate. Each part is in 0..1; an unknown one is 0.5 (neutral).
func (r *Router) score(e *Engineer, live *Live, distanceKM float64) (float64, ScoreParts) {
	p := ScoreParts{Distance: 0.5, Capacity: 0.5, FTFR: 0.5}
	switch {
	case distanceKM < 0:
	case e.RadiusKM > 0:
		p.Distance = 1 - distanceKM/e.RadiusKM
	default:
		p.Distance = 1 / (1 + distanceKM/10) // 10 km away: 0.5
	}
	if e.MaxOpen > 0 {
		p.Capacity = float64(e.MaxOpen-live.Open) / float64(e.MaxOpen)
	} else {
		p.Capacity = 1 / float64(1+live.Open)
	}
	if live.FTFRKnown {
		p.FTFR = math.Min(1, math.Max(0, live.FTFR))
	}
	w := r.weights
	return w.Distance*p.Distance + w.Capacity*p.Capacity + w.FTFR*p.FTFR, p
}
