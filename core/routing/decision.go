package routing

import (
	"encoding/json"
	"math"
)

// Decision is the answer to a Request and its trace: the rules tried, every team tried with
// every candidate's verdicts and score, and the winner or the failure.
type Decision struct {
	// Rules are the rules tried, in order, up to the one that matched.
	Rules []RuleVerdict `json:"rules"`
	// Rule is the matching rule's id; empty when none matched.
	Rule string `json:"rule,omitempty"`
	// Set and RequiredSkills come from the matching rule.
	Set            Set      `json:"set,omitzero"`
	RequiredSkills []string `json:"required_skills,omitempty"`
	// Teams are the teams tried: the rule's, then overflow teams.
	Teams []TeamTrace `json:"teams"`
	// Engineer and Team are the winner; empty on failure.
	Engineer string `json:"engineer,omitempty"`
	Team     string `json:"team,omitempty"`
	// Overflow: the winner is from an overflow team.
	Overflow bool `json:"overflow,omitempty"`
	// Pointer is the round-robin pointer to store for the winner's team.
	Pointer *Pointer `json:"-"`
	Failure *Failure `json:"failure,omitempty"`
}

// Pointer is a team's round-robin pointer: the member index of its last winner.
type Pointer struct {
	Team  string
	Index int
}

// RuleVerdict says whether a rule matched and, if not, why.
type RuleVerdict struct {
	Rule    string `json:"rule"`
	Matched bool   `json:"matched"`
	Why     string `json:"why,omitempty"`
}

// TeamTrace is one team tried.
type TeamTrace struct {
	Team       string      `json:"team"`
	Via        string      `json:"via"`
	Candidates []Candidate `json:"candidates"`
}

// FailureReason says why no one was assigned.
type FailureReason string

const (
	FailureNoRule      FailureReason = "no_rule"
	FailureNoCandidate FailureReason = "no_candidate"
	FailureAllOverCap  FailureReason = "all_over_cap"
)

// Failure is a decision with no winner: the ticket stays new and Lead is told.
type Failure struct {
	Reason FailureReason `json:"reason"`
	Detail string        `json:"detail"`
	Lead   string        `json:"lead,omitempty"`
}

// Filter is one candidate filter, in the order they are reported.
type Filter uint8

const (
	FilterExcluded     Filter = iota // declined this ticket or let its offer time out
	FilterOnDuty                     // status on_duty and in working time
	FilterNotSuspended               // no red-card suspension
	FilterSkills                     // has every required skill
	FilterRadius                     // the ticket is within the service radius
	FilterMaxOpen                    // open tickets < max_open
	FilterMaxDaily                   // today's tickets < max_daily
	numFilters
)

var filterNames = [numFilters]string{"excluded", "on_duty", "not_suspended", "skills", "radius", "max_open", "max_daily"}

func (f Filter) String() string { return filterNames[f] }

// Candidate is one engineer considered, with each filter's verdict and, when kept, the score.
type Candidate struct {
	Engineer string
	// Failed has bit f set for each Filter f the engineer failed.
	Failed   uint8
	Kept     bool
	Excluded string // why, when excluded
	// DistanceKM from the engineer to the ticket; -1 when either position is unknown.
	DistanceKM float64
	Open       int
	Today      int
	Score      float64
	Parts      ScoreParts
	Tied       bool // among the best scores
	Winner     bool

	member int // index in the team's members
}

// Passed reports whether the candidate passed filter f.
func (c Candidate) Passed(f Filter) bool { return c.Failed&(1<<f) == 0 }

// cappedOnly reports whether only cap filters kept the candidate out.
func (c Candidate) cappedOnly() bool {
	caps := uint8(1<<FilterMaxOpen | 1<<FilterMaxDaily)
	return c.Failed != 0 && c.Failed&^caps == 0
}

// ScoreParts are the parts of a score, each in 0..1.
type ScoreParts struct {
	Distance float64 `json:"distance"`
	Capacity float64 `json:"capacity"`
	FTFR     float64 `json:"ftfr"`
}

// MarshalJSON writes each filter's verdict by name.
func (c Candidate) MarshalJSON() ([]byte, error) {
	filters := make(map[string]bool, numFilters)
	for f := range numFilters {
		filters[f.String()] = c.Passed(f)
	}
	var distance *float64
	if c.DistanceKM >= 0 {
		d := math.Round(c.DistanceKM*1000) / 1000
		distance = &d
	}
	return json.Marshal(struct {
		Engineer   string          `json:"engineer"`
		Kept       bool            `json:"kept"`
		Filters    map[string]bool `json:"filters"`
		Excluded   string          `json:"excluded,omitempty"`
		DistanceKM *float64        `json:"distance_km"`
		Open       int             `json:"open"`
		Today      int             `json:"today"`
		Score      *float64        `json:"score,omitempty"`
		Parts      *ScoreParts     `json:"parts,omitempty"`
		Tied       bool            `json:"tied,omitempty"`
		Winner     bool            `json:"winner,omitempty"`
	}{c.Engineer, c.Kept, filters, c.Excluded, distance, c.Open, c.Today, keptOnly(c.Kept, c.Score), keptParts(c), c.Tied, c.Winner})
}

func keptOnly(kept bool, v float64) *float64 {
	if !kept {
		return nil
	}
	return &v
}

func keptParts(c Candidate) *ScoreParts {
	if !c.Kept {
		return nil
	}
	return &c.Parts
}
