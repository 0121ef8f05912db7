package yamlkit

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Resolve follows aliases (*name) to the node they refer to; any other node is returned as it
// is. Both walkers read a value through it, so an anchored value can be used anywhere a value
// can be written.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is an empty value (null, ~ or nothing after the colon).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Describe names the kind of value n is, for "want X, got Y" messages. It never quotes the
// value: it may be a secret in the wrong place.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return Describe(n.Alias)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a " + strings.TrimLeft(n.Tag, "!") + " value"
	}
	return "an unexpected YAML node"
}
