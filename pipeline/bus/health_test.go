package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Before bus.publish_timeout, a publish that NATS left unanswered failed after a fixed 10s;
// a publish that "fails fast" must fail while this much of a deadline is left. No duration
// is asserted: the publish only has to beat a deadline that the old wait could not.
const (
	failFastDeadline = 8 * time.Second
	// recoverWithin bounds the wait for a bus to be healthy again once the fault is gone.
	recoverWithin = 30 * time.Second
)

// mountSmallDisk mounts a tmpfs of size at a fresh directory, so that a test can fill it up;
// it is unmounted when the test ends, after whatever the test opened on it is closed. It
// skips the test where mounting is not permitted (not root, or no CAP_SYS_ADMIN in a
// container); TestBusPublishFailsFastWhenNATSDoesNotAnswer covers the same on any machine.
func mountSmallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is a small tmpfs filled up, and mounting one needs root; run the tests as root (or in a container with CAP_SYS_ADMIN) to include this test")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (%v: %s); run the tests where root may mount (a container needs CAP_SYS_ADMIN) to include this test", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full; removing the file frees the space.
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	block := make([]byte, 4096)
	for {
		if _, err = f.Write(block); err != nil {
			break
		}
	}
	require.ErrorContains(t, err, "no space left on device")
	require.NoError(t, f.Close())
	return func() { require.NoError(t, os.Remove(path)) }
}

// publishWithin publishes msg and reports its error, failing the test if the publish did not
// return before failFastDeadline.
func publishWithin(t *testing.T, pub message.Publisher, topic string, msg *message.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failFastDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pub.Publish(topic, msg) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("publish of %s still waiting after %v: it does not fail fast", msg.UUID, failFastDeadline)
		return nil
	}
}

// The probe of the running server: on a full disk every intake request waited 10s for its
// 503, and /readyz said ready. Now a publish fails within bus.publish_timeout, Healthy says
// the storage cannot be written, and once there is room again the bus restarts JetStream in
// place (nats-server keeps a stream stopped after a write error) and takes messages again,
// every acknowledged one still there.
func TestBusOnAFullDiskFailsFastAndRecovers(t *testing.T) {
	disk := mountSmallDisk(t, "4m")
	cfg := Config{Driver: DriverNATS, Embedded: true, Dir: filepath.Join(disk, "nats"), Prefix: testPrefix()}
	b, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	msgs := subscribe(t, b, "g", 4, "raw.hooks")
	pub := b.Publisher()
	acknowledged := map[string]bool{}
	first := message.NewMessage("before", []byte("stored while there is room"))
	require.NoError(t, pub.Publish("raw.hooks", first))
	acknowledged[first.UUID] = true
	require.NoError(t, b.Healthy(context.Background()))

	free := fillDisk(t, disk)
	// The stream's last block may still have room for a few messages; one of these will
	// not fit.
	var failed error
	for i := 0; i < 200 && failed == nil; i++ {
		msg := message.NewMessage(fmt.Sprintf("full-%03d", i), make([]byte, 2048))
		if failed = publishWithin(t, pub, "raw.hooks", msg); failed == nil {
			acknowledged[msg.UUID] = true
		}
	}
	require.Error(t, failed, "publishes into a full disk kept succeeding")
	assert.Contains(t, failed.Error(), "within 2s (bus.publish_timeout)")

	err = b.Healthy(context.Background())
	require.Error(t, err, "a bus that cannot write must not be healthy")
	assert.Equal(t, "bus: embedded NATS cannot write its storage (no space left on device); free space on its disk, and the bus recovers by itself", err.Error())
	assert.NotContains(t, err.Error(), disk, "the error is shown on /readyz: no paths")

	free()
	require.Eventually(t, func() bool { return b.Healthy(context.Background()) == nil }, recoverWithin, 100*time.Millisecond,
		"the bus did not recover once there was room again: %v", b.Healthy(context.Background()))
	after := message.NewMessage("after", []byte("stored once there is room again"))
	require.NoError(t, publishWithin(t, pub, "raw.hooks", after))
	acknowledged[after.UUID] = true

	// Every message the bus acknowledged is delivered; the one it did not may be too.
	for len(acknowledged) > 0 {
		msg := receive(t, msgs)
		msg.Ack()
		delete(acknowledged, msg.UUID)
	}
}

