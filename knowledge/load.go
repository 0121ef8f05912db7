package knowledge

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gongdan/internal/yamlkit"
)

// Bounds of a knowledge folder, so that a folder pointed at the wrong place (a home directory,
// a mounted share) fails at once with a clear message instead of being read for minutes and
// held in memory.
const (
	// MaxArticles is how many articles a knowledge base may hold.
	MaxArticles = 2000
	// MaxArticleBytes is how large one article file may be.
	MaxArticleBytes = 64 << 10
	// maxEntries bounds the files and folders looked at, articles or not.
	maxEntries = 10 * MaxArticles
)

// Ext is the file extension of articles; other files in the folder are left alone.
const Ext = ".md"

// Load reads every article (*.md) in folder dir and its subfolders, in name order, skipping
// files and folders whose names start with a dot. It is strict: an article whose front matter
// does not parse, has an unknown key, an invalid firmware range or an id another article has
// already, is a problem, and all of them are returned together as yamlkit.Errors, each at its
// file:line. A folder that cannot be read, or that holds more than MaxArticles articles, is a
// plain error.
func Load(dir string, opts Options) (*Base, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the knowledge folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is a file; knowledge: names a folder of Markdown articles (*.md)", dir)
	}
	var files []string
	entries := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if entries++; entries > maxEntries {
			return fmt.Errorf("more than %d files and folders under %s; point knowledge: at the folder of articles alone", maxEntries, dir)
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), Ext) {
			return nil
		}
		if len(files) == MaxArticles {
			return fmt.Errorf("more than %d articles (*%s) under %s; that is more than gongdan keeps in memory to match every ticket against", MaxArticles, Ext, dir)
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, err
	}

	var errs yamlkit.Errors
	var articles []Article
	first := map[string]Article{}
	for _, file := range files {
		data, err := readBounded(file)
		if err != nil {
			errs = append(errs, &yamlkit.Error{File: file, Msg: err.Error()})
			continue
		}
		a, problems := ParseArticle(file, data, opts)
		if len(problems) > 0 {
			problems.SortByLine()
			errs = append(errs, problems...)
			continue
		}
		if prev, dup := first[a.ID]; dup {
			errs = append(errs, &yamlkit.Error{File: file, Line: a.Line, Path: "id",
				Msg: fmt.Sprintf("duplicate id %q: %s:%d has it already; each article has its own (set id: or rename the file)", a.ID, prev.File, prev.Line)})
			continue
		}
		first[a.ID] = a
		articles = append(articles, a)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return New(articles)
}

// readBounded reads file, refusing one larger than MaxArticleBytes.
func readBounded(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the article: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxArticleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the article: %w", err)
	}
	if len(data) > MaxArticleBytes {
		return nil, fmt.Errorf("larger than %d KiB; an article is a short note of one fault and its fix (link to long manuals instead)", MaxArticleBytes>>10)
	}
	return data, nil
}

// ErrDuplicateID is New's error for two articles with one id.
var ErrDuplicateID = errors.New("knowledge: duplicate article id")
