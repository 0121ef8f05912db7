package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
)

func followupCardsFixture(t *testing.T) *routingFixture {
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	f := &routingFixture{path: t.TempDir() + "/gongdan.db", clock: newCardsFixtureClock(t),
		notes: make(chan engine.Notification, 1000), cfg: routingConfig(5), acceptTimeout: 30 * time.Minute, cards: yellowRules(),
		closure: &engine.ClosureOptions{Key: key, TTL: 180 * 24 * time.Hour, Remind: []time.Duration{24 * time.Hour, 48 * time.Hour},
			ConfirmTimeout: 72 * time.Hour, FollowupAfter: 48 * time.Hour}}
	f.open(t)
	return f
}

func closedByLi(t *testing.T, f *routingFixture) ticket.Ticket {
	tk := resolvedBy(t, f, 1, "")
	require.Equal(t, "eng-li", tk.Assignee)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(tk.ID), Data: confirm(true, 5, 5)})
	return f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: disp})
}

// A follow-up "yes" answered 10 days after the close is not "a repeat within 7 days"
// (issue 21): the KPIs do not count it, and neither do the cards; the new ticket is linked.
func TestALateFollowupYesIsLinkedNotCharged(t *testing.T) {
	f := followupCardsFixture(t)
	ctx := context.Background()
	tk := closedByLi(t, f)
	f.clock.Advance(49 * time.Hour)
	f.engine.FireDue()
	f.clock.Advance(8 * 24 * time.Hour) // the customer answers on day 10
	got, err := f.engine.AnswerFollowup(ctx, tk.ID, true, "又坏了")
	require.NoError(t, err)
	require.NotEmpty(t, got.Followup.Repeat)

	rep, err := f.engine.KPIReport(ctx, f.clock.Now().Add(-30*24*time.Hour), "")
	require.NoError(t, err)
	assert.Equal(t, rep.FTFR.Of, rep.FTFR.Count, "KPIs: not a repeat within 7 days")
	assert.Empty(t, cardsOf(t, f, "eng-li"), "cards: a repeat after 10 days is no 'repeat within 7 days'")
}

// One recurrence: the customer calls again on day 1 (auto-linked repeat). The follow-up is
// not asked (they came back on their own), no second repeat is opened, and the engineer gets
// one repeat card, not two and a red one.
func TestOneRecurrenceIsChargedOnce(t *testing.T) {
	f := followupCardsFixture(t)
	ctx := context.Background()
	tk := closedByLi(t, f)
	f.liOnLeave(t)
	f.clock.Advance(24 * time.Hour)
	d := estop(2)
	d.Customer = draft.Customer{ID: "cust-wang"}
	again, _ := f.create(t, d)
	require.Equal(t, tk.ID, again.RepeatOf)
	f.clock.Advance(25 * time.Hour)
	f.engine.FireDue()
	asked := f.ticket(t, tk.ID)
	assert.Nil(t, asked.Followup, "not asked: a repeat of it is open already")
	assert.Equal(t, again.ID, asked.RepeatedBy)
	_, err := f.engine.AnswerFollowup(ctx, tk.ID, true, "还是坏的")
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "nothing to answer")
	cards := cardsOf(t, f, "eng-li")
	v, err := f.engine.Engineer(ctx, "eng-li")
	require.NoError(t, err)
	assert.Len(t, cards, 1, "one recurrence, one repeat card")
	assert.False(t, v.Suspended)
	_ = json.RawMessage(nil)
}

func newCardsFixtureClock(t *testing.T) *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, shanghaiZone(t)))
}
