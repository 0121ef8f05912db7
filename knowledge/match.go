// Package knowledge is the knowledge base (DESIGN.md §11): a folder of Markdown articles about
// known faults and their fixes, each with front matter that says which tickets it is for —
// ticket categories, keywords, device models and a firmware range — and the matching that
// suggests up to three of them for every draft, with why, before anyone drives out.
//
// Matching runs on every draft, so it is pure and quick: one pass over the draft's text finds
// every keyword of every article. It must never suggest an article for a device it was not
// written for: an article with a firmware range reaches only a device of one of its models
// whose firmware is known and in the range, since on any other device its fix is the wrong
// one. Loading reads a folder, bounded, and is strict: every problem is reported at its
// file:line.
package knowledge

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gongdan/draft"
)

// Scoring. An article is a candidate when the draft's category is one of its categories or
// one of its keywords is in the draft's title or description. Its relevance is 3 for the
// category plus 1 for each keyword found (at most 5; a keyword found within another of the
// article's found keywords, 没反应 in 按了没反应, is no hit of its own). It is suggested when
// its relevance is 2 or more (the category, or two keywords), or 1 with its model matched:
// one common word in a long call is not enough by itself. A matched model adds 2, a firmware
// in range 2. The best MaxSuggestions by score are suggested, ties by article id.
//
// Before any of that, an article that names models is passed over for a device of another
// known model, and one with a firmware range for a device whose model is unknown or not
// listed, or whose firmware is unknown, not a dotted version, or not in the range.
const (
	PointsCategory = 3
	PointsKeyword  = 1
	MaxKeywordHits = 5
	PointsModel    = 2
	PointsFirmware = 2
	MinRelevance   = 2
	MaxSuggestions = draft.MaxSuggestions
	maxWhyRunes    = 500
	maxWhyKeywords = 5
)

// Base is a loaded knowledge base, indexed for matching. It is read-only after New, so one Base
// may be shared by every goroutine.
type Base struct {
	articles []indexed
	terms    []term
	// firstTwo maps a term's start (bucketKey: the first two bytes of Latin text, lowered; the
	// first character of any other, hashed) to 1 + the index of the bucket of terms that start
	// so. By two bytes alone a Chinese character's bucket held the 64 characters that share
	// its first two bytes, and a large base was scanned word by word (a review's finding).
	firstTwo []uint32
	buckets  [][]int32
	// byCategory are the articles of each category.
	byCategory map[string][]int32
}

// indexed is an article with what matching needs of it.
type indexed struct {
	Article
	// keywordTerms are the terms of its keywords (duplicates after lowering dropped), and
	// keywordText the keywords as written, for why.
	keywordTerms []int32
	keywordText  []string
	// models are Models as compared.
	models []string
	// inner are its keywords' terms that lie within another keyword of it (没反应 in
	// 按了没反应): found with the other, they are one hit, not two.
	inner []innerTerm
}

// innerTerm is a term of an article's keyword within the terms of its other keywords.
type innerTerm struct {
	term   int32
	within []int32
}

// term is one distinct keyword text, Latin letters lowered, and the articles that have it.
type term struct {
	text string
	// wordStart and wordEnd: the term starts (ends) with a Latin letter or digit, which must
	// not be glued to another in the text (reset is not found in "preset").
	wordStart, wordEnd bool
	articles           []int32
}

