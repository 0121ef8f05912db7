// Package ocrtest draws chat screenshots in WeChat's look with ImageMagick and the Noto CJK
// fonts (both from Debian's packages, installed by make deps), and says what they show: the
// OCR connector's tests read the pictures and compare what they read with the script.
package ocrtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// Chat is a conversation to draw: a group's title, its items top to bottom, and the
// screenshots taken of it.
type Chat struct {
	Title string `yaml:"title"`
	Dark  bool   `yaml:"dark"`
	// Width and Height of each screenshot (default 1080 × 2400, a phone at 3x).
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
	Items  []Item `yaml:"items"`
	// Shots are the scroll offsets, in pixels of the chat area, of the screenshots taken
	// (default one, at 0).
	Shots []int `yaml:"shots"`
}

// Item is one thing in the chat: a time separator, a system notice, or a message, from
// someone else (From, drawn on the left under their name) or from the phone's owner (Me,
// on the right).
type Item struct {
	Time   string `yaml:"time"`
	System string `yaml:"system"`
	From   string `yaml:"from"`
	Me     bool   `yaml:"me"`
	Text   string `yaml:"text"`
}

// Message is what a screenshot shows of one message, as a reader would write it down.
type Message struct {
	Sender string // "" for the phone's owner
	Side   string // left or right
	Time   string // the separator above it, as drawn ("" when none is in the picture)
	Text   string // the bubble's text, its lines joined
}

// Shot is one rendered screenshot and the messages wholly in it.
type Shot struct {
	Path     string
	Messages []Message
}

// Geometry of WeChat at 3x (pixels of a 1080-wide screen).
const (
	statusH   = 120
	navH      = 150
	inputH    = 200
	avatar    = 120
	avatarX   = 36
	bubbleX   = 180
	padX      = 36
	padY      = 27
	textSize  = 50
	lineH     = 72
	nameSize  = 36
	nameH     = 52
	smallSize = 38
	gap       = 42
)

type palette struct {
	page, nav, input, field, left, leftText, right, rightText, name, grey, rule string
}

var (
	light = palette{page: "#EDEDED", nav: "#EDEDED", input: "#F7F7F7", field: "#FFFFFF", left: "#FFFFFF", leftText: "#191919",
		right: "#95EC69", rightText: "#191919", name: "#888888", grey: "#A8A8A8", rule: "#D6D6D6"}
	dark = palette{page: "#111111", nav: "#111111", input: "#1E1E1E", field: "#2C2C2C", left: "#2C2C2C", leftText: "#D5D5D5",
		right: "#3EB575", rightText: "#0D0D0D", name: "#7F7F7F", grey: "#6B6B6B", rule: "#262626"}
	avatarColours = []string{"#5B8FF9", "#F6BD16", "#E8684A", "#6DC8EC", "#9270CA", "#FF9D4D", "#269A99"}
)

// placed is an item laid out on the chat area: its top and bottom.
type placed struct {
	item     Item
	top, bot int
	lines    []string
}

