package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/sla"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// alarmClear is the draft an alarm's clear becomes: the thread of the alarm's raise, its own
// dedup key, and an intent.
func alarmClear(device, msg, intent string) draft.Draft {
	d := alarm(device, msg, draft.UrgencyBlue)
	d.Source.Kind = "alarm.clear"
	d.DedupKey = "plant-mqtt/" + device + "/overheat/clear/" + msg
	d.Title, d.Description = "设备 "+device+" 温度恢复正常", "温度 "+msg
	d.Intent = intent
	return d
}

func ticketCount(t *testing.T, f *fixture) int {
	t.Helper()
	page, err := f.store.List(context.Background(), storeQueryAll())
	require.NoError(t, err)
	return len(page.Tickets)
}

func eventActions(t *testing.T, f *fixture, id string) []ticket.Action {
	t.Helper()
	evs, err := f.store.Events(context.Background(), id)
	require.NoError(t, err)
	var out []ticket.Action
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

// commits is how many store transactions the engine has committed so far.
func commits(t *testing.T, f *fixture) uint64 {
	t.Helper()
	n, _ := histogram(t, f.reg, "gongdan_engine_batch_size")
	return n
}

// toState takes a new ticket to state st by hand, as people would.
func toState(t *testing.T, f *fixture, id string, st ticket.State) ticket.Ticket {
	t.Helper()
	steps := map[ticket.State][]ticket.Command{
		ticket.StateNew:      nil,
		ticket.StateAssigned: {{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)}},
		ticket.StateAccepted: {{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
			{Action: ticket.ActionAccept, Actor: eng}},
		ticket.StateInProgress: {{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
			{Action: ticket.ActionAccept, Actor: eng}, {Action: ticket.ActionStart, Actor: eng}},
		ticket.StateAwaitingParts: {{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
			{Action: ticket.ActionAccept, Actor: eng}, {Action: ticket.ActionStart, Actor: eng}, {Action: ticket.ActionRequestParts, Actor: eng}},
		ticket.StatePaused: {{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
			{Action: ticket.ActionAccept, Actor: eng}, {Action: ticket.ActionStart, Actor: eng}, {Action: ticket.ActionPause, Actor: eng, Reason: "客户停产"}},
		ticket.StateEscalated: {{Action: ticket.ActionEscalate, Actor: sup, Reason: "客户投诉"}},
	}
	cmds, ok := steps[st]
	require.True(t, ok, "no path to %s", st)
	tk := f.ticket(t, id)
	for _, cmd := range cmds {
		tk = f.do(t, id, cmd)
	}
	require.Equal(t, st, tk.State)
	return tk
}

func TestIntentUpdateOnlyAddsToTheOpenTicket(t *testing.T) {
	f := newFixture(t, nil)
	sub := f.engine.Subscribe(16)
	defer sub.Close()

	raised, outcome := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
	require.Equal(t, engine.Created, outcome, "a raise without an intent opens a ticket")

	update := alarmClear("E1", "2", draft.IntentUpdate)
	merged, outcome := f.create(t, update)
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, raised.ID, merged.ID)
	assert.Equal(t, int64(2), merged.Version)
	assert.Equal(t, ticket.StateNew, merged.State, "an update moves no state")
	require.Len(t, merged.Sources, 2)
	assert.Equal(t, draft.IntentUpdate, merged.Sources[1].Intent)
	assert.Equal(t, draft.UrgencyOrange, merged.Urgency, "a blue clear lowers nothing")
	assert.Equal(t, 1, ticketCount(t, f), "no ticket opened")
	assert.Equal(t, []ticket.Action{"create", "source_added"}, eventActions(t, f, raised.ID))

	// The same update again is a duplicate of its dedup key: nothing appended.
	again, outcome := f.create(t, update)
	assert.Equal(t, engine.Duplicate, outcome)
	assert.Equal(t, raised.ID, again.ID)
	assert.Equal(t, int64(2), again.Version)

	// An update of a resolve intent on a ticket nobody works on yet is only on record too.
	res, outcome := f.create(t, alarmClear("E1", "3", draft.IntentResolve))
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, ticket.StateNew, res.State)
	assert.Equal(t, 1, ticketCount(t, f))

	var published []ticket.Action
	for range 3 {
		published = append(published, (<-sub.C).Action)
	}
	assert.Equal(t, []ticket.Action{"create", "source_added", "source_added"}, published)
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_intake_total", "created"))
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_intake_total", "merged"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_intake_total", "duplicate"))
	assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_intake_total", "unmatched"))
	assertStoredIsFold(t, f.store)
}

