package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gongdan/core/engine"
	"gongdan/core/sla"
	"gongdan/web/webkit"
)

// The SLA board (issue 22, page 3): the open tickets by time to breach, the breached first
// (the longest breached before them), each row in the colour of the last tier fired; of one
// team or one policy when asked; live.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/sla", boardAPI, h.boardPage)
		h.addNav("nav_sla", "/console/sla", boardAPI)
	})
	addWords(webkit.Words{
		"nav_sla":                {"SLA 看板", "SLA board"},
		"sla_title":              {"SLA 看板", "SLA board"},
		"sla_lead":               {"按距离超时的时间排列，已超时的在前；颜色为最近一次触发的升级档位。", "By time to breach, the breached first; coloured by the last tier fired."},
		"sla_team":               {"团队", "Team"},
		"sla_policy":             {"策略", "Policy"},
		"sla_all":                {"全部", "All"},
		"sla_filter":             {"筛选", "Filter"},
		"sla_clear":              {"清除筛选", "Clear filters"},
		"sla_to_breach":          {"距超时", "To breach"},
		"sla_ticket":             {"工单", "Ticket"},
		"sla_urgency":            {"紧急度", "Urgency"},
		"sla_state":              {"状态", "State"},
		"sla_assignee":           {"负责人", "Assignee"},
		"sla_target":             {"目标", "Target"},
		"sla_tier":               {"档位", "Tier"},
		"sla_calls":              {"来电", "Calls"},
		"sla_chased":             {"催单", "Chased"},
		"sla_empty":              {"没有正在计时的工单。", "No open ticket has a running clock."},
		"sla_as_of":              {"更新于", "As of"},
		"sla_breached":           {"已超时", "breached"},
		"sla_running":            {"计时中", "running"},
		"sla_tier_none":          {"无", "none"},
		"sla_tier_yellow":        {"黄", "yellow"},
		"sla_tier_red":           {"红", "red"},
		"sla_tier_black":         {"黑", "black"},
		"sla_yes":                {"是", "yes"},
		"sla_target_response":    {"响应", "response"},
		"sla_target_resolution":  {"解决", "resolution"},
		"sla_target_next_update": {"进展更新", "next update"},
	})
}

// boardAPI is the endpoint the board reads: who may read it may open the page.
const boardAPI = "GET /api/v1/sla/board"

// boardLimit is how many tickets the board shows: the nearest to breach. (Each row is a
// ticket read and its clocks computed: 100 keep the page well inside 50 ms.)
const boardLimit = 100

// boardData is what templates/board.html gets.
type boardData struct {
	V      *viewer
	Rows   []boardRow
	Team   string
	Policy string
	// Teams and Policies are the filters' suggestions: those of the rows shown, and the one
	// chosen.
	Teams, Policies []string
	At              time.Time
	// Part is the address of the board's live part, with its filters.
	Part string
}

// boardRow is one ticket on the board.
type boardRow struct {
	engine.BoardEntry
	// Class is the row's colour: tier-none, tier-yellow, tier-red or tier-black.
	Class string
	// Left is the time to breach as console.js counts it down (-h:mm:ss when past it), for
	// the first paint and for a browser without script; DueISO the due time in RFC 3339.
	Left, DueISO string
	// The row's words, looked up once here rather than by the template per cell.
	StateText, TargetText, TierText string
	Overdue                         bool
}

// countdown writes d as console.js's countdowns do: [-][h:]mm:ss.
func countdown(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	s := int64(d.Round(time.Second) / time.Second)
	if h := s / 3600; h > 0 {
		return fmt.Sprintf("%s%d:%02d:%02d", sign, h, s%3600/60, s%60)
	}
	return fmt.Sprintf("%s%02d:%02d", sign, s/60, s%60)
}

// tierClass is the colour class of a tier: the three colours by their names; a tier named
// otherwise (the names are the config's) is shown red, since it fired past a breach.
func tierClass(tier string) string {
	switch strings.ToLower(tier) {
	case "":
		return "tier-none"
	case "yellow", "red", "black":
		return "tier-" + strings.ToLower(tier)
	}
	return "tier-red"
}

func (h *Handler) boardPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	d := boardData{V: v, Team: strings.TrimSpace(q.Get("team")), Policy: strings.TrimSpace(q.Get("policy"))}
	d.Part = query("/console/sla", "part", "rows", "team", d.Team, "policy", d.Policy)
	var out struct {
		Tickets []engine.BoardEntry `json:"tickets"`
		At      time.Time           `json:"at"`
	}
	target := query("/api/v1/sla/board", "team", d.Team, "policy", d.Policy, "limit", strconv.Itoa(boardLimit))
	if err := h.get(r, v, target, &out); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	d.At = out.At
	for _, e := range out.Tickets {
		row := boardRow{BoardEntry: e, Class: tierClass(e.Tier), StateText: v.T("state_" + e.State),
			TargetText: v.T("sla_target_" + e.Target), TierText: e.Tier, Overdue: e.Status == sla.StatusBreached}
		switch strings.ToLower(e.Tier) {
		case "":
			row.TierText = v.T("sla_tier_none")
		case "yellow", "red", "black":
			row.TierText = v.T("sla_tier_" + strings.ToLower(e.Tier))
		}
		if e.Due != nil {
			row.Left, row.DueISO = countdown(e.Due.Sub(out.At)), e.Due.UTC().Format(time.RFC3339)
		}
		d.Rows = append(d.Rows, row)
		d.Teams = appendNew(d.Teams, e.Team)
		d.Policies = appendNew(d.Policies, e.Policy)
	}
	d.Teams, d.Policies = appendNew(d.Teams, d.Team), appendNew(d.Policies, d.Policy)
	slices.Sort(d.Teams)
	slices.Sort(d.Policies)
	if q.Get("part") == "rows" {
		h.fragment(w, v, "board", "board_rows", d)
		return
	}
	h.render(w, r, v, http.StatusOK, "board", Page{Title: v.T("sla_title"), Data: d, Live: true})
}

// appendNew appends s to ss unless it is empty or in it already.
func appendNew(ss []string, s string) []string {
	if s == "" || slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}
