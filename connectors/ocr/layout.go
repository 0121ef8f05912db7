package ocr

import (
	"encoding/json"
	"image"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Message is one chat message read off a screenshot.
type Message struct {
	// Sender is the name shown above the bubble; empty on the right, where the phone's owner
	// writes (WeChat shows no name there).
	Sender string `json:"sender,omitempty"`
	// Side is left (someone else) or right (the phone's owner).
	Side string `json:"side"`
	// Time is the time separator above the message, resolved against the moment of the
	// screenshot; nil when none is in the picture above it. TimeText is the separator as read.
	Time     *time.Time `json:"time,omitempty"`
	TimeText string     `json:"time_text,omitempty"`
	// Text is the bubble's lines joined.
	Text string `json:"text"`
	// Confidence is the lowest of its lines' (Tesseract's, 0–100).
	Confidence float64 `json:"confidence"`
	// Box is the bubble's text in the screenshot's pixels.
	Box Box `json:"box"`
}

// Box is a rectangle of a screenshot, in pixels; in JSON [left, top, right, bottom].
type Box image.Rectangle

// MarshalJSON writes the box as [left, top, right, bottom].
func (b Box) MarshalJSON() ([]byte, error) {
	return json.Marshal([4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y})
}

// Page is what a screenshot shows.
type Page struct {
	// Title is the chat's title bar, without the member count: the group's name.
	Title    string    `json:"title,omitempty"`
	Messages []Message `json:"messages"`
	// Notices are the system lines (someone joined, a message was recalled): recognised and
	// left out of the messages.
	Notices []string `json:"notices,omitempty"`
}

const (
	left  = "left"
	right = "right"
)

var titleCount = regexp.MustCompile(`^(.+?)\s*[(（]\s*\d+\s*[)）]$`)

// parseLayout turns the OCR lines of a screenshot into messages. img is the screenshot as
// taken (the colours behind each line say whether it is on the page or in a bubble, and in
// which); lines are in its pixels; at resolves the time separators.
func parseLayout(img *image.RGBA, lines []Line, at time.Time) Page {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	page := dominantColour(img)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Box.Min.Y < lines[j].Box.Min.Y })

	var p Page
	// The title bar: the first centred line in the top eighth; everything above it and it
	// is the phone's and WeChat's chrome.
	chatTop := 0
	for _, l := range lines {
		if l.Box.Min.Y > H/8 {
			break
		}
		if _, isTime := parseSeparator(l.Text, at); centred(l.Box, W) && !isTime {
			t := strings.TrimSpace(l.Text)
			if m := titleCount.FindStringSubmatch(t); m != nil {
				t = m[1]
			}
			p.Title = t
			chatTop = l.Box.Max.Y
			break
		}
	}

	type bubbleLine struct {
		Line
		side   string
		colour rgb
	}
	var (
		sender   string // the last name line, for the next left bubble
		senderY  int
		sepTime  *time.Time
		sepText  string
		cur      []bubbleLine
		lineSpan int // a text line's height in bubbles
	)
	flush := func() {
		if len(cur) == 0 {
			return
		}
		m := Message{Side: cur[0].side, Time: sepTime, TimeText: sepText, Confidence: 100}
		texts := make([]string, len(cur))
		var box image.Rectangle
		for i, l := range cur {
			texts[i] = l.Text
			box = box.Union(l.Box)
			m.Confidence = min(m.Confidence, l.Confidence)
		}
		m.Box = Box(box)
		m.Text = joinLines(texts)
		if cutOff(img, box, cur[0].colour, page) {
			// Scrolled half out of the picture, under the title bar or the input bar: what
			// shows is part of a message, read in full from the next screenshot.
			if m.Side == left {
				sender = ""
			}
			cur = nil
			return
		}
		if m.Side == left && sender != "" && box.Min.Y-senderY < 3*lineSpan {
			m.Sender = sender
		}
		if m.Side == left {
			sender = "" // a name belongs to the bubble under it
		}
		p.Messages = append(p.Messages, m)
		cur = nil
	}
	for _, l := range lines {
		if l.Box.Max.Y <= chatTop || strings.TrimSpace(l.Text) == "" {
			continue
		}
		bg := ringColour(img, l.Box)
		if bg.near(page, 12) {
			flush()
			text := strings.TrimSpace(l.Text)
			switch {
			case centred(l.Box, W):
				if t, ok := parseSeparator(text, at); ok {
					t := t
					sepTime, sepText = &t, text
				} else {
					p.Notices = append(p.Notices, text)
				}
			case l.Box.Min.X < W*3/10:
				sender, senderY = compactName(text), l.Box.Max.Y
			}
			continue
		}
		side := bubbleSide(img, l.Box, bg, W)
		if lineSpan == 0 {
			lineSpan = l.Box.Dy()
		}
		if len(cur) > 0 {
			prev := cur[len(cur)-1]
			if prev.side != side || !prev.colour.near(bg, 12) || l.Box.Min.Y-prev.Box.Max.Y > lineSpan/2+4 {
				flush()
			}
		}
		cur = append(cur, bubbleLine{Line: l, side: side, colour: bg})
	}
	flush()
	return p
}

