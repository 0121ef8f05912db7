package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Bus drivers, as config.Bus names them.
const (
	// DriverNATS is NATS JetStream, embedded in gongdan or an external server or cluster.
	DriverNATS = "nats"
	// DriverMemory is an in-process bus for unit tests; see newMemoryBus.
	DriverMemory = "memory"
)

// Defaults for Config.
const (
	DefaultPrefix         = "gongdan"
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultPublishTimeout = 2 * time.Second
)

// Bounds of Config.PublishTimeout.
const (
	// The NATS client retries a publish that no stream answered twice, 250ms apart, before
	// it reports the stream gone (and the publisher creates it again); a shorter timeout
	// would cut that short every time. It also leaves room for a PubAck from a disk that
	// fsyncs every write under load.
	MinPublishTimeout = time.Second
	// Above this, a publish retried after a timeout could fall outside the 2-minute
	// duplicate window and be stored twice.
	MaxPublishTimeout = time.Minute
)

// MaxConcurrency caps the concurrency of one subscriber. Each unit of concurrency is a
// NATS subscription with its own goroutine; beyond this a handler wants more processes, not
// more goroutines.
const MaxConcurrency = 1024

// ErrClosed is returned by a Bus, and by its publisher and subscribers, after Bus.Close.
var ErrClosed = errors.New("bus: closed")

// Config configures a Bus. It mirrors config.Bus, which has validated the user's part of
// it; Validate checks it again for callers that build one by hand (tests, tools).
type Config struct {
	// Driver is DriverNATS or DriverMemory. Default nats.
	Driver string
	// Embedded runs a NATS server with JetStream inside this process, storing under Dir and
	// listening on no port. Only for nats.
	Embedded bool
	// URL is the external NATS server when Embedded is false: nats://host:4222, several
	// separated by commas. It may carry user:password@ or a token@; those never appear in an
	// error or a log line.
	URL string
	// Dir is the embedded server's JetStream storage directory, an absolute path. One gongdan
	// process at a time may use it; a second one is refused.
	Dir string
	// Prefix starts every subject (<prefix>.<topic>) and stream name (<PREFIX>_RAW), so several
	// gongdan installations, or test runs, can share one NATS server. Lowercase letters, digits
	// and '-'. Default "gongdan".
	Prefix string
	// MaxAge is how long streams keep a message, acknowledged or not. Default 7 days.
	MaxAge time.Duration
	// SyncAlways makes the embedded server fsync every write before it acknowledges a
	// publish. Without it a publish is acknowledged once the message is written to the
	// operating system, which survives a crash or kill -9 of gongdan but not a power loss or
	// a kernel crash within the server's background sync interval (2 minutes). With it a
	// power loss loses nothing acknowledged either, at a cost in publish throughput measured
	// in docs/BENCHMARKS.md. Only for embedded NATS: an external server decides this itself
	// (jetstream { sync_interval: always }).
	SyncAlways bool
	// PublishTimeout is how long Publish waits for NATS to acknowledge that a message is
	// stored. A JetStream stream that cannot write (a full disk) does not answer at all, so
	// this is also how long a publish takes to fail then. Default 2s; MinPublishTimeout
	// to MaxPublishTimeout. Only for nats.
	PublishTimeout time.Duration
	// AckWait is how long a delivered message may stay unacked before NATS delivers it again
	// (also a message that was on its way to a subscriber that closed). A handler running
	// longer sees its message twice. Default 30s. Only for nats.
	AckWait time.Duration
}

