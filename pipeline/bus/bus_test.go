package bus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"gongdan/internal/testkit"
)

// The tests run against every bus backend: memory, embedded NATS in a temporary directory,
// and the external NATS server named by GONGDAN_TEST_NATS (e.g. nats://127.0.0.1:4222) when
// it is set. On the external server each test uses its own prefix, and deletes its streams.
//
// No test asserts on timing. Waits have a deadline only to turn a hang into a failure; the
// longest is for JetStream's redelivery of unacked messages, ackWait after their delivery.
const (
	failAfter = ackWait + 15*time.Second
	// quietPeriod is how long expectNothing watches a channel. A message arriving later
	// goes unnoticed, so it can only make a test pass wrongly, never fail wrongly.
	quietPeriod = 300 * time.Millisecond
)

type busKind struct {
	name string
	// jetStream: NATS JetStream features are there (dedup, consumer state to inspect).
	jetStream bool
}

var (
	memoryKind   = busKind{name: "memory"}
	embeddedKind = busKind{name: "embedded", jetStream: true}
	externalKind = busKind{name: "external", jetStream: true}
)

// forEachBus runs test once per backend, as subtests side by side: each has a bus of its
// own (its own directory, or its own prefix on the external server).
func forEachBus(t *testing.T, test func(t *testing.T, kind busKind)) {
	eachBus(t, true, test)
}

// forEachBusInTurn runs test once per backend, one after the other: for a test that counts
// the process's goroutines.
func forEachBusInTurn(t *testing.T, test func(t *testing.T, kind busKind)) {
	eachBus(t, false, test)
}

func eachBus(t *testing.T, parallel bool, test func(t *testing.T, kind busKind)) {
	for _, kind := range []busKind{memoryKind, embeddedKind, externalKind} {
		t.Run(kind.name, func(t *testing.T) {
			if kind == externalKind && os.Getenv("GONGDAN_TEST_NATS") == "" {
				t.Skip("GONGDAN_TEST_NATS is not set: set it to a NATS server with JetStream (nats://127.0.0.1:4222) to run against it")
			}
			if parallel {
				t.Parallel()
			}
			test(t, kind)
		})
	}
}

// testBusConfig is a config for kind, with a prefix of its own.
func testBusConfig(t testing.TB, kind busKind) Config {
	t.Helper()
	switch kind {
	case memoryKind:
		return Config{Driver: DriverMemory}
	case embeddedKind:
		return Config{Driver: DriverNATS, Embedded: true, Dir: t.TempDir(), Prefix: testPrefix()}
	default:
		cfg := Config{Driver: DriverNATS, URL: os.Getenv("GONGDAN_TEST_NATS"), Prefix: testPrefix()}
		t.Cleanup(func() { deleteStreams(t, cfg) })
		return cfg
	}
}

func testPrefix() string { return fmt.Sprintf("t%016x", rand.Uint64()) }

// openTestBus opens a bus of kind, closed when the test ends.
func openTestBus(t *testing.T, kind busKind) *Bus {
	t.Helper()
	b, err := Open(context.Background(), testBusConfig(t, kind), testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	return b
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// deleteStreams deletes the streams of cfg's prefix on the external server, and only those.
func deleteStreams(t testing.TB, cfg Config) {
	nc, err := nats.Connect(cfg.URL)
	if err != nil {
		t.Errorf("cleaning up streams %s_*: %v", strings.ToUpper(cfg.Prefix), err)
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	mine := strings.ToUpper(cfg.Prefix) + "_"
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, mine) {
			assert.NoError(t, js.DeleteStream(name), "deleting stream %s", name)
		}
	}
}

// newTestMessage is message i, with metadata that a NATS header could not carry verbatim.
func newTestMessage(i int) *message.Message {
	msg := message.NewMessage(fmt.Sprintf("msg-%03d-%08x", i, rand.Uint32()),
		[]byte(fmt.Sprintf("{\"n\":%d,\"text\":\"工单 %d\"}\x00\xff", i, i)))
	msg.Metadata.Set("gongdan_connector", "hooks")
	msg.Metadata.Set("index", strconv.Itoa(i))
	msg.Metadata.Set("reason", "line one\nline two\r\n")
	msg.Metadata.Set("padded", "  both sides  ")
	msg.Metadata.Set("empty", "")
	msg.Metadata.Set("客户", "王建国")
	msg.Metadata.Set("Nats-Msg-Id", "not the message id")
	msg.Metadata.Set("odd:key", "v")
	msg.Metadata.Set("note", "see Nats-Msg-Id: 7")
	msg.Metadata.Set("X-Nats-Trace", "on")
	return msg
}

func publishTestMessages(t *testing.T, pub message.Publisher, topic string, n int) map[string]*message.Message {
	t.Helper()
	sent := make(map[string]*message.Message, n)
	for i := range n {
		msg := newTestMessage(i)
		require.NoError(t, pub.Publish(topic, msg))
		sent[msg.UUID] = msg
	}
	return sent
}

func subscribe(t *testing.T, b *Bus, group string, concurrency int, topic string) <-chan *message.Message {
	t.Helper()
	sub, err := b.Subscriber(group, concurrency)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sub.Close()) })
	ch, err := sub.Subscribe(context.Background(), topic)
	require.NoError(t, err)
	return ch
}

