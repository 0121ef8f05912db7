// Package deadletter is what the pipeline keeps of a message it could not process: the
// message itself, the handler and connector it failed in, the error, how often and when. An
// operator lists them, reads them, fixes the cause (usually the config) and replays them.
//
// Stores (SQLite, PostgreSQL, memory for tests) implement Store and pass the contract suite
// in deadletter/deadlettertest.
package deadletter

import (
	"context"
	"errors"
	"time"
)

// State is whether a dead letter still waits for an operator.
type State string

const (
	// StateDead waits for an operator.
	StateDead State = "dead"
	// StateReplayed was sent through the pipeline again. If it fails again it is dead again,
	// in the same record.
	StateReplayed State = "replayed"
)

// DeadLetter is one message that failed for good.
type DeadLetter struct {
	// ID identifies the dead letter in the API and the CLI.
	ID string `json:"id"`
	// Key identifies the message across failures and replays: the handler plus the message's
	// gongdan key (an envelope id, a draft's dedup key). A message that fails again after a
	// replay updates its record instead of making a second one.
	Key string `json:"key"`
	// Connector is the connector the message came in through.
	Connector string `json:"connector"`
	// Handler is the pipeline step that failed ("normalize.hooks", "intake").
	Handler string `json:"handler"`
	// Topic is where the message was read from, and where a replay sends it.
	Topic string `json:"topic"`
	// Error is the last failure's message.
	Error string `json:"error"`
	// Attempts counts every try, over every replay.
	Attempts int `json:"attempts"`
	// FirstFailedAt and LastFailedAt bound the failures.
	FirstFailedAt time.Time `json:"first_failed_at"`
	LastFailedAt  time.Time `json:"last_failed_at"`
	State         State     `json:"state"`
	// Replays counts the replays; ReplayedAt is the last one.
	Replays    int        `json:"replays"`
	ReplayedAt *time.Time `json:"replayed_at,omitempty"`
	// MessageID is the bus message's id at the last failure.
	MessageID string `json:"message_id"`
	// Metadata are the message's bus metadata.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Payload is the message's payload, byte for byte (for a raw topic: the envelope, JSON).
	Payload []byte `json:"payload"`
}

// Query selects dead letters, newest failure first.
type Query struct {
	// Connector and State filter when not empty.
	Connector string
	State     State
	// Limit caps the page; 0 means 50.
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// Page is one page of dead letters.
type Page struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// ErrNotFound is returned for an unknown id.
var ErrNotFound = errors.New("dead letter not found")

// ErrBadCursor is returned for a cursor that no page gave out.
var ErrBadCursor = errors.New("bad cursor")

// Store keeps dead letters durably. Safe for concurrent use.
type Store interface {
	// PutDeadLetter records a failure. For a new Key it stores dl as given (the store picks
	// the ID); for a known Key it adds dl.Attempts to the attempts, sets the error, the last
	// failure time, the message id, metadata and payload, and the state back to dead. It
	// returns the record as stored. It returns only once the record is durable: the failed
	// message is acked after it.
	PutDeadLetter(ctx context.Context, dl DeadLetter) (DeadLetter, error)
	// DeadLetter returns one record.
	DeadLetter(ctx context.Context, id string) (DeadLetter, error)
	// DeadLetters lists records.
	DeadLetters(ctx context.Context, q Query) (Page, error)
	// MarkReplayed records a replay at the given time.
	MarkReplayed(ctx context.Context, id string, at time.Time) (DeadLetter, error)
}
