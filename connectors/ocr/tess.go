package ocr

import (
	"context"
	"fmt"
	"image"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/otiai10/gosseract/v2"
)

// Word is one word (for Chinese, usually one character or a run of them) as Tesseract read
// it, with its box in the screenshot's pixels and its confidence, 0–100.
type Word struct {
	Text       string          `json:"text"`
	Box        image.Rectangle `json:"box"`
	Confidence float64         `json:"confidence"`
}

// Line is one line of text: its words, left to right.
type Line struct {
	Text       string          `json:"text"`
	Box        image.Rectangle `json:"box"`
	Confidence float64         `json:"confidence"` // the mean of its words'
	Words      []Word          `json:"words"`
}

// Pool runs Tesseract. A Tesseract client holds one image and its recognition state and
// must not be shared, so the pool keeps a bounded number of them, one per core by default:
// more would only queue on the CPU, and each holds some 100 MiB of models.
type Pool struct {
	langs []string
	// A reading holds a slot; an idle client waits in pool. A slot is free when its client
	// is idle or not made yet, so a waiter takes whichever comes first.
	slots  chan struct{}
	pool   chan *gosseract.Client
	mu     sync.Mutex
	closed bool
}

// NewPool returns a pool of at most size clients (0: one per core) for langs (default
// chi_sim and eng). Clients are made on first use.
func NewPool(size int, langs ...string) *Pool {
	if size < 1 {
		size = runtime.GOMAXPROCS(0)
	}
	if len(langs) == 0 {
		langs = []string{"chi_sim", "eng"}
	}
	return &Pool{langs: langs, slots: make(chan struct{}, size), pool: make(chan *gosseract.Client, size)}
}

// languages is what Tesseract says it has data for, asked once per process: gosseract's
// GetAvailableLanguages builds and tears down a Tesseract instance in C to find its data
// path, and two at once corrupt the C heap (seen: "corrupted size vs. prev_size" when
// connectors were validated in parallel). The data does not change while gongdan runs.
var languages struct {
	sync.Mutex
	have []string
}

func availableLanguages() ([]string, error) {
	languages.Lock()
	defer languages.Unlock()
	if languages.have != nil {
		return languages.have, nil
	}
	have, err := gosseract.GetAvailableLanguages()
	if err != nil {
		return nil, err // not kept: the data may be installed before the next try
	}
	languages.have = have
	return have, nil
}

// Languages reports whether Tesseract has the data for every language the pool reads;
// the error names the missing ones and where Tesseract looked.
func (e *Pool) Languages() error {
	have, err := availableLanguages()
	if err != nil {
		return fmt.Errorf("ocr: Tesseract's language data: %v", err)
	}
	var missing []string
	for _, l := range e.langs {
		found := false
		for _, h := range have {
			found = found || h == l
		}
		if !found {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ocr: Tesseract has no data for %s (it has %s); install tesseract-ocr-%s (make deps)",
			strings.Join(missing, ", "), strings.Join(have, ", "), strings.ReplaceAll(strings.Join(missing, " tesseract-ocr-"), "_", "-"))
	}
	return nil
}

// get takes a slot and its client: an idle one, or a new one when none is idle.
func (e *Pool) get(ctx context.Context) (*gosseract.Client, error) {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case c := <-e.pool:
		return c, nil
	default:
	}
	c := gosseract.NewClient()
	if err := c.SetLanguage(e.langs...); err != nil {
		c.Close()
		<-e.slots
		return nil, err
	}
	// Chinese comes out of Tesseract with a space between characters unless told not to.
	c.SetVariable("preserve_interword_spaces", "1")
	return c, nil
}

// put gives the slot back with its client: kept for the next reading, or closed when it
// broke or the pool is closed.
func (e *Pool) put(c *gosseract.Client, broken bool) {
	e.mu.Lock()
	keep := !broken && !e.closed
	if keep {
		e.pool <- c // never blocks: a client per slot at most
	}
	e.mu.Unlock()
	if !keep {
		c.Close()
	}
	<-e.slots
}

