package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
	"gongdan/web/webkit"
)

// Operations (DESIGN.md §11): the connectors' state, the dead letters and their replay, the
// device registry and the engineers. Each part is gated by the API route it reads, each
// action is shown only to the roles the API admits to it, and what is posted goes to the API
// as the signed-in actor, which refuses it as it would a token's call.

// The API routes behind the parts and their actions.
const (
	apiConnectors   = "GET /api/v1/connectors"
	apiDeadLetters  = "GET /api/v1/deadletters"
	apiDeadLetter   = "GET /api/v1/deadletters/{id}"
	apiReplay       = "POST /api/v1/deadletters/{id}/replay"
	apiDevices      = "GET /api/v1/devices"
	apiDevice       = "GET /api/v1/devices/{id}"
	apiPutDevice    = "PUT /api/v1/devices/{id}"
	apiCustomers    = "GET /api/v1/customers"
	apiEngineers    = "GET /api/v1/engineers"
	apiPutEngineer  = "PUT /api/v1/engineers/{id}"
	deadLetterLimit = 50
	deviceLimit     = 50
)

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/ops", apiConnectors, h.opsConnectors)
		h.page("GET /console/ops/deadletters", apiDeadLetters, h.opsDeadLetters)
		h.page("GET /console/ops/deadletters/{id}", apiDeadLetter, h.opsDeadLetter)
		// Actions are not gated here: the API refuses them, and its 403 is the page.
		h.page("POST /console/ops/deadletters/replay", "", h.opsReplay)
		h.page("POST /console/ops/deadletters/{id}/replay", "", h.opsReplay)
		h.page("GET /console/ops/devices", apiDevices, h.opsDevices)
		h.page("GET /console/ops/devices/{id}", apiDevice, h.opsDevice)
		h.page("POST /console/ops/devices/{id}", "", h.opsPutDevice)
		h.page("GET /console/ops/customers", apiCustomers, h.opsCustomers)
		h.page("GET /console/ops/engineers", apiEngineers, h.opsEngineers)
		h.page("POST /console/ops/engineers/{id}", "", h.opsPutEngineer)
		h.addNav("nav_ops", "/console/ops", apiConnectors)
	})
	addWords(webkit.Words{
		"ops_too_many":             {"一次最多重放 %d 条", "At most %d at a time"},
		"nav_ops":                  {"运维", "Operations"},
		"ops_title":                {"运维", "Operations"},
		"ops_tabs":                 {"运维分区", "Operations sections"},
		"ops_connectors":           {"接入渠道", "Connectors"},
		"ops_deadletters":          {"死信", "Dead letters"},
		"ops_devices":              {"设备台账", "Device registry"},
		"ops_engineers":            {"工程师", "Engineers"},
		"ops_no_connectors":        {"没有运行中的接入渠道。", "No connectors are running."},
		"ops_state":                {"状态", "State"},
		"ops_type":                 {"类型", "Type"},
		"ops_received":             {"接收", "Received"},
		"ops_published":            {"已发布", "Published"},
		"ops_rejected":             {"拒收", "Rejected"},
		"ops_dead_lettered":        {"死信", "Dead-lettered"},
		"ops_last_error":           {"最近错误", "Last error"},
		"ops_details":              {"详情", "Details"},
		"ops_connector":            {"渠道", "Connector"},
		"ops_handler":              {"处理环节", "Handler"},
		"ops_error":                {"错误", "Error"},
		"ops_attempts":             {"尝试次数", "Attempts"},
		"ops_replays":              {"重放次数", "Replays"},
		"ops_first_failed":         {"首次失败", "First failed"},
		"ops_last_failed":          {"最近失败", "Last failed"},
		"ops_replayed_at":          {"最近重放", "Last replayed"},
		"ops_topic":                {"主题", "Topic"},
		"ops_message_id":           {"消息 ID", "Message id"},
		"ops_metadata":             {"元数据", "Metadata"},
		"ops_payload":              {"消息内容", "Payload"},
		"ops_payload_binary":       {"（二进制内容，以十六进制显示）", "(binary, shown in hex)"},
		"ops_state_dead":           {"待处理", "dead"},
		"ops_state_replayed":       {"已重放", "replayed"},
		"ops_all":                  {"全部", "All"},
		"ops_filter":               {"筛选", "Filter"},
		"ops_next_page":            {"下一页", "Next page"},
		"ops_first_page":           {"第一页", "First page"},
		"ops_replay":               {"重放", "Replay"},
		"ops_replay_selected":      {"重放所选", "Replay selected"},
		"ops_select":               {"选择", "Select"},
		"ops_select_one":           {"请至少选择一条死信。", "Select at least one dead letter."},
		"ops_replay_results":       {"重放结果", "Replay results"},
		"ops_replayed_ok":          {"已重放", "Replayed"},
		"ops_replay_failed":        {"失败", "Failed"},
		"ops_no_deadletters":       {"没有死信。", "No dead letters."},
		"ops_search":               {"搜索", "Search"},
		"ops_search_hint":          {"编号、型号、客户、电话或地址", "Id, model, customer, phone or address"},
		"ops_no_devices":           {"没有找到设备。", "No devices found."},
		"ops_model":                {"型号", "Model"},
		"ops_firmware":             {"固件", "Firmware"},
		"ops_product_type":         {"产品类型", "Product type"},
		"ops_customer":             {"客户", "Customer"},
		"ops_customer_name":        {"客户名称", "Customer name"},
		"ops_customer_org":         {"客户单位", "Customer organisation"},
		"ops_customer_phone":       {"客户电话", "Customer phone"},
		"ops_customer_id":          {"客户编号", "Customer id"},
		"ops_address":              {"安装地址", "Install address"},
		"ops_city":                 {"城市", "City"},
		"ops_lat":                  {"纬度", "Latitude"},
		"ops_lon":                  {"经度", "Longitude"},
		"ops_source":               {"来源", "Source"},
		"ops_updated":              {"最近修改", "Last changed"},
		"ops_edit":                 {"编辑", "Edit"},
		"ops_save":                 {"保存", "Save"},
		"ops_saved":                {"已保存", "Saved"},
		"ops_device":               {"设备", "Device"},
		"ops_new_device":           {"新设备（保存后加入台账）", "New device (saving adds it to the registry)"},
		"ops_name":                 {"姓名", "Name"},
		"ops_teams":                {"班组", "Teams"},
		"ops_status":               {"状态", "Status"},
		"ops_skills":               {"技能", "Skills"},
		"ops_skills_hint":          {"用逗号或空格分隔", "Separated by commas or spaces"},
		"ops_calendar":             {"工作日历", "Calendar"},
		"ops_open":                 {"未结工单", "Open tickets"},
		"ops_today":                {"今日派单", "Assigned today"},
		"ops_ftfr":                 {"一次修复率", "First-time fix"},
		"ops_yellow_cards":         {"黄牌", "Yellow cards"},
		"ops_suspended_until":      {"停派至", "Suspended until"},
		"ops_status_on_duty":       {"在岗", "on duty"},
		"ops_status_off":           {"下班", "off"},
		"ops_status_leave":         {"请假", "on leave"},
		"ops_status_suspended":     {"停派", "suspended"},
		"ops_none":                 {"无", "none"},
		"ops_customers":            {"客户台账", "Customers"},
		"ops_customers_note":       {"客户取自设备台账（每位客户及其设备）；只在工单中出现的客户不在此列。", "Customers are those the device registry names, each with its devices; customers known only from tickets are not listed."},
		"ops_no_customers":         {"没有找到客户。", "No customers found."},
		"ops_truncated":            {"结果过多，只显示前 500 位，请缩小搜索范围。", "Too many to show: the first 500 only; narrow the search."},
		"ops_email":                {"邮箱", "Email"},
		"ops_devices_of":           {"设备", "Devices"},
		"ops_customer_search_hint": {"名称、单位、电话、编号或邮箱", "Name, organisation, phone, id or email"},
	})
}

