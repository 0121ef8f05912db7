package ticket

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gongdan/draft"
)

// CreateData is the data of a creation event: the draft, and the closed ticket it repeats.
type CreateData struct {
	Draft    draft.Draft `json:"draft"`
	RepeatOf string      `json:"repeat_of,omitempty"`
	// Tags are tags the core added at intake beyond the draft's (predictive maintenance's
	// 频繁故障): kept apart so that the draft stays as it was sent.
	Tags []string `json:"tags,omitempty"`
}

// Create checks a draft and returns the event that creates ticket id from it. repeatOf, when
// not empty, is the recently closed ticket this request repeats (the caller looks it up; see
// RepeatWindow and CustomerKey).
func Create(id string, d draft.Draft, repeatOf string, by Actor, now time.Time, commandID string) (Event, error) {
	if err := checkDraft(d); err != nil {
		return Event{}, err
	}
	data, err := json.Marshal(CreateData{Draft: d, RepeatOf: repeatOf})
	if err != nil {
		return Event{}, fmt.Errorf("encode draft: %w", err)
	}
	return Event{
		TicketID:  id,
		Seq:       1,
		Action:    ActionCreate,
		Actor:     by,
		At:        now,
		To:        StateNew,
		Data:      data,
		CommandID: commandID,
		Automatic: by.Role == RoleSystem,
	}, nil
}

// WithTags returns creation event ev with tags added to its ticket beyond its draft's (see
// CreateData.Tags); tags the draft has already, or empty ones, are left out.
func WithTags(ev Event, tags ...string) (Event, error) {
	if ev.Action != ActionCreate {
		return ev, fmt.Errorf("%w: tags at creation go on a create event, not %s", ErrInvalidData, ev.Action)
	}
	d, err := decodeCreateData(ev.Data)
	if err != nil {
		return ev, err
	}
	for _, tag := range tags {
		if tag != "" && !slices.Contains(d.Draft.Tags, tag) && !slices.Contains(d.Tags, tag) {
			d.Tags = append(d.Tags, tag)
		}
	}
	if ev.Data, err = json.Marshal(d); err != nil {
		return ev, fmt.Errorf("encode draft: %w", err)
	}
	return ev, nil
}

// AddSource checks a draft and returns the source_added event that merges it into t, an open
// ticket of the draft's thread. The event's data is the draft. Applied, it appends the draft to
// t's sources, raises t's urgency to the draft's when that is higher and adds the draft's tags;
// nothing else changes. It is allowed on a frozen ticket: it moves no state.
func AddSource(t Ticket, d draft.Draft, by Actor, now time.Time, commandID string) (Event, error) {
	if err := checkDraft(d); err != nil {
		return Event{}, err
	}
	if !t.State.Open() {
		return Event{}, fmt.Errorf("%w: cannot add a source to %s in state %s (only to open tickets)", ErrIllegalTransition, t.ID, t.State)
	}
	data, err := json.Marshal(d)
	if err != nil {
		return Event{}, fmt.Errorf("encode draft: %w", err)
	}
	return Event{
		TicketID:  t.ID,
		Seq:       t.Version + 1,
		Action:    ActionSourceAdded,
		Actor:     by,
		At:        now,
		From:      t.State,
		To:        t.State,
		Data:      data,
		CommandID: commandID,
		Automatic: by.Role == RoleSystem,
	}, nil
}

func checkDraft(d draft.Draft) error {
	if err := d.Validate(); err != nil {
		if fe, ok := err.(*draft.FieldError); ok {
			return &DataError{Field: fe.Field, Msg: fe.Msg}
		}
		return &DataError{Field: "draft", Msg: err.Error()}
	}
	return nil
}