// New indexes articles, which must have distinct ids (Load checks that, with lines).
func New(articles []Article) (*Base, error) {
	b := &Base{firstTwo: make([]uint32, 1<<16), byCategory: map[string][]int32{}}
	termIndex := map[string]int32{}
	ids := map[string]bool{}
	for i, a := range articles {
		if ids[a.ID] {
			return nil, fmt.Errorf("%w %q", ErrDuplicateID, a.ID)
		}
		ids[a.ID] = true
		ai := int32(i)
		x := indexed{Article: a}
		for _, kw := range a.Keywords {
			text := lowerASCII(strings.TrimSpace(kw))
			if len(text) < minKeywordBytes {
				continue
			}
			ti, ok := termIndex[text]
			if !ok {
				ti = int32(len(b.terms))
				termIndex[text] = ti
				b.terms = append(b.terms, term{text: text, wordStart: isWordByte(text[0]), wordEnd: isWordByte(text[len(text)-1])})
				key, _ := bucketKey(text, 0)
				if b.firstTwo[key] == 0 {
					b.buckets = append(b.buckets, nil)
					b.firstTwo[key] = uint32(len(b.buckets))
				}
				bucket := b.firstTwo[key] - 1
				b.buckets[bucket] = append(b.buckets[bucket], ti)
			}
			if slices.Contains(x.keywordTerms, ti) {
				continue
			}
			x.keywordTerms = append(x.keywordTerms, ti)
			x.keywordText = append(x.keywordText, kw)
			b.terms[ti].articles = append(b.terms[ti].articles, ai)
		}
		for _, ti := range x.keywordTerms {
			inner := innerTerm{term: ti}
			for _, tj := range x.keywordTerms {
				if tj != ti && strings.Contains(b.terms[tj].text, b.terms[ti].text) {
					inner.within = append(inner.within, tj)
				}
			}
			if inner.within != nil {
				x.inner = append(x.inner, inner)
			}
		}
		for _, c := range a.Categories {
			if !slices.Contains(b.byCategory[c], ai) {
				b.byCategory[c] = append(b.byCategory[c], ai)
			}
		}
		for _, m := range a.Models {
			x.models = append(x.models, modelKey(m))
		}
		b.articles = append(b.articles, x)
	}
	return b, nil
}

// Len is the number of articles.
func (b *Base) Len() int {
	if b == nil {
		return 0
	}
	return len(b.articles)
}

// Articles are the articles, in the order they were loaded.
func (b *Base) Articles() []Article {
	if b == nil {
		return nil
	}
	out := make([]Article, len(b.articles))
	for i, a := range b.articles {
		out[i] = a.Article
	}
	return out
}

// Candidate is an article that the draft's category or text points to, suggested or not, and
// why: what `gongdan knowledge test` shows.
type Candidate struct {
	ID    string
	Title string
	// Score is the article's score (see the scoring above); 0 when it was passed over.
	Score int
	// Why says what matched, as a suggestion's why.
	Why string
	// Suggested: the article is among the draft's suggestions.
	Suggested bool
	// PassedOver says why an article is not suggested; empty when it is.
	PassedOver string
}

// Suggest returns the articles that match d, best first, at most MaxSuggestions; nil for none
// (and for a nil Base). It reads d's category, title, description and device model and
// firmware.
func (b *Base) Suggest(d draft.Draft) []draft.Suggestion {
	if b.Len() == 0 {
		return nil
	}
	s := b.score(&d, MaxSuggestions)
	var out []draft.Suggestion
	for _, c := range s.cands {
		if c.passedOver != suggestible || len(out) == MaxSuggestions {
			break
		}
		a := &b.articles[c.article]
		out = append(out, draft.Suggestion{ID: a.ID, Title: a.Title, Why: s.why(c), Score: c.score})
	}
	return out
}

// Explain returns every article that d's category or text points to: the suggested ones
// first, as Suggest orders them, then those passed over, each with why.
func (b *Base) Explain(d draft.Draft) []Candidate {
	if b.Len() == 0 {
		return nil
	}
	s := b.score(&d, len(b.articles))
	var out []Candidate
	suggested := 0
	for _, c := range s.cands {
		a := &b.articles[c.article]
		cand := Candidate{ID: a.ID, Title: a.Title, Why: s.why(c), PassedOver: s.passedOver(c)}
		if c.passedOver == suggestible {
			if suggested == MaxSuggestions {
				cand.PassedOver = fmt.Sprintf("scored %d: below the best %d", c.score, MaxSuggestions)
			} else {
				cand.Score, cand.Suggested = c.score, true
				suggested++
			}
		}
		out = append(out, cand)
	}
	return out
}

// scoring is one draft's match against the base.
type scoring struct {
	b *Base
	d *draft.Draft
	// category and model are the draft's, as compared.
	category, model string
	found           []uint64 // bit per term: found in the text
	cands           []cand
	// the device's firmware, parsed
	firmware    Version
	firmwareErr error
}

// reason is why a candidate is passed over; suggestible when it is not.
type reason uint8

const (
	suggestible reason = iota
	otherModel
	modelUnknown
	firmwareUnknown
	firmwareUnreadable
	firmwareOutside
	tooLittle
)

type cand struct {
	article             int32
	category, model, fw bool
	keywords            int
	score               int
	passedOver          reason
}

