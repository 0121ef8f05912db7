package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// Dispatch (issue 22, page 4): the engineers — status, skills, load, cards — and where they
// are on a plain map beside the tickets no one has; a ticket chosen shows the router's
// ranked candidates for it (a dry run), and assigning from them by hand goes through the
// API, which records the decision as manual.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/dispatch", dispatchAPI, h.dispatchPage)
		h.page("GET /console/dispatch/cards/{id}", cardsAPI, h.dispatchCards)
		// Not gated here: the API refuses a role that may not assign, as it would a token.
		h.page("POST /console/dispatch/assign", "", h.dispatchAssign)
		h.addNav("nav_dispatch", "/console/dispatch", dispatchAPI)
	})
	addWords(webkit.Words{
		"dp_by_candidates":     {"按推荐人选派单", "Assign from the ranked candidates"},
		"nav_dispatch":         {"调度", "Dispatch"},
		"dp_title":             {"调度", "Dispatch"},
		"dp_engineers":         {"工程师", "Engineers"},
		"dp_engineer":          {"工程师", "Engineer"},
		"dp_status":            {"状态", "Status"},
		"dp_skills":            {"技能", "Skills"},
		"dp_teams":             {"团队", "Teams"},
		"dp_open":              {"在办/上限", "Open/max"},
		"dp_today":             {"今日/上限", "Today/max"},
		"dp_card":              {"黄红牌", "Cards"},
		"dp_yellow":            {"黄牌", "yellow"},
		"dp_red":               {"红牌停派至", "red card, suspended until"},
		"dp_cards_show":        {"查看记录", "Show the record"},
		"dp_cards_none":        {"没有黄红牌记录。", "No cards."},
		"dp_card_active":       {"有效", "active"},
		"dp_map":               {"位置地图", "Map"},
		"dp_map_desc":          {"工程师（圆点）与待分派工单（方块）的位置，经纬度等距投影。", "Engineers (dots) and unassigned tickets (squares) by latitude and longitude, equirectangular."},
		"dp_map_none":          {"没有可显示的位置。", "No positions to show."},
		"dp_unassigned":        {"待分派工单", "Unassigned tickets"},
		"dp_none_waiting":      {"没有待分派的工单。", "No ticket is waiting."},
		"dp_choose":            {"查看候选", "Candidates"},
		"dp_candidates":        {"候选工程师", "Candidates"},
		"dp_candidates_for":    {"路由预演（不会改变工单）：", "The router's dry run (changes nothing) for "},
		"dp_rank":              {"排名", "Rank"},
		"dp_score":             {"得分", "Score"},
		"dp_distance":          {"距离", "Distance"},
		"dp_load":              {"负载（在办 · 今日）", "Load (open · today)"},
		"dp_why":               {"未入选原因", "Filtered out"},
		"dp_router_pick":       {"路由选择", "router's pick"},
		"dp_assign":            {"分派给", "Assign to"},
		"dp_assigned":          {"已分派（人工）：", "Assigned by hand: "},
		"dp_may_not_assign":    {"您的角色不能分派工单。", "Your role may not assign tickets."},
		"dp_failure":           {"路由无人可派", "No one can take it"},
		"dp_rule":              {"规则", "Rule"},
		"dp_no_rule":           {"没有匹配的规则", "no rule matched"},
		"dp_unranked":          {"没有匹配的路由规则，路由未排序；以下为全部工程师。", "No routing rule matched, so the router ranked no one: here is every engineer."},
		"status_on_duty":       {"在岗", "on duty"},
		"status_off":           {"下班", "off"},
		"status_leave":         {"请假", "on leave"},
		"status_suspended":     {"停派", "suspended"},
		"filter_not_excluded":  {"已拒单或超时", "declined or let the offer time out"},
		"filter_on_duty":       {"不在岗", "not on duty"},
		"filter_not_suspended": {"停派中", "suspended"},
		"filter_skills":        {"技能不符", "lacks a skill"},
		"filter_radius":        {"超出服务半径", "outside the service radius"},
		"filter_max_open":      {"在办已满", "at max open"},
		"filter_max_daily":     {"今日已满", "at max for today"},
	})
}

