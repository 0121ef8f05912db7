package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

var (
	system = ticket.Actor{ID: "system", Role: ticket.RoleSystem}
	sup    = ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
)

// alarm is a draft of an IoT incident: thread key per device and rule, dedup key per message.
func alarm(device, msg string, u draft.Urgency, tags ...string) draft.Draft {
	return draft.Draft{
		Source:    draft.Source{Connector: "plant-mqtt", Type: "mqtt", Kind: "alarm.raise", ExternalID: msg},
		DedupKey:  "plant-mqtt/" + device + "/overheat/" + msg,
		ThreadKey: "device:" + device + ":overheat",
		Device:    draft.Device{ID: device},
		Title:     "设备 " + device + " 温度超限", Description: "温度 " + msg,
		Category: "设备过热", Urgency: u, Tags: tags,
	}
}

func (f *fixture) create(t *testing.T, d draft.Draft) (ticket.Ticket, engine.Outcome) {
	t.Helper()
	tk, outcome, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: d, Actor: system})
	require.NoError(t, err)
	return tk, outcome
}

func (f *fixture) do(t *testing.T, id string, cmd ticket.Command) ticket.Ticket {
	t.Helper()
	cmd.TicketID = id
	tk, err := f.engine.Do(context.Background(), cmd)
	require.NoError(t, err)
	return tk
}

// assertStoredIsFold checks every stored ticket against the fold of its events, and returns
// the tickets.
func assertStoredIsFold(t *testing.T, s store.Store) []ticket.Ticket {
	t.Helper()
	ctx := context.Background()
	page, err := s.List(ctx, storeQueryAll())
	require.NoError(t, err)
	for _, tk := range page.Tickets {
		evs, err := s.Events(ctx, tk.ID)
		require.NoError(t, err)
		folded, err := ticket.Fold(evs)
		require.NoError(t, err)
		assert.Equal(t, jsonOf(t, folded), jsonOf(t, tk), "%s: the stored ticket is the fold of its events", tk.ID)
	}
	return page.Tickets
}

func TestMergeIntoTheOpenTicketOfTheThread(t *testing.T) {
	f := newFixture(t, nil)
	sub := f.engine.Subscribe(16)
	defer sub.Close()
	first, outcome := f.create(t, alarm("E1", "1", draft.UrgencyYellow, "过热"))
	require.Equal(t, engine.Created, outcome)
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li","team":"suzhou-a"}`)})

	second := alarm("E1", "2", draft.UrgencyRed, "停机", "过热")
	merged, outcome := f.create(t, second)
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, first.ID, merged.ID)
	assert.Equal(t, int64(3), merged.Version)
	assert.Equal(t, ticket.StateAssigned, merged.State, "a merge moves no state")
	assert.Equal(t, "eng-li", merged.Assignee)
	assert.Equal(t, draft.UrgencyRed, merged.Urgency, "raised to the draft's")
	assert.Equal(t, []string{"过热", "停机"}, merged.Tags)
	require.Len(t, merged.Sources, 2)
	assert.Equal(t, second.DedupKey, merged.Sources[1].DedupKey)
	assert.Equal(t, first.Title, merged.Title, "the title stays the first draft's")

	lower, outcome := f.create(t, alarm("E1", "3", draft.UrgencyBlue))
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, draft.UrgencyRed, lower.Urgency, "never lowered")
	assert.Len(t, lower.Sources, 3)

	other, outcome := f.create(t, alarm("E2", "1", draft.UrgencyYellow))
	assert.Equal(t, engine.Created, outcome, "another thread opens its own ticket")
	assert.NotEqual(t, first.ID, other.ID)

	evs, err := f.store.Events(context.Background(), first.ID)
	require.NoError(t, err)
	var actions []ticket.Action
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	assert.Equal(t, []ticket.Action{"create", "assign", "source_added", "source_added"}, actions)
	assert.Equal(t, system, evs[2].Actor)
	assert.True(t, evs[2].Automatic)

	var published []ticket.Action
	for range 5 {
		published = append(published, (<-sub.C).Action)
	}
	assert.Equal(t, []ticket.Action{"create", "assign", "source_added", "source_added", "create"}, published)
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_intake_total", "created"))
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_intake_total", "merged"))
	assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_intake_total", "duplicate"))
	assert.Equal(t, 2.0, metricValue(t, f.reg, "gongdan_ticket_actions_total", "source_added", "ok"))
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_tickets", "assigned"), "a merge moves no ticket between states")
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_tickets", "new"))
	assertStoredIsFold(t, f.store)
}

