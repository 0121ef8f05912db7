package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// queueScenario creates the tickets the console's queue filters (connector, tags, SLA
// status): ten tickets, with due times on the SLA board relative to now.
//
//	0 wechat  [急停]        due now-2h  (breached)
//	1 hotline [急停 催单]    due now+30m (at risk)
//	2 wechat  []            due now+3h  (on time)
//	3 mqtt    [急停]        no clock
//	4 hotline [催单]        due now-1m  (breached)
//	5 wechat  [催单 急停]    due now+59m (at risk)
//	6 mqtt    []            due now+5h  (on time)
//	7-9 wechat []           no clock
func queueScenario(f *fixture) ([]ticket.Ticket, time.Time) {
	f.t.Helper()
	specs := []struct {
		connector string
		tags      []string
	}{
		{"wechat", []string{"急停"}}, {"hotline", []string{"急停", "催单"}}, {"wechat", nil}, {"mqtt", []string{"急停"}},
		{"hotline", []string{"催单"}}, {"wechat", []string{"催单", "急停"}}, {"mqtt", nil},
		{"wechat", nil}, {"wechat", nil}, {"wechat", nil},
	}
	var drafts []draft.Draft
	for i, s := range specs {
		d := newDraft(fmt.Sprintf("队列 %d", i))
		d.Source.Connector = s.connector
		d.Tags = append([]string{}, s.tags...)
		drafts = append(drafts, d)
	}
	tks := f.mustCreate(drafts...)
	now := f.tick()
	dues := map[int]time.Duration{0: -2 * time.Hour, 1: 30 * time.Minute, 2: 3 * time.Hour, 4: -time.Minute,
		5: 59 * time.Minute, 6: 5 * time.Hour}
	require.NoError(f.t, f.write(func(w *writer) error {
		var errs []error
		for i, d := range dues {
			errs = append(errs, w.tx.SetBoardDue(store.BoardEntry{TicketID: tks[i].ID, Due: now.Add(d)}))
		}
		return errors.Join(errs...)
	}))
	return tks, now
}

func testListQueueFilters(t *testing.T, f *fixture) {
	tks, now := queueScenario(f)
	strs := func(s ...string) []string { return s }
	cases := []struct {
		name string
		q    store.Query
		want []int // newest first
	}{
		{"one connector", store.Query{Connectors: strs("hotline")}, []int{4, 1}},
		{"two connectors", store.Query{Connectors: strs("hotline", "mqtt")}, []int{6, 4, 3, 1}},
		{"a connector nobody used", store.Query{Connectors: strs("email")}, nil},
		{"one tag", store.Query{Tags: strs("急停")}, []int{5, 3, 1, 0}},
		{"two tags, both must be on", store.Query{Tags: strs("急停", "催单")}, []int{5, 1}},
		{"a tag nobody has", store.Query{Tags: strs("漏水")}, nil},
		{"breached", store.Query{SLA: store.SLABreached, Now: now}, []int{4, 0}},
		{"at risk", store.Query{SLA: store.SLAAtRisk, Now: now}, []int{5, 1}},
		{"on time", store.Query{SLA: store.SLAOnTime, Now: now}, []int{6, 2}},
		{"no SLA", store.Query{SLA: store.SLANone, Now: now}, []int{9, 8, 7, 3}},
		{"tag and connector", store.Query{Tags: strs("催单"), Connectors: strs("wechat")}, []int{5}},
		{"tag and SLA", store.Query{Tags: strs("急停"), SLA: store.SLABreached, Now: now}, []int{0}},
		{"sorted by due", store.Query{Sort: store.SortDue, Now: now}, []int{0, 4, 1, 5, 2, 6}},
		{"sorted by due, at risk", store.Query{Sort: store.SortDue, SLA: store.SLAAtRisk, Now: now}, []int{1, 5}},
		{"sorted by due, a tag", store.Query{Sort: store.SortDue, Tags: strs("急停")}, []int{0, 1, 5}},
		{"sorted by due, no SLA", store.Query{Sort: store.SortDue, SLA: store.SLANone, Now: now}, nil},
		{"a state asked twice", store.Query{States: []ticket.State{ticket.StateNew, ticket.StateNew}}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"states and a tag", store.Query{States: []ticket.State{ticket.StateNew, ticket.StateAssigned}, Tags: strs("催单")}, []int{5, 4, 1}},
	}
	for _, c := range cases {
		want := []string{}
		for _, i := range c.want {
			want = append(want, tks[i].ID)
		}
		for _, limit := range []int{1, 2, store.MaxLimit} {
			q := c.q
			q.Limit = limit
			assert.Equal(t, want, append([]string{}, ids(listAll(t, f, q))...), "%s (limit %d)", c.name, limit)
		}
	}
	// Each page says when its tickets fall due.
	page, err := f.s.List(f.ctx, store.Query{Sort: store.SortDue, Limit: 2})
	require.NoError(t, err)
	if assert.Len(t, page.Due, 2) {
		assert.True(t, now.Add(-2*time.Hour).Equal(page.Due[tks[0].ID]), "%v", page.Due)
		assert.True(t, now.Add(-time.Minute).Equal(page.Due[tks[4].ID]), "%v", page.Due)
	}
	page, err = f.s.List(f.ctx, store.Query{})
	require.NoError(t, err)
	assert.Len(t, page.Due, 6, "the newest page carries the due times of the tickets on the board")
	assert.NotContains(t, page.Due, tks[3].ID)
}

