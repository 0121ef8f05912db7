package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"gongdan/core/api"
	"gongdan/core/engine"
)

const reportUsage = `usage: gongdan report routing [--since 30d] [--format table|json|csv] [--config FILE] [--server URL] [--token T]

The routing report of the running server (GET /api/v1/reports/routing): the five most
frequent trouble scenarios (no candidate, all over cap, declines by reason, offer timeouts)
by rule and team, with counts and example tickets, and how evenly tickets were spread over
the engineers (assignments per engineer and their Gini coefficient).`

// reportCmd is `gongdan report routing|kpi|rebuild`.
func reportCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "kpi" {
		return reportKPICmd(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "rebuild" {
		return reportRebuildCmd(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "routing" {
		return usageError("%s\n\n%s\n\n%s", reportUsage, reportKPIUsage, reportRebuildUsage)
	}
	fs := newFlagSet("report routing", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	server := fs.String("server", "", "the server's base URL (default: from server.http)")
	token := fs.String("token", "", "API token of role admin, supervisor or dispatcher (default: $GONGDAN_TOKEN, else one from the config)")
	since := fs.String("since", "30d", "how far back: 30d, 12h, 90m")
	format := fs.String("format", "table", "table, json or csv")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	if _, err := api.ParseSince(*since); err != nil {
		return usageError("--since: %v", err)
	}
	if !slices.Contains([]string{"table", "json", "csv"}, *format) {
		return usageError("--format %q: one of table, json, csv", *format)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	var rep engine.RoutingReport
	if err := newAPIClient(cfg, *server, *token).do(http.MethodGet, "/api/v1/reports/routing?since="+url.QueryEscape(*since), &rep); err != nil {
		return err
	}
	return writeRoutingReport(stdout, rep, *format)
}

func writeRoutingReport(w io.Writer, rep engine.RoutingReport, format string) error {
	engineers := slices.Sorted(func(yield func(string) bool) {
		for id := range rep.Assignments {
			if !yield(id) {
				return
			}
		}
	})
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"section", "scenario", "rule", "team", "count", "examples"})
		for _, sc := range rep.TopScenarios {
			cw.Write([]string{"scenario", sc.Scenario, sc.Rule, sc.Team, strconv.Itoa(sc.Count), strings.Join(sc.Examples, " ")})
		}
		for _, id := range engineers {
			cw.Write([]string{"assignments", "", "", id, strconv.Itoa(rep.Assignments[id]), ""})
		}
		cw.Write([]string{"gini", "", "", "", strconv.FormatFloat(rep.Gini, 'f', 3, 64), ""})
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(w, "Routing %s – %s: %d decisions, %d assigned, %d manual, %d failed, %d after declines, %d after offer timeouts\n\n",
		rep.Since.Format("2006-01-02 15:04"), rep.Until.Format("2006-01-02 15:04"), rep.Decisions, rep.Assigned, rep.Manual, rep.Failures, rep.Declines, rep.OfferTimeouts)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tRULE\tTEAM\tCOUNT\tEXAMPLES")
	if len(rep.TopScenarios) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t")
	}
	for _, sc := range rep.TopScenarios {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", sc.Scenario, sc.Rule, sc.Team, sc.Count, strings.Join(sc.Examples, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nLoad balance: Gini %.3f over %d engineers (0 = even, 1 = all on one)\n", rep.Gini, len(engineers))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENGINEER\tASSIGNED")
	for _, id := range engineers {
		fmt.Fprintf(tw, "%s\t%d\n", id, rep.Assignments[id])
	}
	return tw.Flush()
}
