// Package connectortest is the conformance suite every connector passes before it counts as
// production ready, as watermill's pubsub/tests.TestPubSub is for its Pub/Subs.
//
// Run builds the connector under test from its YAML config, exactly as gongdan serve does
// (config.ParseWith the registry's Validate, a connectors.Manager, the real pipeline on the
// memory bus, an in-memory dead-letter store), with a fake core that makes one "ticket" per
// draft dedup key. It then drives the connector through its real source path (Harness.Send)
// and checks the contract of DESIGN.md §1: the source is acked only once the envelope is
// durable, a redelivered input makes one ticket, an input the pipeline cannot read becomes a
// dead letter while the connector keeps running, the counters move, and Close leaves nothing
// behind.
//
// The suite waits for asynchronous results by polling with a deadline; it never sleeps a fixed
// time to let something happen, and it asserts on no duration.
package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/pipeline"
	"gongdan/pipeline/bus"
	"gongdan/pipeline/deadletter"
)

// Input is one thing a source delivers: a request, a message, a file.
type Input struct {
	// Body is the payload as the source sends it.
	Body []byte
	// Headers are the source's metadata (HTTP headers, an MQTT topic); how Send uses them is
	// the connector's business.
	Headers map[string]string
}

// Target is the running connector, as Send reaches it.
type Target struct {
	// Connector is the instance under test.
	Connector connectors.Connector
	// URL is where the connector answers when it is a connectors.HTTPReceiver: an
	// httptest.Server routing /<mount>/<name> to it as gongdan serve does, so this URL is
	// http://127.0.0.1:port/<mount>/<name>. Empty for connectors that dial out.
	URL string
	// Client talks to that server; the suite closes its connections with the server.
	Client *http.Client
}

// Harness describes the connector under test to Run.
type Harness struct {
	// Config is one connectors: item in YAML, unindented: "name: t\ntype: webhook\n…". ${VAR}
	// references are expanded from the environment (use t.Setenv before Run).
	Config string
	// Registry knows the connector's type; default connectors.Global.
	Registry *connectors.Registry
	// Send delivers one input through the connector's real source path (for a webhook: an
	// HTTP request to Target.URL) and reports whether the source was acked (202). It returns
	// as soon as the source has its answer, without waiting for anything after it (read the
	// status, then drain the body in the background): a connector that answers before its
	// publish returns is then caught. The connector is running (Manager.Start) when Send is
	// called. Send is called from several goroutines at once: it must report problems with
	// t.Error, never t.Fatal or require, and must not use t once it has returned.
	Send func(t *testing.T, target Target, in Input) (acked bool)
	// Good returns a valid input that makes a ticket; distinct i make distinct tickets.
	Good func(i int) Input
	// Redelivery returns Good(i) again as its source would redeliver it (the same message id,
	// the same Idempotency-Key). Default: Good(i) itself.
	Redelivery func(i int) Input
	// Bad is an input the connector accepts (acks) but the pipeline cannot turn into a draft:
	// its normalizer fails, and it becomes a dead letter of the handler normalize.<name>.
	Bad Input
	// Rejected, when set, is an input the connector refuses at the edge: not acked, counted
	// as received and rejected, never published.
	Rejected *Input
	// Timeout bounds each wait for something asynchronous; default 15s. It only turns a hang
	// into a failure: nothing is asserted about how long anything takes.
	Timeout time.Duration
	// SharedSource says that the connectors the suite builds share one source outside them
	// (one MQTT broker, one client id, the same topics), so that two of them at once would
	// take each other's messages: the subtests then run one at a time. Otherwise each builds
	// its own source end and they run in parallel.
	SharedSource bool
}

func (h *Harness) setDefaults(t *testing.T) {
	t.Helper()
	if h.Registry == nil {
		h.Registry = connectors.Global
	}
	if h.Redelivery == nil {
		h.Redelivery = h.Good
	}
	if h.Timeout <= 0 {
		h.Timeout = 15 * time.Second
	}
	if strings.TrimSpace(h.Config) == "" || h.Send == nil || h.Good == nil || h.Bad.Body == nil {
		t.Fatal("connectortest: a Harness needs Config, Send, Good and Bad")
	}
}

