package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
