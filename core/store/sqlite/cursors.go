package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Cursor returns how far the reader name has got in the event feed; 0 when it never has.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := s.r.QueryRowContext(ctx, `SELECT position FROM cursors WHERE name = ?`, name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return pos, err
}

// SetCursor records that the reader name has handled the feed up to pos. It never moves a
// cursor back.
func (s *Store) SetCursor(ctx context.Context, name string, pos int64) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO cursors (name, position, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position), updated_at = excluded.updated_at`,
		name, pos, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}
