package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/sla"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

const writers = 8

func benchEngine(b *testing.B) *engine.Engine {
	e, _ := benchEngineWithRegistry(b)
	return e
}

func benchEngineWithRegistry(b *testing.B) (*engine.Engine, *prometheus.Registry) {
	return benchEngineRouting(b, nil)
}

func benchEngineRouting(b *testing.B, ro *engine.RoutingOptions) (*engine.Engine, *prometheus.Registry) {
	b.Helper()
	f := enginekit.New(b, engine.Options{Routing: ro})
	e, reg := f.Engine, f.Registry
	b.Cleanup(func() {
		// how many requests share a commit: the point of group commit
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "gongdan_engine_batch_size" {
				h := mf.GetMetric()[0].GetHistogram()
				b.Logf("mean batch %.1f over %d commits", h.GetSampleSum()/float64(h.GetSampleCount()), h.GetSampleCount())
			}
		}
	})
	return e, reg
}

// runWriters shares b.N operations among 8 goroutines and reports operations per second.
func runWriters(b *testing.B, op func(w, i int) error) { runNWriters(b, writers, op) }

func runNWriters(b *testing.B, writers int, op func(w, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := op(w, int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCreate: ticket creation from drafts by 8 concurrent writers, durable on SQLite.
func BenchmarkCreate(b *testing.B) {
	e := benchEngine(b)
	d := newDraft("3号线急停按钮失灵")
	runWriters(b, func(w, i int) error {
		dd := d
		dd.DedupKey = fmt.Sprintf("bench/%d", i)
		_, _, err := e.Create(context.Background(), engine.CreateRequest{Draft: dd, Actor: agent})
		return err
	})
}

// BenchmarkCreate64: BenchmarkCreate by 64 writers, the baseline of BenchmarkCreateRouted's
// writers=64 (the same batching, no routing).
func BenchmarkCreate64(b *testing.B) {
	e := benchEngine(b)
	d := newDraft("3号线急停按钮失灵")
	d.Category = "急停故障"
	d.Location = draft.Location{Lat: 31.25, Lon: 120.61}
	runNWriters(b, 64, func(w, i int) error {
		dd := d
		dd.DedupKey = fmt.Sprintf("bench/%d", i)
		_, _, err := e.Create(context.Background(), engine.CreateRequest{Draft: dd, Actor: agent})
		return err
	})
}

// BenchmarkCreate64SLA: BenchmarkCreate64 with an SLA policy on every ticket (two clocks,
// three tiers): what arming the clocks (a timer row and a board row per ticket) costs.
func BenchmarkCreate64SLA(b *testing.B) {
	ctx := context.Background()
	st := enginekit.OpenStore(b, "")
	always := &sla.Calendar{Name: "24x7", Location: time.FixedZone("CST", 8*3600), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}, WarnAt: 0.8,
		Tiers: []sla.Tier{{Name: "yellow", After: 5 * time.Minute}, {Name: "red", After: 30 * time.Minute}, {Name: "black", After: 2 * time.Hour, Escalate: true}}}})
	require.Empty(b, errs)
	e := enginekit.Start(b, engine.Options{Store: st, SLA: &engine.SLAOptions{Policies: ps, Notify: func(engine.Notification) {}}})
	d := newDraft("3号线急停按钮失灵")
	runNWriters(b, 64, func(w, i int) error {
		dd := d
		dd.DedupKey = fmt.Sprintf("bench/%d", i)
		_, _, err := e.Create(ctx, engine.CreateRequest{Draft: dd, Actor: agent})
		return err
	})
}

// BenchmarkCreateRouted: ticket creation with routing in the same transaction (decision over
// a team of 20 with 10 rules, the assignment event, the decision trace, the offer timer),
// durable on SQLite: routed tickets per second on the embedded store, by 8 concurrent writers
// (as BenchmarkCreate) and by 64 (the pipeline's intake concurrency).
func BenchmarkCreateRouted(b *testing.B) {
	for _, n := range []int{8, 64} {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) { benchCreateRouted(b, n) })
	}
}

