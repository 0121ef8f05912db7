package console_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// closeTicket drives tk through the engine to closed: accepted and fixed by eng-li (root
// cause rootCause), rated by its customer, closed by the supervisor. The clock moves on between
// steps, so the durations are known: accepted after 10 minutes, resolved 2 hours after the
// creation.
func (s *site) closeTicket(t *testing.T, tk ticket.Ticket, rootCause string, timeliness, professionalism int) ticket.Ticket {
	t.Helper()
	ctx := context.Background()
	eng := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	do := func(a ticket.Action, actor ticket.Actor, data string) {
		t.Helper()
		cur, err := s.Store.Ticket(ctx, tk.ID)
		require.NoError(t, err)
		cmd := ticket.Command{TicketID: tk.ID, Action: a, Actor: actor, ExpectedVersion: cur.Version}
		if data != "" {
			cmd.Data = json.RawMessage(data)
		}
		tk, err = s.Engine.Do(ctx, cmd)
		require.NoError(t, err, a)
	}
	require.Equal(t, "eng-li", tk.Assignee, "the router gave it to eng-li")
	s.clock.Advance(10 * time.Minute)
	do(ticket.ActionAccept, eng, "")
	do(ticket.ActionStart, eng, "{}")
	s.clock.Advance(110 * time.Minute)
	rc, _ := json.Marshal(rootCause)
	do(ticket.ActionResolve, eng, `{"root_cause":`+string(rc)+`,"evidence":["photo-1"]}`)
	s.clock.Advance(5 * time.Minute)
	do(ticket.ActionConfirm, ticket.TrackingActor(tk.ID), fmt.Sprintf(`{"solved":true,"timeliness":%d,"professionalism":%d}`, timeliness, professionalism))
	do(ticket.ActionClose, people[ticket.RoleSupervisor].Actor, "")
	require.Equal(t, ticket.StateClosed, tk.State)
	return tk
}

// kpi reads the number a dashboard shows under data-kpi="name".
func kpi(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`data-kpi="` + name + `">([^<]*)<`).FindStringSubmatch(body)
	require.NotNil(t, m, "no %s on the page", name)
	return m[1]
}

// TestDashboardRoles: the desk (admin, supervisor, dispatcher) sees the dashboard and its link;
// engineers, agents and qa, whom the KPI report refuses, get 403 and no link.
func TestDashboardRoles(t *testing.T) {
	s := newSite(t)
	s.create(t, estop("急停按钮失灵"))
	for _, role := range consoleRoles {
		b := s.signIn(t, role, "/console/dashboard")
		res := b.get("/console/dashboard")
		desk := role == ticket.RoleAdmin || role == ticket.RoleSupervisor || role == ticket.RoleDispatcher
		if desk {
			require.Equal(t, http.StatusOK, res.status, "%s: %s", role, res.body)
			assert.Contains(t, res.body, `id="dash-data"`, role)
			assert.Contains(t, res.body, "echarts.simple", role)
			assert.Contains(t, res.body, `href="/console/dashboard"`, role)
			assert.Equal(t, "1", kpi(t, res.body, "open"), role)
		} else {
			assert.Equal(t, http.StatusForbidden, res.status, role)
			assert.NotContains(t, res.body, `href="/console/dashboard"`, role)
			assert.NotContains(t, res.body, "dash-data", role)
		}
	}
	// ECharts is the dashboard's alone: the first load of any other page stays small.
	res := s.signIn(t, ticket.RoleAdmin, "/console/dashboard").get("/console/signin")
	assert.NotContains(t, res.body, "echarts")
}

// TestDashboardCountsAClosedTicket: a ticket created, fixed, rated and closed through the engine
// is on the dashboard: one closed, first response 10 minutes, resolution 2 hours, FTFR 100%,
// the rating's answers, its team's row; the period selector changes the window.
func TestDashboardCountsAClosedTicket(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("急停按钮失灵"))
	s.create(t, estop("另一台急停")) // stays open
	s.closeTicket(t, tk, "触点氧化", 2, 5)

	b := s.signIn(t, ticket.RoleSupervisor, "/console/dashboard")
	res := b.get("/console/dashboard?since=7d")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, "1", kpi(t, res.body, "closed"))
	assert.Equal(t, "100.0%", kpi(t, res.body, "ftfr"))
	assert.Equal(t, "10分", kpi(t, res.body, "first_response"))
	assert.Equal(t, "2小时0分", kpi(t, res.body, "resolution"))
	assert.Equal(t, "1", kpi(t, res.body, "open"))
	assert.Equal(t, "2.00 / 5.00", kpi(t, res.body, "csat"))
	assert.Equal(t, "0", kpi(t, res.body, "force_closed"))
	assert.Contains(t, res.body, `<option value="7d" selected>`)
	// The team's row, the low score's cause, the backlog's bucket.
	teams := section(t, res.body, "dash-teams")
	assert.Contains(t, teams, "<td>suzhou-a</td><td>1</td><td>100.0%</td><td>2小时0分</td><td>10分</td>")
	assert.Contains(t, section(t, res.body, "dash-causes"), "<td>触点氧化</td><td>1</td>")
	assert.Contains(t, section(t, res.body, "dash-backlog"), "<td>&lt;1d</td><td>1</td>")
	assert.Contains(t, section(t, res.body, "dash-gini"), "<td>suzhou-a</td>")
	// The daily trend has today's row: two created, one closed.
	rows := section(t, res.body, "dash-trend-table")
	assert.Contains(t, rows, "<td>11-24</td><td>2</td><td>1</td><td>0.2</td><td>2.0</td>")
	// The intake: two tickets from wechat-svc in the hour they came.
	assert.Contains(t, section(t, res.body, "dash-intake"), `<th scope="row">wechat-svc</th><td>2</td>`)

	// The chart data is JSON the script can read, with the same numbers.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="dash-data">(.*?)</script>`).FindStringSubmatch(res.body)
	require.NotNil(t, m)
	var data map[string]any
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data), m[1])
	teamsChart := data["teams"].(map[string]any)
	assert.Equal(t, []any{"suzhou-a"}, teamsChart["labels"])

	// In English; and over 90 days, by week.
	res = b.get("/console/dashboard?since=90d&lang=en")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "10m", kpi(t, res.body, "first_response"))
	assert.Equal(t, "1", kpi(t, res.body, "closed"))
	// A period not offered falls back to 30 days.
	res = b.get("/console/dashboard?since=5y")
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, res.body, `<option value="30d" selected>`)
}

