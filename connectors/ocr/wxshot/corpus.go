package wxshot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// DefaultSeed is the corpus's fixed seed: the pictures every test and benchmark use. Changing
// it makes a new corpus, whose held-out quarter has never been looked at; do that only on
// purpose, and say so in docs/BENCHMARKS.md.
const DefaultSeed int64 = 19

// DefaultSize is how many screenshots the default corpus has.
const DefaultSize = 240

// Fonts are the CJK fonts the pictures are drawn with (Debian's fonts-noto-cjk,
// fonts-wqy-microhei and fonts-wqy-zenhei).
var Fonts = []string{"Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"}

// Corpus makes n screenshot specs from seed. The same seed makes the same specs, and spec i
// depends on seed and i alone, so Corpus(s, k) is the first k of Corpus(s, n) for k ≤ n.
func Corpus(seed int64, n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		r := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		specs[i] = newSpec(r, fmt.Sprintf("shot-%03d", i))
	}
	return specs
}

// Split holds out every fourth screenshot (indexes 3, 7, 11, …) of a corpus. Tune parameters
// on train only; the held-out quarter is for reporting, and a parameter chosen by looking at
// it makes its figures worthless.
func Split[T any](shots []T) (train, heldOut []T) {
	for i, s := range shots {
		if i%4 == 3 {
			heldOut = append(heldOut, s)
		} else {
			train = append(train, s)
		}
	}
	return train, heldOut
}

// newSpec draws one screenshot: phone, appearance, group, conversation, scroll and crop.
func newSpec(r *rand.Rand, name string) Spec {
	s := Spec{
		Name:      name,
		Device:    pick(r, Devices),
		FontScale: pick(r, []float64{0.9, 1, 1, 1, 1.1, 1.15, 1.2, 1.3}),
		Dark:      r.IntN(100) < 35,
		Font:      pick(r, Fonts),
		At:        time.Date(2026, time.Month(1+r.IntN(11)), 1+r.IntN(27), 8+r.IntN(12), r.IntN(60), 0, 0, shanghai),
		Group:     pick(r, groupNames),
		Count:     3 + r.IntN(180),
		Keyboard:  r.IntN(100) < 20,
	}
	s.Members = members(r, 2+r.IntN(4))
	s.Messages = conversation(r, s.Members, s.At, 7+r.IntN(8))
	switch n := r.IntN(100); {
	case n < 55:
		s.Scroll = Scroll{Anchor: Bottom}
	case n < 70:
		s.Scroll = Scroll{Anchor: Top}
	default:
		s.Scroll = Scroll{Anchor: CutAt, At: r.IntN(len(s.Messages) / 2), Cut: 0.2 + 0.6*r.Float64()}
	}
	s.Crop = crop(r, s)
	if r.IntN(100) < 75 {
		s.JPEG = 60 + r.IntN(31)
	}
	return s
}

var shanghai = time.FixedZone("CST", 8*3600)

// members draws n senders with their photo avatars; names are never repeated in a group.
func members(r *rand.Rand, n int) []Member {
	var ms []Member
	seen := map[string]bool{}
	for len(ms) < n {
		pool := customerNames
		if len(ms) > 0 && r.IntN(3) == 0 {
			pool = staffNames
		}
		name := pick(r, pool)
		if seen[name] {
			continue
		}
		seen[name] = true
		ms = append(ms, Member{Name: name, Avatar: r.Int64()})
	}
	return ms
}

