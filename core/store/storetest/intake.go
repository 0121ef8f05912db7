package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// threadDraft is a draft of thread key with a dedup key.
func threadDraft(title, thread, dedup string) draft.Draft {
	d := newDraft(title)
	d.ThreadKey = thread
	d.DedupKey = dedup
	return d
}

// testMergeKeys: the keys of a merged draft lead to the ticket it was merged into, with the
// source it became, in the same Write and after it.
func testMergeKeys(t *testing.T, f *fixture) {
	var orig ticket.Ticket
	check := func(w *writer, when string) {
		for key, want := range map[string]string{"dk-create": orig.ID, "dk-merge-1": orig.ID, "dk-merge-2": orig.ID} {
			id, err := w.tx.TicketIDByDedupKey(key)
			assert.NoError(t, err, "TicketIDByDedupKey(%s), %s", key, when)
			assert.Equal(t, want, id, "TicketIDByDedupKey(%s), %s", key, when)
		}
		for key, source := range map[string]int{"idem-create": 0, "idem-merge-1": 1, "idem-merge-2": 2} {
			id, got, err := w.tx.TicketIDByIdempotencyKey(key)
			assert.NoError(t, err, "TicketIDByIdempotencyKey(%s), %s", key, when)
			assert.Equal(t, orig.ID, id, "TicketIDByIdempotencyKey(%s), %s", key, when)
			assert.Equal(t, source, got, "TicketIDByIdempotencyKey(%s): which source the request's draft is, %s", key, when)
		}
	}
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		if orig, _, err = w.create(threadDraft("3号线急停按钮失灵", "th-1", "dk-create"), "idem-create", ""); err != nil {
			return err
		}
		if _, _, err = w.merge(orig.ID, threadDraft("急停再次触发", "th-1", "dk-merge-1"), "idem-merge-1"); err != nil {
			return err
		}
		return nil
	}))
	require.NoError(t, f.write(func(w *writer) error {
		merged, _, err := w.merge(orig.ID, threadDraft("急停第三次触发", "th-1", "dk-merge-2"), "idem-merge-2")
		if err != nil {
			return err
		}
		assert.Len(t, merged.Sources, 3, "the suite meant three sources")
		check(w, "in the Write that merged")
		return nil
	}))
	require.NoError(t, f.write(func(w *writer) error {
		check(w, "in a later Write")
		return nil
	}))
	got, err := f.s.Ticket(f.ctx, orig.ID)
	require.NoError(t, err)
	assert.Len(t, got.Sources, 3, "Ticket must read back every source")
	assert.Equal(t, int64(3), got.Version)
	// Merges without keys take none, and never conflict.
	require.NoError(t, f.write(func(w *writer) error {
		for range 2 {
			if _, _, err := w.merge(orig.ID, threadDraft("急停又触发", "th-1", ""), ""); err != nil {
				return err
			}
		}
		return nil
	}))
}