func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		require.True(t, ok, "subscription closed")
		return msg
	case <-time.After(failAfter):
		t.Fatalf("no message within %v", failAfter)
		return nil
	}
}

func expectNothing(t *testing.T, ch <-chan *message.Message, why string) {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if ok {
			t.Errorf("%s: got message %s", why, msg.UUID)
		}
	case <-time.After(quietPeriod):
	}
}

// assertSameMessage checks that got is want as published: UUID, payload and metadata.
func assertSameMessage(t *testing.T, want, got *message.Message) {
	t.Helper()
	assert.Equal(t, want.UUID, got.UUID)
	assert.True(t, bytes.Equal(want.Payload, got.Payload), "payload of %s: want %q, got %q", want.UUID, want.Payload, got.Payload)
	assert.Equal(t, want.Metadata, got.Metadata, "metadata of %s", want.UUID)
}

// received records messages by UUID and reports duplicates.
type received struct {
	mu   sync.Mutex
	msgs map[string]*message.Message
	dups []string
}

func (r *received) add(msg *message.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil {
		r.msgs = make(map[string]*message.Message)
	}
	if _, ok := r.msgs[msg.UUID]; ok {
		r.dups = append(r.dups, msg.UUID)
	}
	r.msgs[msg.UUID] = msg
	return len(r.msgs)
}

func (r *received) check(t *testing.T, sent map[string]*message.Message) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.dups, "delivered twice to one group")
	assert.Len(t, r.msgs, len(sent))
	for id, want := range sent {
		if got, ok := r.msgs[id]; assert.True(t, ok, "message %s not received", id) {
			assertSameMessage(t, want, got)
		}
	}
}

// consumerDone waits until JetStream has every message of group on topic acked: none
// pending delivery, none delivered and unacked. For the memory bus it does nothing.
func consumerDone(t *testing.T, b *Bus, group, topic string) {
	t.Helper()
	nb, ok := b.backend.(*natsBus)
	if !ok {
		return
	}
	segment, _, _ := strings.Cut(topic, ".")
	var last *nats.ConsumerInfo
	require.Eventually(t, func() bool {
		info, err := nb.js.ConsumerInfo(nb.streamName(segment), durableName(group, topic))
		require.NoError(t, err)
		last = info
		return info.NumPending == 0 && info.NumAckPending == 0
	}, failAfter, 20*time.Millisecond, "consumer %s: %+v", durableName(group, topic), last)
}

// acked acks msg and returns it.
func acked(msg *message.Message) *message.Message {
	msg.Ack()
	return msg
}

func TestBusDeliversEachMessageOnceWithinAGroup(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		const n, concurrency = 100, 8
		ch := subscribe(t, b, "normalize-hooks", concurrency, "raw.hooks")
		sent := publishTestMessages(t, b.Publisher(), "raw.hooks", n)

		held := holdMessages(t, ch, concurrency)
		var got received
		for _, msg := range held {
			got.add(acked(msg))
		}
		for got.add(acked(receive(t, ch))) < n {
		}
		got.check(t, sent)
		consumerDone(t, b, "normalize-hooks", "raw.hooks")
		expectNothing(t, ch, "a message after all were acked")
	})
}

// holdMessages takes messages from ch without acking them, until no more come: more than
// one (the subscription runs concurrently), and no more than concurrency.
func holdMessages(t *testing.T, ch <-chan *message.Message, concurrency int) []*message.Message {
	t.Helper()
	held := []*message.Message{receive(t, ch), receive(t, ch)}
	for {
		select {
		case msg := <-ch:
			held = append(held, msg)
			continue
		case <-time.After(quietPeriod):
		}
		break
	}
	assert.LessOrEqual(t, len(held), concurrency, "messages out at once")
	return held
}

