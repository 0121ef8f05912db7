package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the file in --data that one gongdan serve holds locked while it runs.
const lockFileName = "gongdan.lock"

// dataLock is the lock of a data directory: two servers on one SQLite file and one JetStream
// store would each believe they own the timers, the cursors and the bus.
type dataLock struct{ f *os.File }

// lockDataDir takes dir for this process, or says which process has it. The lock is an
// advisory flock on dir/gongdan.lock: the kernel drops it when the process dies, even by
// kill -9, so a crash never leaves a stale lock behind. The file holds the pid, for the
// message a second server gives.
func lockDataDir(dir string) (*dataLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
					holder = fmt.Sprintf("another gongdan (pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("--data %s is in use by %s; stop it first, or give this server a data directory of its own", absPath(dir), holder)
		}
		return nil, fmt.Errorf("--data %s: locking %s: %w", dir, lockFileName, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataLock{f: f}, nil
}

// release lets another server have the directory.
func (l *dataLock) release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
