package store

import (
	"context"
	"time"
)

// Device history: what predictive maintenance (package predict) keeps of tickets on devices,
// derived from the events and rebuildable from them. Times are kept to the millisecond.

// Failure is one ticket on a device, as device history counts it.
type Failure struct {
	TicketID string `json:"ticket_id"`
	DeviceID string `json:"device_id"`
	Model    string `json:"model"`
	// Fault is the ticket's fault_code, else its category.
	Fault    string    `json:"fault"`
	FailedAt time.Time `json:"failed_at"`
	// ResolvedAt is when the ticket was last resolved; zero while it is not.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// DeviceHealth is one device's figures, folded from its failures.
type DeviceHealth struct {
	DeviceID     string
	Model        string
	Failures     int
	FirstFailure time.Time
	LastFailure  time.Time
	// Repairs counts the resolved failures, RepairTotal the time from failure to resolve
	// summed over them.
	Repairs     int
	RepairTotal time.Duration
	// ChronicUntil: the device counts as chronic (频繁故障) up to and including then; zero
	// when it never was.
	ChronicUntil time.Time
	// NextFailure is the estimated next failure (last failure + MTBF); zero with fewer than
	// two failures.
	NextFailure time.Time
}

// ModelHealth sums the figures of a model's devices.
type ModelHealth struct {
	Model    string
	Devices  int
	Failures int
	// Intervals counts the gaps between one device's consecutive failures, IntervalTotal sums
	// them (per device, last failure − first).
	Intervals     int
	IntervalTotal time.Duration
	Repairs       int
	RepairTotal   time.Duration
}

// HistoryTx is what device history writes, in the store's write transaction so that a
// failure and the figures folded from it are kept together or not at all.
type HistoryTx interface {
	// Failure returns the failure kept for a ticket, or ErrNotFound.
	Failure(ticketID string) (Failure, error)
	// PutFailure keeps f, replacing what was kept for its ticket.
	PutFailure(f Failure) error
	// DeleteFailure forgets a ticket's failure (none kept is no error).
	DeleteFailure(ticketID string) error
	// DeviceFailures returns a device's failures, oldest first.
	DeviceFailures(deviceID string) ([]Failure, error)
	// ClusterFailures returns the failures of model and fault with FailedAt in [from, to],
	// oldest first.
	ClusterFailures(model, fault string, from, to time.Time) ([]Failure, error)
	// PutDeviceHealth keeps h, replacing the device's; DeleteDeviceHealth removes it.
	PutDeviceHealth(h DeviceHealth) error
	DeleteDeviceHealth(deviceID string) error
	// ResetHistory forgets all device history (before a rebuild).
	ResetHistory() error
}

// HistoryStore is what device history reads.
type HistoryStore interface {
	// DeviceHealth returns a device's figures, or ErrNotFound when it has no failures.
	DeviceHealth(ctx context.Context, deviceID string) (DeviceHealth, error)
	// ModelHealth sums the figures of a model's devices (all zero for an unknown model).
	ModelHealth(ctx context.Context, model string) (ModelHealth, error)
	// DeviceRanking returns up to limit devices: first those chronic at now (ChronicUntil
	// not before now), then by NextFailure, soonest first (overdue ones first), those without an
	// estimate last; ties by more failures, then by id.
	DeviceRanking(ctx context.Context, now time.Time, limit int) ([]DeviceHealth, error)
	// ChronicDevices returns the devices chronic at now, with when each stops being.
	ChronicDevices(ctx context.Context, now time.Time) (map[string]time.Time, error)
}
