package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

var (
	site   = draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州", Lat: 31.30, Lon: 120.62}
	near   = routing.Point{Lat: 31.309, Lon: 120.62}  // 1 km
	nearer = routing.Point{Lat: 31.3045, Lon: 120.62} // 0.5 km
)

func routingConfig(maxOpen int) routing.Config {
	eng := func(id string, at routing.Point) routing.Engineer {
		return routing.Engineer{ID: id, Home: at, RadiusKM: 20, MaxOpen: maxOpen, Status: routing.StatusOnDuty, Skills: []string{"plc"}}
	}
	return routing.Config{
		Engineers: []routing.Engineer{eng("eng-li", nearer), eng("eng-zhao", near), eng("ovf-sun", near)},
		Teams: []routing.Team{
			{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}, Overflow: "suzhou-b"},
			{ID: "suzhou-b", Lead: "sup-zhou", Members: []string{"ovf-sun"}},
		},
		Rules: []routing.Rule{{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}, Set: routing.Set{Urgency: "orange"}}},
	}
}

type routingFixture struct {
	*fixture
	path          string
	clock         *testkit.Clock
	notes         chan engine.Notification
	cfg           routing.Config
	acceptTimeout time.Duration
	// cards and sla, when set, go to the engine as they are (RoutingOptions.Cards, Options.SLA).
	cards *routing.CardRules
	sla   *engine.SLAOptions
	// closure, when set, runs the closing loop (Options.Closure).
	closure *engine.ClosureOptions
}

func newRoutingFixture(t *testing.T, cfg routing.Config) *routingFixture {
	t.Helper()
	f := &routingFixture{path: t.TempDir() + "/gongdan.db", clock: testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, shanghaiZone(t))),
		notes: make(chan engine.Notification, 1000), cfg: cfg, acceptTimeout: 30 * time.Minute}
	f.open(t)
	return f
}

func shanghaiZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return loc
}

// open (re)starts the engine on the fixture's database, as a restart of gongdan would.
func (f *routingFixture) open(t *testing.T) {
	t.Helper()
	st := enginekit.OpenStore(t, f.path)
	r, err := routing.New(f.cfg)
	require.NoError(t, err)
	var e *engine.Engine
	// Registered before the engine's Close, so it runs after it, with the store still open.
	t.Cleanup(func() {
		if e != nil { // nil when Start failed: that failure is the test's
			assert.NoError(t, e.CheckLives(), "the engineers' live state kept by the committer")
		}
	})
	e = enginekit.Start(t, engine.Options{Store: st, Now: f.clock.Now, SLA: f.sla, Closure: f.closure, Routing: &engine.RoutingOptions{
		Router: r, AcceptTimeout: f.acceptTimeout, Cards: f.cards, Notify: func(n engine.Notification) {
			select {
			case f.notes <- n:
			default: // tests that do not read them
			}
		}}})
	f.fixture = &fixture{engine: e, store: st}
}

func (f *routingFixture) restart(t *testing.T) {
	t.Helper()
	f.engine.Close()
	assert.NoError(t, f.engine.CheckLives(), "the engineers' live state kept by the committer")
	f.store.Close()
	f.open(t)
}

// note waits for the next notification.
func (f *routingFixture) note(t *testing.T) engine.Notification {
	t.Helper()
	select {
	case n := <-f.notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return engine.Notification{}
	}
}

func estop(n int) draft.Draft {
	return draft.Draft{Title: fmt.Sprintf("%d号线急停按钮失灵", n), Description: "按下急停无反应", Category: "急停故障",
		Urgency: draft.UrgencyYellow, Location: site}
}

func decisions(t *testing.T, f *routingFixture, id string) []map[string]any {
	t.Helper()
	recs, err := f.engine.RoutingDecisions(context.Background(), id)
	require.NoError(t, err)
	var out []map[string]any
	for _, r := range recs {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &m))
		m["_trigger"], m["_failure"] = r.Trigger, r.Failure
		out = append(out, m)
	}
	return out
}

