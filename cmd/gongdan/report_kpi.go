package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xuri/excelize/v2"

	"gongdan/config"
	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/report"
	"gongdan/core/ticket"
)

const reportKPIUsage = `usage: gongdan report kpi [--since 30d] [--by team|engineer|category|connector|policy]
                          [--format table|json|csv|xlsx] [--output FILE] [--config FILE] [--server URL] [--token T]

The KPIs of the running server (GET /api/v1/reports/kpi), each defined in docs/KPIS.md: first
response and resolution times, SLA attainment, FTFR, true closure, reopen, dispute and repeat
rates, force-closes, the backlog and its trend, the Gini of load per team, CSAT and the root
causes of low ratings. --by breaks them down; xlsx is written to --output (or stdout).`

const reportRebuildUsage = `usage: gongdan report rebuild [--config FILE] [--data DIR]

Folds the KPI facts of every ticket again from its events, in the store under --data. The
server keeps the facts itself with every event; rebuild after upgrading from a version that
did not keep them, or after a change of the SLA policies (a ticket's policy is the config's
now). Stop the server first: rebuild takes the data directory's lock.`

// reportKPICmd is `gongdan report kpi`.
func reportKPICmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report kpi", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	server := fs.String("server", "", "the server's base URL (default: from server.http)")
	token := fs.String("token", "", "API token of role admin, supervisor or dispatcher (default: $GONGDAN_TOKEN, else one from the config)")
	since := fs.String("since", "30d", "how far back: 30d, 12h, 90m")
	by := fs.String("by", "", "break down by team, engineer, category, connector or policy")
	format := fs.String("format", "table", "table, json, csv or xlsx")
	output := fs.String("output", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("report kpi: unexpected argument %q\n%s", fs.Arg(0), reportKPIUsage)
	}
	if _, err := api.ParseSince(*since); err != nil {
		return usageError("--since: %v", err)
	}
	if err := report.CheckBy(*by); err != nil {
		return usageError("--by: %v", err)
	}
	if !slices.Contains([]string{"table", "json", "csv", "xlsx"}, *format) {
		return usageError("--format %q: one of table, json, csv, xlsx", *format)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	q := url.Values{"since": {*since}}
	if *by != "" {
		q.Set("by", *by)
	}
	var rep report.Report
	if err := newAPIClient(cfg, *server, *token).do(http.MethodGet, "/api/v1/reports/kpi?"+q.Encode(), &rep); err != nil {
		return err
	}
	w := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return userError(fmt.Errorf("--output: %w", err))
		}
		defer f.Close()
		w = f
	}
	if err := writeKPIReport(w, rep, *format); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && *output != "" {
		return f.Close()
	}
	return nil
}

