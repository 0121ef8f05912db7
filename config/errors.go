package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file, located so that a person can go and fix it.
type Error struct {
	// File is the name the config was loaded under.
	File string
	// Line is the 1-based line of the offending key or value; 0 when no line applies (an empty
	// file).
	Line int
	// Path is the key path, dots between keys and [i] for list items
	// ("server.tokens[1].role"); empty for problems with the file as a whole.
	Path string
	// Msg says what is wrong and, where it can, what to write instead. It never contains the
	// value of a secret.
	Msg string
}

// Error formats the problem as "file:line: key.path: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, sorted by line. Parse and Load return it
// (as an error) whenever the file is not usable.
type Errors []*Error

// Error puts one problem on each line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortByLine orders the problems by line, keeping the order they were found in on one line.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
}

// problem is something validate found wrong, at key relative to the struct that found it.
// Parse turns problems into Errors once it knows the full path and the line.
type problem struct {
	key string
	msg string
}

// problemf builds a problem at key.
func problemf(key, format string, args ...any) problem {
	return problem{key: key, msg: fmt.Sprintf(format, args...)}
}

// under moves problems found by a nested struct below key ("tokens[0]", "log", ...).
func under(key string, ps []problem) []problem {
	for i := range ps {
		ps[i].key = joinPath(key, ps[i].key)
	}
	return ps
}

// joinPath appends a key or an index ("[2]") to a path.
func joinPath(path, key string) string {
	switch {
	case key == "":
		return path
	case path == "" || strings.HasPrefix(key, "["):
		return path + key
	default:
		return path + "." + key
	}
}

// parentPath strips the last key or index from a path ("a.b[1]" -> "a.b", "a.b" -> "a").
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// indexPath is the path of item i of the list at path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
