package ticket

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gongdan/draft"
)

// The closing loop's events: what the customer does on their tracking page (adds information,
// urges, answers the follow-up) and what gongdan does while it waits for them (reminders to
// confirm, the follow-up question). None changes state and none is a command anyone may send
// through the API: the engine appends them (Engine.CustomerNote, Urge, AnswerFollowup and the
// closing-loop timers).
const (
	// ActionCustomerNote: the customer added text or photos on their tracking page.
	ActionCustomerNote Action = "customer_note"
	// ActionUrge: the customer asked for haste on their tracking page (催单).
	ActionUrge Action = "urge"
	// ActionRemindConfirm: the customer was reminded to confirm a resolved ticket.
	ActionRemindConfirm Action = "remind_confirm"
	// ActionFollowupAsked: after the close, the customer was asked whether the problem came
	// back (回访).
	ActionFollowupAsked Action = "followup_asked"
	// ActionFollowupAnswered: the customer answered the follow-up.
	ActionFollowupAnswered Action = "followup_answered"
	// ActionNotified: a message to the customer went out on a channel, or a channel refused
	// it (the notify package's delivery outcome).
	ActionNotified Action = "notified"
	// ActionRepeated: a new ticket repeats this closed one (its repeat_of names this).
	ActionRepeated Action = "repeated"
)

// RepeatedData is the data of a repeated event: the ticket that repeats this one.
type RepeatedData struct {
	By string `json:"by"`
}

// Repeated returns the event that records on t that ticket by repeats it. It changes no state.
func Repeated(t Ticket, by string, now time.Time) (Event, error) {
	return systemRecord(t, ActionRepeated, RepeatedData{By: by}, "repeat", now)
}

// DeliveryData is the data of a notified event: one channel's outcome for one message.
type DeliveryData struct {
	// Key is the event and channel ("1042/sms"): the event's command id is built from it, so
	// an outcome is recorded once however often it is reported.
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Channel string `json:"channel"`
	// To is where it went, masked.
	To      string `json:"to,omitempty"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Attempt int    `json:"attempt"`
}

// Notified returns the event that records a delivery outcome on t. It changes no state, and
// is allowed on a frozen ticket.
func Notified(t Ticket, d DeliveryData, now time.Time) (Event, error) {
	if d.Key == "" || d.Channel == "" {
		return Event{}, &DataError{"key", "required: the delivery's key and channel"}
	}
	ev, err := systemRecord(t, ActionNotified, d, "notify", now)
	ev.CommandID = "notify:" + d.Key
	return ev, err
}

// ErrTooSoon: the customer urged within UrgeInterval of the last time.
var ErrTooSoon = errors.New("too soon")

// UrgeInterval is how often a customer may urge a ticket.
const UrgeInterval = time.Hour

// Limits of what a customer adds.
const (
	MaxNoteRunes       = 2000
	MaxNoteAttachments = 20
)

// TrackingActor is the customer acting through the tracking link of ticket id: the link is
// their proof of being the ticket's customer, whatever their account.
func TrackingActor(id string) Actor { return Actor{ID: "tracking:" + id, Role: RoleCustomer} }

// CustomerNoteData is the data of a customer_note event.
type CustomerNoteData struct {
	Text        string             `json:"text,omitempty"`
	Attachments []draft.Attachment `json:"attachments,omitempty"`
}

// RemindData is the data of a remind_confirm event: the nth reminder since the resolve.
type RemindData struct {
	Nth int `json:"nth"`
}

// FollowupData is the data of a followup_answered event: whether the problem came back, and
// the ticket opened for it when it did.
type FollowupData struct {
	Recurred bool   `json:"recurred"`
	Repeat   string `json:"repeat,omitempty"`
}

// FollowupState is where a ticket's follow-up stands.
type FollowupState struct {
	AskedAt    time.Time `json:"asked_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	Recurred   bool      `json:"recurred,omitempty"`
	// Repeat is the ticket opened because the problem came back.
	Repeat string `json:"repeat,omitempty"`
}

// customerRecord is the event of a customer's action on t.
func customerRecord(t Ticket, action Action, actor Actor, data any, now time.Time) (Event, error) {
	if actor.Role != RoleCustomer || !t.OwnedBy(actor) {
		return Event{}, fmt.Errorf("%w: only %s's customer may %s it", ErrForbidden, t.ID, action)
	}
	ev, err := systemRecord(t, action, data, "", now)
	ev.Actor, ev.Automatic = actor, false
	return ev, err
}

