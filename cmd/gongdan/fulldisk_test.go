package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// TestServeOnAFullDisk is the probe's full disk through a real server: with --data on a small
// tmpfs filled up, a webhook request is answered 503 (retry) within bus.publish_timeout rather
// than after 10 s, /readyz says not ready and what cannot write, and once there is room again
// the server is ready and takes requests into tickets without a restart.
func TestServeOnAFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	if os.Geteuid() != 0 {
		t.Skip("a full disk is a small tmpfs filled up, and mounting one needs root; core/api TestReadyzNamesWhatCannotWrite covers /readyz without it")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (%v: %s); run where root may mount to include this test", err, strings.TrimSpace(string(out)))
	}
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "gongdan.yaml") // the config off the full disk
	require.NoError(t, os.WriteFile(path, []byte(configText(addr)), 0o600))
	srv := startChild(t, "serve", "--config", path, "--data", disk)
	// Registered after startChild's, so it runs first: the server is gone before the unmount.
	t.Cleanup(func() {
		srv.kill()
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", disk, err, out)
		}
	})
	srv.waitReady(addr)
	const admin = "test-admin-token-0123456789"
	tickets := func() int {
		st, b, err := call("GET", srv.url+"/api/v1/tickets", admin, "")
		var page struct{ Tickets []ticket.Ticket }
		if err != nil || st != 200 || json.Unmarshal(b, &page) != nil {
			return -1
		}
		return len(page.Tickets)
	}
	st, b, err := call("POST", srv.url+"/ingest/hooks", "", `{"title":"满盘之前"}`)
	require.NoError(t, err)
	require.Equal(t, 202, st, string(b))
	require.Eventually(t, func() bool { return tickets() == 1 }, time.Minute, 50*time.Millisecond)

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	require.NoError(t, f.Close())

	// A client that gives up after 8 s: the old fixed 10 s wait could not answer it. The
	// first requests may still fit in what the bus had buffered; one of a few must be refused.
	client := &http.Client{Timeout: 8 * time.Second}
	refused, accepted := false, 0
	for i := 0; i < 20 && !refused; i++ {
		req, err := http.NewRequest("POST", srv.url+"/ingest/hooks", strings.NewReader(`{"title":"满盘之后","description":"`+strings.Repeat("满", 2000)+`"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(t, err, "the request must be answered, and within the publish timeout")
		resp.Body.Close()
		if resp.StatusCode == 503 {
			refused = true
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		} else {
			require.Equal(t, 202, resp.StatusCode)
			accepted++
		}
	}
	require.True(t, refused, "on a full disk a request is refused, not taken")

	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/readyz", "", "")
		return err == nil && st == 503 && strings.Contains(string(b), "no space left on device")
	}, 30*time.Second, 100*time.Millisecond, "/readyz says not ready")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool {
		st, _, err := call("GET", srv.url+"/readyz", "", "")
		return err == nil && st == 200
	}, time.Minute, 100*time.Millisecond, "/readyz turns ready once there is room")
	st, b, err = call("POST", srv.url+"/ingest/hooks", "", `{"title":"腾出空间之后"}`)
	require.NoError(t, err)
	require.Equal(t, 202, st, string(b))
	// Every request answered 202, before, during and after, is one ticket: none lost.
	want := 1 + accepted + 1
	require.Eventually(t, func() bool { return tickets() == want }, time.Minute, 50*time.Millisecond,
		"every accepted request becomes a ticket (%d accepted while the disk was full)", accepted)
}
