package connectors

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"gongdan/internal/yamlkit"
)

// Registry knows the connector types. Global is the one the binary uses, filled by the
// connector packages' init functions (import gongdan/connectors/all); tests make isolated
// ones with NewRegistry.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

// Global is the process-wide registry.
var Global = NewRegistry()

// Register adds a connector type to Global. It panics on a broken or duplicate spec: that is
// a bug in the connector, and init time is the place to find it.
func Register(spec Spec) { Global.Register(spec) }

// Register adds a connector type.
func (r *Registry) Register(spec Spec) {
	if spec.Type == "" || spec.New == nil {
		panic(fmt.Sprintf("connectors: spec %q needs a Type and a New", spec.Type))
	}
	if spec.Mount != "" && spec.Mount != "ingest" && spec.Mount != "wechat" {
		panic(fmt.Sprintf("connectors: spec %q: mount %q is neither ingest nor wechat", spec.Type, spec.Mount))
	}
	if !slices.ContainsFunc(spec.Fields, func(f Field) bool { return f.Name == fieldTrust }) {
		spec.Fields = append(slices.Clone(spec.Fields), trustField())
	}
	compile(spec.Type, spec.Fields, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[spec.Type]; dup {
		panic(fmt.Sprintf("connectors: type %q registered twice", spec.Type))
	}
	r.specs[spec.Type] = &spec
}

// Lookup returns the spec of a connector type.
func (r *Registry) Lookup(typ string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[typ]
	return s, ok
}

// Specs returns every registered spec, by type.
func (r *Registry) Specs() []*Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func (r *Registry) types() string {
	specs := r.Specs()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Type
	}
	return strings.Join(names, ", ")
}

// Parse checks one configured instance against its type's spec and returns its Conf, or
// every problem found, each at its file:line. Its relative paths are under the working
// directory; Build puts them under Env.DataDir.
func (r *Registry) Parse(file string, c yamlkit.Item) (*Spec, *Conf, []*yamlkit.Error) {
	return r.parse(file, c, "")
}

// parse is Parse, with the root of relative paths.
func (r *Registry) parse(file string, c yamlkit.Item, root string) (*Spec, *Conf, []*yamlkit.Error) {
	spec, ok := r.Lookup(c.Type)
	if !ok {
		line := c.Line
		if c.Raw != nil {
			for i := 0; i+1 < len(c.Raw.Content); i += 2 {
				if c.Raw.Content[i].Value == "type" {
					line = c.Raw.Content[i].Line
				}
			}
		}
		msg := fmt.Sprintf("unknown connector type %q (known: %s)", c.Type, r.types())
		if best := closest(c.Type, r.Specs()); best != "" {
			msg = fmt.Sprintf("unknown connector type %q; did you mean %q?", c.Type, best)
		}
		return nil, nil, []*yamlkit.Error{{File: file, Line: line, Path: c.Path + ".type", Msg: msg}}
	}
	conf := &Conf{name: c.Name, typ: c.Type, file: file, path: c.Path, line: c.Line, fields: spec.Fields, root: root}
	p := &parser{file: file}
	p.object(conf, c.Raw, "name", "type")
	// With errors, conf still holds the fields that were right (the wrong ones read as their
	// defaults), so that Build can report the constructor's and Validate's problems too.
	return spec, conf, p.errs
}

// closest suggests a registered type for a misspelt one ("webhok" → "webhook").
func closest(typ string, specs []*Spec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Type
	}
	msg := yamlkit.UnknownKey(typ, names)
	if i := strings.Index(msg, "did you mean "); i >= 0 {
		return strings.Trim(msg[i+len("did you mean "):], `"?`)
	}
	return ""
}

// Build parses an instance's config and constructs it, without side effects, then runs its
// Validate. Errors are yamlkit.Errors located at file:line.
func (r *Registry) Build(file string, c yamlkit.Item, env Env) (Connector, *Spec, error) {
	conn, spec, _, err := r.build(file, c, env)
	return conn, spec, err
}

// build is Build, with the checked config.
func (r *Registry) build(file string, c yamlkit.Item, env Env) (Connector, *Spec, *Conf, error) {
	spec, conf, errs := r.parse(file, c, env.DataDir)
	if spec == nil {
		return nil, nil, nil, yamlkit.Errors(errs)
	}
	env.setDefaults()
	conn, err := construct(spec, conf, env)
	if err == nil {
		err = conn.Validate()
	}
	// Every problem at once: the fields' lints, then what the connector found, except where
	// a lint already reported that key.
	reported := map[string]bool{}
	for _, e := range errs {
		reported[e.Path] = true
	}
	for _, e := range asConfigErrors(conf, err) {
		if !reported[e.Path] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *yamlkit.Error) int { return a.Line - b.Line })
		return nil, spec, conf, yamlkit.Errors(errs)
	}
	return conn, spec, conf, nil
}

// construct calls the constructor, turning a panic into an error: with lint errors, it gets
// a config that has defaults where the user's values were wrong.
func construct(spec *Spec, conf *Conf, env Env) (c Connector, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("connector %s: constructor failed: %v", spec.Type, p)
		}
	}()
	return spec.New(conf, env)
}

// Validate is the config.ConnectorCheck of this registry (cmd/gongdan passes it to
// config.LoadWith): it builds the instance (no side effects) and reports every problem at its
// file:line.
func (r *Registry) Validate(file string, c yamlkit.Item) []*yamlkit.Error {
	return r.ValidateIn("")(file, c)
}

// ValidateIn is Validate with the data root the connectors will run under (serve --data), so
// that a file a connector reads to check its config (credentials_file) is the one serve reads.
func (r *Registry) ValidateIn(dataDir string) func(file string, c yamlkit.Item) []*yamlkit.Error {
	return func(file string, c yamlkit.Item) []*yamlkit.Error {
		return r.validate(file, c, dataDir)
	}
}

func (r *Registry) validate(file string, c yamlkit.Item, dataDir string) []*yamlkit.Error {
	_, _, err := r.Build(file, c, Env{Publish: refusePublish, DataDir: dataDir})
	if err == nil {
		return nil
	}
	errs, _ := err.(yamlkit.Errors)
	return slices.Clone(errs)
}
