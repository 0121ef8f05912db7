package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

// closureFixture is an engine with the closing loop on a store that outlives it (restarts).
type closureFixture struct {
	*fixture
	path  string
	clock *testkit.Clock
	opts  engine.ClosureOptions
}

func newClosureFixture(t *testing.T) *closureFixture {
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	f := &closureFixture{path: t.TempDir() + "/gongdan.db", clock: testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)),
		opts: engine.ClosureOptions{Key: key, TTL: 180 * 24 * time.Hour, Remind: []time.Duration{24 * time.Hour, 48 * time.Hour},
			ConfirmTimeout: 72 * time.Hour, FollowupAfter: 48 * time.Hour}}
	f.start(t)
	return f
}

func (f *closureFixture) start(t *testing.T) {
	st := enginekit.OpenStore(t, f.path)
	e := enginekit.Start(t, engine.Options{Store: st, Now: f.clock.Now, Closure: &f.opts})
	f.fixture = &fixture{engine: e, store: st}
}

func (f *closureFixture) restart(t *testing.T) {
	f.engine.Close()
	f.store.Close()
	f.start(t)
}

// resolved is a ticket taken to resolved by eng-li.
func (f *closureFixture) resolved(t *testing.T, title string) ticket.Ticket {
	tk, _ := f.create(t, newDraft(title))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: eng})
	return f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"触点氧化"}`)})
}

func (f *closureFixture) actions(t *testing.T, id string) []ticket.Action {
	evs, err := f.store.Events(context.Background(), id)
	require.NoError(t, err)
	var out []ticket.Action
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

func count(as []ticket.Action, a ticket.Action) int {
	n := 0
	for _, x := range as {
		if x == a {
			n++
		}
	}
	return n
}

func TestEveryTicketHasItsOwnLink(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	a, _ := f.create(t, newDraft("a"))
	b, _ := f.create(t, newDraft("b"))
	ta, err := f.engine.TrackingToken(ctx, a.ID)
	require.NoError(t, err)
	tb, err := f.engine.TrackingToken(ctx, b.ID)
	require.NoError(t, err)
	assert.NotEqual(t, ta, tb)
	assert.GreaterOrEqual(t, len(ta), 22, "at least 128 bits")

	got, err := f.engine.ByTrackingToken(ctx, ta)
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	got, err = f.engine.ByTrackingToken(ctx, tb)
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID, "b's token reads b only")

	for _, bad := range []string{"", ta[:len(ta)-1], ta + "x", tb[:10] + ta[10:], a.ID, string(make([]byte, 5000))} {
		_, err := f.engine.ByTrackingToken(ctx, bad)
		assert.ErrorIs(t, err, store.ErrNotFound, "%q", bad)
	}

	// Another key (another installation) makes other tokens.
	other := newClosureFixture(t)
	c, _ := other.create(t, newDraft("a"))
	require.Equal(t, a.ID, c.ID)
	tc, err := other.engine.TrackingToken(ctx, c.ID)
	require.NoError(t, err)
	assert.NotEqual(t, ta, tc)
	_, err = f.engine.ByTrackingToken(ctx, tc)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestALinkIsRenewedAndExpires(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	tk := f.resolved(t, "a")
	old, err := f.engine.TrackingToken(ctx, tk.ID)
	require.NoError(t, err)
	renewed, err := f.engine.RenewTracking(ctx, tk.ID)
	require.NoError(t, err)
	assert.NotEqual(t, old, renewed)
	_, err = f.engine.ByTrackingToken(ctx, old)
	assert.ErrorIs(t, err, store.ErrNotFound, "the revoked link")
	current, err := f.engine.TrackingToken(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, renewed, current, "staff see the new link")

	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "客户失联"})
	f.clock.Advance(180*24*time.Hour - time.Minute)
	_, err = f.engine.ByTrackingToken(ctx, renewed)
	require.NoError(t, err, "still within the ttl after the close")
	f.clock.Advance(2 * time.Minute)
	_, err = f.engine.ByTrackingToken(ctx, renewed)
	assert.ErrorIs(t, err, store.ErrNotFound, "expired")
}

// TestRemindersAndTheAutoConfirmFireOnceEachAcrossARestart: reminders at 24 h and 48 h after
// the resolve, the system's confirmation at 72 h, each once, though the engine restarts and
// the timers are looked at again and again.
func TestRemindersAndTheAutoConfirmFireOnceEachAcrossARestart(t *testing.T) {
	f := newClosureFixture(t)
	tk := f.resolved(t, "a")
	f.clock.Advance(23 * time.Hour)
	f.engine.FireDue()
	assert.Zero(t, count(f.actions(t, tk.ID), ticket.ActionRemindConfirm), "not yet")

	f.clock.Advance(time.Hour)
	f.engine.FireDue()
	f.engine.FireDue()
	assert.Equal(t, 1, count(f.actions(t, tk.ID), ticket.ActionRemindConfirm))

	f.restart(t)
	f.clock.Advance(30 * time.Hour) // 54 h: the second is overdue after the restart
	f.engine.FireDue()
	f.engine.FireDue()
	acts := f.actions(t, tk.ID)
	assert.Equal(t, 2, count(acts, ticket.ActionRemindConfirm))
	assert.Zero(t, count(acts, ticket.ActionConfirm))

	f.clock.Advance(18 * time.Hour) // 72 h
	f.engine.FireDue()
	f.restart(t)
	f.engine.FireDue()
	acts = f.actions(t, tk.ID)
	assert.Equal(t, 2, count(acts, ticket.ActionRemindConfirm))
	assert.Equal(t, 1, count(acts, ticket.ActionConfirm))
	got, err := f.store.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, ticket.StateCustomerConfirmed, got.State)
	require.NotNil(t, got.Feedback)
	assert.True(t, got.Feedback.Auto, "recorded as the system's, not the customer's")
	evs, _ := f.store.Events(context.Background(), tk.ID)
	last := evs[len(evs)-1]
	assert.Equal(t, ticket.RoleSystem, last.Actor.Role)
	assert.Equal(t, "confirm.timeout", last.Rule)
}

func TestTheCustomerAnsweringStopsTheReminders(t *testing.T) {
	f := newClosureFixture(t)
	tk := f.resolved(t, "a")
	f.clock.Advance(25 * time.Hour)
	f.engine.FireDue()
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(tk.ID),
		Data: json.RawMessage(`{"solved":true,"timeliness":5,"professionalism":5}`)})
	f.clock.Advance(100 * time.Hour)
	f.engine.FireDue()
	acts := f.actions(t, tk.ID)
	assert.Equal(t, 1, count(acts, ticket.ActionRemindConfirm))
	assert.Equal(t, 1, count(acts, ticket.ActionConfirm), "no auto-confirm after the customer's")

	// A dispute and a second resolve start the reminders afresh.
	g := f.resolved(t, "b")
	f.do(t, g.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(g.ID),
		Data: json.RawMessage(`{"solved":false,"timeliness":2,"professionalism":3,"comment":"还是坏的"}`)})
	f.clock.Advance(30 * time.Hour)
	f.engine.FireDue()
	assert.Zero(t, count(f.actions(t, g.ID), ticket.ActionRemindConfirm), "in progress again: no one is asked")
	f.do(t, g.ID, ticket.Command{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"换了继电器"}`)})
	f.clock.Advance(24 * time.Hour)
	f.engine.FireDue()
	got, _ := f.store.Ticket(context.Background(), g.ID)
	assert.Equal(t, 1, got.Reminders)
}