// Apply folds one event into t and returns the result; t is not modified. It fails only on a
// log that is out of order or unreadable, which means the store is corrupt.
func Apply(t Ticket, ev Event) (Ticket, error) {
	if ev.Seq != t.Version+1 {
		return t, fmt.Errorf("event %s#%d does not follow version %d", ev.TicketID, ev.Seq, t.Version)
	}
	if t.Version > 0 && ev.From != t.State {
		return t, fmt.Errorf("event %s#%d leaves from %s, but the ticket is in %s", ev.TicketID, ev.Seq, ev.From, t.State)
	}
	if next, ok, err := applyCustomer(t, ev); ok {
		if err != nil {
			return t, err
		}
		t = next
	}
	switch ev.Action {
	case ActionCreate:
		if t.Version != 0 {
			return t, fmt.Errorf("event %s#%d creates a ticket that exists", ev.TicketID, ev.Seq)
		}
		d, err := decodeCreateData(ev.Data)
		if err != nil {
			return t, fmt.Errorf("event %s#%d: draft: %w", ev.TicketID, ev.Seq, err)
		}
		t = fromDraft(ev.TicketID, d.Draft)
		t.RepeatOf = d.RepeatOf
		for _, tag := range d.Tags {
			if !slices.Contains(t.Tags, tag) && len(t.Tags) < MaxTags {
				t.Tags = append(t.Tags, tag)
			}
		}
		t.CreatedBy = ev.Actor
		t.CreatedAt = ev.At
	case ActionSourceAdded:
		var d draft.Draft
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return t, fmt.Errorf("event %s#%d: draft: %w", ev.TicketID, ev.Seq, err)
		}
		t = addSource(t, d)
		if t.AwaitingUpdate.IsZero() {
			t.AwaitingUpdate = ev.At
		}
	case ActionAssign:
		var d AssignData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		if d.OfferTimedOut != "" {
			t.Excluded = exclude(t.Excluded, d.OfferTimedOut, ExclusionOfferTimeout)
		}
		if d.Rerouted != "" {
			t.Excluded = exclude(t.Excluded, d.Rerouted, ExclusionSLAReroute)
		}
		t.Assignee, t.AssignedAt = d.Assignee, ev.At
		if d.Team != "" {
			t.Team = d.Team
		}
		t = d.Set.apply(t)
	case ActionDecline:
		var d DeclineData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		reason := d.ReasonCode
		if reason == "" {
			reason = DeclineOther // declines recorded before reason codes were required
		}
		t.Excluded = exclude(t.Excluded, t.Assignee, reason)
		t.Assignee, t.AssignedAt = "", time.Time{}
	case ActionRoutingFailed:
		var d RoutingFailedData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		t = d.Set.apply(t)
	case ActionSLA:
		var d SLAData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		if !t.Marked(d.Key) {
			t.SLA = append(slices.Clip(t.SLA), SLAMark{Key: d.Key, At: ev.At})
		}
	case ActionResolve:
		var d ResolveData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		t.Resolution = &Resolution{RootCause: d.RootCause, Evidence: d.Evidence, ResolvedBy: ev.Actor.ID, ResolvedAt: ev.At}
		t.Reminders = 0 // the customer is asked afresh about this fix
	case ActionConfirm:
		var d ConfirmData
		if err := unmarshalData(ev, &d); err != nil {
			return t, err
		}
		t.Feedback = &Feedback{Solved: d.Solved != nil && *d.Solved, Timeliness: d.Timeliness,
			Professionalism: d.Professionalism, Comment: d.Comment, At: ev.At, Auto: d.Auto, Engineer: t.Assignee}
	case ActionForceClose:
		t.ForceClosed = true
	case ActionReopen:
		// Work starts again: the old closing and the survey about it no longer describe it
		// (both stay in the events).
		t.ForceClosed = false
		t.Feedback = nil
	case ActionUnfreeze:
		t.Frozen = false
		t.Rollbacks = nil
	}
	if ev.Rollback {
		recent := make([]time.Time, 0, RollbackLimit)
		for _, at := range t.Rollbacks {
			if ev.At.Sub(at) < RollbackWindow {
				recent = append(recent, at)
			}
		}
		t.Rollbacks = append(recent, ev.At)
		if len(t.Rollbacks) >= RollbackLimit {
			t.Frozen = true
		}
		if ev.To == StateInProgress {
			t.Resolution = nil // the fix did not hold: a new one is owed
			t.Reworks++
		}
	}
	switch ev.To {
	case StateClosed:
		if t.State != StateClosed { // not unfreeze, which stays
			t.ClosedAt = ev.At
			t.ClosedOnce = true
			t.Followup = nil // this close gets its own follow-up
		}
	case StateArchived: // keeps the closing time, if it was closed
	default:
		t.ClosedAt = time.Time{}
	}
	switch ev.Actor.Role {
	case RoleAgent, RoleDispatcher, RoleSupervisor, RoleEngineer, RoleAdmin:
		if ev.Action != ActionSourceAdded { // an agent keying in the customer's message is not an answer
			t.AwaitingUpdate = time.Time{} // staff acted on the ticket: the customer has an update
		}
	}
	if !ev.To.Open() {
		// Resolved, closed or rejected, by the system too (a draft of intent resolve): that
		// is the answer, and a ticket no longer open owes no update.
		t.AwaitingUpdate = time.Time{}
	}
	if ev.Action == ActionCreate || ev.To != t.State {
		t.History = append(slices.Clip(t.History), StateChange{At: ev.At, State: ev.To})
	}
	t.State = ev.To
	t.Version = ev.Seq
	if !records[ev.Action] {
		t.SettledVersion = ev.Seq
	}
	t.UpdatedAt = ev.At
	return t, nil
}

