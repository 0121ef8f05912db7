package console

// The queue (/console/queue): the tickets everyone but engineers lands on, filtered, newest or
// nearest to breach first, a page at a time, kept live. It reads GET /api/v1/tickets, one
// call a page: the filters, the order, the cursor and each ticket's SLA due time are all the
// API's (the due times come with the page, as sla_due), so a row needs no call of its own.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// Limits of saved views: a name a person can read in a row of links, and few enough of them.
const (
	maxViewName  = 40
	maxViews     = 30
	queuePageLen = 50
)

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/queue", "GET /api/v1/tickets", h.queue)
		h.page("POST /console/views", "GET /api/v1/tickets", h.saveView)
		h.page("POST /console/views/delete", "GET /api/v1/tickets", h.deleteView)
		h.addNav("nav_queue", "/console/queue", "GET /api/v1/tickets")
		h.hub.rows = h.liveRow
	})
	addWords(webkit.Words{
		"filters_on":        {"已筛选", "on"},
		"q_refresh":         {"刷新", "Refresh"},
		"nav_queue":         {"工单队列", "Queue"},
		"queue":             {"工单队列", "Queue"},
		"filters":           {"筛选", "Filters"},
		"f_state":           {"状态", "State"},
		"f_team":            {"班组", "Team"},
		"f_assignee":        {"处理人", "Assignee"},
		"f_urgency":         {"紧急程度", "Urgency"},
		"f_sla":             {"SLA", "SLA"},
		"f_connector":       {"来源渠道", "Connector"},
		"f_tags":            {"标签（逗号分隔，须全部符合）", "Tags (comma-separated, all must match)"},
		"f_q":               {"搜索", "Search"},
		"f_sort":            {"排序", "Order"},
		"any":               {"全部", "Any"},
		"sla_at_risk":       {"1 小时内到期", "Due within 1h"},
		"sla_on_time":       {"未到期", "On time"},
		"sla_none":          {"无 SLA", "No SLA"},
		"sort_newest":       {"最新在前", "Newest first"},
		"sort_due":          {"最临近超时在前", "Nearest to breach first"},
		"sort_due_note":     {"按临近超时排序时只列出 SLA 计时中的工单。", "Nearest to breach lists only tickets with a running SLA clock."},
		"apply":             {"筛选", "Apply"},
		"clear":             {"清除", "Clear"},
		"urgency_blue":      {"蓝", "blue"},
		"urgency_yellow":    {"黄", "yellow"},
		"urgency_orange":    {"橙", "orange"},
		"urgency_red":       {"红", "red"},
		"col_id":            {"工单号", "Ticket"},
		"col_title":         {"标题", "Title"},
		"col_urgency":       {"紧急", "Urgency"},
		"col_state":         {"状态", "State"},
		"col_customer":      {"客户", "Customer"},
		"col_address":       {"地址", "Address"},
		"col_team":          {"班组", "Team"},
		"col_assignee":      {"处理人", "Assignee"},
		"col_connector":     {"渠道", "Connector"},
		"col_created":       {"创建", "Created"},
		"col_due":           {"SLA 剩余", "SLA left"},
		"no_tickets":        {"没有符合条件的工单。", "No tickets match."},
		"older":             {"更早", "Older"},
		"newest_page":       {"回到最新", "Back to newest"},
		"new_tickets":       {"{n} 条新工单，点击刷新", "{n} new tickets, click to refresh"},
		"keys_hint":         {"快捷键：j / k 上下移动，Enter 打开。", "Keys: j / k move, Enter opens."},
		"views":             {"已保存的视图", "Saved views"},
		"no_views":          {"还没有保存的视图。", "No saved views yet."},
		"view_name":         {"视图名称", "View name"},
		"save_view":         {"保存当前筛选", "Save these filters"},
		"delete_view":       {"删除", "Delete"},
		"delete_view_named": {"删除视图 %s", "Delete view %s"},
		"view_saved":        {"视图已保存。", "View saved."},
		"view_deleted":      {"视图已删除。", "View deleted."},
		"view_name_empty":   {"请填写视图名称。", "Give the view a name."},
		"view_name_long":    {"视图名称最多 40 个字符。", "A view's name has at most 40 characters."},
		"view_too_many":     {"每人最多保存 30 个视图，请先删除不用的。", "At most 30 saved views each: delete one first."},
		"ago_now":           {"刚刚", "just now"},
		"ago_min":           {"%d 分钟前", "%d min ago"},
		"ago_hour":          {"%d 小时前", "%d h ago"},
		"ago_day":           {"%d 天前", "%d d ago"},
	})
}