func TestTheFollowupOpensARepeatWhenTheProblemCameBack(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	closeIt := func(title string) ticket.Ticket {
		tk := f.resolved(t, title)
		f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(tk.ID),
			Data: json.RawMessage(`{"solved":true,"timeliness":4,"professionalism":5}`)})
		return f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: sup})
	}
	a, b := closeIt("a"), closeIt("b")
	_, err := f.engine.AnswerFollowup(ctx, a.ID, true, "")
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "not asked yet")

	f.clock.Advance(48 * time.Hour)
	f.engine.FireDue()
	f.restart(t)
	f.engine.FireDue()
	assert.Equal(t, 1, count(f.actions(t, a.ID), ticket.ActionFollowupAsked))

	got, err := f.engine.AnswerFollowup(ctx, a.ID, true, "又不亮了")
	require.NoError(t, err)
	require.NotNil(t, got.Followup)
	require.NotEmpty(t, got.Followup.Repeat)
	repeat, err := f.store.Ticket(ctx, got.Followup.Repeat)
	require.NoError(t, err)
	assert.Equal(t, a.ID, repeat.RepeatOf)
	assert.Contains(t, repeat.Description, "又不亮了")
	assert.Equal(t, a.Customer, repeat.Customer)

	_, err = f.engine.AnswerFollowup(ctx, a.ID, true, "")
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "one answer")
	page, err := f.store.List(ctx, store.Query{Limit: 50})
	require.NoError(t, err)
	assert.Len(t, page.Tickets, 3, "a, b and one repeat")

	got, err = f.engine.AnswerFollowup(ctx, b.ID, false, "")
	require.NoError(t, err)
	assert.False(t, got.Followup.Recurred)
	assert.Empty(t, got.Followup.Repeat)
}

