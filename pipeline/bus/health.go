package bus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"gongdan/internal/diskprobe"
)

// Health checks of the NATS bus (see Bus.Healthy).
const (
	// healthKeep is how long a health check's answer is given again without checking.
	healthKeep = time.Second
	// healthProbeWait bounds the wait for the probe message's PubAck (or the publish
	// timeout, if shorter): a readiness check must answer while the caller still listens.
	healthProbeWait = 2 * time.Second
	// healthSegment is the first segment of the probe's subject, <prefix>.health, and of its
	// stream, <PREFIX>_HEALTH. No topic is named so (topics are raw.<connector>, drafts,
	// events), so nothing subscribes to it.
	healthSegment = "health"
	// storageProbeSize is how much the storage probe writes next to the embedded server's
	// files: a full disk is noticed while a few blocks are still free, before a stream hits
	// it, and a disk with room for this much lets JetStream restart.
	storageProbeSize = 64 << 10
	// storageProbeFile is the storage probe, in the embedded storage dir; it is removed
	// after each probe.
	storageProbeFile = "gongdan-bus.probe"
	// unackedWindow is how long a publish that went unanswered keeps an external NATS
	// unhealthy when no publish has succeeded since. The probe alone would miss a stream that
	// stopped at a write error: the health stream's writes may still fit where a stream's
	// do not, and only a restart of nats-server brings such a stream back.
	unackedWindow = 30 * time.Second
	// jetStreamRestartEvery limits in-place JetStream restarts, so that a stream that keeps
	// failing for another reason than space is not restarted at every check.
	jetStreamRestartEvery = time.Minute
)

// busHealth is the state of the NATS bus's health checks.
type busHealth struct {
	mu sync.Mutex // one check at a time; guards the fields below
	// at and err are the last check's answer.
	at  time.Time
	err error
	// streamReady: the health stream exists (created or found by this process).
	streamReady bool
	// restartedAt is when JetStream was last restarted in place.
	restartedAt time.Time

	// checking is set while checkSoon's check runs.
	checking atomic.Bool
	// unackedAt is when a publish last went unanswered (Unix nanoseconds), 0 once a publish
	// succeeded since.
	unackedAt atomic.Int64
}

// published records how a publish ended, for the health check.
func (h *busHealth) published(unanswered bool) {
	switch {
	case unanswered:
		h.unackedAt.Store(time.Now().UnixNano())
	case h.unackedAt.Load() != 0: // a load first: publishes need not contend on a store
		h.unackedAt.Store(0)
	}
}

func (b *natsBus) healthy(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	h := &b.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && time.Since(h.at) < healthKeep {
		return h.err
	}
	err := b.check(ctx)
	if ctx.Err() == nil {
		// An answer cut short by the caller's deadline says nothing about the bus.
		h.at, h.err = time.Now(), err
	}
	return err
}

// checkSoon checks the bus's health in the background, once at a time, after a publish went
// unanswered: for embedded NATS, the check restarts JetStream once there is room again.
func (b *natsBus) checkSoon() {
	if b.server == nil || !b.health.checking.CompareAndSwap(false, true) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		b.health.checking.Store(false)
		return
	}
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		defer b.health.checking.Store(false)
		if err := b.healthy(context.Background()); err != nil {
			b.logger.Warn("the bus cannot store messages", "error", err, "nats", b.where)
		}
	}()
}

// check is one health check, with b.health.mu held.
func (b *natsBus) check(ctx context.Context) error {
	if b.server != nil {
		if !b.server.Running() {
			return errors.New("bus: embedded NATS has stopped; see the log, and restart gongdan")
		}
		if err := b.checkEmbedded(); err != nil {
			return err
		}
	}
	if status := b.nc.Status(); status != nats.CONNECTED {
		return fmt.Errorf("bus: not connected to NATS (%s)", strings.ToLower(status.String()))
	}
	if err := b.probe(ctx); err != nil {
		return err
	}
	// Embedded NATS says which stream cannot write (checkEmbedded); an external server does
	// not tell a client, but its silence does.
	if at := b.health.unackedAt.Load(); b.server == nil && at != 0 {
		if ago := time.Since(time.Unix(0, at)); ago < unackedWindow {
			return fmt.Errorf("bus: NATS left a publish unanswered %v ago (no acknowledgement within %v) and none has succeeded since; if its disk was full, its streams stay stopped until nats-server restarts",
				ago.Round(time.Second), b.cfg.PublishTimeout)
		}
	}
	return nil
}

