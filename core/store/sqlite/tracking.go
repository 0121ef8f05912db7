package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gongdan/core/store"
)

func (t *tx) PutTracking(hash []byte, ticketID string, generation int) error {
	_, err := t.exec(stmtPutTracking, hash, ticketID, generation)
	return err
}

func (t *tx) RevokeTracking(ticketID string) error {
	_, err := t.exec(stmtRevokeTracking, ticketID)
	return err
}

// TrackingByHash implements store.TrackingStore.
func (s *Store) TrackingByHash(ctx context.Context, hash []byte) (store.TrackingLink, error) {
	return scanLink(s.reads[readTracking].QueryRowContext(ctx, hash))
}

// CurrentTracking implements store.TrackingStore.
func (s *Store) CurrentTracking(ctx context.Context, ticketID string) (store.TrackingLink, error) {
	return scanLink(s.r.QueryRowContext(ctx,
		`SELECT ticket_id, generation, revoked FROM tracking WHERE ticket_id = ? ORDER BY generation DESC LIMIT 1`, ticketID))
}

func scanLink(row *sql.Row) (store.TrackingLink, error) {
	var l store.TrackingLink
	err := row.Scan(&l.TicketID, &l.Generation, &l.Revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return l, store.ErrNotFound
	}
	return l, err
}

// Secret implements store.TrackingStore: INSERT OR IGNORE, then read, so that two processes
// starting at once agree on the first one written.
func (s *Store) Secret(ctx context.Context, name string, make func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh, err := make()
	if err != nil {
		return nil, err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, err
	}
	err = s.r.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	return v, err
}

func (t *tx) PutResolutionTime(kind string, resolvedAt time.Time, ticketID string, took time.Duration) error {
	_, err := t.exec(stmtPutResolutionTime, kind, resolvedAt.Unix(), ticketID, int64(took/time.Second))
	return err
}

// ResolutionTimes implements store.TrackingStore.
func (s *Store) ResolutionTimes(ctx context.Context, kind string, limit int) ([]time.Duration, error) {
	rows, err := s.reads[readResolutionTimes].QueryContext(ctx, kind, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var sec int64
		if err := rows.Scan(&sec); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(sec)*time.Second)
	}
	return out, rows.Err()
}
