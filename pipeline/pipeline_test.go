package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
	"gongdan/pipeline"
	"gongdan/pipeline/bus"
	"gongdan/pipeline/deadletter"
)

// tickets is a fake core: one ticket per dedup key, like the engine.
type tickets struct {
	mu      sync.Mutex
	byKey   map[string]draft.Draft
	calls   int
	failFor atomic.Int32 // fail this many calls first, with a transient error
}

func newTickets() *tickets { return &tickets{byKey: map[string]draft.Draft{}} }

func (t *tickets) intake(_ context.Context, d draft.Draft) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	if t.failFor.Load() > 0 {
		t.failFor.Add(-1)
		return errors.New("store unavailable")
	}
	if d.Title == "permanent" {
		return errInvalid
	}
	if _, ok := t.byKey[d.DedupKey]; !ok {
		t.byKey[d.DedupKey] = d
	}
	return nil
}

var errInvalid = errors.New("invalid draft")

func (t *tickets) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

type fixture struct {
	p       *pipeline.Pipeline
	bus     *bus.Bus
	dls     deadletter.Store
	tickets *tickets
	broken  atomic.Bool // the "config" of the normalizer: broken until fixed
	dead    atomic.Int32
}

func start(t *testing.T, dls deadletter.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	bus, err := bus.Open(ctx, bus.Config{Driver: "memory"}, nil)
	require.NoError(t, err)
	f := &fixture{bus: bus, dls: dls, tickets: newTickets()}
	if f.dls == nil {
		f.dls = deadletter.NewMemory()
	}
	n := draft.NormalizerFunc(func(env draft.Envelope) ([]draft.Draft, error) {
		var in struct {
			Title string `json:"title"`
			Panic bool   `json:"panic"`
			Two   bool   `json:"two"`
		}
		if err := json.Unmarshal(env.Payload, &in); err != nil {
			return nil, err
		}
		if in.Panic {
			panic("normalizer bug")
		}
		if f.broken.Load() && in.Title == "needs-fix" {
			return nil, errors.New("mapping title: cannot fetch subject")
		}
		d := draft.Complete(draft.Draft{Title: in.Title}, env)
		if !in.Two {
			return []draft.Draft{d}, nil
		}
		d2 := d
		d2.DedupKey += "/2"
		return []draft.Draft{d, d2}, nil
	})
	f.p, err = pipeline.New(pipeline.Options{
		Bus:           bus,
		Sources:       []pipeline.Source{{Name: "hooks", Normalizer: n}},
		Intake:        f.tickets.intake,
		Permanent:     func(err error) bool { return errors.Is(err, errInvalid) },
		DeadLetters:   f.dls,
		OnDeadLetter:  func(string) { f.dead.Add(1) },
		Retries:       3,
		RetryInterval: time.Millisecond,
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- f.p.Run(ctx) }()
	<-f.p.Running()
	t.Cleanup(func() {
		require.NoError(t, f.p.Close())
		require.NoError(t, <-done)
		require.NoError(t, bus.Close())
	})
	return f
}

func envelope(id, body string) draft.Envelope {
	return draft.Envelope{ID: id, Connector: "hooks", ConnectorType: "webhook", Type: "test",
		ReceivedAt: time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC), Payload: []byte(body)}
}

func (f *fixture) deadLetters(t *testing.T) []deadletter.DeadLetter {
	page, err := f.dls.DeadLetters(context.Background(), deadletter.Query{Limit: 500})
	require.NoError(t, err)
	return page.DeadLetters
}

const wait, tick = 10 * time.Second, 5 * time.Millisecond

func TestEnvelopesBecomeOneTicketEach(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	for i := range 50 {
		env := envelope(fmt.Sprintf("env-%d", i), fmt.Sprintf(`{"title":"t%d"}`, i))
		require.NoError(t, f.p.Publish(ctx, env))
		// The same envelope again, as a connector whose ack was lost would send it.
		require.NoError(t, f.p.Publish(ctx, env))
	}
	require.NoError(t, f.p.Publish(ctx, envelope("env-two", `{"title":"x","two":true}`)))
	require.Eventually(t, func() bool { return f.tickets.count() == 52 }, wait, tick)
	f.tickets.mu.Lock()
	d := f.tickets.byKey["hooks/env-7"]
	f.tickets.mu.Unlock()
	assert.Equal(t, "t7", d.Title)
	assert.Equal(t, "hooks", d.Source.Connector)
	assert.Empty(t, f.deadLetters(t))
}