// The same, where no tmpfs can be mounted: a NATS server that leaves publishes unanswered
// (as JetStream does when a stream cannot write) is simulated by a plain subscriber that
// takes the stream's subject and never replies. A publish fails within the publish
// timeout, Healthy fails while the probe goes unanswered, and both work again once the
// subscriber is gone.
func TestBusPublishFailsFastWhenNATSDoesNotAnswer(t *testing.T) {
	url := startTestServer(t, server.Options{JetStream: true, StoreDir: t.TempDir()})
	cfg := Config{URL: url, Prefix: testPrefix(), PublishTimeout: time.Second}
	b, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	require.NoError(t, b.Healthy(context.Background()))

	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	// Silent: no stream answers for these subjects, and something takes the messages.
	for _, stream := range []string{"RAW", "HEALTH"} {
		require.NoError(t, js.DeleteStream(strings.ToUpper(cfg.Prefix)+"_"+stream))
	}
	silent, err := nc.SubscribeSync(cfg.Prefix + ".>")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	pub := b.Publisher()
	err = publishWithin(t, pub, "raw.hooks", message.NewMessage("unanswered", []byte("x")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no acknowledgement from NATS at "+url+" within 1s (bus.publish_timeout)")
	batch := []*message.Message{message.NewMessage("b1", nil), message.NewMessage("b2", nil)}
	require.Error(t, publishWithinBatch(t, pub, "raw.hooks", batch), "a batch fails fast too")

	forgetHealth(b)
	err = b.Healthy(context.Background())
	require.Error(t, err)
	assert.Equal(t, "bus: NATS did not acknowledge a probe message within 1s: it cannot store messages now", err.Error())

	require.NoError(t, silent.Unsubscribe())
	require.NoError(t, nc.Flush())
	// The publisher finds the stream gone and makes it again; the probe too.
	require.Eventually(t, func() bool {
		return pub.Publish("raw.hooks", message.NewMessage("again", nil)) == nil && b.Healthy(context.Background()) == nil
	}, recoverWithin, 100*time.Millisecond, "the bus did not recover: %v", b.Healthy(context.Background()))
}

// forgetHealth drops the health check's last answer, which Healthy would give again for a
// second.
func forgetHealth(b *Bus) {
	h := &b.backend.(*natsBus).health
	h.mu.Lock()
	h.at = time.Time{}
	h.mu.Unlock()
}

func publishWithinBatch(t *testing.T, pub message.Publisher, topic string, msgs []*message.Message) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- pub.Publish(topic, msgs...) }()
	select {
	case err := <-done:
		return err
	case <-time.After(failFastDeadline):
		t.Fatalf("batch publish still waiting after %v: it does not fail fast", failFastDeadline)
		return nil
	}
}

// An external server's stream that stopped at a write error stays stopped until that
// server restarts; gongdan cannot restart it, so Healthy keeps saying it cannot store.
func TestBusHealthyOnAnExternalServerWithAFullDisk(t *testing.T) {
	disk := mountSmallDisk(t, "4m")
	url := startTestServer(t, server.Options{JetStream: true, StoreDir: disk})
	b, err := Open(context.Background(), Config{URL: url, Prefix: testPrefix()}, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	require.NoError(t, b.Healthy(context.Background()))

	free := fillDisk(t, disk)
	var failed error
	for i := 0; i < 200 && failed == nil; i++ {
		failed = publishWithin(t, b.Publisher(), "raw.hooks", message.NewMessage(fmt.Sprintf("full-%03d", i), make([]byte, 2048)))
	}
	require.Error(t, failed)
	forgetHealth(b)
	err = b.Healthy(context.Background())
	require.Error(t, err, "an external NATS that cannot write must not be healthy")
	assert.Contains(t, err.Error(), "(no acknowledgement within 2s) and none has succeeded since; if its disk was full, its streams stay stopped until nats-server restarts")
	assert.NotContains(t, err.Error(), url, "the error is shown on /readyz: no addresses")

	// Room again does not bring the stream back: only a restart of that server does.
	free()
	require.Error(t, publishWithin(t, b.Publisher(), "raw.hooks", message.NewMessage("after", nil)))
	forgetHealth(b)
	assert.Error(t, b.Healthy(context.Background()))
}

func TestBusHealthyAfterClose(t *testing.T) {
	b, err := Open(context.Background(), testBusConfig(t, embeddedKind), testLogger(t))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.True(t, errors.Is(b.Healthy(context.Background()), ErrClosed))
}
