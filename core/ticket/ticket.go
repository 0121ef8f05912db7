// Package ticket is the ticket, its twelve states, the actions that move it between them, and
// the events those actions leave behind (DESIGN.md §4).
//
// It is pure: no I/O and no clock. Time comes in with every call. A ticket is only ever the
// fold of its events: Decide checks a command and returns the one event it would append, Apply
// folds an event into a ticket. Nothing else changes a ticket.
package ticket

import (
	"fmt"
	"strings"
	"time"

	"gongdan/draft"
)

// State is where a ticket is in its life. The set is fixed: there are no custom states.
type State string

const (
	StateNew               State = "new"                // 新建
	StateAssigned          State = "assigned"           // 已分派
	StateAccepted          State = "accepted"           // 已受理
	StateInProgress        State = "in_progress"        // 处理中
	StateAwaitingParts     State = "awaiting_parts"     // 需补料
	StatePaused            State = "paused"             // 暂停
	StateResolved          State = "resolved"           // 已完成
	StateCustomerConfirmed State = "customer_confirmed" // 客户确认
	StateClosed            State = "closed"             // 已关闭
	StateRejected          State = "rejected"           // 已驳回
	StateEscalated         State = "escalated"          // 已升级
	StateArchived          State = "archived"           // 归档
)

// States lists the twelve states in their usual order of life.
var States = []State{
	StateNew, StateAssigned, StateAccepted, StateInProgress, StateAwaitingParts, StatePaused,
	StateResolved, StateCustomerConfirmed, StateClosed, StateRejected, StateEscalated, StateArchived,
}

// ParseState returns the state named s.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q", s)
}

// Open reports whether work on a ticket in this state is still owed to the customer.
func (s State) Open() bool {
	switch s {
	case StateNew, StateAssigned, StateAccepted, StateInProgress, StateAwaitingParts, StatePaused, StateEscalated:
		return true
	}
	return false
}

// TagChased marks a ticket the customer called about again while it was open (催单).
const TagChased = "催单"

