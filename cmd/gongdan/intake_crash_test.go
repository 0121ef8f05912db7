package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKill9DuringWebhookIntake sends 20,000 webhook requests at the server from 32 clients,
// kills it with SIGKILL while they are in flight, restarts it on the same data and checks
// that every request that got a 202 became exactly one ticket: none lost, none doubled. The
// requests cut off by the kill are then retried, as a client would, with the same
// Idempotency-Key, and still make one ticket each.
func TestKill9DuringWebhookIntake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr)
	srv := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv.waitReady(addr)

	const total, clients = 20000, 32
	var (
		mu      sync.Mutex
		acked   = map[string]bool{} // Idempotency-Key → got 202
		unknown []string            // no answer, or not 202
		next    atomic.Int64
		okCount atomic.Int64
	)
	send := func(base, key string) (int, error) {
		body := fmt.Sprintf(`{"title":"冷库压缩机停机 %s","customer":{"phone":"13812345678"}}`, key)
		status, _, err := call("POST", base+"/ingest/hooks", "", body, "Idempotency-Key", key)
		return status, err
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				key := fmt.Sprintf("req-%05d", i)
				status, err := send(srv.url, key)
				mu.Lock()
				if err == nil && status == 202 {
					acked[key] = true
					okCount.Add(1)
				} else {
					unknown = append(unknown, key)
				}
				mu.Unlock()
			}
		})
	}
	for okCount.Load() < total/3 {
		if srv.cmd.ProcessState != nil {
			t.Fatalf("server exited early:\n%s", srv.logs)
		}
		time.Sleep(time.Millisecond) // polling a counter, not timing anything
	}
	srv.kill()
	wg.Wait()
	t.Logf("killed after %d requests got 202; %d got no 202", len(acked), len(unknown))
	require.Less(t, len(acked), total, "the kill came after every request was answered; nothing was in flight")

	srv2 := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv2.waitReady(addr)

	// tickets lists every ticket by dedup key.
	tickets := func() (map[string][]string, error) { // dedup key → ticket ids
		tks, err := listTickets(srv2.url, "test-admin-token-0123456789")
		if err != nil {
			return nil, err
		}
		out := map[string][]string{}
		for _, tk := range tks {
			key := tk.Sources[0].DedupKey
			out[key] = append(out[key], tk.ID)
		}
		return out, nil
	}
	// The pipeline works through what the bus kept; wait (bounded) until every acked request
	// has its ticket.
	var got map[string][]string
	require.Eventually(t, func() bool {
		var err error
		if got, err = tickets(); err != nil {
			return false
		}
		for key := range acked {
			if len(got["hooks/"+key]) == 0 {
				return false
			}
		}
		return true
	}, 3*time.Minute, 200*time.Millisecond, "acked requests without a ticket after the restart")

	for key, ids := range got {
		assert.Len(t, ids, 1, "dedup key %s made more than one ticket", key)
		assert.True(t, strings.HasPrefix(key, "hooks/req-"), "a ticket nobody asked for: %s", key)
	}

	// The clients retry what got no 202, with the same key.
	for _, key := range unknown {
		status, err := send(srv2.url, key)
		require.NoError(t, err)
		require.Equal(t, 202, status)
	}
	require.Eventually(t, func() bool {
		var err error
		got, err = tickets()
		return err == nil && len(got) == len(acked)+len(unknown)
	}, 3*time.Minute, 200*time.Millisecond, "retried requests without a ticket")
	for key, ids := range got {
		require.Len(t, ids, 1, "dedup key %s made more than one ticket", key)
	}
	assert.Len(t, got, total)
}
