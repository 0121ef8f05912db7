package wxshot

import "time"

// Side is where a message sits: the phone owner's on the right, everyone else's on the left,
// notices (time-less system lines, recalls, the new-messages divider) in the middle.
type Side string

const (
	Left   Side = "left"
	Right  Side = "right"
	Center Side = "center"
)

// Kind is what a message is.
type Kind string

const (
	Text      Kind = "text"      // a text bubble (may hold @mentions)
	Quote     Kind = "quote"     // a text bubble with a quoted earlier message under it (引用)
	Image     Kind = "image"     // a picture, no bubble
	Sticker   Kind = "sticker"   // a sticker (表情), no bubble
	Voice     Kind = "voice"     // a voice message: a bubble with the wave icon and 5"
	File      Kind = "file"      // a file card: name, size, icon
	Link      Kind = "link"      // a link card: title, description, thumbnail
	RedPacket Kind = "redpacket" // a red packet (红包)
	Transfer  Kind = "transfer"  // a transfer (转账)
	Recalled  Kind = "recalled"  // "张三撤回了一条消息"
	System    Kind = "system"    // "王工邀请李四加入了群聊" and the like
	Divider   Kind = "divider"   // "以下是新消息"
)

// Bubbled reports whether the kind is drawn in a chat bubble whose colour tells the side.
func (k Kind) Bubbled() bool {
	return k == Text || k == Quote || k == Voice
}

// Notice reports whether the kind is a centred grey line, sent by nobody.
func (k Kind) Notice() bool {
	return k == Recalled || k == System || k == Divider
}

// Member is one person in the group.
type Member struct {
	Name   string // as the group shows it: "王工(华东运维)", "李娜", "Kevin Zhang"
	Avatar int64  // seed of the member's photo avatar
}

// Message is one line of the conversation as it was written, oldest first.
type Message struct {
	From int    // index into Spec.Members; -1 for the phone's owner; ignored for notices
	Kind Kind   // what it is
	Time string // time separator shown above it ("10:32", "昨天 18:05"), or ""
	Text string // the text of Text and Quote messages
	// Quoted is the quoted part of a Quote, as shown under the bubble ("张三：原话").
	Quoted string
	// Shown is the other words the message shows: a notice's text, a file's or link's title,
	// a red packet's greeting, a transfer's amount, a voice message's 5".
	Shown  string
	Detail string // a second line: a file's size, a link's description, a transfer's 请收款
	Seed   int64  // seed of a picture's or sticker's pixels, a voice bubble's length
	// Phones, Serials and Address are what Text holds: the phones as 11 digits, the serials as
	// the extractors return them (the capture after SN:, or the whole E-number), the address
	// as written.
	Phones  []string `json:",omitempty"`
	Serials []string `json:",omitempty"`
	Address string   `json:",omitempty"`
}

// Anchor says which part of the conversation the screenshot shows.
type Anchor string

const (
	// Bottom shows the newest messages, as WeChat opens a chat.
	Bottom Anchor = "bottom"
	// Top shows the oldest messages from the first one.
	Top Anchor = "top"
	// CutAt scrolls so that the top of the chat area cuts Scroll.At at Scroll.Cut of its height.
	CutAt Anchor = "cut"
)

// Scroll is where the conversation is scrolled to.
type Scroll struct {
	Anchor Anchor
	At     int     // the message cut by the top edge, with CutAt
	Cut    float64 // share of that message's height above the edge, 0–1
}

// Crop is the part of the phone's screen that was kept, in screen pixels.
type Crop struct {
	Top    int // pixels cut from the top (status bar, title bar, some chat)
	Bottom int // pixels cut from the bottom (input bar, keyboard)
	Left   int // pixels cut from the left (the avatar column, or part of it)
	Right  int // pixels cut from the right
}

// Spec is one screenshot to draw: the phone, its settings, the conversation and the crop.
// A Spec is plain data, deterministic from the corpus seed; Render turns it into a picture.
type Spec struct {
	Name      string    // file name without extension: "shot-017"
	Device    Device    // the phone's screen
	FontScale float64   // WeChat's text size setting, 0.9–1.3
	Dark      bool      // dark mode
	Font      string    // CSS font family of the text
	At        time.Time // when the screenshot was taken: the separators are relative to it
	Group     string    // the group's name, shown in the title bar with Members' count
	Count     int       // the member count in the title: "(23)"
	Members   []Member  // the senders
	Messages  []Message // the conversation, oldest first
	Scroll    Scroll    // which part of it is on the screen
	Keyboard  bool      // the keyboard is open
	Crop      Crop      // what was cut off the screen
	JPEG      int       // JPEG quality 60–90, or 0 for PNG
}

// Box is a rectangle in the picture's pixels, Min inclusive and Max exclusive.
type Box struct {
	X0, Y0, X1, Y1 int
}

// Empty reports whether the box holds no pixel.
func (b Box) Empty() bool { return b.X0 >= b.X1 || b.Y0 >= b.Y1 }

// Seen is a message as the screenshot shows it: the truth a reader of the picture is scored on.
type Seen struct {
	Index  int    // the message's index in Spec.Messages
	Sender string // empty for the phone's owner and for notices
	Side   Side
	Kind   Kind
	Text   string // a Text's or Quote's own text, without the quoted part
	Quoted string `json:",omitempty"` // a Quote's quoted part
	Shown  string `json:",omitempty"` // other words shown (see Message.Shown)
	// Time is the separator text directly above the message, when that separator is wholly in
	// the picture.
	Time string `json:",omitempty"`
	// CutTop and CutBottom say the message runs over the picture's (or chat area's) top or
	// bottom edge: only part of it is visible.
	CutTop    bool     `json:",omitempty"`
	CutBottom bool     `json:",omitempty"`
	Phones    []string `json:",omitempty"`
	Serials   []string `json:",omitempty"`
	Address   string   `json:",omitempty"`
	// Box is the bubble body (without its tail), the picture, card or notice text, clipped to
	// the picture.
	Box Box
	// Name is the sender label's box; Avatar the avatar's, clipped to the picture; empty when
	// not shown or cut off.
	Name   Box `json:",omitzero"`
	Avatar Box `json:",omitzero"`
}

// Shot is one rendered screenshot and its truth.
type Shot struct {
	Name     string
	Path     string // the picture: .png or .jpg
	Width    int
	Height   int
	Dark     bool
	Platform Platform
	At       time.Time // when it was taken (what the separators are relative to)
	Title    string    `json:",omitempty"` // the title bar's text, when the title bar is in the picture
	// Messages are the messages at least partly in the picture, top to bottom.
	Messages []Seen
}
