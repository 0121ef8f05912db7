package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"gongdan/draft"
)

// envelopeTypeMapped is the type of envelopes whose payload a mapping turns into a draft.
const envelopeTypeMapped = "webhook.json"

// setter writes one mapped value into a draft. It converts what the expression gave to the
// field's type and says so when it cannot.
type setter func(d *draft.Draft, v any) error

// mappable are the draft fields a mapping may set, and how.
var mappable = map[string]setter{
	"dedup_key":              str(func(d *draft.Draft) *string { return &d.DedupKey }),
	"thread_key":             str(func(d *draft.Draft) *string { return &d.ThreadKey }),
	"title":                  str(func(d *draft.Draft) *string { return &d.Title }),
	"description":            str(func(d *draft.Draft) *string { return &d.Description }),
	"category":               str(func(d *draft.Draft) *string { return &d.Category }),
	"fault_code":             str(func(d *draft.Draft) *string { return &d.FaultCode }),
	"urgency":                setUrgency,
	"tags":                   setTags,
	"occurred_at":            setTime,
	"source.kind":            str(func(d *draft.Draft) *string { return &d.Source.Kind }),
	"source.external_id":     str(func(d *draft.Draft) *string { return &d.Source.ExternalID }),
	"customer.id":            str(func(d *draft.Draft) *string { return &d.Customer.ID }),
	"customer.name":          str(func(d *draft.Draft) *string { return &d.Customer.Name }),
	"customer.phone":         str(func(d *draft.Draft) *string { return &d.Customer.Phone }),
	"customer.wechat_openid": str(func(d *draft.Draft) *string { return &d.Customer.WechatOpenID }),
	"customer.wecom_userid":  str(func(d *draft.Draft) *string { return &d.Customer.WecomUserID }),
	"customer.org":           str(func(d *draft.Draft) *string { return &d.Customer.Org }),
	"customer.email":         str(func(d *draft.Draft) *string { return &d.Customer.Email }),
	"device.id":              str(func(d *draft.Draft) *string { return &d.Device.ID }),
	"device.model":           str(func(d *draft.Draft) *string { return &d.Device.Model }),
	"device.firmware":        str(func(d *draft.Draft) *string { return &d.Device.Firmware }),
	"device.product_type":    str(func(d *draft.Draft) *string { return &d.Device.ProductType }),
	"location.address":       str(func(d *draft.Draft) *string { return &d.Location.Address }),
	"location.city":          str(func(d *draft.Draft) *string { return &d.Location.City }),
	"location.lat":           num(func(d *draft.Draft) *float64 { return &d.Location.Lat }),
	"location.lon":           num(func(d *draft.Draft) *float64 { return &d.Location.Lon }),
}

// keyFields make a draft one request (dedup_key) or one conversation (thread_key): a value
// that does not depend on the request would join every request to the first.
var keyFields = map[string]string{
	"dedup_key":  "the request's own key",
	"thread_key": "no thread",
}

// idFields name someone or something the core looks up by id: a value made of a missing field
// would name one customer or device for every request without it.
var idFields = map[string]bool{
	"source.external_id": true, "customer.id": true, "customer.wechat_openid": true, "customer.wecom_userid": true, "device.id": true,
}