func TestIntentWithoutAnOpenTicketIsUnmatched(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	sub := f.engine.Subscribe(16)
	defer sub.Close()

	for _, intent := range []string{draft.IntentUpdate, draft.IntentResolve} {
		d := alarmClear("E9", "1-"+intent, intent)
		for delivery := range 2 { // a redelivery finds no ticket either
			tk, outcome, err := f.engine.Create(ctx, engine.CreateRequest{Draft: d, Actor: system})
			require.NoError(t, err, "nil, so the pipeline acks the message")
			assert.Equal(t, engine.Unmatched, outcome, "%s, delivery %d", intent, delivery+1)
			assert.Zero(t, tk, "no ticket")
		}
	}
	assert.Equal(t, 0, ticketCount(t, f), "nothing opened")

	// A closed ticket of the thread takes no update either, and none is opened in its place.
	tk, _ := f.create(t, alarm("E9", "2", draft.UrgencyOrange))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "误报"})
	_, outcome := f.create(t, alarmClear("E9", "3", draft.IntentUpdate))
	assert.Equal(t, engine.Unmatched, outcome)
	assert.Equal(t, 1, ticketCount(t, f))
	assert.Equal(t, []ticket.Action{"create", "force_close"}, eventActions(t, f, tk.ID))

	// Once a ticket of the thread is open, the same draft merges (its key was never claimed).
	late := alarmClear("E9", "1-"+draft.IntentUpdate, draft.IntentUpdate)
	raised, _ := f.create(t, alarm("E9", "4", draft.UrgencyOrange))
	merged, outcome := f.create(t, late)
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, raised.ID, merged.ID)

	var published []ticket.Action
	for range 5 {
		published = append(published, (<-sub.C).Action)
	}
	assert.Equal(t, []ticket.Action{"create", "force_close", "create", "repeated", "source_added"}, published,
		"unmatched drafts publish nothing (the new alarm repeats the closed one, which records it)")
	assert.Equal(t, 5.0, metricValue(t, f.reg, "gongdan_intake_total", "unmatched"))
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "create", "ok"), "unmatched is no action")
	assertStoredIsFold(t, f.store)
}

func TestIntentResolve(t *testing.T) {
	cases := []struct {
		state        ticket.State
		wantResolved bool
	}{
		{ticket.StateNew, false},
		{ticket.StateAssigned, false},
		{ticket.StateAccepted, false},
		{ticket.StateInProgress, true},
		{ticket.StateAwaitingParts, false},
		{ticket.StatePaused, false},
		{ticket.StateEscalated, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.state), func(t *testing.T) {
			f := newFixture(t, nil)
			raised, _ := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
			before := toState(t, f, raised.ID, tc.state)
			sub := f.engine.Subscribe(16)
			defer sub.Close()
			n := commits(t, f)

			cleared := alarmClear("E1", "2", draft.IntentResolve)
			got, outcome := f.create(t, cleared)
			require.Equal(t, engine.Merged, outcome)
			assert.Equal(t, raised.ID, got.ID)
			assert.Equal(t, n+1, commits(t, f), "one transaction")
			assert.Equal(t, 1, ticketCount(t, f))
			evs, err := f.store.Events(context.Background(), raised.ID)
			require.NoError(t, err)
			added := evs[before.Version]
			assert.Equal(t, ticket.ActionSourceAdded, added.Action)

			if !tc.wantResolved {
				assert.Equal(t, tc.state, got.State)
				assert.Equal(t, before.Version+1, got.Version, "only the source_added")
				assert.Len(t, evs, int(before.Version)+1)
				assert.Equal(t, ticket.ActionSourceAdded, (<-sub.C).Action)
				assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "resolve", "ok"))
				assertStoredIsFold(t, f.store)
				return
			}
			assert.Equal(t, ticket.StateResolved, got.State)
			assert.Equal(t, before.Version+2, got.Version, "source_added, then resolve")
			require.Len(t, evs, int(before.Version)+2)
			resolved := evs[before.Version+1]
			assert.Equal(t, ticket.ActionResolve, resolved.Action)
			assert.Equal(t, ticket.StateInProgress, resolved.From)
			assert.Equal(t, ticket.StateResolved, resolved.To)
			assert.Equal(t, system, resolved.Actor)
			assert.True(t, resolved.Automatic)
			assert.Equal(t, "resolved by a draft of intent resolve from plant-mqtt/alarm.clear", resolved.Reason)
			assert.Equal(t, added.ID+1, resolved.ID, "appended right after the merge")
			var rd ticket.ResolveData
			require.NoError(t, json.Unmarshal(resolved.Data, &rd))
			assert.Equal(t, cleared.Title, rd.RootCause)
			assert.Equal(t, []string{cleared.DedupKey}, rd.Evidence)

			stored := f.ticket(t, raised.ID)
			assert.Equal(t, got.Version, stored.Version)
			assert.Equal(t, ticket.StateResolved, stored.State)
			assert.Equal(t, []ticket.Action{"source_added", "resolve"}, []ticket.Action{(<-sub.C).Action, (<-sub.C).Action})
			assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_tickets", "resolved"))
			assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_tickets", "in_progress"))
			assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "resolve", "ok"))

			// The clear delivered again changes nothing, and the next raise opens a new ticket.
			again, outcome := f.create(t, cleared)
			assert.Equal(t, engine.Duplicate, outcome)
			assert.Equal(t, got.Version, again.Version)
			next, outcome := f.create(t, alarm("E1", "3", draft.UrgencyOrange))
			assert.Equal(t, engine.Created, outcome, "the resolved ticket is no longer open")
			assert.NotEqual(t, raised.ID, next.ID)
			assertStoredIsFold(t, f.store)
		})
	}
}