// Run runs the conformance suite as subtests of t, in parallel with one another unless
// h.SharedSource. It changes no package state (the harness registry judges the config through
// config.ParseWith), so the tests around it may run in parallel too.
func Run(t *testing.T, h Harness) {
	t.Helper()
	h.setDefaults(t)

	// The two that count goroutines run first, on their own: a sibling running beside them
	// would leave goroutines that look like leaks.
	t.Run("close is clean", func(t *testing.T) { testClose(t, h) })
	t.Run("close without start, twice", func(t *testing.T) { testCloseWithoutStart(t, h) })
	for _, sub := range []struct {
		name string
		test func(*testing.T, Harness)
	}{
		{"config validates", testConfig},
		{"acked only after durable", testAckedAfterDurable},
		{"publish fails: not acked", testPublishFails},
		{"redelivery makes one ticket", testRedelivery},
		{"bad input goes to dead letters, connector keeps running", testDeadLetter},
		{"counters move", testCounters},
	} {
		t.Run(sub.name, func(t *testing.T) {
			if !h.SharedSource {
				t.Parallel()
			}
			sub.test(t, h)
		})
	}
}

// parse reads the harness config as a whole gongdan config with one connector.
func parse(t *testing.T, h Harness) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("connectors:\n")
	for i, line := range strings.Split(strings.TrimRight(h.Config, "\n"), "\n") {
		if i == 0 {
			b.WriteString("  - ")
		} else {
			b.WriteString("    ")
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	cfg, err := config.ParseWith("connectortest.yaml", []byte(b.String()), h.Registry.Validate)
	require.NoError(t, err, "the harness config must validate")
	require.Len(t, cfg.Connectors, 1, "the harness config must be one connector")
	return cfg
}

func testConfig(t *testing.T, h Harness) {
	cfg := parse(t, h)
	conn, spec, err := h.Registry.Build(cfg.File, cfg.Connectors[0], connectors.Env{})
	require.NoError(t, err)
	if spec.Mount != "" {
		_, ok := conn.(connectors.HTTPReceiver)
		assert.True(t, ok, "the spec mounts the connector at /%s/{name}, but it is no connectors.HTTPReceiver", spec.Mount)
	}
	assert.NoError(t, conn.Close(context.Background()), "Close without Run")
}

// fixture is one connector running on the real pipeline over the memory bus.
type fixture struct {
	t        *testing.T
	h        Harness
	bus      *bus.Bus
	pipeline *pipeline.Pipeline
	manager  *connectors.Manager
	inst     *connectors.Instance
	dead     *deadletter.Memory
	intake   *fakeIntake
	// server routes /<mount>/<name> to the connectors that take HTTP requests; nil when none.
	server *httptest.Server

	// hook, when set, runs before every publish: it can block or fail it.
	hook atomic.Pointer[func(ctx context.Context, env draft.Envelope) error]

	mu        sync.Mutex
	published map[string]draft.Envelope // by id: every envelope that reached the bus

	pipelineDone chan error
	closeOnce    sync.Once
	closeErr     error
}

// newFixture builds and starts everything; Cleanup closes it.
func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	f := build(t, h)
	f.start()
	return f
}

