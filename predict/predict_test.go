package predict_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
	"gongdan/predict"
)

const day = 24 * time.Hour

// start is 2026-11-23 09:00 in Suzhou.
var start = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// rig is an engine over a store, with a Tracker fed the store's events as the outbox and the
// pipeline feed them to the consumer: deliver hands every event not yet handed over.
type rig struct {
	t   *testing.T
	st  *sqlite.Store
	eng *engine.Engine
	tr  *predict.Tracker

	mu        sync.Mutex
	now       time.Time
	n         int
	cursor    int64
	delivered [][]byte
}

func newRig(t *testing.T, opts predict.Options) *rig {
	t.Helper()
	r := &rig{t: t, now: start}
	r.st = enginekit.OpenStore(t, "")
	r.eng = enginekit.Start(t, engine.Options{Store: r.st, Now: r.clock,
		Tags: func(d draft.Draft, now time.Time) []string { return r.tr.Tags(d, now) }})
	r.tr = r.tracker(opts)
	return r
}

// tracker builds a Tracker over the rig's store and engine, as serve does (again after a
// restart).
func (r *rig) tracker(opts predict.Options) *predict.Tracker {
	opts.Store, opts.Now, opts.Location = r.st, r.clock, time.UTC
	opts.Create = func(ctx context.Context, d draft.Draft) error {
		_, _, err := r.eng.Create(ctx, engine.CreateRequest{Draft: d, Actor: ticket.ConnectorActor(predict.Connector)})
		return err
	}
	tr, err := predict.New(context.Background(), opts)
	require.NoError(r.t, err)
	return tr
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) at(t time.Time) {
	r.mu.Lock()
	r.now = t
	r.mu.Unlock()
}

// report opens a ticket on device at the rig's time, as a connector would, and delivers the
// events.
func (r *rig) report(device, model, fault string) ticket.Ticket {
	r.t.Helper()
	r.n++
	d := draft.Draft{Source: draft.Source{Connector: "plant", Type: "mqtt"}, DedupKey: fmt.Sprintf("plant/%d", r.n),
		Device: draft.Device{ID: device, Model: model}, Title: device + " " + fault, Category: fault,
		Urgency: draft.UrgencyOrange, Tags: []string{}}
	tk, outcome, err := r.eng.Create(context.Background(), engine.CreateRequest{Draft: d, Actor: ticket.ConnectorActor("plant")})
	require.NoError(r.t, err)
	require.Equal(r.t, engine.Created, outcome)
	r.deliver()
	return tk
}

// deliver hands the events committed since the last delivery to the tracker, until there are
// none (a preventive ticket's own events included).
func (r *rig) deliver() {
	r.t.Helper()
	ctx := context.Background()
	for {
		evs, err := r.st.EventsAfter(ctx, r.cursor, 100)
		require.NoError(r.t, err)
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			payload, err := json.Marshal(ev)
			require.NoError(r.t, err)
			r.delivered = append(r.delivered, payload)
			require.NoError(r.t, r.tr.Handle(ctx, payload, nil))
			r.cursor = ev.ID
		}
	}
}

// event hands the tracker an event of the tracker's choosing (a resolve, say) as if committed.
func (r *rig) event(ev ticket.Event) {
	r.t.Helper()
	payload, err := json.Marshal(ev)
	require.NoError(r.t, err)
	r.delivered = append(r.delivered, payload)
	require.NoError(r.t, r.tr.Handle(context.Background(), payload, nil))
}

// preventive returns the preventive tickets, oldest first.
func (r *rig) preventive() []ticket.Ticket {
	r.t.Helper()
	page, err := r.st.List(context.Background(), store.Query{Limit: store.MaxLimit})
	require.NoError(r.t, err)
	var out []ticket.Ticket
	for i := len(page.Tickets) - 1; i >= 0; i-- {
		if tk := page.Tickets[i]; tk.Category == predict.CategoryPreventive {
			out = append(out, tk)
		}
	}
	return out
}

