package attachments_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
)

func TestPutAndOpen(t *testing.T) {
	dir := t.TempDir()
	s := attachments.New(filepath.Join(dir, "attachments"))
	data := []byte("\x89PNG\r\n\x1a\n a photo of the broken pump")
	sha, n, err := s.Put(bytes.NewReader(data), 1<<20)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), sha)
	assert.Equal(t, int64(len(data)), n)
	again, _, err := s.Put(bytes.NewReader(data), 1<<20)
	require.NoError(t, err)
	assert.Equal(t, sha, again, "kept once")

	f, err := s.Open(sha)
	require.NoError(t, err)
	got, _ := io.ReadAll(f)
	f.Close()
	assert.Equal(t, data, got)
	assert.Equal(t, "attachment:"+sha, attachments.URI(sha))

	_, _, err = s.Put(strings.NewReader(strings.Repeat("x", 101)), 100)
	assert.ErrorIs(t, err, attachments.ErrTooLarge)
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("a", 64), "xyz"} {
		_, err = s.Open(bad)
		assert.ErrorIs(t, err, attachments.ErrNotFound, bad)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "attachments"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), ".incoming"), "no partial file is left: %s", e.Name())
	}
}
