// Package diskprobe tells whether a directory can really be written: readiness checks of the
// store and the bus ask it, because on a full disk a database still answers reads (and even
// commits small writes into space it had) while anything new fails.
//
// It never names the paths it probed in the errors it describes: those answers go to whoever
// asks /readyz.
package diskprobe

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// Write writes size bytes to path and syncs them, then removes the file. It fails when the
// disk is full, read-only, or the directory is gone.
func Write(path string, size int) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, f.Close(), os.Remove(path))
	}()
	if _, err := f.Write(make([]byte, size)); err != nil {
		return err
	}
	return f.Sync()
}

// Reason is the operating system's word for err ("no space left on device"), without the path
// that os errors carry; for other errors, the last part of "what: where: why".
func Reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return LastPart(err.Error())
}

// LastPart is the end of an error text built as "what: where: why", the why: the part of
// nats-server's and the OS's messages that carries no path.
func LastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
