package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

func testPing(t *testing.T, f *fixture) {
	assert.NoError(t, f.s.Ping(f.ctx))
}

func testInsertThenRead(t *testing.T, f *fixture) {
	var tk ticket.Ticket
	var ev ticket.Event
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		tk, ev, err = w.create(fullDraft(), "idem-1", "cmd-create-1")
		return err
	}))
	assert.Positive(t, ev.ID, "Insert must return the stored event's id")

	got, err := f.s.Ticket(f.ctx, tk.ID)
	require.NoError(t, err)
	assertSameJSON(t, tk, got, "Ticket must read back what Insert stored")
	evs, err := f.s.Events(f.ctx, tk.ID)
	require.NoError(t, err)
	assertSameJSON(t, []ticket.Event{ev}, evs, "Events must read back the creation event, with its id")
}

// testHistoryRoundTrip takes tickets through the actions that fill the rest of a ticket
// (resolution, feedback, rollbacks, freezing) and reads each state back.
func testHistoryRoundTrip(t *testing.T, f *fixture) {
	tks := f.mustCreate(fullDraft(), newDraft("注塑机温控报警"))
	a, b := tks[0].ID, tks[1].ID

	steps := []struct {
		id      string
		cmds    []ticket.Command
		freezes bool
	}{
		{a, []ticket.Command{withID(assign("eng-li", "suzhou-a"), "a-1"), accept("eng-li"), startWork("eng-li")}, false},
		{a, []ticket.Command{resolve("eng-li", "急停按钮触点氧化")}, false},
		{a, []ticket.Command{confirm(false)}, false}, // disputed: a rollback to in_progress
		{a, []ticket.Command{resolve("eng-li", "更换急停按钮")}, false},
		{a, []ticket.Command{confirm(true), closeTicket()}, false},
		{b, []ticket.Command{assign("eng-li", "suzhou-a"), decline("eng-li"), assign("eng-zhao", "")}, false},
		{b, []ticket.Command{decline("eng-zhao"), assign("eng-wu", "wuxi")}, false},
		{b, []ticket.Command{decline("eng-wu")}, true}, // the third rollback within the window
		{b, []ticket.Command{unfreeze()}, false},
	}
	for i, s := range steps {
		want := f.mustAct(s.id, s.cmds...)
		got, err := f.s.Ticket(f.ctx, s.id)
		require.NoError(t, err)
		assertSameJSON(t, want, got, "after step %d", i)
		require.Equal(t, s.freezes, want.Frozen, "step %d: the suite meant %s to be frozen only after the third decline", i, s.id)
	}
	final, _ := f.want(a)
	require.NotNil(t, final.Feedback, "the suite meant %s to carry feedback", a)
	require.NotEmpty(t, final.Rollbacks, "the suite meant %s to carry a rollback", a)
}

func testNotFound(t *testing.T, f *fixture) {
	const missing = "GD-20261123-999999"
	check := func(when string) {
		t.Helper()
		_, err := f.s.Ticket(f.ctx, missing)
		assert.ErrorIs(t, err, store.ErrNotFound, "Ticket, %s", when)
		_, err = f.s.Events(f.ctx, missing)
		assert.ErrorIs(t, err, store.ErrNotFound, "Events, %s", when)
		require.NoError(t, f.write(func(w *writer) error {
			_, err := w.tx.Ticket(missing)
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.Ticket, %s", when)
			_, err = w.tx.TicketIDByDedupKey("no-such-dedup-key")
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.TicketIDByDedupKey, %s", when)
			_, _, err = w.tx.TicketIDByIdempotencyKey("no-such-idempotency-key")
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.TicketIDByIdempotencyKey, %s", when)
			_, err = w.tx.EventByCommandID(agent.ID, "no-such-command")
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.EventByCommandID, %s", when)
			_, err = w.tx.OpenTicketIDByThreadKey("no-such-thread")
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.OpenTicketIDByThreadKey, %s", when)
			_, err = w.tx.RecentlyClosed(store.RepeatQuery{CustomerKey: "id:no-such-customer", DeviceID: "no-such-device", Category: "electrical"})
			assert.ErrorIs(t, err, store.ErrNotFound, "Tx.RecentlyClosed, %s", when)
			return nil
		}))
	}
	check("in an empty store")
	d := newDraft("空压机异响")
	d.DedupKey = "dk-1"
	require.NoError(t, f.write(func(w *writer) error {
		_, _, err := w.create(d, "idem-1", "cmd-1")
		return err
	}))
	check("in a store with a ticket")
}

