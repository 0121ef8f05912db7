package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/draft"
)

// Secret values used in the configs below; no error message may contain any of them.
const (
	secretShort = "hunter2-pw"   // too short for probe's password
	secretToken = "secret-token" // fails tokens' pattern
	secretEnum  = "sekrit-mode"  // not one of the secret enum's values
)

// fake is a connector whose behaviour each test chooses.
type fake struct {
	conf     *connectors.Conf
	env      connectors.Env
	run      func(ctx context.Context) error
	validate func(c *connectors.Conf) error
	runs     atomic.Int32
	closes   atomic.Int32
	closeErr error
	// runReturned is set when a Run returns; Close checks it.
	runReturned atomic.Bool
	running     atomic.Bool
}

func (f *fake) Validate() error {
	if f.validate != nil {
		return f.validate(f.conf)
	}
	return nil
}

func (f *fake) Run(ctx context.Context) error {
	f.runs.Add(1)
	f.running.Store(true)
	defer func() { f.running.Store(false); f.runReturned.Store(true) }()
	if f.run != nil {
		return f.run(ctx)
	}
	<-ctx.Done()
	return nil
}

func (f *fake) Close(context.Context) error {
	f.closes.Add(1)
	if f.running.Load() {
		return errors.New("closed while Run was still running")
	}
	return f.closeErr
}

func (f *fake) Normalizer() draft.Normalizer { return draft.NormalizerFunc(draft.FromJSON) }

func (f *fake) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }

// probeFields has a field of every kind, with every lint.
func probeFields() []connectors.Field {
	return []connectors.Field{
		{Name: "url", Kind: connectors.KindString, Required: true, Pattern: `^tcp://`, PatternHint: "want a broker URL like tcp://host:1883", Description: "The broker."},
		{Name: "mode", Kind: connectors.KindString, Enum: []string{"fast", "slow"}, Default: "fast", Description: "How fast."},
		{Name: "count", Kind: connectors.KindInt, Min: connectors.Bound(1), Max: connectors.Bound(10), Default: 3, Description: "How many."},
		{Name: "ratio", Kind: connectors.KindFloat, Min: connectors.Bound(0), Max: connectors.Bound(1), Default: 0.5, Description: "What share."},
		{Name: "enabled", Kind: connectors.KindBool, Default: true, Description: "On or off."},
		{Name: "timeout", Kind: connectors.KindDuration, Min: connectors.Bound(1), Max: connectors.Bound(60), Default: 10 * time.Second, Description: "How long."},
		{Name: "topics", Kind: connectors.KindStringList, Required: true, Pattern: `^[a-z/+#]+$`, PatternHint: "want a topic filter", Description: "What to read."},
		{Name: "labels", Kind: connectors.KindStringMap, Description: "Extra labels."},
		{Name: "password", Kind: connectors.KindString, Secret: true, Description: "The password.", Check: func(v any) error {
			if s, _ := v.(string); len(s) < 16 {
				return errors.New("too short: use at least 16 characters")
			}
			return nil
		}},
		{Name: "tokens", Kind: connectors.KindStringList, Secret: true, Pattern: `^tok-`, PatternHint: "want tok-…", Description: "Tokens."},
		{Name: "secret_mode", Kind: connectors.KindString, Secret: true, Enum: []string{"a", "b"}, Description: "A secret choice."},
		{Name: "secret_count", Kind: connectors.KindInt, Secret: true, Description: "A secret number."},
		{Name: "tls", Kind: connectors.KindObject, Description: "TLS.", Fields: []connectors.Field{
			{Name: "ca", Kind: connectors.KindPath, Required: true, Description: "The CA file."},
			{Name: "insecure", Kind: connectors.KindBool, Description: "Skip verification."},
		}},
		{Name: "rules", Kind: connectors.KindObjectList, Description: "Alarm rules.", Fields: []connectors.Field{
			{Name: "id", Kind: connectors.KindString, Required: true, Description: "The rule's id."},
			{Name: "when", Kind: connectors.KindString, Required: true, Description: "The condition.", Check: func(v any) error {
				if s, _ := v.(string); strings.Contains(s, "=") && !strings.Contains(s, "==") {
					return errors.New("use == to compare")
				}
				return nil
			}},
			{Name: "for", Kind: connectors.KindDuration, Description: "How long it must hold."},
		}},
	}
}

// probeValidate is the connector's own check: what field lints cannot say.
func probeValidate(c *connectors.Conf) error {
	var errs []error
	if c.String("mode") == "slow" && c.Int("count") > 5 {
		errs = append(errs, c.Errorf("count", "a slow probe takes at most 5, got %d", c.Int("count")))
	}
	for _, r := range c.ObjectList("rules") {
		if strings.Contains(r.String("when"), "bogus") {
			errs = append(errs, r.Errorf("when", "unknown variable bogus"))
		}
	}
	return errors.Join(errs...)
}

