package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// TestKill9DuringActions kills the server with SIGKILL while 16 clients stream actions and
// creates at it, restarts it on the same data, and checks that every request that got a 2xx
// is in the event log, that retrying the others changes nothing twice, and that every
// ticket's state equals the fold of its events.
func TestKill9DuringActions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr)
	srv := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv.waitReady(addr)
	const token = "test-admin-token-0123456789"

	const clients, ticketsPerClient = 16, 4
	owned := make([][]string, clients)
	for c := range clients {
		for range ticketsPerClient {
			status, body, err := call("POST", srv.url+"/api/v1/tickets", token, `{"title":"急停按钮失灵","customer":{"phone":"13812345678"}}`)
			require.NoError(t, err)
			require.Equal(t, 201, status, string(body))
			var tk ticket.Ticket
			require.NoError(t, json.Unmarshal(body, &tk))
			owned[c] = append(owned[c], tk.ID)
		}
	}

	type sent struct{ ticketID, commandID, action, body string }
	var (
		mu      sync.Mutex
		acked   []sent // got a 2xx
		unknown []sent // no answer: the kill cut them off
		created []string
		idemOK  = map[string]string{}
	)
	var okCount atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cycle := []struct{ action, body string }{
		{"assign", `"data":{"assignee":"eng-li"}`}, {"accept", ""}, {"start", ""},
		{"pause", `"reason":"等待停机窗口"`}, {"resume", ""},
		{"request_parts", ""}, {"parts_arrived", ""},
	}
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%10 == 9 { // a create now and then, with an idempotency key
					key := fmt.Sprintf("idem-%d-%d", c, i)
					status, body, err := call("POST", srv.url+"/api/v1/tickets", token, `{"title":"设备报警"}`, "Idempotency-Key", key)
					if err != nil {
						return
					}
					if status == 201 {
						var tk ticket.Ticket
						json.Unmarshal(body, &tk)
						mu.Lock()
						created = append(created, tk.ID)
						idemOK[key] = tk.ID
						mu.Unlock()
					}
					continue
				}
				tid := owned[c][i%ticketsPerClient]
				step := cycle[(i/ticketsPerClient)%len(cycle)]
				if step.action == "assign" && i >= ticketsPerClient*len(cycle) {
					step = cycle[3] // after the first round: pause/resume and parts, no reassign
				}
				s := sent{ticketID: tid, commandID: fmt.Sprintf("c%d-%d", c, i), action: step.action}
				s.body = `{"command_id":"` + s.commandID + `"`
				if step.body != "" {
					s.body += "," + step.body
				}
				s.body += "}"
				status, _, err := call("POST", srv.url+"/api/v1/tickets/"+tid+"/actions/"+step.action, token, s.body)
				mu.Lock()
				switch {
				case err != nil:
					unknown = append(unknown, s)
					mu.Unlock()
					return
				case status >= 200 && status < 300:
					acked = append(acked, s)
					okCount.Add(1)
				}
				mu.Unlock()
			}
		})
	}
	// Let a stream of acknowledged actions build up, then pull the plug mid-stream.
	for okCount.Load() < 1500 {
		if srv.cmd.ProcessState != nil {
			t.Fatalf("server exited early:\n%s", srv.logs)
		}
		select {
		case <-t.Context().Done():
			return
		default:
		}
		time.Sleep(time.Millisecond) // polling a counter, not timing anything
	}
	srv.kill()
	close(stop)
	wg.Wait()
	t.Logf("killed after %d acknowledged actions; %d requests cut off", len(acked), len(unknown))

	srv2 := startChild(t, "serve", "--config", cfg, "--data", dir)
	srv2.waitReady(addr)

	events := func(id string) []ticket.Event {
		status, body, err := call("GET", srv2.url+"/api/v1/tickets/"+id+"/events", token, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, string(body))
		var trail struct{ Events []ticket.Event }
		require.NoError(t, json.Unmarshal(body, &trail))
		return trail.Events
	}
	commandsIn := func(evs []ticket.Event) map[string]int {
		m := map[string]int{}
		for _, ev := range evs {
			if ev.CommandID != "" {
				m[ev.CommandID]++
			}
		}
		return m
	}

	// Every acknowledged action is in the log.
	logs := map[string]map[string]int{}
	for _, s := range acked {
		if logs[s.ticketID] == nil {
			logs[s.ticketID] = commandsIn(events(s.ticketID))
		}
		assert.Equal(t, 1, logs[s.ticketID][s.commandID], "acknowledged %s %s lost", s.action, s.commandID)
	}
	// Retrying the cut-off requests with the same command id applies each at most once.
	for _, s := range unknown {
		status, body, err := call("POST", srv2.url+"/api/v1/tickets/"+s.ticketID+"/actions/"+s.action, token, s.body)
		require.NoError(t, err)
		assert.True(t, status == 200 || status == 409, "retry of %s: %d %s", s.commandID, status, body)
		assert.LessOrEqual(t, commandsIn(events(s.ticketID))[s.commandID], 1)
	}
	// Every acknowledged create exists; its idempotency key still answers the same ticket.
	for key, id := range idemOK {
		status, body, err := call("POST", srv2.url+"/api/v1/tickets", token, `{"title":"设备报警"}`, "Idempotency-Key", key)
		require.NoError(t, err)
		require.Equal(t, 200, status, string(body))
		var tk ticket.Ticket
		require.NoError(t, json.Unmarshal(body, &tk))
		assert.Equal(t, id, tk.ID)
	}
	// Every ticket's state equals the fold of its events: every ticket in the store, also
	// those whose creation committed but whose answer the kill cut off.
	var all []ticket.Ticket
	for cursor := ""; ; {
		status, body, err := call("GET", srv2.url+"/api/v1/tickets?limit=500&cursor="+cursor, token, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, string(body))
		var page struct {
			Tickets []ticket.Ticket
			Next    string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		all = append(all, page.Tickets...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	known := map[string]bool{}
	for _, tk := range all {
		known[tk.ID] = true
	}
	for _, ids := range owned {
		for _, id := range ids {
			assert.True(t, known[id], "ticket %s lost", id)
		}
	}
	for _, id := range created {
		assert.True(t, known[id], "created ticket %s lost", id)
	}
	for _, tk := range all {
		folded, err := ticket.Fold(events(tk.ID))
		require.NoError(t, err)
		want, _ := json.Marshal(folded)
		got, _ := json.Marshal(tk)
		assert.JSONEq(t, string(want), string(got), "ticket %s differs from the fold of its events", tk.ID)
	}
	t.Logf("checked %d tickets after the restart", len(all))
}
