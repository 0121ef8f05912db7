package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"gongdan/core/engine"
	"gongdan/core/report"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// sampleKPIReport is a small report made the way the server makes it, from facts.
func sampleKPIReport() report.Report {
	const day = 86400
	until := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).Unix()
	a := report.NewAccumulator(report.Window{From: until - 2*day, Until: until}, report.ByTeam, nil, time.UTC)
	c := until - day
	a.AddFacts(&report.Facts{CreatedAt: c, Team: "suzhou-a", Engineer: "eng-li", Policy: "orange", FirstAcceptAt: c + 600,
		ResolvedAt: c + 7200, FirstClosedAt: c + 9000, EndedAt: c + 7200, ClosedConfirm: report.ConfirmCustomer})
	a.AddFacts(&report.Facts{CreatedAt: c + 60, Team: "suzhou-a", Engineer: "eng-zhao", FirstAcceptAt: c + 60 + 1800})
	a.AddFacts(&report.Facts{CreatedAt: c + 120, Team: "wuxi", Engineer: "eng-w1"})
	a.AddRating(&report.Rating{At: c + 8000, Team: "suzhou-a", Engineer: "eng-li", Solved: true, Timeliness: 2, Professionalism: 5, RootCause: "接线松动"})
	return a.Report()
}

func TestTheKPIReportFormats(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeKPIReport(&b, sampleKPIReport(), "table"))
	out := b.String()
	assert.Regexp(t, `first_response median / p90\s+20m0s / 30m0s \(2\)\s+20m0s / 30m0s \(2\)\s+0s / 0s \(0\)`, out)
	assert.Regexp(t, `true_closure_rate\s+100.0% \(1/1\)`, out)
	assert.Regexp(t, `csat timeliness / professionalism\s+2.00 \(0% ≥4\) / 5.00 \(100% ≥4\) \(1\)`, out)
	assert.Regexp(t, `low_score_causes\s+接线松动:1`, out)
	assert.Regexp(t, `orange\s+response\s+1\s+1\s+100.0%`, out)
	assert.Regexp(t, `suzhou-a\s+0.000`, out, "one ticket each: even")
	assert.Contains(t, out, "TEAM SUZHOU-A")

	b.Reset()
	require.NoError(t, writeKPIReport(&b, sampleKPIReport(), "csv"))
	csv := b.String()
	assert.Contains(t, csv, "group,kpi,measure,value\n")
	assert.Contains(t, csv, ",first_response,median_seconds,1200\n")
	assert.Contains(t, csv, ",true_closure_rate,rate,1\n")
	assert.Contains(t, csv, ",ftfr,of,1\n")
	assert.Contains(t, csv, ",sla_attainment,orange/response rate,1\n")
	assert.Contains(t, csv, ",low_score_causes,接线松动,1\n")
	assert.Contains(t, csv, ",gini,wuxi,0\n")
	assert.Contains(t, csv, "wuxi,backlog,open,1\n")
	assert.Contains(t, csv, ",csat,timeliness mean,2\n")
	assert.Contains(t, csv, ",reopen_rate,count,0\n")

	b.Reset()
	require.NoError(t, writeKPIReport(&b, sampleKPIReport(), "json"))
	var back report.Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, sampleKPIReport().FirstResponse, back.FirstResponse)
	assert.Len(t, back.Groups, 2)

	b.Reset()
	require.NoError(t, writeKPIReport(&b, sampleKPIReport(), "xlsx"))
	f, err := excelize.OpenReader(&b)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows("KPIs")
	require.NoError(t, err)
	assert.Equal(t, []string{"group", "kpi", "measure", "value"}, rows[0])
	assert.Contains(t, rows, []string{"", "first_response", "median_seconds", "1200"})
	assert.Contains(t, rows, []string{"", "low_score_causes", "接线松动", "1"})
	assert.Contains(t, rows, []string{"suzhou-a", "backlog", "open", "1"})
	typ, err := f.GetCellType("KPIs", "D2")
	require.NoError(t, err)
	assert.NotEqual(t, excelize.CellTypeSharedString, typ, "numbers are numbers")
}

// gongdan report kpi asks the server's API and writes each format; xlsx to --output.
func TestReportKPIAsksTheServer(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.RequestURI(), r.Header.Get("Authorization")
		json.NewEncoder(w).Encode(sampleKPIReport())
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("server:\n  tokens: [{token: sup-token-0123456789abcdef, actor: sup-wang, role: supervisor}]\n"), 0o600))
	t.Setenv("GONGDAN_TOKEN", "")
	for _, format := range []string{"table", "json", "csv"} {
		code, out, errOut := runCLI(t, "report", "kpi", "--config", cfg, "--server", srv.URL, "--since", "7d", "--by", "team", "--format", format)
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "/api/v1/reports/kpi?by=team&since=7d", gotPath)
		assert.Equal(t, "Bearer sup-token-0123456789abcdef", gotAuth)
		assert.Contains(t, out, "suzhou-a", format)
	}
	xlsx := filepath.Join(dir, "kpi.xlsx")
	code, _, errOut := runCLI(t, "report", "kpi", "--config", cfg, "--server", srv.URL, "--format", "xlsx", "--output", xlsx)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "/api/v1/reports/kpi?since=30d", gotPath)
	f, err := excelize.OpenFile(xlsx)
	require.NoError(t, err)
	f.Close()

	for _, args := range [][]string{{"--since", "forever"}, {"--by", "customer"}, {"--format", "pdf"}, {"extra"}} {
		code, _, errOut := runCLI(t, append([]string{"report", "kpi"}, args...)...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
}

// gongdan report rebuild folds the facts of a store's tickets from their events.
func TestReportRebuild(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gongdan.db"))
	require.NoError(t, err)
	e, err := engine.New(context.Background(), engine.Options{Store: st})
	require.NoError(t, err)
	agent := ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	for _, title := range []string{"急停按钮失灵", "设备过热"} {
		_, _, err := e.Create(context.Background(), engine.CreateRequest{Actor: agent, Draft: draft.Draft{Title: title, Category: title}})
		require.NoError(t, err)
	}
	require.NoError(t, e.Close())
	before := 0
	require.NoError(t, st.ScanKPIFacts(context.Background(), 0, func(*report.Facts) { before++ }))
	require.Equal(t, 2, before, "kept by the engine")
	require.NoError(t, st.Close())
	// As after an upgrade from a version that kept no facts.
	db, err := sql.Open("sqlite", filepath.Join(dir, "gongdan.db"))
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM kpi_facts`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	code, out, errOut := runCLI(t, "report", "rebuild", "--data", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "rebuilt the KPI facts of 2 tickets")

	st, err = sqlite.Open(context.Background(), filepath.Join(dir, "gongdan.db"))
	require.NoError(t, err)
	defer st.Close()
	var categories []string
	require.NoError(t, st.ScanKPIFacts(context.Background(), 0, func(f *report.Facts) { categories = append(categories, f.Category) }))
	assert.ElementsMatch(t, []string{"急停按钮失灵", "设备过热"}, categories)

	code, _, errOut = runCLI(t, "report", "rebuild", "--data", dir, "extra")
	assert.Equal(t, 2, code, errOut)
}
