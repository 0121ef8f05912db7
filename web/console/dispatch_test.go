package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/web/console"
)

// waiting is a draft no routing rule takes: it stays new, unassigned, at a place on the map.
func waiting(title string) draft.Draft {
	d := estop(title)
	d.Category = "打印机卡纸"
	d.Location = draft.Location{Address: "苏州工业园区金鸡湖大道 88 号", Lat: 31.32, Lon: 120.70}
	return d
}

// Every console role sees the engineers (the API lets all staff); only those who may assign
// see the candidates and the buttons.
func TestWhoSeesDispatch(t *testing.T) {
	s := newSite(t)
	w := s.create(t, waiting("打印机卡纸"))
	require.Equal(t, ticket.StateNew, w.State)
	for _, role := range consoleRoles {
		p := s.as(t, role).get("/console/dispatch?ticket=" + w.ID)
		require.Equal(t, http.StatusOK, p.status, "%s: %s", role, p.body)
		assert.Contains(t, p.body, `href="/console/dispatch"`, role)
		assert.Contains(t, p.body, `<tr data-engineer="eng-li">`, role)
		assert.Contains(t, p.body, `<li data-ticket="`+w.ID+`"`, role)
		switch role {
		case ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher:
			assert.Contains(t, p.body, `<tr data-candidate="eng-li"`, role)
			assert.Contains(t, p.body, `action="/console/dispatch/assign"`, role)
		default:
			assert.NotContains(t, p.body, "data-candidate", role)
			assert.NotContains(t, p.body, `action="/console/dispatch/assign"`, role)
			assert.NotContains(t, p.body, `?ticket=`+w.ID+`">`, "%s: no link to candidates", role)
			assert.Contains(t, p.body, "您的角色不能分派工单", role)
		}
	}
	assert.Contains(t, s.anonymous(t).get("/console/dispatch").url, "/console/signin")

	// Live: the engineers, the map and the waiting tickets are reloaded as tickets change,
	// the candidates being decided on are not.
	live := s.as(t, ticket.RoleDispatcher).get("/console/dispatch?ticket="+w.ID, "HX-Request", "true")
	assert.Contains(t, live.body, `<div id="dispatch-live" hx-get="/console/dispatch?part=live&amp;ticket=`+w.ID+`" hx-trigger="gd:tickets from:body throttle:1s, gd:resync from:body"`)
	part := s.as(t, ticket.RoleDispatcher).get("/console/dispatch?part=live&ticket="+w.ID, "HX-Request", "true")
	require.Equal(t, http.StatusOK, part.status)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(part.body), `<div id="dispatch-live"`), part.body)
	assert.Contains(t, part.body, `<li data-ticket="`+w.ID+`" aria-current="true">`)
	assert.Contains(t, part.body, `data-engineer="eng-li"`)
	assert.NotContains(t, part.body, "data-candidate")
	assert.Contains(t, s.as(t, ticket.RoleDispatcher).get("/console/dispatch").body, `data-live="/console/events`)

	// No rule matched it, so the router ranked no one: every engineer is offered, unranked,
	// and the assignment by hand is recorded as manual like any other.
	b := s.as(t, ticket.RoleDispatcher)
	p := b.get("/console/dispatch?ticket=" + w.ID)
	assert.Contains(t, p.body, "路由未排序")
	assert.Contains(t, between(t, p.body, `<tr data-candidate="eng-zhao">`, "</tr>"), `<button type="submit" class="secondary">分派给 赵工</button>`)
	p = b.post("/console/dispatch/assign", url.Values{"ticket": {w.ID}, "assignee": {"eng-zhao"}, "team": {"suzhou-a"}, "version": {strconv.FormatInt(w.Version, 10)}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	ds, err := s.Store.RoutingDecisions(t.Context(), w.ID)
	require.NoError(t, err)
	require.NotEmpty(t, ds)
	assert.Equal(t, engine.TriggerManual, ds[len(ds)-1].Trigger)
	assert.Equal(t, "eng-zhao", ds[len(ds)-1].Engineer)
}

var engineerMarkRe = regexp.MustCompile(`<g class="map-eng status-([a-z_]+)" data-engineer="([^"]+)" data-x="([0-9.]+)" data-y="([0-9.]+)"><circle cx="([0-9.]+)" cy="([0-9.]+)" r="7"><title>([^<]*)</title>`)

// The map: a mark per engineer at their position (north up), the waiting tickets as squares
// linking to their candidates, labelled grid lines; every mark with a tooltip.
func TestTheDispatchMap(t *testing.T) {
	s := newSite(t)
	w := s.create(t, waiting("打印机卡纸"))
	p := s.as(t, ticket.RoleDispatcher).get("/console/dispatch")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<svg class="map" viewBox="0 0 640 420" role="img"`)
	marks := map[string][2]float64{}
	for _, m := range engineerMarkRe.FindAllStringSubmatch(p.body, -1) {
		x, _ := strconv.ParseFloat(m[3], 64)
		y, _ := strconv.ParseFloat(m[4], 64)
		assert.Equal(t, m[3], m[5], "the circle is where the mark says")
		assert.Equal(t, m[4], m[6])
		assert.True(t, x >= 0 && x <= 640 && y >= 0 && y <= 420, "%s inside the map: %v,%v", m[2], x, y)
		assert.Equal(t, "on_duty", m[1])
		marks[m[2]] = [2]float64{x, y}
		assert.Contains(t, m[7], "("+m[2]+")", "the tooltip names the engineer")
	}
	require.Len(t, marks, 2, "a mark per engineer")
	li, zhao := marks["eng-li"], marks["eng-zhao"]
	assert.Equal(t, li[0], zhao[0], "the same longitude")
	assert.Less(t, zhao[1], li[1], "赵工 is north of 李工: higher on the map")
	assert.Contains(t, p.body, "<title>李工 (eng-li) · on_duty · 0/5</title>")
	assert.Regexp(t, `<a href="/console/dispatch\?ticket=`+w.ID+`" class="map-ticket map-urg-orange" data-ticket="`+w.ID+`"><rect x="[0-9.]+" y="[0-9.]+" width="10" height="10"><title>`+w.ID+` · 打印机卡纸 · 苏州工业园区金鸡湖大道 88 号</title>`, p.body)
	assert.Regexp(t, `<text class="map-grid-label"[^>]*>31\.\d+°N</text>`, p.body)
	assert.Regexp(t, `<text class="map-grid-label"[^>]*>120\.\d+°E</text>`, p.body)

	// The table beside: status, skills, load.
	row := between(t, p.body, `<tr data-engineer="eng-li">`, "</tr>")
	assert.Contains(t, row, "李工")
	assert.Contains(t, row, "在岗")
	assert.Contains(t, row, "plc")
	assert.Contains(t, row, "suzhou-a")
	assert.Contains(t, row, `<td class="num">0/5</td>`)
	assert.Contains(t, row, `<td class="num">0/∞</td>`)
}

// Choosing a ticket shows the router's ranked candidates as a dry run — nothing changes —
// and a button per candidate assigns through the API, recorded as a manual decision.
func TestAssigningByHandFromTheCandidates(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("3号线急停"))
	require.Equal(t, "eng-li", tk.Assignee)
	decisions := func() int {
		ds, err := s.Store.RoutingDecisions(t.Context(), tk.ID)
		require.NoError(t, err)
		return len(ds)
	}
	require.Equal(t, 1, decisions())

	b := s.as(t, ticket.RoleDispatcher)
	p := b.get("/console/dispatch?ticket=" + tk.ID)
	require.Equal(t, http.StatusOK, p.status, p.body)
	table := between(t, p.body, `<table class="stack candidates">`, "</table>")
	li := between(t, table, `<tr data-candidate="eng-li">`, "</tr>")
	zhao := between(t, table, `<tr data-candidate="eng-zhao">`, "</tr>")
	assert.Less(t, strings.Index(table, "eng-li"), strings.Index(table, "eng-zhao"), "the router's pick ranked first")
	assert.Contains(t, li, "<td>1</td>")
	assert.Contains(t, li, "路由选择")
	assert.Contains(t, li, "0.1 km")
	assert.Contains(t, zhao, "<td>2</td>")
	assert.Contains(t, zhao, "11.0 km")
	assert.Contains(t, zhao, `<input type="hidden" name="version" value="`+strconv.FormatInt(tk.Version, 10)+`">`)
	assert.Contains(t, zhao, `<button type="submit">分派给 赵工</button>`)

	after, err := s.Store.Ticket(t.Context(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, tk.Version, after.Version, "the dry run changes nothing")
	assert.Equal(t, 1, decisions(), "and records no decision")

	assign := url.Values{"ticket": {tk.ID}, "assignee": {"eng-zhao"}, "team": {"suzhou-a"}, "version": {strconv.FormatInt(tk.Version, 10)}}
	p = b.post("/console/dispatch/assign", assign)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.url, "/console/dispatch?assigned=eng-zhao")
	assert.Contains(t, p.body, "已分派（人工）："+tk.ID+" → eng-zhao")
	after, err = s.Store.Ticket(t.Context(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "eng-zhao", after.Assignee)
	ds, err := s.Store.RoutingDecisions(t.Context(), tk.ID)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, engine.TriggerManual, ds[1].Trigger)
	assert.True(t, ds[1].Manual)
	assert.Equal(t, "eng-zhao", ds[1].Engineer)
	assert.Contains(t, string(ds[1].Body), `"id":"disp-chen"`, "who assigned")

	// From candidates now stale: the API says the ticket moved on.
	p = b.post("/console/dispatch/assign", assign)
	assert.Equal(t, http.StatusConflict, p.status, p.body)
}

// An engineer, an agent or QA may not assign: a hand-made POST is refused by the API (403)
// and changes nothing.
func TestAnAssignmentByHandIsRefusedToOthers(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("3号线急停"))
	for _, role := range []ticket.Role{ticket.RoleEngineer, ticket.RoleAgent, ticket.RoleQA} {
		p := s.as(t, role).post("/console/dispatch/assign", url.Values{"ticket": {tk.ID}, "assignee": {"eng-zhao"}, "team": {"suzhou-a"}})
		assert.Equal(t, http.StatusForbidden, p.status, "%s: %s", role, p.body)
	}
	after, err := s.Store.Ticket(t.Context(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, tk.Version, after.Version)
	assert.Equal(t, "eng-li", after.Assignee)
	// And without the CSRF token, not even a dispatcher.
	p := s.as(t, ticket.RoleDispatcher).post("/console/dispatch/assign", url.Values{"csrf": {"forged"}, "ticket": {tk.ID}, "assignee": {"eng-zhao"}})
	assert.Equal(t, http.StatusForbidden, p.status)
}

// The card record is read from the API by those who may: the desk and qa anyone's, an
// engineer their own.
func TestEngineerCardsOnDispatch(t *testing.T) {
	s := newSite(t)
	for role, want := range map[ticket.Role][]string{
		ticket.RoleSupervisor: {"eng-li", "eng-zhao"}, ticket.RoleQA: {"eng-li", "eng-zhao"},
		ticket.RoleEngineer: {"eng-li"}, ticket.RoleAgent: nil,
	} {
		b := s.as(t, role)
		body := b.get("/console/dispatch").body
		for _, id := range []string{"eng-li", "eng-zhao"} {
			link := `hx-get="/console/dispatch/cards/` + id + `"`
			p := b.get("/console/dispatch/cards/"+id, "HX-Request", "true")
			if contains(want, id) {
				assert.Contains(t, body, link, "%s sees %s's cards", role, id)
				assert.Equal(t, http.StatusOK, p.status, "%s: %s", role, p.body)
				assert.Contains(t, p.body, "没有黄红牌记录", role)
			} else {
				assert.NotContains(t, body, link, "%s does not see %s's cards", role, id)
				assert.Equal(t, http.StatusForbidden, p.status, "%s reading %s's cards", role, id)
			}
		}
	}
}

// Engineers' names (the config's) and tickets' titles (a connector's) come out escaped, in
// the tables, the candidates and the map's tooltips.
func TestDispatchEscapes(t *testing.T) {
	s := newSite(t, func(_ *console.Options, eo *engine.Options) {
		r, err := routing.New(routing.Config{
			Engineers: []routing.Engineer{
				{ID: "eng-li", Name: xssSamples[0], Skills: []string{"plc"}, Home: routing.Point{Lat: 31.30, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
				{ID: "eng-zhao", Name: xssSamples[1], Skills: []string{"plc"}, Home: routing.Point{Lat: 31.40, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
			},
			Teams: []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}}},
			Rules: []routing.Rule{{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}}},
		})
		require.NoError(t, err)
		eo.Routing.Router = r
	})
	var ids []string
	for _, evil := range xssSamples {
		d := waiting(evil)
		d.Location.Address = evil
		ids = append(ids, s.create(t, d).ID)
		ids = append(ids, s.create(t, estop(evil)).ID)
	}
	b := s.as(t, ticket.RoleSupervisor)
	for _, id := range ids {
		p := b.get("/console/dispatch?ticket=" + id)
		require.Equal(t, http.StatusOK, p.status, p.body)
		requireInert(t, p.body)
		assert.Contains(t, p.body, "<title>&lt;script&gt;alert(1)&lt;/script&gt; (eng-li)")
		assert.Contains(t, p.body, "分派给 &#34;&gt;&lt;img src=x onerror=alert(1)&gt;</button>")
	}
	p := b.get("/console/dispatch?ticket=" + url.QueryEscape(xssSamples[1]))
	assert.Equal(t, http.StatusNotFound, p.status)
	requireInert(t, p.body)
}

// between is the part of s from the first from to the next to after it.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	require.GreaterOrEqual(t, i, 0, "no %q", from)
	j := strings.Index(s[i:], to)
	require.GreaterOrEqual(t, j, 0, "no %q after %q", to, from)
	return s[i : i+j]
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
