package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// The closing loop (DESIGN.md §11): every ticket gets a tracking link for its customer when
// it is created; a resolved ticket waits for its customer's confirmation with reminders and,
// after confirm.timeout, is confirmed by the system (recorded as auto); a closed ticket's
// customer is asked after followup.after whether the problem came back.

// ClosureOptions configure the closing loop.
type ClosureOptions struct {
	// Key is what tracking tokens are derived from (the store's secret TrackingSecret, the
	// same for every process on the store). Required, 32 bytes.
	Key []byte
	// TTL: a closed (or rejected) ticket's link stops working this long after.
	TTL time.Duration
	// Remind are the reminders to confirm, each counted from the resolve.
	Remind []time.Duration
	// ConfirmTimeout is when, counted from the resolve, the system confirms; 0 never.
	ConfirmTimeout time.Duration
	// FollowupAfter is when, counted from the close, the customer is asked whether the
	// problem came back; 0 never.
	FollowupAfter time.Duration
}

// TrackingSecret names the store secret tracking tokens are derived from.
const TrackingSecret = "tracking"

// NewTrackingKey makes a key for ClosureOptions.Key.
func NewTrackingKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

// Timer kinds of the closing loop.
const (
	timerConfirm  = "confirm"
	timerFollowup = "followup"
)

// trackingToken is the token of generation gen of ticket id's link: 144 bits of an HMAC
// under the key, so it can be given to staff again at any time without being stored, and
// cannot be guessed or derived from the id.
func trackingToken(key []byte, id string, gen int) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gongdan tracking link\x00" + id + "\x00" + strconv.Itoa(gen)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// trackingHash is what the store keeps of a token.
func trackingHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// MaxTokenLength bounds what is taken for a token before it is hashed.
const MaxTokenLength = 64

// followClosure keeps the closing loop's records current after an event took before to
// after, inside its transaction: the new ticket's link, the confirmation timer while it is
// resolved, the follow-up timer once it is closed.
func (e *Engine) followClosure(tx store.Tx, before, after ticket.Ticket) error {
	c := e.opts.Closure
	if before.ID == "" && after.ID != "" {
		if err := tx.PutTracking(trackingHash(trackingToken(c.Key, after.ID, 1)), after.ID, 1); err != nil {
			return err
		}
	}
	switch {
	case after.State == ticket.StateResolved && before.State != ticket.StateResolved:
		if r := after.Resolution; r != nil {
			if err := tx.PutResolutionTime(resolutionKind(after), r.ResolvedAt, after.ID, r.ResolvedAt.Sub(after.CreatedAt)); err != nil {
				return err
			}
		}
		if due, ok := e.nextConfirmStep(after); ok {
			if err := tx.SetTimer(store.Timer{TicketID: after.ID, Kind: timerConfirm, Due: due}); err != nil {
				return err
			}
		}
	case after.State != ticket.StateResolved && before.State == ticket.StateResolved:
		if err := tx.DeleteTimer(after.ID, timerConfirm); err != nil {
			return err
		}
	}
	closed := func(s ticket.State) bool { return s == ticket.StateClosed || s == ticket.StateArchived }
	switch {
	case after.State == ticket.StateClosed && before.State != ticket.StateClosed && c.FollowupAfter > 0 && after.Resolution != nil:
		// Closed after a fix: was it the fix? (Closed without one, there is nothing to ask.)
		return tx.SetTimer(store.Timer{TicketID: after.ID, Kind: timerFollowup, Due: after.ClosedAt.Add(c.FollowupAfter)})
	case closed(before.State) && !closed(after.State):
		return tx.DeleteTimer(after.ID, timerFollowup) // reopened: the next close asks
	}
	return nil
}

// nextConfirmStep is when resolved ticket t is next reminded, or confirmed by the system;
// false when nothing more is due (no timeout and every reminder sent).
func (e *Engine) nextConfirmStep(t ticket.Ticket) (time.Time, bool) {
	c := e.opts.Closure
	if t.Resolution == nil {
		return time.Time{}, false
	}
	at := t.Resolution.ResolvedAt
	switch {
	case t.Reminders < len(c.Remind):
		return at.Add(c.Remind[t.Reminders]), true
	case c.ConfirmTimeout > 0:
		return at.Add(c.ConfirmTimeout), true
	}
	return time.Time{}, false
}

// laterStepDue reports whether the auto-confirm of resolved ticket t is due at now already (a
// restart after a long outage): then the reminders before it are not sent at all.
func (e *Engine) laterStepDue(t ticket.Ticket, now time.Time) bool {
	c := e.opts.Closure
	return c.ConfirmTimeout > 0 && t.Resolution != nil && !t.Resolution.ResolvedAt.Add(c.ConfirmTimeout).After(now)
}

