package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream settings. The streams keep messages by age only (limits retention), whether
// acked or not: a group that is down for a day finds its messages waiting, and a new group
// can start from what the stream still holds.
const (
	// ackWait is Config.AckWait's default: how long a delivered message may stay unacked
	// before JetStream delivers it again. A handler that runs longer sees its message twice.
	ackWait = 30 * time.Second
	// duplicateWindow is how long JetStream remembers a message id (see msgID) to
	// store a message published again only once. A publisher retrying after a timeout
	// retries within seconds; the window costs server memory per message in it.
	duplicateWindow = 2 * time.Minute
	// maxAckPendingPerSlot sizes a consumer's MaxAckPending: messages delivered and not yet
	// acked, across every process of the group. A few per unit of concurrency keep each
	// subscription fed while its previous ack travels; more would let one process hoard
	// messages in its buffer where they age towards ackWait while others idle.
	maxAckPendingPerSlot = 4
	// requestTimeout bounds a JetStream API request (stream and consumer management, health).
	requestTimeout = 10 * time.Second
	// drainTimeout bounds the drain of a subscriber's connection on Close.
	drainTimeout = 5 * time.Second
	// closeGrace is how long a closing subscriber waits for the messages it handed out to
	// be acked or nacked, so that a graceful shutdown (a watermill Router closes its
	// subscribers first, then waits for its handlers) keeps their acks; what is still out
	// after it comes again after ackWait. It also bounds watermill-nats' own close.
	closeGrace = 5 * time.Second
	// embeddedStartTimeout bounds the start of the embedded server, JetStream recovery
	// included.
	embeddedStartTimeout = time.Minute
	// embeddedMaxPayload is the largest message the embedded server takes (the NATS default
	// is 1 MiB; an envelope with a 1 MiB body and its headers needs more).
	embeddedMaxPayload = 8 << 20
	// idleHold is how long an idle consumer is paused while a subscriber sets up its
	// subscriptions (see holdIdleConsumer). Setting up 64 takes milliseconds in process,
	// about 130 ms at 1 ms from the server; a group that starts idle waits this long for
	// its first message.
	idleHold = time.Second
	// busLockFile, in the embedded storage dir, is held (flock) while a process uses it.
	busLockFile = "gongdan-bus.lock"
)

// natsBus is the bus over NATS JetStream, through watermill-nats (pkg/nats).
//
// Topic t is published on subject <prefix>.t. Each first segment of a topic has a stream,
// <PREFIX>_<SEGMENT>, taking <prefix>.<segment> and <prefix>.<segment>.>: GONGDAN_RAW holds
// every raw.<connector>, GONGDAN_DRAFTS and GONGDAN_EVENTS the others. Streams for raw,
// drafts and events are created at open; others on first use.
//
// A consumer group g on topic t is the durable push consumer g_t (dots become '_') of that
// stream, filtered to the topic's subject, delivering to queue group g, so any number of
// subscriptions in any number of processes share it. gongdan creates and updates consumers
// itself rather than letting the NATS client do it: a consumer the client creates is
// deleted when the subscription that created it closes, and the group would then start
// again from the beginning of the stream.
type natsBus struct {
	cfg     Config
	logger  *slog.Logger
	wlogger watermill.LoggerAdapter
	where   string // for messages: "embedded NATS in /dir" or "NATS at nats://***@host:4222"

	server  *server.Server // nil unless embedded
	dirLock *os.File       // nil unless embedded

	nc       *nats.Conn // management and publishing
	ncClosed <-chan struct{}
	js       nats.JetStreamContext
	jsm      jetstream.JetStream // consumer pause and resume, which the older API lacks
	pub      *wmnats.Publisher
	// canPause: the server can pause a consumer (nats-server 2.11 and later).
	canPause bool

	streams sync.Map // stream name → struct{}: created or checked by this process
	topics  sync.Map // topic → subject, once its stream is known to exist

	closed atomic.Bool
	mu     sync.Mutex
	subs   map[*natsSubscriber]struct{}

	health busHealth
	// background counts health checks started by checkSoon; close waits for them.
	background sync.WaitGroup
}

