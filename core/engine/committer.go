package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// The committer: one goroutine takes every write, gathers what is waiting into one store
// transaction (group commit), retries a request that lost a race, and answers each request
// only once its transaction is durable.

type request struct {
	ctx    context.Context
	create *CreateRequest
	cmd    *ticket.Command
	timer  *store.Timer    // a due timer to fire
	update *engineerUpdate // a change to an engineer's live state
	rearm  []string        // tickets whose SLA timers to arm again
	// do is any other write on a ticket (the customer's actions of the closing loop): it
	// decides and appends in tx, as applyCommand does.
	do   func(tx store.Tx) (result, error)
	done chan result
}

type result struct {
	ticket    ticket.Ticket
	outcome   Outcome // of a create
	replay    *ticket.Event
	event     *ticket.Event  // appended, to publish after commit
	before    ticket.Ticket  // the ticket before event (zero for a creation)
	more      []ticket.Event // appended after event (routing), to publish after it
	notes     []Notification // to send after commit
	engineer  *EngineerView  // the engineer after an update
	engineers []EngineerView // every engineer, for a listing
	// followed: routing's follow-ups are done already (a routed creation, a fired timer).
	followed bool
	err      error
}

func (e *Engine) submit(ctx context.Context, r *request) result {
	r.ctx = ctx
	r.done = make(chan result, 1)
	select {
	case <-e.quit:
		return result{err: ErrClosed}
	default:
	}
	select {
	case e.reqs <- r:
	case <-e.quit:
		return result{err: ErrClosed}
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
	select {
	case res := <-r.done:
		return res
	case <-e.done:
		// The committer is gone; it answered r if it took it, else r was never applied.
		select {
		case res := <-r.done:
			return res
		default:
			return result{err: ErrClosed}
		}
	case <-ctx.Done():
		// The request may still commit; the caller must not take this for a success.
		return result{err: ctx.Err()}
	}
}

func (e *Engine) run() {
	defer close(e.done)
	batch := make([]*request, 0, e.opts.MaxBatch)
	for {
		select {
		case r := <-e.reqs:
			batch = append(batch[:0], r)
		case <-e.quit:
			e.failPending()
			return
		}
		e.gather(&batch)
		e.commit(batch)
	}
}

// gather adds waiting requests to batch. On few cores the writers that were just answered are
// runnable but not yet running, so yield to them and keep gathering while requests keep
// arriving; stop at the first round that brings none. This is group commit without a fixed
// delay: an idle engine commits a lone request at once.
func (e *Engine) gather(batch *[]*request) {
	for len(*batch) < e.opts.MaxBatch {
		runtime.Gosched()
		got := false
	drain:
		for len(*batch) < e.opts.MaxBatch {
			select {
			case r := <-e.reqs:
				*batch = append(*batch, r)
				got = true
			default:
				break drain
			}
		}
		if !got {
			return
		}
	}
}

func (e *Engine) failPending() {
	for {
		select {
		case r := <-e.reqs:
			r.done <- result{err: ErrClosed}
		default:
			return
		}
	}
}

// commit applies a batch in one transaction and answers each request once it is durable.
func (e *Engine) commit(batch []*request) {
	start := time.Now()
	results := make([]result, len(batch))
	live := make([]bool, len(batch))
	n := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = result{err: err} // gave up before it was applied: nothing to undo
			continue
		}
		live[i] = true
		n++
	}
	if n > 0 {
		err := e.store.Write(context.Background(), func(tx store.Tx) error {
			tx = e.withKPIs(tx) // every event written keeps its ticket's KPI facts (kpi.go)
			for i, r := range batch {
				if !live[i] {
					continue
				}
				res, err := e.apply(tx, r)
				if err != nil {
					return err
				}
				results[i] = res
			}
			if e.routing != nil {
				return e.routing.flush(tx)
			}
			return nil
		})
		e.settleCache(err == nil)
		if e.routing != nil {
			e.routing.settle(err == nil)
		}
		if err != nil {
			e.opts.Logger.Error("commit failed; the whole batch is refused", "requests", n, "err", err)
			for i := range batch {
				if live[i] {
					results[i] = result{err: fmt.Errorf("store: %w", err)}
				}
			}
		}
		e.metrics.batchSize.Observe(float64(n))
		e.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	}
	for i, r := range batch {
		res := results[i]
		action := ticket.ActionCreate
		if r.cmd != nil {
			action = r.cmd.Action
		}
		if r.create != nil && res.err == nil {
			e.metrics.intake.WithLabelValues(string(res.outcome)).Inc()
		}
		switch {
		case r.timer != nil || r.update != nil || r.rearm != nil:
			// not a ticket action of a caller's (timers count in their own metrics)
		case r.do != nil:
			if res.event != nil {
				e.metrics.actions.WithLabelValues(string(res.event.Action), outcome(res.err)).Inc()
			}
		case res.replay != nil || res.outcome == Duplicate:
			e.metrics.actions.WithLabelValues(string(action), "replay").Inc()
		case res.outcome == Merged:
			e.metrics.actions.WithLabelValues(string(ticket.ActionSourceAdded), "ok").Inc()
			for _, ev := range res.more {
				if ev.Action == ticket.ActionResolve { // by a draft of intent resolve
					e.metrics.actions.WithLabelValues(string(ticket.ActionResolve), "ok").Inc()
				}
			}
		case res.outcome == Unmatched:
			// nothing was written: not an action (gongdan_intake_total counts it)
		default:
			e.metrics.actions.WithLabelValues(string(action), outcome(res.err)).Inc()
		}
		if res.err == nil && res.event != nil {
			for _, ev := range append([]ticket.Event{*res.event}, res.more...) {
				if ev.From != "" {
					e.metrics.tickets.WithLabelValues(string(ev.From)).Dec()
				}
				e.metrics.tickets.WithLabelValues(string(ev.To)).Inc()
				e.publish(ev)
			}
			for _, n := range res.notes {
				e.notify(n)
			}
		}
		r.done <- res
	}
}