func TestThreeDevicesOfOneModelWithOneFaultMakeOnePreventiveTicket(t *testing.T) {
	r := newRig(t, predict.Options{})
	a := r.report("E1", "GA37", "过热")
	r.at(start.Add(2 * day))
	b := r.report("E2", "GA37", "过热")
	require.Empty(t, r.preventive(), "two devices are no cluster")
	r.at(start.Add(6 * day))
	c := r.report("E3", "GA37", "过热")

	ps := r.preventive()
	require.Len(t, ps, 1)
	p := ps[0]
	assert.Equal(t, predict.CategoryPreventive, p.Category)
	assert.Equal(t, draft.UrgencyYellow, p.Urgency)
	assert.Equal(t, "GA37", p.Device.Model)
	assert.Empty(t, p.Device.ID, "a cluster is of several devices")
	require.Len(t, p.Sources, 1)
	assert.Equal(t, predict.Connector, p.Sources[0].Source.Connector)
	assert.True(t, strings.HasPrefix(p.DedupKey, "predict/"), p.DedupKey)
	assert.True(t, strings.HasPrefix(p.ThreadKey, "predict/"), p.ThreadKey)
	assert.Equal(t, ticket.ConnectorActor(predict.Connector), p.CreatedBy)
	for _, tk := range []ticket.Ticket{a, b, c} {
		assert.Contains(t, p.Description, tk.Device.ID+"："+tk.ID)
	}
	assert.Contains(t, p.Title, "3 台")

	// A fourth device within the window joins the ticket, as a source of its own.
	r.at(start.Add(6*day + time.Hour))
	d := r.report("E4", "GA37", "过热")
	ps = r.preventive()
	require.Len(t, ps, 1, "the fourth device adds to the cluster's ticket")
	require.Len(t, ps[0].Sources, 2)
	assert.Contains(t, ps[0].Sources[1].Description, "新增设备：E4（工单 "+d.ID+"）")

	// A device already in the cluster failing again adds nothing.
	r.at(start.Add(6*day + 2*time.Hour))
	r.report("E2", "GA37", "过热")
	ps = r.preventive()
	require.Len(t, ps, 1)
	assert.Len(t, ps[0].Sources, 2)
}

func TestNoClusterFromTwoDevicesOrOneDeviceTwice(t *testing.T) {
	r := newRig(t, predict.Options{})
	r.report("E1", "GA37", "过热")
	r.at(start.Add(day))
	r.report("E1", "GA37", "过热")
	r.at(start.Add(2 * day))
	r.report("E2", "GA37", "过热")
	r.at(start.Add(3 * day))
	r.report("E2", "GA37", "过热")
	assert.Empty(t, r.preventive())
}

func TestNoClusterWhenSpreadOverMoreThanTheWindow(t *testing.T) {
	r := newRig(t, predict.Options{})
	r.report("E1", "GA37", "过热")
	r.at(start.Add(4 * day))
	r.report("E2", "GA37", "过热")
	r.at(start.Add(7*day + time.Minute)) // E1 has left the 7 days
	r.report("E3", "GA37", "过热")
	assert.Empty(t, r.preventive())
}

func TestNoClusterAcrossModelsOrFaults(t *testing.T) {
	r := newRig(t, predict.Options{})
	r.report("E1", "GA37", "过热")
	r.report("E2", "GA37", "过热")
	r.report("E3", "GA55", "过热")
	r.report("E4", "GA37", "漏油")
	assert.Empty(t, r.preventive())
}

// fault_code, when the ticket has one, is what a cluster is of: three devices with one code
// are a cluster whatever their categories say.
func TestClusterByFaultCode(t *testing.T) {
	r := newRig(t, predict.Options{})
	ctx := context.Background()
	for i, cat := range []string{"过热", "停机", "报警"} {
		d := draft.Draft{Source: draft.Source{Connector: "plant"}, DedupKey: fmt.Sprintf("plant/fc/%d", i),
			Device: draft.Device{ID: fmt.Sprintf("F%d", i), Model: "GA37"}, Title: "alarm", Category: cat, FaultCode: "E-042", Tags: []string{}}
		_, _, err := r.eng.Create(ctx, engine.CreateRequest{Draft: d, Actor: ticket.ConnectorActor("plant")})
		require.NoError(t, err)
	}
	r.deliver()
	require.Len(t, r.preventive(), 1)
	assert.Contains(t, r.preventive()[0].Title, "E-042")
}