func TestTheCustomerAddsAndUrges(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("a"))
	got, err := f.engine.CustomerNote(ctx, tk.ID, ticket.CustomerNoteData{Text: "门口有狗，请先打电话"})
	require.NoError(t, err)
	assert.False(t, got.AwaitingUpdate.IsZero(), "staff owe an answer")

	_, err = f.engine.Urge(ctx, tk.ID)
	require.NoError(t, err)
	f.clock.Advance(59 * time.Minute)
	_, err = f.engine.Urge(ctx, tk.ID)
	assert.ErrorIs(t, err, ticket.ErrTooSoon)
	f.clock.Advance(time.Minute)
	got, err = f.engine.Urge(ctx, tk.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Urges)

	evs, _ := f.store.Events(ctx, tk.ID)
	for _, ev := range evs[1:] {
		assert.Equal(t, ticket.TrackingActor(tk.ID), ev.Actor, "the audit trail names the link's customer")
	}
	_, err = f.engine.Urge(ctx, "GD-20261124-999999")
	assert.ErrorIs(t, err, engine.ErrNotFound)
}

// TestADeliveryIsRecordedOnce: notify reports each channel's outcome, and again after a
// failure to record; the ticket gets one notified event per delivery key.
func TestADeliveryIsRecordedOnce(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	tk := f.resolved(t, "a")
	refused := ticket.DeliveryData{Key: "7/wechat", Kind: "resolved", Channel: "wechat", To: "oWan***", Error: "43004 unfollowed", Attempt: 1}
	sent := ticket.DeliveryData{Key: "7/sms", Kind: "resolved", Channel: "sms", To: "138****5678", OK: true, Attempt: 2}
	for _, d := range []ticket.DeliveryData{refused, sent, sent, refused} {
		require.NoError(t, f.engine.RecordDelivery(ctx, tk.ID, d))
	}
	f.restart(t)
	require.NoError(t, f.engine.RecordDelivery(ctx, tk.ID, sent), "after a restart too")
	evs, err := f.store.Events(ctx, tk.ID)
	require.NoError(t, err)
	var got []ticket.DeliveryData
	for _, ev := range evs {
		if ev.Action == ticket.ActionNotified {
			var d ticket.DeliveryData
			require.NoError(t, json.Unmarshal(ev.Data, &d))
			got = append(got, d)
			assert.Equal(t, ticket.StateResolved, ev.To, "no state changes")
		}
	}
	assert.Equal(t, []ticket.DeliveryData{refused, sent}, got)
	assert.ErrorIs(t, f.engine.RecordDelivery(ctx, "GD-20991231-000001", sent), engine.ErrNotFound)
}

