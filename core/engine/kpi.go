package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gongdan/core/report"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// The KPI facts (core/report) are kept in the transaction of every event: the committer
// hands its requests a Tx wrapped by kpiTx, through which every event is written (Insert,
// Append, Merge), and each write folds its event into the ticket's facts. A store that keeps
// no facts (it does not implement store.ReportTx) gets its Tx as it is.

// ErrReportsOff: the store keeps no KPI facts.
var ErrReportsOff = errors.New("this store keeps no KPI facts")

// kpiTx is a Tx that keeps the KPI facts of what is written through it.
type kpiTx struct {
	store.Tx
	facts  store.ReportTx
	policy func(ticket.Ticket) string
}

// withKPIs wraps tx so that the events written through it keep their tickets' KPI facts.
func (e *Engine) withKPIs(tx store.Tx) store.Tx {
	rt, ok := tx.(store.ReportTx)
	if !ok {
		return tx
	}
	return &kpiTx{Tx: tx, facts: rt, policy: e.policyID}
}

// policyID is the id of the SLA policy that applies to t, "" for none.
func (e *Engine) policyID(t ticket.Ticket) string {
	if p := e.policyOf(t); p != nil {
		return p.ID
	}
	return ""
}

func (k *kpiTx) Insert(t ticket.Ticket, created ticket.Event, idempotencyKey string, more ...*ticket.Event) (int64, error) {
	id, err := k.Tx.Insert(t, created, idempotencyKey, more...)
	if err != nil {
		return id, err
	}
	// The events that follow the creation in the same write leave the ticket as t; the
	// facts need of each ticket only what t has too (its dimensions), so t stands for all.
	f, err := k.step(report.Facts{}, created, t)
	for _, ev := range more {
		if err == nil {
			f, err = k.step(f, *ev, t)
		}
	}
	if err == nil {
		err = k.facts.PutKPIFacts(f)
	}
	if err == nil && t.RepeatOf != "" {
		err = k.repeated(t.RepeatOf, created.At)
	}
	return id, err
}

func (k *kpiTx) Append(t ticket.Ticket, ev ticket.Event) (int64, error) {
	id, err := k.Tx.Append(t, ev)
	if err != nil {
		return id, err
	}
	return id, k.update(t, ev)
}

func (k *kpiTx) Merge(t ticket.Ticket, ev ticket.Event, keys store.DraftKeys) (int64, error) {
	id, err := k.Tx.Merge(t, ev, keys)
	if err != nil {
		return id, err
	}
	return id, k.update(t, ev)
}

// update folds ev, which took the ticket to t, into its facts.
func (k *kpiTx) update(t ticket.Ticket, ev ticket.Event) error {
	f, err := k.facts.KPIFacts(t.ID)
	if errors.Is(err, store.ErrNotFound) {
		// A ticket from before the facts were kept: `gongdan report rebuild` folds it from
		// all its events; until then its facts start here.
		f, err = report.Facts{TicketID: t.ID, CreatedAt: t.CreatedAt.Unix()}, nil
	}
	if err != nil {
		return err
	}
	if f, err = k.step(f, ev, t); err != nil {
		return err
	}
	return k.facts.PutKPIFacts(f)
}

func (k *kpiTx) step(f report.Facts, ev ticket.Event, t ticket.Ticket) (report.Facts, error) {
	f, r, err := report.Step(f, ev, t, k.policy(t))
	if err == nil && r != nil {
		err = k.facts.PutKPIRating(*r)
	}
	return f, err
}

// repeated marks the ticket id as repeated by a ticket created at at.
func (k *kpiTx) repeated(id string, at time.Time) error {
	f, err := k.facts.KPIFacts(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // from before the facts were kept: the rebuild links it
	}
	if err != nil {
		return err
	}
	return k.facts.PutKPIFacts(f.Repeated(at.Unix()))
}

// KPIReport computes the KPI report over [since, now) broken down by by ("" for none, else
// one of report.Dimensions), from the facts the store keeps.
func (e *Engine) KPIReport(ctx context.Context, since time.Time, by string) (report.Report, error) {
	return BuildKPIReport(ctx, e.store, report.Window{From: since.Unix(), Until: e.now().Unix()}, by, e.teamMembers(), e.opts.Location)
}

