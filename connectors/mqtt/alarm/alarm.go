// Package alarm evaluates alarm rules on device telemetry at the edge. Each device × rule is a
// small state machine — normal → pending → active → clearing → normal — and only its
// transitions (raise, clear) leave it: millions of telemetry messages make a handful of
// alarms, and one incident is one raise however many messages repeat it.
//
// It is pure: no I/O and no clock. The MQTT connector passes every message and the time in,
// publishes the transitions, and persists Snapshot so that a restart keeps pending
// durations and active alarms. An Engine is not safe for concurrent use; the connector owns
// one.
package alarm

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Rule is one alarm rule.
type Rule struct {
	ID string
	// Models and Topics limit the rule to devices of these models and to messages on topics
	// matching these MQTT filters (+ and #); empty: any.
	Models []string
	Topics []string
	// When is an expr-lang condition over the message: its fields by name (temp > 85), the
	// device (device.id, device.model), and for each numeric field its change since the
	// device's last message (delta.temp) and its rate per second (rate.temp).
	When string
	// For: When must hold this long (from the first message it held in) before the alarm
	// is raised; 0: at once.
	For time.Duration
	// Repeat and Within: raise when When held in Repeat messages within Within, instead of
	// holding for For.
	Repeat int
	Within time.Duration
	// ClearWhen: the alarm clears when it holds (hysteresis: temp < 75 after temp > 85);
	// empty: when When no longer holds. ClearFor: it must hold this long.
	ClearWhen string
	ClearFor  time.Duration
	// OfflineAfter makes an offline rule: raised when the device has sent nothing for this
	// long (Tick finds it), cleared by its next message. When is not used.
	OfflineAfter time.Duration
	// MinInterval is the flapping guard: no raise within this time after a clear.
	MinInterval time.Duration
	// Urgency (blue, yellow, orange, red), Category and Title (a template: {{device}},
	// {{rule}}, {{field}}) of the ticket a raise opens.
	Urgency  string
	Category string
	Title    string
	// AutoResolve: a clear resolves the ticket rather than only being recorded on it.
	AutoResolve bool
}

// Config is what an Engine is built from.
type Config struct {
	Rules []Rule
	// MaxRaisesPerHour is the storm guard: at most this many raises per device in any hour;
	// the rest are counted (Transition.Suppressed). 0: no limit.
	MaxRaisesPerHour int
}

// Message is one telemetry message, decoded.
type Message struct {
	Device string
	Model  string
	Topic  string
	// At is the time of the reading (the payload's, or the receipt's); durations between
	// messages (for, clear_for, within, rate) are reckoned in it.
	At time.Time
	// Received is when the message arrived, by this host's clock; silence (offline_after) and
	// time passing without messages are reckoned in it, so a device whose clock is off is
	// neither called silent nor raised early. Zero: At.
	Received time.Time
	// Fields are the payload's values: numbers as float64, strings, booleans.
	Fields map[string]any
}

// Kind of a transition.
type Kind string

const (
	Raise Kind = "raise"
	Clear Kind = "clear"
	// Storm: a raise the storm guard suppressed, the first of a run; the next ones are
	// counted on the next raise that is let through.
	Storm Kind = "storm"
)

// Transition is what leaves the evaluator: an alarm raised or cleared.
type Transition struct {
	Kind   Kind
	Device string
	Model  string
	Rule   string
	Topic  string
	// At is the time of the message (or the Tick) that made it; Since when its condition
	// began (pending since, clearing since, last heard of).
	At, Since time.Time
	Title     string
	Urgency   string
	Category  string
	// Fields are the values of the message that made it (none for an offline rule).
	Fields      map[string]any
	AutoResolve bool
	// Suppressed counts the raises of this device the storm guard held back before it.
	Suppressed int
}

// ThreadKey is the thread of the incident a transition belongs to: device:<id>:<rule>.
func (t Transition) ThreadKey() string { return "device:" + t.Device + ":" + t.Rule }

// State of a device × rule.
type State string

const (
	Normal   State = "normal"
	Pending  State = "pending"
	Active   State = "active"
	Clearing State = "clearing"
)

