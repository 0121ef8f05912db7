package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/ticket"
)

func TestCommandReplayReturnsTheFirstResult(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	assign := ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: "cmd-1"}
	first, err := f.engine.Do(ctx, assign)
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAccept, Actor: eng, CommandID: "cmd-2"})
	require.NoError(t, err)

	again, err := f.engine.Do(ctx, assign)
	require.NoError(t, err)
	assert.Equal(t, jsonOf(t, first), jsonOf(t, again), "the replay answers what the first call answered")
	evs, err := f.store.Events(ctx, tk.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 3)

	// the same caller's id for something else is refused, and nothing changes
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionPause, Actor: disp, Reason: "客户停产", CommandID: "cmd-1"})
	require.ErrorIs(t, err, engine.ErrCommandIDReused)
	assert.Contains(t, err.Error(), `command id "cmd-1"`)
	evs, err = f.store.Events(ctx, tk.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 3)
}

// TestCommandIDsAreEachCallersOwn (issue 17): an engineer's command id does not block a
// dispatcher's same id (the README promises ids per caller), and each caller's replay still
// answers that caller's first result. Before, ids were one global namespace and the
// dispatcher was told "command id reused".
func TestCommandIDsAreEachCallersOwn(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	a, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("a"), Actor: agent})
	require.NoError(t, err)
	b, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("b"), Actor: agent})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: a.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: "d-1"})
	require.NoError(t, err)

	accept := ticket.Command{TicketID: a.ID, Action: ticket.ActionAccept, Actor: eng, CommandID: "as-1"}
	accepted, err := f.engine.Do(ctx, accept)
	require.NoError(t, err)
	assign := ticket.Command{TicketID: b.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-zhao"}`), CommandID: "as-1"}
	assigned, err := f.engine.Do(ctx, assign)
	require.NoError(t, err, "the dispatcher's as-1 is not the engineer's")
	assert.Equal(t, ticket.StateAssigned, assigned.State)
	assert.Equal(t, "eng-zhao", assigned.Assignee)

	// Both tickets move on; each caller's replay answers their own first result.
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: a.ID, Action: ticket.ActionStart, Actor: eng})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: b.ID, Action: ticket.ActionReject, Actor: disp, Reason: "重复报修"})
	require.NoError(t, err)
	again, err := f.engine.Do(ctx, accept)
	require.NoError(t, err)
	assert.Equal(t, jsonOf(t, accepted), jsonOf(t, again), "the engineer's replay")
	again, err = f.engine.Do(ctx, assign)
	require.NoError(t, err)
	assert.Equal(t, jsonOf(t, assigned), jsonOf(t, again), "the dispatcher's replay")
	for id, n := range map[string]int{a.ID: 4, b.ID: 3} {
		evs, err := f.store.Events(ctx, id)
		require.NoError(t, err)
		assert.Len(t, evs, n, "%s: replays append nothing", id)
	}
}

// TestCommandIDIsLookedUpAfterRole (issue 17): a caller whose role may never do the action is
// refused for their role (403), not told that their command id was used (which said that
// the id exists, and what for, before checking who asks).
func TestCommandIDIsLookedUpAfterRole(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAccept, Actor: eng, CommandID: "as-1"})
	require.NoError(t, err)

	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: eng,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: "as-1"})
	require.ErrorIs(t, err, ticket.ErrForbidden)
	assert.NotErrorIs(t, err, engine.ErrCommandIDReused)
	assert.Contains(t, err.Error(), "role engineer may not assign")
}

// TestCustomersForeignTicketIsAMissingOne (issue 17): a customer's command on another
// customer's ticket fails exactly as one on a ticket that does not exist, whatever the
// ticket's state, version or the command's id; before, the answer told its state (409), its
// version (409 stale) and that it exists.
func TestCustomersForeignTicketIsAMissingOne(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mine := newDraft("mine")
	mine.Customer.ID = "cust-wang"
	theirs := newDraft("theirs")
	theirs.Customer.ID = "cust-zhang"
	own, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: mine, Actor: agent})
	require.NoError(t, err)
	foreign, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: theirs, Actor: agent})
	require.NoError(t, err)
	const missing = "GD-20990101-000001"
	cust := ticket.Actor{ID: "cust-wang", Role: ticket.RoleCustomer}
	yes := json.RawMessage(`{"solved":true,"timeliness":5,"professionalism":5}`)

	for _, cmd := range []ticket.Command{
		{Action: ticket.ActionConfirm, Actor: cust, Data: yes},
		{Action: ticket.ActionConfirm, Actor: cust, Data: yes, ExpectedVersion: 7},
		{Action: ticket.ActionConfirm, Actor: cust, Data: yes, CommandID: "c-1"},
		{Action: ticket.ActionAssign, Actor: cust, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
	} {
		cmd.TicketID = missing
		_, wantErr := f.engine.Do(ctx, cmd)
		require.ErrorIs(t, wantErr, engine.ErrNotFound)
		cmd.TicketID = foreign.ID
		_, err := f.engine.Do(ctx, cmd)
		require.ErrorIs(t, err, engine.ErrNotFound, "%s %+v", cmd.Action, cmd)
		assert.Equal(t, strings.ReplaceAll(wantErr.Error(), missing, foreign.ID), err.Error())
	}
	// The customer's own ticket still answers as before: it is not resolved yet.
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: own.ID, Action: ticket.ActionConfirm, Actor: cust, Data: yes})
	require.ErrorIs(t, err, ticket.ErrIllegalTransition)
	evs, err := f.store.Events(ctx, foreign.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 1)
}

func TestConcurrentReplaysLeaveOneEvent(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
				Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: "same"})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	evs, err := f.store.Events(ctx, tk.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 2)
}

func TestRefusedCommandsChangeNothing(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	cases := []struct {
		cmd  ticket.Command
		want error
	}{
		{ticket.Command{TicketID: tk.ID, Action: ticket.ActionStart, Actor: eng}, ticket.ErrIllegalTransition},
		{ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: eng, Data: json.RawMessage(`{"assignee":"x"}`)}, ticket.ErrForbidden},
		{ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp}, ticket.ErrInvalidData},
		{ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"x"}`), ExpectedVersion: 7}, ticket.ErrStaleVersion},
		{ticket.Command{TicketID: "GD-20990101-000001", Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"x"}`)}, engine.ErrNotFound},
	}
	for _, c := range cases {
		_, err := f.engine.Do(ctx, c.cmd)
		require.ErrorIs(t, err, c.want)
	}
	got, err := f.store.Ticket(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Version)
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "assign", "stale_version"))
}
