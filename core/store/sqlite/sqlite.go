// Package sqlite is the embedded Store: one file, WAL, nothing else to install.
//
// Writes go through one connection (SQLite has one writer at a time anyway) with
// synchronous=FULL, so a committed Write survives a crash of the process or the machine.
// Reads use a pool of read-only connections that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store.
type Store struct {
	w, r  *sql.DB
	stmts [numWriteStmts]*sql.Stmt // read-only after Open
	// eventsAfter, on the readers, is the events outbox's query, run after every commit:
	// parsing it each time was most of its cost.
	eventsAfter *sql.Stmt
	// reads are the hot reads on the readers (a ticket, its events, a tracking link: the
	// tracking page and the API read them per request), prepared once per connection.
	reads [numReads]*sql.Stmt
}

type readStmt int

const (
	readTicket readStmt = iota
	readEvents
	readTracking
	readResolutionTimes
	numReads
)

var readQueries = [numReads]string{
	readTicket:          `SELECT body FROM tickets WHERE id = ?`,
	readEvents:          `SELECT id, body FROM events WHERE ticket_id = ? ORDER BY seq`,
	readTracking:        `SELECT ticket_id, generation, revoked FROM tracking WHERE hash = ?`,
	readResolutionTimes: `SELECT seconds FROM resolution_times WHERE kind = ? ORDER BY resolved_at DESC LIMIT ?`,
}

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := func(readOnly bool) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "cache_size(-65536)", "wal_autocheckpoint(8192)"} {
			q.Add("_pragma", p)
		}
		if readOnly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate")
		}
		// A file: URI: escape the path so '?', '#' and '%' in it are taken literally.
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: migrate: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		var done int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done); err != nil {
			return err
		}
		if done > 0 {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	for _, st := range append(append(s.stmts[:], s.eventsAfter), s.reads[:]...) {
		if st != nil {
			st.Close()
		}
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks the writer and the readers.
func (s *Store) Ping(ctx context.Context) error {
	return errors.Join(s.w.PingContext(ctx), s.r.PingContext(ctx))
}

// Write runs fn in one IMMEDIATE transaction.
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback() // after Commit a no-op; after a panic in fn, frees the writer
	t := &tx{ctx: ctx, tx: sqlTx, store: s}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.saveNumbers(); err != nil {
		return fmt.Errorf("ticket numbers: %w", err)
	}
	if err := t.indexNewTickets(); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// indexNewTickets adds the tickets this transaction created to the search index, in one
// statement (see migrations/0002_search.sql for why not per row).
func (t *tx) indexNewTickets() error {
	if !t.inserted {
		return nil
	}
	res, err := t.exec(stmtIndexNew)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	_, err = t.exec(stmtIndexedUpTo)
	return err
}

type tx struct {
	ctx      context.Context
	tx       *sql.Tx
	store    *Store
	inserted bool // a ticket was created: the search index has work at commit
	// stmts are the prepared statements bound to this transaction, made on first use:
	// binding one for every statement run cost an allocation and a lock each time. The
	// transaction closes them when it ends.
	stmts [numWriteStmts]*sql.Stmt
	// numbers are the last ticket numbers by day handed out in this transaction, saved once
	// at its end (the transaction holds SQLite's write lock, so no one else can take one).
	numbers map[string]int64
}

func (t *tx) stmt(w writeStmt) *sql.Stmt {
	if t.stmts[w] == nil {
		t.stmts[w] = t.tx.StmtContext(t.ctx, t.store.stmts[w])
	}
	return t.stmts[w]
}

// The write statements are prepared once, at Open, on the writer's one connection, and
// reused by every transaction: parsing SQL again for each action cost more than running it.
type writeStmt int

const (
	stmtTicketByID writeStmt = iota
	stmtTicketByDedupKey
	stmtTicketByIdempotencyKey
	stmtOpenTicketByThreadKey
	stmtRecentlyClosed
	stmtEventByCommandID
	stmtLastNumber
	stmtSaveNumber
	stmtInsertDraftKey
	stmtDeleteDraftKey
	stmtInsertIdempotencyKey
	stmtDeleteIdempotencyKey
	stmtInsertTicket
	stmtUpdateTicket
	stmtDeleteTicket
	stmtInsertEvent
	stmtDeleteEvent
	stmtIndexNew
	stmtIndexedUpTo
	stmtTicketSearch
	stmtUnindexTicket
	stmtReindexTicket
	stmtUpdateDetails
	stmtPutRoutingDecision
	stmtSetRoundRobin
	stmtCountAssignment
	stmtPutEngineer
	stmtSetTimer
	stmtDeleteTimer
	stmtSetBoardDue
	stmtDeleteBoardDue
	stmtPutDevice
	stmtPutTracking
	stmtRevokeTracking
	stmtPutResolutionTime
	stmtPutCard
	stmtKPIFactsByID // the KPI facts: report.go
	stmtPutKPIFacts
	stmtPutKPIRating
	numWriteStmts
)

var writeQueries = [numWriteStmts]string{
	stmtTicketByID:             `SELECT body FROM tickets WHERE id = ?`,
	stmtTicketByDedupKey:       `SELECT ticket_id FROM draft_keys WHERE dedup_key = ?`,
	stmtTicketByIdempotencyKey: `SELECT ticket_id, source FROM idempotency_keys WHERE key = ?`,
	// See migrations/0003_intake.sql for the columns and their indexes.
	stmtOpenTicketByThreadKey: `SELECT id FROM tickets WHERE thread_key = ? ORDER BY pos DESC LIMIT 1`,
	// The newest of two index lookups, compared as "closed_at pos id" in fixed-width text: a
	// UNION with an ORDER BY opened a temporary B-tree (a pager of its own) for every intake.
	stmtRecentlyClosed: `SELECT max(
			coalesce((SELECT printf('%020d %020d %s', closed_at, pos, id) FROM tickets
				WHERE customer_key = ?1 AND category = ?3 AND closed_at BETWEEN ?4 AND ?5
				ORDER BY closed_at DESC, pos DESC LIMIT 1), ''),
			coalesce((SELECT printf('%020d %020d %s', closed_at, pos, id) FROM tickets
				WHERE device_id = ?2 AND closed_at BETWEEN ?4 AND ?5
				ORDER BY closed_at DESC, pos DESC LIMIT 1), ''))`,
	// See migrations/0010_command_ids.sql.
	stmtEventByCommandID: `SELECT id, body FROM events WHERE caller = ? AND caller_command_id = ?`,
	stmtLastNumber:       `SELECT last FROM ticket_numbers WHERE day = ?`,
	stmtSaveNumber: `INSERT INTO ticket_numbers (day, last) VALUES (?, ?)
		ON CONFLICT (day) DO UPDATE SET last = excluded.last`,
	stmtInsertDraftKey:       `INSERT INTO draft_keys (dedup_key, ticket_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
	stmtDeleteDraftKey:       `DELETE FROM draft_keys WHERE dedup_key = ?`,
	stmtInsertIdempotencyKey: `INSERT INTO idempotency_keys (key, ticket_id, source) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
	stmtDeleteIdempotencyKey: `DELETE FROM idempotency_keys WHERE key = ?`,
	stmtInsertTicket: `INSERT INTO tickets (id, state, version, urgency, assignee, team, thread_key, customer_key, device_id,
			category, closed_at, search, connector, tags, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	stmtUpdateTicket: `UPDATE tickets SET state = ?, version = ?, urgency = ?, assignee = ?, team = ?, thread_key = ?,
			closed_at = ?, tags = ?, body = ?
		WHERE id = ? AND version = ?`,
	stmtDeleteTicket: `DELETE FROM tickets WHERE id = ?`,
	// Not RETURNING id: SQLite buffers returned rows in a temporary B-tree, opened and
	// closed (a pager each time) for every event.
	stmtInsertEvent: `INSERT INTO events (ticket_id, seq, caller, caller_command_id, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	stmtDeleteEvent: `DELETE FROM events WHERE id = ?`,
	// A merge that filled a field the search covers: the old text out of the index, the new
	// one in (external content: FTS5 must be told the old values). Only for tickets already
	// indexed; indexNewTickets indexes the others at commit, with their text by then.
	stmtTicketSearch:  `SELECT search, customer_key, device_id, category, pos <= (SELECT last_pos FROM search_indexed) FROM tickets WHERE id = ?`,
	stmtUnindexTicket: `INSERT INTO ticket_search (ticket_search, rowid, search) SELECT 'delete', pos, ?2 FROM tickets WHERE id = ?1`,
	stmtReindexTicket: `INSERT INTO ticket_search (rowid, search) SELECT pos, search FROM tickets WHERE id = ?`,
	stmtUpdateDetails: `UPDATE tickets SET search = ?, customer_key = ?, device_id = ?, category = ? WHERE id = ?`,
	// See migrations/0002_search.sql.
	stmtIndexNew: `INSERT INTO ticket_search (rowid, search)
		SELECT pos, search FROM tickets WHERE pos > (SELECT last_pos FROM search_indexed)`,
	stmtIndexedUpTo: `UPDATE search_indexed SET last_pos = (SELECT max(pos) FROM tickets)
		WHERE last_pos < (SELECT max(pos) FROM tickets)`,
	// See migrations/0006_routing.sql.
	stmtPutRoutingDecision: `INSERT INTO routing_decisions (ticket_id, at, trigger, cause, manual, engineer, team, rule, failure, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stmtSetRoundRobin: `INSERT INTO routing_pointers (team, idx) VALUES (?, ?)
		ON CONFLICT (team) DO UPDATE SET idx = excluded.idx`,
	stmtCountAssignment: `INSERT INTO engineer_days (engineer, day, assigned) VALUES (?, ?, ?)
		ON CONFLICT (engineer, day) DO UPDATE SET assigned = assigned + excluded.assigned`,
	stmtPutEngineer: `INSERT INTO engineers (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
	stmtSetTimer: `INSERT INTO timers (ticket_id, kind, due) VALUES (?, ?, ?)
		ON CONFLICT (ticket_id, kind) DO UPDATE SET due = excluded.due`,
	stmtDeleteTimer: `DELETE FROM timers WHERE ticket_id = ? AND kind = ?`,
	// See migrations/0007_sla_board.sql and 0018_sla_board_filters.sql.
	stmtSetBoardDue: `INSERT INTO sla_board (ticket_id, due, team, policy) VALUES (?, ?, ?, ?)
		ON CONFLICT (ticket_id) DO UPDATE SET due = excluded.due, team = excluded.team, policy = excluded.policy`,
	stmtDeleteBoardDue: `DELETE FROM sla_board WHERE ticket_id = ?`,
	// See migrations/0008_devices.sql.
	stmtPutDevice: `INSERT INTO devices (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
	// See migrations/0011_tracking.sql.
	stmtPutTracking:    `INSERT INTO tracking (hash, ticket_id, generation) VALUES (?, ?, ?)`,
	stmtRevokeTracking: `UPDATE tracking SET revoked = 1 WHERE ticket_id = ?`,
	// See migrations/0015_resolution_times.sql.
	stmtPutResolutionTime: `INSERT INTO resolution_times (kind, resolved_at, ticket_id, seconds) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	// See migrations/0013_cards.sql.
	stmtPutCard: `INSERT INTO engineer_cards (engineer, key, kind, cause, ticket_id, at, expires_at, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
	// See report.go and migrations/0012_kpi.sql.
	stmtKPIFactsByID: queryKPIFactsByID,
	stmtPutKPIFacts:  queryPutKPIFacts,
	stmtPutKPIRating: queryPutKPIRating,
}

func (s *Store) prepare(ctx context.Context) error {
	for i, q := range writeQueries {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[i] = st
	}
	st, err := s.r.PrepareContext(ctx, `SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?`)
	if err != nil {
		return fmt.Errorf("prepare the events-after query: %w", err)
	}
	s.eventsAfter = st
	for i, q := range readQueries {
		if s.reads[i], err = s.r.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
	}
	return nil
}

func (t *tx) queryRow(w writeStmt, args ...any) *sql.Row {
	return t.stmt(w).QueryRowContext(t.ctx, args...)
}

func (t *tx) exec(w writeStmt, args ...any) (sql.Result, error) {
	return t.stmt(w).ExecContext(t.ctx, args...)
}

func (t *tx) Ticket(id string) (ticket.Ticket, error) {
	return scanTicket(t.queryRow(stmtTicketByID, id))
}

func (t *tx) TicketIDByDedupKey(key string) (string, error) {
	return scanString(t.queryRow(stmtTicketByDedupKey, key))
}

func (t *tx) TicketIDByIdempotencyKey(key string) (string, int, error) {
	var id string
	var source int
	err := t.queryRow(stmtTicketByIdempotencyKey, key).Scan(&id, &source)
	return id, source, notFound(err)
}

func (t *tx) OpenTicketIDByThreadKey(key string) (string, error) {
	return scanString(t.queryRow(stmtOpenTicketByThreadKey, key))
}

func (t *tx) RecentlyClosed(q store.RepeatQuery) (string, error) {
	if q.DeviceID == "" && (q.CustomerKey == "" || q.Category == "") {
		return "", store.ErrNotFound
	}
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.ClosedFrom.IsZero() {
		from = q.ClosedFrom.UnixNano()
	}
	if !q.ClosedTo.IsZero() {
		to = q.ClosedTo.UnixNano()
	}
	newest, err := scanString(t.queryRow(stmtRecentlyClosed, nullable(q.CustomerKey), nullable(q.DeviceID), q.Category, from, to))
	if err != nil {
		return "", err
	}
	// "closed_at pos id"; closed_at is never negative (a time after 1970), so the widths hold.
	const idAt = 20 + 1 + 20 + 1
	if len(newest) <= idAt {
		return "", store.ErrNotFound
	}
	return newest[idAt:], nil
}

func (t *tx) EventByCommandID(actorID, commandID string) (ticket.Event, error) {
	if commandID == "" {
		return ticket.Event{}, store.ErrNotFound // no command id is none, never found
	}
	var id int64
	var body []byte
	err := t.queryRow(stmtEventByCommandID, actorID, commandID).Scan(&id, &body)
	if err != nil {
		return ticket.Event{}, notFound(err)
	}
	return decodeEvent(id, body)
}

// NextNumber reads the day's last number once per transaction and counts on from it in
// memory; saveNumbers writes the last one back before the commit. A number taken by a write
// that is undone stays taken, as it would with a statement per number.
func (t *tx) NextNumber(day string) (int64, error) {
	n, ok := t.numbers[day]
	if !ok {
		err := t.queryRow(stmtLastNumber, day).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		if t.numbers == nil {
			t.numbers = map[string]int64{}
		}
	}
	n++
	t.numbers[day] = n
	return n, nil
}

func (t *tx) saveNumbers() error {
	for day, n := range t.numbers {
		if _, err := t.exec(stmtSaveNumber, day, n); err != nil {
			return err
		}
	}
	return nil
}

// Insert, Append and Merge detect every conflict before they change anything that stays; if
// a later statement fails, they undo what they wrote, so the transaction can go on (a conflict
// in one request must not spoil its batch) without the cost of a savepoint.

func (t *tx) Insert(tk ticket.Ticket, created ticket.Event, idempotencyKey string, more ...*ticket.Event) (int64, error) {
	return t.insert(tk, created, idempotencyKey, more)
}

func (t *tx) Append(tk ticket.Ticket, ev ticket.Event) (int64, error) {
	id, err := t.append(tk, ev)
	if err != nil {
		return 0, err
	}
	switch ev.Action {
	case ticket.ActionAssign, ticket.ActionRoutingFailed:
		// A routing rule's set (category, urgency) comes with these: keep the search text and
		// the category column with the ticket.
		if err := t.updateDetails(tk); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func (t *tx) Merge(tk ticket.Ticket, ev ticket.Event, keys store.DraftKeys) (int64, error) {
	if len(tk.Sources) < 2 {
		return 0, fmt.Errorf("merge %s#%d: the ticket has no merged source", ev.TicketID, ev.Seq)
	}
	undo, err := t.claimKeys(tk.ID, keys, len(tk.Sources)-1)
	if err != nil {
		return 0, err
	}
	id, err := t.append(tk, ev)
	if err != nil {
		return 0, t.undo(err, undo...)
	}
	if err := t.updateDetails(tk); err != nil {
		return 0, err // the transaction fails: undo is for conflicts, this is a store failure
	}
	return id, nil
}

// updateDetails keeps the searchable text and the intake columns of tk up to date after a
// merge filled what it lacked (ticket.AddSource); it writes nothing when nothing changed.
func (t *tx) updateDetails(tk ticket.Ticket) error {
	var oldSearch string
	var customerKey, deviceID, category sql.NullString
	var indexed bool
	if err := t.queryRow(stmtTicketSearch, tk.ID).Scan(&oldSearch, &customerKey, &deviceID, &category, &indexed); err != nil {
		return fmt.Errorf("merge %s: %w", tk.ID, err)
	}
	c := columnsOf(tk)
	search := store.SearchText(tk)
	if search == oldSearch && same(customerKey, c.customerKey) && same(deviceID, c.deviceID) && same(category, c.category) {
		return nil
	}
	reindex := indexed && search != oldSearch
	if reindex {
		if _, err := t.exec(stmtUnindexTicket, tk.ID, oldSearch); err != nil {
			return err
		}
	}
	if _, err := t.exec(stmtUpdateDetails, search, c.customerKey, c.deviceID, c.category, tk.ID); err != nil {
		return err
	}
	if reindex {
		if _, err := t.exec(stmtReindexTicket, tk.ID); err != nil {
			return err
		}
	}
	return nil
}

// same reports whether a column read equals the value columnsOf would write (nil: NULL).
func same(col sql.NullString, v any) bool {
	s, ok := v.(string)
	if v == nil {
		return !col.Valid
	}
	return ok && col.Valid && col.String == s
}

// undoStep is a compensating statement.
type undoStep struct {
	stmt writeStmt
	args []any
}

// claimKeys records the keys of a draft that went into ticket id as its source-th source. On a
// conflict it writes nothing; else it returns the steps that take the keys back.
func (t *tx) claimKeys(id string, keys store.DraftKeys, source int) ([]undoStep, error) {
	var undo []undoStep
	if keys.DedupKey != "" {
		res, err := t.exec(stmtInsertDraftKey, keys.DedupKey, id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, fmt.Errorf("%w: dedup key %q is taken", store.ErrConflict, keys.DedupKey)
		}
		undo = append(undo, undoStep{stmtDeleteDraftKey, []any{keys.DedupKey}})
	}
	if keys.IdempotencyKey != "" {
		res, err := t.exec(stmtInsertIdempotencyKey, keys.IdempotencyKey, id, source)
		if err != nil {
			return nil, t.undo(err, undo...)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, t.undo(fmt.Errorf("%w: the idempotency key is taken", store.ErrConflict), undo...)
		}
		undo = append(undo, undoStep{stmtDeleteIdempotencyKey, []any{keys.IdempotencyKey}})
	}
	return undo, nil
}

func (t *tx) insert(tk ticket.Ticket, created ticket.Event, idempotencyKey string, more []*ticket.Event) (int64, error) {
	last := created.Seq
	for _, ev := range more {
		if ev.TicketID != tk.ID || ev.Seq != last+1 {
			return 0, fmt.Errorf("insert %s: event %s#%d does not follow #%d", tk.ID, ev.TicketID, ev.Seq, last)
		}
		last = ev.Seq
	}
	if tk.Version != last {
		return 0, fmt.Errorf("insert %s: ticket is at version %d, its last event is #%d", tk.ID, tk.Version, last)
	}
	body, err := json.Marshal(tk)
	if err != nil {
		return 0, err
	}
	undo, err := t.claimKeys(tk.ID, store.DraftKeys{DedupKey: tk.DedupKey, IdempotencyKey: idempotencyKey}, 0)
	if err != nil {
		return 0, err
	}
	c := columnsOf(tk)
	res, err := t.exec(stmtInsertTicket, tk.ID, tk.State, tk.Version, tk.Urgency, tk.Assignee, tk.Team,
		c.threadKey, c.customerKey, c.deviceID, c.category, c.closedAt, store.SearchText(tk), c.connector, c.tags, body)
	if err != nil {
		return 0, t.undo(err, undo...)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, t.undo(fmt.Errorf("%w: ticket %s exists", store.ErrConflict, tk.ID), undo...)
	}
	undo = append(undo, undoStep{stmtDeleteTicket, []any{tk.ID}})
	id, err := t.insertEvent(created)
	if err != nil {
		return 0, t.undo(err, undo...)
	}
	undo = append(undo, undoStep{stmtDeleteEvent, []any{id}})
	for _, ev := range more {
		evID, err := t.insertEvent(*ev)
		if err != nil {
			return 0, t.undo(err, undo...)
		}
		undo = append(undo, undoStep{stmtDeleteEvent, []any{evID}})
		ev.ID = evID
	}
	t.inserted = true
	return id, nil
}

// undo runs compensating statements after a failed write, the last first, and returns the
// write's error.
func (t *tx) undo(err error, steps ...undoStep) error {
	for i := len(steps) - 1; i >= 0; i-- {
		if _, uerr := t.exec(steps[i].stmt, steps[i].args...); uerr != nil {
			// Not a conflict any more: the transaction holds a half-done write and must not
			// commit, so the error no longer wraps ErrConflict.
			return fmt.Errorf("%s; undoing it failed: %w", err.Error(), uerr)
		}
	}
	return err
}

// columns are what the ticket row keeps beside the body for finding it at intake (see
// migrations/0003_intake.sql; NULL when empty) and for the queue's filters (0019_queue.sql).
type columns struct {
	threadKey, customerKey, deviceID, category, closedAt any
	connector, tags                                      string
}

func columnsOf(tk ticket.Ticket) columns {
	c := columns{
		customerKey: nullable(ticket.CustomerKey(tk.Customer)),
		deviceID:    nullable(tk.Device.ID),
		category:    nullable(tk.Category),
		tags:        "[]",
	}
	if len(tk.Sources) > 0 {
		c.connector = tk.Sources[0].Source.Connector
	}
	if len(tk.Tags) > 0 {
		// the triggers of 0019_queue.sql re-index the tags when this text changes
		if b, err := json.Marshal(tk.Tags); err == nil {
			c.tags = string(b)
		}
	}
	if tk.State.Open() {
		c.threadKey = nullable(tk.ThreadKey)
	}
	if !tk.ClosedAt.IsZero() {
		c.closedAt = tk.ClosedAt.UnixNano()
	}
	return c
}

func (t *tx) append(tk ticket.Ticket, ev ticket.Event) (int64, error) {
	if tk.Version != ev.Seq {
		return 0, fmt.Errorf("append %s#%d: ticket is at version %d", ev.TicketID, ev.Seq, tk.Version)
	}
	id, err := t.insertEvent(ev)
	if err != nil {
		return 0, err
	}
	undo := undoStep{stmtDeleteEvent, []any{id}}
	body, err := json.Marshal(tk)
	if err != nil {
		return 0, t.undo(err, undo)
	}
	c := columnsOf(tk)
	res, err := t.exec(stmtUpdateTicket,
		tk.State, tk.Version, tk.Urgency, tk.Assignee, tk.Team, c.threadKey, c.closedAt, c.tags, body, tk.ID, ev.Seq-1)
	if err != nil {
		return 0, t.undo(err, undo)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// The event took seq ev.Seq, so nobody else can have moved the row: it is missing or
		// out of step with its log. Abort rather than write over it.
		return 0, t.undo(fmt.Errorf("append %s#%d: ticket row is not at version %d", ev.TicketID, ev.Seq, ev.Seq-1), undo)
	}
	return id, nil
}

func (t *tx) insertEvent(ev ticket.Event) (int64, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	// The caller is kept only with a command id: it is what the id is unique within.
	var caller any
	if ev.CommandID != "" {
		caller = ev.Actor.ID
	}
	res, err := t.exec(stmtInsertEvent, ev.TicketID, ev.Seq, caller, nullable(ev.CommandID), body)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		return 0, fmt.Errorf("%w: event %s#%d, or %s's command id %q, exists", store.ErrConflict, ev.TicketID, ev.Seq, ev.Actor.ID, ev.CommandID)
	}
	return res.LastInsertId()
}

// Ticket reads one ticket.
func (s *Store) Ticket(ctx context.Context, id string) (ticket.Ticket, error) {
	return scanTicket(s.reads[readTicket].QueryRowContext(ctx, id))
}

// List reads one page, newest first using the (column, pos) indexes, or nearest due first
// walking the SLA board's due index (the board holds only tickets with a running clock, so
// it stays small however many tickets are stored). Every page carries the due times of its
// tickets, looked up by key.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	query, args, err := listSQL(q, limit)
	if err != nil {
		return store.Page{}, err
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Page{}, err
	}
	defer rows.Close()
	page := store.Page{Tickets: make([]ticket.Ticket, 0, limit)}
	var last int64
	var lastDue time.Time
	var lastID string
	for rows.Next() {
		if len(page.Tickets) == limit {
			if q.Sort == store.SortDue {
				page.NextCursor = store.EncodeDueCursor(lastDue, lastID)
			} else {
				page.NextCursor = store.EncodeCursor(last)
			}
			break
		}
		var body []byte
		var due sql.NullString
		if err := rows.Scan(&last, &body, &due, &lastID); err != nil {
			return store.Page{}, err
		}
		var tk ticket.Ticket
		if err := json.Unmarshal(body, &tk); err != nil {
			return store.Page{}, fmt.Errorf("ticket at %d: %w", last, err)
		}
		if due.Valid {
			at, err := time.Parse(time.RFC3339Nano, due.String)
			if err != nil {
				return store.Page{}, fmt.Errorf("ticket %s's due time: %w", tk.ID, err)
			}
			if page.Due == nil {
				page.Due = map[string]time.Time{}
			}
			page.Due[tk.ID], lastDue = at, at
		}
		page.Tickets = append(page.Tickets, tk)
	}
	return page, rows.Err()
}

// listSQL is the query of a List page of limit tickets (and one more, to know whether there
// are more), with its arguments. list_plan_test.go checks that each filter and order uses
// an index.
func listSQL(q store.Query, limit int) (string, []any, error) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	states := make([]string, len(q.States))
	for i, st := range q.States {
		states[i] = string(st)
	}
	// Once each: a state asked twice would be two pages of the same tickets below.
	slices.Sort(states)
	states = slices.Compact(states)
	in("t.assignee", q.Assignees)
	in("t.team", q.Teams)
	in("t.urgency", q.Urgencies)
	in("t.connector", q.Connectors)
	if q.Q != "" {
		if utf8.RuneCountInString(q.Q) >= 3 {
			// the trigram index; the phrase is quoted so the text is matched literally
			where = append(where, `t.pos IN (SELECT rowid FROM ticket_search WHERE ticket_search MATCH ?)`)
			args = append(args, `"`+strings.ReplaceAll(q.Q, `"`, `""`)+`"`)
		} else {
			// too short for trigrams: scan, newest first, until the page is full; LIKE is
			// case-insensitive for ASCII, as the trigram index is
			where = append(where, `t.search LIKE ? ESCAPE '\'`)
			args = append(args, "%"+likeEscaper.Replace(q.Q)+"%")
		}
	}
	if q.Customer != "" {
		where = append(where, "t.customer_key = ?")
		args = append(args, q.Customer)
	}
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch q.SLA {
	case "":
	case store.SLABreached:
		where = append(where, "b.due < ?")
		args = append(args, formatSortable(now))
	case store.SLAAtRisk:
		where = append(where, "b.due >= ? AND b.due < ?")
		args = append(args, formatSortable(now), formatSortable(now.Add(store.AtRiskWithin)))
	case store.SLAOnTime:
		where = append(where, "b.due >= ?")
		args = append(args, formatSortable(now.Add(store.AtRiskWithin)))
	case store.SLANone:
		where = append(where, "b.due IS NULL")
	default:
		return "", nil, fmt.Errorf("unknown SLA status %q", q.SLA)
	}
	var from, order string
	tags := q.Tags
	switch q.Sort {
	case "", store.SortNewest:
		// A status with a clock (breached, at risk, on time) needs a board row: the tickets
		// stay the outer loop (CROSS JOIN), walked newest first and each looked up in the
		// board, stopping at the page's end. Left to itself SQLite drove from the board's
		// due range and sorted it: 333,000 positions, 0.8 s, over a million tickets.
		board := "LEFT JOIN"
		if q.SLA != "" && q.SLA != store.SLANone {
			board = "CROSS JOIN"
		}
		from, order = `SELECT t.pos FROM tickets t `+board+` sla_board b ON b.ticket_id = t.id`, "t.pos DESC"
		posCol := "t.pos"
		if len(tags) > 0 {
			// The first tag drives: its (tag, pos) key walked newest first, stopping at the
			// page's end. As an IN (subquery) it was read whole first, every ticket with the
			// tag, and then each looked up in another filter's index.
			from, order, posCol = `SELECT g.pos FROM ticket_tags g CROSS JOIN tickets t ON t.pos = g.pos
				`+board+` sla_board b ON b.ticket_id = t.id`, "g.pos DESC", "g.pos"
			where = append(where, "g.tag = ?")
			args = append(args, tags[0])
			tags = tags[1:]
		}
		if q.Cursor != "" {
			pos, err := store.DecodeCursor(q.Cursor)
			if err != nil {
				return "", nil, err
			}
			where = append(where, posCol+" < ?")
			args = append(args, pos)
		}
	case store.SortDue:
		// The board drives (CROSS JOIN keeps it the outer loop), in the order of its
		// (due, ticket_id) index: no sort, and a cursor of (due, id) is a seek in it.
		from, order = `SELECT t.pos, t.body, b.due, t.id FROM sla_board b CROSS JOIN tickets t ON t.id = b.ticket_id`, "b.due, b.ticket_id"
		if q.Cursor != "" {
			due, id, err := store.DecodeDueCursor(q.Cursor)
			if err != nil {
				return "", nil, err
			}
			where = append(where, "(b.due, b.ticket_id) > (?, ?)")
			args = append(args, formatSortable(due), id)
		}
	default:
		return "", nil, fmt.Errorf("unknown sort %q (newest or due)", q.Sort)
	}
	for _, tag := range tags {
		where = append(where, `EXISTS (SELECT 1 FROM ticket_tags WHERE tag = ? AND pos = t.pos)`)
		args = append(args, tag)
	}
	page := func(where []string, args []any) (string, []any) {
		query := from
		if len(where) > 0 {
			query += " WHERE " + strings.Join(where, " AND ")
		}
		return query + " ORDER BY " + order + " LIMIT ?", append(args, limit+1)
	}
	if q.Sort == store.SortDue {
		in("t.state", states)
		query, args := page(where, args)
		return query, args, nil
	}
	var query string
	if len(states) > 1 && len(q.Tags) == 0 {
		// Several states: a page newest first of each, walking its (state, pos) index and
		// stopping at the page's end, merged. As one IN, SQLite read every ticket in those
		// states and sorted them all (states are few, tickets in them many: closed ones).
		var parts []string
		var all []any
		for _, st := range states {
			sub, subArgs := page(append(slices.Clip(where), "t.state = ?"), append(slices.Clip(args), st))
			parts = append(parts, "SELECT pos FROM ("+sub+")")
			all = append(all, subArgs...)
		}
		query, args = strings.Join(parts, " UNION ALL ")+" ORDER BY pos DESC LIMIT ?", append(all, limit+1)
	} else {
		in("t.state", states)
		query, args = page(where, args)
	}
	// The page's positions first, then their rows: where the filter must sort (an SLA status
	// sorts the board's entries in its range), it sorts positions, not the tickets' bodies.
	query = `SELECT t.pos, t.body, b.due, t.id FROM tickets t LEFT JOIN sla_board b ON b.ticket_id = t.id
		WHERE t.pos IN (` + query + `) ORDER BY t.pos DESC`
	return query, args, nil
}

// Events reads a ticket's audit trail.
func (s *Store) Events(ctx context.Context, ticketID string) ([]ticket.Event, error) {
	rows, err := s.reads[readEvents].QueryContext(ctx, ticketID)
	evs, err := scanAll(rows, err, scanEvent)
	if err == nil && len(evs) == 0 {
		return nil, fmt.Errorf("ticket %s: %w", ticketID, store.ErrNotFound)
	}
	return evs, err
}

// EventsAfter reads the global feed.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]ticket.Event, error) {
	rows, err := s.eventsAfter.QueryContext(ctx, after, limit)
	return scanAll(rows, err, scanEvent)
}

// scanEvent reads an event of (id, body).
func scanEvent(rows *sql.Rows) (ticket.Event, error) {
	var id int64
	var body []byte
	if err := rows.Scan(&id, &body); err != nil {
		return ticket.Event{}, err
	}
	return decodeEvent(id, body)
}

// CountByState counts with the state index.
func (s *Store) CountByState(ctx context.Context) (map[ticket.State]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, count(*) FROM tickets GROUP BY state`)
	return scanMap[ticket.State, int64](rows, err)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func scanTicket(row *sql.Row) (ticket.Ticket, error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		return ticket.Ticket{}, notFound(err)
	}
	var tk ticket.Ticket
	err := json.Unmarshal(body, &tk)
	return tk, err
}

func scanString(row *sql.Row) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, notFound(err)
}

func decodeEvent(id int64, body []byte) (ticket.Event, error) {
	var ev ticket.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("event %d: %w", id, err)
	}
	ev.ID = id
	return ev, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var _ store.Store = (*Store)(nil)
