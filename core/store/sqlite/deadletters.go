package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gongdan/pipeline/deadletter"
)

// Dead letters live in the dead_letters table (migrations/0004_deadletters.sql). Each write is
// one statement on the writer connection, so it is atomic and, with synchronous=FULL, durable
// when it returns; reads use the read pool.

// deadLetterIDPrefix and the zero-padded row id make a dead letter's ID: DL-000042. Past
// DL-999999 the number grows a digit; the list never sorts by the ID text.
const deadLetterIDPrefix = "DL-"

func deadLetterID(seq int64) string { return fmt.Sprintf("%s%06d", deadLetterIDPrefix, seq) }

// deadLetterSeq is the row id of an ID, false for anything deadLetterID does not make.
func deadLetterSeq(id string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, deadLetterIDPrefix), 10, 64)
	if err != nil || n <= 0 || deadLetterID(n) != id {
		return 0, false
	}
	return n, true
}

// deadLetterTime is how dead_letters keeps a time: UTC, fixed width, to the nanosecond, so
// that the text sorts as the times do (for the years 0000 to 9999).
const deadLetterTime = "2006-01-02T15:04:05.000000000Z"

func formatDeadLetterTime(t time.Time) string { return t.UTC().Format(deadLetterTime) }

func parseDeadLetterTime(s string) (time.Time, error) { return time.Parse(deadLetterTime, s) }

const deadLetterColumns = `seq, key, connector, handler, topic, error, attempts, first_failed_at, last_failed_at,
	state, replays, replayed_at, message_id, metadata, payload`

// PutDeadLetter implements deadletter.Store: one upsert, so concurrent failures of one
// message add up in one row.
func (s *Store) PutDeadLetter(ctx context.Context, dl deadletter.DeadLetter) (deadletter.DeadLetter, error) {
	var metadata any // NULL when empty
	if len(dl.Metadata) > 0 {
		b, err := json.Marshal(dl.Metadata)
		if err != nil {
			return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: metadata: %w", dl.Key, err)
		}
		metadata = string(b)
	}
	payload := dl.Payload
	if payload == nil {
		payload = []byte{} // NOT NULL
	}
	var replayedAt any
	if dl.ReplayedAt != nil {
		replayedAt = formatDeadLetterTime(*dl.ReplayedAt)
	}
	row := s.w.QueryRowContext(ctx, `INSERT INTO dead_letters (key, connector, handler, topic, error, attempts,
			first_failed_at, last_failed_at, state, replays, replayed_at, message_id, metadata, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			attempts       = attempts + excluded.attempts,
			error          = excluded.error,
			last_failed_at = excluded.last_failed_at,
			message_id     = excluded.message_id,
			metadata       = excluded.metadata,
			payload        = excluded.payload,
			state          = excluded.state
		RETURNING `+deadLetterColumns,
		dl.Key, dl.Connector, dl.Handler, dl.Topic, dl.Error, dl.Attempts,
		formatDeadLetterTime(dl.FirstFailedAt), formatDeadLetterTime(dl.LastFailedAt), string(deadletter.StateDead),
		dl.Replays, replayedAt, dl.MessageID, metadata, payload)
	got, err := scanDeadLetter(row)
	if err != nil {
		return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: %w", dl.Key, err)
	}
	return got, nil
}

