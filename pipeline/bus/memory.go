package bus

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// memoryBus is the bus driver "memory": watermill's GoChannel inside this process, for unit
// tests only. Nothing survives Close or a crash, every message is kept in memory until
// Close, it does not deduplicate messages published twice, and it does not keep their order
// (GoChannel hands each message to a group from a goroutine of its own, even at concurrency
// one). It keeps the bus's contract otherwise, so tests of the pipeline see what production
// sees: consumer groups share a topic's messages (each message to one member of each group),
// a group subscribing late gets the messages published before, a nacked message comes again,
// and a subscriber closed with messages unacked hands them back to the group.
//
// GoChannel delivers every message to every subscription, so a group holds one GoChannel
// subscription per topic, for the life of the bus, and its members compete for what comes
// out of it: each member has concurrency goroutines that take a message, hand it on and
// wait for its ack or nack before taking another.
type memoryBus struct {
	logger  *slog.Logger
	channel *gochannel.GoChannel
	ctx     context.Context // the groups' GoChannel subscriptions; cancelled by close
	cancel  context.CancelFunc

	mu     sync.Mutex
	closed bool
	groups map[memoryGroupKey]<-chan *message.Message
	subs   map[*memorySubscriber]struct{}
}

type memoryGroupKey struct{ topic, group string }

func newMemoryBus(logger *slog.Logger) *memoryBus {
	ctx, cancel := context.WithCancel(context.Background())
	return &memoryBus{
		logger: logger,
		channel: gochannel.NewGoChannel(gochannel.Config{
			// A group subscribing late gets what was published before, as a durable
			// consumer would.
			Persistent: true,
			// Unbuffered: a message waits in GoChannel until a member takes it.
			OutputChannelBuffer: 0,
		}, watermillLogger(logger)),
		ctx:    ctx,
		cancel: cancel,
		groups: make(map[memoryGroupKey]<-chan *message.Message),
		subs:   make(map[*memorySubscriber]struct{}),
	}
}

func (b *memoryBus) publisher() message.Publisher { return memoryPublisher{b} }

func (b *memoryBus) subscriber(group string, concurrency int) (message.Subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &memorySubscriber{bus: b, group: group, concurrency: concurrency, closing: make(chan struct{})}
	b.subs[s] = struct{}{}
	return s, nil
}

// groupChannel is what group receives of topic, shared by its members.
func (b *memoryBus) groupChannel(topic, group string) (<-chan *message.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	key := memoryGroupKey{topic, group}
	if ch, ok := b.groups[key]; ok {
		return ch, nil
	}
	ch, err := b.channel.Subscribe(b.ctx, topic)
	if err != nil {
		return nil, err
	}
	b.groups[key] = ch
	return ch, nil
}

func (b *memoryBus) healthy(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

func (b *memoryBus) close() error {
	b.mu.Lock()
	b.closed = true
	subs := make([]*memorySubscriber, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	err := b.channel.Close()
	b.cancel()
	return err
}

type memoryPublisher struct{ b *memoryBus }

// Publish hands the messages (copies) to GoChannel, which keeps them for the groups.
func (p memoryPublisher) Publish(topic string, messages ...*message.Message) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := p.b.channel.Publish(topic, messages...); err != nil {
		if p.b.healthy(context.Background()) != nil {
			return ErrClosed
		}
		return err
	}
	return nil
}

// Close does nothing: the Bus owns GoChannel.
func (memoryPublisher) Close() error { return nil }

// memorySubscriber is one member of a group.
type memorySubscriber struct {
	bus         *memoryBus
	group       string
	concurrency int

	closing   chan struct{}
	closeOnce sync.Once
	running   sync.WaitGroup
}

func (s *memorySubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	select {
	case <-s.closing:
		return nil, ErrClosed
	default:
	}
	in, err := s.bus.groupChannel(topic, s.group)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	var takers sync.WaitGroup
	for range s.concurrency {
		takers.Add(1)
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			defer takers.Done()
			s.take(ctx, in, out)
		}()
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		takers.Wait()
		close(out)
	}()
	return out, nil
}

// take hands messages from the group's channel to out, one at a time: the next only once
// the last is acked or nacked. A nacked message goes back to GoChannel, which offers it to
// the group again; so does one still unacked closeGrace after the member stops.
func (s *memorySubscriber) take(ctx context.Context, in <-chan *message.Message, out chan<- *message.Message) {
	for {
		var msg *message.Message
		select {
		case m, ok := <-in:
			if !ok {
				return
			}
			msg = m
		case <-s.closing:
			return
		case <-ctx.Done():
			return
		}
		// The message's context ends once it is settled here, as it does on NATS: GoChannel
		// ends it only once a copy is acked, and gives a nacked one to the next taker alive.
		msgCtx, cancel := context.WithCancel(msg.Context())
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-s.closing:
			msg.Nack()
			cancel()
			return
		case <-ctx.Done():
			msg.Nack()
			cancel()
			return
		}
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
		case <-s.closing:
			settle(msg)
			cancel()
			return
		case <-ctx.Done():
			settle(msg)
			cancel()
			return
		}
		cancel()
	}
}

// settle waits up to closeGrace for msg, handed out, to be acked or nacked, as the NATS
// bus does on Close, then gives it back to the group.
func settle(msg *message.Message) {
	waitSettled(map[*message.Message]struct{}{msg: {}}, closeGrace)
	msg.Nack() // no effect if it was acked
}

// Close stops the member and closes its output channels once its goroutines are done:
// after the messages it handed out are acked or nacked, or closeGrace is over.
func (s *memorySubscriber) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.running.Wait()
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
	})
	return nil
}

var (
	_ message.Publisher  = memoryPublisher{}
	_ message.Subscriber = (*memorySubscriber)(nil)
	_ busBackend         = (*memoryBus)(nil)
)
