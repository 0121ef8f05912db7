package store

import (
	"context"
	"time"
)

// TrackingLink is a customer's tracking link to one ticket (/t/{token}), as the store keeps it:
// only the SHA-256 of the token, which the engine derives from a key, the ticket id and the
// generation (a revoked link is followed by a new generation).
type TrackingLink struct {
	TicketID   string
	Generation int
	Revoked    bool
}

// TrackingTx is what the engine writes of tracking links, in the transaction of the event
// they go with.
type TrackingTx interface {
	// PutTracking keeps a link: hash (the token's SHA-256) leads to ticketID from now on.
	PutTracking(hash []byte, ticketID string, generation int) error
	// RevokeTracking marks every link of a ticket revoked (no error when it has none).
	RevokeTracking(ticketID string) error
	// PutResolutionTime keeps how long a ticket of kind took to be resolved (once per
	// ticket and resolve time).
	PutResolutionTime(kind string, resolvedAt time.Time, ticketID string, took time.Duration) error
}

// TrackingStore is what the tracking page reads.
type TrackingStore interface {
	// TrackingByHash finds the link of a token's SHA-256, or ErrNotFound.
	TrackingByHash(ctx context.Context, hash []byte) (TrackingLink, error)
	// CurrentTracking is a ticket's newest link (revoked or not), or ErrNotFound.
	CurrentTracking(ctx context.Context, ticketID string) (TrackingLink, error)
	// Secret returns the secret kept under name, keeping make()'s value first when there is
	// none: every process sharing the store gets the same one.
	Secret(ctx context.Context, name string, make func() ([]byte, error)) ([]byte, error)
	// ResolutionTimes returns how long the latest (up to limit) resolved tickets of kind took,
	// newest first.
	ResolutionTimes(ctx context.Context, kind string, limit int) ([]time.Duration, error)
}