// Ticket is one customer request and everything done about it so far. Its fields are
// exported for encoding; a Ticket value is only ever produced by Apply/Fold.
type Ticket struct {
	ID          string             `json:"id"`
	State       State              `json:"state"`
	Version     int64              `json:"version"`
	Urgency     draft.Urgency      `json:"urgency"`
	Title       string             `json:"title"`
	Description string             `json:"description"`
	Category    string             `json:"category"`
	FaultCode   string             `json:"fault_code"`
	Tags        []string           `json:"tags"`
	Customer    draft.Customer     `json:"customer"`
	Device      draft.Device       `json:"device"`
	Location    draft.Location     `json:"location"`
	Attachments []draft.Attachment `json:"attachments"`
	Assignee    string             `json:"assignee"`
	Team        string             `json:"team"`
	// AssignedAt is when the current assignment was made; zero when unassigned.
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	// Excluded are the engineers routing must pass over for this ticket: they declined it
	// or let its offer time out.
	Excluded []Exclusion `json:"excluded,omitempty"`
	Frozen   bool        `json:"frozen"`
	// Rollbacks are the times of recent moves backwards; three within RollbackWindow freeze.
	Rollbacks []time.Time   `json:"rollbacks,omitempty"`
	Sources   []draft.Draft `json:"sources"`
	// Suggestions are the knowledge articles that match the ticket, best first: the best of
	// its drafts' suggestions, one per article, at most draft.MaxSuggestions.
	Suggestions []draft.Suggestion `json:"suggestions,omitempty"`
	DedupKey    string             `json:"dedup_key,omitempty"`
	ThreadKey   string             `json:"thread_key,omitempty"`
	RepeatOf    string             `json:"repeat_of"`
	// SettledVersion is the version after the last event that changed what a caller decides
	// on: every event but gongdan's records of what it did (records). A command's
	// expected_version may be any version from it to Version: a delivery record or an SLA
	// mark in between stales no one's decision.
	SettledVersion int64 `json:"settled_version,omitempty"`
	// RepeatedBy is the first ticket that repeated this one after it was closed.
	RepeatedBy string `json:"repeated_by,omitempty"`
	// ClosedAt is when the ticket last entered closed; an archived ticket keeps it, a
	// reopened one loses it. Repeats (RepeatWindow) are counted from it.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// ClosedOnce: the ticket has been closed at least once (reopening does not clear it).
	ClosedOnce bool `json:"closed_once,omitempty"`
	// Reworks counts the times work started again after a fix: reopen, disputed confirm.
	Reworks int `json:"reworks,omitempty"`
	// Calls counts the phone calls about the ticket (drafts of kind call: a hotline call, its
	// first included); from the second on the ticket is tagged TagChased (催单).
	Calls int `json:"calls,omitempty"`
	// Urges counts the times the customer urged on their tracking page (催单), the last at
	// LastUrgedAt.
	Urges       int       `json:"urges,omitempty"`
	LastUrgedAt time.Time `json:"last_urged_at,omitzero"`
	// Reminders counts the reminders to confirm sent since the last resolve.
	Reminders int `json:"reminders,omitempty"`
	// Followup is the follow-up visit after the last close: asked, and answered.
	Followup    *FollowupState `json:"followup,omitempty"`
	Resolution  *Resolution    `json:"resolution,omitempty"`
	Feedback    *Feedback      `json:"feedback,omitempty"`
	ForceClosed bool           `json:"force_closed,omitempty"`
	// History is every state the ticket entered and when, from its creation: what SLA
	// clocks are computed from (time in paused states does not count).
	History []StateChange `json:"history,omitempty"`
	// SLA are the SLA warnings, breaches and tiers recorded on the ticket (ActionSLA), each
	// once.
	SLA []SLAMark `json:"sla,omitempty"`
	// AwaitingUpdate is when the customer wrote again (a draft merged into the ticket) with
	// no answer from staff since: the start of the next-update SLA target. Zero when no one
	// waits.
	AwaitingUpdate time.Time `json:"awaiting_update,omitzero"`
	CreatedBy      Actor     `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// StateChange is the ticket entering State at At.
type StateChange struct {
	At    time.Time `json:"at"`
	State State     `json:"state"`
}

// SLAMark is an SLA event recorded on a ticket: Key says which (like
// "resolution/tier/red"), At when it fired.
type SLAMark struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// Marked reports whether the SLA event key was recorded on t.
func (t Ticket) Marked(key string) bool {
	for _, m := range t.SLA {
		if m.Key == key {
			return true
		}
	}
	return false
}

// Exclusion is an engineer routing passes over for one ticket, and why.
type Exclusion struct {
	Engineer string `json:"engineer"`
	// Reason is a decline reason code, or "offer_timeout".
	Reason string `json:"reason"`
}

// ExclusionOfferTimeout is the reason of an engineer who let the offer time out;
// ExclusionSLAReroute of one an SLA tier took the ticket from.
const (
	ExclusionOfferTimeout = "offer_timeout"
	ExclusionSLAReroute   = "sla_reroute"
)

// RepeatWindow: a request about the same device, or from the same customer in the same
// category, within this time after a ticket was closed repeats that ticket (重复报修; its
// repeat_of).
const RepeatWindow = 7 * 24 * time.Hour

// CustomerKey is who a customer is, for finding their earlier tickets: the first of id,
// phone, WeChat openid and WeCom userid that is not empty, prefixed with its kind, so that
// an id never equals a phone number. It is empty for a customer with none of them.
func CustomerKey(c draft.Customer) string {
	for _, k := range []struct{ kind, v string }{
		{"id:", c.ID}, {"phone:", c.Phone}, {"wechat_openid:", c.WechatOpenID}, {"wecom_userid:", c.WecomUserID},
	} {
		if v := strings.TrimSpace(k.v); v != "" {
			return k.kind + v
		}
	}
	return ""
}

// urgencyRank orders urgencies blue < yellow < orange < red; anything else ranks below blue.
func urgencyRank(u draft.Urgency) int {
	switch u {
	case draft.UrgencyBlue:
		return 1
	case draft.UrgencyYellow:
		return 2
	case draft.UrgencyOrange:
		return 3
	case draft.UrgencyRed:
		return 4
	}
	return 0
}

// Resolution is what the engineer said fixed it.
type Resolution struct {
	RootCause  string    `json:"root_cause"`
	Evidence   []string  `json:"evidence,omitempty"`
	ResolvedBy string    `json:"resolved_by"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// Feedback is the customer's answer to the three-question survey at confirmation.
type Feedback struct {
	Solved          bool      `json:"solved"`
	Timeliness      int       `json:"timeliness"`
	Professionalism int       `json:"professionalism"`
	Comment         string    `json:"comment,omitempty"`
	At              time.Time `json:"at"`
	// Auto: the system confirmed after confirm.timeout with no answer (no ratings); never
	// a customer's confirmation.
	Auto bool `json:"auto,omitempty"`
	// Engineer is who the ticket was assigned to when the customer answered: per-engineer
	// figures and cards go to them, whoever holds the ticket later.
	Engineer string `json:"engineer,omitempty"`
}

// Actor is who did something: a person or the system, with the role they acted in.
type Actor struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// OwnedBy reports whether a customer actor is this ticket's customer: the one whose id the
// draft carried. A ticket with no customer id belongs to no customer account (until tracking
// tokens come, customers act on their own tickets only).
func (t Ticket) OwnedBy(a Actor) bool {
	if a.Role != RoleCustomer {
		return false
	}
	return (t.Customer.ID != "" && t.Customer.ID == a.ID) || (t.ID != "" && a == TrackingActor(t.ID))
}

// FormatID makes the human-readable, sortable ticket id GD-YYYYMMDD-NNNNNN from the creation
// day (already in the configured timezone) and that day's sequence number. Past 999,999
// tickets in one day the number grows a digit rather than wrap.
func FormatID(day time.Time, n int64) string {
	return fmt.Sprintf("GD-%s-%06d", day.Format("20060102"), n)
}

// records are the events that only record what gongdan did or saw about a ticket, and change
// nothing a caller decides on (see SettledVersion).
var records = map[Action]bool{
	ActionSLA: true, ActionNotified: true, ActionRemindConfirm: true, ActionFollowupAsked: true,
	ActionRepeated: true, ActionUrge: true,
}

// settled is SettledVersion, or Version for a ticket stored before it was kept.
func (t Ticket) settled() int64 {
	if t.SettledVersion == 0 {
		return t.Version
	}
	return t.SettledVersion
}
