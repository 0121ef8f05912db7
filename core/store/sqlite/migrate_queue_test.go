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

// TestMigrateQueue: tickets stored before the queue's connector and tag filters (migration
// 0019) are found by them afterwards, from their bodies; tickets written after are kept in
// step by the store.
func TestMigrateQueue(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	olds := []struct {
		id, connector string
		tags          []string
	}{
		{"GD-20261120-000001", "plant", []string{"急停", "预测性维护"}},
		{"GD-20261120-000002", "gzh", nil},
		{"GD-20261120-000003", "", []string{"急停"}},
	}
	require.NoError(t, s.Write(ctx, func(tx store.Tx) error {
		for _, o := range olds {
			d := draft.Draft{Title: "急停按钮失灵", Tags: o.tags, Source: draft.Source{Connector: o.connector, Type: "webhook"}}
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

	// As if the store had been written by the version before 0019.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	for _, stmt := range []string{
		`DROP TRIGGER ticket_tags_insert`, `DROP TRIGGER ticket_tags_update`, `DROP TRIGGER ticket_tags_delete`,
		`DROP TABLE ticket_tags`, `DROP INDEX tickets_connector`,
		`ALTER TABLE tickets DROP COLUMN connector`, `ALTER TABLE tickets DROP COLUMN tags`,
		`DELETE FROM schema_migrations WHERE version = 19`,
	} {
		_, err = db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, db.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	list := func(q store.Query) []string {
		page, err := s.List(ctx, q)
		require.NoError(t, err)
		var ids []string
		for _, tk := range page.Tickets {
			ids = append(ids, tk.ID)
		}
		return ids
	}
	assert.Equal(t, []string{olds[0].id}, list(store.Query{Connectors: []string{"plant"}}))
	assert.Equal(t, []string{olds[2].id}, list(store.Query{Connectors: []string{""}}), "a ticket with no connector")
	assert.Equal(t, []string{olds[2].id, olds[0].id}, list(store.Query{Tags: []string{"急停"}}))
	assert.Equal(t, []string{olds[0].id}, list(store.Query{Tags: []string{"急停", "预测性维护"}}))
	assert.Empty(t, list(store.Query{Tags: []string{"漏水"}}))
}