// testListQueueTagsChange: a tag added after creation (a routing rule's, with an assignment)
// is found by the tag filter, and the ticket's other tags still are.
func testListQueueTagsChange(t *testing.T, f *fixture) {
	tks, _ := queueScenario(f)
	f.mustAct(tks[2].ID, ticket.Command{Action: ticket.ActionAssign, Actor: dispatcher,
		Data: rawJSON(ticket.AssignData{Assignee: "eng-li", Team: "suzhou-a", Set: &ticket.Classification{Tags: []string{"漏水"}}})})
	f.mustAct(tks[3].ID, ticket.Command{Action: ticket.ActionAssign, Actor: dispatcher,
		Data: rawJSON(ticket.AssignData{Assignee: "eng-li", Team: "suzhou-a", Set: &ticket.Classification{Tags: []string{"漏水"}}})})
	assert.Equal(t, []string{tks[3].ID, tks[2].ID}, ids(listAll(t, f, store.Query{Tags: []string{"漏水"}})))
	assert.Equal(t, []string{tks[5].ID, tks[3].ID, tks[1].ID, tks[0].ID}, ids(listAll(t, f, store.Query{Tags: []string{"急停"}})))
	assert.Equal(t, []string{tks[3].ID}, ids(listAll(t, f, store.Query{Tags: []string{"漏水", "急停"}})))
}

// testListDuePaging: paging nearest due first visits every ticket on the board once, in
// order, tickets due at the same instant included, and a due time moved between two pages
// neither repeats a ticket already shown earlier in the order nor loses one still to come.
func testListDuePaging(t *testing.T, f *fixture) {
	var drafts []draft.Draft
	for i := range 13 {
		drafts = append(drafts, newDraft(fmt.Sprintf("到期 %d", i)))
	}
	tks := f.mustCreate(drafts...)
	now := f.tick()
	require.NoError(t, f.write(func(w *writer) error {
		var errs []error
		for i, tk := range tks {
			// pairs due at the same instant, so the tie is broken by the id
			errs = append(errs, w.tx.SetBoardDue(store.BoardEntry{TicketID: tk.ID, Due: now.Add(time.Duration(6-i/2) * time.Minute)}))
		}
		return errors.Join(errs...)
	}))
	var want []string
	for i := 12; i >= 0; i -= 2 {
		if i == 12 {
			want = append(want, tks[12].ID)
			continue
		}
		want = append(want, tks[i].ID, tks[i+1].ID) // ids increase within a day
	}
	for _, limit := range []int{1, 2, 3, 13, 14} {
		pages := listPages(t, f, store.Query{Sort: store.SortDue, Limit: limit})
		var got []string
		for _, p := range pages {
			got = append(got, ids(p)...)
		}
		assert.Equal(t, want, got, "limit %d", limit)
		assert.Len(t, pages, (13+limit-1)/limit, "limit %d", limit)
	}
	// A newest-first cursor is no due cursor, and the other way round.
	page, err := f.s.List(f.ctx, store.Query{Limit: 1})
	require.NoError(t, err)
	_, err = f.s.List(f.ctx, store.Query{Sort: store.SortDue, Cursor: page.NextCursor})
	assert.Error(t, err)
	page, err = f.s.List(f.ctx, store.Query{Sort: store.SortDue, Limit: 1})
	require.NoError(t, err)
	_, err = f.s.List(f.ctx, store.Query{Cursor: page.NextCursor})
	assert.Error(t, err)
}