func TestClusterRuleFromOptions(t *testing.T) {
	r := newRig(t, predict.Options{Cluster: predict.ClusterRule{Devices: 2, Within: day}})
	r.report("E1", "GA37", "过热")
	r.at(start.Add(day + time.Minute))
	r.report("E2", "GA37", "过热")
	require.Empty(t, r.preventive(), "more than a day apart")
	r.at(start.Add(day + 2*time.Minute))
	r.report("E3", "GA37", "过热")
	assert.Len(t, r.preventive(), 1)
}

// A device of three tickets within 30 days is chronic: its next ticket is tagged, its
// history says so; the third ticket itself is not tagged, nor another device's.
func TestChronicDevice(t *testing.T) {
	r := newRig(t, predict.Options{Cluster: predict.ClusterRule{Off: true}})
	r.report("C1", "GA37", "过热")
	r.at(start.Add(10 * day))
	r.report("C1", "GA37", "漏油")
	r.at(start.Add(20 * day))
	third := r.report("C1", "GA37", "停机")
	assert.NotContains(t, third.Tags, predict.TagChronic)
	assert.True(t, r.tr.Chronic("C1", r.clock()))

	view, known, err := r.tr.Device(context.Background(), "C1", "")
	require.NoError(t, err)
	require.True(t, known)
	assert.True(t, view.Health.Chronic)
	assert.Equal(t, start.Add(30*day), view.Health.ChronicUntil, "until the first of the three leaves the 30 days")

	r.at(start.Add(21 * day))
	next := r.report("C1", "GA37", "过热")
	assert.Contains(t, next.Tags, predict.TagChronic)
	stored, err := r.st.Ticket(context.Background(), next.ID)
	require.NoError(t, err)
	assert.Contains(t, stored.Tags, predict.TagChronic)
	assert.NotContains(t, stored.Sources[0].Tags, predict.TagChronic, "the draft stays as it was sent")
	// The tag is the core's, not the draft's: the same request under the same Idempotency-Key
	// is still the same request.
	ctx := context.Background()
	keyed := draft.Draft{Source: draft.Source{Connector: "plant"}, Device: draft.Device{ID: "C1"}, Title: "again", Category: "过热", Tags: []string{}}
	first, outcome, err := r.eng.Create(ctx, engine.CreateRequest{Draft: keyed, Actor: ticket.ConnectorActor("plant"), IdempotencyKey: "k-1"})
	require.NoError(t, err)
	require.Equal(t, engine.Created, outcome)
	assert.Contains(t, first.Tags, predict.TagChronic)
	again, outcome, err := r.eng.Create(ctx, engine.CreateRequest{Draft: keyed, Actor: ticket.ConnectorActor("plant"), IdempotencyKey: "k-1"})
	require.NoError(t, err)
	assert.Equal(t, engine.Duplicate, outcome)
	assert.Equal(t, first.ID, again.ID)
	r.deliver()

	other := r.report("C2", "GA37", "过热")
	assert.NotContains(t, other.Tags, predict.TagChronic)

	// Once the window holds fewer than three, the device is not chronic any more: the third
	// newest of its tickets (days 21, 21, 20, 10, 0) is 30 days old.
	r.at(start.Add(20*day + 30*day + time.Minute))
	assert.False(t, r.tr.Chronic("C1", r.clock()))
	later := r.report("C1", "GA37", "过热")
	assert.NotContains(t, later.Tags, predict.TagChronic)

	// A restarted tracker reads the chronic devices from the store.
	r.at(start.Add(21 * day))
	assert.True(t, r.tracker(predict.Options{}).Chronic("C1", r.clock()))
}

