// Package engine applies commands to tickets: it loads, decides with core/ticket, persists the
// ticket and its event atomically, and only then answers and publishes the event.
//
// All writes go through one committer goroutine that gathers whatever requests are waiting
// into one store transaction (group commit): under load, one durable commit covers hundreds
// of actions, and an answer still always means committed.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/normalize"
)

// Errors of the engine itself (the ticket package's errors come through unchanged).
var (
	ErrClosed = errors.New("engine closed")
	// ErrCommandIDReused: a caller's command id came back from that caller with another
	// request (ticket, action, reason or data). Ids are each caller's own.
	ErrCommandIDReused = errors.New("command id reused")
	// ErrIdempotencyKeyReused: an Idempotency-Key came back with a different draft.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused")
	// ErrNotFound: no such ticket.
	ErrNotFound = store.ErrNotFound
)

// Options configure an Engine.
type Options struct {
	// Store keeps tickets and events. Required.
	Store store.Store
	// Location is the timezone of ticket ids and event times. Default Asia/Shanghai.
	Location *time.Location
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// MaxBatch caps the requests in one transaction. Default 512.
	MaxBatch int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Routing, when set, routes tickets (see RoutingOptions).
	Routing *RoutingOptions
	// SLA, when set, runs SLA clocks and escalations (see SLAOptions).
	SLA *SLAOptions
}

func (o *Options) setDefaults() error {
	if o.Store == nil {
		return errors.New("engine: Options.Store is required")
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		o.Location = loc
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Engine applies commands. Its methods are safe for concurrent use.
type Engine struct {
	opts    Options
	store   store.Store
	reqs    chan *request
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	metrics *metrics

	mu   sync.Mutex
	subs map[*Subscription]struct{}

	// cache holds tickets as last committed by this engine, and pending those written by
	// the batch in flight; only the committer goroutine touches them. A cached ticket saves
	// a read and a decode per action. It may be stale when other processes share the store:
	// a stale version makes Append conflict (and the ticket is read again), and a refusal
	// decided on a cached ticket is decided again on the stored one.
	cache   map[string]ticket.Ticket
	pending map[string]ticket.Ticket

	// routing is nil when routing is off; only the committer touches it.
	routing *router
	// timersDone is closed when the timer loop has stopped; rearmDone when the SLA re-arming
	// after a change of policies has (or was never started).
	timersDone chan struct{}
	rearmDone  chan struct{}
}

// cacheSize bounds the ticket cache.
const cacheSize = 1 << 14

// New starts an engine over opts.Store. Close stops it.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	counts, err := opts.Store.CountByState(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: count tickets: %w", err)
	}
	for _, st := range ticket.States {
		m.tickets.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	e := &Engine{
		opts:    opts,
		store:   opts.Store,
		reqs:    make(chan *request, opts.MaxBatch*4),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		metrics: m,
		subs:    map[*Subscription]struct{}{},
		cache:   map[string]ticket.Ticket{},
		pending: map[string]ticket.Ticket{},
	}
	if opts.Routing != nil {
		if e.routing, err = newRouter(ctx, opts.Store, *opts.Routing, e.now()); err != nil {
			return nil, err
		}
	}
	go e.run()
	if e.routing != nil || opts.SLA != nil {
		e.timersDone = make(chan struct{})
		go e.runTimers()
	}
	if opts.SLA != nil {
		e.rearmDone = make(chan struct{})
		go e.rearmAll()
	}
	return e, nil
}

// Close stops taking requests, finishes the batch in flight and fails the rest with
// ErrClosed. It closes every subscription; it does not close the store.
func (e *Engine) Close() error {
	e.once.Do(func() {
		close(e.quit)
		<-e.done
		if e.routing != nil {
			e.routing.traces.close()
		}
		if e.timersDone != nil {
			<-e.timersDone
		}
		if e.rearmDone != nil {
			<-e.rearmDone
		}
		e.mu.Lock()
		for s := range e.subs {
			s.close()
		}
		e.subs = nil
		e.mu.Unlock()
	})
	return nil
}

// CreateRequest asks for a ticket from a draft.
type CreateRequest struct {
	Draft normalize.Draft
	Actor ticket.Actor
	// IdempotencyKey, when set, makes a repeat of the request return the first answer's ticket.
	IdempotencyKey string
}

// Outcome is what became of a draft at intake.
type Outcome string

const (
	// Created: the draft opened a new ticket.
	Created Outcome = "created"
	// Duplicate: the draft's dedup key, or the request's Idempotency-Key, was seen before;
	// nothing was written, and the ticket the first one went into is returned.
	Duplicate Outcome = "duplicate"
	// Merged: the draft's thread key matched an open ticket, and the draft was added to it
	// (a source_added event; for a draft of intent resolve, possibly a resolve event after
	// it); the ticket after the merge is returned.
	Merged Outcome = "merged"
	// Unmatched: the draft has an intent (normalize.IntentUpdate, IntentResolve) and no ticket
	// of its thread is open, so nothing was written and no ticket is returned. A redelivery is
	// unmatched again, unless a ticket of the thread opened meanwhile.
	Unmatched Outcome = "unmatched"
)

// Create takes a draft in: it opens a new ticket, or merges the draft into the newest open
// ticket of its thread (thread_key), exactly once per dedup key and per idempotency key. A new
// ticket for the same customer or device and category as a ticket closed within
// ticket.RepeatWindow before the draft was received records that ticket as its repeat_of.
// A draft with an intent only merges: with no open ticket of its thread it is Unmatched, with
// a nil error and a zero ticket.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (ticket.Ticket, Outcome, error) {
	// Check the draft here, in the caller's goroutine: the committer only writes.
	if _, err := ticket.Create("", req.Draft, "", req.Actor, time.Time{}, ""); err != nil {
		e.metrics.actions.WithLabelValues(string(ticket.ActionCreate), outcome(err)).Inc()
		return ticket.Ticket{}, "", err
	}
	if req.IdempotencyKey != "" {
		// Keys are the caller's own: two callers who pick the same key get their own tickets.
		req.IdempotencyKey = req.Actor.ID + "\x00" + req.IdempotencyKey
	}
	res := e.submit(ctx, &request{create: &req})
	return res.ticket, res.outcome, res.err
}

