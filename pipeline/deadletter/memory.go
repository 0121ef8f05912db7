package deadletter

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Memory is a Store in memory, for tests and the memory bus. Nothing survives the process.
type Memory struct {
	mu    sync.Mutex
	seq   int
	byID  map[string]*DeadLetter
	byKey map[string]string
	seqs  map[string]int // by id: the order records were created in, for ties in the list
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{byID: map[string]*DeadLetter{}, byKey: map[string]string{}, seqs: map[string]int{}}
}

func clone(dl DeadLetter) DeadLetter {
	dl.Metadata = maps.Clone(dl.Metadata)
	dl.Payload = slices.Clone(dl.Payload)
	if dl.ReplayedAt != nil {
		t := *dl.ReplayedAt
		dl.ReplayedAt = &t
	}
	return dl
}

// PutDeadLetter implements Store.
func (m *Memory) PutDeadLetter(_ context.Context, dl DeadLetter) (DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.byKey[dl.Key]; ok {
		cur := m.byID[id]
		cur.Attempts += dl.Attempts
		// Round(0) drops a monotonic clock reading: the list compares wall clocks, as the
		// cursor can only carry those.
		cur.Error, cur.LastFailedAt, cur.MessageID = dl.Error, dl.LastFailedAt.Round(0), dl.MessageID
		cur.Metadata, cur.Payload, cur.State = maps.Clone(dl.Metadata), slices.Clone(dl.Payload), StateDead
		return clone(*cur), nil
	}
	m.seq++
	dl.ID = fmt.Sprintf("DL-%06d", m.seq)
	dl.State = StateDead
	dl.LastFailedAt = dl.LastFailedAt.Round(0)
	dl = clone(dl)
	m.byID[dl.ID], m.byKey[dl.Key], m.seqs[dl.ID] = &dl, dl.ID, m.seq
	return clone(dl), nil
}

// DeadLetter implements Store.
func (m *Memory) DeadLetter(_ context.Context, id string) (DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dl, ok := m.byID[id]
	if !ok {
		return DeadLetter{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return clone(*dl), nil
}

// DeadLetters implements Store: newest last failure first, ties newest record first. The
// cursor is the last failure and creation order of the last record returned, so records
// added between pages neither repeat nor push others out.
func (m *Memory) DeadLetters(_ context.Context, q Query) (Page, error) {
	var after *memoryCursor
	if q.Cursor != "" {
		c, err := decodeMemoryCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	type entry struct {
		dl  *DeadLetter
		seq int
	}
	// newer orders the list: a before b when a failed last more recently, or at the same
	// time and was created later.
	newer := func(a, b memoryCursor) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	}
	all := make([]entry, 0, len(m.byID))
	for id, dl := range m.byID {
		e := entry{dl, m.seqs[id]}
		if (q.Connector == "" || dl.Connector == q.Connector) && (q.State == "" || dl.State == q.State) &&
			(after == nil || newer(*after, memoryCursor{dl.LastFailedAt, e.seq}) < 0) {
			all = append(all, e)
		}
	}
	slices.SortFunc(all, func(a, b entry) int {
		return newer(memoryCursor{a.dl.LastFailedAt, a.seq}, memoryCursor{b.dl.LastFailedAt, b.seq})
	})
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	end := min(limit, len(all))
	p := Page{DeadLetters: make([]DeadLetter, 0, end)}
	for _, e := range all[:end] {
		p.DeadLetters = append(p.DeadLetters, clone(*e.dl))
	}
	if end < len(all) {
		last := all[end-1]
		p.NextCursor = memoryCursor{last.dl.LastFailedAt, last.seq}.encode()
	}
	return p, nil
}

// memoryCursor is where a page ended: the last record's last failure and creation order.
type memoryCursor struct {
	at  time.Time
	seq int
}

func (c memoryCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.at.UTC().Format(time.RFC3339Nano) + "|" + strconv.Itoa(c.seq)))
}

func decodeMemoryCursor(s string) (memoryCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if at, seq, ok := strings.Cut(string(b), "|"); ok {
			t, terr := time.Parse(time.RFC3339Nano, at)
			n, nerr := strconv.Atoi(seq)
			if terr == nil && nerr == nil && n > 0 {
				return memoryCursor{t, n}, nil
			}
		}
	}
	return memoryCursor{}, fmt.Errorf("%w %q: pass next_cursor from the previous page unchanged", ErrBadCursor, s)
}

// MarkReplayed implements Store.
func (m *Memory) MarkReplayed(_ context.Context, id string, at time.Time) (DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dl, ok := m.byID[id]
	if !ok {
		return DeadLetter{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	dl.State, dl.Replays = StateReplayed, dl.Replays+1
	dl.ReplayedAt = &at
	return clone(*dl), nil
}

var _ Store = (*Memory)(nil)
