package config

import (
	"fmt"
	"strings"

	"gongdan/internal/yamlkit"
)

// Error is one problem in a config file, located so that a person can go and fix it
// (file:line: key.path: msg). It is the kit's, shared with the connectors' walker.
type Error = yamlkit.Error

// Errors is every problem found in a config file, sorted by line. Parse and Load return it
// (as an error) whenever the file is not usable.
type Errors = yamlkit.Errors

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