// queueFilter is what the queue shows: the form's fields, as in the page's URL.
type queueFilter struct {
	States    []string
	Team      string
	Assignee  string
	Urgency   string
	SLA       string
	Connector string
	Tags      []string
	Q         string
	Sort      string
}

func parseQueueFilter(qv url.Values) queueFilter {
	f := queueFilter{
		Team: strings.TrimSpace(qv.Get("team")), Assignee: strings.TrimSpace(qv.Get("assignee")),
		Urgency: qv.Get("urgency"), SLA: qv.Get("sla"), Connector: strings.TrimSpace(qv.Get("connector")),
		Q: strings.TrimSpace(qv.Get("q")), Sort: qv.Get("sort"),
	}
	for _, v := range qv["state"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(f.States, s) {
				f.States = append(f.States, s)
			}
		}
	}
	// Tags are typed into one field, separated by commas (either width); a link may repeat tag.
	for _, v := range qv["tag"] {
		for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' }) {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(f.Tags, s) {
				f.Tags = append(f.Tags, s)
			}
		}
	}
	if f.Sort == store.SortNewest {
		f.Sort = ""
	}
	return f
}

// values is the filter as a URL query: the page's links, and what a saved view keeps.
// Filtering reports whether the filter narrows the queue at all (its order aside).
func (f queueFilter) Filtering() bool {
	q := f.values()
	q.Del("sort")
	return len(q) > 0
}