func TestChronicNeedsThreeWithinTheWindow(t *testing.T) {
	r := newRig(t, predict.Options{Cluster: predict.ClusterRule{Off: true}})
	r.report("C1", "GA37", "过热")
	r.at(start.Add(16 * day))
	r.report("C1", "GA37", "过热")
	r.at(start.Add(31 * day))
	r.report("C1", "GA37", "过热")
	assert.False(t, r.tr.Chronic("C1", r.clock()))
	r.at(start.Add(32 * day))
	assert.NotContains(t, r.report("C1", "GA37", "过热").Tags, predict.TagChronic)
}

// MTBF, MTTR and the estimated next failure of a small history, worked by hand:
// failures at 0 h, 100 h and 250 h → intervals 100 h and 150 h → MTBF 125 h; the next at
// 250 h + 125 h = 375 h. Repairs of 4 h and 6 h (the third open) → MTTR 5 h.
func TestFiguresOfASmallHistory(t *testing.T) {
	r := newRig(t, predict.Options{Cluster: predict.ClusterRule{Off: true}})
	t0 := r.report("M1", "GA37", "过热")
	r.at(start.Add(100 * time.Hour))
	t1 := r.report("M1", "GA37", "过热")
	r.at(start.Add(250 * time.Hour))
	r.report("M1", "GA37", "过热")
	r.event(ticket.Event{TicketID: t0.ID, Action: ticket.ActionResolve, At: start.Add(4 * time.Hour), From: ticket.StateInProgress, To: ticket.StateResolved})
	r.event(ticket.Event{TicketID: t1.ID, Action: ticket.ActionResolve, At: start.Add(106 * time.Hour), From: ticket.StateInProgress, To: ticket.StateResolved})
	// A second device of the model: failures 0 h and 50 h, one repair of 2 h.
	r.at(start)
	o0 := r.report("M2", "GA37", "漏油")
	r.at(start.Add(50 * time.Hour))
	r.report("M2", "GA37", "漏油")
	r.event(ticket.Event{TicketID: o0.ID, Action: ticket.ActionResolve, At: start.Add(2 * time.Hour), From: ticket.StateInProgress, To: ticket.StateResolved})

	view, known, err := r.tr.Device(context.Background(), "M1", "")
	require.NoError(t, err)
	require.True(t, known)
	h := view.Health
	assert.Equal(t, 3, h.Failures)
	require.NotNil(t, h.MTBFSeconds)
	assert.Equal(t, (125 * time.Hour).Seconds(), *h.MTBFSeconds)
	require.NotNil(t, h.MTTRSeconds)
	assert.Equal(t, (5 * time.Hour).Seconds(), *h.MTTRSeconds)
	require.NotNil(t, h.EstimatedNextFailure)
	assert.Equal(t, start.Add(375*time.Hour), *h.EstimatedNextFailure)
	assert.True(t, h.Chronic, "three tickets within 30 days")

	// The model: intervals 100 h + 150 h + 50 h over 3 → 100 h; repairs 4 + 6 + 2 over 3 → 4 h.
	require.NotNil(t, view.Model)
	assert.Equal(t, 2, view.Model.Devices)
	assert.Equal(t, 5, view.Model.Failures)
	assert.Equal(t, (100 * time.Hour).Seconds(), *view.Model.MTBFSeconds)
	assert.Equal(t, (4 * time.Hour).Seconds(), *view.Model.MTTRSeconds)

	// A reopen after the resolve: not repaired after all.
	r.event(ticket.Event{TicketID: t1.ID, Action: ticket.ActionReopen, At: start.Add(107 * time.Hour), From: ticket.StateClosed, To: ticket.StateInProgress})
	view, _, err = r.tr.Device(context.Background(), "M1", "")
	require.NoError(t, err)
	assert.Equal(t, (4 * time.Hour).Seconds(), *view.Health.MTTRSeconds)

	// A rejected ticket is no failure.
	r.event(ticket.Event{TicketID: t1.ID, Action: ticket.ActionReject, At: start.Add(108 * time.Hour), From: ticket.StateInProgress, To: ticket.StateRejected})
	view, _, err = r.tr.Device(context.Background(), "M1", "")
	require.NoError(t, err)
	assert.Equal(t, 2, view.Health.Failures)
	assert.Equal(t, (250 * time.Hour).Seconds(), *view.Health.MTBFSeconds)

	// One failure: no MTBF, no estimate.
	view, _, err = r.tr.Device(context.Background(), "M9", "GA37")
	require.NoError(t, err)
	assert.Nil(t, view.Health.MTBFSeconds)
	assert.Nil(t, view.Health.EstimatedNextFailure)
	assert.Equal(t, 2, view.Model.Devices, "an unknown device still shows its registry model's figures")
}

