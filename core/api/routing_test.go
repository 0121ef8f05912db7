package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
	"gongdan/core/routing"
)

func routedServer(t *testing.T) *client {
	t.Helper()
	r, err := routing.New(routing.Config{
		Engineers: []routing.Engineer{
			{ID: "eng-li", Skills: []string{"plc"}, Home: routing.Point{Lat: 31.30, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
			{ID: "eng-zhao", Skills: []string{"plc"}, Home: routing.Point{Lat: 31.40, Lon: 120.62}, RadiusKM: 30, MaxOpen: 5},
		},
		Teams: []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}}},
		Rules: []routing.Rule{{ID: "estop", When: `category == "急停故障"`, RouteTo: routing.Target{Team: "suzhou-a"}, RequireSkills: []string{"plc"}}},
	})
	require.NoError(t, err)
	return newServerWith(t, &engine.RoutingOptions{Router: r, Notify: func(engine.Notification) {}})
}

const siteDraft = `{"title":"3号线急停按钮失灵","category":"急停故障","location":{"lat":31.301,"lon":120.62}}`

func TestTheRoutingTraceOfATicket(t *testing.T) {
	c := routedServer(t)
	r := c.do("POST", "/api/v1/tickets", "tok-agent", siteDraft)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	tk := r.json(t)
	assert.Equal(t, "assigned", tk["state"])
	assert.Equal(t, "eng-li", tk["assignee"])

	r = c.do("GET", "/api/v1/tickets/"+tk["id"].(string)+"/routing", "tok-disp", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	ds := r.json(t)["decisions"].([]any)
	require.Len(t, ds, 1)
	d := ds[0].(map[string]any)
	assert.Equal(t, "created", d["trigger"])
	assert.Equal(t, "estop", d["rule"])
	trace := d["trace"].(map[string]any)
	assert.Equal(t, "eng-li", trace["engineer"])
	cands := trace["teams"].([]any)[0].(map[string]any)["candidates"].([]any)
	require.Len(t, cands, 2)
	li := cands[0].(map[string]any)
	assert.Equal(t, true, li["winner"])
	assert.Contains(t, li["filters"], "max_open")
	assert.NotNil(t, li["parts"])
	assert.Contains(t, trace, "took_ms")

	requireProblem(t, c.do("GET", "/api/v1/tickets/GD-20990101-000001/routing", "tok-disp", ""), http.StatusNotFound, "not-found")
	requireProblem(t, c.do("GET", "/api/v1/tickets/"+tk["id"].(string)+"/routing", "tok-cust", ""), http.StatusForbidden, "forbidden")
}

func TestEngineersThroughTheAPI(t *testing.T) {
	c := routedServer(t)
	r := c.do("GET", "/api/v1/engineers", "tok-disp", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Len(t, r.json(t)["engineers"], 2)

	// On leave through the API: the next ticket goes to the other engineer.
	r = c.do("PUT", "/api/v1/engineers/eng-li", "tok-sup", `{"status":"leave"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "leave", r.json(t)["effective_status"])
	r = c.do("POST", "/api/v1/tickets", "tok-agent", siteDraft)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, "eng-zhao", r.json(t)["assignee"])

	// Live location and skills.
	r = c.do("PUT", "/api/v1/engineers/eng-li", "tok-disp", `{"status":"on_duty","location":{"lat":31.5,"lon":120.9},"skills":["plc","hvac"]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	got := r.json(t)
	assert.Equal(t, map[string]any{"lat": 31.5, "lon": 120.9}, got["effective_location"])
	assert.Equal(t, []any{"plc", "hvac"}, got["effective_skills"])

	// An engineer changes their own status, not their skills nor someone else's record.
	r = c.do("PUT", "/api/v1/engineers/eng-li", "tok-eng", `{"status":"off"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-li", "tok-eng", `{"skills":[]}`), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-zhao", "tok-eng", `{"status":"off"}`), http.StatusForbidden, "forbidden")
	p := requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-li", "tok-sup", `{"status":"holiday"}`), http.StatusUnprocessableEntity, "invalid-data")
	assert.Equal(t, "status", p["field"])
	requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-li", "tok-sup", `{"colour":"red"}`), http.StatusBadRequest, "malformed-json")
	requireProblem(t, c.do("GET", "/api/v1/engineers/nobody", "tok-sup", ""), http.StatusNotFound, "not-found")
	requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-li", "tok-agent", `{"status":"off"}`), http.StatusForbidden, "forbidden")

	// A suspension is not lifted by the engineer suspended.
	require.Equal(t, http.StatusOK, c.do("PUT", "/api/v1/engineers/eng-li", "tok-sup", `{"status":"suspended"}`).status)
	requireProblem(t, c.do("PUT", "/api/v1/engineers/eng-li", "tok-eng", `{"status":"on_duty"}`), http.StatusForbidden, "forbidden")
	r = c.do("PUT", "/api/v1/engineers/eng-li", "tok-eng", `{"location":{"lat":31.31,"lon":120.63}}`)
	assert.Equal(t, http.StatusOK, r.status, "but may still report where they are: %s", r.body)

	// Without routing there are no engineers.
	plain := newServer(t)
	requireProblem(t, plain.do("GET", "/api/v1/engineers", "tok-sup", ""), http.StatusNotFound, "routing-off")
}

func TestTheRoutingReport(t *testing.T) {
	c := routedServer(t)
	for range 3 {
		require.Equal(t, http.StatusCreated, c.do("POST", "/api/v1/tickets", "tok-agent", siteDraft).status)
	}
	for _, id := range []string{"eng-li", "eng-zhao"} {
		require.Equal(t, http.StatusOK, c.do("PUT", "/api/v1/engineers/"+id, "tok-sup", `{"status":"leave"}`).status)
	}
	require.Equal(t, http.StatusCreated, c.do("POST", "/api/v1/tickets", "tok-agent", siteDraft).status)

	r := c.do("GET", "/api/v1/reports/routing?since=7d", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	rep := r.json(t)
	assert.Equal(t, 4.0, rep["decisions"])
	assert.Equal(t, 3.0, rep["assigned"])
	assert.Equal(t, 1.0, rep["failures"])
	top := rep["top_scenarios"].([]any)
	require.Len(t, top, 1)
	assert.Equal(t, map[string]any{"scenario": "no_candidate", "rule": "estop", "team": "suzhou-a", "count": 1.0,
		"examples": []any{top[0].(map[string]any)["examples"].([]any)[0]}}, top[0])
	assign := rep["assignments"].(map[string]any)
	assert.Equal(t, 3.0, assign["eng-li"].(float64)+assign["eng-zhao"].(float64))
	assert.Greater(t, rep["gini"], 0.0, "3 tickets over 2 engineers cannot be even")

	requireProblem(t, c.do("GET", "/api/v1/reports/routing?since=forever", "tok-sup", ""), http.StatusBadRequest, "bad-request")
	requireProblem(t, c.do("GET", "/api/v1/reports/routing", "tok-eng", ""), http.StatusForbidden, "forbidden")
}

// An engineer's cards: the desk and qa read anyone's; an engineer only their own; a customer
// none; an unknown engineer is a 404 problem.
func TestEngineerCardsThroughTheAPI(t *testing.T) {
	r, err := routing.New(routing.Config{
		Engineers: []routing.Engineer{{ID: "eng-li", Skills: []string{"plc"}}, {ID: "eng-zhao", Skills: []string{"plc"}}},
		Teams:     []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}}},
		Rules:     []routing.Rule{{ID: "estop", RouteTo: routing.Target{Team: "suzhou-a"}}},
	})
	require.NoError(t, err)
	rules := routing.YellowDefaults
	c := newServerWith(t, &engine.RoutingOptions{Router: r, Cards: &rules, Notify: func(engine.Notification) {}})
	res := c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"3号线急停按钮失灵","customer":{"id":"cust-wang"}}`)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	tk := res.json(t)
	id := tk["id"].(string)
	require.Equal(t, "eng-li", tk["assignee"])
	for _, step := range []struct{ action, token, body string }{
		{"accept", "tok-eng", ""}, {"start", "tok-eng", ""}, {"resolve", "tok-eng", `{"data":{"root_cause":"接触不良"}}`},
		{"confirm", "tok-cust", `{"data":{"solved":true,"timeliness":2,"professionalism":4}}`},
	} {
		res = c.act(id, step.action, step.token, step.body)
		require.Equal(t, http.StatusOK, res.status, "%s: %s", step.action, res.body)
	}

	for _, token := range []string{"tok-admin", "tok-sup", "tok-disp", "tok-qa", "tok-eng"} {
		res = c.do("GET", "/api/v1/engineers/eng-li/cards", token, "")
		require.Equal(t, http.StatusOK, res.status, "%s: %s", token, res.body)
		got := res.json(t)
		assert.Equal(t, "eng-li", got["engineer"])
		assert.Nil(t, got["suspended_until"])
		cards := got["cards"].([]any)
		require.Len(t, cards, 1, token)
		card := cards[0].(map[string]any)
		assert.Equal(t, []any{"yellow", "rating", id, true}, []any{card["kind"], card["cause"], card["ticket_id"], card["active"]})
		assert.NotEmpty(t, card["at"])
		assert.NotEmpty(t, card["expires_at"])
		assert.NotContains(t, card, "key")
	}
	res = c.do("GET", "/api/v1/engineers/eng-li", "tok-disp", "")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, float64(1), res.json(t)["yellow_cards"])

	res = c.do("GET", "/api/v1/engineers/eng-zhao/cards", "tok-sup", "")
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	assert.Empty(t, res.json(t)["cards"])

	requireProblem(t, c.do("GET", "/api/v1/engineers/eng-zhao/cards", "tok-eng", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/engineers/eng-nobody/cards", "tok-eng", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/engineers/eng-li/cards", "tok-agent", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/engineers/eng-li/cards", "tok-cust", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/engineers/eng-li/cards", "", ""), http.StatusUnauthorized, "unauthorized")
	p := requireProblem(t, c.do("GET", "/api/v1/engineers/eng-nobody/cards", "tok-sup", ""), http.StatusNotFound, "not-found")
	assert.Contains(t, p["detail"], "eng-nobody")

	// Without routing there are no engineers to have cards.
	requireProblem(t, newServer(t).do("GET", "/api/v1/engineers/eng-li/cards", "tok-sup", ""), http.StatusNotFound, "routing-off")
}

// The dry run for assigning by hand: the router's decision for the ticket now, every
// candidate with its filters, distance, load and score, and nothing changed — no event, no
// decision recorded. The assignment made from it is recorded as manual.
func TestCandidatesOfATicketAndAnAssignmentByHand(t *testing.T) {
	c := routedServer(t)
	r := c.do("POST", "/api/v1/tickets", "tok-agent", siteDraft)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	tk := r.json(t)
	id := tk["id"].(string)
	decisions := func() []any {
		r := c.do("GET", "/api/v1/tickets/"+id+"/routing", "tok-disp", "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		return r.json(t)["decisions"].([]any)
	}
	require.Len(t, decisions(), 1)

	for _, tok := range []string{"tok-disp", "tok-sup", "tok-admin"} {
		r = c.do("GET", "/api/v1/tickets/"+id+"/candidates", tok, "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	}
	v := r.json(t)
	assert.Equal(t, id, v["ticket_id"])
	assert.Equal(t, tk["version"], v["version"])
	d := v["decision"].(map[string]any)
	assert.Equal(t, "estop", d["rule"])
	assert.Equal(t, "eng-li", d["engineer"], "eng-li is nearer, and still the router's choice")
	cands := d["teams"].([]any)[0].(map[string]any)["candidates"].([]any)
	require.Len(t, cands, 2)
	li, zhao := cands[0].(map[string]any), cands[1].(map[string]any)
	assert.Equal(t, "eng-li", li["engineer"])
	assert.EqualValues(t, 0, li["open"], "weighed without the ticket itself")
	assert.NotNil(t, li["score"])
	assert.InDelta(t, 11.0, zhao["distance_km"], 0.5)

	after := c.do("GET", "/api/v1/tickets/"+id, "tok-disp", "").json(t)
	assert.Equal(t, tk["version"], after["version"], "a dry run changes nothing")
	assert.Len(t, decisions(), 1, "and records no decision")

	for _, tok := range []string{"tok-eng", "tok-agent", "tok-qa", "tok-cust"} {
		requireProblem(t, c.do("GET", "/api/v1/tickets/"+id+"/candidates", tok, ""), http.StatusForbidden, "forbidden")
	}
	requireProblem(t, c.do("GET", "/api/v1/tickets/GD-20990101-000001/candidates", "tok-disp", ""), http.StatusNotFound, "not-found")
	requireProblem(t, newServer(t).do("GET", "/api/v1/tickets/"+id+"/candidates", "tok-disp", ""), http.StatusNotFound, "routing-off")

	// By hand, to the second candidate: an engineer or agent may not; a dispatcher may, and
	// the decision is recorded as manual.
	body := `{"data":{"assignee":"eng-zhao","team":"suzhou-a"}}`
	requireProblem(t, c.act(id, "assign", "tok-eng", body), http.StatusForbidden, "forbidden")
	requireProblem(t, c.act(id, "assign", "tok-agent", body), http.StatusForbidden, "forbidden")
	r = c.act(id, "assign", "tok-disp", body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "eng-zhao", r.json(t)["assignee"])
	ds := decisions()
	require.Len(t, ds, 2)
	last := ds[1].(map[string]any)
	assert.Equal(t, "manual", last["trigger"])
	assert.Equal(t, true, last["manual"])
	assert.Equal(t, "eng-zhao", last["engineer"])
	assert.Equal(t, "suzhou-a", last["team"])
}
