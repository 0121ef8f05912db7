package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// Routing writes go with the transaction of the assignment: kept when it commits, gone when
// it fails; and they read back as written.
func testRouting(t *testing.T, f *fixture) {
	tks := f.mustCreate(newDraft("急停按钮失灵"), newDraft("漏水"), newDraft("空调不制冷"))
	at := f.tick()
	require.NoError(t, f.write(func(w *writer) error {
		if _, _, err := w.act(tks[0].ID, assign("eng-li", "suzhou-a")); err != nil {
			return err
		}
		tx := w.tx
		return errors.Join(
			tx.PutRoutingDecision(store.RoutingRecord{TicketID: tks[0].ID, At: at, Trigger: "created", Engineer: "eng-li", Team: "suzhou-a", Rule: "estop", Body: []byte(`{"rule":"estop"}`)}),
			tx.PutRoutingDecision(store.RoutingRecord{TicketID: tks[1].ID, At: at.Add(time.Second), Trigger: "declined", Cause: "too_far", Rule: "leaks", Failure: "all_over_cap", Body: []byte(`{}`)}),
			tx.SetRoundRobin("suzhou-a", 2),
			tx.SetRoundRobin("suzhou-a", 3), // moved again in the same transaction
			tx.CountAssignments("eng-li", "20261123", 1),
			tx.CountAssignments("eng-li", "20261123", 1),
			tx.CountAssignments("eng-li", "20261124", 1),
			tx.CountAssignments("eng-zhao", "20261125", 1),
			tx.PutEngineer("eng-li", []byte(`{"status":"leave"}`)),
			tx.SetTimer(store.Timer{TicketID: tks[0].ID, Kind: "offer", Due: at.Add(30 * time.Minute)}),
			tx.SetTimer(store.Timer{TicketID: tks[1].ID, Kind: "offer", Due: at.Add(10 * time.Minute)}),
			tx.SetTimer(store.Timer{TicketID: tks[1].ID, Kind: "offer", Due: at.Add(20 * time.Minute)}), // moved
			tx.SetTimer(store.Timer{TicketID: tks[2].ID, Kind: "offer", Due: at.Add(time.Hour)}),
			tx.DeleteTimer(tks[2].ID, "offer"),
			tx.DeleteTimer(tks[2].ID, "no-such-kind"),
		)
	}))
	errFailed := errors.New("the batch fails")
	err := f.write(func(w *writer) error {
		tx := w.tx
		require.NoError(t, tx.PutRoutingDecision(store.RoutingRecord{TicketID: tks[2].ID, At: at, Trigger: "created", Body: []byte(`{}`)}))
		require.NoError(t, tx.SetRoundRobin("suzhou-a", 9))
		require.NoError(t, tx.CountAssignments("eng-li", "20261123", 5))
		require.NoError(t, tx.PutEngineer("eng-li", []byte(`{"status":"off"}`)))
		require.NoError(t, tx.SetTimer(store.Timer{TicketID: tks[2].ID, Kind: "offer", Due: at}))
		require.NoError(t, tx.DeleteTimer(tks[0].ID, "offer"))
		return errFailed
	})
	require.ErrorIs(t, err, errFailed)

	ds, err := f.s.RoutingDecisions(f.ctx, tks[0].ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, "created", ds[0].Trigger)
	assert.Equal(t, []any{"eng-li", "suzhou-a", "estop", false}, []any{ds[0].Engineer, ds[0].Team, ds[0].Rule, ds[0].Manual})
	assert.True(t, at.Equal(ds[0].At), "at %s, want %s", ds[0].At, at)
	assert.JSONEq(t, `{"rule":"estop"}`, string(ds[0].Body))
	none, err := f.s.RoutingDecisions(f.ctx, tks[2].ID)
	require.NoError(t, err)
	assert.Empty(t, none, "the failed write's decision")

	since, err := f.s.RoutingSince(f.ctx, at.Add(time.Millisecond))
	require.NoError(t, err)
	require.Len(t, since, 1)
	assert.Equal(t, []any{tks[1].ID, "declined", "too_far", "all_over_cap"}, []any{since[0].TicketID, since[0].Trigger, since[0].Cause, since[0].Failure})
	assert.Nil(t, since[0].Body, "RoutingSince leaves the bodies out")

	rr, err := f.s.RoundRobin(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"suzhou-a": 3}, rr)

	n, err := f.s.Assignments(f.ctx, "20261123", "20261123")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"eng-li": 2}, n)
	n, err = f.s.Assignments(f.ctx, "20261123", "20261125")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"eng-li": 3, "eng-zhao": 1}, n)

	open, err := f.s.OpenByAssignee(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"eng-li": 1}, open)

	engs, err := f.s.Engineers(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"eng-li": []byte(`{"status":"leave"}`)}, engs)

	due, err := f.s.DueTimers(f.ctx, at.Add(25*time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, due, 1, "only the moved timer is due by then")
	assert.Equal(t, tks[1].ID, due[0].TicketID)
	assert.True(t, at.Add(20*time.Minute).Equal(due[0].Due))
	due, err = f.s.DueTimers(f.ctx, at.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 2, "the deleted one is gone, the failed write set none")
	assert.Equal(t, []string{tks[1].ID, tks[0].ID}, []string{due[0].TicketID, due[1].TicketID}, "earliest first")
	due, err = f.s.DueTimers(f.ctx, at.Add(2*time.Hour), 1)
	require.NoError(t, err)
	assert.Len(t, due, 1, "limit")

	// A closed ticket's assignee no longer counts as open.
	f.mustAct(tks[0].ID, ticket.Command{Action: ticket.ActionForceClose, Actor: supervisor, Reason: "duplicate of a phone call"})
	open, err = f.s.OpenByAssignee(f.ctx)
	require.NoError(t, err)
	assert.Empty(t, open)
}

