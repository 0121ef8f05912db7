package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/engine"
)

func sampleReport() engine.RoutingReport {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	return engine.RoutingReport{Since: at.Add(-30 * 24 * time.Hour), Until: at, Decisions: 12, Assigned: 9, Failures: 3, Declines: 2,
		TopScenarios: []engine.Scenario{
			{Scenario: "all_over_cap", Rule: "estop", Team: "suzhou-a", Count: 2, Examples: []string{"GD-20261124-000009", "GD-20261124-000004"}},
			{Scenario: "declined:too_far", Rule: "estop", Team: "suzhou-a", Count: 1, Examples: []string{"GD-20261123-000002"}},
		},
		Assignments: map[string]int{"eng-li": 6, "eng-zhao": 3, "eng-sun": 0}, Gini: 0.333}
}

func TestTheRoutingReportFormats(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeRoutingReport(&b, sampleReport(), "table"))
	out := b.String()
	assert.Contains(t, out, "12 decisions, 9 assigned, 0 manual, 3 failed, 2 after declines")
	assert.Regexp(t, `all_over_cap\s+estop\s+suzhou-a\s+2\s+GD-20261124-000009, GD-20261124-000004`, out)
	assert.Contains(t, out, "Gini 0.333 over 3 engineers")
	assert.Regexp(t, `eng-sun\s+0`, out)

	b.Reset()
	require.NoError(t, writeRoutingReport(&b, sampleReport(), "csv"))
	assert.Contains(t, b.String(), "scenario,declined:too_far,estop,suzhou-a,1,GD-20261123-000002\n")
	assert.Contains(t, b.String(), "assignments,,,eng-li,6,\n")
	assert.Contains(t, b.String(), "gini,,,,0.333,\n")

	b.Reset()
	require.NoError(t, writeRoutingReport(&b, sampleReport(), "json"))
	var back engine.RoutingReport
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, sampleReport().TopScenarios, back.TopScenarios)
}

// gongdan report routing asks the server's API, with the config's supervisor token.
func TestReportRoutingAsksTheServer(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.RequestURI(), r.Header.Get("Authorization")
		json.NewEncoder(w).Encode(sampleReport())
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("server:\n  tokens: [{token: sup-token-0123456789abcdef, actor: sup-wang, role: supervisor}]\n"), 0o600))
	t.Setenv("GONGDAN_TOKEN", "")
	code, out, errOut := runCLI(t, "report", "routing", "--config", cfg, "--server", srv.URL, "--since", "7d", "--format", "csv")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "/api/v1/reports/routing?since=7d", gotPath)
	assert.Equal(t, "Bearer sup-token-0123456789abcdef", gotAuth)
	assert.Contains(t, out, "gini,,,,0.333,")

	code, _, errOut = runCLI(t, "report", "routing", "--since", "forever")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `"forever" is not a look-back`)
	code, _, _ = runCLI(t, "report", "routing", "--format", "xml")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI(t, "report", "sla")
	assert.Equal(t, 2, code)
}
