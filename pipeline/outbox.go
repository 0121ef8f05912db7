package pipeline

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"gongdan/pipeline/bus"
)

// OutboxRecord is one item of a feed to put on the bus: a committed ticket event.
type OutboxRecord struct {
	// Position orders the feed; the outbox's cursor is the last position published.
	Position int64
	Payload  []byte
	Metadata map[string]string
}

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	Bus   *bus.Bus
	Topic string
	// Name names the cursor.
	Name string
	// Read returns up to limit records after position after, in order.
	Read func(ctx context.Context, after int64, limit int) ([]OutboxRecord, error)
	// Cursor and SetCursor keep the position durably.
	Cursor    func(ctx context.Context, name string) (int64, error)
	SetCursor func(ctx context.Context, name string, pos int64) error
	// Wake signals that there may be new records; the outbox also polls every Poll (1s).
	Wake <-chan struct{}
	Poll time.Duration
	// Batch is how many records are read at once (500).
	Batch int
	// CursorEvery is how often at most the cursor is saved (default 1s), and once more when
	// Run ends. Each save is a write to the store, and the store's writer is the one that
	// commits tickets: saving after every batch cost a commit (and an fsync) per ticket at
	// moderate load. After a crash, what was published since the last save is published
	// again under the same message ids, which the bus drops as duplicates (its window is
	// minutes, this is a second).
	CursorEvery time.Duration
	Logger      *slog.Logger
}

// Outbox publishes a durable feed (the store's events) to a bus topic, at least once and in
// order: it publishes a batch, then moves its cursor, which it saves every CursorEvery. A
// crash republishes what came after the saved cursor under the same message ids, which the
// bus drops as duplicates within its window; consumers keep the event id (metadata
// event_id) to drop any later ones.
type Outbox struct {
	opts OutboxOptions
	pub  message.Publisher

	saved   int64     // the position last saved
	savedAt time.Time // when; zero: save at the next chance
}

// NewOutbox returns an outbox; Run starts it.
func NewOutbox(opts OutboxOptions) *Outbox {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.CursorEvery <= 0 {
		opts.CursorEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{opts: opts, pub: opts.Bus.Publisher()}
}

// Run publishes until ctx is done, then saves its cursor.
func (o *Outbox) Run(ctx context.Context) error {
	pos, err := o.opts.Cursor(ctx, o.opts.Name)
	if err != nil {
		return fmt.Errorf("outbox %s: reading its cursor: %w", o.opts.Name, err)
	}
	o.saved = pos
	defer func() {
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		o.savedAt = time.Time{}
		o.save(saveCtx, pos)
	}()
	t := time.NewTicker(o.opts.Poll)
	defer t.Stop()
	for {
		next, err := o.drain(ctx, pos)
		if err != nil && ctx.Err() == nil {
			o.opts.Logger.Warn("outbox: publishing failed; trying again", "outbox", o.opts.Name, "err", err)
		}
		pos = next
		o.save(ctx, pos)
		select {
		case <-ctx.Done():
			return nil
		case <-o.opts.Wake:
		case <-t.C:
		}
	}
}

// drain publishes everything after pos and returns the new position.
func (o *Outbox) drain(ctx context.Context, pos int64) (int64, error) {
	for {
		recs, err := o.opts.Read(ctx, pos, o.opts.Batch)
		if err != nil || len(recs) == 0 {
			return pos, err
		}
		msgs := make([]*message.Message, len(recs))
		for i, r := range recs {
			sum := sha256.Sum256([]byte(o.opts.Name + "/" + strconv.FormatInt(r.Position, 10)))
			id, _ := uuid.FromBytes(sum[:16])
			m := message.NewMessage(id.String(), r.Payload)
			for k, v := range r.Metadata {
				m.Metadata.Set(k, v)
			}
			msgs[i] = m
		}
		if err := o.pub.Publish(o.opts.Topic, msgs...); err != nil {
			return pos, err
		}
		pos = recs[len(recs)-1].Position
		o.save(ctx, pos)
	}
}

// save saves pos as the cursor if it moved and the last save is CursorEvery ago. A failed
// save is logged and tried again at the next chance; publishing goes on meanwhile.
func (o *Outbox) save(ctx context.Context, pos int64) {
	if pos <= o.saved || time.Since(o.savedAt) < o.opts.CursorEvery {
		return
	}
	if err := o.opts.SetCursor(ctx, o.opts.Name, pos); err != nil {
		if ctx.Err() == nil {
			o.opts.Logger.Warn("outbox: saving the cursor failed; trying again", "outbox", o.opts.Name, "position", pos, "err", err)
		}
		return
	}
	o.saved, o.savedAt = pos, time.Now()
}
