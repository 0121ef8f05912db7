package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
)

var tokens = []api.Token{
	{Token: "tok-admin", Actor: ticket.Actor{ID: "admin-1", Role: ticket.RoleAdmin}},
	{Token: "tok-sup", Actor: ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}},
	{Token: "tok-disp", Actor: ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}},
	{Token: "tok-eng", Actor: ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}},
	{Token: "tok-agent", Actor: ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}},
	{Token: "tok-qa", Actor: ticket.Actor{ID: "qa-sun", Role: ticket.RoleQA}},
	{Token: "tok-cust", Actor: ticket.Actor{ID: "cust-wang", Role: ticket.RoleCustomer}},
	{Token: "demo-admin", Actor: ticket.Actor{ID: "admin-demo", Role: ticket.RoleAdmin}, Demo: true},
}

type client struct {
	t   testing.TB
	url string
	api *api.Server
}

func newServer(t testing.TB) *client { return newServerWith(t, nil) }

// newServerWith starts a server whose engine routes with ro (nil: no routing).
func newServerWith(t testing.TB, ro *engine.RoutingOptions) *client {
	t.Helper()
	return newServerOpts(t, ro, nil)
}

// newServerOpts starts a server whose engine routes with ro (nil: no routing), with the API's
// options changed by edit (nil: none).
func newServerOpts(t testing.TB, ro *engine.RoutingOptions, edit func(*api.Options)) *client {
	t.Helper()
	f := enginekit.New(t, engine.Options{Routing: ro})
	opts := api.Options{Engine: f.Engine, Store: f.Store, Tokens: tokens, Gatherer: f.Registry, Registerer: f.Registry, MaxBodyBytes: 4096}
	if edit != nil {
		edit(&opts)
	}
	h, err := api.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &client{t: t, url: srv.URL, api: h}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (c *client) do(method, path, token, body string, headers ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{resp.StatusCode, resp.Header, b}
}

const draftJSON = `{"title":"3号线急停按钮失灵","description":"按下急停无反应","urgency":"orange","category":"急停故障",
	"customer":{"id":"cust-wang","name":"王建国","phone":"13812345678","org":"华东仓"},"location":{"address":"苏州工业园区星湖街328号","city":"苏州"}}`

func (c *client) create() map[string]any {
	c.t.Helper()
	r := c.do("POST", "/api/v1/tickets", "tok-agent", draftJSON)
	require.Equal(c.t, http.StatusCreated, r.status, string(r.body))
	return r.json(c.t)
}

func (c *client) act(id, action, token, body string) response {
	c.t.Helper()
	return c.do("POST", "/api/v1/tickets/"+id+"/actions/"+action, token, body)
}

func requireProblem(t *testing.T, r response, status int, typ string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	p := r.json(t)
	assert.Equal(t, "/problems/"+typ, p["type"])
	assert.Equal(t, float64(status), p["status"])
	assert.NotEmpty(t, p["title"])
	assert.NotEmpty(t, p["detail"])
	assert.NotEmpty(t, p["request_id"])
	return p
}

func TestTicketLifecycleAndAuditTrail(t *testing.T) {
	c := newServer(t)
	tk := c.create()
	id := tk["id"].(string)
	assert.Regexp(t, `^GD-\d{8}-\d{6}$`, id)
	assert.Equal(t, "new", tk["state"])
	for _, key := range []string{"id", "state", "version", "urgency", "title", "description", "category", "tags",
		"customer", "device", "location", "assignee", "team", "frozen", "sources", "repeat_of", "created_at", "updated_at"} {
		assert.Contains(t, tk, key)
	}
	steps := []struct{ action, token, body, state string }{
		{"assign", "tok-disp", `{"data":{"assignee":"eng-li","team":"suzhou-a"}}`, "assigned"},
		{"accept", "tok-eng", ``, "accepted"},
		{"start", "tok-eng", `{}`, "in_progress"},
		{"request_parts", "tok-eng", `{"reason":"急停按钮缺货"}`, "awaiting_parts"},
		{"parts_arrived", "tok-disp", ``, "in_progress"},
		{"resolve", "tok-eng", `{"data":{"root_cause":"触点氧化","evidence":["photo-1"]}}`, "resolved"},
		{"confirm", "tok-cust", `{"data":{"solved":true,"timeliness":5,"professionalism":5,"comment":"好"}}`, "customer_confirmed"},
		{"close", "tok-agent", ``, "closed"},
		{"archive", "tok-sup", ``, "archived"},
	}
	for i, s := range steps {
		r := c.act(id, s.action, s.token, s.body)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", s.action, r.body)
		got := r.json(t)
		assert.Equal(t, s.state, got["state"])
		assert.Equal(t, float64(i+2), got["version"])
	}
	r := c.do("GET", "/api/v1/tickets/"+id+"/events", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status)
	var trail struct {
		Events []ticket.Event `json:"events"`
	}
	require.NoError(t, json.Unmarshal(r.body, &trail))
	require.Len(t, trail.Events, len(steps)+1)
	assert.Equal(t, ticket.ActionCreate, trail.Events[0].Action)
	assert.Equal(t, "agent-zhou", trail.Events[0].Actor.ID)
	assert.Equal(t, ticket.Action("confirm"), trail.Events[7].Action)
	assert.Equal(t, ticket.RoleCustomer, trail.Events[7].Actor.Role)
	assert.Equal(t, ticket.StateResolved, trail.Events[7].From)
	assert.JSONEq(t, `{"solved":true,"timeliness":5,"professionalism":5,"comment":"好"}`, string(trail.Events[7].Data))
	folded, err := ticket.Fold(trail.Events)
	require.NoError(t, err)
	assert.Equal(t, ticket.StateArchived, folded.State)
}

func TestErrorsAreProblemsAndChangeNothing(t *testing.T) {
	c := newServer(t)
	id := c.create()["id"].(string)
	version := func() float64 {
		return c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)["version"].(float64)
	}

	requireProblem(t, c.do("GET", "/api/v1/tickets", "", ""), 401, "unauthorized")
	requireProblem(t, c.do("GET", "/api/v1/tickets", "nope", ""), 401, "unauthorized")
	requireProblem(t, c.act(id, "start", "tok-eng", ``), 409, "illegal-transition")
	requireProblem(t, c.act(id, "assign", "tok-eng", `{"data":{"assignee":"eng-li"}}`), 403, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/tickets", "tok-cust", ""), 403, "forbidden")
	requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li"},"expected_version":9}`), 409, "stale-version")
	p := requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{}}`), 422, "invalid-data")
	assert.Equal(t, "data.assignee", p["field"])
	p = requireProblem(t, c.act(id, "reject", "tok-agent", `{}`), 422, "invalid-data")
	assert.Equal(t, "reason", p["field"])
	requireProblem(t, c.act("GD-20990101-000001", "assign", "tok-disp", `{"data":{"assignee":"x"}}`), 404, "not-found")
	requireProblem(t, c.do("GET", "/api/v1/tickets/GD-20990101-000001", "tok-sup", ""), 404, "not-found")
	requireProblem(t, c.act(id, "teleport", "tok-admin", `{}`), 404, "unknown-action")
	requireProblem(t, c.do("GET", "/api/v1/nothing", "tok-admin", ""), 404, "not-found")

	p = requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li"`), 400, "malformed-json")
	p = requireProblem(t, c.act(id, "assign", "tok-disp", `{"expected_version":"three"}`), 400, "malformed-json")
	assert.Equal(t, "expected_version", p["field"])
	p = requireProblem(t, c.act(id, "assign", "tok-disp", `{"reasn":"x"}`), 400, "malformed-json")
	assert.Equal(t, "reasn", p["field"])
	p = requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"x","customer":{"phone":138}}`), 400, "malformed-json")
	assert.Equal(t, "customer.phone", p["field"])
	requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", ``), 400, "malformed-json")
	p = requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"","description":""}`), 422, "invalid-data")
	assert.Equal(t, "title", p["field"])
	big := `{"title":"` + strings.Repeat("长", 4096) + `"}`
	requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", big), 413, "payload-too-large")
	requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", draftJSON, "Content-Type", "text/plain"), 415, "unsupported-media-type")
	p = requireProblem(t, c.do("GET", "/api/v1/tickets?state=nieuw", "tok-sup", ""), 400, "bad-request")
	assert.Equal(t, "state", p["field"])
	requireProblem(t, c.do("GET", "/api/v1/tickets?cursor=zzz", "tok-sup", ""), 400, "bad-request")
	requireProblem(t, c.do("GET", "/api/v1/tickets?limit=0", "tok-sup", ""), 400, "bad-request")

	assert.Equal(t, 1.0, version(), "no refused request changed the ticket")
}