func TestMalformedEnvelopeIsDeadLetteredAndReplayedAfterTheFix(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	f.broken.Store(true)
	require.NoError(t, f.p.Publish(ctx, envelope("env-bad", `{"title":"needs-fix"}`)))
	require.NoError(t, f.p.Publish(ctx, envelope("env-good", `{"title":"fine"}`)))

	require.Eventually(t, func() bool { return len(f.deadLetters(t)) == 1 }, wait, tick)
	dl := f.deadLetters(t)[0]
	assert.Equal(t, "hooks", dl.Connector)
	assert.Equal(t, "normalize.hooks", dl.Handler)
	assert.Equal(t, "raw.hooks", dl.Topic)
	assert.Contains(t, dl.Error, "cannot fetch subject")
	assert.Equal(t, 1, dl.Attempts, "a normalizer error is permanent: no retries")
	assert.Equal(t, deadletter.StateDead, dl.State)
	var env draft.Envelope
	require.NoError(t, json.Unmarshal(dl.Payload, &env))
	assert.Equal(t, "env-bad", env.ID)
	assert.Equal(t, int32(1), f.dead.Load())
	require.Eventually(t, func() bool { return f.tickets.count() == 1 }, wait, tick, "the good envelope is not held up")

	// Replaying without the fix fails again, into the same record.
	_, err := f.p.Replay(ctx, dl.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := f.dls.DeadLetter(ctx, dl.ID)
		return err == nil && got.Attempts == 2 && got.State == deadletter.StateDead
	}, wait, tick)
	assert.Len(t, f.deadLetters(t), 1)

	f.broken.Store(false) // the config fix
	replayed, err := f.p.Replay(ctx, dl.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, replayed.Replays)
	require.Eventually(t, func() bool { return f.tickets.count() == 2 }, wait, tick)
	got, err := f.dls.DeadLetter(ctx, dl.ID)
	require.NoError(t, err)
	assert.Equal(t, deadletter.StateReplayed, got.State)

	_, err = f.p.Replay(ctx, "DL-nope")
	assert.ErrorIs(t, err, deadletter.ErrNotFound)
}

func TestTransientIntakeErrorsAreRetried(t *testing.T) {
	f := start(t, nil)
	f.tickets.failFor.Store(2)
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-1", `{"title":"retry me"}`)))
	require.Eventually(t, func() bool { return f.tickets.count() == 1 }, wait, tick)
	assert.Empty(t, f.deadLetters(t))
}

func TestIntakeErrorsThatOutlastTheRetriesAreDeadLettered(t *testing.T) {
	f := start(t, nil)
	f.tickets.failFor.Store(4) // Retries is 3: four tries in all, every one failing
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-1", `{"title":"doomed"}`)))
	require.Eventually(t, func() bool { return len(f.deadLetters(t)) == 1 }, wait, tick)
	dl := f.deadLetters(t)[0]
	assert.Equal(t, "intake", dl.Handler)
	assert.Equal(t, "drafts", dl.Topic)
	assert.Equal(t, 4, dl.Attempts)
	assert.True(t, !dl.LastFailedAt.Before(dl.FirstFailedAt))
	assert.Contains(t, dl.Error, "store unavailable")

	// The store is back: a replay of the draft makes the ticket.
	_, err := f.p.Replay(context.Background(), dl.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.tickets.count() == 1 }, wait, tick)
}

func TestPermanentIntakeErrorsSkipTheRetries(t *testing.T) {
	f := start(t, nil)
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-1", `{"title":"permanent"}`)))
	require.Eventually(t, func() bool { return len(f.deadLetters(t)) == 1 }, wait, tick)
	assert.Equal(t, 1, f.deadLetters(t)[0].Attempts)
}

func TestAPanickingNormalizerIsADeadLetterNotACrash(t *testing.T) {
	f := start(t, nil)
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-1", `{"panic":true}`)))
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-2", `{"title":"after"}`)))
	require.Eventually(t, func() bool { return len(f.deadLetters(t)) == 1 && f.tickets.count() == 1 }, wait, tick)
	assert.Contains(t, f.deadLetters(t)[0].Error, "normalizer bug")
}

