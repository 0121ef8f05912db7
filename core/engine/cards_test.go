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
	"gongdan/core/routing"
	"gongdan/core/sla"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

// newCardsFixture is a routing fixture with the cards rules given (nil: the engine's
// defaults) and, when sla is set, SLA clocks.
func newCardsFixture(t *testing.T, rules *routing.CardRules, slaOpts *engine.SLAOptions) *routingFixture {
	t.Helper()
	f := &routingFixture{path: t.TempDir() + "/gongdan.db", clock: testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, shanghaiZone(t))),
		notes: make(chan engine.Notification, 1000), cfg: routingConfig(5), acceptTimeout: 30 * time.Minute, cards: rules, sla: slaOpts}
	f.open(t)
	return f
}

func yellowRules() *routing.CardRules {
	r := routing.YellowDefaults
	return &r
}

var (
	li   = ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	zhao = ticket.Actor{ID: "eng-zhao", Role: ticket.RoleEngineer}
	wang = ticket.Actor{ID: "cust-wang", Role: ticket.RoleCustomer}
)

// resolvedBy creates ticket n of customer cust-wang, which routing gives to eng-li (the
// nearest), and has the engineer who has it accept, start and resolve it.
func resolvedBy(t *testing.T, f *routingFixture, n int, category string) ticket.Ticket {
	t.Helper()
	d := estop(n)
	d.Customer = draft.Customer{ID: "cust-wang"}
	if category != "" {
		d.Category = category
	}
	tk, _ := f.create(t, d)
	require.NotEmpty(t, tk.Assignee, "routed")
	who := ticket.Actor{ID: tk.Assignee, Role: ticket.RoleEngineer}
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: who})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: who})
	return f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: who, Data: json.RawMessage(`{"root_cause":"急停回路接触不良"}`)})
}

