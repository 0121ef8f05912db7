package engine

import (
	"context"
	"slices"
	"time"

	"gongdan/core/routing"
	"gongdan/core/store"
)

// CandidatesView is a dry run of routing for one ticket: the decision the router would make
// for it now, with every team tried and every candidate's filters, distance, load and score.
type CandidatesView struct {
	TicketID string `json:"ticket_id"`
	// Version is the ticket's version the decision was made on: an assignment by hand from
	// it can send it as expected_version.
	Version  int64            `json:"version"`
	Decision routing.Decision `json:"decision"`
	At       time.Time        `json:"at"`
}

// Candidates runs the router for ticket id as it is now, without applying the decision: no
// event, no routing record, no round-robin pointer or count moves. It is what a dispatcher
// assigning by hand chooses from; the ticket's own assignee, if any, is weighed as if it
// were not theirs. It runs on the committer, where the loads it reads are
// kept, so it sees them as the next decision would.
func (e *Engine) Candidates(ctx context.Context, id string) (CandidatesView, error) {
	if e.routing == nil {
		return CandidatesView{}, ErrRoutingOff
	}
	var v CandidatesView
	res := e.submit(ctx, &request{do: func(tx store.Tx) (result, error) {
		t, found, err := e.ticketIn(tx, id)
		if err != nil {
			return result{}, err
		}
		if !found {
			return result{err: store.ErrNotFound}, nil
		}
		r := e.routing
		now := e.now()
		r.rollDay(now)
		excluded := make(map[string]string, len(t.Excluded))
		for _, x := range t.Excluded {
			excluded[x.Engineer] = x.Reason
		}
		// The ticket's own assignee is weighed without it: the question is who should hold
		// it, and holding it already is no reason against.
		lives := r.lives
		if t.Assignee != "" && t.State.Open() {
			if i, ok := r.opts.Router.Index(t.Assignee); ok && lives[i].Open > 0 {
				lives = slices.Clone(lives)
				lives[i].Open--
			}
		}
		v = CandidatesView{TicketID: t.ID, Version: t.Version, At: now.In(e.Location()),
			Decision: r.opts.Router.Decide(routing.Request{Ticket: RoutingEnv(t), Now: now, Lives: lives, Exclude: excluded, Pointers: r.pointersNow()})}
		return result{}, nil
	}})
	return v, res.err
}