// BuildKPIReport computes the KPI report of the facts s keeps, over w, broken down by by;
// members are the engineers of each team, for the Gini (nil: only those with tickets).
func BuildKPIReport(ctx context.Context, s store.Store, w report.Window, by string, members map[string][]string, loc *time.Location) (report.Report, error) {
	if err := report.CheckBy(by); err != nil {
		return report.Report{}, err
	}
	rs, ok := s.(store.ReportStore)
	if !ok {
		return report.Report{}, ErrReportsOff
	}
	// The facts and the answers are read at once, each on a connection and a core of its own.
	acc, answers := report.NewAccumulator(w, by, members, loc), report.NewAccumulator(w, by, nil, loc)
	answered := make(chan error, 1)
	go func() { answered <- rs.ScanKPIRatings(ctx, w.From, answers.AddRating) }()
	err := rs.ScanKPIFacts(ctx, acc.Earliest(), acc.AddFacts)
	if aerr := <-answered; aerr != nil {
		return report.Report{}, fmt.Errorf("read the survey answers: %w", aerr)
	}
	if err != nil {
		return report.Report{}, fmt.Errorf("read the KPI facts: %w", err)
	}
	acc.AddRatingsOf(answers)
	return acc.Report(), nil
}

// teamMembers are the configured engineers of each team; nil without routing.
func (e *Engine) teamMembers() map[string][]string {
	if e.routing == nil {
		return nil
	}
	r := e.routing.opts.Router
	out := map[string][]string{}
	for _, eng := range r.Engineers() {
		for _, team := range r.TeamsOf(eng.ID) {
			out[team] = append(out[team], eng.ID)
		}
	}
	return out
}

// RebuildKPIs folds the KPI facts of every ticket in s again from its events. policyOf names
// the SLA policy of a ticket (nil: none applies): the config's, as the engine uses it.
func RebuildKPIs(ctx context.Context, s store.Store, policyOf func(ticket.Ticket) string) (int, error) {
	rs, ok := s.(store.ReportStore)
	if !ok {
		return 0, ErrReportsOff
	}
	return rs.RebuildKPIs(ctx, func(evs []ticket.Event) (report.Facts, []report.Rating, error) {
		return report.FoldTicket(evs, policyOf)
	})
}

// KPISeries computes the KPIs of each day or week (report.EveryDay, EveryWeek) of [since,
// now], days beginning at midnight in the engine's time zone: the dashboard's trend lines.
func (e *Engine) KPISeries(ctx context.Context, since time.Time, every string) (report.Series, error) {
	rs, ok := e.store.(store.ReportStore)
	if !ok {
		return report.Series{}, ErrReportsOff
	}
	w := report.Window{From: since.Unix(), Until: e.now().Unix()}
	acc, err := report.NewSeriesAccumulator(w, every, e.opts.Location)
	if err != nil {
		return report.Series{}, err
	}
	if err := rs.ScanKPIFacts(ctx, w.From, acc.AddFacts); err != nil {
		return report.Series{}, fmt.Errorf("read the KPI facts: %w", err)
	}
	if err := rs.ScanKPIRatings(ctx, w.From, acc.AddRating); err != nil {
		return report.Series{}, fmt.Errorf("read the survey answers: %w", err)
	}
	return acc.Series(), nil
}

// IntakeReport counts the tickets each connector opened in each of the last hours hours (the
// current one included), from the KPI facts.
func (e *Engine) IntakeReport(ctx context.Context, hours int) (report.Intake, error) {
	rs, ok := e.store.(store.ReportStore)
	if !ok {
		return report.Intake{}, ErrReportsOff
	}
	acc := report.NewIntakeAccumulator(e.now(), hours, e.opts.Location)
	if err := rs.ScanKPIFacts(ctx, acc.From(), acc.AddFacts); err != nil {
		return report.Intake{}, fmt.Errorf("read the KPI facts: %w", err)
	}
	return acc.Intake(), nil
}