// reportRebuildCmd is `gongdan report rebuild`: local, on the store, with the server stopped.
func reportRebuildCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report rebuild", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("report rebuild: unexpected argument %q\n%s", fs.Arg(0), reportRebuildUsage)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	lock, err := lockDataDir(*conf.dataDir)
	if err != nil {
		return userError(fmt.Errorf("%w (stop the server before rebuilding)", err))
	}
	defer lock.release()
	cfg.ResolvePaths(*conf.dataDir)
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	began := time.Now()
	n, err := engine.RebuildKPIs(ctx, st, kpiPolicyOf(cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt the KPI facts of %d tickets in %s\n", n, time.Since(began).Round(time.Millisecond))
	return nil
}

// kpiCell is one figure of the report as a row: the group ("" for all tickets), the KPI's
// JSON name, what of it, and its value (a number, or text; nil for none).
type kpiCell struct {
	group, kpi, measure string
	value               any
}

// kpiCells flattens the report into rows, the same for csv and xlsx.
func kpiCells(rep report.Report) []kpiCell {
	var out []kpiCell
	add := func(group string, f report.Figures) {
		c := func(kpi, measure string, v any) { out = append(out, kpiCell{group, kpi, measure, v}) }
		rate := func(kpi, prefix string, r report.Rate) {
			c(kpi, prefix+"count", r.Count)
			c(kpi, prefix+"of", r.Of)
			if r.Rate != nil {
				c(kpi, prefix+"rate", *r.Rate)
			} else {
				c(kpi, prefix+"rate", nil)
			}
		}
		c("first_response", "count", f.FirstResponse.Count)
		c("first_response", "median_seconds", f.FirstResponse.Median)
		c("first_response", "p90_seconds", f.FirstResponse.P90)
		c("resolution", "count", f.Resolution.Count)
		c("resolution", "median_seconds", f.Resolution.Median)
		c("resolution", "p90_seconds", f.Resolution.P90)
		c("resolution", "mttr_seconds", f.Resolution.MTTR)
		for _, s := range f.SLAAttainment {
			rate("sla_attainment", s.Policy+"/"+s.Target+" ", s.Rate)
		}
		rate("ftfr", "", f.FTFR)
		rate("true_closure_rate", "", f.TrueClosureRate)
		rate("reopen_rate", "", f.ReopenRate)
		rate("dispute_rate", "", f.DisputeRate)
		c("force_closed", "count", f.ForceClosed)
		rate("repeat_rate", "", f.RepeatRate)
		c("backlog", "open", f.Backlog.Open)
		for _, b := range f.Backlog.ByAge {
			c("backlog", "age "+b.Bucket, b.Count)
		}
		for _, p := range f.Backlog.Trend {
			c("backlog", "open at "+p.At.Format("2006-01-02 15:04"), p.Open)
		}
		c("csat", "count", f.CSAT.Count)
		for _, q := range []struct {
			name string
			q    report.Question
		}{{"timeliness", f.CSAT.Timeliness}, {"professionalism", f.CSAT.Professionalism}} {
			var mean, share any
			if q.q.Mean != nil {
				mean, share = *q.q.Mean, *q.q.ShareGood
			}
			c("csat", q.name+" mean", mean)
			c("csat", q.name+" share_4_or_more", share)
		}
		for _, cause := range f.LowScoreCauses {
			c("low_score_causes", cause.RootCause, cause.Count)
		}
	}
	add("", rep.Figures)
	for _, team := range slices.Sorted(mapKeysOf(rep.Gini)) {
		out = append(out, kpiCell{"", "gini", team, rep.Gini[team]})
	}
	for _, g := range rep.Groups {
		add(g.Key, g.Figures)
	}
	return out
}

func mapKeysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(v)
}

func writeKPIReport(w io.Writer, rep report.Report, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"group", "kpi", "measure", "value"})
		for _, c := range kpiCells(rep) {
			cw.Write([]string{c.group, c.kpi, c.measure, cellText(c.value)})
		}
		cw.Flush()
		return cw.Error()
	case "xlsx":
		return writeKPIXLSX(w, rep)
	}
	return writeKPITable(w, rep)
}

