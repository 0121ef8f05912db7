package sqlite

import (
	"context"
	"database/sql"
	"time"

	"gongdan/core/store"
)

func (t *tx) SetBoardDue(ticketID string, due time.Time) error {
	_, err := t.exec(stmtSetBoardDue, ticketID, formatSortable(due))
	return err
}

func (t *tx) DeleteBoardDue(ticketID string) error {
	_, err := t.exec(stmtDeleteBoardDue, ticketID)
	return err
}

// Board implements store.SLAStore.
func (s *Store) Board(ctx context.Context, limit int) ([]store.BoardEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ticket_id, due FROM sla_board ORDER BY due, ticket_id LIMIT ?`, limit)
	return scanAll(rows, err, func(rows *sql.Rows) (store.BoardEntry, error) {
		var e store.BoardEntry
		var due string
		err := rows.Scan(&e.TicketID, &due)
		if err == nil {
			e.Due, err = time.Parse(time.RFC3339Nano, due)
		}
		return e, err
	})
}
