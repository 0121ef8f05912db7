package storetest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// listScenario creates the tickets the List tests filter, in this order, and moves them to
// the states their commands lead to. Fillers (blue, new, no keyword) follow.
func listScenario(f *fixture, fillers int) []ticket.Ticket {
	f.t.Helper()
	withCustomer := func(d draft.Draft, name, phone, org string) draft.Draft {
		d.Customer = draft.Customer{Name: name, Phone: phone, Org: org}
		return d
	}
	withUrgency := func(d draft.Draft, u draft.Urgency) draft.Draft {
		d.Urgency = u
		return d
	}
	robot := newDraft("机器人示教器黑屏")
	robot.Device = draft.Device{ID: "RB-2040", Model: "IRB 2600"}
	robot.Location = draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州"}
	compressor := newDraft("空压机异响")
	compressor.Description = "二号空压机运行时有异响"
	specs := []struct {
		d    draft.Draft
		cmds []ticket.Command
	}{
		/* 0 */ {withUrgency(withCustomer(newDraft("3号线急停按钮失灵"), "王建国", "13812345678", ""), draft.UrgencyRed),
			[]ticket.Command{assign("eng-li", "suzhou-a"), accept("eng-li"), startWork("eng-li")}}, // in_progress
		/* 1 */ {withUrgency(withCustomer(compressor, "李娜", "13900001111", ""), draft.UrgencyYellow), nil}, // new
		/* 2 */ {withUrgency(withCustomer(newDraft("注塑机温控报警"), "张伟", "13700002222", "苏州精密"), draft.UrgencyOrange),
			[]ticket.Command{assign("eng-zhao", "suzhou-b")}}, // assigned
		/* 3 */ {newDraft("重复报修：急停按钮"), []ticket.Command{reject("重复报修")}}, // rejected
		/* 4 */ {withUrgency(robot, draft.UrgencyRed), []ticket.Command{assign("eng-zhao", "suzhou-a")}}, // assigned
		/* 5 */ {withUrgency(newDraft("AGV 无法充电"), draft.UrgencyOrange), []ticket.Command{escalate("客户投诉")}}, // escalated
		/* 6 */ {newDraft("冷却水泵漏水"), []ticket.Command{assign("eng-li", "wuxi"), accept("eng-li")}}, // accepted
		/* 7 */ {withUrgency(newDraft("急停回路检查"), draft.UrgencyYellow), []ticket.Command{assign("eng-wu", "wuxi")}}, // assigned
	}
	var drafts []draft.Draft
	for _, s := range specs {
		drafts = append(drafts, s.d)
	}
	for i := range fillers {
		drafts = append(drafts, withCustomer(newDraft(fmt.Sprintf("例行巡检 第%02d台设备", i+1)), "赵敏", fmt.Sprintf("136000000%02d", i+1), ""))
	}
	tks := f.mustCreate(drafts...)
	for i, s := range specs {
		if len(s.cmds) > 0 {
			tks[i] = f.mustAct(tks[i].ID, s.cmds...)
		}
	}
	return tks
}

