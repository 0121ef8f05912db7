// Package report computes the KPIs of docs/KPIS.md from narrow facts kept per ticket and per
// survey answer. The facts are a fold of a ticket's events (Step), kept by the engine in the
// transaction of each event and rebuilt from the event log by `gongdan report rebuild`, so
// any past period can be computed again from the truth.
//
// It is pure: no I/O and no clock. Times come in as Unix seconds, the period as arguments.
// It must never read a store: the store streams facts into an Accumulator.
package report

import (
	"encoding/json"
	"fmt"

	"gongdan/core/ticket"
)

// Confirmation says how a resolution was confirmed.
type Confirmation int

const (
	// ConfirmNone: no confirmation stands (none yet, or it was undone by a reopen or a
	// dispute).
	ConfirmNone Confirmation = 0
	// ConfirmCustomer: the customer answered solved.
	ConfirmCustomer Confirmation = 1
	// ConfirmAuto: no one answered and the system confirmed after confirm.timeout.
	ConfirmAuto Confirmation = 2
)

// Facts are what the KPIs need of one ticket, folded from its events. Times are Unix seconds;
// 0 is "never". The dimensions (Team, Engineer, Category, Policy) are the ticket's at its
// first close, and its latest until then.
type Facts struct {
	TicketID  string
	CreatedAt int64
	Team      string
	// Engineer is the assignee.
	Engineer string
	Category string
	// Connector is the connector of the ticket's first draft.
	Connector string
	// Policy is the SLA policy that applies to the ticket ("" for none).
	Policy string
	// RepeatOf is the closed ticket this one repeats (ticket.Ticket.RepeatOf).
	RepeatOf string
	// FirstAcceptAt is the first accept: where first response time ends.
	FirstAcceptAt int64
	// FirstClosedAt is the first close (close or force_close): the period a ticket's closing
	// figures belong to.
	FirstClosedAt int64
	// ResolvedAt is the resolve that stood at the first close (0: closed without one).
	ResolvedAt int64
	// ForceClosed: the first close was a force_close.
	ForceClosed bool
	// ClosedConfirm is the confirmation that stood at the first close.
	ClosedConfirm Confirmation
	// Reopens counts reopen events; Disputes confirm events with solved false.
	Reopens  int
	Disputes int
	// FirstReopenAfterClose is the first reopen after the first close (0: none).
	FirstReopenAfterClose int64
	// RepeatedAt is the creation of the earliest ticket that repeats this one (0: none).
	RepeatedAt int64
	// EndedAt is when the ticket last left the open states (ticket.State.Open); 0 while open.
	EndedAt int64
	// ResponseBreached and ResolutionBreached: the SLA marks response/breach and
	// resolution/breach are on the ticket.
	ResponseBreached   bool
	ResolutionBreached bool

	// What the fold needs to remember, not a figure itself.

	// Confirm is the confirmation standing now.
	Confirm Confirmation
	// RootCause is the root cause of the latest resolve: what a survey answer rates.
	RootCause string
}

// Rating is one answer of a customer to the survey (a confirm event not sent by the system).
// Its dimensions are the ticket's when it was given; Engineer is the assignee then.
type Rating struct {
	TicketID        string
	Seq             int64
	At              int64
	Team            string
	Engineer        string
	Category        string
	Connector       string
	Policy          string
	Solved          bool
	Timeliness      int
	Professionalism int
	// RootCause is the root cause of the resolution rated.
	RootCause string
}

// Low reports whether either answer is 2 or less: a low rating, whose root cause counts in
// low_score_causes.
func (r Rating) Low() bool { return min(r.Timeliness, r.Professionalism) <= LowScore }

// LowScore is the highest score that is a low rating; GoodScore the lowest that counts in
// the CSAT share.
const (
	LowScore  = 2
	GoodScore = 4
)

// SLA mark keys the attainment figures read (sla.Mark keys: target/kind).
const (
	MarkResponseBreach   = "response/breach"
	MarkResolutionBreach = "resolution/breach"
)