// A group that subscribes with messages waiting has them spread over its concurrency, not
// queued behind its first subscription.
func TestBusSpreadsABacklogOverTheConcurrency(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		if nb, ok := b.backend.(*natsBus); ok && !nb.canPause {
			t.Skipf("NATS server %s cannot pause a consumer (2.11 and later can): its first subscription takes the backlog", nb.nc.ConnectedServerVersion())
		}
		const n, concurrency = 100, 8
		sent := publishTestMessages(t, b.Publisher(), "raw.hooks", n)
		ch := subscribe(t, b, "normalize-hooks", concurrency, "raw.hooks")

		held := holdMessages(t, ch, concurrency)
		var got received
		for _, msg := range held {
			got.add(acked(msg))
		}
		for got.add(acked(receive(t, ch))) < n {
		}
		got.check(t, sent)
		consumerDone(t, b, "normalize-hooks", "raw.hooks")
	})
}

func TestBusRedeliversANackedMessage(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		sent := newTestMessage(1)
		require.NoError(t, b.Publisher().Publish("drafts", sent))
		ch := subscribe(t, b, "intake", 2, "drafts")

		first := receive(t, ch)
		assertSameMessage(t, sent, first)
		first.Nack()
		again := receive(t, ch)
		assertSameMessage(t, sent, again)
		again.Ack()
		consumerDone(t, b, "intake", "drafts")
		expectNothing(t, ch, "a message after it was acked")
	})
}

func TestBusGroupMembersShareTheWork(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		const n = 100
		members := []<-chan *message.Message{
			subscribe(t, b, "intake", 2, "drafts"),
			subscribe(t, b, "intake", 2, "drafts"),
		}
		sent := publishTestMessages(t, b.Publisher(), "drafts", n)

		var all received
		perMember := make([]received, len(members))
		var wg sync.WaitGroup
		done := make(chan struct{})
		var doneOnce sync.Once
		// A member holds its first message, unacked, until every member has one: with its
		// concurrency taken up it cannot take the rest, so the others must get them. Without
		// this, a member scheduled first on a busy machine may take all 100 before the
		// other starts, which is at-least-once delivery doing its job, not a failure.
		var first sync.WaitGroup
		first.Add(len(members))
		allHaveWork := make(chan struct{})
		go func() { first.Wait(); close(allHaveWork) }()
		for i, ch := range members {
			wg.Go(func() {
				held := false
				for {
					select {
					case msg := <-ch:
						perMember[i].add(msg)
						if !held {
							held = true
							first.Done()
							select {
							case <-allHaveWork:
							case <-time.After(failAfter):
								t.Errorf("member %d held a message for %v and the others got none", i, failAfter)
								return
							}
						}
						acked(msg)
						if all.add(msg) == n {
							doneOnce.Do(func() { close(done) })
						}
					case <-done:
						return
					case <-time.After(failAfter):
						t.Errorf("member %d: no message within %v", i, failAfter)
						return
					}
				}
			})
		}
		wg.Wait()
		all.check(t, sent)
		for i := range perMember {
			assert.NotEmpty(t, perMember[i].msgs, "member %d got no work", i)
		}
		consumerDone(t, b, "intake", "drafts")
		for i, ch := range members {
			expectNothing(t, ch, fmt.Sprintf("member %d: a message after all were acked", i))
		}
	})
}

func TestBusEveryGroupGetsEveryMessage(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		const n = 50
		// Published before either group subscribes: a new group starts from the oldest
		// message kept.
		sent := publishTestMessages(t, b.Publisher(), "events", n)
		for _, group := range []string{"notify", "outbox"} {
			ch := subscribe(t, b, group, 4, "events")
			var got received
			for got.add(acked(receive(t, ch))) < n {
			}
			got.check(t, sent)
			consumerDone(t, b, group, "events")
			expectNothing(t, ch, group+": a message after all were acked")
		}
	})
}

func TestBusKeepsTopicsApart(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		hooks := publishTestMessages(t, b.Publisher(), "raw.hooks", 5)
		plant := publishTestMessages(t, b.Publisher(), "raw.plant-mqtt", 7)
		for topic, sent := range map[string]map[string]*message.Message{"raw.hooks": hooks, "raw.plant-mqtt": plant} {
			ch := subscribe(t, b, "normalize", 3, topic)
			var got received
			for got.add(acked(receive(t, ch))) < len(sent) {
			}
			got.check(t, sent)
			consumerDone(t, b, "normalize", topic)
			expectNothing(t, ch, topic+": a message of another topic")
		}
	})
}

