package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"gongdan/internal/yamlkit"
)

// Article is one Markdown file of the knowledge base: a known fault and its fix, with front
// matter that says which tickets it is for.
type Article struct {
	// ID names the article in suggestions; default the file name without .md.
	ID string
	// Title is what a suggestion shows: the front matter's title, else the body's first
	// "# " heading.
	Title string
	// Categories are ticket categories, as the fault dictionary names them (门锁故障).
	Categories []string
	// Keywords are words looked for in a ticket's title and description (指纹, 没反应); Latin
	// letters in any case, and only as whole words.
	Keywords []string
	// Models are the device models the article is for (TL-X9), compared ignoring case,
	// spaces, - and _. Empty: any model.
	Models []string
	// Firmware is the range of firmware versions the article is for; nil: any. With a range,
	// the article reaches only a device of one of Models whose firmware is known and in it.
	Firmware *Range
	// Body is the Markdown after the front matter.
	Body string

	// File is the file the article was read from, for messages; Line the line of its id.
	File string
	Line int
}

// Limits of one article's front matter: an article is a short note about one known fault.
const (
	maxIDBytes      = 128
	maxTitleRunes   = 200
	maxTermRunes    = 64
	maxCategories   = 16
	maxKeywords     = 64
	maxModels       = 64
	minKeywordBytes = 2
)

// frontMatterKeys are the keys an article's front matter may set, in the order the docs give
// them.
var frontMatterKeys = []string{"id", "title", "categories", "keywords", "models", "firmware"}