// Close frees the idle clients; a client in use is freed when its reading ends.
func (e *Pool) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	for {
		select {
		case c := <-e.pool:
			c.Close()
		default:
			return
		}
	}
}

// regionsOf reads the regions of a screenshot with client c: each region is cut out of the
// picture's luminance g, made dark on white whatever it was drawn on (binarize), split into
// its lines by a row profile, and each line scaled up when its characters are small and read
// on its own. broken reports a client Tesseract failed in.
//
// Lines are found here, not by Tesseract: a bubble is a column of short lines on a flat
// colour, which a row profile splits exactly; Tesseract's own page layout analysis, made for
// printed pages, dropped whole lines of it (a wrapped 了，一直报警E21 under a line of Chinese
// vanished whatever the segmentation mode).
func regionsOf(ctx context.Context, c *gosseract.Client, g *image.Gray, broken *bool) regionReader {
	return func(r image.Rectangle, how readMode) ([]Line, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// A margin of what the text is drawn on, for binarize to see the background.
		crop := r.Inset(-lineMargin / 2).Intersect(g.Rect)
		if crop.Empty() {
			return nil, nil
		}
		bin := binarize(cropGray(g, crop))
		bands := inkBands(bin, r.Sub(crop.Min).Intersect(bin.Rect))
		if how == readName && len(bands) > 0 {
			// A name is one line, whatever its strokes' gaps.
			all := bands[0]
			for _, b := range bands[1:] {
				all = all.Union(b)
			}
			line, ok, err := readUnsteady(c, bin, all, 1)
			if err != nil {
				*broken = true
				return nil, err
			}
			if !ok {
				return nil, nil
			}
			return []Line{line.at(crop.Min)}, nil
		}
		var lines []Line
		for _, band := range bands {
			// Tesseract's Chinese model reads characters some 30 to 50 pixels tall best:
			// smaller ones (a 720-wide screenshot) are scaled up, larger ones read worse
			// scaled (a name of 36 pixels read right 15 times in 15 as it is, 9 scaled twice).
			factor := 1
			if h := band.Dy(); h < 28 {
				factor = min(3, (32+h-1)/h)
			}
			line, ok, err := readBand(c, bin, band, factor, gosseract.PSM_SINGLE_LINE)
			if err == nil && !ok {
				// Single-line mode returns nothing for some lines (了，一直报警E21: it takes the
				// long 一 for a rule); as a raw line, without its checks, it reads them.
				line, ok, err = readBand(c, bin, band, factor, gosseract.PSM_RAW_LINE)
			}
			if err == nil && ok && !hasCJK(line.Text) && len(line.Words) <= 4 {
				// A short line of Chinese may come out as Latin junk, as names do (嗯嗯 as
				// TNE, 收到 as Wr Fl]): read it as a name is. A line of Latin reads as Latin
				// every way.
				line, ok, err = readUnsteady(c, bin, band, factor)
			}
			if err != nil {
				*broken = true
				return nil, err
			}
			if err == nil && ok {
				line, err = rereadCodes(c, bin, band, factor, line)
			}
			if err != nil {
				*broken = true
				return nil, err
			}
			if ok {
				lines = append(lines, line.at(crop.Min))
			}
		}
		return lines, nil
	}
}

