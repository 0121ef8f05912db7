package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"gongdan/internal/yamlkit"
)

// The walker below decodes a yaml.Node tree into Go structs by their yaml tags, like
// yaml.Node.Decode, but it keeps going after a problem and says where each one is: every unknown
// key (with a suggestion when it is close to a known one), every value of the wrong type and
// every ${VAR} it cannot expand becomes an Error with the file, the line and the key path.
// yaml.v3's own decoder stops at the first problem in many cases, words them for Go
// programmers, and does not check duplicate keys inside a yaml.Node at all.

// parseDocument parses data into the node of its top-level mapping.
func parseDocument(file string, data []byte) (*yaml.Node, Errors) {
	root, errs := parseOne(file, data, "config")
	if errs != nil {
		return nil, errs
	}
	if root == nil || isNull(root) {
		return nil, emptyFile(file)
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{File: file, Line: root.Line,
			Msg: fmt.Sprintf("the top level must be a mapping of sections (server:, store:, bus:, connectors:), not %s", describe(root))}}
	}
	return root, nil
}

// parseOne parses data, which must hold one YAML document (a what, for the message when it
// holds more), into the node of its top level; nil when data holds no document at all.
func parseOne(file string, data []byte, what string) (*yaml.Node, Errors) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{syntaxError(file, data, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Errors{syntaxError(file, data, err)}
	default:
		return nil, Errors{{File: file, Line: next.Line,
			Msg: "a " + what + " file holds one YAML document, and a second one starts here; remove the --- and what follows, or merge it into the first"}}
	}
	return doc.Content[0], nil
}

func emptyFile(file string) Errors {
	return Errors{{File: file, Msg: "the file is empty; a config needs at least a server: section (configs/gongdan.yaml in the source is a commented example)"}}
}