// opsTab is an entry of the operations page's own navigation.
type opsTab struct {
	Key, Path string
	Current   bool
}

// opsPage is what every operations template gets.
type opsPage struct {
	Lang webkit.Lang
	Tabs []opsTab
	Body any
}

// tabs are the parts of operations v's role may read.
func (h *Handler) opsTabs(v *viewer, here string) []opsTab {
	var out []opsTab
	for _, t := range []struct{ key, path, pattern string }{
		{"ops_connectors", "/console/ops", apiConnectors},
		{"ops_deadletters", "/console/ops/deadletters", apiDeadLetters},
		{"ops_devices", "/console/ops/devices", apiDevices},
		{"ops_customers", "/console/ops/customers", apiCustomers},
		{"ops_engineers", "/console/ops/engineers", apiEngineers},
	} {
		if h.opts.API.Admits(t.pattern, v.Actor.Role) {
			out = append(out, opsTab{Key: t.key, Path: t.path, Current: t.path == here})
		}
	}
	return out
}

func (h *Handler) renderOps(w http.ResponseWriter, r *http.Request, v *viewer, status int, tab, name string, body any, flash string, bad bool) {
	h.render(w, r, v, status, name, Page{Title: v.T("ops_title") + " · " + v.T(tab), Data: opsPage{Lang: v.Lang, Tabs: h.opsTabs(v, tabPath(tab)), Body: body},
		Flash: flash, FlashBad: bad})
}