// conversation writes n messages sent before now. Member 0 is always a customer with a
// request; the others ask, follow up, reply and send pictures, stickers, voice, files, links,
// quotes, red packets and transfers, among notices.
func conversation(r *rand.Rand, ms []Member, now time.Time, n int) []Message {
	var out []Message
	add := func(m Message) { out = append(out, m) }
	if r.IntN(8) == 0 {
		add(Message{Kind: System, Shown: fmt.Sprintf("%s邀请%s加入了群聊", pick(r, []string{"你", ms[len(ms)-1].Name}), ms[0].Name)})
	}
	first := request(r)
	first.From = 0
	add(first)
	for len(out) < n {
		from := r.IntN(len(ms))
		var m Message
		switch k := r.IntN(100); {
		case k < 18:
			m = request(r)
		case k < 36:
			m = Message{Kind: Text, Text: pick(r, ownerReplies)}
			from = -1
		case k < 46:
			m = Message{Kind: Text, Text: pick(r, staffReplies)}
		case k < 56:
			m = Message{Kind: Text, Text: pick(r, customerFollowups)}
		case k < 60:
			m = Message{Kind: Text, Text: "@" + ms[r.IntN(len(ms))].Name + " " + pick(r, staffReplies)}
			if r.IntN(2) == 0 {
				m.Text = "@" + ms[r.IntN(len(ms))].Name + " " + pick(r, ownerReplies)
				from = -1
			}
		case k < 66:
			m = quote(r, ms, out)
			if r.IntN(2) == 0 {
				from = -1
			}
		case k < 71:
			m = Message{Kind: Image, Seed: r.Int64()}
		case k < 75:
			m = Message{Kind: Sticker, Seed: r.Int64()}
			if r.IntN(3) == 0 {
				m.Shown = pick(r, stickerWords) // a sticker with words on it, as many are
			}
		case k < 80:
			secs := 1 + r.IntN(59)
			m = Message{Kind: Voice, Shown: fmt.Sprintf("%d\"", secs), Seed: int64(secs)}
		case k < 83:
			f := pick(r, files)
			m = Message{Kind: File, Shown: f.name, Detail: f.size}
		case k < 86:
			l := pick(r, links)
			m = Message{Kind: Link, Shown: l.title, Detail: l.desc, Seed: r.Int64()}
		case k < 88:
			m = Message{Kind: RedPacket, Shown: pick(r, greetingsRed)}
		case k < 90:
			m = Message{Kind: Transfer, Shown: fmt.Sprintf("¥%d.00", 50*(1+r.IntN(40))), Detail: pick(r, []string{"请收款", "已收款", "你已收款"})}
		case k < 94:
			who := ms[from].Name + "撤回了一条消息"
			if r.IntN(3) == 0 {
				who = "你撤回了一条消息 重新编辑"
			}
			m = Message{Kind: Recalled, Shown: who}
		case k < 96:
			m = Message{Kind: System, Shown: pick(r, []string{
				fmt.Sprintf("%s邀请%s加入了群聊", ms[from].Name, pick(r, customerNames)),
				fmt.Sprintf("\"%s\"通过扫描你分享的二维码加入群聊", pick(r, customerNames)),
				fmt.Sprintf("%s修改群名为“%s”", ms[from].Name, pick(r, groupNames)),
			})}
		default:
			m = Message{Kind: Text, Text: pick(r, customerFollowups)}
		}
		m.From = from
		if m.Kind.Notice() {
			m.From = -1
		}
		add(m)
	}
	if r.IntN(3) == 0 {
		// Where the unread messages began when the chat was opened.
		at := 2 + r.IntN(len(out)-2)
		out = slices.Insert(out, at, Message{From: -1, Kind: Divider, Shown: "以下是新消息"})
	}
	stamp(r, out, now)
	return out
}

// stamp puts time separators above the messages: the first one always, later ones after a
// gap of five minutes or more (WeChat's rule), most of the time. The conversation ends before
// now, up to a week earlier, so every separator form appears.
func stamp(r *rand.Rand, msgs []Message, now time.Time) {
	gaps := make([]time.Duration, len(msgs))
	var total time.Duration
	for i := range gaps {
		switch n := r.IntN(10); {
		case n < 6: // a reply within minutes: no separator
			gaps[i] = time.Duration(r.IntN(4*60)) * time.Second
		case n < 8:
			gaps[i] = time.Duration(5+r.IntN(40)) * time.Minute
		default:
			gaps[i] = time.Duration(60+r.IntN(16*60)) * time.Minute
		}
		total += gaps[i]
	}
	twelve := r.IntN(3) == 0
	t := now.Add(-total - time.Duration(r.IntN(8*24*60))*time.Minute)
	for i := range msgs {
		t = t.Add(gaps[i])
		if i == 0 || gaps[i] >= 5*time.Minute && r.IntN(4) > 0 {
			msgs[i].Time = separator(t, now, twelve)
		}
	}
}

