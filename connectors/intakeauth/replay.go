package intakeauth

import (
	"sync"
	"time"
)

// Replays remembers the signed requests taken within a window, to refuse the same one again:
// a signature that covers a timestamp is valid for the whole skew window, so without this
// memory a captured request could be sent again and again within it. Each entry keeps a value
// (a hash of what was signed) for callers that tell a retry of the same message from another
// message under a used signature (WeChat's plain mode). Safe for concurrent use.
//
// It forgets from the oldest: a request's cost stays the same however many are remembered. It
// is bounded: once max entries are within the window, Claim answers Full rather than growing or
// forgetting one that could then be replayed.
type Replays struct {
	window time.Duration
	max    int

	mu      sync.Mutex
	entries map[string]remembered
	order   []orderEntry // oldest first; an entry forgotten and claimed again appears twice
}

type remembered struct {
	value [32]byte
	at    time.Time
}

type orderEntry struct {
	key string
	at  time.Time
}

// NewReplays remembers each key for window, at most max keys at once.
func NewReplays(window time.Duration, max int) *Replays {
	return &Replays{window: window, max: max, entries: map[string]remembered{}}
}

// ClaimResult is what Claim did.
type ClaimResult int

const (
	// Claimed: the key is new, and now remembered.
	Claimed ClaimResult = iota
	// Replayed: the key was remembered already, within the window.
	Replayed
	// Full: the key is new, but max keys are remembered within the window already.
	Full
)

// Seen reports whether key is remembered within the window at now, with its value.
func (m *Replays) Seen(key string, now time.Time) ([32]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || now.Sub(e.at) > m.window {
		return [32]byte{}, false
	}
	return e.value, true
}

// Claim remembers key with value at now, unless it is remembered already: checking and
// remembering at once, so that two copies of a request arriving together are not both taken.
func (m *Replays) Claim(key string, value [32]byte, now time.Time) ClaimResult {
	res, _ := m.ClaimValue(key, value, now)
	return res
}

// ClaimValue is Claim that also says, when key was remembered already (Replayed), the value it
// was claimed with: whether this is the same request again or another one under its key.
func (m *Replays) ClaimValue(key string, value [32]byte, now time.Time) (ClaimResult, [32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetOld(now)
	if e, ok := m.entries[key]; ok && now.Sub(e.at) <= m.window {
		return Replayed, e.value
	}
	if len(m.entries) >= m.max {
		return Full, [32]byte{}
	}
	m.entries[key] = remembered{value: value, at: now}
	m.order = append(m.order, orderEntry{key: key, at: now})
	return Claimed, [32]byte{}
}

// Forget drops key: its request was not taken after all.
func (m *Replays) Forget(key string) {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
}

// Len is how many keys are remembered (some may be out of the window, not yet forgotten).
func (m *Replays) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// forgetOld drops the entries out of the window, from the oldest.
func (m *Replays) forgetOld(now time.Time) {
	n := 0
	for _, o := range m.order {
		if now.Sub(o.at) <= m.window {
			break
		}
		// Only the entry this record was made for: a key forgotten and claimed again since
		// has a newer record of its own.
		if e, ok := m.entries[o.key]; ok && e.at.Equal(o.at) {
			delete(m.entries, o.key)
		}
		n++
	}
	// Slicing, not copying: append moves the rest to a new array when it grows, and the
	// forgotten front goes with the old one.
	m.order = m.order[n:]
}
