package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"gongdan/draft"
	"gongdan/pipeline/bus"
	"gongdan/pipeline/deadletter"
)

// Topics. Raw envelopes go to one topic per connector, so that one connector's backlog or
// failures never hold up another's; drafts from every connector meet in one topic.
const (
	TopicDrafts = "drafts"
	TopicEvents = "events"
)

// RawTopic is the topic of a connector's raw envelopes.
func RawTopic(connector string) string { return "raw." + connector }

// Message metadata keys.
const (
	metaConnector = "gongdan_connector"
	// metaKey identifies the content across redeliveries and replays: the envelope id on raw
	// topics, the dedup key on drafts. Dead letters are keyed by it.
	metaKey = "gongdan_key"
	// metaReplayOf marks a replayed message with the dead letter it came from.
	metaReplayOf = "gongdan_replay_of"
)

// Source is one connector as the pipeline sees it.
type Source struct {
	Name string
	// Normalizer reads this connector's envelopes (connectors.NormalizerOf). Required.
	Normalizer draft.Normalizer
	// Scope is what the connector's drafts may say (DESIGN.md §11): every draft is confined to
	// it, so the payload never picks its source, another connector's keys, or an intent the
	// connector may not send. The zero value: the connector Name, no intents, no other
	// namespaces.
	Scope draft.Scope
}

// Consumer takes the messages of a topic, each acked once Handle returns nil. An error is
// retried with back-off, then kept as a dead letter of handler Name, which an operator can
// replay. Handle must tolerate a message twice (a crash between it and the ack).
type Consumer struct {
	// Name names the handler, its durable subscription and its dead letters.
	Name  string
	Topic string
	// Concurrency is how many messages are handled at once; default 4.
	Concurrency int
	Handle      func(ctx context.Context, payload []byte, metadata map[string]string) error
}

// IntakeFunc hands a draft to the core. It returns only once the ticket is durable (or the
// draft was recognised as a duplicate or merged). It must be idempotent on the draft's dedup
// key: a crash between it and the ack redelivers the draft.
type IntakeFunc func(ctx context.Context, d draft.Draft) error

