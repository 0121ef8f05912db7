package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/sla"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
)

// slaClient is a server whose engine runs the orange policy on a fake clock.
type slaClient struct {
	*client
	clock *testkit.Clock
	t0    time.Time
}

// orangeSLAPolicies: on a 24×7 calendar, respond in 30 min and resolve in 4 h, warn at 80%;
// yellow 5 min after a breach, red at 30 min, black at 2 h escalates.
func orangeSLAPolicies(t *testing.T, loc *time.Location) *sla.Policies {
	t.Helper()
	always := &sla.Calendar{Name: "24x7", Location: loc, Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", When: `urgency == "orange"`, Calendar: always,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}, WarnAt: 0.8,
		Tiers: []sla.Tier{
			{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee"}},
			{Name: "red", After: 30 * time.Minute, Notify: []string{"team_lead"}},
			{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}, Escalate: true}}}})
	require.Empty(t, errs)
	return ps
}

func newSLAServer(t *testing.T) *slaClient {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, loc))
	f := enginekit.New(t, engine.Options{Location: loc, Now: clk.Now,
		SLA: &engine.SLAOptions{Policies: orangeSLAPolicies(t, loc), Notify: func(engine.Notification) {}}})
	h, err := api.New(api.Options{Engine: f.Engine, Store: f.Store, Tokens: tokens, Gatherer: f.Registry, Registerer: f.Registry, MaxBodyBytes: 4096})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &slaClient{client: &client{t: t, url: srv.URL, api: h}, clock: clk, t0: clk.Now()}
}

// createSLATicket opens a ticket with urgency and title (a new ticket each: no thread key).
func (c *slaClient) createSLATicket(title, urgency string) string {
	c.t.Helper()
	body := strings.Replace(strings.Replace(draftJSON, `"urgency":"orange"`, `"urgency":"`+urgency+`"`, 1),
		`"title":"3号线急停按钮失灵"`, `"title":"`+title+`"`, 1)
	r := c.do("POST", "/api/v1/tickets", "tok-agent", body)
	require.Equal(c.t, http.StatusCreated, r.status, string(r.body))
	return r.json(c.t)["id"].(string)
}

// ticketSLA answers GET /api/v1/tickets/{id}/sla, decoded both ways.
func (c *slaClient) ticketSLA(id string) (engine.SLAView, map[string]any) {
	c.t.Helper()
	r := c.do("GET", "/api/v1/tickets/"+id+"/sla", "tok-sup", "")
	require.Equal(c.t, http.StatusOK, r.status, string(r.body))
	require.Equal(c.t, "application/json", r.header.Get("Content-Type"))
	var v engine.SLAView
	require.NoError(c.t, json.Unmarshal(r.body, &v), string(r.body))
	return v, r.json(c.t)
}

type slaBoard struct {
	Tickets []engine.BoardEntry `json:"tickets"`
	At      time.Time           `json:"at"`
}

func (c *slaClient) board(query string) (slaBoard, map[string]any) {
	c.t.Helper()
	r := c.do("GET", "/api/v1/sla/board"+query, "tok-disp", "")
	require.Equal(c.t, http.StatusOK, r.status, string(r.body))
	var b slaBoard
	require.NoError(c.t, json.Unmarshal(r.body, &b), string(r.body))
	return b, r.json(c.t)
}

func requireSameTime(t *testing.T, want time.Time, got *time.Time, what string) {
	t.Helper()
	require.NotNil(t, got, what)
	assert.True(t, want.Equal(*got), "%s: want %s, got %s", what, want, *got)
}

func slaClockOf(t *testing.T, v engine.SLAView, target string) engine.ClockView {
	t.Helper()
	for _, c := range v.Clocks {
		if c.Target == target {
			return c
		}
	}
	t.Fatalf("no %s clock in %+v", target, v)
	return engine.ClockView{}
}

// markSummary is a mark without its times: kind or tier.
func markSummary(ms []engine.MarkView) []string {
	var out []string
	for _, m := range ms {
		if m.Tier != "" {
			out = append(out, m.Kind+"/"+m.Tier)
		} else {
			out = append(out, m.Kind)
		}
	}
	return out
}