func TestFrozenTicketAnswers423(t *testing.T) {
	c := newServer(t)
	id := c.create()["id"].(string)
	for range 3 {
		require.Equal(t, 200, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li"}}`).status)
		require.Equal(t, 200, c.act(id, "decline", "tok-eng", `{"data":{"reason_code":"overloaded"}}`).status)
	}
	before := c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)
	assert.Equal(t, true, before["frozen"])
	requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li"}}`), 423, "ticket-frozen")
	requireProblem(t, c.act(id, "unfreeze", "tok-admin", ``), 403, "forbidden")
	after := c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)
	assert.Equal(t, before["version"], after["version"])
	r := c.act(id, "unfreeze", "tok-qa", ``)
	require.Equal(t, 200, r.status, string(r.body))
	assert.Equal(t, false, r.json(t)["frozen"])
}

func TestReplayedCommandReturnsTheSameAnswer(t *testing.T) {
	c := newServer(t)
	id := c.create()["id"].(string)
	body := `{"data":{"assignee":"eng-li"},"command_id":"cmd-42"}`
	first := c.act(id, "assign", "tok-disp", body)
	require.Equal(t, 200, first.status)
	require.Equal(t, 200, c.act(id, "accept", "tok-eng", ``).status)
	again := c.act(id, "assign", "tok-disp", body)
	require.Equal(t, 200, again.status)
	assert.JSONEq(t, string(first.body), string(again.body))
	// the Idempotency-Key header works as a command id too
	h1 := c.do("POST", "/api/v1/tickets/"+id+"/actions/start", "tok-eng", "", "Idempotency-Key", "k-1")
	h2 := c.do("POST", "/api/v1/tickets/"+id+"/actions/start", "tok-eng", "", "Idempotency-Key", "k-1")
	require.Equal(t, 200, h1.status)
	require.Equal(t, 200, h2.status, string(h2.body))
	assert.JSONEq(t, string(h1.body), string(h2.body))
	var trail struct{ Events []ticket.Event }
	require.NoError(t, json.Unmarshal(c.do("GET", "/api/v1/tickets/"+id+"/events", "tok-sup", "").body, &trail))
	assert.Len(t, trail.Events, 4)
	// the same caller's id with another request is refused
	p := requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-zhao"},"command_id":"cmd-42"}`), 422, "command-id-reused")
	assert.Equal(t, "command_id", p["field"])
	// the same request, its JSON spaced differently, is a replay
	again = c.act(id, "assign", "tok-disp", `{ "data": { "assignee": "eng-li" }, "command_id": "cmd-42" }`)
	require.Equal(t, 200, again.status, string(again.body))
}

