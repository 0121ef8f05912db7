package routing

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
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
	Team string `json:"team"`
	Via  string `json:"via"`
	// Candidates are the members considered, in member order; Engineers[i] is the id of
	// Candidates[i]. (Ids live beside the candidates rather than in them so that a
	// candidate holds no pointer: a team of 1,000 is then one allocation the garbage
	// collector need not scan.)
	Candidates []Candidate `json:"candidates"`
	Engineers  []string    `json:"-"`
	// Excluded says why, for each candidate that failed FilterExcluded.
	Excluded map[string]string `json:"-"`
}

// Engineer is the id of candidate i.
func (tt *TeamTrace) Engineer(i int) string { return tt.Engineers[i] }

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
	FilterExcluded     Filter = iota // passed: did not decline this ticket nor let its offer time out
	FilterOnDuty                     // status on_duty and in working time
	FilterNotSuspended               // no red-card suspension
	FilterSkills                     // has every required skill
	FilterRadius                     // the ticket is within the service radius
	FilterMaxOpen                    // open tickets < max_open
	FilterMaxDaily                   // today's tickets < max_daily
	numFilters
)

var filterNames = [numFilters]string{"not_excluded", "on_duty", "not_suspended", "skills", "radius", "max_open", "max_daily"}

func (f Filter) String() string { return filterNames[f] }

// Candidate is one engineer considered, with each filter's verdict and, when kept, the score;
// its id is in TeamTrace.Engineers.
type Candidate struct {
	// Failed has bit f set for each Filter f the engineer failed.
	Failed uint8
	Kept   bool
	// DistanceKM from the engineer to the ticket; -1 when either position is unknown.
	DistanceKM float64
	Open       int
	Today      int
	Score      float64
	Parts      ScoreParts
	Tied       bool // among the best scores
	Winner     bool
	// SuspendedUntil is the end of a red card's suspension (Unix nanoseconds) that kept the
	// engineer out; 0 when none did. (Not a time.Time, which holds a pointer: see TeamTrace.)
	SuspendedUntil int64

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

// MarshalJSON writes the trace; see AppendJSON.
func (d Decision) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil, nil), nil }

