package ticket_test

import (
	"encoding/json"
	"testing"
	"time"

	"gongdan/core/ticket"
)

// FuzzDecide feeds arbitrary actions, roles, reasons and data to every state. Decide must
// never panic; what it accepts must apply, and the result must be the fold of the events.
func FuzzDecide(f *testing.F) {
	for a, s := range validStep {
		f.Add(string(a), string(s.actor.Role), s.actor.ID, s.reason, s.data, uint8(0))
	}
	f.Add("confirm", "customer", "cust-wang", "", `{"solved":null,"timeliness":1e400}`, uint8(6))
	f.Add("assign", "dispatcher", "disp-chen", "", `{"assignee":"\u0000"}`, uint8(0))
	states := ticket.States
	f.Fuzz(func(t *testing.T, action, role, actorID, reason, data string, stateIndex uint8) {
		h := newHistory(t)
		h.must(t, pathTo[states[int(stateIndex)%len(states)]]...)
		before := h.t
		cmd := ticket.Command{TicketID: h.t.ID, Action: ticket.Action(action), Actor: ticket.Actor{ID: actorID, Role: ticket.Role(role)},
			Reason: reason, Data: json.RawMessage(data)}
		ev, err := ticket.Decide(h.t, cmd, h.now.Add(time.Minute))
		if err != nil {
			return
		}
		next, err := ticket.Apply(before, ev)
		if err != nil {
			t.Fatalf("Decide accepted %s but Apply refused it: %v", action, err)
		}
		folded, err := ticket.Fold(append(h.events, ev))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(next)
		b, _ := json.Marshal(folded)
		if string(a) != string(b) {
			t.Fatalf("state differs from fold:\n%s\n%s", a, b)
		}
	})
}