// testRegistry returns an isolated registry with the probe type (every kind of field) and an
// HTTP type; config.ParseWith its Validate judges the connector items.
func testRegistry(t *testing.T, newFake func() *fake) *connectors.Registry {
	t.Helper()
	if newFake == nil {
		newFake = func() *fake { return &fake{} }
	}
	reg := connectors.NewRegistry()
	reg.Register(connectors.Spec{
		Type: "probe", Summary: "A test connector with every kind of field.", Fields: probeFields(),
		Example: "name: p\ntype: probe\nurl: tcp://127.0.0.1:1883\ntopics: [a/+]\n",
		New: func(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
			f := newFake()
			f.conf, f.env = conf, env
			if f.validate == nil {
				f.validate = probeValidate
			}
			return f, nil
		},
	})
	reg.Register(connectors.Spec{
		Type: "hook", Summary: "A test connector that takes HTTP requests.", Mount: "ingest",
		Example: "name: h\ntype: hook\n",
		New: func(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
			f := newFake()
			f.conf, f.env = conf, env
			return f, nil
		},
	})
	return reg
}

const validProbe = `connectors:
  - name: p
    type: probe
    url: tcp://127.0.0.1:1883
    topics: [factory/+/telemetry]
`

func TestSpecChecks(t *testing.T) {
	tests := []struct {
		name string
		// item is the connector's keys after name and type, indented by four; the first
		// line of item is line 4 of the file.
		item string
		line int
		path string
		msg  string
	}{
		{"unknown key with did-you-mean", "url: tcp://h\ntopics: [a]\ntopic: [b]\n", 6, "connectors[0].topic", `unknown key "topic"; did you mean "topics"?`},
		{"unknown key without a near one", "url: tcp://h\ntopics: [a]\nzzzzzz: 1\n", 6, "connectors[0].zzzzzz", `known here: url, mode`},
		{"required missing", "topics: [a]\n", 2, "connectors[0].url", "required: The broker."},
		{"required empty", "url: \"\"\ntopics: [a]\n", 4, "connectors[0].url", "required"},
		{"required null", "url:\ntopics: [a]\n", 4, "connectors[0].url", "required"},
		{"required list empty", "url: tcp://h\ntopics: []\n", 5, "connectors[0].topics", "required"},
		{"string given a list", "url: [tcp://h]\ntopics: [a]\n", 4, "connectors[0].url", "want a string, got a list"},
		{"int not a number", "url: tcp://h\ntopics: [a]\ncount: many\n", 6, "connectors[0].count", `want a whole number, got "many"`},
		{"int given a float", "url: tcp://h\ntopics: [a]\ncount: 2.5\n", 6, "connectors[0].count", "want a whole number"},
		{"float not a number", "url: tcp://h\ntopics: [a]\nratio: half\n", 6, "connectors[0].ratio", "want a number"},
		{"float NaN", "url: tcp://h\ntopics: [a]\nratio: .nan\n", 6, "connectors[0].ratio", "want a number"},
		{"bool not a bool", "url: tcp://h\ntopics: [a]\nenabled: yes\n", 6, "connectors[0].enabled", "want true or false"},
		{"duration not a duration", "url: tcp://h\ntopics: [a]\ntimeout: soon\n", 6, "connectors[0].timeout", "soon"},
		{"list given a string", "url: tcp://h\ntopics: a\n", 5, "connectors[0].topics", "want a list of strings, got a string"},
		{"map given a list", "url: tcp://h\ntopics: [a]\nlabels: [a]\n", 6, "connectors[0].labels", "want a mapping of strings, got a list"},
		{"map value not a string", "url: tcp://h\ntopics: [a]\nlabels:\n  site: {a: b}\n", 7, "connectors[0].labels.site", "want a string, got a mapping"},
		{"enum", "url: tcp://h\ntopics: [a]\nmode: quick\n", 6, "connectors[0].mode", `"quick" is not one of: fast, slow`},
		{"below min", "url: tcp://h\ntopics: [a]\ncount: 0\n", 6, "connectors[0].count", `"0" is below the minimum 1`},
		{"above max", "url: tcp://h\ntopics: [a]\ncount: 11\n", 6, "connectors[0].count", `"11" is above the maximum 10`},
		{"float above max", "url: tcp://h\ntopics: [a]\nratio: 1.5\n", 6, "connectors[0].ratio", "above the maximum 1"},
		{"duration below min", "url: tcp://h\ntopics: [a]\ntimeout: 500ms\n", 6, "connectors[0].timeout", "below the minimum 1s"},
		{"duration above max", "url: tcp://h\ntopics: [a]\ntimeout: 2m\n", 6, "connectors[0].timeout", "above the maximum 60s"},
		{"pattern", "url: udp://h\ntopics: [a]\n", 4, "connectors[0].url", `"udp://h": want a broker URL like tcp://host:1883`},
		{"pattern of a list item", "url: tcp://h\ntopics:\n  - a/b\n  - A/B\n", 7, "connectors[0].topics[1]", "want a topic filter"},
		{"object given a string", "url: tcp://h\ntopics: [a]\ntls: yes\n", 6, "connectors[0].tls", "want a mapping, got a string"},
		{"nested unknown key", "url: tcp://h\ntopics: [a]\ntls:\n  ca: ca.pem\n  insecur: true\n", 8, "connectors[0].tls.insecur", `did you mean "insecure"?`},
		{"nested required", "url: tcp://h\ntopics: [a]\ntls:\n  insecure: true\n", 7, "connectors[0].tls.ca", "required: The CA file."},
		{"nested wrong type", "url: tcp://h\ntopics: [a]\ntls: {ca: ca.pem, insecure: maybe}\n", 6, "connectors[0].tls.insecure", "want true or false"},
		{"object list given a mapping", "url: tcp://h\ntopics: [a]\nrules: {id: x}\n", 6, "connectors[0].rules", "want a list of mappings"},
		{"object list item not a mapping", "url: tcp://h\ntopics: [a]\nrules: [x]\n", 6, "connectors[0].rules[0]", "want a mapping, got a string"},
		{"object list check", "url: tcp://h\ntopics: [a]\nrules:\n  - {id: a, when: t > 1}\n  - id: b\n    when: t = 1\n", 9, "connectors[0].rules[1].when", "use == to compare"},
		{"object list required", "url: tcp://h\ntopics: [a]\nrules:\n  - {id: a, when: t > 1}\n  - id: b\n", 8, "connectors[0].rules[1].when", "required"},
		{"object list unknown key", "url: tcp://h\ntopics: [a]\nrules:\n  - {id: a, when: t > 1, fro: 5s}\n", 7, "connectors[0].rules[0].fro", `did you mean "for"?`},
		{"connector Validate, top level", "url: tcp://h\ntopics: [a]\nmode: slow\ncount: 7\n", 7, "connectors[0].count", "a slow probe takes at most 5"},
		{"connector Validate, in an object list", "url: tcp://h\ntopics: [a]\nrules:\n  - {id: a, when: t > 1}\n  - id: b\n    when: bogus > 1\n", 9, "connectors[0].rules[1].when", "unknown variable bogus"},
		{"duplicate key", "url: tcp://h\ntopics: [a]\ncount: 2\ncount: 3\n", 7, "connectors[0].count", "count"},
		{"duplicate map key", "url: tcp://h\ntopics: [a]\nlabels:\n  a: x\n  a: y\n", 8, "connectors[0].labels.a", ""},
		{"duplicate key in an object list item", "url: tcp://h\ntopics: [a]\nrules:\n  - id: a\n    when: t > 1\n    id: b\n", 9, "connectors[0].rules[0].id", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := testRegistry(t, nil)
			file := "connectors:\n  - name: p\n    type: probe\n" + indent(tt.item, "    ")
			_, err := config.ParseWith("probe.yaml", []byte(file), reg.Validate)
			requireError(t, err, tt.line, tt.path, tt.msg)
		})
	}
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// requireError fails unless err holds a config error at probe.yaml:line, path, whose message
// contains msg.
func requireError(t *testing.T, err error, line int, path, msg string) {
	t.Helper()
	var errs config.Errors
	require.ErrorAs(t, err, &errs, "want an error at line %d", line)
	for _, e := range errs {
		if e.File == "probe.yaml" && e.Line == line && e.Path == path && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("want probe.yaml:%d: %s: …%s…; got\n%v", line, path, msg, err)
}

func TestSecretsNeverInErrors(t *testing.T) {
	reg := testRegistry(t, nil)
	file := `connectors:
  - name: p
    type: probe
    url: tcp://h
    topics: [a]
    password: ` + secretShort + `
    tokens: [tok-ok, ` + secretToken + `]
    secret_mode: ` + secretEnum + `
    secret_count: ` + secretToken + `
  - name: q
    type: probe
    url: tcp://h
    topics: [a]
    password: [` + secretShort + `]
    tokens: ` + secretToken + `
  - name: r
    type: probe
    url: tcp://h
    topics: [a]
    password: ` + secretShort + `-but-long-enough
    password: ` + secretShort + `
`
	_, err := config.ParseWith("probe.yaml", []byte(file), reg.Validate)
	requireError(t, err, 6, "connectors[0].password", "too short")
	requireError(t, err, 7, "connectors[0].tokens[1]", "want tok-")
	requireError(t, err, 8, "connectors[0].secret_mode", "is not one of: a, b")
	requireError(t, err, 9, "connectors[0].secret_count", "want a whole number")
	requireError(t, err, 14, "connectors[1].password", "want a string, got a list")
	requireError(t, err, 15, "connectors[1].tokens", "want a list of strings, got a string")
	requireError(t, err, 21, "connectors[2].password", "")
	for _, secret := range []string{secretShort, secretToken, secretEnum} {
		assert.NotContains(t, err.Error(), secret)
	}
}

func TestUnknownType(t *testing.T) {
	reg := testRegistry(t, nil)
	_, err := config.ParseWith("probe.yaml", []byte("connectors:\n  - name: p\n\n    type: prob\n"), reg.Validate)
	requireError(t, err, 4, "connectors[0].type", `unknown connector type "prob"; did you mean "probe"?`)
	_, err = config.ParseWith("probe.yaml", []byte("connectors:\n  - name: p\n    type: mqtt\n"), reg.Validate)
	requireError(t, err, 3, "connectors[0].type", `unknown connector type "mqtt" (known: hook, probe)`)
}

// Every problem of a file is reported at once, in line order, each where it is.
func TestEveryProblemAtOnce(t *testing.T) {
	reg := testRegistry(t, nil)
	file := `connectors:
  - name: p
    type: probe
    url: udp://h
    topics: []
    count: 0
  - name: q
    type: probe
    url: tcp://h
    topics: [a]
    tls: {}
`
	_, err := config.ParseWith("probe.yaml", []byte(file), reg.Validate)
	var errs config.Errors
	require.ErrorAs(t, err, &errs)
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	assert.Equal(t, []int{4, 5, 6, 11}, lines, "%v", err)
}

func TestValidConfig(t *testing.T) {
	var built *fake
	reg := testRegistry(t, func() *fake { built = &fake{}; return built })
	cfg, err := config.ParseWith("probe.yaml", []byte(validProbe+`    labels:
      zone: b
      area: a
    tls: {ca: ca.pem}
    rules:
      - {id: hot, when: temp > 85, for: 30s}
      - {id: cold, when: temp < 5}
`), reg.Validate)
	require.NoError(t, err)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Registry: connectors.NewRegistry()})
	require.Error(t, err, "a registry that does not know the type refuses it")
	assert.Nil(t, m)

	reg = testRegistry(t, func() *fake { built = &fake{}; return built })
	m, err = connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Registry: reg})
	require.NoError(t, err)
	c := built.conf
	assert.Equal(t, "p", c.Name())
	assert.Equal(t, "probe", c.Type())
	assert.Equal(t, "tcp://127.0.0.1:1883", c.String("url"))
	assert.Equal(t, "fast", c.String("mode"), "default")
	assert.Equal(t, 3, c.Int("count"), "default")
	assert.InDelta(t, 0.5, c.Float("ratio"), 0)
	assert.True(t, c.Bool("enabled"))
	assert.Equal(t, 10*time.Second, c.Duration("timeout"))
	assert.Equal(t, []string{"factory/+/telemetry"}, c.StringList("topics"))
	assert.Equal(t, map[string]string{"zone": "b", "area": "a"}, c.StringMap("labels"))
	assert.Equal(t, []string{"zone", "area"}, c.StringMapKeys("labels"), "file order")
	assert.True(t, c.Has("url"))
	assert.False(t, c.Has("mode"))
	assert.Equal(t, "ca.pem", c.Object("tls").Path("ca"))
	assert.False(t, c.Object("tls").Bool("insecure"))
	rules := c.ObjectList("rules")
	require.Len(t, rules, 2)
	assert.Equal(t, 30*time.Second, rules[0].Duration("for"))
	assert.Equal(t, "cold", rules[1].String("id"))
	assert.Equal(t, "", c.Secret("password").Reveal())
	assert.Panics(t, func() { c.String("nope") }, "a field the spec does not declare")
	assert.Panics(t, func() { c.Int("url") }, "a field read as the wrong kind")
	// Errorf puts a problem at the key's line, or at the item's when the key is not set.
	var ce *config.Error
	require.ErrorAs(t, c.Errorf("url", "x"), &ce)
	assert.Equal(t, 4, ce.Line)
	require.ErrorAs(t, rules[1].Errorf("when", "x"), &ce)
	assert.Equal(t, "connectors[0].rules[1].when", ce.Path)
	assert.Equal(t, 12, ce.Line)
	require.ErrorAs(t, c.Errorf("mode", "x"), &ce)
	assert.Equal(t, 2, ce.Line)
	require.ErrorAs(t, c.Errorf("labels.area", "x"), &ce)
	assert.Equal(t, 8, ce.Line)
	require.NoError(t, m.Close(context.Background()))
}

