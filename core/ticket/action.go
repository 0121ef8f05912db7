package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gongdan/draft"
)

// Action is the only way a ticket changes.
type Action string

const (
	ActionCreate       Action = "create"
	ActionAssign       Action = "assign"
	ActionAccept       Action = "accept"
	ActionDecline      Action = "decline"
	ActionStart        Action = "start"
	ActionRequestParts Action = "request_parts"
	ActionPartsArrived Action = "parts_arrived"
	ActionPause        Action = "pause"
	ActionResume       Action = "resume"
	ActionResolve      Action = "resolve"
	ActionConfirm      Action = "confirm"
	ActionClose        Action = "close"
	ActionForceClose   Action = "force_close"
	ActionReject       Action = "reject"
	ActionEscalate     Action = "escalate"
	ActionArchive      Action = "archive"
	ActionReopen       Action = "reopen"
	ActionUnfreeze     Action = "unfreeze"

	// ActionSourceAdded is not a command's action: the engine appends it when a draft is
	// merged into an open ticket of its thread (AddSource). It changes no state, so it is
	// allowed on a frozen ticket; it cannot be sent as a command.
	ActionSourceAdded Action = "source_added"
	// ActionRoutingFailed is not a command's action either: the engine appends it when
	// routing found no one for a ticket (RoutingFailed). It changes no state.
	ActionRoutingFailed Action = "routing_failed"
	// ActionSLA is not a command's action: the engine appends it when an SLA target of a
	// ticket is near (warning), breached, or a tier after the breach falls due. It changes no
	// state.
	ActionSLA Action = "sla"
)

// Decline reason codes (退单原因): the fixed list an engineer picks from; other needs a text.
const (
	DeclineSkillMismatch = "skill_mismatch"
	DeclineTooFar        = "too_far"
	DeclineOverloaded    = "overloaded"
	DeclineOffDuty       = "off_duty"
	DeclineOther         = "other"
)

// DeclineReasons lists the decline reason codes.
var DeclineReasons = []string{DeclineSkillMismatch, DeclineTooFar, DeclineOverloaded, DeclineOffDuty, DeclineOther}

// RollbackWindow and RollbackLimit: the third move backwards within two hours freezes a
// ticket until someone in role qa unfreezes it.
const (
	RollbackWindow = 2 * time.Hour
	RollbackLimit  = 3
)

// Errors Decide returns, wrapped with the particulars. Test them with errors.Is.
var (
	ErrUnknownAction     = errors.New("unknown action")
	ErrIllegalTransition = errors.New("illegal transition")
	ErrStaleVersion      = errors.New("stale version")
	ErrForbidden         = errors.New("forbidden")
	ErrInvalidData       = errors.New("invalid data")
	ErrFrozen            = errors.New("ticket frozen")
)

// DataError is an ErrInvalidData that names the field.
type DataError struct {
	Field string
	Msg   string
}

func (e *DataError) Error() string        { return e.Field + ": " + e.Msg }
func (e *DataError) Is(target error) bool { return target == ErrInvalidData }

// Command asks for one action on one ticket.
type Command struct {
	TicketID string          `json:"ticket"`
	Action   Action          `json:"action"`
	Actor    Actor           `json:"actor"`
	Reason   string          `json:"reason,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	// ExpectedVersion, when not zero, must equal the ticket's version.
	ExpectedVersion int64 `json:"expected_version,omitempty"`
	// CommandID makes the command idempotent: replaying it returns the first result.
	CommandID string `json:"command_id,omitempty"`
	// Rule names the automatic rule that issued the command (routing, SLA), for the audit.
	Rule string `json:"rule,omitempty"`
}

// Event is one entry of a ticket's audit trail. Events are append-only.
type Event struct {
	// ID is the store's global, increasing event number (0 until stored).
	ID        int64           `json:"id"`
	TicketID  string          `json:"ticket_id"`
	Seq       int64           `json:"seq"` // the ticket's version after this event
	Action    Action          `json:"action"`
	Actor     Actor           `json:"actor"`
	At        time.Time       `json:"at"`
	From      State           `json:"from,omitempty"`
	To        State           `json:"to"`
	Reason    string          `json:"reason,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CommandID string          `json:"command_id,omitempty"`
	Automatic bool            `json:"automatic"`
	Rule      string          `json:"rule,omitempty"`
	// Rollback marks a move backwards; Froze marks the one that froze the ticket.
	Rollback bool `json:"rollback,omitempty"`
	Froze    bool `json:"froze,omitempty"`
}

