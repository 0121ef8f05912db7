package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Dimensions a report may be broken down by (--by, ?by=).
const (
	ByTeam      = "team"
	ByEngineer  = "engineer"
	ByCategory  = "category"
	ByConnector = "connector"
	ByPolicy    = "policy"
)

// Dimensions lists them.
var Dimensions = []string{ByTeam, ByEngineer, ByCategory, ByConnector, ByPolicy}

// CheckBy returns an error naming the dimensions when by is none of them ("" is none).
func CheckBy(by string) error {
	if by == "" || slices.Contains(Dimensions, by) {
		return nil
	}
	return fmt.Errorf("%q is not a dimension; one of: team, engineer, category, connector, policy", by)
}

// Window is the period a report covers: [From, Until], Unix seconds, both included: Until is
// now, and what happened in this second has happened.
type Window struct {
	From, Until int64
}

// Contains reports whether at (not 0) is in w.
func (w Window) Contains(at int64) bool { return at != 0 && at >= w.From && at <= w.Until }

// RepeatWindow and ReopenWindow are the seven days after a first close in which a repeat or a
// reopen counts against it (ticket.RepeatWindow).
const (
	RepeatWindow = int64(7 * 24 * 3600)
	ReopenWindow = RepeatWindow
)

// Backlog age buckets: an open ticket's age is below the first bound it does not reach.
var backlogBuckets = []struct {
	name  string
	below int64 // seconds; 0: no bound
}{
	{"<1d", 24 * 3600}, {"1-3d", 3 * 24 * 3600}, {"3-7d", 7 * 24 * 3600}, {"7-30d", 30 * 24 * 3600}, {">30d", 0},
}

// Report is the KPI report; its JSON names are fixed (DESIGN.md §11, docs/KPIS.md).
type Report struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	By    string    `json:"by,omitempty"`
	Figures
	// Gini is the Gini coefficient of load per engineer, for each team.
	Gini map[string]float64 `json:"gini"`
	// Groups are the figures of each value of By, in the order of their keys; none without
	// By.
	Groups []Group `json:"groups,omitempty"`
}

// Group is the figures of one value of the dimension a report is broken down by.
type Group struct {
	Key string `json:"key"`
	Figures
}

// Figures are the KPIs of a set of tickets (all of them, or one group's).
type Figures struct {
	FirstResponse   Durations    `json:"first_response"`
	Resolution      Resolution   `json:"resolution"`
	SLAAttainment   []SLATarget  `json:"sla_attainment"`
	FTFR            Rate         `json:"ftfr"`
	TrueClosureRate Rate         `json:"true_closure_rate"`
	ReopenRate      Rate         `json:"reopen_rate"`
	DisputeRate     Rate         `json:"dispute_rate"`
	ForceClosed     int          `json:"force_closed"`
	RepeatRate      Rate         `json:"repeat_rate"`
	Backlog         Backlog      `json:"backlog"`
	CSAT            CSAT         `json:"csat"`
	LowScoreCauses  []CauseCount `json:"low_score_causes"`
}

// Durations summarises durations in seconds: median and the 90th percentile (nearest rank).
type Durations struct {
	Count  int     `json:"count"`
	Median float64 `json:"median_seconds"`
	P90    float64 `json:"p90_seconds"`
}

// Resolution is Durations with the mean: MTTR.
type Resolution struct {
	Durations
	MTTR float64 `json:"mttr_seconds"`
}

// Rate is Count of Of; Rate is null when Of is 0.
type Rate struct {
	Count int      `json:"count"`
	Of    int      `json:"of"`
	Rate  *float64 `json:"rate"`
}

// SLATarget is the attainment of one target of one policy.
type SLATarget struct {
	Policy string `json:"policy"`
	Target string `json:"target"`
	Rate
}

// Backlog is the open tickets at the end of the period by age, and at the end of each day.
type Backlog struct {
	Open  int           `json:"open"`
	ByAge []BucketCount `json:"by_age"`
	Trend []TrendPoint  `json:"trend"`
}

// BucketCount is how many open tickets are of an age bucket.
type BucketCount struct {
	Bucket string `json:"bucket"`
	Count  int    `json:"count"`
}

// TrendPoint is how many tickets were open at At.
type TrendPoint struct {
	At   time.Time `json:"at"`
	Open int       `json:"open"`
}

