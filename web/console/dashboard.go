package console

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"gongdan/core/report"
	"gongdan/web/webkit"
)

// The dashboard (DESIGN.md §11, docs/KPIS.md): the KPI report of a period as numbers, tables
// and charts. The figures are the API's (GET /api/v1/reports/kpi and its daily series, GET
// /api/v1/reports/intake); the page computes none of its own. Every chart is drawn by
// assets/dashboard.js from the JSON block the server writes, and every chart has a table
// beside it with the same numbers, so the page reads without script and with a screen reader.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/dashboard", "GET /api/v1/reports/kpi", h.dashboard)
		h.addNav("nav_dashboard", "/console/dashboard", "GET /api/v1/reports/kpi")
	})
	addWords(webkit.Words{
		"nav_dashboard":          {"看板", "Dashboard"},
		"dash_title":             {"运营看板", "Dashboard"},
		"dash_period":            {"统计周期", "Period"},
		"dash_period_7d":         {"近 7 天", "Last 7 days"},
		"dash_period_30d":        {"近 30 天", "Last 30 days"},
		"dash_period_90d":        {"近 90 天", "Last 90 days"},
		"dash_show":              {"查看", "Show"},
		"dash_window":            {"统计区间", "Window"},
		"dash_first_response":    {"首次响应", "First response"},
		"dash_resolution":        {"解决时长", "Resolution time"},
		"dash_median":            {"中位数", "median"},
		"dash_p90":               {"P90", "p90"},
		"dash_mttr":              {"平均修复时长 (MTTR)", "MTTR"},
		"dash_ftfr":              {"一次修复率", "First-time fix rate"},
		"dash_true_closure":      {"真实闭环率", "True closure rate"},
		"dash_reopen":            {"重开率", "Reopen rate"},
		"dash_dispute":           {"争议率", "Dispute rate"},
		"dash_force_closed":      {"强制关闭", "Force-closed"},
		"dash_repeat":            {"重复报修率", "Repeat rate"},
		"dash_closed":            {"已关闭", "Closed"},
		"dash_created":           {"新建", "Created"},
		"dash_tickets":           {"工单数", "Tickets"},
		"dash_backlog":           {"积压", "Backlog"},
		"dash_open_now":          {"当前未结", "Open now"},
		"dash_backlog_age":       {"积压工单账龄", "Backlog by age"},
		"dash_backlog_trend":     {"每日积压", "Open tickets each day"},
		"dash_age":               {"账龄", "Age"},
		"dash_count":             {"数量", "Count"},
		"dash_day":               {"日期", "Day"},
		"dash_hour":              {"小时", "Hour"},
		"dash_open":              {"未结", "Open"},
		"dash_sla":               {"SLA 达成率", "SLA attainment"},
		"dash_policy":            {"策略", "Policy"},
		"dash_target":            {"目标", "Target"},
		"dash_target_response":   {"响应", "response"},
		"dash_target_resolution": {"解决", "resolution"},
		"dash_met":               {"达成", "Met"},
		"dash_of":                {"总数", "Of"},
		"dash_rate":              {"比率", "Rate"},
		"dash_rates":             {"闭环质量", "Closure quality"},
		"dash_teams":             {"各班组", "By team"},
		"dash_team":              {"班组", "Team"},
		"dash_no_team":           {"（未分组）", "(no team)"},
		"dash_gini":              {"负载基尼系数", "Load Gini"},
		"dash_gini_note":         {"0 表示平均分配，越接近 1 越集中在少数工程师。", "0 is an even spread; nearer 1, the load sits on fewer engineers."},
		"dash_csat":              {"客户满意度", "Customer satisfaction"},
		"dash_answers":           {"评价数", "Answers"},
		"dash_timeliness":        {"及时性", "Timeliness"},
		"dash_professionalism":   {"专业性", "Professionalism"},
		"dash_mean":              {"平均分", "Mean"},
		"dash_good_share":        {"4 分及以上", "4 or more"},
		"dash_low_causes":        {"低分原因 Top 5", "Causes of low scores (top 5)"},
		"dash_cause":             {"根因", "Root cause"},
		"dash_no_cause":          {"（未填写）", "(none given)"},
		"dash_trend":             {"趋势", "Trends"},
		"dash_trend_note":        {"按天统计（90 天按周）；时长为中位数，单位小时。", "Per day (per week over 90 days); times are medians, in hours."},
		"dash_intake":            {"各渠道进线（近 24 小时，每小时新建工单）", "Intake per connector (last 24 hours, tickets created per hour)"},
		"dash_connector":         {"渠道", "Connector"},
		"dash_total":             {"合计", "Total"},
		"dash_none":              {"暂无数据", "No data yet"},
		"dash_unavailable":       {"此服务器不保存 KPI 数据。", "This server keeps no KPI facts."},
	})
}

