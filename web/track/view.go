package track

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/logging"
)

// page is what the template shows: only what the ticket's customer may see. Internal notes,
// routing traces, SLA marks and other customers' data never get here.
type page struct {
	Lang      lang
	OtherLang string
	Token     string
	Nonce     string
	Flash     string
	FlashBad  bool

	ID, Title, Description string
	// Fix names the fix the confirm form answers (fixOf).
	Fix       string
	Steps     []step
	Current   string // the current step's label
	Since     string // how long the ticket has been there
	Sub       string // waiting for parts, paused, escalated
	SubReason string // the reason the engineer gave for customers
	Rejected  bool

	Engineer, EngineerPhone string
	Promised                string
	Overdue                 bool
	// PromisedSimilar: no SLA policy sets a due time, and Promised is the median of the latest
	// similar tickets.
	PromisedSimilar bool

	Timeline []line

	CanAdd, CanUrge, UrgedRecently bool
	UrgedAt                        string
	MaxPhotos                      int
	AddHint                        string

	AskConfirm bool
	Feedback   *ticket.Feedback
	Disputed   bool

	AskFollowup    bool
	FollowupAnswer *ticket.FollowupState
	RepeatLink     string
}

type step struct {
	Label        string
	Done, Active bool
}

type line struct {
	At   string
	Text string
}

// stepOf is where each state is among the customer's seven steps.
var stepOf = map[ticket.State]int{
	ticket.StateNew: 0, ticket.StateAssigned: 1, ticket.StateAccepted: 2, ticket.StateInProgress: 3,
	ticket.StateAwaitingParts: 3, ticket.StatePaused: 3, ticket.StateEscalated: 3,
	ticket.StateResolved: 5, ticket.StateCustomerConfirmed: 6, ticket.StateClosed: 6, ticket.StateArchived: 6,
	ticket.StateRejected: 0,
}

var stepKeys = []string{"step_new", "step_assigned", "step_accepted", "step_progress", "step_resolved", "step_confirm", "step_closed"}

// shownState is the state the customer's steps show: a rejected ticket that was archived is
// still rejected to them; an escalated one is where it was when it was escalated (escalating
// a new ticket does not assign it).
func shownState(t ticket.Ticket) ticket.State {
	switch t.State {
	case ticket.StateArchived:
		if t.ClosedAt.IsZero() {
			return ticket.StateRejected
		}
	case ticket.StateEscalated:
		for i := len(t.History) - 1; i >= 0; i-- {
			if s := t.History[i].State; s != ticket.StateEscalated {
				return s
			}
		}
		return ticket.StateNew
	}
	return t.State
}

