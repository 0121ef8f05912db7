package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gongdan/core/report"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// The KPI facts (migrations/0012_kpi.sql), packed by the report package. Their write
// statements are prepared at Open with the others (writeQueries): the engine runs two of them
// per event.

const (
	queryKPIFactsByID = `SELECT facts, repeat_of, root_cause FROM kpi_facts WHERE ticket_id = ?`
	queryPutKPIFacts  = `INSERT OR REPLACE INTO kpi_facts (ticket_id, last_at, ended_at, facts, repeat_of, root_cause)
		VALUES (?, ?, ?, ?, ?, ?)`
	queryPutKPIRating = `INSERT OR IGNORE INTO kpi_ratings (ticket_id, seq, at, rating) VALUES (?, ?, ?, ?)`
)

// KPIFacts implements store.ReportTx.
func (t *tx) KPIFacts(ticketID string) (report.Facts, error) {
	var b []byte
	var repeatOf, rootCause string
	if err := t.queryRow(stmtKPIFactsByID, ticketID).Scan(&b, &repeatOf, &rootCause); err != nil {
		return report.Facts{}, notFound(err)
	}
	var f report.Facts
	err := report.NewDecoder().Facts(b, &f)
	f.TicketID, f.RepeatOf, f.RootCause = ticketID, repeatOf, rootCause
	return f, err
}

// PutKPIFacts implements store.ReportTx.
func (t *tx) PutKPIFacts(f report.Facts) error {
	_, err := t.exec(stmtPutKPIFacts, factArgs(&f)...)
	return err
}

// PutKPIRating implements store.ReportTx.
func (t *tx) PutKPIRating(r report.Rating) error {
	_, err := t.exec(stmtPutKPIRating, r.TicketID, r.Seq, r.At, report.AppendRating(nil, &r))
	return err
}

func factArgs(f *report.Facts) []any {
	last := max(f.CreatedAt, f.FirstAcceptAt, f.FirstClosedAt, f.EndedAt)
	return []any{f.TicketID, last, f.EndedAt, report.AppendFacts(nil, f), f.RepeatOf, f.RootCause}
}

// reportMmap is how much of the database file a report's connection maps: its scans read
// the pages where the OS cache has them, not copied into SQLite's cache page by page (a
// year's facts do not fit there).
const reportMmap = 1 << 30

// reportQuery runs a report's scan on a reading connection that maps the file.
func (s *Store) reportQuery(ctx context.Context, query string, args ...any) (*sql.Conn, *sql.Rows, error) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size = %d", reportMmap)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rows, nil
}

// KPIFactsMissing implements store.ReportStore.
func (s *Store) KPIFactsMissing(ctx context.Context) (bool, error) {
	var missing bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tickets) AND NOT EXISTS (SELECT 1 FROM kpi_facts)`).Scan(&missing)
	return missing, err
}

// ScanKPIFacts implements store.ReportStore.
func (s *Store) ScanKPIFacts(ctx context.Context, from int64, fn func(*report.Facts)) error {
	conn, rows, err := s.reportQuery(ctx, `SELECT facts FROM kpi_facts WHERE last_at >= ?1
		UNION ALL SELECT facts FROM kpi_facts WHERE ended_at = 0 AND last_at < ?1`, from)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer rows.Close()
	dec := report.NewDecoder()
	var f report.Facts
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := dec.Facts(b, &f); err != nil {
			return err
		}
		fn(&f)
	}
	return rows.Err()
}

// ScanKPIRatings implements store.ReportStore.
func (s *Store) ScanKPIRatings(ctx context.Context, from int64, fn func(*report.Rating)) error {
	conn, rows, err := s.reportQuery(ctx, `SELECT rating FROM kpi_ratings WHERE at >= ?`, from)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer rows.Close()
	dec := report.NewDecoder()
	var r report.Rating
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := dec.Rating(b, &r); err != nil {
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
		repeats := map[string]int64{} // ticket → the earliest creation of a repeat of it
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
				if err := t.PutKPIFacts(f); err != nil {
					return err
				}
				for _, r := range ratings {
					if err := t.PutKPIRating(r); err != nil {
						return err
					}
				}
				if f.RepeatOf != "" && (repeats[f.RepeatOf] == 0 || f.CreatedAt < repeats[f.RepeatOf]) {
					repeats[f.RepeatOf] = f.CreatedAt
				}
				n++
			}
			after = last
		}
		// The repeats: each ticket repeated is marked with the earliest creation of a ticket
		// that names it.
		for id, at := range repeats {
			f, err := t.KPIFacts(id)
			if errors.Is(err, store.ErrNotFound) {
				continue // it names a ticket not in this store
			}
			if err != nil {
				return err
			}
			if err := t.PutKPIFacts(f.Repeated(at)); err != nil {
				return err
			}
		}
		return nil
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
