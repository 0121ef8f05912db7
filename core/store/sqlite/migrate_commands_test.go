package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// TestMigrateCommandIDs: command ids stored before they were scoped per caller (migration
// 0010), in the one global events.command_id column, still answer their caller's replay
// afterwards, and only theirs: another caller may now use the same id.
func TestMigrateCommandIDs(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	agent := ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	disp := ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	eng := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	act := func(tx store.Tx, tk ticket.Ticket, cmd ticket.Command) (ticket.Ticket, ticket.Event, error) {
		cmd.TicketID = tk.ID
		ev, err := ticket.Decide(tk, cmd, at)
		require.NoError(t, err)
		next, err := ticket.Apply(tk, ev)
		require.NoError(t, err)
		ev.ID, err = tx.Append(next, ev)
		return next, ev, err
	}

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	var tk ticket.Ticket
	var assigned ticket.Event
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		created, err := ticket.Create("GD-20261120-000001", draft.Draft{Title: "急停按钮失灵"}, "", agent, at, "")
		require.NoError(t, err)
		if tk, err = ticket.Apply(ticket.Ticket{}, created); err != nil {
			return err
		}
		if _, err := tx.Insert(tk, created, ""); err != nil {
			return err
		}
		tk, assigned, err = act(tx, tk, ticket.Command{Action: ticket.ActionAssign, Actor: disp,
			Data: json.RawMessage(`{"assignee":"eng-li"}`), CommandID: "as-1"})
		return err
	}))
	require.NoError(t, s.Close())

	// As the version before 0010 wrote it: the bare id in events.command_id.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	for _, q := range []string{
		`UPDATE events SET command_id = caller_command_id WHERE caller_command_id IS NOT NULL`,
		`DROP INDEX events_caller_command`,
		`ALTER TABLE events DROP COLUMN caller`,
		`ALTER TABLE events DROP COLUMN caller_command_id`,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		_, err = db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	var old string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT command_id FROM events WHERE seq = 2`).Scan(&old))
	require.Equal(t, "as-1", old, "the test meant the old store to hold the bare id")
	require.NoError(t, db.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		got, err := tx.EventByCommandID(disp.ID, "as-1")
		if assert.NoError(t, err, "the dispatcher's own id, stored before the migration") {
			sameJSON(t, assigned, got, "the replay finds the first event")
		}
		_, err = tx.EventByCommandID(eng.ID, "as-1")
		assert.ErrorIs(t, err, store.ErrNotFound, "another caller's as-1 is not the dispatcher's")

		_, _, err = act(tx, tk, ticket.Command{Action: ticket.ActionAssign, Actor: disp,
			Data: json.RawMessage(`{"assignee":"eng-zhao"}`), CommandID: "as-1"})
		assert.ErrorIs(t, err, store.ErrConflict, "the dispatcher's old id is still taken for the dispatcher")
		_, accepted, err := act(tx, tk, ticket.Command{Action: ticket.ActionAccept, Actor: eng, CommandID: "as-1"})
		if assert.NoError(t, err, "the engineer may use as-1 too") {
			got, err := tx.EventByCommandID(eng.ID, "as-1")
			assert.NoError(t, err)
			sameJSON(t, accepted, got, "the engineer's as-1 is the engineer's event")
		}
		return nil
	}))
}
