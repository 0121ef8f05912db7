package sqlite

import (
	"context"
	"database/sql"
	"time"

	"gongdan/core/store"
)

func (t *tx) SetBoardDue(e store.BoardEntry) error {
	_, err := t.exec(stmtSetBoardDue, e.TicketID, formatSortable(e.Due), e.Team, e.Policy)
	return err
}

func (t *tx) DeleteBoardDue(ticketID string) error {
	_, err := t.exec(stmtDeleteBoardDue, ticketID)
	return err
}

// Board implements store.SLAStore. Each filter has its index in due order (0018), so a
// filtered board reads only its own rows.
func (s *Store) Board(ctx context.Context, q store.BoardQuery) ([]store.BoardEntry, error) {
	query, args := `SELECT ticket_id, due, team, coalesce(policy, '') FROM sla_board`, []any{}
	switch {
	case q.Team != "" && q.Policy != "":
		query += ` WHERE team = ? AND policy = ?`
		args = append(args, q.Team, q.Policy)
	case q.Team != "":
		query += ` WHERE team = ?`
		args = append(args, q.Team)
	case q.Policy != "":
		query += ` WHERE policy = ?`
		args = append(args, q.Policy)
	}
	query += ` ORDER BY due, ticket_id LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, append(args, q.Limit)...)
	return scanAll(rows, err, func(rows *sql.Rows) (store.BoardEntry, error) {
		var e store.BoardEntry
		var due string
		err := rows.Scan(&e.TicketID, &due, &e.Team, &e.Policy)
		if err == nil {
			e.Due, err = time.Parse(time.RFC3339Nano, due)
		}
		return e, err
	})
}
