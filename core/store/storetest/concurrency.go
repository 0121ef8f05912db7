package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

const goroutines = 8

// testNextNumberConcurrent: concurrent Writes never hand out the same number twice, and
// none is skipped.
func testNextNumberConcurrent(t *testing.T, f *fixture) {
	const perGoroutine = 50
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range perGoroutine {
				var n int64
				err := f.write(func(w *writer) error {
					var err error
					n, err = w.tx.NextNumber(dayKey)
					return err
				})
				if !assert.NoError(t, err, "NextNumber") {
					return
				}
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := make([]int64, goroutines*perGoroutine)
	for i := range want {
		want[i] = int64(i + 1)
	}
	slices.Sort(got)
	assert.Equal(t, want, got, "%d Writes must get the numbers 1..%d, each once", len(want), len(want))
}

// testConcurrentAppends: goroutines append to tickets of their own, deciding inside the
// Write as the engine does, and to one shared ticket, deciding outside it and retrying on
// ErrConflict as a second process would. Readers watch meanwhile. No event may be lost or
// stored twice, and every version must end where the appends put it.
func testConcurrentAppends(t *testing.T, f *fixture) {
	const ownAppends, sharedAppends = 15, 10
	titles := []string{"共享工单：产线停机"}
	for g := range goroutines {
		titles = append(titles, fmt.Sprintf("工程师 %d 的工单", g))
	}
	drafts := make([]draft.Draft, 0, len(titles))
	for _, title := range titles {
		drafts = append(drafts, newDraft(title))
	}
	tks := f.mustCreate(drafts...)
	shared := tks[0].ID
	own := ids(tks[1:])

	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() { watch(t, f, shared, done) })
	}

	var writers sync.WaitGroup
	for g := range goroutines {
		writers.Go(func() {
			for i := range max(ownAppends, sharedAppends) {
				if i < ownAppends {
					err := f.write(func(w *writer) error {
						cmd := withID(assign(fmt.Sprintf("eng-%d-%d", g, i), "suzhou-a"), fmt.Sprintf("own-%d-%d", g, i))
						_, _, err := w.act(own[g], cmd)
						return err
					})
					if !assert.NoError(t, err, "goroutine %d: append %d to its own ticket", g, i) {
						return
					}
				}
				if i < sharedAppends {
					cmd := withID(assign(fmt.Sprintf("eng-%d-%d", g, i), "wuxi"), fmt.Sprintf("shared-%d-%d", g, i))
					if err := appendRetrying(f, shared, cmd); !assert.NoError(t, err, "goroutine %d: append %d to the shared ticket", g, i) {
						return
					}
				}
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()

	check := func(id string, version int64, commandIDs []string) {
		t.Helper()
		tk, err := f.s.Ticket(f.ctx, id)
		require.NoError(t, err)
		assert.Equal(t, version, tk.Version, "%s: every append must count", id)
		evs, err := f.s.Events(f.ctx, id)
		require.NoError(t, err)
		var got []string
		for i, ev := range evs {
			assert.Equal(t, int64(i+1), ev.Seq, "%s: seqs must run 1, 2, 3…", id)
			if ev.CommandID != "" {
				got = append(got, ev.CommandID)
			}
		}
		slices.Sort(got)
		slices.Sort(commandIDs)
		assert.Equal(t, commandIDs, got, "%s: every append's event, once", id)
	}
	var sharedIDs []string
	for g := range goroutines {
		var ownIDs []string
		for i := range ownAppends {
			ownIDs = append(ownIDs, fmt.Sprintf("own-%d-%d", g, i))
		}
		check(own[g], 1+ownAppends, ownIDs)
		for i := range sharedAppends {
			sharedIDs = append(sharedIDs, fmt.Sprintf("shared-%d-%d", g, i))
		}
	}
	check(shared, 1+goroutines*sharedAppends, sharedIDs)
}

// appendRetrying appends cmd to a ticket read outside the Write, as a second process sharing
// the store would, and decides again on ErrConflict.
func appendRetrying(f *fixture, id string, cmd ticket.Command) error {
	for range 10000 {
		cur, err := f.s.Ticket(f.ctx, id)
		if err != nil {
			return err
		}
		next, ev, err := decide(cur, cmd, f.tick())
		if err != nil {
			return err
		}
		err = f.write(func(w *writer) error {
			_, err := w.Append(next, ev)
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("append %s to %s: still conflicting after 10000 tries", cmd.CommandID, id)
}

// watch reads a ticket until done: its version never goes back, and its log is never seen
// half-written or behind the row read before it.
func watch(t *testing.T, f *fixture, id string, done <-chan struct{}) {
	var last int64
	for {
		select {
		case <-done:
			return
		default:
		}
		tk, err := f.s.Ticket(f.ctx, id)
		if !assert.NoError(t, err) {
			return
		}
		if !assert.GreaterOrEqual(t, tk.Version, last, "a later read must not see an older version") {
			return
		}
		last = tk.Version
		evs, err := f.s.Events(f.ctx, id)
		if !assert.NoError(t, err) {
			return
		}
		if !assert.GreaterOrEqual(t, int64(len(evs)), tk.Version, "the log read after the row must hold the row's version") {
			return
		}
		for i, ev := range evs {
			if !assert.Equal(t, int64(i+1), ev.Seq, "a log read while appending must have no gaps") {
				return
			}
		}
		if _, err := f.s.List(f.ctx, store.Query{Limit: 5}); !assert.NoError(t, err) {
			return
		}
	}
}