func confirm(solved bool, timeliness, professionalism int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"solved":%t,"timeliness":%d,"professionalism":%d}`, solved, timeliness, professionalism))
}

// cardsOf returns an engineer's cards as "kind/cause ticket", newest first.
func cardsOf(t *testing.T, f *routingFixture, engineer string) []string {
	t.Helper()
	v, err := f.engine.Cards(context.Background(), engineer)
	require.NoError(t, err)
	var out []string
	for _, c := range v.Cards {
		out = append(out, c.Kind+"/"+c.Cause+" "+c.TicketID)
	}
	return out
}

// noNote fails when a notification is waiting.
func noNote(t *testing.T, f *routingFixture) {
	t.Helper()
	select {
	case n := <-f.notes:
		t.Fatalf("a notification: %+v", n)
	default:
	}
}

// A rating of 2 is a yellow card, kept with its ticket; a dispute within 30 days is a second
// one, and two make a red card: the lead is told, routing passes the engineer over (the
// trace says why) until the suspension ends.
func TestTwoYellowCardsWithin30DaysMakeARedOne(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	ctx := context.Background()
	first := resolvedBy(t, f, 1, "")
	require.Equal(t, "eng-li", first.Assignee)
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 5, 2)})
	assert.Equal(t, []string{"yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"))
	v, err := f.engine.Engineer(ctx, "eng-li")
	require.NoError(t, err)
	assert.Equal(t, 1, v.YellowCards)
	assert.False(t, v.Suspended)
	assert.Nil(t, v.Live.Yellows, "which yellows they are is for the cards endpoint")
	noNote(t, f)

	f.clock.Advance(29 * 24 * time.Hour)
	second := resolvedBy(t, f, 2, "")
	require.Equal(t, "eng-li", second.Assignee)
	f.do(t, second.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(false, 4, 4)})
	assert.Equal(t, []string{"red/yellows " + second.ID, "yellow/dispute " + second.ID, "yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"))
	n := f.note(t)
	assert.Equal(t, []string{"red_card", "sup-wang", "eng-li", second.ID}, []string{n.Kind, n.To, n.Engineer, n.TicketID})
	assert.Contains(t, n.Detail, "2 yellow cards within 720h0m0s")

	cv, err := f.engine.Cards(ctx, "eng-li")
	require.NoError(t, err)
	require.NotNil(t, cv.SuspendedUntil)
	assert.True(t, f.clock.Now().Add(24*time.Hour).Equal(*cv.SuspendedUntil))
	assert.True(t, cv.Cards[0].Active)
	assert.True(t, cv.Cards[0].ExpiresAt.Equal(*cv.SuspendedUntil), "a red card expires with its suspension")
	assert.True(t, cv.Cards[2].ExpiresAt.Equal(cv.Cards[2].At.Add(30*24*time.Hour)), "a yellow one after yellow_ttl")

	tk, _ := f.create(t, estop(3))
	assert.Equal(t, "eng-zhao", tk.Assignee, "eng-li is suspended")
	ds := decisions(t, f, tk.ID)
	cand := ds[0]["teams"].([]any)[0].(map[string]any)["candidates"].([]any)[0].(map[string]any)
	assert.Equal(t, "eng-li", cand["engineer"])
	assert.Equal(t, false, cand["filters"].(map[string]any)["not_suspended"])
	assert.Contains(t, cand["suspended"], "red card until ")

	f.clock.Advance(24*time.Hour + time.Minute)
	tk, _ = f.create(t, estop(4))
	assert.Equal(t, "eng-li", tk.Assignee, "the suspension is over")
	cv, err = f.engine.Cards(ctx, "eng-li")
	require.NoError(t, err)
	assert.Nil(t, cv.SuspendedUntil)
	assert.False(t, cv.Cards[0].Active, "the red card expired")
}

// A yellow card older than the window counts no more: the next one is a yellow, not a red.
func TestAnExpiredYellowCardDoesNotMakeARedOne(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	first := resolvedBy(t, f, 1, "")
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 2, 2)})
	f.clock.Advance(30*24*time.Hour + time.Minute)
	second := resolvedBy(t, f, 2, "")
	require.Equal(t, "eng-li", second.Assignee)
	f.do(t, second.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 2, 2)})
	assert.Equal(t, []string{"yellow/rating " + second.ID, "yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"))
	noNote(t, f)
	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.Equal(t, 1, v.YellowCards)
	assert.False(t, v.Suspended)
}

// Without a cards section, the rule of old holds: no yellow cards, two 1s in a row a red
// card for 24 hours, kept as a card.
func TestWithoutACardsSectionOnlyTwoOnesInARowMakeARedCard(t *testing.T) {
	f := newCardsFixture(t, nil, nil)
	served := func(tk ticket.Ticket, data json.RawMessage) {
		t.Helper()
		require.Equal(t, "eng-li", tk.Assignee)
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: data})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: disp})
	}
	first := resolvedBy(t, f, 1, "")
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(false, 5, 5)})
	f.do(t, first.ID, ticket.Command{Action: ticket.ActionResolve, Actor: li, Data: json.RawMessage(`{"root_cause":"再查一遍"}`)})
	served(first, confirm(true, 2, 2))
	assert.Empty(t, cardsOf(t, f, "eng-li"), "no yellow for a rating of 2 nor a dispute")
	served(resolvedBy(t, f, 2, ""), confirm(true, 1, 3))
	third := resolvedBy(t, f, 3, "")
	served(third, confirm(true, 4, 1))
	assert.Equal(t, []string{"red/low_ratings " + third.ID}, cardsOf(t, f, "eng-li"))
	n := f.note(t)
	assert.Equal(t, "red_card", n.Kind)
	assert.Contains(t, n.Detail, "rated 1 by 2 customers in a row")
}

// A rating counts for whoever had the ticket when the customer answered, not for whoever has
// it later; an automatic confirmation is no rating and breaks no run.
func TestARatingCountsForTheAssigneeAtTheTimeOfRating(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	f.engine.Close()
	f.store.Close()
	f.closure = &engine.ClosureOptions{Key: key, TTL: time.Hour, ConfirmTimeout: 72 * time.Hour}
	f.open(t)
	tk := resolvedBy(t, f, 1, "")
	require.Equal(t, "eng-li", tk.Assignee)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(false, 1, 1)}) // eng-li's
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-zhao","team":"suzhou-a"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: zhao})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: zhao})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: zhao, Data: json.RawMessage(`{"root_cause":"换了急停按钮"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 1, 2)}) // eng-zhao's
	assert.Equal(t, []string{"yellow/dispute " + tk.ID}, cardsOf(t, f, "eng-li"))
	assert.Equal(t, []string{"yellow/rating " + tk.ID}, cardsOf(t, f, "eng-zhao"))

	// eng-zhao has one 1; an auto-confirm of his next ticket neither adds nor ends the run.
	f.liOnLeave(t)
	auto := resolvedBy(t, f, 2, "")
	require.Equal(t, "eng-zhao", auto.Assignee)
	_, err = f.engine.Do(context.Background(), ticket.Command{TicketID: auto.ID, Action: ticket.ActionConfirm, Actor: ticket.SystemActor,
		Data: json.RawMessage(`{"solved":true,"auto":true}`)})
	require.ErrorIs(t, err, ticket.ErrForbidden, "no one may send the auto-confirm: only its timer")
	f.clock.Advance(72 * time.Hour)
	f.engine.FireDue()
	got, err := f.store.Ticket(context.Background(), auto.ID)
	require.NoError(t, err)
	require.Equal(t, ticket.StateCustomerConfirmed, got.State)
	require.True(t, got.Feedback.Auto)
	assert.Len(t, cardsOf(t, f, "eng-zhao"), 1, "an auto-confirm gives no card")
	v, err := f.engine.Engineer(context.Background(), "eng-zhao")
	require.NoError(t, err)
	assert.Equal(t, 1, v.Live.LowRatings, "nor ends the run of ones")
}

