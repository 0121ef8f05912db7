package connectors

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/internal/yamlkit"
)

// Conf is one connector instance's config, checked against its spec. Getters read a field by
// name, with the spec's default when the key is absent; asking for a field the spec does not
// declare, or as the wrong kind, is a programming error and panics.
type Conf struct {
	name   string
	typ    string
	file   string
	path   string // "connectors[2]" or "connectors[2].rules[0]"
	line   int
	fields []Field
	values map[string]any
	lines  map[string]int
	// root is what relative paths (KindPath) are under: Env.DataDir.
	root string
}

// Name is the instance's name.
func (c *Conf) Name() string { return c.name }

// Type is the instance's connector type.
func (c *Conf) Type() string { return c.typ }

// Has reports whether the key was set in the file.
func (c *Conf) Has(key string) bool {
	_, ok := c.values[key]
	return ok
}

func (c *Conf) get(key string, kind Kind) any {
	i := slices.IndexFunc(c.fields, func(f Field) bool { return f.Name == key })
	if i < 0 {
		panic(fmt.Sprintf("connectors: %s has no field %q", c.typ, key))
	}
	f := c.fields[i]
	if f.Kind != kind {
		panic(fmt.Sprintf("connectors: %s field %q is a %s, not a %s", c.typ, key, f.Kind, kind))
	}
	if v, ok := c.values[key]; ok {
		return v
	}
	return f.Default
}

// String reads a string field ("" when absent without a default).
func (c *Conf) String(key string) string { s, _ := c.get(key, KindString).(string); return s }

// Path reads a path field: a file or folder named in the config. A relative path is under
// the data root (serve --data), as every relative path of the config is, never under the
// directory the process happens to be started in. "" when absent without a default.
func (c *Conf) Path(key string) string {
	s, _ := c.get(key, KindPath).(string)
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(c.root, s)
}

// Secret reads a secret string field.
func (c *Conf) Secret(key string) yamlkit.Secret { return yamlkit.Secret(c.String(key)) }

// Int reads an int field.
func (c *Conf) Int(key string) int { n, _ := c.get(key, KindInt).(int); return n }

// Float reads a float field.
func (c *Conf) Float(key string) float64 { f, _ := c.get(key, KindFloat).(float64); return f }

// Bool reads a bool field.
func (c *Conf) Bool(key string) bool { b, _ := c.get(key, KindBool).(bool); return b }

// Duration reads a duration field.
func (c *Conf) Duration(key string) time.Duration {
	d, _ := c.get(key, KindDuration).(time.Duration)
	return d
}

// StringList reads a string list field.
func (c *Conf) StringList(key string) []string {
	l, _ := c.get(key, KindStringList).([]string)
	return slices.Clone(l)
}

// StringMap reads a string map field; StringMapKeys gives its keys in file order.
func (c *Conf) StringMap(key string) map[string]string {
	m, _ := c.get(key, KindStringMap).(orderedMap)
	out := make(map[string]string, len(m.keys))
	for i, k := range m.keys {
		out[k] = m.values[i]
	}
	return out
}

// StringMapKeys gives the keys of a string map field in the order the file has them.
func (c *Conf) StringMapKeys(key string) []string {
	m, _ := c.get(key, KindStringMap).(orderedMap)
	return slices.Clone(m.keys)
}

// Object reads an object field; nil when absent.
func (c *Conf) Object(key string) *Conf { o, _ := c.get(key, KindObject).(*Conf); return o }

// ObjectList reads an object list field.
func (c *Conf) ObjectList(key string) []*Conf {
	l, _ := c.get(key, KindObjectList).([]*Conf)
	return l
}