// The endpoints the pages read: who may read them may open the page or the part.
const (
	dispatchAPI   = "GET /api/v1/engineers"
	cardsAPI      = "GET /api/v1/engineers/{id}/cards"
	candidatesAPI = "GET /api/v1/tickets/{id}/candidates"
)

// waitingLimit is how many unassigned tickets the page lists (the newest).
const waitingLimit = 100

type dispatchData struct {
	V         *viewer
	Engineers []engineerRow
	Waiting   []ticket.Ticket
	Map       mapView
	// Chosen is the ticket whose candidates are shown; nil when none is. ChosenID is its
	// id as asked (the live part marks it in the list).
	Chosen   *candidatesView
	ChosenID string
	// Part is the address of the page's live part: the map, engineers and waiting tickets,
	// refreshed as tickets change (the candidates are not: they are what the dispatcher
	// is deciding on).
	Part string
	// MayAssign: the viewer's role may assign (the candidates endpoint admits it).
	MayAssign bool
}

type engineerRow struct {
	engine.EngineerView
	// Cards: the viewer may read this engineer's card record.
	Cards bool
	// Load and Day are open/max_open and today/max_daily (∞ for no cap).
	Load, Day string
}

// Label is the engineer's name, or the id.
func (e engineerRow) Label() string {
	if e.Name != "" {
		return e.Name
	}
	return e.ID
}

func (h *Handler) dispatchPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	d := dispatchData{V: v, MayAssign: h.opts.API.Admits(candidatesAPI, v.Actor.Role)}
	var es struct {
		Engineers []engine.EngineerView `json:"engineers"`
	}
	if err := h.get(r, v, "/api/v1/engineers", &es); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	for _, e := range es.Engineers {
		// An engineer may read their own cards only; the desk and qa anyone's.
		cards := h.opts.API.Admits(cardsAPI, v.Actor.Role) && (v.Actor.Role != ticket.RoleEngineer || v.Actor.ID == e.ID)
		d.Engineers = append(d.Engineers, engineerRow{EngineerView: e, Cards: cards,
			Load: strconv.Itoa(e.Open) + "/" + capOf(e.MaxOpen), Day: strconv.Itoa(e.Today) + "/" + capOf(e.MaxDaily)})
	}
	var waiting struct {
		Tickets []ticket.Ticket `json:"tickets"`
	}
	if err := h.get(r, v, query("/api/v1/tickets", "state", string(ticket.StateNew), "limit", strconv.Itoa(waitingLimit)), &waiting); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	d.Waiting = waiting.Tickets
	d.Map = plot(d.Engineers, d.Waiting)

	q := r.URL.Query()
	d.ChosenID = strings.TrimSpace(q.Get("ticket"))
	d.Part = query("/console/dispatch", "part", "live", "ticket", d.ChosenID)
	if q.Get("part") == "live" {
		h.fragment(w, v, "dispatch", "dispatch_live", &d)
		return
	}
	p := Page{Title: v.T("dp_title"), Data: &d, Live: true}
	if id := d.ChosenID; id != "" && d.MayAssign {
		c, err := h.candidates(r, v, id, d.Engineers)
		if err != nil {
			h.apiFailed(w, r, v, err)
			return
		}
		d.Chosen = c
	}
	if to := q.Get("assigned"); to != "" {
		p.Flash = v.T("dp_assigned") + q.Get("ticket") + " → " + to
	}
	h.render(w, r, v, http.StatusOK, "dispatch", p)
}

// candidatesView is the router's dry run for a ticket, ranked for a person.
type candidatesView struct {
	Ticket  ticket.Ticket
	Version int64
	Rule    string
	// Engineer is the router's pick; Failure why there is none.
	Engineer string
	Failure  string
	Ranked   []candidateRow
	// Unranked: the router tried no one (no rule matched); Ranked are every engineer.
	Unranked bool
	// Assign: the viewer may assign this ticket now (its state and their role).
	Assign bool
}

