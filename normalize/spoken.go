package normalize

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// SpokenSpan is one stretch of a transcript that Spoken rewrote: Text as said, Value as written.
// Start and End are byte offsets in Spoken's input, OutStart and OutEnd in its output, so that
// Text is input[Start:End] and Value is output[OutStart:OutEnd].
type SpokenSpan struct {
	Start    int    `json:"start"`
	End      int    `json:"end"`
	OutStart int    `json:"out_start"`
	OutEnd   int    `json:"out_end"`
	Text     string `json:"text"`
	Value    string `json:"value"`
}

// SpokenToDigits is Spoken without the spans.
func SpokenToDigits(text string) string {
	out, _ := Spoken(text)
	return out
}

// Spoken rewrites the numbers an ASR transcript spells out in Chinese as ASCII digits, so that
// ExtractPhones, ExtractDeviceIDs and ExtractAddress can read them, and says which spans it
// rewrote. Everything else is left byte for byte as it was.
//
// What it rewrites:
//   - digit strings read one by one, with 幺 for 1, 两 for 2 and 洞 or 〇 for 0 as well as the
//     ordinary and the capital numerals: 一八六幺二三四五六七八 → 18612345678. Groups of two
//     digits or more split by spaces, a comma or a 顿号, ASCII digits among them, and numerals
//     said one by one with a space between, are one string when together they have at most 12
//     digits ("幺三九，幺零零八，六六七七", "138 零零 1234", "一 八 六"); longer, they stay groups;
//   - numbers read as quantities: 四百零六 → 406, 一千零二 → 1002, 二十三 → 23, 三百五 → 350,
//     一万二 → 12000;
//   - codes: Latin letters (spelled "s n" or written SN; up to four are upper-cased) with the
//     digits after them, and 杠, 横杠 or 减 between parts as '-': SN零四二七杠零零幺九 → SN0427-0019.
//     点 is '.' only in a code with letters or with two of them (v二点三点一 → V2.3.1), since a
//     lone 点 is as often a time (三点零五).
//
// What it must never do is turn words into numbers. So a digit string needs three numerals, or
// two different ones with 幺 or 洞 among them (幺五, not 洞洞); one or two numerals become digits only before 号, 楼, 栋, 幢, 单元, 层,
// 室, 车间, 月 or 日 (一楼 → 1楼, 三单元 → 3单元, but 一栋楼 and 三层楼 are counts and stay), or
// glued to a code's letters (E二 → E2); a lone 十 only before those or 点 and 时; 两 on its own
// is always a count (两个人, 两楼). Ranges (二三十, 三四百, 两三天), words and idioms with
// numerals in them (一下, 一些, 一点, 十分, 万一, 统一, 不一样, 十万火急, 三三两两) and numbers
// glued to ASCII digits stay as said. An ordinal of one numeral stays (第三次), one of a
// quantity does not (第一百二十次 → 第120次).
//
// Known limits: groups are joined by their count alone, so two room numbers said with a comma
// (二零一，二零二) come out as one string, 201202; 二百五 is read 250, never the insult.
func Spoken(text string) (string, []SpokenSpan) {
	scratch := spokenScratch.Get().(*spokenRewriter)
	s := spokenRewriter{text: text, cells: scratch.cells[:0], items: scratch.items[:0], outs: scratch.outs[:0]}
	defer func() {
		scratch.cells, scratch.items, scratch.outs = s.cells[:0], s.items[:0], s.outs[:0]
		spokenScratch.Put(scratch)
	}()
	boundary := 0 // just after the last rune that cannot border a spoken number
	for i := 0; i < len(text); {
		if b := text[i]; b < utf8.RuneSelf {
			if !chainableASCII(b) {
				boundary = i + 1
			}
			i++
			continue
		}
		r, w := decodeRune(text, i)
		if !isSpokenNumeral(r) {
			if !chainable(r) {
				boundary = i + w
			}
			i += w
			continue
		}
		end := i + w
		for end < len(text) {
			r, w := decodeRune(text, end)
			if !chainable(r) {
				break
			}
			end += w
		}
		s.window(boundary, end)
		i, boundary = end, end
	}
	if s.spans == nil {
		return text, nil
	}
	s.out.WriteString(text[s.copied:])
	out := s.out.String()
	for i := range s.spans {
		s.spans[i].Value = out[s.spans[i].OutStart:s.spans[i].OutEnd]
	}
	return out, s.spans
}

