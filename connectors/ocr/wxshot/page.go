package wxshot

import (
	_ "embed"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"strings"
	"text/template"
)

// The page is the phone's whole screen in CSS pixels (dp/pt): status bar, title bar, chat,
// input bar, keyboard, home indicator. Every size comes from Metrics; nothing is tuned to a
// reader. Elements the truth is measured from carry data-i (a message's row), data-sep (its
// time separator) and the classes body, name and av.

// styleVars are the numbers the style sheet is written with, in CSS pixels.
type styleVars struct {
	W, H                                 int
	P                                    Palette
	M                                    Metrics
	Font                                 string
	MaxW, HalfTail, TailTop, NameBelow   float64
	Text, Name, Small, Tiny, Twelve, Sep float64 // font sizes, scaled
	SepBelow, Status, StatusPad, Title   float64
	Card, Money                          float64 // card widths
	Line, Home                           string  // hairlines, the home indicator
}

//go:embed style.css.tmpl
var styleText string

var style = template.Must(template.New("style").Parse(styleText))

// pageSize is the screen in CSS pixels, rounded up so the capture covers every device pixel.
func pageSize(d Device) (w, h int) {
	return int(math.Ceil(float64(d.Width)/d.Ratio - 1e-9)), int(math.Ceil(float64(d.Height)/d.Ratio - 1e-9))
}

// pageHTML writes the HTML of s's screen.
func pageHTML(s Spec) string {
	m := metricsOf(s.Device)
	p := Light
	if s.Dark {
		p = Dark
	}
	w, h := pageSize(s.Device)
	fs := s.FontScale
	maxw := float64(w) - m.EdgeMargin - m.Avatar - m.AvatarGap - m.OppositeMargin
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	if err := style.Execute(&b, styleVars{
		W: w, H: h, P: p, M: m, Font: s.Font, MaxW: maxw, HalfTail: m.TailHeight / 2,
		TailTop: m.TailMiddle - m.TailHeight/2, NameBelow: m.NameGap - m.NameSize*1.25,
		Text: m.TextSize * fs, Name: m.NameSize * fs, Small: 13 * fs, Tiny: 11 * fs, Twelve: 12 * fs,
		Sep: m.SeparatorSize * fs, SepBelow: m.SeparatorBelow - m.RowGap,
		Status: 14 * min(fs, 1.1), StatusPad: statusPad(s.Device), Title: m.TitleSize * min(fs, 1.15),
		Card: 240 * min(fs, 1.15), Money: 230 * min(fs, 1.15), Line: lineColor(s.Dark), Home: homeColor(s.Dark),
	}); err != nil {
		panic(err) // the template and its data are fixed: an error is a bug here
	}
	statusBar(&b, s)
	f(`<div class="title">%s<div class="t">%s(%d)</div>%s</div>`, backIcon(p.Icon), html.EscapeString(s.Group), s.Count, moreIcon(p.Icon))
	f(`<div class="chat"><div class="scroll">`)
	avatars := map[int64]string{} // each member's, drawn once
	for i, msg := range s.Messages {
		if msg.Time != "" {
			f(`<div class="sep" data-sep="%d">%s</div>`, i, html.EscapeString(msg.Time))
		}
		message(&b, s, i, p, maxw, avatars)
	}
	f(`</div></div>`)
	f(`<div class="input">%s<div class="field">%s</div>%s%s</div>`, voiceIcon(p.Icon, 28), caret(s.Keyboard), emojiIcon(p.Icon), plusIcon(p.Icon))
	if s.Keyboard {
		keyboard(&b, s)
	}
	if m.HomeIndicator > 0 {
		bg := p.InputBar
		if s.Keyboard {
			bg = p.Keyboard
		}
		f(`<div class="home" style="background:%s"></div>`, bg)
	}
	f(`</div></body></html>`)
	return b.String()
}

func statusPad(d Device) float64 {
	if d.Platform == IOS && d.StatusBar > 20 {
		return 32 // the clock sits in the notch's left ear
	}
	return 16
}