func TestFold(t *testing.T) {
	f := func(id string, failed, resolved time.Duration) store.Failure {
		out := store.Failure{TicketID: id, DeviceID: "D", Model: "M", FailedAt: start.Add(failed)}
		if resolved > 0 {
			out.ResolvedAt = start.Add(resolved)
		}
		return out
	}
	rule := predict.ChronicRule{Tickets: 3, Within: 30 * day}
	// Out of order, as events may arrive after a rebuild: the figures do not depend on it.
	h := predict.Fold("D", []store.Failure{f("c", 250*time.Hour, 0), f("a", 0, 4*time.Hour), f("b", 100*time.Hour, 106*time.Hour)}, rule)
	assert.Equal(t, store.DeviceHealth{DeviceID: "D", Model: "M", Failures: 3, FirstFailure: start, LastFailure: start.Add(250 * time.Hour),
		Repairs: 2, RepairTotal: 10 * time.Hour, ChronicUntil: start.Add(30 * day), NextFailure: start.Add(375 * time.Hour)}, h)

	h = predict.Fold("D", []store.Failure{f("a", 0, 0)}, rule)
	assert.Zero(t, h.NextFailure)
	assert.Zero(t, h.ChronicUntil)
	// Three, but never within 30 days of each other.
	h = predict.Fold("D", []store.Failure{f("a", 0, 0), f("b", 20*day, 0), f("c", 40*day, 0)}, rule)
	assert.Zero(t, h.ChronicUntil)
	assert.Equal(t, start.Add(60*day), h.NextFailure)
}

// Every event handed over again — by the same tracker, and by a new one after a restart —
// creates nothing twice: one preventive ticket with its two sources, the same figures.
func TestRedeliveryCreatesNothingTwice(t *testing.T) {
	r := newRig(t, predict.Options{})
	for i, dev := range []string{"E1", "E2", "E3", "E4"} {
		r.at(start.Add(time.Duration(i) * day))
		r.report(dev, "GA37", "过热")
	}
	require.Len(t, r.preventive(), 1)
	before, _, err := r.tr.Device(context.Background(), "E1", "")
	require.NoError(t, err)

	ctx := context.Background()
	again := append([][]byte(nil), r.delivered...)
	for _, tr := range []*predict.Tracker{r.tr, r.tracker(predict.Options{})} {
		for _, payload := range again {
			require.NoError(t, tr.Handle(ctx, payload, nil))
		}
	}
	r.deliver()
	ps := r.preventive()
	require.Len(t, ps, 1)
	assert.Len(t, ps[0].Sources, 2)
	after, _, err := r.tr.Device(context.Background(), "E1", "")
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// A rebuild from the events gives the same figures, and takes nothing in.
	n, err := r.tr.Rebuild(ctx)
	require.NoError(t, err)
	assert.Greater(t, n, 4)
	rebuilt, _, err := r.tr.Device(context.Background(), "E1", "")
	require.NoError(t, err)
	assert.Equal(t, before, rebuilt)
	assert.Len(t, r.preventive(), 1)
}