var yamlLineError = regexp.MustCompile(`^line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: did not find expected key") into an
// Error at that line.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if strings.HasPrefix(msg, "did not find expected") {
			// yaml.v3 reports its parser's errors (as opposed to its scanner's) with the
			// 0-based line number.
			line++
		}
	}
	// yaml.v3 places tab errors a line early, or nowhere; a tab in the indentation is easy to
	// find, and far the commonest cause of "cannot start any token".
	if tab := firstTabIndent(data); tab > 0 &&
		(strings.Contains(msg, "tab character") || (strings.Contains(msg, "cannot start any token") && (line == 0 || line == tab))) {
		return &Error{File: file, Line: tab, Msg: "YAML syntax: a tab in the indentation; YAML indents with spaces only"}
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax: " + msg}
}

// firstTabIndent returns the 1-based number of the first line indented with a tab, or 0.
func firstTabIndent(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return 0
}

// decoder walks one document. It collects problems rather than stopping at the first.
type decoder struct {
	file string
	// lookup is os.LookupEnv, or a fake in tests; nil for data files (the devices file), whose
	// strings are taken as written.
	lookup func(string) (string, bool)
	errs   Errors
	// lines maps each key path seen to the line of its key or list item, so that problems
	// found later (by validate) can be placed.
	lines map[string]int
	// bad holds the paths whose value could not be decoded; validation problems at them or
	// below them would only repeat the same mistake.
	bad map[string]bool
	// seen holds the nodes already expanded (scalars) or walked (collections) by
	// expand and expandTree: an anchor reached through several aliases, or through itself,
	// is handled once.
	seen map[*yaml.Node]bool
	// via is the line of the alias (*name) or merge key (<<:) the walk is currently going
	// through, 0 when none: keys reached that way are placed at the line that uses them, not at
	// the anchor that defines them.
	via int
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{
		file: file, lookup: lookup,
		lines: map[string]int{}, bad: map[string]bool{},
		seen: map[*yaml.Node]bool{},
	}
}

// report records a problem.
func (d *decoder) report(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with the value at path, which is left at its zero value.
func (d *decoder) fail(line int, path, format string, args ...any) {
	d.report(line, path, format, args...)
	d.bad[path] = true
}

// isBad reports whether path or one of its parents failed to decode.
func (d *decoder) isBad(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// lineOf returns the line of path or, for a key that is not in the file, of the nearest
// parent that is.
func (d *decoder) lineOf(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

var (
	connectorType   = reflect.TypeFor[Connector]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// at is the line to place key or list item n at.
func (d *decoder) at(n *yaml.Node) int {
	if d.via != 0 {
		return d.via
	}
	return n.Line
}

// through runs walk with the keys it reaches placed at line, unless the walk is already going
// through an alias or merge further out.
func (d *decoder) through(line int, walk func()) {
	if d.via == 0 {
		d.via = line
		defer func() { d.via = 0 }()
	}
	walk()
}

// value decodes n into v, the destination for path.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		d.through(n.Line, func() { d.value(path, n.Alias, v) })
		return
	}
	if isNull(n) {
		return // like an absent key: the default applies
	}
	if v.Type() == connectorType {
		d.connector(path, n, v)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if n.Kind == yaml.ScalarNode && !d.expand(path, n) {
			return
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n.Line, path, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		// Set the pointer only when its value decodes: a nil pointer means "not set", and the
		// default should apply rather than a zero value that was never written.
		ptr := reflect.New(v.Type().Elem())
		d.value(path, n, ptr.Elem())
		if !d.bad[path] {
			v.Set(ptr)
		}
	case reflect.Struct:
		d.structure(path, n, v)
	case reflect.Slice:
		d.list(path, n, v)
	case reflect.Map:
		d.dictionary(path, n, v)
	default:
		d.scalar(path, n, v)
	}
}

// walk decodes the pair's value with fill, its key placed at the line that sets it.
func (d *decoder) walk(p yamlkit.Pair, fill func()) {
	if p.Via != 0 {
		d.through(p.Via, fill)
		return
	}
	fill()
}

// pairs lists the keys of mapping n, its own and those merged in with <<: (yamlkit.Pairs).
// Later duplicates of a key are dropped; duplicates reports them.
func (d *decoder) pairs(path string, n *yaml.Node) []yamlkit.Pair {
	return yamlkit.Pairs(n, func(line int, msg string) { d.fail(line, path, "%s", msg) })
}

// duplicates reports every key set twice in one mapping, anywhere under n, including in the
// parts (connectors, sections) that the walker hands on without decoding. Aliases are not
// followed: the anchored node is checked where it is defined.
func (d *decoder) duplicates(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d.duplicates(indexPath(path, i), item)
		}
	case yaml.MappingNode:
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			if k.Kind == yaml.ScalarNode {
				if line, dup := first[k.Value]; dup {
					d.report(k.Line, kp, "mapping key %q already defined at line %d", k.Value, line)
					continue
				}
				first[k.Value] = k.Line
			}
			d.duplicates(kp, v)
		}
	}
}

// field is a struct field the walker fills, under its yaml name.
type field struct {
	name  string
	index []int
}

// fieldsOf lists the fields of struct type t under their yaml names, in declaration order,
// skipping unexported fields and fields tagged yaml:"-". Like yaml.v3, an untagged field goes
// by its lowercased name.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name: name, index: f.Index})
	}
	return out
}

// structure decodes mapping n into struct v.
func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping (key: value lines), got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, p := range d.pairs(path, n) {
		if p.Key.Kind != yaml.ScalarNode {
			d.report(p.Key.Line, path, "a key must be a plain name, not %s", describe(p.Key))
			continue
		}
		key := p.Key.Value
		kp := joinPath(path, key)
		i := indexOfField(fields, key)
		if i < 0 {
			d.unknownKey(p.Key.Line, kp, key, fields)
			continue
		}
		d.walk(p, func() {
			d.lines[kp] = d.at(p.Key)
			d.value(kp, p.Value, v.FieldByIndex(fields[i].index))
		})
	}
}

func indexOfField(fields []field, name string) int {
	for i, f := range fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// unknownKey reports key, suggesting the closest known key when it is a likely typo (at most
// two edits away, and fewer edits than key has letters: "a" is not a typo of "sla") and listing
// them all otherwise.
func (d *decoder) unknownKey(line int, path, key string, fields []field) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	d.report(line, path, "%s", yamlkit.UnknownKey(key, names))
}

// list decodes sequence n into slice v.
func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "want a list (lines starting with -), got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := indexPath(path, i)
		d.lines[ip] = d.at(item)
		d.value(ip, item, s.Index(i))
	}
	v.Set(s)
}

// dictionary decodes mapping n into map v, whose keys are strings.
func (d *decoder) dictionary(path string, n *yaml.Node, v reflect.Value) {
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: map key type %s is not supported", v.Type().Key()))
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping (key: value lines), got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(path, n) {
		if p.Key.Kind != yaml.ScalarNode {
			d.report(p.Key.Line, path, "a key must be a plain name, not %s", describe(p.Key))
			continue
		}
		kp := joinPath(path, p.Key.Value)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.walk(p, func() {
			d.lines[kp] = d.at(p.Key)
			d.value(kp, p.Value, elem)
		})
		m.SetMapIndex(reflect.ValueOf(p.Key.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// scalar decodes scalar n into v, a string, bool, integer or float.
func (d *decoder) scalar(path string, n *yaml.Node, v reflect.Value) {
	want := map[reflect.Kind]string{reflect.String: "a string", reflect.Bool: "true or false",
		reflect.Float32: "a number", reflect.Float64: "a number"}[v.Kind()]
	if v.CanInt() {
		want = "a whole number"
	}
	if want == "" {
		panic(fmt.Sprintf("config: field type %s is not supported", v.Type()))
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "want %s, got %s", want, describe(n))
		return
	}
	if !d.expand(path, n) {
		return
	}
	text := n.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		switch text {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n.Line, path, "want true or false, got %q", text)
		}
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
		if err != nil || v.OverflowFloat(f) {
			d.fail(n.Line, path, "want a number, got %q", text)
			return
		}
		v.SetFloat(f)
	default: // integers
		i, err := strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 0, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || (err == nil && v.OverflowInt(i)):
			d.fail(n.Line, path, "%s is too large", text)
		case err != nil:
			d.fail(n.Line, path, "want a whole number, got %q", text)
		default:
			v.SetInt(i)
		}
	}
}

// expand replaces ${VAR} references in a string scalar, in place, once. It reports false when a
// reference could not be expanded.
func (d *decoder) expand(path string, n *yaml.Node) bool {
	if d.lookup == nil || n.Tag != "!!str" || d.seen[n] {
		return true
	}
	d.seen[n] = true
	out, problems := yamlkit.ExpandEnv(n.Value, d.lookup)
	for _, msg := range problems {
		d.fail(n.Line, path, "%s", msg)
	}
	if problems != nil {
		return false
	}
	n.Value = out
	return true
}

// expandTree expands every string value (not key) under n in place: the parts of a connector
// that its own decoder reads later get the same ${VAR} treatment, and errors, as the rest.
func (d *decoder) expandTree(path string, n *yaml.Node) {
	if n.Kind != yaml.ScalarNode {
		if d.seen[n] {
			return
		}
		d.seen[n] = true
	}
	switch n.Kind {
	case yaml.ScalarNode:
		d.expand(path, n)
	case yaml.AliasNode:
		d.expandTree(path, n.Alias)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d.expandTree(indexPath(path, i), item)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if yamlkit.IsMerge(k) {
				d.expandTree(path, v)
			} else {
				d.expandTree(joinPath(path, k.Value), v)
			}
		}
	}
}

// connector decodes one item of connectors: name and type here, the rest kept as Raw for the
// connector's own decoder, so unknown keys in it are left for that decoder to judge.
func (d *decoder) connector(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping with at least name: and type:, got %s", describe(n))
		return
	}
	line, ok := d.lines[path]
	if !ok {
		line = d.at(n)
	}
	c := Connector{Line: line, Path: path, Raw: n}
	for _, p := range d.pairs(path, n) {
		var dst *string
		switch p.Key.Value {
		case "name":
			dst = &c.Name
		case "type":
			dst = &c.Type
		default:
			continue
		}
		kp := joinPath(path, p.Key.Value)
		d.walk(p, func() {
			d.lines[kp] = d.at(p.Key)
			d.value(kp, p.Value, reflect.ValueOf(dst).Elem())
		})
	}
	d.expandTree(path, n)
	v.Set(reflect.ValueOf(c))
}

// isNull reports whether n is an empty value (null, ~ or nothing after the colon).
func isNull(n *yaml.Node) bool { return yamlkit.IsNull(n) }

// describe names the kind of value n is, for "want X, got Y" messages, without quoting it.
func describe(n *yaml.Node) string { return yamlkit.Describe(n) }
