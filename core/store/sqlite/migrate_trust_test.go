package sqlite_test

import (
	"database/sql"
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

// TestMigrateThreadNamespaces: open tickets written before thread keys were namespaced by
// their connector (migration 0009) are found afterwards under the key the pipeline now
// writes, so the next message of a conversation, or an alarm's clear, still joins them; keys
// already in their connector's namespace and tickets with no source connector are left alone.
func TestMigrateThreadNamespaces(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	olds := []struct {
		id, connector, thread string
	}{
		{"GD-20261120-000001", "plant", "device:E1:overheat"},
		{"GD-20261120-000002", "gzh", "wechat:gzh:oyORnuP8"},
		{"GD-20261120-000003", "groups", "groups/张三"}, // already namespaced
		{"GD-20261120-000004", "", "th-api"},          // no connector: an API caller's key
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		for _, o := range olds {
			d := draft.Draft{Title: "急停按钮失灵", ThreadKey: o.thread, Source: draft.Source{Connector: o.connector, Type: "webhook"}}
			ev, err := ticket.Create(o.id, d, "", ticket.SystemActor, at, "")
			require.NoError(t, err)
			tk, err := ticket.Apply(ticket.Ticket{}, ev)
			require.NoError(t, err)
			if _, err := tx.Insert(tk, ev, ""); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Close())

	// As if the store had been written by the version before 0009.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 9`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	want := map[string]string{
		olds[0].id: "plant/device:E1:overheat",
		olds[1].id: "gzh/wechat:gzh:oyORnuP8",
		olds[2].id: "groups/张三",
		olds[3].id: "th-api",
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		for id, key := range want {
			got, err := tx.OpenTicketIDByThreadKey(key)
			assert.NoError(t, err, key)
			assert.Equal(t, id, got, "the open ticket of thread %s", key)
		}
		_, err := tx.OpenTicketIDByThreadKey("device:E1:overheat")
		assert.ErrorIs(t, err, store.ErrNotFound, "the key without its namespace leads nowhere")
		return nil
	}))
	for id, key := range want {
		tk, err := s.Ticket(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, key, tk.ThreadKey, "%s: the ticket's own thread_key follows its row", id)
		assert.Equal(t, "急停按钮失灵", tk.Title, "%s: the rest of the body is intact", id)
	}
}