func openNATSBus(ctx context.Context, cfg Config, logger *slog.Logger) (_ *natsBus, err error) {
	b := &natsBus{
		cfg:     cfg,
		logger:  logger,
		wlogger: watermillLogger(logger),
		subs:    make(map[*natsSubscriber]struct{}),
	}
	defer func() {
		if err != nil {
			_ = b.close()
		}
	}()
	if cfg.Embedded {
		b.where = "embedded NATS in " + cfg.Dir
		if err := b.startEmbedded(); err != nil {
			return nil, err
		}
	} else {
		b.where = "NATS at " + redactURLs(cfg.URL)
	}
	if b.nc, b.ncClosed, err = b.connect("gongdan"); err != nil {
		return nil, err
	}
	if b.js, err = b.nc.JetStream(nats.MaxWait(requestTimeout)); err != nil {
		return nil, fmt.Errorf("bus: %s: %v", b.where, err)
	}
	if err := b.checkJetStream(ctx); err != nil {
		return nil, err
	}
	if b.jsm, err = jetstream.New(b.nc); err != nil {
		return nil, fmt.Errorf("bus: %s: %v", b.where, err)
	}
	if b.canPause = serverAtLeast(b.nc.ConnectedServerVersion(), 2, 11); !b.canPause {
		b.logger.Warn("this NATS server cannot pause consumers (2.11 and later can): after a restart, the first subscription of a group may take up to its max ack pending of the backlog alone and work through it one at a time",
			"nats", b.where, "version", b.nc.ConnectedServerVersion())
	}
	for _, segment := range []string{"raw", "drafts", "events"} {
		if err := b.ensureStream(ctx, segment); err != nil {
			return nil, err
		}
	}
	b.pub, err = wmnats.NewPublisherWithNatsConn(b.nc, wmnats.PublisherPublishConfig{
		// It sets Nats-Msg-Id (msgID): JetStream stores a message published twice to a
		// topic within duplicateWindow once.
		Marshaler:         publishMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream: wmnats.JetStreamConfig{
			// Not the UUID alone, which watermill-nats would use: see msgID.
			TrackMsgId: false,
			// Left nil on purpose: were an option appended to this slice on every publish,
			// from many goroutines, a slice with spare capacity would be a data race.
			PublishOptions: nil,
			// The wait for a PubAck. After it the message may or may not be stored;
			// publishing it again is safe within duplicateWindow.
			ConnectOptions: []nats.JSOpt{nats.MaxWait(cfg.PublishTimeout)},
		},
	}, b.wlogger)
	if err != nil {
		return nil, fmt.Errorf("bus: %s: %v", b.where, err)
	}
	b.logger.Info("bus ready", "nats", b.where, "prefix", cfg.Prefix, "max_age", cfg.MaxAge, "sync_always", cfg.SyncAlways)
	return b, nil
}

// startEmbedded locks cfg.Dir and starts a NATS server with JetStream there, listening on no
// port: gongdan's own connections are in-process.
func (b *natsBus) startEmbedded() error {
	dir := b.cfg.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("bus: cannot create the NATS storage dir: %v", err)
	}
	lock, err := lockBusDir(dir)
	if err != nil {
		return err
	}
	b.dirLock = lock

	logs := &serverLogger{logger: b.logger.With("nats", "embedded")}
	ns, err := server.NewServer(&server.Options{
		ServerName: "gongdan",
		DontListen: true,
		JetStream:  true,
		StoreDir:   dir,
		// Without SyncAlways a stored message is written to the OS before its PubAck (the
		// file store flushes in place for a single replica) and fsynced every 2 minutes.
		SyncAlways: b.cfg.SyncAlways,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
	})
	if err != nil {
		return fmt.Errorf("bus: embedded NATS: %v", err)
	}
	ns.SetLoggerV2(logs, false, false, false)
	b.server = ns
	ns.Start()
	if !ns.ReadyForConnections(embeddedStartTimeout) {
		return fmt.Errorf("bus: embedded NATS in %s did not start within %v%s", dir, embeddedStartTimeout, logs.lastError())
	}
	if !ns.JetStreamEnabled() {
		return fmt.Errorf("bus: embedded NATS could not start JetStream in %s%s; is the directory writable and the disk not full?", dir, logs.lastError())
	}
	return nil
}