// lastReminderDue is the number of the latest reminder due at now: after an outage only that
// one is sent, not every one missed at the same instant.
func (e *Engine) lastReminderDue(t ticket.Ticket, now time.Time) int {
	n := t.Reminders + 1
	for n < len(e.opts.Closure.Remind) && !t.Resolution.ResolvedAt.Add(e.opts.Closure.Remind[n]).After(now) {
		n++
	}
	return n
}

// autoConfirm is the data of the system's confirmation.
var autoConfirm = json.RawMessage(`{"solved":true,"auto":true}`)

// applyClosureTimer fires a confirmation or follow-up timer: each step is an event, and the
// timer moves to the next step in the same transaction, so a step fires once across crashes
// and restarts.
func (e *Engine) applyClosureTimer(tx store.Tx, tm store.Timer, t ticket.Ticket) (result, error) {
	now := e.now()
	var ev ticket.Event
	var err error
	switch tm.Kind {
	case timerConfirm:
		due, ok := e.nextConfirmStep(t)
		switch {
		case t.State != ticket.StateResolved || !ok:
			return result{}, tx.DeleteTimer(t.ID, tm.Kind)
		case due.After(now):
			return result{}, tx.SetTimer(store.Timer{TicketID: t.ID, Kind: tm.Kind, Due: due}) // the config changed
		case t.Reminders < len(e.opts.Closure.Remind) && !e.laterStepDue(t, now):
			ev, err = ticket.RemindConfirm(t, e.lastReminderDue(t, now), now)
		default:
			ev, err = ticket.Decide(t, ticket.Command{TicketID: t.ID, Action: ticket.ActionConfirm, Actor: ticket.SystemActor,
				Data: autoConfirm, Rule: "confirm.timeout"}, now)
			if errors.Is(err, ticket.ErrFrozen) {
				// Frozen: a person looks at it first; the timer fires again at unfreeze.
				return result{}, tx.DeleteTimer(t.ID, tm.Kind)
			}
		}
	case timerFollowup:
		if (t.State != ticket.StateClosed && t.State != ticket.StateArchived) || t.Followup != nil || t.Resolution == nil ||
			t.RepeatedBy != "" || e.opts.Closure.FollowupAfter <= 0 {
			// Not closed after a fix, asked already, or the customer came back on their own.
			return result{}, tx.DeleteTimer(t.ID, tm.Kind)
		}
		if due := t.ClosedAt.Add(e.opts.Closure.FollowupAfter); due.After(now) {
			return result{}, tx.SetTimer(store.Timer{TicketID: t.ID, Kind: tm.Kind, Due: due})
		}
		ev, err = ticket.FollowupAsked(t, now)
	}
	if err != nil {
		return result{}, fmt.Errorf("closing loop: %s of %s: %w", tm.Kind, t.ID, err)
	}
	next, err := e.appendEvent(tx, t, ev)
	if err != nil {
		return result{}, err
	}
	if tm.Kind == timerConfirm && next.State == ticket.StateResolved {
		if due, ok := e.nextConfirmStep(next); ok {
			err = tx.SetTimer(store.Timer{TicketID: t.ID, Kind: tm.Kind, Due: due})
		} else {
			err = tx.DeleteTimer(t.ID, tm.Kind)
		}
	} else {
		err = tx.DeleteTimer(t.ID, tm.Kind)
	}
	return result{ticket: next, event: &ev, before: t}, err
}

// ErrClosureOff: the closing loop is not configured.
var ErrClosureOff = errors.New("the closing loop is off")

// TrackingToken returns the token of ticket id's current link ("" when it was revoked and
// not renewed), making the link of a ticket created before links existed. It is for staff
// (tracking_url) and notifications; the customer has it already.
func (e *Engine) TrackingToken(ctx context.Context, id string) (string, error) {
	c := e.opts.Closure
	if c == nil {
		return "", ErrClosureOff
	}
	l, err := e.store.CurrentTracking(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := e.store.Ticket(ctx, id); err != nil {
			return "", err
		}
		err = e.store.Write(ctx, func(tx store.Tx) error { return tx.PutTracking(trackingHash(trackingToken(c.Key, id, 1)), id, 1) })
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
		l, err = e.store.CurrentTracking(ctx, id)
	}
	if err != nil || l.Revoked {
		return "", err
	}
	return trackingToken(c.Key, id, l.Generation), nil
}