// SpokenSource maps the byte range [start, end) of Spoken's output to its input, for evidence:
// a phone found in the output is traced back to the words the caller said. A bound inside a
// rewritten span moves to that span's edge.
func SpokenSource(spans []SpokenSpan, start, end int) (int, int) {
	return spokenSourceOffset(spans, start, false), spokenSourceOffset(spans, end, true)
}

// spokenSourceOffset maps one bound: an end at a span's start stays before the span, a bound
// inside a span moves out to the edge on its side.
func spokenSourceOffset(spans []SpokenSpan, off int, isEnd bool) int {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].OutEnd > off })
	shift := 0 // input bytes less output bytes before off
	if i > 0 {
		shift = spans[i-1].End - spans[i-1].OutEnd
	}
	switch {
	case i == len(spans) || off < spans[i].OutStart || off == spans[i].OutStart && isEnd:
		return off + shift
	case isEnd:
		return spans[i].End
	default:
		return spans[i].Start
	}
}

// SpokenDeviceIDs finds device ids in a transcript: ExtractDeviceIDs on Spoken's output, with
// each match's offsets and Text in the transcript as said and Value as the pattern took it.
//
// Callers rarely say the separator between a serial's letters and its digits: SN零四二七杠零零幺九
// is SN0427-0019 as said, and may be SN-0427-0019 on the nameplate. Where no pattern matches a
// rewritten code as said, it is tried once more with a '-' after its leading letters; the
// patterns, written by whoever knows the serials, decide. Nothing else is ever added.
func SpokenDeviceIDs(text string, patterns []*regexp.Regexp) []Match {
	out, spans := Spoken(text)
	return SpokenDeviceIDsIn(text, out, spans, patterns)
}

// SpokenDeviceIDsIn is SpokenDeviceIDs for a caller that has Spoken's out and spans of text
// already (it reads phone numbers and addresses from them too): Spoken runs once.
func SpokenDeviceIDsIn(text, out string, spans []SpokenSpan, patterns []*regexp.Regexp) []Match {
	found := ExtractDeviceIDs(out, patterns)
	result := make([]Match, 0, len(found))
	for _, m := range found {
		start, end := SpokenSource(spans, m.Start, m.End)
		result = append(result, newMatch(text, start, end, m.Value))
	}
	next := 0 // found and spans are both in order: found[next] is the first match not before sp
	for _, sp := range spans {
		seam := sp.OutStart + letterDigitSeam(sp.Value)
		if seam == sp.OutStart {
			continue
		}
		for next < len(found) && found[next].End <= seam {
			next++
		}
		if next < len(found) && found[next].Start < seam {
			continue // a pattern took the code as said
		}
		// Patterns run on the span and some context around it, so that a transcript full of
		// codes costs time in proportion to its length.
		lo, hi := spokenContext(out, sp.OutStart, sp.OutEnd)
		variant := out[lo:seam] + "-" + out[seam:hi]
		for _, m := range ExtractDeviceIDs(variant, patterns) {
			if lo+m.Start >= seam || lo+m.End <= seam+1 {
				continue // found without the added '-': not this span's business
			}
			start, end := SpokenSource(spans, lo+m.Start, lo+m.End-1)
			result = append(result, newMatch(text, start, end, m.Value))
		}
	}
	return dropOverlaps(result)
}