// lockBusDir takes an exclusive lock on dir for this process. Two NATS servers writing the
// same JetStream store would corrupt it, and nats-server does not guard against that
// itself. The lock is the kernel's (flock): it goes away with the process however the
// process ends, so a crash leaves nothing stale behind.
func lockBusDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, busLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("bus: cannot open the lock file of the NATS storage dir: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("bus: NATS storage dir %s is in use by another gongdan (pid %s, holding %s); stop it first, or give this one another bus.dir or --data",
				dir, strings.TrimSpace(string(holder)), busLockFile)
		}
		return nil, fmt.Errorf("bus: cannot lock %s: %v", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func unlockBusDir(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// serverLogger sends the embedded server's log to slog. Its notices (the start-up banner,
// JetStream recovery) go to Debug; warnings and errors stay. It remembers the last error,
// for the error Open returns when the server does not come up.
type serverLogger struct {
	logger *slog.Logger
	mu     sync.Mutex
	last   string
}

func (l *serverLogger) Noticef(format string, v ...any) { l.logger.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.logger.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.error(format, v...) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.error(format, v...) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.logger.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(string, ...any)           {}

func (l *serverLogger) error(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.last = msg
	l.mu.Unlock()
	l.logger.Error(msg)
}

// lastError is ": <last error logged>", or "" if none was.
func (l *serverLogger) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return ""
	}
	return ": " + l.last
}

// connect opens a connection named name to the embedded or external server. The returned
// channel is closed once the connection is closed for good.
func (b *natsBus) connect(name string) (*nats.Conn, <-chan struct{}, error) {
	closed := make(chan struct{})
	var once sync.Once
	opts := []nats.Option{
		nats.Name(name),
		nats.ClosedHandler(func(*nats.Conn) { once.Do(func() { close(closed) }) }),
		nats.DrainTimeout(drainTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.logger.Warn("NATS error", "connection", name, "subject", subject, "error", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.logger.Warn("lost the NATS connection; reconnecting", "connection", name, "nats", b.where, "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.logger.Info("NATS connection back", "connection", name, "server", c.ConnectedUrlRedacted())
		}),
	}
	serverURL := b.cfg.URL
	if b.server != nil {
		opts = append(opts, nats.InProcessServer(b.server))
		serverURL = ""
	}
	nc, err := nats.Connect(serverURL, opts...)
	if err != nil {
		return nil, nil, b.connectError(err)
	}
	return nc, closed, nil
}

func (b *natsBus) connectError(err error) error {
	if b.server != nil {
		return fmt.Errorf("bus: cannot connect to %s: %v", b.where, err)
	}
	reason := redactError(err, b.cfg.URL)
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		reason = errno.Error()
	case errors.Is(err, nats.ErrNoServers):
		// What the client reports when every server refused the connection.
		reason = "connection refused"
	}
	hint := "is nats-server running there, with JetStream (-js)?"
	if lower := strings.ToLower(reason); errors.Is(err, nats.ErrAuthorization) ||
		strings.Contains(lower, "authorization") || strings.Contains(lower, "authentication") {
		hint = "check the user and password, or the token, in bus.url"
	}
	return fmt.Errorf("bus: cannot connect to %s: %s; %s", b.where, reason, hint)
}

func (b *natsBus) checkJetStream(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := b.js.AccountInfo(nats.Context(ctx)); err != nil {
		if errors.Is(err, nats.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("bus: %s has JetStream disabled; start nats-server with -js (or a jetstream {} block in its config), and enable it for this account", b.where)
		}
		return fmt.Errorf("bus: %s does not answer JetStream requests: %v; is JetStream enabled (-js)?", b.where, err)
	}
	return nil
}

// streamName is the stream of every topic whose first segment is segment.
func (b *natsBus) streamName(segment string) string {
	return strings.ToUpper(b.cfg.Prefix + "_" + segment)
}

func (b *natsBus) streamConfig(segment string) *nats.StreamConfig {
	subject := b.cfg.Prefix + "." + segment
	return &nats.StreamConfig{
		Name:        b.streamName(segment),
		Description: fmt.Sprintf("gongdan bus: topics %s and %s.*", segment, segment),
		Subjects:    []string{subject, subject + ".>"},
		Retention:   nats.LimitsPolicy,
		Storage:     nats.FileStorage,
		MaxAge:      b.cfg.MaxAge,
		Discard:     nats.DiscardOld,
		Duplicates:  min(duplicateWindow, b.cfg.MaxAge),
		// One replica is all a single server can hold. On an external cluster an operator
		// may raise it (nats stream edit --replicas 3); gongdan keeps what it finds.
		Replicas: 1,
	}
}

// ensureStream creates the stream for topics starting with segment, or checks the one there
// and updates its age limit and duplicate window to this config.
func (b *natsBus) ensureStream(ctx context.Context, segment string) error {
	name := b.streamName(segment)
	if _, ok := b.streams.Load(name); ok {
		return nil
	}
	ctx, cancel := withDefaultTimeout(ctx, requestTimeout)
	defer cancel()
	want := b.streamConfig(segment)
	info, err := b.js.StreamInfo(name, nats.Context(ctx))
	switch {
	case errors.Is(err, nats.ErrStreamNotFound):
		if _, err := b.js.AddStream(want, nats.Context(ctx)); err != nil {
			if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
				// Another process created it at the same moment; check it next time.
				return nil
			}
			return fmt.Errorf("bus: cannot create stream %s for %s on %s: %v; if another stream already takes these subjects, give gongdan another bus prefix",
				name, strings.Join(want.Subjects, ", "), b.where, err)
		}
		b.logger.Info("created stream", "stream", name, "subjects", want.Subjects, "max_age", want.MaxAge)
	case err != nil:
		return fmt.Errorf("bus: cannot look up stream %s on %s: %v", name, b.where, err)
	default:
		if err := b.updateStream(ctx, info.Config, want); err != nil {
			return err
		}
	}
	b.streams.Store(name, struct{}{})
	return nil
}