// SLAData is the data of an sla event: a warning, a breach or a tier of an SLA target.
type SLAData struct {
	// Key names the event once per ticket: target/kind[/tier], like "resolution/tier/red".
	Key    string `json:"key"`
	Policy string `json:"policy"`
	Target string `json:"target"`
	// Kind is warning, breach or tier.
	Kind string `json:"kind"`
	Tier string `json:"tier,omitempty"`
	// Due is when it fell due; it may have fired later (a restart, a quiet rule).
	Due time.Time `json:"due"`
	// Notify are the people told, resolved from the tier's roles.
	Notify []string `json:"notify,omitempty"`
	// Escalate: the tier escalates the ticket (an escalate event follows).
	Escalate bool `json:"escalate,omitempty"`
	// Refused says why a tier that escalates did not (a frozen ticket).
	Refused string `json:"refused,omitempty"`
	// Skipped says why a tier notified no one (a higher tier of the target fired before it).
	Skipped string `json:"skipped,omitempty"`
}

// SLA returns the event that records an SLA warning, breach or tier on t. It changes no
// state; it is allowed on a frozen ticket.
func SLA(t Ticket, d SLAData, now time.Time) (Event, error) {
	if d.Key == "" {
		return Event{}, &DataError{Field: "key", Msg: "required"}
	}
	return systemRecord(t, ActionSLA, d, d.Policy, now)
}

// systemRecord is gongdan's event of action that records data on t, by the rule (or policy)
// rule, and changes no state.
func systemRecord(t Ticket, action Action, data any, rule string, now time.Time) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{
		TicketID: t.ID, Seq: t.Version + 1, Action: action, Actor: SystemActor, At: now,
		From: t.State, To: t.State, Data: b, Automatic: true, Rule: rule,
	}, nil
}

// exclude adds engineer to excluded (once, with the latest reason).
func exclude(excluded []Exclusion, engineer, reason string) []Exclusion {
	if engineer == "" {
		return excluded
	}
	out := slices.DeleteFunc(slices.Clone(excluded), func(x Exclusion) bool { return x.Engineer == engineer })
	return append(out, Exclusion{Engineer: engineer, Reason: reason})
}

// RoutingFailedData is the data of a routing_failed event.
type RoutingFailedData struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Rule   string `json:"rule,omitempty"`
	// Lead is the team lead told about it.
	Lead string `json:"lead,omitempty"`
	// Set is what the matching rule set on the ticket, though no one was found.
	Set *Classification `json:"set,omitempty"`
}

// RoutingFailed returns the event that records on t that routing found no one for it. It
// changes no state; it is allowed on a frozen ticket.
func RoutingFailed(t Ticket, d RoutingFailedData, now time.Time) (Event, error) {
	if d.Set != nil {
		if err := d.Set.check("set"); err != nil {
			return Event{}, err
		}
	}
	return systemRecord(t, ActionRoutingFailed, d, d.Rule, now)
}

