package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"gongdan/internal/diskprobe"
)

// Write probes (see WriteProbe).
const (
	// probeKeep is how long a probe's answer is given again without probing.
	probeKeep = time.Second
	// probeFileSize is how much the probe writes beside the database. SQLite may still
	// commit a small write on a full disk, into WAL space it has from before (the WAL is
	// written again from its start after a checkpoint), while the next ticket, pages more,
	// fails; room for this much means room for a few writes.
	probeFileSize = 64 << 10
	// probeFileSuffix names the probe file: the database's name and this. It is removed
	// after each probe.
	probeFileSuffix = ".probe"
)

// WriteProbe tells whether the store can write now, for /readyz. A check writes
// probeFileSize bytes beside the database (and syncs them) and commits an upsert of one row
// in the table readiness_probe (made on first use), so it fails when the disk is full or
// read-only, or SQLite cannot commit, even if a Ping still answers. Its error names what
// failed without paths (it is shown to anyone who asks /readyz).
//
// The answer is kept for a second, so that /readyz under load does not write at every
// request; one check runs at a time. Use NewWriteProbe.
type WriteProbe struct {
	store *Store

	mu   sync.Mutex // one check at a time; guards the fields below
	file string     // the probe file, found on first use
	at   time.Time  // when err was found
	err  error
}

// NewWriteProbe returns a probe of s.
func NewWriteProbe(s *Store) *WriteProbe { return &WriteProbe{store: s} }

// Check reports whether the store could write just now (within the last second).
func (p *WriteProbe) Check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < probeKeep {
		return p.err
	}
	err := p.check(ctx)
	if ctx.Err() == nil {
		// An answer cut short by the caller's deadline says nothing about the store.
		p.at, p.err = time.Now(), err
	}
	return err
}

func (p *WriteProbe) check(ctx context.Context) error {
	if p.file == "" {
		// The main database's file, as SQLite opened it.
		var seq int
		var name, file string
		if err := p.store.r.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
			return fmt.Errorf("store: does not answer (%v)", err)
		}
		if file == "" {
			return errors.New("store: has no database file to probe")
		}
		p.file = file + probeFileSuffix
	}
	if err := diskprobe.Write(p.file, probeFileSize); err != nil {
		hint := "make its directory writable for gongdan"
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			hint = "free space on its disk"
		}
		return fmt.Errorf("store: cannot write beside the database (%s); %s", diskprobe.Reason(err), hint)
	}
	if err := p.upsert(ctx); err != nil {
		return fmt.Errorf("store: cannot commit a write (%s)", strings.TrimSpace(err.Error()))
	}
	return nil
}

// upsert commits one row, through the writer that every Write goes through.
func (p *WriteProbe) upsert(ctx context.Context) error {
	tx, err := p.store.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit a no-op
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS readiness_probe (
		id INTEGER PRIMARY KEY CHECK (id = 1), written_at TEXT NOT NULL)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO readiness_probe (id, written_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at`, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}