// spokenContext widens [start, end) of text by up to 64 bytes each side, to rune boundaries,
// and then past any ASCII code it cuts into: a pattern must see whether its match is glued to
// more letters or digits.
func spokenContext(text string, start, end int) (int, int) {
	lo, hi := max(0, start-64), min(len(text), end+64)
	for lo > 0 && (!utf8.RuneStart(text[lo]) || isASCIIAlnum(text[lo-1]) || isJoiner(text[lo-1])) {
		lo--
	}
	for hi < len(text) && (!utf8.RuneStart(text[hi]) || isASCIIAlnum(text[hi]) || isJoiner(text[hi])) {
		hi++
	}
	return lo, hi
}

// letterDigitSeam is the length of the ASCII letters that start a code when a digit follows
// them, else 0.
func letterDigitSeam(code string) int {
	i := 0
	for i < len(code) && isASCIILetter(code[i]) {
		i++
	}
	if i == len(code) || !isASCIIDigit(code[i]) {
		return 0
	}
	return i
}

// spokenRewriter holds Spoken's output while it is being built. Work happens in windows: a run
// of runes that can make up a spoken number or code (numerals, ASCII letters and digits,
// separators, connectors) around at least one numeral. Text between windows is copied as is.
type spokenRewriter struct {
	text   string
	cells  []spokenCell // the current window, one cell a rune until cells are rewritten
	items  []spokenItem
	outs   []byte // what rewritten cells stand for
	out    strings.Builder
	copied int // text[:copied] is in out
	spans  []SpokenSpan
}

// spokenScratch keeps the cells and items of earlier calls for reuse: a transcript has many
// short windows, and growing these slices anew for each call was a quarter of the time.
var spokenScratch = sync.Pool{New: func() any { return new(spokenRewriter) }}

// spokenCell is a rune of the input, or the output that replaces several. It holds no pointer,
// so that moving cells costs no write barriers.
type spokenCell struct {
	start, end  int  // the input this cell stands for
	out, outEnd int  // in a rewritten cell, its output in outs
	r           rune // the input rune; 0 in a rewritten cell
	frozen      bool // a numeral that is part of a word, or of a quantity that is not a number
	changed     bool
	dropped     bool // part of the input of a rewritten cell before it
}

// appendCell appends what the output has for cells[k] to outs.
func (s *spokenRewriter) appendCell(k int) {
	if c := s.cells[k]; c.changed {
		s.outs = append(s.outs, s.outs[c.out:c.outEnd]...)
	} else {
		s.outs = append(s.outs, s.text[c.start:c.end]...)
	}
}

func (s *spokenRewriter) window(start, end int) {
	s.cells = s.cells[:0]
	for i := start; i < end; {
		r, w := decodeRune(s.text, i)
		s.cells = append(s.cells, spokenCell{start: i, end: i + w, r: r})
		i += w
	}
	s.freezeWords()
	if s.quantities() {
		s.compact()
	}
	s.codes()
	s.emit()
}

func (s *spokenRewriter) emit() {
	for _, c := range s.cells {
		if !c.changed || c.dropped {
			continue
		}
		text := s.outs[c.out:c.outEnd]
		if n := len(s.spans); n > 0 && s.spans[n-1].End == c.start {
			sp := &s.spans[n-1]
			s.out.Write(text)
			sp.End, sp.Text = c.end, s.text[sp.Start:c.end]
			sp.OutEnd = s.out.Len()
		} else {
			if s.spans == nil {
				s.out.Grow(len(s.text))
			}
			s.out.WriteString(s.text[s.copied:c.start])
			outStart := s.out.Len()
			s.out.Write(text)
			s.spans = append(s.spans, SpokenSpan{
				Start: c.start, End: c.end, OutStart: outStart, OutEnd: s.out.Len(),
				Text: s.text[c.start:c.end],
			}) // Value is set once the output is whole
		}
		s.copied = c.end
	}
}

// replace puts one rewritten cell, whose output is outs[out:], in place of cells[from:to]. The
// others are marked dropped rather than removed, so that indices into cells stay valid.
func (s *spokenRewriter) replace(from, to, out int) {
	s.cells[from] = spokenCell{start: s.cells[from].start, end: s.cells[to-1].end, out: out, outEnd: len(s.outs), changed: true}
	for k := from + 1; k < to; k++ {
		s.cells[k].dropped = true
	}
}

