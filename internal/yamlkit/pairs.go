package yamlkit

import "gopkg.in/yaml.v3"

// Pair is one key of a mapping and its value.
type Pair struct {
	Key, Value *yaml.Node
	// Via is the line of the << key that merged the pair in; 0 for the mapping's own keys.
	// A problem with a merged key is placed there, at the line that uses the anchor.
	Via int
}

// Line is the line to place a problem with the pair's key at.
func (p Pair) Line() int {
	if p.Via != 0 {
		return p.Via
	}
	return p.Key.Line
}

// Pairs lists the keys of mapping n in file order, then the keys merged in with <<: (from one
// mapping, or a list of them, the earlier ones winning) that n does not set itself. A key set
// twice is listed once, the first time: finding it is the caller's (a duplicate is an error).
// Both walkers read mappings through it, so a merge means the same to config and connectors.
// bad is told of a << that merges what is not a mapping, or a mapping into itself.
func Pairs(n *yaml.Node, bad func(line int, msg string)) []Pair {
	return pairs(n, bad, map[*yaml.Node]bool{})
}

func pairs(n *yaml.Node, bad func(line int, msg string), merging map[*yaml.Node]bool) []Pair {
	merging[n] = true
	defer delete(merging, n)
	var own, merged []Pair
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if IsMerge(k) {
			for _, p := range mergeSources(v, bad, merging) {
				p.Via = k.Line
				merged = append(merged, p)
			}
			continue
		}
		if set[k.Value] {
			continue
		}
		set[k.Value] = true
		own = append(own, Pair{Key: k, Value: v})
	}
	for _, p := range merged {
		if !set[p.Key.Value] {
			set[p.Key.Value] = true
			own = append(own, p)
		}
	}
	return own
}

// IsMerge reports whether key k is the merge key <<.
func IsMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// mergeSources returns the pairs a <<: key merges in.
func mergeSources(v *yaml.Node, bad func(line int, msg string), merging map[*yaml.Node]bool) []Pair {
	var out []Pair
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		line := s.Line // of the alias, not of what it refers to
		s = Resolve(s)
		switch {
		case s.Kind != yaml.MappingNode:
			bad(line, "<< merges mappings (<<: *defaults), not "+Describe(s))
		case merging[s]:
			bad(line, "<< merges a mapping into itself")
		default:
			out = append(out, pairs(s, bad, merging)...)
		}
	}
	return out
}
