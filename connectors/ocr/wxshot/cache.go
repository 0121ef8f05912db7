package wxshot

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// source is the generator's own code: a change to it draws the pictures anew.
//
//go:embed *.go style.css.tmpl
var source embed.FS

// cacheKey names specs as drawn by this version of the package (and Go's, whose math/rand
// streams and encoders it uses).
func cacheKey(specs []Spec) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(source, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := source.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("wxshot: hashing the generator: %w", err)
	}
	fmt.Fprintln(h, runtime.Version())
	if err := json.NewEncoder(h).Encode(specs); err != nil {
		return "", fmt.Errorf("wxshot: hashing the specs: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// CacheDir is where the pictures of specs are kept between test runs, shared by every test
// that draws the same specs: gongdan-wxshot/<hash of this package's source and the specs>
// under the user's cache directory.
func CacheDir(specs []Spec) (string, error) {
	key, err := cacheKey(specs)
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "gongdan-wxshot", key), nil
}

// Default returns the default corpus (DefaultSeed, DefaultSize), drawn once and then read
// from CacheDir.
func Default(ctx context.Context) ([]Shot, error) {
	return Cached(ctx, Corpus(DefaultSeed, DefaultSize))
}

// Cached renders specs into their CacheDir, or reads them from it when they were drawn before.
func Cached(ctx context.Context, specs []Spec) ([]Shot, error) {
	dir, err := CacheDir(specs)
	if err != nil {
		return nil, err
	}
	shots, err := Render(ctx, specs, dir)
	if err == nil {
		pruneCache(filepath.Dir(dir), time.Now().Add(-staleAfter))
	}
	return shots, err
}

// staleAfter is how long a cached corpus no test has used is kept: old versions of the
// generator leave their pictures behind (some 70 MB a corpus).
const staleAfter = 14 * 24 * time.Hour

// pruneCache removes the corpora under base last drawn or used before cutoff. It is best
// effort: a corpus it cannot remove is drawn anew or read as before.
func pruneCache(base string, cutoff time.Time) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		ix, err := os.Stat(filepath.Join(base, e.Name(), "index.json"))
		if e.IsDir() && err == nil && ix.ModTime().Before(cutoff) {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// index is dir/index.json: the key of the specs drawn there and their shots.
type index struct {
	Key   string
	Shots []Shot
}

// readIndex returns the shots of dir when it holds the specs of key, every picture present.
func readIndex(dir, key string) ([]Shot, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, false
	}
	var ix index
	if json.Unmarshal(b, &ix) != nil || ix.Key != key {
		return nil, false
	}
	now := time.Now()
	os.Chtimes(filepath.Join(dir, "index.json"), now, now) // used: not stale (see pruneCache)
	for i := range ix.Shots {
		ix.Shots[i].Path = filepath.Join(dir, ix.Shots[i].Path)
		if _, err := os.Stat(ix.Shots[i].Path); err != nil {
			return nil, false
		}
	}
	return ix.Shots, true
}

func writeIndex(dir, key string, shots []Shot) error {
	rel := make([]Shot, len(shots))
	for i, s := range shots {
		rel[i] = relative(s)
	}
	return writeJSON(filepath.Join(dir, "index.json"), index{Key: key, Shots: rel})
}

// relative is s with its path relative to its folder, as the JSON files keep it.
func relative(s Shot) Shot {
	s.Path = filepath.Base(s.Path)
	return s
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("wxshot: %w", err)
	}
	return writeAtomic(path, b)
}

// writeAtomic writes path through a temporary file and a rename, so that two test processes
// drawing the same corpus at once never read a half-written file.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("wxshot: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("wxshot: %w", err)
	}
	return nil
}
