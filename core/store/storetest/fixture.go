package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// The day every ticket of the suite is created on, in the configured timezone (Asia/Shanghai
// has no DST, so a fixed zone is the same thing). The nanoseconds and the offset make a store
// that loses precision or the zone fail the round trip.
var (
	shanghai = time.FixedZone("CST", 8*3600)
	start    = time.Date(2026, 11, 23, 9, 0, 0, 123456789, shanghai)
	dayKey   = start.Format("20060102")
)

// fixture is one fresh store and a model of what it must hold: every ticket and event a
// committed Write stored through a writer. When the test ends, the store is checked against
// the model and every ticket row against the fold of its events.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context

	mu      sync.Mutex
	now     time.Time
	tickets map[string]ticket.Ticket
	events  map[string]map[int64]ticket.Event // by ticket id, then seq
	order   []string                          // ticket ids in the order they were created
}

func newFixture(t *testing.T, open func(t *testing.T) store.Store) *fixture {
	t.Helper()
	s := open(t)
	require.NotNil(t, s, "open returned a nil store")
	f := &fixture{
		t:       t,
		s:       s,
		ctx:     context.Background(), // not t.Context(): the checks run in Cleanup, after it is cancelled
		now:     start,
		tickets: map[string]ticket.Ticket{},
		events:  map[string]map[int64]ticket.Event{},
	}
	// Cleanups run last first: verify, then Close.
	t.Cleanup(func() { assert.NoError(t, s.Close(), "Close") })
	t.Cleanup(f.verify)
	return f
}

// tick returns the next instant of the suite's clock; every call is later than the last.
func (f *fixture) tick() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Minute + time.Nanosecond)
	return f.now
}

// write runs fn in one store Write and, when it commits, adds what fn stored to the model.
func (f *fixture) write(fn func(w *writer) error) error {
	var w *writer
	err := f.s.Write(f.ctx, func(tx store.Tx) error {
		w = &writer{f: f, tx: tx, tickets: map[string]ticket.Ticket{}}
		return fn(w)
	})
	if err == nil && w != nil {
		f.commit(w)
	}
	return err
}

func (f *fixture) commit(w *writer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.order = append(f.order, w.created...)
	for id, tk := range w.tickets {
		if old, ok := f.tickets[id]; !ok || tk.Version > old.Version {
			f.tickets[id] = tk
		}
	}
	for _, ev := range w.events {
		bySeq := f.events[ev.TicketID]
		if bySeq == nil {
			bySeq = map[int64]ticket.Event{}
			f.events[ev.TicketID] = bySeq
		}
		if old, dup := bySeq[ev.Seq]; dup {
			f.t.Errorf("two committed Writes both stored %s#%d (event ids %d and %d): one of them was lost",
				ev.TicketID, ev.Seq, old.ID, ev.ID)
		}
		bySeq[ev.Seq] = ev
	}
}

// want returns the model's ticket and its events, oldest first.
func (f *fixture) want(id string) (ticket.Ticket, []ticket.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bySeq := f.events[id]
	evs := make([]ticket.Event, 0, len(bySeq))
	for _, seq := range slices.Sorted(maps.Keys(bySeq)) {
		evs = append(evs, bySeq[seq])
	}
	return f.tickets[id], evs
}

// newestFirst returns the model's tickets, most recently created first.
func (f *fixture) newestFirst() []ticket.Ticket {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ticket.Ticket, 0, len(f.order))
	for i := len(f.order) - 1; i >= 0; i-- {
		out = append(out, f.tickets[f.order[i]])
	}
	return out
}

// verify checks the store against the model: each ticket and its events read back as
// written, each ticket row is the fold of its events, and there is nothing else.
func (f *fixture) verify() {
	t := f.t
	if t.Failed() {
		return // the test has said what is wrong; a second account of it only adds noise
	}
	f.mu.Lock()
	ids := slices.Sorted(maps.Keys(f.tickets))
	f.mu.Unlock()
	total := 0
	for _, id := range ids {
		want, wantEvents := f.want(id)
		total += len(wantEvents)
		got, err := f.s.Ticket(f.ctx, id)
		if !assert.NoError(t, err, "Ticket(%s)", id) {
			continue
		}
		assertSameJSON(t, want, got, "Ticket(%s) is not the ticket that was written", id)
		evs, err := f.s.Events(f.ctx, id)
		if !assert.NoError(t, err, "Events(%s)", id) {
			continue
		}
		assertSameJSON(t, wantEvents, evs, "Events(%s) are not the events that were written", id)
		folded, err := ticket.Fold(evs)
		if assert.NoError(t, err, "Fold(Events(%s))", id) {
			assertSameJSON(t, folded, got, "the row of %s is not the fold of its events", id)
		}
	}
	var listed []string
	for _, tk := range listAll(t, f, store.Query{Limit: store.MaxLimit}) {
		listed = append(listed, tk.ID)
	}
	slices.Sort(listed)
	assert.Equal(t, ids, listed, "List shows tickets other than those written")
	all := allEvents(t, f)
	assert.Len(t, all, total, "EventsAfter holds events other than those written")
}