// TestAliasesInAConnectorItem: the connectors' walker follows aliases wherever a value can be
// written — a field, a list item, a mapping value, an object, an item of an object list — as
// the config's walker does.
func TestAliasesInAConnectorItem(t *testing.T) {
	var built []*fake
	reg := testRegistry(t, func() *fake { f := &fake{}; built = append(built, f); return f })
	cfg, err := config.ParseWith("alias.yaml", []byte(`connectors:
  - name: p
    type: probe
    url: &broker tcp://127.0.0.1:1883
    topics: [&topic factory/+/telemetry, *topic]
    labels: {site: &site plant-a, zone: *site}
    tls: &tls {ca: ca.pem}
    rules:
      - &hot {id: hot, when: temp > 85}
      - *hot
  - name: q
    type: probe
    url: *broker
    topics: [*topic]
    tls: *tls
`), reg.Validate)
	require.NoError(t, err)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.GreaterOrEqual(t, len(built), 2) // validation builds them too
	p, q := built[len(built)-2].conf, built[len(built)-1].conf
	assert.Equal(t, []string{"factory/+/telemetry", "factory/+/telemetry"}, p.StringList("topics"))
	assert.Equal(t, map[string]string{"site": "plant-a", "zone": "plant-a"}, p.StringMap("labels"))
	rules := p.ObjectList("rules")
	require.Len(t, rules, 2)
	assert.Equal(t, "hot", rules[1].String("id"))
	assert.Equal(t, "tcp://127.0.0.1:1883", q.String("url"))
	assert.Equal(t, []string{"factory/+/telemetry"}, q.StringList("topics"))
	assert.Equal(t, "ca.pem", q.Object("tls").Path("ca"))
}