// readBand reads one band of a binarized picture as a line, scaled up by factor, in the page
// segmentation mode psm. The line's boxes are in bin's pixels; ok is false when nothing was read.
func readBand(c *gosseract.Client, bin *image.Gray, band image.Rectangle, factor int, psm gosseract.PageSegMode) (Line, bool, error) {
	line := isolate(bin, band, lineMargin)
	if factor > 1 {
		line = scaleGray(line, factor)
	}
	if err := c.SetImageFromBytes(pgm(line)); err != nil {
		return Line{}, false, fmt.Errorf("ocr: %v", err)
	}
	boxes, err := readLine(c, psm)
	if err != nil {
		return Line{}, false, fmt.Errorf("ocr: %v", err)
	}
	origin := band.Min.Sub(image.Pt(lineMargin, lineMargin))
	for i := range boxes {
		b := boxes[i].Box
		boxes[i].Box = image.Rect(b.Min.X/factor, b.Min.Y/factor, (b.Max.X+factor-1)/factor, (b.Max.Y+factor-1)/factor).Add(origin)
		boxes[i].BlockNum, boxes[i].ParNum, boxes[i].LineNum = 0, 0, 0 // all one line
	}
	ls := linesOf(boxes)
	if len(ls) != 1 {
		return Line{}, false, nil
	}
	return ls[0], true, nil
}

// codeRun is a run of capitals and digits in a word: a serial, a model, a phone number.
var codeRun = regexp.MustCompile(`[A-Z0-9]{5,}`)

// codeCharacters are what a code is read with when it is read again: capitals and digits, and
// the punctuation that sticks to it.
const codeCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:,.;，。：；、"

// rereadCodes reads each word of a line that holds a code with capitals in it again on its
// own, scaled up, with nothing but capitals, digits and punctuation allowed, and keeps that
// reading when it is surer. Read among Chinese characters, a code's Latin letters come out
// wrong now and then (VNCR4DDCXATJ as VNCR4DDCXATIJ, UJDBW485F as UDBW485F, ML81UUHBR as
// ML8LUUHBR) where the word read alone does not. Only words without Chinese characters are
// read so (with them in the crop, the letters-only reading makes letters of them), and a
// reading that changes a code's first or last character or its length by more than one is
// not taken: the crop's ends are where a word read alone goes wrong (E202507559 as
// :202507559). The whole line read with the Latin letters only reads worse: its Chinese
// characters become letters too.
func rereadCodes(c *gosseract.Client, bin *image.Gray, band image.Rectangle, factor int, line Line) (Line, error) {
	changed := false
	words := slices.Clone(line.Words)
	for i, w := range words {
		run := codeRun.FindString(w.Text)
		if run == "" || strings.Trim(run, "0123456789") == "" || hasHan(w.Text) {
			continue // none, digits only (a phone number, which reads right), or with Chinese
		}
		pad := band.Dy() / 4
		box := image.Rect(w.Box.Min.X-pad, band.Min.Y, w.Box.Max.X+pad, band.Max.Y).Intersect(bin.Rect)
		if box.Empty() {
			continue
		}
		if err := c.SetWhitelist(codeCharacters); err != nil {
			return line, fmt.Errorf("ocr: %v", err)
		}
		again, ok, err := readBand(c, bin, box, factor, gosseract.PSM_SINGLE_LINE)
		if err2 := c.SetWhitelist(""); err == nil && err2 != nil {
			err = fmt.Errorf("ocr: %v", err2)
		}
		if err != nil {
			return line, err
		}
		if !ok {
			continue
		}
		newRun := codeRun.FindString(again.Text)
		if newRun == "" || newRun == run || again.Confidence <= w.Confidence || abs(len(newRun)-len(run)) > 1 ||
			newRun[0] != run[0] || newRun[len(newRun)-1] != run[len(run)-1] {
			continue
		}
		words[i].Text = strings.Replace(w.Text, run, newRun, 1)
		words[i].Confidence = again.Confidence
		changed = true
	}
	if !changed {
		return line, nil
	}
	line.Words = words
	line.Text, line.Confidence = textOf(words)
	return line, nil
}

// hasHan reports a Chinese character in s (not only Chinese punctuation, as hasCJK does).
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// at moves a line's boxes by d.
func (l Line) at(d image.Point) Line {
	l.Box = l.Box.Add(d)
	words := make([]Word, len(l.Words))
	for i, w := range l.Words {
		w.Box = w.Box.Add(d)
		words[i] = w
	}
	l.Words = words
	return l
}

