package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/normalize"
)

var (
	agent = ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	disp  = ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	eng   = ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
)

type fixture struct {
	engine *engine.Engine
	store  *sqlite.Store
	reg    *prometheus.Registry
}

func newFixture(t *testing.T, now func() time.Time) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/gongdan.db")
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	e, err := engine.New(ctx, engine.Options{Store: st, Now: now, Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return &fixture{engine: e, store: st, reg: reg}
}

func draft(title string) normalize.Draft {
	return normalize.Draft{Title: title, Description: "按下急停无反应", Urgency: normalize.UrgencyOrange,
		Customer: normalize.Customer{Name: "王建国", Phone: "13812345678"}}
}

func TestCreateAssignsDailyIDsInTheConfiguredZone(t *testing.T) {
	// 23:30 UTC on the 22nd is 07:30 on the 23rd in Shanghai.
	f := newFixture(t, func() time.Time { return time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC) })
	a, outcome, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft("a"), Actor: agent})
	require.NoError(t, err)
	assert.Equal(t, engine.Created, outcome)
	assert.Equal(t, "GD-20261123-000001", a.ID)
	assert.Equal(t, "+08:00", a.CreatedAt.Format("-07:00"))
	b, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft("b"), Actor: agent})
	require.NoError(t, err)
	assert.Equal(t, "GD-20261123-000002", b.ID)
}

func TestConcurrentCreatesGetUniqueIncreasingIDs(t *testing.T) {
	f := newFixture(t, nil)
	const n = 200
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tk, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft(fmt.Sprint(i)), Actor: agent})
			if assert.NoError(t, err) {
				ids[i] = tk.ID
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
	// Creation order (event IDs) and ticket-id order agree.
	evs, err := f.store.EventsAfter(context.Background(), 0, 1000)
	require.NoError(t, err)
	require.Len(t, evs, n)
	var byCommit []string
	for _, ev := range evs {
		byCommit = append(byCommit, ev.TicketID)
	}
	assert.True(t, sort.StringsAreSorted(byCommit), "ticket ids increase with creation order")
}

func TestIdempotencyKeyAndDedupKeyMakeOneTicket(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 50
	ids := make(chan string, n)
	outcomes := make(chan engine.Outcome, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			tk, outcome, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent, IdempotencyKey: "idem-1"})
			if assert.NoError(t, err) {
				ids <- tk.ID
				outcomes <- outcome
			}
		})
	}
	wg.Wait()
	close(ids)
	close(outcomes)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	assert.Len(t, distinct, 1)
	count := map[engine.Outcome]int{}
	for o := range outcomes {
		count[o]++
	}
	assert.Equal(t, map[engine.Outcome]int{engine.Created: 1, engine.Duplicate: n - 1}, count)

	d := draft("alarm")
	d.DedupKey = "plant/E1/overheat/1"
	a, c1, err := f.engine.Create(ctx, engine.CreateRequest{Draft: d, Actor: agent})
	require.NoError(t, err)
	b, c2, err := f.engine.Create(ctx, engine.CreateRequest{Draft: d, Actor: agent})
	require.NoError(t, err)
	assert.Equal(t, engine.Created, c1)
	assert.Equal(t, engine.Duplicate, c2)
	assert.Equal(t, a.ID, b.ID)
	page, err := f.store.List(ctx, storeQueryAll())
	require.NoError(t, err)
	assert.Len(t, page.Tickets, 2)
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "create", "ok"))
	assert.Equal(t, float64(n-1+1), metricValue(t, f.reg, "gongdan_ticket_actions_total", "create", "replay"))
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_intake_total", "created"))
	assert.Equal(t, float64(n-1+1), metricValue(t, f.reg, "gongdan_intake_total", "duplicate"))
}

func TestInvalidDraftIsRefusedBeforeTheCommitter(t *testing.T) {
	f := newFixture(t, nil)
	_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: normalize.Draft{}, Actor: agent})
	require.ErrorIs(t, err, ticket.ErrInvalidData)
	// no number was consumed
	tk, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft("ok"), Actor: agent})
	require.NoError(t, err)
	assert.Contains(t, tk.ID, "-000001")
}