// Merge keys mean in a connector item what they mean in the rest of the file (one yamlkit.Pairs
// reads both): a connector's own keys win over merged ones, the earlier of several merged
// mappings wins, and a wrong merge is reported where it is written.
func TestMergeKeysInAConnectorItem(t *testing.T) {
	var built []*fake
	reg := testRegistry(t, func() *fake { f := &fake{}; built = append(built, f); return f })
	cfg, err := config.ParseWith("merge.yaml", []byte(`connectors:
  - name: p
    type: probe
    <<: [&probe {url: "tcp://127.0.0.1:1883", topics: [a], count: 3}, {tls: {ca: ca.pem}, count: 9}]
    count: 4
    labels:
      <<: {site: plant-a, zone: z1}
      zone: z2
  - name: q
    type: probe
    <<: *probe
`), reg.Validate)
	require.NoError(t, err)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.GreaterOrEqual(t, len(built), 2)
	p, q := built[len(built)-2].conf, built[len(built)-1].conf
	assert.Equal(t, "tcp://127.0.0.1:1883", p.String("url"))
	assert.Equal(t, 4, p.Int("count"), "the item's own key wins over the merged ones")
	assert.Equal(t, "ca.pem", p.Object("tls").Path("ca"))
	assert.Equal(t, map[string]string{"site": "plant-a", "zone": "z2"}, p.StringMap("labels"))
	assert.Equal(t, 3, q.Int("count"), "the first merged mapping wins")

	// A merged key the spec does not know is reported at the << that brings it in.
	_, err = config.ParseWith("probe.yaml", []byte(`connectors:
  - name: p
    type: probe
    url: tcp://h
    topics: [a]
    labels: &extra {zzzzzz: "1"}
    <<: *extra
`), reg.Validate)
	requireError(t, err, 7, "connectors[0].zzzzzz", "unknown key")
	_, err = config.ParseWith("probe.yaml", []byte(`connectors:
  - name: p
    type: probe
    url: tcp://h
    topics: [a]
    labels:
      <<: [x]
`), reg.Validate)
	requireError(t, err, 7, "connectors[0].labels", "<< merges mappings (<<: *defaults), not a string")

	// A wrong merge into the item itself is said once (config's walker reads the item too).
	_, err = config.ParseWith("probe.yaml", []byte(`connectors:
  - name: p
    type: probe
    url: tcp://h
    topics: [a]
    <<: 5
`), reg.Validate)
	requireError(t, err, 6, "connectors[0]", "<< merges mappings (<<: *defaults), not a number")
	assert.Equal(t, 1, strings.Count(err.Error(), "<< merges"), "%v", err)
}