// Action data (DESIGN.md §9).
type (
	AssignData struct {
		Assignee string `json:"assignee"`
		Team     string `json:"team,omitempty"`
		// OfferTimedOut names the engineer whose offer was not accepted in time, when this
		// assignment replaces theirs; they are excluded from the ticket's routing after.
		OfferTimedOut string `json:"offer_timed_out,omitempty"`
		// Rerouted names the engineer an SLA tier took the ticket from (it was breached in
		// their hands); they are excluded from the ticket's routing after.
		Rerouted string `json:"rerouted,omitempty"`
		// Set is what the routing rule set on the ticket with the assignment.
		Set *Classification `json:"set,omitempty"`
	}
	// Classification is what a routing rule may set: urgency, category, tags (added).
	Classification struct {
		Urgency  string   `json:"urgency,omitempty"`
		Category string   `json:"category,omitempty"`
		Tags     []string `json:"tags,omitempty"`
	}
	DeclineData struct {
		ReasonCode string `json:"reason_code"`
		Text       string `json:"text,omitempty"`
	}
	ResolveData struct {
		RootCause string   `json:"root_cause"`
		Evidence  []string `json:"evidence,omitempty"`
	}
	ConfirmData struct {
		Solved          *bool  `json:"solved"`
		Timeliness      int    `json:"timeliness"`
		Professionalism int    `json:"professionalism"`
		Comment         string `json:"comment,omitempty"`
		// Auto: no one answered; the system confirmed after confirm.timeout. Only the system
		// sends it, always with solved and without ratings, and it never counts as the
		// customer's confirmation.
		Auto bool `json:"auto,omitempty"`
	}
)

// rule is one action's contract: where it may leave from, where it goes, who may do it.
type rule struct {
	from []State
	to   State
	// roles may do the action; engineers only on tickets assigned to them.
	roles []Role
	// reason: the command's reason (for decline: data.reason_code) is required.
	reason   bool
	rollback bool
}

var (
	allOpen   = []State{StateNew, StateAssigned, StateAccepted, StateInProgress, StateAwaitingParts, StatePaused, StateEscalated}
	staffDesk = []Role{RoleAgent, RoleDispatcher, RoleSupervisor, RoleAdmin}
)