func (b *natsBus) updateStream(ctx context.Context, have nats.StreamConfig, want *nats.StreamConfig) error {
	subjects := slices.Clone(have.Subjects)
	slices.Sort(subjects)
	if !slices.Equal(subjects, want.Subjects) || have.Retention != nats.LimitsPolicy {
		return fmt.Errorf("bus: stream %s on %s takes %s with %s retention, but gongdan needs %s with limits retention; remove it (nats stream rm %s) or give gongdan another bus prefix",
			have.Name, b.where, strings.Join(have.Subjects, ", "), strings.ToLower(have.Retention.String()), strings.Join(want.Subjects, ", "), have.Name)
	}
	if have.MaxAge == want.MaxAge && have.Duplicates == want.Duplicates {
		return nil
	}
	cfg := have
	cfg.MaxAge, cfg.Duplicates = want.MaxAge, want.Duplicates
	if _, err := b.js.UpdateStream(&cfg, nats.Context(ctx)); err != nil {
		return fmt.Errorf("bus: cannot update stream %s on %s to max age %v: %v", have.Name, b.where, want.MaxAge, err)
	}
	b.logger.Info("updated stream", "stream", have.Name, "max_age", want.MaxAge, "duplicate_window", want.Duplicates)
	return nil
}

// subject checks topic and makes sure its stream exists; it returns the topic's subject.
func (b *natsBus) subject(ctx context.Context, topic string) (string, error) {
	if s, ok := b.topics.Load(topic); ok {
		return s.(string), nil
	}
	if err := checkTopic(topic); err != nil {
		return "", err
	}
	segment, _, _ := strings.Cut(topic, ".")
	if err := b.ensureStream(ctx, segment); err != nil {
		return "", err
	}
	subject := b.cfg.Prefix + "." + topic
	b.topics.Store(topic, subject)
	return subject, nil
}

// forgetTopic drops what this process knows about topic's stream, so the next use creates
// the stream again (someone deleted it).
func (b *natsBus) forgetTopic(topic string) {
	segment, _, _ := strings.Cut(topic, ".")
	b.topics.Delete(topic)
	b.streams.Delete(b.streamName(segment))
}

// durableName is the consumer of group on topic. The mapping of '.' to '_' can make two
// pairs meet (group a_b on topic c, group a on topic b_c); ensureConsumer notices, because
// the consumer it finds then has another filter or deliver group.
func durableName(group, topic string) string {
	return group + "_" + strings.ReplaceAll(topic, ".", "_")
}

