package console

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/web/webkit"
)

// The ticket page (issue 22, page 2): everything about one ticket, and the actions its viewer
// may take now. Every read is by the ticket's id (or the customer's phone through the search
// index), so the page costs the same with a thousand tickets or a million.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/tickets/{id}", "GET /api/v1/tickets/{id}", func(w http.ResponseWriter, r *http.Request, v *viewer) {
			h.ticketPage(w, r, v, r.PathValue("id"), false, nil)
		})
		h.page("GET /console/attachments/{sha256}", "GET /api/v1/attachments/{sha256}", h.attachment)
	})
	addWords(ticketWords)
}

// apiTicket is a ticket as the API shows it to the viewer: with its tracking link for the
// desk roles.
type apiTicket struct {
	ticket.Ticket
	TrackingURL string `json:"tracking_url"`
}

// ticketView is what ticket.html renders.
type ticketView struct {
	Lang    webkit.Lang
	T       apiTicket
	Compact bool   // the engineer's phone view
	Base    string // this page's path: where forms come back to
	Chases  int    // 催单: calls after the first, and urges on the tracking page
	SLA     *engine.SLAView
	Actions []actionForm
	Events  []eventLine
	Sources []sourceView
	Routing []routingLine
	Device  *deviceCard
	Cards   *cardsView
	History []ticket.Ticket // the customer's other tickets
	Files   []fileView
	MapLink string
	// Changed are the events since a refused form's version: what it did not know.
	Changed []eventLine
	// Refused is the API's reason a form was refused; RefusedAction the form's action.
	Refused       string
	RefusedAction ticket.Action
	// Typed is what the user typed into a refused form that is no longer offered.
	Typed []string
}

// refusal is a form the API refused: the page shows why and keeps what was typed.
type refusal struct {
	action  ticket.Action
	status  int
	detail  string
	input   url.Values
	version int64 // the form's expected_version
}

// actionForm is one action the viewer may take now, with its form.
type actionForm struct {
	Action ticket.Action
	// Kind picks the form's fields: plain, reason, assign, decline, parts, resolve.
	Kind       string
	NeedReason bool
	Version    int64
	CommandID  string
	In         url.Values // what the user typed, when the form was refused
	Open       bool
	Engineers  []engineerOption
	Declines   []string
	Photos     bool // the form takes photos (the attachment store is on)
	MaxPhotos  int
	// What every form carries: the language, the ticket, the session's CSRF token and the
	// page to come back to.
	L      webkit.Lang
	Ticket string
	CSRF   string
	Next   string
}

// Value is the field's typed value, for a form shown again.
func (f actionForm) Value(name string) string { return f.In.Get(name) }

type engineerOption struct{ ID, Name string }

// eventLine is one event in words.
type eventLine struct {
	L         webkit.Lang
	Seq       int64
	At        time.Time
	Actor     string
	Action    ticket.Action
	From, To  ticket.State
	Reason    string
	Detail    string   // the data in words
	Photos    []string // attachment hashes of evidence
	Automatic bool
}

// sourceView is one draft merged into the ticket, rendered by its kind.
type sourceView struct {
	Kind      string // wechat, call, screenshot, alarm, other
	At        time.Time
	Connector string
	Who       string
	Title     string
	Text      string
	Turns     []turnView
	Shot      *shotView
	Device    string
}

type turnView struct {
	Role, At, Text string
}

// shotView is a screenshot with the message's box outlined: an SVG over the picture whose
// viewBox is the picture's size in pixels, so the box is drawn with its own coordinates (the
// CSP forbids inline styles, so no positioned div).
type shotView struct {
	SHA              string
	W, H             int
	X, Y, BoxW, BoxH int
	HasBox           bool
}

type routingLine struct {
	At      time.Time
	Trigger string
	Manual  bool
	Lines   []string
	Failure string
}

type deviceCard struct {
	ID, Model, Firmware string
	Failures            int
	Chronic             bool
	LastFailure         time.Time
}