// AppendJSON appends the trace as a JSON object to b, with extra (raw JSON members, like
// `"trigger":"created"`) at its end. It is written by hand: a trace lists every candidate
// with seven filter verdicts, and encoding/json made it a quarter of a routed intake's cost.
func (d *Decision) AppendJSON(b []byte, extra []byte) []byte {
	b = append(b, `{"rules":[`...)
	for i, v := range d.Rules {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = appendString(b, v.Rule)
		b = append(b, `,"matched":`...)
		b = strconv.AppendBool(b, v.Matched)
		if v.Why != "" {
			b = append(b, `,"why":`...)
			b = appendString(b, v.Why)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if d.Rule != "" {
		b = append(b, `,"rule":`...)
		b = appendString(b, d.Rule)
	}
	if d.Set.Urgency != "" || d.Set.Category != "" || len(d.Set.Tags) > 0 {
		b = append(b, `,"set":{`...)
		sep := ""
		if d.Set.Urgency != "" {
			b = append(b, `"urgency":`...)
			b = appendString(b, d.Set.Urgency)
			sep = ","
		}
		if d.Set.Category != "" {
			b = append(b, sep+`"category":`...)
			b = appendString(b, d.Set.Category)
			sep = ","
		}
		if len(d.Set.Tags) > 0 {
			b = append(b, sep+`"tags":`...)
			b = appendStrings(b, d.Set.Tags)
		}
		b = append(b, '}')
	}
	if len(d.RequiredSkills) > 0 {
		b = append(b, `,"required_skills":`...)
		b = appendStrings(b, d.RequiredSkills)
	}
	b = append(b, `,"teams":[`...)
	for i := range d.Teams {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.Teams[i].appendJSON(b)
	}
	b = append(b, ']')
	if d.Engineer != "" {
		b = append(b, `,"engineer":`...)
		b = appendString(b, d.Engineer)
	}
	if d.Team != "" {
		b = append(b, `,"team":`...)
		b = appendString(b, d.Team)
	}
	if d.Overflow {
		b = append(b, `,"overflow":true`...)
	}
	if f := d.Failure; f != nil {
		b = append(b, `,"failure":{"reason":`...)
		b = appendString(b, string(f.Reason))
		b = append(b, `,"detail":`...)
		b = appendString(b, f.Detail)
		if f.Lead != "" {
			b = append(b, `,"lead":`...)
			b = appendString(b, f.Lead)
		}
		b = append(b, '}')
	}
	if len(extra) > 0 {
		b = append(b, ',')
		b = append(b, extra...)
	}
	return append(b, '}')
}

// MarshalJSON writes the team with each candidate's filter verdicts by name.
func (tt TeamTrace) MarshalJSON() ([]byte, error) { return tt.appendJSON(nil), nil }

func (tt *TeamTrace) appendJSON(b []byte) []byte {
	b = append(b, `{"team":`...)
	b = appendString(b, tt.Team)
	b = append(b, `,"via":`...)
	b = appendString(b, tt.Via)
	b = append(b, `,"candidates":[`...)
	for j := range tt.Candidates {
		if j > 0 {
			b = append(b, ',')
		}
		b = tt.appendCandidateJSON(b, j)
	}
	return append(b, "]}"...)
}

func (tt *TeamTrace) appendCandidateJSON(b []byte, i int) []byte {
	c := &tt.Candidates[i]
	id := tt.Engineers[i]
	b = append(b, `{"engineer":`...)
	b = appendString(b, id)
	b = append(b, `,"kept":`...)
	b = strconv.AppendBool(b, c.Kept)
	b = append(b, `,"filters":{`...)
	for f := range numFilters {
		if f > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, filterNames[f]...)
		b = append(b, `":`...)
		b = strconv.AppendBool(b, c.Passed(f))
	}
	b = append(b, '}')
	if !c.Passed(FilterExcluded) {
		b = append(b, `,"excluded":`...)
		b = appendString(b, tt.Excluded[id])
	}
	if !c.Passed(FilterNotSuspended) {
		// Why: a red card (until when) or the status a supervisor set.
		b = append(b, `,"suspended":"`...)
		if c.SuspendedUntil != 0 {
			b = append(b, "red card until "...)
			b = time.Unix(0, c.SuspendedUntil).UTC().AppendFormat(b, time.RFC3339)
		} else {
			b = append(b, "status suspended"...)
		}
		b = append(b, '"')
	}
	b = append(b, `,"distance_km":`...)
	if c.DistanceKM >= 0 {
		b = strconv.AppendFloat(b, math.Round(c.DistanceKM*1000)/1000, 'f', -1, 64)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"open":`...)
	b = strconv.AppendInt(b, int64(c.Open), 10)
	b = append(b, `,"today":`...)
	b = strconv.AppendInt(b, int64(c.Today), 10)
	if c.Kept {
		b = append(b, `,"score":`...)
		b = appendFloat(b, c.Score)
		b = append(b, `,"parts":{"distance":`...)
		b = appendFloat(b, c.Parts.Distance)
		b = append(b, `,"capacity":`...)
		b = appendFloat(b, c.Parts.Capacity)
		b = append(b, `,"ftfr":`...)
		b = appendFloat(b, c.Parts.FTFR)
		b = append(b, '}')
	}
	if c.Tied {
		b = append(b, `,"tied":true`...)
	}
	if c.Winner {
		b = append(b, `,"winner":true`...)
	}
	return append(b, '}')
}

// appendFloat writes a score to 6 decimals: enough to tell candidates apart.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, math.Round(f*1e6)/1e6, 'f', -1, 64)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced, everything else as it is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