// testMergeConflicts: a Merge whose dedup key, idempotency key or version is taken fails with
// ErrConflict, keeps nothing (no key, no event, no change), and the Write carries on; an Insert
// with a merged draft's dedup key conflicts too.
func testMergeConflicts(t *testing.T, f *fixture) {
	var target ticket.Ticket
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		if target, _, err = w.create(threadDraft("3号线急停按钮失灵", "th-1", "dk-create"), "idem-create", ""); err != nil {
			return err
		}
		if _, _, err = w.create(threadDraft("空压机异响", "th-2", "dk-other"), "", ""); err != nil {
			return err
		}
		_, _, err = w.merge(target.ID, threadDraft("急停再次触发", "th-1", "dk-merged"), "idem-merged")
		return err
	}))

	cases := []struct {
		name        string
		dedup, idem string
		stale       bool
	}{
		{"dedup key of the creating draft", "dk-create", "idem-fresh-1", false},
		{"dedup key of a merged draft", "dk-merged", "idem-fresh-2", false},
		{"dedup key of another ticket", "dk-other", "idem-fresh-3", false},
		{"idempotency key of the creation", "dk-fresh-4", "idem-create", false},
		{"idempotency key of a merge", "dk-fresh-5", "idem-merged", false},
		{"version", "dk-fresh-6", "idem-fresh-6", true},
	}
	for _, c := range cases {
		before, beforeEvents := f.want(target.ID)
		require.NoError(t, f.write(func(w *writer) error {
			tk := before
			if c.stale {
				// decided on the ticket as it was before its last event
				var err error
				if tk, err = ticket.Fold(beforeEvents[:len(beforeEvents)-1]); err != nil {
					return err
				}
			}
			ev, err := ticket.AddSource(tk, threadDraft("急停", "th-1", c.dedup), system, f.tick(), "")
			require.NoError(t, err)
			next, err := ticket.Apply(tk, ev)
			require.NoError(t, err)
			_, err = w.Merge(next, ev, store.DraftKeys{DedupKey: c.dedup, IdempotencyKey: c.idem})
			assert.ErrorIs(t, err, store.ErrConflict, "Merge with a taken %s", c.name)
			got, err := w.tx.Ticket(target.ID)
			if assert.NoError(t, err) {
				assertSameJSON(t, before, got, "%s: a conflicting Merge must not change the ticket", c.name)
			}
			if c.dedup != "dk-create" && c.dedup != "dk-merged" && c.dedup != "dk-other" {
				_, err := w.tx.TicketIDByDedupKey(c.dedup)
				assert.ErrorIs(t, err, store.ErrNotFound, "%s: a conflicting Merge must not keep its dedup key", c.name)
			}
			if c.idem != "idem-create" && c.idem != "idem-merged" {
				_, _, err := w.tx.TicketIDByIdempotencyKey(c.idem)
				assert.ErrorIs(t, err, store.ErrNotFound, "%s: a conflicting Merge must not keep its idempotency key", c.name)
			}
			// Carry on: the same draft under fresh keys goes through in the same Write.
			_, _, err = w.merge(target.ID, threadDraft("急停", "th-1", "fresh-"+c.name), "fresh-"+c.name)
			return err
		}), c.name)
		evs, err := f.s.Events(f.ctx, target.ID)
		require.NoError(t, err)
		assert.Len(t, evs, len(beforeEvents)+1, "%s: only the Merge under fresh keys is kept", c.name)
	}

	// A new ticket cannot take a merged draft's dedup key.
	require.NoError(t, f.write(func(w *writer) error {
		n, err := w.tx.NextNumber(dayKey)
		if err != nil {
			return err
		}
		ev, tk := build(ticket.FormatID(start, n), threadDraft("重复的告警", "", "dk-merged"), "", f.tick())
		_, err = w.Insert(tk, ev, "idem-insert-fresh")
		assert.ErrorIs(t, err, store.ErrConflict, "Insert with the dedup key of a merged draft")
		_, _, err = w.tx.TicketIDByIdempotencyKey("idem-insert-fresh")
		assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert must not keep its idempotency key")
		_, err = w.tx.Ticket(tk.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "a conflicting Insert must not keep its ticket")
		id, err := w.tx.TicketIDByDedupKey("dk-merged")
		assert.NoError(t, err)
		assert.Equal(t, target.ID, id, "the merged draft's key still leads to the ticket it went into")
		return nil
	}))
}

