package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
)

// benchTickets is how many tickets the list benchmark stores; GONGDAN_BENCH_TICKETS
// overrides it for a quick run.
func benchTickets() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("GONGDAN_BENCH_TICKETS"), &n); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// seededStore returns a store holding n tickets: a third left new, the rest assigned, each
// made by the real create and assign events. The file is kept in the temp dir and reused by
// later runs, since seeding a million tickets takes minutes.
func seededStore(b *testing.B, n int) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("gongdan-bench-list-%d-v1.db", n))
	if _, err := os.Stat(path + ".done"); err != nil {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
		st, err := sqlite.Open(ctx, path)
		require.NoError(b, err)
		seed(b, st, n)
		require.NoError(b, st.Close())
		require.NoError(b, os.WriteFile(path+".done", nil, 0o600))
	}
	return enginekit.OpenStore(b, path)
}

func seed(b *testing.B, st *sqlite.Store, n int) {
	start := time.Now()
	day := time.Date(2026, 1, 1, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	agent := ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	disp := ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	const batch = 5000
	for done := 0; done < n; {
		err := st.Write(context.Background(), func(tx store.Tx) error {
			for i := 0; i < batch && done < n; i, done = i+1, done+1 {
				now := day.Add(time.Duration(done) * 30 * time.Second) // ~2,900 tickets a day
				num, err := tx.NextNumber(now.Format("20060102"))
				if err != nil {
					return err
				}
				d := draft.Draft{
					Title:       fmt.Sprintf("%d号线急停按钮失灵", done%40),
					Description: "客户来电：3号线急停按钮按下后无反应，生产线已停，请尽快派人。联系人王建国。",
					Urgency:     []draft.Urgency{"blue", "yellow", "orange", "red"}[done%4],
					Category:    "急停故障",
					Customer:    draft.Customer{Name: "王建国", Phone: "13812345678", Org: "华东仓"},
					Location:    draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州"},
					Tags:        []string{"急停故障"},
				}
				ev, err := ticket.Create(ticket.FormatID(now, num), d, "", agent, now, "")
				if err != nil {
					return err
				}
				tk, err := ticket.Apply(ticket.Ticket{}, ev)
				if err != nil {
					return err
				}
				if _, err := tx.Insert(tk, ev, ""); err != nil {
					return err
				}
				if done%3 == 0 {
					continue
				}
				cmd := ticket.Command{TicketID: tk.ID, Action: ticket.ActionAssign, Actor: disp,
					Data: json.RawMessage(fmt.Sprintf(`{"assignee":"eng-%d","team":"team-%d"}`, done%50, done%7))}
				ev2, err := ticket.Decide(tk, cmd, now.Add(time.Minute))
				if err != nil {
					return err
				}
				if tk, err = ticket.Apply(tk, ev2); err != nil {
					return err
				}
				if _, err := tx.Append(tk, ev2); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
	b.Logf("seeded %d tickets in %s", n, time.Since(start).Round(time.Second))
}

// BenchmarkListNew measures GET /api/v1/tickets?state=new&limit=50 over real HTTP against
// a store of a million tickets, and reports the latency percentiles. first_page asks for the
// newest page each time; paging follows next_cursor 20 pages deep, then starts over.
func BenchmarkListNew(b *testing.B) {
	st := seededStore(b, benchTickets())
	eng := enginekit.Start(b, engine.Options{Store: st})
	h, err := api.New(api.Options{Engine: eng, Store: st, Tokens: tokens})
	require.NoError(b, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(url string, want int) (next string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer tok-sup")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(b, err)
		require.Equal(b, 200, resp.StatusCode, string(body))
		var page struct {
			Tickets []json.RawMessage
			Next    string `json:"next_cursor"`
		}
		require.NoError(b, json.Unmarshal(body, &page))
		require.Len(b, page.Tickets, want)
		return page.Next
	}
	base := srv.URL + "/api/v1/tickets?state=new&limit=50"
	for _, mode := range []string{"first_page", "paging"} {
		b.Run(mode, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			cursor := ""
			for i := 0; b.Loop(); i++ {
				url := base
				if mode == "paging" && i%20 != 0 {
					url += "&cursor=" + cursor
				}
				start := time.Now()
				cursor = get(url, 50)
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(pct(0.999), "p99.9_ms")
		})
	}
	// ?q= through the trigram index: part of a ticket id (10 matches among a million).
	b.Run("search", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			get(srv.URL+"/api/v1/tickets?q=GD-20260102-00123&limit=50", 10)
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99_ms")
	})
}