func mappableList() string {
	keys := make([]string, 0, len(mappable))
	for k := range mappable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// mappingEnv is what expressions see. A struct, so that a misspelt variable fails at compile
// time (validate), not on the first request.
type mappingEnv struct {
	Payload    any               `expr:"payload"`
	Headers    map[string]string `expr:"headers"`
	ReceivedAt time.Time         `expr:"received_at"`
}

// rule is one compiled mapping entry.
type rule struct {
	field   string
	code    string
	program *vm.Program
	set     setter
	// constant is what a key or id expression gives for a request that carries nothing
	// (emptyRequest), as a string; "" when that is empty or an error. A request's key equal
	// to it depends on nothing the request carries.
	constant string
}

// emptyRequest is a request that carries nothing: an empty payload, no headers, no time.
func emptyRequest() mappingEnv {
	return mappingEnv{Payload: map[string]any{}, Headers: map[string]string{}}
}

// mapping is a webhook's compiled field mapping; it is the normalizer of its envelopes.
type mapping struct {
	rules []rule
}

// compileMapping compiles each entry; errors name the entry.
func compileMapping(fields []string, exprs map[string]string) (*mapping, map[string]error) {
	m := &mapping{}
	errs := map[string]error{}
	for _, f := range fields {
		set, ok := mappable[f]
		if !ok {
			errs[f] = fmt.Errorf("%q is not a draft field a mapping can set (one of: %s)", f, mappableList())
			continue
		}
		// now() is left out: a normalizer is pure, and a replayed envelope must map as it
		// did the first time. received_at is the envelope's "now".
		p, err := expr.Compile(exprs[f], expr.Env(mappingEnv{}), expr.MaxNodes(2000), expr.DisableBuiltin("now"))
		if err != nil {
			errs[f] = fmt.Errorf("expression does not compile: %s", oneLine(err))
			continue
		}
		r := rule{field: f, code: exprs[f], program: p, set: set}
		if f == "dedup_key" && !readsRequest(p.Node()) {
			// One key for every request: all but the first would vanish as duplicates. (A
			// constant thread_key is one thread, which a single monitor may want; a constant
			// id is one customer or device.)
			errs[f] = fmt.Errorf("reads nothing of the request (payload, headers or received_at), so every request would have the same key and all but the first would be dropped as duplicates; map an id of the payload, or leave dedup_key out to key each request by its own id")
			continue
		}
		if _, isKey := keyFields[f]; isKey || idFields[f] {
			// Once, here: expressions are pure (no now()), so the answer is the same for
			// every request. An error means the key needs something of the request: fine.
			if v, err := expr.Run(p, emptyRequest()); err == nil {
				r.constant, _ = asString(v)
			}
		}
		m.rules = append(m.rules, r)
	}
	return m, errs
}

// Normalize evaluates the mapping over the envelope's JSON and returns the one draft it makes.
// Every error names the field whose expression failed, so the dead letter says what to fix.
func (m *mapping) Normalize(env draft.Envelope) ([]draft.Draft, error) {
	var payload any
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.UseNumber() // order ids beyond 2^53 stay exact
	if err := dec.Decode(&payload); err != nil {
		return nil, fmt.Errorf("payload: malformed JSON: %v", err)
	}
	in := mappingEnv{Payload: plainNumbers(payload), Headers: env.Headers, ReceivedAt: env.ReceivedAt}
	if in.Headers == nil {
		in.Headers = map[string]string{}
	}
	var d draft.Draft
	var errs []error
	for _, r := range m.rules {
		v, err := expr.Run(r.program, in)
		if err == nil {
			err = r.checkKey(v, in.Payload)
		}
		if err == nil {
			err = r.set(&d, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mapping %s (%s): %s", r.field, r.code, oneLine(err)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d = draft.Complete(d, env)
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("the mapped draft is not valid: %w", err)
	}
	return []draft.Draft{d}, nil
}

// checkKey refuses a key or id that is not the request's own: nil from a key expression (a
// field it reads is missing), "<nil>" (expr's string(nil)), an id cut off after its separator
// ("crm/"), true or false, or — when a field it reads is missing — the very value a request
// that carries nothing gets ("order-" of '"order-" + string(payload.order_id ?? "")', "0" of
// 'string(payload.customer_no ?? 0)'). Each would be one value for every request without the
// field, and every one of them but the first would vanish as a duplicate of it, or join its
// thread.
func (r rule) checkKey(v any, payload any) error {
	fallback, isKey := keyFields[r.field]
	if !isKey && !idFields[r.field] {
		return nil
	}
	if fallback == "" {
		fallback = "none"
	}
	noun := "id"
	if isKey {
		noun = "key"
	}
	var what string
	switch v := v.(type) {
	case nil:
		if !isKey {
			return nil // an id left out: the draft has none
		}
		what = "nothing (nil)"
	case bool:
		return fmt.Errorf("gave %v: true or false names no request; map an id of the payload, or \"\" for %s", v, fallback)
	case string:
		s := strings.TrimSpace(v)
		switch {
		case strings.Contains(s, "<nil>"):
			what = fmt.Sprintf("%q (string() of a missing field)", s)
		case strings.HasSuffix(s, "/") || strings.HasSuffix(s, ":"):
			what = fmt.Sprintf("%q, with nothing after its separator", s)
		}
	}
	missing := missingFields(r.program.Node(), payload)
	if what == "" {
		s, err := asString(v)
		if err != nil || s == "" || s != r.constant {
			return nil
		}
		if len(missing) == 0 {
			// The request has every field the expression reads and merely takes the branch
			// an empty one takes (region "west" and "east" both to "desk/main"): its own.
			return nil
		}
		what = fmt.Sprintf("%q, the same as a request that carries nothing (no payload fields, no headers) gets", s)
	}
	why, cond := "a field it reads is missing or empty in this request", "<field> != nil"
	if len(missing) > 0 {
		var said []string
		for _, m := range missing {
			said = append(said, m.String())
		}
		why, cond = strings.Join(said, ", "), missing[0].condition()
	}
	return fmt.Errorf("gave %s: %s, and every request without it would share this %s. "+
		"Say what such a request gets, with an empty string (%s): %s ? %s : \"\"", what, why, noun, fallback, cond, r.code)
}

// absent is a payload field an expression reads that a payload lacks (or holds as null), or
// holds as "".
type absent struct {
	path  []string
	empty bool
}

func (a absent) String() string {
	if a.empty {
		return "payload." + strings.Join(a.path, ".") + " is empty in this request"
	}
	return "payload." + strings.Join(a.path, ".") + " is missing from this request"
}

// condition is the expr test that the field is there: optional steps after the first, so that
// it holds whatever is missing.
func (a absent) condition() string {
	ref := "payload." + strings.Join(a.path, "?.")
	if a.empty {
		return "(" + ref + " ?? \"\") != \"\""
	}
	return ref + " != nil"
}

// missingFields lists the payload fields an expression reads (payload.a.b) that this payload
// lacks, holds as null or as "": the reason a key came out empty, for the dead letter. Only the
// first absent step of each path is named (payload.contact, not payload.contact.mobile too).
func missingFields(node ast.Node, payload any) []absent {
	var paths [][]string
	ast.Walk(&node, visitor(func(n *ast.Node) {
		if p, ok := payloadPath(*n); ok {
			paths = append(paths, p)
		}
	}))
	var out []absent
	for _, p := range paths {
		v := payload
		for i, step := range p {
			obj, _ := v.(map[string]any)
			v = obj[step]
			if v == nil || v == "" {
				a := absent{path: p[:i+1], empty: v == ""}
				if !slices.ContainsFunc(out, func(b absent) bool { return slices.Equal(a.path, b.path) }) {
					out = append(out, a)
				}
				break
			}
		}
	}
	return out
}

// readsRequest reports whether an expression reads anything of the request: payload,
// headers or received_at.
func readsRequest(node ast.Node) bool {
	reads := false
	ast.Walk(&node, visitor(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok && (id.Value == "payload" || id.Value == "headers" || id.Value == "received_at") {
			reads = true
		}
	}))
	return reads
}

// payloadPath reads payload.a.b (or payload?.a, payload["a"]) as [a b].
func payloadPath(n ast.Node) ([]string, bool) {
	switch n := n.(type) {
	case *ast.ChainNode:
		return payloadPath(n.Node)
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return nil, false
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok {
			return []string{prop.Value}, id.Value == "payload"
		}
		head, ok := payloadPath(n.Node)
		return append(head, prop.Value), ok
	}
	return nil, false
}

type visitor func(*ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }

// plainNumbers turns json.Number into int (when whole and in range) or float64, so expressions
// compare numbers as people expect; string() of a big order id keeps every digit.
func plainNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return int(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = plainNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = plainNumbers(x)
		}
	}
	return v
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func str(field func(*draft.Draft) *string) setter {
	return func(d *draft.Draft, v any) error {
		s, err := asString(v)
		if err == nil {
			*field(d) = s
		}
		return err
	}
}

func asString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("want a string, got %s", kindOf(v))
}