// CSAT is the customers' answers: how many, and per question the mean and the share of 4 or 5.
type CSAT struct {
	Count           int      `json:"count"`
	Timeliness      Question `json:"timeliness"`
	Professionalism Question `json:"professionalism"`
}

// Question is one survey question's mean and share of good answers (GoodScore or more);
// both null without answers.
type Question struct {
	Mean      *float64 `json:"mean"`
	ShareGood *float64 `json:"share_4_or_more"`
}

// CauseCount is a root cause and how many low ratings rated a resolution of it.
type CauseCount struct {
	RootCause string `json:"root_cause"`
	Count     int    `json:"count"`
}

// Accumulator gathers facts and ratings one at a time (the store streams them) and makes the
// report. It keeps only counts and the durations the percentiles need.
type Accumulator struct {
	w     Window
	by    string
	loc   *time.Location
	all   *tally
	group map[string]*tally
	// load counts tickets created in the window by team and engineer; members are engineers
	// known to be in a team though they got none.
	load    map[string]map[string]int
	members map[string][]string
	// trend: the points are Until − k days, k = days…0.
	days int
}

// tally is the running counts of one set of tickets.
type tally struct {
	firstResponse, resolution []int64
	closed, ftfr, trueClosure int
	reopened, disputed, force int
	created, repeats          int
	sla                       map[[2]string]*[2]int // policy, target → met, of
	open                      int
	buckets                   []int
	trend                     []int // a difference array over the points
	csat                      int
	timeliness, prof          int
	goodT, goodP              int
	causes                    map[string]int
}

// NewAccumulator starts a report over w broken down by by ("" for none). members are the
// engineers of each team (for the Gini: an engineer with no tickets counts as 0); nil is
// none known. loc is the zone the times are shown in.
func NewAccumulator(w Window, by string, members map[string][]string, loc *time.Location) *Accumulator {
	if loc == nil {
		loc = time.UTC
	}
	days := int((w.Until - w.From + 86399) / 86400)
	a := &Accumulator{w: w, by: by, loc: loc, group: map[string]*tally{}, load: map[string]map[string]int{}, members: members, days: days}
	a.all = a.newTally()
	return a
}

func (a *Accumulator) newTally() *tally {
	return &tally{sla: map[[2]string]*[2]int{}, buckets: make([]int, len(backlogBuckets)), trend: make([]int, a.days+2), causes: map[string]int{}}
}

func (a *Accumulator) tallyOf(key string) *tally {
	g := a.group[key]
	if g == nil {
		g = a.newTally()
		a.group[key] = g
	}
	return g
}

func dimension(by, team, engineer, category, connector, policy string) string {
	switch by {
	case ByTeam:
		return team
	case ByEngineer:
		return engineer
	case ByCategory:
		return category
	case ByConnector:
		return connector
	case ByPolicy:
		return policy
	}
	return ""
}

// AddFacts counts one ticket. Tickets that touch nothing in the window may be passed; they
// count for nothing.
func (a *Accumulator) AddFacts(f *Facts) {
	if f.CreatedAt > a.w.Until {
		return
	}
	a.addFacts(a.all, f)
	if a.by != "" {
		a.addFacts(a.tallyOf(dimension(a.by, f.Team, f.Engineer, f.Category, f.Connector, f.Policy)), f)
	}
	if a.w.Contains(f.CreatedAt) && f.Team != "" && f.Engineer != "" {
		m := a.load[f.Team]
		if m == nil {
			m = map[string]int{}
			a.load[f.Team] = m
		}
		m[f.Engineer]++
	}
}