// ensureConsumer creates the durable consumer of group on topic, or checks the one there
// and updates it: the settings gongdan relies on are restored and MaxAckPending raised to
// fit concurrency (never lowered, as processes of one group may run with different
// concurrency and share the consumer).
func (b *natsBus) ensureConsumer(ctx context.Context, group, topic string, concurrency int) (*nats.ConsumerInfo, error) {
	segment, _, _ := strings.Cut(topic, ".")
	stream, durable, subject := b.streamName(segment), durableName(group, topic), b.cfg.Prefix+"."+topic
	info, err := b.js.ConsumerInfo(stream, durable, nats.Context(ctx))
	if errors.Is(err, nats.ErrConsumerNotFound) {
		cfg := &nats.ConsumerConfig{
			Durable:        durable,
			Description:    fmt.Sprintf("gongdan bus: group %s on topic %s", group, topic),
			DeliverSubject: nats.NewInbox(),
			DeliverGroup:   group,
			DeliverPolicy:  nats.DeliverAllPolicy,
			AckPolicy:      nats.AckExplicitPolicy,
			AckWait:        b.cfg.AckWait,
			// Unlimited: a message that keeps failing is gongdan's dead-letter middleware's
			// to take off the bus, with its error; the broker would drop it silently.
			MaxDeliver:    -1,
			FilterSubject: subject,
			ReplayPolicy:  nats.ReplayInstantPolicy,
			MaxAckPending: maxAckPendingPerSlot * concurrency,
		}
		if info, err = b.js.AddConsumer(stream, cfg, nats.Context(ctx)); err == nil {
			b.logger.Info("created consumer", "stream", stream, "consumer", durable, "group", group, "topic", topic)
			return info, nil
		}
		// Another process of the group may have created it meanwhile: look again.
		var again error
		if info, again = b.js.ConsumerInfo(stream, durable, nats.Context(ctx)); again != nil {
			return nil, fmt.Errorf("bus: cannot create consumer %s on stream %s of %s: %v", durable, stream, b.where, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("bus: cannot look up consumer %s on stream %s of %s: %v", durable, stream, b.where, err)
	}
	return b.updateConsumer(ctx, info, group, topic, subject, concurrency)
}

func (b *natsBus) updateConsumer(ctx context.Context, info *nats.ConsumerInfo, group, topic, subject string, concurrency int) (*nats.ConsumerInfo, error) {
	have := info.Config
	if have.DeliverSubject == "" || have.FilterSubject != subject || have.DeliverGroup != group || have.AckPolicy != nats.AckExplicitPolicy {
		return nil, fmt.Errorf("bus: consumer %s on stream %s of %s is not group %s's on topic %s (it delivers %s to group %q); remove it (nats consumer rm %s %s) or rename the group",
			have.Durable, info.Stream, b.where, group, topic, have.FilterSubject, have.DeliverGroup, info.Stream, have.Durable)
	}
	cfg := have
	cfg.AckWait = b.cfg.AckWait
	cfg.MaxDeliver = -1
	cfg.MaxAckPending = max(have.MaxAckPending, maxAckPendingPerSlot*concurrency)
	if cfg.AckWait == have.AckWait && have.MaxDeliver <= 0 && cfg.MaxAckPending == have.MaxAckPending {
		return info, nil
	}
	updated, err := b.js.UpdateConsumer(info.Stream, &cfg, nats.Context(ctx))
	if err != nil {
		return nil, fmt.Errorf("bus: cannot update consumer %s on stream %s of %s: %v", have.Durable, info.Stream, b.where, err)
	}
	b.logger.Info("updated consumer", "stream", info.Stream, "consumer", have.Durable, "ack_wait", cfg.AckWait, "max_ack_pending", cfg.MaxAckPending)
	return updated, nil
}

// holdIdleConsumer pauses the consumer for idleHold if no subscription anywhere is bound
// to it.
//
// watermill-nats makes a subscriber's subscriptions one after the other, and JetStream
// pushes to the first as soon as it exists: all of a backlog, up to MaxAckPending, would
// land in that one subscription's buffer, to be handled one at a time while the others
// idle, and to wait there towards ackWait. Paused until every subscription is there, the
// consumer spreads the backlog over all of them (the server picks a random member of the
// queue group for each message). When another subscription is bound already, messages are
// flowing and each ack lets one more out, to a random member; nothing to hold then.
//
// The pause ends by itself: resuming it through the API would leave a push consumer that
// gained its interest while paused waiting for the next published message (nats-server
// 2.15 signals its delivery loop when a pause expires, not when it is lifted). A process
// that dies meanwhile therefore leaves nothing paused either.
func (b *natsBus) holdIdleConsumer(ctx context.Context, info *nats.ConsumerInfo) {
	if info.PushBound || !b.canPause {
		return
	}
	if _, err := b.jsm.PauseConsumer(ctx, info.Stream, info.Name, time.Now().Add(idleHold)); err != nil {
		b.logger.Warn("cannot pause an idle consumer while subscribing; its first subscription may take the backlog alone", "consumer", info.Name, "error", err)
	}
}

// serverAtLeast reports whether a NATS server of version ("2.11.4") is major.minor or later.
func serverAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	gotMajor, err1 := strconv.Atoi(parts[0])
	gotMinor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}

func (b *natsBus) publisher() message.Publisher { return natsPublisher{b} }

func (b *natsBus) subscriber(group string, concurrency int) (message.Subscriber, error) {
	s := &natsSubscriber{bus: b, group: group, concurrency: concurrency, closing: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// natsSubscription is one Subscribe of a natsSubscriber: a watermill-nats subscriber on a
// connection of its own (it drains the connection when it closes).
type natsSubscription struct {
	nc       *nats.Conn
	ncClosed <-chan struct{}
	inner    *wmnats.Subscriber
	// stopping is set once the subscription is being stopped.
	stopping *atomic.Bool
}

func (b *natsBus) newSubscription(group string, concurrency int) (*natsSubscription, error) {
	nc, ncClosed, err := b.connect("gongdan " + group)
	if err != nil {
		return nil, err
	}
	prefix := b.cfg.Prefix + "."
	stopping := new(atomic.Bool)
	inner, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: busMarshaler{},
		// One NATS subscription per unit of concurrency: watermill-nats hands a message on
		// and waits for its ack or nack before the subscription takes the next.
		SubscribersCount: concurrency,
		// Give up on a message at the moment JetStream redelivers it anyway.
		AckWaitTimeout: b.cfg.AckWait,
		CloseTimeout:   closeGrace,
		// Subscribe is given the subject, not the topic.
		SubjectCalculator: func(queueGroup, subject string) *wmnats.SubjectDetail {
			return &wmnats.SubjectDetail{Primary: subject, QueueGroup: queueGroup}
		},
		QueueGroupPrefix: group,
		JetStream: wmnats.JetStreamConfig{
			// Ack synchronously: the message is acknowledged when Ack returns to
			// watermill-nats, not merely sent.
			AckAsync:      false,
			DurablePrefix: group,
			DurableCalculator: func(group, subject string) string {
				return durableName(group, strings.TrimPrefix(subject, prefix))
			},
			// The consumer exists (ensureConsumer) so the client binds to it and never
			// deletes it. ManualAck: watermill-nats acks itself; without it the client
			// would also ack every message when the callback returns, even unacked ones.
			SubscribeOptions: []nats.SubOpt{nats.ManualAck()},
			ConnectOptions:   []nats.JSOpt{nats.MaxWait(requestTimeout)},
		},
	}, stoppingLogger{b.wlogger.With(watermill.LogFields{"group": group}), stopping})
	if err != nil {
		nc.Close()
		waitClosed(ncClosed)
		return nil, fmt.Errorf("bus: subscriber for group %s: %v", group, err)
	}
	return &natsSubscription{nc: nc, ncClosed: ncClosed, inner: inner, stopping: stopping}, nil
}

// stop ends the subscription without racing watermill-nats. in is its output channel,
// which the caller no longer forwards from.
//
// watermill-nats closes its output channel after unsubscribing, while a delivery callback
// may still be about to send on it: a data race, and a "send on closed channel" panic if
// the send is chosen after the close. So first the connection is drained: the server stops
// delivering, and the messages still buffered pass through the callbacks into in, where
// they are nacked (JetStream offers them to the other members at once). A subscription
// counts as drained only once its last callback has returned, and the connection closes
// only once every subscription is drained; after that, no callback runs, and all of them
// happened before watermill-nats is told to close.
func (sub *natsSubscription) stop(in <-chan *message.Message, logger *slog.Logger) {
	sub.stopping.Store(true)
	if err := sub.nc.Drain(); err != nil {
		logger.Debug("draining a subscription's connection", "error", err)
		sub.nc.Close()
	}
	deadline := time.NewTimer(drainTimeout + time.Second)
	defer deadline.Stop()
drain:
	for {
		select {
		case msg := <-in:
			msg.Nack()
		case <-sub.ncClosed:
			break drain
		case <-deadline.C:
			sub.nc.Close()
		}
	}
	// Its subscriptions stop with an error (the connection is closed): logged at Debug by
	// stoppingLogger.
	if err := sub.inner.Close(); err != nil {
		logger.Debug("closing a subscription", "error", err)
	}
}

// stoppingLogger is watermill-nats' logger for a subscription; once the subscription is
// being stopped, the errors it logs about the closed connection (which stop closes on
// purpose) go to Debug.
type stoppingLogger struct {
	watermill.LoggerAdapter
	stopping *atomic.Bool
}

func (l stoppingLogger) Error(msg string, err error, fields watermill.LogFields) {
	if l.stopping.Load() && errors.Is(err, nats.ErrConnectionClosed) {
		l.LoggerAdapter.Debug(msg+": "+err.Error(), fields)
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l stoppingLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return stoppingLogger{l.LoggerAdapter.With(fields), l.stopping}
}

// close undoes what openNATSBus did, as far as it got.
func (b *natsBus) close() error {
	b.mu.Lock()
	b.closed.Store(true)
	subs := make([]*natsSubscriber, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	// A health check in the background may be restarting JetStream; let it end first.
	b.background.Wait()
	// Concurrently: each may wait up to closeGrace for its messages.
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	if b.nc != nil {
		// The publisher's connection; every publish has had its PubAck, nothing is pending.
		b.nc.Close()
		waitClosed(b.ncClosed)
	}
	if b.server != nil {
		// Shutdown writes the streams' and consumers' state and closes the store.
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
	if b.dirLock != nil {
		unlockBusDir(b.dirLock)
	}
	return nil
}

// waitClosed waits for a connection's closed handler, which runs on the client's callback
// goroutine; after it that goroutine ends.
func waitClosed(closed <-chan struct{}) {
	select {
	case <-closed:
	case <-time.After(drainTimeout):
	}
}

// natsPublisher publishes topic t on subject <prefix>.t, creating t's stream if it is new.
type natsPublisher struct{ b *natsBus }

func (p natsPublisher) Publish(topic string, messages ...*message.Message) error {
	if p.b.closed.Load() {
		return ErrClosed
	}
	if len(messages) == 0 {
		return nil
	}
	subject, err := p.b.subject(context.Background(), topic)
	if err != nil {
		return err
	}
	if len(messages) == 1 {
		err = p.b.pub.Publish(subject, messages...)
	} else {
		err = p.publishBatch(subject, messages)
	}
	unanswered := errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
	p.b.health.published(unanswered)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrNoStreamResponse):
		p.b.forgetTopic(topic)
		return fmt.Errorf("bus: publish to %s: no stream on %s takes %s (was it removed?); it is created again on the next publish", topic, p.b.where, subject)
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("bus: publish to %s: a message is larger than %s accepts (max_payload %d bytes)", topic, p.b.where, p.b.nc.MaxPayload())
	case unanswered:
		// A stream that cannot write does not answer: see whether that is it, and recover.
		p.b.checkSoon()
		return fmt.Errorf("bus: publish to %s: no acknowledgement from %s within %v (bus.publish_timeout); the message may or may not be stored, so publish it again (the same UUID is stored once within %v)",
			topic, p.b.where, p.b.cfg.PublishTimeout, duplicateWindow)
	case p.b.closed.Load():
		return ErrClosed
	default:
		return fmt.Errorf("bus: publish to %s on %s: %v", topic, p.b.where, err)
	}
}

// publishBatch publishes messages as watermill-nats does (same headers, Nats-Msg-Id =
// msgID), but sends them all before waiting for their PubAcks: watermill-nats waits for each
// in turn, a round trip per message, which made the events outbox's batches of hundreds
// slow and CPU-hungry. It returns once every message is stored, or with the first error;
// publishing the batch again is safe (the stored ones are dropped as duplicates).
func (p natsPublisher) publishBatch(subject string, messages []*message.Message) error {
	futures := make([]nats.PubAckFuture, 0, len(messages))
	for _, msg := range messages {
		m, err := publishMarshaler{}.Marshal(subject, msg)
		if err != nil {
			return err
		}
		f, err := p.b.js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(p.b.cfg.PublishTimeout)
	defer timeout.Stop()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-timeout.C:
			return nats.ErrTimeout
		}
	}
	return nil
}

// Close does nothing: the Bus owns the connection.
func (natsPublisher) Close() error { return nil }

// natsSubscriber is one consumer-group member. Each Subscribe gets a natsSubscription
// and a goroutine, forward, that passes its messages on.
//
// The caller never reads watermill-nats' output channel itself: forward does, and when the
// subscription ends it stops the subscription in an order that keeps watermill-nats from
// closing that channel under a sending callback (see natsSubscription.stop).
type natsSubscriber struct {
	bus         *natsBus
	group       string
	concurrency int

	mu        sync.Mutex // closed and running.Add
	closed    bool
	closing   chan struct{}
	closeOnce sync.Once
	running   sync.WaitGroup // forward goroutines
}

func (s *natsSubscriber) Subscribe(ctx context.Context, topic string) (_ <-chan *message.Message, err error) {
	s.mu.Lock()
	if s.closed || s.bus.closed.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer func() {
		if err != nil {
			s.running.Done()
		}
	}()

	subject, err := s.bus.subject(ctx, topic)
	if err != nil {
		return nil, err
	}
	setupCtx, cancel := withDefaultTimeout(ctx, requestTimeout)
	defer cancel()
	info, err := s.bus.ensureConsumer(setupCtx, s.group, topic, s.concurrency)
	if err != nil {
		return nil, err
	}
	sub, err := s.bus.newSubscription(s.group, s.concurrency)
	if err != nil {
		return nil, err
	}
	s.bus.holdIdleConsumer(setupCtx, info)
	started := time.Now()
	// Not cancelled with ctx: forward stops the subscription itself, in the safe order.
	in, err := sub.inner.Subscribe(context.WithoutCancel(ctx), subject)
	if err == nil {
		// The server has every subscription once it answers a ping sent after them.
		err = sub.nc.FlushTimeout(requestTimeout)
	}
	if err != nil {
		sub.stop(in, s.bus.logger)
		return nil, fmt.Errorf("bus: group %s cannot subscribe to %s on %s: %v", s.group, topic, s.bus.where, err)
	}
	if took := time.Since(started); took > idleHold {
		s.bus.logger.Debug("subscriptions took longer than the idle hold", "group", s.group, "topic", topic, "took", took)
	}
	out := make(chan *message.Message)
	go s.forward(ctx, sub, in, out)
	return out, nil
}

// forward passes messages from in to out until the subscriber closes or ctx ends; then it
// waits up to closeGrace for those handed out to be acked or nacked, nacks the others,
// stops the subscription and closes out.
func (s *natsSubscriber) forward(ctx context.Context, sub *natsSubscription, in <-chan *message.Message, out chan<- *message.Message) {
	defer s.running.Done()
	defer close(out)
	handedOut := make(map[*message.Message]struct{})
loop:
	for {
		select {
		case msg, ok := <-in:
			if !ok {
				break loop
			}
			select {
			case out <- msg:
				handedOut[msg] = struct{}{}
				if len(handedOut) > 2*s.concurrency {
					dropSettled(handedOut)
				}
			case <-s.closing:
				msg.Nack() // to another member at once
				break loop
			case <-ctx.Done():
				msg.Nack()
				break loop
			}
		case <-s.closing:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	waitSettled(handedOut, closeGrace)
	for msg := range handedOut {
		msg.Nack() // no effect on those acked
	}
	sub.stop(in, s.bus.logger)
}

// dropSettled removes the acked and nacked messages from handedOut.
func dropSettled(handedOut map[*message.Message]struct{}) {
	for msg := range handedOut {
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
		default:
			continue
		}
		delete(handedOut, msg)
	}
}

// waitSettled waits until every message in handedOut is acked or nacked, or grace is over.
func waitSettled(handedOut map[*message.Message]struct{}, grace time.Duration) {
	timeout := time.NewTimer(grace)
	defer timeout.Stop()
	for msg := range handedOut {
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
		case <-timeout.C:
			return
		}
	}
}

// Close stops the subscriptions, each once the messages it handed out are acked or nacked
// (or closeGrace is over: those come again after ackWait), and closes their channels.
func (s *natsSubscriber) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()
		s.running.Wait()
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
	})
	return nil
}

