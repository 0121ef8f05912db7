package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// Intake: a draft becomes a new ticket, a duplicate of one, or a source merged into the open
// ticket of its thread.

// CreateRequest asks for a ticket from a draft.
type CreateRequest struct {
	Draft draft.Draft
	Actor ticket.Actor
	// IdempotencyKey, when set, makes a repeat of the request return the first answer's ticket.
	IdempotencyKey string
	// RepeatOf, when set, is the ticket the new one repeats, whatever the repeat window says
	// (a problem the customer reported back in the follow-up).
	RepeatOf string
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
	// Unmatched: the draft has an intent (draft.IntentUpdate, IntentResolve) and no ticket
	// of its thread is open, so nothing was written and no ticket is returned. A redelivery is
	// unmatched again, unless a ticket of the thread opened meanwhile.
	Unmatched Outcome = "unmatched"
)

// Create takes a draft in: it opens a new ticket, or merges the draft into the newest open
// ticket of its thread (thread_key), exactly once per dedup key and per idempotency key. A new
// ticket about the same device, or for the same customer and category, as a ticket closed within
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
	if req.RepeatOf != "" {
		repeatOf = req.RepeatOf
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
	if e.opts.Tags != nil {
		if tags := e.opts.Tags(d, now); len(tags) > 0 {
			if ev, err = ticket.WithTags(ev, tags...); err != nil {
				return result{}, err
			}
		}
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
func withinWindow(t ticket.Ticket, d draft.Draft) bool {
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
	if req.Draft.Intent == draft.IntentResolve && next.State == ticket.StateInProgress {
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
func sourceName(s draft.Source) string {
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
func (e *Engine) repeatOf(tx store.Tx, d draft.Draft, now time.Time) (string, error) {
	q := store.RepeatQuery{CustomerKey: ticket.CustomerKey(d.Customer), DeviceID: d.Device.ID, Category: d.Category}
	if q.DeviceID == "" && (q.CustomerKey == "" || q.Category == "") {
		return "", nil // the same device, or the same customer and category (issue 21's FTFR)
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
func sameDraft(source, d draft.Draft) bool {
	a, errA := json.Marshal(source)
	b, errB := json.Marshal(d)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