// transitions is the state machine. confirm's target depends on the answer (solved or disputed) and
// unfreeze keeps the state; both are handled in Decide.
var transitions = map[Action]rule{
	ActionAssign:       {from: allOpen, to: StateAssigned, roles: []Role{RoleSystem, RoleDispatcher, RoleSupervisor, RoleAdmin}},
	ActionAccept:       {from: []State{StateAssigned}, to: StateAccepted, roles: []Role{RoleEngineer, RoleAdmin}},
	ActionDecline:      {from: []State{StateAssigned}, to: StateNew, roles: []Role{RoleEngineer, RoleAdmin}, reason: true, rollback: true},
	ActionStart:        {from: []State{StateAccepted}, to: StateInProgress, roles: []Role{RoleEngineer, RoleAdmin}},
	ActionRequestParts: {from: []State{StateInProgress}, to: StateAwaitingParts, roles: []Role{RoleEngineer, RoleAdmin}},
	ActionPartsArrived: {from: []State{StateAwaitingParts}, to: StateInProgress, roles: []Role{RoleEngineer, RoleDispatcher, RoleSupervisor, RoleSystem, RoleAdmin}},
	ActionPause:        {from: []State{StateAccepted, StateInProgress}, to: StatePaused, roles: []Role{RoleEngineer, RoleDispatcher, RoleSupervisor, RoleAdmin}, reason: true},
	ActionResume:       {from: []State{StatePaused}, to: StateInProgress, roles: []Role{RoleEngineer, RoleDispatcher, RoleSupervisor, RoleSystem, RoleAdmin}},
	ActionResolve:      {from: []State{StateInProgress}, to: StateResolved, roles: []Role{RoleEngineer, RoleSystem, RoleAdmin}}, // system: a draft of intent resolve (an alarm clear)
	ActionConfirm:      {from: []State{StateResolved}, to: StateCustomerConfirmed, roles: []Role{RoleCustomer, RoleSystem}},     // system: auto-confirm after confirm.timeout
	ActionClose:        {from: []State{StateCustomerConfirmed}, to: StateClosed, roles: append([]Role{RoleSystem}, staffDesk...)},
	ActionForceClose: {from: append([]State{StateResolved, StateCustomerConfirmed}, allOpen...), to: StateClosed,
		roles: []Role{RoleSupervisor, RoleAdmin}, reason: true},
	ActionReject:   {from: []State{StateNew, StateAssigned, StateEscalated}, to: StateRejected, roles: staffDesk, reason: true},
	ActionEscalate: {from: []State{StateNew, StateAssigned, StateAccepted, StateInProgress, StateAwaitingParts, StatePaused}, to: StateEscalated, roles: []Role{RoleSystem, RoleSupervisor, RoleAdmin}, reason: true},
	ActionArchive:  {from: []State{StateClosed, StateRejected}, to: StateArchived, roles: []Role{RoleSystem, RoleSupervisor, RoleAdmin}},
	ActionReopen:   {from: []State{StateResolved, StateCustomerConfirmed, StateClosed}, to: StateInProgress, roles: staffDesk, reason: true, rollback: true},
	ActionUnfreeze: {roles: []Role{RoleQA}},
}

// Actions lists the actions a command may name, in a stable order (create and source_added
// are not: they come with a draft).
var Actions = []Action{
	ActionAssign, ActionAccept, ActionDecline, ActionStart, ActionRequestParts, ActionPartsArrived,
	ActionPause, ActionResume, ActionResolve, ActionConfirm, ActionClose, ActionForceClose,
	ActionReject, ActionEscalate, ActionArchive, ActionReopen, ActionUnfreeze,
}

// ParseAction returns the action named s.
func ParseAction(s string) (Action, error) {
	if _, ok := transitions[Action(s)]; ok {
		return Action(s), nil
	}
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = string(a)
	}
	return "", fmt.Errorf("%w %q (one of: %s)", ErrUnknownAction, s, strings.Join(names, ", "))
}

// CheckRole returns the ErrForbidden Decide answers when role may never do action, on any
// ticket; nil when it may (an engineer only on tickets assigned to them, which Decide checks).
// It needs no ticket, so the engine can refuse a caller by role before it looks up what that
// caller sent before.
func CheckRole(action Action, role Role) error {
	r, ok := transitions[action]
	if !ok {
		_, err := ParseAction(string(action))
		return err
	}
	if !slices.Contains(r.roles, role) {
		return fmt.Errorf("%w: role %s may not %s (roles that may: %s)", ErrForbidden, role, action, joinRoles(r.roles))
	}
	return nil
}

