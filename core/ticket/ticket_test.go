package ticket_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/draft"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

var (
	admin    = ticket.Actor{ID: "admin-1", Role: ticket.RoleAdmin}
	sup      = ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
	disp     = ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	eng      = ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	eng2     = ticket.Actor{ID: "eng-zhao", Role: ticket.RoleEngineer}
	agent    = ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	qa       = ticket.Actor{ID: "qa-sun", Role: ticket.RoleQA}
	customer = ticket.Actor{ID: "cust-wang", Role: ticket.RoleCustomer}
	system   = ticket.Actor{ID: "system", Role: ticket.RoleSystem}
)

// step is one command on the way to a state.
type step struct {
	action ticket.Action
	actor  ticket.Actor
	reason string
	data   string
}

// validStep is a command for each action that is well-formed and allowed to its actor.
var validStep = map[ticket.Action]step{
	ticket.ActionAssign:       {ticket.ActionAssign, disp, "", `{"assignee":"eng-li","team":"suzhou-a"}`},
	ticket.ActionAccept:       {ticket.ActionAccept, eng, "", ""},
	ticket.ActionDecline:      {ticket.ActionDecline, eng, "", `{"reason_code":"too_far","text":"太远"}`},
	ticket.ActionStart:        {ticket.ActionStart, eng, "", ""},
	ticket.ActionRequestParts: {ticket.ActionRequestParts, eng, "", `{"parts":["急停按钮"]}`},
	ticket.ActionPartsArrived: {ticket.ActionPartsArrived, disp, "", ""},
	ticket.ActionPause:        {ticket.ActionPause, eng, "客户停产检修", ""},
	ticket.ActionResume:       {ticket.ActionResume, eng, "", ""},
	ticket.ActionResolve:      {ticket.ActionResolve, eng, "", `{"root_cause":"急停按钮触点氧化","evidence":["photo-1"]}`},
	ticket.ActionConfirm:      {ticket.ActionConfirm, customer, "", `{"solved":true,"timeliness":5,"professionalism":4,"comment":"很快"}`},
	ticket.ActionClose:        {ticket.ActionClose, agent, "", ""},
	ticket.ActionForceClose:   {ticket.ActionForceClose, sup, "客户失联三周", ""},
	ticket.ActionReject:       {ticket.ActionReject, agent, "重复报修", ""},
	ticket.ActionEscalate:     {ticket.ActionEscalate, sup, "客户投诉", ""},
	ticket.ActionArchive:      {ticket.ActionArchive, sup, "", ""},
	ticket.ActionReopen:       {ticket.ActionReopen, agent, "客户说又坏了", ""},
	ticket.ActionUnfreeze:     {ticket.ActionUnfreeze, qa, "", ""},
}

// pathTo is a sequence of actions that brings a new ticket to each state.
var pathTo = map[ticket.State][]ticket.Action{
	ticket.StateNew:               {},
	ticket.StateAssigned:          {"assign"},
	ticket.StateAccepted:          {"assign", "accept"},
	ticket.StateInProgress:        {"assign", "accept", "start"},
	ticket.StateAwaitingParts:     {"assign", "accept", "start", "request_parts"},
	ticket.StatePaused:            {"assign", "accept", "start", "pause"},
	ticket.StateResolved:          {"assign", "accept", "start", "resolve"},
	ticket.StateCustomerConfirmed: {"assign", "accept", "start", "resolve", "confirm"},
	ticket.StateClosed:            {"assign", "accept", "start", "resolve", "confirm", "close"},
	ticket.StateRejected:          {"reject"},
	ticket.StateEscalated:         {"escalate"},
	ticket.StateArchived:          {"reject", "archive"},
}