// liOnLeave puts eng-li on leave, so that the next ticket goes to eng-zhao.
func (f *routingFixture) liOnLeave(t *testing.T) {
	t.Helper()
	leave := routing.StatusLeave
	_, err := f.engine.UpdateEngineer(context.Background(), "eng-li", engine.EngineerUpdate{Status: &leave})
	require.NoError(t, err)
}

// A repeat within 7 days of the close is a yellow card for whoever closed the ticket it
// repeats, about that ticket.
func TestARepeatIsAYellowCardForWhoClosedTheTicket(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	tk := resolvedBy(t, f, 1, "")
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 5, 5)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: disp})
	assert.Empty(t, cardsOf(t, f, "eng-li"))
	f.liOnLeave(t)
	f.clock.Advance(6 * 24 * time.Hour)
	d := estop(2)
	d.Customer = draft.Customer{ID: "cust-wang"}
	again, _ := f.create(t, d)
	require.Equal(t, tk.ID, again.RepeatOf)
	require.Equal(t, "eng-zhao", again.Assignee)
	assert.Equal(t, []string{"yellow/repeat " + tk.ID}, cardsOf(t, f, "eng-li"))
	assert.Empty(t, cardsOf(t, f, "eng-zhao"))
}

// Each switch turns its yellow card off.
func TestEachYellowCardCanBeSwitchedOff(t *testing.T) {
	rules := yellowRules()
	rules.Rating, rules.Dispute, rules.Repeat = false, false, false
	f := newCardsFixture(t, rules, nil)
	tk := resolvedBy(t, f, 1, "")
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(false, 2, 2)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: li, Data: json.RawMessage(`{"root_cause":"再查一遍"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 2, 2)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: disp})
	d := estop(2)
	d.Customer = draft.Customer{ID: "cust-wang"}
	again, _ := f.create(t, d)
	require.Equal(t, tk.ID, again.RepeatOf)
	assert.Empty(t, cardsOf(t, f, "eng-li"), "rating, dispute and repeat are off")
}

// An SLA red tier on the engineer's ticket is a yellow card, once per ticket however many of
// its targets reach it; with sla_red off, none.
func TestAnSLARedTierIsAYellowCard(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("sla_red ", on), func(t *testing.T) {
			rules := yellowRules()
			rules.SLARed = on
			always := &sla.Calendar{Name: "24x7", Location: shanghaiZone(t), Always: true}
			ps, errs := sla.NewPolicies([]sla.Policy{{ID: "estop", Calendar: always,
				Goals: map[sla.Target]time.Duration{sla.Response: 10 * time.Minute, sla.Resolution: time.Hour},
				Tiers: []sla.Tier{{Name: "yellow", After: 5 * time.Minute}, {Name: "red", After: 15 * time.Minute, Notify: []string{"team_lead"}}}}})
			require.Empty(t, errs)
			f := newCardsFixture(t, rules, &engine.SLAOptions{Policies: ps, Notify: func(engine.Notification) {}})
			tk, _ := f.create(t, estop(1))
			require.Equal(t, "eng-li", tk.Assignee)
			f.clock.Advance(26 * time.Minute) // response: breach at 10, red at 25
			f.engine.FireDue()
			f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: li})
			f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: li})
			f.clock.Advance(50 * time.Minute) // resolution: breach at 60, red at 75
			f.engine.FireDue()
			tk = f.ticket(t, tk.ID)
			require.True(t, tk.Marked("response/tier/red") && tk.Marked("resolution/tier/red"), "%+v", tk.SLA)
			if on {
				assert.Equal(t, []string{"yellow/sla_red " + tk.ID}, cardsOf(t, f, "eng-li"))
			} else {
				assert.Empty(t, cardsOf(t, f, "eng-li"))
			}
		})
	}
}

// A confirm sent again with its command id gives no second card; a restart keeps the cards,
// and the yellow that counts toward a red.
func TestCardsSurviveARestartAndAReplayGivesNone(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	first := resolvedBy(t, f, 1, "")
	cmd := ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 2, 4), CommandID: "confirm-1"}
	f.do(t, first.ID, cmd)
	f.do(t, first.ID, cmd)
	assert.Equal(t, []string{"yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"))

	f.restart(t)
	assert.Equal(t, []string{"yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"))
	f.do(t, first.ID, cmd)
	assert.Len(t, cardsOf(t, f, "eng-li"), 1, "replayed after the restart")

	second := resolvedBy(t, f, 2, "")
	require.Equal(t, "eng-li", second.Assignee)
	f.do(t, second.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, 3, 2)})
	assert.Equal(t, []string{"red/yellows " + second.ID, "yellow/rating " + second.ID, "yellow/rating " + first.ID}, cardsOf(t, f, "eng-li"),
		"the yellow from before the restart counted")
	f.restart(t)
	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.True(t, v.Suspended, "the suspension outlives the restart")
	assertStoredIsFold(t, f.store)
}

func TestCardsOfAnUnknownEngineer(t *testing.T) {
	f := newCardsFixture(t, yellowRules(), nil)
	_, err := f.engine.Cards(context.Background(), "eng-nobody")
	assert.ErrorIs(t, err, engine.ErrNotFound)
}

// Cards are counted by kind and cause.
func TestCardsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := routing.New(routingConfig(5))
	require.NoError(t, err)
	rules := yellowRules()
	st := enginekit.OpenStore(t, "")
	e := enginekit.Start(t, engine.Options{Store: st, Registerer: reg, Routing: &engine.RoutingOptions{Router: r, Cards: rules, Notify: func(engine.Notification) {}}})
	f := &routingFixture{fixture: &fixture{engine: e, store: st, reg: reg}}
	for n, rating := range []int{2, 2} {
		tk := resolvedBy(t, f, n+1, "")
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: wang, Data: confirm(true, rating, 5)})
	}
	assert.Equal(t, 2.0, metricValue(t, reg, "gongdan_routing_cards_total", "rating", "yellow"))
	assert.Equal(t, 1.0, metricValue(t, reg, "gongdan_routing_cards_total", "yellows", "red"))
	assert.Equal(t, 1.0, metricValue(t, reg, "gongdan_routing_red_cards_total"))
}
