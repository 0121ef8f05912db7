package yamlkit

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestPairs(t *testing.T) {
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(`a: &a {x: 1, y: 1}
b: &b {y: 2, z: 2}
self: &self
  k: 1
c:
  y: 0
  <<: [*a, *b]
  y: 9
bad:
  <<: [*a, plain]
  w: 1
`), &doc))
	root := doc.Content[0]
	get := func(key string) *yaml.Node {
		for _, p := range Pairs(root, func(int, string) { t.Fatal("the root has no merges") }) {
			if p.Key.Value == key {
				return p.Value
			}
		}
		t.Fatalf("no %s", key)
		return nil
	}
	show := func(ps []Pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s=%s@%d", p.Key.Value, p.Value.Value, p.Line()))
		}
		return out
	}
	var problems []string
	bad := func(line int, msg string) { problems = append(problems, fmt.Sprintf("%d: %s", line, msg)) }

	// Own keys first (a duplicate listed once, the first), then merged keys not set, the
	// earlier source winning, placed at the << line.
	assert.Equal(t, []string{"y=0@6", "x=1@7", "z=2@7"}, show(Pairs(get("c"), bad)))
	assert.Empty(t, problems)

	assert.Equal(t, []string{"w=1@11", "x=1@10", "y=1@10"}, show(Pairs(get("bad"), bad)))
	assert.Equal(t, []string{"10: << merges mappings (<<: *defaults), not a string"}, problems)

	// A mapping that merges itself is refused, not followed for ever.
	var loop yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("m: &m\n  k: 1\n  <<: *m\n"), &loop))
	problems = nil
	m := loop.Content[0].Content[1]
	assert.Equal(t, []string{"k=1@2"}, show(Pairs(m, bad)))
	assert.Equal(t, []string{"3: << merges a mapping into itself"}, problems)
}
