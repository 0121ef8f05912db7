package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"gongdan/attachments"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/internal/yamlkit"
	"gongdan/normalize"
)

// errNotRunning is what a publish outside a running server answers (validate, dry runs).
var errNotRunning = errors.New("connectors: not running: envelopes are only published by gongdan serve")

func refusePublish(context.Context, draft.Envelope) error { return errNotRunning }

func (e *Env) setDefaults() {
	if e.Publish == nil {
		e.Publish = refusePublish
	}
	if e.Stats == nil {
		e.Stats = &Stats{}
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Location == nil {
		e.Location = time.Local
	}
	if e.NewID == nil {
		e.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
}

// Instance is one configured connector, built and ready to run.
type Instance struct {
	Name      string
	Type      string
	Spec      *Spec
	Connector Connector
	Stats     *Stats
	// Scope is what the instance's drafts may say: the pipeline confines them to it.
	Scope draft.Scope
}

// NormalizerOf is the normalizer of inst's envelopes, as the pipeline and the dry runs use it.
// A connector that has none is a programming error, reported with the connector's name.
func NormalizerOf(inst *Instance) (draft.Normalizer, error) {
	n := inst.Connector.Normalizer()
	if n == nil {
		return nil, fmt.Errorf("connector %s (type %s) has no normalizer", inst.Name, inst.Type)
	}
	return n, nil
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Registry knows the types; default Global.
	Registry *Registry
	// Publish hands envelopes to the pipeline; it is wrapped to count what was published.
	Publish PublishFunc
	Logger  *slog.Logger
	Now     func() time.Time
	// Location is the configured time zone (server.timezone); default time.Local.
	Location *time.Location
	// Enricher is the config's normalize: section built, handed to every connector (see
	// Env.Enricher).
	Enricher normalize.Enricher
	// NewID makes envelope ids; default UUIDv7. Dry runs make them predictable.
	NewID func() string
	// Devices is the device registry, handed to every connector.
	Devices devices.Lookup
	// Attachments keeps the files that come with messages, for every connector.
	Attachments *attachments.Store
	// StateDir is where instances keep state across restarts, a subdirectory each (by name);
	// empty: nowhere.
	StateDir string
	// DataDir is the root of relative paths in the config (Env.DataDir).
	DataDir string
	// Backoff is the first wait before a failed connector runs again; it doubles up to
	// MaxBackoff. Defaults 1s and 1m.
	Backoff, MaxBackoff time.Duration
}

// Manager builds the configured connector instances, runs them, restarts the ones that
// fail, routes HTTP requests to the ones that take them, and reports their state.
type Manager struct {
	opts      ManagerOptions
	instances []*Instance
	byName    map[string]*Instance

	mu      sync.Mutex
	cancel  context.CancelFunc
	running sync.WaitGroup
	closed  bool
}

// NewManager builds the connectors of items, the connectors: items of the config file named
// file, in their order (without side effects). Config errors come back as yamlkit.Errors
// (config.Errors), each at its file:line.
func NewManager(file string, items []yamlkit.Item, opts ManagerOptions) (*Manager, error) {
	if opts.Registry == nil {
		opts.Registry = Global
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxBackoff < opts.Backoff {
		opts.MaxBackoff = max(time.Minute, opts.Backoff)
	}
	m := &Manager{opts: opts, byName: map[string]*Instance{}}
	var errs yamlkit.Errors
	for _, c := range items {
		stats := &Stats{}
		publish := opts.Publish
		env := Env{
			Publish: func(ctx context.Context, e draft.Envelope) error {
				if publish == nil {
					return errNotRunning
				}
				if err := publish(ctx, e); err != nil {
					return err
				}
				stats.Published.Add(1)
				return nil
			},
			Stats:       stats,
			Logger:      opts.Logger.With("connector", c.Name, "connector_type", c.Type),
			Now:         opts.Now,
			Location:    opts.Location,
			NewID:       opts.NewID,
			Devices:     opts.Devices,
			Enricher:    opts.Enricher,
			Attachments: opts.Attachments,
			DataDir:     opts.DataDir,
		}
		if opts.StateDir != "" {
			env.StateDir = filepath.Join(opts.StateDir, c.Name)
		}
		env.setDefaults()
		conn, spec, conf, err := opts.Registry.build(file, c, env)
		if err != nil {
			var ce yamlkit.Errors
			if errors.As(err, &ce) {
				errs = append(errs, ce...)
				continue
			}
			return nil, err
		}
		inst := &Instance{Name: c.Name, Type: c.Type, Spec: spec, Connector: conn, Stats: stats, Scope: scope(c.Name, spec, conf)}
		m.instances = append(m.instances, inst)
		m.byName[c.Name] = inst
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// Instances lists the instances in config order.
func (m *Manager) Instances() []*Instance { return m.instances }

// Instance returns the instance named name.
func (m *Manager) Instance(name string) (*Instance, bool) {
	i, ok := m.byName[name]
	return i, ok
}

// Start runs every instance in its own goroutine until Close. A Run that fails is recorded
// and run again after a back-off.
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.cancel != nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	for _, inst := range m.instances {
		m.running.Add(1)
		go m.run(ctx, inst)
	}
}

func (m *Manager) run(ctx context.Context, inst *Instance) {
	defer m.running.Done()
	log := m.opts.Logger.With("connector", inst.Name, "connector_type", inst.Type)
	wait := m.opts.Backoff
	for {
		inst.Stats.SetState(StateRunning)
		started := m.opts.Now()
		err := runSafely(ctx, inst.Connector)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped without being asked to")
		}
		inst.Stats.Fail(m.opts.Now(), err)
		inst.Stats.SetState(StateBackoff)
		if m.opts.Now().Sub(started) > 4*wait {
			wait = m.opts.Backoff // it ran a good while: a fresh failure, not a loop
		}
		log.Error("connector stopped; running it again", "err", err, "after", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, m.opts.MaxBackoff)
	}
}

// runSafely turns a panic in a connector into an error: one broken connector must not take
// the server down.
func runSafely(ctx context.Context, c Connector) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.Run(ctx)
}

// Close stops every instance and closes it, waiting at most until ctx is done. It is safe to
// call without Start and more than once.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("connectors: not all stopped in time: %w", ctx.Err())
	}
	var errs []error
	for _, inst := range m.instances {
		if err := inst.Connector.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", inst.Name, err))
		}
		inst.Stats.SetState(StateStopped)
	}
	return errors.Join(errs...)
}

