package notify

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// memoryLedger keeps the last maxRemembered deliveries in memory: against redeliveries
// within a process, not across a restart. It is the default when no Ledger is given.
type memoryLedger struct {
	mu      sync.Mutex
	entries map[string]LedgerEntry
	seq     []string
}

func newMemoryLedger() *memoryLedger { return &memoryLedger{entries: map[string]LedgerEntry{}} }

func (l *memoryLedger) Get(_ context.Context, key string) (LedgerEntry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	return e, ok, nil
}

func (l *memoryLedger) Put(_ context.Context, key string, e LedgerEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.put(key, e)
	return nil
}

func (l *memoryLedger) put(key string, e LedgerEntry) {
	if _, ok := l.entries[key]; !ok {
		l.seq = append(l.seq, key)
	}
	l.entries[key] = e
	if len(l.seq) > maxRemembered {
		for _, old := range l.seq[:len(l.seq)/2] {
			delete(l.entries, old)
		}
		l.seq = append(l.seq[:0], l.seq[len(l.seq)/2:]...)
	}
}

// FileLedger is a Ledger in a file of JSON lines, one per Put, each synced to disk before
// Put returns: what one gongdan process sent survives its restart. Opening it reads the file
// and writes it again without the entries older than the retention.
//
// It is one process's: gongdan processes sharing a bus (scale-out) each keep their own, so an
// event redelivered to another process is not guarded by it.
type FileLedger struct {
	mu        sync.Mutex
	entries   map[string]LedgerEntry
	f         *os.File
	path      string
	retention time.Duration
}

// DefaultLedgerRetention is how long a FileLedger remembers a delivery: longer than any
// redelivery or retry, and than a dead letter usually waits for its replay.
const DefaultLedgerRetention = 30 * 24 * time.Hour

// ledgerLine is one line of a FileLedger.
type ledgerLine struct {
	Key   string      `json:"key"`
	Entry LedgerEntry `json:"entry"`
}

// OpenFileLedger opens (or creates) the ledger at path, forgetting deliveries older than
// retention (0: DefaultLedgerRetention) as of now.
func OpenFileLedger(path string, retention time.Duration, now time.Time) (*FileLedger, error) {
	if retention <= 0 {
		retention = DefaultLedgerRetention
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("notify ledger: %w", err)
	}
	l := &FileLedger{entries: map[string]LedgerEntry{}, path: path, retention: retention}
	var lines []ledgerLine
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ln ledgerLine
			if json.Unmarshal(sc.Bytes(), &ln) != nil || ln.Key == "" {
				continue // a line torn by a crash mid-write: that delivery was not acked either
			}
			if now.Sub(ln.Entry.Delivery.At) > retention {
				continue
			}
			if _, seen := l.entries[ln.Key]; !seen {
				lines = append(lines, ln)
			}
			l.entries[ln.Key] = ln.Entry
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("notify ledger %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("notify ledger: %w", err)
	}
	// Written again, compacted, through a temporary file renamed over the old one.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("notify ledger: %w", err)
	}
	w := bufio.NewWriter(f)
	var werr error
	for _, ln := range lines {
		ln.Entry = l.entries[ln.Key]
		werr = cmp.Or(werr, writeLine(w, ln))
	}
	if err := errors.Join(werr, w.Flush(), f.Sync(), f.Close(), os.Rename(tmp, path)); err != nil {
		return nil, fmt.Errorf("notify ledger: %w", err)
	}
	if l.f, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o640); err != nil {
		return nil, fmt.Errorf("notify ledger: %w", err)
	}
	return l, nil
}

func writeLine(w io.Writer, ln ledgerLine) error {
	b, err := json.Marshal(ln)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Get returns the entry kept for key.
func (l *FileLedger) Get(_ context.Context, key string) (LedgerEntry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	return e, ok, nil
}

// Put appends the entry and syncs the file.
func (l *FileLedger) Put(_ context.Context, key string, e LedgerEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("notify ledger: closed")
	}
	if err := writeLine(l.f, ledgerLine{Key: key, Entry: e}); err != nil {
		return fmt.Errorf("notify ledger %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("notify ledger %s: %w", l.path, err)
	}
	l.entries[key] = e
	return nil
}

// Close closes the file.
func (l *FileLedger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Interface guards.
var (
	_ Ledger = (*memoryLedger)(nil)
	_ Ledger = (*FileLedger)(nil)
)
