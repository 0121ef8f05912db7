package store

import (
	"context"
	"time"
)

// Card is a yellow or red card (红黄牌) given to an engineer: an event on the engineer, kept
// in the transaction of the ticket event that gave it.
type Card struct {
	ID       int64  `json:"id"`
	Engineer string `json:"engineer"`
	// Kind is yellow or red; Cause what gave it: rating, dispute, repeat, sla_red (yellow),
	// low_ratings, yellows (red).
	Kind  string `json:"kind"`
	Cause string `json:"cause"`
	// TicketID is the engineer's ticket the card is about (for a red card, the ticket of the
	// event that completed it).
	TicketID string    `json:"ticket_id,omitempty"`
	At       time.Time `json:"at"`
	// ExpiresAt: a yellow card stops counting toward a red one then; a red card's suspension
	// ends then.
	ExpiresAt time.Time `json:"expires_at"`
	// Detail says what happened, for people.
	Detail string `json:"detail,omitempty"`
	// Key names what gave the card, so that it is given once: PutCard with a key already
	// kept writes nothing.
	Key string `json:"-"`
}

// CardTx is what cards write, in the transaction of the event that gives them.
type CardTx interface {
	// PutCard keeps c; added is false, and nothing is written, when a card with c.Key is
	// kept already.
	PutCard(c Card) (added bool, err error)
}

// CardStore is what the cards endpoint reads.
type CardStore interface {
	// Cards returns engineer's cards, the newest first.
	Cards(ctx context.Context, engineer string) ([]Card, error)
}