// compact removes dropped cells.
func (s *spokenRewriter) compact() {
	kept := s.cells[:0]
	for _, c := range s.cells {
		if !c.dropped {
			kept = append(kept, c)
		}
	}
	s.cells = kept
}

// spokenWords are ordinary words and idioms with a numeral in them. Their numerals stay as said,
// unless the word's numerals run on into more numerals (三十分钟 is 30 minutes, 一万一 is 11000).
var spokenWords = []string{
	"一下", "一些", "一点", "一样", "一直", "一起", "一定", "一般", "一会", "一旦", "一切", "一致",
	"一边", "一向", "一再", "一律", "一并", "一番", "一阵", "一概", "一同", "一时", "一味", "一口气",
	"一一", "统一", "万一", "唯一", "同一", "不一", "之一", "单一", "逐一", "专一", "划一", "如一",
	"十分", "十足", "十万火急", "万万", "千万", "一五一十", "一模一样", "一心一意", "三心二意",
	"接二连三", "不三不四", "七七八八", "三三两两", "乱七八糟", "七上八下", "十之八九", "九九归一",
	"五十步笑百步", "一清二楚", "独一无二",
}

type spokenWordAt struct {
	word   string
	offset int // of the indexed rune in word, in bytes
}

// spokenWordIndex lists, by numeralSlot, the spokenWords a numeral occurs in.
var spokenWordIndex = func() (index [14][]spokenWordAt) {
	for _, w := range spokenWords {
		for off, r := range w {
			if isSpokenNumeral(r) {
				index[numeralSlot(r)] = append(index[numeralSlot(r)], spokenWordAt{w, off})
			}
		}
	}
	return index
}()

// numeralSlot numbers the numerals by value: 0 to 9 for digits, 10 to 13 for 十, 百, 千, 万.
func numeralSlot(r rune) int {
	if d, ok := spokenDigit(r); ok {
		return d
	}
	switch spokenUnit(r) {
	case 10:
		return 10
	case 100:
		return 11
	case 1000:
		return 12
	}
	return 13
}

func (s *spokenRewriter) freezeWords() {
	for k := range s.cells {
		c := &s.cells[k]
		if c.frozen || !isSpokenNumeral(c.r) {
			continue
		}
		for _, at := range spokenWordIndex[numeralSlot(c.r)] {
			from := c.start - at.offset
			to := from + len(at.word)
			// The last bytes first: a numeral's words mostly share its bytes, which a call's
			// many numerals made the whole comparison find out again and again.
			if from < 0 || to > len(s.text) || s.text[to-1] != at.word[len(at.word)-1] || s.text[from:to] != at.word {
				continue
			}
			first, _ := utf8.DecodeRuneInString(at.word)
			last, _ := utf8.DecodeLastRuneInString(at.word)
			if isSpokenNumeral(first) && isSpokenNumeral(runeBefore(s.text, from)) ||
				isSpokenNumeral(last) && isSpokenNumeral(runeAt(s.text, to)) {
				continue
			}
			// Cells are in input order: freeze those of the word, around k.
			for j := k; j >= 0 && s.cells[j].start >= from; j-- {
				s.cells[j].frozen = true
			}
			for j := k + 1; j < len(s.cells) && s.cells[j].start < to; j++ {
				s.cells[j].frozen = true
			}
			break
		}
	}
}