func TestBusStoresARepublishedMessageOnce(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		if !kind.jetStream {
			t.Skip("the memory bus does not deduplicate")
		}
		b := openTestBus(t, kind)
		first, other := newTestMessage(1), newTestMessage(2)
		pub := b.Publisher()
		require.NoError(t, pub.Publish("raw.hooks", first))
		require.NoError(t, pub.Publish("raw.hooks", first.Copy()), "a retry after a lost PubAck")
		require.NoError(t, pub.Publish("raw.hooks", other))

		nb := b.backend.(*natsBus)
		info, err := nb.js.StreamInfo(nb.streamName("raw"))
		require.NoError(t, err)
		assert.Equal(t, uint64(2), info.State.Msgs, "messages stored")

		ch := subscribe(t, b, "normalize-hooks", 2, "raw.hooks")
		var got received
		for got.add(acked(receive(t, ch))) < 2 {
		}
		got.check(t, map[string]*message.Message{first.UUID: first, other.UUID: other})
		consumerDone(t, b, "normalize-hooks", "raw.hooks")
		expectNothing(t, ch, "the republished message")
	})
}

// Deduplication is per topic: the same message published to two topics of one stream is
// stored in each, alone and in a batch (watermill's suite found it dropped from the second).
func TestBusStoresAMessagePublishedToTwoTopicsInEach(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		one, two, three := newTestMessage(1), newTestMessage(2), newTestMessage(3)
		pub := b.Publisher()
		for _, topic := range []string{"raw.hooks", "raw.mqtt"} {
			require.NoError(t, pub.Publish(topic, one.Copy()))
			require.NoError(t, pub.Publish(topic, two.Copy(), three.Copy()))
		}
		for _, topic := range []string{"raw.hooks", "raw.mqtt"} {
			ch := subscribe(t, b, "normalize", 1, topic)
			var got received
			for got.add(acked(receive(t, ch))) < 3 {
			}
			got.check(t, map[string]*message.Message{one.UUID: one, two.UUID: two, three.UUID: three})
		}
	})
}

// Several messages in one Publish (the events outbox's batches) arrive whole and in order, and
// a batch published again after a lost answer is stored once.
func TestBusPublishesABatchInOrderAndOnce(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		const n = 300
		batch := make([]*message.Message, n)
		sent := make(map[string]*message.Message, n)
		for i := range batch {
			batch[i] = newTestMessage(i)
			sent[batch[i].UUID] = batch[i]
		}
		require.NoError(t, b.Publisher().Publish("events", batch...))
		if kind.jetStream {
			again := make([]*message.Message, n)
			for i, msg := range batch {
				again[i] = msg.Copy()
			}
			require.NoError(t, b.Publisher().Publish("events", again...), "the batch again, after a lost answer")
		}

		// One unit of concurrency: JetStream delivers in stream order (the memory bus, for
		// unit tests, makes no promise of order).
		ch := subscribe(t, b, "outbox-reader", 1, "events")
		var got received
		for i := range n {
			msg := acked(receive(t, ch))
			if kind.jetStream {
				assert.Equal(t, batch[i].UUID, msg.UUID, "message %d out of order", i)
			}
			got.add(msg)
		}
		got.check(t, sent)
		consumerDone(t, b, "outbox-reader", "events")
		expectNothing(t, ch, "a message of the republished batch")
	})
}