// Decide checks cmd against t at time now and returns the one event it appends, or an error
// that changes nothing. Checks run in this order: frozen (423), stale version (409), role
// (403), state (409), assignee (403), data (422).
func Decide(t Ticket, cmd Command, now time.Time) (Event, error) {
	r, ok := transitions[cmd.Action]
	if !ok {
		_, err := ParseAction(string(cmd.Action))
		return Event{}, err
	}
	if t.Frozen && cmd.Action != ActionUnfreeze {
		return Event{}, fmt.Errorf("%w: %s was frozen after %d rollbacks within %s; someone in role qa must unfreeze it first",
			ErrFrozen, t.ID, RollbackLimit, RollbackWindow)
	}
	if cmd.ExpectedVersion < 0 {
		return Event{}, &DataError{"expected_version", fmt.Sprintf("must be a version (1 or more), got %d", cmd.ExpectedVersion)}
	}
	if cmd.ExpectedVersion != 0 && (cmd.ExpectedVersion > t.Version || cmd.ExpectedVersion < t.settled()) {
		return Event{}, fmt.Errorf("%w: expected version %d, but %s is at version %d", ErrStaleVersion, cmd.ExpectedVersion, t.ID, t.Version)
	}
	if err := CheckRole(cmd.Action, cmd.Actor.Role); err != nil {
		return Event{}, err
	}
	to := r.to
	rollback := r.rollback
	switch cmd.Action {
	case ActionUnfreeze:
		if !t.Frozen {
			return Event{}, fmt.Errorf("%w: %s is not frozen", ErrIllegalTransition, t.ID)
		}
		to = t.State
	default:
		if !slices.Contains(r.from, t.State) {
			return Event{}, fmt.Errorf("%w: cannot %s a ticket in state %s (only from: %s)", ErrIllegalTransition, cmd.Action, t.State, joinStates(r.from))
		}
	}
	if cmd.Actor.Role == RoleEngineer && t.Assignee != cmd.Actor.ID {
		return Event{}, fmt.Errorf("%w: %s is assigned to %q, not to %s", ErrForbidden, t.ID, t.Assignee, cmd.Actor.ID)
	}
	if cmd.Actor.Role == RoleCustomer && !t.OwnedBy(cmd.Actor) {
		return Event{}, fmt.Errorf("%w: %s is not %s's ticket", ErrForbidden, t.ID, cmd.Actor.ID)
	}
	data, err := checkData(cmd)
	if err != nil {
		return Event{}, err
	}
	if cmd.Action == ActionConfirm && !*data.(*ConfirmData).Solved {
		// The customer disputes the resolution: back to work, and that is a rollback.
		to, rollback = StateInProgress, true
	}
	ev := Event{
		TicketID:  t.ID,
		Seq:       t.Version + 1,
		Action:    cmd.Action,
		Actor:     cmd.Actor,
		At:        now,
		From:      t.State,
		To:        to,
		Reason:    strings.TrimSpace(cmd.Reason),
		Data:      compactJSON(cmd.Data),
		CommandID: cmd.CommandID,
		Automatic: cmd.Actor.Role == RoleSystem,
		Rule:      cmd.Rule,
		Rollback:  rollback,
	}
	ev.Froze = rollback && countRollbacks(t.Rollbacks, now)+1 >= RollbackLimit
	return ev, nil
}

// Records reports whether ev is what cmd, sent before, appended: the same ticket, action,
// caller, reason and data. A command id that comes back with anything else is a different
// request under a used id.
func (ev Event) Records(cmd Command) bool {
	return ev.TicketID == cmd.TicketID && ev.Action == cmd.Action && ev.Actor == cmd.Actor &&
		ev.Reason == strings.TrimSpace(cmd.Reason) && bytes.Equal(canonicalJSON(ev.Data), canonicalJSON(cmd.Data))
}

// canonicalJSON encodes raw as json.Marshal would store it (compact, HTML characters
// escaped), so data compares equal before and after a trip through the store.
func canonicalJSON(raw json.RawMessage) []byte {
	raw = compactJSON(raw)
	if raw == nil {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return raw
	}
	return b
}