func TestANewTicketIsRoutedInItsOwnTransaction(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	tk, outcome := f.create(t, estop(1))
	assert.Equal(t, engine.Created, outcome)
	assert.Equal(t, ticket.StateAssigned, tk.State, "the answer to the create is the routed ticket")
	assert.Equal(t, "eng-li", tk.Assignee, "the nearest")
	assert.Equal(t, "suzhou-a", tk.Team)
	assert.Equal(t, draft.UrgencyOrange, tk.Urgency, "the rule's set")

	evs, err := f.store.Events(context.Background(), tk.ID)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, ticket.ActionAssign, evs[1].Action)
	assert.Equal(t, "estop", evs[1].Rule)
	assert.True(t, evs[1].Automatic)
	assert.Equal(t, "system", evs[1].Actor.ID)

	ds := decisions(t, f, tk.ID)
	require.Len(t, ds, 1)
	assert.Equal(t, "created", ds[0]["_trigger"])
	assert.Equal(t, "eng-li", ds[0]["engineer"])
	assert.Equal(t, "estop", ds[0]["rule"])
	assert.Equal(t, false, ds[0]["manual"])
	assertStoredIsFold(t, f.store)
}

// 16 intakes at once never push an engineer past max_open: the check and the assignment are
// one transaction on the one committer.
func TestCapsHoldUnderConcurrentRouting(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(3))
	var wg sync.WaitGroup
	got := make([]ticket.Ticket, 16)
	for i := range got {
		wg.Go(func() {
			tk, _, err := f.engine.Create(context.Background(), engine.CreateRequest{Draft: estop(i), Actor: system})
			assert.NoError(t, err)
			got[i] = tk
		})
	}
	wg.Wait()
	per := map[string]int{}
	for _, tk := range got {
		per[tk.Assignee]++
	}
	assert.Equal(t, map[string]int{"eng-li": 3, "eng-zhao": 3, "ovf-sun": 3, "": 7}, per)
	open, err := f.store.OpenByAssignee(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"eng-li": 3, "eng-zhao": 3, "ovf-sun": 3}, open, "as stored")

	failures := 0
	for range 7 {
		n := f.note(t)
		assert.Equal(t, "routing_failed", n.Kind)
		assert.Equal(t, "sup-wang", n.To, "the first team's lead")
		assert.Contains(t, n.Detail, "all_over_cap")
		failures++
	}
	assert.Equal(t, 7, failures)
	for _, tk := range got {
		if tk.Assignee == "" {
			assert.Equal(t, ticket.StateNew, tk.State, "no one: the ticket stays new")
			evs, err := f.store.Events(context.Background(), tk.ID)
			require.NoError(t, err)
			assert.Equal(t, ticket.ActionRoutingFailed, evs[len(evs)-1].Action)
		}
	}

	// Resolving frees a slot: the next ticket goes to whoever has one.
	li := engineerTicket(t, got, "eng-li")
	f.do(t, li.ID, ticket.Command{Action: ticket.ActionAccept, Actor: ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}})
	f.do(t, li.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "与电话报修重复"})
	tk, _ := f.create(t, estop(99))
	assert.Equal(t, "eng-li", tk.Assignee)
	assertStoredIsFold(t, f.store)
}

func engineerTicket(t *testing.T, tks []ticket.Ticket, eng string) ticket.Ticket {
	for _, tk := range tks {
		if tk.Assignee == eng {
			return tk
		}
	}
	t.Fatalf("no ticket for %s", eng)
	return ticket.Ticket{}
}

func TestAnEngineerPutOnLeaveGetsNoNewTicket(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	first, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", first.Assignee)

	leave := routing.StatusLeave
	v, err := f.engine.UpdateEngineer(context.Background(), "eng-li", engine.EngineerUpdate{Status: &leave})
	require.NoError(t, err)
	assert.Equal(t, routing.StatusLeave, v.EffectiveStatus)
	assert.Equal(t, 1, v.Open)
	for i := range 3 {
		tk, _ := f.create(t, estop(10+i))
		assert.Equal(t, "eng-zhao", tk.Assignee, "from the next decision on")
	}
	// It survives a restart.
	f.restart(t)
	tk, _ := f.create(t, estop(20))
	assert.Equal(t, "eng-zhao", tk.Assignee)
	v, err = f.engine.Engineer(context.Background(), "eng-zhao")
	require.NoError(t, err)
	assert.Equal(t, 4, v.Open, "loads are rebuilt from the store")
	assert.Equal(t, 4, v.Today)

	onDuty := routing.StatusOnDuty
	_, err = f.engine.UpdateEngineer(context.Background(), "eng-li", engine.EngineerUpdate{Status: &onDuty})
	require.NoError(t, err)
	tk, _ = f.create(t, estop(21))
	assert.Equal(t, "eng-li", tk.Assignee)

	bad := routing.Status("holiday")
	_, err = f.engine.UpdateEngineer(context.Background(), "eng-li", engine.EngineerUpdate{Status: &bad})
	assert.ErrorIs(t, err, ticket.ErrInvalidData)
	_, err = f.engine.UpdateEngineer(context.Background(), "nobody", engine.EngineerUpdate{Status: &onDuty})
	assert.ErrorIs(t, err, engine.ErrNotFound)
}

