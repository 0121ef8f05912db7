package ocr

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"gongdan/connectors/ocr/ocrtest"
)

// sharedEngine is one Tesseract pool for the package's tests (its clients are costly to make).
var sharedEngine = NewPool(2, "chi_sim", "eng")

// mustChat reads testdata/chats/<name>.yaml.
func mustChat(tb testing.TB, name string) ocrtest.Chat {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chats", name+".yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var c ocrtest.Chat
	if err := yaml.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// renderChat draws testdata/chats/<name>.yaml and returns its screenshots.
func renderChat(t *testing.T, name string) []ocrtest.Shot {
	t.Helper()
	shots, err := ocrtest.Render(mustChat(t, name), t.TempDir())
	require.NoError(t, err)
	return shots
}

// readShot reads one rendered screenshot as the connector does.
func readShot(t *testing.T, s ocrtest.Shot) Page {
	t.Helper()
	b, err := os.ReadFile(s.Path)
	require.NoError(t, err)
	p, err := sharedEngine.Read(context.Background(), b, DefaultLimits, ocrtest.At)
	require.NoError(t, err)
	return p
}

// The screenshots drawn in WeChat's look — avatars, white and green bubbles, names, time
// separators, wrapped messages, a system notice, light and dark mode — read back as their
// script says: every message's sender, side, time and text (whitespace and full-/half-width
// forms normalised).
func TestScreenshotsReadAsTheirScript(t *testing.T) {
	if testing.Short() {
		t.Skip("OCR of rendered screenshots")
	}
	for _, name := range []string{"light", "dark", "overlap"} {
		t.Run(name, func(t *testing.T) {
			for _, shot := range renderChat(t, name) {
				p := readShot(t, shot)
				require.Len(t, p.Messages, len(shot.Messages), "%s: read %+v", filepath.Base(shot.Path), p.Messages)
				for i, want := range shot.Messages {
					got := p.Messages[i]
					assert.Equal(t, want.Sender, got.Sender, "message %d", i+1)
					assert.Equal(t, want.Side, got.Side, "message %d", i+1)
					assert.Equal(t, NormalizeText(want.Text), NormalizeText(got.Text), "message %d", i+1)
					if want.Time == "" {
						assert.Nil(t, got.Time, "message %d has no separator above it in the picture", i+1)
					} else if assert.NotNil(t, got.Time, "message %d", i+1) {
						wantTime, ok := parseSeparator(want.Time, ocrtest.At)
						require.True(t, ok, want.Time)
						assert.Equal(t, wantTime, *got.Time, "message %d", i+1)
					}
					assert.Greater(t, got.Confidence, 50.0, "message %d", i+1)
					assert.False(t, image.Rectangle(got.Box).Empty(), "message %d", i+1)
				}
			}
		})
	}
}