func TestMergeIntoAFrozenTicket(t *testing.T) {
	f := newFixture(t, nil)
	tk, _ := f.create(t, alarm("E1", "1", draft.UrgencyYellow))
	for range ticket.RollbackLimit {
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
		tk = f.do(t, tk.ID, ticket.Command{Action: ticket.ActionDecline, Actor: eng, Data: json.RawMessage(`{"reason_code":"too_far","text":"不在区域"}`)})
	}
	require.True(t, tk.Frozen)
	merged, outcome := f.create(t, alarm("E1", "2", draft.UrgencyRed))
	require.Equal(t, engine.Merged, outcome)
	assert.True(t, merged.Frozen)
	assert.Equal(t, draft.UrgencyRed, merged.Urgency)
	assertStoredIsFold(t, f.store)
}

func TestRedeliveredMergedDraftIsNotMergedTwice(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	first, _ := f.create(t, alarm("E1", "1", draft.UrgencyYellow))
	d := alarm("E1", "2", draft.UrgencyOrange)
	merged, outcome := f.create(t, d)
	require.Equal(t, engine.Merged, outcome)

	again, outcome := f.create(t, d)
	assert.Equal(t, engine.Duplicate, outcome)
	assert.Equal(t, merged.ID, again.ID)
	assert.Equal(t, merged.Version, again.Version, "nothing appended")
	assert.Len(t, again.Sources, 2)

	// Still the same ticket after it was closed: the key leads where the draft went.
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "误报"})
	again, outcome = f.create(t, d)
	assert.Equal(t, engine.Duplicate, outcome)
	assert.Equal(t, first.ID, again.ID)

	// A merge under an Idempotency-Key is answered once too, and only for the same draft.
	second, _ := f.create(t, alarm("E3", "1", draft.UrgencyYellow))
	noKey := alarm("E3", "2", draft.UrgencyRed)
	noKey.DedupKey = ""
	req := engine.CreateRequest{Draft: noKey, Actor: agent, IdempotencyKey: "call-1"}
	tk, outcome, err := f.engine.Create(ctx, req)
	require.NoError(t, err)
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, second.ID, tk.ID)
	tk, outcome, err = f.engine.Create(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, engine.Duplicate, outcome)
	assert.Equal(t, int64(2), tk.Version)
	other := req
	other.Draft.Description = "另一条"
	_, _, err = f.engine.Create(ctx, other)
	require.ErrorIs(t, err, engine.ErrIdempotencyKeyReused)

	got, err := f.store.Ticket(ctx, second.ID)
	require.NoError(t, err)
	assert.Len(t, got.Sources, 2, "merged once")
	assert.Equal(t, 3.0, metricValue(t, f.reg, "gongdan_intake_total", "duplicate"))
	assertStoredIsFold(t, f.store)
}

