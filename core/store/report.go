package store

import (
	"context"

	"gongdan/core/report"
	"gongdan/core/ticket"
)

// ReportTx is what keeps the KPI facts (core/report) current, in the transaction of the event
// they are folded from. A store that implements it beside Tx has its facts kept by the
// engine; the SQLite store does.
type ReportTx interface {
	// KPIFacts returns a ticket's facts, or ErrNotFound.
	KPIFacts(ticketID string) (report.Facts, error)
	// PutKPIFacts keeps a ticket's facts, replacing those kept.
	PutKPIFacts(f report.Facts) error
	// PutKPIRating keeps a survey answer (once per ticket and seq).
	PutKPIRating(r report.Rating) error
}

// ReportStore is what the KPI report reads, and how its facts are rebuilt from the events.
type ReportStore interface {
	// ScanKPIFacts calls fn with the facts of every ticket that was open at or after from, or
	// was created, first accepted or first closed at or after from (Unix seconds); fn must
	// not keep f.
	ScanKPIFacts(ctx context.Context, from int64, fn func(f *report.Facts)) error
	// ScanKPIRatings calls fn with every survey answer given at or after from; fn must not
	// keep r.
	ScanKPIRatings(ctx context.Context, from int64, fn func(r *report.Rating)) error
	// RebuildKPIs throws the facts and ratings away and folds them again from every
	// ticket's events with fold, in one transaction; the repeats are linked after. It returns
	// how many tickets it folded.
	RebuildKPIs(ctx context.Context, fold func(events []ticket.Event) (report.Facts, []report.Rating, error)) (int, error)
	// KPIFactsMissing reports whether tickets are stored but no KPI facts are: a store
	// upgraded from before the facts were kept, whose facts must be folded once.
	KPIFactsMissing(ctx context.Context) (bool, error)
}
