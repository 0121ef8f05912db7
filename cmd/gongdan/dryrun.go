package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
)

// dryRunner turns payloads into drafts exactly as the pipeline would, with no server, bus or
// store: the connector samples the payload into envelopes, and the connector's normalizer
// (connectors.NormalizerOf) makes the drafts.
type dryRunner struct {
	conns  *connectors.Manager
	enrich func(draft.Draft) draft.Draft // as the pipeline applies it (intakeEnrich)
	router *routing.Router               // nil without a routing section
	now    time.Time
}

func newDryRunner(cfg *config.Config, now time.Time) (*dryRunner, error) {
	n := 0
	// The devices of the config, so a dry run flags as unregistered what serve would, and
	// fills the device's model and firmware as serve would.
	reg := devices.New(cfg.Devices.Loaded, nil, nil)
	m, err := connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{
		Now:      func() time.Time { return now },
		DataDir:  cfg.DataDir,
		Location: cfg.Server.Location,
		Enricher: cfg.Normalize.Enricher,
		NewID:    func() string { n++; return fmt.Sprintf("dry-run-%d", n) },
		Devices:  reg,
	})
	if err != nil {
		return nil, userError(err)
	}
	dr := &dryRunner{conns: m, enrich: intakeEnrich(cfg, reg), now: now}
	if cfg.Routing != nil {
		dr.router = cfg.Routing.Router
	}
	return dr, nil
}