func TestADeclinedTicketGoesToSomeoneElse(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	tk, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", tk.Assignee)
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	tk = f.do(t, tk.ID, ticket.Command{Action: ticket.ActionDecline, Actor: li, Data: json.RawMessage(`{"reason_code":"skill_mismatch"}`)})
	assert.Equal(t, ticket.StateAssigned, tk.State, "routed again in the decline's transaction")
	assert.Equal(t, "eng-zhao", tk.Assignee)
	assert.Equal(t, []ticket.Exclusion{{Engineer: "eng-li", Reason: "skill_mismatch"}}, tk.Excluded)

	zhao := ticket.Actor{ID: "eng-zhao", Role: ticket.RoleEngineer}
	tk = f.do(t, tk.ID, ticket.Command{Action: ticket.ActionDecline, Actor: zhao, Data: json.RawMessage(`{"reason_code":"too_far"}`)})
	assert.Equal(t, "ovf-sun", tk.Assignee, "the overflow team when the first team has no one left")

	ds := decisions(t, f, tk.ID)
	require.Len(t, ds, 3)
	assert.Equal(t, []any{"created", "declined", "declined"}, []any{ds[0]["_trigger"], ds[1]["_trigger"], ds[2]["_trigger"]})
	assert.Equal(t, "too_far", ds[2]["cause"])

	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.Zero(t, v.Open, "the declined ticket no longer counts for eng-li")
}

// An offer not accepted in time goes to the next engineer, once, even across a restart
// during which it fell due.
func TestAnOfferNotAcceptedInTimeIsRoutedAgain(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	tk, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", tk.Assignee)
	accepted, _ := f.create(t, estop(2))
	require.Equal(t, "eng-zhao", accepted.Assignee, "round-robin? no: eng-li is nearer, but has one open now")
	f.do(t, accepted.ID, ticket.Command{Action: ticket.ActionAccept, Actor: ticket.Actor{ID: "eng-zhao", Role: ticket.RoleEngineer}})

	f.engine.Close()
	f.store.Close()
	f.clock.Advance(31 * time.Minute) // downtime past the timeout
	f.open(t)

	require.Eventually(t, func() bool {
		got, err := f.store.Ticket(context.Background(), tk.ID)
		return err == nil && got.Assignee != "eng-li"
	}, 10*time.Second, 20*time.Millisecond)
	got, err := f.store.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "eng-zhao", got.Assignee)
	assert.Equal(t, []ticket.Exclusion{{Engineer: "eng-li", Reason: ticket.ExclusionOfferTimeout}}, got.Excluded)
	acc, err := f.store.Ticket(context.Background(), accepted.ID)
	require.NoError(t, err)
	assert.Equal(t, "eng-zhao", acc.Assignee, "an accepted offer has no timer")
	assert.Equal(t, ticket.StateAccepted, acc.State)

	// Restarts do not fire it again: the timer went with the reassignment (a new one for
	// eng-zhao's offer is 30 minutes out).
	f.restart(t)
	f.restart(t)
	evs, err := f.store.Events(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Len(t, evs, 3, "create, assign, assign again")
	ds := decisions(t, f, tk.ID)
	require.Len(t, ds, 2)
	assert.Equal(t, "offer_timeout", ds[1]["_trigger"])
}

