package engine_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
)

// The board keeps each row's team and policy for its filters. A store from before it did
// (migration 0018 leaves those rows' policy NULL) has them written at the next start, once,
// by arming the open tickets' SLA again.
func TestAnUpgradedBoardGetsItsPoliciesAtStart(t *testing.T) {
	f := newSLAFixture(t)
	ctx := context.Background()
	tk, _ := f.create(t, newDraft("冷库温度报警"))
	ids := func(q store.BoardQuery) []string {
		q.Limit = 10
		rows, err := f.store.Board(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, r := range rows {
			out = append(out, r.TicketID)
		}
		return out
	}
	require.Equal(t, []string{tk.ID}, ids(store.BoardQuery{Policy: "orange"}))
	f.stop()

	// As a store of before: the row without its policy, the policies' re-arming done.
	db, err := sql.Open("sqlite", f.path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE sla_board SET policy = NULL`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO cursors (name, position, updated_at) VALUES ('sla_rearmed:v1', 1, ?)`, time.Now().UTC().Format(time.RFC3339))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	f.opts.Fingerprint = "v1"
	f.open(t)
	require.Eventually(t, func() bool {
		got := ids(store.BoardQuery{Policy: "orange"})
		return len(got) == 1 && got[0] == tk.ID
	}, 20*time.Second, 10*time.Millisecond, "the row's policy written at start")
	f.engine.Close() // waits for the re-arming to finish
	done, err := f.store.Cursor(ctx, "sla_rearmed:v1/board-policy")
	require.NoError(t, err)
	assert.Equal(t, int64(1), done, "once")
}