// testFailedWriteKeepsNothing: a Write whose fn fails keeps nothing fn did, the day's number
// it took included (NextNumber runs in the same transaction).
func testFailedWriteKeepsNothing(t *testing.T, f *fixture) {
	existing := f.mustCreate(newDraft("空压机异响"))[0]

	d := newDraft("注塑机温控报警")
	d.DedupKey = "dk-rolled-back"
	boom := errors.New("boom")
	var created ticket.Ticket
	err := f.write(func(w *writer) error {
		var err error
		if created, _, err = w.create(d, "idem-rolled-back", "cmd-create-rolled-back"); err != nil {
			return err
		}
		if _, _, err = w.act(created.ID, withID(assign("eng-li", "suzhou-a"), "cmd-assign-new-rolled-back")); err != nil {
			return err
		}
		if _, _, err = w.act(existing.ID, withID(assign("eng-zhao", "suzhou-b"), "cmd-assign-old-rolled-back")); err != nil {
			return err
		}
		if _, _, err = w.merge(existing.ID, threadDraft("空压机又异响", "", "dk-merged-rolled-back"), "idem-merged-rolled-back"); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom, "Write must return fn's error")

	_, err = f.s.Ticket(f.ctx, created.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "a ticket inserted by a failed Write must not be kept")
	_, err = f.s.Events(f.ctx, created.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "events of a failed Write must not be kept")
	got, err := f.s.Ticket(f.ctx, existing.ID)
	require.NoError(t, err)
	assertSameJSON(t, existing, got, "an Append in a failed Write must not change the ticket")
	evs, err := f.s.Events(f.ctx, existing.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "an Append in a failed Write must not be kept")
	feed, err := f.s.EventsAfter(f.ctx, 0, 100)
	require.NoError(t, err)
	assert.Len(t, feed, 1, "EventsAfter must not show events of a failed Write")

	var again ticket.Ticket
	require.NoError(t, f.write(func(w *writer) error {
		for _, lookup := range []struct {
			name string
			fn   func() error
		}{
			{"TicketIDByDedupKey", func() error { _, err := w.tx.TicketIDByDedupKey("dk-rolled-back"); return err }},
			{"TicketIDByIdempotencyKey", func() error { _, _, err := w.tx.TicketIDByIdempotencyKey("idem-rolled-back"); return err }},
			{"TicketIDByDedupKey merged", func() error { _, err := w.tx.TicketIDByDedupKey("dk-merged-rolled-back"); return err }},
			{"TicketIDByIdempotencyKey merged", func() error { _, _, err := w.tx.TicketIDByIdempotencyKey("idem-merged-rolled-back"); return err }},
			{"EventByCommandID create", func() error { _, err := w.tx.EventByCommandID(agent.ID, "cmd-create-rolled-back"); return err }},
			{"EventByCommandID new", func() error { _, err := w.tx.EventByCommandID(dispatcher.ID, "cmd-assign-new-rolled-back"); return err }},
			{"EventByCommandID old", func() error { _, err := w.tx.EventByCommandID(dispatcher.ID, "cmd-assign-old-rolled-back"); return err }},
		} {
			assert.ErrorIs(t, lookup.fn(), store.ErrNotFound, "%s: a failed Write's keys must not be kept", lookup.name)
		}
		// The same keys are free again, and the day's number was not used up.
		var err error
		again, _, err = w.create(d, "idem-rolled-back", "cmd-create-rolled-back")
		return err
	}), "the keys of a failed Write must be free again")
	assert.Equal(t, created.ID, again.ID, "a failed Write must give its NextNumber back")
}

func testTxSeesOwnWrites(t *testing.T, f *fixture) {
	d := newDraft("机器人示教器黑屏")
	d.DedupKey = "dk-own"
	require.NoError(t, f.write(func(w *writer) error {
		tk, created, err := w.create(d, "idem-own", "cmd-own-create")
		if err != nil {
			return err
		}
		got, err := w.tx.Ticket(tk.ID)
		if assert.NoError(t, err, "Tx.Ticket after Insert") {
			assertSameJSON(t, tk, got, "Tx.Ticket after Insert")
		}
		id, err := w.tx.TicketIDByDedupKey("dk-own")
		assert.NoError(t, err, "Tx.TicketIDByDedupKey after Insert")
		assert.Equal(t, tk.ID, id, "Tx.TicketIDByDedupKey after Insert")
		id, source, err := w.tx.TicketIDByIdempotencyKey("idem-own")
		assert.NoError(t, err, "Tx.TicketIDByIdempotencyKey after Insert")
		assert.Equal(t, tk.ID, id, "Tx.TicketIDByIdempotencyKey after Insert")
		assert.Equal(t, 0, source, "Tx.TicketIDByIdempotencyKey after Insert: the creating draft is source 0")
		ev, err := w.tx.EventByCommandID(agent.ID, "cmd-own-create")
		if assert.NoError(t, err, "Tx.EventByCommandID after Insert") {
			assertSameJSON(t, created, ev, "Tx.EventByCommandID after Insert, with the event's id")
		}

		next, assigned, err := w.act(tk.ID, withID(assign("eng-li", "suzhou-a"), "cmd-own-assign"))
		if err != nil {
			return err
		}
		got, err = w.tx.Ticket(tk.ID)
		if assert.NoError(t, err, "Tx.Ticket after Append") {
			assertSameJSON(t, next, got, "Tx.Ticket after Append")
		}
		ev, err = w.tx.EventByCommandID(dispatcher.ID, "cmd-own-assign")
		if assert.NoError(t, err, "Tx.EventByCommandID after Append") {
			assertSameJSON(t, assigned, ev, "Tx.EventByCommandID after Append, with the event's id")
		}
		return nil
	}))
}

// testEmptyKeysNeverConflict: an empty dedup key, idempotency key or command id means "none";
// any number of tickets and events may have none, and none is never found.
func testEmptyKeysNeverConflict(t *testing.T, f *fixture) {
	require.NoError(t, f.write(func(w *writer) error {
		for _, title := range []string{"冷却水泵漏水", "AGV 无法充电"} {
			tk, _, err := w.create(newDraft(title), "", "")
			if err != nil {
				return err
			}
			if _, _, err := w.act(tk.ID, assign("eng-li", "")); err != nil {
				return err
			}
		}
		return nil
	}), "two tickets without keys in one Write")
	tk := f.mustCreate(newDraft("空压机异响"))[0]
	f.mustAct(tk.ID, assign("eng-zhao", ""), accept("eng-zhao"))

	require.NoError(t, f.write(func(w *writer) error {
		_, err := w.tx.TicketIDByDedupKey("")
		assert.ErrorIs(t, err, store.ErrNotFound, "TicketIDByDedupKey(\"\")")
		_, _, err = w.tx.TicketIDByIdempotencyKey("")
		assert.ErrorIs(t, err, store.ErrNotFound, "TicketIDByIdempotencyKey(\"\")")
		_, err = w.tx.EventByCommandID(agent.ID, "")
		assert.ErrorIs(t, err, store.ErrNotFound, "EventByCommandID(agent, \"\")")
		_, err = w.tx.EventByCommandID("", "")
		assert.ErrorIs(t, err, store.ErrNotFound, "EventByCommandID(\"\", \"\")")
		_, err = w.tx.OpenTicketIDByThreadKey("")
		assert.ErrorIs(t, err, store.ErrNotFound, "OpenTicketIDByThreadKey(\"\")")
		return nil
	}))
}

// An insertConflict builds, in the Write after the original ticket was created, an Insert
// that must fail because something of the original is taken. The original has the dedup
// key dk-1, the idempotency key idem-1 and the creation command id cmd-1.
type insertConflict struct {
	name string
	// clash returns the conflicting ticket, its creation event and its idempotency key.
	clash func(w *writer, orig ticket.Ticket, keys conflictKeys) (ticket.Ticket, ticket.Event, string, error)
}

type conflictKeys struct{ dedup, idempotency, command string }

// fresh builds a ticket under a new number with the given keys.
func fresh(w *writer, dedup, idem, command string) (ticket.Ticket, ticket.Event, string, error) {
	n, err := w.tx.NextNumber(dayKey)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, "", err
	}
	d := newDraft("重复报修：急停按钮")
	d.DedupKey = dedup
	ev, tk := build(ticket.FormatID(start, n), d, command, w.f.tick())
	return tk, ev, idem, nil
}

