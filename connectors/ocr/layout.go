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
	// Kind is what the message is: text, or a picture, a voice message, a file… (only text
	// messages make drafts).
	Kind Kind `json:"kind"`
	// Sender is the name shown above the bubble; empty on the right, where the phone's owner
	// writes (WeChat shows no name there).
	Sender string `json:"sender,omitempty"`
	// SenderConfidence is Tesseract's for the name as read (0–100); a name snapped to one
	// known (the staff, a name read more surely in the same picture) says so in Cues.
	SenderConfidence float64 `json:"sender_confidence,omitempty"`
	// Side is left (someone else) or right (the phone's owner).
	Side string `json:"side"`
	// Time is the time separator above the message, resolved against the moment of the
	// screenshot; nil when none is in the picture above it. TimeText is the separator as read.
	Time     *time.Time `json:"time,omitempty"`
	TimeText string     `json:"time_text,omitempty"`
	// Text is the bubble's lines joined (a quoted message under it is not part of it); for a
	// file or a link, its card's title.
	Text string `json:"text"`
	// Confidence is the lowest of its lines' (Tesseract's, 0–100), lowered when the cues to
	// its side disagree.
	Confidence float64 `json:"confidence"`
	// Box is the bubble's text in the screenshot's pixels (the whole body when it has none).
	Box Box `json:"box"`
	// Cues are the evidence for its side and sender: avatar:left, tail:left, colour:right,
	// name:left, extent:left, name≈李工 (read 李丁) for a name snapped to a known one.
	Cues []string `json:"cues,omitempty"`
	// Doubt says which cues disagreed about its side; empty when none did.
	Doubt string `json:"doubt,omitempty"`
}

// Kind is what a message is.
type Kind string

// The kinds of message WeChat shows.
const (
	KindText      Kind = "text"
	KindImage     Kind = "image" // a picture or a sticker
	KindVoice     Kind = "voice"
	KindFile      Kind = "file"
	KindLink      Kind = "link"
	KindRedPacket Kind = "redpacket"
	KindTransfer  Kind = "transfer"
)

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

// regionReader reads the text in a region of the screenshot, in the picture's pixels.
type regionReader func(r image.Rectangle, how readMode) ([]Line, error)

// readMode is how a region is read.
type readMode int

const (
	// readBlock: the lines of a bubble or card, each found and read as a line.
	readBlock readMode = iota
	// readPageLine: one line on the page (a separator, a notice, the title).
	readPageLine
	// readName: a name label, small and grey: scaled up and read as one line.
	readName
)

// Notices and texts that are not messages: WeChat's own lines between messages.
var (
	newMessagesDivider = regexp.MustCompile(`以下[是为]新消息`)
	// A voice message's bubble: its wave icon, which reads as junk ()), 5), g), and its
	// length, 5" (read with any quote mark).
	voiceDuration = regexp.MustCompile(`^.{0,5}\d{1,2}\s*["″”“]{1,2}$`)
	fileSize      = regexp.MustCompile(`(?i)\d+(\.\d+)?\s*(K|M|G)B?\b|\.(pdf|docx?|xlsx?|pptx?|zip|rar|txt|csv|jpg|png|mp4)\b`)
	transferWords = regexp.MustCompile(`转账|收款|[¥￥]\s*\d`)
)

// composeOptions are what layOut needs beyond the picture.
type composeOptions struct {
	// at resolves the time separators.
	at time.Time
	// known are names a misread name snaps to: the connector's staff.
	known []string
}