// metadataHeader carries the metadata entries a NATS header cannot carry as they are, as
// base64 of their URL query encoding: keys that are not header tokens, values the client
// would alter (it trims them and turns CR and LF into spaces), and anything mentioning
// "Nats-", which servers before 2.10 find anywhere in the header block: a value
// "see Nats-Msg-Id: 7" would set the message's deduplication id on such a server.
const metadataHeader = "Gongdan-Metadata"

// busMarshaler is watermill-nats' NATSMarshaler (UUID and metadata in headers, payload as
// the body) that keeps every metadata entry intact and out of the server's way.
type busMarshaler struct{}

func (busMarshaler) Marshal(subject string, msg *message.Message) (*nats.Msg, error) {
	header := make(nats.Header, len(msg.Metadata)+1)
	header.Set(wmnats.WatermillUUIDHdr, msg.UUID)
	var encoded url.Values
	for k, v := range msg.Metadata {
		if headerSafe(k, v) {
			header.Set(k, v)
			continue
		}
		if encoded == nil {
			encoded = url.Values{}
		}
		encoded.Set(k, v)
	}
	if encoded != nil {
		header.Set(metadataHeader, base64.StdEncoding.EncodeToString([]byte(encoded.Encode())))
	}
	return &nats.Msg{Subject: subject, Data: msg.Payload, Header: header}, nil
}