// quote replies to an earlier text message, quoting its start as WeChat does ("张三：…").
func quote(r *rand.Rand, ms []Member, before []Message) Message {
	var texts []Message
	for _, m := range before {
		if m.Kind == Text {
			texts = append(texts, m)
		}
	}
	q := "我：收到"
	if len(texts) > 0 {
		m := pick(r, texts)
		who := "我"
		if m.From >= 0 {
			who = ms[m.From].Name
		}
		body := []rune(m.Text)
		if len(body) > 18 {
			body = append(body[:18:18], '…')
		}
		q = who + "：" + string(body)
	}
	return Message{Kind: Quote, Text: pick(r, quoteReplies), Quoted: q}
}

// crop draws what was cut off the screen: the status bar, the title bar too, a bit of chat,
// the input bar (and keyboard), the avatar columns — each at the rate people do.
func crop(r *rand.Rand, s Spec) Crop {
	d := s.Device
	m := metricsOf(d)
	px := func(dp float64) int { return int(math.Round(dp * d.Ratio)) }
	var c Crop
	switch n := r.IntN(100); {
	case n < 35:
	case n < 55:
		c.Top = px(m.StatusBar)
	case n < 85:
		c.Top = px(m.StatusBar + m.TitleBar)
	default:
		c.Top = px(m.StatusBar + m.TitleBar + float64(8+r.IntN(60)))
	}
	if r.IntN(100) < 30 {
		c.Bottom = px(bottomChrome(m, s.Keyboard))
	}
	if r.IntN(100) < 20 {
		// The avatar columns cut away, all of them and a little of the gap, or half or more.
		side := func() int {
			if r.IntN(2) == 0 {
				return px(m.EdgeMargin + m.Avatar + float64(r.IntN(4)))
			}
			return px(m.EdgeMargin + m.Avatar*(0.5+0.5*r.Float64()))
		}
		c.Left, c.Right = side(), side()
	}
	return c
}

// metricsOf returns the platform's metrics with the device's status bar.
func metricsOf(d Device) Metrics {
	m := AndroidMetrics
	if d.Platform == IOS {
		m = IOSMetrics
		if d.StatusBar <= 20 {
			m.HomeIndicator = 0 // a phone with a home button
		}
	}
	m.StatusBar = d.StatusBar
	return m
}

// bottomChrome is the height below the chat area: input bar, keyboard, home indicator.
func bottomChrome(m Metrics, keyboard bool) float64 {
	h := m.InputBar + m.HomeIndicator
	if keyboard {
		h += m.Keyboard
	}
	return h
}

// OverlapPair makes two screenshots of the same conversation, as a person takes them when a
// conversation is longer than the screen: the first from its top, the second scrolled so that
// the first message is cut off at the top, both showing the second request whole. The
// conversation holds two customers' requests, each with a phone, an address and a serial.
func OverlapPair(seed int64) [2]Spec {
	r := rand.New(rand.NewPCG(uint64(seed), 0x0ae1))
	s := newSpec(r, "overlap")
	s.Device = Devices[1] // 1080×2400
	s.Keyboard = false
	s.Crop = Crop{Top: int(math.Round(s.Device.StatusBar * s.Device.Ratio))}
	s.FontScale = 1
	s.Members = members(r, 3)
	first, second := request(r), request(r)
	first.From, second.From = 0, 1
	t := s.At.Add(-40 * time.Minute)
	first.Time = separator(t, s.At, false)
	s.Messages = []Message{
		first,
		{From: -1, Kind: Text, Text: "收到，已登记"},
		second,
		{From: 2, Kind: Text, Text: pick(r, staffReplies)},
		{From: -1, Kind: Text, Text: "好的，两单都已派出，师傅会提前电话联系"},
		{From: 1, Kind: Image, Seed: r.Int64()},
		{From: 0, Kind: Text, Text: pick(r, customerFollowups), Time: separator(t.Add(25*time.Minute), s.At, false)},
		{From: -1, Kind: Text, Text: "师傅已经出发了，预计半小时到"},
		{From: 1, Kind: Text, Text: "好的谢谢"},
		{From: 2, Kind: Voice, Shown: "8\"", Seed: 8},
		{From: 0, Kind: Text, Text: "门卫那边我打过招呼了，直接进来就行"},
	}
	a, b := s, s
	a.Name, b.Name = "overlap-1", "overlap-2"
	a.Scroll = Scroll{Anchor: Top}
	b.Scroll = Scroll{Anchor: CutAt, At: 0, Cut: 0.55}
	return [2]Spec{a, b}
}
