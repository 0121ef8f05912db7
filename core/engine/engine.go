// Package engine applies commands to tickets: it loads, decides with core/ticket, persists the
// ticket and its event atomically, and only then answers and publishes the event.
//
// All writes go through one committer goroutine that gathers whatever requests are waiting
// into one store transaction (group commit): under load, one durable commit covers hundreds
// of actions, and an answer still always means committed.
//
// The files are named by job: engine.go (the type, options, New and Close), committer.go (the
// request loop, group commit, conflict retries), intake.go (drafts in: create, merge,
// auto-resolve, repeats), commands.go (commands and their ids, engineer updates), timers.go
// (the timer loop: offers and SLA marks), routing.go and sla.go (what routing and SLA clocks do
// after each event), views.go (what the API reads), reports.go. The rules themselves are in
// the pure packages core/ticket, core/routing and core/sla.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// Errors of the engine itself (the ticket package's errors come through unchanged).
var (
	ErrClosed = errors.New("engine closed")
	// ErrCommandIDReused: a caller's command id came back from that caller with another
	// request (ticket, action, reason or data). Ids are each caller's own.
	ErrCommandIDReused = errors.New("command id reused")
	// ErrIdempotencyKeyReused: an Idempotency-Key came back with a different draft.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused")
	// ErrNotFound: no such ticket.
	ErrNotFound = store.ErrNotFound
)

// Options configure an Engine.
type Options struct {
	// Store keeps tickets and events. Required.
	Store store.Store
	// Location is the timezone of ticket ids and event times. Default Asia/Shanghai.
	Location *time.Location
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// MaxBatch caps the requests in one transaction. Default 512.
	MaxBatch int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Routing, when set, routes tickets (see RoutingOptions).
	Routing *RoutingOptions
	// SLA, when set, runs SLA clocks and escalations (see SLAOptions).
	SLA *SLAOptions
	// Closure, when set, runs the closing loop: tracking links, reminders to confirm, the
	// auto-confirm and the follow-up (see ClosureOptions).
	Closure *ClosureOptions
	// Tags, when set, are more tags for the ticket a draft opens at now (predictive
	// maintenance's 频繁故障 on a chronic device's next ticket). Called by the committer for
	// each new ticket, so it must be quick: no I/O.
	Tags func(d draft.Draft, now time.Time) []string
}

func (o *Options) setDefaults() error {
	if o.Store == nil {
		return errors.New("engine: Options.Store is required")
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		o.Location = loc
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Engine applies commands. Its methods are safe for concurrent use.
type Engine struct {
	opts    Options
	store   store.Store
	reqs    chan *request
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	metrics *metrics

	mu   sync.Mutex
	subs map[*Subscription]struct{}
	// lastEvent is the ID of the newest event published (LastEventID).
	lastEvent atomic.Int64

	// cache holds tickets as last committed by this engine, and pending those written by
	// the batch in flight; only the committer goroutine touches them. A cached ticket saves
	// a read and a decode per action. It may be stale when other processes share the store:
	// a stale version makes Append conflict (and the ticket is read again), and a refusal
	// decided on a cached ticket is decided again on the stored one.
	cache   map[string]ticket.Ticket
	pending map[string]ticket.Ticket

	// routing is nil when routing is off; only the committer touches it.
	routing *router
	// timersDone is closed when the timer loop has stopped; rearmDone when the SLA re-arming
	// after a change of policies has (or was never started).
	timersDone chan struct{}
	rearmDone  chan struct{}
}

// cacheSize bounds the ticket cache.
const cacheSize = 1 << 14

// New starts an engine over opts.Store. Close stops it.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	counts, err := opts.Store.CountByState(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: count tickets: %w", err)
	}
	for _, st := range ticket.States {
		m.tickets.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	e := &Engine{
		opts:    opts,
		store:   opts.Store,
		reqs:    make(chan *request, opts.MaxBatch*4),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		metrics: m,
		subs:    map[*Subscription]struct{}{},
		cache:   map[string]ticket.Ticket{},
		pending: map[string]ticket.Ticket{},
	}
	if opts.Routing != nil {
		if e.routing, err = newRouter(ctx, opts.Store, *opts.Routing, e.now()); err != nil {
			return nil, err
		}
	}
	go e.run()
	if e.routing != nil || opts.SLA != nil || opts.Closure != nil {
		e.timersDone = make(chan struct{})
		go e.runTimers()
	}
	if opts.SLA != nil {
		e.rearmDone = make(chan struct{})
		go e.rearmAll()
	}
	return e, nil
}

// Close stops taking requests, finishes the batch in flight and fails the rest with
// ErrClosed. It closes every subscription; it does not close the store.
func (e *Engine) Close() error {
	e.once.Do(func() {
		close(e.quit)
		<-e.done
		if e.routing != nil {
			e.routing.traces.close()
		}
		if e.timersDone != nil {
			<-e.timersDone
		}
		if e.rearmDone != nil {
			<-e.rearmDone
		}
		e.mu.Lock()
		for s := range e.subs {
			s.close()
		}
		e.subs = nil
		e.mu.Unlock()
	})
	return nil
}

func (e *Engine) now() time.Time { return e.opts.Now().In(e.opts.Location) }

// Now is the engine's clock, in its time zone.
func (e *Engine) Now() time.Time { return e.now() }

// Location is the engine's time zone.
func (e *Engine) Location() *time.Location { return e.opts.Location }