// forCustomer is the text the engineer gave for customers with a pause or a wait for parts
// (data.for_customer); the reason itself is for staff.
func forCustomer(ev ticket.Event) string {
	var d struct {
		ForCustomer string `json:"for_customer"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	return strings.TrimSpace(d.ForCustomer)
}

// build makes the page of t, whose events are evs, for a customer reading in l at now.
func (h *Handler) build(t ticket.Ticket, evs []ticket.Event, l lang, now time.Time, sla *engine.SLAView, typical time.Duration) page {
	loc := h.opts.Location
	p := page{Lang: l, ID: t.ID, Title: t.Title, Description: t.Description, Fix: fixOf(t), MaxPhotos: h.opts.MaxPhotos}
	p.OtherLang = "en"
	if l == en {
		p.OtherLang = "zh"
	}
	if len(t.Sources) > 0 { // the request as the customer made it
		if s := t.Sources[0]; s.Title != "" || s.Description != "" {
			p.Title, p.Description = s.Title, s.Description
		}
	}
	state := shownState(t)
	at := stepOf[state]
	for i, k := range stepKeys {
		s := step{Label: words.T(l, k), Done: i < at, Active: i == at}
		switch state {
		case ticket.StateClosed, ticket.StateArchived:
			s.Done = true
		case ticket.StateResolved:
			s.Done = s.Done || i == 4 // fixed; the customer's confirmation is what is awaited
		case ticket.StateCustomerConfirmed:
			s.Done, s.Active = i < 6, false // confirmed; the close is still to come
		}
		p.Steps = append(p.Steps, s)
	}
	p.Current = words.T(l, stepKeys[at])
	if n := len(t.History); n > 0 {
		p.Since = humanDuration(now.Sub(t.History[n-1].At), l)
	}
	var lastPause ticket.Event
	for _, ev := range evs {
		if ev.Action == ticket.ActionPause || ev.Action == ticket.ActionRequestParts {
			lastPause = ev
		}
	}
	sub := state
	if t.State == ticket.StateEscalated {
		sub = t.State
	}
	switch sub {
	case ticket.StateAwaitingParts:
		p.Sub, p.SubReason = words.T(l, "state_wait"), forCustomer(lastPause)
	case ticket.StatePaused:
		p.Sub, p.SubReason = words.T(l, "state_pause"), forCustomer(lastPause)
	case ticket.StateEscalated:
		p.Sub = words.T(l, "state_esc")
	case ticket.StateRejected:
		p.Rejected, p.Current = true, words.T(l, "rejected")
	case ticket.StateCustomerConfirmed:
		p.Current = words.T(l, "confirmed") // the last step is near, not reached
	}
	if t.Assignee != "" && h.opts.Engineer != nil {
		name, phone := h.opts.Engineer(t.Assignee)
		p.Engineer, p.EngineerPhone = name, logging.MaskPhones(phone)
	}
	if sla != nil && t.State.Open() {
		for _, c := range sla.Clocks {
			if c.Target == "resolution" && c.Due != nil && c.StoppedAt == nil {
				p.Promised = c.Due.In(loc).Format("2006-01-02 15:04")
				p.Overdue = now.After(*c.Due)
			}
		}
	}
	if p.Promised == "" && typical > 0 && t.State.Open() {
		due := t.CreatedAt.Add(typical)
		p.Promised, p.PromisedSimilar, p.Overdue = due.In(loc).Format("2006-01-02 15:04"), true, now.After(due)
	}
	for _, ev := range evs {
		if text := h.lineOf(ev, l); text != "" {
			p.Timeline = append(p.Timeline, line{At: ev.At.In(loc).Format("01-02 15:04"), Text: text})
		}
	}
	for i, j := 0, len(p.Timeline)-1; i < j; i, j = i+1, j-1 { // newest first
		p.Timeline[i], p.Timeline[j] = p.Timeline[j], p.Timeline[i]
	}
	p.CanAdd = t.State.Open() || t.State == ticket.StateResolved
	p.AddHint = fmt.Sprintf(words.T(l, "add_hint"), p.MaxPhotos, size(h.opts.MaxPhotoBytes))
	p.CanUrge = t.State.Open()
	if !t.LastUrgedAt.IsZero() && now.Sub(t.LastUrgedAt) < ticket.UrgeInterval {
		p.UrgedRecently = true
		p.UrgedAt = fmt.Sprintf(words.T(l, "urged_at"), t.LastUrgedAt.In(loc).Format("15:04"))
	}
	p.AskConfirm = t.State == ticket.StateResolved
	if t.State == ticket.StateCustomerConfirmed || t.State == ticket.StateClosed || t.State == ticket.StateArchived {
		p.Feedback = t.Feedback
	}
	if f := t.Followup; f != nil && (t.State == ticket.StateClosed || t.State == ticket.StateArchived) {
		if f.AnsweredAt.IsZero() {
			p.AskFollowup = true
		} else {
			p.FollowupAnswer = f
			if f.Repeat != "" {
				p.RepeatLink = fmt.Sprintf(words.T(l, "repeat_opened"), f.Repeat)
			}
		}
	}
	return p
}

// lineOf is what the customer is told of ev; "" for what is not theirs to see.
func (h *Handler) lineOf(ev ticket.Event, l lang) string {
	switch ev.Action {
	case ticket.ActionCreate:
		return words.T(l, "ev_create")
	case ticket.ActionSourceAdded:
		return words.T(l, "ev_source") // whoever sent it: the request has more in it now
	case ticket.ActionAssign:
		var d ticket.AssignData
		_ = json.Unmarshal(ev.Data, &d)
		name := d.Assignee
		if h.opts.Engineer != nil {
			if n, _ := h.opts.Engineer(d.Assignee); n != "" {
				name = n
			}
		}
		return fmt.Sprintf(words.T(l, "ev_assign"), name)
	case ticket.ActionAccept:
		return words.T(l, "ev_accept")
	case ticket.ActionStart:
		return words.T(l, "ev_start")
	case ticket.ActionRequestParts:
		return withReason(words.T(l, "ev_parts"), forCustomer(ev), l)
	case ticket.ActionPartsArrived:
		return words.T(l, "ev_parts_ok")
	case ticket.ActionPause:
		return withReason(words.T(l, "ev_pause"), forCustomer(ev), l)
	case ticket.ActionResume:
		return words.T(l, "ev_resume")
	case ticket.ActionResolve:
		return words.T(l, "ev_resolve")
	case ticket.ActionConfirm:
		switch {
		case ev.Actor.Role == ticket.RoleSystem:
			return words.T(l, "ev_auto")
		case ev.To == ticket.StateInProgress:
			return words.T(l, "ev_dispute")
		}
		return words.T(l, "ev_confirm")
	case ticket.ActionClose, ticket.ActionForceClose:
		return words.T(l, "ev_close")
	case ticket.ActionReopen:
		return words.T(l, "ev_reopen")
	case ticket.ActionEscalate:
		return words.T(l, "ev_escalate")
	case ticket.ActionReject:
		return words.T(l, "ev_reject")
	case ticket.ActionCustomerNote:
		var d ticket.CustomerNoteData
		_ = json.Unmarshal(ev.Data, &d)
		text := words.T(l, "ev_note")
		if d.Text != "" {
			text += words.T(l, "colon") + d.Text
		}
		if n := len(d.Attachments); n > 0 {
			text += fmt.Sprintf(words.T(l, "n_photos"), n)
		}
		return text
	case ticket.ActionUrge:
		return words.T(l, "ev_urge")
	case ticket.ActionRemindConfirm:
		return words.T(l, "ev_remind")
	case ticket.ActionFollowupAsked:
		return words.T(l, "ev_followup")
	case ticket.ActionFollowupAnswered:
		var d ticket.FollowupData
		_ = json.Unmarshal(ev.Data, &d)
		if d.Recurred {
			return fmt.Sprintf(words.T(l, "ev_followup_yes"), d.Repeat)
		}
		return words.T(l, "ev_followup_no")
	}
	// decline, unfreeze, sla, routing_failed, notified and whatever comes later: staff's.
	return ""
}

func withReason(s, reason string, l lang) string {
	if reason == "" {
		return s
	}
	return s + words.T(l, "colon") + reason
}

// humanDuration is d as a customer reads it: 3 天 4 小时, 25 分钟.
func humanDuration(d time.Duration, l lang) string {
	if d < time.Minute {
		d = time.Minute
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	unit := func(n int, zhU, enU string) string {
		if l == en {
			if n != 1 {
				enU += "s"
			}
			return fmt.Sprintf("%d %s", n, enU)
		}
		return fmt.Sprintf("%d %s", n, zhU)
	}
	switch {
	case days > 0:
		return unit(days, "天", "day") + " " + unit(hours, "小时", "hour")
	case hours > 0:
		return unit(hours, "小时", "hour") + " " + unit(mins, "分钟", "minute")
	}
	return unit(mins, "分钟", "minute")
}

func jsonMarshal(v any) (json.RawMessage, error) { return json.Marshal(v) }

// size is a byte count as people read it: 8 MB, 64 KB.
func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", max(n>>10, 1))
}
