// Package store is where tickets and their events are kept. Store is the interface the engine
// writes through; sqlite/ is the embedded default (a PostgreSQL store for scale-out will be
// another implementation). Every implementation must pass storetest.Run.
//
// The store keeps two things per ticket that must always agree: the append-only event log,
// which is the truth, and the ticket row, which is the fold of that log kept for reading. Both
// are written in the same transaction or not at all.
package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gongdan/core/ticket"
)

var (
	// ErrNotFound: no such ticket, key or command.
	ErrNotFound = errors.New("not found")
	// ErrConflict: another writer got there first (a key, a command id or the ticket's next
	// version is taken). Nothing was written; look again and decide again.
	ErrConflict = errors.New("write conflict")
)

// Store keeps tickets and events. All methods are safe for concurrent use.
type Store interface {
	// Write runs fn in one write transaction and commits when fn returns nil; on an error
	// nothing fn did is kept. The engine batches many commands into one Write (group
	// commit), so a Write's cost is one durable commit however much it holds. fn must not
	// keep tx after it returns.
	Write(ctx context.Context, fn func(tx Tx) error) error

	// Ticket returns the stored ticket, or ErrNotFound.
	Ticket(ctx context.Context, id string) (ticket.Ticket, error)
	// List returns one page of tickets, newest first.
	List(ctx context.Context, q Query) (Page, error)
	// Events returns a ticket's events, oldest first, or ErrNotFound for an unknown ticket.
	Events(ctx context.Context, ticketID string) ([]ticket.Event, error)
	// EventsAfter returns up to limit events of any ticket with an ID above after, in ID
	// order: the feed a reconnecting stream catches up from.
	EventsAfter(ctx context.Context, after int64, limit int) ([]ticket.Event, error)
	// CountByState counts tickets in each state.
	CountByState(ctx context.Context) (map[ticket.State]int64, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	Close() error
	RoutingStore
	SLAStore
	DeviceStore
	TrackingStore
	CardStore
	HistoryStore
	ConsoleStore
}

// Tx is one write transaction. It sees its own writes.
type Tx interface {
	// Ticket returns the ticket as of this transaction, or ErrNotFound.
	Ticket(id string) (ticket.Ticket, error)
	// TicketIDByDedupKey finds the ticket a draft with this dedup key went into: the one it
	// created or the one it was merged into.
	TicketIDByDedupKey(key string) (string, error)
	// TicketIDByIdempotencyKey finds the ticket a request under this Idempotency-Key went
	// into, and which of its sources (an index into Ticket.Sources) that request's draft is:
	// 0 for the draft that created it.
	TicketIDByIdempotencyKey(key string) (ticketID string, source int, err error)
	// OpenTicketIDByThreadKey finds the newest (last created) ticket with this thread key
	// that is open (ticket.State.Open), or ErrNotFound.
	OpenTicketIDByThreadKey(key string) (string, error)
	// RecentlyClosed finds the ticket a new request repeats (see RepeatQuery), or ErrNotFound.
	RecentlyClosed(q RepeatQuery) (string, error)
	// EventByCommandID finds the event that the command id of the actor actorID produced, or
	// ErrNotFound. Command ids are each caller's own, as Idempotency-Keys are: an event's
	// command id is taken for its actor (ev.Actor.ID) only, and another actor may use it too.
	EventByCommandID(actorID, commandID string) (ticket.Event, error)
	// NextNumber returns the next ticket number of a day ("20261123"), starting at 1.
	NextNumber(day string) (int64, error)
	// Insert stores a new ticket and its creation event; the event's ID is returned. The
	// ticket's dedup key (t.DedupKey) and idempotencyKey, when not empty, lead to it from
	// then on. ErrConflict when the id, the dedup key, the idempotency key or the command id
	// (of the event's actor) is taken. more are events that follow the creation in the same write (a ticket routed
	// as it is created), t being the ticket after the last of them; their IDs are set.
	Insert(t ticket.Ticket, created ticket.Event, idempotencyKey string, more ...*ticket.Event) (int64, error)
	// Append stores ev and t, the ticket after ev (t.Version == ev.Seq); the event's ID is
	// returned. ErrConflict when version ev.Seq or the command id (of ev's actor) is already taken.
	Append(t ticket.Ticket, ev ticket.Event) (int64, error)
	// Merge is Append for ev, the event that added t's last source (a merged draft), and
	// records the keys that draft came with, when not empty, as leading to t. ErrConflict
	// when a key, version ev.Seq or the command id is taken.
	Merge(t ticket.Ticket, ev ticket.Event, keys DraftKeys) (int64, error)
	RoutingTx
	SLATx
	DeviceTx
	TrackingTx
	CardTx
	HistoryTx
}

// DeviceTx is what the device registry writes: the edits made through the API
// (PUT /api/v1/devices/{id}), which win over the config's entries across restarts.
type DeviceTx interface {
	// PutDevice keeps a device's entry (registry-owned JSON), replacing the one kept under id.
	PutDevice(id string, body []byte) error
}

// DeviceStore is what the device registry reads at start.
type DeviceStore interface {
	// Devices returns what PutDevice kept, by id.
	Devices(ctx context.Context) (map[string][]byte, error)
}

// DraftKeys are the keys a draft came in with; an empty key is none.
type DraftKeys struct {
	DedupKey       string
	IdempotencyKey string
}

// RepeatQuery asks for the most recently closed ticket (ticket.Ticket.ClosedAt; force-closed
// and archived-after-closed ones count) of DeviceID (whatever its category), or of
// CustomerKey with Category, closed within [ClosedFrom, ClosedTo] (a zero bound does not
// bound). An empty key matches nothing: a customer without a category finds nothing.
type RepeatQuery struct {
	// CustomerKey is ticket.CustomerKey of the ticket's customer.
	CustomerKey string
	DeviceID    string
	Category    string
	ClosedFrom  time.Time
	ClosedTo    time.Time
}

// Query selects tickets for List. Empty fields do not filter; a field with several values
// matches any of them.
type Query struct {
	States    []ticket.State
	Assignees []string
	Teams     []string
	Urgencies []string
	// Connectors match the connector of the ticket's first draft.
	Connectors []string
	// Tags must all be on the ticket.
	Tags []string
	// SLA matches by the ticket's nearest SLA due time (the SLA board, SLAStore): SLABreached,
	// SLAAtRisk, SLAOnTime or SLANone, as of Now.
	SLA string
	Now time.Time
	// Q matches a substring of the id, title, description, customer, device or address.
	Q string
	// Customer is a customer as ticket.CustomerKey names them ("phone:13800000000", "id:c-1"):
	// only their tickets, by index.
	Customer string
	// Sort is SortNewest (the default: most recently created first) or SortDue (nearest SLA
	// due time first; only tickets with a running clock, as the SLA board).
	Sort   string
	Limit  int
	Cursor string
}

// The SLA statuses of Query.SLA.
const (
	SLABreached = "breached" // due before now
	SLAAtRisk   = "at_risk"  // due within AtRiskWithin from now
	SLAOnTime   = "on_time"  // due later
	SLANone     = "none"     // no running SLA clock
)

// AtRiskWithin is how close to its due time a ticket is at risk.
const AtRiskWithin = time.Hour

// The orders of Query.Sort.
const (
	SortNewest = "newest"
	SortDue    = "due"
)

// Page is one page of a List.
type Page struct {
	Tickets []ticket.Ticket `json:"tickets"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"next_cursor"`
	// Due is the nearest SLA due time of each ticket of the page with a running clock, by id.
	Due map[string]time.Time `json:"sla_due,omitempty"`
}

// Limits of a page.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// EncodeCursor and DecodeCursor turn a row position into an opaque cursor and back.
func EncodeCursor(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(pos, 10)))
}

func DecodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 's' {
		if n, err := strconv.ParseInt(string(b[1:]), 10, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("invalid cursor %q: pass next_cursor from the previous page unchanged", c)
}

// EncodeDueCursor and DecodeDueCursor turn a position in the order of SortDue (a due time,
// then the ticket id) into an opaque cursor and back.
func EncodeDueCursor(due time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("d" + due.UTC().Format(time.RFC3339Nano) + " " + id))
}

func DecodeDueCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 'd' {
		if at, id, ok := strings.Cut(string(b[1:]), " "); ok && id != "" {
			if due, err := time.Parse(time.RFC3339Nano, at); err == nil {
				return due, id, nil
			}
		}
	}
	return time.Time{}, "", fmt.Errorf("invalid cursor %q: pass next_cursor from the previous page unchanged", c)
}

// SearchText is what Query.Q searches in a ticket, kept with the ticket row.
func SearchText(t ticket.Ticket) string {
	return t.ID + "\n" + t.Title + "\n" + t.Description + "\n" + t.Customer.Name + "\n" + t.Customer.Phone +
		"\n" + t.Customer.Org + "\n" + t.Device.ID + "\n" + t.Location.Address + "\n" + t.Category
}
