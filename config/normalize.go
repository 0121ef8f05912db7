package config

import (
	"bytes"
	"os"
	"path/filepath"

	"gongdan/configs/dictionaries"
	"gongdan/normalize"
)

// Normalize configures how drafts are filled from their own text (title and description) after
// a connector's normalizer: which fault dictionary picks the category, which patterns find
// device serials, which words raise the urgency, and whether addresses and times are read.
// Fields a connector or a mapping set are never overwritten.
type Normalize struct {
	// Dictionary is a fault dictionary file (categories with keywords and synonyms, the format
	// of configs/dictionaries/faults.yaml), relative to the config file's folder unless
	// absolute. Default: the shipped dictionary.
	Dictionary string `yaml:"dictionary"`
	// DevicePatterns find device serials in the text, in Go regexp syntax (`E\d{9}`,
	// `SN[:：]?\s*([A-Z0-9]{8,16})`: with a group, the first group is the id). The first
	// pattern to match wins. Default none: serials are not guessed.
	DevicePatterns []string `yaml:"device_patterns"`
	// UrgencyKeywords raise the urgency of a draft that has none; a level given here
	// replaces that level's default words, the others keep theirs.
	UrgencyKeywords UrgencyKeywords `yaml:"urgency_keywords"`
	// Addresses turns on reading Chinese postal addresses. Default true.
	Addresses *bool `yaml:"addresses"`
	// Times turns on reading when the fault happened (上午 9:42, 昨天 14:05). Default true.
	Times *bool `yaml:"times"`

	// Enricher is the section built; set by validation.
	Enricher normalize.Enricher `yaml:"-"`
}

// UrgencyKeywords are the words of each urgency level; nil keeps the default list.
type UrgencyKeywords struct {
	// Red: a safety risk (安全, 冒烟, 起火, 漏电, …).
	Red []string `yaml:"red"`
	// Orange: a production line stops (停产, 停线, 停机, …).
	Orange []string `yaml:"orange"`
	// Yellow: respond within 24 hours (尽快, 今天内, 加急, …).
	Yellow []string `yaml:"yellow"`
}

// validate loads the dictionary, compiles the patterns and builds Enricher. dir is the folder
// a relative dictionary path is in.
func (n *Normalize) validate(dir string) []problem {
	var ps []problem
	e := normalize.Enricher{
		Urgency:   normalize.DefaultUrgencyKeywords(),
		Addresses: n.Addresses == nil || *n.Addresses,
		Times:     n.Times == nil || *n.Times,
	}

	data, name := dictionaries.Faults, "the shipped dictionary"
	if n.Dictionary != "" {
		path := n.Dictionary
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		name = path
		var err error
		if data, err = os.ReadFile(path); err != nil {
			ps = append(ps, problemf("dictionary", "cannot read the fault dictionary: %v", err))
			data = nil
		}
	}
	if data != nil {
		dict, err := normalize.LoadDictionary(bytes.NewReader(data))
		if err != nil {
			ps = append(ps, problemf("dictionary", "%s: %v", name, err))
		}
		e.Dictionary = dict
	}

	for i, p := range n.DevicePatterns {
		re, err := normalize.CompileDevicePattern(p)
		if err != nil {
			ps = append(ps, problemf(indexPath("device_patterns", i), "%v", err))
			continue
		}
		e.DevicePatterns = append(e.DevicePatterns, re)
	}

	for _, level := range []struct {
		key  string
		from []string
		to   *[]string
	}{
		{"red", n.UrgencyKeywords.Red, &e.Urgency.Red},
		{"orange", n.UrgencyKeywords.Orange, &e.Urgency.Orange},
		{"yellow", n.UrgencyKeywords.Yellow, &e.Urgency.Yellow},
	} {
		if level.from == nil {
			continue
		}
		for i, w := range level.from {
			if w == "" {
				ps = append(ps, problemf(indexPath("urgency_keywords."+level.key, i), "empty keyword; remove it"))
			}
		}
		*level.to = level.from
	}
	n.Enricher = e
	return ps
}