// checkData decodes and validates the command's data and reason for its action.
func checkData(cmd Command) (any, error) {
	var v any
	switch cmd.Action {
	case ActionAssign:
		v = &AssignData{}
	case ActionDecline:
		v = &DeclineData{}
	case ActionResolve:
		v = &ResolveData{}
	case ActionConfirm:
		v = &ConfirmData{}
	}
	if v != nil {
		if err := decodeStrict(cmd.Data, v); err != nil {
			return nil, err
		}
	} else if len(bytes.TrimSpace(cmd.Data)) > 0 && !isJSONObject(cmd.Data) {
		return nil, &DataError{"data", "must be a JSON object"}
	}
	reason := strings.TrimSpace(cmd.Reason)
	switch d := v.(type) {
	case *AssignData:
		if strings.TrimSpace(d.Assignee) == "" {
			return nil, &DataError{"data.assignee", "required: who the ticket goes to"}
		}
		if d.Set != nil {
			if err := d.Set.check("data.set"); err != nil {
				return nil, err
			}
		}
	case *DeclineData:
		switch {
		case d.ReasonCode == "":
			return nil, &DataError{"data.reason_code", "required: why the engineer declines, one of: " + strings.Join(DeclineReasons, ", ")}
		case !slices.Contains(DeclineReasons, d.ReasonCode):
			return nil, &DataError{"data.reason_code", fmt.Sprintf("unknown reason %q (one of: %s)", d.ReasonCode, strings.Join(DeclineReasons, ", "))}
		case d.ReasonCode == DeclineOther && strings.TrimSpace(d.Text) == "" && reason == "":
			return nil, &DataError{"data.text", "required with reason_code other: say why"}
		}
	case *ResolveData:
		if strings.TrimSpace(d.RootCause) == "" {
			return nil, &DataError{"data.root_cause", "required: what caused the fault"}
		}
	case *ConfirmData:
		if cmd.Actor.Role == RoleSystem {
			// The system only ever confirms because no one answered in time.
			if !d.Auto || d.Solved == nil || !*d.Solved || d.Timeliness != 0 || d.Professionalism != 0 || d.Comment != "" {
				return nil, &DataError{"data", `the system confirms only as {"solved": true, "auto": true}, without ratings`}
			}
			break
		}
		if d.Auto {
			return nil, &DataError{"data.auto", "only the system confirms automatically"}
		}
		if d.Solved == nil {
			return nil, &DataError{"data.solved", "required: true or false"}
		}
		if d.Timeliness < 1 || d.Timeliness > 5 {
			return nil, &DataError{"data.timeliness", fmt.Sprintf("must be 1 to 5, got %d", d.Timeliness)}
		}
		if d.Professionalism < 1 || d.Professionalism > 5 {
			return nil, &DataError{"data.professionalism", fmt.Sprintf("must be 1 to 5, got %d", d.Professionalism)}
		}
	default:
		if transitions[cmd.Action].reason && reason == "" {
			return nil, &DataError{"reason", fmt.Sprintf("required: say why you %s", cmd.Action)}
		}
	}
	return v, nil
}

func (c *Classification) check(field string) error {
	if c.Urgency != "" && !draft.Urgency(c.Urgency).Valid() {
		return &DataError{field + ".urgency", fmt.Sprintf("unknown urgency %q (one of: blue, yellow, orange, red)", c.Urgency)}
	}
	return nil
}

// apply sets c on t.
func (c *Classification) apply(t Ticket) Ticket {
	if c == nil {
		return t
	}
	if c.Urgency != "" {
		t.Urgency = draft.Urgency(c.Urgency)
	}
	if c.Category != "" {
		t.Category = c.Category
	}
	for _, tag := range c.Tags {
		if !slices.Contains(t.Tags, tag) {
			t.Tags = append(slices.Clone(t.Tags), tag)
		}
	}
	return t
}

func decodeStrict(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return &DataError{"data", "must be a JSON object"}
		case errors.As(err, &te):
			return &DataError{"data." + te.Field, fmt.Sprintf("want %s, got a JSON %s", JSONKind(te.Type), te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &DataError{"data", strings.TrimPrefix(err.Error(), "json: ")}
		}
		return &DataError{"data", err.Error()}
	}
	return nil
}

// JSONKind names a Go type the way a JSON client thinks of it.
func JSONKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return JSONKind(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("{}")) || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// countRollbacks counts rollbacks within RollbackWindow before now.
func countRollbacks(times []time.Time, now time.Time) int {
	n := 0
	for _, at := range times {
		if now.Sub(at) < RollbackWindow {
			n++
		}
	}
	return n
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func joinStates(ss []State) string {
	s := make([]string, len(ss))
	for i, st := range ss {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}