// writer wraps a Tx and records what succeeds, for the fixture's model.
type writer struct {
	f       *fixture
	tx      store.Tx
	tickets map[string]ticket.Ticket
	events  []ticket.Event
	created []string
}

// Insert is tx.Insert, recorded when it succeeds.
func (w *writer) Insert(tk ticket.Ticket, created ticket.Event, idempotencyKey string) (int64, error) {
	id, err := w.tx.Insert(tk, created, idempotencyKey)
	if err != nil {
		return 0, err
	}
	created.ID = id
	w.tickets[tk.ID] = tk
	w.events = append(w.events, created)
	w.created = append(w.created, tk.ID)
	return id, nil
}

// Append is tx.Append, recorded when it succeeds.
func (w *writer) Append(tk ticket.Ticket, ev ticket.Event) (int64, error) {
	id, err := w.tx.Append(tk, ev)
	if err != nil {
		return 0, err
	}
	ev.ID = id
	if old, ok := w.tickets[tk.ID]; !ok || tk.Version > old.Version {
		w.tickets[tk.ID] = tk
	}
	w.events = append(w.events, ev)
	return id, nil
}

// Merge is tx.Merge, recorded when it succeeds.
func (w *writer) Merge(tk ticket.Ticket, ev ticket.Event, keys store.DraftKeys) (int64, error) {
	id, err := w.tx.Merge(tk, ev, keys)
	if err != nil {
		return 0, err
	}
	ev.ID = id
	if old, ok := w.tickets[tk.ID]; !ok || tk.Version > old.Version {
		w.tickets[tk.ID] = tk
	}
	w.events = append(w.events, ev)
	return id, nil
}

// merge does what the engine does for a draft of an open ticket's thread: read the ticket
// in the transaction, ticket.AddSource, Apply, Merge with the draft's keys.
func (w *writer) merge(id string, d draft.Draft, idempotencyKey string) (ticket.Ticket, ticket.Event, error) {
	tk, err := w.tx.Ticket(id)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("Tx.Ticket(%s): %w", id, err)
	}
	ev, err := ticket.AddSource(tk, d, system, w.f.tick(), "")
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("storetest: AddSource to %s: %w", id, err)
	}
	next, err := ticket.Apply(tk, ev)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("storetest: Apply source_added to %s: %w", id, err)
	}
	ev.ID, err = w.Merge(next, ev, store.DraftKeys{DedupKey: d.DedupKey, IdempotencyKey: idempotencyKey})
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("Merge %s#%d: %w", ev.TicketID, ev.Seq, err)
	}
	return next, ev, nil
}

// create does what the engine does for a new draft: take the day's next number, build the
// creation event with ticket.Create, fold it, and Insert both.
func (w *writer) create(d draft.Draft, idempotencyKey, commandID string) (ticket.Ticket, ticket.Event, error) {
	n, err := w.tx.NextNumber(dayKey)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("NextNumber(%s): %w", dayKey, err)
	}
	ev, tk := build(ticket.FormatID(start, n), d, commandID, w.f.tick())
	ev.ID, err = w.Insert(tk, ev, idempotencyKey)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("Insert %s: %w", tk.ID, err)
	}
	return tk, ev, nil
}

// build makes the creation event of a ticket and the ticket it creates.
func build(id string, d draft.Draft, commandID string, at time.Time) (ticket.Event, ticket.Ticket) {
	ev, err := ticket.Create(id, d, "", agent, at, commandID)
	if err != nil {
		panic(fmt.Sprintf("storetest: a draft of the suite is invalid: %v", err))
	}
	tk, err := ticket.Apply(ticket.Ticket{}, ev)
	if err != nil {
		panic(fmt.Sprintf("storetest: cannot fold a creation event: %v", err))
	}
	return ev, tk
}