// checkEmbedded checks that the embedded server's storage has room, and restarts JetStream
// in place when it has room again but a stream stopped at a write error while it had none.
func (b *natsBus) checkEmbedded() error {
	if err := diskprobe.Write(filepath.Join(b.cfg.Dir, storageProbeFile), storageProbeSize); err != nil {
		b.logger.Warn("the embedded NATS storage dir cannot be written", "dir", b.cfg.Dir, "error", err)
		hint := "make its directory writable for gongdan"
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			hint = "free space on its disk"
		}
		return fmt.Errorf("bus: embedded NATS cannot write its storage (%s); %s, and the bus recovers by itself", diskprobe.Reason(err), hint)
	}
	problem, writeError := b.jetStreamProblem()
	if problem == "" {
		return nil
	}
	if !writeError {
		// Not what a restart in place is for (a stream still being created, say).
		return fmt.Errorf("bus: embedded NATS: %s", problem)
	}
	h := &b.health
	if !h.restartedAt.IsZero() && time.Since(h.restartedAt) < jetStreamRestartEvery {
		return fmt.Errorf("bus: embedded NATS: %s, though its storage can be written; it is restarted again at most once a minute, and if that does not help, restart gongdan", problem)
	}
	h.restartedAt = time.Now()
	b.logger.Warn("restarting the embedded JetStream: its storage can be written again, but nats-server keeps a stream stopped after a write error until it restarts",
		"problem", problem, "dir", b.cfg.Dir)
	if err := b.restartJetStream(); err != nil {
		b.logger.Error("the embedded JetStream did not restart", "error", err)
		return fmt.Errorf("bus: embedded NATS: %s, and JetStream did not restart; restart gongdan", problem)
	}
	if problem, _ := b.jetStreamProblem(); problem != "" {
		return fmt.Errorf("bus: embedded NATS: %s even after a restart of JetStream; restart gongdan", problem)
	}
	b.logger.Warn("the embedded JetStream restarted; the bus stores messages again")
	return nil
}

// jetStreamProblem is what keeps the embedded JetStream from storing messages, or "";
// writeError says whether it stopped at a write error (or was disabled by one), which a
// restart of JetStream in place mends once there is room.
func (b *natsBus) jetStreamProblem() (problem string, writeError bool) {
	if !b.server.JetStreamEnabled() {
		// nats-server disables JetStream itself only after a write error (permission
		// denied, or out of space in a cluster).
		return "JetStream is disabled", true
	}
	status := b.server.Healthz(&server.HealthzOptions{Details: true})
	if status.StatusCode == 200 {
		return "", false
	}
	var problems []string
	for _, e := range status.Errors {
		b.logger.Warn("embedded NATS health", "type", e.Type.String(), "stream", e.Stream, "error", e.Error)
		switch {
		case e.Type == server.HealthzErrorStream && strings.Contains(e.Error, "write error"):
			writeError = true
			problems = append(problems, fmt.Sprintf("stream %s stopped at a write error (%s)", e.Stream, diskprobe.LastPart(e.Error)))
		case e.Stream != "":
			problems = append(problems, fmt.Sprintf("stream %s is not healthy", e.Stream))
		default:
			problems = append(problems, "JetStream is not healthy")
		}
	}
	if len(problems) == 0 {
		return "JetStream is not healthy", false
	}
	return strings.Join(problems, "; "), writeError
}

// restartJetStream stops and starts JetStream in the running embedded server. It reloads
// the streams and consumers from the storage dir, as a restart of gongdan would; the
// connections and their subscriptions stay, and consumers deliver to them again. What was
// out to a subscriber and not acked is delivered again.
func (b *natsBus) restartJetStream() error {
	if err := b.server.ShutdownJetStream(); err != nil {
		return err
	}
	// The server's options give the rest (SyncAlways, limits), as at start.
	return b.server.EnableJetStream(&server.JetStreamConfig{StoreDir: b.cfg.Dir})
}

// probe publishes a probe message to the health stream and waits for its PubAck.
func (b *natsBus) probe(ctx context.Context) error {
	wait := min(b.cfg.PublishTimeout, healthProbeWait)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.ensureHealthStream(ctx); err != nil {
		b.logger.Warn("cannot create the health stream", "error", err, "nats", b.where)
		return fmt.Errorf("bus: NATS does not take a stream for its health probe (%s)", diskprobe.LastPart(err.Error()))
	}
	msg := &nats.Msg{Subject: b.cfg.Prefix + "." + healthSegment, Data: []byte(time.Now().UTC().Format(time.RFC3339Nano))}
	if _, err := b.js.PublishMsg(msg, nats.Context(ctx)); err != nil {
		b.logger.Warn("the bus did not store a probe message", "error", err, "nats", b.where)
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrNoStreamResponse) {
			b.health.streamReady = false // someone removed it: make it again next time
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("bus: NATS did not acknowledge a probe message within %v: it cannot store messages now", wait)
		}
		return fmt.Errorf("bus: NATS did not store a probe message (%s)", diskprobe.LastPart(err.Error()))
	}
	return nil
}

// ensureHealthStream creates the health stream, which keeps the last probe only.
func (b *natsBus) ensureHealthStream(ctx context.Context) error {
	if b.health.streamReady {
		return nil
	}
	subject := b.cfg.Prefix + "." + healthSegment
	_, err := b.js.AddStream(&nats.StreamConfig{
		Name:              b.streamName(healthSegment),
		Description:       "gongdan bus: probe messages of the health check, the last one kept",
		Subjects:          []string{subject},
		Retention:         nats.LimitsPolicy,
		Storage:           nats.FileStorage,
		MaxMsgsPerSubject: 1,
		MaxAge:            time.Hour,
		Discard:           nats.DiscardOld,
		Replicas:          1,
	}, nats.Context(ctx))
	// In use: another process made it, or this one before a restart.
	if err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		return err
	}
	b.health.streamReady = true
	return nil
}
