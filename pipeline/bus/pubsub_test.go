package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/stretchr/testify/require"
)

// watermill's own conformance suite, run against every driver. A Bus is one instance of the
// Pub/Sub for all of a run: the suite's "new instance" is a new member of a consumer group
// (what another gongdan process is), and the members of one Bus compete for a group's
// messages as processes do. With -short the suite sends fewer messages.
//
// suiteConcurrency is each Subscribe's concurrency. At 1 a member hands out one message at a
// time, in the order the stream holds them: that is what GuaranteedOrder (with one member)
// and TestNoAck ask for. The pipeline runs at higher concurrency, where order is not
// guaranteed (see Bus); the bus's own tests cover that.
const suiteConcurrency = 1

// suiteGroup is the consumer group of the suite's constructor without a group: every
// instance is a member of it. Each test has topics of its own, so its consumers too.
const suiteGroup = "suite"

// busFeatures are what every driver really has:
//   - ConsumerGroups: each group gets every message; within a group, one member each.
//   - not ExactlyOnceDelivery: delivery is at least once (a nacked or unacked message comes
//     again; the memory driver does not even drop a message published twice).
//   - GuaranteedOrder with a single subscriber, at suiteConcurrency, on NATS only: the memory
//     driver hands each message out from a goroutine of its own (see memoryBus).
//   - Persistent: a message nobody acked waits for the next member of its group, also when a
//     member closes with messages out. For memory, within the Bus, not across a restart.
//   - not NewSubscriberReceivesOldMessages for a new member of a group: it shares the group's
//     position. A new group starts from the oldest message kept: see
//     TestBusWatermillNewGroupReceivesOldMessages.
//   - no RestartServiceCommand: the embedded server is in this process (the bus's own tests
//     restart it and kill the process).
func busFeatures(kind busKind) tests.Features {
	return tests.Features{
		ConsumerGroups:                      true,
		ExactlyOnceDelivery:                 false,
		GuaranteedOrder:                     kind.jetStream,
		GuaranteedOrderWithSingleSubscriber: kind.jetStream,
		Persistent:                          true,
		RequireSingleInstance:               false,
		NewSubscriberReceivesOldMessages:    false,
		// Topics are lowercase segments: the suite's are suite.t<test id>[-n], all in one
		// stream (<PREFIX>_SUITE) for NATS.
		GenerateTopicFunc: func(tctx tests.TestContext) string {
			return "suite.t" + strings.ToLower(string(tctx.TestID))
		},
	}
}

// suiteAckWait is the suite's buses' ack wait. Several of its tests (TestSubscribeCtx, the
// close tests) close a subscriber that messages were already on their way to, and then wait
// 15 s for a new one to get them all: NATS hands them out again only after the ack wait,
// which at the default 30 s is after the suite has given up.
const suiteAckWait = 5 * time.Second

// openSuiteBus is openTestBus with the suite's ack wait.
func openSuiteBus(t *testing.T, kind busKind) *Bus {
	t.Helper()
	cfg := testBusConfig(t, kind)
	cfg.AckWait = suiteAckWait
	b, err := Open(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

func TestBusWatermillSuite(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openSuiteBus(t, kind)
		tests.TestPubSub(t, busFeatures(kind), suiteConstructor(b, func() string { return suiteGroup }), groupConstructor(b))
	})
}

// TestBusWatermillNewGroupReceivesOldMessages is the suite's test of a subscriber that gets
// what was published before it, even what others have consumed: true of a new consumer group.
func TestBusWatermillNewGroupReceivesOldMessages(t *testing.T) {
	forEachBus(t, func(t *testing.T, kind busKind) {
		b := openSuiteBus(t, kind)
		features := busFeatures(kind)
		features.NewSubscriberReceivesOldMessages = true
		newGroup := func() string { return "g" + strings.ToLower(watermill.NewULID()) }
		tests.TestNewSubscriberReceivesOldMessages(t, tests.TestContext{TestID: tests.NewTestID(), Features: features},
			suiteConstructor(b, newGroup))
	})
}

// suiteConstructor makes an instance: b's publisher and a new subscriber of group().
func suiteConstructor(b *Bus, group func() string) tests.PubSubConstructor {
	return func(t *testing.T) (message.Publisher, message.Subscriber) {
		sub, err := b.Subscriber(group(), suiteConcurrency)
		require.NoError(t, err)
		return b.Publisher(), sub
	}
}

// groupConstructor makes an instance in a consumer group the suite names: "test_<uuid>",
// "cg_<uuid>".
func groupConstructor(b *Bus) tests.ConsumerGroupPubSubConstructor {
	return func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		sub, err := b.Subscriber(group, suiteConcurrency)
		require.NoError(t, err)
		return b.Publisher(), sub
	}
}
