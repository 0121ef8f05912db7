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
	"time"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/predict"
)

const reportUsage = `usage: gongdan report routing [--since 30d] [--format table|json|csv] [--config FILE] [--server URL] [--token T]
       gongdan report devices [--top 20] [--format table|json] [--rebuild] [--config FILE] [--server URL] [--token T]

The routing report of the running server (GET /api/v1/reports/routing): the five most
frequent trouble scenarios (no candidate, all over cap, declines by reason, offer timeouts)
by rule and team, with counts and example tickets, and how evenly tickets were spread over
the engineers (assignments per engineer and their Gini coefficient).

The devices report (GET /api/v1/reports/devices; the predict section must be on): the devices
to look at first — the chronic ones (频繁故障), then the soonest to fail by their estimated
next failure (last failure + MTBF; overdue ones first), then those with a single failure —
with failures, MTBF, MTTR and the estimate. --rebuild (an admin token) first records device
history again from every event (POST /api/v1/reports/devices/rebuild), opening no ticket.`

// reportCmd is `gongdan report routing|kpi|rebuild|devices`.
func reportCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "devices" {
		return reportDevicesCmd(args[1:], stdout, stderr)
	}
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

// reportDevicesCmd is `gongdan report devices`.
func reportDevicesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report devices", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	server := fs.String("server", "", "the server's base URL (default: from server.http)")
	token := fs.String("token", "", "API token of a staff role (default: $GONGDAN_TOKEN, else one from the config)")
	top := fs.Int("top", 20, fmt.Sprintf("how many devices, 1 to %d", predict.MaxTop))
	format := fs.String("format", "table", "table or json")
	rebuild := fs.Bool("rebuild", false, "record device history again from every event first (an admin token)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *top < 1 || *top > predict.MaxTop {
		return usageError("--top %d: 1 to %d", *top, predict.MaxTop)
	}
	if !slices.Contains([]string{"table", "json"}, *format) {
		return usageError("--format %q: one of table, json", *format)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	client := newAPIClient(cfg, *server, *token)
	if *rebuild {
		var done struct{ Events int }
		if err := client.do(http.MethodPost, "/api/v1/reports/devices/rebuild", &done); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "device history recorded again from %d events\n", done.Events)
	}
	var rep predict.Report
	if err := client.do(http.MethodGet, "/api/v1/reports/devices?top="+strconv.Itoa(*top), &rep); err != nil {
		return err
	}
	return writeDevicesReport(stdout, rep, *format)
}

func writeDevicesReport(w io.Writer, rep predict.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "Devices at %s, top %d: chronic first, then the soonest to fail\n\n", rep.At.Format("2006-01-02 15:04"), rep.Top)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tMODEL\tFAILURES\tCHRONIC\tMTBF\tMTTR\tLAST FAILURE\tNEXT FAILURE (EST.)")
	if len(rep.Devices) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t\t\t\t")
	}
	for _, d := range rep.Devices {
		chronic := "-"
		if d.Chronic {
			chronic = "频繁故障"
		}
		next := "-"
		if d.EstimatedNextFailure != nil {
			next = d.EstimatedNextFailure.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.DeviceID, orDash(d.Model), d.Failures, chronic,
			span(d.MTBFSeconds), span(d.MTTRSeconds), d.LastFailure.Format("2006-01-02 15:04"), next)
	}
	return tw.Flush()
}

// span writes seconds as days and hours ("3d 4h", "5h30m"); "-" when unknown.
func span(seconds *float64) string {
	if seconds == nil {
		return "-"
	}
	d := time.Duration(*seconds * float64(time.Second)).Round(time.Minute)
	var parts []string
	if days := d / (24 * time.Hour); days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	hours, minutes := d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute
	switch {
	case minutes > 0:
		parts = append(parts, fmt.Sprintf("%dh%dm", hours, minutes))
	case hours > 0 || len(parts) == 0:
		parts = append(parts, fmt.Sprintf("%dh", hours))
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
