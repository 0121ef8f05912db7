package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/store/storetest"
	"gongdan/core/ticket"
	"gongdan/draft"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gongdan.db"))
		require.NoError(t, err)
		return s
	})
}

// TestReopen: a second Open of the same file, beside the first and after it was closed,
// finds the data and applies no migration again.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	now := time.Date(2026, 11, 23, 9, 30, 0, 987654321, time.FixedZone("CST", 8*3600))

	first, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	var tk ticket.Ticket
	var evs []ticket.Event
	require.NoError(t, first.Write(ctx, func(tx store.Tx) error {
		n, err := tx.NextNumber("20261123")
		if err != nil {
			return err
		}
		created, err := ticket.Create(ticket.FormatID(now, n), draft.Draft{Title: "3号线急停按钮失灵", DedupKey: "dk-1",
			Urgency: draft.UrgencyRed, Customer: draft.Customer{Name: "王建国", Phone: "13812345678"}}, "",
			ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}, now, "cmd-1")
		if err != nil {
			return err
		}
		if tk, err = ticket.Apply(ticket.Ticket{}, created); err != nil {
			return err
		}
		if created.ID, err = tx.Insert(tk, created, "idem-1"); err != nil {
			return err
		}
		assigned, err := ticket.Decide(tk, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign,
			Actor: ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}, Data: json.RawMessage(`{"assignee":"eng-li"}`)}, now.Add(time.Minute))
		if err != nil {
			return err
		}
		if tk, err = ticket.Apply(tk, assigned); err != nil {
			return err
		}
		if assigned.ID, err = tx.Append(tk, assigned); err != nil {
			return err
		}
		evs = []ticket.Event{created, assigned}
		return nil
	}))
	applied := migrations(t, path)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	require.Len(t, applied, len(files), "schema_migrations after the first Open: one row per migration")

	reads := func(s *sqlite.Store, which string) {
		t.Helper()
		got, err := s.Ticket(ctx, tk.ID)
		require.NoError(t, err, "%s: Ticket", which)
		sameJSON(t, tk, got, "%s: Ticket", which)
		gotEvs, err := s.Events(ctx, tk.ID)
		require.NoError(t, err, "%s: Events", which)
		sameJSON(t, evs, gotEvs, "%s: Events", which)
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			id, err := tx.TicketIDByDedupKey("dk-1")
			assert.NoError(t, err)
			assert.Equal(t, tk.ID, id, "%s: dedup key", which)
			id, _, err = tx.TicketIDByIdempotencyKey("idem-1")
			assert.NoError(t, err)
			assert.Equal(t, tk.ID, id, "%s: idempotency key", which)
			return nil
		}))
	}
	nextNumber := func(s *sqlite.Store) int64 {
		t.Helper()
		var n int64
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.NextNumber("20261123")
			return err
		}))
		return n
	}

	second, err := sqlite.Open(ctx, path) // while the first is still open
	require.NoError(t, err, "a second Open beside the first")
	reads(second, "second Open")
	assert.Equal(t, int64(2), nextNumber(second), "the day's count survives an Open")
	assert.Equal(t, int64(3), nextNumber(first), "both stores share the count")
	require.NoError(t, second.Close())
	require.NoError(t, first.Close())

	third, err := sqlite.Open(ctx, path)
	require.NoError(t, err, "Open after Close")
	reads(third, "third Open")
	assert.Equal(t, int64(4), nextNumber(third), "the day's count survives Close")
	require.NoError(t, third.Close())

	assert.Equal(t, applied, migrations(t, path), "reopening must not apply migrations again")
}

