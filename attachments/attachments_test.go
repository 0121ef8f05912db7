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

func TestIsPhotoSniffsTheContent(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpg := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	for _, photo := range [][]byte{png, jpg, []byte("GIF89a\x01\x00"), []byte("RIFF\x00\x00\x00\x00WEBPVP8 ")} {
		if !attachments.IsPhoto(photo) {
			t.Errorf("%q is a photo", photo[:6])
		}
	}
	for _, not := range [][]byte{[]byte("<html><script>alert(1)</script>"), []byte("%PDF-1.7"), []byte("<svg xmlns=\"http://www.w3.org/2000/svg\">"), nil} {
		if attachments.IsPhoto(not) {
			t.Errorf("%q is not a photo", not)
		}
	}
}