// score finds the candidates of d and puts the best `best` suggestible ones first, by score,
// then id; with best the number of articles, every candidate is ordered, the ones passed over
// last, by id.
func (b *Base) score(d *draft.Draft, best int) *scoring {
	s := &scoring{b: b, d: d, found: make([]uint64, (len(b.terms)+63)/64),
		category: strings.TrimSpace(d.Category), model: modelKey(d.Device.Model)}
	s.firmware, s.firmwareErr = ParseVersion(d.Device.Firmware)
	// hits counts each article's keywords found; touched lists the articles counted, in
	// the order first found.
	hits := make([]uint8, len(b.articles))
	var touched []int32
	b.scan(d.Title, s.found, hits, &touched)
	b.scan(d.Description, s.found, hits, &touched)
	byCategory := b.byCategory[s.category]
	s.cands = make([]cand, 0, len(touched)+len(byCategory))
	for _, ai := range byCategory {
		if hits[ai] == 0 {
			s.cands = append(s.cands, s.judge(ai, 0))
		}
	}
	for _, ai := range touched {
		s.cands = append(s.cands, s.judge(ai, int(hits[ai])))
	}
	better := func(x, y cand) int {
		if (x.passedOver == suggestible) != (y.passedOver == suggestible) {
			if x.passedOver == suggestible {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		return cmp.Compare(b.articles[x.article].ID, b.articles[y.article].ID)
	}
	if best >= len(s.cands) {
		slices.SortFunc(s.cands, better)
		return s
	}
	// Only the best few are wanted (every draft is matched): select them, leaving the rest
	// unordered behind them.
	for i := 0; i < best; i++ {
		m := i
		for j := i + 1; j < len(s.cands); j++ {
			if better(s.cands[j], s.cands[m]) < 0 {
				m = j
			}
		}
		s.cands[i], s.cands[m] = s.cands[m], s.cands[i]
	}
	return s
}

// bucketKey is the key of the terms that may start at text[i]: for a Latin letter (or any
// ASCII byte) its two bytes lowered, below 0x8000; for another character its bytes hashed
// (FNV-1a) into 0x8000–0xFFFF. ok is false where no term of two bytes or more can start.
func bucketKey(text string, i int) (uint16, bool) {
	c := text[i]
	if c < utf8.RuneSelf {
		if i+1 >= len(text) {
			return 0, false
		}
		return uint16(lowerByte(c))<<8 | uint16(lowerByte(text[i+1])), true
	}
	_, n := utf8.DecodeRuneInString(text[i:])
	if n < 2 {
		return 0, false
	}
	h := uint32(2166136261)
	for k := range n {
		h ^= uint32(text[i+k])
		h *= 16777619
	}
	return 0x8000 | uint16(h&0x7FFF), true
}

// scan marks the terms found in text, counting for each article the keywords of it found.
func (b *Base) scan(text string, found []uint64, hits []uint8, touched *[]int32) {
	for i := 0; i+1 < len(text); i++ {
		c := text[i]
		if c&0xC0 == 0x80 {
			continue // inside a character: no term starts here
		}
		key, ok := bucketKey(text, i)
		if !ok {
			continue
		}
		bucket := b.firstTwo[key]
		if bucket == 0 {
			continue
		}
		for _, ti := range b.buckets[bucket-1] {
			if found[ti/64]&(1<<(ti%64)) != 0 {
				continue
			}
			t := &b.terms[ti]
			end := i + len(t.text)
			if end > len(text) || !equalFoldASCII(text[i:end], t.text) {
				continue
			}
			if t.wordStart && i > 0 && isWordByte(text[i-1]) || t.wordEnd && end < len(text) && isWordByte(text[end]) {
				continue
			}
			found[ti/64] |= 1 << (ti % 64)
			for _, ai := range t.articles {
				if hits[ai] == 0 {
					*touched = append(*touched, ai)
				}
				if hits[ai] < 255 {
					hits[ai]++
				}
			}
		}
	}
}

// judge scores article ai for the draft, or says why it is passed over.
func (s *scoring) judge(ai int32, keywordHits int) cand {
	a := &s.b.articles[ai]
	d, model := s.d, s.model
	for _, in := range a.inner {
		if s.nested(in) {
			keywordHits--
		}
	}
	c := cand{article: ai, keywords: keywordHits}
	c.category = s.category != "" && slices.Contains(a.Categories, s.category)
	if len(a.models) > 0 {
		switch {
		case model != "" && slices.Contains(a.models, model):
			c.model = true
		case model != "":
			c.passedOver = otherModel
			return c
		case a.Firmware != nil:
			c.passedOver = modelUnknown
			return c
		}
	}
	if a.Firmware != nil {
		switch {
		case d.Device.Firmware == "" || strings.TrimSpace(d.Device.Firmware) == "":
			c.passedOver = firmwareUnknown
			return c
		case s.firmwareErr != nil:
			c.passedOver = firmwareUnreadable
			return c
		case !a.Firmware.Contains(s.firmware):
			c.passedOver = firmwareOutside
			return c
		}
		c.fw = true
	}
	relevance := min(keywordHits, MaxKeywordHits) * PointsKeyword
	if c.category {
		relevance += PointsCategory
	}
	if relevance < MinRelevance && !(relevance > 0 && c.model) {
		c.passedOver = tooLittle
		return c
	}
	if keywordHits == 0 && !c.model && len(a.Keywords) > 0 {
		// The category alone: every article of it would be suggested, the first by id. An
		// article with keywords needs one of them, or its model, too (a review's finding).
		c.passedOver = tooLittle
		return c
	}
	c.score = relevance
	if c.model {
		c.score += PointsModel
	}
	if c.fw {
		c.score += PointsFirmware
	}
	return c
}

func (s *scoring) isFound(ti int32) bool { return s.found[ti/64]&(1<<(ti%64)) != 0 }

// nested reports whether in was found together with a keyword it lies within: one hit.
func (s *scoring) nested(in innerTerm) bool {
	return s.isFound(in.term) && slices.ContainsFunc(in.within, s.isFound)
}

// passedOver says why c is not suggested; "" when it is suggestible.
func (s *scoring) passedOver(c cand) string {
	a, d := &s.b.articles[c.article], s.d
	switch c.passedOver {
	case otherModel:
		return fmt.Sprintf("model %s is not one of %s", d.Device.Model, strings.Join(a.Models, ", "))
	case modelUnknown:
		return fmt.Sprintf("model unknown: the article is for %s, firmware %s", strings.Join(a.Models, ", "), a.Firmware)
	case firmwareUnknown:
		return fmt.Sprintf("firmware unknown: the article is for firmware %s", a.Firmware)
	case firmwareUnreadable:
		return fmt.Sprintf("firmware %q cannot be compared (%v): the article is for firmware %s", d.Device.Firmware, s.firmwareErr, a.Firmware)
	case firmwareOutside:
		return fmt.Sprintf("firmware %s not in %s", s.firmware, a.Firmware)
	case tooLittle:
		return fmt.Sprintf("too little: %s alone", s.why(c))
	}
	return ""
}

// why says what matched: "category 门锁故障, keywords 指纹/没反应, model TL-X9, firmware 2.3.1
// in >=2.3.0 <2.3.2".
func (s *scoring) why(c cand) string {
	a := &s.b.articles[c.article]
	var parts []string
	if c.category {
		parts = append(parts, "category "+s.category)
	}
	var kws []string
	for i, ti := range a.keywordTerms {
		if s.isFound(ti) && !slices.ContainsFunc(a.inner, func(in innerTerm) bool { return in.term == ti && s.nested(in) }) {
			kws = append(kws, a.keywordText[i])
		}
	}
	switch {
	case len(kws) == 1:
		parts = append(parts, "keyword "+kws[0])
	case len(kws) > maxWhyKeywords:
		parts = append(parts, "keywords "+strings.Join(kws[:maxWhyKeywords], "/")+"/…")
	case len(kws) > 1:
		parts = append(parts, "keywords "+strings.Join(kws, "/"))
	}
	if c.model {
		for i, m := range a.models {
			if m == s.model {
				parts = append(parts, "model "+a.Models[i])
				break
			}
		}
	}
	if c.fw {
		parts = append(parts, fmt.Sprintf("firmware %s in %s", s.firmware, a.Firmware))
	}
	return draft.Clip(strings.Join(parts, ", "), maxWhyRunes)
}

// modelKey is a model name as models are compared: Latin letters lowered, without spaces,
// hyphens and underscores (TL-X9, tl x9 and TLX9 are one model).
func modelKey(m string) string {
	var b strings.Builder
	for i := 0; i < len(m); i++ {
		switch c := m[i]; c {
		case ' ', '\t', '-', '_':
		default:
			b.WriteByte(lowerByte(c))
		}
	}
	return b.String()
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}

// equalFoldASCII reports whether s equals lower, a text with its Latin letters lowered, in
// any case of Latin letters.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerByte(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