var insertConflicts = []insertConflict{
	{"ID", func(w *writer, orig ticket.Ticket, k conflictKeys) (ticket.Ticket, ticket.Event, string, error) {
		d := newDraft("重复报修：急停按钮")
		d.DedupKey = "other-" + k.dedup
		ev, tk := build(orig.ID, d, "other-"+k.command, w.f.tick())
		return tk, ev, "other-" + k.idempotency, nil
	}},
	{"DedupKey", func(w *writer, orig ticket.Ticket, k conflictKeys) (ticket.Ticket, ticket.Event, string, error) {
		return fresh(w, k.dedup, "other-"+k.idempotency, "other-"+k.command)
	}},
	{"IdempotencyKey", func(w *writer, orig ticket.Ticket, k conflictKeys) (ticket.Ticket, ticket.Event, string, error) {
		return fresh(w, "other-"+k.dedup, k.idempotency, "other-"+k.command)
	}},
	{"CommandID", func(w *writer, orig ticket.Ticket, k conflictKeys) (ticket.Ticket, ticket.Event, string, error) {
		return fresh(w, "other-"+k.dedup, "other-"+k.idempotency, k.command)
	}},
}

// testInsertConflict: an Insert that clashes with a stored ticket, or with one inserted
// earlier in the same Write, fails with ErrConflict, writes nothing, and leaves the
// transaction usable: what fn does next commits.
func testInsertConflict(t *testing.T, f *fixture, c insertConflict) {
	for _, sameWrite := range []bool{false, true} {
		keys := conflictKeys{dedup: "dk-1", idempotency: "idem-1", command: "cmd-1"}
		where := "in a later Write"
		if sameWrite {
			keys = conflictKeys{dedup: "dk-2", idempotency: "idem-2", command: "cmd-2"}
			where = "in the same Write"
		}
		d := newDraft("3号线急停按钮失灵")
		d.DedupKey = keys.dedup
		var orig ticket.Ticket
		var clash ticket.Ticket
		var after ticket.Ticket
		createOrig := func(w *writer) error {
			var err error
			orig, _, err = w.create(d, keys.idempotency, keys.command)
			return err
		}
		if !sameWrite {
			require.NoError(t, f.write(createOrig))
		}
		require.NoError(t, f.write(func(w *writer) error {
			if sameWrite {
				if err := createOrig(w); err != nil {
					return err
				}
			}
			tk, ev, idem, err := c.clash(w, orig, keys)
			if err != nil {
				return err
			}
			clash = tk
			_, err = w.Insert(tk, ev, idem)
			assert.ErrorIs(t, err, store.ErrConflict, "Insert with a taken %s, %s", c.name, where)
			// Carry on: the transaction must still work and commit.
			if after, _, err = w.create(newDraft("冷却水泵漏水"), "", ""); err != nil {
				return fmt.Errorf("Insert after a conflict %s: %w", where, err)
			}
			if _, _, err = w.act(orig.ID, assign("eng-li", "suzhou-a")); err != nil {
				return fmt.Errorf("Append after a conflict %s: %w", where, err)
			}
			return nil
		}), "a Write must commit what fn did after a conflict (%s)", where)

		_, err := f.s.Ticket(f.ctx, after.ID)
		assert.NoError(t, err, "the ticket inserted after the conflict %s must be kept", where)
		got, err := f.s.Ticket(f.ctx, orig.ID)
		if assert.NoError(t, err, "the original ticket") {
			assert.Equal(t, int64(2), got.Version, "the Append after the conflict %s must be kept", where)
			assert.Equal(t, orig.Title, got.Title, "the original ticket must not be overwritten")
		}
		if clash.ID != orig.ID {
			_, err := f.s.Ticket(f.ctx, clash.ID)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert (%s, %s) must not keep its ticket", c.name, where)
			_, err = f.s.Events(f.ctx, clash.ID)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert (%s, %s) must not keep its event", c.name, where)
		}
		require.NoError(t, f.write(func(w *writer) error {
			id, err := w.tx.TicketIDByDedupKey(keys.dedup)
			assert.NoError(t, err)
			assert.Equal(t, orig.ID, id, "the dedup key must still lead to the original (%s)", where)
			id, _, err = w.tx.TicketIDByIdempotencyKey(keys.idempotency)
			assert.NoError(t, err)
			assert.Equal(t, orig.ID, id, "the idempotency key must still lead to the original (%s)", where)
			ev, err := w.tx.EventByCommandID(agent.ID, keys.command)
			if assert.NoError(t, err) {
				assert.Equal(t, orig.ID, ev.TicketID, "the command id must still lead to the original (%s)", where)
			}
			_, err = w.tx.TicketIDByDedupKey("other-" + keys.dedup)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert must not keep its dedup key (%s)", where)
			_, _, err = w.tx.TicketIDByIdempotencyKey("other-" + keys.idempotency)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert must not keep its idempotency key (%s)", where)
			_, err = w.tx.EventByCommandID(agent.ID, "other-"+keys.command)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert must not keep its command id (%s)", where)
			return nil
		}))
	}
}