type compiled struct {
	Rule
	when, clear *vm.Program
	title       []titlePart
	needsDelta  bool
	// fields are the payload fields the rule's conditions read: a message with none of them
	// (a device that sends temperature and door state on two topics) leaves the rule as it is.
	fields []string
}

// fieldsOf lists the payload fields an expression reads: its variables, and the fields of
// delta.x and rate.x; not device.
func fieldsOf(src string) []string {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	v := &fieldVisitor{}
	ast.Walk(&tree.Node, v)
	return v.fields
}

type fieldVisitor struct{ fields []string }

func (v *fieldVisitor) Visit(node *ast.Node) {
	add := func(name string) {
		if !slices.Contains(v.fields, name) {
			v.fields = append(v.fields, name)
		}
	}
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value != "device" && n.Value != "delta" && n.Value != "rate" {
			add(n.Value)
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && (id.Value == "delta" || id.Value == "rate") {
			if s, ok := n.Property.(*ast.StringNode); ok {
				add(s.Value)
			}
		}
	}
}

// reads reports whether m has a field the rule reads (or the rule reads none).
func (r *compiled) reads(fields map[string]any) bool {
	if len(r.fields) == 0 {
		return true
	}
	for _, f := range r.fields {
		if _, ok := fields[f]; ok {
			return true
		}
	}
	return false
}

type titlePart struct {
	text  string
	field string // when not empty, the part is this field's value
}

// Evaluator evaluates the rules.
type Evaluator struct {
	rules    []compiled
	max      int
	devices  map[string]*device
	machine  vm.VM
	env      map[string]any
	delta    map[string]any
	rate     map[string]any
	devEnv   map[string]any
	anyDelta bool // some rule reads delta or rate
	// offlineFrom: no offline raise before it (HoldOffline).
	offlineFrom time.Time
	// wrongType is the last Evaluate's (WrongType).
	wrongType error
	// changes are the devices TakeChanged returns.
	changes map[string]struct{}
}

type device struct {
	Model    string    `json:"model,omitempty"`
	LastSeen time.Time `json:"last_seen"` // the time of its last message (At)
	// LastHeard is when its last message arrived (Received); Topic is where.
	LastHeard time.Time          `json:"last_heard,omitzero"`
	Topic     string             `json:"topic,omitempty"`
	Last      map[string]float64 `json:"last,omitempty"` // numeric fields of the last message, for delta and rate
	Rules     map[string]*rule   `json:"rules"`
	Raises    []time.Time        `json:"raises,omitempty"` // within the last hour, for the storm guard
	// Suppressed counts raises held back since the last one let through; LastRaised is the
	// rule of that one (where a storm is told).
	Suppressed int    `json:"suppressed,omitempty"`
	LastRaised string `json:"last_raised,omitempty"`
}

type rule struct {
	State     State       `json:"state"`
	Since     time.Time   `json:"since,omitzero"`
	Hits      []time.Time `json:"hits,omitempty"`
	LastClear time.Time   `json:"last_clear,omitzero"`
	// Reported: the raise left the evaluator (not held back by the storm guard), so its clear
	// does too.
	Reported bool           `json:"reported,omitempty"`
	Fields   map[string]any `json:"fields,omitempty"` // of the message that made it pending or active
	Topic    string         `json:"topic,omitempty"`
}

// ConfigError is one problem with a rule, at a path like "rules[2].when".
type ConfigError struct {
	Path string
	Msg  string
}

func (e ConfigError) Error() string { return e.Path + ": " + e.Msg }

