package testkit

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gongdan/internal/yamlkit"
)

// Items reads connector items from YAML text as config hands them to the connectors: text is
// a list of mappings (the items under connectors:), or one mapping for a single item. Each
// item's Name and Type are read from its mapping, Line is the line its mapping starts on in
// text, Path is "connectors[i]", and Raw is the whole mapping. Unlike config, Items expands no
// ${VAR}. The test fails on text that is not YAML or on an item that is not a mapping.
func Items(t testing.TB, text string) []yamlkit.Item {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("testkit.Items: %v", err)
	}
	if len(doc.Content) == 0 {
		t.Fatalf("testkit.Items: no items in %q", text)
	}
	nodes := []*yaml.Node{doc.Content[0]}
	if doc.Content[0].Kind == yaml.SequenceNode {
		nodes = doc.Content[0].Content
	}
	items := make([]yamlkit.Item, len(nodes))
	for i, n := range nodes {
		n = yamlkit.Resolve(n)
		if n.Kind != yaml.MappingNode {
			t.Fatalf("testkit.Items: item %d at line %d is %s, not a mapping", i, n.Line, yamlkit.Describe(n))
		}
		items[i] = yamlkit.Item{Name: scalar(n, "name"), Type: scalar(n, "type"), Line: n.Line, Path: fmt.Sprintf("connectors[%d]", i), Raw: n}
	}
	return items
}

// scalar is the value of key in mapping n, or "" when n has no such scalar.
func scalar(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := yamlkit.Resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode {
				return v.Value
			}
		}
	}
	return ""
}

// ConnectorFile returns the config file whose connectors: list holds item alone, for a test
// that reads its connector as gongdan serve does (config.ParseWith: ${VAR} expanded, the file's
// own checks). item is the item's mapping written unindented, "name: hooks\ntype: webhook\n…".
func ConnectorFile(item string) string {
	var b strings.Builder
	b.WriteString("connectors:\n")
	for i, line := range strings.Split(strings.TrimRight(item, "\n"), "\n") {
		if i == 0 {
			b.WriteString("  - " + line + "\n")
		} else {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}
