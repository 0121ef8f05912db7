package engine_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/report"
	"gongdan/core/sla"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

// The KPI report's test: a month of generated tickets goes through the real engine on a fake
// clock, and every KPI of the report must equal the answer the test works out on its own
// from its plan (what it did to each ticket, and when), without the report package.

const kpiSlot = 10 * time.Minute // every planned time is on a slot

// kpiStep is one planned action on one ticket.
type kpiStep struct {
	at     time.Time
	action ticket.Action
	actor  ticket.Actor
	reason string
	data   any
	// for the test's own answers
	to       ticket.State
	engineer string // the assignee after the step
}

// kpiPlan is what the test does to one ticket, and what it expects of it.
type kpiPlan struct {
	created  time.Time
	customer string
	category string
	urgency  draft.Urgency
	conn     string
	team     string
	repeats  *kpiPlan // the plan it repeats, nil for none; linked only within 7 days of its close
	steps    []kpiStep
	id       string
}

var kpiCauses = []string{"接线松动", "传感器老化", "固件缺陷", "操作不当", "备件损坏", "电源波动", "密封圈老化"}

// kpiTeams: team → engineers; load is drawn unevenly, so the Gini is not 0.
var kpiTeams = map[string][]string{
	"suzhou-a": {"eng-a1", "eng-a2", "eng-a3", "eng-a4"},
	"suzhou-b": {"eng-b1", "eng-b2", "eng-b3"},
	"wuxi":     {"eng-w1", "eng-w2"},
}