// Do applies one command and returns the ticket after it. A command id the same caller sent
// before returns the ticket as that first command left it, and appends nothing. A customer's
// command on a ticket that is not theirs fails as one on a missing ticket (ErrNotFound),
// before anything else is checked.
func (e *Engine) Do(ctx context.Context, cmd ticket.Command) (ticket.Ticket, error) {
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

type request struct {
	ctx    context.Context
	create *CreateRequest
	cmd    *ticket.Command
	timer  *store.Timer    // a due timer to fire
	update *engineerUpdate // a change to an engineer's live state
	rearm  []string        // tickets whose SLA timers to arm again
	done   chan result
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
		default:
			res, err = e.applyCommand(tx, *r.cmd)
		}
		if err == nil && res.err == nil && res.event != nil && e.routing != nil && !res.followed {
			err = e.follow(tx, res.before, &res)
		}
		if err == nil && res.err == nil && res.event != nil && e.opts.SLA != nil {
			err = e.armSLA(tx, res.before, res.ticket)
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

// applyCreate takes a draft in: a duplicate of a key seen before, a merge into the open
// ticket of its thread, or a new ticket. Every lookup goes through tx, which sees what the
// requests before this one in the batch wrote, so a second draft of a thread or a second
// delivery in one batch finds the first.
func (e *Engine) applyCreate(tx store.Tx, req *CreateRequest) (result, error) {
	d := req.Draft
	if req.IdempotencyKey != "" {
		if id, source, err := tx.TicketIDByIdempotencyKey(req.IdempotencyKey); err == nil {
			t, err := tx.Ticket(id)
			if err != nil {
				return result{}, err
			}
			if source < 0 || source >= len(t.Sources) || !sameDraft(t.Sources[source], d) {
				return result{err: fmt.Errorf("%w: the key took a different draft into %s; use a new key for a new request", ErrIdempotencyKeyReused, id)}, nil
			}
			return result{ticket: t, outcome: Duplicate}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return result{}, err
		}
	}
	if d.DedupKey != "" {
		if id, err := tx.TicketIDByDedupKey(d.DedupKey); err == nil {
			t, err := tx.Ticket(id)
			return result{ticket: t, outcome: Duplicate}, err
		} else if !errors.Is(err, store.ErrNotFound) {
			return result{}, err
		}
	}
	now := e.now()
	if d.ThreadKey != "" {
		res, merged, err := e.merge(tx, req, now)
		if merged || err != nil {
			return res, err
		}
	}
	if d.Intent != "" {
		// It must never open a ticket (an alarm clear after its ticket was closed, say): there
		// is nothing to write, and nothing claims its keys, so a redelivery is unmatched too.
		return result{outcome: Unmatched}, nil
	}
	repeatOf, err := e.repeatOf(tx, d, now)
	if err != nil {
		return result{}, err
	}
	day := now.Format("20060102")
	n, err := tx.NextNumber(day)
	if err != nil {
		return result{}, err
	}
	ev, err := ticket.Create(ticket.FormatID(now, n), d, repeatOf, req.Actor, now, "")
	if err != nil {
		return result{err: err}, nil
	}
	t, err := ticket.Apply(ticket.Ticket{}, ev)
	if err != nil {
		return result{}, err
	}
	if e.routing != nil {
		res := result{ticket: t, outcome: Created, event: &ev, followed: true}
		return res, e.routeNew(tx, &res, req.IdempotencyKey)
	}
	if ev.ID, err = tx.Insert(t, ev, req.IdempotencyKey); err != nil {
		return result{}, err
	}
	e.pending[t.ID] = t
	return result{ticket: t, outcome: Created, event: &ev}, nil
}

// withinWindow reports whether draft d may join open ticket t of its thread: always, unless
// d has a thread_window and arrived more than that after the newest source t has (a customer
// writing again hours later starts a new conversation, and a new ticket).
func withinWindow(t ticket.Ticket, d normalize.Draft) bool {
	at := ticket.SentAt(d)
	if d.ThreadWindow <= 0 || at.IsZero() {
		return true
	}
	var last time.Time
	for _, s := range t.Sources {
		if st := ticket.SentAt(s); st.After(last) {
			last = st
		}
	}
	return last.IsZero() || at.Sub(last) <= time.Duration(d.ThreadWindow)
}

// merge adds the draft to the newest open ticket of its thread, if there is one; a draft of
// intent resolve then resolves it (autoResolve).
func (e *Engine) merge(tx store.Tx, req *CreateRequest, now time.Time) (res result, merged bool, err error) {
	id, err := tx.OpenTicketIDByThreadKey(req.Draft.ThreadKey)
	if errors.Is(err, store.ErrNotFound) {
		return result{}, false, nil
	} else if err != nil {
		return result{}, false, err
	}
	t, cached := e.cached(id)
	if !cached || !t.State.Open() {
		if t, err = tx.Ticket(id); err != nil {
			return result{}, false, err
		}
	}
	if !withinWindow(t, req.Draft) {
		return result{}, false, nil // a new conversation of the thread: a ticket of its own
	}
	ev, err := ticket.AddSource(t, req.Draft, req.Actor, now, "")
	if errors.Is(err, ticket.ErrIllegalTransition) {
		return result{}, false, nil // not open after all: the draft opens a ticket of its own
	} else if err != nil {
		return result{err: err}, true, nil
	}
	next, err := ticket.Apply(t, ev)
	if err != nil {
		return result{}, false, err
	}
	keys := store.DraftKeys{DedupKey: req.Draft.DedupKey, IdempotencyKey: req.IdempotencyKey}
	if ev.ID, err = tx.Merge(next, ev, keys); err != nil {
		// A conflict: the cached ticket was stale, or a key was taken meanwhile by another
		// process. apply decides again from the store.
		e.forget(id)
		return result{}, false, err
	}
	e.pending[next.ID] = next
	res = result{ticket: next, outcome: Merged, event: &ev, before: t}
	if req.Draft.Intent == normalize.IntentResolve && next.State == ticket.StateInProgress {
		if err := e.autoResolve(tx, &res, req, now); err != nil {
			return result{}, false, err
		}
	}
	return res, true, nil
}

// autoResolve resolves res.ticket, into which a draft of intent resolve was just merged, in
// the merge's transaction: the resolve event goes to res.more after the merge's own, as
// routing's events do, and res.ticket becomes the resolved ticket. It is decided as a command
// of the draft's sender (the system, for the pipeline), so a ticket that refuses it (frozen, or
// a sender whose role may not resolve) keeps the merge alone: the draft is on record, and
// people resolve the ticket.
func (e *Engine) autoResolve(tx store.Tx, res *result, req *CreateRequest, now time.Time) error {
	if e.routing != nil {
		// Routing's follow-ups of each event in turn, the merge's first, as routeWith does
		// for its own; apply must not run them again on the pair.
		if err := e.follow(tx, res.before, res); err != nil {
			return err
		}
		res.followed = true
	}
	d := req.Draft
	rootCause := strings.TrimSpace(d.Title)
	if rootCause == "" {
		rootCause = strings.TrimSpace(d.Description)
	}
	rd := ticket.ResolveData{RootCause: rootCause}
	if d.DedupKey != "" {
		rd.Evidence = []string{d.DedupKey}
	}
	data, err := json.Marshal(rd)
	if err != nil {
		return err
	}
	merged := res.ticket
	ev, err := ticket.Decide(merged, ticket.Command{TicketID: merged.ID, Action: ticket.ActionResolve, Actor: req.Actor,
		Reason: "resolved by a draft of intent resolve from " + sourceName(d.Source), Data: data}, now)
	if err != nil {
		e.opts.Logger.Info("intake: a draft of intent resolve was merged; the ticket refuses to be resolved by it",
			"ticket", merged.ID, "dedup_key", d.DedupKey, "why", err)
		return nil
	}
	next, err := ticket.Apply(merged, ev)
	if err != nil {
		return err
	}
	if ev.ID, err = tx.Append(next, ev); err != nil {
		e.forget(next.ID)
		return err
	}
	e.pending[next.ID] = next
	res.ticket = next
	res.more = append(res.more, ev)
	if e.routing != nil {
		sub := result{ticket: next, event: &ev}
		if err := e.follow(tx, merged, &sub); err != nil {
			return err
		}
		res.more = append(res.more, sub.more...)
		res.notes = append(res.notes, sub.notes...)
	}
	return nil
}

// sourceName names where a draft came from, for the audit: connector/kind, or what is known.
func sourceName(s normalize.Source) string {
	name := s.Connector
	if name == "" {
		name = s.Type
	}
	if s.Kind != "" {
		name += "/" + s.Kind
	}
	if name == "" {
		return "an unnamed source"
	}
	return name
}

// repeatOf finds the ticket a new ticket from d repeats: the most recently closed one with
// d's category and d's customer or device, closed within ticket.RepeatWindow before d was
// received (now when d does not say).
func (e *Engine) repeatOf(tx store.Tx, d normalize.Draft, now time.Time) (string, error) {
	q := store.RepeatQuery{CustomerKey: ticket.CustomerKey(d.Customer), DeviceID: d.Device.ID, Category: d.Category}
	if q.Category == "" || (q.CustomerKey == "" && q.DeviceID == "") {
		return "", nil
	}
	at := d.ReceivedAt
	if at.IsZero() {
		at = now
	}
	q.ClosedFrom, q.ClosedTo = at.Add(-ticket.RepeatWindow), at
	id, err := tx.RecentlyClosed(q)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// sameDraft reports whether d is the draft a ticket took in as source, compared as the JSON
// both encode to.
func sameDraft(source, d normalize.Draft) bool {
	a, errA := json.Marshal(source)
	b, errB := json.Marshal(d)
	return errA == nil && errB == nil && bytes.Equal(a, b)
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

func (e *Engine) now() time.Time { return e.opts.Now().In(e.opts.Location) }

// outcome names an error for the actions metric.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ticket.ErrFrozen):
		return "frozen"
	case errors.Is(err, ticket.ErrStaleVersion):
		return "stale_version"
	case errors.Is(err, ticket.ErrIllegalTransition):
		return "illegal_transition"
	case errors.Is(err, ticket.ErrForbidden):
		return "forbidden"
	case errors.Is(err, ticket.ErrInvalidData), errors.Is(err, ticket.ErrUnknownAction):
		return "invalid_data"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrCommandIDReused), errors.Is(err, ErrIdempotencyKeyReused):
		return "key_reused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}

// Now is the engine's clock, in its time zone.
func (e *Engine) Now() time.Time { return e.now() }

// Location is the engine's time zone.
func (e *Engine) Location() *time.Location { return e.opts.Location }

// RoutingReport builds the routing report for decisions since since, with every configured
// engineer in the balance.
func (e *Engine) RoutingReport(ctx context.Context, since time.Time) (RoutingReport, error) {
	var engineers []string
	if e.routing != nil {
		for _, eng := range e.routing.opts.Router.Engineers() {
			engineers = append(engineers, eng.ID)
		}
	}
	return BuildRoutingReport(ctx, e.store, since, e.now(), e.opts.Location, engineers)
}
