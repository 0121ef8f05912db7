package wxshot

// Platform is the WeChat client a screenshot is taken on.
type Platform string

const (
	Android Platform = "android"
	IOS     Platform = "ios"
)

// Metrics are the sizes of WeChat's chat screen in density-independent units: dp on Android,
// pt on iOS, which are CSS pixels in the page this package renders (a screen 1080 px wide at a
// device pixel ratio of 3 is 360 units wide).
//
// How the numbers were derived. WeChat's chat screen is drawn in fixed dp/pt, so each element
// is a fixed share of the screen width on phones of the same density class: on a 1080 px
// Android screenshot (360 dp) and a 1170 px iPhone screenshot (390 pt) the avatar is about
// 120 px, a ninth of the width (40 dp = 11.1 % of 360 dp, 10.3 % of 390 pt); its outer edge
// sits about 36 px (12 dp, 3.3 %) from the screen's edge; the bubble body starts about 30 px
// (10 dp) after the avatar, with the tail in that gap; a one-line bubble is as tall as the
// avatar. The other numbers below were read the same way from the proportions of public
// screenshots of WeChat 8 (group chats, light and dark, both platforms) as the author knows
// them, and rounded to whole units; no screenshot was measured by program here, so treat each
// as accurate to about ±2 units. The colours are WeChat's published/commonly quoted values
// where there is one (#95EC69, #EDEDED) and sampled-looking estimates elsewhere (marked ≈).
//
//	                          Android (dp)  iOS (pt)   share of width (360 dp / 390 pt)
//	status bar                24–36         44–47      6.7–10 % / 11.3–12 %  (20 pt on 1242×2208)
//	title bar                 48            44         13.3 % / 11.3 %; title 17 sp/pt, centred,
//	                                                   "group name(23)", ‹ back at left, ··· at right
//	avatar                    40, r 4       40, r 4    11.1 % / 10.3 %
//	avatar from screen edge   12            12         3.3 % / 3.1 %
//	avatar to bubble body     10            10         (tail 6 wide × 12 tall in that gap, its
//	                                                   middle 20 below the bubble's top)
//	bubble padding            9 × 12        8 × 12     vertical × horizontal; radius 4
//	bubble max width          W − 126       W − 126    a left bubble ends 64 from the right edge,
//	                                                   2 units short of where right bubbles end (62)
//	                                                   — 65 % of 360 dp, 67.7 % of 390 pt
//	message text              16 sp         17 pt      line height 1.4; × font scale 0.9–1.3
//	sender name               12 sp         12 pt      grey, starts at the bubble body's left edge,
//	                                                   on the avatar's top line; bubble 20 below it
//	row spacing               16            16         avatar bottom to next row's top
//	time separator            13 sp         13 pt      grey, centred, 18 above and 12 below
//	system / recalled notice  13 sp         13 pt      grey, centred, at most 75 % of the width
//	input bar                 56            56 + 34    (+ iOS home indicator strip)
//	keyboard                  ~300 incl.    ~300 incl.  (candidate bar 40)
//
// Colours (light / dark): background #EDEDED / #111111; title bar as the background; others'
// bubbles #FFFFFF / #2C2C2C; own bubbles #95EC69 / ≈#3EB575; text rgba(0,0,0,.9) / ≈#D5D5D5
// (dark text on the green in both); names ≈#888888 / ≈#7D7D7D; time and notices ≈#A6A6A6 /
// ≈#5E5E5E; input bar ≈#F7F7F7 / ≈#1E1E1E; quotes under a bubble ≈#E2E2E2 / ≈#1E1E1E with
// ≈#7F7F7F text; red packets and transfers ≈#FA9D3B.
type Metrics struct {
	StatusBar      float64 // height of the phone's status bar
	TitleBar       float64 // height of the chat's title bar
	TitleSize      float64 // font size of the group name
	Avatar         float64 // avatar side
	AvatarRadius   float64 // avatar corner radius
	EdgeMargin     float64 // screen edge to avatar
	AvatarGap      float64 // avatar to bubble body (the tail sits in it)
	TailWidth      float64 // how far the tail reaches out of the bubble body
	TailHeight     float64 // the tail's height at the bubble body
	TailMiddle     float64 // bubble top to the middle of the tail
	PadV, PadH     float64 // bubble padding
	BubbleRadius   float64 // bubble corner radius
	OppositeMargin float64 // right end of a left bubble's maximum width to the screen's right edge
	TextSize       float64 // message text at font scale 1
	LineHeight     float64 // message line height, as a multiple of the text size
	NameSize       float64 // sender name label
	NameGap        float64 // top of the name label to the top of the bubble
	RowGap         float64 // between two messages
	SeparatorSize  float64 // time separators, notices
	SeparatorAbove float64 // space above a time separator
	SeparatorBelow float64 // space below a time separator
	InputBar       float64 // input bar height
	HomeIndicator  float64 // iOS's home indicator strip below the input bar or keyboard
	Keyboard       float64 // keyboard height with its candidate bar
}