// migrations reads schema_migrations straight from the file: version → applied_at.
func migrations(t *testing.T, path string) map[int]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT version, applied_at FROM schema_migrations`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v int
		var at string
		require.NoError(t, rows.Scan(&v, &at))
		out[v] = at
	}
	require.NoError(t, rows.Err())
	return out
}

// TestOpenUnwritablePath: an Open that cannot create or open the file fails, and says which
// file.
func TestOpenUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("not a directory"), 0o600))
	cases := map[string]string{
		"parent is a file":      filepath.Join(file, "gongdan.db"),
		"parent does not exist": filepath.Join(dir, "missing", "gongdan.db"),
		"path is a directory":   dir,
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "read-only")
		require.NoError(t, os.Mkdir(ro, 0o500))
		cases["directory is read-only"] = filepath.Join(ro, "gongdan.db")
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), path)
			if s != nil {
				s.Close()
			}
			require.Error(t, err, "Open(%s)", path)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), path, "the error must name the path")
		})
	}
}

// TestOpenPathTakenLiterally: the database is the file at the path given, whatever
// characters the path holds; Open builds a file: URI from it, where ?, # and % mean
// something.
func TestOpenPathTakenLiterally(t *testing.T) {
	for test, name := range map[string]string{"space": "a b", "hash": "a#b", "question": "a?b", "percent": "a%41b"} {
		t.Run(test, func(t *testing.T) { // the subtest's name is plain: it names its TempDir
			root := t.TempDir()
			dir := filepath.Join(root, name)
			require.NoError(t, os.Mkdir(dir, 0o755))
			path := filepath.Join(dir, "gongdan.db")
			s, err := sqlite.Open(t.Context(), path)
			require.NoError(t, err, "Open(%s)", path)
			require.NoError(t, s.Write(t.Context(), func(tx store.Tx) error {
				_, err := tx.NextNumber("20261123")
				return err
			}))
			require.NoError(t, s.Close())
			_, err = os.Stat(path)
			assert.NoError(t, err, "the database must be at %s", path)
			entries, err := os.ReadDir(root)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Equal(t, []string{name}, names, "Open(%s) must create nothing beside %s", path, dir)
		})
	}
}

func sameJSON(t *testing.T, want, got any, msgAndArgs ...any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g), msgAndArgs...)
}

// TestMigrateIntake: tickets stored before migration 0003 (creation events with the bare
// draft, bodies without closed_at, keys on the ticket row) are found by their keys, their
// open thread and their closing afterwards, and each row is still the fold of its events.
func TestMigrateIntake(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
	require.NoError(t, err)
	for v, f := range []string{"migrations/0001_init.sql", "migrations/0002_search.sql"} {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(body))
		require.NoError(t, err, f)
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, '2026-11-01T00:00:00Z')`, v+1)
		require.NoError(t, err)
	}

	at := time.Date(2026, 11, 20, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	agent := ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	sup := ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
	disp := ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	type old struct {
		id, idem string
		d        draft.Draft
		cmds     []ticket.Command
	}
	cmd := func(a ticket.Action, by ticket.Actor, reason, data string) ticket.Command {
		return ticket.Command{Action: a, Actor: by, Reason: reason, Data: json.RawMessage(data)}
	}
	olds := []old{
		{"GD-20261120-000001", "agent-zhou\x00idem-old", draft.Draft{Title: "急停按钮失灵", DedupKey: "dk-old", ThreadKey: "th-old",
			Customer: draft.Customer{ID: "c-1"}, Device: draft.Device{ID: "PLC-1"}, Category: "electrical"},
			[]ticket.Command{cmd(ticket.ActionAssign, disp, "", `{"assignee":"eng-li"}`)}},
		{"GD-20261120-000002", "", draft.Draft{Title: "急停又失灵", ThreadKey: "th-old",
			Customer: draft.Customer{Phone: " 13900001111 "}, Category: "electrical"},
			[]ticket.Command{cmd(ticket.ActionForceClose, sup, "客户失联", "")}},
		{"GD-20261120-000003", "", draft.Draft{Title: "重开后驳回", Customer: draft.Customer{ID: "c-2"}, Category: "electrical"},
			[]ticket.Command{cmd(ticket.ActionForceClose, sup, "客户失联", ""), cmd(ticket.ActionReopen, agent, "又坏了", ""),
				cmd(ticket.ActionEscalate, sup, "投诉", ""), cmd(ticket.ActionReject, agent, "重复", ""), cmd(ticket.ActionArchive, sup, "", "")}},
		{"GD-20261120-000004", "", draft.Draft{Title: "关闭后归档", Customer: draft.Customer{WecomUserID: "wangjg"}, Category: "mechanical"},
			[]ticket.Command{cmd(ticket.ActionForceClose, sup, "客户失联", ""), cmd(ticket.ActionArchive, sup, "", "")}},
	}
	closedAt := map[string]time.Time{}
	for _, o := range olds {
		now := at
		created, err := ticket.Create(o.id, o.d, "", agent, now, "")
		require.NoError(t, err)
		created.Data, err = json.Marshal(o.d) // as events were stored before 0003
		require.NoError(t, err)
		tk, err := ticket.Apply(ticket.Ticket{}, created)
		require.NoError(t, err)
		evs := []ticket.Event{created}
		for _, c := range o.cmds {
			now = now.Add(time.Minute)
			c.TicketID = tk.ID
			ev, err := ticket.Decide(tk, c, now)
			require.NoError(t, err)
			tk, err = ticket.Apply(tk, ev)
			require.NoError(t, err)
			evs = append(evs, ev)
		}
		closedAt[tk.ID] = tk.ClosedAt
		tk.ClosedAt = time.Time{} // bodies had no closed_at
		body, err := json.Marshal(tk)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO tickets (id, state, version, urgency, assignee, team, dedup_key, idempotency_key, search, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tk.ID, tk.State, tk.Version, tk.Urgency, tk.Assignee, tk.Team,
			nullString(tk.DedupKey), nullString(o.idem), store.SearchText(tk), body)
		require.NoError(t, err)
		for _, ev := range evs {
			b, err := json.Marshal(ev)
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, `INSERT INTO events (ticket_id, seq, body) VALUES (?, ?, ?)`, ev.TicketID, ev.Seq, b)
			require.NoError(t, err)
		}
	}
	require.NoError(t, db.Close())
	require.Equal(t, []string{"GD-20261120-000001", "GD-20261120-000002", "GD-20261120-000003", "GD-20261120-000004"},
		[]string{olds[0].id, olds[1].id, olds[2].id, olds[3].id})
	require.False(t, closedAt[olds[1].id].IsZero(), "the test meant the second ticket to be closed")
	require.True(t, closedAt[olds[2].id].IsZero(), "the test meant the third ticket to be reopened before it was archived")

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	for _, o := range olds {
		got, err := s.Ticket(ctx, o.id)
		require.NoError(t, err)
		evs, err := s.Events(ctx, o.id)
		require.NoError(t, err)
		folded, err := ticket.Fold(evs)
		require.NoError(t, err)
		sameJSON(t, folded, got, "%s: the row after the migration is the fold of its events", o.id)
		assert.True(t, closedAt[o.id].Equal(got.ClosedAt), "%s: closed_at %s, want %s", o.id, got.ClosedAt, closedAt[o.id])
	}
	wide := func(q store.RepeatQuery) store.RepeatQuery {
		q.ClosedFrom, q.ClosedTo = at.Add(-time.Hour), at.Add(time.Hour)
		return q
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		id, err := tx.TicketIDByDedupKey("dk-old")
		assert.NoError(t, err)
		assert.Equal(t, olds[0].id, id, "the dedup key of an old ticket")
		id, source, err := tx.TicketIDByIdempotencyKey(olds[0].idem)
		assert.NoError(t, err)
		assert.Equal(t, olds[0].id, id, "the idempotency key of an old ticket")
		assert.Equal(t, 0, source)
		id, err = tx.OpenTicketIDByThreadKey("th-old")
		assert.NoError(t, err)
		assert.Equal(t, olds[0].id, id, "the open one of the thread (the newer one is closed)")
		for _, c := range []struct {
			q    store.RepeatQuery
			want string
		}{
			{wide(store.RepeatQuery{CustomerKey: "phone:13900001111", Category: "electrical"}), olds[1].id},
			{wide(store.RepeatQuery{CustomerKey: "wecom_userid:wangjg", Category: "mechanical"}), olds[3].id},
			{wide(store.RepeatQuery{CustomerKey: "id:c-2", Category: "electrical"}), ""},                    // reopened, then rejected
			{wide(store.RepeatQuery{CustomerKey: "id:c-1", DeviceID: "PLC-1", Category: "electrical"}), ""}, // open
			{store.RepeatQuery{CustomerKey: "phone:13900001111", Category: "electrical", ClosedFrom: closedAt[olds[1].id].Add(time.Second)}, ""},
		} {
			id, err := tx.RecentlyClosed(c.q)
			if c.want == "" {
				assert.ErrorIs(t, err, store.ErrNotFound, "%+v", c.q)
				continue
			}
			assert.NoError(t, err, "%+v", c.q)
			assert.Equal(t, c.want, id, "%+v", c.q)
		}
		return nil
	}))
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestAFillingMergeKeepsTheSearchIndexWhole: a merge that fills the searchable fields of an
// indexed ticket takes its old text out of the full-text index (external content: FTS5 must
// be given the old values exactly) and puts the new in; FTS5's integrity check agrees.
func TestAFillingMergeKeepsTheSearchIndexWhole(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	system := ticket.Actor{ID: "system", Role: ticket.RoleSystem}
	var tk ticket.Ticket
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		created, err := ticket.Create("GD-20261202-000001", draft.Draft{Description: "报修：电梯不动了", ThreadKey: "wechat:gzh:o1", DedupKey: "m1"}, "", system, now, "")
		if err != nil {
			return err
		}
		tk, _ = ticket.Apply(ticket.Ticket{}, created)
		_, err = tx.Insert(tk, created, "")
		return err
	}))
	for i, d := range []draft.Draft{
		{Description: "13812345678", Customer: draft.Customer{Phone: "13812345678"}, DedupKey: "m2"},
		{Description: "苏州工业园区星湖街328号", Location: draft.Location{Address: "苏州工业园区星湖街328号"}, DedupKey: "m3"},
		{Description: "谢谢", DedupKey: "m4"}, // fills nothing
	} {
		require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
			ev, err := ticket.AddSource(tk, d, system, now.Add(time.Duration(i+1)*time.Minute), "")
			if err != nil {
				return err
			}
			if tk, err = ticket.Apply(tk, ev); err != nil {
				return err
			}
			_, err = tx.Merge(tk, ev, store.DraftKeys{DedupKey: d.DedupKey})
			return err
		}))
	}
	for _, q := range []string{"13812345678", "星湖街", "电梯不动"} {
		page, err := s.List(ctx, store.Query{Q: q, Limit: 5})
		require.NoError(t, err)
		assert.Len(t, page.Tickets, 1, q)
	}
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `INSERT INTO ticket_search (ticket_search, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "the index matches the tickets' search text")
	var search string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT search FROM tickets WHERE id = ?`, tk.ID).Scan(&search))
	assert.Equal(t, store.SearchText(tk), search)
}

