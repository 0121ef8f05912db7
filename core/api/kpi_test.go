package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/report"
)

// TestKPIReportRoles: the KPI report is for the desk (admin, supervisor, dispatcher), as the
// routing report is; everyone else is refused, a caller without a token too.
func TestKPIReportRoles(t *testing.T) {
	c := newServer(t)
	c.create()
	for _, tok := range []string{"tok-admin", "tok-sup", "tok-disp"} {
		r := c.do("GET", "/api/v1/reports/kpi?since=30d", tok, "")
		require.Equal(t, http.StatusOK, r.status, "%s: %s", tok, r.body)
	}
	for _, tok := range []string{"tok-eng", "tok-agent", "tok-qa", "tok-cust"} {
		requireProblem(t, c.do("GET", "/api/v1/reports/kpi", tok, ""), http.StatusForbidden, "forbidden")
	}
	requireProblem(t, c.do("GET", "/api/v1/reports/kpi", "", ""), http.StatusUnauthorized, "unauthorized")
}

// TestKPIReportNamesAndParameters: every KPI under its fixed JSON name; a bad since or by is a
// 400 that names the parameter.
func TestKPIReportNamesAndParameters(t *testing.T) {
	c := newServer(t)
	c.create()
	r := c.do("GET", "/api/v1/reports/kpi?since=7d", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	rep := r.json(t)
	for _, key := range []string{"first_response", "resolution", "sla_attainment", "ftfr", "true_closure_rate", "reopen_rate",
		"dispute_rate", "force_closed", "repeat_rate", "backlog", "gini", "csat", "low_score_causes"} {
		assert.Contains(t, rep, key)
	}
	assert.Equal(t, 1.0, rep["backlog"].(map[string]any)["open"], "the ticket just created is open")
	assert.Len(t, rep["backlog"].(map[string]any)["trend"], 8, "a point a day back from now, 7 days")
	assert.Equal(t, 1.0, rep["repeat_rate"].(map[string]any)["of"])
	assert.Nil(t, rep["ftfr"].(map[string]any)["rate"], "none closed: no rate")
	assert.NotContains(t, rep, "groups")

	r = c.do("GET", "/api/v1/reports/kpi?since=7d&by=category", "tok-disp", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	groups := r.json(t)["groups"].([]any)
	require.Len(t, groups, 1)
	assert.Equal(t, "急停故障", groups[0].(map[string]any)["key"])

	for _, q := range []string{"since=forever", "since=0d", "since=-3d", "since=30x", "since=3661d"} {
		p := requireProblem(t, c.do("GET", "/api/v1/reports/kpi?"+q, "tok-sup", ""), http.StatusBadRequest, "bad-request")
		assert.Equal(t, "since", p["field"], q)
	}
	p := requireProblem(t, c.do("GET", "/api/v1/reports/kpi?by=customer", "tok-sup", ""), http.StatusBadRequest, "bad-request")
	assert.Equal(t, "by", p["field"])
	assert.Contains(t, p["detail"], "team, engineer, category, connector, policy")
}

// TestKPISeriesAndIntake: the series has a point a day (a week) over the look-back, each
// counting what happened in it; the intake counts the tickets per connector per hour. Both
// are the desk's, as the KPI report is, and a bad parameter is a 400 naming it.
func TestKPISeriesAndIntake(t *testing.T) {
	c := newServer(t)
	c.create()
	c.create()
	r := c.do("GET", "/api/v1/reports/kpi/series?since=7d", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var series report.Series
	require.NoError(t, json.Unmarshal(r.body, &series))
	assert.Equal(t, "day", series.Every)
	require.GreaterOrEqual(t, len(series.Points), 7)
	require.LessOrEqual(t, len(series.Points), 8, "7 days cut at midnight: 7 or 8 points")
	created := 0
	for i, p := range series.Points {
		created += p.Created
		assert.False(t, p.Until.Before(p.From), i)
		if i > 0 {
			assert.Equal(t, series.Points[i-1].Until.Add(time.Second), p.From, "the points follow each other")
		}
	}
	assert.Equal(t, 2, created)
	assert.Equal(t, 2, series.Points[len(series.Points)-1].Created, "both today")
	r = c.do("GET", "/api/v1/reports/kpi/series?since=90d&every=week", "tok-disp", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &series))
	assert.LessOrEqual(t, len(series.Points), 15)
	for _, p := range series.Points[1:] {
		assert.Equal(t, time.Monday, p.From.Weekday(), "weeks begin on Monday")
	}

	r = c.do("GET", "/api/v1/reports/intake?hours=6", "tok-admin", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var in report.Intake
	require.NoError(t, json.Unmarshal(r.body, &in))
	require.Len(t, in.Hours, 6)
	require.Len(t, in.Connectors, 1)
	assert.Equal(t, 2, in.Connectors[0].Total)
	assert.Equal(t, 2, in.Connectors[0].Counts[5], "in the current hour")

	for _, q := range []string{"/api/v1/reports/kpi/series?since=400d", "/api/v1/reports/kpi/series?since=x"} {
		assert.Equal(t, "since", requireProblem(t, c.do("GET", q, "tok-sup", ""), http.StatusBadRequest, "bad-request")["field"], q)
	}
	assert.Equal(t, "every", requireProblem(t, c.do("GET", "/api/v1/reports/kpi/series?every=month", "tok-sup", ""), http.StatusBadRequest, "bad-request")["field"])
	for _, q := range []string{"0", "169", "x"} {
		assert.Equal(t, "hours", requireProblem(t, c.do("GET", "/api/v1/reports/intake?hours="+q, "tok-sup", ""), http.StatusBadRequest, "bad-request")["field"], q)
	}
	for _, tok := range []string{"tok-eng", "tok-agent", "tok-qa", "tok-cust"} {
		requireProblem(t, c.do("GET", "/api/v1/reports/kpi/series", tok, ""), http.StatusForbidden, "forbidden")
		requireProblem(t, c.do("GET", "/api/v1/reports/intake", tok, ""), http.StatusForbidden, "forbidden")
	}
}