// AndroidMetrics are WeChat 8's on Android; StatusBar is set per device.
var AndroidMetrics = Metrics{
	StatusBar: 28, TitleBar: 48, TitleSize: 17,
	Avatar: 40, AvatarRadius: 4, EdgeMargin: 12, AvatarGap: 10,
	TailWidth: 6, TailHeight: 12, TailMiddle: 20,
	PadV: 9, PadH: 12, BubbleRadius: 4, OppositeMargin: 64,
	TextSize: 16, LineHeight: 1.4, NameSize: 12, NameGap: 20, RowGap: 16,
	SeparatorSize: 13, SeparatorAbove: 18, SeparatorBelow: 12,
	InputBar: 56, Keyboard: 300,
}

// IOSMetrics are WeChat 8's on iOS; StatusBar is set per device.
var IOSMetrics = Metrics{
	StatusBar: 47, TitleBar: 44, TitleSize: 17,
	Avatar: 40, AvatarRadius: 4, EdgeMargin: 12, AvatarGap: 10,
	TailWidth: 6, TailHeight: 12, TailMiddle: 20,
	PadV: 8, PadH: 12, BubbleRadius: 4, OppositeMargin: 64,
	TextSize: 17, LineHeight: 1.4, NameSize: 12, NameGap: 20, RowGap: 16,
	SeparatorSize: 13, SeparatorAbove: 18, SeparatorBelow: 12,
	InputBar: 56, HomeIndicator: 34, Keyboard: 300,
}

// Palette is one appearance's colours, as CSS colours.
type Palette struct {
	Background, Text, OwnBubble, OwnText, OtherBubble, OtherText string
	Name, Notice, Link, InputBar, InputField, Icon               string
	Quote, QuoteText, Card, CardText, CardMuted, Money           string
	Keyboard, Key, KeyText                                       string
}

// Light and Dark are WeChat's two appearances (see Metrics for where the values come from).
var (
	Light = Palette{
		Background: "#EDEDED", Text: "#191919", OwnBubble: "#95EC69", OwnText: "#191919",
		OtherBubble: "#FFFFFF", OtherText: "#191919", Name: "#888888", Notice: "#A6A6A6",
		Link: "#576B95", InputBar: "#F7F7F7", InputField: "#FFFFFF", Icon: "#181818",
		Quote: "#E2E2E2", QuoteText: "#7F7F7F", Card: "#FFFFFF", CardText: "#191919",
		CardMuted: "#A3A3A3", Money: "#FA9D3B",
		Keyboard: "#D1D4DA", Key: "#FFFFFF", KeyText: "#111111",
	}
	Dark = Palette{
		Background: "#111111", Text: "#D5D5D5", OwnBubble: "#3EB575", OwnText: "#0F0F0F",
		OtherBubble: "#2C2C2C", OtherText: "#D5D5D5", Name: "#7D7D7D", Notice: "#5E5E5E",
		Link: "#7D90A9", InputBar: "#1E1E1E", InputField: "#2C2C2C", Icon: "#D0D0D0",
		Quote: "#1E1E1E", QuoteText: "#7F7F7F", Card: "#2C2C2C", CardText: "#D5D5D5",
		CardMuted: "#6E6E6E", Money: "#C7802F",
		Keyboard: "#2B2B2D", Key: "#5A5A5E", KeyText: "#F2F2F2",
	}
)

// OwnBubbleRGB and OtherBubbleRGB are the bubbles' colours as numbers, for tests that check
// pixels: [dark][rgb].
var (
	OwnBubbleRGB   = [2][3]uint8{{0x95, 0xEC, 0x69}, {0x3E, 0xB5, 0x75}}
	OtherBubbleRGB = [2][3]uint8{{0xFF, 0xFF, 0xFF}, {0x2C, 0x2C, 0x2C}}
)

// Device is a phone's screen: its size in pixels and its device pixel ratio.
type Device struct {
	Name          string
	Platform      Platform
	Width, Height int     // pixels
	Ratio         float64 // device pixels per dp/pt
	StatusBar     float64 // dp/pt
}

// Devices are the screens the corpus draws from: every width the issue names (720, 1080, 1170,
// 1242, 1284, 1440), ratios 2–3.5, and real phones' aspect ratios.
var Devices = []Device{
	{"android-720x1600", Android, 720, 1600, 2, 24},
	{"android-1080x2400", Android, 1080, 2400, 3, 28},
	{"android-1080x2340", Android, 1080, 2340, 2.75, 30},
	{"android-1080x2400-2.625", Android, 1080, 2400, 2.625, 32},
	{"android-1440x3200", Android, 1440, 3200, 3.5, 32},
	{"android-1440x3120", Android, 1440, 3120, 3.5, 36},
	{"ios-1170x2532", IOS, 1170, 2532, 3, 47},
	{"ios-1284x2778", IOS, 1284, 2778, 3, 47},
	{"ios-1242x2688", IOS, 1242, 2688, 3, 44},
	{"ios-1242x2208", IOS, 1242, 2208, 3, 20},
}