func lineColor(dark bool) string {
	if dark {
		return "rgba(255,255,255,.08)"
	}
	return "rgba(0,0,0,.08)"
}

func homeColor(dark bool) string {
	if dark {
		return "#FFFFFF"
	}
	return "#000000"
}

func caret(on bool) string {
	if on {
		return `<div class="caret"></div>`
	}
	return ""
}

// message writes message i: a centred notice, or a row with avatar, name and body.
func message(b *strings.Builder, s Spec, i int, p Palette, maxw float64, avatars map[int64]string) {
	msg := s.Messages[i]
	f := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	esc := html.EscapeString
	switch msg.Kind {
	case Divider:
		f(`<div class="divider" data-i="%d"><span class="body">%s</span></div>`, i, esc(msg.Shown))
		return
	case Recalled, System:
		text := esc(msg.Shown)
		if t, ok := strings.CutSuffix(msg.Shown, " 重新编辑"); ok {
			text = esc(t) + ` <span class="lnk">重新编辑</span>`
		}
		f(`<div class="notice" data-i="%d"><span class="body">%s</span></div>`, i, text)
		return
	}
	side, name, seed := "right", "", ownerAvatar(s)
	if msg.From >= 0 {
		side, name, seed = "left", s.Members[msg.From].Name, s.Members[msg.From].Avatar
	}
	avatar, ok := avatars[seed]
	if !ok {
		avatar = avatarURI(seed)
		avatars[seed] = avatar
	}
	f(`<div class="row %s" data-i="%d"><img class="av" src="%s"><div class="col">`, side, i, avatar)
	if name != "" {
		f(`<div class="name">%s</div>`, esc(name))
	}
	r := rand.New(rand.NewPCG(uint64(msg.Seed), uint64(i)))
	switch msg.Kind {
	case Text:
		f(`<div class="bubble tail body">%s</div>`, esc(msg.Text))
	case Quote:
		f(`<div class="bubble tail body">%s</div><div class="quote">%s</div>`, esc(msg.Text), esc(msg.Quoted))
	case Voice:
		secs := float64(msg.Seed)
		width := min(maxw, 64+secs*3.2)
		icon := voiceWave(p.OtherText, side == "right")
		if side == "right" {
			icon = voiceWave(p.OwnText, true)
			f(`<div class="bubble tail body voice" style="width:%gpx">%s%s</div>`, width, esc(msg.Shown), icon)
		} else {
			f(`<div style="display:flex"><div class="bubble tail body voice" style="width:%gpx">%s%s</div>%s</div>`,
				width, icon, esc(msg.Shown), map[bool]string{true: `<div class="dot"></div>`}[r.IntN(3) == 0])
		}
	case Image:
		long := 120 + float64(r.IntN(40))
		aspect := 0.56 + r.Float64()*1.2
		w, h := long, long/aspect
		if aspect < 1 {
			w, h = long*aspect, long
		}
		f(`<img class="pic body" style="width:%gpx;height:%gpx" src="%s">`, math.Round(w), math.Round(h), dataURI(photo(msg.Seed, int(w*2), int(h*2), false)))
	case Sticker:
		f(`<div class="body" style="width:120px;height:120px">%s</div>`, sticker(r, msg.Shown))
	case File:
		f(`<div class="card tail body"><div class="main"><div><div class="ttl">%s</div><div class="sub">%s</div></div>%s</div><div class="foot">微信电脑版</div></div>`,
			esc(msg.Shown), esc(msg.Detail), fileIcon(msg.Shown))
	case Link:
		f(`<div class="card tail body"><div class="ttl">%s</div><div class="main"><div class="sub">%s</div><img style="width:46px;height:46px;flex:none;margin-top:4px" src="%s"></div></div>`,
			esc(msg.Shown), esc(msg.Detail), dataURI(photo(msg.Seed, 92, 92, false)))
	case RedPacket:
		f(`<div class="money tail body"><div class="main">%s<div class="ttl">%s</div></div><div class="foot">微信红包</div></div>`, redPacketIcon(), esc(msg.Shown))
	case Transfer:
		f(`<div class="money tail body"><div class="main">%s<div><div class="ttl">%s</div><div class="sub">%s</div></div></div><div class="foot">微信转账</div></div>`,
			transferIcon(), esc(msg.Shown), esc(msg.Detail))
	}
	f(`</div></div>`)
}