// act does what the engine does for a command: read the ticket in the transaction, Decide,
// Apply, Append.
func (w *writer) act(id string, cmd ticket.Command) (ticket.Ticket, ticket.Event, error) {
	tk, err := w.tx.Ticket(id)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("Tx.Ticket(%s): %w", id, err)
	}
	next, ev, err := decide(tk, cmd, w.f.tick())
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, err
	}
	ev.ID, err = w.Append(next, ev)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("Append %s#%d: %w", ev.TicketID, ev.Seq, err)
	}
	return next, ev, nil
}

// decide returns the event cmd appends to tk and the ticket after it.
func decide(tk ticket.Ticket, cmd ticket.Command, at time.Time) (ticket.Ticket, ticket.Event, error) {
	cmd.TicketID = tk.ID
	ev, err := ticket.Decide(tk, cmd, at)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("storetest: Decide %s on %s: %w", cmd.Action, tk.ID, err)
	}
	next, err := ticket.Apply(tk, ev)
	if err != nil {
		return ticket.Ticket{}, ticket.Event{}, fmt.Errorf("storetest: Apply %s to %s: %w", cmd.Action, tk.ID, err)
	}
	return next, ev, nil
}

// mustCreate creates tickets from drafts in one Write and fails the test if that fails.
func (f *fixture) mustCreate(drafts ...draft.Draft) []ticket.Ticket {
	f.t.Helper()
	var out []ticket.Ticket
	require.NoError(f.t, f.write(func(w *writer) error {
		out = out[:0]
		for _, d := range drafts {
			tk, _, err := w.create(d, "", "")
			if err != nil {
				return err
			}
			out = append(out, tk)
		}
		return nil
	}))
	return out
}

// mustAct runs commands on a ticket in one Write and returns the ticket after the last.
func (f *fixture) mustAct(id string, cmds ...ticket.Command) ticket.Ticket {
	f.t.Helper()
	var tk ticket.Ticket
	require.NoError(f.t, f.write(func(w *writer) error {
		for _, cmd := range cmds {
			var err error
			if tk, _, err = w.act(id, cmd); err != nil {
				return err
			}
		}
		return nil
	}))
	return tk
}

// listAll pages through List and returns every ticket.
func listAll(t *testing.T, f *fixture, q store.Query) []ticket.Ticket {
	t.Helper()
	var out []ticket.Ticket
	for _, page := range listPages(t, f, q) {
		out = append(out, page...)
	}
	return out
}

// listPages pages through List, checking the paging on the way: no page is larger than
// asked, no page after the first is empty, the cursor moves on.
func listPages(t *testing.T, f *fixture, q store.Query) [][]ticket.Ticket {
	t.Helper()
	var pages [][]ticket.Ticket
	for {
		page, err := f.s.List(f.ctx, q)
		require.NoError(t, err, "List(%+v)", q)
		if q.Limit > 0 {
			require.LessOrEqual(t, len(page.Tickets), q.Limit, "List(%+v) returned more than Limit", q)
		}
		if q.Cursor != "" {
			require.NotEmpty(t, page.Tickets, "List(%+v): a non-empty NextCursor led to an empty page", q)
		}
		pages = append(pages, page.Tickets)
		if page.NextCursor == "" {
			return pages
		}
		require.NotEqual(t, q.Cursor, page.NextCursor, "List(%+v): NextCursor does not move on", q)
		require.Less(t, len(pages), 100000, "List keeps returning a NextCursor")
		q.Cursor = page.NextCursor
	}
}

// allEvents reads the whole feed through EventsAfter, checking that IDs strictly increase.
func allEvents(t *testing.T, f *fixture) []ticket.Event {
	t.Helper()
	var out []ticket.Event
	var after int64
	for {
		evs, err := f.s.EventsAfter(f.ctx, after, 1000)
		require.NoError(t, err, "EventsAfter(%d, 1000)", after)
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			require.Greater(t, ev.ID, after, "EventsAfter: event ids must strictly increase")
			after = ev.ID
		}
		out = append(out, evs...)
	}
}

// assertSameJSON compares two values as JSON, the form they are served in: times compare
// with their offset and nanoseconds, and a raw JSON field compares by meaning.
func assertSameJSON(t testing.TB, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	w, err := json.Marshal(want)
	if !assert.NoError(t, err) {
		return false
	}
	g, err := json.Marshal(got)
	if !assert.NoError(t, err) {
		return false
	}
	return assert.JSONEq(t, string(w), string(g), msgAndArgs...)
}

func ids(tks []ticket.Ticket) []string {
	out := make([]string, len(tks))
	for i, tk := range tks {
		out[i] = tk.ID
	}
	return out
}