func benchCreateRouted(b *testing.B, writers int) {
	cfg := routing.Config{}
	var members []string
	for i := range 20 {
		id := fmt.Sprintf("eng-%02d", i)
		cfg.Engineers = append(cfg.Engineers, routing.Engineer{ID: id, Skills: []string{"plc"}, RadiusKM: 50,
			Home: routing.Point{Lat: 31.2 + float64(i)*0.01, Lon: 120.6}, Status: routing.StatusOnDuty})
		members = append(members, id)
	}
	cfg.Teams = []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: members}}
	for i := range 9 {
		cfg.Rules = append(cfg.Rules, routing.Rule{ID: fmt.Sprintf("r%d", i), When: fmt.Sprintf(`category == "cat-%d"`, i), RouteTo: routing.Target{Team: "suzhou-a"}})
	}
	cfg.Rules = append(cfg.Rules, routing.Rule{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}})
	r, err := routing.New(cfg)
	require.NoError(b, err)
	e, _ := benchEngineRouting(b, &engine.RoutingOptions{Router: r, Notify: func(engine.Notification) {}})
	d := newDraft("3号线急停按钮失灵")
	d.Category = "急停故障"
	d.Location = draft.Location{Lat: 31.25, Lon: 120.61}
	runNWriters(b, writers, func(w, i int) error {
		dd := d
		dd.DedupKey = fmt.Sprintf("bench/%d", i)
		tk, _, err := e.Create(context.Background(), engine.CreateRequest{Draft: dd, Actor: agent})
		if err == nil && tk.Assignee == "" {
			err = fmt.Errorf("ticket %s was not routed", tk.ID)
		}
		return err
	})
}

// BenchmarkActions: the apply path (load, decide, persist ticket and event, publish) by 8
// concurrent writers, each cycling its own tickets through pause and resume.
func BenchmarkActions(b *testing.B) { benchActions(b, false) }

// BenchmarkActionsWithCommandID: the same with a command id on every action, as API clients
// send them: one more lookup per action.
func BenchmarkActionsWithCommandID(b *testing.B) { benchActions(b, true) }

func benchActions(b *testing.B, withCommandID bool) {
	e := benchEngine(b)
	ctx := context.Background()
	const perWriter = 64
	tickets := make([][]string, writers)
	for w := range writers {
		for range perWriter {
			tk, _, err := e.Create(ctx, engine.CreateRequest{Draft: newDraft("bench"), Actor: agent})
			require.NoError(b, err)
			for _, cmd := range []ticket.Command{
				{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
				{Action: ticket.ActionAccept, Actor: eng},
				{Action: ticket.ActionStart, Actor: eng},
			} {
				cmd.TicketID = tk.ID
				_, err := e.Do(ctx, cmd)
				require.NoError(b, err)
			}
			tickets[w] = append(tickets[w], tk.ID)
		}
	}
	var counts [writers]int
	runWriters(b, func(w, _ int) error {
		n := counts[w]
		counts[w]++
		id := tickets[w][n%perWriter]
		cmd := ticket.Command{TicketID: id, Action: ticket.ActionPause, Actor: eng, Reason: "等待客户停机"}
		if (n/perWriter)%2 == 1 {
			cmd = ticket.Command{TicketID: id, Action: ticket.ActionResume, Actor: eng}
		}
		if withCommandID {
			cmd.CommandID = fmt.Sprintf("w%d-%d", w, n)
		}
		_, err := e.Do(ctx, cmd)
		return err
	})
}

// BenchmarkSLAStart: an engine starting over a store with GONGDAN_BENCH_SLA_TICKETS open
// tickets (default 1,000,000), every one with an armed SLA clock, 1,000 of them overdue:
// how long until it takes requests, how long until the overdue ones have fired, and how much
// memory it holds beyond the store's. The store is built once (a few minutes for a million)
// and kept under the temp directory for later runs.
func BenchmarkSLAStart(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("GONGDAN_BENCH_SLA_TICKETS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	const overdue = 1000
	clk := testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	path := filepath.Join(os.TempDir(), fmt.Sprintf("gongdan-bench-sla-%d.db", n))
	ctx := context.Background()
	policies := orangePoliciesB(b)
	if _, err := os.Stat(path); err != nil {
		buildSLAStore(b, path+".tmp", n, overdue, clk, policies)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Rename(path+".tmp"+suffix, path+suffix)
		}
	}
	for b.Loop() {
		// Every run starts from the same store: the overdue timers fire in each.
		b.StopTimer()
		work := filepath.Join(b.TempDir(), "gongdan.db")
		copyFile(b, path, work)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()

		start := time.Now()
		st, err := sqlite.Open(ctx, work)
		require.NoError(b, err)
		fired := make(chan engine.Notification, overdue*8)
		e, err := engine.New(ctx, engine.Options{Store: st, Now: clk.Now, SLA: &engine.SLAOptions{Policies: policies,
			Notify: func(nt engine.Notification) { fired <- nt }}})
		require.NoError(b, err)
		ready := time.Since(start)
		// Each overdue ticket has its response warning and breach due: two notifications.
		for range 2 * overdue {
			<-fired
		}
		allFired := time.Since(start)

		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(ready.Seconds(), "s-to-ready")
		b.ReportMetric(allFired.Seconds(), "s-to-overdue-fired")
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "MiB-heap")
		e.Close()
		st.Close()
		b.StartTimer()
	}
}

