package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/klauspost/compress/s2"

	"gongdan/core/store"
)

// sortableTime is the stored form of a time: UTC, fixed-width nanoseconds, so that text
// order is time order.
const sortableTime = "2006-01-02T15:04:05.000000000Z"

func formatSortable(t time.Time) string { return t.UTC().Format(sortableTime) }

// Decision traces are stored compressed (S2, a Snappy successor): a trace lists every
// candidate with the same keys, and a team of 20 makes 6 KB of JSON that spilled into SQLite
// overflow pages, three times the bytes of the ticket and its events together, all of it
// written to the WAL in the committer. S2 takes it to about 1 KB in about 1.5 µs. The marker
// tells compressed bodies from plain JSON ones (written before, and still read).
var compressedTrace = []byte("s2\x00")

func encodeTrace(body []byte) []byte {
	out := make([]byte, len(compressedTrace), len(compressedTrace)+s2.MaxEncodedLen(len(body)))
	copy(out, compressedTrace)
	return append(out, s2.Encode(out[len(out):cap(out)], body)...)
}

func decodeTrace(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, compressedTrace) {
		return stored, nil
	}
	body, err := s2.Decode(nil, stored[len(compressedTrace):])
	if err != nil {
		return nil, fmt.Errorf("routing decision trace: %w", err)
	}
	return body, nil
}

func (t *tx) PutRoutingDecision(r store.RoutingRecord) error {
	_, err := t.exec(stmtPutRoutingDecision, r.TicketID, formatSortable(r.At), r.Trigger, r.Cause, r.Manual,
		r.Engineer, r.Team, r.Rule, r.Failure, encodeTrace(r.Body))
	return err
}

func (t *tx) SetRoundRobin(team string, index int) error {
	_, err := t.exec(stmtSetRoundRobin, team, index)
	return err
}

func (t *tx) CountAssignments(engineer, day string, n int) error {
	_, err := t.exec(stmtCountAssignment, engineer, day, n)
	return err
}

func (t *tx) PutEngineer(id string, body []byte) error {
	_, err := t.exec(stmtPutEngineer, id, body)
	return err
}

func (t *tx) SetTimer(tm store.Timer) error {
	_, err := t.exec(stmtSetTimer, tm.TicketID, tm.Kind, formatSortable(tm.Due))
	return err
}

func (t *tx) DeleteTimer(ticketID, kind string) error {
	_, err := t.exec(stmtDeleteTimer, ticketID, kind)
	return err
}

// RoutingDecisions implements store.RoutingStore.
func (s *Store) RoutingDecisions(ctx context.Context, ticketID string) ([]store.RoutingRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, ticket_id, at, trigger, cause, manual, engineer, team, rule, failure, body
		FROM routing_decisions WHERE ticket_id = ? ORDER BY id`, ticketID)
	return scanAll(rows, err, scanRouting(true))
}

// RoutingSince implements store.RoutingStore.
func (s *Store) RoutingSince(ctx context.Context, since time.Time) ([]store.RoutingRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, ticket_id, at, trigger, cause, manual, engineer, team, rule, failure, NULL
		FROM routing_decisions WHERE at >= ? ORDER BY id`, formatSortable(since))
	return scanAll(rows, err, scanRouting(false))
}

// scanRouting reads a decision of the columns the queries above select; withBody: its trace
// too (the last column, which RoutingSince leaves NULL).
func scanRouting(withBody bool) func(*sql.Rows) (store.RoutingRecord, error) {
	return func(rows *sql.Rows) (store.RoutingRecord, error) {
		var r store.RoutingRecord
		var at string
		var body []byte
		if err := rows.Scan(&r.ID, &r.TicketID, &at, &r.Trigger, &r.Cause, &r.Manual, &r.Engineer, &r.Team, &r.Rule, &r.Failure, &body); err != nil {
			return r, err
		}
		var err error
		if r.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return r, err
		}
		if withBody {
			if r.Body, err = decodeTrace(body); err != nil {
				return r, fmt.Errorf("routing decision %d of %s: %w", r.ID, r.TicketID, err)
			}
		}
		return r, nil
	}
}

// RoundRobin implements store.RoutingStore.
func (s *Store) RoundRobin(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT team, idx FROM routing_pointers`)
	return scanMap[string, int](rows, err)
}

// Assignments implements store.RoutingStore.
func (s *Store) Assignments(ctx context.Context, from, to string) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT engineer, sum(assigned) FROM engineer_days WHERE day >= ? AND day <= ? GROUP BY engineer`, from, to)
	return scanMap[string, int](rows, err)
}

// OpenByAssignee implements store.RoutingStore.
func (s *Store) OpenByAssignee(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT assignee, count(*) FROM tickets
		WHERE assignee != '' AND state IN ('new', 'assigned', 'accepted', 'in_progress', 'awaiting_parts', 'paused', 'escalated')
		GROUP BY assignee`)
	return scanMap[string, int](rows, err)
}

// Engineers implements store.RoutingStore.
func (s *Store) Engineers(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM engineers`)
	return scanMap[string, []byte](rows, err)
}

// DueTimers implements store.RoutingStore.
func (s *Store) DueTimers(ctx context.Context, t time.Time, limit int) ([]store.Timer, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ticket_id, kind, due FROM timers WHERE due <= ? ORDER BY due LIMIT ?`, formatSortable(t), limit)
	return scanAll(rows, err, func(rows *sql.Rows) (store.Timer, error) {
		var tm store.Timer
		var due string
		err := rows.Scan(&tm.TicketID, &tm.Kind, &due)
		if err == nil {
			tm.Due, err = time.Parse(time.RFC3339Nano, due)
		}
		return tm, err
	})
}