// maxConflictRetries bounds how often one request is decided again after losing a race to
// another process sharing the store.
const maxConflictRetries = 5

// apply decides and writes one request inside tx. A business refusal is a result; only a
// store failure is an error, and it fails the whole batch.
func (e *Engine) apply(tx store.Tx, r *request) (result, error) {
	for attempt := 0; ; attempt++ {
		var res result
		var err error
		mark := 0
		if e.routing != nil {
			mark = e.routing.traces.mark()
		}
		switch {
		case r.create != nil:
			res, err = e.applyCreate(tx, r.create)
		case r.timer != nil:
			res, err = e.applyTimer(tx, *r.timer)
		case r.update != nil:
			res, err = e.applyEngineerUpdate(tx, *r.update)
		case r.rearm != nil:
			res, err = e.applyRearm(tx, r.rearm)
		case r.do != nil:
			res, err = r.do(tx)
		default:
			res, err = e.applyCommand(tx, *r.cmd)
		}
		if err == nil {
			err = e.after(tx, &res)
		}
		if errors.Is(err, store.ErrConflict) && attempt < maxConflictRetries {
			if e.routing != nil {
				e.routing.traces.rollback(mark) // the retry decides again
			}
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return result{err: err}, nil
		}
		return res, err
	}
}

// after runs, inside tx, what follows an event that took res.before to res.ticket: routing's
// loads and follow-ups (unless done already), the SLA clocks, the closing loop's records.
func (e *Engine) after(tx store.Tx, res *result) error {
	if res.err != nil || res.event == nil {
		return nil
	}
	if e.routing != nil && !res.followed {
		if err := e.follow(tx, res.before, res); err != nil {
			return err
		}
	}
	if e.opts.SLA != nil {
		if err := e.armSLA(tx, res.before, res.ticket); err != nil {
			return err
		}
	}
	if res.before.ID == "" && res.ticket.RepeatOf != "" {
		if err := e.markRepeated(tx, res); err != nil {
			return err
		}
	}
	if e.opts.Closure != nil {
		return e.followClosure(tx, res.before, res.ticket)
	}
	return nil
}

// markRepeated records on the ticket a new one repeats that it was repeated (once per repeat;
// the first is its RepeatedBy): what charges a fix that did not hold once, and what the
// follow-up knows the customer came back by.
func (e *Engine) markRepeated(tx store.Tx, res *result) error {
	prev, found, err := e.ticketIn(tx, res.ticket.RepeatOf)
	if err != nil || !found {
		return err
	}
	ev, err := ticket.Repeated(prev, res.ticket.ID, res.event.At)
	if err != nil {
		return err
	}
	if _, err := e.appendEvent(tx, prev, ev); err != nil {
		return err
	}
	res.more = append(res.more, ev)
	return nil
}

// ticketIn is ticket id as the batch has it: cached, else read through tx; found is false
// when there is no such ticket.
func (e *Engine) ticketIn(tx store.Tx, id string) (t ticket.Ticket, found bool, err error) {
	if t, ok := e.cached(id); ok {
		return t, true, nil
	}
	t, err = tx.Ticket(id)
	if errors.Is(err, store.ErrNotFound) {
		return ticket.Ticket{}, false, nil
	}
	return t, err == nil, err
}

func (e *Engine) cached(id string) (ticket.Ticket, bool) {
	if t, ok := e.pending[id]; ok {
		return t, true
	}
	t, ok := e.cache[id]
	return t, ok
}

func (e *Engine) forget(id string) {
	delete(e.pending, id)
	delete(e.cache, id)
}

// settleCache keeps what the batch wrote if it committed, and forgets it if not.
func (e *Engine) settleCache(committed bool) {
	if committed {
		for id, t := range e.pending {
			e.cache[id] = t
		}
	} else {
		for id := range e.pending {
			delete(e.cache, id)
		}
	}
	clear(e.pending)
	if len(e.cache) > cacheSize {
		for id := range e.cache { // map order is random enough for a cache this simple
			delete(e.cache, id)
			if len(e.cache) <= cacheSize*3/4 {
				break
			}
		}
	}
}