// allowed is the state machine written out by hand, independently of the package's table:
// state → action → the state it leads to.
var allowed = map[ticket.State]map[ticket.Action]ticket.State{
	ticket.StateNew: {"assign": "assigned", "reject": "rejected", "escalate": "escalated", "force_close": "closed"},
	ticket.StateAssigned: {"assign": "assigned", "accept": "accepted", "decline": "new", "reject": "rejected",
		"escalate": "escalated", "force_close": "closed"},
	ticket.StateAccepted: {"assign": "assigned", "start": "in_progress", "pause": "paused", "escalate": "escalated", "force_close": "closed"},
	ticket.StateInProgress: {"assign": "assigned", "request_parts": "awaiting_parts", "pause": "paused", "resolve": "resolved",
		"escalate": "escalated", "force_close": "closed"},
	ticket.StateAwaitingParts:     {"assign": "assigned", "parts_arrived": "in_progress", "escalate": "escalated", "force_close": "closed"},
	ticket.StatePaused:            {"assign": "assigned", "resume": "in_progress", "escalate": "escalated", "force_close": "closed"},
	ticket.StateResolved:          {"confirm": "customer_confirmed", "reopen": "in_progress", "force_close": "closed"},
	ticket.StateCustomerConfirmed: {"close": "closed", "reopen": "in_progress", "force_close": "closed"},
	ticket.StateClosed:            {"archive": "archived", "reopen": "in_progress"},
	ticket.StateRejected:          {"archive": "archived"},
	ticket.StateEscalated:         {"assign": "assigned", "reject": "rejected", "force_close": "closed"},
	ticket.StateArchived:          {},
}

type history struct {
	t      ticket.Ticket
	events []ticket.Event
	now    time.Time
}

func newHistory(t *testing.T) *history {
	t.Helper()
	ev, err := ticket.Create("GD-20261123-000001", draft.Draft{
		Title: "3号线急停按钮失灵", Description: "按下急停无反应", Urgency: draft.UrgencyOrange,
		Customer: draft.Customer{ID: "cust-wang", Name: "王建国", Phone: "13812345678"}, Tags: []string{"急停故障"},
	}, "", agent, t0, "")
	require.NoError(t, err)
	h := &history{now: t0}
	h.append(t, ev)
	return h
}

func (h *history) append(t *testing.T, ev ticket.Event) {
	t.Helper()
	next, err := ticket.Apply(h.t, ev)
	require.NoError(t, err)
	h.t = next
	h.events = append(h.events, ev)
}

func (h *history) do(t *testing.T, s step) (ticket.Event, error) {
	t.Helper()
	h.now = h.now.Add(time.Minute)
	cmd := ticket.Command{TicketID: h.t.ID, Action: s.action, Actor: s.actor, Reason: s.reason, Data: json.RawMessage(s.data)}
	ev, err := ticket.Decide(h.t, cmd, h.now)
	if err == nil {
		h.append(t, ev)
	}
	return ev, err
}

func (h *history) must(t *testing.T, actions ...ticket.Action) {
	t.Helper()
	for _, a := range actions {
		_, err := h.do(t, validStep[a])
		require.NoError(t, err, "setting up with %s", a)
	}
}

func TestEveryStateActionPair(t *testing.T) {
	require.Len(t, pathTo, 12)
	for _, state := range ticket.States {
		for _, action := range ticket.Actions {
			if action == ticket.ActionUnfreeze {
				continue // tested on frozen tickets below
			}
			t.Run(fmt.Sprintf("%s/%s", state, action), func(t *testing.T) {
				h := newHistory(t)
				h.must(t, pathTo[state]...)
				require.Equal(t, state, h.t.State)
				before := h.t
				ev, err := h.do(t, validStep[action])
				want, ok := allowed[state][action]
				if !ok {
					require.ErrorIs(t, err, ticket.ErrIllegalTransition)
					assert.Equal(t, before.Version, h.t.Version)
					assert.Len(t, h.events, int(before.Version))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, before.Version+1, ev.Seq)
				assert.Equal(t, state, ev.From)
				assert.Equal(t, want, ev.To)
				assert.Equal(t, want, h.t.State)
				assert.Len(t, h.events, int(before.Version)+1)
				folded, err := ticket.Fold(h.events)
				require.NoError(t, err)
				assert.Equal(t, h.t, folded, "state must equal the fold of its events")
			})
		}
	}
}