func (a *Accumulator) addFacts(t *tally, f *Facts) {
	w := a.w
	if w.Contains(f.FirstAcceptAt) {
		t.firstResponse = append(t.firstResponse, f.FirstAcceptAt-f.CreatedAt)
	}
	if w.Contains(f.CreatedAt) {
		t.created++
		if f.RepeatOf != "" {
			t.repeats++
		}
	}
	if w.Contains(f.FirstClosedAt) {
		t.closed++
		if f.ResolvedAt != 0 {
			t.resolution = append(t.resolution, f.ResolvedAt-f.CreatedAt)
		}
		repeated := f.RepeatedAt != 0 && f.RepeatedAt-f.FirstClosedAt <= RepeatWindow
		reopened := f.FirstReopenAfterClose != 0 && f.FirstReopenAfterClose-f.FirstClosedAt <= ReopenWindow
		if !repeated {
			t.ftfr++
		}
		if !repeated && !reopened && !f.ForceClosed && f.ClosedConfirm == ConfirmCustomer {
			t.trueClosure++
		}
		if f.Reopens > 0 {
			t.reopened++
		}
		if f.Disputes > 0 {
			t.disputed++
		}
		if f.ForceClosed {
			t.force++
		}
		if f.Policy != "" {
			for _, target := range []struct {
				name     string
				breached bool
			}{{"response", f.ResponseBreached}, {"resolution", f.ResolutionBreached}} {
				k := [2]string{f.Policy, target.name}
				c := t.sla[k]
				if c == nil {
					c = &[2]int{}
					t.sla[k] = c
				}
				if !target.breached {
					c[0]++
				}
				c[1]++
			}
		}
	}
	// The backlog: open at Until, and open at each point of the trend.
	if f.EndedAt == 0 || f.EndedAt > w.Until {
		t.open++
		age := w.Until - f.CreatedAt
		for i, b := range backlogBuckets {
			if b.below == 0 || age < b.below {
				t.buckets[i]++
				break
			}
		}
	}
	p0 := w.Until - int64(a.days)*86400
	first := ceilDiv(f.CreatedAt-p0, 86400) // the first point at or after the creation
	end := int64(a.days) + 1                // the first point at or after the end
	if f.EndedAt != 0 {
		end = ceilDiv(f.EndedAt-p0, 86400)
	}
	first, end = max(first, 0), min(end, int64(a.days)+1)
	if first < end {
		t.trend[first]++
		t.trend[end]--
	}
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

// AddRating counts one survey answer; answers outside the window count for nothing.
func (a *Accumulator) AddRating(r *Rating) {
	if !a.w.Contains(r.At) {
		return
	}
	a.all.addRating(r)
	if a.by != "" {
		a.tallyOf(dimension(a.by, r.Team, r.Engineer, r.Category, r.Connector, r.Policy)).addRating(r)
	}
}

func (t *tally) addRating(r *Rating) {
	t.csat++
	t.timeliness += r.Timeliness
	t.prof += r.Professionalism
	if r.Timeliness >= GoodScore {
		t.goodT++
	}
	if r.Professionalism >= GoodScore {
		t.goodP++
	}
	if r.Low() {
		t.causes[r.RootCause]++
	}
}

// Report makes the report. The accumulator must not be used after.
func (a *Accumulator) Report() Report {
	rep := Report{Since: time.Unix(a.w.From, 0).In(a.loc), Until: time.Unix(a.w.Until, 0).In(a.loc), By: a.by,
		Figures: a.figures(a.all), Gini: map[string]float64{}}
	teams := map[string]map[string]int{}
	for team, members := range a.members {
		teams[team] = map[string]int{}
		for _, m := range members {
			teams[team][m] = 0
		}
	}
	for team, m := range a.load {
		if teams[team] == nil {
			teams[team] = map[string]int{}
		}
		for eng, n := range m {
			teams[team][eng] = n
		}
	}
	for team, m := range teams {
		xs := make([]float64, 0, len(m))
		for _, n := range m {
			xs = append(xs, float64(n))
		}
		rep.Gini[team] = Gini(xs)
	}
	for _, key := range slices.Sorted(mapKeys(a.group)) {
		rep.Groups = append(rep.Groups, Group{Key: key, Figures: a.figures(a.group[key])})
	}
	return rep
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (a *Accumulator) figures(t *tally) Figures {
	f := Figures{
		FirstResponse:   durations(t.firstResponse),
		Resolution:      Resolution{Durations: durations(t.resolution), MTTR: mean(t.resolution)},
		SLAAttainment:   []SLATarget{},
		FTFR:            rate(t.ftfr, t.closed),
		TrueClosureRate: rate(t.trueClosure, t.closed),
		ReopenRate:      rate(t.reopened, t.closed),
		DisputeRate:     rate(t.disputed, t.closed),
		ForceClosed:     t.force,
		RepeatRate:      rate(t.repeats, t.created),
		Backlog:         Backlog{Open: t.open, ByAge: make([]BucketCount, len(backlogBuckets)), Trend: make([]TrendPoint, a.days+1)},
		CSAT:            CSAT{Count: t.csat, Timeliness: question(t.timeliness, t.goodT, t.csat), Professionalism: question(t.prof, t.goodP, t.csat)},
		LowScoreCauses:  []CauseCount{},
	}
	for k, c := range t.sla {
		f.SLAAttainment = append(f.SLAAttainment, SLATarget{Policy: k[0], Target: k[1], Rate: rate(c[0], c[1])})
	}
	slices.SortFunc(f.SLAAttainment, func(x, y SLATarget) int {
		return cmp.Or(cmp.Compare(x.Policy, y.Policy), cmp.Compare(x.Target, y.Target))
	})
	for i, b := range backlogBuckets {
		f.Backlog.ByAge[i] = BucketCount{Bucket: b.name, Count: t.buckets[i]}
	}
	open := 0
	for k := 0; k <= a.days; k++ {
		open += t.trend[k]
		at := a.w.Until - int64(a.days-k)*86400
		f.Backlog.Trend[k] = TrendPoint{At: time.Unix(at, 0).In(a.loc), Open: open}
	}
	for cause, n := range t.causes {
		f.LowScoreCauses = append(f.LowScoreCauses, CauseCount{RootCause: cause, Count: n})
	}
	slices.SortFunc(f.LowScoreCauses, func(x, y CauseCount) int {
		return cmp.Or(y.Count-x.Count, cmp.Compare(x.RootCause, y.RootCause))
	})
	f.LowScoreCauses = f.LowScoreCauses[:min(TopCauses, len(f.LowScoreCauses))]
	return f
}

// TopCauses is how many root causes low_score_causes lists.
const TopCauses = 5

func rate(n, of int) Rate {
	r := Rate{Count: n, Of: of}
	if of > 0 {
		v := float64(n) / float64(of)
		r.Rate = &v
	}
	return r
}

func question(sum, good, n int) Question {
	if n == 0 {
		return Question{}
	}
	m, s := float64(sum)/float64(n), float64(good)/float64(n)
	return Question{Mean: &m, ShareGood: &s}
}

// durations sorts xs and summarises it.
func durations(xs []int64) Durations {
	slices.Sort(xs)
	return Durations{Count: len(xs), Median: Median(xs), P90: Percentile(xs, 0.9)}
}

// Median is the middle of sorted xs, or the mean of the two middle ones; 0 for none.
func Median(sorted []int64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return float64(sorted[n/2])
	}
	return (float64(sorted[n/2-1]) + float64(sorted[n/2])) / 2
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 1) of sorted xs: the smallest value
// at least a share p of the values are at or below; 0 for none.
func Percentile(sorted []int64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(n) - 1e-9))
	return float64(sorted[max(rank, 1)-1])
}