// CustomerNote returns the event of the customer adding text or photos to t. A closed ticket
// takes nothing more (a problem that came back is the follow-up's, or a new request).
func CustomerNote(t Ticket, actor Actor, d CustomerNoteData, now time.Time) (Event, error) {
	d.Text = strings.TrimSpace(d.Text)
	switch {
	case d.Text == "" && len(d.Attachments) == 0:
		return Event{}, &DataError{"text", "required: what to add (text or photos)"}
	case utf8.RuneCountInString(d.Text) > MaxNoteRunes:
		return Event{}, &DataError{"text", fmt.Sprintf("at most %d characters", MaxNoteRunes)}
	case len(d.Attachments) > MaxNoteAttachments:
		return Event{}, &DataError{"attachments", fmt.Sprintf("at most %d", MaxNoteAttachments)}
	case !t.State.Open() && t.State != StateResolved:
		return Event{}, fmt.Errorf("%w: %s is %s and takes nothing more", ErrIllegalTransition, t.ID, t.State)
	}
	return customerRecord(t, ActionCustomerNote, actor, d, now)
}

// Urge returns the event of the customer asking for haste on an open ticket, at most once per
// UrgeInterval.
func Urge(t Ticket, actor Actor, now time.Time) (Event, error) {
	if !t.State.Open() {
		return Event{}, fmt.Errorf("%w: %s is %s; there is nothing to hurry", ErrIllegalTransition, t.ID, t.State)
	}
	if !t.LastUrgedAt.IsZero() && now.Sub(t.LastUrgedAt) < UrgeInterval {
		return Event{}, fmt.Errorf("%w: %s was urged at %s; once an hour is enough to be heard", ErrTooSoon, t.ID, t.LastUrgedAt.Format(time.RFC3339))
	}
	return customerRecord(t, ActionUrge, actor, struct{}{}, now)
}

// RemindConfirm returns the event of the nth reminder to confirm resolved ticket t.
func RemindConfirm(t Ticket, nth int, now time.Time) (Event, error) {
	if t.State != StateResolved {
		return Event{}, fmt.Errorf("%w: %s is %s, not resolved", ErrIllegalTransition, t.ID, t.State)
	}
	return systemRecord(t, ActionRemindConfirm, RemindData{Nth: nth}, "confirm.remind", now)
}

// FollowupAsked returns the event of asking the customer of closed ticket t whether the
// problem came back; once per close.
func FollowupAsked(t Ticket, now time.Time) (Event, error) {
	if t.State != StateClosed && t.State != StateArchived {
		return Event{}, fmt.Errorf("%w: %s is %s, not closed", ErrIllegalTransition, t.ID, t.State)
	}
	return systemRecord(t, ActionFollowupAsked, struct{}{}, "followup.after", now)
}

// FollowupAnswered returns the event of the customer's answer to the follow-up; only one
// answer counts.
func FollowupAnswered(t Ticket, actor Actor, d FollowupData, now time.Time) (Event, error) {
	if t.Followup == nil || t.Followup.AskedAt.IsZero() {
		return Event{}, fmt.Errorf("%w: %s was not asked a follow-up", ErrIllegalTransition, t.ID)
	}
	if !t.Followup.AnsweredAt.IsZero() {
		return Event{}, fmt.Errorf("%w: the follow-up of %s was answered already", ErrIllegalTransition, t.ID)
	}
	if t.State != StateClosed && t.State != StateArchived {
		return Event{}, fmt.Errorf("%w: %s is %s again; the follow-up was about its close", ErrIllegalTransition, t.ID, t.State)
	}
	return customerRecord(t, ActionFollowupAnswered, actor, d, now)
}

// applyCustomer folds the closing loop's events; ok is false for any other action.
func applyCustomer(t Ticket, ev Event) (Ticket, bool, error) {
	switch ev.Action {
	case ActionCustomerNote:
		var d CustomerNoteData
		if err := unmarshalData(ev, &d); err != nil {
			return t, true, err
		}
		t.Attachments = append(slices.Clip(t.Attachments), d.Attachments...)
		if t.AwaitingUpdate.IsZero() && t.State.Open() {
			t.AwaitingUpdate = ev.At // the customer wrote: staff owe an answer
		}
	case ActionRepeated:
		var d RepeatedData
		if err := unmarshalData(ev, &d); err != nil {
			return t, true, err
		}
		if t.RepeatedBy == "" {
			t.RepeatedBy = d.By // the first: the fix that did not hold came back then
		}
	case ActionUrge:
		t.Urges++
		t.LastUrgedAt = ev.At
	case ActionRemindConfirm:
		var d RemindData
		if err := unmarshalData(ev, &d); err != nil {
			return t, true, err
		}
		t.Reminders = d.Nth
	case ActionFollowupAsked:
		t.Followup = &FollowupState{AskedAt: ev.At}
	case ActionFollowupAnswered:
		var d FollowupData
		if err := unmarshalData(ev, &d); err != nil {
			return t, true, err
		}
		f := FollowupState{AnsweredAt: ev.At, Recurred: d.Recurred, Repeat: d.Repeat}
		if t.Followup != nil {
			f.AskedAt = t.Followup.AskedAt
		}
		t.Followup = &f
	default:
		return t, false, nil
	}
	return t, true, nil
}
