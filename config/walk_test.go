package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEnv is a lookup over a fixed environment.
func fakeEnv(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestJoinAndParentPath(t *testing.T) {
	assert.Equal(t, "server", joinPath("", "server"))
	assert.Equal(t, "server.tokens", joinPath("server", "tokens"))
	assert.Equal(t, "server.tokens[1]", joinPath("server.tokens", "[1]"))
	assert.Equal(t, "server", joinPath("server", ""))
	assert.Equal(t, "server.tokens", parentPath("server.tokens[1]"))
	assert.Equal(t, "server.tokens[1]", parentPath("server.tokens[1].role"))
	assert.Equal(t, "", parentPath("server"))
}

// sample exercises the parts of the walker the current Config does not use yet but later
// sections will: durations, floats, maps, pointers to scalars, lists of structs.
type sample struct {
	Timeout  Duration            `yaml:"timeout"`
	Weight   float64             `yaml:"weight"`
	Limits   map[string]int      `yaml:"limits"`
	Retries  *int                `yaml:"retries"`
	Hours    map[string][]string `yaml:"hours"`
	Items    []sampleItem        `yaml:"items"`
	Ignored  string              `yaml:"-"`
	Untagged string
}

type sampleItem struct {
	ID   string `yaml:"id"`
	Size int    `yaml:"size"`
}

// decodeSample walks input into a sample.
func decodeSample(t *testing.T, input string, env map[string]string) (sample, Errors) {
	t.Helper()
	root, errs := parseDocument("w.yaml", []byte(input))
	require.Nil(t, errs)
	d := newDecoder("w.yaml", fakeEnv(env))
	d.duplicates("", root)
	var s sample
	d.value("", root, reflect.ValueOf(&s).Elem())
	d.errs.SortByLine()
	return s, d.errs
}

func TestWalkerDecodesEveryKind(t *testing.T) {
	s, errs := decodeSample(t, `
timeout: ${TIMEOUT:-90s}
weight: 0.25
limits: {open: 5, daily: 1_000}
retries: 0
hours:
  mon: ["09:00-12:00", "13:00-18:00"]
items:
  - &base {id: a, size: 1}
  - <<: *base
    id: b
untagged: yes
`, nil)
	require.Empty(t, errs)
	zero := 0
	assert.Equal(t, sample{
		Timeout:  Duration(90 * time.Second),
		Weight:   0.25,
		Limits:   map[string]int{"open": 5, "daily": 1000},
		Retries:  &zero,
		Hours:    map[string][]string{"mon": {"09:00-12:00", "13:00-18:00"}},
		Items:    []sampleItem{{ID: "a", Size: 1}, {ID: "b", Size: 1}},
		Untagged: "yes",
	}, s)
}

func TestWalkerReportsEveryKind(t *testing.T) {
	s, errs := decodeSample(t, `timeout: 30
weight: heavy
limits: {open: five}
retries: [1]
hours: {mon: "09:00-18:00"}
items:
  - {id: a, size: big, colour: red}
  - just-a-string
ignored: x
timeout: 5m
`, nil)
	assert.Equal(t, []string{
		`w.yaml:1: timeout: want a duration like 30s, 5m or 7d, got "30"`,
		`w.yaml:2: weight: want a number, got "heavy"`,
		`w.yaml:3: limits.open: want a whole number, got "five"`,
		`w.yaml:4: retries: want a whole number, got a list`,
		`w.yaml:5: hours.mon: want a list (lines starting with -), got a string`,
		`w.yaml:7: items[0].size: want a whole number, got "big"`,
		`w.yaml:7: items[0].colour: unknown key "colour" (known here: id, size)`,
		`w.yaml:8: items[1]: want a mapping (key: value lines), got a string`,
		`w.yaml:9: ignored: unknown key "ignored" (known here: timeout, weight, limits, retries, hours, items, untagged)`,
		`w.yaml:10: timeout: mapping key "timeout" already defined at line 1`,
	}, strings.Split(errs.Error(), "\n"))
	assert.Nil(t, s.Retries, "a pointer whose value did not decode stays unset")
}

func TestWalkerSurvivesSelfReference(t *testing.T) {
	// An anchor may contain its own alias; nothing may loop on it.
	_, errs := decodeSample(t, "items: &x\n  - <<: *x\n", nil)
	assert.Equal(t, `w.yaml:2: items[0]: << merges mappings (<<: *defaults), not a list`, errs.Error())

	_, errs = decodeSample(t, "limits: &m\n  a: 1\n  <<: *m\n", nil)
	assert.Equal(t, `w.yaml:3: limits: << merges a mapping into itself`, errs.Error())

	_, err := parse("cycle.yaml", []byte("connectors:\n  - &c {name: a, type: t, self: *c, secret: '${UNSET}'}\n"), fakeEnv(nil), nil)
	assert.Equal(t, "cycle.yaml:2: connectors[0].secret: environment variable UNSET is not set", err.Error())
}

func TestExpandedOnceThroughAliases(t *testing.T) {
	// The anchored value is reached twice; "$$$$" must become "$$" once, not "$$" and then "$".
	s, errs := decodeSample(t, "items:\n  - &a {id: 'x$$$$y'}\n  - *a\n", nil)
	require.Empty(t, errs)
	assert.Equal(t, []sampleItem{{ID: "x$$y"}, {ID: "x$$y"}}, s.Items)
}