func mean(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs))
}

// Gini is the Gini coefficient of xs (none negative): the mean absolute difference of every
// pair over twice the mean. 0 is an even spread, (n−1)/n everything on one; 0 for no values
// or all zero.
func Gini(xs []float64) float64 {
	n := float64(len(xs))
	if n == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(xs))
	var sum, weighted float64
	for i, x := range sorted {
		sum += x
		weighted += float64(i+1) * x
	}
	if sum == 0 {
		return 0
	}
	// With values sorted ascending: G = 2·Σ i·x_i / (n·Σ x) − (n+1)/n.
	return 2*weighted/(n*sum) - (n+1)/n
}

// Earliest is the earliest time a ticket's facts can matter to the report: a ticket whose
// every time (creation, first accept, first close, end) is before it, and which is not open,
// counts for nothing, and the store need not send it.
func (a *Accumulator) Earliest() int64 { return a.w.Until - int64(a.days)*86400 }

// AddRatingsOf adds the survey answers b counted to a's: a store can read the answers into an
// accumulator of their own while a reads the facts, on another core. b must have been made
// with the same window and dimension, and only fed answers.
func (a *Accumulator) AddRatingsOf(b *Accumulator) {
	a.all.addRatingsOf(b.all)
	for key, g := range b.group {
		a.tallyOf(key).addRatingsOf(g)
	}
}

func (t *tally) addRatingsOf(b *tally) {
	t.csat += b.csat
	t.timeliness += b.timeliness
	t.prof += b.prof
	t.goodT += b.goodT
	t.goodP += b.goodP
	for cause, n := range b.causes {
		t.causes[cause] += n
	}
}
