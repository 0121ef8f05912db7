package console_test

import (
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/sla"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/web/console"
)

// withSLA gives the site's engine two policies on a 24×7 calendar: orange tickets respond in
// 30 min (yellow 5 min after a breach, red at 30 min, black at 2 h), red ones in 10 min; and
// an offer that waits a day, so no offer times out while the clock runs.
func withSLA(t testing.TB) siteOption {
	return func(_ *console.Options, eo *engine.Options) {
		loc, err := time.LoadLocation("Asia/Shanghai")
		require.NoError(t, err)
		always := &sla.Calendar{Name: "24x7", Location: loc, Always: true}
		tiers := []sla.Tier{
			{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee"}},
			{Name: "red", After: 30 * time.Minute, Notify: []string{"team_lead"}},
			{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}}}
		ps, errs := sla.NewPolicies([]sla.Policy{
			{ID: "orange", When: `urgency == "orange"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute}, Tiers: tiers},
			{ID: "urgent", When: `urgency == "red"`, Calendar: always, Goals: map[sla.Target]time.Duration{sla.Response: 10 * time.Minute}, Tiers: tiers},
		})
		require.Empty(t, errs)
		eo.Location = loc
		eo.SLA = &engine.SLAOptions{Policies: ps, Notify: func(engine.Notification) {}}
		eo.Routing.AcceptTimeout = 24 * time.Hour
	}
}

// tiersFired waits until the engine's timer loop (it looks every second) has fired the last
// tier due on each ticket by the site's clock: want is each ticket's tier, "" for none.
func (s *site) tiersFired(t *testing.T, want map[string]string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for id, tier := range want {
			tk, err := s.Store.Ticket(t.Context(), id)
			if err != nil || s.Engine.SLAOf(tk).Tier != tier {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond)
}

var boardRowRe = regexp.MustCompile(`<tr class="(tier-[a-z]+)" data-ticket="([^"]+)">`)

// boardRows are the board's rows in order: ticket id and row class.
func boardRows(body string) (ids, classes []string) {
	for _, m := range boardRowRe.FindAllStringSubmatch(body, -1) {
		ids, classes = append(ids, m[2]), append(classes, m[1])
	}
	return ids, classes
}

// The board lists the open tickets by time to breach, the longest breached first, each row
// in the colour of the last tier fired: black, red, yellow, none.
func TestTheSLABoardByTimeToBreachInTierColours(t *testing.T) {
	s := newSite(t, withSLA(t))
	a := s.create(t, estop("甲 急停"))
	s.clock.Advance(90 * time.Minute)
	b := s.create(t, estop("乙 急停"))
	s.clock.Advance(30 * time.Minute)
	c := s.create(t, estop("丙 急停"))
	s.clock.Advance(35 * time.Minute)
	d := s.create(t, estop("丁 急停"))
	s.clock.Advance(5 * time.Minute) // a breached 2h10m ago, b 40m, c 10m; d due in 25m
	s.tiersFired(t, map[string]string{a.ID: "black", b.ID: "red", c.ID: "yellow", d.ID: ""})

	p := s.as(t, ticket.RoleSupervisor).get("/console/sla")
	require.Equal(t, http.StatusOK, p.status, p.body)
	ids, classes := boardRows(p.body)
	assert.Equal(t, []string{a.ID, b.ID, c.ID, d.ID}, ids)
	assert.Equal(t, []string{"tier-black", "tier-red", "tier-yellow", "tier-none"}, classes)
	assert.Contains(t, p.body, `data-live="/console/events`, "the page is live")
	assert.Contains(t, p.body, `hx-trigger="gd:tickets from:body throttle:1s, gd:resync from:body"`)
	due := time.Date(2026, 11, 24, 2, 30, 0, 0, time.UTC).Format(time.RFC3339)
	assert.Contains(t, p.body, `<time data-due="`+due+`" datetime="`+due+`" class="overdue">-2:10:00</time>`, "a's countdown, to its response due time")
	assert.Contains(t, rowOf(t, p.body, d.ID), `>25:00</time>`)
	assert.Contains(t, rowOf(t, p.body, a.ID), `<span class="tier-name">黑</span>`, "the tier in words too, not by colour alone")
	assert.Contains(t, rowOf(t, p.body, d.ID), `<span class="tier-name">无</span>`)
	assert.Contains(t, p.body, "甲 急停")
	assert.Contains(t, p.body, `<span class="urg urg-orange">orange</span>`)
	assert.Contains(t, p.body, "eng-li")
	assert.Contains(t, p.body, "suzhou-a")

	// The live part alone: what htmx swaps in when tickets change.
	part := s.as(t, ticket.RoleDispatcher).get("/console/sla?part=rows", "HX-Request", "true")
	require.Equal(t, http.StatusOK, part.status)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(part.body), `<div id="sla-board"`), part.body)
	assert.NotContains(t, part.body, "<html")
	ids, _ = boardRows(part.body)
	assert.Equal(t, []string{a.ID, b.ID, c.ID, d.ID}, ids)

	// Accepted, a's response clock stops: it leaves the board.
	_, err := s.Engine.Do(t.Context(), ticket.Command{TicketID: a.ID, Action: ticket.ActionAccept, Actor: ticket.Actor{ID: a.Assignee, Role: ticket.RoleEngineer}})
	require.NoError(t, err)
	ids, _ = boardRows(s.as(t, ticket.RoleSupervisor).get("/console/sla").body)
	assert.NotContains(t, ids, a.ID)
}

// Every console role reads the board (the API lets all staff), and sees it in the navigation.
func TestWhoSeesTheSLABoard(t *testing.T) {
	s := newSite(t, withSLA(t))
	s.create(t, estop("急停"))
	for _, role := range consoleRoles {
		p := s.as(t, role).get("/console/sla")
		require.Equal(t, http.StatusOK, p.status, "%s: %s", role, p.body)
		assert.Contains(t, p.body, `href="/console/sla"`, role)
		ids, _ := boardRows(p.body)
		assert.Len(t, ids, 1, role)
	}
	p := s.anonymous(t).get("/console/sla")
	assert.Contains(t, p.url, "/console/signin", "not signed in: to the sign-in page")
}

// The board of one team or one policy; a customer's second call (催单) and their calls are
// shown.
func TestTheSLABoardFiltersAndCalls(t *testing.T) {
	s := newSite(t, withSLA(t))
	a := s.create(t, estop("甲"))
	red := estop("乙 安全隐患")
	red.Urgency = draft.UrgencyRed
	b := s.create(t, red)
	other := s.create(t, estop("丙"))
	_, err := s.Engine.Do(t.Context(), ticket.Command{TicketID: other.ID, Action: ticket.ActionAssign, Actor: people[ticket.RoleDispatcher].Actor,
		Data: []byte(`{"assignee":"eng-wu","team":"wuxi-b"}`)})
	require.NoError(t, err)
	call := func(id string) draft.Draft {
		d := estop("电梯困人")
		d.Source = draft.Source{Connector: "hotline", Type: "hotline", Kind: draft.KindCall, ExternalID: id}
		d.DedupKey, d.ThreadKey = "hotline/"+id, "hotline/13812345678/电梯故障"
		return d
	}
	chased := s.create(t, call("c1"))
	s.clock.Advance(time.Minute)
	again := s.create(t, call("c2"))
	require.Equal(t, chased.ID, again.ID, "the second call joins the first's ticket")

	br := s.as(t, ticket.RoleDispatcher)
	ids := func(q string) []string {
		p := br.get("/console/sla" + q)
		require.Equal(t, http.StatusOK, p.status, p.body)
		ids, _ := boardRows(p.body)
		return ids
	}
	assert.ElementsMatch(t, []string{a.ID, b.ID, other.ID, chased.ID}, ids(""))
	assert.Equal(t, b.ID, ids("")[0], "the red policy's 10 min first")
	assert.ElementsMatch(t, []string{a.ID, b.ID, chased.ID}, ids("?team=suzhou-a"))
	assert.Equal(t, []string{other.ID}, ids("?team=wuxi-b"))
	assert.Equal(t, []string{b.ID}, ids("?policy=urgent"))
	assert.ElementsMatch(t, []string{a.ID, chased.ID}, ids("?team=suzhou-a&policy=orange"))
	assert.Empty(t, ids("?team=nobody"))
	p := br.get("/console/sla?team=wuxi-b")
	assert.Contains(t, p.body, `value="wuxi-b"`, "the filter kept in its field")
	assert.Contains(t, p.body, `href="/console/sla"`, "and a way to clear it")
	assert.Contains(t, p.body, `hx-get="/console/sla?part=rows&amp;team=wuxi-b"`, "the live part keeps the filter")

	row := rowOf(t, br.get("/console/sla").body, chased.ID)
	assert.Regexp(t, `<td class="num">2</td>`, row, "two calls")
	assert.Contains(t, row, `<span class="chased">催单</span>`)
	row = rowOf(t, br.get("/console/sla").body, a.ID)
	assert.NotContains(t, row, `class="chased"`)
	assert.Regexp(t, `<td class="num"></td>`, row)
	assert.Contains(t, rowOf(t, br.get("/console/sla?lang=en").body, chased.ID), "Chased")
}

// rowOf is the board's row of ticket id.
func rowOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-ticket="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no row of %s", id)
	j := strings.Index(body[i:], "</tr>")
	return body[i : i+j]
}