// The embedded bus keeps what was not acked across a restart, and refuses a second process
// on its directory. Unacked messages come back the ack wait after their delivery: the test's
// bus waits 2 s, not the default 30 s, or the test would take that long.
func TestBusEmbeddedKeepsUnackedMessagesAcrossARestart(t *testing.T) {
	cfg := testBusConfig(t, embeddedKind)
	cfg.AckWait = 2 * time.Second
	first, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	defer first.Close()
	sent := publishTestMessages(t, first.Publisher(), "raw.hooks", 10)

	second, err := Open(context.Background(), cfg, testLogger(t))
	if assert.Error(t, err, "a second bus on the same dir") {
		assert.Nil(t, second)
		assert.Contains(t, err.Error(), "bus: NATS storage dir "+cfg.Dir+" is in use by another gongdan (pid "+strconv.Itoa(os.Getpid())+",")
	}
	// Healthy, or soon: right after Open, on a loaded machine, nats-server's health check may
	// still say its startup has not completed (it allows 1 ms); a bus the refused second one
	// disturbed would stay unhealthy.
	var healthErr error
	if !assert.Eventually(t, func() bool { healthErr = first.Healthy(context.Background()); return healthErr == nil },
		30*time.Second, 100*time.Millisecond, "the refused second bus disturbed the first") {
		t.Log(healthErr)
	}

	sub, err := first.Subscriber("normalize-hooks", 2)
	require.NoError(t, err)
	ch, err := sub.Subscribe(context.Background(), "raw.hooks")
	require.NoError(t, err)
	ackedIDs := map[string]bool{}
	for range 4 {
		ackedIDs[acked(receive(t, ch)).UUID] = true
	}
	for range 2 {
		receive(t, ch) // out to a handler, never acked
	}
	// The acks have reached the server: 4 of the delivered messages are no longer pending.
	// (An ack racing Close may be lost, and that message delivered again: at least once.)
	// Counted by stream sequence, not deliveries: on a loaded machine the subscriptions may
	// take longer than the idle hold, the first one takes the backlog, and the 6th message
	// comes as a redelivery to the other, which counts as one more delivery.
	nb := first.backend.(*natsBus)
	require.Eventually(t, func() bool {
		info, err := nb.js.ConsumerInfo(nb.streamName("raw"), durableName("normalize-hooks", "raw.hooks"))
		require.NoError(t, err)
		return info.NumAckPending == int(info.Delivered.Stream)-4
	}, failAfter, 10*time.Millisecond)
	require.NoError(t, first.Close(), "close with a subscriber open and messages unacked")

	reopened, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err, "reopen after close")
	defer reopened.Close()
	ch = subscribe(t, reopened, "normalize-hooks", 2, "raw.hooks")
	var got received
	for got.add(acked(receive(t, ch))) < len(sent)-len(ackedIDs) {
	}
	for id := range ackedIDs {
		assert.NotContains(t, got.msgs, id, "an acked message came again")
		delete(sent, id)
	}
	got.check(t, sent)
	consumerDone(t, reopened, "normalize-hooks", "raw.hooks")
	expectNothing(t, ch, "a message after all were acked")
	require.NoError(t, reopened.Close())

	// Closed, the directory is free again.
	again, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, again.Close())
}

// A message whose publish returned is on disk, even if the process is killed (SIGKILL) the
// next moment: the embedded server writes a message to the OS before it acknowledges it.
// The test runs itself as a child process that publishes and prints each message's UUID
// once Publish has returned, kills it mid-stream, and reads the directory back.
func TestBusEmbeddedKeepsAcknowledgedMessagesWhenKilled(t *testing.T) {
	if testkit.Child("publisher") {
		publishUntilKilled(os.Getenv("GONGDAN_TEST_BUS_CHILD_DIR"), os.Getenv("GONGDAN_TEST_BUS_CHILD_PREFIX"))
		return
	}
	cfg := testBusConfig(t, embeddedKind)
	child := testkit.ChildTest(t, "publisher", "GONGDAN_TEST_BUS_CHILD_DIR="+cfg.Dir, "GONGDAN_TEST_BUS_CHILD_PREFIX="+cfg.Prefix)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	ackedIDs := map[string]bool{}
	lines := bufio.NewScanner(stdout)
	for len(ackedIDs) < 2000 && lines.Scan() {
		if id, ok := strings.CutPrefix(lines.Text(), "acked "); ok {
			ackedIDs[id] = true
		}
	}
	require.NoError(t, testkit.Kill(child))
	require.Len(t, ackedIDs, 2000, "the child stopped publishing early")

	b, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err, "open after the previous owner was killed")
	defer b.Close()
	nb := b.backend.(*natsBus)
	info, err := nb.js.StreamInfo(nb.streamName("raw"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.State.Msgs, uint64(len(ackedIDs)))
	ch := subscribe(t, b, "normalize-hooks", 16, "raw.hooks")
	var got received
	for got.add(acked(receive(t, ch))) < int(info.State.Msgs) {
	}
	for id := range ackedIDs {
		assert.Contains(t, got.msgs, id, "an acknowledged message is lost")
	}
}