func TestFiftyConcurrentCreatesWithOneIdempotencyKey(t *testing.T) {
	c := newServer(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	statuses := map[int]int{}
	for range 50 {
		wg.Go(func() {
			r := c.do("POST", "/api/v1/tickets", "tok-agent", draftJSON, "Idempotency-Key", "same-key")
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status < 300 {
				ids[r.json(t)["id"].(string)]++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{201: 1, 200: 49}, statuses)
	assert.Len(t, ids, 1)
	list := c.do("GET", "/api/v1/tickets", "tok-sup", "").json(t)
	assert.Len(t, list["tickets"], 1)
}

func TestListFiltersAndPages(t *testing.T) {
	c := newServer(t)
	var ids []string
	for range 7 {
		ids = append(ids, c.create()["id"].(string))
	}
	for _, id := range ids[:3] {
		require.Equal(t, 200, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"eng-li","team":"suzhou-a"}}`).status)
	}
	list := func(q string) (got []string, next string) {
		r := c.do("GET", "/api/v1/tickets?"+q, "tok-sup", "")
		require.Equal(t, 200, r.status, string(r.body))
		var page struct {
			Tickets []struct{ ID string }
			Next    string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(r.body, &page))
		for _, tk := range page.Tickets {
			got = append(got, tk.ID)
		}
		return got, page.Next
	}
	got, _ := list("state=assigned")
	assert.Equal(t, []string{ids[2], ids[1], ids[0]}, got, "newest first")
	got, _ = list("state=new,assigned&team=suzhou-a")
	assert.Len(t, got, 3)
	got, _ = list("assignee=eng-li&urgency=orange")
	assert.Len(t, got, 3)
	got, _ = list("q=" + ids[4])
	assert.Equal(t, []string{ids[4]}, got)
	got, _ = list("q=%E6%98%9F%E6%B9%96%E8%A1%97") // 星湖街
	assert.Len(t, got, 7)
	// A customer's tickets, by the key repeats know them by: the first of id, phone, … they have.
	got, _ = list("customer=id:cust-wang")
	assert.Len(t, got, 7)
	got, _ = list("customer=phone:13812345678")
	assert.Empty(t, got, "a customer with an id is known by it, as repeats know them")
	for _, bad := range []string{"13800000000", "email:a@b.c", "phone:"} {
		r := c.do("GET", "/api/v1/tickets?customer="+url.QueryEscape(bad), "tok-sup", "")
		assert.Equal(t, 400, r.status, bad)
		assert.Contains(t, string(r.body), "customer", bad)
	}

	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		got, next := list("limit=3&cursor=" + cursor)
		all = append(all, got...)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, all, 7)
	assert.ElementsMatch(t, ids, all)
}

func TestDemoTokensOnlyFromLoopback(t *testing.T) {
	c := newServer(t)
	r := c.do("GET", "/api/v1/tickets", "demo-admin", "")
	assert.Equal(t, 200, r.status, "httptest listens on 127.0.0.1")

	req := httptest.NewRequest("GET", "/api/v1/tickets", nil)
	req.RemoteAddr = "192.0.2.7:51234"
	req.Header.Set("Authorization", "Bearer demo-admin")
	w := httptest.NewRecorder()
	c.api.ServeHTTP(w, req)
	assert.Equal(t, 401, w.Code)
	req.Header.Set("Authorization", "Bearer tok-admin")
	w = httptest.NewRecorder()
	c.api.ServeHTTP(w, req)
	assert.Equal(t, 200, w.Code)
}

func TestHealthReadyMetrics(t *testing.T) {
	c := newServer(t)
	c.create()
	assert.Equal(t, 200, c.do("GET", "/healthz", "", "").status)
	assert.Equal(t, 200, c.do("GET", "/readyz", "", "").status)
	m := c.do("GET", "/metrics", "", "")
	require.Equal(t, 200, m.status)
	body := string(m.body)
	assert.Contains(t, body, `gongdan_tickets{state="new"} 1`)
	assert.Contains(t, body, `gongdan_ticket_actions_total{action="create",outcome="ok"} 1`)
	assert.Contains(t, body, `gongdan_http_requests_total{code="201",method="POST",route="POST /api/v1/tickets"} 1`)
	assert.Contains(t, body, `gongdan_http_request_duration_seconds_bucket{method="POST",route="POST /api/v1/tickets"`)
}

// sseEvents reads events from an open stream until it has n of them.
func sseEvents(t *testing.T, body io.Reader, n int) []ticket.Event {
	t.Helper()
	sc := bufio.NewScanner(body)
	var evs []ticket.Event
	var lastID string
	for len(evs) < n && sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			lastID = id
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev ticket.Event
			require.NoError(t, json.Unmarshal([]byte(data), &ev))
			assert.Equal(t, lastID, fmt.Sprint(ev.ID))
			evs = append(evs, ev)
		}
	}
	require.Len(t, evs, n, "stream ended early: %v", sc.Err())
	return evs
}

func openStream(t *testing.T, c *client, query string, headers ...string) io.ReadCloser {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", c.url+"/api/v1/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok-sup")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	t.Cleanup(func() { resp.Body.Close() })
	return resp.Body
}

func TestStreamCatchesUpThenGoesLive(t *testing.T) {
	c := newServer(t)
	a := c.create()["id"].(string)
	require.Equal(t, 200, c.act(a, "assign", "tok-disp", `{"data":{"assignee":"eng-li"}}`).status)

	body := openStream(t, c, "", "Last-Event-ID", "0")
	evs := sseEvents(t, body, 2)
	assert.Equal(t, ticket.ActionCreate, evs[0].Action)
	assert.Equal(t, ticket.ActionAssign, evs[1].Action)

	b := c.create()["id"].(string)
	live := sseEvents(t, body, 1)
	assert.Equal(t, b, live[0].TicketID)
	assert.Greater(t, live[0].ID, evs[1].ID)

	// resuming after the first event skips it; ?ticket= narrows to one ticket
	resumed := sseEvents(t, openStream(t, c, fmt.Sprintf("?after=%d&ticket=%s", evs[0].ID, a)), 1)
	assert.Equal(t, ticket.ActionAssign, resumed[0].Action)
}

func TestStreamIsClosedOnShutdown(t *testing.T) {
	c := newServer(t)
	body := openStream(t, c, "")
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, body); done <- err }()
	c.api.CloseStreams()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after CloseStreams")
	}
}

func TestCustomersSeeOnlyTheirOwnTickets(t *testing.T) {
	c := newServer(t)
	mine := c.create()["id"].(string)
	r := c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"别人的工单","customer":{"id":"cust-li","phone":"13900001111"}}`)
	require.Equal(t, 201, r.status)
	theirs := r.json(t)["id"].(string)
	assert.Equal(t, 200, c.do("GET", "/api/v1/tickets/"+mine, "tok-cust", "").status)
	requireProblem(t, c.do("GET", "/api/v1/tickets/"+theirs, "tok-cust", ""), 404, "not-found")
}

// TestCommandIDsBelongToTheirCaller: another caller's request under the same command id is
// theirs, not a replay of the first caller's, and the first caller's replay still answers the
// first result (issue 17; before, ids were one namespace and the second caller got 422).
func TestCommandIDsBelongToTheirCaller(t *testing.T) {
	c := newServer(t)
	id := c.create()["id"].(string)
	body := `{"data":{"assignee":"eng-li"},"command_id":"shared-id"}`
	first := c.act(id, "assign", "tok-disp", body)
	require.Equal(t, 200, first.status)
	r := c.act(id, "assign", "tok-sup", body)
	require.Equal(t, 200, r.status, string(r.body))
	assert.Equal(t, float64(3), r.json(t)["version"], "the supervisor's assign is a new command")
	again := c.act(id, "assign", "tok-disp", body)
	require.Equal(t, 200, again.status, string(again.body))
	assert.JSONEq(t, string(first.body), string(again.body), "the dispatcher's replay answers the first result")
	// Idempotency-Keys belong to their caller: the same key from two callers makes two tickets.
	a := c.do("POST", "/api/v1/tickets", "tok-agent", draftJSON, "Idempotency-Key", "k")
	b := c.do("POST", "/api/v1/tickets", "tok-disp", draftJSON, "Idempotency-Key", "k")
	require.Equal(t, 201, a.status)
	require.Equal(t, 201, b.status)
	assert.NotEqual(t, a.json(t)["id"], b.json(t)["id"])
}

func TestWrongTopLevelTypeNamesWhatIsExpected(t *testing.T) {
	c := newServer(t)
	p := requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", `[]`), 400, "malformed-json")
	assert.Equal(t, "the body must be an object, got a JSON array", p["detail"])
	p = requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"x","tags":"a"}`), 400, "malformed-json")
	assert.Equal(t, "tags: want an array, got a JSON string", p["detail"])
	id := c.create()["id"].(string)
	p = requireProblem(t, c.act(id, "assign", "tok-disp", `{"data":{"assignee":"x"},"expected_version":-2}`), 422, "invalid-data")
	assert.Equal(t, "expected_version", p["field"])
}

func TestShortAndLongSearchesAgree(t *testing.T) {
	c := newServer(t)
	id := c.create()["id"].(string)
	for _, q := range []string{"gd", "gd-", strings.ToLower(id), "星湖", "星湖街", "5678", "%", "_"} {
		r := c.do("GET", "/api/v1/tickets?q="+url.QueryEscape(q), "tok-sup", "")
		require.Equal(t, 200, r.status)
		n := len(r.json(t)["tickets"].([]any))
		if q == "%" || q == "_" {
			assert.Equal(t, 0, n, "q=%s is matched literally", q)
		} else {
			assert.Equal(t, 1, n, "q=%s", q)
		}
	}
}

// TestStreamOutlivesTheReadTimeout runs the API in a real http.Server with a short
// ReadTimeout, as serve does with a long one: an open stream must keep delivering after it.
// (golang/go#70834 reports Go versions that cancelled such requests at the deadline.)
func TestStreamOutlivesTheReadTimeout(t *testing.T) {
	c := newServer(t)
	srv := httptest.NewUnstartedServer(c.api)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	defer c.api.CloseStreams() // before Close, which waits for open streams
	live := &client{t: t, url: srv.URL, api: c.api}
	body := openStream(t, live, "")
	time.Sleep(3 * srv.Config.ReadTimeout) // past the deadline the stream would have died at
	id := live.create()["id"].(string)
	evs := sseEvents(t, body, 1)
	assert.Equal(t, id, evs[0].TicketID)
}

func TestIdempotencyKeyWithAnotherBodyIsRefused(t *testing.T) {
	c := newServer(t)
	first := c.do("POST", "/api/v1/tickets", "tok-agent", draftJSON, "Idempotency-Key", "k-1")
	require.Equal(t, 201, first.status)
	// the same draft, written differently, is the same request
	again := c.do("POST", "/api/v1/tickets", "tok-agent", strings.ReplaceAll(draftJSON, "\n\t", " "), "Idempotency-Key", "k-1")
	require.Equal(t, 200, again.status, string(again.body))
	p := requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"另一件事"}`, "Idempotency-Key", "k-1"), 422, "idempotency-key-reused")
	assert.Contains(t, p["detail"], first.json(t)["id"])
	assert.Len(t, c.do("GET", "/api/v1/tickets", "tok-sup", "").json(t)["tickets"], 1)
}

func TestCreateAnswersWhatBecameOfTheDraft(t *testing.T) {
	c := newServer(t)
	post := func(body string, headers ...string) (response, map[string]any) {
		t.Helper()
		r := c.do("POST", "/api/v1/tickets", "tok-agent", body, headers...)
		return r, r.json(t)
	}
	const first = `{"title":"3号线急停按钮失灵","category":"急停故障","urgency":"yellow","thread_key":"wx:cust-wang","dedup_key":"wx-msg-1",
		"customer":{"id":"cust-wang"}}`
	r, created := post(first)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, "created", r.header.Get("Gongdan-Intake"))
	id := created["id"].(string)
	assert.Equal(t, "/api/v1/tickets/"+id, r.header.Get("Location"))

	r, dup := post(first)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "duplicate", r.header.Get("Gongdan-Intake"))
	assert.Equal(t, id, dup["id"])
	assert.Equal(t, float64(1), dup["version"])

	r, merged := post(`{"title":"还是不行，产线停了","urgency":"red","thread_key":"wx:cust-wang","dedup_key":"wx-msg-2","tags":["产线停机"]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "merged", r.header.Get("Gongdan-Intake"))
	assert.Equal(t, id, merged["id"])
	assert.Equal(t, float64(2), merged["version"])
	assert.Equal(t, "red", merged["urgency"])
	assert.Len(t, merged["sources"], 2)
	assert.Equal(t, []any{"产线停机"}, merged["tags"])
	assert.Equal(t, "/api/v1/tickets/"+id, r.header.Get("Location"))

	r, _ = post(draftJSON, "Idempotency-Key", "call-1")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, "created", r.header.Get("Gongdan-Intake"))
	r, _ = post(draftJSON, "Idempotency-Key", "call-1")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "duplicate", r.header.Get("Gongdan-Intake"))

	// source_added is an event, not an action anyone may send
	requireProblem(t, c.act(id, "source_added", "tok-admin", `{"data":{"title":"x"}}`), 404, "unknown-action")
	got := c.do("GET", "/api/v1/tickets/"+id, "tok-sup", "").json(t)
	assert.Equal(t, float64(2), got["version"])

	metrics := string(c.do("GET", "/metrics", "", "").body)
	assert.Contains(t, metrics, `gongdan_intake_total{outcome="created"} 2`)
	assert.Contains(t, metrics, `gongdan_intake_total{outcome="duplicate"} 2`)
	assert.Contains(t, metrics, `gongdan_intake_total{outcome="merged"} 1`)
}

// A draft sent to the API gets the knowledge base's suggestions, not its own: a caller cannot
// put words of its own into an engineer's notice as a known fix.
func TestAPIDraftsGetTheKnowledgeBasesSuggestionsOnly(t *testing.T) {
	c := newServerOpts(t, nil, func(o *api.Options) {
		o.Suggest = func(d draft.Draft) []draft.Suggestion {
			if d.Category != "急停故障" {
				return nil
			}
			return []draft.Suggestion{{ID: "estop-reset", Title: "急停复位后设备仍不能启动", Why: "category 急停故障", Score: 3}}
		}
	})
	r := c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"3号线急停按钮失灵","category":"急停故障",
		"suggestions":[{"id":"fake","title":"直接短接急停回路","why":"trust me","score":99}]}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var tk ticket.Ticket
	require.NoError(t, json.Unmarshal(r.body, &tk))
	want := []draft.Suggestion{{ID: "estop-reset", Title: "急停复位后设备仍不能启动", Why: "category 急停故障", Score: 3}}
	assert.Equal(t, want, tk.Suggestions)
	assert.Equal(t, want, tk.Sources[0].Suggestions)

	plain := newServer(t)
	r = plain.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"x","suggestions":[{"id":"fake","title":"t","why":"w","score":99}]}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.NotContains(t, string(r.body), "fake", "without a knowledge base, none")
}
