package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
	"gongdan/web/console"
)

// Who signs in to the test console: one token per role.
var people = map[ticket.Role]api.Token{
	ticket.RoleAdmin:      {Token: "tok-admin", Actor: ticket.Actor{ID: "admin-zhou", Role: ticket.RoleAdmin}},
	ticket.RoleSupervisor: {Token: "tok-sup", Actor: ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}},
	ticket.RoleDispatcher: {Token: "tok-disp", Actor: ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}},
	ticket.RoleEngineer:   {Token: "tok-eng", Actor: ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}},
	ticket.RoleAgent:      {Token: "tok-agent", Actor: ticket.Actor{ID: "agent-sun", Role: ticket.RoleAgent}},
	ticket.RoleQA:         {Token: "tok-qa", Actor: ticket.Actor{ID: "qa-he", Role: ticket.RoleQA}},
	ticket.RoleCustomer:   {Token: "tok-cust", Actor: ticket.Actor{ID: "cust-1", Role: ticket.RoleCustomer}},
	ticket.RoleSystem:     {Token: "tok-sys", Actor: ticket.SystemActor},
}

// consoleRoles are the roles that may sign in to the console.
var consoleRoles = []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher, ticket.RoleEngineer, ticket.RoleAgent, ticket.RoleQA}

// site is a console with its API, engine and store, served by httptest.
type site struct {
	*enginekit.Fixture
	clock   *testkit.Clock
	api     *api.Server
	console *console.Handler
	srv     *httptest.Server
}

type siteOption func(*console.Options, *engine.Options)

// newSite starts a console on a routed engine (two engineers, one team) with a token per
// role; the clock starts at 2026-11-24 10:00 Shanghai.
func newSite(t testing.TB, edit ...siteOption) *site {
	t.Helper()
	return newSiteAPI(t, nil, edit...)
}

// newSiteAPI is newSite with apiEdit changing the API's options before the API is built (a
// dead-letter store, a replayer, a device registry); nil changes nothing.
func newSiteAPI(t testing.TB, apiEdit func(*api.Options), edit ...siteOption) *site {
	t.Helper()
	s := &site{clock: testkit.NewClock(time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))}
	eo := engine.Options{Now: s.clock.Now, Routing: &engine.RoutingOptions{Router: testRouter(t), Notify: func(engine.Notification) {}}}
	co := console.Options{Now: s.clock.Now, Flush: 20 * time.Millisecond, Heartbeat: time.Second}
	for _, e := range edit {
		e(&co, &eo)
	}
	s.Fixture = enginekit.New(t, eo)
	s.serve(t, co, apiEdit, nil)
	return s
}

// testRouter routes as the test site does: eng-li 李工 and eng-zhao 赵工 in team suzhou-a, the
// rule estop for category 急停故障.
func testRouter(t testing.TB) *routing.Router {
	t.Helper()
	r, err := routing.New(routing.Config{
		Engineers: []routing.Engineer{
			{ID: "eng-li", Name: "李工", Skills: []string{"plc"}, Home: routing.Point{Lat: 31.30, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
			{ID: "eng-zhao", Name: "赵工", Skills: []string{"plc"}, Home: routing.Point{Lat: 31.40, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
		},
		Teams: []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}}},
		Rules: []routing.Rule{{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}}},
	})
	require.NoError(t, err)
	return r
}

// serve puts the console and the API (with a token per role) over the site's engine and
// store, and serves them; apiEdit changes the API's options (nil: none), wrap the handler
// served (nil: none).
func (s *site) serve(t testing.TB, co console.Options, apiEdit func(*api.Options), wrap func(http.Handler) http.Handler) {
	t.Helper()
	var err error
	co.Engine, co.Store = s.Engine, s.Store
	s.console, err = console.New(co)
	require.NoError(t, err)
	var toks []api.Token
	for _, tk := range people {
		toks = append(toks, tk)
	}
	ao := api.Options{Engine: s.Engine, Store: s.Store, Tokens: toks, Edge: s.console.Routes(), Attachments: co.Attachments}
	if apiEdit != nil {
		apiEdit(&ao)
	}
	s.api, err = api.New(ao)
	require.NoError(t, err)
	s.console.UseAPI(s.api)
	var h http.Handler = s.api
	if wrap != nil {
		h = wrap(h)
	}
	s.srv = httptest.NewServer(h)
	t.Cleanup(func() { s.console.Close(); s.api.CloseStreams(); s.srv.Close() })
}

// create makes a ticket from d as the system (a connector's draft).
func (s *site) create(t testing.TB, d draft.Draft) ticket.Ticket {
	t.Helper()
	tk, _, err := s.Engine.Create(context.Background(), engine.CreateRequest{Actor: ticket.SystemActor, Draft: d})
	require.NoError(t, err)
	return tk
}

// estop is a draft the router sends to the suzhou-a team (eng-li is nearest).
func estop(title string) draft.Draft {
	return draft.Draft{Title: title, Description: title + "，请尽快处理", Category: "急停故障", Urgency: draft.UrgencyOrange,
		Location: draft.Location{Address: "苏州工业园区星湖街 328 号", Lat: 31.301, Lon: 120.62},
		Customer: draft.Customer{Name: "王经理", Phone: "13812345678"},
		Source:   draft.Source{Connector: "wechat-svc", Type: "wechat"}}
}

// browser is a signed-in user: a client with a cookie jar.
type browser struct {
	t    testing.TB
	s    *site
	c    *http.Client
	csrf string
}

// as signs in with role's token.
func (s *site) as(t testing.TB, role ticket.Role) *browser {
	t.Helper()
	b := s.anonymous(t)
	res := b.post("/console/signin", url.Values{"token": {people[role].Token}})
	require.NotContains(t, res.body, `id="token"`, "still on the sign-in page")
	b.csrf = csrfOf(res.body)
	require.NotEmpty(t, b.csrf)
	return b
}

// anonymous is a browser that has not signed in.
func (s *site) anonymous(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	body   string
	header http.Header
	url    string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return page{status: res.StatusCode, body: string(body), header: res.Header, url: res.Request.URL.String()}
}

// get fetches path (redirects followed).
func (b *browser) get(path string, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.srv.URL+path, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post sends a form to path with the session's CSRF token (unless form has one).
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`data-csrf="([^"]+)"`)

func csrfOf(body string) string {
	if m := csrfRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// What every source is fed in the tests of escaping: a script, and an attribute broken out of.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(1)>`
)

// assertInert checks that body has neither attack string as markup.
func assertInert(t *testing.T, body, where string) {
	t.Helper()
	assert.NotContains(t, body, "<script>alert", where)
	assert.NotContains(t, body, "<img src=x", where)
	assert.NotContains(t, body, xssAttr, where)
}