// quantities rewrites runs of numerals with a unit (十, 百, 千, 万) that read as one number, and
// freezes the runs that do not (二三十, 九九八十一), so that their digits are not read one by one.
// It reports whether it rewrote any.
func (s *spokenRewriter) quantities() (rewrote bool) {
	var runes [16]rune
	for k := 0; k < len(s.cells); k++ {
		if !s.numeralCell(k) {
			continue
		}
		j, hasUnit := k, false
		for j < len(s.cells) && s.numeralCell(j) {
			hasUnit = hasUnit || spokenUnit(s.cells[j].r) != 0
			j++
		}
		if !hasUnit {
			k = j - 1
			continue
		}
		rs := runes[:0]
		for _, c := range s.cells[k:j] {
			rs = append(rs, c.r)
		}
		start, end := s.cells[k].start, s.cells[j-1].end
		value, ok := parseQuantity(rs)
		if ok && len(rs) == 1 { // a lone 十
			ok = addressUnitAt(s.text, end) || hasPrefixAny(s.text[end:], "点", "时")
		}
		if !ok || isASCIIDigitRune(runeBefore(s.text, start)) || isASCIIDigitRune(runeAt(s.text, end)) {
			for ; k < j; k++ {
				s.cells[k].frozen = true
			}
			k--
			continue
		}
		out := len(s.outs)
		s.outs = strconv.AppendUint(s.outs, value, 10)
		s.replace(k, j, out)
		k, rewrote = j-1, true
	}
	return rewrote
}

func (s *spokenRewriter) numeralCell(k int) bool {
	c := s.cells[k]
	return !c.frozen && c.r != 0 && isSpokenNumeral(c.r)
}

// parseQuantity reads numerals said as one quantity (四百零六, 一千零二十, 十五, 三百五, 一万二,
// 两千) and reports false for anything else: a range (二三十), a digit string with a unit in it,
// 两 anywhere but before 百, 千 or 万, 幺 or 洞 (which belong to digit strings).
func parseQuantity(rs []rune) (uint64, bool) {
	var high, section uint64 // high is the part before 万
	var prevUnit uint64      // the last unit read in this section; 0 before any
	pending := -1            // a digit waiting for its unit
	liang, zero, started, afterWan := false, false, false, false
	// flush adds the pending digit at the end of a section (a 万 or the end of the number).
	flush := func(wan bool) bool {
		if pending < 0 {
			return !zero // a trailing 零 says nothing
		}
		d := uint64(pending)
		switch {
		case liang && !(wan && prevUnit == 0 && !zero):
			return false
		case zero: // 四百零六
			if prevUnit <= 10 {
				return false
			}
			section += d
		case prevUnit <= 10: // 二十三, or a digit before 万
			section += d
		default: // 三百五 is 350
			section += d * prevUnit / 10
		}
		pending, liang = -1, false
		return true
	}
	for _, r := range rs {
		if d, ok := spokenDigit(r); ok {
			switch {
			case r == '幺' || r == '洞' || pending >= 0:
				return 0, false
			case d == 0:
				if prevUnit == 0 || zero {
					return 0, false
				}
				zero = true
			default:
				pending, liang, started = d, r == '两', true
			}
			continue
		}
		unit := uint64(spokenUnit(r))
		if unit == 10000 {
			if afterWan || !flush(true) || section == 0 {
				return 0, false
			}
			high, section, prevUnit, zero, afterWan = section*10000, 0, 10000, false, true
			continue
		}
		if pending < 0 {
			// A bare 十 starts a number (十五) or follows a 零 (一千零十).
			if unit != 10 || started && !zero {
				return 0, false
			}
			pending = 1
		} else if liang && unit == 10 {
			return 0, false
		}
		if prevUnit != 0 {
			// Units go down one step at a time; 零 stands for the steps skipped.
			if zero && unit*10 >= prevUnit || !zero && unit*10 != prevUnit {
				return 0, false
			}
		}
		section += uint64(pending) * unit
		prevUnit, pending, liang, zero, started = unit, -1, false, false, true
	}
	if !flush(false) {
		return 0, false
	}
	return high + section, true
}

// spokenItem is a run of digits (spoken or ASCII) or of ASCII letters in a window, with the link
// to the item after it.
type spokenItem struct {
	from, to int // cells
	letters  bool
	n        int // digits or letters
	group    int // digits in the item, or in the numerals said one by one (一 八 六) it is one of
	spoken   int // spoken numerals among the digits
	liang    bool
	link     byte // to the next item: 0 none, 'g' glued or only spaces, 's' separator, '-' or '.'
}