func testAppend(t *testing.T, f *fixture) {
	tk := f.mustCreate(newDraft("3号线急停按钮失灵"))[0]
	var returned []int64
	var want ticket.Ticket
	require.NoError(t, f.write(func(w *writer) error {
		for _, cmd := range []ticket.Command{assign("eng-li", "suzhou-a"), accept("eng-li")} {
			next, ev, err := w.act(tk.ID, cmd)
			if err != nil {
				return err
			}
			want = next
			returned = append(returned, ev.ID)
		}
		return nil
	}))
	got, err := f.s.Ticket(f.ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(3), got.Version, "Ticket must show the version of the last Append")
	assert.Equal(t, ticket.StateAccepted, got.State, "Ticket must show the state of the last Append")
	assertSameJSON(t, want, got, "Ticket after Append")

	want = f.mustAct(tk.ID, startWork("eng-li"), pause("eng-li", "客户停产检修"))
	got, err = f.s.Ticket(f.ctx, tk.ID)
	require.NoError(t, err)
	assertSameJSON(t, want, got, "Ticket after a second Write of Appends")

	evs, err := f.s.Events(f.ctx, tk.ID)
	require.NoError(t, err)
	require.Len(t, evs, 5)
	for i, ev := range evs {
		assert.Equal(t, int64(i+1), ev.Seq, "Events must be in seq order")
		assert.Equal(t, tk.ID, ev.TicketID)
		if i > 0 {
			assert.Greater(t, ev.ID, evs[i-1].ID, "event ids must grow with seq")
		}
	}
	assert.Equal(t, []int64{evs[1].ID, evs[2].ID}, returned, "Append must return the stored event's id")
}

