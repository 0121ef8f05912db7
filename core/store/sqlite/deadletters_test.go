package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store/sqlite"
	"gongdan/pipeline/deadletter"
	"gongdan/pipeline/deadletter/deadlettertest"
)

func TestDeadLetterContract(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T) deadletter.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gongdan.db"))
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close(), "Close") })
		return s
	})
}

// TestDeadLetterReopen: a dead letter, replayed and failed again, is all there after the
// database was closed and opened again, and its key still finds its record.
func TestDeadLetterReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gongdan.db")
	failed := time.Date(2026, 11, 23, 9, 30, 0, 987654321, time.FixedZone("CST", 8*3600))
	dl := deadletter.DeadLetter{
		Key: "normalize.hooks/env-1", Connector: "wecom", Handler: "normalize.hooks", Topic: "gongdan.raw.wecom",
		Error: "normalize: no title", Attempts: 3, FirstFailedAt: failed.Add(-time.Minute), LastFailedAt: failed,
		MessageID: "msg-1", Metadata: map[string]string{"content-type": "application/json"},
		Payload: []byte("{\"title\":\"\"}\x00\xff"),
	}

	first, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	stored, err := first.PutDeadLetter(ctx, dl)
	require.NoError(t, err)
	stored, err = first.MarkReplayed(ctx, stored.ID, failed.Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, first.Close())

	second, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, second.Close()) })
	got, err := second.DeadLetter(ctx, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, got, "the dead letter after reopening")
	assert.True(t, got.LastFailedAt.Equal(failed), "LastFailedAt to the nanosecond: %s", got.LastFailedAt)
	assert.Equal(t, deadletter.StateReplayed, got.State)
	assert.Equal(t, dl.Payload, got.Payload)

	page, err := second.DeadLetters(ctx, deadletter.Query{})
	require.NoError(t, err)
	assert.Equal(t, []deadletter.DeadLetter{stored}, page.DeadLetters)

	dl.Attempts, dl.LastFailedAt = 1, failed.Add(2*time.Hour)
	again, err := second.PutDeadLetter(ctx, dl)
	require.NoError(t, err)
	assert.Equal(t, stored.ID, again.ID, "the key finds its record after reopening")
	assert.Equal(t, 4, again.Attempts)
	assert.Equal(t, deadletter.StateDead, again.State)
	assert.Equal(t, 1, again.Replays)
}