// ownerAvatar is the phone owner's avatar, the same in all of a spec's messages.
func ownerAvatar(s Spec) int64 {
	return s.At.Unix()*7919 + int64(len(s.Group))
}

// statusBar writes the phone's status bar: clock, and signal, Wi-Fi and battery.
func statusBar(b *strings.Builder, s Spec) {
	p := Light
	if s.Dark {
		p = Dark
	}
	clock := s.At.Format("15:04")
	fmt.Fprintf(b, `<div class="status"><span>%s</span><span class="icons">`, clock)
	c := p.Icon
	fmt.Fprintf(b, `<svg width="18" height="12" viewBox="0 0 18 12"><rect x="0" y="8" width="3" height="4" fill="%[1]s"/><rect x="5" y="5.5" width="3" height="6.5" fill="%[1]s"/><rect x="10" y="3" width="3" height="9" fill="%[1]s"/><rect x="15" y="0" width="3" height="12" fill="%[1]s"/></svg>`, c)
	fmt.Fprintf(b, `<svg width="16" height="12" viewBox="0 0 16 12"><path d="M8 12 L5.5 9 A3.6 3.6 0 0 1 10.5 9 Z M2.8 6.3 A7.5 7.5 0 0 1 13.2 6.3 L11.8 7.7 A5.5 5.5 0 0 0 4.2 7.7 Z M0 3.5 A11.5 11.5 0 0 1 16 3.5 L14.6 4.9 A9.5 9.5 0 0 0 1.4 4.9 Z" fill="%s"/></svg>`, c)
	level := 20 + int(s.At.Unix()%80)
	if s.Device.Platform == IOS {
		fmt.Fprintf(b, `<svg width="27" height="13" viewBox="0 0 27 13"><rect x="0.5" y="0.5" width="23" height="12" rx="3.5" fill="none" stroke="%[1]s" opacity=".4"/><rect x="2" y="2" width="%[2]g" height="9" rx="2" fill="%[1]s"/><rect x="25" y="4" width="1.5" height="5" rx=".7" fill="%[1]s" opacity=".4"/></svg>`, c, 20*float64(level)/100)
	} else {
		fmt.Fprintf(b, `<span style="font-size:12px;font-weight:500">%d%%</span><svg width="12" height="18" viewBox="0 0 12 18"><rect x="3.5" y="0" width="5" height="2" fill="%[2]s"/><rect x="0.5" y="2" width="11" height="15.5" rx="1.5" fill="none" stroke="%[2]s"/><rect x="2" y="%[3]g" width="8" height="%[4]g" fill="%[2]s"/></svg>`, level, c, 16-13*float64(level)/100, 13*float64(level)/100)
	}
	b.WriteString(`</span></div>`)
}

// keyboard writes an open pinyin keyboard: candidate bar and four rows of keys.
func keyboard(b *strings.Builder, s Spec) {
	b.WriteString(`<div class="kb"><div class="cand"><span>你好</span><span>收到</span><span>好的</span><span>谢谢</span><span>在吗</span></div>`)
	for _, row := range []string{"QWERTYUIOP", "ASDFGHJKL", "⇧ZXCVBNM⌫"} {
		b.WriteString(`<div class="keys">`)
		for _, k := range row {
			class := "key"
			if k == '⇧' || k == '⌫' {
				class = "key wide"
			}
			fmt.Fprintf(b, `<div class="%s">%c</div>`, class, k)
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`<div class="keys"><div class="key wide">123</div><div class="key wide">，</div><div class="key space">空格</div><div class="key wide">。</div><div class="key wide">发送</div></div></div>`)
}