func TestCommandReplayReturnsTheFirstResult(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
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
	a, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("a"), Actor: agent})
	require.NoError(t, err)
	b, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("b"), Actor: agent})
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
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
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
	mine := draft("mine")
	mine.Customer.ID = "cust-wang"
	theirs := draft("theirs")
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
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
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
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
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

func TestSubscribersGetCommittedEventsInOrder(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	sub := f.engine.Subscribe(16)
	defer sub.Close()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionStart, Actor: eng}) // refused: no event
	require.Error(t, err)
	e1, e2 := <-sub.C, <-sub.C
	assert.Equal(t, ticket.ActionCreate, e1.Action)
	assert.Equal(t, ticket.ActionAssign, e2.Action)
	assert.Greater(t, e2.ID, e1.ID)
	assert.Empty(t, sub.C)
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_tickets", "assigned"))
	assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_tickets", "new"))
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	f := newFixture(t, nil)
	sub := f.engine.Subscribe(1)
	for i := range 3 {
		_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft(fmt.Sprint(i)), Actor: agent})
		require.NoError(t, err)
	}
	n := 0
	for range sub.C {
		n++
	}
	assert.Equal(t, 1, n, "one buffered event, then the channel is closed")
	sub.Close() // closing again is harmless
}

func TestClosedEngineRefuses(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.engine.Close())
	_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft("x"), Actor: agent})
	require.ErrorIs(t, err, engine.ErrClosed)
	sub := f.engine.Subscribe(1)
	_, open := <-sub.C
	assert.False(t, open)
}

func TestStateEqualsFoldAfterManyConcurrentActions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: draft(fmt.Sprint(w, i)), Actor: agent})
				if !assert.NoError(t, err) {
					return
				}
				for _, cmd := range []ticket.Command{
					{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
					{Action: ticket.ActionAccept, Actor: eng},
					{Action: ticket.ActionStart, Actor: eng},
					{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"触点氧化"}`)},
				} {
					cmd.TicketID = tk.ID
					_, err := f.engine.Do(ctx, cmd)
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	page, err := f.store.List(ctx, storeQueryAll())
	require.NoError(t, err)
	require.Len(t, page.Tickets, 80)
	for _, tk := range page.Tickets {
		evs, err := f.store.Events(ctx, tk.ID)
		require.NoError(t, err)
		folded, err := ticket.Fold(evs)
		require.NoError(t, err)
		assert.Equal(t, jsonOf(t, tk), jsonOf(t, folded))
		assert.Equal(t, ticket.StateResolved, tk.State)
	}
}

// failingStore refuses every Write once fail is set.
type failingStore struct {
	*sqlite.Store
	fail bool
}

func (f *failingStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	if f.fail {
		return f.Store.Write(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errors.New("disk full") // everything fn wrote is rolled back
		})
	}
	return f.Store.Write(ctx, fn)
}

func TestFailedCommitRefusesTheWholeBatch(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/gongdan.db")
	require.NoError(t, err)
	defer st.Close()
	fs := &failingStore{Store: st}
	e, err := engine.New(ctx, engine.Options{Store: fs})
	require.NoError(t, err)
	defer e.Close()
	tk, _, err := e.Create(ctx, engine.CreateRequest{Draft: draft("x"), Actor: agent})
	require.NoError(t, err)
	sub := e.Subscribe(64)
	defer sub.Close()

	fs.fail = true // the committer reads it only after the next submit: ordered by the channel
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _, err := e.Create(ctx, engine.CreateRequest{Draft: draft(fmt.Sprint(i)), Actor: agent})
			assert.ErrorContains(t, err, "disk full")
			_, err = e.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
				Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: fmt.Sprint("c", i)})
			assert.ErrorContains(t, err, "disk full")
		})
	}
	wg.Wait()
	assert.Empty(t, sub.C, "nothing uncommitted is published")
	evs, err := st.EventsAfter(ctx, 0, 100)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "only the first create is stored")

	// The cache must not keep what the failed batches wrote: the next command is decided on
	// the stored ticket (version 1, state new).
	fs.fail = false
	got, err := e.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), ExpectedVersion: 1})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
}