// build builds everything without running it, in the order cmd/gongdan does.
func build(t *testing.T, h Harness) *fixture {
	t.Helper()
	cfg := parse(t, h)
	f := &fixture{t: t, h: h, dead: deadletter.NewMemory(), intake: newFakeIntake(), published: map[string]draft.Envelope{}}
	var err error
	f.bus, err = bus.Open(context.Background(), bus.Config{Driver: bus.DriverMemory}, nil)
	require.NoError(t, err)
	f.manager, err = connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{
		Registry: h.Registry,
		Location: cfg.Server.Location,
		Enricher: cfg.Normalize.Enricher,
		Publish:  f.publish,
		// Failed connectors come back quickly: a test waits for them, not for a minute.
		Backoff:    10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		_ = f.bus.Close()
		require.NoError(t, err)
	}
	f.inst = f.manager.Instances()[0]
	var sources []pipeline.Source
	for _, inst := range f.manager.Instances() {
		n, err := connectors.NormalizerOf(inst)
		if err != nil {
			_ = f.manager.Close(context.Background())
			_ = f.bus.Close()
			require.NoError(t, err)
		}
		sources = append(sources, pipeline.Source{Name: inst.Name, Normalizer: n})
	}
	f.pipeline, err = pipeline.New(pipeline.Options{
		Bus:         f.bus,
		Sources:     sources,
		Intake:      f.intake.take,
		Permanent:   func(err error) bool { var fe *draft.FieldError; return errors.As(err, &fe) },
		DeadLetters: f.dead,
		// As cmd/gongdan wires it: a dead letter counts against its connector.
		OnDeadLetter: func(connector string) {
			if inst, ok := f.manager.Instance(connector); ok {
				inst.Stats.DeadLettered.Add(1)
			}
		},
		RetryInterval: time.Millisecond,
	})
	if err != nil {
		_ = f.manager.Close(context.Background())
		_ = f.bus.Close()
		require.NoError(t, err)
	}
	t.Cleanup(func() { _ = f.close() })
	return f
}

