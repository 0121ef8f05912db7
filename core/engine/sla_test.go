package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/sla"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

type slaFixture struct {
	*fixture
	path  string
	clock *testkit.Clock
	notes chan engine.Notification
	opts  *engine.SLAOptions
}

// orangePolicies: the service teams' example, on a 24×7 calendar: respond in 30 min, resolve
// in 4 h; yellow 5 min after a breach to the assignee, red at 30 min to the team lead, black
// at 2 h escalates to the regional director.
func orangePolicies(t *testing.T) *sla.Policies {
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", When: `urgency == "orange"`, Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}, WarnAt: 0.8,
		Tiers: []sla.Tier{
			{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee"}},
			{Name: "red", After: 30 * time.Minute, Notify: []string{"team_lead"}},
			{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}, Escalate: true}}}})
	require.Empty(t, errs)
	return ps
}

func newSLAFixture(t *testing.T) *slaFixture { return newSLAFixtureWith(t, orangePolicies(t)) }

func newSLAFixtureWith(t *testing.T, ps *sla.Policies) *slaFixture {
	f := &slaFixture{path: t.TempDir() + "/gongdan.db", clock: testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, shanghaiZone(t))),
		notes: make(chan engine.Notification, 100)}
	f.opts = &engine.SLAOptions{Policies: ps, LeadOf: func(team string) string { return "lead-of-" + team },
		Notify: func(n engine.Notification) { f.notes <- n }}
	f.open(t)
	return f
}

func (f *slaFixture) open(t *testing.T) {
	st := enginekit.OpenStore(t, f.path)
	reg := prometheus.NewRegistry()
	e := enginekit.Start(t, engine.Options{Store: st, Now: f.clock.Now, SLA: f.opts, Registerer: reg})
	f.fixture = &fixture{engine: e, store: st, reg: reg}
}

func (f *slaFixture) stop() {
	f.engine.Close()
	f.store.Close()
}

// marks returns the SLA events of a ticket, in order.
func (f *slaFixture) marks(t *testing.T, id string) []ticket.SLAData {
	t.Helper()
	evs, err := f.store.Events(context.Background(), id)
	require.NoError(t, err)
	var out []ticket.SLAData
	for _, ev := range evs {
		if ev.Action == ticket.ActionSLA {
			var d ticket.SLAData
			require.NoError(t, json.Unmarshal(ev.Data, &d))
			out = append(out, d)
		}
	}
	return out
}

func keys(ms []ticket.SLAData) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

func clockView(t *testing.T, v engine.SLAView, target string) engine.ClockView {
	t.Helper()
	for _, c := range v.Clocks {
		if c.Target == target {
			return c
		}
	}
	t.Fatalf("no %s clock in %+v", target, v)
	return engine.ClockView{}
}