type candidateRow struct {
	Rank       int // 0 for one filtered out
	Engineer   string
	Name       string
	Team       string
	Kept       bool
	Winner     bool
	Score      *float64
	DistanceKM *float64
	Open       int
	Today      int
	// ScoreText, Distance and Load (open/max_open · today/max_daily) as shown.
	ScoreText, Distance, Load string
	// Why are the filters that kept them out (their words' keys), and the exclusion or
	// suspension said.
	Why  []string
	Note string
}

// filterOrder is the order routing reports its filters in (routing.Filter).
var filterOrder = []string{"not_excluded", "on_duty", "not_suspended", "skills", "radius", "max_open", "max_daily"}

// candidates reads the ticket and the router's dry run for it from the API and ranks the
// candidates: those kept by score, best first, then those filtered out with why.
func (h *Handler) candidates(r *http.Request, v *viewer, id string, engineers []engineerRow) (*candidatesView, error) {
	names, caps := map[string]string{}, map[string][2]int{}
	for _, e := range engineers {
		names[e.ID], caps[e.ID] = e.Name, [2]int{e.MaxOpen, e.MaxDaily}
	}
	var t ticket.Ticket
	if err := h.get(r, v, "/api/v1/tickets/"+url.PathEscape(id), &t); err != nil {
		return nil, err
	}
	var dry struct {
		Version  int64     `json:"version"`
		Decision traceJSON `json:"decision"`
	}
	if err := h.get(r, v, "/api/v1/tickets/"+url.PathEscape(id)+"/candidates", &dry); err != nil {
		return nil, err
	}
	c := &candidatesView{Ticket: t, Version: dry.Version, Rule: dry.Decision.Rule, Engineer: dry.Decision.Engineer}
	if f := dry.Decision.Failure; f != nil {
		c.Failure = f.Reason + ": " + f.Detail
	}
	var kept, out []candidateRow
	seen := map[string]bool{}
	for _, tm := range dry.Decision.Teams {
		for _, x := range tm.Candidates {
			if seen[x.Engineer] {
				continue // in an overflow team too: the first team's verdict stands
			}
			seen[x.Engineer] = true
			row := candidateRow{Engineer: x.Engineer, Name: names[x.Engineer], Team: tm.Team, Kept: x.Kept, Winner: x.Winner,
				Score: x.Score, DistanceKM: x.DistanceKM, Open: x.Open, Today: x.Today}
			for _, f := range filterOrder {
				if passed, ok := x.Filters[f]; ok && !passed {
					row.Why = append(row.Why, "filter_"+f)
				}
			}
			row.Note = strings.TrimSpace(x.Excluded + " " + x.Suspended)
			row.ScoreText, row.Distance = "—", "—"
			row.Load = loadText(x.Open, x.Today, caps[x.Engineer])
			if x.Score != nil {
				row.ScoreText = strconv.FormatFloat(*x.Score, 'f', 2, 64)
			}
			if x.DistanceKM != nil {
				row.Distance = strconv.FormatFloat(*x.DistanceKM, 'f', 1, 64) + " km"
			}
			if x.Kept {
				kept = append(kept, row)
			} else {
				out = append(out, row)
			}
		}
	}
	slices.SortStableFunc(kept, func(a, b candidateRow) int {
		if a.Winner != b.Winner {
			if a.Winner {
				return -1
			}
			return 1
		}
		return cmpScore(b.Score, a.Score)
	})
	for i := range kept {
		kept[i].Rank = i + 1
	}
	c.Ranked = append(kept, out...)
	if len(c.Ranked) == 0 {
		// No rule matched, so the router tried no one and ranks no one: the dispatcher
		// chooses among every engineer, unranked, with their status and load.
		c.Unranked = true
		for _, e := range engineers {
			team := ""
			if len(e.Teams) > 0 {
				team = e.Teams[0]
			}
			row := candidateRow{Engineer: e.ID, Name: e.Name, Team: team, Open: e.Open, Today: e.Today, ScoreText: "—", Distance: "—",
				Load: loadText(e.Open, e.Today, [2]int{e.MaxOpen, e.MaxDaily})}
			if e.EffectiveStatus != routing.StatusOnDuty {
				row.Why = append(row.Why, "filter_on_duty")
			}
			if e.Suspended {
				row.Why = append(row.Why, "filter_not_suspended")
			}
			c.Ranked = append(c.Ranked, row)
		}
	}
	// A button only when the API would take it: Decide without data answers a DataError
	// when the role and state allow an assignment.
	_, err := ticket.Decide(t, ticket.Command{TicketID: t.ID, Action: ticket.ActionAssign, Actor: v.Actor}, h.opts.Now())
	var de *ticket.DataError
	c.Assign = err == nil || errors.As(err, &de)
	return c, nil
}