// testAppendSeqTaken: an event decided on a stale ticket clashes with the one stored
// meanwhile; it fails with ErrConflict, changes nothing, and the Write carries on.
func testAppendSeqTaken(t *testing.T, f *fixture) {
	tks := f.mustCreate(newDraft("空压机异响"), newDraft("冷却水泵漏水"))
	id, other := tks[0].ID, tks[1].ID

	for round, sameWrite := range []bool{false, true} {
		stale, _ := f.want(id)
		late, lateEvent, err := decide(stale, withID(assign(fmt.Sprintf("eng-late-%d", round), "wuxi"), fmt.Sprintf("cmd-late-%d", round)), f.tick())
		require.NoError(t, err)
		var winner ticket.Ticket
		if !sameWrite {
			winner = f.mustAct(id, assign(fmt.Sprintf("eng-first-%d", round), "suzhou-a"))
		}
		require.NoError(t, f.write(func(w *writer) error {
			if sameWrite {
				var err error
				if winner, _, err = w.act(id, assign(fmt.Sprintf("eng-first-%d", round), "suzhou-a")); err != nil {
					return err
				}
			}
			_, err := w.Append(late, lateEvent)
			assert.ErrorIs(t, err, store.ErrConflict, "Append of a seq that is taken (round %d)", round)
			got, err := w.tx.Ticket(id)
			if assert.NoError(t, err) {
				assertSameJSON(t, winner, got, "a conflicting Append must not change the ticket, even in its transaction")
			}
			_, err = w.tx.EventByCommandID(lateEvent.Actor.ID, lateEvent.CommandID)
			assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Append must not keep its command id")
			_, _, err = w.act(other, assign(fmt.Sprintf("eng-other-%d", round), ""))
			return err
		}), "a Write must commit what fn did after a conflicting Append")

		got, err := f.s.Ticket(f.ctx, id)
		require.NoError(t, err)
		assertSameJSON(t, winner, got, "the ticket is the winner's, round %d", round)
		evs, err := f.s.Events(f.ctx, id)
		require.NoError(t, err)
		assert.Len(t, evs, int(winner.Version), "a conflicting Append must not add an event")
		got, err = f.s.Ticket(f.ctx, other)
		require.NoError(t, err)
		assert.Equal(t, int64(round+2), got.Version, "the Append after the conflict must be kept")
	}
}