// TestAnAssignmentThatSetsTheCategoryIsSearchable: a routing rule's set comes with the
// assignment; the search text follows it.
func TestAnAssignmentThatSetsTheCategoryIsSearchable(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gongdan.db"))
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	system := ticket.Actor{ID: "system", Role: ticket.RoleSystem}
	var tk ticket.Ticket
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		created, err := ticket.Create("GD-20261202-000001", draft.Draft{Title: "轿厢里困了人", DedupKey: "m1"}, "", system, now, "")
		if err != nil {
			return err
		}
		tk, _ = ticket.Apply(ticket.Ticket{}, created)
		_, err = tx.Insert(tk, created, "")
		return err
	}))
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		ev, err := ticket.Decide(tk, ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: system,
			Data: json.RawMessage(`{"assignee":"eng-li","team":"t1","set":{"category":"电梯故障","urgency":"red"}}`)}, now.Add(time.Minute))
		if err != nil {
			return err
		}
		if tk, err = ticket.Apply(tk, ev); err != nil {
			return err
		}
		_, err = tx.Append(tk, ev)
		return err
	}))
	require.Equal(t, "电梯故障", tk.Category)
	page, err := s.List(ctx, store.Query{Q: "电梯故障", Limit: 5})
	require.NoError(t, err)
	assert.Len(t, page.Tickets, 1)
}