// Render draws the chat's screenshots into dir and returns them with what each shows.
func Render(c Chat, dir string) ([]Shot, error) {
	if _, err := exec.LookPath("convert"); err != nil {
		return nil, fmt.Errorf("ocrtest: ImageMagick's convert is not installed (make deps): %v", err)
	}
	if c.Width == 0 {
		c.Width = 1080
	}
	if c.Height == 0 {
		c.Height = 2400
	}
	if len(c.Shots) == 0 {
		c.Shots = []int{0}
	}
	p := light
	if c.Dark {
		p = dark
	}
	W := c.Width
	maxText := W * 60 / 100
	var items []placed
	y := 30
	var mvg strings.Builder
	font := "font 'Noto-Sans-CJK-SC' "
	for i, it := range c.Items {
		switch {
		case it.Time != "" || it.System != "":
			s := it.Time + it.System
			lines := wrap(s, W*75/100, smallSize)
			top := y
			for _, l := range lines {
				x := (W - width(l, smallSize)) / 2
				fmt.Fprintf(&mvg, "fill '%s' %s font-size %d text %d,%d %s\n", p.grey, font, smallSize, x, y+smallSize, quote(l))
				y += smallSize + 16
			}
			items = append(items, placed{item: it, top: top, bot: y})
			y += gap
		default:
			lines := wrap(it.Text, maxText, textSize)
			tw := 0
			for _, l := range lines {
				tw = max(tw, width(l, textSize))
			}
			bw, bh := tw+2*padX, len(lines)*lineH+2*padY-(lineH-textSize)+8
			top := y
			colour := avatarColours[len([]rune(it.From))%len(avatarColours)]
			if it.Me {
				ax := W - avatarX - avatar
				bx := W - bubbleX - bw
				fmt.Fprintf(&mvg, "fill '%s' roundrectangle %d,%d %d,%d 10,10\n", "#07C160", ax, y, ax+avatar, y+avatar)
				fmt.Fprintf(&mvg, "fill '%s' roundrectangle %d,%d %d,%d 12,12\n", p.right, bx, y, bx+bw, y+bh)
				fmt.Fprintf(&mvg, "fill '%s' polygon %d,%d %d,%d %d,%d\n", p.right, bx+bw, y+36, bx+bw+16, y+48, bx+bw, y+60)
				for j, l := range lines {
					fmt.Fprintf(&mvg, "fill '%s' %s font-size %d text %d,%d %s\n", p.rightText, font, textSize, bx+padX, y+padY+textSize-4+j*lineH, quote(l))
				}
				y += max(bh, avatar)
			} else {
				fmt.Fprintf(&mvg, "fill '%s' roundrectangle %d,%d %d,%d 10,10\n", colour, avatarX, y, avatarX+avatar, y+avatar)
				initial := string([]rune(it.From)[:1])
				fmt.Fprintf(&mvg, "fill '#FFFFFF' %s font-size 56 text %d,%d %s\n", font, avatarX+32, y+82, quote(initial))
				fmt.Fprintf(&mvg, "fill '%s' %s font-size %d text %d,%d %s\n", p.name, font, nameSize, bubbleX+6, y+nameSize, quote(it.From))
				by := y + nameH
				fmt.Fprintf(&mvg, "fill '%s' roundrectangle %d,%d %d,%d 12,12\n", p.left, bubbleX, by, bubbleX+bw, by+bh)
				fmt.Fprintf(&mvg, "fill '%s' polygon %d,%d %d,%d %d,%d\n", p.left, bubbleX, by+36, bubbleX-16, by+48, bubbleX, by+60)
				for j, l := range lines {
					fmt.Fprintf(&mvg, "fill '%s' %s font-size %d text %d,%d %s\n", p.leftText, font, textSize, bubbleX+padX, by+padY+textSize-4+j*lineH, quote(l))
				}
				y = max(by+bh, y+avatar)
			}
			items = append(items, placed{item: c.Items[i], top: top, bot: y, lines: lines})
			y += gap
		}
	}
	chatH := c.Height - statusH - navH - inputH
	total := max(y, chatH)
	last := c.Shots[len(c.Shots)-1]
	total = max(total, last+chatH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tall := filepath.Join(dir, "chat-area.png")
	if err := magick("-size", fmt.Sprintf("%dx%d", W, total), "xc:"+p.page, "-draw", mvg.String(), tall); err != nil {
		return nil, err
	}
	var shots []Shot
	for n, off := range c.Shots {
		path := filepath.Join(dir, fmt.Sprintf("shot-%d.png", n+1))
		if err := magick("-size", fmt.Sprintf("%dx%d", W, c.Height), "xc:"+p.page,
			"(", tall, "-crop", fmt.Sprintf("%dx%d+0+%d", W, chatH, off), "+repage", ")",
			"-geometry", fmt.Sprintf("+0+%d", statusH+navH), "-composite",
			"-draw", chrome(c, p, font), path); err != nil {
			return nil, err
		}
		shot := Shot{Path: path}
		sep := ""
		for _, it := range items {
			visible := it.top >= off && it.bot <= off+chatH
			if it.item.Time != "" && visible {
				sep = it.item.Time
			}
			if it.item.Text == "" || !visible {
				continue
			}
			m := Message{Sender: it.item.From, Side: "left", Time: sep, Text: join(it.lines)}
			if it.item.Me {
				m.Side, m.Sender = "right", ""
			}
			shot.Messages = append(shot.Messages, m)
		}
		shots = append(shots, shot)
	}
	return shots, nil
}

// chrome draws the status bar, the title bar and the input bar.
func chrome(c Chat, p palette, font string) string {
	W, H := c.Width, c.Height
	var b strings.Builder
	text := "#191919"
	if c.Dark {
		text = "#D5D5D5"
	}
	fmt.Fprintf(&b, "fill '%s' rectangle 0,0 %d,%d\n", p.nav, W, statusH+navH)
	fmt.Fprintf(&b, "fill '%s' %s font-size 40 text 66,80 '10:30'\n", text, font)
	fmt.Fprintf(&b, "fill '%s' roundrectangle %d,50 %d,84 6,6\n", text, W-130, W-66)
	fmt.Fprintf(&b, "fill '%s' polyline 60,%d 36,%d 60,%d\n", text, statusH+50, statusH+75, statusH+100)
	fmt.Fprintf(&b, "fill '%s' %s font-size 52 text %d,%d %s\n", text, font, (W-width(c.Title, 52))/2, statusH+95, quote(c.Title))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "fill '%s' circle %d,%d %d,%d\n", text, W-100+i*26, statusH+75, W-100+i*26+6, statusH+75)
	}
	fmt.Fprintf(&b, "fill '%s' rectangle 0,%d %d,%d\n", p.rule, statusH+navH-2, W, statusH+navH)
	fmt.Fprintf(&b, "fill '%s' rectangle 0,%d %d,%d\n", p.input, H-inputH, W, H)
	fmt.Fprintf(&b, "fill '%s' rectangle 0,%d %d,%d\n", p.rule, H-inputH, W, H-inputH+2)
	fmt.Fprintf(&b, "fill none stroke '%s' stroke-width 4 circle 80,%d 80,%d\n", text, H-inputH+80, H-inputH+115)
	fmt.Fprintf(&b, "stroke none fill '%s' roundrectangle 150,%d %d,%d 10,10\n", p.field, H-inputH+28, W-250, H-inputH+132)
	fmt.Fprintf(&b, "fill none stroke '%s' stroke-width 4 circle %d,%d %d,%d\n", text, W-180, H-inputH+80, W-180, H-inputH+115)
	fmt.Fprintf(&b, "fill none stroke '%s' stroke-width 4 circle %d,%d %d,%d\n", text, W-80, H-inputH+80, W-80, H-inputH+115)
	return b.String()
}

