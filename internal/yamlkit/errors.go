// Package yamlkit is what gongdan's two strict YAML walkers share — the config file's
// (package config) and the connectors' (connectors.Conf) — so that they say the same thing the
// same way: problems located at file:line:path, secrets that never print, durations written
// the Go way, unknown keys with a suggestion, ${VAR} expansion and aliases followed.
//
// It is a leaf: it imports no other gongdan package, so both config and the connectors can
// build on it without building on each other.
package yamlkit

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

// Errors is every problem found in a config file, sorted by line.
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

// SortByLine orders the problems by line, keeping the order they were found in on one line.
func (es Errors) SortByLine() {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
}

// UnknownKey says that key is not one of known, suggesting the closest known key when it is a
// likely typo (at most two edits away, and fewer edits than key has letters: "a" is not a typo
// of "sla") and listing them all otherwise.
func UnknownKey(key string, known []string) string {
	best, bestDist := "", min(3, len(key))
	for _, name := range known {
		if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, best)
	case len(known) > 0:
		return fmt.Sprintf("unknown key %q (known here: %s)", key, strings.Join(known, ", "))
	default:
		return fmt.Sprintf("unknown key %q", key)
	}
}

// editDistance is the Levenshtein distance between a and b, counted in bytes (keys are
// ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