// TestASourceWithoutANormalizerIsRefusedAtNew: every connector names its normalizer
// (connectors.NormalizerOf); a source without one is a wiring mistake, told at New, not an
// envelope that fails later.
func TestASourceWithoutANormalizerIsRefusedAtNew(t *testing.T) {
	b, err := bus.Open(context.Background(), bus.Config{Driver: "memory"}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	_, err = pipeline.New(pipeline.Options{Bus: b, DeadLetters: deadletter.NewMemory(), Sources: []pipeline.Source{{Name: "hooks"}}})
	require.EqualError(t, err, "pipeline: source hooks has no normalizer")
}

// flakyStore fails its first puts: a dead letter that cannot be stored must not be acked.
type flakyStore struct {
	*deadletter.Memory
	fails atomic.Int32
}

func (s *flakyStore) PutDeadLetter(ctx context.Context, dl deadletter.DeadLetter) (deadletter.DeadLetter, error) {
	if s.fails.Load() > 0 {
		s.fails.Add(-1)
		return deadletter.DeadLetter{}, errors.New("disk full")
	}
	return s.Memory.PutDeadLetter(ctx, dl)
}

func TestAMessageIsNotAckedUntilItsDeadLetterIsStored(t *testing.T) {
	store := &flakyStore{Memory: deadletter.NewMemory()}
	store.fails.Store(2)
	f := start(t, store)
	f.broken.Store(true)
	require.NoError(t, f.p.Publish(context.Background(), envelope("env-1", `{"title":"needs-fix"}`)))
	require.Eventually(t, func() bool { return len(f.deadLetters(t)) == 1 }, wait, tick)
	assert.Equal(t, int32(0), store.fails.Load(), "both failed puts were retried by redelivery")
	assert.Equal(t, 1, f.deadLetters(t)[0].Attempts, "the redeliveries keep one record")
}

// TestConsumersAreRetriedDeadLetteredAndReplayed: a consumer of another topic (the notifier
// of the core's events) runs under the same retries and dead letters as the pipeline's own
// handlers, and a replay hands the message to it again.
func TestConsumersAreRetriedDeadLetteredAndReplayed(t *testing.T) {
	ctx := context.Background()
	bus, err := bus.Open(ctx, bus.Config{Driver: "memory"}, nil)
	require.NoError(t, err)
	dls := deadletter.NewMemory()
	var mu sync.Mutex
	failures := map[string]int{"transient": 2, "doomed": 100}
	var handled []string
	p, err := pipeline.New(pipeline.Options{Bus: bus, DeadLetters: dls, Retries: 3, RetryInterval: time.Millisecond,
		Consumers: []pipeline.Consumer{{Name: "notify", Topic: pipeline.TopicEvents, Handle: func(_ context.Context, payload []byte, meta map[string]string) error {
			mu.Lock()
			defer mu.Unlock()
			key := string(payload)
			switch {
			case key == "permanent":
				return pipeline.Permanent(errors.New("no such user"))
			case failures[key] > 0:
				failures[key]--
				return errors.New("wechat API: timeout")
			}
			handled = append(handled, key+"/"+meta["event_id"])
			return nil
		}}}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-p.Running()
	defer func() {
		require.NoError(t, p.Close())
		require.NoError(t, <-done)
		require.NoError(t, bus.Close())
	}()
	pub := bus.Publisher()
	for i, key := range []string{"transient", "doomed", "permanent"} {
		m := message.NewMessage(fmt.Sprint("msg-", i), []byte(key))
		m.Metadata.Set("event_id", fmt.Sprint(i))
		require.NoError(t, pub.Publish(pipeline.TopicEvents, m))
	}
	page := func() []deadletter.DeadLetter {
		pg, err := dls.DeadLetters(ctx, deadletter.Query{Limit: 10})
		require.NoError(t, err)
		return pg.DeadLetters
	}
	require.Eventually(t, func() bool { return len(page()) == 2 }, wait, tick)
	mu.Lock()
	assert.Equal(t, []string{"transient/0"}, handled, "retried until it went through")
	failures["doomed"] = 0 // WeChat is back
	mu.Unlock()
	byKey := map[string]deadletter.DeadLetter{}
	for _, dl := range page() {
		assert.Equal(t, "notify", dl.Handler)
		assert.Equal(t, pipeline.TopicEvents, dl.Topic)
		byKey[string(dl.Payload)] = dl
	}
	assert.Equal(t, 4, byKey["doomed"].Attempts)
	assert.Equal(t, 1, byKey["permanent"].Attempts, "a permanent error skips the retries")

	_, err = p.Replay(ctx, byKey["doomed"].ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	}, wait, tick)
	assert.Equal(t, "doomed/1", handled[1], "the replay keeps the metadata")
}