// readUnsteady reads a band that Tesseract reads unsteadily: a name label, a short line of
// Chinese. 王磊 came out as =e, as 王磊 and as LK from the same label at three scales and modes
// — so the band is read as it is (scaled by factor), as a line and as a raw line, and taken
// when the two agree; otherwise it is read again scaled up twice and three times as a word
// and as a raw line, and the reading with the most confidence over all of them wins, a
// reading with Chinese characters before one without (the misreads are Latin junk: =e, RR,
// Syne). On wxshot's training part this read 188 names in 200 right where one line read 169.
func readUnsteady(c *gosseract.Client, bin *image.Gray, band image.Rectangle, factor int) (Line, bool, error) {
	type reading struct {
		line Line
		text string
	}
	var readings []reading
	spaces := blanks(bin, band)
	read := func(factor int, psm gosseract.PageSegMode) error {
		l, ok, err := readBand(c, bin, band, factor, psm)
		if err == nil && ok {
			l.Text = nameText(l, spaces)
			readings = append(readings, reading{l, l.Text})
		}
		return err
	}
	for _, p := range []gosseract.PageSegMode{gosseract.PSM_SINGLE_LINE, gosseract.PSM_RAW_LINE} {
		if err := read(factor, p); err != nil {
			return Line{}, false, err
		}
	}
	if len(readings) == 2 && sameName(readings[0].text, readings[1].text) {
		// As a line: it keeps a name's spaces and hyphens.
		return chineseIfSurer(c, bin, band, factor, spaces, readings[0].line)
	}
	for _, f := range []int{2 * factor, 3 * factor} {
		for _, p := range []gosseract.PageSegMode{gosseract.PSM_SINGLE_WORD, gosseract.PSM_RAW_LINE} {
			if err := read(f, p); err != nil {
				return Line{}, false, err
			}
		}
	}
	if len(readings) == 0 {
		return Line{}, false, nil
	}
	votes := map[string]float64{}
	first := map[string]int{}
	for i, r := range readings {
		w := minConfidence(r.line)
		if hasCJK(r.text) {
			w += 100
		}
		votes[squeeze(r.text)] += w
		if _, ok := first[squeeze(r.text)]; !ok {
			first[squeeze(r.text)] = i
		}
	}
	best, weight := "", -1.0
	for t, w := range votes {
		if w > weight || w == weight && t < best {
			best, weight = t, w
		}
	}
	return chineseIfSurer(c, bin, band, factor, spaces, readings[first[best]].line)
}

// chineseIfSurer reads a band read as line once more with Latin letters barred when line has
// no Chinese character: the label may be Chinese that the Latin model took (赵敏 as XR, 嗯嗯
// as TNE), or Latin. It is read as it is and scaled up twice and three times (the scale that
// reads a label right differs from label to label), and the surest Chinese reading wins when
// it is surer on the whole than the Latin one (a Latin name read without its letters comes out
// as a stroke or two, with little confidence). On wxshot's training part this took sender
// exact from 92.8 % to 94.5 %.
func chineseIfSurer(c *gosseract.Client, bin *image.Gray, band image.Rectangle, factor int, spaces []int, line Line) (Line, bool, error) {
	if hasCJK(line.Text) {
		return line, true, nil
	}
	var best Line
	found := false
	for _, f := range []int{factor, 2 * factor, 3 * factor} {
		chinese, ok, err := readWithout(c, bin, band, f, latinLetters)
		if err != nil {
			return Line{}, false, err
		}
		if ok && hasCJK(chinese.Text) && (!found || chinese.Confidence > best.Confidence) {
			best, found = chinese, true
		}
	}
	if found && best.Confidence > line.Confidence {
		best.Text = nameText(best, spaces)
		return best, true, nil
	}
	return line, true, nil
}