// Status lists every instance's state and counters, in config order.
func (m *Manager) Status() []Status {
	out := make([]Status, len(m.instances))
	for i, inst := range m.instances {
		out[i] = inst.Stats.Snapshot(inst.Name, inst.Type)
		if d, ok := inst.Connector.(Detailer); ok {
			out[i].Details = d.Details()
		}
	}
	return out
}

// Collector exports the instances' counters to Prometheus.
func (m *Manager) Collector() prometheus.Collector { return newCollector(m) }

// Receiver returns the HTTP handler of the instance named name that is mounted under mount
// ("ingest", "wechat").
func (m *Manager) Receiver(mount, name string) (http.Handler, bool) {
	inst, ok := m.byName[name]
	if !ok || inst.Spec.Mount != mount {
		return nil, false
	}
	h, ok := inst.Connector.(HTTPReceiver)
	return h, ok
}

// Open reports whether the instance named name takes requests from callers who prove nothing
// (connectors.OpenIntake): the server hands it only requests from this host that came
// through no proxy, since validate allows it only on a loopback address.
func (m *Manager) Open(name string) bool {
	inst, ok := m.byName[name]
	if !ok {
		return false
	}
	oi, ok := inst.Connector.(OpenIntake)
	return ok && len(oi.OpenIntake()) > 0
}

// MountedAt reports which instance names a path like /ingest/hooks addresses.
func MountedAt(path string) (mount, name string, ok bool) {
	rest, found := strings.CutPrefix(path, "/")
	if !found {
		return "", "", false
	}
	mount, rest, found = strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	name, _, _ = strings.Cut(rest, "/")
	return mount, name, name != ""
}