// layOut reads a screenshot's scene into its page: the title, the messages in order with
// their sides, senders, times and kinds, and the notices. read reads the regions' text.
func layOut(img *image.RGBA, s scene, read regionReader, opt composeOptions) (Page, error) {
	var p Page
	if !s.title.Empty() {
		lines, err := read(s.title, readPageLine)
		if err != nil {
			return Page{}, err
		}
		t := strings.TrimSpace(lineText(lines))
		if _, isTime := parseSeparator(t, opt.at); isTime {
			// A separator in the top of a crop without title bar.
			s.lines = append([]pageLine{{box: s.title, ink: 255}}, s.lines...)
		} else {
			if m := titleCount.FindStringSubmatch(t); m != nil {
				t = m[1]
			}
			p.Title = t
		}
	}

	msgs := s.messages(img)
	type item struct {
		y    int
		msg  *slot
		line *pageLine
	}
	var items []item
	for i := range msgs {
		items = append(items, item{y: msgs[i].top(), msg: &msgs[i]})
	}
	for i := range s.lines {
		l := &s.lines[i]
		if s.lineTaken(l.box, msgs) || !s.centred(l.box) {
			continue
		}
		items = append(items, item{y: l.box.Min.Y, line: l})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].y < items[j].y })

	var (
		sepTime *time.Time
		sepText string
		names   []*Message // the messages with a sender, for the names' check
	)
	for _, it := range items {
		if it.line != nil {
			lines, err := read(it.line.box, readPageLine)
			if err != nil {
				return Page{}, err
			}
			text := strings.TrimSpace(lineText(lines))
			switch t, ok := parseSeparator(text, opt.at); {
			case text == "":
			case ok:
				sepTime, sepText = &t, text
			default:
				p.Notices = append(p.Notices, text)
			}
			continue
		}
		sl := it.msg
		if sl.cut {
			continue
		}
		m := Message{Kind: KindText, Side: sl.side, Time: sepTime, TimeText: sepText, Confidence: 100, Cues: sl.cues, Doubt: sl.doubt,
			Box: Box(sl.body.box)}
		if sl.body.bubble() {
			r := sl.body.box.Inset(int(4 * s.dp))
			// Not the tail: its edge reads as a stroke (好的| for 好的).
			switch sl.body.tail {
			case left:
				r.Min.X += int(8 * s.dp)
			case right:
				r.Max.X -= int(8 * s.dp)
			}
			if !sl.body.icon.Empty() {
				r.Max.X = sl.body.icon.Min.X - int(2*s.dp)
			}
			lines, err := read(r, readBlock)
			if err != nil {
				return Page{}, err
			}
			texts := make([]string, len(lines))
			var box image.Rectangle
			for i, l := range lines {
				texts[i] = l.Text
				box = box.Union(l.Box)
				m.Confidence = min(m.Confidence, l.Confidence)
			}
			m.Text = zeroesInCodes(tightPunctuation(joinLines(texts)))
			if !box.Empty() {
				m.Box = Box(box)
			}
			m.Kind = kindOf(sl.body, m.Text)
			if m.Kind == KindFile || m.Kind == KindLink {
				if len(texts) > 0 {
					m.Text = strings.TrimSpace(texts[0]) // the card's title
				}
			} else if m.Kind != KindText {
				m.Text = ""
			}
		} else {
			m.Kind = KindImage
		}
		m.Confidence *= sl.sure
		if !sl.name.Empty() {
			lines, err := read(sl.name, readName)
			if err != nil {
				return Page{}, err
			}
			if len(lines) > 0 {
				m.Sender, m.SenderConfidence = cleanName(lines[0].Text), lines[0].Confidence
			}
		}
		if m.Side == right {
			m.Sender, m.SenderConfidence = "", 0
		}
		p.Messages = append(p.Messages, m)
		if m.Sender != "" {
			names = append(names, &p.Messages[len(p.Messages)-1])
		}
	}
	// Pointers into p.Messages are stable: it is not appended to any more.
	names = names[:0]
	for i := range p.Messages {
		if p.Messages[i].Sender != "" {
			names = append(names, &p.Messages[i])
		}
	}
	checkNames(names, opt.known)
	return p, nil
}

// codeToken is a run of capitals and digits: a serial, a model, a phone number; with what
// precedes it, to know a serial's SN.
var codeToken = regexp.MustCompile(`(SN[:：]?\s*)?([A-Z0-9]{5,})`)

