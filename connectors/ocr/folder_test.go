package ocr

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/draft"
)

// The folder: a file is taken once two scans saw it unchanged (a copy that pauses is not
// taken half-written), a bad one goes to failed/ without holding up the ones after it, and
// a bus that refuses leaves the file in place for the next scan.
func TestWatchedFolder(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"done", "failed"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o750))
	}
	shot := renderChatOrSkip(t)
	now := time.Now()
	var published []draft.Envelope
	refuse := false
	c := &Connector{name: "groups", watchDir: dir, limits: DefaultLimits, env: connectors.Env{
		Stats: &connectors.Stats{}, Logger: slog.New(slog.DiscardHandler), Location: time.UTC,
		Now: func() time.Time { return now },
		Publish: func(_ context.Context, env draft.Envelope) error {
			if refuse {
				return errors.New("bus down")
			}
			published = append(published, env)
			return nil
		},
	}}
	old := now.Add(-time.Minute)
	write := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		require.NoError(t, os.Chtimes(p, old, old))
	}
	write("a-bad.png", []byte("not a picture"))
	write("b-good.png", shot)
	write("c-copying.png", shot[:len(shot)/3])

	require.NoError(t, c.scan(context.Background()))
	assert.Empty(t, published, "first sight: nothing is taken yet")

	// c-copying.png grows between the scans.
	write("c-copying.png", shot[:len(shot)*2/3])
	require.NoError(t, c.scan(context.Background()))
	require.Len(t, published, 2)
	assert.Equal(t, "a-bad.png", published[0].Headers["file"])
	assert.Equal(t, "true", published[0].Headers["refused"], "published only to be a dead letter")
	assert.Equal(t, "b-good.png", published[1].Headers["file"])
	assert.FileExists(t, filepath.Join(dir, "done", "b-good.png"))
	assert.FileExists(t, filepath.Join(dir, "failed", "a-bad.png"))
	assert.FileExists(t, filepath.Join(dir, "failed", "a-bad.png.error.txt"))
	assert.FileExists(t, filepath.Join(dir, "c-copying.png"), "still changing: left alone")

	// The copy is complete; the bus refuses, then takes it.
	write("c-copying.png", shot)
	require.NoError(t, c.scan(context.Background()))
	refuse = true
	assert.Error(t, c.scan(context.Background()))
	assert.FileExists(t, filepath.Join(dir, "c-copying.png"), "not durable: left in place")
	refuse = false
	require.NoError(t, c.scan(context.Background()))
	require.Len(t, published, 3)
	assert.FileExists(t, filepath.Join(dir, "done", "c-copying.png"))
	assert.Equal(t, published[1].Payload, published[2].Payload)
}
