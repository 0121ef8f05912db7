package sqlite

import (
	"context"
	"errors"
	"fmt"

	"gongdan/core/report"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// The KPI facts (migrations/0012_kpi.sql). Their write statements are prepared at Open with
// the others (writeQueries): the engine runs two of them per event.

const factColumns = `ticket_id, created_at, team, engineer, category, connector, policy, repeat_of,
	first_accept_at, first_closed_at, resolved_at, force_closed, closed_confirm, reopens, disputes,
	first_reopen_after_close, repeated_at, ended_at, response_breached, resolution_breached,
	confirm, root_cause`

const (
	queryKPIFactsByID = `SELECT ` + factColumns + ` FROM kpi_facts WHERE ticket_id = ?`
	queryPutKPIFacts  = `INSERT OR REPLACE INTO kpi_facts (` + factColumns + `, last_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	queryPutKPIRating = `INSERT OR IGNORE INTO kpi_ratings (ticket_id, seq, at, team, engineer, category, connector, policy,
			solved, timeliness, professionalism, root_cause)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// KPIFacts implements store.ReportTx.
func (t *tx) KPIFacts(ticketID string) (report.Facts, error) {
	var f report.Facts
	err := scanFacts(t.queryRow(stmtKPIFactsByID, ticketID), &f)
	return f, notFound(err)
}

// PutKPIFacts implements store.ReportTx.
func (t *tx) PutKPIFacts(f report.Facts) error {
	_, err := t.exec(stmtPutKPIFacts, factArgs(f)...)
	return err
}

// PutKPIRating implements store.ReportTx.
func (t *tx) PutKPIRating(r report.Rating) error {
	_, err := t.exec(stmtPutKPIRating, ratingArgs(r)...)
	return err
}

func factArgs(f report.Facts) []any {
	last := max(f.CreatedAt, f.FirstAcceptAt, f.FirstClosedAt, f.EndedAt)
	return []any{f.TicketID, f.CreatedAt, f.Team, f.Engineer, f.Category, f.Connector, f.Policy, f.RepeatOf,
		f.FirstAcceptAt, f.FirstClosedAt, f.ResolvedAt, f.ForceClosed, int(f.ClosedConfirm), f.Reopens, f.Disputes,
		f.FirstReopenAfterClose, f.RepeatedAt, f.EndedAt, f.ResponseBreached, f.ResolutionBreached,
		int(f.Confirm), f.RootCause, last}
}

func ratingArgs(r report.Rating) []any {
	return []any{r.TicketID, r.Seq, r.At, r.Team, r.Engineer, r.Category, r.Connector, r.Policy,
		r.Solved, r.Timeliness, r.Professionalism, r.RootCause}
}

type scanner interface{ Scan(dest ...any) error }

func scanFacts(row scanner, f *report.Facts) error {
	return row.Scan(&f.TicketID, &f.CreatedAt, &f.Team, &f.Engineer, &f.Category, &f.Connector, &f.Policy, &f.RepeatOf,
		&f.FirstAcceptAt, &f.FirstClosedAt, &f.ResolvedAt, &f.ForceClosed, &f.ClosedConfirm, &f.Reopens, &f.Disputes,
		&f.FirstReopenAfterClose, &f.RepeatedAt, &f.EndedAt, &f.ResponseBreached, &f.ResolutionBreached,
		&f.Confirm, &f.RootCause)
}

// ScanKPIFacts implements store.ReportStore.
func (s *Store) ScanKPIFacts(ctx context.Context, from int64, fn func(*report.Facts)) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+factColumns+` FROM kpi_facts WHERE last_at >= ?1
		UNION ALL SELECT `+factColumns+` FROM kpi_facts WHERE ended_at = 0 AND last_at < ?1`, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	var f report.Facts
	for rows.Next() {
		if err := scanFacts(rows, &f); err != nil {
			return err
		}
		fn(&f)
	}
	return rows.Err()
}

// ScanKPIRatings implements store.ReportStore.
func (s *Store) ScanKPIRatings(ctx context.Context, from int64, fn func(*report.Rating)) error {
	rows, err := s.r.QueryContext(ctx, `SELECT ticket_id, seq, at, team, engineer, category, connector, policy,
			solved, timeliness, professionalism, root_cause FROM kpi_ratings WHERE at >= ?`, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r report.Rating
	for rows.Next() {
		if err := rows.Scan(&r.TicketID, &r.Seq, &r.At, &r.Team, &r.Engineer, &r.Category, &r.Connector, &r.Policy,
			&r.Solved, &r.Timeliness, &r.Professionalism, &r.RootCause); err != nil {
			return err
		}
		fn(&r)
	}
	return rows.Err()
}

// rebuildPage is how many tickets RebuildKPIs reads the events of at a time.
const rebuildPage = 1000

// RebuildKPIs implements store.ReportStore: in one write transaction, so the report reads the
// old facts or the new ones, never a mix; the engine's writes wait for it.
func (s *Store) RebuildKPIs(ctx context.Context, fold func([]ticket.Event) (report.Facts, []report.Rating, error)) (int, error) {
	n := 0
	err := s.Write(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM kpi_facts; DELETE FROM kpi_ratings`); err != nil {
			return err
		}
		after := ""
		for {
			// A page of tickets by id, and their events in order: the events of one ticket
			// are together, so each is folded as soon as its last event is read.
			rows, err := t.tx.QueryContext(ctx, `SELECT e.id, e.ticket_id, e.body FROM events e
				WHERE e.ticket_id IN (SELECT id FROM tickets WHERE id > ? ORDER BY id LIMIT ?)
				ORDER BY e.ticket_id, e.seq`, after, rebuildPage)
			if err != nil {
				return err
			}
			var byTicket [][]ticket.Event
			last := ""
			for rows.Next() {
				var id int64
				var tid string
				var body []byte
				if err := rows.Scan(&id, &tid, &body); err != nil {
					rows.Close()
					return err
				}
				ev, err := decodeEvent(id, body)
				if err != nil {
					rows.Close()
					return err
				}
				if tid != last {
					byTicket = append(byTicket, nil)
					last = tid
				}
				byTicket[len(byTicket)-1] = append(byTicket[len(byTicket)-1], ev)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(byTicket) == 0 {
				break
			}
			for _, evs := range byTicket {
				f, ratings, err := fold(evs)
				if err != nil {
					return fmt.Errorf("ticket %s: %w", evs[0].TicketID, err)
				}
				if _, err := t.exec(stmtPutKPIFacts, factArgs(f)...); err != nil {
					return err
				}
				for _, r := range ratings {
					if _, err := t.exec(stmtPutKPIRating, ratingArgs(r)...); err != nil {
						return err
					}
				}
				n++
			}
			after = last
		}
		// The repeats: each ticket repeated is marked with the earliest creation of a ticket
		// that names it.
		_, err := t.tx.ExecContext(ctx, `UPDATE kpi_facts SET repeated_at = r.first
			FROM (SELECT repeat_of, min(created_at) AS first FROM kpi_facts WHERE repeat_of != '' GROUP BY repeat_of) AS r
			WHERE kpi_facts.ticket_id = r.repeat_of`)
		return err
	})
	if err != nil {
		return 0, errors.Join(errors.New("rebuild the KPI facts"), err)
	}
	return n, nil
}

var (
	_ store.ReportTx    = (*tx)(nil)
	_ store.ReportStore = (*Store)(nil)
)
