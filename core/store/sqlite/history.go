package sqlite

import (
	"context"
	"database/sql"
	"time"

	"gongdan/core/store"
)

// Device history (see migrations/0014_device_history.sql). Not among the prepared write
// statements: it is written once per event by one consumer, not on the engine's hot path.

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

const failureColumns = `ticket_id, device_id, model, fault, failed_at, resolved_at`

func scanFailure(row interface{ Scan(...any) error }) (store.Failure, error) {
	var f store.Failure
	var failed, resolved int64
	if err := row.Scan(&f.TicketID, &f.DeviceID, &f.Model, &f.Fault, &failed, &resolved); err != nil {
		return store.Failure{}, notFound(err)
	}
	f.FailedAt, f.ResolvedAt = fromMillis(failed), fromMillis(resolved)
	return f, nil
}

func (t *tx) Failure(ticketID string) (store.Failure, error) {
	return scanFailure(t.tx.QueryRowContext(t.ctx, `SELECT `+failureColumns+` FROM device_failures WHERE ticket_id = ?`, ticketID))
}

func (t *tx) PutFailure(f store.Failure) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO device_failures (`+failureColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (ticket_id) DO UPDATE SET device_id = excluded.device_id, model = excluded.model, fault = excluded.fault,
			failed_at = excluded.failed_at, resolved_at = excluded.resolved_at`,
		f.TicketID, f.DeviceID, f.Model, f.Fault, millis(f.FailedAt), millis(f.ResolvedAt))
	return err
}

func (t *tx) DeleteFailure(ticketID string) error {
	_, err := t.tx.ExecContext(t.ctx, `DELETE FROM device_failures WHERE ticket_id = ?`, ticketID)
	return err
}

func (t *tx) failures(query string, args ...any) ([]store.Failure, error) {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	return scanAll(rows, err, func(r *sql.Rows) (store.Failure, error) { return scanFailure(r) })
}

func (t *tx) DeviceFailures(deviceID string) ([]store.Failure, error) {
	return t.failures(`SELECT `+failureColumns+` FROM device_failures WHERE device_id = ? ORDER BY failed_at, ticket_id`, deviceID)
}

func (t *tx) ClusterFailures(model, fault string, from, to time.Time) ([]store.Failure, error) {
	return t.failures(`SELECT `+failureColumns+` FROM device_failures
		WHERE model = ? AND fault = ? AND failed_at BETWEEN ? AND ? ORDER BY failed_at, ticket_id`,
		model, fault, from.UnixMilli(), to.UnixMilli())
}

const healthColumns = `device_id, model, failures, first_failure, last_failure, repairs, repair_ms, chronic_until, next_failure`

func (t *tx) PutDeviceHealth(h store.DeviceHealth) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT OR REPLACE INTO device_health (`+healthColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.DeviceID, h.Model, h.Failures, millis(h.FirstFailure), millis(h.LastFailure), h.Repairs, h.RepairTotal.Milliseconds(),
		millis(h.ChronicUntil), millis(h.NextFailure))
	return err
}

func (t *tx) DeleteDeviceHealth(deviceID string) error {
	_, err := t.tx.ExecContext(t.ctx, `DELETE FROM device_health WHERE device_id = ?`, deviceID)
	return err
}

func (t *tx) ResetHistory() error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM device_failures`); err != nil {
		return err
	}
	_, err := t.tx.ExecContext(t.ctx, `DELETE FROM device_health`)
	return err
}

func scanHealth(row interface{ Scan(...any) error }) (store.DeviceHealth, error) {
	var h store.DeviceHealth
	var first, last, repairMS, chronic, next int64
	if err := row.Scan(&h.DeviceID, &h.Model, &h.Failures, &first, &last, &h.Repairs, &repairMS, &chronic, &next); err != nil {
		return store.DeviceHealth{}, notFound(err)
	}
	h.FirstFailure, h.LastFailure = fromMillis(first), fromMillis(last)
	h.RepairTotal = time.Duration(repairMS) * time.Millisecond
	h.ChronicUntil, h.NextFailure = fromMillis(chronic), fromMillis(next)
	return h, nil
}

// DeviceHealth implements store.HistoryStore.
func (s *Store) DeviceHealth(ctx context.Context, deviceID string) (store.DeviceHealth, error) {
	return scanHealth(s.r.QueryRowContext(ctx, `SELECT `+healthColumns+` FROM device_health WHERE device_id = ?`, deviceID))
}

// ModelHealth implements store.HistoryStore.
func (s *Store) ModelHealth(ctx context.Context, model string) (store.ModelHealth, error) {
	m := store.ModelHealth{Model: model}
	var intervalMS, repairMS int64
	err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(failures), 0),
			coalesce(sum(CASE WHEN failures > 1 THEN failures - 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN failures > 1 THEN last_failure - first_failure ELSE 0 END), 0),
			coalesce(sum(repairs), 0), coalesce(sum(repair_ms), 0)
		FROM device_health WHERE model = ?`, model).
		Scan(&m.Devices, &m.Failures, &m.Intervals, &intervalMS, &m.Repairs, &repairMS)
	m.IntervalTotal = time.Duration(intervalMS) * time.Millisecond
	m.RepairTotal = time.Duration(repairMS) * time.Millisecond
	return m, err
}

// DeviceRanking implements store.HistoryStore.
func (s *Store) DeviceRanking(ctx context.Context, now time.Time, limit int) ([]store.DeviceHealth, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+healthColumns+` FROM device_health
		ORDER BY chronic_until >= ?1 DESC, next_failure = 0, next_failure, failures DESC, device_id LIMIT ?2`,
		now.UnixMilli(), limit)
	return scanAll(rows, err, func(r *sql.Rows) (store.DeviceHealth, error) { return scanHealth(r) })
}

// ChronicDevices implements store.HistoryStore.
func (s *Store) ChronicDevices(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	ms, err := scanMap[string, int64](s.r.QueryContext(ctx, `SELECT device_id, chronic_until FROM device_health WHERE chronic_until >= ?`, now.UnixMilli()))
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(ms))
	for id, until := range ms {
		out[id] = fromMillis(until)
	}
	return out, nil
}

var _ store.HistoryStore = (*Store)(nil)
var _ store.HistoryTx = (*tx)(nil)
