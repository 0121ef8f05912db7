package engine

import (
	"sync"

	"gongdan/core/ticket"
)

// Subscription receives every committed event, in commit order. A subscriber that falls
// more than its buffer behind is dropped: C is closed, and it should catch up from the store
// (Store.EventsAfter) and subscribe again, rather than slow the engine down.
type Subscription struct {
	C      <-chan ticket.Event
	c      chan ticket.Event
	engine *Engine
	once   sync.Once
}

// Subscribe starts a subscription with room for buffer events.
func (e *Engine) Subscribe(buffer int) *Subscription {
	s := &Subscription{c: make(chan ticket.Event, max(buffer, 1)), engine: e}
	s.C = s.c
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subs == nil {
		s.close() // engine closed
		return s
	}
	e.subs[s] = struct{}{}
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.engine.mu.Lock()
	defer s.engine.mu.Unlock()
	if s.engine.subs != nil {
		delete(s.engine.subs, s)
	}
	s.close()
}

func (s *Subscription) close() { s.once.Do(func() { close(s.c) }) }

// LastEventID is the ID of the newest event this engine has published since it started; 0
// before the first. A page rendered now that asks the event feed for what came after it
// misses nothing in between.
func (e *Engine) LastEventID() int64 { return e.lastEvent.Load() }

func (e *Engine) publish(ev ticket.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.ID > e.lastEvent.Load() {
		e.lastEvent.Store(ev.ID)
	}
	for s := range e.subs {
		select {
		case s.c <- ev:
		default:
			delete(e.subs, s)
			s.close()
			e.metrics.droppedSubscribers.Inc()
		}
	}
}
