package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
)

var (
	agent = ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	disp  = ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	eng   = ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
)

type fixture struct {
	engine *engine.Engine
	store  *sqlite.Store
	reg    *prometheus.Registry
}

func newFixture(t *testing.T, now func() time.Time) *fixture {
	t.Helper()
	k := enginekit.New(t, engine.Options{Now: now})
	return &fixture{engine: k.Engine, store: k.Store, reg: k.Registry}
}

func newDraft(title string) draft.Draft {
	return draft.Draft{Title: title, Description: "按下急停无反应", Urgency: draft.UrgencyOrange,
		Customer: draft.Customer{Name: "王建国", Phone: "13812345678"}}
}

func TestSubscribersGetCommittedEventsInOrder(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	sub := f.engine.Subscribe(16)
	defer sub.Close()
	tk, _, err := f.engine.Create(ctx, engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	require.NoError(t, err)
	_, err = f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionStart, Actor: eng}) // refused: no event
	require.Error(t, err)
	e1, e2 := <-sub.C, <-sub.C
	assert.Equal(t, ticket.ActionCreate, e1.Action)
	assert.Equal(t, ticket.ActionAssign, e2.Action)
	assert.Greater(t, e2.ID, e1.ID)
	assert.Empty(t, sub.C)
	assert.Equal(t, 1.0, metricValue(t, f.reg, "gongdan_tickets", "assigned"))
	assert.Equal(t, 0.0, metricValue(t, f.reg, "gongdan_tickets", "new"))
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	f := newFixture(t, nil)
	sub := f.engine.Subscribe(1)
	for i := range 3 {
		_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft(fmt.Sprint(i)), Actor: agent})
		require.NoError(t, err)
	}
	n := 0
	for range sub.C {
		n++
	}
	assert.Equal(t, 1, n, "one buffered event, then the channel is closed")
	sub.Close() // closing again is harmless
}

func TestClosedEngineRefuses(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.engine.Close())
	_, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: newDraft("x"), Actor: agent})
	require.ErrorIs(t, err, engine.ErrClosed)
	sub := f.engine.Subscribe(1)
	_, open := <-sub.C
	assert.False(t, open)
}