// latinLetters are the letters barred when a line is read as Chinese only.
const latinLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// readWithout reads a band as a line with the characters barred barred, then lets them be
// read again.
func readWithout(c *gosseract.Client, bin *image.Gray, band image.Rectangle, factor int, barred string) (Line, bool, error) {
	if err := c.SetBlacklist(barred); err != nil {
		return Line{}, false, fmt.Errorf("ocr: %v", err)
	}
	line, ok, err := readBand(c, bin, band, factor, gosseract.PSM_SINGLE_LINE)
	if err2 := c.SetBlacklist(""); err == nil && err2 != nil {
		err = fmt.Errorf("ocr: %v", err2)
	}
	return line, ok, err
}

// nameText is a name label as read: Latin words apart as Tesseract read them (Jason Li), and
// others apart only where the label has a blank as wide as a space (售后经理 黄) — Tesseract's
// boxes of Chinese characters overlap and gape as they will, so the gaps are the picture's:
// spaces are the x of such blanks.
func nameText(l Line, spaces []int) string {
	var b strings.Builder
	for i, w := range l.Words {
		if i > 0 {
			prev := l.Words[i-1]
			a, z := []rune(prev.Text), []rune(w.Text)
			apart := isLatin(a[len(a)-1]) && isLatin(z[0])
			for _, x := range spaces {
				apart = apart || x > (prev.Box.Min.X+prev.Box.Max.X)/2 && x < (w.Box.Min.X+w.Box.Max.X)/2
			}
			if apart {
				b.WriteByte(' ')
			}
		}
		b.WriteString(w.Text)
	}
	return strings.TrimSpace(b.String())
}

// blanks finds the runs of blank columns in a band as wide as a space (a quarter of its
// height) and gives their middles.
func blanks(bin *image.Gray, band image.Rectangle) []int {
	var out []int
	run := 0
	for x := band.Min.X; x < band.Max.X; x++ {
		ink := false
		for y := band.Min.Y; y < band.Max.Y && !ink; y++ {
			ink = bin.Pix[bin.PixOffset(x, y)] < 160
		}
		if !ink {
			run++
			continue
		}
		if run > 0 && 4*run >= band.Dy() {
			out = append(out, x-run/2)
		}
		run = 0
	}
	return out
}

// sameName reports two readings of a name that differ at most in spaces and punctuation.
func sameName(a, b string) bool {
	return a != "" && squeeze(a) == squeeze(b)
}

// squeeze leaves only a text's letters, digits and Chinese characters.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

func minConfidence(l Line) float64 {
	m := 100.0
	for _, w := range l.Words {
		m = min(m, w.Confidence)
	}
	return m
}

func hasCJK(s string) bool {
	for _, r := range s {
		if r >= 0x2E80 {
			return true
		}
	}
	return false
}

// readLine reads the client's image as one line in the page segmentation mode psm (set as a
// variable: gosseract applies those after Tesseract's Init, which resets a mode set before).
func readLine(c *gosseract.Client, psm gosseract.PageSegMode) ([]gosseract.BoundingBox, error) {
	if err := c.SetVariable("tessedit_pageseg_mode", strconv.Itoa(int(psm))); err != nil {
		return nil, err
	}
	boxes, err := c.GetBoundingBoxesVerbose()
	kept := boxes[:0]
	for _, b := range boxes {
		if strings.TrimSpace(b.Word) != "" {
			kept = append(kept, b)
		}
	}
	return kept, err
}

// isolate copies the band of g onto white with a margin of m all round: the neighbouring
// lines' strokes that a margin would take in (the tops of the next line's characters) are
// left out, as Tesseract reads them as part of the line.
func isolate(g *image.Gray, band image.Rectangle, m int) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, band.Dx()+2*m, band.Dy()+2*m))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := band.Min.Y; y < band.Max.Y; y++ {
		o := out.PixOffset(m, y-band.Min.Y+m)
		copy(out.Pix[o:o+band.Dx()], g.Pix[g.PixOffset(band.Min.X, y):g.PixOffset(band.Max.X, y)])
	}
	return out
}