// The SLA board keeps a ticket at its last due time, earliest first, with its team and
// policy to filter by; a failed write leaves it as it was.
func testSLABoard(t *testing.T, f *fixture) {
	at := f.tick()
	due := func(id string, d time.Duration, team, policy string) store.BoardEntry {
		return store.BoardEntry{TicketID: id, Due: at.Add(d), Team: team, Policy: policy}
	}
	require.NoError(t, f.write(func(w *writer) error {
		return errors.Join(
			w.tx.SetBoardDue(due("GD-1", 3*time.Hour, "suzhou-a", "standard")),
			w.tx.SetBoardDue(due("GD-2", -time.Hour, "suzhou-b", "standard")), // breached an hour ago
			w.tx.SetBoardDue(due("GD-3", time.Hour, "suzhou-b", "standard")),
			w.tx.SetBoardDue(due("GD-3", 2*time.Hour, "suzhou-a", "vip")), // moved in the same write
			w.tx.SetBoardDue(due("GD-4", 0, "suzhou-a", "vip")),
			w.tx.DeleteBoardDue("GD-4"),
			w.tx.DeleteBoardDue("GD-none"),
		)
	}))
	boardOf := func(q store.BoardQuery) []string {
		es, err := f.s.Board(f.ctx, q)
		require.NoError(t, err)
		var ids []string
		for _, e := range es {
			ids = append(ids, e.TicketID)
		}
		return ids
	}
	board := func(limit int) []string { return boardOf(store.BoardQuery{Limit: limit}) }
	assert.Equal(t, []string{"GD-2", "GD-3", "GD-1"}, board(10))
	assert.Equal(t, []string{"GD-2", "GD-3"}, board(2))
	es, err := f.s.Board(f.ctx, store.BoardQuery{Limit: 1})
	require.NoError(t, err)
	assert.True(t, at.Add(-time.Hour).Equal(es[0].Due), "%s", es[0].Due)
	assert.Equal(t, "suzhou-b", es[0].Team)
	assert.Equal(t, "standard", es[0].Policy)

	assert.Equal(t, []string{"GD-3", "GD-1"}, boardOf(store.BoardQuery{Team: "suzhou-a", Limit: 10}), "GD-3 moved to suzhou-a")
	assert.Equal(t, []string{"GD-2", "GD-1"}, boardOf(store.BoardQuery{Policy: "standard", Limit: 10}))
	assert.Equal(t, []string{"GD-3"}, boardOf(store.BoardQuery{Team: "suzhou-a", Policy: "vip", Limit: 10}))
	assert.Empty(t, boardOf(store.BoardQuery{Team: "nobody", Limit: 10}))

	failed := errors.New("the batch failed")
	err = f.write(func(w *writer) error {
		return errors.Join(w.tx.DeleteBoardDue("GD-2"), w.tx.SetBoardDue(due("GD-5", 0, "suzhou-a", "vip")), failed)
	})
	require.ErrorIs(t, err, failed)
	assert.Equal(t, []string{"GD-2", "GD-3", "GD-1"}, board(10), "nothing of a failed write")
}