// cardsView is the assignee's active yellow and red cards.
type cardsView struct {
	Engineer       string
	SuspendedUntil *time.Time
	Active         []engine.CardView
}

type fileView struct {
	Kind, URI, SHA string
	Image          bool
}

// ticketPage renders ticket id; refused, when not nil, is a form the API just refused.
func (h *Handler) ticketPage(w http.ResponseWriter, r *http.Request, v *viewer, id string, compact bool, refused *refusal) {
	view, err := h.loadTicket(r, v, id, compact)
	if err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	status := http.StatusOK
	if refused != nil {
		status = refused.status
		view.Refused, view.RefusedAction = refused.detail, refused.action
		if refused.status == http.StatusConflict && refused.version > 0 {
			for _, e := range view.Events {
				if e.Seq > refused.version {
					view.Changed = append(view.Changed, e)
				}
			}
		}
		offered := false
		for i := range view.Actions {
			if view.Actions[i].Action == refused.action {
				view.Actions[i].In, view.Actions[i].Open = refused.input, true
				offered = true
			}
		}
		if !offered {
			// The form is not offered now: show what was typed, so it is not lost.
			for _, k := range []string{"root_cause", "reason", "text", "parts", "assignee"} {
				if s := strings.TrimSpace(refused.input.Get(k)); s != "" {
					view.Typed = append(view.Typed, s)
				}
			}
		}
	}
	h.render(w, r, v, status, "ticket", Page{Title: view.T.ID + " " + view.T.Title, Data: view, Live: true})
}

// loadTicket reads everything the page shows from the API, as the viewer.
func (h *Handler) loadTicket(r *http.Request, v *viewer, id string, compact bool) (*ticketView, error) {
	view := &ticketView{Lang: v.Lang, Compact: compact, Base: "/console/tickets/" + url.PathEscape(id)}
	if compact {
		view.Base = "/console/me/tickets/" + url.PathEscape(id)
	}
	esc := url.PathEscape(id)
	if err := h.get(r, v, "/api/v1/tickets/"+esc, &view.T); err != nil {
		return nil, err
	}
	t := view.T.Ticket
	view.Chases = max(t.Calls-1, 0) + t.Urges
	role := v.Actor.Role
	var evs struct {
		Events []ticket.Event `json:"events"`
	}
	if h.opts.API.Admits("GET /api/v1/tickets/{id}/events", role) {
		if err := h.get(r, v, "/api/v1/tickets/"+esc+"/events", &evs); err != nil {
			return nil, err
		}
	}
	crew := h.engineerNames(r, v)
	names := crew.names
	for _, e := range evs.Events {
		view.Events = append(view.Events, describeEvent(v.Lang, e, names))
	}
	if h.opts.API.Admits("GET /api/v1/tickets/{id}/sla", role) {
		var s engine.SLAView
		if h.get(r, v, "/api/v1/tickets/"+esc+"/sla", &s) == nil {
			view.SLA = &s
		}
	}
	if !compact && h.opts.API.Admits("GET /api/v1/tickets/{id}/routing", role) {
		view.Routing = h.routingLines(r, v, esc, crew)
	}
	if t.Device.ID != "" && !compact && h.opts.API.Admits("GET /api/v1/devices/{id}", role) {
		var d struct {
			ID       string `json:"id"`
			Model    string `json:"model"`
			Firmware string `json:"firmware"`
			Health   *struct {
				Failures    int       `json:"failures"`
				Chronic     bool      `json:"chronic"`
				LastFailure time.Time `json:"last_failure"`
			} `json:"health"`
		}
		if h.get(r, v, "/api/v1/devices/"+url.PathEscape(t.Device.ID), &d) == nil {
			c := &deviceCard{ID: t.Device.ID, Model: firstNonEmpty(d.Model, t.Device.Model), Firmware: firstNonEmpty(d.Firmware, t.Device.Firmware)}
			if d.Health != nil {
				c.Failures, c.Chronic, c.LastFailure = d.Health.Failures, d.Health.Chronic, d.Health.LastFailure
			}
			view.Device = c
		} else {
			view.Device = &deviceCard{ID: t.Device.ID, Model: t.Device.Model, Firmware: t.Device.Firmware}
		}
	}
	// The customer's other tickets, by the key repeats know them by, through its index (a
	// search of the phone number's trigrams took 50 ms over a million tickets).
	if key := ticket.CustomerKey(t.Customer); key != "" && !compact && h.opts.API.Admits("GET /api/v1/tickets", role) {
		var page struct {
			Tickets []ticket.Ticket `json:"tickets"`
		}
		if h.get(r, v, query("/api/v1/tickets", "customer", key, "limit", "11"), &page) == nil {
			for _, o := range page.Tickets {
				if o.ID != t.ID && len(view.History) < 10 {
					view.History = append(view.History, o)
				}
			}
		}
	}
	// The assignee's cards (a disciplinary record: the desk and qa read anyone's, an engineer
	// only their own; the API says who may).
	if a := t.Assignee; a != "" && !compact && h.opts.API.Admits("GET /api/v1/engineers/{id}/cards", role) &&
		(role != ticket.RoleEngineer || a == v.Actor.ID) {
		var cards engine.CardsView
		if h.get(r, v, "/api/v1/engineers/"+url.PathEscape(a)+"/cards", &cards) == nil {
			view.Cards = &cardsView{Engineer: nameOf(names, a), SuspendedUntil: cards.SuspendedUntil}
			for _, c := range cards.Cards {
				if c.Active {
					view.Cards.Active = append(view.Cards.Active, c)
				}
			}
		}
	}
	for _, d := range t.Sources {
		view.Sources = append(view.Sources, h.sourceOf(r, v, d))
	}
	for _, a := range t.Attachments {
		f := fileView{Kind: a.Kind, URI: a.URI, SHA: a.SHA256}
		f.Image = a.SHA256 != "" && (a.Kind == "image" || a.Kind == "photo")
		view.Files = append(view.Files, f)
	}
	view.MapLink = mapLink(t.Location)
	view.Actions = h.actionsFor(v, t, names, view.Base)
	return view, nil
}

