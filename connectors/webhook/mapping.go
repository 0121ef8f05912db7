package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"gongdan/normalize"
)

// envelopeTypeMapped is the type of envelopes whose payload a mapping turns into a draft.
const envelopeTypeMapped = "webhook.json"

// setter writes one mapped value into a draft. It converts what the expression gave to the
// field's type and says so when it cannot.
type setter func(d *normalize.Draft, v any) error

// mappable are the draft fields a mapping may set, and how.
var mappable = map[string]setter{
	"dedup_key":              str(func(d *normalize.Draft) *string { return &d.DedupKey }),
	"thread_key":             str(func(d *normalize.Draft) *string { return &d.ThreadKey }),
	"title":                  str(func(d *normalize.Draft) *string { return &d.Title }),
	"description":            str(func(d *normalize.Draft) *string { return &d.Description }),
	"category":               str(func(d *normalize.Draft) *string { return &d.Category }),
	"fault_code":             str(func(d *normalize.Draft) *string { return &d.FaultCode }),
	"urgency":                setUrgency,
	"tags":                   setTags,
	"occurred_at":            setTime,
	"source.kind":            str(func(d *normalize.Draft) *string { return &d.Source.Kind }),
	"source.external_id":     str(func(d *normalize.Draft) *string { return &d.Source.ExternalID }),
	"customer.id":            str(func(d *normalize.Draft) *string { return &d.Customer.ID }),
	"customer.name":          str(func(d *normalize.Draft) *string { return &d.Customer.Name }),
	"customer.phone":         str(func(d *normalize.Draft) *string { return &d.Customer.Phone }),
	"customer.wechat_openid": str(func(d *normalize.Draft) *string { return &d.Customer.WechatOpenID }),
	"customer.wecom_userid":  str(func(d *normalize.Draft) *string { return &d.Customer.WecomUserID }),
	"customer.org":           str(func(d *normalize.Draft) *string { return &d.Customer.Org }),
	"device.id":              str(func(d *normalize.Draft) *string { return &d.Device.ID }),
	"device.model":           str(func(d *normalize.Draft) *string { return &d.Device.Model }),
	"device.firmware":        str(func(d *normalize.Draft) *string { return &d.Device.Firmware }),
	"device.product_type":    str(func(d *normalize.Draft) *string { return &d.Device.ProductType }),
	"location.address":       str(func(d *normalize.Draft) *string { return &d.Location.Address }),
	"location.city":          str(func(d *normalize.Draft) *string { return &d.Location.City }),
	"location.lat":           num(func(d *normalize.Draft) *float64 { return &d.Location.Lat }),
	"location.lon":           num(func(d *normalize.Draft) *float64 { return &d.Location.Lon }),
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
		m.rules = append(m.rules, rule{field: f, code: exprs[f], program: p, set: set})
	}
	return m, errs
}

// Normalize evaluates the mapping over the envelope's JSON and returns the one draft it makes.
// Every error names the field whose expression failed, so the dead letter says what to fix.
func (m *mapping) Normalize(env normalize.Envelope) ([]normalize.Draft, error) {
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
	var d normalize.Draft
	var errs []error
	for _, r := range m.rules {
		v, err := expr.Run(r.program, in)
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
	d = normalize.Complete(d, env)
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("the mapped draft is not valid: %w", err)
	}
	return []normalize.Draft{d}, nil
}

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

func str(field func(*normalize.Draft) *string) setter {
	return func(d *normalize.Draft, v any) error {
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

func num(field func(*normalize.Draft) *float64) setter {
	return func(d *normalize.Draft, v any) error {
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

func setUrgency(d *normalize.Draft, v any) error {
	s, err := asString(v)
	if err != nil {
		return err
	}
	u := normalize.Urgency(strings.ToLower(s))
	if u != "" && !u.Valid() {
		return fmt.Errorf("%q is not an urgency (one of: blue, yellow, orange, red)", s)
	}
	d.Urgency = u
	return nil
}

func setTags(d *normalize.Draft, v any) error {
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
func setTime(d *normalize.Draft, v any) error {
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
func setUnixTime(d *normalize.Draft, x float64) error {
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