func orangePoliciesB(b *testing.B) *sla.Policies {
	always := &sla.Calendar{Name: "24x7", Location: time.FixedZone("CST", 8*3600), Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}, WarnAt: 0.8,
		Tiers: []sla.Tier{{Name: "yellow", After: 5 * time.Minute}, {Name: "black", After: 2 * time.Hour, Escalate: true}}}})
	require.Empty(b, errs)
	return ps
}

// buildSLAStore creates n open tickets, armed as the engine arms them: created over the 30
// days before now, the last overdue of them 20 minutes before now with their warning and
// breach due, the rest with clocks that fell due and were recorded long ago or fall due later.
func buildSLAStore(b *testing.B, path string, n, overdue int, clk *testkit.Clock, policies *sla.Policies) {
	ctx := context.Background()
	os.Remove(path)
	st, err := sqlite.Open(ctx, path)
	require.NoError(b, err)
	defer st.Close()
	now := clk.Now()
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := st.Write(ctx, func(tx store.Tx) error {
			for i := start; i < min(n, start+batch); i++ {
				// Overdue ones: created 40 minutes ago (warning at 24, breach at 30 fell due).
				// The others: created in the next minutes (their timers are in the future).
				created := now.Add(time.Duration(i-overdue) * time.Second)
				if i < overdue {
					created = now.Add(-40 * time.Minute)
				}
				d := newDraft(fmt.Sprintf("设备%d 急停按钮失灵", i))
				d.DedupKey = fmt.Sprintf("bench-sla/%d", i)
				ev, err := ticket.Create(ticket.FormatID(created, int64(i+1)), d, "", agent, created, "")
				if err != nil {
					return err
				}
				tk, err := ticket.Apply(ticket.Ticket{}, ev)
				if err != nil {
					return err
				}
				if _, err := tx.Insert(tk, ev, ""); err != nil {
					return err
				}
				p := policies.Choose(engine.SLAEnv(tk))
				due := created.Add(24 * time.Minute) // the response warning, the first mark
				if p == nil {
					return fmt.Errorf("no policy")
				}
				if err := tx.SetTimer(store.Timer{TicketID: tk.ID, Kind: "sla", Due: due}); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
}

func copyFile(b *testing.B, from, to string) {
	for _, suffix := range []string{"", "-wal"} {
		src, err := os.Open(from + suffix)
		if err != nil && suffix != "" {
			continue
		}
		require.NoError(b, err)
		dst, err := os.Create(to + suffix)
		require.NoError(b, err)
		_, err = io.Copy(dst, src)
		require.NoError(b, err)
		require.NoError(b, errors.Join(src.Close(), dst.Close()))
	}
}