// loadText is a load as shown: open/max_open · today/max_daily.
func loadText(open, today int, caps [2]int) string {
	return strconv.Itoa(open) + "/" + capOf(caps[0]) + " · " + strconv.Itoa(today) + "/" + capOf(caps[1])
}

func cmpScore(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	case *a < *b:
		return -1
	case *a > *b:
		return 1
	}
	return 0
}

// dispatchAssign assigns a ticket by hand to the candidate chosen, through the API (which
// records the decision as manual), on the version the candidates were computed for.
func (h *Handler) dispatchAssign(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, assignee, team := r.PostFormValue("ticket"), r.PostFormValue("assignee"), r.PostFormValue("team")
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	body := map[string]any{"data": map[string]string{"assignee": assignee, "team": team}, "expected_version": version}
	if err := h.call(r.Context(), r, v.Actor, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/actions/assign", body, nil); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	http.Redirect(w, r, query("/console/dispatch", "ticket", id, "assigned", assignee), http.StatusSeeOther)
}

// dispatchCards is an engineer's card record, shown when its details are opened.
func (h *Handler) dispatchCards(w http.ResponseWriter, r *http.Request, v *viewer) {
	var cv engine.CardsView
	if err := h.get(r, v, "/api/v1/engineers/"+url.PathEscape(r.PathValue("id"))+"/cards", &cv); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	h.fragment(w, v, "dispatch", "dispatch_cards", struct {
		V     *viewer
		Cards engine.CardsView
	}{v, cv})
}

// --- the map ---

// mapView is an SVG map of the engineers and the waiting tickets: an equirectangular
// projection of their bounding box (a tile server is not needed to see who is near what).
type mapView struct {
	W, H    float64
	Lines   []gridLine
	Marks   []mapMark
	Unknown int // engineers without a position
}

type gridLine struct {
	X1, Y1, X2, Y2 float64
	Label          string
	LX, LY         float64
}

type mapMark struct {
	X, Y float64
	// RX, RY are the top left of a ticket's square.
	RX, RY float64
	// Engineer or Ticket is set.
	Engineer, Ticket string
	Label, Tip       string
	Class            string
}

const mapW, mapH, mapPad = 640.0, 420.0, 36.0

// plot places the engineers (at their effective location) and the tickets (at theirs) on
// the map; anything without a position is left off.
func plot(engineers []engineerRow, tickets []ticket.Ticket) mapView {
	type pt struct{ lat, lon float64 }
	var pts []pt
	for _, e := range engineers {
		if e.EffectiveLocation.Known() {
			pts = append(pts, pt{e.EffectiveLocation.Lat, e.EffectiveLocation.Lon})
		}
	}
	for _, t := range tickets {
		if (routing.Point{Lat: t.Location.Lat, Lon: t.Location.Lon}).Known() {
			pts = append(pts, pt{t.Location.Lat, t.Location.Lon})
		}
	}
	m := mapView{W: mapW, H: mapH}
	if len(pts) == 0 {
		return m
	}
	minLat, maxLat, minLon, maxLon := pts[0].lat, pts[0].lat, pts[0].lon, pts[0].lon
	for _, p := range pts[1:] {
		minLat, maxLat = math.Min(minLat, p.lat), math.Max(maxLat, p.lat)
		minLon, maxLon = math.Min(minLon, p.lon), math.Max(maxLon, p.lon)
	}
	// A little room around the marks, and at least ~1 km across when they are one point.
	padLat, padLon := math.Max((maxLat-minLat)*0.1, 0.01), math.Max((maxLon-minLon)*0.1, 0.01)
	minLat, maxLat, minLon, maxLon = minLat-padLat, maxLat+padLat, minLon-padLon, maxLon+padLon
	midLat, midLon := (minLat+maxLat)/2, (minLon+maxLon)/2
	k := math.Cos(midLat * math.Pi / 180) // a degree of longitude is shorter away from the equator
	scale := math.Min((mapW-2*mapPad)/((maxLon-minLon)*k), (mapH-2*mapPad)/(maxLat-minLat))
	x := func(lon float64) float64 { return round1(mapW/2 + (lon-midLon)*k*scale) }
	y := func(lat float64) float64 { return round1(mapH/2 - (lat-midLat)*scale) }

	step := gridStep(math.Max(maxLat-minLat, maxLon-minLon))
	for lat := math.Ceil(minLat/step) * step; lat <= maxLat; lat += step {
		yy := y(lat)
		if yy < 0 || yy > mapH {
			continue
		}
		m.Lines = append(m.Lines, gridLine{X1: 0, Y1: yy, X2: mapW, Y2: yy, Label: degrees(lat, step, "N", "S"), LX: 4, LY: yy - 3})
	}
	for lon := math.Ceil(minLon/step) * step; lon <= maxLon; lon += step {
		xx := x(lon)
		if xx < 0 || xx > mapW {
			continue
		}
		m.Lines = append(m.Lines, gridLine{X1: xx, Y1: 0, X2: xx, Y2: mapH, Label: degrees(lon, step, "E", "W"), LX: xx + 3, LY: mapH - 4})
	}
	for _, t := range tickets {
		if !(routing.Point{Lat: t.Location.Lat, Lon: t.Location.Lon}).Known() {
			continue
		}
		mk := mapMark{X: x(t.Location.Lon), Y: y(t.Location.Lat), Ticket: t.ID, Label: t.ID,
			Tip: t.ID + " · " + t.Title + " · " + t.Location.Address, Class: "map-ticket map-urg-" + string(t.Urgency)}
		mk.RX, mk.RY = mk.X-5, mk.Y-5
		m.Marks = append(m.Marks, mk)
	}
	for _, e := range engineers {
		if !e.EffectiveLocation.Known() {
			m.Unknown++
			continue
		}
		tip := fmt.Sprintf("%s (%s) · %s · %d/%s", e.Label(), e.ID, e.EffectiveStatus, e.Open, capOf(e.MaxOpen))
		m.Marks = append(m.Marks, mapMark{X: x(e.EffectiveLocation.Lon), Y: y(e.EffectiveLocation.Lat), Engineer: e.ID, Label: e.Label(),
			Tip: tip, Class: "map-eng status-" + string(e.EffectiveStatus)})
	}
	return m
}

// gridStep is a round step in degrees that draws three to six lines across span.
func gridStep(span float64) float64 {
	for _, s := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45} {
		if span/s <= 6 {
			return s
		}
	}
	return 90
}

// degrees writes a grid line's label: 31.30°N, to the step's precision.
func degrees(v, step float64, pos, neg string) string {
	dec := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	hemi := pos
	if v < 0 {
		v, hemi = -v, neg
	}
	return strconv.FormatFloat(v, 'f', dec, 64) + "°" + hemi
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// capOf is a cap as shown: ∞ for none (0).
func capOf(n int) string {
	if n <= 0 {
		return "∞"
	}
	return strconv.Itoa(n)
}
