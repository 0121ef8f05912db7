package sqlite

import (
	"context"
	"database/sql"
	"time"

	"gongdan/core/store"
)

// See migrations/0013_cards.sql.

func (t *tx) PutCard(c store.Card) (bool, error) {
	res, err := t.exec(stmtPutCard, c.Engineer, c.Key, c.Kind, c.Cause, c.TicketID, formatSortable(c.At), formatSortable(c.ExpiresAt), c.Detail)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Cards implements store.CardStore.
func (s *Store) Cards(ctx context.Context, engineer string) ([]store.Card, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, engineer, key, kind, cause, ticket_id, at, expires_at, detail
		FROM engineer_cards WHERE engineer = ? ORDER BY at DESC, id DESC`, engineer)
	return scanAll(rows, err, func(rows *sql.Rows) (store.Card, error) {
		var c store.Card
		var at, expires string
		if err := rows.Scan(&c.ID, &c.Engineer, &c.Key, &c.Kind, &c.Cause, &c.TicketID, &at, &expires, &c.Detail); err != nil {
			return c, err
		}
		var err error
		if c.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return c, err
		}
		c.ExpiresAt, err = time.Parse(time.RFC3339Nano, expires)
		return c, err
	})
}