// closed is a ticket resolved, confirmed by its customer and closed, its follow-up asked.
func (f *closureFixture) closedAndAsked(t *testing.T, title string) ticket.Ticket {
	tk := f.resolved(t, title)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(tk.ID),
		Data: json.RawMessage(`{"solved":true,"timeliness":4,"professionalism":5}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: sup})
	f.clock.Advance(49 * time.Hour)
	f.engine.FireDue()
	got, err := f.store.Ticket(context.Background(), tk.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Followup, "asked")
	return got
}

func repeatsOf(t *testing.T, f *closureFixture, id string) int {
	page, err := f.store.List(context.Background(), store.Query{Limit: 500})
	require.NoError(t, err)
	n := 0
	for _, x := range page.Tickets {
		if x.RepeatOf == id {
			n++
		}
	}
	return n
}

// TestAYesAndANoAtOnceAgree: the answer and the repeat it opens are one transaction, so two
// answers sent at once leave either "no" and no repeat, or "yes" and one repeat.
func TestAYesAndANoAtOnceAgree(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	for range 8 {
		tk := f.closedAndAsked(t, "r")
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = f.engine.AnswerFollowup(ctx, tk.ID, true, "") })
		wg.Go(func() { _, _ = f.engine.AnswerFollowup(ctx, tk.ID, false, "") })
		wg.Wait()
		got, err := f.store.Ticket(ctx, tk.ID)
		require.NoError(t, err)
		if got.Followup.Recurred {
			assert.Equal(t, 1, repeatsOf(t, f, tk.ID))
			assert.NotEmpty(t, got.Followup.Repeat)
		} else {
			assert.Zero(t, repeatsOf(t, f, tk.ID), "a 'no' and a repeat")
		}
	}
}

// TestNoFollowupWithoutAFix: a ticket closed without ever being resolved (force-closed while
// in progress) is not asked whether "the fix" held; a reopened ticket's follow-up is closed.
func TestNoFollowupWithoutAFix(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("从未修好"))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionForceClose, Actor: sup, Reason: "客户取消"})
	f.clock.Advance(49 * time.Hour)
	f.engine.FireDue()
	assert.Zero(t, count(f.actions(t, tk.ID), ticket.ActionFollowupAsked))

	asked := f.closedAndAsked(t, "a")
	f.do(t, asked.ID, ticket.Command{Action: ticket.ActionReopen, Actor: sup, Reason: "客户来电"})
	_, err := f.engine.AnswerFollowup(ctx, asked.ID, true, "")
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "being worked on again: no repeat of it")
	assert.Zero(t, repeatsOf(t, f, asked.ID))
}

// TestOnlyTheTimerConfirmsForTheSystem: no caller, not even one of role system, may send the
// auto-confirm; it comes from the confirm.timeout timer only.
func TestOnlyTheTimerConfirmsForTheSystem(t *testing.T) {
	f := newClosureFixture(t)
	tk := f.resolved(t, "x")
	_, err := f.engine.Do(context.Background(), ticket.Command{TicketID: tk.ID, Action: ticket.ActionConfirm, Actor: ticket.SystemActor,
		Data: json.RawMessage(`{"solved":true,"auto":true}`)})
	assert.ErrorIs(t, err, ticket.ErrForbidden)
	got, _ := f.store.Ticket(context.Background(), tk.ID)
	assert.Equal(t, ticket.StateResolved, got.State)
}

// TestAfterAnOutageOnlyTheLatestStepFires: down past every step, the server does not send
// both reminders and confirm at the same instant: it confirms; down past the second
// reminder only, it sends that one.
func TestAfterAnOutageOnlyTheLatestStepFires(t *testing.T) {
	f := newClosureFixture(t)
	late := f.resolved(t, "y")
	f.engine.Close()
	f.store.Close()
	f.clock.Advance(80 * time.Hour)
	f.start(t)
	f.engine.FireDue()
	f.engine.FireDue()
	acts := f.actions(t, late.ID)
	assert.Zero(t, count(acts, ticket.ActionRemindConfirm), "no reminders for what is confirmed already")
	assert.Equal(t, 1, count(acts, ticket.ActionConfirm))

	mid := f.resolved(t, "z")
	f.clock.Advance(50 * time.Hour) // past both reminders, before the timeout
	f.engine.FireDue()
	f.engine.FireDue()
	got, _ := f.store.Ticket(context.Background(), mid.ID)
	assert.Equal(t, 1, count(f.actions(t, mid.ID), ticket.ActionRemindConfirm), "one reminder, not two at once")
	assert.Equal(t, 2, got.Reminders, "the second, which stands for both")
	f.clock.Advance(23 * time.Hour)
	f.engine.FireDue()
	got, _ = f.store.Ticket(context.Background(), mid.ID)
	assert.Equal(t, ticket.StateCustomerConfirmed, got.State)
}

// TestAFollowupYesOnALongTitle: a title at the limit (WeChat clips a long first message to
// 200 characters) still lets the customer answer "yes": the repeat's title is clipped.
func TestAFollowupYesOnALongTitle(t *testing.T) {
	f := newClosureFixture(t)
	tk := f.closedAndAsked(t, strings.Repeat("灯", 199)+"…")
	got, err := f.engine.AnswerFollowup(context.Background(), tk.ID, true, strings.Repeat("又坏了", 2000))
	require.NoError(t, err, "the customer's yes must be taken")
	require.NotEmpty(t, got.Followup.Repeat)
	repeat, err := f.store.Ticket(context.Background(), got.Followup.Repeat)
	require.NoError(t, err)
	assert.Equal(t, tk.ID, repeat.RepeatOf)
}

// TestADeliveryRecordStalesNoCommand: notify's record of a message it sent comes between the
// engineer's accept and their next command; the version they got back still holds.
func TestADeliveryRecordStalesNoCommand(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("a"))
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	acc := f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng})
	require.NoError(t, f.engine.RecordDelivery(ctx, tk.ID, ticket.DeliveryData{Key: "9/wechat", Kind: "accepted", Channel: "wechat", OK: true, Attempt: 1}))
	_, err := f.engine.Do(ctx, ticket.Command{TicketID: tk.ID, Action: ticket.ActionStart, Actor: eng, ExpectedVersion: acc.Version})
	assert.NoError(t, err)
}

// TestTheSameDeviceAgainIsARepeat: issue 21's FTFR counts "the same device, or the same
// customer and category": the device failing again two days later, reported by someone
// else with no category yet, repeats the closed ticket, and FTFR counts it.
func TestTheSameDeviceAgainIsARepeat(t *testing.T) {
	f := newClosureFixture(t)
	ctx := context.Background()
	d := newDraft("空压机不启动")
	d.Device, d.Category = draft.Device{ID: "AC-0001", Model: "GA37"}, "电气故障"
	tk, _ := f.create(t, d)
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAssign, Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionAccept, Actor: eng})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionStart, Actor: eng})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionResolve, Actor: eng, Data: json.RawMessage(`{"root_cause":"接触器"}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(tk.ID), Data: json.RawMessage(`{"solved":true,"timeliness":4,"professionalism":5}`)})
	f.do(t, tk.ID, ticket.Command{Action: ticket.ActionClose, Actor: sup})
	f.clock.Advance(48 * time.Hour)
	d2 := newDraft("空压机又停机了")
	d2.Customer = draft.Customer{Name: "李四", Phone: "13900001111"}
	d2.Device = draft.Device{ID: "AC-0001", Model: "GA37"}
	again, _ := f.create(t, d2)
	assert.Equal(t, tk.ID, again.RepeatOf)
	rep, err := f.engine.KPIReport(ctx, f.clock.Now().Add(-30*24*time.Hour), "")
	require.NoError(t, err)
	assert.Equal(t, 0, rep.FTFR.Count, "its one closed ticket came back")
}