func TestIntentResolveRootCauseFromTheDescription(t *testing.T) {
	f := newFixture(t, nil)
	raised, _ := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
	toState(t, f, raised.ID, ticket.StateInProgress)
	d := alarmClear("E1", "2", draft.IntentResolve)
	d.Title, d.Description = " ", "  温度回落到 70°C  "
	got, _ := f.create(t, d)
	require.Equal(t, ticket.StateResolved, got.State)
	evs, err := f.store.Events(context.Background(), raised.ID)
	require.NoError(t, err)
	var rd ticket.ResolveData
	require.NoError(t, json.Unmarshal(evs[len(evs)-1].Data, &rd))
	assert.Equal(t, "温度回落到 70°C", rd.RootCause)
}

// The resolve is the sender's command: the pipeline's system may resolve, a caller whose role
// may not resolve only adds the draft; a frozen ticket refuses it and takes the draft.
func TestIntentResolveThatTheTicketRefuses(t *testing.T) {
	t.Run("sender may not resolve", func(t *testing.T) {
		f := newFixture(t, nil)
		raised, _ := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
		toState(t, f, raised.ID, ticket.StateInProgress)
		got, outcome, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: alarmClear("E1", "2", draft.IntentResolve), Actor: agent})
		require.NoError(t, err)
		assert.Equal(t, engine.Merged, outcome)
		assert.Equal(t, ticket.StateInProgress, got.State)
		assert.Equal(t, []ticket.Action{"create", "assign", "accept", "start", "source_added"}, eventActions(t, f, raised.ID))
		assertStoredIsFold(t, f.store)
	})
	t.Run("frozen", func(t *testing.T) {
		f := newFixture(t, nil)
		raised, _ := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
		toState(t, f, raised.ID, ticket.StateInProgress)
		for range ticket.RollbackLimit { // resolved and reopened three times: frozen in progress
			f.do(t, raised.ID, ticket.Command{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"复位"}`)})
			f.do(t, raised.ID, ticket.Command{Action: ticket.ActionReopen, Actor: sup, Reason: "又报警了"})
		}
		frozen := f.ticket(t, raised.ID)
		require.True(t, frozen.Frozen)
		require.Equal(t, ticket.StateInProgress, frozen.State)
		got, outcome := f.create(t, alarmClear("E1", "2", draft.IntentResolve))
		assert.Equal(t, engine.Merged, outcome)
		assert.Equal(t, ticket.StateInProgress, got.State)
		assert.Equal(t, frozen.Version+1, got.Version, "only the source_added")
		assertStoredIsFold(t, f.store)
	})
}

// An automatic resolve is followed up like any other event: the engineer's load goes down
// with it (and stays down over a restart, which counts from the store).
func TestIntentResolveKeepsRoutingLoads(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	raise := estop(1)
	raise.ThreadKey = "device:E1:estop"
	tk, _ := f.create(t, raise)
	require.Equal(t, "eng-li", tk.Assignee)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: li})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: li})
	open := func() int {
		t.Helper()
		v, err := f.engine.Engineer(context.Background(), "eng-li")
		require.NoError(t, err)
		return v.Open
	}
	require.Equal(t, 1, open())

	cleared := estop(1)
	cleared.Title, cleared.ThreadKey, cleared.Intent, cleared.DedupKey = "急停已复位", raise.ThreadKey, draft.IntentResolve, "estop-clear-1"
	got, outcome := f.create(t, cleared)
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, ticket.StateResolved, got.State)
	assert.Equal(t, 0, open(), "a resolved ticket is off the engineer's load")
	f.restart(t) // checks the loads the committer kept, then counts them from the store
	assert.Equal(t, 0, open())
}

// An automatic resolve stops the SLA clocks as a person's does: the resolution target counts
// as met, and no timer is left for the ticket.
func TestIntentResolveStopsTheSLAClocks(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", When: `urgency == "orange"`, Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour, sla.NextUpdate: time.Hour}}})
	require.Empty(t, errs)
	f := newSLAFixtureWith(t, ps)
	ctx := context.Background()
	raised, _ := f.create(t, alarm("E1", "1", draft.UrgencyOrange))
	toState(t, f.fixture, raised.ID, ticket.StateInProgress)
	f.clock.Advance(time.Hour)

	got, _ := f.create(t, alarmClear("E1", "2", draft.IntentResolve))
	require.Equal(t, ticket.StateResolved, got.State)
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_sla_targets_total", "met", "orange", "resolution"))
	board, err := f.engine.SLABoard(ctx, store.BoardQuery{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, board, "off the board")

	f.clock.Advance(24 * time.Hour)
	f.engine.FireDue()
	assert.Empty(t, f.marks(t, raised.ID), "nothing fires on the resolved ticket")
	v, err := f.engine.SLA(ctx, raised.ID)
	require.NoError(t, err)
	for _, c := range v.Clocks {
		assert.NotEqual(t, "running", c.Status, "%s still runs", c.Target)
		assert.NotEqual(t, "breached", c.Status, "%s breached", c.Target)
	}
}