func TestRoles(t *testing.T) {
	// who may do each action, from a state where it is legal
	may := map[ticket.Action][]ticket.Actor{
		"assign":        {system, disp, sup, admin},
		"accept":        {eng, admin},
		"decline":       {eng, admin},
		"start":         {eng, admin},
		"request_parts": {eng, admin},
		"parts_arrived": {eng, disp, sup, system, admin},
		"pause":         {eng, disp, sup, admin},
		"resume":        {eng, disp, sup, system, admin},
		"resolve":       {eng, system, admin},
		"confirm":       {customer, system}, // system: only the auto-confirm (TestAutoConfirm)
		"close":         {system, agent, disp, sup, admin},
		"force_close":   {sup, admin},
		"reject":        {agent, disp, sup, admin},
		"escalate":      {system, sup, admin},
		"archive":       {system, sup, admin},
		"reopen":        {agent, disp, sup, admin},
	}
	from := map[ticket.Action]ticket.State{
		"assign": "new", "accept": "assigned", "decline": "assigned", "start": "accepted",
		"request_parts": "in_progress", "parts_arrived": "awaiting_parts", "pause": "in_progress",
		"resume": "paused", "resolve": "in_progress", "confirm": "resolved", "close": "customer_confirmed",
		"force_close": "in_progress", "reject": "new", "escalate": "in_progress", "archive": "rejected", "reopen": "resolved",
	}
	everyone := []ticket.Actor{admin, sup, disp, eng, agent, qa, customer, system}
	for action, actors := range may {
		for _, actor := range everyone {
			t.Run(fmt.Sprintf("%s/%s", action, actor.Role), func(t *testing.T) {
				h := newHistory(t)
				h.must(t, pathTo[from[action]]...)
				s := validStep[action]
				s.actor = actor
				if action == ticket.ActionConfirm && actor.Role == ticket.RoleSystem {
					s.data = `{"solved":true,"auto":true}`
				}
				before := h.t
				_, err := h.do(t, s)
				// CheckRole, which needs no ticket, says what Decide says.
				roleErr := ticket.CheckRole(action, actor.Role)
				if containsActor(actors, actor) {
					require.NoError(t, err)
					require.NoError(t, roleErr)
				} else {
					require.ErrorIs(t, err, ticket.ErrForbidden)
					assert.Equal(t, before, h.t)
					require.ErrorIs(t, roleErr, ticket.ErrForbidden)
					assert.Equal(t, err.Error(), roleErr.Error())
				}
			})
		}
	}
}

func containsActor(as []ticket.Actor, a ticket.Actor) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func TestEngineerMustBeAssignee(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign")
	_, err := h.do(t, step{ticket.ActionAccept, eng2, "", ""})
	require.ErrorIs(t, err, ticket.ErrForbidden)
	assert.Contains(t, err.Error(), "assigned to \"eng-li\"")
	_, err = h.do(t, step{ticket.ActionAccept, eng, "", ""})
	require.NoError(t, err)
}