func allFired(c engine.ClockView) bool {
	for _, m := range c.Marks {
		if m.FiredAt == nil {
			return false
		}
	}
	return len(c.Marks) > 0
}

// A ticket's SLA: the policy, its calendar, both clocks running with their due times and
// marks not fired; once the clock passes the response breach and every tier, the timer loop
// fires them, black escalates, and the view shows when each fired.
func TestSLAOfATicketThroughTheAPI(t *testing.T) {
	c := newSLAServer(t)
	t0 := c.t0
	id := c.createSLATicket("3号线急停按钮失灵", "orange")

	v, raw := c.ticketSLA(id)
	assert.Equal(t, id, v.TicketID)
	assert.Equal(t, "orange", raw["policy"])
	assert.Equal(t, "24x7", raw["calendar"])
	assert.NotContains(t, raw, "tier", "no tier has fired")
	assert.True(t, t0.Equal(v.At), "at is the engine's now: %s", v.At)
	require.Len(t, v.Clocks, 2)
	assert.Equal(t, "response", v.Clocks[0].Target)
	assert.Equal(t, "resolution", v.Clocks[1].Target)

	want := []string{"warning", "breach", "tier/yellow", "tier/red", "tier/black"}
	for _, w := range []struct {
		target, goal, remaining string
		goalD                   time.Duration
	}{
		{"response", "30m0s", "30m0s", 30 * time.Minute},
		{"resolution", "4h0m0s", "4h0m0s", 4 * time.Hour},
	} {
		cv := slaClockOf(t, v, w.target)
		assert.Equal(t, w.goal, cv.Goal)
		assert.Equal(t, sla.StatusRunning, cv.Status, w.target)
		assert.Equal(t, "0s", cv.Elapsed)
		assert.Equal(t, w.remaining, cv.Remaining)
		assert.Equal(t, "0s", cv.Paused)
		assert.Nil(t, cv.StoppedAt)
		requireSameTime(t, t0.Add(w.goalD), cv.Due, w.target+" due")
		requireSameTime(t, t0.Add(w.goalD*8/10), cv.WarnAt, w.target+" warn_at")
		assert.Equal(t, want, markSummary(cv.Marks), w.target)
		dues := []time.Time{t0.Add(w.goalD * 8 / 10), t0.Add(w.goalD), t0.Add(w.goalD + 5*time.Minute),
			t0.Add(w.goalD + 30*time.Minute), t0.Add(w.goalD + 2*time.Hour)}
		for i, m := range cv.Marks {
			assert.True(t, dues[i].Equal(m.Due), "%s %s due: want %s, got %s", w.target, want[i], dues[i], m.Due)
			assert.True(t, m.Due.Equal(m.FireAt), "on 24×7 a mark fires when due")
			assert.Nil(t, m.FiredAt)
		}
	}
	// Every mark is listed with "fired_at": null until it fires.
	for _, cl := range raw["clocks"].([]any) {
		for _, m := range cl.(map[string]any)["marks"].([]any) {
			mark := m.(map[string]any)
			assert.Contains(t, mark, "fired_at")
			assert.Nil(t, mark["fired_at"])
		}
	}
	// Any member of staff may look.
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/v1/tickets/"+id+"/sla", "tok-eng", "").status)

	// An hour on: the response warning (t0+24m), breach (t0+30m), yellow (t0+35m) and red
	// (t0+1h) are past, and fire together.
	c.clock.Advance(time.Hour)
	firstFired := t0.Add(time.Hour)
	firedKinds := func(cv engine.ClockView) int {
		n := 0
		for _, m := range cv.Marks {
			if m.FiredAt != nil {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool {
		v, _ := c.ticketSLA(id)
		return firedKinds(slaClockOf(t, v, "response")) == 4
	}, 30*time.Second, 20*time.Millisecond, "the timer loop fires what fell due")
	v, _ = c.ticketSLA(id)
	res := slaClockOf(t, v, "response")
	assert.Equal(t, sla.StatusBreached, res.Status)
	for i, m := range res.Marks[:4] {
		requireSameTime(t, firstFired, m.FiredAt, "response "+want[i]+" fired_at")
	}
	assert.Nil(t, res.Marks[4].FiredAt, "black is due at t0+2h30")
	tk := c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)
	assert.Equal(t, "new", tk["state"], "no tier escalated yet")

	// Three hours on: black is past too; the resolution warning (t0+3h12) is not.
	c.clock.Advance(2 * time.Hour)
	require.Eventually(t, func() bool {
		v, _ := c.ticketSLA(id)
		return allFired(slaClockOf(t, v, "response"))
	}, 30*time.Second, 20*time.Millisecond, "the timer loop fires black")

	v, raw = c.ticketSLA(id)
	assert.Equal(t, "black", v.Tier, "the last tier fired")
	assert.Equal(t, "black", raw["tier"])
	assert.True(t, t0.Add(3*time.Hour).Equal(v.At), "at: %s", v.At)
	res = slaClockOf(t, v, "response")
	assert.Equal(t, sla.StatusBreached, res.Status)
	assert.Equal(t, "3h0m0s", res.Elapsed)
	assert.Equal(t, "-2h30m0s", res.Remaining)
	requireSameTime(t, t0.Add(30*time.Minute), res.Due, "a breached clock's due time")
	requireSameTime(t, t0.Add(30*time.Minute), res.BreachedAt, "breached_at")
	assert.Equal(t, want, markSummary(res.Marks))
	for i, m := range res.Marks[:4] {
		requireSameTime(t, firstFired, m.FiredAt, "response "+want[i]+" fired_at")
	}
	requireSameTime(t, t0.Add(3*time.Hour), res.Marks[4].FiredAt, "response black fired_at")
	for _, m := range raw["clocks"].([]any)[0].(map[string]any)["marks"].([]any) {
		assert.NotNil(t, m.(map[string]any)["fired_at"])
	}
	resolution := slaClockOf(t, v, "resolution")
	assert.Equal(t, sla.StatusRunning, resolution.Status)
	assert.Equal(t, "1h0m0s", resolution.Remaining)
	requireSameTime(t, t0.Add(4*time.Hour), resolution.Due, "resolution due")
	for _, m := range resolution.Marks {
		assert.Nil(t, m.FiredAt, "resolution %s/%s has not fired", m.Kind, m.Tier)
	}
	tk = c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)
	assert.Equal(t, "escalated", tk["state"], "black escalates")
}

