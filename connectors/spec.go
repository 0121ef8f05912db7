package connectors

import (
	"fmt"
	"regexp"
)

// Kind is the type of a config field's value.
type Kind string

const (
	KindString     Kind = "string"
	KindPath       Kind = "path" // a file or folder; a relative one is under the data root (Env.DataDir)
	KindInt        Kind = "int"
	KindFloat      Kind = "float"
	KindBool       Kind = "bool"
	KindDuration   Kind = "duration"    // "30s", "5m"; "0" is zero
	KindStringList Kind = "string list" // ["a", "b"]
	KindStringMap  Kind = "string map"  // {key: value}; the keys are the user's, not the spec's
	KindObject     Kind = "object"      // a mapping with the fields in Field.Fields
	KindObjectList Kind = "object list" // a list of such mappings
)

// Spec describes a connector type: its config fields, its docs and its constructor. Each
// connector package builds one in a function (spec()) and registers it in init(). The docs in
// docs/connectors/ are generated from it, so what a user reads is what validate checks.
type Spec struct {
	// Type is what users write as type: ("webhook", "mqtt", "wechat.work").
	Type string
	// Summary is one line for the connector list.
	Summary string
	// Description is the docs' body, in Markdown: what the connector does, how it acks its
	// source, what an operator must know.
	Description string
	// Mount is the HTTP path prefix the connector's handler is served under ("ingest" for
	// /ingest/{name}, "wechat" for /wechat/{name}); empty for connectors that dial out.
	Mount string
	// Fields are the keys an instance may set besides name and type.
	Fields []Field
	// Example is a complete connectors: item, as YAML, for the docs and the sample file. A
	// test checks that it validates.
	Example string
	// New builds an instance from its checked config. It must have no side effects: no
	// connections, goroutines or files. validate and dry runs call it too.
	New Constructor
	// Intents are the draft intents (draft.IntentUpdate, IntentResolve) this type uses for
	// its own incidents and threads (an MQTT clear resolves the alarm's own ticket): the
	// pipeline honours them from every instance of the type. Any other connector sends them
	// only when its config opts in (trust.intents).
	Intents []string
}

// Field is one config key of a connector type.
type Field struct {
	// Name is the key, lower_snake_case.
	Name string
	Kind Kind
	// Description says what the field does, for the docs and for error messages.
	Description string
	// Default is the value when the key is absent, of the Go type the kind reads as (string,
	// int, float64, bool, time.Duration, []string, map[string]string). nil means none.
	Default any
	// Example is a value shown in the docs, written as in YAML.
	Example string
	// Required fields must be present and not empty.
	Required bool
	// Secret fields are never printed: not in errors, logs, docs examples nor API answers.
	Secret bool
	// Enum, when set, lists the only values a string field may take.
	Enum []string
	// Min and Max bound numbers (and durations, in seconds); nil means unbounded.
	Min, Max *float64
	// Pattern is a regular expression a string (or each string of a list) must match;
	// PatternHint says in words what it means.
	Pattern     string
	PatternHint string
	// Check is any further check of the value (of the Go type the kind reads as).
	Check func(v any) error
	// Fields are the keys of an object or of each item of an object list.
	Fields []Field
	// Advanced fields are listed after the others in the docs.
	Advanced bool

	pattern *regexp.Regexp
}

// Bound is a helper for Field.Min and Field.Max.
func Bound(v float64) *float64 { return &v }

// compile prepares the fields' patterns, and panics on a broken spec: a spec is code, and a
// wrong one must fail the first test that registers it.
func compile(where string, fields []Field, top bool) {
	seen := map[string]bool{}
	if top {
		seen["name"], seen["type"] = true, true
	}
	for i := range fields {
		f := &fields[i]
		if seen[f.Name] {
			panic(fmt.Sprintf("connectors: %s: field %q declared twice (name and type are reserved)", where, f.Name))
		}
		seen[f.Name] = true
		if f.Pattern != "" {
			f.pattern = regexp.MustCompile(f.Pattern)
		}
		switch f.Kind {
		case KindString, KindPath, KindInt, KindFloat, KindBool, KindDuration, KindStringList, KindStringMap:
		case KindObject, KindObjectList:
			compile(where+"."+f.Name, f.Fields, false)
			continue
		default:
			panic(fmt.Sprintf("connectors: %s: field %q has unknown kind %q", where, f.Name, f.Kind))
		}
		if len(f.Fields) > 0 {
			panic(fmt.Sprintf("connectors: %s: field %q of kind %s cannot have sub-fields", where, f.Name, f.Kind))
		}
	}
}