func TestRequiredData(t *testing.T) {
	cases := []struct {
		name  string
		path  []ticket.Action
		step  step
		field string
	}{
		{"assign without assignee", nil, step{"assign", disp, "", `{"team":"x"}`}, "data.assignee"},
		{"assign with unknown field", nil, step{"assign", disp, "", `{"asignee":"eng-li"}`}, "data"},
		{"assign with wrong type", nil, step{"assign", disp, "", `{"assignee":42}`}, "data.assignee"},
		{"decline without reason", []ticket.Action{"assign"}, step{"decline", eng, "", `{}`}, "data.reason_code"},
		{"decline with only a free reason", []ticket.Action{"assign"}, step{"decline", eng, "太远了", `{}`}, "data.reason_code"},
		{"decline with a code not on the list", []ticket.Action{"assign"}, step{"decline", eng, "", `{"reason_code":"busy"}`}, "data.reason_code"},
		{"decline other without a text", []ticket.Action{"assign"}, step{"decline", eng, "", `{"reason_code":"other"}`}, "data.text"},
		{"resolve without root cause", pathTo["in_progress"], step{"resolve", eng, "", `{"evidence":["a"]}`}, "data.root_cause"},
		{"resolve with blank root cause", pathTo["in_progress"], step{"resolve", eng, "", `{"root_cause":"  "}`}, "data.root_cause"},
		{"system resolve without root cause", pathTo["in_progress"], step{"resolve", system, "", `{}`}, "data.root_cause"},
		{"pause without reason", pathTo["in_progress"], step{"pause", eng, " ", ""}, "reason"},
		{"reject without reason", nil, step{"reject", agent, "", ""}, "reason"},
		{"escalate without reason", nil, step{"escalate", sup, "", ""}, "reason"},
		{"force_close without reason", nil, step{"force_close", sup, "", ""}, "reason"},
		{"reopen without reason", pathTo["resolved"], step{"reopen", agent, "", ""}, "reason"},
		{"confirm without solved", pathTo["resolved"], step{"confirm", customer, "", `{"timeliness":5,"professionalism":5}`}, "data.solved"},
		{"confirm timeliness 0", pathTo["resolved"], step{"confirm", customer, "", `{"solved":true,"timeliness":0,"professionalism":5}`}, "data.timeliness"},
		{"confirm professionalism 6", pathTo["resolved"], step{"confirm", customer, "", `{"solved":true,"timeliness":3,"professionalism":6}`}, "data.professionalism"},
		{"data not an object", pathTo["accepted"], step{"start", eng, "", `[1,2]`}, "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory(t)
			h.must(t, c.path...)
			before := h.t
			_, err := h.do(t, c.step)
			require.ErrorIs(t, err, ticket.ErrInvalidData)
			var de *ticket.DataError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, c.field, de.Field)
			assert.Equal(t, before, h.t)
		})
	}
}

func TestStaleVersion(t *testing.T) {
	h := newHistory(t)
	cmd := ticket.Command{TicketID: h.t.ID, Action: "assign", Actor: disp, Data: json.RawMessage(`{"assignee":"eng-li"}`), ExpectedVersion: 2}
	_, err := ticket.Decide(h.t, cmd, t0)
	require.ErrorIs(t, err, ticket.ErrStaleVersion)
	cmd.ExpectedVersion = 1
	_, err = ticket.Decide(h.t, cmd, t0)
	require.NoError(t, err)
}

func TestConfirmUnsolvedIsADispute(t *testing.T) {
	h := newHistory(t)
	h.must(t, pathTo["resolved"]...)
	ev, err := h.do(t, step{"confirm", customer, "", `{"solved":false,"timeliness":2,"professionalism":3,"comment":"还是坏的"}`})
	require.NoError(t, err)
	assert.Equal(t, ticket.StateInProgress, ev.To)
	assert.True(t, ev.Rollback)
	assert.Nil(t, h.t.Resolution, "a disputed resolution is no longer the ticket's resolution")
	require.NotNil(t, h.t.Feedback)
	assert.False(t, h.t.Feedback.Solved)
	assert.Len(t, h.t.Rollbacks, 1)
}