func TestSLAEndpointsRefuse(t *testing.T) {
	c := newSLAServer(t)
	id := c.createSLATicket("冷库温度报警", "orange")

	p := requireProblem(t, c.do("GET", "/api/v1/tickets/GD-20990101-000001/sla", "tok-sup", ""), http.StatusNotFound, "not-found")
	assert.Contains(t, p["detail"], "GD-20990101-000001")

	for _, path := range []string{"/api/v1/tickets/" + id + "/sla", "/api/v1/sla/board"} {
		r := c.do("GET", path, "", "")
		requireProblem(t, r, http.StatusUnauthorized, "unauthorized")
		assert.Equal(t, `Bearer realm="gongdan"`, r.header.Get("WWW-Authenticate"))
		requireProblem(t, c.do("GET", path, "not-a-token", ""), http.StatusUnauthorized, "unauthorized")
		requireProblem(t, c.do("GET", path, "tok-cust", ""), http.StatusForbidden, "forbidden")
	}

	for _, limit := range []string{"0", "x", "-1", "501", "1.5"} {
		p := requireProblem(t, c.do("GET", "/api/v1/sla/board?limit="+limit, "tok-sup", ""), http.StatusBadRequest, "bad-request")
		assert.Equal(t, "limit", p["field"], limit)
		assert.Equal(t, `limit must be 1 to 500, got "`+limit+`"`, p["detail"])
	}
}