// Errorf makes an error about key (a field of this Conf, or "" for the instance as a whole)
// that Registry.Validate reports at the key's file:line. Constructors and Validate use it.
func (c *Conf) Errorf(key, format string, args ...any) error {
	path := c.path
	if key != "" {
		path = joinKey(c.path, key)
	}
	line, ok := c.lines[key]
	if !ok {
		line = c.line
	}
	return &yamlkit.Error{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// orderedMap keeps a string map's keys in file order: mapping expressions run in that order,
// and error messages follow the file.
type orderedMap struct {
	keys, values []string
}

func joinKey(path, key string) string {
	if strings.HasPrefix(key, "[") {
		return path + key
	}
	return path + "." + key
}

// parser checks a connector's YAML against its spec, collecting every problem.
type parser struct {
	file string
	errs []*yamlkit.Error
}

func (p *parser) report(line int, path, format string, args ...any) {
	p.errs = append(p.errs, &yamlkit.Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// pairs lists mapping n's keys, its own and those merged in with <<: (yamlkit.Pairs, as the
// config walker reads them), reporting a key set twice and a << that merges no mapping. skip
// are keys whose duplicates someone else reports.
func (p *parser) pairs(path string, n *yaml.Node, skip ...string) []yamlkit.Pair {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if yamlkit.IsMerge(k) || slices.Contains(skip, k.Value) {
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.report(k.Line, joinKey(path, k.Value), "set twice (also on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
	}
	bad := func(line int, msg string) { p.report(line, path, "%s", msg) }
	if len(skip) > 0 {
		// The item's own mapping (name, type and the rest): config's walker read it through
		// the same Pairs to find name and type, and reported its merges.
		bad = func(int, string) {}
	}
	return yamlkit.Pairs(n, bad)
}

// object checks mapping n against fields. skip lists keys owned by someone else (name, type).
func (p *parser) object(c *Conf, n *yaml.Node, skip ...string) {
	c.values, c.lines = map[string]any{}, map[string]int{}
	n = yamlkit.Resolve(n)
	if n.Kind != yaml.MappingNode {
		p.report(n.Line, c.path, "want a mapping, got %s", yamlkit.Describe(n))
		return
	}
	known := make([]string, len(c.fields))
	for i, f := range c.fields {
		known[i] = f.Name
	}
	for _, pr := range p.pairs(c.path, n, skip...) {
		k, v := pr.Key, pr.Value
		if slices.Contains(skip, k.Value) {
			continue
		}
		path := joinKey(c.path, k.Value)
		j := slices.IndexFunc(c.fields, func(f Field) bool { return f.Name == k.Value })
		if j < 0 {
			p.report(pr.Line(), path, "%s", yamlkit.UnknownKey(k.Value, known))
			continue
		}
		c.lines[k.Value] = pr.Line()
		f := c.fields[j]
		if isNull(v) {
			if f.Required {
				p.report(pr.Line(), path, "required: %s", f.Description)
			}
			continue
		}
		if val, ok := p.value(c, f, path, v); ok {
			c.values[f.Name] = val
		}
	}
	for _, f := range c.fields {
		if _, ok := c.lines[f.Name]; !ok && f.Required {
			p.report(n.Line, joinKey(c.path, f.Name), "required: %s", f.Description)
		}
	}
}

// value reads and lints one field value; ok is false when it was reported as wrong.
func (p *parser) value(c *Conf, f Field, path string, n *yaml.Node) (any, bool) {
	n = yamlkit.Resolve(n)
	before := len(p.errs)
	var v any
	switch f.Kind {
	case KindString, KindPath, KindInt, KindFloat, KindBool, KindDuration:
		v = p.scalar(f, path, n)
	case KindStringList:
		if n.Kind != yaml.SequenceNode {
			p.report(n.Line, path, "want a list of strings, got %s", yamlkit.Describe(n))
			return nil, false
		}
		l := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			s, _ := p.scalar(Field{Kind: KindString, Secret: f.Secret, Enum: f.Enum, pattern: f.pattern, PatternHint: f.PatternHint}, fmt.Sprintf("%s[%d]", path, i), item).(string)
			l = append(l, s)
		}
		v = l
	case KindStringMap:
		if n.Kind != yaml.MappingNode {
			p.report(n.Line, path, "want a mapping of strings, got %s", yamlkit.Describe(n))
			return nil, false
		}
		var m orderedMap
		for _, pr := range p.pairs(path, n) {
			k := pr.Key
			c.lines[f.Name+"."+k.Value] = pr.Line()
			s, _ := p.scalar(Field{Kind: KindString, Secret: f.Secret}, joinKey(path, k.Value), pr.Value).(string)
			m.keys, m.values = append(m.keys, k.Value), append(m.values, s)
		}
		v = m
	case KindObject:
		o := &Conf{name: c.name, typ: c.typ, file: c.file, path: path, line: n.Line, fields: f.Fields, root: c.root}
		p.object(o, n)
		v = o
	case KindObjectList:
		if n.Kind != yaml.SequenceNode {
			p.report(n.Line, path, "want a list of mappings, got %s", yamlkit.Describe(n))
			return nil, false
		}
		l := make([]*Conf, 0, len(n.Content))
		for i, item := range n.Content {
			o := &Conf{name: c.name, typ: c.typ, file: c.file, path: fmt.Sprintf("%s[%d]", path, i), line: item.Line, fields: f.Fields, root: c.root}
			p.object(o, item)
			l = append(l, o)
		}
		v = l
	}
	if len(p.errs) > before {
		return nil, false
	}
	if f.Required && isEmpty(v) {
		p.report(n.Line, path, "required: %s", f.Description)
		return nil, false
	}
	if f.Check != nil {
		if err := f.Check(v); err != nil {
			p.report(n.Line, path, "%v", err)
			return nil, false
		}
	}
	return v, true
}

// scalar reads a scalar of f.Kind. Messages never quote a secret field's value.
func (p *parser) scalar(f Field, path string, n *yaml.Node) any {
	n = yamlkit.Resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.report(n.Line, path, "want %s, got %s", article(f.Kind), yamlkit.Describe(n))
		return nil
	}
	shown := strconv.Quote(n.Value)
	if f.Secret {
		shown = "the value"
	}
	var v any
	var num float64
	switch f.Kind {
	case KindString, KindPath:
		if n.Value == "" && f.Required {
			p.report(n.Line, path, "required: %s", f.Description)
			return nil
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, n.Value) {
			p.report(n.Line, path, "%s is not one of: %s", shown, strings.Join(f.Enum, ", "))
			return nil
		}
		if f.pattern != nil && !f.pattern.MatchString(n.Value) {
			hint := f.PatternHint
			if hint == "" {
				hint = "must match " + f.pattern.String()
			}
			p.report(n.Line, path, "%s: %s", shown, hint)
			return nil
		}
		return n.Value
	case KindInt:
		i, err := strconv.Atoi(n.Value)
		if err != nil {
			p.report(n.Line, path, "want a whole number, got %s", shown)
			return nil
		}
		v, num = i, float64(i)
	case KindFloat:
		x, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			p.report(n.Line, path, "want a number, got %s", shown)
			return nil
		}
		v, num = x, x
	case KindBool:
		switch n.Value {
		case "true":
			return true
		case "false":
			return false
		}
		p.report(n.Line, path, "want true or false, got %s", shown)
		return nil
	case KindDuration:
		var d yamlkit.Duration
		if err := d.UnmarshalYAML(n); err != nil {
			p.report(n.Line, path, "%v", err)
			return nil
		}
		v, num = d.Std(), d.Std().Seconds()
	}
	unit := ""
	if f.Kind == KindDuration {
		unit = "s"
	}
	if f.Min != nil && num < *f.Min {
		p.report(n.Line, path, "%s is below the minimum %v%s", shown, *f.Min, unit)
		return nil
	}
	if f.Max != nil && num > *f.Max {
		p.report(n.Line, path, "%s is above the maximum %v%s", shown, *f.Max, unit)
		return nil
	}
	return v
}

func article(k Kind) string {
	switch k {
	case KindInt:
		return "a whole number"
	case KindFloat:
		return "a number"
	case KindBool:
		return "true or false"
	case KindDuration:
		return "a duration like 30s or 5m"
	}
	return "a " + string(k)
}

func isNull(n *yaml.Node) bool { return yamlkit.IsNull(n) }

// isEmpty reports an empty list or mapping: a required one must have something in it (an
// empty string is caught by scalar).
func isEmpty(v any) bool {
	switch v := v.(type) {
	case []string:
		return len(v) == 0
	case orderedMap:
		return len(v.keys) == 0
	case []*Conf:
		return len(v) == 0
	}
	return false
}

// asConfigErrors turns an error from a constructor or Validate into located config errors:
// *yamlkit.Error values (from Conf.Errorf) keep their place, anything else is put on the
// instance's line.
func asConfigErrors(c *Conf, err error) []*yamlkit.Error {
	if err == nil {
		return nil
	}
	// A joined error first: errors.As would find only its first *yamlkit.Error.
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*yamlkit.Error
		for _, e := range joined.Unwrap() {
			out = append(out, asConfigErrors(c, e)...)
		}
		return out
	}
	var ces yamlkit.Errors
	if errors.As(err, &ces) {
		return ces
	}
	var ce *yamlkit.Error
	if errors.As(err, &ce) {
		return []*yamlkit.Error{ce}
	}
	return []*yamlkit.Error{{File: c.file, Line: c.line, Path: c.path, Msg: err.Error()}}
}