// testOpenTicketByThreadKey: a thread key finds the newest open ticket of its thread, and
// follows the tickets' states as they change.
func testOpenTicketByThreadKey(t *testing.T, f *fixture) {
	lookup := func(w *writer, key string) string {
		t.Helper()
		id, err := w.tx.OpenTicketIDByThreadKey(key)
		if err != nil {
			assert.ErrorIs(t, err, store.ErrNotFound, "OpenTicketIDByThreadKey(%s)", key)
			return ""
		}
		return id
	}
	read := func(key string) string {
		t.Helper()
		var id string
		require.NoError(t, f.write(func(w *writer) error { id = lookup(w, key); return nil }))
		return id
	}
	assert.Empty(t, read("th-1"), "an empty store has no threads")

	var a, b, c ticket.Ticket
	require.NoError(t, f.write(func(w *writer) error {
		var err error
		if a, _, err = w.create(threadDraft("急停按钮失灵", "th-1", ""), "", ""); err != nil {
			return err
		}
		assert.Equal(t, a.ID, lookup(w, "th-1"), "in the Write that created it")
		if b, _, err = w.create(threadDraft("急停按钮又失灵", "th-1", ""), "", ""); err != nil {
			return err
		}
		if c, _, err = w.create(threadDraft("空压机异响", "th-2", ""), "", ""); err != nil {
			return err
		}
		_, _, err = w.create(newDraft("没有线索的工单"), "", "")
		assert.Equal(t, b.ID, lookup(w, "th-1"), "the newest of two open tickets, in the same Write")
		return err
	}))
	assert.Equal(t, b.ID, read("th-1"), "the newest of two open tickets")
	assert.Equal(t, c.ID, read("th-2"))
	assert.Empty(t, read(""), "the empty thread key is none")
	assert.Empty(t, read("th-3"))

	steps := []struct {
		id   string
		cmds []ticket.Command
		th1  string
		th2  string
	}{
		{b.ID, []ticket.Command{assign("eng-li", "suzhou-a"), accept("eng-li"), startWork("eng-li")}, b.ID, c.ID},
		{c.ID, []ticket.Command{escalate("客户投诉")}, b.ID, c.ID}, // escalated is open
		{b.ID, []ticket.Command{forceClose("客户失联")}, a.ID, c.ID},
		{a.ID, []ticket.Command{reject("重复报修")}, "", c.ID},
		{b.ID, []ticket.Command{reopen("客户说又坏了")}, b.ID, c.ID},
		{b.ID, []ticket.Command{resolve("eng-li", "更换急停按钮")}, "", c.ID}, // resolved is not open
		{c.ID, []ticket.Command{reject("误报")}, "", ""},
	}
	for i, s := range steps {
		var inWrite string
		require.NoError(t, f.write(func(w *writer) error {
			for _, cmd := range s.cmds {
				if _, _, err := w.act(s.id, cmd); err != nil {
					return err
				}
			}
			inWrite = lookup(w, "th-1")
			return nil
		}))
		assert.Equal(t, s.th1, inWrite, "step %d: th-1 in the Write that moved %s", i, s.id)
		assert.Equal(t, s.th1, read("th-1"), "step %d: th-1", i)
		assert.Equal(t, s.th2, read("th-2"), "step %d: th-2", i)
	}
}