// TestAutoConfirm: the system confirms only as "no one answered" (solved, auto, no ratings),
// a customer never sends auto, and the feedback keeps who was rated.
func TestAutoConfirm(t *testing.T) {
	for _, c := range []struct {
		name  string
		actor ticket.Actor
		data  string
		field string
	}{
		{"system with ratings", system, `{"solved":true,"auto":true,"timeliness":5,"professionalism":5}`, "data"},
		{"system without auto", system, `{"solved":true}`, "data"},
		{"system disputing", system, `{"solved":false,"auto":true}`, "data"},
		{"customer claiming auto", customer, `{"solved":true,"auto":true,"timeliness":5,"professionalism":5}`, "data.auto"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory(t)
			h.must(t, pathTo["resolved"]...)
			before := h.t
			_, err := h.do(t, step{"confirm", c.actor, "", c.data})
			var de *ticket.DataError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, c.field, de.Field)
			assert.Equal(t, before, h.t)
		})
	}
	h := newHistory(t)
	h.must(t, pathTo["resolved"]...)
	ev, err := h.do(t, step{"confirm", system, "", `{"solved":true,"auto":true}`})
	require.NoError(t, err)
	assert.True(t, ev.Automatic)
	assert.Equal(t, ticket.StateCustomerConfirmed, h.t.State)
	require.NotNil(t, h.t.Feedback)
	assert.True(t, h.t.Feedback.Auto)
	assert.Zero(t, h.t.Feedback.Timeliness)
	assert.Equal(t, "eng-li", h.t.Feedback.Engineer, "the assignee when it was confirmed")

	h = newHistory(t)
	h.must(t, pathTo["resolved"]...)
	h.must(t, "confirm")
	assert.False(t, h.t.Feedback.Auto)
	assert.Equal(t, "eng-li", h.t.Feedback.Engineer, "the customer rated the assignee")
}

func TestThreeRollbacksWithinTwoHoursFreeze(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign", "decline", "assign", "decline") // two rollbacks
	assert.False(t, h.t.Frozen)
	h.must(t, "assign")
	ev, err := h.do(t, validStep["decline"])
	require.NoError(t, err)
	assert.True(t, ev.Froze)
	assert.True(t, h.t.Frozen)

	// every action but unfreeze is refused, and nothing changes
	for _, a := range ticket.Actions {
		if a == ticket.ActionUnfreeze {
			continue
		}
		before := h.t
		_, err := h.do(t, validStep[a])
		require.ErrorIs(t, err, ticket.ErrFrozen, "action %s", a)
		assert.Equal(t, before, h.t)
	}
	// unfreeze is for qa only
	_, err = h.do(t, step{"unfreeze", admin, "", ""})
	require.ErrorIs(t, err, ticket.ErrForbidden)
	ev, err = h.do(t, validStep["unfreeze"])
	require.NoError(t, err)
	assert.Equal(t, ev.From, ev.To)
	assert.False(t, h.t.Frozen)
	assert.Empty(t, h.t.Rollbacks)
	h.must(t, "assign")

	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded)
}

func TestRollbacksOutsideTheWindowDoNotFreeze(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign", "decline", "assign", "decline")
	h.now = h.now.Add(2 * time.Hour) // the first two age out
	h.must(t, "assign", "decline")
	assert.False(t, h.t.Frozen)
	assert.Len(t, h.t.Rollbacks, 1)
}

func TestUnfreezeWhenNotFrozen(t *testing.T) {
	h := newHistory(t)
	_, err := h.do(t, validStep["unfreeze"])
	require.ErrorIs(t, err, ticket.ErrIllegalTransition)
}

func TestUnknownAction(t *testing.T) {
	h := newHistory(t)
	_, err := h.do(t, step{"teleport", admin, "", ""})
	require.ErrorIs(t, err, ticket.ErrUnknownAction)
	assert.Contains(t, err.Error(), "assign")
	_, err = ticket.ParseAction("create")
	require.Error(t, err, "create is not an action a command may name")
}