// actionsFor lists the actions the viewer may take on t now: those ticket.Decide allows, or
// refuses only for want of the form's data.
func (h *Handler) actionsFor(v *viewer, t ticket.Ticket, names map[string]string, next string) []actionForm {
	now := h.opts.Now()
	var out []actionForm
	for _, a := range ticket.Actions {
		_, err := ticket.Decide(t, ticket.Command{TicketID: t.ID, Action: a, Actor: v.Actor}, now)
		if err != nil {
			if _, data := err.(*ticket.DataError); !data {
				continue
			}
		}
		f := actionForm{Action: a, Kind: "plain", Version: t.Version, CommandID: newCommandID(),
			L: v.Lang, Ticket: t.ID, CSRF: v.CSRF, Next: next, MaxPhotos: h.opts.MaxPhotos}
		switch a {
		case ticket.ActionAssign:
			f.Kind = "assign"
			for id, name := range names {
				f.Engineers = append(f.Engineers, engineerOption{ID: id, Name: name})
			}
			slices.SortFunc(f.Engineers, func(a, b engineerOption) int { return strings.Compare(a.ID, b.ID) })
		case ticket.ActionDecline:
			f.Kind, f.Declines = "decline", ticket.DeclineReasons
		case ticket.ActionRequestParts:
			f.Kind = "parts"
		case ticket.ActionResolve:
			f.Kind, f.Photos = "resolve", h.opts.Attachments != nil
		case ticket.ActionPause, ticket.ActionForceClose, ticket.ActionReject, ticket.ActionEscalate, ticket.ActionReopen:
			f.Kind, f.NeedReason = "reason", true
		}
		out = append(out, f)
	}
	return out
}

// newCommandID is a form's command id: a resubmitted form is done once by the API.
func newCommandID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

