// Package attachments keeps the files that come with requests (a customer's photo of the
// fault, a voice message) under the data directory, addressed by their SHA-256: the same file
// twice is kept once, and a ticket's attachment "attachment:<sha256>" names it exactly.
package attachments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
)

// Store is a directory of files by SHA-256.
type Store struct{ dir string }

// New keeps files under dir, which it creates when the first file comes.
func New(dir string) *Store { return &Store{dir: dir} }

// ErrTooLarge: the file is over the limit Put was given.
var ErrTooLarge = errors.New("attachment too large")

// ErrNotFound: no file has that SHA-256.
var ErrNotFound = errors.New("no such attachment")

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// URI is how a draft names a kept file.
func URI(sha string) string { return "attachment:" + sha }

// Put keeps what r holds, at most max bytes, and returns its SHA-256 (hex). The file is synced
// before Put returns: a draft that names it is published only after.
func (s *Store) Put(r io.Reader, max int64) (string, int64, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp(s.dir, ".incoming-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name()) // gone once renamed; removes a partial file otherwise
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	sha := hex.EncodeToString(h.Sum(nil))
	path := s.path(sha)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", 0, err
	}
	// The rename, durable: a draft naming the file is published only after Put returns.
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", 0, err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	return sha, n, nil
}

// photoTypes are the pictures people send as photos, by sniffed content type.
var photoTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// IsPhoto reports whether head, a file's first bytes (512 are enough), is a photo: JPEG, PNG,
// GIF or WebP by its content, whatever the file is called or the browser said it was.
func IsPhoto(head []byte) bool { return photoTypes[http.DetectContentType(head)] }

// Open opens the file of sha.
func (s *Store) Open(sha string) (*os.File, error) {
	if !hexSHA.MatchString(sha) {
		return nil, ErrNotFound
	}
	f, err := os.Open(s.path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

func (s *Store) path(sha string) string { return filepath.Join(s.dir, sha[:2], sha) }