// DeadLetter implements deadletter.Store.
func (s *Store) DeadLetter(ctx context.Context, id string) (deadletter.DeadLetter, error) {
	seq, ok := deadLetterSeq(id)
	if !ok {
		return deadletter.DeadLetter{}, fmt.Errorf("%w: %s", deadletter.ErrNotFound, id)
	}
	dl, err := scanDeadLetter(s.r.QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE seq = ?`, seq))
	return dl, deadLetterNotFound(err, id)
}

// MarkReplayed implements deadletter.Store.
func (s *Store) MarkReplayed(ctx context.Context, id string, at time.Time) (deadletter.DeadLetter, error) {
	seq, ok := deadLetterSeq(id)
	if !ok {
		return deadletter.DeadLetter{}, fmt.Errorf("%w: %s", deadletter.ErrNotFound, id)
	}
	dl, err := scanDeadLetter(s.w.QueryRowContext(ctx, `UPDATE dead_letters SET state = ?, replays = replays + 1, replayed_at = ?
		WHERE seq = ? RETURNING `+deadLetterColumns, string(deadletter.StateReplayed), formatDeadLetterTime(at), seq))
	return dl, deadLetterNotFound(err, id)
}

// DeadLetters implements deadletter.Store: newest last failure first, ties newest row first.
// The cursor is the last failure and row id of the last record returned, so records added
// between pages neither repeat nor push others out. A record that fails again between pages
// moves to the top: it may be listed twice, or not at all.
func (s *Store) DeadLetters(ctx context.Context, q deadletter.Query) (deadletter.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	var where []string
	var args []any
	if q.Connector != "" {
		where = append(where, "connector = ?")
		args = append(args, q.Connector)
	}
	if q.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(q.State))
	}
	if q.Cursor != "" {
		at, seq, err := decodeDeadLetterCursor(q.Cursor)
		if err != nil {
			return deadletter.Page{}, err
		}
		where = append(where, "(last_failed_at, seq) < (?, ?)")
		args = append(args, at, seq)
	}
	rows, err := s.queryPage(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters`, where, args, "last_failed_at DESC, seq DESC", limit)
	if err != nil {
		return deadletter.Page{}, err
	}
	defer rows.Close()
	page := deadletter.Page{DeadLetters: make([]deadletter.DeadLetter, 0, min(limit, 64))}
	for rows.Next() {
		if len(page.DeadLetters) == limit {
			last := page.DeadLetters[limit-1]
			seq, _ := deadLetterSeq(last.ID)
			page.NextCursor = encodeDeadLetterCursor(formatDeadLetterTime(last.LastFailedAt), seq)
			break
		}
		dl, err := scanDeadLetter(rows)
		if err != nil {
			return deadletter.Page{}, err
		}
		page.DeadLetters = append(page.DeadLetters, dl)
	}
	if err := rows.Err(); err != nil {
		return deadletter.Page{}, err
	}
	return page, nil
}

// A cursor is "<last_failed_at as stored> <seq>", base64url.
func encodeDeadLetterCursor(at string, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at + " " + strconv.FormatInt(seq, 10)))
}

func decodeDeadLetterCursor(c string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if at, seq, ok := strings.Cut(string(b), " "); ok {
			n, nerr := strconv.ParseInt(seq, 10, 64)
			t, terr := parseDeadLetterTime(at)
			// Compare as stored: only a time in the stored form sorts right against the column.
			if nerr == nil && n > 0 && terr == nil && formatDeadLetterTime(t) == at {
				return at, n, nil
			}
		}
	}
	return "", 0, fmt.Errorf("%w %q: pass next_cursor from the previous page unchanged", deadletter.ErrBadCursor, c)
}

func scanDeadLetter(row interface{ Scan(...any) error }) (deadletter.DeadLetter, error) {
	var (
		dl                      deadletter.DeadLetter
		seq                     int64
		firstFailed, lastFailed string
		state                   string
		replayedAt, metadata    sql.NullString
		payload                 []byte
	)
	if err := row.Scan(&seq, &dl.Key, &dl.Connector, &dl.Handler, &dl.Topic, &dl.Error, &dl.Attempts,
		&firstFailed, &lastFailed, &state, &dl.Replays, &replayedAt, &dl.MessageID, &metadata, &payload); err != nil {
		return deadletter.DeadLetter{}, err
	}
	dl.ID, dl.State, dl.Payload = deadLetterID(seq), deadletter.State(state), payload
	var err error
	if dl.FirstFailedAt, err = parseDeadLetterTime(firstFailed); err != nil {
		return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: first_failed_at: %w", dl.ID, err)
	}
	if dl.LastFailedAt, err = parseDeadLetterTime(lastFailed); err != nil {
		return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: last_failed_at: %w", dl.ID, err)
	}
	if replayedAt.Valid {
		t, err := parseDeadLetterTime(replayedAt.String)
		if err != nil {
			return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: replayed_at: %w", dl.ID, err)
		}
		dl.ReplayedAt = &t
	}
	if metadata.Valid {
		if err := json.Unmarshal([]byte(metadata.String), &dl.Metadata); err != nil {
			return deadletter.DeadLetter{}, fmt.Errorf("dead letter %s: metadata: %w", dl.ID, err)
		}
	}
	return dl, nil
}

func deadLetterNotFound(err error, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", deadletter.ErrNotFound, id)
	}
	return err
}

var _ deadletter.Store = (*Store)(nil)