// decodeCreateData reads a creation event's data. Events stored before repeats were recorded
// hold the bare draft.
func decodeCreateData(raw json.RawMessage) (CreateData, error) {
	var d struct {
		Draft    *draft.Draft `json:"draft"`
		RepeatOf string       `json:"repeat_of"`
		Tags     []string     `json:"tags"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return CreateData{}, err
	}
	if d.Draft != nil {
		return CreateData{Draft: *d.Draft, RepeatOf: d.RepeatOf, Tags: d.Tags}, nil
	}
	var old CreateData
	err := json.Unmarshal(raw, &old.Draft)
	return old, err
}

// Limits of a ticket's lists, the union of its drafts'.
const (
	MaxTags        = 64
	MaxAttachments = 256
)

// addSource merges draft d into t: one more source, the higher urgency, the union of tags
// and attachments, and what the ticket did not know yet. A field the ticket has is never
// overwritten: a customer's later message (their phone number, their address, the serial on
// the nameplate, when asked for it) fills what the first one left out, and nothing else.
func addSource(t Ticket, d draft.Draft) Ticket {
	if earlier(d, t.Sources) {
		// The pipeline takes drafts in in parallel, so a conversation's first message can
		// reach the core after its second: the ticket is titled by what was said first.
		t.Title, t.Description = draftTitle(d), d.Description
	}
	t.Sources = append(slices.Clip(t.Sources), d)
	if c := calls(d); c > 0 {
		t.Calls += c
		if t.Calls >= 2 && !slices.Contains(t.Tags, TagChased) && len(t.Tags) < MaxTags {
			t.Tags = append(slices.Clip(t.Tags), TagChased)
		}
	}
	if urgencyRank(d.Urgency) > urgencyRank(t.Urgency) {
		t.Urgency = d.Urgency
	}
	// Each draft is bounded (draft.Draft.Validate); the ticket's union is bounded too, or
	// a thread's drafts would grow every list page and every write of the ticket without end.
	// What is left out stays in the draft, in sources.
	for _, tag := range d.Tags {
		if !slices.Contains(t.Tags, tag) && len(t.Tags) < MaxTags {
			t.Tags = append(slices.Clip(t.Tags), tag)
		}
	}
	for _, a := range d.Attachments {
		if !slices.ContainsFunc(t.Attachments, func(b draft.Attachment) bool { return b.URI == a.URI }) && len(t.Attachments) < MaxAttachments {
			t.Attachments = append(slices.Clip(t.Attachments), a)
		}
	}
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&t.Category, d.Category)
	fill(&t.FaultCode, d.FaultCode)
	c := &t.Customer
	fill(&c.ID, d.Customer.ID)
	fill(&c.Name, d.Customer.Name)
	fill(&c.Phone, d.Customer.Phone)
	fill(&c.WechatOpenID, d.Customer.WechatOpenID)
	fill(&c.WecomUserID, d.Customer.WecomUserID)
	fill(&c.Org, d.Customer.Org)
	fill(&c.Email, d.Customer.Email)
	if len(c.Channels) == 0 {
		c.Channels = slices.Clone(d.Customer.Channels)
	}
	dv := &t.Device
	fill(&dv.ID, d.Device.ID)
	fill(&dv.Model, d.Device.Model)
	fill(&dv.Firmware, d.Device.Firmware)
	fill(&dv.ProductType, d.Device.ProductType)
	// A draft's suggestions were matched against its own device: they are the ticket's only
	// when it is about the ticket's device (or neither names one). A follow-up that names no
	// device, or another, would add a fix for a model or firmware the ticket's is not.
	if d.Device.ID == t.Device.ID {
		t.Suggestions = mergeSuggestions(t.Suggestions, d.Suggestions)
	}
	l := &t.Location
	if l.Address == "" && d.Location.Address != "" {
		l.Address, l.City = d.Location.Address, cmp.Or(l.City, d.Location.City)
	}
	fill(&l.City, d.Location.City)
	if l.Lat == 0 && l.Lon == 0 {
		l.Lat, l.Lon = d.Location.Lat, d.Location.Lon
	}
	return t
}

// Fold rebuilds a ticket from its events, oldest first.
func Fold(events []Event) (Ticket, error) {
	var t Ticket
	for _, ev := range events {
		var err error
		if t, err = Apply(t, ev); err != nil {
			return Ticket{}, err
		}
	}
	if t.Version == 0 {
		return Ticket{}, fmt.Errorf("no events")
	}
	return t, nil
}

// earlier reports whether d was sent before every one of sources (that has a time).
func earlier(d draft.Draft, sources []draft.Draft) bool {
	at := SentAt(d)
	if at.IsZero() || len(sources) == 0 {
		return false
	}
	for _, s := range sources {
		st := SentAt(s)
		switch {
		case st.IsZero(), at.After(st):
			return false
		case at.Equal(st) && !d.ReceivedAt.Before(s.ReceivedAt):
			// Sent in the same second (WeChat's times are seconds): the order they came in.
			return false
		}
	}
	return true
}

// SentAt is when the customer sent draft d: for a message of a conversation (a draft with a
// thread_window, whose occurred_at is the message's own time) that time, else when gongdan
// received it. A backlog fetched at once after downtime keeps the times it was written at.
func SentAt(d draft.Draft) time.Time {
	if d.ThreadWindow > 0 && !d.OccurredAt.IsZero() {
		return d.OccurredAt
	}
	return d.ReceivedAt
}

// draftTitle is the title of a ticket that d opens: its own, or its description's first line.
func draftTitle(d draft.Draft) string {
	if title := strings.TrimSpace(d.Title); title != "" {
		return title
	}
	return firstLine(d.Description, 60)
}

func fromDraft(id string, d draft.Draft) Ticket {
	title := draftTitle(d)
	urgency := d.Urgency
	if urgency == "" {
		urgency = draft.UrgencyBlue
	}
	tags := slices.Clone(d.Tags)
	if tags == nil {
		tags = []string{}
	}
	attachments := slices.Clone(d.Attachments)
	if attachments == nil {
		attachments = []draft.Attachment{}
	}
	return Ticket{
		ID:          id,
		Urgency:     urgency,
		Title:       title,
		Description: d.Description,
		Category:    d.Category,
		FaultCode:   d.FaultCode,
		Tags:        tags,
		Customer:    d.Customer,
		Device:      d.Device,
		Location:    d.Location,
		Attachments: attachments,
		Sources:     []draft.Draft{d},
		Suggestions: mergeSuggestions(nil, d.Suggestions),
		DedupKey:    d.DedupKey,
		ThreadKey:   d.ThreadKey,
		Calls:       calls(d),
	}
}

// mergeSuggestions is the ticket's suggestions with a draft's added: each article once, with
// the best score any draft gave it, the best draft.MaxSuggestions by score, ties by article
// id. The order the drafts arrive in does not matter: a later message that names the device's
// firmware can bring a better article to the top.
func mergeSuggestions(have, add []draft.Suggestion) []draft.Suggestion {
	if len(add) == 0 {
		return have
	}
	out := slices.Clone(have)
	for _, s := range add {
		i := slices.IndexFunc(out, func(o draft.Suggestion) bool { return o.ID == s.ID })
		switch {
		case i < 0:
			out = append(out, s)
		case s.Score > out[i].Score, s.Score == out[i].Score && s.Why < out[i].Why:
			out[i] = s // the same whichever draft came first
		}
	}
	slices.SortStableFunc(out, func(a, b draft.Suggestion) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), draft.MaxSuggestions)]
}

// calls is 1 for the draft of a phone call, else 0.
func calls(d draft.Draft) int {
	if d.Source.Kind == draft.KindCall {
		return 1
	}
	return 0
}

// firstLine is the first line of s, cut to at most n runes.
func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func unmarshalData(ev Event, v any) error {
	if len(ev.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(ev.Data, v); err != nil {
		return fmt.Errorf("event %s#%d: data: %w", ev.TicketID, ev.Seq, err)
	}
	return nil
}