// TestDashboardEscapes: a root cause an engineer typed is shown escaped, in the table and in
// the chart data.
func TestDashboardEscapes(t *testing.T) {
	s := newSite(t)
	s.closeTicket(t, s.create(t, estop("急停")), xssScript+xssAttr, 1, 1)
	res := s.signIn(t, ticket.RoleAdmin, "/console/dashboard").get("/console/dashboard")
	require.Equal(t, http.StatusOK, res.status)
	assert.NotContains(t, res.body, xssScript)
	assert.NotContains(t, res.body, "<img src=x")
	assert.Contains(t, section(t, res.body, "dash-causes"), "&lt;script&gt;alert(1)&lt;/script&gt;")
	m := regexp.MustCompile(`(?s)id="dash-data">(.*?)</script>`).FindStringSubmatch(res.body)
	require.NotNil(t, m)
	var data map[string]any
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	assert.Equal(t, []any{xssScript + xssAttr}, data["causes"].(map[string]any)["labels"], "the script reads the text as it was typed")
}

// section is the element with id in body, up to its end (a table or a list).
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no #%s", id)
	rest := body[i:]
	for _, end := range []string{"</table>", "</ul>", "</section>", "</form>"} {
		if j := strings.Index(rest, end); j >= 0 {
			return rest[:j]
		}
	}
	return rest
}

// signIn is s.as without landing on the home page (the queue, another page's): it signs in
// with role's token and lands on next, whatever that answers.
func (s *site) signIn(t *testing.T, role ticket.Role, next string) *browser {
	t.Helper()
	b := s.anonymous(t)
	res := b.post("/console/signin", url.Values{"token": {people[role].Token}, "next": {next}})
	require.NotContains(t, res.body, `id="token"`, "still on the sign-in page")
	b.csrf = csrfOf(res.body)
	require.NotEmpty(t, b.csrf)
	return b
}

// firstLoad is what a first visit to path transfers: the page and every script and style it
// names, gzip-compressed as a browser asks for them (bytes, and the assets by name).
func (b *browser) firstLoad(t *testing.T, path string) (int, []string) {
	t.Helper()
	page := b.get(path, "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, page.status)
	total := len(page.body)
	require.Equal(t, "gzip", page.header.Get("Content-Encoding"), "pages are sent compressed")
	html := gunzip(t, page.body)
	var names []string
	for _, m := range regexp.MustCompile(`(?:src|href)="(/console/assets/[^"]+)"`).FindAllStringSubmatch(html, -1) {
		a := b.get(m[1], "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, a.status, m[1])
		total += len(a.body)
		names = append(names, m[1])
	}
	return total, names
}

// TestFirstLoadBudget (issue 22): the console's pages load in at most 400 KB gzipped; the
// dashboard may add ECharts, and only the dashboard loads it.
func TestFirstLoadBudget(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleAdmin, "/console/dashboard")
	const budget = 400 << 10
	for _, path := range []string{"/console/ops", "/console/ops/deadletters", "/console/ops/devices", "/console/ops/customers", "/console/ops/engineers"} {
		n, names := b.firstLoad(t, path)
		assert.LessOrEqual(t, n, budget, path)
		for _, name := range names {
			assert.NotContains(t, name, "echarts", path)
		}
	}
	n, names := b.firstLoad(t, "/console/dashboard")
	echarts := 0
	for _, name := range names {
		if strings.Contains(name, "echarts") {
			echarts = len(b.get(name, "Accept-Encoding", "gzip").body)
		}
	}
	require.NotZero(t, echarts, "the dashboard loads ECharts")
	assert.LessOrEqual(t, n-echarts, budget, "the dashboard without ECharts")
	t.Logf("dashboard first load: %d KB gzipped, %d KB of it ECharts", n>>10, echarts>>10)
}

// gunzip is body uncompressed.
func gunzip(t *testing.T, body string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(body))
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}