// A ticket no policy applies to has no clocks, and is not on the board.
func TestSLAOfATicketWithoutAPolicy(t *testing.T) {
	c := newSLAServer(t)
	id := c.createSLATicket("打印机卡纸", "blue")
	v, raw := c.ticketSLA(id)
	assert.Equal(t, id, v.TicketID)
	assert.Contains(t, raw, "policy")
	assert.Equal(t, "", raw["policy"])
	assert.Equal(t, []any{}, raw["clocks"], `"clocks": [], not null`)
	assert.NotContains(t, raw, "calendar")
	assert.NotContains(t, raw, "tier")

	b, rawBoard := c.board("")
	assert.Empty(t, b.Tickets)
	assert.Equal(t, []any{}, rawBoard["tickets"], `"tickets": [], not null`)
}

// The board: the nearest to a breach first, whatever the order the tickets came in; a
// breached one before them all, with the colour of its last tier.
func TestSLABoardOrdersNearestToBreachFirst(t *testing.T) {
	c := newSLAServer(t)
	t0 := c.t0
	b, _ := c.board("")
	assert.Empty(t, b.Tickets)

	a := c.createSLATicket("A: 3号线急停按钮失灵", "orange") // response due t0+30m
	c.clock.Advance(5 * time.Minute)
	bt := c.createSLATicket("B: 冷库温度报警", "orange") // response due t0+35m
	c.clock.Advance(5 * time.Minute)
	c.createSLATicket("C: 打印机卡纸", "blue") // no policy: not on the board
	require.Equal(t, http.StatusOK, c.act(a, "assign", "tok-disp", `{"data":{"assignee":"eng-li","team":"suzhou-a"}}`).status)
	require.Equal(t, http.StatusOK, c.act(a, "accept", "tok-eng", ``).status) // A's response met: resolution due t0+4h

	b, raw := c.board("")
	assert.True(t, t0.Add(10*time.Minute).Equal(b.At), "at: %s", b.At)
	require.Len(t, b.Tickets, 2, "%v", raw)
	first, second := b.Tickets[0], b.Tickets[1]
	assert.Equal(t, bt, first.TicketID)
	assert.Equal(t, "B: 冷库温度报警", first.Title)
	assert.Equal(t, "new", first.State)
	assert.Equal(t, "orange", first.Urgency)
	assert.Equal(t, "orange", first.Policy)
	assert.Equal(t, "response", first.Target)
	assert.Equal(t, sla.StatusRunning, first.Status)
	requireSameTime(t, t0.Add(35*time.Minute), first.Due, "B due")
	assert.Equal(t, "25m0s", first.ToBreach)
	assert.Empty(t, first.Tier)
	assert.NotContains(t, raw["tickets"].([]any)[0], "tier")

	assert.Equal(t, a, second.TicketID)
	assert.Equal(t, "accepted", second.State)
	assert.Equal(t, "eng-li", second.Assignee)
	assert.Equal(t, "suzhou-a", second.Team)
	assert.Equal(t, "resolution", second.Target)
	assert.Equal(t, sla.StatusRunning, second.Status)
	requireSameTime(t, t0.Add(4*time.Hour), second.Due, "A due")
	assert.Equal(t, "3h50m0s", second.ToBreach)

	// t0+45m: B breached at t0+35m and passed yellow at t0+40m.
	c.clock.Advance(35 * time.Minute)
	require.Eventually(t, func() bool {
		b, _ := c.board("")
		return len(b.Tickets) == 2 && b.Tickets[0].Tier == "yellow"
	}, 30*time.Second, 20*time.Millisecond, "the timer loop fires B's breach and yellow")
	b, raw = c.board("")
	require.Len(t, b.Tickets, 2, "%v", raw)
	first, second = b.Tickets[0], b.Tickets[1]
	assert.Equal(t, bt, first.TicketID)
	assert.Equal(t, sla.StatusBreached, first.Status)
	assert.Equal(t, "response", first.Target)
	requireSameTime(t, t0.Add(35*time.Minute), first.Due, "B breached at")
	assert.Equal(t, "-10m0s", first.ToBreach)
	assert.Equal(t, "yellow", first.Tier)
	assert.Equal(t, "yellow", raw["tickets"].([]any)[0].(map[string]any)["tier"])
	assert.Equal(t, a, second.TicketID)
	assert.Equal(t, "3h15m0s", second.ToBreach)
	assert.Empty(t, second.Tier)

	b, _ = c.board("?limit=1")
	require.Len(t, b.Tickets, 1)
	assert.Equal(t, bt, b.Tickets[0].TicketID, "the limit keeps the nearest")
	b, _ = c.board("?limit=500")
	assert.Len(t, b.Tickets, 2)
}