// publishUntilKilled is the child of TestBusEmbeddedKeepsAcknowledgedMessagesWhenKilled.
func publishUntilKilled(dir, prefix string) {
	// What is tested is what a kill leaves, not how fast acks come: on a loaded machine a
	// PubAck took over the default 2 s and the child stopped early.
	b, err := Open(context.Background(), Config{Embedded: true, Dir: dir, Prefix: prefix, PublishTimeout: MaxPublishTimeout}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pub := b.Publisher()
	for i := 0; ; i++ {
		msg := newTestMessage(i)
		if err := pub.Publish("raw.hooks", msg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := os.Stdout.WriteString("acked " + msg.UUID + "\n"); err != nil {
			os.Exit(1)
		}
	}
}

func TestBusCloseLeavesNoGoroutines(t *testing.T) {
	forEachBusInTurn(t, func(t *testing.T, kind busKind) {
		ignore := goleak.IgnoreCurrent() // earlier tests' goroutines, still winding down
		b, err := Open(context.Background(), testBusConfig(t, kind), testLogger(t))
		require.NoError(t, err)
		sent := publishTestMessages(t, b.Publisher(), "raw.hooks", 20)
		var got received
		for _, group := range []string{"normalize-hooks", "audit"} {
			sub, err := b.Subscriber(group, 4)
			require.NoError(t, err)
			ch, err := sub.Subscribe(context.Background(), "raw.hooks")
			require.NoError(t, err)
			if group == "audit" {
				receive(t, ch) // left unacked, subscriber left open: Bus.Close closes it
				continue
			}
			for got.add(acked(receive(t, ch))) < len(sent) {
			}
			require.NoError(t, sub.Close())
			_, open := <-ch
			assert.False(t, open, "subscription channel open after Close")
		}
		got.check(t, sent)
		require.NoError(t, b.Close())
		require.NoError(t, b.Close(), "second Close")
		goleak.VerifyNone(t, ignore)
	})
}

// Close waits for the messages a subscriber handed out: an ack given meanwhile (a handler
// finishing during a graceful shutdown) is kept, and the message does not come again.
func TestBusCloseKeepsAcksOfMessagesOut(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		sent := newTestMessage(1)
		require.NoError(t, b.Publisher().Publish("drafts", sent))
		sub, err := b.Subscriber("intake", 2)
		require.NoError(t, err)
		ch, err := sub.Subscribe(context.Background(), "drafts")
		require.NoError(t, err)
		msg := receive(t, ch)

		closed := make(chan struct{})
		go func() {
			assert.NoError(t, sub.Close())
			close(closed)
		}()
		select {
		case <-closed:
			t.Fatal("Close returned with a message out and unacked")
		case <-time.After(quietPeriod):
		}
		msg.Ack()
		<-closed
		_, open := <-ch
		assert.False(t, open, "subscription channel open after Close")

		consumerDone(t, b, "intake", "drafts")
		expectNothing(t, subscribe(t, b, "intake", 2, "drafts"), "the message acked while closing")
	})
}

func TestBusAfterClose(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b, err := Open(context.Background(), testBusConfig(t, kind), testLogger(t))
		require.NoError(t, err)
		require.NoError(t, b.Healthy(context.Background()))
		sub, err := b.Subscriber("intake", 1)
		require.NoError(t, err)
		require.NoError(t, b.Close())

		assert.ErrorIs(t, b.Healthy(context.Background()), ErrClosed)
		assert.ErrorIs(t, b.Publisher().Publish("drafts", newTestMessage(1)), ErrClosed)
		_, err = b.Subscriber("intake", 1)
		assert.ErrorIs(t, err, ErrClosed)
		_, err = sub.Subscribe(context.Background(), "drafts")
		assert.ErrorIs(t, err, ErrClosed)
		assert.NoError(t, sub.Close(), "closing a subscriber the bus closed")
	})
}

func TestBusRefusesBadNames(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openTestBus(t, kind)
		for _, topic := range []string{"", "Raw.hooks", "raw..hooks", "raw.*", "raw.>", "raw hooks", ".drafts", "drafts."} {
			err := b.Publisher().Publish(topic, newTestMessage(1))
			if assert.Error(t, err, "publish to %q", topic) {
				assert.Contains(t, err.Error(), fmt.Sprintf("bus: topic %q: want raw.<connector>, drafts, events", topic))
			}
			sub, err := b.Subscriber("intake", 1)
			require.NoError(t, err)
			_, err = sub.Subscribe(context.Background(), topic)
			assert.Error(t, err, "subscribe to %q", topic)
			require.NoError(t, sub.Close())
		}
		for _, group := range []string{"", "a.b", "a b", "-x", "a>", strings.Repeat("g", 101)} {
			_, err := b.Subscriber(group, 1)
			if assert.Error(t, err, "group %q", group) {
				assert.Contains(t, err.Error(), fmt.Sprintf("bus: consumer group %q: want letters, digits", group))
			}
		}
		for _, concurrency := range []int{0, -1, MaxConcurrency + 1} {
			_, err := b.Subscriber("intake", concurrency)
			assert.EqualError(t, err, fmt.Sprintf("bus: consumer group intake: concurrency %d: want 1 to %d", concurrency, MaxConcurrency))
		}
	})
}

