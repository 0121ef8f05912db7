package sla

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Target is what a clock measures.
type Target string

const (
	// Response runs from creation until the ticket is accepted (接单).
	Response Target = "response"
	// Resolution runs from creation until the ticket is resolved; a reopen resumes it.
	Resolution Target = "resolution"
	// NextUpdate runs from the customer writing again (a draft merged into the ticket) until
	// staff next acts on the ticket; each such wait is a round of its own.
	NextUpdate Target = "next_update"
)

// Targets lists the targets in the order they are reported.
var Targets = []Target{Response, Resolution}

// Tier is a step of escalation after a breach: After it (wall time), Notify is told, and,
// with Escalate, the ticket is escalated.
type Tier struct {
	Name  string
	After time.Duration
	// Notify are roles (assignee, team_lead, supervisor, regional_director) or people
	// (user:<id>).
	Notify   []string
	Escalate bool
	// Reroute routes the ticket again, without the engineer who has it.
	Reroute bool
	// Quiet names a calendar: the tier fires only in its working time, at the next opening
	// when it falls due outside it. Nil: at any hour.
	Quiet *Calendar
}

// Policy is an SLA policy: which tickets it applies to, on which calendar, the targets, the
// states that pause its clocks, the warning share and the tiers after a breach.
type Policy struct {
	ID string
	// When is an expr-lang condition over Env; empty: every ticket.
	When     string
	Calendar *Calendar
	// Goals by target; a target without a goal is not measured.
	Goals map[Target]time.Duration
	// PauseIn are the states in which the clocks stand still.
	PauseIn []string
	// WarnAt is the share of a goal after which a warning fires (0: none).
	WarnAt float64
	Tiers  []Tier

	when *vm.Program
}

// DefaultPauseIn are the states that pause clocks when a policy names none.
var DefaultPauseIn = []string{"awaiting_parts", "paused"}

// Env is a ticket as policy conditions see it.
type Env struct {
	Urgency  string   `expr:"urgency"`
	Category string   `expr:"category"`
	Tags     []string `expr:"tags"`
	// Source is the connector the ticket came through; Channel its type (mqtt, wechat…).
	Source   string      `expr:"source"`
	Channel  string      `expr:"channel"`
	Customer EnvCustomer `expr:"customer"`
	Team     string      `expr:"team"`
}

// EnvCustomer is the customer in Env.
type EnvCustomer struct {
	ID  string `expr:"id"`
	Org string `expr:"org"`
}

// Policies are the policies of a config, in order.
type Policies struct {
	list []*Policy
}

// NewPolicies checks and compiles ps; every problem is reported.
func NewPolicies(ps []Policy) (*Policies, []ConfigError) {
	var errs []ConfigError
	out := &Policies{}
	seen := map[string]bool{}
	for i := range ps {
		p := ps[i]
		at := fmt.Sprintf("policies[%d]", i)
		bad := func(key, format string, args ...any) {
			errs = append(errs, errorf(at+key, format, args...))
		}
		switch {
		case p.ID == "":
			bad(".id", "required: it is recorded with every SLA event")
		case seen[p.ID]:
			bad(".id", "%q is used twice", p.ID)
		}
		seen[p.ID] = true
		if p.Calendar == nil {
			bad(".calendar", "required: the calendar the clocks run on (24x7 for round the clock)")
		}
		if len(p.Goals) == 0 {
			bad("", "needs a target: response, resolution or next_update")
		}
		for t, g := range p.Goals {
			if g <= 0 {
				bad("."+string(t), "must be more than 0")
			}
		}
		if p.WarnAt < 0 || p.WarnAt >= 1 {
			bad(".warn_at", "is a share of the target: more than 0 and less than 1 (0.8 warns at 80%%), or 0 for no warning")
		}
		if p.PauseIn == nil {
			p.PauseIn = DefaultPauseIn
		}
		names := map[string]bool{}
		for j, tier := range p.Tiers {
			if tier.Name == "" || names[tier.Name] {
				bad(fmt.Sprintf(".tiers[%d].name", j), "required and unique within the policy (yellow, red, black…)")
			}
			names[tier.Name] = true
			if tier.After < 0 {
				bad(fmt.Sprintf(".tiers[%d].after", j), "must not be negative")
			}
			if j > 0 && tier.After < p.Tiers[j-1].After {
				bad(fmt.Sprintf(".tiers[%d].after", j), "tiers go in order: %s comes before %s", p.Tiers[j-1].After, tier.After)
			}
		}
		if strings.TrimSpace(p.When) != "" {
			prog, err := expr.Compile(p.When, expr.Env(&Env{}), expr.AsBool())
			if err != nil {
				msg, _, _ := strings.Cut(err.Error(), "\n")
				bad(".when", "%s", msg)
			}
			p.when = prog
		}
		out.list = append(out.list, &p)
	}
	return out, errs
}