// A relative path in a connector's config is under the data root (serve --data), in nested
// objects too; an absolute one stays as written.
func TestPathsAreUnderTheDataRoot(t *testing.T) {
	var built []*fake
	reg := testRegistry(t, func() *fake { f := &fake{}; built = append(built, f); return f })
	cfg, err := config.ParseWith("paths.yaml", []byte(`connectors:
  - name: p
    type: probe
    url: tcp://h
    topics: [a]
    tls: {ca: certs/ca.pem}
  - name: q
    type: probe
    url: tcp://h
    topics: [a]
    tls: {ca: /etc/gongdan/ca.pem}
`), reg.Validate)
	require.NoError(t, err)
	root := t.TempDir()
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Registry: reg, DataDir: root})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	p, q := built[len(built)-2].conf, built[len(built)-1].conf
	assert.Equal(t, filepath.Join(root, "certs", "ca.pem"), p.Object("tls").Path("ca"))
	assert.Equal(t, "/etc/gongdan/ca.pem", q.Object("tls").Path("ca"))
}

func TestRegisterPanics(t *testing.T) {
	newFn := func(*connectors.Conf, connectors.Env) (connectors.Connector, error) { return &fake{}, nil }
	str := func(name string) connectors.Field { return connectors.Field{Name: name, Kind: connectors.KindString} }
	tests := []struct {
		name string
		spec connectors.Spec
		want string
	}{
		{"no type", connectors.Spec{New: newFn}, "needs a Type and a New"},
		{"no constructor", connectors.Spec{Type: "x"}, "needs a Type and a New"},
		{"unknown mount", connectors.Spec{Type: "x", New: newFn, Mount: "hooks"}, `mount "hooks"`},
		{"field twice", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{str("a"), str("a")}}, `field "a" declared twice`},
		{"field called name", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{str("name")}}, `field "name" declared twice`},
		{"field called type", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{str("type")}}, `field "type" declared twice`},
		{"unknown kind", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{{Name: "a", Kind: "integer"}}}, `unknown kind "integer"`},
		{"sub-fields of a string", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{{Name: "a", Kind: connectors.KindString, Fields: []connectors.Field{str("b")}}}}, "cannot have sub-fields"},
		{"nested field twice", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{{Name: "o", Kind: connectors.KindObjectList, Fields: []connectors.Field{str("b"), str("b")}}}}, `x.o: field "b" declared twice`},
		{"broken pattern", connectors.Spec{Type: "x", New: newFn, Fields: []connectors.Field{{Name: "a", Kind: connectors.KindString, Pattern: "("}}}, "missing closing )"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := connectors.NewRegistry()
			defer func() {
				p := recover()
				require.NotNil(t, p, "Register did not panic")
				assert.Contains(t, fmt.Sprint(p), tt.want)
				_, ok := reg.Lookup("x")
				assert.False(t, ok, "a broken spec must not be registered")
			}()
			reg.Register(tt.spec)
		})
	}
	t.Run("duplicate type", func(t *testing.T) {
		reg := connectors.NewRegistry()
		reg.Register(connectors.Spec{Type: "x", New: newFn})
		assert.PanicsWithValue(t, `connectors: type "x" registered twice`, func() {
			reg.Register(connectors.Spec{Type: "x", New: newFn})
		})
	})
}