// idPattern is what an article id may look like: it is shown in tickets and notices and
// typed in commands.
var idPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._-]*$`)

// Options say what an article's front matter is checked against.
type Options struct {
	// Category reports whether a ticket can have category name (the fault dictionary's); it
	// lists them for the message when it cannot. Nil: any category is taken.
	Category func(name string) bool
	// Categories lists the known categories for messages; may be empty.
	Categories []string
}

// ParseArticle reads one article: front matter between --- lines at the very top (YAML: id,
// title, categories, keywords, models, firmware), then the Markdown body. file names it in
// problems, and gives the default id (the file name without .md). Every problem is reported,
// each at its line in file.
func ParseArticle(file string, data []byte, opts Options) (Article, yamlkit.Errors) {
	a := Article{File: file, Line: 1}
	p := &problems{file: file, bad: map[string]bool{}}
	fm, fmLine, body, ok := splitFrontMatter(data)
	if !ok {
		p.add(1, "", "an article starts with front matter between two --- lines (title:, categories:, keywords:, models:, firmware:), then the text")
		return a, p.errs
	}
	if !utf8.Valid(data) {
		p.add(1, "", "not UTF-8 text; save the article as UTF-8")
		return a, p.errs
	}
	p.first = fmLine
	a.Body = strings.TrimSpace(string(body))
	root, err := parseYAML(fm)
	switch {
	case err != nil:
		p.errs = append(p.errs, yamlError(file, fmLine, bytes.Count(fm, []byte("\n")), err))
		return a, p.errs
	case root == nil || yamlkit.IsNull(root):
		p.add(fmLine, "", "the front matter is empty; an article needs at least a title and categories or keywords")
		return a, p.errs
	case root.Kind != yaml.MappingNode:
		p.add(p.at(root), "", "front matter is a mapping of keys (title: …), not %s", yamlkit.Describe(root))
		return a, p.errs
	}

	seen := map[string]int{} // key -> its line
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], yamlkit.Resolve(root.Content[i+1])
		key, line := k.Value, p.at(k)
		if k.Kind != yaml.ScalarNode || yamlkit.IsMerge(k) {
			p.add(line, "", "a key must be a plain name (%s)", strings.Join(frontMatterKeys, ", "))
			continue
		}
		if first, dup := seen[key]; dup {
			p.add(line, key, "set twice; line %d sets it already", first)
			continue
		}
		seen[key] = line
		switch key {
		case "id":
			if s, ok := p.text(line, key, v); ok {
				a.ID, a.Line = s, line
			}
		case "title":
			a.Title, _ = p.text(line, key, v)
		case "categories":
			a.Categories = p.list(line, key, v, maxCategories)
		case "keywords":
			a.Keywords = p.list(line, key, v, maxKeywords)
		case "models":
			a.Models = p.list(line, key, v, maxModels)
		case "firmware":
			if s, ok := p.text(line, key, v); ok {
				r, err := ParseRange(s)
				if err != nil {
					p.fail(line, key, "%s", err)
					break
				}
				a.Firmware = &r
			}
		default:
			p.add(line, key, "%s", yamlkit.UnknownKey(key, frontMatterKeys))
		}
	}

	_, idSet := seen["id"]
	if !idSet {
		a.ID = strings.TrimSuffix(path.Base(strings.ReplaceAll(file, "\\", "/")), path.Ext(file))
	}
	switch {
	case p.bad["id"]:
	case a.ID == "":
		p.add(a.Line, "id", "required")
	case len(a.ID) > maxIDBytes:
		p.add(a.Line, "id", "longer than %d bytes", maxIDBytes)
	case !idPattern.MatchString(a.ID) && idSet:
		p.add(a.Line, "id", "%q is not an id: use letters, digits, ., - and _, starting with a letter or digit", a.ID)
	case !idPattern.MatchString(a.ID):
		p.add(a.Line, "id", "the file name %q is not an id (letters, digits, ., - and _); rename the file or set id:", a.ID)
	}
	if a.Title == "" {
		a.Title = heading(a.Body)
	}
	switch {
	case p.bad["title"]:
	case a.Title == "":
		p.add(fmLine, "title", "required: what a suggestion shows (or begin the text with a # heading)")
	case utf8.RuneCountInString(a.Title) > maxTitleRunes:
		p.add(max(seen["title"], fmLine), "title", "%d characters, at most %d", utf8.RuneCountInString(a.Title), maxTitleRunes)
	}
	for i, c := range a.Categories {
		if opts.Category != nil && !opts.Category(c) {
			msg := fmt.Sprintf("%q is not a category of the fault dictionary, so no ticket has it", c)
			if len(opts.Categories) > 0 {
				msg += " (it has: " + strings.Join(opts.Categories, ", ") + ")"
			}
			p.add(seen["categories"], fmt.Sprintf("categories[%d]", i), "%s", msg)
		}
	}
	for i, kw := range a.Keywords {
		if len(kw) < minKeywordBytes {
			p.add(seen["keywords"], fmt.Sprintf("keywords[%d]", i), "%q is too short to look for; a keyword is a word (指纹, reset)", kw)
		}
	}
	if len(a.Categories) == 0 && len(a.Keywords) == 0 && !p.bad["categories"] && !p.bad["keywords"] {
		p.add(fmLine, "", "an article needs categories or keywords; without them it matches no ticket")
	}
	if a.Firmware != nil && len(a.Models) == 0 && !p.bad["models"] {
		p.add(seen["firmware"], "firmware", "needs models: a firmware version means something only for the models it names, and another model's 2.3.1 would get the wrong fix")
	}
	return a, p.errs
}

// problems collects an article's problems.
type problems struct {
	file string
	// first is the file's line that the front matter's first line is on.
	first int
	errs  yamlkit.Errors
	// bad are the keys whose value was reported: later checks of them would only repeat it.
	bad map[string]bool
}

// at is the line of n, a node of the front matter, in the file.
func (p *problems) at(n *yaml.Node) int { return p.first + n.Line - 1 }

func (p *problems) add(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &yamlkit.Error{File: p.file, Line: line, Path: key, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a problem with the value of key, which is then left out.
func (p *problems) fail(line int, key, format string, args ...any) {
	p.add(line, key, format, args...)
	p.bad[key] = true
}

// text reads a scalar value as written (firmware: 2.3 is the text "2.3", not a number).
func (p *problems) text(line int, key string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || yamlkit.IsNull(v) {
		p.fail(line, key, "want a text, got %s", yamlkit.Describe(v))
		return "", false
	}
	s := strings.TrimSpace(v.Value)
	if s == "" {
		p.fail(line, key, "empty; write a value or leave the key out")
		return "", false
	}
	return s, true
}

// list reads a list of texts; a single text is a list of one (categories: 门锁故障).
func (p *problems) list(line int, key string, v *yaml.Node, limit int) []string {
	items := []*yaml.Node{v}
	switch {
	case v.Kind == yaml.SequenceNode:
		items = v.Content
	case v.Kind != yaml.ScalarNode || yamlkit.IsNull(v):
		p.fail(line, key, "want a list like [a, b], got %s", yamlkit.Describe(v))
		return nil
	}
	if len(items) > limit {
		p.fail(line, key, "%d entries, at most %d", len(items), limit)
		return nil
	}
	var out []string
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", key, i)
		itemLine := p.at(item)
		if item = yamlkit.Resolve(item); item.Kind != yaml.ScalarNode || yamlkit.IsNull(item) {
			p.fail(itemLine, at, "want a text, got %s", yamlkit.Describe(item))
			continue
		}
		s := strings.TrimSpace(item.Value)
		switch {
		case s == "":
			p.fail(itemLine, at, "empty; remove it")
		case utf8.RuneCountInString(s) > maxTermRunes:
			p.fail(itemLine, at, "longer than %d characters", maxTermRunes)
		default:
			out = append(out, s)
		}
	}
	if len(out) < len(items) {
		p.bad[key] = true
	}
	return out
}

// splitFrontMatter cuts data into the front matter (between a first line --- and the next
// line --- or ...), the line the front matter starts on, and the body after it.
func splitFrontMatter(data []byte) (fm []byte, line int, body []byte, ok bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	first, rest, found := bytes.Cut(data, []byte("\n"))
	if !found || string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, 0, nil, false
	}
	for off := 0; off <= len(rest); {
		l, next, more := bytes.Cut(rest[off:], []byte("\n"))
		if t := string(bytes.TrimRight(l, " \t\r")); t == "---" || t == "..." {
			after := []byte{}
			if more {
				after = next
			}
			return rest[:off], 2, after, true
		}
		if !more {
			break
		}
		off += len(l) + 1
	}
	return nil, 0, nil, false
}

// parseYAML parses one YAML document; nil when there is none.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlError places a YAML syntax error of the front matter, which starts at line first of
// file and has lines lines: an error at its end (an unclosed bracket) is placed on its last.
func yamlError(file string, first, lines int, err error) *yamlkit.Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := first
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		msg = m[2]
		if strings.HasPrefix(msg, "did not find expected") {
			n++ // yaml.v3 counts its parser's lines from 0, its scanner's from 1
		}
		line = first + min(max(n, 1), max(lines, 1)) - 1
	}
	return &yamlkit.Error{File: file, Line: line, Msg: "front matter: YAML syntax: " + msg}
}

// heading is the text of body's first "# " heading, or "".
func heading(body string) string {
	for l := range strings.SplitSeq(body, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "# "); ok {
			return strings.TrimSpace(h)
		}
	}
	return ""
}