// New checks and compiles cfg; every problem is reported.
func New(cfg Config) (*Evaluator, []ConfigError) {
	e := &Evaluator{max: cfg.MaxRaisesPerHour, devices: map[string]*device{}, changes: map[string]struct{}{},
		env: map[string]any{}, delta: map[string]any{}, rate: map[string]any{}, devEnv: map[string]any{}}
	var errs []ConfigError
	seen := map[string]bool{}
	for i, r := range cfg.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		bad := func(key, format string, args ...any) {
			errs = append(errs, ConfigError{Path: at + key, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case r.ID == "":
			bad(".id", "required: it names the alarm (thread key device:<id>:<rule>)")
		case seen[r.ID]:
			bad(".id", "%q is used twice", r.ID)
		}
		seen[r.ID] = true
		c := compiled{Rule: r}
		compile := func(key, src string) *vm.Program {
			prog, err := expr.Compile(src, expr.AsBool(), expr.AllowUndefinedVariables())
			if err != nil {
				msg, _, _ := strings.Cut(err.Error(), "\n")
				bad(key, "%s", msg)
			}
			return prog
		}
		switch {
		case r.OfflineAfter < 0:
			bad(".offline_after", "must not be negative")
		case r.OfflineAfter > 0:
			if r.When != "" || r.ClearWhen != "" {
				bad(".when", "an offline rule (offline_after) raises on silence: drop when and clear_when")
			}
		case strings.TrimSpace(r.When) == "":
			bad(".when", "required: the condition that raises the alarm, like temp > 85 (or offline_after for silence)")
		default:
			c.when = compile(".when", r.When)
			if r.ClearWhen != "" {
				c.clear = compile(".clear_when", r.ClearWhen)
			}
		}
		if r.For < 0 || r.ClearFor < 0 || r.MinInterval < 0 || r.Within < 0 {
			bad("", "durations (for, clear_for, min_interval, within) must not be negative")
		}
		if r.Repeat < 0 || (r.Repeat > 0 && r.Within <= 0) {
			bad(".repeat", "repeat N needs within: the window the N messages must fall in")
		}
		if r.Repeat > 0 && r.For > 0 {
			bad(".repeat", "repeat and for are two ways to say how long: use one")
		}
		for j, f := range r.Topics {
			if err := ValidFilter(f); err != nil {
				bad(fmt.Sprintf(".topics[%d]", j), "%v", err)
			}
		}
		c.title = parseTitle(r.Title)
		c.fields = fieldsOf(r.When + " || " + orFalse(r.ClearWhen))
		c.needsDelta = strings.Contains(r.When+r.ClearWhen, "delta.") || strings.Contains(r.When+r.ClearWhen, "rate.")
		e.anyDelta = e.anyDelta || c.needsDelta
		e.rules = append(e.rules, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

// Rules returns the rules' ids, in order.
func (e *Evaluator) Rules() []string {
	out := make([]string, len(e.rules))
	for i, r := range e.rules {
		out[i] = r.ID
	}
	return out
}

// Evaluate runs every rule that applies to m's device and topic and returns the transitions
// it makes, in rule order.
func (e *Evaluator) Evaluate(m Message) []Transition {
	d := e.devices[m.Device]
	if d == nil {
		d = &device{Rules: map[string]*rule{}}
		e.devices[m.Device] = d
	}
	if m.Model != "" {
		d.Model = m.Model
	}
	var out []Transition
	e.wrongType = nil
	// The env is the same map for every message and rule: no allocation per message.
	clear(e.env)
	for k, v := range m.Fields {
		e.env[k] = v
	}
	e.devEnv["id"], e.devEnv["model"] = m.Device, d.Model
	e.env["device"] = e.devEnv
	if e.anyDelta {
		clear(e.delta)
		clear(e.rate)
		secs := m.At.Sub(d.LastSeen).Seconds()
		for k, v := range m.Fields {
			f, ok := v.(float64)
			if !ok {
				continue
			}
			if prev, ok := d.Last[k]; ok {
				e.delta[k] = f - prev
				if secs > 0 {
					e.rate[k] = (f - prev) / secs
				}
			}
		}
		e.env["delta"], e.env["rate"] = e.delta, e.rate
	}
	for i := range e.rules {
		r := &e.rules[i]
		if !r.applies(d.Model, m.Topic) {
			continue
		}
		st := d.rule(r.ID)
		if r.OfflineAfter > 0 {
			if st.State == Active {
				// Heard from again: the offline alarm clears.
				out = e.clear(out, d, r, st, m.Device, m.At, m.Fields, m.Topic)
				e.changed(m.Device)
			}
			continue
		}
		if r.reads(m.Fields) {
			before := st.mark()
			out = e.step(out, d, r, st, m)
			if st.mark() != before {
				e.changed(m.Device)
			}
		}
	}
	d.LastSeen, d.LastHeard, d.Topic = m.At, m.Received, m.Topic
	if d.LastHeard.IsZero() {
		d.LastHeard = m.At
	}
	if e.anyDelta {
		if d.Last == nil {
			d.Last = map[string]float64{}
		}
		for k, v := range m.Fields {
			if f, ok := v.(float64); ok {
				d.Last[k] = f
			}
		}
	}
	return out
}

// holds runs prog on the env of the message being evaluated; an error (a missing field, a
// wrong type) is false. An error with a field of r that is no number is the payload's fault
// (a sensor that sends "NaN" or "ERR" as temp): it is kept for WrongType.
func (e *Evaluator) holds(r *compiled, prog *vm.Program, fields map[string]any) bool {
	out, err := e.machine.Run(prog, e.env)
	if err != nil && e.wrongType == nil {
		for _, f := range r.fields {
			switch v := fields[f].(type) {
			case string, bool:
				e.wrongType = fmt.Errorf("rule %s cannot read %s = %v (%T): %v", r.ID, f, v, v, firstLine(err.Error()))
			}
		}
	}
	return err == nil && out == true
}

// WrongType is why the last Evaluate could not read the message, if a rule failed on a field
// of the wrong type: the connector counts it as a bad payload.
func (e *Evaluator) WrongType() error { return e.wrongType }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// step moves device d's state of rule r on message m.
func (e *Evaluator) step(out []Transition, d *device, r *compiled, st *rule, m Message) []Transition {
	switch st.State {
	case Normal, Pending:
		if !e.holds(r, r.when, m.Fields) {
			st.State, st.Since, st.Fields = Normal, time.Time{}, nil
			return out
		}
		if st.State == Normal {
			st.State, st.Since = Pending, m.At
		}
		st.Fields, st.Topic = cloneFields(m.Fields), m.Topic
		if r.Repeat > 0 {
			st.Hits = append(slices.DeleteFunc(st.Hits, func(t time.Time) bool { return m.At.Sub(t) >= r.Within }), m.At)
			if len(st.Hits) < r.Repeat {
				return out
			}
		} else if m.At.Sub(st.Since) < r.For {
			return out
		}
		return e.raise(out, d, r, st, m.Device, m.At)
	case Active, Clearing:
		cleared := false
		if r.clear != nil {
			cleared = e.holds(r, r.clear, m.Fields)
		} else {
			cleared = !e.holds(r, r.when, m.Fields)
		}
		if !cleared {
			st.State = Active
			return out
		}
		if st.State == Active {
			st.State, st.Since = Clearing, m.At
		}
		if m.At.Sub(st.Since) < r.ClearFor {
			return out
		}
		return e.clear(out, d, r, st, m.Device, m.At, m.Fields, m.Topic)
	}
	return out
}

// raise makes st active, and tells of it unless the flapping or storm guard holds it back.
func (e *Evaluator) raise(out []Transition, d *device, r *compiled, st *rule, id string, at time.Time) []Transition {
	if r.MinInterval > 0 && !st.LastClear.IsZero() && at.Sub(st.LastClear) < r.MinInterval {
		return out // flapping: stays pending until the interval has passed
	}
	since := st.Since
	st.State, st.Since, st.Hits = Active, at, nil
	if e.max > 0 {
		d.Raises = slices.DeleteFunc(d.Raises, func(t time.Time) bool { return at.Sub(t) >= time.Hour })
		if len(d.Raises) >= e.max {
			st.Reported = false
			d.Suppressed++
			if d.Suppressed == 1 && d.LastRaised != "" {
				return append(out, Transition{Kind: Storm, Device: id, Model: d.Model, Rule: d.LastRaised, Topic: st.Topic, At: at, Since: since,
					Suppressed: 1, Fields: st.Fields})
			}
			return out
		}
		d.Raises = append(d.Raises, at)
	}
	st.Reported = true
	t := Transition{Kind: Raise, Device: id, Model: d.Model, Rule: r.ID, Topic: st.Topic, At: at, Since: since,
		Title: r.render(id, st.Fields), Urgency: r.Urgency, Category: r.Category, Fields: st.Fields,
		AutoResolve: r.AutoResolve, Suppressed: d.Suppressed}
	d.Suppressed, d.LastRaised = 0, r.ID
	return append(out, t)
}

func (e *Evaluator) clear(out []Transition, d *device, r *compiled, st *rule, id string, at time.Time, fields map[string]any, topic string) []Transition {
	since, reported := st.Since, st.Reported
	*st = rule{State: Normal, LastClear: at}
	if !reported {
		return out
	}
	return append(out, Transition{Kind: Clear, Device: id, Model: d.Model, Rule: r.ID, Topic: topic, At: at, Since: since,
		Title: r.render(id, fields), Urgency: r.Urgency, Category: r.Category, Fields: cloneFields(fields), AutoResolve: r.AutoResolve})
}

// Tick finds what time alone changes: devices silent past an offline rule's limit, and
// pending alarms whose for has passed since their last message (the last value holds until
// a message says otherwise).
func (e *Evaluator) Tick(now time.Time) []Transition {
	var out []Transition
	for _, id := range sortedKeys(e.devices) {
		d := e.devices[id]
		if d.LastHeard.IsZero() {
			continue // restored from a snapshot of a device never heard from
		}
		// The device's clock now: its last reading's time plus what passed here since it
		// arrived. Pending and clearing durations are in the device's time, silence in ours.
		deviceNow := d.LastSeen.Add(now.Sub(d.LastHeard))
		for i := range e.rules {
			r := &e.rules[i]
			if !r.applies(d.Model, d.Topic) {
				continue
			}
			st := d.rule(r.ID)
			before := st.mark()
			switch {
			case r.OfflineAfter > 0 && st.State != Active && now.Sub(d.LastHeard) >= r.OfflineAfter && !now.Before(e.offlineFrom):
				st.Since = d.LastSeen
				out = e.raise(out, d, r, st, id, now)
			case r.OfflineAfter == 0 && st.State == Pending && r.Repeat == 0 && deviceNow.Sub(st.Since) >= r.For:
				out = e.raise(out, d, r, st, id, deviceNow)
			case r.OfflineAfter == 0 && st.State == Clearing && deviceNow.Sub(st.Since) >= r.ClearFor:
				out = e.clear(out, d, r, st, id, deviceNow, st.Fields, st.Topic)
			}
			if st.mark() != before {
				e.changed(id)
			}
		}
	}
	return out
}

// mark is what of a rule's state must survive a crash: a change of it is journaled.
type mark struct {
	state     State
	since     time.Time
	hits      int
	lastClear time.Time
}

func (st *rule) mark() mark { return mark{st.State, st.Since, len(st.Hits), st.LastClear} }

func (e *Evaluator) changed(device string) { e.changes[device] = struct{}{} }

// TakeChanged returns the devices whose alarm state (not merely their last values) changed
// since the last call — a rule became pending, active, clearing or normal, counted a hit —
// and forgets them. The connector journals them, so a crash between snapshots keeps pending
// durations and active alarms.
func (e *Evaluator) TakeChanged() []string {
	if len(e.changes) == 0 {
		return nil
	}
	out := sortedKeys(e.changes)
	clear(e.changes)
	return out
}

// HoldOffline keeps Tick from raising offline alarms before until: after a restart, the
// messages the broker queued meanwhile arrive first, and devices that kept publishing are not
// called silent.
func (e *Evaluator) HoldOffline(until time.Time) { e.offlineFrom = until }

// StateOf returns device's state of rule, for tests and the API.
func (e *Evaluator) StateOf(device, rule string) State {
	if d := e.devices[device]; d != nil {
		if st := d.Rules[rule]; st != nil {
			return st.State
		}
	}
	return Normal
}

// Devices is how many devices the evaluator has heard from.
func (e *Evaluator) Devices() int { return len(e.devices) }

// Snapshot is the evaluator's state: pending durations, active alarms, last values and the
// storm guard's counts, per device and rule id (so a changed rule set restores what still
// applies).
func (e *Evaluator) Snapshot() ([]byte, error) { return json.Marshal(e.devices) }

// Restore replaces the state with a snapshot.
func (e *Evaluator) Restore(b []byte) error {
	devices := map[string]*device{}
	if err := json.Unmarshal(b, &devices); err != nil {
		return fmt.Errorf("alarm snapshot: %w", err)
	}
	for _, d := range devices {
		if d.Rules == nil {
			d.Rules = map[string]*rule{}
		}
	}
	e.devices = devices
	return nil
}

// DeviceSnapshot is one device's state, as Snapshot holds it: the connector journals the
// devices a transition changed between full snapshots.
func (e *Evaluator) DeviceSnapshot(id string) ([]byte, error) {
	d := e.devices[id]
	if d == nil {
		return []byte("null"), nil
	}
	return json.Marshal(d)
}

// RestoreDevice replaces one device's state with a DeviceSnapshot of it.
func (e *Evaluator) RestoreDevice(id string, b []byte) error {
	var d *device
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("alarm device snapshot %s: %w", id, err)
	}
	if d == nil {
		delete(e.devices, id)
		return nil
	}
	if d.Rules == nil {
		d.Rules = map[string]*rule{}
	}
	e.devices[id] = d
	return nil
}

func (d *device) rule(id string) *rule {
	st := d.Rules[id]
	if st == nil {
		st = &rule{State: Normal}
		d.Rules[id] = st
	}
	return st
}

func (r *compiled) applies(model, topic string) bool {
	if len(r.Models) > 0 && !slices.Contains(r.Models, model) {
		return false
	}
	if len(r.Topics) > 0 && topic != "" {
		for _, f := range r.Topics {
			if MatchTopic(f, topic) {
				return true
			}
		}
		return false
	}
	return true
}

// MatchTopic reports whether topic matches the MQTT filter (+ one level, # the rest).
func MatchTopic(filter, topic string) bool {
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fmore || !tmore {
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// ValidFilter checks an MQTT topic filter: + and # stand for whole levels, # only last.
func ValidFilter(f string) error {
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("%q: # must be the last level", f)
		case strings.ContainsAny(l, "#+") && len(l) > 1:
			return fmt.Errorf("%q: + and # stand for a whole level", f)
		}
	}
	if f == "" {
		return fmt.Errorf("an empty topic filter")
	}
	return nil
}

func orFalse(s string) string {
	if strings.TrimSpace(s) == "" {
		return "false"
	}
	return "(" + s + ")"
}

func parseTitle(s string) []titlePart {
	var parts []titlePart
	for s != "" {
		before, rest, ok := strings.Cut(s, "{{")
		if !ok {
			parts = append(parts, titlePart{text: s})
			break
		}
		name, after, ok := strings.Cut(rest, "}}")
		if !ok {
			parts = append(parts, titlePart{text: s})
			break
		}
		if before != "" {
			parts = append(parts, titlePart{text: before})
		}
		parts = append(parts, titlePart{field: strings.TrimSpace(name)})
		s = after
	}
	return parts
}

// render fills the title template; an unknown field stays as written.
func (r *compiled) render(device string, fields map[string]any) string {
	if len(r.title) == 0 {
		return fmt.Sprintf("设备 %s: %s", device, r.ID)
	}
	var b strings.Builder
	for _, p := range r.title {
		switch {
		case p.field == "":
			b.WriteString(p.text)
		case p.field == "device":
			b.WriteString(device)
		case p.field == "rule":
			b.WriteString(r.ID)
		default:
			v, ok := fields[p.field]
			if !ok {
				b.WriteString("{{" + p.field + "}}")
				continue
			}
			b.WriteString(formatValue(v))
		}
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func cloneFields(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