func TestCreate(t *testing.T) {
	_, err := ticket.Create("GD-1", draft.Draft{}, "", agent, t0, "")
	require.ErrorIs(t, err, ticket.ErrInvalidData)
	_, err = ticket.Create("GD-1", draft.Draft{Title: "x", Urgency: "purple"}, "", agent, t0, "")
	var de *ticket.DataError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "urgency", de.Field)

	ev, err := ticket.Create("GD-1", draft.Draft{Description: "第一行很长的描述\n第二行"}, "", system, t0, "c1")
	require.NoError(t, err)
	assert.True(t, ev.Automatic)
	tk, err := ticket.Fold([]ticket.Event{ev})
	require.NoError(t, err)
	assert.Equal(t, "第一行很长的描述", tk.Title)
	assert.Equal(t, draft.UrgencyBlue, tk.Urgency)
	assert.Equal(t, []string{}, tk.Tags)
	assert.Len(t, tk.Sources, 1)
	assert.Equal(t, ticket.StateNew, tk.State)
	assert.Equal(t, int64(1), tk.Version)
}

func TestApplyRefusesOutOfOrderEvents(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign")
	bad := h.events[1]
	bad.Seq = 5
	_, err := ticket.Apply(h.t, bad)
	require.Error(t, err)
	_, err = ticket.Fold(nil)
	require.Error(t, err)
}

func TestFormatID(t *testing.T) {
	assert.Equal(t, "GD-20261123-000042", ticket.FormatID(t0, 42))
	assert.True(t, strings.HasPrefix(ticket.FormatID(t0, 1234567), "GD-20261123-1234567"))
}

func TestCustomersActOnlyOnTheirOwnTickets(t *testing.T) {
	h := newHistory(t)
	h.must(t, pathTo["resolved"]...)
	other := ticket.Actor{ID: "cust-li", Role: ticket.RoleCustomer}
	_, err := h.do(t, step{"confirm", other, "", validStep["confirm"].data})
	require.ErrorIs(t, err, ticket.ErrForbidden)
	assert.True(t, h.t.OwnedBy(customer))
	assert.False(t, h.t.OwnedBy(other))
	assert.False(t, ticket.Ticket{}.OwnedBy(ticket.Actor{Role: ticket.RoleCustomer}), "no customer id: nobody's")
}

func TestUnfreezeOnlyWhenFrozenInEveryState(t *testing.T) {
	for _, state := range ticket.States {
		h := newHistory(t)
		h.must(t, pathTo[state]...)
		_, err := h.do(t, validStep["unfreeze"])
		require.ErrorIs(t, err, ticket.ErrIllegalTransition, "state %s", state)
	}
}

func TestReopenClearsTheOldClosing(t *testing.T) {
	h := newHistory(t)
	h.must(t, pathTo["customer_confirmed"]...)
	require.NotNil(t, h.t.Feedback)
	h.must(t, "force_close", "reopen")
	assert.False(t, h.t.ForceClosed)
	assert.Nil(t, h.t.Feedback)
	assert.Nil(t, h.t.Resolution)
}

func TestNegativeExpectedVersionIsInvalid(t *testing.T) {
	h := newHistory(t)
	_, err := ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: "assign", Actor: disp,
		Data: json.RawMessage(`{"assignee":"eng-li"}`), ExpectedVersion: -1}, t0)
	var de *ticket.DataError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "expected_version", de.Field)
}

func TestEventRecordsItsCommandAfterAStoreRoundTrip(t *testing.T) {
	h := newHistory(t)
	cmd := ticket.Command{TicketID: h.t.ID, Action: ticket.ActionReject, Actor: agent,
		Reason: " 重复 <报修> & 骚扰 ", Data: json.RawMessage(`{ "note": "a<b && c>d" }`)}
	ev, err := ticket.Decide(h.t, cmd, t0)
	require.NoError(t, err)
	stored, err := json.Marshal(ev)
	require.NoError(t, err)
	var loaded ticket.Event
	require.NoError(t, json.Unmarshal(stored, &loaded))
	assert.True(t, loaded.Records(cmd))
	other := cmd
	other.Data = json.RawMessage(`{"note":"x"}`)
	assert.False(t, loaded.Records(other))
	other = cmd
	other.Actor = sup
	assert.False(t, loaded.Records(other))
}