func TestClosedTicketsAreRepeatedNotMergedInto(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	c := testkit.NewClock(t0)
	f := newFixture(t, c.Now)
	wang := draft.Customer{ID: "cust-wang", Name: "王建国", Phone: "13812345678"}
	request := func(title, category string, received time.Time) draft.Draft {
		return draft.Draft{Title: title, Customer: wang, Category: category, ReceivedAt: received, Urgency: draft.UrgencyOrange}
	}
	closed := request("急停按钮失灵", "急停故障", t0)
	closed.ThreadKey = "wx:cust-wang"
	a, _ := f.create(t, closed)
	f.do(t, a.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "已电话确认修复"})
	byDevice := draft.Draft{Title: "设备报警", Device: draft.Device{ID: "PLC-1"}, Category: "设备过热", ReceivedAt: t0}
	dev, _ := f.create(t, byDevice)
	f.do(t, dev.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "已处理"})
	c.Set(t0.Add(8 * 24 * time.Hour)) // the engine's clock is past every window below

	again := request("急停又坏了", "急停故障", t0.Add(6*24*time.Hour))
	again.ThreadKey = closed.ThreadKey
	b, outcome := f.create(t, again)
	require.Equal(t, engine.Created, outcome, "a closed ticket takes no merge")
	assert.NotEqual(t, a.ID, b.ID)
	assert.Equal(t, a.ID, b.RepeatOf, "same customer and category within 7 days of the close")
	evs, err := f.store.Events(context.Background(), b.ID)
	require.NoError(t, err)
	var data ticket.CreateData
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	assert.Equal(t, a.ID, data.RepeatOf, "the creation event records it")

	cases := []struct {
		name string
		d    draft.Draft
		want string
	}{
		{"8 days after the close", request("急停又坏了", "急停故障", t0.Add(8*24*time.Hour)), ""},
		{"just within 7 days", request("急停又坏了", "急停故障", t0.Add(7*24*time.Hour)), a.ID},
		{"another category", request("传送带卡死", "机械故障", t0.Add(24*time.Hour)), ""},
		{"received before the close", request("急停又坏了", "急停故障", t0.Add(-time.Minute)), ""},
		{"the same customer by another channel's key", draft.Draft{Title: "急停", Category: "急停故障",
			Customer: draft.Customer{ID: "cust-wang"}, ReceivedAt: t0.Add(time.Hour)}, a.ID},
		{"another customer", draft.Draft{Title: "急停", Category: "急停故障",
			Customer: draft.Customer{Phone: "13812345678"}, ReceivedAt: t0.Add(time.Hour)}, ""},
		{"the same device", draft.Draft{Title: "又报警", Device: draft.Device{ID: "PLC-1"}, Category: "设备过热",
			ReceivedAt: t0.Add(time.Hour)}, dev.ID},
		{"the same device, no category yet", draft.Draft{Title: "又报警", Device: draft.Device{ID: "PLC-1"}, ReceivedAt: t0.Add(time.Hour)}, dev.ID},
		{"the same device, another category", draft.Draft{Title: "又报警", Device: draft.Device{ID: "PLC-1"}, Category: "电源故障",
			ReceivedAt: t0.Add(time.Hour)}, dev.ID},
		{"the same customer, no category", draft.Draft{Title: "急停", Customer: draft.Customer{ID: "cust-wang"}, ReceivedAt: t0.Add(time.Hour)}, ""},
	}
	for _, tc := range cases {
		tk, outcome := f.create(t, tc.d)
		assert.Equal(t, engine.Created, outcome, tc.name)
		assert.Equal(t, tc.want, tk.RepeatOf, tc.name)
	}

	// Without received_at, the window ends at the engine's clock.
	c.Set(t0.Add(24 * time.Hour))
	tk, _ := f.create(t, request("急停又坏了", "急停故障", time.Time{}))
	assert.Equal(t, a.ID, tk.RepeatOf, "received now, a day after the close")
	c.Set(t0.Add(7*24*time.Hour + time.Second))
	tk, _ = f.create(t, request("急停又坏了", "急停故障", time.Time{}))
	assert.Empty(t, tk.RepeatOf, "received now, past 7 days after the close")

	// The most recently closed of two.
	f.do(t, b.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "已电话确认修复"})
	tk, _ = f.create(t, request("急停第三次坏了", "急停故障", time.Time{}))
	assert.Equal(t, b.ID, tk.RepeatOf)
	assertStoredIsFold(t, f.store)
}