// Choose returns the first policy whose condition holds for env, or nil.
func (ps *Policies) Choose(env Env) *Policy {
	if ps == nil {
		return nil
	}
	for _, p := range ps.list {
		if p.when == nil {
			return p
		}
		if out, err := vm.Run(p.when, &env); err == nil && out == true {
			return p
		}
	}
	return nil
}

// Get returns the policy id.
func (ps *Policies) Get(id string) *Policy {
	if ps == nil {
		return nil
	}
	for _, p := range ps.list {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Len is the number of policies.
func (ps *Policies) Len() int {
	if ps == nil {
		return 0
	}
	return len(ps.list)
}

// StateAt is a ticket entering a state at a time: a ticket's history, oldest first.
type StateAt struct {
	At    time.Time
	State string
}

// Status of a clock.
type Status string

const (
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusMet      Status = "met"      // stopped within the goal
	StatusBreached Status = "breached" // past the goal, stopped or not
)

// Clock is one target of a ticket, as of a moment.
type Clock struct {
	Target Target
	Goal   time.Duration
	Status Status
	// Due is when the goal is (or was) reached, counting only running working time: it
	// moves later while the clock is paused. Zero while paused before a breach (it depends
	// on when work resumes).
	Due time.Time
	// Elapsed is the working time the clock has run; Paused the working time it stood
	// still in a paused state; Remaining what is left of the goal (negative when breached).
	Elapsed   time.Duration
	Paused    time.Duration
	Remaining time.Duration
	// Round is when the wait measured began, for NextUpdate (each wait is a round); zero for
	// the others.
	Round time.Time
	// StoppedAt is when it stopped (accepted, resolved); zero while it runs.
	StoppedAt time.Time
	// BreachedAt is when it passed its goal; WarnAt when it passes WarnAt of it (zero when
	// it did not or will not).
	BreachedAt time.Time
	WarnAt     time.Time

	// runs are the stretches of wall time in which the clock ran (not paused, not
	// stopped), oldest first; the last has no end while it runs.
	runs []run
}

type run struct{ from, to time.Time } // to zero: still running

// after returns the instant d of the clock's running wall time after from; false when the
// clock stopped or paused before it (it is known again once the clock runs again).
func (c Clock) after(from time.Time, d time.Duration) (time.Time, bool) {
	for _, r := range c.runs {
		start := r.from
		if start.Before(from) {
			start = from
		}
		if r.to.IsZero() {
			return start.Add(d), true
		}
		if !r.to.After(start) {
			continue
		}
		if avail := r.to.Sub(start); d <= avail {
			return start.Add(d), true
		} else {
			d -= avail
		}
	}
	return time.Time{}, false
}

// stops reports whether entering state stops target's clock, and runs reports whether
// the clock runs in state (not stopped, not paused).
func (p *Policy) stops(target Target, state string) bool {
	switch state {
	case "resolved", "customer_confirmed", "closed", "rejected", "archived":
		return true
	case "accepted", "in_progress", "awaiting_parts", "paused":
		return target == Response
	}
	return false
}

func (p *Policy) pauses(state string) bool { return slices.Contains(p.PauseIn, state) }

// Clocks computes the clocks of a ticket with history (every state entered, oldest first;
// the first is its creation) as of now.
func (p *Policy) Clocks(history []StateAt, now time.Time) []Clock {
	var out []Clock
	for _, target := range Targets {
		goal, ok := p.Goals[target]
		if !ok {
			continue
		}
		out = append(out, p.clock(target, goal, history, now))
	}
	return out
}

func (p *Policy) clock(target Target, goal time.Duration, history []StateAt, now time.Time) Clock {
	c := Clock{Target: target, Goal: goal}
	cal := p.Calendar
	warn := time.Duration(float64(goal) * p.WarnAt)
	var elapsed time.Duration
	stopped, paused := false, false
	// The clock runs from the creation through every stretch of the history in a running
	// state; a target stopped once (response) stays stopped, a resolution stopped by a
	// resolve runs again after a reopen.
	for i, h := range history {
		if now.Before(h.At) {
			break
		}
		end := now
		if i+1 < len(history) && history[i+1].At.Before(now) {
			end = history[i+1].At
		}
		switch {
		case p.stops(target, h.State):
			if !stopped {
				c.StoppedAt = h.At
			}
			stopped = true
			if target == Response {
				// response is met once: the rest of the history does not count
				return p.finish(c, elapsed, goal, warn, now, true, false)
			}
			continue
		case p.pauses(h.State):
			stopped, paused = false, true
			c.Paused += cal.Elapsed(h.At, end)
			continue
		}
		stopped, paused = false, false
		c.StoppedAt = time.Time{}
		r := run{from: h.At, to: end}
		if i+1 == len(history) || !history[i+1].At.Before(now) {
			r.to = time.Time{} // it runs on
		}
		c.runs = append(c.runs, r)
		run := cal.Elapsed(h.At, end)
		if c.WarnAt.IsZero() && warn > 0 && elapsed < warn && elapsed+run >= warn {
			c.WarnAt, _ = cal.Add(h.At, warn-elapsed)
		}
		if c.BreachedAt.IsZero() && elapsed < goal && elapsed+run >= goal {
			c.BreachedAt, _ = cal.Add(h.At, goal-elapsed)
		}
		elapsed += run
	}
	return p.finish(c, elapsed, goal, warn, now, stopped, paused)
}

// finish sets the status, the remaining time and the due times of a clock that has run
// elapsed as of now.
func (p *Policy) finish(c Clock, elapsed, goal, warn time.Duration, now time.Time, stopped, paused bool) Clock {
	c.Elapsed, c.Remaining = elapsed, goal-elapsed
	switch {
	case elapsed > goal || (elapsed == goal && !stopped):
		c.Status = StatusBreached
		c.Due = c.BreachedAt
	case stopped:
		c.Status = StatusMet
		c.Due = time.Time{}
	case paused:
		c.Status = StatusPaused
	default:
		c.Status = StatusRunning
		c.Due, _ = p.Calendar.Add(now, goal-elapsed)
		c.BreachedAt = c.Due
		if warn > 0 && elapsed < warn {
			c.WarnAt, _ = p.Calendar.Add(now, warn-elapsed)
		}
	}
	if c.Status == StatusMet {
		c.BreachedAt = time.Time{}
	}
	if c.Status != StatusRunning && c.Status != StatusBreached && elapsed < warn {
		c.WarnAt = time.Time{}
	}
	return c
}

// UpdateClock is the NextUpdate clock of a customer waiting since since (zero: no one
// waits), as of now; false when the policy has no such target or no one waits.
func (p *Policy) UpdateClock(since, now time.Time) (Clock, bool) {
	goal, ok := p.Goals[NextUpdate]
	if !ok || since.IsZero() {
		return Clock{}, false
	}
	elapsed := p.Calendar.Elapsed(since, now)
	c := Clock{Target: NextUpdate, Goal: goal, Round: since, Elapsed: elapsed, Remaining: goal - elapsed, Status: StatusRunning,
		runs: []run{{from: since}}}
	c.BreachedAt, _ = p.Calendar.Add(since, goal)
	c.Due = c.BreachedAt
	if elapsed >= goal {
		c.Status = StatusBreached
	}
	if warn := time.Duration(float64(goal) * p.WarnAt); warn > 0 {
		c.WarnAt, _ = p.Calendar.Add(since, warn)
	}
	return c, true
}

// Mark is an SLA event that falls due: a warning, a breach or a tier of a target.
type Mark struct {
	// Key names it once per ticket: target/kind[/tier].
	Key    string
	Target Target
	Kind   string // warning, breach, tier
	Tier   *Tier
	// Due is when it falls due; FireAt when it may fire (later for a quiet tier due outside
	// its calendar's working time).
	Due, FireAt time.Time
}

// Marks are the SLA events of clocks as of now, earliest first: the warnings, breaches and
// tiers that have fallen due and those still to come (for clocks that run). Marks of
// stopped-in-time clocks are none; a paused clock's future ones are unknown until it runs.
func (p *Policy) Marks(clocks []Clock) []Mark {
	var out []Mark
	for _, c := range clocks {
		prefix := string(c.Target) + "/"
		if !c.Round.IsZero() {
			prefix = fmt.Sprintf("%s@%d/", c.Target, c.Round.Unix())
		}
		if !c.WarnAt.IsZero() {
			out = append(out, Mark{Key: prefix + "warning", Target: c.Target, Kind: "warning", Due: c.WarnAt, FireAt: c.WarnAt})
		}
		if c.BreachedAt.IsZero() || (c.Status == StatusPaused && c.Due.IsZero() && c.BreachedAt.IsZero()) {
			continue
		}
		out = append(out, Mark{Key: prefix + "breach", Target: c.Target, Kind: "breach", Due: c.BreachedAt, FireAt: c.BreachedAt})
		for i := range p.Tiers {
			tier := &p.Tiers[i]
			// A tier's offset counts only while the clock runs: a resolve (late) or a pause
			// after the breach holds the tiers still to come, a reopen or a resume goes on.
			due, ok := c.after(c.BreachedAt, tier.After)
			if !ok {
				continue
			}
			fire := due
			if tier.Quiet != nil {
				fire = tier.Quiet.Next(due)
			}
			out = append(out, Mark{Key: prefix + "tier/" + tier.Name, Target: c.Target, Kind: "tier", Tier: tier, Due: due, FireAt: fire})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FireAt.Before(out[j].FireAt) })
	return out
}

// Next returns t when it is working time, else the next opening (t itself when there is
// none within five years).
func (c *Calendar) Next(t time.Time) time.Time {
	if c.Always || c.Working(t) {
		return t
	}
	// The instant one nanosecond of work begins, less that nanosecond.
	if due, ok := c.Add(t, time.Nanosecond); ok {
		return due.Add(-time.Nanosecond)
	}
	return t
}
