package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store"
)

// A dry run of the router for a ticket answers the decision routing would make now and
// changes nothing: no event, no decision recorded, no load, daily count or pointer moved.
func TestCandidatesAreADryRun(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	ctx := context.Background()
	tk, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", tk.Assignee)
	before := map[string]engine.EngineerView{}
	for _, id := range []string{"eng-li", "eng-zhao", "ovf-sun"} {
		v, err := f.engine.Engineer(ctx, id)
		require.NoError(t, err)
		before[id] = v
	}

	for range 3 {
		v, err := f.engine.Candidates(ctx, tk.ID)
		require.NoError(t, err)
		assert.Equal(t, tk.ID, v.TicketID)
		assert.Equal(t, tk.Version, v.Version)
		assert.Equal(t, "estop", v.Decision.Rule)
		assert.Equal(t, "eng-li", v.Decision.Engineer, "the nearest, as when it was routed")
		require.NotEmpty(t, v.Decision.Teams)
		require.Len(t, v.Decision.Teams[0].Candidates, 2)
		assert.Zero(t, v.Decision.Teams[0].Candidates[0].Open, "eng-li weighed without the ticket itself")
	}

	after, err := f.store.Ticket(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, tk.Version, after.Version)
	assert.Len(t, decisions(t, f, tk.ID), 1, "only the routing at creation")
	for id, want := range before {
		v, err := f.engine.Engineer(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want.Open, v.Open, id)
		assert.Equal(t, want.Today, v.Today, id)
	}
	_, err = f.engine.Candidates(ctx, "GD-20990101-000001")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