func TestBusNoticesAConsumerNameTakenByAnotherTopic(t *testing.T) {
	b := openTestBus(t, embeddedKind)
	subscribe(t, b, "g", 1, "raw.x_y")
	sub, err := b.Subscriber("g", 1)
	require.NoError(t, err)
	defer sub.Close()
	_, err = sub.Subscribe(context.Background(), "raw.x.y")
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "is not group g's on topic raw.x.y")
		assert.Contains(t, err.Error(), "nats consumer rm")
	}
}

func TestBusConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown driver", Config{Driver: "kafka"}, `bus: unknown driver "kafka" (one of: nats, memory)`},
		{"embedded without dir", Config{Embedded: true}, "bus: embedded NATS needs a storage directory (bus.dir)"},
		{"embedded with url", Config{Embedded: true, Dir: "/x", URL: "nats://h:4222"}, "bus: embedded NATS takes no url"},
		{"external without url", Config{}, "bus: external NATS needs a url like nats://127.0.0.1:4222"},
		{"sync_always outside", Config{URL: "nats://alice:s3cret@h:4222", SyncAlways: true},
			"bus: sync_always applies to embedded NATS only; for the server at nats://***@h:4222 set jetstream { sync_interval: always }"},
		{"bad prefix", Config{Embedded: true, Dir: "/x", Prefix: "Gong_dan"}, `bus: prefix "Gong_dan": want lowercase letters, digits and '-'`},
		{"short max age", Config{Embedded: true, Dir: "/x", MaxAge: time.Second}, "bus: max age 1s is too short"},
		{"short publish timeout", Config{Embedded: true, Dir: "/x", PublishTimeout: 10 * time.Millisecond}, "bus: publish timeout 10ms: want 1s to 1m0s (bus.publish_timeout)"},
		{"long publish timeout", Config{URL: "nats://h:4222", PublishTimeout: 5 * time.Minute}, "bus: publish timeout 5m0s: want 1s to 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.cfg, nil)
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
				assert.NotContains(t, err.Error(), "s3cret")
			}
		})
	}
}

func TestBusConnectErrorNamesTheServerAndHidesCredentials(t *testing.T) {
	// Nothing listens on port 1.
	_, err := Open(context.Background(), Config{URL: "nats://alice:s3cret@127.0.0.1:1"}, nil)
	require.Error(t, err)
	assert.Equal(t, "bus: cannot connect to NATS at nats://***@127.0.0.1:1: connection refused; is nats-server running there, with JetStream (-js)?", err.Error())

	_, err = Open(context.Background(), Config{URL: "nats://t0ken@127.0.0.1:1, nats://127.0.0.1:2"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bus: cannot connect to NATS at nats://***@127.0.0.1:1,nats://127.0.0.1:2: ")
	assert.NotContains(t, err.Error(), "t0ken")
}

// startTestServer runs a NATS server on a free local port, as an external server would be.
func startTestServer(t *testing.T, opts server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	ns, err := server.NewServer(&opts)
	require.NoError(t, err)
	ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

func TestBusExternalServerErrors(t *testing.T) {
	t.Run("without JetStream", func(t *testing.T) {
		url := startTestServer(t, server.Options{})
		_, err := Open(context.Background(), Config{URL: url}, nil)
		assert.EqualError(t, err, "bus: NATS at "+url+" has JetStream disabled; start nats-server with -js (or a jetstream {} block in its config), and enable it for this account")
	})
	t.Run("wrong password", func(t *testing.T) {
		url := startTestServer(t, server.Options{Username: "gongdan", Password: "right"})
		withCreds := strings.Replace(url, "nats://", "nats://gongdan:wr0ng@", 1)
		_, err := Open(context.Background(), Config{URL: withCreds}, nil)
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), "bus: cannot connect to NATS at nats://***@127.0.0.1:")
			assert.Contains(t, err.Error(), "; check the user and password, or the token, in bus.url")
			assert.NotContains(t, err.Error(), "wr0ng")
		}
	})
	t.Run("a stream of another kind in the way", func(t *testing.T) {
		url := startTestServer(t, server.Options{JetStream: true, StoreDir: t.TempDir()})
		nc, err := nats.Connect(url)
		require.NoError(t, err)
		defer nc.Close()
		js, err := nc.JetStream()
		require.NoError(t, err)
		_, err = js.AddStream(&nats.StreamConfig{Name: "GONGDAN_RAW", Subjects: []string{"elsewhere.>"}})
		require.NoError(t, err)
		_, err = Open(context.Background(), Config{URL: url}, nil)
		assert.EqualError(t, err, "bus: stream GONGDAN_RAW on NATS at "+url+" takes elsewhere.> with limits retention, but gongdan needs gongdan.raw, gongdan.raw.> with limits retention; remove it (nats stream rm GONGDAN_RAW) or give gongdan another bus prefix")
	})
	t.Run("streams updated to the configured age", func(t *testing.T) {
		url := startTestServer(t, server.Options{JetStream: true, StoreDir: t.TempDir()})
		b, err := Open(context.Background(), Config{URL: url, MaxAge: time.Hour}, nil)
		require.NoError(t, err)
		require.NoError(t, b.Close())
		b, err = Open(context.Background(), Config{URL: url, MaxAge: 48 * time.Hour}, nil)
		require.NoError(t, err)
		defer b.Close()
		info, err := b.backend.(*natsBus).js.StreamInfo("GONGDAN_DRAFTS")
		require.NoError(t, err)
		assert.Equal(t, 48*time.Hour, info.Config.MaxAge)
		assert.Equal(t, duplicateWindow, info.Config.Duplicates)
		assert.Equal(t, nats.FileStorage, info.Config.Storage)
	})
}

