package enginekit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

var agent = ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}

// TestNew: the engine runs on the fixture's store, on the test's clock, with its metrics in
// the fixture's registry.
func TestNew(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	f := enginekit.New(t, engine.Options{Now: clk.Now})
	tk, _, err := f.Engine.Create(context.Background(), engine.CreateRequest{Draft: draft.Draft{Title: "急停按钮失灵"}, Actor: agent})
	require.NoError(t, err)
	assert.True(t, clk.Now().Equal(tk.CreatedAt), "created at %s", tk.CreatedAt)
	stored, err := f.Store.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, tk.ID, stored.ID)
	mfs, err := f.Registry.Gather()
	require.NoError(t, err)
	assert.NotEmpty(t, mfs)
}

// TestOpenStoreAgain: a store opened again at its path (a restart) holds what the first wrote.
func TestOpenStoreAgain(t *testing.T) {
	path := t.TempDir() + "/gongdan.db"
	st := enginekit.OpenStore(t, path)
	e := enginekit.Start(t, engine.Options{Store: st})
	tk, _, err := e.Create(context.Background(), engine.CreateRequest{Draft: draft.Draft{Title: "急停按钮失灵"}, Actor: agent})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, st.Close())

	again := enginekit.OpenStore(t, path)
	stored, err := again.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, tk.Title, stored.Title)
}
