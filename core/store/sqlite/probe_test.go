package sqlite_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store/sqlite"
)

// The probe of the running server found /readyz saying ready on a full disk, where every
// write failed. A write probe is not ready while the disk is full, says so without the
// path, and is ready again once there is room. A full disk is a small tmpfs filled up,
// which needs root; TestWriteProbeOnAnUnwritableDir covers the same without root.
func TestWriteProbeOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a full disk is a small tmpfs filled up, and mounting one needs root; TestWriteProbeOnAnUnwritableDir covers the probe without root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (%v: %s); run the tests where root may mount (a container needs CAP_SYS_ADMIN) to include this test", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", disk, err, out)
		}
	})
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(disk, "gongdan.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	require.NoError(t, sqlite.NewWriteProbe(s).Check(ctx))

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	require.ErrorContains(t, err, "no space left on device")
	require.NoError(t, f.Close())

	require.Error(t, s.SetCursor(ctx, "reader", 1), "a store write on the full disk")
	require.NoError(t, s.Ping(ctx), "what /readyz asked before: the store still answers")
	probe := sqlite.NewWriteProbe(s)
	err = probe.Check(ctx)
	require.Error(t, err, "the store cannot write, so it is not ready")
	assert.Equal(t, "store: cannot write beside the database (no space left on device); free space on its disk", err.Error())
	assert.NotContains(t, err.Error(), disk, "the error is shown on /readyz: no paths")
	assert.Equal(t, err, probe.Check(ctx), "the answer is kept for a second")

	require.NoError(t, os.Remove(filler))
	require.NoError(t, sqlite.NewWriteProbe(s).Check(ctx), "ready again once there is room")
	require.NoError(t, s.SetCursor(ctx, "reader", 1))
	entries, err := os.ReadDir(disk)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".probe", "the probe leaves no file behind")
	}
}

func TestWriteProbeOnAnUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to a read-only directory all the same; TestWriteProbeOnAFullDisk covers the probe as root")
	}
	dir := t.TempDir()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "gongdan.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	require.NoError(t, sqlite.NewWriteProbe(s).Check(ctx))

	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	err = sqlite.NewWriteProbe(s).Check(ctx)
	require.Error(t, err)
	assert.Equal(t, "store: cannot write beside the database (permission denied); make its directory writable for gongdan", err.Error())

	require.NoError(t, os.Chmod(dir, 0o700))
	require.NoError(t, sqlite.NewWriteProbe(s).Check(ctx))
}

func TestWriteProbeAfterClose(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gongdan.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	err = sqlite.NewWriteProbe(s).Check(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "store: does not answer")
}