// writeKPIXLSX writes the report as a workbook: one sheet of every figure, as the csv has
// them, with numbers as numbers.
func writeKPIXLSX(w io.Writer, rep report.Report) error {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "KPIs"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	if err := sw.SetRow("A1", []any{"group", "kpi", "measure", "value"}); err != nil {
		return err
	}
	for i, c := range kpiCells(rep) {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{c.group, c.kpi, c.measure, c.value}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

func writeKPITable(w io.Writer, rep report.Report) error {
	fmt.Fprintf(w, "KPIs %s – %s\n\n", rep.Since.Format("2006-01-02 15:04"), rep.Until.Format("2006-01-02 15:04"))
	scopes := []report.Group{{Key: "all tickets", Figures: rep.Figures}}
	for _, g := range rep.Groups {
		key := g.Key
		if key == "" {
			key = "(none)"
		}
		scopes = append(scopes, report.Group{Key: rep.By + " " + key, Figures: g.Figures})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := []string{"KPI"}
	for _, s := range scopes {
		header = append(header, strings.ToUpper(s.Key))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	row := func(name string, cell func(f report.Figures) string) {
		cells := []string{name}
		for _, s := range scopes {
			cells = append(cells, cell(s.Figures))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	row("first_response median / p90", func(f report.Figures) string {
		return fmt.Sprintf("%s / %s (%d)", seconds(f.FirstResponse.Median), seconds(f.FirstResponse.P90), f.FirstResponse.Count)
	})
	row("resolution median / p90 / MTTR", func(f report.Figures) string {
		return fmt.Sprintf("%s / %s / %s (%d)", seconds(f.Resolution.Median), seconds(f.Resolution.P90), seconds(f.Resolution.MTTR), f.Resolution.Count)
	})
	row("ftfr", func(f report.Figures) string { return percent(f.FTFR) })
	row("true_closure_rate", func(f report.Figures) string { return percent(f.TrueClosureRate) })
	row("reopen_rate", func(f report.Figures) string { return percent(f.ReopenRate) })
	row("dispute_rate", func(f report.Figures) string { return percent(f.DisputeRate) })
	row("force_closed", func(f report.Figures) string { return strconv.Itoa(f.ForceClosed) })
	row("repeat_rate", func(f report.Figures) string { return percent(f.RepeatRate) })
	row("backlog open", func(f report.Figures) string {
		parts := []string{strconv.Itoa(f.Backlog.Open)}
		for _, b := range f.Backlog.ByAge {
			parts = append(parts, fmt.Sprintf("%s:%d", b.Bucket, b.Count))
		}
		return strings.Join(parts, " ")
	})
	row("csat timeliness / professionalism", func(f report.Figures) string {
		if f.CSAT.Count == 0 {
			return "– (0)"
		}
		return fmt.Sprintf("%.2f (%.0f%% ≥4) / %.2f (%.0f%% ≥4) (%d)", *f.CSAT.Timeliness.Mean, 100**f.CSAT.Timeliness.ShareGood,
			*f.CSAT.Professionalism.Mean, 100**f.CSAT.Professionalism.ShareGood, f.CSAT.Count)
	})
	row("low_score_causes", func(f report.Figures) string {
		var parts []string
		for _, c := range f.LowScoreCauses {
			parts = append(parts, fmt.Sprintf("%s:%d", c.RootCause, c.Count))
		}
		if parts == nil {
			return "–"
		}
		return strings.Join(parts, " ")
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nSLA attainment (all tickets)")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tTARGET\tMET\tOF\tRATE")
	if len(rep.SLAAttainment) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t")
	}
	for _, s := range rep.SLAAttainment {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", s.Policy, s.Target, s.Count, s.Of, percent(s.Rate))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nGini of load per team (0 = even, 1 = all on one)")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tGINI")
	for _, team := range slices.Sorted(mapKeysOf(rep.Gini)) {
		fmt.Fprintf(tw, "%s\t%.3f\n", team, rep.Gini[team])
	}
	tw.Flush()
	fmt.Fprintln(w, "\nBacklog trend (all tickets)")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tOPEN")
	for _, p := range rep.Backlog.Trend {
		fmt.Fprintf(tw, "%s\t%d\n", p.At.Format("2006-01-02 15:04"), p.Open)
	}
	return tw.Flush()
}

func percent(r report.Rate) string {
	if r.Rate == nil {
		return fmt.Sprintf("– (0/%d)", r.Of)
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100**r.Rate, r.Count, r.Of)
}

// seconds shows a duration in seconds rounded to the minute (or the second, under one).
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	return d.String()
}

// kpiPolicyOf is which SLA policy a ticket falls under, for its KPI facts; nil without
// policies.
func kpiPolicyOf(cfg *config.Config) func(ticket.Ticket) string {
	ps := cfg.SLA.BuiltPolicies
	if ps == nil || ps.Len() == 0 {
		return nil
	}
	return func(t ticket.Ticket) string {
		if p := ps.Choose(engine.SLAEnv(t)); p != nil {
			return p.ID
		}
		return ""
	}
}