// engineerNames maps engineer ids to names (for the trace and the assign form); empty when
// routing is off or the role may not read engineers.
func (h *Handler) engineerNames(req *http.Request, v *viewer) roster {
	r := roster{names: map[string]string{}, maxOpen: map[string]int{}}
	if !h.opts.API.Admits("GET /api/v1/engineers", v.Actor.Role) {
		return r
	}
	var list struct {
		Engineers []engine.EngineerView `json:"engineers"`
	}
	if h.get(req, v, "/api/v1/engineers", &list) != nil {
		return r
	}
	for _, e := range list.Engineers {
		r.names[e.ID] = firstNonEmpty(e.Name, e.ID)
		r.maxOpen[e.ID] = e.MaxOpen
	}
	return r
}

// roster is what the page knows of the engineers: names and caps, by id.
type roster struct {
	names   map[string]string
	maxOpen map[string]int
}

// describeEvent puts an event in words.
func describeEvent(l webkit.Lang, e ticket.Event, names map[string]string) eventLine {
	line := eventLine{L: l, Seq: e.Seq, At: e.At, Actor: nameOf(names, e.Actor.ID), Action: e.Action, From: e.From, To: e.To, Reason: e.Reason, Automatic: e.Automatic}
	if len(e.Data) == 0 {
		return line
	}
	switch e.Action {
	case ticket.ActionAssign:
		var d ticket.AssignData
		if json.Unmarshal(e.Data, &d) == nil {
			line.Detail = words.T(l, "to") + " " + nameOf(names, d.Assignee)
			if d.Team != "" {
				line.Detail += " (" + d.Team + ")"
			}
		}
	case ticket.ActionDecline:
		var d ticket.DeclineData
		if json.Unmarshal(e.Data, &d) == nil {
			line.Detail = words.T(l, "decline_"+d.ReasonCode)
			if d.Text != "" {
				line.Detail += ": " + d.Text
			}
		}
	case ticket.ActionResolve:
		var d ticket.ResolveData
		if json.Unmarshal(e.Data, &d) == nil {
			line.Detail = words.T(l, "root_cause") + ": " + d.RootCause
			for _, ev := range d.Evidence {
				if sha, ok := strings.CutPrefix(ev, "attachment:"); ok && hexSHA.MatchString(sha) {
					line.Photos = append(line.Photos, sha)
				}
			}
		}
	case ticket.ActionRequestParts:
		var d struct {
			Parts string `json:"parts"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.Parts != "" {
			line.Detail = words.T(l, "parts") + ": " + d.Parts
		}
	case ticket.ActionConfirm:
		var d ticket.ConfirmData
		if json.Unmarshal(e.Data, &d) == nil && d.Solved != nil {
			if *d.Solved {
				line.Detail = words.T(l, "confirm_solved")
			} else {
				line.Detail = words.T(l, "confirm_disputed")
			}
			if d.Comment != "" {
				line.Detail += ": " + d.Comment
			}
		}
	case ticket.ActionCustomerNote:
		var d ticket.CustomerNoteData
		if json.Unmarshal(e.Data, &d) == nil {
			line.Detail = d.Text
			for _, a := range d.Attachments {
				if hexSHA.MatchString(a.SHA256) {
					line.Photos = append(line.Photos, a.SHA256)
				}
			}
		}
	}
	return line
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

func nameOf(names map[string]string, id string) string {
	if n, ok := names[id]; ok && n != id {
		return n + " (" + id + ")"
	}
	return id
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// traceJSON is a routing decision's trace as the API writes it (routing.Decision's JSON),
// the part the pages tell: the ticket page's routing trace and dispatch's candidates.
type traceJSON struct {
	Rule     string `json:"rule"`
	Engineer string `json:"engineer"`
	Teams    []struct {
		Team       string `json:"team"`
		Candidates []struct {
			Engineer   string          `json:"engineer"`
			Kept       bool            `json:"kept"`
			Filters    map[string]bool `json:"filters"`
			DistanceKM *float64        `json:"distance_km"`
			Open       int             `json:"open"`
			Today      int             `json:"today"`
			Score      *float64        `json:"score"`
			Winner     bool            `json:"winner"`
			Excluded   string          `json:"excluded"`
			Suspended  string          `json:"suspended"`
		} `json:"candidates"`
	} `json:"teams"`
	Failure *struct {
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"failure"`
}

// routingLines tells each routing decision: each candidate's distance, load and score, or
// the filters that kept them out.
func (h *Handler) routingLines(r *http.Request, v *viewer, esc string, crew roster) []routingLine {
	var recs struct {
		Decisions []struct {
			At      time.Time       `json:"at"`
			Trigger string          `json:"trigger"`
			Manual  bool            `json:"manual"`
			Trace   json.RawMessage `json:"trace"`
		} `json:"decisions"`
	}
	if h.get(r, v, "/api/v1/tickets/"+esc+"/routing", &recs) != nil {
		return nil
	}
	l := v.Lang
	var out []routingLine
	for _, d := range recs.Decisions {
		rl := routingLine{At: d.At, Trigger: d.Trigger, Manual: d.Manual}
		var tr traceJSON
		_ = json.Unmarshal(d.Trace, &tr)
		for _, team := range tr.Teams {
			for _, c := range team.Candidates {
				var b strings.Builder
				name := crew.names[c.Engineer]
				if name == "" {
					name = c.Engineer
				}
				b.WriteString(name + ": ")
				if c.DistanceKM != nil {
					fmt.Fprintf(&b, "%s %.1f km, ", words.T(l, "distance"), *c.DistanceKM)
				}
				load := strconv.Itoa(c.Open)
				if m := crew.maxOpen[c.Engineer]; m > 0 {
					load += "/" + strconv.Itoa(m)
				}
				fmt.Fprintf(&b, "%s %s", words.T(l, "load"), load)
				if c.Kept && c.Score != nil {
					fmt.Fprintf(&b, ", %s %.2f", words.T(l, "score"), *c.Score)
				}
				if !c.Kept {
					var failed []string
					for _, f := range []string{"not_excluded", "on_duty", "not_suspended", "skills", "radius", "max_open", "max_daily"} {
						if ok, known := c.Filters[f]; known && !ok {
							failed = append(failed, words.T(l, "filter_"+f))
						}
					}
					b.WriteString(" — " + words.T(l, "kept_out") + ": " + strings.Join(failed, ", "))
					if c.Excluded != "" {
						b.WriteString(" (" + c.Excluded + ")")
					}
				} else if c.Winner {
					b.WriteString(" — " + words.T(l, "chosen"))
				}
				rl.Lines = append(rl.Lines, b.String())
			}
		}
		if tr.Failure != nil {
			rl.Failure = tr.Failure.Reason + ": " + tr.Failure.Detail
		}
		out = append(out, rl)
	}
	return out
}

// boxRe finds a message's box in an OCR draft's evidence: "(left,top)-(right,bottom)".
var boxRe = regexp.MustCompile(`\((\d+),(\d+)\)-\((\d+),(\d+)\)`)

// sourceOf renders a merged draft by its kind.
func (h *Handler) sourceOf(r *http.Request, v *viewer, d draft.Draft) sourceView {
	s := sourceView{Kind: "other", At: firstTime(d.OccurredAt, d.ReceivedAt), Connector: d.Source.Connector, Who: d.Customer.Name, Title: d.Title, Text: d.Description}
	switch {
	case d.Source.Kind == draft.KindCall || len(d.Turns) > 0:
		s.Kind = "call"
		for _, t := range d.Turns {
			sec := t.StartMS / 1000
			s.Turns = append(s.Turns, turnView{Role: t.Role, At: fmt.Sprintf("%02d:%02d", sec/60, sec%60), Text: t.Text})
		}
	case d.Source.Kind == "screenshot":
		s.Kind = "screenshot"
		for _, a := range d.Attachments {
			if a.Kind == "image" && hexSHA.MatchString(a.SHA256) {
				s.Shot = &shotView{SHA: a.SHA256}
				break
			}
		}
		if s.Shot != nil {
			s.Shot.W, s.Shot.H = h.imageSize(r, v, s.Shot.SHA)
			for _, e := range d.Evidence {
				if m := boxRe.FindStringSubmatch(e.Text); e.From == "ocr" && m != nil {
					x0, _ := strconv.Atoi(m[1])
					y0, _ := strconv.Atoi(m[2])
					x1, _ := strconv.Atoi(m[3])
					y1, _ := strconv.Atoi(m[4])
					s.Shot.X, s.Shot.Y, s.Shot.BoxW, s.Shot.BoxH = x0, y0, x1-x0, y1-y0
					s.Shot.HasBox = s.Shot.W > 0 && x1 > x0 && y1 > y0
					break
				}
			}
		}
	case strings.HasPrefix(d.Source.Kind, "alarm.") || d.Source.Type == "mqtt":
		s.Kind = "alarm"
		s.Device = d.Device.ID
	case d.Source.Type == "wechat" || d.Source.Type == "wecom":
		s.Kind = "wechat"
	}
	return s
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// imageSizes keeps the size of each picture read: a picture's name is its content, so its
// size never changes.
var imageSizes sync.Map // sha → [2]int

// imageSize is the pixel size of attachment sha, read through the API as the viewer.
func (h *Handler) imageSize(r *http.Request, v *viewer, sha string) (int, int) {
	if wh, ok := imageSizes.Load(sha); ok {
		return wh.([2]int)[0], wh.([2]int)[1]
	}
	var raw []byte
	if h.get(r, v, "/api/v1/attachments/"+sha, &raw) != nil {
		return 0, 0
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return 0, 0
	}
	imageSizes.Store(sha, [2]int{cfg.Width, cfg.Height})
	return cfg.Width, cfg.Height
}

// attachment serves a kept file through the API, as the viewer: the API's answer goes
// straight to the browser (a recording of several megabytes is not held in memory), with
// its type kept only for pictures and sound; anything else is a download. A refusal is the
// console's error page.
func (h *Handler) attachment(w http.ResponseWriter, r *http.Request, v *viewer) {
	sha := r.PathValue("sha256")
	if !hexSHA.MatchString(sha) {
		h.problem(w, r, v, http.StatusNotFound, "not_found")
		return
	}
	req, err := http.NewRequestWithContext(api.AsActor(r.Context(), v.Actor), http.MethodGet, "/api/v1/attachments/"+sha, nil)
	if err != nil {
		h.problem(w, r, v, http.StatusInternalServerError, "internal")
		return
	}
	req.RemoteAddr = r.RemoteAddr
	for _, k := range []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"} {
		if val := r.Header.Get(k); val != "" {
			req.Header.Set(k, val)
		}
	}
	pt := &passThrough{w: w, header: http.Header{}}
	h.opts.API.ServeHTTP(pt, req)
	if pt.status >= 400 {
		e := &APIError{Status: pt.status}
		if json.Unmarshal(pt.refused.Bytes(), e) != nil || e.Title == "" {
			e.Title = http.StatusText(pt.status)
		}
		e.Status = pt.status
		h.apiFailed(w, r, v, e)
	}
}

// passThrough hands an API answer of 2xx or 3xx to the browser as it is written, and keeps a
// refusal for the console to show.
type passThrough struct {
	w       http.ResponseWriter
	header  http.Header
	status  int
	refused bytes.Buffer
}

func (p *passThrough) Header() http.Header { return p.header }

func (p *passThrough) WriteHeader(code int) {
	if p.status != 0 {
		return
	}
	p.status = code
	if code >= 400 {
		return
	}
	out := p.w.Header()
	for _, k := range []string{"Content-Length", "Content-Range", "Accept-Ranges", "Cache-Control", "ETag", "Last-Modified"} {
		if val := p.header.Get(k); val != "" {
			out.Set(k, val)
		}
	}
	ct := p.header.Get("Content-Type")
	if !strings.HasPrefix(ct, "image/") && !strings.HasPrefix(ct, "audio/") {
		ct = "application/octet-stream"
		out.Set("Content-Disposition", "attachment")
	}
	out.Set("Content-Type", ct)
	p.w.WriteHeader(code)
}

func (p *passThrough) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.status >= 400 {
		return p.refused.Write(b)
	}
	return p.w.Write(b)
}

// mapLink is a navigation link to the work's place (Amap, which WeChat's browser opens).
func mapLink(l draft.Location) string {
	if l.Lat != 0 || l.Lon != 0 {
		return "https://uri.amap.com/marker?" + url.Values{
			"position": {strconv.FormatFloat(l.Lon, 'f', 6, 64) + "," + strconv.FormatFloat(l.Lat, 'f', 6, 64)},
			"name":     {firstNonEmpty(l.Address, "工单地点")},
		}.Encode()
	}
	if l.Address != "" {
		return "https://uri.amap.com/search?" + url.Values{"keyword": {l.Address}}.Encode()
	}
	return ""
}

var ticketWords = webkit.Words{
	"ticket":                 {"工单", "Ticket"},
	"urgency":                {"紧急程度", "Urgency"},
	"team":                   {"班组", "Team"},
	"assignee":               {"处理人", "Assignee"},
	"unassigned":             {"未分派", "unassigned"},
	"sla":                    {"时限", "SLA"},
	"sla_left":               {"剩余", "left"},
	"tracking_link":          {"客户跟踪链接", "Customer tracking link"},
	"copy":                   {"复制", "Copy"},
	"chased":                 {"催单", "Chased"},
	"frozen":                 {"已冻结：需质检解冻", "Frozen: QA must unfreeze"},
	"actions":                {"可执行的操作", "What you can do"},
	"no_actions":             {"您现在不能对此工单执行操作。", "There is nothing you can do on this ticket now."},
	"timeline":               {"时间线", "Timeline"},
	"sources":                {"来源消息", "Sources"},
	"routing":                {"派单过程", "Routing"},
	"suggestions":            {"知识库建议", "Knowledge suggestions"},
	"customer":               {"客户", "Customer"},
	"customer_history":       {"该客户的其他工单", "The customer's other tickets"},
	"device":                 {"设备", "Device"},
	"engineer_cards":         {"处理人的黄牌/红牌", "The assignee's cards"},
	"no_cards":               {"无有效的黄牌或红牌", "No active cards"},
	"suspended_until":        {"停派至", "Suspended until"},
	"device_failures":        {"故障次数", "Failures"},
	"chronic":                {"频繁故障", "Chronic"},
	"last_failure":           {"上次故障", "Last failure"},
	"attachments":            {"附件", "Attachments"},
	"address":                {"地址", "Address"},
	"navigate":               {"导航", "Navigate"},
	"description":            {"描述", "Description"},
	"reason":                 {"原因", "Reason"},
	"reason_optional":        {"备注（可选）", "Note (optional)"},
	"submit":                 {"提交", "Submit"},
	"to":                     {"给", "to"},
	"root_cause":             {"故障原因", "Root cause"},
	"parts":                  {"所需备件", "Parts needed"},
	"photos":                 {"现场照片", "Photos"},
	"photos_hint_short":      {"照片需要网络，请在有信号时重试。", "Photos need the network; try again when you have signal."},
	"photos_hint":            {"可拍照或选择图片，最多 %d 张；照片需要网络，无法离线保存。", "Take or pick up to %d photos; photos need the network and are not kept offline."},
	"decline_code":           {"退单原因", "Why you decline"},
	"decline_text":           {"说明", "Explain"},
	"decline_skill_mismatch": {"技能不符", "skill mismatch"},
	"decline_too_far":        {"距离太远", "too far"},
	"decline_overloaded":     {"工作量已满", "overloaded"},
	"decline_off_duty":       {"不在班", "off duty"},
	"decline_other":          {"其他", "other"},
	"confirm_solved":         {"客户确认已解决", "customer says solved"},
	"confirm_disputed":       {"客户表示未解决", "customer says not solved"},
	"distance":               {"距离", "distance"},
	"load":                   {"负载", "load"},
	"score":                  {"得分", "score"},
	"chosen":                 {"选中", "chosen"},
	"kept_out":               {"未入选", "kept out"},
	"filter_not_suspended":   {"停派中", "suspended"},
	"trigger":                {"触发", "trigger"},
	"manual":                 {"人工", "manual"},
	"stale_form":             {"提交失败：您打开表单后工单已有变化，请查看后重新操作。", "Not done: the ticket changed after you opened the form. See what changed and try again."},
	"you_typed":              {"您填写的内容", "What you typed"},
	"changed_since":          {"期间的变化", "What changed"},
	"refused":                {"未执行", "Not done"},
	"turn_agent":             {"客服", "agent"},
	"turn_customer":          {"客户", "customer"},
	"kind_wechat":            {"微信消息", "WeChat message"},
	"kind_call":              {"热线通话", "Hotline call"},
	"kind_screenshot":        {"群聊截图", "Chat screenshot"},
	"kind_alarm":             {"设备告警", "Device alarm"},
	"kind_other":             {"消息", "Message"},
	"automatic":              {"自动", "automatic"},
	"photo_too_large":        {"照片太大", "A photo is too large"},
	"photo_not_image":        {"只能上传 JPEG、PNG 或 WebP 图片", "Only JPEG, PNG or WebP pictures can be uploaded"},
	"photos_too_many":        {"照片太多", "Too many photos"},
	"photos_off":             {"此服务器不保存照片", "This server keeps no photos"},
	"form_too_large":         {"上传内容太大", "The upload is too large"},
	"form_too_large_detail":  {"照片总量超出上限，请减少照片后重试。", "The photos are over the limit; send fewer and try again."},
	"queued":                 {"网络不可用：已保存，恢复后自动提交。", "No network: kept, and sent when the network is back."},
	"act_assign":             {"分派", "Assign"},
	"act_accept":             {"接单", "Accept"},
	"act_decline":            {"退单", "Decline"},
	"act_start":              {"开始处理", "Start"},
	"act_request_parts":      {"申请备件", "Request parts"},
	"act_parts_arrived":      {"备件已到", "Parts arrived"},
	"act_pause":              {"暂停", "Pause"},
	"act_resume":             {"恢复", "Resume"},
	"act_resolve":            {"完工", "Resolve"},
	"act_confirm":            {"确认", "Confirm"},
	"act_close":              {"关闭", "Close"},
	"act_force_close":        {"强制关闭", "Force close"},
	"act_reject":             {"驳回", "Reject"},
	"act_escalate":           {"升级", "Escalate"},
	"act_archive":            {"归档", "Archive"},
	"act_reopen":             {"重新打开", "Reopen"},
	"act_unfreeze":           {"解冻", "Unfreeze"},
	"act_create":             {"创建", "Created"},
	"act_source_added":       {"并入新消息", "Source merged"},
	"act_routing_failed":     {"派单失败", "Routing failed"},
	"act_sla":                {"时限提醒", "SLA"},
	"act_customer_note":      {"客户补充", "Customer note"},
	"act_urge":               {"客户催单", "Customer urged"},
	"act_remind_confirm":     {"提醒客户确认", "Reminded to confirm"},
	"act_followup_asked":     {"回访", "Follow-up asked"},
	"act_followup_answered":  {"回访答复", "Follow-up answered"},
	"act_notified":           {"通知客户", "Customer notified"},
	"act_repeated":           {"重复报修", "Repeated"},
	"my_tickets":             {"我的工单", "My tickets"},
	"no_my_tickets":          {"目前没有分派给您的工单。", "No tickets are assigned to you now."},
	"open_ticket":            {"详情与更多操作", "Details and more"},
	"outbox":                 {"待发送: ", "Waiting to send: "},
}