// testAppendCommandIDTaken: a command id is used once per caller (the event's actor), across
// the whole store; another caller may use the same id, and each finds their own event by it.
func testAppendCommandIDTaken(t *testing.T, f *fixture) {
	tks := f.mustCreate(newDraft("空压机异响"), newDraft("冷却水泵漏水"), newDraft("注塑机温控报警"))
	a, b, c := tks[0].ID, tks[1].ID, tks[2].ID
	var created ticket.Event
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		_, created, err = w.create(newDraft("AGV 无法充电"), "", "cmd-create")
		return err
	}))
	var assigned ticket.Event
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		_, assigned, err = w.act(a, withID(assign("eng-li", "suzhou-a"), "cmd-a"))
		return err
	}))

	for _, c := range []struct {
		name, ticketID, commandID string
		cmd                       ticket.Command
	}{
		{"same ticket", a, "cmd-a", assign("eng-li", "suzhou-b")},
		{"other ticket", b, "cmd-a", assign("eng-zhao", "")},
		{"a creation's command id", b, "cmd-create", reject("重复报修")},
	} {
		require.Equal(t, c.cmd.Actor, map[string]ticket.Actor{"cmd-a": dispatcher, "cmd-create": agent}[c.commandID],
			"%s: the suite meant the same caller to reuse the id", c.name)
		before, beforeEvents := f.want(c.ticketID)
		require.NoError(t, f.write(func(w *writer) error {
			_, _, err := w.act(c.ticketID, withID(c.cmd, c.commandID))
			assert.ErrorIs(t, err, store.ErrConflict, "%s: Append reusing %s's command id %s", c.name, c.cmd.Actor.ID, c.commandID)
			got, err := w.tx.Ticket(c.ticketID)
			if assert.NoError(t, err) {
				assertSameJSON(t, before, got, "%s: a conflicting Append must not change the ticket", c.name)
			}
			// The same command under a fresh id goes through in the same Write.
			_, _, err = w.act(c.ticketID, withID(c.cmd, "fresh-"+c.name))
			return err
		}), c.name)
		evs, err := f.s.Events(f.ctx, c.ticketID)
		require.NoError(t, err)
		assert.Len(t, evs, len(beforeEvents)+1, "%s: only the Append under the fresh id is kept", c.name)
	}

	// Other callers' ids are their own, though they spell the same.
	var accepted, escalated ticket.Event
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		if _, accepted, err = w.act(a, withID(accept("eng-li"), "cmd-a")); err != nil {
			return fmt.Errorf("an engineer's cmd-a after the dispatcher's: %w", err)
		}
		if _, escalated, err = w.act(c, withID(escalate("客户投诉"), "cmd-create")); err != nil {
			return fmt.Errorf("a supervisor's cmd-create after the agent's: %w", err)
		}
		return nil
	}))

	require.NoError(t, f.write(func(w *writer) error {
		for _, want := range []ticket.Event{assigned, created, accepted, escalated} {
			got, err := w.tx.EventByCommandID(want.Actor.ID, want.CommandID)
			if assert.NoError(t, err, "EventByCommandID(%s, %s)", want.Actor.ID, want.CommandID) {
				assertSameJSON(t, want, got, "EventByCommandID(%s, %s) must return that caller's first event, with its id", want.Actor.ID, want.CommandID)
			}
		}
		_, err := w.tx.EventByCommandID(qa.ID, "cmd-a")
		assert.ErrorIs(t, err, store.ErrNotFound, "a caller who never sent cmd-a must not find another's")
		return nil
	}))
}