// A ticket passes yellow, red and black in order, each once; black escalates it; waiting for
// parts moves the due time by the time waited.
func TestSLATiersFireInOrderOnceAndBlackEscalates(t *testing.T) {
	f := newSLAFixture(t)
	ctx := context.Background()
	t0 := f.clock.Now()
	d := newDraft("3号线急停按钮失灵")
	tk, _ := f.create(t, d)
	f.clock.Advance(10 * time.Minute)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li","team":"suzhou-a"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: eng})

	v, err := f.engine.SLA(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "orange", v.Policy)
	assert.Equal(t, sla.StatusMet, clockView(t, v, "response").Status, "accepted after 10 min")
	res := clockView(t, v, "resolution")
	assert.Equal(t, sla.StatusRunning, res.Status)
	assert.Equal(t, t0.Add(4*time.Hour), *res.Due)

	// Two hours waiting for parts.
	f.clock.Advance(50 * time.Minute) // t0+1h
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionRequestParts, Actor: eng, Reason: "等PLC模块"})
	f.clock.Advance(2 * time.Hour) // t0+3h
	f.engine.FireDue()
	assert.Empty(t, f.marks(t, tk.ID), "the resolution clock stood still: no warning at 3h12 of wall time")
	v, _ = f.engine.SLA(ctx, tk.ID)
	assert.Equal(t, sla.StatusPaused, clockView(t, v, "resolution").Status)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionPartsArrived, Actor: eng})
	v, _ = f.engine.SLA(ctx, tk.ID)
	res = clockView(t, v, "resolution")
	assert.Equal(t, t0.Add(6*time.Hour), *res.Due, "the due time moved by the 2 h waited")
	assert.Equal(t, "2h0m0s", res.Paused)

	// Past the warning (5h12), the breach (6h) and yellow (6h05).
	f.clock.Advance(3*time.Hour + 6*time.Minute) // t0+6h06
	f.engine.FireDue()
	f.engine.FireDue() // firing again changes nothing
	assert.Equal(t, []string{"resolution/warning", "resolution/breach", "resolution/tier/yellow"}, keys(f.marks(t, tk.ID)))
	tk = f.ticket(t, tk.ID)
	assert.Equal(t, ticket.StateInProgress, tk.State)

	f.clock.Advance(25 * time.Minute) // t0+6h31: red
	f.engine.FireDue()
	f.clock.Advance(90 * time.Minute) // t0+8h01: black
	f.engine.FireDue()
	f.engine.FireDue()
	ms := f.marks(t, tk.ID)
	assert.Equal(t, []string{"resolution/warning", "resolution/breach", "resolution/tier/yellow", "resolution/tier/red", "resolution/tier/black"}, keys(ms))
	assert.Equal(t, []string{"assignee:eng-li"}, ms[2].Notify)
	assert.Equal(t, []string{"team_lead:lead-of-suzhou-a"}, ms[3].Notify)
	assert.Equal(t, []string{"regional_director"}, ms[4].Notify)
	assert.True(t, ms[4].Escalate)
	assert.True(t, t0.Add(8*time.Hour).Equal(ms[4].Due), "black was due 2 h after the breach at 6 h: %s", ms[4].Due)

	tk = f.ticket(t, tk.ID)
	assert.Equal(t, ticket.StateEscalated, tk.State, "black escalates")
	evs, err := f.store.Events(ctx, tk.ID)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	assert.Equal(t, ticket.ActionEscalate, last.Action)
	assert.Equal(t, ticket.RoleSystem, last.Actor.Role)
	assert.Contains(t, last.Reason, "black tier of the resolution target")

	v, _ = f.engine.SLA(ctx, tk.ID)
	assert.Equal(t, "black", v.Tier)
	// Every mark once: no timer is left for this ticket.
	due, err := f.store.DueTimers(ctx, t0.Add(1000*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due)

	var kinds []string
	for range 5 {
		n := <-f.notes
		kinds = append(kinds, n.Kind)
		assert.Equal(t, tk.ID, n.TicketID)
	}
	assert.Equal(t, []string{"sla_warning", "sla_breach", "sla_tier", "sla_tier", "sla_tier"}, kinds)
	assertStoredIsFold(t, f.store)
}

// Tiers that fell due while gongdan was down fire once each, when it starts again.
func TestSLATiersDueDuringDowntimeFireOnceOnStart(t *testing.T) {
	f := newSLAFixture(t)
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("冷库温度报警"))
	f.stop()

	f.clock.Advance(3 * time.Hour) // response: warning, breach, yellow, red and black all overdue
	f.open(t)
	require.Eventually(t, func() bool { return f.ticket(t, tk.ID).State == ticket.StateEscalated }, 20*time.Second, 10*time.Millisecond,
		"the timer loop fires what fell due at start")
	want := []string{"response/warning", "response/breach", "response/tier/yellow", "response/tier/red", "response/tier/black"}
	assert.Equal(t, want, keys(f.marks(t, tk.ID)))

	// Another restart, and another look: nothing fires twice.
	f.stop()
	f.open(t)
	f.engine.FireDue()
	assert.Equal(t, want, keys(f.marks(t, tk.ID)))
	v, err := f.engine.SLA(ctx, tk.ID)
	require.NoError(t, err)
	resp := clockView(t, v, "response")
	assert.Equal(t, sla.StatusBreached, resp.Status)
	require.Len(t, resp.Marks, 5)
	for _, m := range resp.Marks {
		require.NotNil(t, m.FiredAt, m.Kind+" "+m.Tier)
		assert.True(t, m.FiredAt.After(m.Due), "fired late, at the start")
	}
}