// newManager builds a manager over the probe type with the given fake and options.
func newManager(t *testing.T, f *fake, opts connectors.ManagerOptions) *connectors.Manager {
	t.Helper()
	opts.Registry = testRegistry(t, func() *fake { return f })
	cfg, err := config.ParseWith("probe.yaml", []byte(validProbe), opts.Registry.Validate)
	require.NoError(t, err)
	if opts.Location == nil {
		opts.Location = cfg.Server.Location
	}
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, opts)
	require.NoError(t, err)
	return m
}

func status(m *connectors.Manager) connectors.Status { return m.Status()[0] }

func TestManagerBackoff(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC)
	f := &fake{run: func(context.Context) error {
		return errors.New(`broker "tcp://127.0.0.1:1883" unreachable: connection refused`)
	}}
	// A back-off far longer than the test: the connector is seen waiting in it.
	m := newManager(t, f, connectors.ManagerOptions{Backoff: time.Hour, Now: func() time.Time { return now }})
	m.Start(context.Background())
	require.Eventually(t, func() bool { return status(m).State == connectors.StateBackoff }, 10*time.Second, time.Millisecond)
	st := status(m)
	assert.Contains(t, st.LastError, "unreachable: connection refused")
	require.NotNil(t, st.LastErrorAt)
	assert.True(t, st.LastErrorAt.Equal(now))
	assert.Equal(t, int32(1), f.runs.Load(), "not run again before the back-off is over")
	// Close does not wait out the back-off.
	require.NoError(t, m.Close(context.Background()))
	assert.Equal(t, connectors.StateStopped, status(m).State)
	assert.Equal(t, int32(1), f.closes.Load())
}