func testListFilters(t *testing.T, f *fixture) {
	const fillers = 20
	tks := listScenario(f, fillers)
	var fillerIdx []int
	for i := range fillers {
		fillerIdx = append(fillerIdx, 8+i)
	}
	states := func(s ...ticket.State) []ticket.State { return s }
	strs := func(s ...string) []string { return s }
	cases := []struct {
		name string
		q    store.Query
		want []int // indexes into tks
	}{
		{"no filter", store.Query{}, append([]int{0, 1, 2, 3, 4, 5, 6, 7}, fillerIdx...)},
		{"one state", store.Query{States: states(ticket.StateAssigned)}, []int{2, 4, 7}},
		{"two states", store.Query{States: states(ticket.StateAssigned, ticket.StateRejected)}, []int{2, 3, 4, 7}},
		{"three states", store.Query{States: states(ticket.StateInProgress, ticket.StateEscalated, ticket.StateAccepted)}, []int{0, 5, 6}},
		{"a state nobody is in", store.Query{States: states(ticket.StateClosed)}, nil},
		{"one assignee", store.Query{Assignees: strs("eng-li")}, []int{0, 6}},
		{"two assignees", store.Query{Assignees: strs("eng-li", "eng-zhao")}, []int{0, 2, 4, 6}},
		{"an unknown assignee", store.Query{Assignees: strs("eng-nobody")}, nil},
		{"one team", store.Query{Teams: strs("suzhou-a")}, []int{0, 4}},
		{"two teams", store.Query{Teams: strs("suzhou-a", "wuxi")}, []int{0, 4, 6, 7}},
		{"one urgency", store.Query{Urgencies: strs("red")}, []int{0, 4}},
		{"two urgencies", store.Query{Urgencies: strs("red", "orange")}, []int{0, 2, 4, 5}},
		{"Chinese in titles", store.Query{Q: "急停"}, []int{0, 3, 7}},
		{"Chinese in a description", store.Query{Q: "二号空压机"}, []int{1}},
		{"a phone number", store.Query{Q: "13900001111"}, []int{1}},
		{"part of a phone number", store.Query{Q: "0001111"}, []int{1}},
		{"a ticket id", store.Query{Q: tks[5].ID}, []int{5}},
		{"a customer name", store.Query{Q: "李娜"}, []int{1}},
		{"a customer org", store.Query{Q: "苏州精密"}, []int{2}},
		{"a device id", store.Query{Q: "RB-2040"}, []int{4}},
		{"an address", store.Query{Q: "星湖街"}, []int{4}},
		{"a LIKE wildcard is literal", store.Query{Q: "%"}, nil},
		{"a LIKE single-character wildcard is literal", store.Query{Q: "_"}, nil},
		{"text nobody wrote", store.Query{Q: "变频器"}, nil},
		{"a customer", store.Query{Customer: ticket.CustomerKey(tks[1].Customer)}, []int{1}},
		{"a customer nobody is", store.Query{Customer: "phone:10000000000"}, nil},
		{"a customer and a state", store.Query{Customer: ticket.CustomerKey(tks[1].Customer), States: states(ticket.StateClosed)}, nil},
		{"state and team", store.Query{States: states(ticket.StateAssigned), Teams: strs("suzhou-a")}, []int{4}},
		{"assignee and text", store.Query{Assignees: strs("eng-li"), Q: "急停"}, []int{0}},
		{"urgency and states", store.Query{Urgencies: strs("yellow"), States: states(ticket.StateAssigned, ticket.StateNew)}, []int{1, 7}},
		{"state and urgency, many", store.Query{States: states(ticket.StateNew), Urgencies: strs("blue")}, fillerIdx},
		{"all four and text", store.Query{States: states(ticket.StateAssigned, ticket.StateInProgress), Assignees: strs("eng-zhao", "eng-li"),
			Teams: strs("suzhou-a"), Urgencies: strs("red"), Q: "黑屏"}, []int{4}},
	}
	for _, c := range cases {
		var want []ticket.Ticket
		for _, i := range slices.Backward(slices.Sorted(slices.Values(c.want))) {
			want = append(want, tks[i])
		}
		// Once in pages of 3, once in one page: the filters must hold across pages too.
		for _, limit := range []int{3, store.MaxLimit} {
			q := c.q
			q.Limit = limit
			got := listAll(t, f, q)
			assert.Equal(t, ids(want), ids(got), "%s (limit %d): the matching tickets, newest first", c.name, limit)
		}
	}
	// The pages hold the tickets as stored, not a summary.
	got := listAll(t, f, store.Query{Q: "急停"})
	assertSameJSON(t, []ticket.Ticket{tks[7], tks[3], tks[0]}, got, "List must return whole tickets")
}

// testListNewestFirst: newest means most recently created; an update does not move a
// ticket, or paging would skip or repeat it.
func testListNewestFirst(t *testing.T, f *fixture) {
	var created []ticket.Ticket
	for i := range 4 {
		created = append(created, f.mustCreate(newDraft(fmt.Sprintf("单独创建 %d", i)))...)
	}
	created = append(created, f.mustCreate(newDraft("同批 1"), newDraft("同批 2"), newDraft("同批 3"))...)
	f.mustAct(created[0].ID, assign("eng-li", "suzhou-a"))
	f.mustAct(created[2].ID, reject("重复报修"))

	var want []string
	for _, tk := range slices.Backward(created) {
		want = append(want, tk.ID)
	}
	assert.Equal(t, want, ids(listAll(t, f, store.Query{})), "List must be newest first")
	assert.Equal(t, want, ids(listAll(t, f, store.Query{Limit: 2})), "List must be newest first across pages")
}

