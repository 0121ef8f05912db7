package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gongdan/connectors"
	"gongdan/connectors/mqtt/alarm"
)

const (
	stateFile   = "alarms.json"
	journalFile = "alarms.journal"
)

// state is what the connector keeps across restarts in its state directory.
type state struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	// Seq is the last journal entry the snapshot includes.
	Seq uint64 `json:"seq"`
	// Engine is the alarm engine's snapshot: every device × rule state.
	Engine json.RawMessage `json:"engine"`
	// Unsent are transitions made but not yet durable on the bus when the connector stopped;
	// they are published first at the next start. Their messages were not acked.
	Unsent []alarm.Transition `json:"unsent,omitempty"`
}

// save writes the state atomically (a new file, synced, renamed over the old one, the
// directory synced). Without a state directory it does nothing.
func (c *Connector) save() error {
	if c.env.StateDir == "" {
		return nil
	}
	snap, err := c.engine.Snapshot()
	if err != nil {
		return fmt.Errorf("mqtt: snapshot: %w", err)
	}
	now := c.env.Now()
	b, err := json.Marshal(state{Version: 1, SavedAt: now, Seq: c.seq, Engine: snap, Unsent: c.unsent})
	if err != nil {
		return fmt.Errorf("mqtt: snapshot: %w", err)
	}
	if err := connectors.WriteFileAtomic(c.env.StateDir, stateFile, b); err != nil {
		return fmt.Errorf("mqtt: save alarm state: %w", err)
	}
	c.lastSnapshot.Store(&now)
	// The snapshot holds everything journaled: start the journal afresh. A crash before this
	// leaves entries the snapshot's Seq tells to skip.
	if c.journal != nil {
		if err := c.journal.Truncate(0); err != nil {
			return fmt.Errorf("mqtt: truncate alarm journal: %w", err)
		}
	}
	return nil
}

// journalEntry is one line of the journal: a device's state after a transition.
type journalEntry struct {
	Seq    uint64          `json:"seq"`
	Device string          `json:"device"`
	State  json.RawMessage `json:"state"`
}

// record journals the state of the devices whose alarm state changed (a rule became pending,
// active, clearing or normal), and syncs it, before their messages are acked: a crash then
// restarts from that state, so no clear is lost because its raise was forgotten, and a
// pending duration is kept. Such changes are rare; telemetry that changes nothing is never
// journaled.
func (c *Connector) record(devices []string) error {
	if c.env.StateDir == "" || len(devices) == 0 {
		return nil
	}
	if c.journal == nil {
		if err := os.MkdirAll(c.env.StateDir, 0o750); err != nil {
			return err
		}
		path := filepath.Join(c.env.StateDir, journalFile)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("mqtt: open alarm journal: %w", err)
		}
		c.journal = f
		// A crash in the middle of a write leaves a line without its end: end it, or the next
		// entry would be glued to it and lost with it.
		c.journalTorn = !endsWithNewline(path)
	}
	var buf []byte
	if c.journalTorn {
		buf = append(buf, '\n') // end a line a failed write may have left half written
	}
	for _, id := range devices {
		st, err := c.engine.DeviceSnapshot(id)
		if err != nil {
			return err
		}
		c.seq++
		line, err := json.Marshal(journalEntry{Seq: c.seq, Device: id, State: st})
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	c.journalTorn = true
	if _, err := c.journal.Write(buf); err != nil {
		return fmt.Errorf("mqtt: write alarm journal: %w", err)
	}
	if err := c.journal.Sync(); err != nil {
		return fmt.Errorf("mqtt: sync alarm journal: %w", err)
	}
	c.journalTorn = false
	return nil
}

// endsWithNewline reports whether the file at path is empty or ends a line.
func endsWithNewline(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return true
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return false
	}
	return last[0] == '\n'
}

// closeJournal closes the journal file; the next Run opens it again.
func (c *Connector) closeJournal() {
	if c.journal != nil {
		_ = c.journal.Close()
		c.journal = nil
	}
}

// replay applies the journal entries after the snapshot's Seq. A line cut short by a crash
// was never synced, so its message was never acked: it is skipped. So is a line the engine
// cannot take (written by another version, or damaged): it is logged, and the rest applies —
// the connector must start whatever its journal holds.
func (c *Connector) replay(from uint64) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.env.StateDir, journalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("mqtt: read alarm journal: %w", err)
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e journalEntry
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.Seq <= from {
			continue
		}
		if err := c.engine.RestoreDevice(e.Device, e.State); err != nil {
			c.env.Logger.Error("mqtt: skipping an alarm journal entry that cannot be restored", "seq", e.Seq, "device", e.Device, "err", err)
			continue
		}
		c.seq = max(c.seq, e.Seq)
		n++
	}
	return n, nil
}

// restore reads the saved state, if there is one. A file that cannot be read is moved aside
// and the connector starts from nothing: an alarm then active is raised again when its
// condition holds, and merges into its open ticket by the thread key.
func (c *Connector) restore() error {
	if c.env.StateDir == "" {
		return nil
	}
	path := filepath.Join(c.env.StateDir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// No snapshot yet, perhaps a journal: a crash before the first snapshot.
		n, err := c.replay(0)
		if n > 0 {
			c.env.Logger.Info("mqtt: alarm state restored from the journal", "journal_entries", n)
		}
		return err
	} else if err != nil {
		return fmt.Errorf("mqtt: read alarm state: %w", err)
	}
	var st state
	err = json.Unmarshal(b, &st)
	if err == nil && st.Version != 1 {
		err = fmt.Errorf("version %d (this gongdan reads 1)", st.Version)
	}
	if err == nil {
		err = c.engine.Restore(st.Engine)
	}
	replayed := 0
	if err == nil {
		c.seq = st.Seq
		if replayed, err = c.replay(st.Seq); err != nil {
			return err // the journal cannot be read at all (I/O): the snapshot is fine
		}
	}
	if err != nil {
		aside := path + ".unreadable-" + c.env.Now().UTC().Format("20060102T150405")
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("mqtt: alarm state %s is unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		c.env.Logger.Error("mqtt: the saved alarm state is unreadable; starting from the journal alone", "file", path, "moved_to", aside, "err", err)
		c.engine.Restore([]byte("{}")) //nolint:errcheck // an empty state always restores
		c.seq = 0
		_, err := c.replay(0)
		return err
	}
	c.unsent = st.Unsent
	c.env.Logger.Info("mqtt: alarm state restored", "devices", c.engine.Devices(), "saved_at", st.SavedAt,
		"journal_entries", replayed, "unsent", len(st.Unsent))
	return nil
}