// zeroesInCodes reads O as 0 in codes (SN AB7XB0LR, read AB7XBOLR): Tesseract takes one for
// the other, and makers leave the letter O out of serials for its likeness to 0 (VINs do
// too). Only where the O is surely a digit is it changed: in a serial after SN, or between two
// digits in a run of capitals and digits (E2O24110O8). Elsewhere a word is what its writer
// wrote: an order number PO12345 or a model OX-7 keeps its O.
func zeroesInCodes(text string) string {
	return codeToken.ReplaceAllStringFunc(text, func(t string) string {
		m := codeToken.FindStringSubmatch(t)
		if m[1] != "" {
			return m[1] + strings.ReplaceAll(m[2], "O", "0")
		}
		code := []byte(m[2])
		for i := 1; i+1 < len(code); i++ {
			if code[i] == 'O' && isDigit(code[i-1]) && (isDigit(code[i+1]) || code[i+1] == 'O' && i+2 < len(code) && isDigit(code[i+2])) {
				code[i] = '0'
				if code[i+1] == 'O' {
					code[i+1] = '0'
				}
			}
		}
		return m[1] + string(code)
	})
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// spaceBeforePunctuation is a space OCR puts before a mark of punctuation (SN :VA6F09JJZB1,
// 手机154-3901-9763 ,地址).
var spaceBeforePunctuation = regexp.MustCompile(`\s+([：:，,。；;、！!？?）)])`)

// tightPunctuation drops the spaces before punctuation in Chinese text, where none is ever
// meant; they broke what reads the text after (a serial's SN: is SN:, not SN :).
func tightPunctuation(text string) string {
	if !hasCJK(text) {
		return text
	}
	return spaceBeforePunctuation.ReplaceAllString(text, "$1")
}

// cleanName makes a name label as read a name: brackets as the ASCII ones (Tesseract reads
// them as {, （ or 【), and no stray stroke before or after it (a sliver of the avatar read as
// | or ), a bracket left open).
func cleanName(s string) string {
	s = strings.NewReplacer("{", "(", "}", ")", "（", "(", "）", ")", "【", "(", "】", ")", "[", "(", "]", ")").Replace(s)
	s = strings.TrimLeft(strings.TrimSpace(s), "|)]}.,:;'\"!-_ ")
	s = strings.TrimRight(s, "|([{.,:;'\"!-_ ")
	return strings.TrimSpace(s)
}

// kindOf tells what a flat body is from its colour, its icon and its text.
func kindOf(b body, text string) Kind {
	compact := strings.Join(strings.Fields(text), "")
	switch {
	case b.colour.orange():
		if transferWords.MatchString(compact) {
			return KindTransfer
		}
		return KindRedPacket
	case voiceDuration.MatchString(compact):
		return KindVoice
	case !b.icon.Empty() && fileSize.MatchString(text):
		return KindFile
	case !b.icon.Empty():
		return KindLink
	}
	return KindText
}

func lineText(lines []Line) string {
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.Text
	}
	return joinLines(texts)
}

// slot is a message's place in the picture, before it is read: its body, the name above it
// (empty when none), and its side with the cues that tell it.
type slot struct {
	body   body
	name   image.Rectangle
	avatar image.Rectangle
	side   string
	cues   []string
	doubt  string
	// sure is 1 when the side's cues agree, less when they do not (the message's confidence
	// is multiplied by it).
	sure float64
	cut  bool
}

func (sl slot) top() int {
	if !sl.name.Empty() {
		return sl.name.Min.Y
	}
	return sl.body.box.Min.Y
}

// messages finds each message's parts: its avatar, its name label, whether it is cut, and
// its side. A body right under another without an avatar or name of its own is the quoted
// message of a reply, not a message.
func (s *scene) messages(img *image.RGBA) []slot {
	var out []slot
	for i, b := range s.bodies {
		sl := slot{body: b, cut: b.cut}
		sl.avatar, sl.side = s.avatarBeside(b.box, !b.bubble())
		sl.name = s.nameAbove(b.box, sl.avatar)
		if sl.avatar.Empty() && sl.name.Empty() && i > 0 && len(out) > 0 {
			prev := out[len(out)-1].body.box
			if gap := b.box.Min.Y - prev.Max.Y; gap >= 0 && float64(gap) <= 12*s.dp && s.sameColumn(prev, b.box) {
				continue // a quote under its reply
			}
		}
		if !sl.avatar.Empty() && (sl.avatar.Min.Y <= s.chat.Min.Y+1 || sl.avatar.Max.Y >= s.chat.Max.Y-1 && sl.avatar.Dy() < sl.avatar.Dx()*9/10) {
			sl.cut = true // its avatar scrolled half out: its name too, or the rest below
		}
		if sl.name.Empty() && sl.side == left && float64(b.box.Min.Y-s.chat.Min.Y) < 24*s.dp {
			sl.cut = true // the name above it is under the title bar
		}
		s.decideSide(img, &sl)
		out = append(out, sl)
	}
	return out
}

// sameColumn reports two boxes on the same side of the chat: their left or right edges close.
func (s *scene) sameColumn(a, b image.Rectangle) bool {
	d := int(16 * s.dp)
	return abs(a.Min.X-b.Min.X) <= d || abs(a.Max.X-b.Max.X) <= d
}

// avatarBeside finds the avatar a body stands beside: in the left or right column, its top
// level with the body's top or the name above it, its inner edge close to the body.
func (s *scene) avatarBeside(b image.Rectangle, picture bool) (image.Rectangle, string) {
	above := 36 * s.dp // a name's height and gap
	if picture {
		above = 56 * s.dp // a sticker's picture has a margin of its own
	}
	for _, a := range s.avatars {
		if a.Min.Y > b.Min.Y+int(8*s.dp) || a.Min.Y < b.Min.Y-int(above) {
			continue
		}
		// A sticker's picture has a margin of its own: it may start further out.
		if a.Max.X <= b.Min.X+int(4*s.dp) && b.Min.X-a.Max.X < int(40*s.dp) {
			return a, left
		}
		if a.Min.X >= b.Max.X-int(4*s.dp) && a.Min.X-b.Max.X < int(40*s.dp) {
			return a, right
		}
	}
	return image.Rectangle{}, ""
}

