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

// dataLock is a lock on what one server owns: two servers on one SQLite file and one
// JetStream store would each believe they own the timers, the cursors and the bus.
type dataLock struct{ f *os.File }

// lockDataDir takes dir for this process, or says which process has it.
func lockDataDir(dir string) (*dataLock, error) {
	return lockFile(filepath.Join(dir, lockFileName), "--data "+absPath(dir))
}

// lockStorage takes what the config points at outside --data as well: the store's file and
// the bus's directory, each by a lock file beside it (<path>.lock), so that two servers with
// different --data but one absolute store.path or bus.dir are refused too.
func lockStorage(paths map[string]string) ([]*dataLock, error) {
	var locks []*dataLock
	for what, path := range paths {
		if path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			releaseAll(locks)
			return nil, fmt.Errorf("%s %s: %w", what, path, err)
		}
		l, err := lockFile(path+".lock", what+" "+absPath(path))
		if err != nil {
			releaseAll(locks)
			return nil, err
		}
		locks = append(locks, l)
	}
	return locks, nil
}

// lockFile takes an advisory flock on path, or says which process has it (what names the
// thing locked, for the message). The kernel drops the lock when the process dies, even by
// kill -9, so a crash never leaves a stale lock behind. The file holds the pid, for the
// message a second server gives.
func lockFile(path, what string) (*dataLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
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
			return nil, fmt.Errorf("%s is in use by %s; stop it first, or give this server a data directory of its own", what, holder)
		}
		return nil, fmt.Errorf("%s: locking %s: %w", what, filepath.Base(path), err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataLock{f: f}, nil
}

// release lets another server have it.
func (l *dataLock) release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

func releaseAll(locks []*dataLock) {
	for _, l := range locks {
		l.release()
	}
}