// drafts runs one payload through connector name.
func (d *dryRunner) drafts(name string, payload []byte, headers map[string]string) ([]draft.Draft, error) {
	inst, ok := d.conns.Instance(name)
	if !ok {
		var names []string
		for _, i := range d.conns.Instances() {
			names = append(names, i.Name)
		}
		return nil, fmt.Errorf("no connector named %q in the config (there are: %s)", name, strings.Join(names, ", "))
	}
	dr, ok := inst.Connector.(connectors.DryRunner)
	if !ok {
		return nil, fmt.Errorf("connector %s (type %s) cannot take a payload from a file", name, inst.Type)
	}
	envs, err := dr.Sample(payload, headers)
	if err != nil {
		return nil, fmt.Errorf("the connector refuses this payload (a client would get an error): %w", err)
	}
	n, err := connectors.NormalizerOf(inst)
	if err != nil {
		return nil, err
	}
	var out []draft.Draft
	for _, env := range envs {
		drafts, err := n.Normalize(env)
		for i := 0; err == nil && i < len(drafts); i++ {
			drafts[i] = d.enrich(drafts[i])
			// As the pipeline does: confined, then checked as the core would take it.
			if drafts[i], err = inst.Scope.Confine(drafts[i]); err == nil {
				if verr := drafts[i].Validate(); verr != nil {
					err = fmt.Errorf("the draft as the core would take it: %w", verr)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("the pipeline would dead-letter this envelope: %w", err)
		}
		out = append(out, drafts...)
	}
	return out, nil
}

// normalizeCmd is `gongdan normalize`: payload on stdin, drafts on stdout.
func normalizeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("normalize", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	name := fs.String("connector", "", "the connector the payload arrives through (required)")
	nowFlag := fs.String("now", "", "the time the payload is received, RFC 3339 (default: now)")
	var headers headerFlags
	fs.Var(&headers, "header", "a request header, Name: value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *name == "" || fs.NArg() > 0 {
		return usageError("usage: gongdan normalize [--config FILE] --connector NAME [--header 'K: V'] [--now TIME] < payload")
	}
	now, err := timeFlag("now", *nowFlag, "2026-11-23T09:42:00+08:00", time.Now())
	if err != nil {
		return err
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	payload, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	dr, err := newDryRunner(cfg, now)
	if err != nil {
		return err
	}
	drafts, err := dr.drafts(*name, payload, headers)
	if err != nil {
		return userError(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(drafts)
}

type headerFlags map[string]string

func (h *headerFlags) String() string { return "" }

func (h *headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return errors.New(`want "Name: value"`)
	}
	if *h == nil {
		*h = map[string]string{}
	}
	(*h)[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

// testFile is one YAML file of `gongdan test` cases.
type testFile struct {
	// Now is when the payloads are received (default: 2026-01-01T09:00:00 in the configured
	// zone), so relative times and received_at are reproducible.
	Now   string     `yaml:"now"`
	Cases []testCase `yaml:"cases"`
}

type testCase struct {
	Name string `yaml:"name"`
	// Now, when set, is when this case's payload is received, instead of the file's.
	Now       string            `yaml:"now"`
	Connector string            `yaml:"connector"`
	Headers   map[string]string `yaml:"headers"`
	// Payload is the body; a mapping or list is sent as JSON, a string as it is.
	Payload     yaml.Node `yaml:"payload"`
	PayloadFile string    `yaml:"payload_file"`
	Expect      struct {
		// Drafts are the expected drafts, in order; each lists only the fields it checks.
		Drafts []yaml.Node `yaml:"drafts"`
		// Error, when set, is text the error must contain: the payload must fail.
		Error string `yaml:"error"`
		// Route is where the first draft's ticket is routed, with every engineer free: the
		// fields it lists (rule, team, engineer, failure) are checked.
		Route yaml.Node `yaml:"route"`
	} `yaml:"expect"`
}

// testCmd is `gongdan test`: runs the cases in DIR (default configs/tests) against a config.
func testCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("test", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	dir := "configs/tests"
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		return usageError("usage: gongdan test [--config FILE] [DIR or FILE]")
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	files, err := testFiles(dir)
	if err != nil {
		return userError(err)
	}
	passed, failed := 0, 0
	for _, f := range files {
		p, fl, err := runTestFile(cfg, f, stdout)
		if err != nil {
			return userError(err)
		}
		passed, failed = passed+p, failed+fl
	}
	fmt.Fprintf(stdout, "\n%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return &exitError{1, fmt.Errorf("%d of %d test cases failed", failed, passed+failed)}
	}
	if passed == 0 {
		return userError(fmt.Errorf("no test cases in %s", dir))
	}
	return nil
}

func testFiles(dir string) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{dir}, nil
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

func runTestFile(cfg *config.Config, file string, out io.Writer) (passed, failed int, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	var tf testFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return 0, 0, fmt.Errorf("%s: %v", file, err)
	}
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, cfg.Server.Location)
	if tf.Now != "" {
		if now, err = time.Parse(time.RFC3339, tf.Now); err != nil {
			return 0, 0, fmt.Errorf("%s: now: want RFC 3339, like 2026-11-23T09:42:00+08:00", file)
		}
	}
	for i, tc := range tf.Cases {
		label := fmt.Sprintf("%s: %s", file, tc.Name)
		if tc.Name == "" {
			label = fmt.Sprintf("%s: cases[%d]", file, i)
		}
		caseNow := now
		if tc.Now != "" {
			if caseNow, err = time.Parse(time.RFC3339, tc.Now); err != nil {
				return passed, failed, fmt.Errorf("%s: now: want RFC 3339, like 2026-11-23T09:42:00+08:00", label)
			}
		}
		// A runner per case: envelope ids (and so default dedup keys) start afresh.
		dr, err := newDryRunner(cfg, caseNow)
		if err != nil {
			return passed, failed, err
		}
		diffs, err := runCase(dr, filepath.Dir(file), tc)
		if err != nil {
			return passed, failed, fmt.Errorf("%s: %w", label, err)
		}
		if len(diffs) == 0 {
			passed++
			fmt.Fprintf(out, "PASS %s\n", label)
			continue
		}
		failed++
		fmt.Fprintf(out, "FAIL %s\n", label)
		for _, d := range diffs {
			fmt.Fprintf(out, "     %s\n", d)
		}
	}
	return passed, failed, nil
}

// runCase returns the differences between what the case expects and what happened; an error
// means the case itself is broken.
func runCase(dr *dryRunner, dir string, tc testCase) ([]string, error) {
	if tc.Connector == "" {
		return nil, errors.New("connector: required")
	}
	var payload []byte
	switch {
	case tc.PayloadFile != "":
		p := tc.PayloadFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		var err error
		if payload, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("payload_file: %w", err)
		}
	case tc.Payload.Kind == yaml.ScalarNode && tc.Payload.Tag == "!!str":
		payload = []byte(tc.Payload.Value)
	case tc.Payload.Kind != 0:
		var v any
		if err := tc.Payload.Decode(&v); err != nil {
			return nil, fmt.Errorf("payload: %w", err)
		}
		var err error
		if payload, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("payload: %w", err)
		}
	default:
		return nil, errors.New("payload or payload_file: required")
	}
	drafts, runErr := dr.drafts(tc.Connector, payload, tc.Headers)
	if tc.Expect.Error != "" {
		switch {
		case runErr == nil:
			return []string{fmt.Sprintf("want an error containing %q, got %d draft(s)", tc.Expect.Error, len(drafts))}, nil
		case !strings.Contains(runErr.Error(), tc.Expect.Error):
			return []string{fmt.Sprintf("want an error containing %q, got: %v", tc.Expect.Error, runErr)}, nil
		}
		return nil, nil
	}
	if runErr != nil {
		return []string{"unexpected error: " + runErr.Error()}, nil
	}
	var got []any
	raw, _ := json.Marshal(drafts)
	if err := json.Unmarshal(raw, &got); err != nil {
		return nil, err
	}
	var diffs []string
	// A case that checks only the route need not list the drafts.
	if len(got) != len(tc.Expect.Drafts) && (len(tc.Expect.Drafts) > 0 || tc.Expect.Route.Kind == 0) {
		diffs = append(diffs, fmt.Sprintf("drafts: want %d, got %d", len(tc.Expect.Drafts), len(got)))
	}
	for i := 0; i < min(len(got), len(tc.Expect.Drafts)); i++ {
		var want any
		if err := tc.Expect.Drafts[i].Decode(&want); err != nil {
			return nil, fmt.Errorf("expect.drafts[%d]: %w", i, err)
		}
		diffs = append(diffs, compare(fmt.Sprintf("drafts[%d]", i), want, got[i])...)
	}
	if tc.Expect.Route.Kind != 0 {
		rd, err := dr.route(drafts)
		if err != nil {
			return nil, err
		}
		var want any
		if err := tc.Expect.Route.Decode(&want); err != nil {
			return nil, fmt.Errorf("expect.route: %w", err)
		}
		diffs = append(diffs, compare("route", want, rd)...)
	}
	return diffs, nil
}

// route decides where the first of drafts would go, as a fresh server with every engineer
// free would: rule, team, engineer, failure.
func (d *dryRunner) route(drafts []draft.Draft) (map[string]any, error) {
	if d.router == nil {
		return nil, errors.New("expect.route: the config has no routing section")
	}
	if len(drafts) == 0 {
		return nil, errors.New("expect.route: the payload makes no draft to route")
	}
	ev, err := ticket.Create("GD-TEST", drafts[0], "", ticket.SystemActor, d.now, "")
	if err != nil {
		return nil, fmt.Errorf("expect.route: the draft makes no ticket: %w", err)
	}
	t, err := ticket.Apply(ticket.Ticket{}, ev)
	if err != nil {
		return nil, err
	}
	dec := d.router.Decide(routing.Request{Ticket: engine.RoutingEnv(t), Now: d.now})
	out := map[string]any{"rule": dec.Rule, "team": dec.Team, "engineer": dec.Engineer, "failure": ""}
	if dec.Failure != nil {
		out["failure"] = string(dec.Failure.Reason)
	}
	return out, nil
}

// compare checks got against want: every key want lists must match, keys it leaves out are
// not checked; lists must match item by item.
func compare(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", path, show(got))}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var diffs []string
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: want %s, but the draft has no such field", path, k, show(w[k])))
				continue
			}
			diffs = append(diffs, compare(path+"."+k, w[k], gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			if got == nil && len(w) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, compare(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	}
	if !sameScalar(want, got) {
		return []string{fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))}
	}
	return nil
}

// sameScalar compares YAML and JSON scalars: numbers by value, times by instant, the rest as
// they print.
func sameScalar(want, got any) bool {
	if wt, ok := want.(time.Time); ok {
		gs, _ := got.(string)
		gt, err := time.Parse(time.RFC3339Nano, gs)
		return err == nil && gt.Equal(wt)
	}
	if wf, ok := number(want); ok {
		if gf, ok := number(got); ok {
			return math.Abs(wf-gf) < 1e-9
		}
	}
	if want == nil {
		return got == nil || got == ""
	}
	// phone: 13812345678 unquoted in YAML is a number; the draft has a string.
	return fmt.Sprint(want) == fmt.Sprint(got)
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	case string:
		return 0, false
	}
	return 0, false
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "nothing"
	case time.Time:
		return v.Format(time.RFC3339)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// connectorsCmd is `gongdan connectors docs [--check] [DIR]`.
func connectorsCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "docs" {
		return usageError("usage: gongdan connectors docs [--check] [DIR]   (DIR defaults to docs/connectors)")
	}
	fs := newFlagSet("connectors docs", stderr)
	check := fs.Bool("check", false, "only report files that are stale; exit 1 if any")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	dir := "docs/connectors"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 1 {
		return usageError("connectors docs: one directory at most")
	}
	if *check {
		stale := connectors.Global.StaleDocs(dir)
		for _, f := range stale {
			fmt.Fprintf(stdout, "stale: %s\n", f)
		}
		if len(stale) > 0 {
			return userError(errors.New("connector docs are stale; run: gongdan connectors docs"))
		}
		fmt.Fprintf(stdout, "%s: up to date\n", dir)
		return nil
	}
	if err := connectors.Global.WriteDocs(dir); err != nil {
		return userError(err)
	}
	fmt.Fprintf(stdout, "wrote %d files to %s\n", len(connectors.Global.DocFiles()), dir)
	return nil
}