// start runs the pipeline and, once it is subscribed, the connectors.
func (f *fixture) start() {
	f.t.Helper()
	f.startPipeline()
	f.manager.Start(context.Background())
	if f.inst.Spec.Mount != "" {
		f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mount, name, ok := connectors.MountedAt(r.URL.Path)
			h, found := f.manager.Receiver(mount, name)
			if !ok || !found {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
	require.Eventually(f.t, func() bool {
		return f.status().State == connectors.StateRunning
	}, f.h.Timeout, time.Millisecond, "the connector does not run")
}

func (f *fixture) startPipeline() {
	f.t.Helper()
	f.pipelineDone = make(chan error, 1)
	go func() { f.pipelineDone <- f.pipeline.Run(context.Background()) }()
	select {
	case <-f.pipeline.Running():
	case err := <-f.pipelineDone:
		f.t.Fatalf("pipeline stopped before it ran: %v", err)
	case <-time.After(f.h.Timeout):
		f.t.Fatal("pipeline did not start in time")
	}
}

// close takes everything down in reverse, as cmd/gongdan does: connectors, pipeline, bus.
func (f *fixture) close() error {
	f.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), f.h.Timeout)
		defer cancel()
		// Whatever a test left blocked in a publish is let go.
		f.hook.Store(nil)
		var errs []error
		// The source first: nothing comes in once the connectors are going down. Close waits
		// for the requests in hand.
		if f.server != nil {
			f.server.Close()
		}
		errs = append(errs, f.manager.Close(ctx))
		// A pipeline that never ran is not closed: watermill's Router.Close then waits out
		// its whole close timeout for handlers that never started. The bus closes the
		// subscribers the pipeline made.
		if f.pipelineDone != nil {
			errs = append(errs, f.pipeline.Close(), <-f.pipelineDone)
		}
		errs = append(errs, f.bus.Close())
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// publish is the manager's publish func: the test's hook, then the pipeline's Publish.
func (f *fixture) publish(ctx context.Context, env draft.Envelope) error {
	if hook := f.hook.Load(); hook != nil {
		if err := (*hook)(ctx, env); err != nil {
			return err
		}
	}
	if err := f.pipeline.Publish(ctx, env); err != nil {
		return err
	}
	f.mu.Lock()
	f.published[env.ID] = env
	f.mu.Unlock()
	return nil
}

func (f *fixture) setHook(hook func(ctx context.Context, env draft.Envelope) error) {
	if hook == nil {
		f.hook.Store(nil)
		return
	}
	f.hook.Store(&hook)
}

func (f *fixture) envelope(id string) (draft.Envelope, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	env, ok := f.published[id]
	return env, ok
}

func (f *fixture) status() connectors.Status { return f.inst.Stats.Snapshot(f.inst.Name, f.inst.Type) }

func (f *fixture) target() Target {
	tg := Target{Connector: f.inst.Connector}
	if f.server != nil {
		tg.URL = f.server.URL + "/" + f.inst.Spec.Mount + "/" + f.inst.Name
		tg.Client = f.server.Client()
	}
	return tg
}

func (f *fixture) send(in Input) bool { return f.h.Send(f.t, f.target(), in) }

// sendAsync sends from another goroutine; the channel gets the answer.
func (f *fixture) sendAsync(in Input) <-chan bool {
	acked := make(chan bool, 1)
	go func() { acked <- f.h.Send(f.t, f.target(), in) }()
	return acked
}

// waitAnswer waits for an answer from sendAsync.
func (f *fixture) waitAnswer(acked <-chan bool) bool {
	f.t.Helper()
	select {
	case a := <-acked:
		return a
	case <-time.After(f.h.Timeout):
		f.t.Fatal("Send did not return in time")
		return false
	}
}

// waitTickets waits until the fake core has taken a draft of every published envelope (a
// Good input makes one draft), then returns the tickets.
func (f *fixture) waitTickets(atLeast int) map[string]int {
	f.t.Helper()
	require.Eventually(f.t, func() bool {
		taken := f.intake.taken()
		return taken >= atLeast && int64(taken) >= f.status().Published-f.status().DeadLettered
	}, f.h.Timeout, time.Millisecond, "the fake core did not get the drafts: published %d, dead-lettered %d, drafts taken %d",
		f.status().Published, f.status().DeadLettered, f.intake.taken())
	return f.intake.tickets()
}

func testAckedAfterDurable(t *testing.T, h Harness) {
	f := newFixture(t, h)
	entered, released := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(released) }) }
	defer release() // a failure below must not leave a request hanging in the server
	f.setHook(func(ctx context.Context, _ draft.Envelope) error {
		enterOnce.Do(func() { close(entered) })
		select {
		case <-released:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	before := f.status()
	answer := f.sendAsync(h.Good(0))
	select {
	case <-entered:
	case a := <-answer:
		t.Fatalf("Send returned (acked: %v) without publishing", a)
	case <-time.After(h.Timeout):
		t.Fatal("the connector did not publish the input")
	}
	// The publish is blocked: a connector that acks now acks before the envelope is durable.
	// This window can only miss a bug, never invent one.
	assert.Never(t, func() bool { return len(answer) > 0 }, 50*time.Millisecond, time.Millisecond,
		"the source was answered while the publish was still blocked")
	assert.Equal(t, before.Published, f.status().Published, "Published moved before the publish returned")
	release()
	assert.True(t, f.waitAnswer(answer), "not acked after the publish returned")
	assert.Equal(t, before.Published+1, f.status().Published)
	tickets := f.waitTickets(1)
	assert.Len(t, tickets, 1, "the acked input must reach the core as one draft")
	for _, d := range f.intake.drafts() {
		assert.Equal(t, f.inst.Name, d.Source.Connector)
		assert.Equal(t, f.inst.Type, d.Source.Type)
	}
}

func testPublishFails(t *testing.T, h Harness) {
	f := newFixture(t, h)
	var calls atomic.Int64
	f.setHook(func(context.Context, draft.Envelope) error {
		calls.Add(1)
		return bus.ErrClosed
	})
	before := f.status()
	assert.False(t, f.send(h.Good(0)), "acked although the publish failed")
	assert.Positive(t, calls.Load(), "the connector did not publish the input")
	after := f.status()
	assert.Equal(t, before.Published, after.Published, "Published moved although the publish failed")
	assert.Equal(t, before.Rejected, after.Rejected, "a failed publish is not the source's fault: not Rejected")

	// The same input, once the bus is back, is taken.
	f.setHook(nil)
	assert.True(t, f.send(h.Redelivery(0)), "not acked once the publish works again")
	assert.Equal(t, before.Published+1, f.status().Published)
	assert.Len(t, f.waitTickets(1), 1)
}

func testRedelivery(t *testing.T, h Harness) {
	f := newFixture(t, h)
	const n = 4
	// One after the other.
	for i := range n {
		require.True(t, f.send(h.Good(i)), "Good(%d) not acked", i)
		require.True(t, f.send(h.Redelivery(i)), "Redelivery(%d) not acked", i)
	}
	// At the same time: both deliveries of each input race each other and the others.
	var wg sync.WaitGroup
	for i := n; i < 2*n; i++ {
		for _, in := range []Input{h.Good(i), h.Redelivery(i)} {
			wg.Go(func() {
				if !f.send(in) {
					t.Errorf("input %d not acked", i)
				}
			})
		}
	}
	wg.Wait()
	tickets := f.waitTickets(2 * n)
	assert.Len(t, tickets, 2*n, "want one ticket per input, however often it was delivered; got dedup keys %v", keys(tickets))
}

func testDeadLetter(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := context.Background()
	before := f.status()
	assert.True(t, f.send(h.Bad), "Bad must be accepted at the edge: it fails in the pipeline")
	var dls []deadletter.DeadLetter
	require.Eventually(t, func() bool {
		page, err := f.dead.DeadLetters(ctx, deadletter.Query{})
		dls = page.DeadLetters
		if err != nil {
			return false
		}
		return len(dls) > 0
	}, h.Timeout, time.Millisecond, "no dead letter for Bad")
	require.Len(t, dls, 1)
	dl := dls[0]
	assert.Equal(t, f.inst.Name, dl.Connector)
	assert.Equal(t, "normalize."+f.inst.Name, dl.Handler)
	assert.Equal(t, pipeline.RawTopic(f.inst.Name), dl.Topic)
	assert.NotEmpty(t, dl.Error)
	assert.GreaterOrEqual(t, dl.Attempts, 1)
	assert.Equal(t, deadletter.StateDead, dl.State)

	// The payload is the envelope as the connector published it, so a replay sees the same.
	var env draft.Envelope
	require.NoError(t, json.Unmarshal(dl.Payload, &env), "the dead letter's payload is not an envelope")
	published, ok := f.envelope(env.ID)
	if assert.True(t, ok, "the dead letter's envelope %q was never published", env.ID) {
		assert.JSONEq(t, mustJSON(t, published), mustJSON(t, env))
	}
	assert.Equal(t, f.inst.Name, env.Connector)

	require.Eventually(t, func() bool { return f.status().DeadLettered == before.DeadLettered+1 }, h.Timeout, time.Millisecond,
		"Stats.DeadLettered did not move")
	assert.Equal(t, connectors.StateRunning, f.status().State, "the connector stopped after a dead letter")

	// The connector and the pipeline go on: a good input still makes a ticket.
	require.True(t, f.send(h.Good(0)), "Good not acked after a dead letter")
	assert.Len(t, f.waitTickets(1), 1, "the bad input made a ticket, or the good one none")
}

func testCounters(t *testing.T, h Harness) {
	f := newFixture(t, h)
	st := f.status()
	require.Zero(t, st.Received+st.Published+st.Rejected+st.DeadLettered, "a new connector starts at zero: %+v", st)

	require.True(t, f.send(h.Good(0)))
	eventuallyStatus(t, f, "after Good", func(s connectors.Status) bool {
		return s.Received == 1 && s.Published == 1 && s.Rejected == 0
	})

	require.True(t, f.send(h.Bad))
	eventuallyStatus(t, f, "after Bad", func(s connectors.Status) bool {
		return s.Received == 2 && s.Published == 2 && s.Rejected == 0 && s.DeadLettered == 1
	})

	if h.Rejected != nil {
		assert.False(t, f.send(*h.Rejected), "Rejected was acked")
		eventuallyStatus(t, f, "after Rejected", func(s connectors.Status) bool {
			return s.Received == 3 && s.Published == 2 && s.Rejected == 1
		})
		assert.NotEmpty(t, f.status().LastError, "a rejection is recorded as the last error")
	}
	f.waitTickets(1)
	assert.Len(t, f.intake.tickets(), 1)
}

func eventuallyStatus(t *testing.T, f *fixture, when string, ok func(connectors.Status) bool) {
	t.Helper()
	if !assert.Eventually(t, func() bool { return ok(f.status()) }, f.h.Timeout, time.Millisecond) {
		t.Errorf("counters %s: %+v", when, f.status())
	}
}

func testClose(t *testing.T, h Harness) {
	// Goroutines that were there before belong to the test runner and to other tests.
	existing := goleak.IgnoreCurrent()
	f := build(t, h)
	f.start()
	require.True(t, f.send(h.Good(0)))
	f.waitTickets(1)
	require.NoError(t, f.close())
	assert.Equal(t, connectors.StateStopped, f.status().State)
	// Closing again is harmless.
	require.NoError(t, f.manager.Close(context.Background()))
	require.NoError(t, f.pipeline.Close())
	require.NoError(t, f.bus.Close())
	goleak.VerifyNone(t, existing)
}

func testCloseWithoutStart(t *testing.T, h Harness) {
	existing := goleak.IgnoreCurrent()
	// The server failed between running the pipeline and starting the connectors: they are
	// built, never run, and must close cleanly, however often.
	f := build(t, h)
	f.startPipeline()
	assert.NoError(t, f.manager.Close(context.Background()))
	assert.NoError(t, f.manager.Close(context.Background()))
	// Start after Close does nothing.
	f.manager.Start(context.Background())
	assert.Equal(t, connectors.StateStopped, f.status().State)
	require.NoError(t, f.close())
	assert.NoError(t, f.bus.Close(), "closing the bus twice")

	// The connector on its own: built without side effects, closed without Run.
	cfg := parse(t, h)
	conn, _, err := h.Registry.Build(cfg.File, cfg.Connectors[0], connectors.Env{})
	require.NoError(t, err)
	assert.NoError(t, conn.Close(context.Background()))
	goleak.VerifyNone(t, existing)
}

// fakeIntake is the core, as far as the suite cares: one ticket per dedup key.
type fakeIntake struct {
	mu   sync.Mutex
	keys map[string]int // dedup key → drafts taken with it
	all  []draft.Draft
}

func newFakeIntake() *fakeIntake { return &fakeIntake{keys: map[string]int{}} }

func (in *fakeIntake) take(_ context.Context, d draft.Draft) error {
	if err := d.Validate(); err != nil {
		return err // a *draft.FieldError: permanent
	}
	if d.DedupKey == "" {
		return &draft.FieldError{Field: "dedup_key", Msg: "empty: the core cannot make a draft idempotent without it"}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.keys[d.DedupKey]++
	in.all = append(in.all, d)
	return nil
}

// taken counts the drafts taken, duplicates included.
func (in *fakeIntake) taken() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.all)
}

// tickets counts the drafts taken per ticket (dedup key).
func (in *fakeIntake) tickets() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.keys)
}

func (in *fakeIntake) drafts() []draft.Draft {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]draft.Draft(nil), in.all...)
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// PostWith is a Harness.Send for connectors that take HTTP requests: Input.Body POSTed to the
// connector with contentType and Input.Headers, acked on 202. It returns once the status is
// known; the body is drained in the background.
func PostWith(contentType string) func(t *testing.T, target Target, in Input) bool {
	return PostTo("", contentType, http.StatusAccepted)
}

// PostTo is PostWith for a connector that answers acked with another status (the hotline: 200,
// as ASR vendors want) at its URL with query added (?token=… for a callback URL's secret).
func PostTo(query, contentType string, acked int) func(t *testing.T, target Target, in Input) bool {
	return func(t *testing.T, target Target, in Input) bool {
		url := target.URL
		if query != "" {
			url += "?" + query
		}
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(in.Body))
		if err != nil {
			t.Error(err)
			return false
		}
		req.Header.Set("Content-Type", contentType)
		for k, v := range in.Headers {
			req.Header.Set(k, v)
		}
		resp, err := target.Client.Do(req)
		if err != nil {
			t.Errorf("POST %s: %v", target.URL, err)
			return false
		}
		go func() {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		return resp.StatusCode == acked
	}
}