// testFailedAppendWritesNothing: an Append that fails (here: the ticket is not there) must
// leave nothing behind if fn carries on, or the log and the rows stop agreeing.
func testFailedAppendWritesNothing(t *testing.T, f *fixture) {
	// A ticket built the way the engine builds one, but never stored.
	_, ghost := build(ticket.FormatID(start, 424242), newDraft("从未保存的工单"), "", f.tick())
	next, assigned, err := decide(ghost, withID(assign("eng-li", ""), "cmd-ghost"), f.tick())
	require.NoError(t, err)

	require.NoError(t, f.write(func(w *writer) error {
		_, err := w.Append(next, assigned)
		assert.Error(t, err, "Append to a ticket that is not stored must fail")
		_, _, err = w.create(newDraft("空压机异响"), "", "")
		return err
	}))
	_, err = f.s.Events(f.ctx, ghost.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "a failed Append must not keep its event")
	feed, err := f.s.EventsAfter(f.ctx, 0, 100)
	require.NoError(t, err)
	for _, e := range feed {
		assert.NotEqual(t, ghost.ID, e.TicketID, "a failed Append must not show in EventsAfter")
	}
	require.NoError(t, f.write(func(w *writer) error {
		_, err := w.tx.EventByCommandID(dispatcher.ID, "cmd-ghost")
		assert.ErrorIs(t, err, store.ErrNotFound, "a failed Append must not keep its command id")
		return nil
	}))
}

func testNextNumber(t *testing.T, f *fixture) {
	next := func(w *writer, day string) int64 {
		n, err := w.tx.NextNumber(day)
		assert.NoError(t, err, "NextNumber(%s)", day)
		return n
	}
	require.NoError(t, f.write(func(w *writer) error {
		assert.Equal(t, int64(1), next(w, "20261123"), "a day starts at 1")
		assert.Equal(t, int64(2), next(w, "20261123"), "and counts up")
		assert.Equal(t, int64(3), next(w, "20261123"), "and counts up")
		assert.Equal(t, int64(1), next(w, "20261124"), "each day has its own count")
		return nil
	}))
	require.NoError(t, f.write(func(w *writer) error {
		assert.Equal(t, int64(4), next(w, "20261123"), "the count survives the Write")
		assert.Equal(t, int64(2), next(w, "20261124"), "the count survives the Write")
		assert.Equal(t, int64(1), next(w, "20261125"), "a new day starts at 1")
		return nil
	}))
	// What tickets were numbered with is the same counter.
	tk := f.mustCreate(newDraft("空压机异响"))[0]
	assert.Equal(t, ticket.FormatID(start, 5), tk.ID)
}