// TestOneBatchSharesThreadAndDedupKeys: drafts of one thread, and two deliveries of one draft,
// committed in one group-commit batch, make one ticket: the first creates it, the others of
// the thread merge into it in turn, and the second delivery is a duplicate.
func TestOneBatchSharesThreadAndDedupKeys(t *testing.T) {
	ctx := context.Background()
	st := enginekit.OpenStore(t, "")
	g := &armedGate{Store: st}
	entered, release := g.arm()
	reg := prometheus.NewRegistry()
	e := enginekit.Start(t, engine.Options{Store: g, Registerer: reg})

	// The first request takes the committer into the gate, alone.
	var wg sync.WaitGroup
	wg.Go(func() {
		_, outcome, err := e.Create(ctx, engine.CreateRequest{Draft: newDraft("别的工单"), Actor: agent})
		assert.NoError(t, err)
		assert.Equal(t, engine.Created, outcome)
	})
	<-entered

	const n = 12
	drafts := make([]draft.Draft, n)
	for i := range drafts {
		drafts[i] = alarm("E1", fmt.Sprint(i), draft.UrgencyYellow, fmt.Sprint("tag-", i%3))
	}
	drafts[n-1] = drafts[n-2] // the last is a second delivery of the one before
	drafts[5].Urgency = draft.UrgencyRed
	type answer struct {
		tk      ticket.Ticket
		outcome engine.Outcome
	}
	answers := make([]answer, n)
	for i, d := range drafts {
		wg.Go(func() {
			tk, outcome, err := e.Create(ctx, engine.CreateRequest{Draft: d, Actor: system})
			if assert.NoError(t, err) {
				answers[i] = answer{tk, outcome}
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.Queued() < n {
		require.True(t, time.Now().Before(deadline), "the drafts never reached the committer's queue")
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	// It was one batch: two commits, of 1 and n requests.
	count, sum := histogram(t, reg, "gongdan_engine_batch_size")
	require.Equal(t, uint64(2), count, "the test meant the drafts to share one batch")
	require.Equal(t, float64(1+n), sum)

	outcomes := map[engine.Outcome]int{}
	ids := map[string]bool{}
	for _, a := range answers {
		outcomes[a.outcome]++
		ids[a.tk.ID] = true
	}
	assert.Equal(t, map[engine.Outcome]int{engine.Created: 1, engine.Merged: n - 2, engine.Duplicate: 1}, outcomes)
	require.Len(t, ids, 1, "every draft of the thread went into one ticket")
	tickets := assertStoredIsFold(t, st)
	require.Len(t, tickets, 2)
	var tk ticket.Ticket
	for _, x := range tickets {
		if x.ThreadKey != "" {
			tk = x
		}
	}
	assert.Equal(t, int64(n-1), tk.Version, "one creation and n-2 merges")
	assert.Len(t, tk.Sources, n-1)
	assert.Equal(t, draft.UrgencyRed, tk.Urgency)
	assert.ElementsMatch(t, []string{"tag-0", "tag-1", "tag-2"}, tk.Tags)
	for _, a := range answers {
		if a.outcome == engine.Merged {
			assert.Greater(t, a.tk.Version, int64(1))
		}
	}

	// Every draft's key leads to the ticket: all of them again change nothing.
	for _, d := range drafts {
		got, outcome, err := e.Create(ctx, engine.CreateRequest{Draft: d, Actor: system})
		require.NoError(t, err)
		assert.Equal(t, engine.Duplicate, outcome)
		assert.Equal(t, tk.ID, got.ID)
		assert.Equal(t, tk.Version, got.Version)
	}
}

// TestConcurrentDraftsOfOneThreadMakeOneTicket: however the committer batches them, drafts of
// one thread from many goroutines, each delivered twice, make one ticket with each draft once.
func TestConcurrentDraftsOfOneThreadMakeOneTicket(t *testing.T) {
	f := newFixture(t, nil)
	const goroutines, perGoroutine = 8, 10
	var mu sync.Mutex
	outcomes := map[engine.Outcome]int{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				d := alarm("E1", fmt.Sprint(g, "-", i), draft.UrgencyYellow)
				for range 2 {
					_, outcome, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: d, Actor: system})
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					outcomes[outcome]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	const drafts = goroutines * perGoroutine
	assert.Equal(t, map[engine.Outcome]int{engine.Created: 1, engine.Merged: drafts - 1, engine.Duplicate: drafts}, outcomes)
	tickets := assertStoredIsFold(t, f.store)
	require.Len(t, tickets, 1)
	assert.Len(t, tickets[0].Sources, drafts)
	seen := map[string]bool{}
	for _, s := range tickets[0].Sources {
		assert.False(t, seen[s.DedupKey], "draft %s merged twice", s.DedupKey)
		seen[s.DedupKey] = true
	}
}

// TestFailedCommitForgetsMerges: a merge in a batch that fails to commit leaves nothing in the
// engine's cache: the next merge is decided on the stored ticket, and the failed draft's keys
// are free again.
func TestFailedCommitForgetsMerges(t *testing.T) {
	ctx := context.Background()
	st := enginekit.OpenStore(t, "")
	fs := &failingStore{Store: st}
	e := enginekit.Start(t, engine.Options{Store: fs})
	first, _, err := e.Create(ctx, engine.CreateRequest{Draft: alarm("E1", "1", draft.UrgencyYellow), Actor: system})
	require.NoError(t, err)

	fs.fail = true
	d := alarm("E1", "2", draft.UrgencyRed)
	_, _, err = e.Create(ctx, engine.CreateRequest{Draft: d, Actor: system})
	require.ErrorContains(t, err, "disk full")
	fs.fail = false

	tk, outcome, err := e.Create(ctx, engine.CreateRequest{Draft: d, Actor: system})
	require.NoError(t, err)
	assert.Equal(t, engine.Merged, outcome, "the failed merge kept no key")
	assert.Equal(t, first.ID, tk.ID)
	assert.Equal(t, int64(2), tk.Version, "decided on the stored ticket, not on the failed merge")
	assert.Len(t, tk.Sources, 2)
	assertStoredIsFold(t, st)
}

// histogram returns the sample count and sum of a histogram without labels.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}

// TestAThreadWindowStartsANewConversation: drafts of a thread with a thread_window join the
// open ticket while each comes within the window of the one before; after a longer silence the
// next opens a ticket of its own, and the drafts after it join that one.
func TestAThreadWindowStartsANewConversation(t *testing.T) {
	f := newFixture(t, nil)
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	msg := func(n int, after time.Duration) draft.Draft {
		return draft.Draft{
			Source:    draft.Source{Connector: "gzh", Type: "wechat.officialaccount", Kind: "text"},
			DedupKey:  fmt.Sprintf("gzh/msg/%d", n),
			ThreadKey: "wechat:gzh:oyORnuP8q7ou2gfYjqLzSIWZf0rs", ThreadWindow: draft.Window(30 * time.Minute),
			ReceivedAt: start.Add(after), Title: fmt.Sprintf("消息 %d", n),
		}
	}
	first, outcome := f.create(t, msg(1, 0))
	require.Equal(t, engine.Created, outcome)
	tk, outcome := f.create(t, msg(2, 29*time.Minute))
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, first.ID, tk.ID)
	tk, outcome = f.create(t, msg(3, 58*time.Minute)) // 29 minutes after the second
	assert.Equal(t, engine.Merged, outcome, "the window runs from the newest message, not the first")
	assert.Equal(t, first.ID, tk.ID)

	second, outcome := f.create(t, msg(4, 58*time.Minute+31*time.Minute))
	assert.Equal(t, engine.Created, outcome, "31 minutes of silence: a new conversation")
	assert.NotEqual(t, first.ID, second.ID)
	tk, outcome = f.create(t, msg(5, 58*time.Minute+40*time.Minute))
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, second.ID, tk.ID, "the newest open ticket of the thread")

	// A draft of the thread without a window joins the newest open ticket whatever the gap.
	d := msg(6, 10*time.Hour)
	d.ThreadWindow = 0
	tk, outcome = f.create(t, d)
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, second.ID, tk.ID)
	tickets := assertStoredIsFold(t, f.store)
	require.Len(t, tickets, 2)
}

// TestAMergeThatFillsFieldsIsSearchable: the phone and address a customer gives in later
// messages fill the ticket, and the search index and repeat lookups follow: the ticket is
// found by them, and still by what it said first.
func TestAMergeThatFillsFieldsIsSearchable(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	msg := func(n int, text string) draft.Draft {
		return draft.Draft{
			Source:    draft.Source{Connector: "gzh", Type: "wechat.officialaccount", Kind: "text"},
			DedupKey:  fmt.Sprintf("gzh/msg/%d", n),
			ThreadKey: "wechat:gzh:o1", ReceivedAt: start.Add(time.Duration(n) * time.Minute),
			Customer: draft.Customer{WechatOpenID: "o1"}, Description: text,
		}
	}
	first, _ := f.create(t, msg(1, "报修：3号楼电梯不动了"))
	d := msg(2, "电话 13812345678")
	d.Customer.Phone = "13812345678"
	f.create(t, d)
	d = msg(3, "苏州工业园区星湖街328号")
	d.Location.Address, d.Category = "苏州工业园区星湖街328号", "电梯故障"
	tk, outcome := f.create(t, d)
	require.Equal(t, engine.Merged, outcome)
	assert.Equal(t, first.ID, tk.ID)
	assert.Equal(t, "13812345678", tk.Customer.Phone)
	assert.Equal(t, "苏州工业园区星湖街328号", tk.Location.Address)

	for _, q := range []string{"13812345678", "星湖街328", "电梯不动", "电梯故障"} {
		page, err := f.store.List(ctx, store.Query{Q: q, Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Tickets, 1, "q=%s", q)
		assert.Equal(t, first.ID, page.Tickets[0].ID)
	}
	page, err := f.store.List(ctx, store.Query{Q: "1390000", Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, page.Tickets)

	// Closed, it is what a new request of the same customer (now known by phone) and
	// category repeats.
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "电话确认已修好"})
	again, outcome := f.create(t, draft.Draft{Title: "电梯又不动了", Category: "电梯故障",
		Customer: draft.Customer{Phone: "13812345678"}, DedupKey: "hooks/again"})
	require.Equal(t, engine.Created, outcome)
	assert.Equal(t, tk.ID, again.RepeatOf, "found by the filled customer key and category")
	assertStoredIsFold(t, f.store)
}

// TestABacklogKeepsItsConversationsApart: messages fetched together after downtime are
// windowed by when they were written (occurred_at of a conversation's drafts), not when
// gongdan got them.
func TestABacklogKeepsItsConversationsApart(t *testing.T) {
	f := newFixture(t, nil)
	fetched := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	msg := func(n int, written time.Time) draft.Draft {
		return draft.Draft{
			Source:    draft.Source{Connector: "groups", Type: "wechat.archive", Kind: "text"},
			DedupKey:  fmt.Sprintf("groups/msg/%d", n),
			ThreadKey: "archive:groups:room:wm1", ThreadWindow: draft.Window(30 * time.Minute),
			ReceivedAt: fetched, OccurredAt: written, Title: fmt.Sprintf("消息 %d", n),
		}
	}
	first, _ := f.create(t, msg(1, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)))
	tk, outcome := f.create(t, msg(2, time.Date(2026, 12, 2, 9, 10, 0, 0, time.UTC)))
	assert.Equal(t, engine.Merged, outcome)
	assert.Equal(t, first.ID, tk.ID)
	second, outcome := f.create(t, msg(3, time.Date(2026, 12, 2, 11, 30, 0, 0, time.UTC)))
	assert.Equal(t, engine.Created, outcome, "written 2h20m after the one before")
	assert.NotEqual(t, first.ID, second.ID)
}

func TestCreateAssignsDailyIDsInTheConfiguredZone(t *testing.T) {
	// 23:30 UTC on the 22nd is 07:30 on the 23rd in Shanghai.
	f := newFixture(t, func() time.Time { return time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC) })
	a, outcome, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft("a"), Actor: agent})
	require.NoError(t, err)
	assert.Equal(t, engine.Created, outcome)
	assert.Equal(t, "GD-20261123-000001", a.ID)
	assert.Equal(t, "+08:00", a.CreatedAt.Format("-07:00"))
	b, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft("b"), Actor: agent})
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
			tk, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft(fmt.Sprint(i)), Actor: agent})
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
			tk, outcome, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent, IdempotencyKey: "idem-1"})
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

	d := newDraft("alarm")
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
	_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: draft.Draft{}, Actor: agent})
	require.ErrorIs(t, err, ticket.ErrInvalidData)
	// no number was consumed
	tk, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft("ok"), Actor: agent})
	require.NoError(t, err)
	assert.Contains(t, tk.ID, "-000001")
}
