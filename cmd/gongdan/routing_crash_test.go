package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// kill -9 while tickets are being routed: after the restart every ticket is there once, no
// engineer holds more than max_open, and the engine's loads (rebuilt from the store) agree
// with the tickets.
func TestKill9DuringRoutedIntake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(configText(addr)+`
routing:
  engineers:
    - {id: eng-a, skills: [plc], max_open: 300}
    - {id: eng-b, skills: [plc], max_open: 300}
    - {id: eng-c, skills: [plc], max_open: 300}
  teams:
    - {id: team, lead: sup-1, members: [eng-a, eng-b, eng-c]}
  rules:
    - {id: all, route_to: {team: team}, require_skills: [plc]}
`), 0o600))
	const total, clients, maxOpen = 1500, 16, 300
	srv := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv.waitReady(addr)

	var next, ok atomic.Int64
	var mu sync.Mutex
	var retry []string
	send := func(base, key string) (int, error) {
		status, _, err := call("POST", base+"/ingest/hooks", "", fmt.Sprintf(`{"title":"急停按钮失灵 %s"}`, key), "Idempotency-Key", key)
		return status, err
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= total; i = next.Add(1) {
				key := fmt.Sprintf("r-%05d", i)
				if status, err := send(srv.url, key); err == nil && status == 202 {
					ok.Add(1)
				} else {
					mu.Lock()
					retry = append(retry, key)
					mu.Unlock()
				}
			}
		})
	}
	for ok.Load() < total/2 {
		if srv.cmd.ProcessState != nil {
			t.Fatalf("server exited early:\n%s", srv.logs)
		}
		time.Sleep(time.Millisecond) // polling a counter, not timing anything
	}
	srv.kill()
	wg.Wait()
	require.Less(t, int(ok.Load()), total, "nothing was in flight at the kill")

	srv2 := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv2.waitReady(addr)
	for _, key := range retry {
		status, err := send(srv2.url, key)
		require.NoError(t, err)
		require.Equal(t, 202, status)
	}
	const admin = "test-admin-token-0123456789"
	var tks []ticket.Ticket
	require.Eventually(t, func() bool {
		var err error
		tks, err = listTickets(srv2.url, admin)
		return err == nil && len(tks) >= total
	}, 3*time.Minute, 200*time.Millisecond, "tickets after the restart")

	byKey := map[string]int{}
	open := map[string]int{}
	for _, tk := range tks {
		byKey[tk.Sources[0].DedupKey]++
		switch {
		case tk.Assignee != "":
			assert.Equal(t, ticket.StateAssigned, tk.State)
			open[tk.Assignee]++
		default:
			assert.Equal(t, ticket.StateNew, tk.State, "unassigned only when everyone is at the cap")
		}
	}
	assert.Len(t, tks, total)
	for key, n := range byKey {
		assert.Equal(t, 1, n, "dedup key %s", key)
	}
	assert.Equal(t, map[string]int{"eng-a": maxOpen, "eng-b": maxOpen, "eng-c": maxOpen}, open,
		"1,500 tickets over three engineers of max_open 300: each is full, never over")

	status, body, err := call("GET", srv2.url+"/api/v1/engineers", admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, status, string(body))
	var engs struct {
		Engineers []struct {
			ID    string `json:"id"`
			Open  int    `json:"open"`
			Today int    `json:"today"`
		} `json:"engineers"`
	}
	require.NoError(t, json.Unmarshal(body, &engs))
	for _, e := range engs.Engineers {
		assert.Equal(t, open[e.ID], e.Open, "%s: the engine's load after the restart", e.ID)
		assert.Equal(t, open[e.ID], e.Today, "%s: assigned today", e.ID)
	}
}

// listTickets pages through GET /api/v1/tickets. It may run inside Eventually, on another
// goroutine, so it returns errors instead of failing the test.
func listTickets(base, token string) ([]ticket.Ticket, error) {
	var all []ticket.Ticket
	cursor := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		status, body, err := call("GET", base+"/api/v1/tickets?"+q.Encode(), token, "")
		if err != nil || status != 200 {
			return nil, fmt.Errorf("listing tickets: %d %v %s", status, err, body)
		}
		var page struct {
			Tickets    []ticket.Ticket `json:"tickets"`
			NextCursor string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Tickets...)
		if cursor = page.NextCursor; cursor == "" {
			return all, nil
		}
	}
}