// Events handled from several goroutines at once (the consumer's retries, a rebuild beside
// it) leave one consistent history: run with -race.
func TestConcurrentHandling(t *testing.T) {
	r := newRig(t, predict.Options{})
	for i, dev := range []string{"E1", "E2", "E3"} {
		r.at(start.Add(time.Duration(i) * time.Hour))
		r.report(dev, "GA37", "过热")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, payload := range r.delivered {
				assert.NoError(t, r.tr.Handle(ctx, payload, nil))
				r.tr.Chronic("E1", start)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := r.tr.Rebuild(ctx)
		assert.NoError(t, err)
	}()
	wg.Wait()
	require.Len(t, r.preventive(), 1)
	rep, err := r.tr.Report(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, rep.Devices, 3)
}

func TestReportOrder(t *testing.T) {
	r := newRig(t, predict.Options{Cluster: predict.ClusterRule{Off: true}})
	// S: soon (two failures 10 days apart, the last on day 10 → next day 20);
	// L: later (two failures 20 days apart, the last on day 20 → next day 40);
	// C: chronic (three within a day); O: one failure, no estimate.
	for _, f := range []struct {
		dev string
		at  time.Duration
	}{{"S", 0}, {"L", 0}, {"O", 0}, {"S", 10 * day}, {"L", 20 * day}, {"C", 20 * day}, {"C", 20*day + time.Hour}, {"C", 20*day + 2*time.Hour}} {
		r.at(start.Add(f.at))
		r.report(f.dev, "GA37", "过热")
	}
	r.at(start.Add(21 * day))
	rep, err := r.tr.Report(context.Background(), 20)
	require.NoError(t, err)
	var order []string
	for _, d := range rep.Devices {
		order = append(order, d.DeviceID)
	}
	assert.Equal(t, []string{"C", "S", "L", "O"}, order)
	assert.True(t, rep.Devices[0].Chronic)
	rep, err = r.tr.Report(context.Background(), 2)
	require.NoError(t, err)
	assert.Len(t, rep.Devices, 2)
	_, err = r.tr.Report(context.Background(), 0)
	assert.Error(t, err)
}

// A ticket opened without a device counts once a merged draft names it (the same thread).
func TestADeviceNamedByAMergedDraftCounts(t *testing.T) {
	r := newRig(t, predict.Options{})
	ctx := context.Background()
	first := draft.Draft{Source: draft.Source{Connector: "gzh"}, DedupKey: "gzh/1", ThreadKey: "gzh/chat-1", Title: "空压机报警", Tags: []string{}}
	tk, _, err := r.eng.Create(ctx, engine.CreateRequest{Draft: first, Actor: ticket.ConnectorActor("gzh")})
	require.NoError(t, err)
	r.deliver()
	_, known, err := r.tr.Device(ctx, "E9", "")
	require.NoError(t, err)
	require.False(t, known)

	r.at(start.Add(time.Hour))
	next := draft.Draft{Source: draft.Source{Connector: "gzh"}, DedupKey: "gzh/2", ThreadKey: "gzh/chat-1", Title: "序列号 E9",
		Device: draft.Device{ID: "E9", Model: "GA37"}, Category: "过热", Tags: []string{}}
	merged, outcome, err := r.eng.Create(ctx, engine.CreateRequest{Draft: next, Actor: ticket.ConnectorActor("gzh")})
	require.NoError(t, err)
	require.Equal(t, engine.Merged, outcome)
	require.Equal(t, tk.ID, merged.ID)
	r.deliver()
	view, known, err := r.tr.Device(ctx, "E9", "")
	require.NoError(t, err)
	require.True(t, known)
	assert.Equal(t, 1, view.Health.Failures)
	assert.Equal(t, start, view.Health.LastFailure, "failed when the ticket was opened")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRig(t, predict.Options{Registerer: reg})
	for i, dev := range []string{"E1", "E2", "E3", "E3", "E3"} {
		r.at(start.Add(time.Duration(i) * time.Hour))
		r.report(dev, "GA37", "过热")
	}
	value := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				m := mf.GetMetric()[0]
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		return -1
	}
	assert.Equal(t, 1.0, value("gongdan_predict_preventive_drafts_total"))
	assert.Equal(t, 1.0, value("gongdan_predict_chronic_devices"), "E3")
}
