package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/internal/testkit/enginekit"
)

func TestStateEqualsFoldAfterManyConcurrentActions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft(fmt.Sprint(w, i)), Actor: agent})
				if !assert.NoError(t, err) {
					return
				}
				for _, cmd := range []ticket.Command{
					{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)},
					{Action: ticket.ActionAccept, Actor: eng},
					{Action: ticket.ActionStart, Actor: eng},
					{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"触点氧化"}`)},
				} {
					cmd.TicketID = tk.ID
					_, err := f.engine.Do(ctx, cmd)
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	page, err := f.store.List(ctx, storeQueryAll())
	require.NoError(t, err)
	require.Len(t, page.Tickets, 80)
	for _, tk := range page.Tickets {
		evs, err := f.store.Events(ctx, tk.ID)
		require.NoError(t, err)
		folded, err := ticket.Fold(evs)
		require.NoError(t, err)
		assert.Equal(t, jsonOf(t, tk), jsonOf(t, folded))
		assert.Equal(t, ticket.StateResolved, tk.State)
	}
}

// failingStore refuses every Write once fail is set.
type failingStore struct {
	*sqlite.Store
	fail bool
}

func (f *failingStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	if f.fail {
		return f.Store.Write(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errors.New("disk full") // everything fn wrote is rolled back
		})
	}
	return f.Store.Write(ctx, fn)
}

func TestFailedCommitRefusesTheWholeBatch(t *testing.T) {
	ctx := context.Background()
	st := enginekit.OpenStore(t, "")
	fs := &failingStore{Store: st}
	e := enginekit.Start(t, engine.Options{Store: fs})
	tk, _, err := e.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	sub := e.Subscribe(64)
	defer sub.Close()

	fs.fail = true // the committer reads it only after the next submit: ordered by the channel
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _, err := e.Create(ctx, engine.CreateRequest{Draft: newDraft(fmt.Sprint(i)), Actor: agent})
			assert.ErrorContains(t, err, "disk full")
			_, err = e.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
				Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: fmt.Sprint("c", i)})
			assert.ErrorContains(t, err, "disk full")
		})
	}
	wg.Wait()
	assert.Empty(t, sub.C, "nothing uncommitted is published")
	evs, err := st.EventsAfter(ctx, 0, 100)
	require.NoError(t, err)
	assert.Len(t, evs, 1, "only the first create is stored")

	// The cache must not keep what the failed batches wrote: the next command is decided on
	// the stored ticket (version 1, state new).
	fs.fail = false
	got, err := e.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), ExpectedVersion: 1})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
}
