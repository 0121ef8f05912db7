package pipeline_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/pipeline"
	"gongdan/pipeline/bus"
)

// feed is a fake event log with a cursor table.
type feed struct {
	mu      sync.Mutex
	records []pipeline.OutboxRecord
	cursor  map[string]int64
	failSet bool
}

func (f *feed) add(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		p := int64(len(f.records) + 1)
		f.records = append(f.records, pipeline.OutboxRecord{Position: p, Payload: []byte(strconv.FormatInt(p, 10)),
			Metadata: map[string]string{"event_id": strconv.FormatInt(p, 10)}})
	}
}

func (f *feed) read(_ context.Context, after int64, limit int) ([]pipeline.OutboxRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pipeline.OutboxRecord
	for _, r := range f.records {
		if r.Position > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *feed) get(_ context.Context, name string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor[name], nil
}

func (f *feed) set(_ context.Context, name string, pos int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failSet {
		f.failSet = false
		return errors.New("disk full")
	}
	f.cursor[name] = pos
	return nil
}

func TestOutboxPublishesTheFeedInOrderAndResumesFromItsCursor(t *testing.T) {
	bus, err := bus.Open(context.Background(), bus.Config{Driver: "memory"}, nil)
	require.NoError(t, err)
	defer bus.Close()
	sub, err := bus.Subscriber("test", 1)
	require.NoError(t, err)
	msgs, err := sub.Subscribe(context.Background(), pipeline.TopicEvents)
	require.NoError(t, err)

	f := &feed{cursor: map[string]int64{}}
	f.add(1200)
	f.failSet = true // the first cursor save fails: it is tried again, nothing is republished
	wake := make(chan struct{}, 1)
	start := func() (context.CancelFunc, chan struct{}) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		o := pipeline.NewOutbox(pipeline.OutboxOptions{Bus: bus, Topic: pipeline.TopicEvents, Name: "events",
			Read: f.read, Cursor: f.get, SetCursor: f.set, Wake: wake, Batch: 500, CursorEvery: time.Hour})
		go func() { defer close(done); o.Run(ctx) }()
		return cancel, done
	}
	cancel, done := start()
	// The memory bus does not keep order (JetStream does); what the outbox promises is every
	// record at least once.
	count := map[int64]int{}
	for range 1200 {
		m := <-msgs
		m.Ack()
		p, _ := strconv.ParseInt(m.Metadata.Get("event_id"), 10, 64)
		count[p]++
	}
	assert.Len(t, count, 1200)
	f.mu.Lock()
	// The save after batch 1 failed, the one after batch 2 (before batch 3 was published)
	// made up for it, and the next is an hour away.
	assert.Equal(t, int64(1000), f.cursor["events"])
	f.mu.Unlock()
	cancel()
	<-done
	for p := int64(1); p <= 1200; p++ {
		assert.Equal(t, 1, count[p], "record %d", p)
	}
	f.mu.Lock()
	assert.Equal(t, int64(1200), f.cursor["events"], "saved when the outbox stops")
	f.mu.Unlock()

	// A restart resumes after the cursor: only the new records come.
	f.add(3)
	cancel, done = start()
	defer func() { cancel(); <-done }()
	resumed := map[string]bool{}
	for range 3 {
		m := <-msgs
		m.Ack()
		resumed[m.Metadata.Get("event_id")] = true
	}
	assert.Equal(t, map[string]bool{"1201": true, "1202": true, "1203": true}, resumed)
}