func (busMarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	metadata := make(message.Metadata, len(m.Header))
	for k, vs := range m.Header {
		if k == wmnats.WatermillUUIDHdr || k == metadataHeader || mentionsNATS(k) || len(vs) == 0 {
			continue
		}
		metadata[k] = vs[0]
	}
	if enc := m.Header.Get(metadataHeader); enc != "" {
		query, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("bus: bad %s header: %v", metadataHeader, err)
		}
		values, err := url.ParseQuery(string(query))
		if err != nil {
			return nil, fmt.Errorf("bus: bad %s header: %v", metadataHeader, err)
		}
		for k, vs := range values {
			metadata[k] = vs[0]
		}
	}
	msg := message.NewMessage(m.Header.Get(wmnats.WatermillUUIDHdr), m.Data)
	msg.Metadata = metadata
	return msg, nil
}

// publishMarshaler is busMarshaler that also sets a message's Nats-Msg-Id, for JetStream to
// store it once however often it is published (within duplicateWindow).
type publishMarshaler struct{ busMarshaler }

func (m publishMarshaler) Marshal(subject string, msg *message.Message) (*nats.Msg, error) {
	natsMsg, err := m.busMarshaler.Marshal(subject, msg)
	if err != nil {
		return nil, err
	}
	natsMsg.Header.Set(nats.MsgIdHdr, msgID(subject, msg.UUID))
	return natsMsg, nil
}