// codes rewrites digit strings and codes: items joined by links into chains, each chain
// rewritten whole or not at all.
func (s *spokenRewriter) codes() {
	s.items = s.items[:0]
	for k := 0; k < len(s.cells); {
		c := s.cells[k]
		switch {
		case s.isDigitCell(k):
			it := spokenItem{from: k}
			for ; k < len(s.cells) && s.isDigitCell(k); k++ {
				switch d := s.cells[k]; {
				case d.r == 0:
					it.n += d.outEnd - d.out
				case isASCIIDigitRune(d.r):
					it.n++
				default:
					it.n++
					it.spoken++
					it.liang = it.liang || d.r == '两'
				}
			}
			it.to = k
			s.items = append(s.items, it)
		case c.r < utf8.RuneSelf && isASCIILetter(byte(c.r)) && c.r != 0:
			it := spokenItem{from: k, letters: true}
			for ; k < len(s.cells) && s.cells[k].r < utf8.RuneSelf && s.cells[k].r != 0 && isASCIILetter(byte(s.cells[k].r)); k++ {
				it.n++
			}
			it.to = k
			s.items = append(s.items, it)
		default:
			k++
		}
	}
	for i := 0; i < len(s.items); {
		j := i + 1
		for j < len(s.items) && s.saidOneByOne(&s.items[j-1], &s.items[j]) {
			j++
		}
		for k := i; k < j; k++ {
			s.items[k].group = s.items[k].n
			if j-i > 1 {
				s.items[k].group = j - i
			}
		}
		i = j
	}
	for i := 0; i+1 < len(s.items); i++ {
		s.items[i].link = s.linkBetween(&s.items[i], &s.items[i+1])
	}
	for start := 0; start < len(s.items); {
		end := start + 1
		for end < len(s.items) && s.items[end-1].link != 0 {
			end++
		}
		s.chain(s.items[start:end])
		start = end
	}
}

func (s *spokenRewriter) isDigitCell(k int) bool {
	c := s.cells[k]
	if c.r == 0 {
		return c.outEnd > c.out && isASCIIDigit(s.outs[c.out])
	}
	if isASCIIDigitRune(c.r) {
		return true
	}
	_, ok := spokenDigit(c.r)
	return ok && !c.frozen
}

// linkBetween says how two neighbouring items are joined, from the cells between them.
func (s *spokenRewriter) linkBetween(a, b *spokenItem) byte {
	gap := s.cells[a.to:b.from]
	if !b.letters && s.wordBound(b) {
		return 0
	}
	spaces, commas, con := 0, 0, byte(0)
	for k := 0; k < len(gap); k++ {
		switch r := gap[k].r; {
		case r == ' ' || r == '\t' || r == '　':
			spaces++
		case r == '，' || r == ',' || r == '、':
			commas++
		case con == 0 && (r == '杠' || r == '减' || r == '-'):
			con = '-'
		case con == 0 && r == '横' && k+1 < len(gap) && gap[k+1].r == '杠':
			con = '-'
			k++
		case con == 0 && (r == '点' || r == '.'):
			con = '.'
		default:
			return 0
		}
	}
	switch {
	case con != 0:
		if commas > 0 || spaces > 2 {
			return 0
		}
		return con
	case len(gap) == 0:
		return 'g' // letters glued to digits
	case a.letters && b.letters:
		// Letters spelled one by one: "s n".
		if a.n == 1 && b.n == 1 && spaces == 1 && commas == 0 {
			return 'g'
		}
	case a.letters:
		// A short prefix, a space and digits: "SN 零四二七", not "PLC 三号".
		if a.n <= 4 && b.spoken > 0 && b.group >= 2 && spaces == 1 && commas == 0 {
			return 'g'
		}
	case !b.letters:
		// Groups of a digit string, each of two digits or more. Numerals said one by one count
		// as one group, so that a second pass, which finds their digits joined, links the same.
		if s.saidOneByOne(a, b) || a.group >= 2 && b.group >= 2 && commas <= 1 && spaces <= 3 {
			return 's'
		}
	}
	return 0
}