// Step folds one event into f. t is the ticket after ev, policy the SLA policy that applies
// to t ("" for none). It returns the facts after ev and, for a customer's survey answer, the
// rating. It fails only on event data that cannot be read, which means a corrupt log.
func Step(f Facts, ev ticket.Event, t ticket.Ticket, policy string) (Facts, *Rating, error) {
	at := ev.At.Unix()
	if ev.Action == ticket.ActionCreate {
		f = Facts{TicketID: t.ID, CreatedAt: at, RepeatOf: t.RepeatOf}
		if len(t.Sources) > 0 {
			f.Connector = t.Sources[0].Source.Connector
		}
	}
	if f.FirstClosedAt == 0 {
		f.Team, f.Engineer, f.Category, f.Policy = t.Team, t.Assignee, t.Category, policy
	}
	var rating *Rating
	switch ev.Action {
	case ticket.ActionAccept:
		if f.FirstAcceptAt == 0 {
			f.FirstAcceptAt = at
		}
	case ticket.ActionResolve:
		var d ticket.ResolveData
		if err := decode(ev, &d); err != nil {
			return f, nil, err
		}
		f.RootCause = d.RootCause
	case ticket.ActionConfirm:
		var d ticket.ConfirmData
		if err := decode(ev, &d); err != nil {
			return f, nil, err
		}
		solved := d.Solved != nil && *d.Solved
		switch {
		case !solved:
			f.Disputes++
			f.Confirm = ConfirmNone
		case d.Auto || ev.Actor.Role == ticket.RoleSystem:
			f.Confirm = ConfirmAuto
		default:
			f.Confirm = ConfirmCustomer
		}
		if !d.Auto && ev.Actor.Role != ticket.RoleSystem {
			engineer := t.Assignee
			if t.Feedback != nil && t.Feedback.Engineer != "" {
				engineer = t.Feedback.Engineer
			}
			rating = &Rating{TicketID: t.ID, Seq: ev.Seq, At: at, Team: t.Team, Engineer: engineer, Category: t.Category,
				Connector: f.Connector, Policy: policy, Solved: solved, Timeliness: d.Timeliness,
				Professionalism: d.Professionalism, RootCause: f.RootCause}
		}
	case ticket.ActionReopen:
		f.Reopens++
		f.Confirm = ConfirmNone
		if f.FirstClosedAt != 0 && f.FirstReopenAfterClose == 0 {
			f.FirstReopenAfterClose = at
		}
	case ticket.ActionSLA:
		var d ticket.SLAData
		if err := decode(ev, &d); err != nil {
			return f, nil, err
		}
		switch d.Key {
		case MarkResponseBreach:
			f.ResponseBreached = true
		case MarkResolutionBreach:
			f.ResolutionBreached = true
		}
	}
	if ev.To == ticket.StateClosed && ev.From != ticket.StateClosed && f.FirstClosedAt == 0 {
		f.FirstClosedAt = at
		f.ForceClosed = ev.Action == ticket.ActionForceClose
		f.ClosedConfirm = f.Confirm
		if t.Resolution != nil {
			f.ResolvedAt = t.Resolution.ResolvedAt.Unix()
		}
	}
	switch {
	case ev.To.Open():
		f.EndedAt = 0
	case ev.From == "" || ev.From.Open():
		f.EndedAt = at
	}
	return f, rating, nil
}

// Repeated records on f, the facts of a closed ticket, that a ticket repeating it was created
// at at: the earliest such creation counts.
func (f Facts) Repeated(at int64) Facts {
	if f.RepeatedAt == 0 || at < f.RepeatedAt {
		f.RepeatedAt = at
	}
	return f
}

// FoldTicket folds a ticket's events, oldest first, into its facts and ratings, as the
// engine keeps them event by event; policyOf names the SLA policy of a ticket (nil: none).
// The repeats of the ticket are not in its own events: the caller sets RepeatedAt from the
// tickets that name it in RepeatOf.
func FoldTicket(events []ticket.Event, policyOf func(ticket.Ticket) string) (Facts, []Rating, error) {
	var f Facts
	var t ticket.Ticket
	var ratings []Rating
	for _, ev := range events {
		var err error
		if t, err = ticket.Apply(t, ev); err != nil {
			return Facts{}, nil, err
		}
		policy := ""
		if policyOf != nil {
			policy = policyOf(t)
		}
		var r *Rating
		if f, r, err = Step(f, ev, t, policy); err != nil {
			return Facts{}, nil, err
		}
		if r != nil {
			ratings = append(ratings, *r)
		}
	}
	return f, ratings, nil
}

func decode(ev ticket.Event, v any) error {
	if len(ev.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(ev.Data, v); err != nil {
		return fmt.Errorf("event %s#%d: data: %w", ev.TicketID, ev.Seq, err)
	}
	return nil
}