// testRecentlyClosed: a new request finds the ticket it repeats: the most recently closed one
// of its device (whatever the category), or of its customer with its category, closed within
// the window.
func testRecentlyClosed(t *testing.T, f *fixture) {
	mk := func(title string, c draft.Customer, device, category string) draft.Draft {
		d := newDraft(title)
		d.Customer, d.Device.ID, d.Category = c, device, category
		return d
	}
	wang := draft.Customer{ID: "c-1001", Name: "王建国", Phone: "13812345678"}
	li := draft.Customer{Name: "李娜", Phone: "13900001111"}
	tks := f.mustCreate(
		mk("急停按钮失灵", wang, "PLC-1", "electrical"),  // 0: closed
		mk("急停按钮又失灵", li, "", "electrical"),        // 1: closed, a customer known by phone
		mk("传送带卡死", wang, "", "mechanical"),        // 2: closed, another category
		mk("急停指示灯不亮", wang, "PLC-1", "electrical"), // 3: open
		mk("急停误报", wang, "PLC-1", "electrical"),    // 4: rejected, archived: never closed
		mk("急停按钮第三次失灵", wang, "", "electrical"),    // 5: closed later than 0
		mk("没有分类", wang, "PLC-2", ""),              // 6: closed, no category, another device
	)
	closedAt := func(i int) time.Time {
		tk, _ := f.want(tks[i].ID)
		require.False(t, tk.ClosedAt.IsZero(), "the suite meant %s to be closed", tk.ID)
		return tk.ClosedAt
	}
	closeNow := func(i int) {
		f.mustAct(tks[i].ID, forceClose("客户确认已修复"))
	}
	for _, i := range []int{0, 1, 2, 6} {
		closeNow(i)
	}
	f.mustAct(tks[3].ID, assign("eng-li", ""))
	f.mustAct(tks[4].ID, reject("误报"), archive())

	wide := func(q store.RepeatQuery) store.RepeatQuery {
		q.ClosedFrom, q.ClosedTo = start.Add(-time.Hour), start.Add(30*24*time.Hour)
		return q
	}
	find := func(q store.RepeatQuery) string {
		t.Helper()
		var id string
		require.NoError(t, f.write(func(w *writer) error {
			var err error
			id, err = w.tx.RecentlyClosed(q)
			if err != nil {
				assert.ErrorIs(t, err, store.ErrNotFound, "RecentlyClosed(%+v)", q)
				id = ""
			}
			return nil
		}))
		return id
	}
	wangKey, liKey := ticket.CustomerKey(wang), ticket.CustomerKey(li)
	cases := []struct {
		name string
		q    store.RepeatQuery
		want string
	}{
		{"by customer", wide(store.RepeatQuery{CustomerKey: wangKey, Category: "electrical"}), tks[0].ID},
		{"by device", wide(store.RepeatQuery{DeviceID: "PLC-1", Category: "electrical"}), tks[0].ID},
		{"customer matches, device does not", wide(store.RepeatQuery{CustomerKey: wangKey, DeviceID: "PLC-9", Category: "electrical"}), tks[0].ID},
		{"device matches, customer does not", wide(store.RepeatQuery{CustomerKey: "id:c-9", DeviceID: "PLC-1", Category: "electrical"}), tks[0].ID},
		{"a customer known by phone", wide(store.RepeatQuery{CustomerKey: liKey, Category: "electrical"}), tks[1].ID},
		{"a phone is not an id", wide(store.RepeatQuery{CustomerKey: "id:13900001111", Category: "electrical"}), ""},
		{"another category", wide(store.RepeatQuery{CustomerKey: wangKey, Category: "mechanical"}), tks[2].ID},
		{"no such category, but the device", wide(store.RepeatQuery{CustomerKey: wangKey, DeviceID: "PLC-1", Category: "hydraulics"}), tks[0].ID},
		{"no category, but the device", wide(store.RepeatQuery{CustomerKey: wangKey, DeviceID: "PLC-1"}), tks[0].ID},
		{"no such category, a customer alone", wide(store.RepeatQuery{CustomerKey: wangKey, Category: "hydraulics"}), ""},
		{"no category, a customer alone", wide(store.RepeatQuery{CustomerKey: wangKey}), ""},
		{"a device's ticket of no category", wide(store.RepeatQuery{DeviceID: "PLC-2", Category: "electrical"}), tks[6].ID},
		{"neither customer nor device", wide(store.RepeatQuery{Category: "electrical"}), ""},
		{"closed at the window's start", store.RepeatQuery{CustomerKey: wangKey, Category: "electrical",
			ClosedFrom: closedAt(0), ClosedTo: closedAt(0).Add(time.Hour)}, tks[0].ID},
		{"closed at the window's end", store.RepeatQuery{CustomerKey: wangKey, Category: "electrical",
			ClosedFrom: closedAt(0).Add(-time.Hour), ClosedTo: closedAt(0)}, tks[0].ID},
		{"closed before the window", store.RepeatQuery{CustomerKey: wangKey, Category: "electrical",
			ClosedFrom: closedAt(0).Add(time.Nanosecond), ClosedTo: closedAt(0).Add(time.Hour)}, ""},
		{"closed after the window", store.RepeatQuery{CustomerKey: wangKey, Category: "electrical",
			ClosedFrom: closedAt(0).Add(-time.Hour), ClosedTo: closedAt(0).Add(-time.Nanosecond)}, ""},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, find(c.q), c.name)
	}

	q := wide(store.RepeatQuery{CustomerKey: wangKey, DeviceID: "PLC-1", Category: "electrical"})
	closeNow(5)
	assert.Equal(t, tks[5].ID, find(q), "the most recently closed of two")
	f.mustAct(tks[5].ID, archive())
	assert.Equal(t, tks[5].ID, find(q), "archived after it was closed: still closed then")
	f.mustAct(tks[0].ID, reopen("客户说又坏了"))
	assert.Equal(t, tks[5].ID, find(q), "a reopened ticket is not closed")
	q0 := wide(store.RepeatQuery{DeviceID: "PLC-1", Category: "electrical"})
	assert.Empty(t, find(q0), "the reopened ticket was the device's only closed one")
	var inWrite string
	require.NoError(t, f.write(func(w *writer) error {
		if _, _, err := w.act(tks[0].ID, forceClose("客户确认已修复")); err != nil {
			return err
		}
		var err error
		inWrite, err = w.tx.RecentlyClosed(q)
		return err
	}))
	assert.Equal(t, tks[0].ID, inWrite, "closed again, in the same Write: now the most recently closed")
	assert.Equal(t, tks[0].ID, find(q), "closed again: now the most recently closed")
}
