package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// Timers: the loop that fires due timers (offers not accepted in time, SLA marks) through
// the committer.

// timerOffer is the kind of the accept-timeout timer.
const timerOffer = "offer"

// timerSLA is the kind of a ticket's SLA timer.
const timerSLA = "sla"

// timerPoll is how often the timer loop looks for due timers; timerBatch how many it fires
// per look.
const (
	timerPoll  = time.Second
	timerBatch = 256
)

// runTimers fires due timers until the engine closes. Timers live in the store, so a restart
// loses none, and every overdue one fires once at the first look. Each fires in the
// committer, which checks it is still due and deletes it in the transaction of what it does:
// firing twice (a crash before the commit) does nothing the second time.
func (e *Engine) runTimers() {
	defer close(e.timersDone)
	tick := time.NewTicker(timerPoll)
	defer tick.Stop()
	for {
		e.fireDue()
		select {
		case <-e.quit:
			return
		case <-tick.C:
		}
	}
}

// fireDue fires the due timers, a batch at a time, until none is left, the engine closes or
// a timer fails to fire (it is tried again at the next tick, not in a tight loop).
func (e *Engine) fireDue() {
	for {
		due, err := e.store.DueTimers(context.Background(), e.now(), timerBatch)
		if err != nil {
			e.opts.Logger.Error("timers: reading due timers", "err", err)
			return
		}
		// All of them at once: the committer takes them in a few transactions rather than
		// one each (after downtime thousands may be due).
		failed := make(chan error, len(due))
		var wg sync.WaitGroup
		for i := range due {
			tm := &due[i]
			wg.Go(func() {
				if res := e.submit(context.Background(), &request{timer: tm}); res.err != nil {
					if !errors.Is(res.err, ErrClosed) {
						e.opts.Logger.Error("timers: firing", "ticket", tm.TicketID, "kind", tm.Kind, "err", res.err)
					}
					failed <- res.err
				}
			})
		}
		wg.Wait()
		if len(failed) > 0 || len(due) < timerBatch {
			return // what failed is tried again at the next tick, not in a tight loop
		}
		select {
		case <-e.quit:
			return
		default:
		}
	}
}

// applyTimer fires one timer: an offer not accepted in time goes to someone else; an SLA
// timer records what fell due.
func (e *Engine) applyTimer(tx store.Tx, tm store.Timer) (result, error) {
	t, found, err := e.ticketIn(tx, tm.TicketID)
	if err != nil {
		return result{}, err
	} else if !found {
		return result{}, tx.DeleteTimer(tm.TicketID, tm.Kind)
	}
	if tm.Kind == timerSLA && e.opts.SLA != nil {
		return e.applySLATimer(tx, tm, t)
	}
	if (tm.Kind == timerConfirm || tm.Kind == timerFollowup) && e.opts.Closure != nil {
		return e.applyClosureTimer(tx, tm, t)
	}
	now := e.now()
	switch {
	case tm.Kind != timerOffer || e.routing == nil:
		return result{}, tx.DeleteTimer(tm.TicketID, tm.Kind) // a kind this version does not know
	case t.State != ticket.StateAssigned:
		return result{}, tx.DeleteTimer(tm.TicketID, tm.Kind) // accepted or moved on meanwhile
	case t.AssignedAt.Add(e.routing.opts.AcceptTimeout).After(now):
		// Not due after all (assigned again since, or accept_timeout was raised): move the
		// timer to when it is, or it would be polled again and again.
		return result{followed: true}, tx.SetTimer(store.Timer{TicketID: t.ID, Kind: timerOffer, Due: t.AssignedAt.Add(e.routing.opts.AcceptTimeout)})
	}
	e.metrics.offerTimeouts.Inc()
	res := result{ticket: t, event: &ticket.Event{At: now}}
	e.routing.rollDay(now)
	if err := e.route(tx, &res, TriggerOfferTimeout, "", t.Assignee); err != nil {
		return result{}, err
	}
	if len(res.more) == 0 {
		return result{ticket: t, followed: true}, nil
	}
	first := res.more[0]
	return result{ticket: res.ticket, event: &first, before: t, more: res.more[1:], notes: res.notes, followed: true}, nil
}