func TestTwoRatingsOfOneInARowSuspendTheEngineer(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	serve := func(n, rating int) {
		d := estop(n)
		d.Customer = draft.Customer{ID: "cust-wang"}
		tk, _ := f.create(t, d)
		require.Equal(t, "eng-li", tk.Assignee)
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: li})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: li})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: li, Data: json.RawMessage(`{"root_cause":"急停回路接触不良"}`)})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.Actor{ID: "cust-wang", Role: ticket.RoleCustomer},
			Data: json.RawMessage(fmt.Sprintf(`{"solved":true,"timeliness":%d,"professionalism":%d}`, rating, rating))})
	}
	serve(1, 1)
	serve(2, 4) // the streak is broken
	serve(3, 1)
	select {
	case n := <-f.notes:
		t.Fatalf("a notification before two 1s in a row: %+v", n)
	default:
	}
	serve(4, 1)
	n := f.note(t)
	assert.Equal(t, "red_card", n.Kind)
	assert.Equal(t, "sup-wang", n.To)
	assert.Equal(t, "eng-li", n.Engineer)

	tk, _ := f.create(t, estop(5))
	assert.Equal(t, "eng-zhao", tk.Assignee, "suspended")
	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.True(t, v.Suspended)

	f.clock.Advance(24*time.Hour + time.Minute)
	tk, _ = f.create(t, estop(6))
	assert.Equal(t, "eng-li", tk.Assignee, "the suspension lifts itself")
}

func TestAManualAssignmentIsTracedAsManual(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	tk, _ := f.create(t, estop(1))
	tk = f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: sup, Data: json.RawMessage(`{"assignee":"ovf-sun","team":"suzhou-b"}`)})
	assert.Equal(t, "ovf-sun", tk.Assignee)
	ds := decisions(t, f, tk.ID)
	require.Len(t, ds, 2)
	assert.Equal(t, "manual", ds[1]["_trigger"])
	assert.Equal(t, true, ds[1]["manual"])
	assert.Equal(t, "ovf-sun", ds[1]["engineer"])
	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.Zero(t, v.Open, "reassigned away")
	v, err = f.engine.Engineer(context.Background(), "ovf-sun")
	require.NoError(t, err)
	assert.Equal(t, 1, v.Open)
	assert.Equal(t, 1, v.Today)
}

// max_daily counts today's assignments: a new day starts from 0 for every engineer, even
// before anything else happens that day.
func TestANewDayStartsTheDailyCapAfresh(t *testing.T) {
	cfg := routingConfig(0)
	for i := range cfg.Engineers {
		cfg.Engineers[i].MaxDaily = 1
	}
	f := newRoutingFixture(t, cfg)
	for i := range 3 {
		tk, _ := f.create(t, estop(i))
		require.NotEmpty(t, tk.Assignee)
	}
	tk, _ := f.create(t, estop(3))
	assert.Empty(t, tk.Assignee, "everyone had one today")
	f.clock.Advance(24 * time.Hour)
	tk, _ = f.create(t, estop(4))
	assert.NotEmpty(t, tk.Assignee, "the next day")
}

// Hundreds of offers timing out at once (a restart after downtime) are all routed again, and
// closing the engine meanwhile does not hang.
func TestManyOffersTimingOutAtOnce(t *testing.T) {
	cfg := routingConfig(0)
	f := newRoutingFixture(t, cfg)
	var ids []string
	for i := range 300 {
		tk, _ := f.create(t, estop(i))
		ids = append(ids, tk.ID)
	}
	f.engine.Close()
	f.store.Close()
	f.clock.Advance(31 * time.Minute)
	f.open(t)
	closed := make(chan struct{})
	go func() { f.engine.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close hangs while timers are due")
	}
	f.store.Close()
	f.open(t)
	require.Eventually(t, func() bool {
		due, err := f.store.DueTimers(context.Background(), f.clock.Now(), 1000)
		return err == nil && len(due) == 0
	}, time.Minute, 50*time.Millisecond, "every due timer fired")
	for _, id := range ids[:5] {
		tk, err := f.store.Ticket(context.Background(), id)
		require.NoError(t, err)
		require.Len(t, tk.Excluded, 1, "%s was offered again", id)
		assert.Equal(t, ticket.ExclusionOfferTimeout, tk.Excluded[0].Reason)
	}
}