func kpiPlans(start, end time.Time, n int, rnd *rand.Rand) []*kpiPlan {
	teams := []string{"suzhou-a", "suzhou-b", "wuxi"}
	dispatcher := ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	supervisor := ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
	system := ticket.SystemActor
	slots := func(lo, hi int) time.Duration { return time.Duration(lo+rnd.IntN(hi-lo+1)) * kpiSlot }
	yes, no := true, false
	var plans []*kpiPlan
	var life func(p *kpiPlan, mayRepeat bool)
	life = func(p *kpiPlan, mayRepeat bool) {
		at := p.created
		customer := ticket.Actor{ID: p.customer, Role: ticket.RoleCustomer}
		team := p.team
		members := kpiTeams[team]
		// Uneven load: the first engineer of a team gets about half.
		engineer := members[0]
		if rnd.IntN(2) == 0 {
			engineer = members[rnd.IntN(len(members))]
		}
		step := func(after time.Duration, action ticket.Action, actor ticket.Actor, reason string, data any, to ticket.State) {
			at = at.Add(after)
			p.steps = append(p.steps, kpiStep{at: at, action: action, actor: actor, reason: reason, data: data, to: to, engineer: engineer})
		}
		eng := func() ticket.Actor { return ticket.Actor{ID: engineer, Role: ticket.RoleEngineer} }
		if rnd.IntN(100) < 3 {
			return // never assigned: stays new
		}
		assignAfter := slots(1, 3)
		step(assignAfter, ticket.ActionAssign, dispatcher, "", ticket.AssignData{Assignee: engineer, Team: team}, ticket.StateAssigned)
		acceptAfter := slots(1, 8)
		if assignAfter+acceptAfter == 30*time.Minute { // never on the response goal itself
			acceptAfter += kpiSlot
		}
		step(acceptAfter, ticket.ActionAccept, eng(), "", nil, ticket.StateAccepted)
		step(slots(1, 3), ticket.ActionStart, eng(), "", nil, ticket.StateInProgress)
		resolve := func(lo, hi int) {
			for {
				after := slots(lo, hi)
				if at.Add(after).Sub(p.created) != 4*time.Hour { // never on the resolution goal itself
					step(after, ticket.ActionResolve, eng(), "", ticket.ResolveData{RootCause: kpiCauses[min(rnd.IntN(10), len(kpiCauses)-1)]}, ticket.StateResolved)
					return
				}
			}
		}
		resolve(2, 60)
		orange := p.urgency == draft.UrgencyOrange
		rating := func(lo int) ticket.ConfirmData {
			return ticket.ConfirmData{Solved: &yes, Timeliness: lo + rnd.IntN(6-lo), Professionalism: lo + rnd.IntN(6-lo)}
		}
		outcome := rnd.IntN(100)
		switch {
		case outcome < 50: // the customer confirms
			step(slots(1, 200), ticket.ActionConfirm, customer, "", rating(1), ticket.StateCustomerConfirmed)
			step(slots(1, 100), ticket.ActionClose, dispatcher, "", nil, ticket.StateClosed)
		case outcome < 68: // no one answers: confirmed automatically after 72 h
			step(72*time.Hour, ticket.ActionConfirm, system, "", ticket.ConfirmData{Solved: &yes, Auto: true}, ticket.StateCustomerConfirmed)
			step(slots(1, 30), ticket.ActionClose, dispatcher, "", nil, ticket.StateClosed)
		case outcome < 76 && !orange: // disputed, sometimes handed to another engineer, fixed again
			step(slots(1, 100), ticket.ActionConfirm, customer, "",
				ticket.ConfirmData{Solved: &no, Timeliness: 1 + rnd.IntN(2), Professionalism: 1 + rnd.IntN(3)}, ticket.StateInProgress)
			if rnd.IntN(2) == 0 && len(members) > 1 {
				engineer = members[(slices.Index(members, engineer)+1)%len(members)]
				step(slots(1, 6), ticket.ActionAssign, dispatcher, "", ticket.AssignData{Assignee: engineer, Team: team}, ticket.StateAssigned)
				step(slots(1, 6), ticket.ActionAccept, eng(), "", nil, ticket.StateAccepted)
				step(slots(1, 3), ticket.ActionStart, eng(), "", nil, ticket.StateInProgress)
			}
			resolve(2, 60)
			step(slots(1, 200), ticket.ActionConfirm, customer, "", rating(3), ticket.StateCustomerConfirmed)
			step(slots(1, 100), ticket.ActionClose, dispatcher, "", nil, ticket.StateClosed)
		case outcome < 82: // force-closed without a confirmation
			step(slots(1, 100), ticket.ActionForceClose, supervisor, "duplicate of a site visit", nil, ticket.StateClosed)
		case outcome < 88 && !orange: // closed, then reopened (within 7 days, or after)
			step(slots(1, 200), ticket.ActionConfirm, customer, "", rating(2), ticket.StateCustomerConfirmed)
			step(slots(1, 100), ticket.ActionClose, dispatcher, "", nil, ticket.StateClosed)
			step(slots(6, 1300), ticket.ActionReopen, dispatcher, "the fault came back", nil, ticket.StateInProgress)
			resolve(2, 60)
			step(slots(1, 200), ticket.ActionConfirm, customer, "", rating(1), ticket.StateCustomerConfirmed)
			step(slots(1, 100), ticket.ActionClose, dispatcher, "", nil, ticket.StateClosed)
			mayRepeat = false
		default: // still waiting for the customer at the end
		}
		if mayRepeat && rnd.IntN(100) < 8 && p.steps[len(p.steps)-1].to == ticket.StateClosed {
			// The same customer and category again: a repeat within 7 days, or a new request
			// after them.
			closed := p.steps[len(p.steps)-1].at
			after := slots(6, 6*144)
			if rnd.IntN(4) == 0 {
				after = 7*24*time.Hour + slots(6, 2*144)
			}
			q := &kpiPlan{created: closed.Add(after), customer: p.customer, category: p.category, urgency: draft.UrgencyBlue,
				conn: p.conn, team: teams[rnd.IntN(len(teams))], repeats: p}
			plans = append(plans, q)
			life(q, false)
		}
	}
	// n tickets created in the month: repeats may come after it.
	inMonth := 0
	for i := 0; inMonth < n; i++ {
		before := len(plans)
		urgency := draft.UrgencyBlue
		if rnd.IntN(10) < 3 {
			urgency = draft.UrgencyOrange
		}
		p := &kpiPlan{created: start.Add(slots(0, int(28*24*time.Hour/kpiSlot))), customer: fmt.Sprintf("cust-%05d", i),
			category: []string{"急停故障", "设备过热", "液压泄漏", "门锁故障"}[rnd.IntN(4)], urgency: urgency,
			conn: []string{"hooks", "gzh", "hotline"}[rnd.IntN(3)], team: teams[rnd.IntN(len(teams))]}
		plans = append(plans, p)
		life(p, true)
		for _, q := range plans[before:] {
			if q.created.Before(end) {
				inMonth++
			}
		}
	}
	// What happens after the end of the month does not happen.
	for _, p := range plans {
		p.steps = slices.DeleteFunc(p.steps, func(s kpiStep) bool { return !s.at.Before(end) })
	}
	return slices.DeleteFunc(plans, func(p *kpiPlan) bool { return !p.created.Before(end) })
}

func TestKPIReportOfAGeneratedMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of 10,000 tickets through the engine")
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	end := start.Add(30 * 24 * time.Hour)
	plans := kpiPlans(start, end, 10_000, rand.New(rand.NewPCG(21, 2026)))

	always := &sla.Calendar{Name: "24x7", Location: loc, Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", When: `urgency == "orange"`, Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}}})
	require.Empty(t, errs)
	clk := testkit.NewClock(start)
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	// The auto-confirms come from the confirm.timeout timer (72 h, no reminders), fired at
	// the slot the plan has them at.
	f := enginekit.New(t, engine.Options{Now: clk.Now, Location: loc, SLA: &engine.SLAOptions{Policies: ps},
		Closure: &engine.ClosureOptions{Key: key, TTL: 180 * 24 * time.Hour, ConfirmTimeout: 72 * time.Hour}})
	ctx := context.Background()

	// Run the plans slot by slot: at each slot the due SLA timers fire first, then every
	// action of the slot at once (the committer takes them in a few transactions).
	type job struct {
		plan *kpiPlan
		step int // -1: create
	}
	bySlot := map[time.Time][]job{}
	for _, p := range plans {
		bySlot[p.created] = append(bySlot[p.created], job{p, -1})
		for i, s := range p.steps {
			bySlot[s.at] = append(bySlot[s.at], job{p, i})
		}
	}
	times := slices.SortedFunc(func(yield func(time.Time) bool) {
		for at := range bySlot {
			if !yield(at) {
				return
			}
		}
	}, func(a, b time.Time) int { return a.Compare(b) })
	for _, at := range times {
		clk.Set(at)
		f.Engine.FireDue()
		jobs := bySlot[at]
		errs := make([]error, len(jobs))
		var wg sync.WaitGroup
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := j.plan
				if j.step < 0 {
					tk, _, err := f.Engine.Create(ctx, engine.CreateRequest{Actor: agent, Draft: draft.Draft{
						Source: draft.Source{Connector: p.conn, Type: "webhook"}, Title: "设备故障 " + p.customer,
						Category: p.category, Urgency: p.urgency, Customer: draft.Customer{ID: p.customer}}})
					p.id, errs[i] = tk.ID, err
					return
				}
				s := p.steps[j.step]
				if s.action == ticket.ActionConfirm && s.actor.Role == ticket.RoleSystem {
					// The timer confirmed it as the slot began (FireDue above); no one may send it.
					tk, err := f.Store.Ticket(ctx, p.id)
					if err == nil && (tk.State != s.to || tk.Feedback == nil || !tk.Feedback.Auto) {
						err = fmt.Errorf("%s at its confirm.timeout is %s, want an auto-confirmed %s", p.id, tk.State, s.to)
					}
					errs[i] = err
					return
				}
				var data json.RawMessage
				if s.data != nil {
					data, _ = json.Marshal(s.data)
				}
				tk, err := f.Engine.Do(ctx, ticket.Command{TicketID: p.id, Action: s.action, Actor: s.actor, Reason: s.reason, Data: data})
				if err == nil && tk.State != s.to {
					err = fmt.Errorf("%s after %s is %s, want %s", p.id, s.action, tk.State, s.to)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "%s at %s", jobs[i].plan.customer, at)
		}
	}
	clk.Set(end)
	f.Engine.FireDue()

	// The repeats the engine linked are the ones planned within 7 days of the close.
	for _, p := range plans {
		tk, err := f.Store.Ticket(ctx, p.id)
		require.NoError(t, err)
		want := ""
		if repeatsWithin(p) {
			want = p.repeats.id
		}
		require.Equal(t, want, tk.RepeatOf, "repeat_of of %s", p.id)
	}

	want := kpiAnswers(plans, start, end)
	got, err := f.Engine.KPIReport(ctx, start, "")
	require.NoError(t, err)
	checkFigures(t, "all", want.all, got.Figures)
	require.Equal(t, len(want.gini), len(got.Gini), "gini: %v", got.Gini)
	for team, g := range want.gini {
		assert.InDelta(t, g, got.Gini[team], 1e-9, "gini of %s", team)
	}
	// The plan exercises every case: the answers are not trivially 0 or 1.
	w := want.all
	require.Len(t, w.SLAAttainment, 2)
	for _, s := range w.SLAAttainment {
		require.True(t, s.Count > 0 && s.Count < s.Of, "%s met %d of %d", s.Target, s.Count, s.Of)
	}
	for name, r := range map[string]report.Rate{"ftfr": w.FTFR, "true_closure_rate": w.TrueClosureRate, "reopen_rate": w.ReopenRate,
		"dispute_rate": w.DisputeRate, "repeat_rate": w.RepeatRate} {
		require.True(t, r.Count > 0 && r.Count < r.Of, "%s: %d of %d", name, r.Count, r.Of)
	}
	require.Less(t, w.TrueClosureRate.Count, w.FTFR.Count)
	require.NotZero(t, w.ForceClosed)
	require.NotZero(t, w.Backlog.Open)
	require.NotZero(t, w.CSAT.Count)
	require.Len(t, w.LowScoreCauses, 5)
	t.Logf("%d tickets; closed %d, ftfr %d, true closure %d, reopened %d, disputed %d, force-closed %d, repeats %d, open %d, answers %d",
		len(plans), w.FTFR.Of, w.FTFR.Count, w.TrueClosureRate.Count, w.ReopenRate.Count, w.DisputeRate.Count, w.ForceClosed,
		w.RepeatRate.Count, w.Backlog.Open, w.CSAT.Count)

	// Per engineer: a survey answer is the engineer's who held the ticket when it was given.
	byEngineer, err := f.Engine.KPIReport(ctx, start, report.ByEngineer)
	require.NoError(t, err)
	gotCSAT := map[string]report.CSAT{}
	for _, g := range byEngineer.Groups {
		if g.CSAT.Count > 0 { // the unassigned tickets' group has no answers
			gotCSAT[g.Key] = g.CSAT
		}
	}
	assert.Equal(t, want.csatByEngineer, gotCSAT, "csat by engineer")

	// The facts the engine kept event by event are the facts rebuilt from the events.
	kept := scanFacts(t, f)
	n, err := engine.RebuildKPIs(ctx, f.Store, func(tk ticket.Ticket) string {
		if p := ps.Choose(engine.SLAEnv(tk)); p != nil {
			return p.ID
		}
		return ""
	})
	require.NoError(t, err)
	assert.Equal(t, len(plans), n)
	assert.Equal(t, kept, scanFacts(t, f), "facts kept by the engine and facts rebuilt")
	again, err := f.Engine.KPIReport(ctx, start, "")
	require.NoError(t, err)
	checkFigures(t, "rebuilt", want.all, again.Figures)
}

