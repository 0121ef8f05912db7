package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/normalize"
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
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/bench.db")
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	e, err := engine.New(ctx, engine.Options{Store: st, Registerer: reg, Routing: ro})
	require.NoError(b, err)
	b.Cleanup(func() { e.Close() })
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
	d := draft("3号线急停按钮失灵")
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
	d := draft("3号线急停按钮失灵")
	d.Category = "急停故障"
	d.Location = normalize.Location{Lat: 31.25, Lon: 120.61}
	runNWriters(b, 64, func(w, i int) error {
		dd := d
		dd.DedupKey = fmt.Sprintf("bench/%d", i)
		_, _, err := e.Create(context.Background(), engine.CreateRequest{Draft: dd, Actor: agent})
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
	d := draft("3号线急停按钮失灵")
	d.Category = "急停故障"
	d.Location = normalize.Location{Lat: 31.25, Lon: 120.61}
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
			tk, _, err := e.Create(ctx, engine.CreateRequest{Draft: draft("bench"), Actor: agent})
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