// A timer that is not due after all (accept_timeout raised across a restart) moves to when it
// is, instead of being polled every second.
func TestARaisedAcceptTimeoutMovesTheTimer(t *testing.T) {
	f := newRoutingFixture(t, routingConfig(5))
	tk, _ := f.create(t, estop(1))
	f.engine.Close()
	f.store.Close()
	f.clock.Advance(31 * time.Minute)
	f.acceptTimeout = time.Hour
	f.open(t)
	require.Eventually(t, func() bool {
		due, err := f.store.DueTimers(context.Background(), f.clock.Now(), 10)
		return err == nil && len(due) == 0
	}, 10*time.Second, 20*time.Millisecond)
	due, err := f.store.DueTimers(context.Background(), f.clock.Now().Add(30*time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.True(t, due[0].Due.Equal(tk.AssignedAt.Add(time.Hour)), "due %s", due[0].Due)
	got, err := f.store.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "eng-li", got.Assignee)
}

// An offer that times out with no one else to take it is escalated.
func TestAnOfferNoOneElseCanTakeIsEscalated(t *testing.T) {
	cfg := routingConfig(5)
	cfg.Teams = cfg.Teams[:1]
	cfg.Teams[0].Members, cfg.Teams[0].Overflow = []string{"eng-li"}, ""
	f := newRoutingFixture(t, cfg)
	tk, _ := f.create(t, estop(1))
	require.Equal(t, "eng-li", tk.Assignee)
	f.engine.Close()
	f.store.Close()
	f.clock.Advance(31 * time.Minute)
	f.open(t)
	require.Eventually(t, func() bool {
		got, err := f.store.Ticket(context.Background(), tk.ID)
		return err == nil && got.State == ticket.StateEscalated
	}, 10*time.Second, 20*time.Millisecond)
	evs, err := f.store.Events(context.Background(), tk.ID)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	assert.Equal(t, ticket.ActionEscalate, last.Action)
	assert.Contains(t, last.Reason, "eng-li did not accept within 30m0s")
	due, err := f.store.DueTimers(context.Background(), f.clock.Now().Add(24*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due, "the timer is spent")
}

// The first-time-fix rate counts each ticket's first close, not force-closes, and a rework
// (a disputed confirm) makes a fix not first-time.
func TestFirstTimeFixRate(t *testing.T) {
	cfg := routingConfig(0)
	cfg.Teams[0].Members = []string{"eng-li"}
	f := newRoutingFixture(t, cfg)
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	fix := func(n int, disputeFirst bool) {
		// A customer each: the same customer and category again within 7 days would be a
		// repeat request, which counts against the rate (see the end).
		cust := ticket.Actor{ID: fmt.Sprintf("cust-%d", n), Role: ticket.RoleCustomer}
		d := estop(n)
		d.Customer = draft.Customer{ID: cust.ID}
		tk, _ := f.create(t, d)
		require.Equal(t, "eng-li", tk.Assignee)
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: li})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: li})
		resolve := ticket.Command{Action: ticket.ActionResolve, Actor: li, Data: json.RawMessage(`{"root_cause":"接触不良"}`)}
		f.do(t, tk.ID, resolve)
		if disputeFirst {
			f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: cust, Data: json.RawMessage(`{"solved":false,"timeliness":3,"professionalism":3}`)})
			f.do(t, tk.ID, resolve)
		}
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: cust, Data: json.RawMessage(`{"solved":true,"timeliness":4,"professionalism":4}`)})
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: sup})
	}
	for i := range 4 {
		fix(i, false)
	}
	v, err := f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.Nil(t, v.FTFR, "unknown below 5 fixes")
	fix(4, true)
	fix(5, false)
	forced, _ := f.create(t, estop(6))
	f.do(t, forced.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "重复报修"})
	v, err = f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	require.NotNil(t, v.FTFR)
	assert.InDelta(t, 5.0/6, *v.FTFR, 1e-9, "6 fixed (the force-close not counted), 5 first time")
	assert.Equal(t, 6, v.Live.Fixed)

	// The first customer comes back with the same fault within 7 days: a repeat.
	again := estop(100)
	again.Customer = draft.Customer{ID: "cust-0"}
	tk, _ := f.create(t, again)
	require.NotEmpty(t, tk.RepeatOf)
	v, err = f.engine.Engineer(context.Background(), "eng-li")
	require.NoError(t, err)
	assert.InDelta(t, 4.0/6, *v.FTFR, 1e-9)
}

