package engine

import (
	"context"
	"errors"
	"fmt"

	"gongdan/core/routing"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// Commands: a person's or a system's action on a ticket, with its command id, and changes to
// what routing knows of an engineer.

// Do applies one command and returns the ticket after it. A command id the same caller sent
// before returns the ticket as that first command left it, and appends nothing. A customer's
// command on a ticket that is not theirs fails as one on a missing ticket (ErrNotFound),
// before anything else is checked.
func (e *Engine) Do(ctx context.Context, cmd ticket.Command) (ticket.Ticket, error) {
	if cmd.Action == ticket.ActionConfirm && cmd.Actor.Role == ticket.RoleSystem {
		// Only the confirm.timeout timer confirms for the system: no caller may skip the wait.
		e.metrics.actions.WithLabelValues(string(cmd.Action), outcome(ticket.ErrForbidden)).Inc()
		return ticket.Ticket{}, fmt.Errorf("%w: the system confirms only when confirm.timeout has passed with no answer", ticket.ErrForbidden)
	}
	res := e.submit(ctx, &request{cmd: &cmd})
	if res.err == nil && res.replay != nil {
		return e.ticketAt(ctx, res.replay.TicketID, res.replay.Seq)
	}
	return res.ticket, res.err
}

// ticketAt folds a ticket's events up to seq: the answer a replayed command gets.
func (e *Engine) ticketAt(ctx context.Context, id string, seq int64) (ticket.Ticket, error) {
	evs, err := e.store.Events(ctx, id)
	if err != nil {
		return ticket.Ticket{}, err
	}
	if int64(len(evs)) < seq {
		return ticket.Ticket{}, fmt.Errorf("ticket %s has %d events, want %d", id, len(evs), seq)
	}
	return ticket.Fold(evs[:seq])
}

func (e *Engine) applyCommand(tx store.Tx, cmd ticket.Command) (result, error) {
	// A replayed command is recognised on the failure paths only: its Decide fails (the
	// ticket moved on) or its event collides on the command id. The common path, a new
	// command, costs no lookup.
	now := e.now()
	t, cached := e.cached(cmd.TicketID)
	customer := cmd.Actor.Role == ticket.RoleCustomer
	// A cached ticket may predate the merge that gave it its customer: a customer's refusal is
	// decided on the stored one.
	fresh := !cached || (customer && !t.OwnedBy(cmd.Actor))
	if fresh {
		var found bool
		var err error
		if t, found, err = e.storedTicket(tx, cmd.TicketID); err != nil || !found {
			return notFound(cmd.TicketID), err
		}
	}
	// A customer learns nothing of a ticket that is not theirs, not even that it exists:
	// ownership comes before every other check (frozen, version, role, state, command id),
	// and a foreign ticket is answered as a missing one.
	if customer && !t.OwnedBy(cmd.Actor) {
		return notFound(cmd.TicketID), nil
	}
	ev, err := ticket.Decide(t, cmd, now)
	if err != nil && !fresh {
		// decided on a cached ticket, which may be stale: decide again on the stored one
		var found bool
		var lerr error
		if t, found, lerr = e.storedTicket(tx, cmd.TicketID); lerr != nil || !found {
			return notFound(cmd.TicketID), lerr
		}
		ev, err = ticket.Decide(t, cmd, now)
	}
	if err != nil {
		// A caller whose role may never do the action is refused for that, whatever they sent
		// before under the same command id: ids are looked up only for callers who may act.
		if ticket.CheckRole(cmd.Action, cmd.Actor.Role) == nil {
			if res, replayed, lerr := e.replayOf(tx, cmd); replayed || lerr != nil {
				return res, lerr
			}
		}
		return result{err: err}, nil
	}
	next, err := ticket.Apply(t, ev)
	if err != nil {
		return result{}, err
	}
	if ev.ID, err = tx.Append(next, ev); err != nil {
		e.forget(cmd.TicketID)
		if errors.Is(err, store.ErrConflict) {
			if res, replayed, lerr := e.replayOf(tx, cmd); replayed || lerr != nil {
				return res, lerr
			}
		}
		return result{}, err
	}
	e.pending[next.ID] = next
	return result{ticket: next, event: &ev, before: t}, nil
}

// storedTicket reads a ticket through tx; found is false when there is no such ticket.
func (e *Engine) storedTicket(tx store.Tx, id string) (t ticket.Ticket, found bool, err error) {
	t, err = tx.Ticket(id)
	if errors.Is(err, store.ErrNotFound) {
		return ticket.Ticket{}, false, nil
	}
	return t, err == nil, err
}

// notFound is the answer for a ticket that is missing, and for a customer's command on a
// ticket that is not theirs: the two must not differ.
func notFound(id string) result {
	return result{err: fmt.Errorf("ticket %s: %w", id, ErrNotFound)}
}

// replayOf reports whether cmd's command id was already used by the same caller, and the
// answer if so. Ids are each caller's own: another caller's use of the same id is no replay.
func (e *Engine) replayOf(tx store.Tx, cmd ticket.Command) (res result, replayed bool, err error) {
	if cmd.CommandID == "" {
		return result{}, false, nil
	}
	ev, err := tx.EventByCommandID(cmd.Actor.ID, cmd.CommandID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return result{}, false, nil
	case err != nil:
		return result{}, false, err
	case !ev.Records(cmd):
		return result{err: fmt.Errorf("%w: you used command id %q before for another request (the ticket, action, role, reason or data differ); send a new id with a new request",
			ErrCommandIDReused, cmd.CommandID)}, true, nil
	}
	return result{replay: &ev}, true, nil
}

// EngineerUpdate changes what routing knows of an engineer; nil fields stay as they are.
type EngineerUpdate struct {
	Status   *routing.Status `json:"status"`
	Location *routing.Point  `json:"location"`
	Skills   *[]string       `json:"skills"`
}

type engineerUpdate struct {
	id     string
	update EngineerUpdate
	// get only reads; all reads every engineer.
	get, all bool
}

// UpdateEngineer changes an engineer's live status, location or skills; the next decision
// uses them.
func (e *Engine) UpdateEngineer(ctx context.Context, id string, u EngineerUpdate) (EngineerView, error) {
	if e.routing == nil {
		return EngineerView{}, ErrRoutingOff
	}
	if u.Status != nil && !u.Status.Valid() {
		return EngineerView{}, &ticket.DataError{Field: "status", Msg: fmt.Sprintf("unknown status %q (one of: on_duty, off, leave, suspended)", *u.Status)}
	}
	if u.Location != nil && (u.Location.Lat < -90 || u.Location.Lat > 90 || u.Location.Lon < -180 || u.Location.Lon > 180) {
		return EngineerView{}, &ticket.DataError{Field: "location", Msg: "lat must be -90..90 and lon -180..180"}
	}
	res := e.submit(ctx, &request{update: &engineerUpdate{id: id, update: u}})
	if res.err != nil {
		return EngineerView{}, res.err
	}
	return *res.engineer, nil
}

func (e *Engine) applyEngineerUpdate(tx store.Tx, u engineerUpdate) (result, error) {
	r := e.routing
	r.rollDay(e.now())
	if u.all {
		var views []EngineerView
		for _, cfg := range r.opts.Router.Engineers() {
			views = append(views, e.viewOf(cfg, r.engineer(cfg.ID)))
		}
		return result{engineers: views}, nil
	}
	cfg, ok := r.opts.Router.Engineer(u.id)
	if !ok {
		return result{err: fmt.Errorf("engineer %s: %w", u.id, ErrNotFound)}, nil
	}
	st := r.engineer(u.id)
	if !u.get {
		if u.update.Status != nil {
			st.Status = *u.update.Status
		}
		if u.update.Location != nil {
			st.Location = *u.update.Location
		}
		if u.update.Skills != nil {
			st.Skills = *u.update.Skills
			if st.Skills == nil {
				st.Skills = []string{}
			}
		}
		st.UpdatedAt = e.now()
		if err := r.putEngineer(tx, u.id, st); err != nil {
			return result{}, err
		}
	}
	v := e.viewOf(cfg, st)
	return result{engineer: &v}, nil
}