// Options configure a Pipeline.
type Options struct {
	Bus *bus.Bus
	// Sources are the connectors whose raw topics are normalized.
	Sources []Source
	// Enrich fills what normalizers left empty from the drafts' text; nil leaves drafts as
	// they are.
	Enrich func(draft.Draft) draft.Draft
	// Intake takes drafts. Nil leaves drafts on the bus (for tests of the first half).
	Intake IntakeFunc
	// Permanent reports intake errors that a retry cannot fix (an invalid draft): they go to
	// the dead letters at once. Every other intake error is retried.
	Permanent func(error) bool
	// DeadLetters keeps what fails for good. Required.
	DeadLetters deadletter.Store
	// OnDeadLetter is told which connector a dead letter came from (its counters).
	OnDeadLetter func(connector string)
	// Retries is how often a failing message is tried again before it is a dead letter.
	// Default 5; backoff from RetryInterval (default 100ms), doubling, up to 5s.
	Retries       int
	RetryInterval time.Duration
	// Consumers take messages of other topics (the core's events) under the same retries and
	// dead letters.
	Consumers []Consumer
	// IntakeConcurrency is how many drafts are handed to the core at once, so that the
	// engine's group commit has something to group. Default 64.
	IntakeConcurrency int
	// NormalizeConcurrency is the same per connector for normalization. Default 16.
	NormalizeConcurrency int
	Logger               *slog.Logger
	// Registerer gets the pipeline's metrics; nil registers none.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

func (o *Options) setDefaults() error {
	if o.Bus == nil {
		return errors.New("pipeline: no bus")
	}
	if o.DeadLetters == nil {
		return errors.New("pipeline: no dead-letter store")
	}
	for _, src := range o.Sources {
		if src.Normalizer == nil {
			return fmt.Errorf("pipeline: source %s has no normalizer", src.Name)
		}
	}
	if o.Permanent == nil {
		o.Permanent = func(error) bool { return false }
	}
	if o.OnDeadLetter == nil {
		o.OnDeadLetter = func(string) {}
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 100 * time.Millisecond
	}
	if o.IntakeConcurrency <= 0 {
		o.IntakeConcurrency = 64
	}
	if o.NormalizeConcurrency <= 0 {
		o.NormalizeConcurrency = 16
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Pipeline is the watermill router between the connectors and the core: raw envelopes are
// normalized into drafts, drafts are taken in by the core, and what fails for good is kept as a
// dead letter.
type Pipeline struct {
	opts    Options
	router  *message.Router
	pub     message.Publisher
	metrics *pipelineMetrics
	// scopes are the sources' scopes by connector name, for the drafts topic.
	scopes map[string]draft.Scope

	ran       atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New builds the router. Nothing runs until Run.
func New(opts Options) (*Pipeline, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	logger := watermill.NewSlogLoggerWithLevelMapping(opts.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, logger)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{opts: opts, router: router, pub: opts.Bus.Publisher(), metrics: newPipelineMetrics(opts.Registerer),
		scopes: map[string]draft.Scope{}}
	if opts.Registerer != nil {
		metrics.NewPrometheusMetricsBuilder(opts.Registerer, "gongdan", "pipeline").AddPrometheusRouterMetrics(router)
	}
	router.AddMiddleware(middleware.CorrelationID)

	for _, src := range opts.Sources {
		if src.Scope.Connector == "" {
			src.Scope.Connector = src.Name
		}
		p.scopes[src.Name] = src.Scope
		sub, err := opts.Bus.Subscriber("normalize-"+src.Name, opts.NormalizeConcurrency)
		if err != nil {
			return nil, err
		}
		name := "normalize." + src.Name
		h := router.AddHandler(name, RawTopic(src.Name), sub, TopicDrafts, p.pub, p.normalizeHandler(src))
		h.AddMiddleware(p.reliably(name, RawTopic(src.Name))...)
	}
	if opts.Intake != nil {
		sub, err := opts.Bus.Subscriber("intake", opts.IntakeConcurrency)
		if err != nil {
			return nil, err
		}
		h := router.AddConsumerHandler("intake", TopicDrafts, sub, p.intakeHandler)
		h.AddMiddleware(p.reliably("intake", TopicDrafts)...)
	}
	for _, c := range opts.Consumers {
		if c.Concurrency <= 0 {
			c.Concurrency = 4
		}
		sub, err := opts.Bus.Subscriber(c.Name, c.Concurrency)
		if err != nil {
			return nil, err
		}
		h := router.AddConsumerHandler(c.Name, c.Topic, sub, func(msg *message.Message) error {
			return c.Handle(msg.Context(), msg.Payload, msg.Metadata)
		})
		h.AddMiddleware(p.reliably(c.Name, c.Topic)...)
	}
	return p, nil
}

// reliably is the middleware every handler runs under, outermost first: failures that
// survive the retries become dead letters (and the message is acked only once the dead
// letter is durable); panics become errors; each try is counted.
func (p *Pipeline) reliably(handler, topic string) []message.HandlerMiddleware {
	retry := middleware.Retry{
		MaxRetries:      p.opts.Retries,
		InitialInterval: p.opts.RetryInterval,
		MaxInterval:     5 * time.Second,
		Multiplier:      2,
		ShouldRetry:     func(rp middleware.RetryParams) bool { return !isPermanent(rp.Err) },
	}
	return []message.HandlerMiddleware{
		p.deadLetters(handler, topic),
		retry.Middleware,
		middleware.Recoverer,
		p.countAttempts,
	}
}

// Publish puts a connector's envelope on its raw topic. It returns once the bus has stored it.
func (p *Pipeline) Publish(_ context.Context, env draft.Envelope) error {
	payload, err := json.Marshal(env)
	if err != nil {
		return err
	}
	// The envelope id is the message id, so a connector that publishes the same envelope
	// twice (a retry after a lost ack) stores it once within the bus's duplicate window.
	msg := message.NewMessage(env.ID, payload)
	msg.Metadata.Set(metaConnector, env.Connector)
	msg.Metadata.Set(metaKey, env.ID)
	middleware.SetCorrelationID(env.ID, msg)
	if err := p.pub.Publish(RawTopic(env.Connector), msg); err != nil {
		return fmt.Errorf("pipeline: publishing to %s: %w", RawTopic(env.Connector), err)
	}
	p.metrics.published.WithLabelValues(env.Connector).Inc()
	return nil
}

// normalizeHandler turns a raw envelope into draft messages.
func (p *Pipeline) normalizeHandler(src Source) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		var env draft.Envelope
		if err := json.Unmarshal(msg.Payload, &env); err != nil {
			return nil, Permanent(fmt.Errorf("not an envelope: %w", err))
		}
		if env.Connector != src.Name {
			// Only the connector publishes to its raw topic; anything else there is not its.
			return nil, Permanent(fmt.Errorf("an envelope of connector %q on %s", env.Connector, RawTopic(src.Name)))
		}
		drafts, err := src.Normalizer.Normalize(env)
		if err != nil {
			// Normalizers are pure: the same envelope fails the same way until the config
			// changes. Retrying is pointless; a replay after the fix is the cure.
			return nil, Permanent(err)
		}
		out := make([]*message.Message, 0, len(drafts))
		for i, d := range drafts {
			if p.opts.Enrich != nil {
				d = p.opts.Enrich(d)
			}
			if d, err = src.Scope.Confine(d); err != nil {
				return nil, Permanent(err)
			}
			// Checked again as it will reach the core: enrichment and the namespace may have
			// grown it past a limit, and on this topic the envelope is kept as a dead letter
			// (on the drafts topic a replay could not mend it).
			if err := d.Validate(); err != nil {
				return nil, Permanent(fmt.Errorf("the draft as the core would take it: %w", err))
			}
			payload, err := json.Marshal(d)
			if err != nil {
				return nil, Permanent(err)
			}
			// The draft's message id follows from the envelope's, so a redelivered envelope
			// republishes the same ids and the bus stores each draft once.
			m := message.NewMessage(derivedID(env.ID, i), payload)
			m.Metadata.Set(metaConnector, env.Connector)
			m.Metadata.Set(metaKey, d.DedupKey)
			out = append(out, m)
		}
		p.metrics.drafts.WithLabelValues(src.Name).Add(float64(len(out)))
		return out, nil
	}
}

// derivedID is a stable UUID for the i-th draft of an envelope.
func derivedID(envelopeID string, i int) string {
	sum := sha256.Sum256([]byte(envelopeID + "/" + strconv.Itoa(i)))
	id, _ := uuid.FromBytes(sum[:16])
	return id.String()
}

// intakeHandler hands a draft to the core.
func (p *Pipeline) intakeHandler(msg *message.Message) error {
	var d draft.Draft
	if err := json.Unmarshal(msg.Payload, &d); err != nil {
		return Permanent(fmt.Errorf("not a draft: %w", err))
	}
	// Confined again by the connector that published it (the message's, not the draft's,
	// say): a draft written by an older version, or a dead letter of this handler replayed,
	// never went through this version's normalize step. Confining is idempotent.
	connector := msg.Metadata.Get(metaConnector)
	scope, ok := p.scopes[connector]
	if !ok {
		return Permanent(fmt.Errorf("a draft of connector %q, which is not in the config", connector))
	}
	d, err := scope.Confine(d)
	if err != nil {
		return Permanent(err)
	}
	if err := p.opts.Intake(msg.Context(), d); err != nil {
		if p.opts.Permanent(err) {
			return Permanent(err)
		}
		return err
	}
	p.metrics.intake.Inc()
	return nil
}

// Run runs the router until ctx is done or Close.
func (p *Pipeline) Run(ctx context.Context) error {
	p.ran.Store(true)
	return p.router.Run(ctx)
}

// Running is closed once every handler is subscribed.
func (p *Pipeline) Running() <-chan struct{} { return p.router.Running() }

// Close stops the handlers, letting the messages in hand finish (at most 30s).
func (p *Pipeline) Close() error {
	// A router that never ran would wait its whole close timeout for handlers that never
	// started; the bus closes the subscriptions.
	p.closeOnce.Do(func() {
		if p.ran.Load() {
			p.closeErr = p.router.Close()
		}
	})
	return p.closeErr
}

// Replay sends a dead letter's message through the pipeline again, to the topic it failed
// on, under a new message id (the bus would drop the old one as a duplicate) and the same
// content. A replay that fails again comes back as the same dead letter.
func (p *Pipeline) Replay(ctx context.Context, id string) (deadletter.DeadLetter, error) {
	dl, err := p.opts.DeadLetters.DeadLetter(ctx, id)
	if err != nil {
		return deadletter.DeadLetter{}, err
	}
	// Marked first: the replayed message may fail again before Publish returns, and that
	// failure must leave the record dead, not replayed.
	marked, err := p.opts.DeadLetters.MarkReplayed(ctx, id, p.opts.Now())
	if err != nil {
		return deadletter.DeadLetter{}, err
	}
	msg := message.NewMessage(uuid.Must(uuid.NewV7()).String(), dl.Payload)
	for k, v := range dl.Metadata {
		msg.Metadata.Set(k, v)
	}
	msg.Metadata.Set(metaReplayOf, dl.ID)
	if err := p.pub.Publish(dl.Topic, msg); err != nil {
		dl.Attempts = 0 // not a try of the handler
		if _, putErr := p.opts.DeadLetters.PutDeadLetter(ctx, dl); putErr != nil {
			err = errors.Join(err, putErr)
		}
		return deadletter.DeadLetter{}, fmt.Errorf("pipeline: replaying %s to %s: %w", dl.ID, dl.Topic, err)
	}
	p.metrics.replayed.Inc()
	return marked, nil
}