// RenewTracking revokes ticket id's links and makes a new one, whose token it returns: for
// a link that reached the wrong person.
func (e *Engine) RenewTracking(ctx context.Context, id string) (string, error) {
	c := e.opts.Closure
	if c == nil {
		return "", ErrClosureOff
	}
	if _, err := e.store.Ticket(ctx, id); err != nil {
		return "", err
	}
	gen := 1
	if l, err := e.store.CurrentTracking(ctx, id); err == nil {
		gen = l.Generation + 1
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	err := e.store.Write(ctx, func(tx store.Tx) error {
		return errors.Join(tx.RevokeTracking(id), tx.PutTracking(trackingHash(trackingToken(c.Key, id, gen)), id, gen))
	})
	if err != nil {
		return "", err
	}
	return trackingToken(c.Key, id, gen), nil
}

// ByTrackingToken returns the ticket a customer's token leads to. Every way of not finding
// one (a malformed, unknown, revoked or expired token) is ErrNotFound, found the same way: by
// the token's hash, so the lookup's timing says nothing about real tokens.
func (e *Engine) ByTrackingToken(ctx context.Context, token string) (ticket.Ticket, error) {
	c := e.opts.Closure
	if c == nil {
		return ticket.Ticket{}, ErrClosureOff
	}
	if len(token) > MaxTokenLength {
		token = token[:MaxTokenLength] // hashed all the same, and found nowhere
	}
	l, err := e.store.TrackingByHash(ctx, trackingHash(token))
	if err != nil {
		return ticket.Ticket{}, err
	}
	want := trackingToken(c.Key, l.TicketID, l.Generation)
	if l.Revoked || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return ticket.Ticket{}, store.ErrNotFound
	}
	t, err := e.store.Ticket(ctx, l.TicketID)
	if err != nil {
		return ticket.Ticket{}, err
	}
	if end := e.trackingEnds(t); !end.IsZero() && !e.now().Before(end) {
		return ticket.Ticket{}, store.ErrNotFound
	}
	return t, nil
}

// trackingEnds is when t's link stops working: TTL after it was closed or rejected; zero
// while it is not.
func (e *Engine) trackingEnds(t ticket.Ticket) time.Time {
	var since time.Time
	switch {
	case !t.ClosedAt.IsZero():
		since = t.ClosedAt
	case t.State == ticket.StateRejected || t.State == ticket.StateArchived:
		for i := len(t.History) - 1; i >= 0; i-- { // from the rejection, not a later archive
			if t.History[i].State == ticket.StateRejected {
				since = t.History[i].At
				break
			}
		}
	default:
		return time.Time{}
	}
	return since.Add(e.opts.Closure.TTL)
}

// onTicket runs fn in the committer on ticket id as the batch has it; a missing ticket is
// ErrNotFound.
func (e *Engine) onTicket(ctx context.Context, id string, fn func(tx store.Tx, t ticket.Ticket, now time.Time) (result, error)) result {
	return e.submit(ctx, &request{do: func(tx store.Tx) (result, error) {
		t, found, err := e.ticketIn(tx, id)
		if err != nil {
			return result{}, err
		} else if !found {
			return result{err: fmt.Errorf("ticket %s: %w", id, ErrNotFound)}, nil
		}
		return fn(tx, t, e.now())
	}})
}

// appendOne appends ev to t: the result of a write of one event.
func (e *Engine) appendOne(tx store.Tx, t ticket.Ticket, ev ticket.Event) (result, error) {
	next, err := e.appendEvent(tx, t, ev)
	if err != nil {
		return result{}, err
	}
	return result{ticket: next, event: &ev, before: t}, nil
}

// customerDo runs decide on ticket id as it is in the transaction and appends its event.
func (e *Engine) customerDo(ctx context.Context, id string, decide func(t ticket.Ticket, now time.Time) (ticket.Event, error)) (ticket.Ticket, error) {
	res := e.onTicket(ctx, id, func(tx store.Tx, t ticket.Ticket, now time.Time) (result, error) {
		ev, err := decide(t, now)
		if err != nil {
			return result{err: err}, nil
		}
		return e.appendOne(tx, t, ev)
	})
	return res.ticket, res.err
}

// CustomerNote records text and photos the customer added on their tracking page.
func (e *Engine) CustomerNote(ctx context.Context, id string, d ticket.CustomerNoteData) (ticket.Ticket, error) {
	return e.customerDo(ctx, id, func(t ticket.Ticket, now time.Time) (ticket.Event, error) {
		return ticket.CustomerNote(t, ticket.TrackingActor(id), d, now)
	})
}

// Urge records the customer urging (催单) on their tracking page: at most once an hour
// (ticket.ErrTooSoon); the assignee is told (the notify package reads the event).
func (e *Engine) Urge(ctx context.Context, id string) (ticket.Ticket, error) {
	return e.customerDo(ctx, id, func(t ticket.Ticket, now time.Time) (ticket.Event, error) {
		return ticket.Urge(t, ticket.TrackingActor(id), now)
	})
}