// centred reports a line about the middle of the width, as WeChat draws separators, system
// notices and the title.
func centred(b image.Rectangle, W int) bool {
	mid := (b.Min.X + b.Max.X) / 2
	return abs(mid-W/2) < W/20 && b.Min.X > W/10
}

// bubbleSide tells which side a bubble line is on from where its bubble's edges are: the
// colour bg runs from the text out to them.
func bubbleSide(img *image.RGBA, b image.Rectangle, bg rgb, W int) string {
	y := (b.Min.Y + b.Max.Y) / 2
	l := b.Min.X
	for l > 0 && colourAt(img, l-1, y).near(bg, 8) {
		l--
	}
	r := b.Max.X
	for r < W-1 && colourAt(img, r+1, y).near(bg, 8) {
		r++
	}
	if abs(l-W/6) <= abs(W-W/6-r) {
		return left
	}
	return right
}

// cutOff reports a bubble that does not end on the page above and below its text: the
// picture cuts it, or the title or input bar covers part of it.
func cutOff(img *image.RGBA, text image.Rectangle, bubble, page rgb) bool {
	x := text.Min.X - 8
	if x < 0 {
		return true
	}
	H := img.Rect.Dy()
	y := text.Min.Y
	for y > 0 && colourAt(img, x, y-1).near(bubble, 8) {
		y--
	}
	if y == 0 || !colourAt(img, x, y-1).near(page, 12) && !colourAt(img, x, max(0, y-4)).near(page, 12) {
		return true
	}
	y = text.Max.Y
	for y < H-1 && colourAt(img, x, y+1).near(bubble, 8) {
		y++
	}
	return y >= H-1 || !colourAt(img, x, y+1).near(page, 12) && !colourAt(img, x, min(H-1, y+4)).near(page, 12)
}

// joinLines joins a bubble's lines as they were typed: nothing between Chinese, a space
// between Latin words that wrapped.
func joinLines(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if i > 0 && b.Len() > 0 && l != "" && wrappedWords(b.String(), l) {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// wrappedWords tells whether a line break fell between two Latin words (letters or digits on
// both sides), which had a space between them.
func wrappedWords(before, after string) bool {
	a, b := []rune(before), []rune(after)
	x, y := a[len(a)-1], b[0]
	return x < 0x2E80 && y < 0x2E80 && (unicode.IsLetter(x) || unicode.IsDigit(x)) && (unicode.IsLetter(y) || unicode.IsDigit(y))
}

// compactName drops the spaces OCR leaves between the characters of a Chinese name.
func compactName(s string) string {
	var b strings.Builder
	rs := []rune(strings.TrimSpace(s))
	for i, r := range rs {
		if r == ' ' && i > 0 && i < len(rs)-1 && (!isLatin(rs[i-1]) || !isLatin(rs[i+1])) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

type rgb struct{ r, g, b uint8 }

func (c rgb) near(d rgb, tol int) bool {
	return abs(int(c.r)-int(d.r)) <= tol && abs(int(c.g)-int(d.g)) <= tol && abs(int(c.b)-int(d.b)) <= tol
}

func colourAt(img *image.RGBA, x, y int) rgb {
	o := y*img.Stride + 4*x
	return rgb{img.Pix[o], img.Pix[o+1], img.Pix[o+2]}
}

// dominantColour is the commonest colour of a sample of the picture: a chat's page.
func dominantColour(img *image.RGBA) rgb {
	count := map[rgb]int{}
	W, H := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < H; y += 7 {
		for x := 0; x < W; x += 7 {
			c := colourAt(img, x, y)
			count[rgb{c.r &^ 3, c.g &^ 3, c.b &^ 3}]++
		}
	}
	var best rgb
	n := -1
	for c, k := range count {
		if k > n || (k == n && c.r > best.r) {
			best, n = c, k
		}
	}
	return best
}

// ringColour is the commonest colour of a ring of pixels just outside a line's box: what
// the line is written on.
func ringColour(img *image.RGBA, b image.Rectangle) rgb {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	r := b.Inset(-10).Intersect(image.Rect(0, 0, W, H))
	count := map[rgb]int{}
	exact := map[rgb]rgb{} // a colour of each bucket as it is in the picture
	add := func(x, y int) {
		c := colourAt(img, x, y)
		q := rgb{c.r &^ 3, c.g &^ 3, c.b &^ 3}
		count[q]++
		if _, ok := exact[q]; !ok {
			exact[q] = c
		}
	}
	for x := r.Min.X; x < r.Max.X; x += 2 {
		add(x, r.Min.Y)
		add(x, r.Max.Y-1)
	}
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		add(r.Min.X, y)
		add(r.Max.X-1, y)
	}
	var best rgb
	n := -1
	for c, k := range count {
		if k > n || (k == n && c.r > best.r) {
			best, n = c, k
		}
	}
	return exact[best]
}