// Tiers that fire together (after downtime, or quiet ones at the next opening) show the
// colour of the last of them.
func TestSLATierOfTiersFiredTogether(t *testing.T) {
	c := newSLAServer(t)
	id := c.createSLATicket("3号线急停按钮失灵", "orange")
	c.clock.Advance(3 * time.Hour) // every response tier is overdue: they fire in one batch
	require.Eventually(t, func() bool {
		v, _ := c.ticketSLA(id)
		return allFired(slaClockOf(t, v, "response"))
	}, 30*time.Second, 20*time.Millisecond)
	v, _ := c.ticketSLA(id)
	assert.Equal(t, "escalated", c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)["state"])
	assert.Equal(t, "black", v.Tier)
	b, _ := c.board("")
	require.Len(t, b.Tickets, 1)
	assert.Equal(t, "black", b.Tickets[0].Tier)
}

// The board of one team (?team=) or one policy (?policy=), or both: the same order, fewer
// rows; a ticket moved to another team moves on the board with it.
func TestSLABoardByTeamAndPolicy(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, loc))
	always := &sla.Calendar{Name: "24x7", Location: loc, Always: true}
	ps, errs := sla.NewPolicies([]sla.Policy{
		{ID: "orange", When: `urgency == "orange"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute}},
		{ID: "red", When: `urgency == "red"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Response: 10 * time.Minute}},
	})
	require.Empty(t, errs)
	f := enginekit.New(t, engine.Options{Location: loc, Now: clk.Now, SLA: &engine.SLAOptions{Policies: ps, Notify: func(engine.Notification) {}}})
	h, err := api.New(api.Options{Engine: f.Engine, Store: f.Store, Tokens: tokens})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	c := &slaClient{client: &client{t: t, url: srv.URL, api: h}, clock: clk, t0: clk.Now()}

	a := c.createSLATicket("甲", "orange") // due at +30m
	clk.Advance(time.Minute)
	b := c.createSLATicket("乙", "red") // due at +11m
	clk.Advance(time.Minute)
	d := c.createSLATicket("丙", "orange") // due at +32m
	assign := func(id, team string) {
		r := c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li","team":"`+team+`"}}`)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	}
	assign(a, "suzhou-a")
	assign(b, "suzhou-a")
	assign(d, "suzhou-b")

	ids := func(query string) []string {
		b, _ := c.board(query)
		out := []string{}
		for _, e := range b.Tickets {
			out = append(out, e.TicketID)
		}
		return out
	}
	assert.Equal(t, []string{b, a, d}, ids(""))
	assert.Equal(t, []string{b, a}, ids("?team=suzhou-a"))
	assert.Equal(t, []string{d}, ids("?team=suzhou-b"))
	assert.Equal(t, []string{a, d}, ids("?policy=orange"))
	assert.Equal(t, []string{a}, ids("?team=suzhou-a&policy=orange"))
	assert.Equal(t, []string{}, ids("?team=nobody"))
	assert.Equal(t, []string{a}, ids("?policy=orange&limit=1"))

	assign(a, "suzhou-b")
	assert.Equal(t, []string{b}, ids("?team=suzhou-a"), "moved with its team")
	assert.Equal(t, []string{a, d}, ids("?team=suzhou-b"))
	board, _ := c.board("?team=suzhou-b&policy=orange")
	require.Len(t, board.Tickets, 2)
	assert.Equal(t, "suzhou-b", board.Tickets[0].Team)
	assert.Equal(t, "orange", board.Tickets[0].Policy)
}