func (c *Config) setDefaults() {
	if c.Driver == "" {
		c.Driver = DriverNATS
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.AckWait == 0 {
		c.AckWait = ackWait
	}
}

var busPrefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Validate reports the first setting that cannot work, saying what to set instead.
func (c Config) Validate() error {
	switch c.Driver {
	case DriverMemory:
		return nil
	case DriverNATS:
	default:
		return fmt.Errorf("bus: unknown driver %q (one of: %s, %s)", c.Driver, DriverNATS, DriverMemory)
	}
	if !busPrefixPattern.MatchString(c.Prefix) {
		return fmt.Errorf("bus: prefix %q: want lowercase letters, digits and '-', starting with a letter or digit", c.Prefix)
	}
	if c.MaxAge < time.Minute {
		return fmt.Errorf("bus: max age %v is too short for a message to wait out a restart; want at least 1m", c.MaxAge)
	}
	if c.AckWait < time.Second {
		return fmt.Errorf("bus: ack wait %v is shorter than a handler's ack takes to travel; want at least 1s", c.AckWait)
	}
	if c.PublishTimeout < MinPublishTimeout || c.PublishTimeout > MaxPublishTimeout {
		return fmt.Errorf("bus: publish timeout %v: want %v to %v (bus.publish_timeout)", c.PublishTimeout, MinPublishTimeout, MaxPublishTimeout)
	}
	if c.Embedded {
		if c.URL != "" {
			return errors.New("bus: embedded NATS takes no url; set embedded: false to use the server at url")
		}
		if c.Dir == "" {
			return errors.New("bus: embedded NATS needs a storage directory (bus.dir)")
		}
		return nil
	}
	if strings.TrimSpace(c.URL) == "" {
		return errors.New("bus: external NATS needs a url like nats://127.0.0.1:4222 (or set embedded: true)")
	}
	if c.SyncAlways {
		return fmt.Errorf("bus: sync_always applies to embedded NATS only; for the server at %s set jetstream { sync_interval: always } in its config", redactURLs(c.URL))
	}
	return nil
}

// Bus is the message bus under the pipeline: a watermill Publisher and competing-consumer
// Subscribers over NATS JetStream (embedded or external) or, in unit tests, memory.
//
// Topics are watermill topic names: raw.<connector>, drafts, events; in general lowercase
// segments of [a-z0-9_-] separated by dots. Delivery is at least once: a message is
// redelivered until a subscriber acknowledges it, so handlers must be idempotent (gongdan's
// are, through dedup keys). Order is not guaranteed once concurrency is above one, nor on
// memory at all.
//
// A Bus is safe for concurrent use. It owns its connections: close the Bus, not the
// publisher it hands out.
type Bus struct {
	backend   busBackend
	closeOnce sync.Once
	closeErr  error
}

// busBackend is what each driver implements; Bus adds argument checks and Close-once.
type busBackend interface {
	publisher() message.Publisher
	subscriber(group string, concurrency int) (message.Subscriber, error)
	healthy(ctx context.Context) error
	close() error
}

// Open starts or connects to the bus cfg describes: for NATS it starts the embedded
// server or connects to the external one, checks that JetStream answers and creates or
// updates gongdan's streams. ctx bounds the start-up only. A nil logger discards.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "bus")
	var (
		backend busBackend
		err     error
	)
	switch cfg.Driver {
	case DriverMemory:
		backend = newMemoryBus(logger)
	default:
		backend, err = openNATSBus(ctx, cfg, logger)
	}
	if err != nil {
		return nil, err
	}
	return &Bus{backend: backend}, nil
}

// Publisher returns the bus's publisher. Publish returns once every message is durable: for
// NATS, once JetStream has acknowledged it (a PubAck), so a connector may then ack its
// source. A message published again to a topic with the same UUID within two minutes is
// stored once; published to another topic, it is stored there too. Publish is safe for
// concurrent use. Its Close does nothing: the Bus owns the connection (a watermill Router
// closes the publishers of its handlers when it stops, and the bus must outlive that).
func (b *Bus) Publisher() message.Publisher { return b.backend.publisher() }

var busGroupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// Subscriber returns a new subscriber for the consumer group group: every topic it
// subscribes to is shared by all subscribers of that group, in this process and others, and
// each message goes to one of them. Each Subscribe has up to concurrency messages out at
// once; a message not acked (nacked, or still out when the subscriber or the process goes
// away) is delivered again: at once when nacked, after 30 seconds (the ack wait) otherwise,
// also after a restart. A group that subscribes to a topic for the first time starts from
// the oldest message the stream still keeps. When no subscription of the group is running
// anywhere, the first Subscribe holds delivery for a second, so that a backlog is spread
// over all its concurrency rather than queued behind one subscription.
//
// The caller owns the subscriber and closes it; Bus.Close closes those still open. Group
// names are letters, digits, '-' and '_' ("normalize-hooks").
func (b *Bus) Subscriber(group string, concurrency int) (message.Subscriber, error) {
	if !busGroupPattern.MatchString(group) {
		return nil, fmt.Errorf("bus: consumer group %q: want letters, digits, '-' and '_', at most 100, like normalize-hooks", group)
	}
	if concurrency < 1 || concurrency > MaxConcurrency {
		return nil, fmt.Errorf("bus: consumer group %s: concurrency %d: want 1 to %d", group, concurrency, MaxConcurrency)
	}
	return b.backend.subscriber(group, concurrency)
}

// Healthy reports whether the bus can store a message now, for /readyz: for NATS, that a
// probe message published to the stream GONGDAN_HEALTH (<PREFIX>_HEALTH, which keeps only
// the last one) is acknowledged within the publish timeout (at most 2s); for embedded NATS
// also that its storage directory has room to write, and that no stream of it has stopped
// at a write error. Its error names what cannot write and why, without paths or URLs (it
// is shown to anyone who asks /readyz); the log has the details.
//
// nats-server stops a stream at its first write error (a full disk) and leaves it stopped:
// every publish to it goes unanswered, even once there is room again. For embedded NATS,
// Healthy restarts JetStream in place once the storage directory can be written again, at
// most once a minute; it says when only a restart of gongdan can help. A publish that times
// out starts the same check in the background, so the bus recovers without a /readyz.
//
// The answer is kept for a second, so that /readyz under load does not write to the disk
// at every request; one check runs at a time.
func (b *Bus) Healthy(ctx context.Context) error { return b.backend.healthy(ctx) }

// Close closes the subscribers still open, then the connections, then the embedded server,
// which writes its state to disk. Messages out to a handler and not yet acked are delivered
// again after a restart. Close is idempotent.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.backend.close() })
	return b.closeErr
}

var busTopicPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$`)

// checkTopic refuses topic names that cannot become a NATS subject or that would land in a
// stream nobody provisioned.
func checkTopic(topic string) error {
	if !busTopicPattern.MatchString(topic) {
		return fmt.Errorf("bus: topic %q: want raw.<connector>, drafts, events, or other lowercase segments of [a-z0-9_-] separated by dots", topic)
	}
	return nil
}

// watermillLogger adapts logger for watermill and watermill-nats, whose Info lines are
// per-subscriber chatter ("Subscriber closed"): they go to Debug.
func watermillLogger(logger *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
}

// redactURLs hides the credentials of each URL in a comma-separated list:
// nats://user:secret@host:4222 becomes nats://***@host:4222. A bare token (nats://tok@host) is
// hidden the same way.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactURL(u string) string {
	start, end, ok := urlUserinfo(u)
	if !ok {
		return u
	}
	return u[:start] + "***" + u[end:]
}

// urlUserinfo finds the user:password@ or token@ part of u: u[start:end] is the part before
// the '@'.
func urlUserinfo(u string) (start, end int, ok bool) {
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	}
	hostEnd := len(u)
	if i := strings.IndexAny(u[start:], "/?#"); i >= 0 {
		hostEnd = start + i
	}
	at := strings.LastIndex(u[start:hostEnd], "@")
	if at <= 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

// redactError is err's text without the credentials of any URL in list, in case a library
// quoted a URL back.
func redactError(err error, list string) string {
	msg := err.Error()
	for _, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		if start, end, ok := urlUserinfo(u); ok {
			msg = strings.ReplaceAll(msg, u[start:end], "***")
		}
	}
	return msg
}

// withDefaultTimeout gives ctx a deadline if it has none: NATS requests need one.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