func magick(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("convert", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ocrtest: convert: %v: %s", err, stderr.String())
	}
	return nil
}

// width estimates the drawn width of s at size px in Noto Sans CJK: a full em for Chinese
// and full-width punctuation, a little over half of one for Latin letters and digits.
func width(s string, size int) int {
	w := 0.0
	for _, r := range s {
		switch {
		case r == ' ':
			w += 0.23
		case r < 0x2E80:
			w += 0.56
		default:
			w += 1.0
		}
	}
	return int(w*float64(size) + 0.5)
}

// wrap breaks s into lines no wider than max, as WeChat does: anywhere between Chinese
// characters, between Latin words only at spaces.
func wrap(s string, max, size int) []string {
	var lines []string
	var cur []rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		cur = append(cur, rs[i])
		if width(string(cur), size) <= max {
			continue
		}
		// Too wide: break before this rune, or before the Latin word it is in.
		cut := len(cur) - 1
		if isLatin(rs[i]) {
			for cut > 0 && isLatin(cur[cut-1]) {
				cut--
			}
			if cut == 0 {
				cut = len(cur) - 1
			}
		}
		lines = append(lines, strings.TrimRight(string(cur[:cut]), " "))
		cur = []rune(strings.TrimLeft(string(cur[cut:]), " "))
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

func isLatin(r rune) bool { return r < 0x2E80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

// join writes a bubble's lines as one text: nothing between them, as a reader copies a
// wrapped Chinese message (a line broken between Latin words gets its space back).
func join(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			prev := []rune(lines[i-1])
			if isLatin(prev[len(prev)-1]) && isLatin([]rune(l)[0]) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

// quote writes s as an MVG string.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// At is the moment the test screenshots are taken: Wednesday 7 January 2026, 10:30 in
// Shanghai, which the time separators are read against.
var At = time.Date(2026, 1, 7, 10, 30, 0, 0, time.FixedZone("CST", 8*3600))