// armedGate holds the first Write after arm until release is closed, so that a test can
// queue a whole batch behind it.
type armedGate struct {
	*sqlite.Store
	mu      sync.Mutex
	hold    chan struct{}
	entered chan struct{}
}

func (g *armedGate) arm() (entered, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.entered = make(chan struct{}), make(chan struct{})
	return g.entered, g.hold
}

func (g *armedGate) Write(ctx context.Context, fn func(store.Tx) error) error {
	g.mu.Lock()
	hold, entered := g.hold, g.entered
	g.hold, g.entered = nil, nil
	g.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	return g.Store.Write(ctx, fn)
}

// TestTheDecisionsOfOneBatchAreKeptInOrder: the traces of a batch are encoded off the
// committer and written at the end of its transaction; every decision must still be kept,
// with its own ticket, in the order it was made (automatic, declined, then manual).
func TestTheDecisionsOfOneBatchAreKeptInOrder(t *testing.T) {
	ctx := context.Background()
	g := &armedGate{Store: enginekit.OpenStore(t, "")}
	r, err := routing.New(routingConfig(100))
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	e := enginekit.Start(t, engine.Options{Store: g, Registerer: reg, Routing: &engine.RoutingOptions{Router: r, Notify: func(engine.Notification) {}}})

	a, _, err := e.Create(ctx, engine.CreateRequest{Draft: estop(1), Actor: agent})
	require.NoError(t, err)
	require.Equal(t, "eng-li", a.Assignee)

	entered, release := g.arm()
	var wg sync.WaitGroup
	wg.Go(func() { // takes the committer into the gate, alone
		_, _, err := e.Create(ctx, engine.CreateRequest{Draft: estop(2), Actor: agent})
		assert.NoError(t, err)
	})
	<-entered
	queue := func(n int, f func()) {
		wg.Go(f)
		deadline := time.Now().Add(30 * time.Second)
		for e.Queued() < n {
			require.True(t, time.Now().Before(deadline), "the request never reached the committer's queue")
			time.Sleep(time.Millisecond)
		}
	}
	li := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	queue(1, func() {
		_, err := e.Do(ctx, ticket.Command{TicketID: a.ID, Action: ticket.ActionDecline, Actor: li, Data: json.RawMessage(`{"reason_code":"too_far"}`)})
		assert.NoError(t, err)
	})
	queue(2, func() {
		_, err := e.Do(ctx, ticket.Command{TicketID: a.ID, Action: ticket.ActionAssign, Actor: sup, Data: json.RawMessage(`{"assignee":"ovf-sun","team":"suzhou-b"}`)})
		assert.NoError(t, err)
	})
	const n = 8
	created := make([]ticket.Ticket, n)
	for i := range n {
		queue(3+i, func() {
			tk, _, err := e.Create(ctx, engine.CreateRequest{Draft: estop(10 + i), Actor: agent})
			assert.NoError(t, err)
			created[i] = tk
		})
	}
	close(release)
	wg.Wait()
	count, sum := histogram(t, reg, "gongdan_engine_batch_size")
	require.Equal(t, uint64(3), count, "the test meant the requests to share one batch")
	require.Equal(t, float64(1+1+2+n), sum)

	recs, err := e.RoutingDecisions(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	var got []string
	for _, rec := range recs {
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body, &body), "trace of %s", rec.Trigger)
		got = append(got, rec.Trigger+":"+rec.Engineer)
		if !rec.Manual {
			assert.Equal(t, rec.Engineer, body["engineer"], "the trace is the record's own")
		}
	}
	assert.Equal(t, []string{"created:eng-li", "declined:eng-zhao", "manual:ovf-sun"}, got)

	for _, tk := range created {
		recs, err := e.RoutingDecisions(ctx, tk.ID)
		require.NoError(t, err)
		require.Len(t, recs, 1, tk.ID)
		var body map[string]any
		require.NoError(t, json.Unmarshal(recs[0].Body, &body))
		assert.Equal(t, "created", recs[0].Trigger)
		assert.Equal(t, tk.Assignee, recs[0].Engineer)
		assert.Equal(t, tk.Assignee, body["engineer"], "the trace is %s's own", tk.ID)
		assert.NotEmpty(t, tk.Assignee)
	}
}
