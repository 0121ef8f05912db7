package yamlkit

import "gopkg.in/yaml.v3"

// Item is one item of a list whose items belong to someone else: the config walker decodes
// only its name and type and hands the rest on, undecoded, to the owner of the type (a
// connector's spec). It is how config and the connectors meet without importing each other.
type Item struct {
	// Name identifies the item (a connector's name, in URLs, logs and metrics).
	Name string `yaml:"name"`
	// Type selects the implementation ("webhook", "mqtt", "wechat.work", ...).
	Type string `yaml:"type"`
	// Line is the line of the list item in the file.
	Line int `yaml:"-"`
	// Path is the key path of the list item ("connectors[2]"), for error messages.
	Path string `yaml:"-"`
	// Raw is the item's whole mapping, name and type included, for the owner's own decoder.
	// Its string values have had ${VAR} expanded already; do not expand them again. It may
	// hold secrets in the clear: never print it.
	Raw *yaml.Node `yaml:"-" json:"-"`
}