func TestSLAMetricsCountBreachesByTierAndAttainment(t *testing.T) {
	f := newSLAFixture(t)
	a, _ := f.create(t, newDraft("a"))
	f.clock.Advance(5 * time.Minute)
	b, _ := f.create(t, newDraft("b"))
	f.clock.Advance(5 * time.Minute)
	f.do(t, a.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, a.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng}) // in time
	f.clock.Advance(40 * time.Minute)
	f.engine.FireDue() // b: warning, breach, yellow
	f.do(t, b.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, b.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng}) // late
	assert.Equal(t, []string{"response/warning", "response/breach", "response/tier/yellow"}, keys(f.marks(t, b.ID)))
	assert.Empty(t, f.marks(t, a.ID))

	board, err := f.engine.SLABoard(context.Background(), store.BoardQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, board, 2)
	for _, e := range board {
		assert.Equal(t, "resolution", e.Target, "response is met (late or not) for both")
	}
	assert.Equal(t, a.ID, board[0].TicketID, "a was created 5 min before b: its resolution breaches first")
	assert.Equal(t, "yellow", board[1].Tier, "b's response passed its yellow tier")

	// labels in name order: kind, policy, target / outcome, policy, target
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_marks_total", "breach", "orange", "response"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_marks_total", "yellow", "orange", "response"))
	assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_sla_marks_total", "red", "orange", "response"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "met", "orange", "response"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "breached", "orange", "response"))

	// A rejected ticket's clocks stop, but it was not fixed in time: counted apart.
	c, _ := f.create(t, newDraft("c"))
	f.do(t, c.ID, ticket.Command{Action: ticket.ActionReject, Actor: sup, Reason: "重复报修"})
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "cancelled", "orange", "response"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "cancelled", "orange", "resolution"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "met", "orange", "response"), "unchanged")
}

func (f *fixture) ticket(t *testing.T, id string) ticket.Ticket {
	t.Helper()
	tk, err := f.store.Ticket(context.Background(), id)
	require.NoError(t, err)
	return tk
}

// A ticket whose policy changes (a merged draft raised its urgency) keeps the time it already
// spent paused: the clocks are computed from its history under the new policy.
func TestSLAAChangeOfPolicyKeepsThePausedTime(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{
		{ID: "red", When: `urgency == "red"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Resolution: 2 * time.Hour}},
		{ID: "orange", When: `urgency == "orange"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Resolution: 4 * time.Hour}},
	})
	require.Empty(t, errs)
	f := newSLAFixtureWith(t, ps)
	ctx := context.Background()
	t0 := f.clock.Now()
	tk, _ := f.create(t, alarm("E202308001", "91", "orange"))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: eng})
	f.clock.Advance(30 * time.Minute)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionRequestParts, Actor: eng})
	f.clock.Advance(time.Hour)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionPartsArrived, Actor: eng})
	v, err := f.engine.SLA(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "orange", v.Policy)
	assert.True(t, t0.Add(5*time.Hour).Equal(*clockView(t, v, "resolution").Due), "4 h + 1 h paused")

	f.clock.Advance(10 * time.Minute)
	merged, outcome := f.create(t, alarm("E202308001", "99", "red")) // the same incident, now red
	require.Equal(t, engine.Merged, outcome)
	require.Equal(t, "red", string(merged.Urgency))
	v, err = f.engine.SLA(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "red", v.Policy, "the higher urgency chooses the other policy")
	res := clockView(t, v, "resolution")
	assert.Equal(t, "1h0m0s", res.Paused, "the hour waited for parts stays paused")
	assert.True(t, t0.Add(3*time.Hour).Equal(*res.Due), "2 h + the 1 h paused: %s", res.Due)
}

// A tier with reroute takes the ticket from the engineer who let it breach and routes it
// again without them.
func TestSLATierReroutes(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, shanghaiZone(t)))
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "estop", Calendar: always, Goals: map[sla.Target]time.Duration{sla.Resolution: time.Hour},
		Tiers: []sla.Tier{{Name: "red", After: 15 * time.Minute, Notify: []string{"team_lead"}, Reroute: true}}}})
	require.Empty(t, errs)
	r, err := routing.New(routingConfig(5))
	require.NoError(t, err)
	st := enginekit.OpenStore(t, "")
	e := enginekit.Start(t, engine.Options{Store: st, Now: clk.Now, Routing: &engine.RoutingOptions{Router: r, Notify: func(engine.Notification) {}},
		SLA: &engine.SLAOptions{Policies: ps, LeadOf: func(team string) string { tm, _ := r.Team(team); return tm.Lead }, Notify: func(engine.Notification) {}}})
	f := &fixture{engine: e, store: st}

	tk, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", tk.Assignee)
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: li})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: li})
	clk.Advance(76 * time.Minute) // breach at 60, red at 75
	e.FireDue()

	tk = f.ticket(t, tk.ID)
	assert.Equal(t, ticket.StateAssigned, tk.State, "offered to someone else")
	assert.Equal(t, "eng-zhao", tk.Assignee)
	assert.Contains(t, tk.Excluded, ticket.Exclusion{Engineer: "eng-li", Reason: ticket.ExclusionSLAReroute})
	recs, err := e.RoutingDecisions(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.TriggerSLA, recs[len(recs)-1].Trigger)
	assert.Equal(t, "resolution/tier/red", recs[len(recs)-1].Cause)
	v, err := e.Engineer(ctx, "eng-li")
	require.NoError(t, err)
	assert.Zero(t, v.Open, "the ticket no longer counts for eng-li")
	v, err = e.Engineer(ctx, "eng-zhao")
	require.NoError(t, err)
	assert.Equal(t, 1, v.Open)
	e.FireDue()
	assert.Equal(t, "eng-zhao", f.ticket(t, tk.ID).Assignee, "the tier fires once")
	e.Close()
	assert.NoError(t, e.CheckLives())
	assertStoredIsFold(t, st)
}

