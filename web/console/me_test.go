package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/draft"
)

func TestPhoneViewListsOnlyMyOpenTickets(t *testing.T) {
	s := newSite(t)
	mine := s.create(t, estop("我的：3 号线急停"))
	other := s.create(t, estop("赵工的：4 号线急停"))
	s.do(t, other.ID, ticket.ActionAssign, ticket.RoleDispatcher, "", `{"assignee":"eng-zhao","team":"suzhou-a"}`)
	noPlace := estop("没有坐标")
	noPlace.Location = draft.Location{Address: "苏州市吴中区东方大道8号"}
	searched := s.create(t, noPlace)
	s.do(t, searched.ID, ticket.ActionAssign, ticket.RoleDispatcher, "", `{"assignee":"eng-li","team":"suzhou-a"}`)
	done := inProgress(t, s, "已完工的")
	s.do(t, done.ID, ticket.ActionResolve, ticket.RoleEngineer, "", `{"root_cause":"ok"}`)

	eng := s.user(t, ticket.RoleEngineer)
	p := eng.get("/console/")
	require.Equal(t, http.StatusOK, p.status)
	assert.True(t, strings.HasSuffix(p.url, "/console/me"), "an engineer lands on the phone view: %s", p.url)
	assert.Contains(t, p.body, "我的：3 号线急停")
	assert.Contains(t, p.body, "没有坐标")
	assert.NotContains(t, p.body, "赵工的")
	assert.NotContains(t, p.body, "已完工的")
	assert.Contains(t, p.body, `href="https://uri.amap.com/marker?name=`, "lat/lon known: a marker")
	assert.Contains(t, p.body, "position=120.620000%2C31.301000")
	assert.Contains(t, p.body, `href="https://uri.amap.com/search?keyword=`+url.QueryEscape("苏州市吴中区东方大道8号"))
	assert.Contains(t, p.body, `action="/console/tickets/`+mine.ID+`/actions/accept"`)
	assert.Contains(t, p.body, `href="/console/me/tickets/`+searched.ID+`#actions-h"`, "decline needs a form: on the ticket's page")
	assert.Contains(t, p.body, "data-queue")
	assert.Contains(t, p.body, `name="viewport"`)

	// The compact ticket page comes back to itself.
	c := eng.get("/console/me/tickets/" + mine.ID)
	require.Equal(t, http.StatusOK, c.status)
	assert.Contains(t, c.body, `class="ticket compact"`)
	assert.Contains(t, c.body, `name="next" value="/console/me/tickets/`+mine.ID+`"`)
	assert.NotContains(t, c.body, "派单过程", "the phone view leaves the routing trace out")

	// Someone else's phone view has none of them.
	disp := s.user(t, ticket.RoleDispatcher)
	d := disp.get("/console/me")
	require.Equal(t, http.StatusOK, d.status)
	assert.NotContains(t, d.body, "3 号线急停")
	assert.Contains(t, d.body, "目前没有分派给您的工单")
}

func TestPhoneViewOneTapAccept(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("一键接单"))
	eng := s.user(t, ticket.RoleEngineer)
	p := eng.get("/console/me")
	res := eng.act(tk.ID, p, "accept", url.Values{"next": {"/console/me"}})
	require.Equal(t, http.StatusOK, res.status)
	assert.True(t, strings.HasSuffix(res.url, "/console/me"))
	assert.Equal(t, ticket.StateAccepted, s.ticket(t, tk.ID).State)
	assert.Contains(t, res.body, `/actions/start"`)
}
