package store

import (
	"context"
	"time"
)

// RoutingRecord is one routing decision as kept with its ticket.
type RoutingRecord struct {
	ID       int64     `json:"id"`
	TicketID string    `json:"ticket_id"`
	At       time.Time `json:"at"`
	// Trigger is what asked for the decision: created, declined, offer_timeout, manual.
	Trigger string `json:"trigger"`
	// Cause is the decline reason code when Trigger is declined.
	Cause    string `json:"cause,omitempty"`
	Manual   bool   `json:"manual"`
	Engineer string `json:"engineer,omitempty"`
	Team     string `json:"team,omitempty"`
	Rule     string `json:"rule,omitempty"`
	// Failure is the failure reason when no one was found.
	Failure string `json:"failure,omitempty"`
	// Body is the decision trace, JSON.
	Body []byte `json:"-"`
}

// Timer is a durable timer: kind for ticket, due at Due.
type Timer struct {
	TicketID string
	Kind     string
	Due      time.Time
}

// RoutingTx is what routing writes, in the transaction of the assignment it goes with.
type RoutingTx interface {
	// PutRoutingDecision keeps a decision.
	PutRoutingDecision(r RoutingRecord) error
	// SetRoundRobin keeps a team's round-robin pointer.
	SetRoundRobin(team string, index int) error
	// CountAssignments adds n to the tickets assigned to engineer on day (YYYYMMDD).
	CountAssignments(engineer, day string, n int) error
	// PutEngineer keeps what is known of an engineer beyond the config (engine-owned JSON).
	PutEngineer(id string, body []byte) error
	// SetTimer sets (or moves) the timer kind of a ticket; DeleteTimer removes it, and is no
	// error when there is none.
	SetTimer(t Timer) error
	DeleteTimer(ticketID, kind string) error
}

// RoutingStore is what routing reads.
type RoutingStore interface {
	// RoutingDecisions returns a ticket's decisions, oldest first.
	RoutingDecisions(ctx context.Context, ticketID string) ([]RoutingRecord, error)
	// RoutingSince returns the decisions made at or after since, oldest first, without bodies.
	RoutingSince(ctx context.Context, since time.Time) ([]RoutingRecord, error)
	// RoundRobin returns every team's pointer.
	RoundRobin(ctx context.Context) (map[string]int, error)
	// Assignments returns, per engineer, the tickets assigned on days from..to (YYYYMMDD,
	// both included).
	Assignments(ctx context.Context, from, to string) (map[string]int, error)
	// OpenByAssignee counts the open tickets of each assignee.
	OpenByAssignee(ctx context.Context) (map[string]int, error)
	// Engineers returns what PutEngineer kept, by id.
	Engineers(ctx context.Context) (map[string][]byte, error)
	// DueTimers returns up to limit timers due at or before t, earliest first.
	DueTimers(ctx context.Context, t time.Time, limit int) ([]Timer, error)
}

// BoardEntry is a ticket on the SLA board: Due is the due time of its clock nearest to (or
// longest past) its breach; Team and Policy are the ticket's, for the board's filters.
type BoardEntry struct {
	TicketID string
	Due      time.Time
	Team     string
	Policy   string
}

// BoardQuery selects the SLA board's rows: up to Limit, of Team and of Policy when set.
type BoardQuery struct {
	Team   string
	Policy string
	Limit  int
}

// SLATx is what SLA writes, in the transaction of the event it goes with.
type SLATx interface {
	// SetBoardDue puts a ticket on the SLA board at e.Due with its team and policy (or
	// moves it); DeleteBoardDue takes it off (no error when it is not on it).
	SetBoardDue(e BoardEntry) error
	DeleteBoardDue(ticketID string) error
}

// SLAStore is what SLA reads.
type SLAStore interface {
	// Board returns up to q.Limit tickets of the SLA board, the earliest due first, of
	// q.Team and of q.Policy when they are set.
	Board(ctx context.Context, q BoardQuery) ([]BoardEntry, error)
}