// The next-update target: a customer who writes again waits for staff to act; each wait is a
// round of its own, breached or met.
func TestSLANextUpdate(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "updates", Calendar: always, Goals: map[sla.Target]time.Duration{sla.NextUpdate: time.Hour}}})
	require.Empty(t, errs)
	f := newSLAFixtureWith(t, ps)
	ctx := context.Background()
	tk, _ := f.create(t, alarm("E202308001", "91", "orange"))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	v, err := f.engine.SLA(ctx, tk.ID)
	require.NoError(t, err)
	assert.Empty(t, v.Clocks, "no one waits for an answer")

	f.clock.Advance(10 * time.Minute)
	asked := f.clock.Now()
	f.create(t, alarm("E202308001", "92", "orange")) // the customer writes again
	v, _ = f.engine.SLA(ctx, tk.ID)
	require.Len(t, v.Clocks, 1)
	assert.Equal(t, "next_update", v.Clocks[0].Target)
	assert.True(t, asked.Add(time.Hour).Equal(*v.Clocks[0].Due))

	f.clock.Advance(61 * time.Minute)
	f.engine.FireDue()
	ms := f.marks(t, tk.ID)
	require.Len(t, ms, 1)
	assert.Equal(t, fmt.Sprintf("next_update@%d/breach", asked.Unix()), ms[0].Key)

	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng}) // an answer, late
	v, _ = f.engine.SLA(ctx, tk.ID)
	assert.Empty(t, v.Clocks)

	f.clock.Advance(time.Minute)
	f.create(t, alarm("E202308001", "93", "orange")) // again: a new round
	f.clock.Advance(20 * time.Minute)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: eng}) // answered in time
	f.engine.FireDue()
	assert.Len(t, f.marks(t, tk.ID), 1, "the second round was met: no mark")
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "breached", "updates", "next_update"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "met", "updates", "next_update"))
}

// Quiet tiers that wait for the office to open fire after black has: they are recorded as
// superseded, tell no one, and the colour stays black.
func TestSLAQuietTiersAfterAHigherOneAreSuperseded(t *testing.T) {
	zone := shanghaiZone(t)
	office := &sla.Calendar{Name: "cn-office", Location: zone}
	for d := time.Monday; d <= time.Friday; d++ {
		office.Week[d] = []sla.Span{{Start: 8*60 + 30, End: 12 * 60}, {Start: 13 * 60, End: 17*60 + 30}}
	}
	always := &sla.Calendar{Name: "24x7", Location: zone, Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "p", Calendar: always, Goals: map[sla.Target]time.Duration{sla.Resolution: 4 * time.Hour},
		Tiers: []sla.Tier{{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee"}, Quiet: office},
			{Name: "red", After: 30 * time.Minute, Notify: []string{"team_lead"}, Quiet: office},
			{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}, Escalate: true}}}})
	require.Empty(t, errs)
	f := newSLAFixtureWith(t, ps)
	f.clock.Set(time.Date(2026, 11, 27, 13, 40, 0, 0, zone)) // a Friday
	tk, _ := f.create(t, newDraft("冷库温度报警"))
	f.clock.Set(time.Date(2026, 11, 27, 19, 41, 0, 0, zone)) // breach 17:40, black 19:40
	f.engine.FireDue()
	assert.Equal(t, []string{"resolution/breach", "resolution/tier/black"}, keys(f.marks(t, tk.ID)), "yellow and red wait for Monday")
	assert.Equal(t, ticket.StateEscalated, f.ticket(t, tk.ID).State)
	for range 2 {
		<-f.notes
	}

	f.clock.Set(time.Date(2026, 11, 30, 8, 31, 0, 0, zone)) // Monday
	f.engine.FireDue()
	ms := f.marks(t, tk.ID)
	require.Equal(t, []string{"resolution/breach", "resolution/tier/black", "resolution/tier/yellow", "resolution/tier/red"}, keys(ms))
	assert.Equal(t, "superseded by the black tier", ms[2].Skipped)
	assert.Empty(t, ms[2].Notify)
	assert.Equal(t, "superseded by the black tier", ms[3].Skipped)
	select {
	case n := <-f.notes:
		t.Fatalf("a superseded tier told someone: %+v", n)
	default:
	}
	v, err := f.engine.SLA(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "black", v.Tier, "the colour stays black")
}

