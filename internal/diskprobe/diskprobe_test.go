package diskprobe_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/internal/diskprobe"
)

func TestWriteLeavesNothingAndFailsWhereItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, diskprobe.Write(filepath.Join(dir, "probe"), 4096))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the probe file is removed")

	err = diskprobe.Write(filepath.Join(dir, "gone", "probe"), 4096)
	require.Error(t, err)
	assert.Equal(t, "no such file or directory", diskprobe.Reason(err), "the reason, without the path")
}

func TestReason(t *testing.T) {
	wrapped := &os.PathError{Op: "write", Path: "/secret/place/probe", Err: syscall.ENOSPC}
	assert.Equal(t, "no space left on device", diskprobe.Reason(wrapped))
	assert.Equal(t, "insufficient storage resources", diskprobe.Reason(errors.New("nats: stream X: /var/lib/nats/jetstream: insufficient storage resources")))
	assert.Equal(t, "plain", diskprobe.Reason(errors.New("plain")))
}