// periods are the look-backs the period selector offers.
var periods = []string{"7d", "30d", "90d"}

// dashData is what dashboard.html shows.
type dashData struct {
	Lang    webkit.Lang
	Period  string
	Periods []string
	Rep     report.Report
	Until   time.Time
	Since   time.Time
	// Numbers, formatted for reading.
	FirstMedian, FirstP90, ResMedian, ResP90, MTTR string
	FTFR, TrueClosure, Reopen, Dispute, Repeat     rateText
	Timeliness, Professionalism                    questionText
	Teams                                          []teamRow
	Gini                                           []giniRow
	SLA                                            []slaRow
	Trend                                          []trendRow
	Every                                          string
	Intake                                         intakeView
	// Chart is the charts' data, written as JSON into the page for dashboard.js.
	Chart map[string]any
}

type rateText struct {
	Count, Of int
	Text      string // "83.3%", or "—" when there is nothing to divide
}

type questionText struct{ Mean, Good string }

type teamRow struct {
	Team                  string
	Closed, Open          int
	FTFR, SLA             string
	ResMedian, RespMedian string
	Gini                  string
}

type giniRow struct {
	Team  string
	Value string
}

type slaRow struct {
	Policy, Target string
	Met, Of        int
	Rate           string
}

type trendRow struct {
	Label                     string
	Created, Closed           int
	FirstResponse, Resolution string
	SLA, FTFR                 string
}

// intakeView is the tickets created per connector per hour.
type intakeView struct {
	Hours      []string
	Connectors []intakeRow
}

type intakeRow struct {
	Connector string
	Counts    []int
	Total     int
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, v *viewer) {
	period := r.URL.Query().Get("since")
	if !slices.Contains(periods, period) {
		period = "30d"
	}
	var rep report.Report
	if err := h.get(r, v, query("/api/v1/reports/kpi", "since", period, "by", report.ByTeam), &rep); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	d := dashData{Lang: v.Lang, Period: period, Periods: periods, Rep: rep, Since: rep.Since, Until: rep.Until,
		FirstMedian: duration(v.Lang, rep.FirstResponse.Median, rep.FirstResponse.Count),
		FirstP90:    duration(v.Lang, rep.FirstResponse.P90, rep.FirstResponse.Count),
		ResMedian:   duration(v.Lang, rep.Resolution.Median, rep.Resolution.Count),
		ResP90:      duration(v.Lang, rep.Resolution.P90, rep.Resolution.Count),
		MTTR:        duration(v.Lang, rep.Resolution.MTTR, rep.Resolution.Count),
		FTFR:        rateOf(rep.FTFR), TrueClosure: rateOf(rep.TrueClosureRate), Reopen: rateOf(rep.ReopenRate),
		Dispute: rateOf(rep.DisputeRate), Repeat: rateOf(rep.RepeatRate),
		Timeliness: questionOf(rep.CSAT.Timeliness), Professionalism: questionOf(rep.CSAT.Professionalism),
	}
	for _, s := range rep.SLAAttainment {
		d.SLA = append(d.SLA, slaRow{Policy: s.Policy, Target: s.Target, Met: s.Count, Of: s.Of, Rate: rateOf(s.Rate).Text})
	}
	for _, team := range slices.Sorted(maps.Keys(rep.Gini)) {
		d.Gini = append(d.Gini, giniRow{Team: team, Value: strconv.FormatFloat(rep.Gini[team], 'f', 2, 64)})
	}
	for _, g := range rep.Groups {
		row := teamRow{Team: g.Key, Closed: g.FTFR.Of, Open: g.Backlog.Open, FTFR: rateOf(g.FTFR).Text, SLA: slaOverall(g.SLAAttainment).Text,
			ResMedian:  duration(v.Lang, g.Resolution.Median, g.Resolution.Count),
			RespMedian: duration(v.Lang, g.FirstResponse.Median, g.FirstResponse.Count), Gini: "—"}
		if gv, ok := rep.Gini[g.Key]; ok {
			row.Gini = strconv.FormatFloat(gv, 'f', 2, 64)
		}
		d.Teams = append(d.Teams, row)
	}
	d.Every = "day"
	if period == "90d" {
		d.Every = "week"
	}
	var series report.Series
	if err := h.get(r, v, query("/api/v1/reports/kpi/series", "since", period, "every", d.Every), &series); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	for _, p := range series.Points {
		label := p.From.In(h.opts.Location).Format("01-02")
		d.Trend = append(d.Trend, trendRow{Label: label, Created: p.Created, Closed: p.FTFR.Of,
			FirstResponse: hours(p.FirstResponse.Median, p.FirstResponse.Count), Resolution: hours(p.Resolution.Median, p.Resolution.Count),
			SLA: slaOverall(p.SLAAttainment).Text, FTFR: rateOf(p.FTFR).Text})
	}
	var intake report.Intake
	if err := h.get(r, v, "/api/v1/reports/intake?hours=24", &intake); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	for _, at := range intake.Hours {
		d.Intake.Hours = append(d.Intake.Hours, at.In(h.opts.Location).Format("15:00"))
	}
	for _, c := range intake.Connectors {
		row := intakeRow{Connector: c.Connector, Counts: c.Counts}
		for _, n := range c.Counts {
			row.Total += n
		}
		d.Intake.Connectors = append(d.Intake.Connectors, row)
	}
	d.Chart = h.chartData(v, rep, series, d)
	h.render(w, r, v, http.StatusOK, "dashboard", Page{Title: v.T("dash_title"), Data: d})
}