// saidOneByOne reports whether a and b are single numerals with a space between (一 八).
func (s *spokenRewriter) saidOneByOne(a, b *spokenItem) bool {
	return !a.letters && !b.letters && a.n == 1 && a.spoken == 1 && b.n == 1 && b.spoken == 1 &&
		b.from == a.to+1 && s.cells[a.to].r == ' ' && !s.wordBound(b)
}

// wordBound reports whether a digit item of one or two digits is glued to the word after it
// (一个, 三次, 两天): then it is a count, not part of a number.
func (s *spokenRewriter) wordBound(it *spokenItem) bool {
	if it.n > 2 {
		return false
	}
	end := s.cells[it.to-1].end
	r := runeAt(s.text, end)
	// A numeral after the item is one frozen in a word (幺五一下); 杠, 点 and the like join parts.
	return unicode.Is(unicode.Han, r) && (isSpokenNumeral(r) || !chainable(r)) && !addressUnitAt(s.text, end)
}

func (s *spokenRewriter) chain(items []spokenItem) {
	// A lone 点 is as often a time (三点零五) as a decimal point: split there unless the chain
	// is a code with letters or a version with two of them.
	points, letters := 0, false
	for i, it := range items {
		letters = letters || it.letters
		if i < len(items)-1 && it.link == '.' {
			points++
		}
	}
	if points > 0 && points < 2 && !letters {
		start := 0
		for i := range items {
			if i == len(items)-1 || items[i].link == '.' {
				part := items[start : i+1]
				part[len(part)-1].link = 0
				s.chain(part)
				start = i + 1
			}
		}
		return
	}
	if !s.qualifies(items) {
		return
	}
	out := len(s.outs)
	blockDigits := 0 // in the run of digit items joined by separators that starts at i
	for i, it := range items {
		if blockDigits == 0 {
			for j := i; j < len(items) && !items[j].letters; j++ {
				blockDigits += items[j].n
				if items[j].link != 's' {
					break
				}
			}
		}
		for k := it.from; k < it.to; k++ {
			c := s.cells[k]
			if d, ok := spokenDigit(c.r); ok {
				s.outs = append(s.outs, byte('0'+d))
			} else if it.letters && it.n <= 4 && c.r >= 'a' && c.r <= 'z' {
				s.outs = append(s.outs, byte(c.r-'a'+'A'))
			} else {
				s.appendCell(k)
			}
		}
		if i == len(items)-1 {
			break
		}
		switch it.link {
		case '-', '.':
			s.outs = append(s.outs, it.link)
		case 's':
			if blockDigits > 12 {
				for k := it.to; k < items[i+1].from; k++ {
					s.appendCell(k)
				}
			}
		}
		if it.letters || it.link != 's' {
			blockDigits = 0
		}
	}
	s.replace(items[0].from, items[len(items)-1].to, out)
}

// qualifies reports whether a chain of items is a number or code said aloud rather than
// numerals in ordinary words.
func (s *spokenRewriter) qualifies(items []spokenItem) bool {
	digits, spoken, liang, letters, links := 0, 0, false, false, false
	for i, it := range items {
		if it.letters {
			letters = true
			continue
		}
		digits += it.n
		spoken += it.spoken
		liang = liang || it.liang
		if i < len(items)-1 && (it.link == '-' || it.link == '.') {
			links = true
		}
	}
	switch {
	case spoken == 0:
		return false
	case letters:
		return true
	case links:
		return digits >= 3
	case liang: // 三三两两 and the like; 两 is rare in digit strings
		return digits >= 5
	case digits >= 3:
		return true
	case len(items) > 1:
		return false
	}
	it := items[0]
	cells := s.cells[it.from:it.to]
	end := cells[len(cells)-1].end
	if it.n == 2 && it.spoken == 2 && cells[0].r != cells[1].r && (isYaoDong(cells[0].r) || isYaoDong(cells[1].r)) {
		return !s.wordBound(&it) || addressUnitAt(s.text, end)
	}
	if !addressUnitAt(s.text, end) || hasPrefixAny(s.text[end:], "栋楼", "幢楼", "层楼") {
		return false
	}
	switch {
	case it.n == 1 && it.spoken == 1:
		return cells[0].r != '两'
	case it.n == 2 && it.spoken == 2:
		return isZeroLike(cells[0].r) || isZeroLike(cells[1].r) || isYaoDong(cells[0].r)
	}
	return false
}

