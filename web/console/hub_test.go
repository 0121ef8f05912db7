package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// liveBatch is a batch of the live stream as a page reads it.
type liveBatch struct {
	Tickets []struct {
		ID, State, Row string
		Created        bool
	}
	Events []struct {
		ID     int64
		Ticket string
		Action string
		Actor  string
	}
}

// openStream opens the live stream as b and returns its batches as they come.
func openStream(t *testing.T, b *browser) <-chan liveBatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.s.srv.URL+"/console/events", nil)
	require.NoError(t, err)
	res, err := b.c.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	out := make(chan liveBatch, 64)
	go func() {
		defer res.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok && event == "tickets" {
				var lb liveBatch
				if json.Unmarshal([]byte(d), &lb) == nil {
					out <- lb
				}
			}
		}
	}()
	return out
}

// next waits for the batch that names ticket id.
func next(t *testing.T, batches <-chan liveBatch, id string) liveBatch {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-batches:
			require.True(t, ok, "the stream ended")
			for _, tk := range b.Tickets {
				if tk.ID == id {
					return b
				}
			}
		case <-deadline:
			t.Fatalf("no batch named %s", id)
		}
	}
}

// TestTheLiveStreamCarriesChanges: a signed-in page's stream names each new or changed
// ticket with its state and the event that changed it, whoever made the change.
func TestTheLiveStreamCarriesChanges(t *testing.T) {
	s := newSite(t)
	stream := openStream(t, s.as(t, ticket.RoleDispatcher))
	tk := s.create(t, estop("3号线急停按钮失灵"))
	b := next(t, stream, tk.ID)
	var created bool
	for _, lt := range b.Tickets {
		if lt.ID == tk.ID {
			created = lt.Created
		}
	}
	assert.True(t, created, "the batch says the ticket is new")
	var actions []string
	for _, ev := range b.Events {
		if ev.Ticket == tk.ID {
			actions = append(actions, ev.Action)
		}
	}
	assert.Contains(t, actions, "create")

	_, err := s.Engine.Do(context.Background(), ticket.Command{TicketID: tk.ID, Action: ticket.ActionAccept,
		Actor: ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}})
	require.NoError(t, err)
	b = next(t, stream, tk.ID)
	for _, lt := range b.Tickets {
		if lt.ID == tk.ID {
			assert.Equal(t, "accepted", lt.State)
		}
	}
}

// TestTheLiveStreamNeedsASession: without a session the stream is a 401, never a stream.
func TestTheLiveStreamNeedsASession(t *testing.T) {
	s := newSite(t)
	p := s.anonymous(t).get("/console/events")
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.NotEqual(t, "text/event-stream", p.header.Get("Content-Type"))
}

// TestSigningOutEndsTheLiveStream: a page's stream ends when its session is signed out, at
// once, and carries no ticket after that.
func TestSigningOutEndsTheLiveStream(t *testing.T) {
	s := newSite(t)
	b := s.as(t, ticket.RoleDispatcher)
	stream := openStream(t, b)
	first := s.create(t, estop("登出前"))
	next(t, stream, first.ID)
	b.post("/console/signout", nil)
	s.create(t, estop("登出后的工单"))
	for batch := range stream { // ends when the server ends the stream
		for _, tk := range batch.Tickets {
			assert.NotContains(t, tk.Row, "登出后的工单", "a ticket after the sign-out")
		}
	}
}

// TestAnExpiredSessionsStreamEnds: a page left open is not a use of its session; once the
// session is past its idle time, the stream ends at its next heartbeat.
func TestAnExpiredSessionsStreamEnds(t *testing.T) {
	s := newSite(t)
	stream := openStream(t, s.as(t, ticket.RoleDispatcher))
	s.clock.Advance(9 * time.Hour) // past the default idle timeout of 8h
	for range stream {             // ends at the next heartbeat (a second in the test site)
	}
}

// TestALivePageArrivingAsTheHubStopsIsServed: pages that leave and come back (every
// navigation) always get a running hub: a new ticket reaches the page that came last.
func TestALivePageArrivingAsTheHubStopsIsServed(t *testing.T) {
	s := newSite(t)
	b := s.as(t, ticket.RoleDispatcher)
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/console/events", nil)
		res, err := b.c.Do(req)
		require.NoError(t, err)
		cancel() // the page leaves
		res.Body.Close()
		if i%5 == 0 {
			time.Sleep(25 * time.Millisecond) // about a flush, so the hub may be stopping
		}
	}
	stream := openStream(t, b)
	tk := s.create(t, estop("导航之后"))
	next(t, stream, tk.ID)
}

// TestAPageCatchesUpFromItsRendering: what was committed after a page was rendered and
// before its stream opened comes first on the stream (the page says where it was rendered,
// ?after=); a page that does not say is told to reload.
func TestAPageCatchesUpFromItsRendering(t *testing.T) {
	s := newSite(t)
	b := s.as(t, ticket.RoleDispatcher)
	s.create(t, estop("渲染之前"))
	p := b.get("/console/queue")
	m := regexp.MustCompile(`data-live="(/console/events\?after=\d+)"`).FindStringSubmatch(p.body)
	require.NotNil(t, m, "the page says where its stream starts")
	tk := s.create(t, estop("渲染之后、连接之前"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+m[1], nil)
	res, err := b.c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && !strings.Contains(sc.Text(), tk.ID) {
		require.NotEqual(t, "event: resync", sc.Text(), "caught up, not told to reload")
	}
	require.NoError(t, ctx.Err(), "the ticket came on the stream")

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/console/events", nil)
	res2, err := b.c.Do(req)
	require.NoError(t, err)
	defer res2.Body.Close()
	sc = bufio.NewScanner(res2.Body)
	for sc.Scan() && sc.Text() != "event: resync" {
	}
	require.NoError(t, ctx.Err(), "a page that does not say where it was is told to reload")
}