// chartData is what dashboard.js draws: labels already in the reader's language, durations in
// hours, rates in percent (null where there is nothing to show).
func (h *Handler) chartData(v *viewer, rep report.Report, series report.Series, d dashData) map[string]any {
	t := v.T
	teams, closed, ftfr, res := []string{}, []int{}, []any{}, []any{}
	for _, g := range rep.Groups {
		name := g.Key
		if name == "" {
			name = t("dash_no_team")
		}
		teams = append(teams, name)
		closed = append(closed, g.FTFR.Of)
		ftfr = append(ftfr, percent(g.FTFR.Rate))
		res = append(res, hoursValue(g.Resolution.Median, g.Resolution.Count))
	}
	labels, created, closedDay, first, resol, sla, ftfrDay := []string{}, []int{}, []int{}, []any{}, []any{}, []any{}, []any{}
	for i, p := range series.Points {
		labels = append(labels, d.Trend[i].Label)
		created = append(created, p.Created)
		closedDay = append(closedDay, p.FTFR.Of)
		first = append(first, hoursValue(p.FirstResponse.Median, p.FirstResponse.Count))
		resol = append(resol, hoursValue(p.Resolution.Median, p.Resolution.Count))
		sla = append(sla, percent(slaOverall(p.SLAAttainment).rate))
		ftfrDay = append(ftfrDay, percent(p.FTFR.Rate))
	}
	ages, ageCounts := []string{}, []int{}
	for _, b := range rep.Backlog.ByAge {
		ages = append(ages, b.Bucket)
		ageCounts = append(ageCounts, b.Count)
	}
	days, open := []string{}, []int{}
	for _, p := range rep.Backlog.Trend {
		days = append(days, p.At.In(h.opts.Location).Format("01-02"))
		open = append(open, p.Open)
	}
	causes, causeCounts := []string{}, []int{}
	for _, c := range rep.LowScoreCauses {
		name := c.RootCause
		if name == "" {
			name = t("dash_no_cause")
		}
		causes = append(causes, name)
		causeCounts = append(causeCounts, c.Count)
	}
	giniTeams, giniValues := []string{}, []float64{}
	for _, team := range slices.Sorted(maps.Keys(rep.Gini)) {
		giniTeams = append(giniTeams, team)
		giniValues = append(giniValues, math.Round(rep.Gini[team]*1000)/1000)
	}
	intakeSeries := []map[string]any{}
	for _, c := range d.Intake.Connectors {
		intakeSeries = append(intakeSeries, map[string]any{"name": c.Connector, "values": c.Counts})
	}
	return map[string]any{
		"trend": map[string]any{"labels": labels, "series": []map[string]any{
			{"name": t("dash_first_response") + " (h)", "values": first, "axis": 0},
			{"name": t("dash_resolution") + " (h)", "values": resol, "axis": 0},
			{"name": t("dash_sla") + " (%)", "values": sla, "axis": 1},
			{"name": t("dash_ftfr") + " (%)", "values": ftfrDay, "axis": 1},
		}},
		"volume": map[string]any{"labels": labels, "series": []map[string]any{
			{"name": t("dash_created"), "values": created}, {"name": t("dash_closed"), "values": closedDay},
		}},
		"teams": map[string]any{"labels": teams, "series": []map[string]any{
			{"name": t("dash_closed"), "values": closed, "axis": 0},
			{"name": t("dash_ftfr") + " (%)", "values": ftfr, "axis": 1},
			{"name": t("dash_resolution") + " (h)", "values": res, "axis": 0},
		}},
		"gini":          map[string]any{"labels": giniTeams, "series": []map[string]any{{"name": t("dash_gini"), "values": giniValues}}},
		"backlog_age":   map[string]any{"labels": ages, "series": []map[string]any{{"name": t("dash_open"), "values": ageCounts}}},
		"backlog_trend": map[string]any{"labels": days, "series": []map[string]any{{"name": t("dash_open"), "values": open}}},
		"causes":        map[string]any{"labels": causes, "series": []map[string]any{{"name": t("dash_count"), "values": causeCounts}}},
		"csat": map[string]any{"labels": []string{t("dash_timeliness"), t("dash_professionalism")}, "series": []map[string]any{
			{"name": t("dash_mean"), "values": []any{round2(rep.CSAT.Timeliness.Mean), round2(rep.CSAT.Professionalism.Mean)}},
		}},
		"intake": map[string]any{"labels": d.Intake.Hours, "series": intakeSeries, "stack": true},
	}
}