// nameAbove finds the name label of a body: a line on the page just above it, starting about
// where the body does (or right after the avatar), not centred.
func (s *scene) nameAbove(b, avatar image.Rectangle) image.Rectangle {
	if !avatar.Empty() && avatar.Max.X <= b.Min.X+int(4*s.dp) {
		// Level with its avatar's top, right after it: however far above the body (a
		// sticker's picture has a margin of its own).
		for _, l := range s.lines {
			n := l.box
			if abs(n.Min.Y-avatar.Min.Y) <= int(8*s.dp) && n.Min.X >= avatar.Max.X && n.Min.X <= avatar.Max.X+int(30*s.dp) &&
				n.Max.Y <= b.Min.Y+int(2*s.dp) && !l.pill && float64(n.Dy()) <= 26*s.dp {
				return n
			}
		}
	}
	for _, l := range s.lines {
		n := l.box
		if n.Max.Y > b.Min.Y+int(2*s.dp) || float64(b.Min.Y-n.Max.Y) > 14*s.dp || l.pill {
			continue
		}
		if float64(n.Dy()) > 26*s.dp {
			continue
		}
		startsWithBody := n.Min.X >= b.Min.X-int(10*s.dp) && n.Min.X <= b.Min.X+int(20*s.dp)
		afterAvatar := !avatar.Empty() && avatar.Max.X <= b.Min.X+int(4*s.dp) && n.Min.X >= avatar.Max.X && n.Min.X <= avatar.Max.X+int(24*s.dp)
		// Beside the avatars' column, where names start, though this body's avatar is not
		// in the picture.
		besideColumn := s.leftX >= 0 && n.Min.X >= s.leftX+int(40*s.dp) && n.Min.X <= s.leftX+int(64*s.dp) && b.Min.X < s.W/2
		if startsWithBody || afterAvatar || besideColumn {
			return n
		}
	}
	return image.Rectangle{}
}

// lineTaken reports a page line that is a message's name or lies within a message's
// column right under its body (a quoted message drawn on the page).
func (s *scene) lineTaken(l image.Rectangle, msgs []slot) bool {
	for _, m := range msgs {
		if m.name == l {
			return true
		}
	}
	return false
}

// decideSide weighs the cues to a message's side: the avatar it stands beside, the way its
// bubble's tail points, its bubble's colour (only one's own are green; others' white or dark
// grey), a name above it (only others' have one), and as a last resort where it reaches (a short bubble hugs its side;
// a long one of someone else's reaches nearly as far right as one's own).
func (s *scene) decideSide(img *image.RGBA, sl *slot) {
	type vote struct {
		cue    string
		side   string
		weight float64
	}
	var votes []vote
	if sl.side != "" {
		votes = append(votes, vote{"avatar", sl.side, 3})
	}
	b := sl.body
	if b.tail != "" {
		votes = append(votes, vote{"tail", b.tail, 2})
	}
	if b.bubble() && b.icon.Empty() {
		switch {
		case b.colour.green():
			votes = append(votes, vote{"colour", right, 2})
		case b.colour.chroma() < 24:
			// White or dark grey: others' bubbles, but also anyone's card.
			votes = append(votes, vote{"colour", left, 1.5})
		}
	}
	if !sl.name.Empty() {
		votes = append(votes, vote{"name", left, 2})
	}
	lm := b.box.Min.X - s.chat.Min.X
	rm := s.chat.Max.X - b.box.Max.X
	if d := float64(abs(lm-rm)) / s.dp; d > 4 {
		side := left
		if rm < lm {
			side = right
		}
		votes = append(votes, vote{"extent", side, min(1, d/40)})
	}
	var l, r float64
	for _, v := range votes {
		if v.side == left {
			l += v.weight
		} else {
			r += v.weight
		}
	}
	sl.side, sl.sure = left, 1
	if r > l {
		sl.side = right
	}
	sl.cues = nil
	var against []string
	for _, v := range votes {
		sl.cues = append(sl.cues, v.cue+":"+v.side)
		if v.side != sl.side && v.weight >= 1.5 {
			against = append(against, v.cue+" says "+v.side)
		}
	}
	if len(against) > 0 {
		sl.doubt = "side " + sl.side + " against " + strings.Join(against, ", ")
		sl.sure = max(l, r) / (l + r)
	}
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