func tabPath(tab string) string {
	switch tab {
	case "ops_deadletters":
		return "/console/ops/deadletters"
	case "ops_devices":
		return "/console/ops/devices"
	case "ops_customers":
		return "/console/ops/customers"
	case "ops_engineers":
		return "/console/ops/engineers"
	}
	return "/console/ops"
}

// --- connectors ---

// connectorView is one connector as the page shows it: the counters every connector has, and
// whatever else its type reports, laid out generically.
type connectorView struct {
	Name, Type, State      string
	Received, Published    string
	Rejected, DeadLettered string
	LastError, LastErrorAt string
	Details                []detail
	Other                  []detail // fields of the status this page does not know
}

// detail is one field of a connector's details: a value, a list of fields, or a table (a
// list of objects, such as the MQTT connector's worst devices).
type detail struct {
	Key    string
	Value  string
	Fields []detail
	Table  *detailTable
}

type detailTable struct {
	Columns []string
	Rows    [][]string
}

func (h *Handler) opsConnectors(w http.ResponseWriter, r *http.Request, v *viewer) {
	var raw []byte
	if err := h.get(r, v, "/api/v1/connectors", &raw); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	var answer struct {
		Connectors []map[string]any `json:"connectors"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&answer); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	var list []connectorView
	for _, c := range answer.Connectors {
		cv := connectorView{Name: scalar(c["name"]), Type: scalar(c["type"]), State: scalar(c["state"]),
			Received: scalar(c["received"]), Published: scalar(c["published"]), Rejected: scalar(c["rejected"]),
			DeadLettered: scalar(c["dead_lettered"]), LastError: scalar(c["last_error"]), LastErrorAt: h.timeText(scalar(c["last_error_at"]))}
		if d, ok := c["details"].(map[string]any); ok {
			cv.Details = h.details(d)
		} else if c["details"] != nil {
			cv.Details = []detail{h.detailOf("", c["details"])}
		}
		other := map[string]any{}
		for k, val := range c {
			switch k {
			case "name", "type", "state", "received", "published", "rejected", "dead_lettered", "last_error", "last_error_at", "details":
			default:
				other[k] = val
			}
		}
		cv.Other = h.details(other)
		list = append(list, cv)
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_connectors", "ops", list, "", false)
}

// details lays out an object's fields by name.
func (h *Handler) details(m map[string]any) []detail {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]detail, 0, len(keys))
	for _, k := range keys {
		out = append(out, h.detailOf(k, m[k]))
	}
	return out
}

func (h *Handler) detailOf(key string, v any) detail {
	d := detail{Key: key}
	switch x := v.(type) {
	case map[string]any:
		d.Fields = h.details(x)
	case []any:
		objects := len(x) > 0
		for _, e := range x {
			if _, ok := e.(map[string]any); !ok {
				objects = false
			}
		}
		if !objects {
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = scalarOrJSON(e)
			}
			d.Value = strings.Join(parts, ", ")
			break
		}
		t := &detailTable{}
		seen := map[string]bool{}
		for _, e := range x {
			for k := range e.(map[string]any) {
				if !seen[k] {
					seen[k] = true
					t.Columns = append(t.Columns, k)
				}
			}
		}
		sort.Strings(t.Columns)
		for _, e := range x {
			m := e.(map[string]any)
			row := make([]string, len(t.Columns))
			for i, k := range t.Columns {
				row[i] = h.timeText(scalarOrJSON(m[k]))
			}
			t.Rows = append(t.Rows, row)
		}
		d.Table = t
	default:
		d.Value = h.timeText(scalar(v))
	}
	return d
}

// scalar is a JSON value as text ("" for null).
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return scalarOrJSON(v)
}

func scalarOrJSON(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return scalar(v)
}

// timeText shows an RFC 3339 time in the server's zone, and anything else as it is.
func (h *Handler) timeText(s string) string {
	if len(s) < 20 || s[4] != '-' || s[10] != 'T' {
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(h.opts.Location).Format("2006-01-02 15:04:05")
	}
	return s
}

// --- dead letters ---

type deadLettersView struct {
	List             []deadletter.DeadLetter
	Connector, State string
	Next, First      string
	CanReplay        bool
	Results          []replayResult
}

type replayResult struct {
	ID     string
	OK     bool
	Detail string
}

func (h *Handler) opsDeadLetters(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.showDeadLetters(w, r, v, nil, "", false)
}

func (h *Handler) showDeadLetters(w http.ResponseWriter, r *http.Request, v *viewer, results []replayResult, flash string, bad bool) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = url.Values{}
	}
	view := deadLettersView{Connector: q.Get("connector"), State: q.Get("state"), Results: results,
		CanReplay: h.opts.API.Admits(apiReplay, v.Actor.Role)}
	if view.State != "" && view.State != string(deadletter.StateDead) && view.State != string(deadletter.StateReplayed) {
		view.State = ""
	}
	var page deadletter.Page
	if err := h.get(r, v, query("/api/v1/deadletters", "connector", view.Connector, "state", view.State,
		"cursor", q.Get("cursor"), "limit", strconv.Itoa(deadLetterLimit)), &page); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	view.List = page.DeadLetters
	if page.NextCursor != "" {
		view.Next = query("/console/ops/deadletters", "connector", view.Connector, "state", view.State, "cursor", page.NextCursor)
	}
	if q.Get("cursor") != "" {
		view.First = query("/console/ops/deadletters", "connector", view.Connector, "state", view.State)
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_deadletters", "ops_deadletters", view, flash, bad)
}

type deadLetterView struct {
	DL        deadletter.DeadLetter
	Payload   string
	Binary    bool
	Metadata  []detail
	CanReplay bool
}

func (h *Handler) opsDeadLetter(w http.ResponseWriter, r *http.Request, v *viewer) {
	var dl deadletter.DeadLetter
	if err := h.get(r, v, "/api/v1/deadletters/"+url.PathEscape(r.PathValue("id")), &dl); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	view := deadLetterView{DL: dl, CanReplay: h.opts.API.Admits(apiReplay, v.Actor.Role)}
	view.Payload, view.Binary = payloadText(dl.Payload)
	for _, k := range slices.Sorted(maps.Keys(dl.Metadata)) {
		view.Metadata = append(view.Metadata, detail{Key: k, Value: dl.Metadata[k]})
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_deadletters", "ops_deadletter", view, "", false)
}

// payloadText is a payload for reading: JSON indented, other text as it is, anything else in
// hex (binary true).
func payloadText(p []byte) (string, bool) {
	var out bytes.Buffer
	if json.Valid(p) && json.Indent(&out, p, "", "  ") == nil {
		return out.String(), false
	}
	if utf8.Valid(p) {
		return string(p), false
	}
	return fmt.Sprintf("% x", p), true
}

// maxReplays is how many dead letters one "replay many" takes (a page's worth).
const maxReplays = 100

// opsReplay replays one dead letter (the path's) or those ticked (form field id), each with
// its own call to the API, and shows what became of each. A role the API refuses gets its 403.
func (h *Handler) opsReplay(w http.ResponseWriter, r *http.Request, v *viewer) {
	ids := []string{r.PathValue("id")}
	if ids[0] == "" {
		_ = r.ParseForm()
		ids = r.PostForm["id"]
	}
	slices.Sort(ids)
	ids = slices.DeleteFunc(slices.Compact(ids), func(s string) bool { return s == "" })
	if len(ids) == 0 {
		h.showDeadLetters(w, r, v, nil, v.T("ops_select_one"), true)
		return
	}
	if !h.opts.API.Admits("POST /api/v1/deadletters/{id}/replay", v.Actor.Role) {
		h.forbidden(w, r, v)
		return
	}
	if len(ids) > maxReplays {
		h.showDeadLetters(w, r, v, nil, fmt.Sprintf(v.T("ops_too_many"), maxReplays), true)
		return
	}
	var results []replayResult
	failed := 0
	for _, id := range ids {
		err := h.call(r.Context(), r, v.Actor, http.MethodPost, "/api/v1/deadletters/"+url.PathEscape(id)+"/replay", nil, nil)
		var e *APIError
		switch {
		case err == nil:
			results = append(results, replayResult{ID: id, OK: true})
		case errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized):
			h.apiFailed(w, r, v, err) // the role may replay none
			return
		case errors.As(err, &e):
			failed++
			results = append(results, replayResult{ID: id, Detail: e.Detail})
		default:
			h.apiFailed(w, r, v, err)
			return
		}
	}
	flash := fmt.Sprintf("%s: %d / %d", v.T("ops_replayed_ok"), len(ids)-failed, len(ids))
	h.showDeadLetters(w, r, v, results, flash, failed > 0)
}

// --- devices ---

type devicesView struct {
	List    []devices.Device
	Q       string
	Next    string
	First   string
	CanEdit bool
}

func (h *Handler) opsDevices(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	view := devicesView{Q: strings.TrimSpace(q.Get("q")), CanEdit: h.opts.API.Admits(apiPutDevice, v.Actor.Role)}
	var page struct {
		Devices    []devices.Device `json:"devices"`
		NextCursor string           `json:"next_cursor"`
	}
	if err := h.get(r, v, query("/api/v1/devices", "q", view.Q, "cursor", q.Get("cursor"), "limit", strconv.Itoa(deviceLimit)), &page); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	view.List = page.Devices
	if page.NextCursor != "" {
		view.Next = query("/console/ops/devices", "q", view.Q, "cursor", page.NextCursor)
	}
	if q.Get("cursor") != "" {
		view.First = query("/console/ops/devices", "q", view.Q)
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_devices", "ops_devices", view, "", false)
}

type deviceView struct {
	D       devices.Device
	New     bool
	CanEdit bool
	// Lat and Lon as typed, kept when the API refuses them.
	Lat, Lon string
}

func (h *Handler) opsDevice(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	var d devices.Device
	view := deviceView{CanEdit: h.opts.API.Admits(apiPutDevice, v.Actor.Role)}
	if err := h.get(r, v, "/api/v1/devices/"+url.PathEscape(id), &d); err != nil {
		var e *APIError
		if !errors.As(err, &e) || e.Status != http.StatusNotFound || !view.CanEdit {
			h.apiFailed(w, r, v, err)
			return
		}
		d, view.New = devices.Device{ID: id}, true // a device to add
	}
	view.D = d
	view.Lat, view.Lon = coord(d.Location.Lat), coord(d.Location.Lon)
	flash := ""
	if r.URL.Query().Get("saved") != "" {
		flash = v.T("ops_saved")
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_devices", "ops_device", view, flash, false)
}

func coord(f float64) string {
	if f == 0 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// opsPutDevice saves the form as the device's entry through PUT /api/v1/devices/{id}: the
// current entry with the form's fields over it (so fields the form does not show are kept).
func (h *Handler) opsPutDevice(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	var d devices.Device
	if err := h.get(r, v, "/api/v1/devices/"+url.PathEscape(id), &d); err != nil {
		var e *APIError
		if !errors.As(err, &e) || e.Status != http.StatusNotFound {
			h.apiFailed(w, r, v, err)
			return
		}
		d = devices.Device{ID: id}
	}
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	d.Model, d.Firmware, d.ProductType = f("model"), f("firmware"), f("product_type")
	d.Customer.Name, d.Customer.Org, d.Customer.Phone, d.Customer.ID = f("customer_name"), f("customer_org"), f("customer_phone"), f("customer_id")
	d.Location.Address, d.Location.City = f("address"), f("city")
	view := deviceView{D: d, CanEdit: true, Lat: f("lat"), Lon: f("lon")}
	var bad []string
	for _, c := range []struct {
		text string
		to   *float64
		key  string
	}{{view.Lat, &d.Location.Lat, "ops_lat"}, {view.Lon, &d.Location.Lon, "ops_lon"}} {
		*c.to = 0
		if c.text == "" {
			continue
		}
		n, err := strconv.ParseFloat(c.text, 64)
		if err != nil {
			bad = append(bad, v.T(c.key)+": "+c.text)
			continue
		}
		*c.to = n
	}
	if len(bad) > 0 {
		h.renderOps(w, r, v, http.StatusUnprocessableEntity, "ops_devices", "ops_device", view, strings.Join(bad, "; "), true)
		return
	}
	// What the server sets is left out of the body.
	d.Source, d.UpdatedBy = "", ""
	body := map[string]any{"id": d.ID, "model": d.Model, "firmware": d.Firmware, "product_type": d.ProductType,
		"customer": d.Customer, "location": d.Location}
	var kept devices.Device
	if err := h.call(r.Context(), r, v.Actor, http.MethodPut, "/api/v1/devices/"+url.PathEscape(id), body, &kept); err != nil {
		var e *APIError
		if errors.As(err, &e) && (e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusBadRequest) {
			view.D = d
			h.renderOps(w, r, v, e.Status, "ops_devices", "ops_device", view, e.Detail, true)
			return
		}
		h.apiFailed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/console/ops/devices/"+url.PathEscape(id)+"?saved=1", http.StatusSeeOther)
}

// --- customers ---

type customersView struct {
	List []struct {
		Key      string
		Customer draft.Customer
		Devices  []string
	} `json:"customers"`
	Truncated bool `json:"truncated"`
	Q         string
}

// opsCustomers lists the customers of the device registry (GET /api/v1/customers).
func (h *Handler) opsCustomers(w http.ResponseWriter, r *http.Request, v *viewer) {
	var view customersView
	view.Q = strings.TrimSpace(r.URL.Query().Get("q"))
	if err := h.get(r, v, query("/api/v1/customers", "q", view.Q), &view); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	h.renderOps(w, r, v, http.StatusOK, "ops_customers", "ops_customers", view, "", false)
}

// --- engineers ---

type engineersView struct {
	List     []opsEngineerRow
	Statuses []routing.Status
	// Saved names the engineer just saved.
	Saved string
}

type opsEngineerRow struct {
	engine.EngineerView
	Skills string
	FTFR   string
	// EditStatus and EditSkills: what this viewer may change of this engineer (the API's
	// rules: an engineer their own status, unless suspended; the desk anything).
	EditStatus, EditSkills bool
	SuspendedUntil         string
}

func (h *Handler) opsEngineers(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.showEngineers(w, r, v, http.StatusOK, "", false)
}

func (h *Handler) showEngineers(w http.ResponseWriter, r *http.Request, v *viewer, status int, flash string, bad bool) {
	var answer struct {
		Engineers []engine.EngineerView `json:"engineers"`
	}
	if err := h.get(r, v, "/api/v1/engineers", &answer); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	mayPut := h.opts.API.Admits(apiPutEngineer, v.Actor.Role)
	// The route admits engineers too, and its handler narrows what they may send (putEngineer):
	// their own status, unless suspended, and never skills. The forms follow that; the API
	// still decides.
	engineer := v.Actor.Role == ticket.RoleEngineer
	view := engineersView{Statuses: []routing.Status{routing.StatusOnDuty, routing.StatusOff, routing.StatusLeave, routing.StatusSuspended}}
	for _, e := range answer.Engineers {
		row := opsEngineerRow{EngineerView: e, Skills: strings.Join(e.EffectiveSkills, ", "), FTFR: "—"}
		if e.FTFR != nil {
			row.FTFR = percentText(*e.FTFR)
		}
		if !e.Live.SuspendedUntil.IsZero() {
			row.SuspendedUntil = e.Live.SuspendedUntil.In(h.opts.Location).Format("2006-01-02 15:04")
		}
		own := e.ID == v.Actor.ID
		row.EditStatus = mayPut && (!engineer || (own && e.EffectiveStatus != routing.StatusSuspended))
		row.EditSkills = mayPut && !engineer
		view.List = append(view.List, row)
	}
	h.renderOps(w, r, v, status, "ops_engineers", "ops_engineers", view, flash, bad)
}

// opsPutEngineer sends the form's status and skills (those it holds) to PUT
// /api/v1/engineers/{id}.
func (h *Handler) opsPutEngineer(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	_ = r.ParseForm()
	var u engine.EngineerUpdate
	if r.PostFormValue("status") != "" {
		st := routing.Status(r.PostFormValue("status"))
		u.Status = &st
	}
	if _, ok := r.PostForm["skills"]; ok {
		skills := strings.FieldsFunc(r.PostFormValue("skills"), func(c rune) bool { return c == ',' || c == '，' || c == ' ' || c == '、' })
		if skills == nil {
			skills = []string{}
		}
		u.Skills = &skills
	}
	if err := h.call(r.Context(), r, v.Actor, http.MethodPut, "/api/v1/engineers/"+url.PathEscape(id), u, nil); err != nil {
		var e *APIError
		if errors.As(err, &e) && (e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusBadRequest) {
			h.showEngineers(w, r, v, e.Status, e.Detail, true)
			return
		}
		h.apiFailed(w, r, v, err)
		return
	}
	h.showEngineers(w, r, v, http.StatusOK, v.T("ops_saved")+": "+id, false)
}