// overall is SLA attainment over every policy and target.
type overall struct {
	rate *float64
	Text string
}

func slaOverall(ts []report.SLATarget) overall {
	met, of := 0, 0
	for _, t := range ts {
		met, of = met+t.Count, of+t.Of
	}
	if of == 0 {
		return overall{Text: "—"}
	}
	r := float64(met) / float64(of)
	return overall{rate: &r, Text: percentText(r)}
}

func rateOf(r report.Rate) rateText {
	t := rateText{Count: r.Count, Of: r.Of, Text: "—"}
	if r.Rate != nil {
		t.Text = percentText(*r.Rate)
	}
	return t
}

func percentText(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + "%" }

func percent(r *float64) any {
	if r == nil {
		return nil
	}
	return math.Round(*r*1000) / 10
}

func round2(f *float64) any {
	if f == nil {
		return nil
	}
	return math.Round(*f*100) / 100
}

func questionOf(q report.Question) questionText {
	out := questionText{Mean: "—", Good: "—"}
	if q.Mean != nil {
		out.Mean = strconv.FormatFloat(*q.Mean, 'f', 2, 64)
	}
	if q.ShareGood != nil {
		out.Good = percentText(*q.ShareGood)
	}
	return out
}

// duration reads seconds as hours and minutes ("2小时5分", "2h 5m"); "—" when nothing was
// measured (n is 0).
func duration(l webkit.Lang, seconds float64, n int) string {
	if n == 0 {
		return "—"
	}
	m := int64(math.Round(seconds / 60))
	d, hr, mi := m/(24*60), (m/60)%24, m%60
	if l == webkit.EN {
		switch {
		case d > 0:
			return fmt.Sprintf("%dd %dh", d, hr)
		case hr > 0:
			return fmt.Sprintf("%dh %dm", hr, mi)
		}
		return fmt.Sprintf("%dm", mi)
	}
	switch {
	case d > 0:
		return fmt.Sprintf("%d天%d小时", d, hr)
	case hr > 0:
		return fmt.Sprintf("%d小时%d分", hr, mi)
	}
	return fmt.Sprintf("%d分", mi)
}

// hours is seconds in hours with one decimal, for the trend table; "—" for none.
func hours(seconds float64, n int) string {
	if n == 0 {
		return "—"
	}
	return strconv.FormatFloat(seconds/3600, 'f', 1, 64)
}

func hoursValue(seconds float64, n int) any {
	if n == 0 {
		return nil
	}
	return math.Round(seconds/360) / 10
}
