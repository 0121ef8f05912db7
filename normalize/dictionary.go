package normalize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Dictionary maps words in a request to a category (DESIGN.md §3 draft.category and
// draft.tags). It is read once and not changed afterwards, so one Dictionary may be shared.
type Dictionary struct {
	categories []dictionaryCategory
	// byFirst are all the terms by their first rune: one pass over a text finds which occur at
	// all, and only those are looked for where (a long call's text was scanned once per term).
	byFirst map[rune][]string
	firsts  runeSet // the keys of byFirst
}

type dictionaryCategory struct {
	name  string
	terms []string // keywords then synonyms, ASCII letters lowered
}

// dictionaryFile is the YAML layout:
//
//	categories:
//	  - name: 急停故障
//	    keywords: [急停, 紧急停止]
//	    synonyms: [E-STOP, estop]
type dictionaryFile struct {
	Categories []struct {
		Name     string   `yaml:"name"`
		Keywords []string `yaml:"keywords"`
		Synonyms []string `yaml:"synonyms"`
	} `yaml:"categories"`
}

// LoadDictionary reads a category dictionary from YAML. It is strict: an unknown key, a category
// without a name or without any keyword or synonym, an empty keyword and a name used twice are
// errors that give the line.
func LoadDictionary(r io.Reader) (*Dictionary, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading dictionary: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var file dictionaryFile
	if err := dec.Decode(&file); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("dictionary is empty; it needs a categories: list")
		}
		return nil, fmt.Errorf("dictionary: %w", err)
	}
	if len(file.Categories) == 0 {
		return nil, errors.New("dictionary has no categories; add a categories: list")
	}
	lines := categoryLines(data)
	line := func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("line %d: ", lines[i])
		}
		return ""
	}
	d := &Dictionary{}
	seen := map[string]bool{}
	for i, c := range file.Categories {
		name := strings.TrimSpace(c.Name)
		if name == "" {
			return nil, fmt.Errorf("dictionary %scategories[%d] has no name", line(i), i)
		}
		if seen[name] {
			return nil, fmt.Errorf("dictionary %scategory %q is listed twice; merge its keywords into one entry", line(i), name)
		}
		seen[name] = true
		cat := dictionaryCategory{name: name}
		for _, term := range append(append([]string{}, c.Keywords...), c.Synonyms...) {
			term = strings.TrimSpace(term)
			if term == "" {
				return nil, fmt.Errorf("dictionary %scategory %q has an empty keyword or synonym", line(i), name)
			}
			cat.terms = append(cat.terms, asciiLower(term))
		}
		if len(cat.terms) == 0 {
			return nil, fmt.Errorf("dictionary %scategory %q has no keywords or synonyms, so it can never match", line(i), name)
		}
		d.categories = append(d.categories, cat)
	}
	d.byFirst = map[rune][]string{}
	for _, c := range d.categories {
		for _, term := range c.terms {
			r, _ := utf8.DecodeRuneInString(term)
			if !slices.Contains(d.byFirst[r], term) {
				d.byFirst[r] = append(d.byFirst[r], term)
				d.firsts.add(r)
			}
		}
	}
	return d, nil
}

// Categories are the names of the dictionary's categories, in file order.
func (d *Dictionary) Categories() []string {
	if d == nil {
		return nil
	}
	out := make([]string, len(d.categories))
	for i, c := range d.categories {
		out[i] = c.name
	}
	return out
}

// Has reports whether name is one of the dictionary's categories.
func (d *Dictionary) Has(name string) bool {
	if d == nil {
		return false
	}
	for _, c := range d.categories {
		if c.name == name {
			return true
		}
	}
	return false
}

// present is the set of d's terms that occur in text, anywhere.
func (d *Dictionary) present(text string) map[string]bool {
	found := map[string]bool{}
	for i, r := range text {
		if !d.firsts.mayHave(r) {
			continue
		}
		for _, term := range d.byFirst[r] {
			if !found[term] && strings.HasPrefix(text[i:], term) {
				found[term] = true
			}
		}
	}
	return found
}

// categoryLines returns the line of each entry of the categories list, for error messages. The
// strict decode has already succeeded, so the layout is known.
func categoryLines(data []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "categories" {
			var lines []int
			for _, n := range root.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}

// Classify returns the category whose keywords and synonyms text matches best, and as tags every
// category that matched, best first. Best is: most distinct terms found (a term found only inside
// another term of the same category, 液压 in 液压站, does not count), then the longest term
// found, then the earliest, then the category listed first. The match is the winning category's
// longest term where it first occurs (Value is the category name). Latin letters match in any
// case, and a term that begins or ends with a Latin letter or digit must not be glued to another
// (estop is not found in "bestop").
//
// It must never invent a category: with no term found it reports false and no tags.
func (d *Dictionary) Classify(text string) (category string, tags []string, m Match, ok bool) {
	if d == nil {
		return "", nil, Match{}, false
	}
	lower := asciiLower(text)
	present := d.present(lower)
	if len(present) == 0 {
		return "", nil, Match{}, false
	}
	type scored struct {
		name     string
		hits     int
		best     Match
		position int
	}
	var found []scored
	for _, c := range d.categories {
		s := scored{name: c.name, best: Match{Start: -1}}
		var spans [][2]int
		for _, term := range c.terms {
			if !present[term] {
				continue
			}
			if i := indexStandalone(lower, term); i >= 0 {
				spans = append(spans, [2]int{i, i + len(term)})
			}
		}
		for _, sp := range spans {
			if insideAnother(sp, spans) {
				continue // 液压 inside 液压站 is one hit, not two
			}
			s.hits++
			i, n := sp[0], sp[1]-sp[0]
			if s.best.Start < 0 || n > s.best.End-s.best.Start || n == s.best.End-s.best.Start && i < s.best.Start {
				s.best = newMatch(text, i, i+n, c.name)
			}
		}
		if s.hits > 0 {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return "", nil, Match{}, false
	}
	better := func(a, b scored) bool {
		if a.hits != b.hits {
			return a.hits > b.hits
		}
		if la, lb := a.best.End-a.best.Start, b.best.End-b.best.Start; la != lb {
			return la > lb
		}
		return a.best.Start < b.best.Start
	}
	// Insertion sort keeps file order among equals.
	for i := 1; i < len(found); i++ {
		for j := i; j > 0 && better(found[j], found[j-1]); j-- {
			found[j], found[j-1] = found[j-1], found[j]
		}
	}
	for _, s := range found {
		tags = append(tags, s.name)
	}
	return found[0].name, tags, found[0].best, true
}

// insideAnother reports whether sp lies within a longer span of spans.
func insideAnother(sp [2]int, spans [][2]int) bool {
	for _, o := range spans {
		if o != sp && o[0] <= sp[0] && sp[1] <= o[1] {
			return true
		}
	}
	return false
}

// indexStandalone is strings.Index, skipping occurrences where a term's Latin or digit edge runs
// into another Latin letter or digit.
func indexStandalone(s, term string) int {
	for from := 0; from <= len(s)-len(term); {
		i := strings.Index(s[from:], term)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(term)
		gluedBefore := isASCIIAlnum(term[0]) && i > 0 && isASCIIAlnum(s[i-1])
		gluedAfter := isASCIIAlnum(term[len(term)-1]) && end < len(s) && isASCIIAlnum(s[end])
		if !gluedBefore && !gluedAfter {
			return i
		}
		from = i + 1
	}
	return -1
}