func TestManagerRestarts(t *testing.T) {
	f := &fake{}
	f.run = func(ctx context.Context) error {
		if n := f.runs.Load(); n <= 3 {
			return fmt.Errorf("failure %d", n)
		}
		<-ctx.Done()
		return nil
	}
	m := newManager(t, f, connectors.ManagerOptions{Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	m.Start(context.Background())
	m.Start(context.Background()) // a second Start does nothing
	require.Eventually(t, func() bool {
		return f.runs.Load() == 4 && status(m).State == connectors.StateRunning
	}, 10*time.Second, time.Millisecond, "runs %d, %+v", f.runs.Load(), status(m))
	assert.Equal(t, "failure 3", status(m).LastError, "the last error stays for the operator")
	require.NoError(t, m.Close(context.Background()))
	assert.True(t, f.runReturned.Load())
	assert.Equal(t, int32(4), f.runs.Load())
}

func TestManagerRecoversPanics(t *testing.T) {
	f := &fake{}
	f.run = func(ctx context.Context) error {
		if f.runs.Load() == 1 {
			panic("boom")
		}
		<-ctx.Done()
		return nil
	}
	m := newManager(t, f, connectors.ManagerOptions{Backoff: time.Millisecond})
	m.Start(context.Background())
	require.Eventually(t, func() bool {
		return f.runs.Load() == 2 && status(m).State == connectors.StateRunning
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, "panic: boom", status(m).LastError)
	require.NoError(t, m.Close(context.Background()))
}

// A Run that returns nil before it was asked to stop has stopped all the same.
func TestManagerRunReturningEarly(t *testing.T) {
	f := &fake{run: func(context.Context) error { return nil }}
	m := newManager(t, f, connectors.ManagerOptions{Backoff: time.Hour})
	m.Start(context.Background())
	require.Eventually(t, func() bool { return status(m).State == connectors.StateBackoff }, 10*time.Second, time.Millisecond)
	assert.Contains(t, status(m).LastError, "stopped without being asked to")
	require.NoError(t, m.Close(context.Background()))
}

func TestManagerClose(t *testing.T) {
	t.Run("without Start", func(t *testing.T) {
		f := &fake{}
		m := newManager(t, f, connectors.ManagerOptions{})
		require.NoError(t, m.Close(context.Background()))
		require.NoError(t, m.Close(context.Background()))
		assert.Equal(t, int32(1), f.closes.Load(), "Close closes each connector once")
		m.Start(context.Background())
		assert.Zero(t, f.runs.Load(), "Start after Close runs nothing")
	})
	t.Run("after Run returned", func(t *testing.T) {
		f := &fake{}
		m := newManager(t, f, connectors.ManagerOptions{})
		m.Start(context.Background())
		require.Eventually(t, func() bool { return f.running.Load() }, 10*time.Second, time.Millisecond)
		require.NoError(t, m.Close(context.Background()), "the fake's Close fails when Run still runs")
		assert.Equal(t, connectors.StateStopped, status(m).State)
	})
	t.Run("reports the connector's error", func(t *testing.T) {
		f := &fake{closeErr: errors.New("flush failed")}
		m := newManager(t, f, connectors.ManagerOptions{})
		err := m.Close(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "connector p: flush failed")
	})
	t.Run("a Run that does not stop", func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{run: func(context.Context) error { <-release; return nil }}
		m := newManager(t, f, connectors.ManagerOptions{})
		m.Start(context.Background())
		require.Eventually(t, func() bool { return f.running.Load() }, 10*time.Second, time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := m.Close(ctx)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "not all stopped in time")
		close(release)
	})
}

func TestManagerPublishCounts(t *testing.T) {
	f := &fake{}
	var fail atomic.Bool
	var published []draft.Envelope
	var mu sync.Mutex
	m := newManager(t, f, connectors.ManagerOptions{Publish: func(_ context.Context, env draft.Envelope) error {
		if fail.Load() {
			return errors.New("bus down")
		}
		mu.Lock()
		published = append(published, env)
		mu.Unlock()
		return nil
	}})
	env := draft.Envelope{ID: "e1", Connector: "p"}
	require.NoError(t, f.env.Publish(context.Background(), env))
	fail.Store(true)
	require.Error(t, f.env.Publish(context.Background(), env))
	assert.Equal(t, int64(1), status(m).Published, "only what the bus took counts")
	assert.Len(t, published, 1)
	assert.Same(t, f.env.Stats, m.Instances()[0].Stats, "the connector counts into its instance's stats")
	assert.NotNil(t, f.env.Logger)
	assert.NotNil(t, f.env.NewID)
	assert.NotEmpty(t, f.env.NewID())
	require.NoError(t, m.Close(context.Background()))

	// Without a publish func (validate, dry runs) nothing is published.
	f2 := &fake{}
	m2 := newManager(t, f2, connectors.ManagerOptions{})
	require.Error(t, f2.env.Publish(context.Background(), env))
	assert.Zero(t, status(m2).Published)
	require.NoError(t, m2.Close(context.Background()))
}

func TestManagerReceiverAndStatus(t *testing.T) {
	reg := testRegistry(t, nil)
	cfg, err := config.ParseWith("probe.yaml", []byte(validProbe+"  - {name: hooks, type: hook}\n"), reg.Validate)
	require.NoError(t, err)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, Registry: reg})
	require.NoError(t, err)
	defer m.Close(context.Background())

	h, ok := m.Receiver("ingest", "hooks")
	require.True(t, ok)
	assert.NotNil(t, h)
	_, ok = m.Receiver("wechat", "hooks")
	assert.False(t, ok, "mounted under ingest only")
	_, ok = m.Receiver("ingest", "p")
	assert.False(t, ok, "probe takes no requests")
	_, ok = m.Receiver("ingest", "nobody")
	assert.False(t, ok)

	sts := m.Status()
	require.Len(t, sts, 2)
	assert.Equal(t, "p", sts[0].Name, "config order")
	assert.Equal(t, "hook", sts[1].Type)
	assert.Equal(t, connectors.StateStopped, sts[0].State, "not started")

	preg := prometheus.NewPedanticRegistry()
	require.NoError(t, preg.Register(m.Collector()))
	mfs, err := preg.Gather()
	require.NoError(t, err)
	series := map[string]int{}
	for _, mf := range mfs {
		series[mf.GetName()] += len(mf.GetMetric())
	}
	assert.Equal(t, map[string]int{"gongdan_connector_messages_total": 8, "gongdan_connector_running": 2}, series)
}