// What a connector brings (a title) and what a user types (a filter) come out escaped.
func TestTheSLABoardEscapes(t *testing.T) {
	s := newSite(t, withSLA(t))
	for _, evil := range xssSamples {
		s.create(t, estop(evil))
	}
	br := s.as(t, ticket.RoleSupervisor)
	for _, path := range []string{"/console/sla", "/console/sla?team=" + url.QueryEscape(xssSamples[1]) + "&policy=" + url.QueryEscape(xssSamples[0])} {
		p := br.get(path)
		require.Equal(t, http.StatusOK, p.status)
		requireInert(t, p.body)
	}
	assert.Contains(t, br.get("/console/sla").body, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

// xssSamples are what the tests feed through every text a user or connector brings.
var xssSamples = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}

// requireInert fails when body holds any sample as markup.
func requireInert(t *testing.T, body string) {
	t.Helper()
	assert.NotContains(t, body, "<script>alert(1)")
	assert.NotContains(t, body, "<img src=x")
	assert.NotContains(t, body, `"><img`)
}

// The tier colours and the urgency badges are readable: each text colour against its
// background passes WCAG 2's contrast of 4.5:1 (AA for normal text). The colours are read
// from console.css itself.
func TestTierAndUrgencyColoursContrast(t *testing.T) {
	css, err := os.ReadFile("assets/console.css")
	require.NoError(t, err)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(--[a-z-]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, tier := range []string{"none", "yellow", "red", "black"} {
		bg, fg := vars["--tier-"+tier+"-bg"], vars["--tier-"+tier+"-fg"]
		require.NotEmpty(t, bg, tier)
		require.NotEmpty(t, fg, tier)
		r := contrast(t, fg, bg)
		assert.GreaterOrEqual(t, r, 4.5, "tier %s: %s on %s is %.2f:1", tier, fg, bg, r)
	}
	// The badges: .urg-X { color; background } (a badge without a background of its own
	// sits on white: the board gives it one, see the SLA board's section).
	rules := regexp.MustCompile(`\.urg-([a-z]+)\s*\{([^}]*)\}`).FindAllStringSubmatch(string(css), -1)
	seen := map[string]bool{}
	for _, m := range rules {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		fg := propOf(m[2], "color")
		bg := propOf(m[2], "background")
		if bg == "" {
			bg = "#fff"
		}
		require.NotEmpty(t, fg, "urgency %s has no colour", m[1])
		r := contrast(t, fg, bg)
		assert.GreaterOrEqual(t, r, 4.5, "urgency %s: %s on %s is %.2f:1", m[1], fg, bg, r)
	}
	assert.Len(t, seen, 4, "blue, yellow, orange, red")

	// The formula itself, on known pairs: black on white is 21:1, a colour on itself 1:1.
	assert.InDelta(t, 21.0, contrast(t, "#000", "#fff"), 1e-9)
	assert.InDelta(t, 1.0, contrast(t, "#b42318", "#b42318"), 1e-9)
	assert.InDelta(t, 4.54, contrast(t, "#767676", "#ffffff"), 0.01) // the lightest AA grey on white
}

// propOf is the value of property name in a CSS declaration block (a colour).
func propOf(block, name string) string {
	m := regexp.MustCompile(`(?:^|;|\s)` + name + `:\s*(#[0-9a-fA-F]{3,6})`).FindStringSubmatch(block)
	if m == nil {
		return ""
	}
	return m[1]
}

// contrast is the WCAG 2 contrast ratio of two sRGB colours: (L1 + 0.05) / (L2 + 0.05), L1 the
// relative luminance of the lighter. Relative luminance is 0.2126 R + 0.7152 G + 0.0722 B of
// the linearised channels: c/12.92 when c ≤ 0.04045, else ((c + 0.055)/1.055)^2.4, with c
// the channel in 0..1.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	require.Len(t, h, 6, "colour %s", hex)
	var ch [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		require.NoError(t, err, hex)
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}
