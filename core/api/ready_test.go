package api_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/store/sqlite"
	"gongdan/internal/testkit/enginekit"
	"gongdan/pipeline/bus"
)

// /readyz is not ready while a Ready check fails, names each thing that cannot work in a
// problem, and is ready again once they work: here with faults injected, so that it runs
// on any machine (TestReadyzOnAFullDisk does it with a full disk).
func TestReadyzNamesWhatCannotWrite(t *testing.T) {
	var storeFault, busFault atomic.Pointer[error]
	check := func(fault *atomic.Pointer[error]) func(context.Context) error {
		return func(context.Context) error {
			if err := fault.Load(); err != nil {
				return *err
			}
			return nil
		}
	}
	c := newServerOpts(t, nil, func(o *api.Options) {
		o.Ready = []func(context.Context) error{check(&storeFault), check(&busFault)}
	})
	require.Equal(t, 200, c.do("GET", "/readyz", "", "").status)

	storeErr := errors.New("store: cannot write beside the database (no space left on device); free space on its disk")
	busErr := errors.New("bus: embedded NATS cannot write its storage (no space left on device); free space on its disk, and the bus recovers by itself")
	busFault.Store(&busErr)
	p := requireProblem(t, c.do("GET", "/readyz", "", ""), 503, "unavailable")
	assert.Equal(t, "not ready: "+busErr.Error(), p["detail"])
	storeFault.Store(&storeErr)
	p = requireProblem(t, c.do("GET", "/readyz", "", ""), 503, "unavailable")
	assert.Equal(t, "not ready: "+storeErr.Error()+"; "+busErr.Error(), p["detail"], "every check that fails, in order")

	storeFault.Store(nil)
	busFault.Store(nil)
	assert.Equal(t, 200, c.do("GET", "/readyz", "", "").status)
}

// The probe of the running server: on a full disk /readyz said ready. With the store's write
// probe and the bus's health as Ready checks, as serve wires them, /readyz answers 503 naming
// both while the disk is full, and 200 again once there is room (the embedded JetStream
// restarted in place). A full disk is a small tmpfs filled up, which needs root.
func TestReadyzOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a full disk is a small tmpfs filled up, and mounting one needs root; TestReadyzNamesWhatCannotWrite covers /readyz without root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (%v: %s); run the tests where root may mount (a container needs CAP_SYS_ADMIN) to include this test", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", disk, err, out)
		}
	})
	ctx := context.Background()
	st := enginekit.OpenStore(t, filepath.Join(disk, "gongdan.db"))
	bus, err := bus.Open(ctx, bus.Config{Embedded: true, Dir: filepath.Join(disk, "nats")}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, bus.Close()) })
	// The API's own store is another one; /readyz asks the probes.
	c := newServerOpts(t, nil, func(o *api.Options) {
		o.Ready = []func(context.Context) error{sqlite.NewWriteProbe(st).Check, bus.Healthy}
	})
	require.Equal(t, 200, c.do("GET", "/readyz", "", "").status)

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	require.NoError(t, f.Close())
	// What intake does on a full disk: a publish fails (within the publish timeout).
	var published error
	for i := 0; i < 200 && published == nil; i++ {
		published = bus.Publisher().Publish("raw.hooks", message.NewMessage(strings.Repeat("m", i+1), make([]byte, 2048)))
	}
	require.Error(t, published)

	// Each check keeps its answer for a second; both see the full disk soon.
	require.Eventually(t, func() bool {
		r := c.do("GET", "/readyz", "", "")
		return r.status == 503 && strings.Contains(string(r.body), "store:") && strings.Contains(string(r.body), "bus:")
	}, 30*time.Second, 100*time.Millisecond)
	p := requireProblem(t, c.do("GET", "/readyz", "", ""), 503, "unavailable")
	assert.Equal(t, "not ready: store: cannot write beside the database (no space left on device); free space on its disk; "+
		"bus: embedded NATS cannot write its storage (no space left on device); free space on its disk, and the bus recovers by itself", p["detail"])
	assert.NotContains(t, p["detail"], disk, "no paths for whoever asks")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { return c.do("GET", "/readyz", "", "").status == 200 }, 30*time.Second, 100*time.Millisecond,
		"/readyz did not turn ready once there was room: %s", c.do("GET", "/readyz", "", "").body)
	require.NoError(t, bus.Publisher().Publish("raw.hooks", message.NewMessage("after", nil)), "the bus takes messages again")
}