// A black tier on a frozen ticket records that it could not escalate it, instead of
// claiming it did.
func TestSLABlackOnAFrozenTicketIsRecordedAsRefused(t *testing.T) {
	f := newSLAFixture(t)
	tk, _ := f.create(t, newDraft("急停"))
	for range 3 { // three declines within two hours freeze it
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionDecline, Actor: eng, Data: json.RawMessage(`{"reason_code":"too_far"}`)})
	}
	require.True(t, f.ticket(t, tk.ID).Frozen)
	f.clock.Advance(3 * time.Hour) // response black at 2h30
	f.engine.FireDue()
	ms := f.marks(t, tk.ID)
	require.NotEmpty(t, ms)
	black := ms[len(ms)-1]
	assert.Equal(t, "response/tier/black", black.Key)
	assert.False(t, black.Escalate)
	assert.Contains(t, black.Refused, "not escalated")
	assert.Equal(t, ticket.StateNew, f.ticket(t, tk.ID).State)
}

// After a change of policies, the open tickets' timers are armed again at start, so a
// shorter goal applies to a ticket that does nothing meanwhile; once per change.
func TestSLATimersAreArmedAgainWhenThePoliciesChange(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	policy := func(goal time.Duration) *sla.Policies {
		ps, errs := sla.NewPolicies([]sla.Policy{{ID: "p", Calendar: always, Goals: map[sla.Target]time.Duration{sla.Resolution: goal}}})
		require.Empty(t, errs)
		return ps
	}
	f := newSLAFixtureWith(t, policy(8*time.Hour))
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("冷库温度报警"))
	t0 := f.clock.Now()
	due, err := f.store.DueTimers(ctx, t0.Add(2*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due, "an 8 h goal: nothing within 2 h")

	f.stop()
	f.opts = &engine.SLAOptions{Policies: policy(time.Hour), Fingerprint: "goal-1h", Notify: func(engine.Notification) {}}
	f.open(t)
	require.Eventually(t, func() bool {
		due, err := f.store.DueTimers(ctx, t0.Add(2*time.Hour), 10)
		return err == nil && len(due) == 1 && due[0].TicketID == tk.ID && due[0].Due.Equal(t0.Add(time.Hour))
	}, 20*time.Second, 10*time.Millisecond, "armed again for the 1 h goal")
	f.engine.Close() // waits for the re-arming to finish
	done, err := f.store.Cursor(ctx, "sla_rearmed:goal-1h/board-policy")
	require.NoError(t, err)
	assert.Equal(t, int64(1), done, "recorded: the next start with the same policies does not do it again")
}

// TestTheBoardShowsACustomerWhoCalledAgain: a second call about an open ticket (催单) is on the
// SLA board with its count, so whoever watches the board sees who is waiting on the phone.
func TestTheBoardShowsACustomerWhoCalledAgain(t *testing.T) {
	f := newSLAFixture(t)
	call := func(id string) draft.Draft {
		d := newDraft("电梯困人")
		d.Source = draft.Source{Connector: "hotline", Type: "hotline", Kind: draft.KindCall, ExternalID: id}
		d.DedupKey, d.ThreadKey = "hotline/"+id, "hotline/13812345678/电梯故障"
		return d
	}
	first, _ := f.create(t, call("c1"))
	other, _ := f.create(t, newDraft("另一张"))
	board, err := f.engine.SLABoard(context.Background(), store.BoardQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, board, 2)
	for _, e := range board {
		assert.False(t, e.Chased, "no one called twice yet: %s", e.TicketID)
	}

	f.clock.Advance(10 * time.Minute)
	again, outcome := f.create(t, call("c2"))
	require.Equal(t, engine.Merged, outcome)
	require.Equal(t, first.ID, again.ID)
	board, err = f.engine.SLABoard(context.Background(), store.BoardQuery{Limit: 10})
	require.NoError(t, err)
	byID := map[string]engine.BoardEntry{}
	for _, e := range board {
		byID[e.TicketID] = e
	}
	assert.Equal(t, 2, byID[first.ID].Calls)
	assert.True(t, byID[first.ID].Chased, "the second call is a 催单")
	assert.False(t, byID[other.ID].Chased)
	assert.Zero(t, byID[other.ID].Calls, "a ticket no one phoned about has no calls")
}