// AnswerFollowup records the customer's answer to the follow-up. When the problem came back,
// a new ticket that repeats this one is opened in the same transaction as the answer, so
// there is never one without the other, and two answers at once record one.
func (e *Engine) AnswerFollowup(ctx context.Context, id string, recurred bool, text string) (ticket.Ticket, error) {
	actor := ticket.TrackingActor(id)
	res := e.onTicket(ctx, id, func(tx store.Tx, t ticket.Ticket, now time.Time) (result, error) {
		d := ticket.FollowupData{Recurred: recurred}
		if _, err := ticket.FollowupAnswered(t, actor, d, now); err != nil {
			return result{err: err}, nil // not asked, answered already: nothing is opened
		}
		var opened result
		var err error
		if recurred && t.RepeatedBy != "" {
			d.Repeat = t.RepeatedBy // they came back with it already: that is the repeat
		} else if recurred {
			if opened, err = e.applyCreate(tx, &CreateRequest{Draft: repeatDraft(t, text), Actor: actor, RepeatOf: t.ID}); err != nil {
				return result{}, err
			} else if opened.err != nil {
				return result{err: opened.err}, nil
			}
			if err := e.after(tx, &opened); err != nil {
				return result{}, err
			}
			d.Repeat = opened.ticket.ID
			if t, _, err = e.ticketIn(tx, id); err != nil { // marked repeated meanwhile
				return result{}, err
			}
		}
		ev, err := ticket.FollowupAnswered(t, actor, d, now)
		if err != nil {
			return result{err: err}, nil
		}
		next, err := e.appendEvent(tx, t, ev)
		if err != nil {
			return result{}, err
		}
		res := result{ticket: next, event: &ev, before: t, notes: opened.notes}
		if opened.event != nil { // the new ticket's events are published after the answer's
			res.more = append([]ticket.Event{*opened.event}, opened.more...)
		}
		return res, nil
	})
	return res.ticket, res.err
}

// repeatDraft is the request of a problem that came back, as its customer reported it in the
// follow-up of t.
func repeatDraft(t ticket.Ticket, text string) draft.Draft {
	desc := "回访时客户反馈问题复现（原工单 " + t.ID + "）。"
	if text != "" {
		desc += "\n客户说：" + draft.Clip(text, ticket.MaxNoteRunes)
	}
	return draft.Draft{
		Source:      draft.Source{Connector: "tracking", Type: "tracking", Kind: "followup", ExternalID: t.ID},
		DedupKey:    "tracking/followup/" + t.ID + "/" + t.ClosedAt.UTC().Format(time.RFC3339Nano),
		Title:       draft.Clip("问题复现："+t.Title, draft.MaxTitleRunes),
		Description: draft.Clip(desc, draft.MaxDescriptionRunes),
		Category:    t.Category, FaultCode: t.FaultCode, Urgency: t.Urgency,
		Customer: t.Customer, Device: t.Device, Location: t.Location,
	}
}

// RecordDelivery records a notification's outcome on one channel on ticket id (a notified
// event), once per delivery key: a second report of the same key records nothing.
func (e *Engine) RecordDelivery(ctx context.Context, id string, d ticket.DeliveryData) error {
	return e.onTicket(ctx, id, func(tx store.Tx, t ticket.Ticket, now time.Time) (result, error) {
		ev, err := ticket.Notified(t, d, now)
		if err != nil {
			return result{err: err}, nil
		}
		if _, err := tx.EventByCommandID(ev.Actor.ID, ev.CommandID); err == nil {
			return result{ticket: t}, nil // recorded before
		} else if !errors.Is(err, store.ErrNotFound) {
			return result{}, err
		}
		return e.appendOne(tx, t, ev)
	}).err
}

// resolutionKind is which tickets are similar, for a promise: the same category, else the
// same urgency.
func resolutionKind(t ticket.Ticket) string {
	if t.Category != "" {
		return "category:" + t.Category
	}
	return "urgency:" + string(t.Urgency)
}

// Promise sample sizes: the median of the latest promiseSample similar tickets, from
// promiseMin on (fewer say too little).
const (
	promiseSample = 101
	promiseMin    = 5
)

// TypicalResolution is the median time the latest similar tickets (same category, else
// urgency) took from creation to resolve; false when too few were resolved to say.
func (e *Engine) TypicalResolution(ctx context.Context, t ticket.Ticket) (time.Duration, bool, error) {
	times, err := e.store.ResolutionTimes(ctx, resolutionKind(t), promiseSample)
	if err != nil || len(times) < promiseMin {
		return 0, false, err
	}
	slices.Sort(times)
	return times[len(times)/2], true, nil
}