func isYaoDong(r rune) bool     { return r == '幺' || r == '洞' }
func isZeroLike(r rune) bool    { return r == '零' || r == '〇' || r == '洞' }
func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func isASCIIDigitRune(r rune) bool { return r >= '0' && r <= '9' }

// addressUnitAt reports whether text[i:] starts with a word that a numeral before it numbers:
// 号, 楼, 栋, 幢, 单元, 层, 室, 车间, 月, 日.
func addressUnitAt(text string, i int) bool {
	return hasPrefixAny(text[i:], "号", "楼", "栋", "幢", "单元", "层", "室", "车间", "月", "日")
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func runeAt(text string, i int) rune {
	if i >= len(text) {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return r
}

func runeBefore(text string, i int) rune {
	if i <= 0 {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return r
}

// spokenDigit is the digit a numeral stands for: the ordinary and the capital numerals, and
// 幺 (1), 两 (2), 洞 and 〇 (0) as digit strings are read.
func spokenDigit(r rune) (int, bool) {
	switch r {
	case '零', '〇', '洞':
		return 0, true
	case '一', '壹', '幺':
		return 1, true
	case '二', '贰', '两':
		return 2, true
	case '三', '叁':
		return 3, true
	case '四', '肆':
		return 4, true
	case '五', '伍':
		return 5, true
	case '六', '陆':
		return 6, true
	case '七', '柒':
		return 7, true
	case '八', '捌':
		return 8, true
	case '九', '玖':
		return 9, true
	}
	return 0, false
}

func spokenUnit(r rune) int {
	switch r {
	case '十', '拾':
		return 10
	case '百', '佰':
		return 100
	case '千', '仟':
		return 1000
	case '万':
		return 10000
	}
	return 0
}

// isSpokenNumeral reports whether r is a numeral Spoken reads: a digit or a unit.
func isSpokenNumeral(r rune) bool {
	return r < spokenNumeralLimit && spokenNumerals[r>>6]&(1<<(r&63)) != 0
}

// spokenNumerals has a bit set for each numeral below spokenNumeralLimit (all of them): a
// transcript is mostly runes that are not, and this says so in one load.
const spokenNumeralLimit = 0xA000

var spokenNumerals = func() (bits [spokenNumeralLimit / 64]uint64) {
	for r := rune(0); r < spokenNumeralLimit; r++ {
		if _, ok := spokenDigit(r); ok || spokenUnit(r) != 0 {
			bits[r>>6] |= 1 << (r & 63)
		}
	}
	return bits
}()

// decodeRune is utf8.DecodeRuneInString(text[i:]) with a fast path for the three-byte
// sequences that Chinese text and its punctuation are made of (U+1000 to U+FFFF but the
// surrogates, whose lead byte ED needs a closer look, as E0 does).
func decodeRune(text string, i int) (rune, int) {
	if b := text[i]; b >= 0xE1 && b <= 0xEF && b != 0xED && i+2 < len(text) {
		b1, b2 := text[i+1], text[i+2]
		if b1&0xC0 == 0x80 && b2&0xC0 == 0x80 {
			return rune(b&0x0F)<<12 | rune(b1&0x3F)<<6 | rune(b2&0x3F), 3
		}
	}
	return utf8.DecodeRuneInString(text[i:])
}

// chainable reports whether r can be part of a spoken number or code or sit between its parts.
func chainable(r rune) bool {
	if r < utf8.RuneSelf {
		return chainableASCII(byte(r))
	}
	switch r {
	case '，', '、', '　', '杠', '横', '减', '点':
		return true
	}
	return isSpokenNumeral(r)
}

func chainableASCII(b byte) bool {
	return isASCIIAlnum(b) || b == ' ' || b == '\t' || b == ',' || b == '-' || b == '.'
}