func testListPaging(t *testing.T, f *fixture) {
	const n = 23
	listScenario(f, n-8)
	want := ids(f.newestFirst())
	require.Len(t, want, n)
	for _, limit := range []int{1, 5, n - 1, n, n + 1, 100} {
		pages := listPages(t, f, store.Query{Limit: limit})
		var got []string
		for i, page := range pages {
			if i < len(pages)-1 {
				assert.Len(t, page, limit, "limit %d: every page but the last is full", limit)
			}
			got = append(got, ids(page)...)
		}
		assert.Equal(t, want, got, "limit %d: paging must visit every ticket once, newest first", limit)
		assert.Len(t, pages, (n+limit-1)/limit, "limit %d: the page that ends the list has no NextCursor", limit)
	}
	// With a filter, across pages.
	assigned := listPages(t, f, store.Query{States: []ticket.State{ticket.StateAssigned}, Limit: 2})
	if assert.Len(t, assigned, 2, "3 assigned tickets in pages of 2") {
		assert.Len(t, assigned[1], 1)
	}
}

// testListPagingWhileWriting: tickets created or changed between two pages neither repeat
// nor push a ticket out of the pages still to come.
func testListPagingWhileWriting(t *testing.T, f *fixture) {
	var drafts []draft.Draft
	for i := range 12 {
		drafts = append(drafts, newDraft(fmt.Sprintf("巡检 %d", i)))
	}
	tks := f.mustCreate(drafts...)
	want := ids(f.newestFirst())

	first, err := f.s.List(f.ctx, store.Query{Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, first.NextCursor)

	f.mustCreate(newDraft("新来的 1"), newDraft("新来的 2"), newDraft("新来的 3"))
	f.mustAct(tks[0].ID, assign("eng-li", "suzhou-a")) // oldest: on the last page
	f.mustAct(tks[len(tks)-1].ID, reject("重复报修"))      // newest: on the first page

	got := ids(first.Tickets)
	got = append(got, ids(listAll(t, f, store.Query{Limit: 5, Cursor: first.NextCursor}))...)
	assert.Equal(t, want, got, "paging must carry on where it was, whatever was written meanwhile")
}

func testListBadCursor(t *testing.T, f *fixture) {
	f.mustCreate(newDraft("空压机异响"), newDraft("冷却水泵漏水"))
	for _, cursor := range []string{
		"not a cursor!",
		base64.RawURLEncoding.EncodeToString([]byte("foobar")),
		"%%%",
	} {
		_, err := f.s.List(f.ctx, store.Query{Cursor: cursor})
		assert.Error(t, err, "List with cursor %q must fail", cursor)
	}
}

func testListDefaultLimit(t *testing.T, f *fixture) {
	testListCapped(t, f, store.DefaultLimit, 0)
}

func testListMaxLimit(t *testing.T, f *fixture) {
	testListCapped(t, f, store.MaxLimit, store.MaxLimit*2)
}

// testListCapped checks that List with the given Limit returns pages of size.
func testListCapped(t *testing.T, f *fixture, size, limit int) {
	const extra = 7
	drafts := make([]draft.Draft, size+extra)
	for i := range drafts {
		drafts[i] = newDraft(fmt.Sprintf("巡检 %d", i))
	}
	f.mustCreate(drafts...)
	want := ids(f.newestFirst())

	first, err := f.s.List(f.ctx, store.Query{Limit: limit})
	require.NoError(t, err)
	assert.Len(t, first.Tickets, size, "List with Limit %d", limit)
	require.NotEmpty(t, first.NextCursor, "List with Limit %d: more tickets follow", limit)
	second, err := f.s.List(f.ctx, store.Query{Limit: limit, Cursor: first.NextCursor})
	require.NoError(t, err)
	assert.Len(t, second.Tickets, extra, "List with Limit %d, second page", limit)
	assert.Empty(t, second.NextCursor, "List with Limit %d, second page is the last", limit)
	assert.Equal(t, want, append(ids(first.Tickets), ids(second.Tickets)...))
}

func testEventsAfter(t *testing.T, f *fixture) {
	// Events of three Writes, interleaved across tickets; each Write's events in call order.
	var writes [][]ticket.Event
	write := func(fn func(w *writer) ([]ticket.Event, error)) {
		t.Helper()
		require.NoError(t, f.write(func(w *writer) error {
			evs, err := fn(w)
			if err == nil {
				writes = append(writes, evs)
			}
			return err
		}))
	}
	var tks []ticket.Ticket
	write(func(w *writer) ([]ticket.Event, error) {
		var evs []ticket.Event
		for _, title := range []string{"空压机异响", "冷却水泵漏水", "AGV 无法充电"} {
			tk, ev, err := w.create(newDraft(title), "", "")
			if err != nil {
				return nil, err
			}
			tks = append(tks, tk)
			evs = append(evs, ev)
		}
		return evs, nil
	})
	write(func(w *writer) ([]ticket.Event, error) {
		var evs []ticket.Event
		for _, step := range []struct {
			i   int
			cmd ticket.Command
		}{{0, assign("eng-li", "")}, {2, escalate("客户投诉")}, {1, assign("eng-zhao", "")}, {0, accept("eng-li")}} {
			_, ev, err := w.act(tks[step.i].ID, step.cmd)
			if err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		return evs, nil
	})
	write(func(w *writer) ([]ticket.Event, error) {
		_, created, err := w.create(newDraft("注塑机温控报警"), "", "")
		if err != nil {
			return nil, err
		}
		_, started, err := w.act(tks[0].ID, startWork("eng-li"))
		return []ticket.Event{created, started}, err
	})

	var want []ticket.Event
	for _, evs := range writes {
		want = append(want, evs...)
	}
	for i := 1; i < len(want); i++ {
		require.Greater(t, want[i].ID, want[i-1].ID,
			"event ids must grow in the order events were written, Write after Write and call after call")
	}
	all, err := f.s.EventsAfter(f.ctx, 0, 100)
	require.NoError(t, err)
	assertSameJSON(t, want, all, "EventsAfter(0) must return every event in id order")
	require.Len(t, all, 9)

	for _, c := range []struct {
		after int64
		limit int
		want  []ticket.Event
	}{
		{0, 3, want[:3]},
		{want[2].ID, 3, want[3:6]},
		{want[5].ID, 100, want[6:]},
		{want[0].ID, 1, want[1:2]},
		{want[8].ID, 10, nil},
		{want[8].ID + 1000, 10, nil},
	} {
		got, err := f.s.EventsAfter(f.ctx, c.after, c.limit)
		require.NoError(t, err)
		assert.Equal(t, eventIDs(c.want), eventIDs(got), "EventsAfter(%d, %d)", c.after, c.limit)
	}
}

func eventIDs(evs []ticket.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func testCountByState(t *testing.T, f *fixture) {
	check := func(want map[ticket.State]int64, when string) {
		t.Helper()
		got, err := f.s.CountByState(f.ctx)
		require.NoError(t, err)
		for st, n := range got {
			assert.Contains(t, ticket.States, st, "CountByState %s: unknown state", when)
			if n != 0 {
				assert.Equal(t, want[st], n, "CountByState %s: %s", when, st)
			}
		}
		for st, n := range want {
			assert.Equal(t, n, got[st], "CountByState %s: %s", when, st)
		}
	}
	check(nil, "of an empty store")

	tks := listScenario(f, 3)
	want := map[ticket.State]int64{
		ticket.StateNew: 4, ticket.StateAssigned: 3, ticket.StateInProgress: 1, ticket.StateRejected: 1,
		ticket.StateEscalated: 1, ticket.StateAccepted: 1,
	}
	check(want, "after creating and moving tickets")

	f.mustAct(tks[7].ID, accept("eng-wu"), startWork("eng-wu"))
	f.mustAct(tks[1].ID, reject("垃圾信息"))
	want[ticket.StateAssigned]--
	want[ticket.StateInProgress]++
	want[ticket.StateNew]--
	want[ticket.StateRejected]++
	check(want, "after moving more")
}