// The consumer a group gets is what the bus relies on: explicit acks, a 30s ack wait,
// redelivery without limit, its queue group, and room for every subscription's messages.
func TestBusConsumerSettings(t *testing.T) {
	b := openTestBus(t, embeddedKind)
	subscribe(t, b, "normalize-hooks", 4, "raw.hooks")
	nb := b.backend.(*natsBus)
	info, err := nb.js.ConsumerInfo(nb.streamName("raw"), "normalize-hooks_raw_hooks")
	require.NoError(t, err)
	assert.Equal(t, nats.AckExplicitPolicy, info.Config.AckPolicy)
	assert.Equal(t, ackWait, info.Config.AckWait)
	assert.Equal(t, -1, info.Config.MaxDeliver)
	assert.Equal(t, "normalize-hooks", info.Config.DeliverGroup)
	assert.Equal(t, nb.cfg.Prefix+".raw.hooks", info.Config.FilterSubject)
	assert.Equal(t, nats.DeliverAllPolicy, info.Config.DeliverPolicy)
	assert.Equal(t, 16, info.Config.MaxAckPending)

	// Another member with more concurrency raises it; one with less does not lower it.
	subscribe(t, b, "normalize-hooks", 10, "raw.hooks")
	subscribe(t, b, "normalize-hooks", 1, "raw.hooks")
	info, err = nb.js.ConsumerInfo(nb.streamName("raw"), "normalize-hooks_raw_hooks")
	require.NoError(t, err)
	assert.Equal(t, 40, info.Config.MaxAckPending)
}

func TestBusMarshalerKeepsMetadataOutOfNATSHeaders(t *testing.T) {
	msg := newTestMessage(7)
	natsMsg, err := busMarshaler{}.Marshal("gongdan.raw.hooks", msg)
	require.NoError(t, err)
	assert.Equal(t, msg.UUID, natsMsg.Header.Get("_watermill_message_uuid"))
	assert.Equal(t, "hooks", natsMsg.Header.Get("gongdan_connector"), "plain metadata stays a plain header")
	// Nothing a server could take for its own header (Nats-Msg-Id sets the dedup id; servers
	// before 2.10 find it anywhere in the header block), nothing the client would alter.
	for k, vs := range natsMsg.Header {
		assert.NotContains(t, strings.ToLower(k), "nats-")
		for _, v := range vs {
			assert.NotContains(t, strings.ToLower(v), "nats-", "header %s", k)
			assert.NotContains(t, v, "\n", "header %s", k)
			assert.Equal(t, strings.TrimSpace(v), v, "header %s", k)
		}
	}
	back, err := busMarshaler{}.Unmarshal(natsMsg)
	require.NoError(t, err)
	assertSameMessage(t, msg, back)
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                       "nats://127.0.0.1:4222",
		"nats://alice:s3cret@10.0.0.5:4222":           "nats://***@10.0.0.5:4222",
		"tls://t0ken@nats.example.com:4222/path?q=@x": "tls://***@nats.example.com:4222/path?q=@x",
		"alice:pw@h:4222":                             "***@h:4222",
		"nats://a:b@h1:4222, nats://c:d@h2:4222":      "nats://***@h1:4222,nats://***@h2:4222",
		"nats://p@ss:w@rd@h:4222":                     "nats://***@h:4222",
	} {
		assert.Equal(t, want, redactURLs(in), in)
	}
	err := errors.New(`parse "nats://alice:s3cret@h:4222": invalid port`)
	assert.Equal(t, `parse "nats://***@h:4222": invalid port`, redactError(err, "nats://alice:s3cret@h:4222"))
}