// msgID is the Nats-Msg-Id of the message uuid published on subject. JetStream deduplicates
// ids across a whole stream, and topics share a stream (raw.<connector> all go to
// <PREFIX>_RAW): with the UUID alone, the same message published to two topics (watermill's
// suite does; so may a handler that forwards a message) would be stored in the first only,
// the second publish acknowledged and dropped.
func msgID(subject, uuid string) string { return subject + " " + uuid }

// headerSafe reports whether a NATS header carries key: value unchanged and without meaning
// to the server.
func headerSafe(key, value string) bool {
	if key == "" || key == wmnats.WatermillUUIDHdr || key == metadataHeader || mentionsNATS(key) || mentionsNATS(value) {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return value == "" || (value[0] != ' ' && value[len(value)-1] != ' ')
}

// mentionsNATS reports whether s contains "nats-" in any case: the namespace of the headers
// NATS gives meaning to (Nats-Msg-Id, Nats-Expected-Stream, ...).
func mentionsNATS(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if strings.EqualFold(s[i:i+5], "nats-") {
			return true
		}
	}
	return false
}

var (
	_ message.Publisher       = natsPublisher{}
	_ message.Subscriber      = (*natsSubscriber)(nil)
	_ wmnats.Marshaler        = busMarshaler{}
	_ wmnats.Marshaler        = publishMarshaler{}
	_ wmnats.Unmarshaler      = busMarshaler{}
	_ server.Logger           = (*serverLogger)(nil)
	_ busBackend              = (*natsBus)(nil)
	_ watermill.LoggerAdapter = stoppingLogger{}
)
