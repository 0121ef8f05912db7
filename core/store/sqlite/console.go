package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// PutSession implements store.ConsoleStore.
func (s *Store) PutSession(ctx context.Context, se store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO console_sessions (hash, actor_id, role, name, via, csrf, created_at, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, se.Hash, se.Actor.ID, string(se.Actor.Role), se.Name, se.Via, se.CSRF,
		se.CreatedAt.Unix(), se.SeenAt.Unix())
	return err
}

// SessionByHash implements store.ConsoleStore.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (store.Session, error) {
	var se store.Session
	var role string
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT hash, actor_id, role, name, via, csrf, created_at, seen_at
		FROM console_sessions WHERE hash = ?`, hash).Scan(&se.Hash, &se.Actor.ID, &role, &se.Name, &se.Via, &se.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return se, store.ErrNotFound
	}
	se.Actor.Role = ticket.Role(role)
	se.CreatedAt, se.SeenAt = time.Unix(created, 0), time.Unix(seen, 0)
	return se, err
}

// TouchSession implements store.ConsoleStore.
func (s *Store) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE console_sessions SET seen_at = ? WHERE hash = ? AND seen_at < ?`, at.Unix(), hash, at.Unix())
	return err
}

// DeleteSession implements store.ConsoleStore.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash)
	return err
}

// DeleteSessionsBefore implements store.ConsoleStore.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idle, created time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM console_sessions WHERE seen_at < ? OR created_at < ?`, idle.Unix(), created.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PutView implements store.ConsoleStore.
func (s *Store) PutView(ctx context.Context, v store.View) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO console_views (owner, name, query) VALUES (?, ?, ?)
		ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query`, v.Owner, v.Name, v.Query)
	return err
}

// DeleteView implements store.ConsoleStore.
func (s *Store) DeleteView(ctx context.Context, owner, name string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM console_views WHERE owner = ? AND name = ?`, owner, name)
	return err
}

// Views implements store.ConsoleStore.
func (s *Store) Views(ctx context.Context, owner string) ([]store.View, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT owner, name, query FROM console_views WHERE owner = ? ORDER BY name`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.View
	for rows.Next() {
		var v store.View
		if err := rows.Scan(&v.Owner, &v.Name, &v.Query); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