// lineMargin is the white kept around a line for Tesseract, which reads a line poorly when
// its strokes touch the picture's edge.
const lineMargin = 12

// inkBands finds the lines of text in r of a binarized picture: runs of rows with ink, split
// where a few rows have none, each trimmed to the columns with ink.
func inkBands(g *image.Gray, r image.Rectangle) []image.Rectangle {
	const (
		ink     = 160 // darker than this is ink
		minGap  = 3   // blank rows that end a line
		minLine = 8   // rows a line needs (less is a speck or a rule)
	)
	rowInk := func(y int) (int, int, bool) {
		row := g.Pix[g.PixOffset(r.Min.X, y):g.PixOffset(r.Max.X, y)]
		l, rr := -1, -1
		for x, v := range row {
			if v < ink {
				if l < 0 {
					l = x
				}
				rr = x
			}
		}
		return r.Min.X + l, r.Min.X + rr + 1, l >= 0
	}
	var bands []image.Rectangle
	var cur image.Rectangle
	open, blank := false, 0
	closeBand := func() {
		if open && cur.Dy() >= minLine {
			bands = append(bands, cur)
		}
		open = false
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		l, rr, any := rowInk(y)
		if !any {
			blank++
			if open && blank >= minGap {
				closeBand()
			}
			continue
		}
		blank = 0
		if !open {
			cur, open = image.Rect(l, y, rr, y+1), true
			continue
		}
		cur = cur.Union(image.Rect(l, y, rr, y+1))
	}
	closeBand()
	return bands
}

// pgm encodes g as a binary PGM, which Leptonica reads without decompressing anything.
func pgm(g *image.Gray) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	head := "P5\n" + strconv.Itoa(w) + " " + strconv.Itoa(h) + "\n255\n"
	b := make([]byte, 0, len(head)+w*h)
	b = append(b, head...)
	for y := 0; y < h; y++ {
		b = append(b, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return b
}

// linesOf groups Tesseract's words into lines by their block, paragraph and line numbers.
func linesOf(boxes []gosseract.BoundingBox) []Line {
	var lines []Line
	type key struct{ b, p, l int }
	at := map[key]int{}
	for _, bx := range boxes {
		text := strings.TrimSpace(bx.Word)
		if text == "" {
			continue
		}
		k := key{bx.BlockNum, bx.ParNum, bx.LineNum}
		i, ok := at[k]
		if !ok {
			i = len(lines)
			at[k] = i
			lines = append(lines, Line{Box: bx.Box})
		}
		l := &lines[i]
		l.Words = append(l.Words, Word{Text: text, Box: bx.Box, Confidence: bx.Confidence})
		l.Box = l.Box.Union(bx.Box)
	}
	for i := range lines {
		lines[i].Text, lines[i].Confidence = textOf(lines[i].Words)
	}
	return lines
}

// textOf is a line's text made of its words, and its confidence, their mean.
func textOf(words []Word) (string, float64) {
	var sum float64
	var b strings.Builder
	for j, w := range words {
		if j > 0 && needsSpace(words[j-1].Text, w.Text) {
			b.WriteByte(' ')
		}
		b.WriteString(w.Text)
		sum += w.Confidence
	}
	return b.String(), sum / float64(max(1, len(words)))
}

// needsSpace tells whether two words read as two words: between Latin letters or digits,
// yes; next to Chinese, no (Chinese has no spaces; Tesseract splits it into characters).
func needsSpace(a, b string) bool {
	last, first := []rune(a), []rune(b)
	x, y := last[len(last)-1], first[0]
	return isLatin(x) && isLatin(y)
}

func isLatin(r rune) bool {
	return r < 0x2E80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(".,:;!?%-+/#@", r))
}