func (f queueFilter) values() url.Values {
	q := url.Values{}
	for _, s := range f.States {
		q.Add("state", s)
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("team", f.Team)
	set("assignee", f.Assignee)
	set("urgency", f.Urgency)
	set("sla", f.SLA)
	set("connector", f.Connector)
	if len(f.Tags) > 0 {
		q.Set("tag", strings.Join(f.Tags, ","))
	}
	set("q", f.Q)
	set("sort", f.Sort)
	return q
}

// api is the API call of the filter's page at cursor.
func (f queueFilter) api(cursor string) string {
	q := url.Values{}
	if len(f.States) > 0 {
		q.Set("state", strings.Join(f.States, ","))
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("team", f.Team)
	set("assignee", f.Assignee)
	set("urgency", f.Urgency)
	set("sla", f.SLA)
	set("connector", f.Connector)
	q["tag"] = f.Tags
	set("q", f.Q)
	set("sort", f.Sort)
	set("cursor", cursor)
	q.Set("limit", fmt.Sprint(queuePageLen))
	return "/api/v1/tickets?" + q.Encode()
}

// link is the queue's address with the filter (and cursor).
func (f queueFilter) link(cursor string) string {
	q := f.values()
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) == 0 {
		return "/console/queue"
	}
	return "/console/queue?" + q.Encode()
}

// liveFilter is what queue.js checks a new ticket's row against; Guess is false when it
// cannot (a text search, or the nearest-due order: where a new ticket goes is the server's).
type liveFilter struct {
	States    []string `json:"state,omitempty"`
	Team      string   `json:"team,omitempty"`
	Assignee  string   `json:"assignee,omitempty"`
	Urgency   string   `json:"urgency,omitempty"`
	SLA       string   `json:"sla,omitempty"`
	Connector string   `json:"connector,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Guess     bool     `json:"guess"`
}

func (f queueFilter) live() string {
	b, _ := json.Marshal(liveFilter{States: f.States, Team: f.Team, Assignee: f.Assignee, Urgency: f.Urgency,
		SLA: f.SLA, Connector: f.Connector, Tags: f.Tags, Guess: f.Q == "" && f.Sort == ""})
	return string(b)
}

// queueRow is one row of the queue. Its texts are made here rather than by template
// functions: a page has 50 rows, and each function call in a template is a reflective one.
type queueRow struct {
	T         ticket.Ticket
	Connector string
	Tags      string // JSON, for queue.js
	State     string // in the viewer's language, as Urgency
	Urgency   string
	Created   string // RFC 3339, then in server.timezone, then how long ago
	CreatedAt string
	Ago       string
	Due       string // RFC 3339; empty: no running SLA clock
	DueAt     string
	Tier      string // the colour of the last tier fired: none, yellow, red, black
}

func (h *Handler) rowOf(t ticket.Ticket, l webkit.Lang, due time.Time, view engine.SLAView) queueRow {
	r := queueRow{T: t, Ago: ago(l, h.opts.Now().Sub(t.CreatedAt)), Tier: "none",
		State: words.T(l, "state_"+string(t.State)), Urgency: words.T(l, "urgency_"+string(t.Urgency)),
		Created: t.CreatedAt.UTC().Format(time.RFC3339), CreatedAt: t.CreatedAt.In(h.opts.Location).Format("2006-01-02 15:04")}
	if !due.IsZero() {
		r.Due, r.DueAt = due.UTC().Format(time.RFC3339), due.In(h.opts.Location).Format("2006-01-02 15:04")
	}
	if len(t.Sources) > 0 {
		r.Connector = t.Sources[0].Source.Connector
	}
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(tags)
	r.Tags = string(b)
	if view.Tier != "" {
		r.Tier = view.Tier
	}
	return r
}

// liveRow renders a changed ticket's row for the live stream, in l. Its due time is the
// nearest of its running clocks, as the SLA board keeps it.
func (h *Handler) liveRow(t ticket.Ticket, l webkit.Lang) string {
	view := h.opts.Engine.SLAOf(t)
	var due time.Time
	for _, c := range view.Clocks {
		if c.Due != nil && c.StoppedAt == nil && (due.IsZero() || c.Due.Before(due)) {
			due = *c.Due
		}
	}
	var buf bytes.Buffer
	if err := h.pages["queue"].ExecuteTemplate(&buf, "queue_row", h.rowOf(t, l, due, view)); err != nil {
		h.opts.Logger.Error("console: rendering a live queue row", "ticket", t.ID, "err", err)
		return ""
	}
	return buf.String()
}

// ago says how long ago, roughly.
func ago(l webkit.Lang, d time.Duration) string {
	switch {
	case d < time.Minute:
		return words.T(l, "ago_now")
	case d < time.Hour:
		return fmt.Sprintf(words.T(l, "ago_min"), int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf(words.T(l, "ago_hour"), int(d/time.Hour))
	}
	return fmt.Sprintf(words.T(l, "ago_day"), int(d/(24*time.Hour)))
}

// queueData is the queue page's data.
type queueData struct {
	L        webkit.Lang
	F        queueFilter
	Here     string // the filter's link, first page: what "save" keeps
	Query    string // the filter as a query, for a saved view
	Live     string // liveFilter as JSON
	First    bool   // the first page (no cursor)
	Rows     []queueRow
	Next     string // the next page's link; empty on the last
	Views    []store.View
	Teams    []string
	Assignee []string
	States   []ticket.State
	ViewName string // the name typed, kept after a refused save
	CSRF     string
	// The choices of the selects, and the tags as typed.
	Urgencies, SLAs []string
	TagsText        string
}

func (d queueData) Has(list []string, v string) bool { return slices.Contains(list, v) }

// queue is GET /console/queue: the whole page, or (to htmx, aiming at #results) the results.
func (h *Handler) queue(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.showQueue(w, r, v, parseQueueFilter(r.URL.Query()), r.URL.Query().Get("cursor"), http.StatusOK, "", false, "")
}

func (h *Handler) showQueue(w http.ResponseWriter, r *http.Request, v *viewer, f queueFilter, cursor string, status int, flash string, bad bool, viewName string) {
	d := queueData{L: v.Lang, F: f, Here: f.link(""), Query: f.values().Encode(), Live: f.live(), First: cursor == "",
		States: ticket.States, ViewName: viewName, CSRF: v.CSRF, TagsText: strings.Join(f.Tags, ", "),
		Urgencies: []string{"red", "orange", "yellow", "blue"},
		SLAs:      []string{store.SLABreached, store.SLAAtRisk, store.SLAOnTime, store.SLANone}}
	var page store.Page
	if err := h.get(r, v, f.api(cursor), &page); err != nil {
		var e *APIError
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			h.apiFailed(w, r, v, err)
			return
		}
		// A filter the API refuses (a search too long, a stale cursor): the page, saying why.
		status, flash, bad = http.StatusBadRequest, e.Detail, true
	}
	d.Rows = make([]queueRow, 0, len(page.Tickets))
	for _, t := range page.Tickets {
		d.Rows = append(d.Rows, h.rowOf(t, v.Lang, page.Due[t.ID], h.opts.Engine.SLAOf(t)))
	}
	if page.NextCursor != "" {
		d.Next = f.link(page.NextCursor)
	}
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "results" {
		h.fragment(w, v, "queue", "results", d)
		return
	}
	views, err := h.opts.Store.Views(r.Context(), v.Actor.ID)
	if err != nil {
		h.opts.Logger.Error("console: reading saved views", "actor", v.Actor.ID, "err", err)
	}
	d.Views = views
	// The teams and engineers the routing knows, to pick from (any text may be typed).
	var engs struct {
		Engineers []engine.EngineerView `json:"engineers"`
	}
	if h.opts.API.Admits("GET /api/v1/engineers", v.Actor.Role) && h.get(r, v, "/api/v1/engineers", &engs) == nil {
		for _, e := range engs.Engineers {
			d.Assignee = append(d.Assignee, e.ID)
			for _, t := range e.Teams {
				if !slices.Contains(d.Teams, t) {
					d.Teams = append(d.Teams, t)
				}
			}
		}
		slices.Sort(d.Teams)
	}
	// Live when the viewer may read the stream (all staff may, today).
	live := h.opts.API.Admits("GET /api/v1/stream", v.Actor.Role)
	h.render(w, r, v, status, "queue", Page{Title: v.T("queue"), Data: d, Live: live, Flash: flash, FlashBad: bad})
}

// saveView is POST /console/views: the filters of field query kept under field name, for
// this user; the browser goes on to the view.
func (h *Handler) saveView(w http.ResponseWriter, r *http.Request, v *viewer) {
	qv, _ := url.ParseQuery(r.PostFormValue("query"))
	f := parseQueueFilter(qv)
	name := strings.TrimSpace(r.PostFormValue("name"))
	refuse := func(key string) {
		h.showQueue(w, r, v, f, "", http.StatusBadRequest, v.T(key), true, name)
	}
	switch {
	case name == "":
		refuse("view_name_empty")
		return
	case utf8.RuneCountInString(name) > maxViewName:
		refuse("view_name_long")
		return
	}
	views, err := h.opts.Store.Views(r.Context(), v.Actor.ID)
	if err != nil {
		h.opts.Logger.Error("console: reading saved views", "actor", v.Actor.ID, "err", err)
		h.problem(w, r, v, http.StatusInternalServerError, "internal")
		return
	}
	replaces := slices.ContainsFunc(views, func(x store.View) bool { return x.Name == name })
	if !replaces && len(views) >= maxViews {
		refuse("view_too_many")
		return
	}
	if err := h.opts.Store.PutView(r.Context(), store.View{Owner: v.Actor.ID, Name: name, Query: f.values().Encode()}); err != nil {
		h.opts.Logger.Error("console: saving a view", "actor", v.Actor.ID, "err", err)
		h.problem(w, r, v, http.StatusInternalServerError, "internal")
		return
	}
	http.Redirect(w, r, f.link(""), http.StatusSeeOther)
}

// deleteView is POST /console/views/delete: this user's view named name is removed.
func (h *Handler) deleteView(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := h.opts.Store.DeleteView(r.Context(), v.Actor.ID, r.PostFormValue("name")); err != nil {
		h.opts.Logger.Error("console: deleting a view", "actor", v.Actor.ID, "err", err)
		h.problem(w, r, v, http.StatusInternalServerError, "internal")
		return
	}
	http.Redirect(w, r, "/console/queue", http.StatusSeeOther)
}

// ViewLink is a saved view's address. Its query is parsed again, so nothing but the queue's
// filters rides along.
func (d queueData) ViewLink(vw store.View) string {
	qv, _ := url.ParseQuery(vw.Query)
	return parseQueueFilter(qv).link("")
}