func num(field func(*draft.Draft) *float64) setter {
	return func(d *draft.Draft, v any) error {
		switch v := v.(type) {
		case nil:
			return nil
		case int:
			*field(d) = float64(v)
		case float64:
			*field(d) = v
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("want a number, got %q", v)
			}
			*field(d) = f
		default:
			return fmt.Errorf("want a number, got %s", kindOf(v))
		}
		return nil
	}
}

func setUrgency(d *draft.Draft, v any) error {
	s, err := asString(v)
	if err != nil {
		return err
	}
	u := draft.Urgency(strings.ToLower(s))
	if u != "" && !u.Valid() {
		return fmt.Errorf("%q is not an urgency (one of: blue, yellow, orange, red)", s)
	}
	d.Urgency = u
	return nil
}

func setTags(d *draft.Draft, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		if s := strings.TrimSpace(v); s != "" {
			d.Tags = append(d.Tags, s)
		}
		return nil
	case []any:
		for _, x := range v {
			s, err := asString(x)
			if err != nil {
				return fmt.Errorf("tags: %v", err)
			}
			if s != "" {
				d.Tags = append(d.Tags, s)
			}
		}
		return nil
	case []string:
		d.Tags = append(d.Tags, v...)
		return nil
	}
	return fmt.Errorf("want a list of strings, got %s", kindOf(v))
}

// setTime reads occurred_at: an RFC 3339 string, a time, or Unix seconds (milliseconds when
// the number is too big to be seconds).
func setTime(d *draft.Draft, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case time.Time:
		d.OccurredAt = v
	case string:
		if strings.TrimSpace(v) == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("want an RFC 3339 time like 2026-11-23T09:42:00+08:00, got %q", v)
		}
		d.OccurredAt = t
	case int:
		return setUnixTime(d, float64(v))
	case float64:
		return setUnixTime(d, v)
	default:
		return fmt.Errorf("want a time, got %s", kindOf(v))
	}
	return nil
}

// Unix times a draft can hold: years 1 to 9999, as JSON (RFC 3339) can write them.
const (
	minUnixSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxUnixSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// setUnixTime reads Unix seconds, or milliseconds when the number is too big to be seconds. The
// time is in UTC, not the host's zone: the same envelope maps to the same draft on every host.
func setUnixTime(d *draft.Draft, x float64) error {
	t, ok := time.Time{}, false
	switch {
	case x > 1e11: // past the year 5138 as seconds: it is milliseconds
		if ok = x <= maxUnixSeconds*1000; ok {
			t = time.UnixMilli(int64(x))
		}
	case x >= minUnixSeconds:
		t, ok = time.Unix(int64(x), 0), true
	}
	if !ok { // NaN too: it compares false
		return fmt.Errorf("want a time, got %v: outside the years 1 to 9999 as Unix seconds or milliseconds", x)
	}
	d.OccurredAt = t.UTC()
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "true/false"
	}
	return fmt.Sprintf("a %T", v)
}