// keptFacts are the facts and survey answers the store keeps, as multisets.
type keptFacts struct {
	facts   map[report.Facts]int
	ratings map[report.Rating]int
}

func scanFacts(t *testing.T, f *enginekit.Fixture) keptFacts {
	t.Helper()
	k := keptFacts{facts: map[report.Facts]int{}, ratings: map[report.Rating]int{}}
	require.NoError(t, f.Store.ScanKPIFacts(context.Background(), 0, func(f *report.Facts) { k.facts[*f]++ }))
	require.NoError(t, f.Store.ScanKPIRatings(context.Background(), 0, func(r *report.Rating) { k.ratings[*r]++ }))
	return k
}

// repeatsWithin reports whether p repeats a ticket closed at most 7 days before p came.
func repeatsWithin(p *kpiPlan) bool {
	if p.repeats == nil {
		return false
	}
	steps := p.repeats.steps
	return p.created.Sub(steps[len(steps)-1].at) <= ticket.RepeatWindow
}

// checkFigures compares the report's figures with the test's, floats to 1e-9.
func checkFigures(t *testing.T, scope string, want, got report.Figures) {
	t.Helper()
	assert.Equal(t, want.FirstResponse, got.FirstResponse, "%s: first_response", scope)
	assert.Equal(t, want.Resolution.Durations, got.Resolution.Durations, "%s: resolution", scope)
	assert.InDelta(t, want.Resolution.MTTR, got.Resolution.MTTR, 1e-6, "%s: mttr", scope)
	assert.Equal(t, want.SLAAttainment, got.SLAAttainment, "%s: sla_attainment", scope)
	assert.Equal(t, want.FTFR, got.FTFR, "%s: ftfr", scope)
	assert.Equal(t, want.TrueClosureRate, got.TrueClosureRate, "%s: true_closure_rate", scope)
	assert.Equal(t, want.ReopenRate, got.ReopenRate, "%s: reopen_rate", scope)
	assert.Equal(t, want.DisputeRate, got.DisputeRate, "%s: dispute_rate", scope)
	assert.Equal(t, want.ForceClosed, got.ForceClosed, "%s: force_closed", scope)
	assert.Equal(t, want.RepeatRate, got.RepeatRate, "%s: repeat_rate", scope)
	assert.Equal(t, want.Backlog.Open, got.Backlog.Open, "%s: backlog", scope)
	assert.Equal(t, want.Backlog.ByAge, got.Backlog.ByAge, "%s: backlog by age", scope)
	require.Equal(t, len(want.Backlog.Trend), len(got.Backlog.Trend), "%s: backlog trend", scope)
	for i := range want.Backlog.Trend {
		assert.True(t, want.Backlog.Trend[i].At.Equal(got.Backlog.Trend[i].At), "%s: trend point %d at %s, want %s", scope, i, got.Backlog.Trend[i].At, want.Backlog.Trend[i].At)
		assert.Equal(t, want.Backlog.Trend[i].Open, got.Backlog.Trend[i].Open, "%s: trend point %d", scope, i)
	}
	assert.Equal(t, want.CSAT.Count, got.CSAT.Count, "%s: csat", scope)
	assertQuestion(t, want.CSAT.Timeliness, got.CSAT.Timeliness, scope+": csat timeliness")
	assertQuestion(t, want.CSAT.Professionalism, got.CSAT.Professionalism, scope+": csat professionalism")
	assert.Equal(t, want.LowScoreCauses, got.LowScoreCauses, "%s: low_score_causes", scope)
}

