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
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
)

const writers = 8

func benchEngine(b *testing.B) *engine.Engine {
	e, _ := benchEngineWithRegistry(b)
	return e
}

func benchEngineWithRegistry(b *testing.B) (*engine.Engine, *prometheus.Registry) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/bench.db")
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	e, err := engine.New(ctx, engine.Options{Store: st, Registerer: reg})
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
func runWriters(b *testing.B, op func(w, i int) error) {
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