func TestMountedAt(t *testing.T) {
	tests := []struct {
		path, mount, name string
		ok                bool
	}{
		{"/ingest/hooks", "ingest", "hooks", true},
		{"/ingest/hooks/extra", "ingest", "hooks", true},
		{"/wechat/gzh", "wechat", "gzh", true},
		{"/ingest/", "", "", false},
		{"/ingest", "", "", false},
		{"ingest/hooks", "", "", false},
		{"/", "", "", false},
	}
	for _, tt := range tests {
		mount, name, ok := connectors.MountedAt(tt.path)
		assert.Equal(t, tt.ok, ok, tt.path)
		if tt.ok {
			assert.Equal(t, []string{tt.mount, tt.name}, []string{mount, name}, tt.path)
		}
	}
}

func TestDocs(t *testing.T) {
	reg := testRegistry(t, nil)
	doc := string(reg.DocFiles()["probe.md"])
	for _, want := range []string{
		"generated by `gongdan connectors docs`", "# `probe` connector", "### `url`", "required",
		"### `tls.ca`", "### `rules[].when`", "one of: `fast`, `slow`", "default: `\"fast\"`", "default: `10s`",
		"secret (never printed", "min: 1", "max: 10",
	} {
		assert.Contains(t, doc, want)
	}
	readme := string(reg.DocFiles()["README.md"])
	assert.Contains(t, readme, "[`hook`](hook.md)")
	assert.Contains(t, string(reg.DocFiles()["hook.md"]), "/ingest/{name}")

	dir := t.TempDir()
	assert.NotEmpty(t, reg.StaleDocs(dir), "missing files are stale")
	require.NoError(t, reg.WriteDocs(dir))
	assert.Empty(t, reg.StaleDocs(dir))

	// A hand-written file stays; a changed one and a generated leftover are stale.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("mine\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gone.md"), reg.DocFiles()["hook.md"], 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "probe.md"), []byte("edited\n"), 0o644))
	assert.Equal(t, []string{filepath.Join(dir, "gone.md"), filepath.Join(dir, "probe.md")}, reg.StaleDocs(dir))
	require.NoError(t, reg.WriteDocs(dir))
	assert.Empty(t, reg.StaleDocs(dir))
	assert.FileExists(t, filepath.Join(dir, "NOTES.md"))
	assert.NoFileExists(t, filepath.Join(dir, "gone.md"))
}

var _ connectors.HTTPReceiver = (*fake)(nil)