func assertQuestion(t *testing.T, want, got report.Question, what string) {
	t.Helper()
	require.Equal(t, want.Mean == nil, got.Mean == nil, what)
	if want.Mean != nil {
		assert.InDelta(t, *want.Mean, *got.Mean, 1e-9, what)
		assert.InDelta(t, *want.ShareGood, *got.ShareGood, 1e-9, what)
	}
}

type kpiExpected struct {
	all            report.Figures
	gini           map[string]float64
	csatByEngineer map[string]report.CSAT
}

// kpiAnswers works the KPIs out from the plans, as docs/KPIS.md defines them.
func kpiAnswers(plans []*kpiPlan, start, end time.Time) kpiExpected {
	in := func(at time.Time) bool { return !at.IsZero() && !at.Before(start) && at.Before(end) }
	var firstResponse, resolution []int64
	var closed, ftfr, trueClosure, reopened, disputed, force, created, repeats int
	slaMet, slaOf := map[string]int{}, map[string]int{}
	load := map[string]map[string]int{}
	type answer struct {
		engineer string
		t, p     int
		cause    string
	}
	var answers []answer
	// The first repeat of each plan, by index.
	repeatedAt := map[*kpiPlan]time.Time{}
	for _, p := range plans {
		if repeatsWithin(p) {
			if r, ok := repeatedAt[p.repeats]; !ok || p.created.Before(r) {
				repeatedAt[p.repeats] = p.created
			}
		}
	}
	openAtEnd := 0
	buckets := make([]int, 5)
	days := 30
	trend := make([]int, days+1)
	for _, p := range plans {
		var firstAccept, firstClose, lastResolve, resolveAtClose, firstReopenAfterClose, ended time.Time
		var forced, customerConfirmedAtClose bool
		var confirmKind string // "", customer, auto
		var reopens, disputes int
		cause := ""
		engineer, team := "", ""
		state := ticket.StateNew
		for _, s := range p.steps {
			if s.action == ticket.ActionAssign {
				team = p.team
			}
			engineer = s.engineer
			switch s.action {
			case ticket.ActionAccept:
				if firstAccept.IsZero() {
					firstAccept = s.at
				}
			case ticket.ActionResolve:
				lastResolve = s.at
				cause = s.data.(ticket.ResolveData).RootCause
			case ticket.ActionConfirm:
				d := s.data.(ticket.ConfirmData)
				switch {
				case !*d.Solved:
					disputes++
					confirmKind = ""
				case d.Auto:
					confirmKind = "auto"
				default:
					confirmKind = "customer"
				}
				if !d.Auto && in(s.at) {
					answers = append(answers, answer{s.engineer, d.Timeliness, d.Professionalism, cause})
				}
			case ticket.ActionReopen:
				reopens++
				confirmKind = ""
				if !firstClose.IsZero() && firstReopenAfterClose.IsZero() {
					firstReopenAfterClose = s.at
				}
			}
			if s.to == ticket.StateClosed && firstClose.IsZero() {
				firstClose, resolveAtClose = s.at, lastResolve
				forced = s.action == ticket.ActionForceClose
				customerConfirmedAtClose = confirmKind == "customer"
			}
			if state.Open() && !s.to.Open() {
				ended = s.at
			} else if s.to.Open() {
				ended = time.Time{}
			}
			state = s.to
		}
		if in(firstAccept) {
			firstResponse = append(firstResponse, int64(firstAccept.Sub(p.created)/time.Second))
		}
		if in(p.created) {
			created++
			if repeatsWithin(p) {
				repeats++
			}
			if team != "" && engineer != "" {
				if load[team] == nil {
					load[team] = map[string]int{}
				}
				load[team][engineer]++
			}
		}
		if in(firstClose) {
			closed++
			if !resolveAtClose.IsZero() {
				resolution = append(resolution, int64(resolveAtClose.Sub(p.created)/time.Second))
			}
			r, ok := repeatedAt[p]
			repeated := ok && r.Sub(firstClose) <= 7*24*time.Hour
			reopenedSoon := !firstReopenAfterClose.IsZero() && firstReopenAfterClose.Sub(firstClose) <= 7*24*time.Hour
			if !repeated {
				ftfr++
			}
			if !repeated && !reopenedSoon && !forced && customerConfirmedAtClose {
				trueClosure++
			}
			if reopens > 0 {
				reopened++
			}
			if disputes > 0 {
				disputed++
			}
			if forced {
				force++
			}
			if p.urgency == draft.UrgencyOrange {
				slaOf["response"]++
				slaOf["resolution"]++
				if firstAccept.Sub(p.created) <= 30*time.Minute {
					slaMet["response"]++
				}
				if resolveAtClose.Sub(p.created) <= 4*time.Hour {
					slaMet["resolution"]++
				}
			}
		}
		if ended.IsZero() {
			openAtEnd++
			age := end.Sub(p.created)
			switch {
			case age < 24*time.Hour:
				buckets[0]++
			case age < 3*24*time.Hour:
				buckets[1]++
			case age < 7*24*time.Hour:
				buckets[2]++
			case age < 30*24*time.Hour:
				buckets[3]++
			default:
				buckets[4]++
			}
		}
		for k := 0; k <= days; k++ {
			at := start.Add(time.Duration(k) * 24 * time.Hour)
			if !p.created.After(at) && (ended.IsZero() || ended.After(at)) {
				trend[k]++
			}
		}
	}
	ratio := func(n, of int) report.Rate {
		r := report.Rate{Count: n, Of: of}
		if of > 0 {
			v := float64(n) / float64(of)
			r.Rate = &v
		}
		return r
	}
	var want report.Figures
	want.FirstResponse = durationsOf(firstResponse)
	want.Resolution.Durations = durationsOf(resolution)
	var sum float64
	for _, d := range resolution {
		sum += float64(d)
	}
	want.Resolution.MTTR = sum / float64(len(resolution))
	want.SLAAttainment = []report.SLATarget{}
	for _, target := range []string{"resolution", "response"} {
		if slaOf[target] > 0 {
			want.SLAAttainment = append(want.SLAAttainment, report.SLATarget{Policy: "orange", Target: target, Rate: ratio(slaMet[target], slaOf[target])})
		}
	}
	want.FTFR = ratio(ftfr, closed)
	want.TrueClosureRate = ratio(trueClosure, closed)
	want.ReopenRate = ratio(reopened, closed)
	want.DisputeRate = ratio(disputed, closed)
	want.ForceClosed = force
	want.RepeatRate = ratio(repeats, created)
	want.Backlog.Open = openAtEnd
	for i, name := range []string{"<1d", "1-3d", "3-7d", "7-30d", ">30d"} {
		want.Backlog.ByAge = append(want.Backlog.ByAge, report.BucketCount{Bucket: name, Count: buckets[i]})
	}
	for k := 0; k <= days; k++ {
		want.Backlog.Trend = append(want.Backlog.Trend, report.TrendPoint{At: start.Add(time.Duration(k) * 24 * time.Hour), Open: trend[k]})
	}
	csat := func(as []answer) report.CSAT {
		c := report.CSAT{Count: len(as)}
		if len(as) == 0 {
			return c
		}
		var st, sp, gt, gp float64
		for _, a := range as {
			st, sp = st+float64(a.t), sp+float64(a.p)
			if a.t >= 4 {
				gt++
			}
			if a.p >= 4 {
				gp++
			}
		}
		n := float64(len(as))
		mt, mp, shareT, shareP := st/n, sp/n, gt/n, gp/n
		c.Timeliness, c.Professionalism = report.Question{Mean: &mt, ShareGood: &shareT}, report.Question{Mean: &mp, ShareGood: &shareP}
		return c
	}
	want.CSAT = csat(answers)
	causes := map[string]int{}
	perEngineer := map[string][]answer{}
	for _, a := range answers {
		if a.t <= 2 || a.p <= 2 {
			causes[a.cause]++
		}
		perEngineer[a.engineer] = append(perEngineer[a.engineer], a)
	}
	for c, n := range causes {
		want.LowScoreCauses = append(want.LowScoreCauses, report.CauseCount{RootCause: c, Count: n})
	}
	sort.Slice(want.LowScoreCauses, func(i, j int) bool {
		a, b := want.LowScoreCauses[i], want.LowScoreCauses[j]
		return a.Count > b.Count || (a.Count == b.Count && a.RootCause < b.RootCause)
	})
	want.LowScoreCauses = want.LowScoreCauses[:min(5, len(want.LowScoreCauses))]
	exp := kpiExpected{all: want, gini: map[string]float64{}, csatByEngineer: map[string]report.CSAT{}}
	for team, m := range load {
		exp.gini[team] = pairwiseGini(m)
	}
	for eng, as := range perEngineer {
		exp.csatByEngineer[eng] = csat(as)
	}
	return exp
}

// durationsOf: the median (the mean of the two middle values for an even count) and the
// nearest-rank 90th percentile, worked out here apart from the report package.
func durationsOf(xs []int64) report.Durations {
	s := slices.Clone(xs)
	slices.SortFunc(s, func(a, b int64) int { return cmp.Compare(a, b) })
	n := len(s)
	if n == 0 {
		return report.Durations{}
	}
	median := float64(s[n/2])
	if n%2 == 0 {
		median = float64(s[n/2-1]+s[n/2]) / 2
	}
	rank := (9*n + 9) / 10 // ⌈0.9·n⌉
	return report.Durations{Count: n, Median: median, P90: float64(s[rank-1])}
}

// pairwiseGini is the Gini coefficient by its definition: the mean absolute difference of
// every ordered pair over twice the mean.
func pairwiseGini(load map[string]int) float64 {
	var xs []float64
	var sum float64
	for _, n := range load {
		xs = append(xs, float64(n))
		sum += float64(n)
	}
	var diff float64
	for _, a := range xs {
		for _, b := range xs {
			diff += math.Abs(a - b)
		}
	}
	n := float64(len(xs))
	return diff / (2 * n * n * (sum / n))
}
