package wechat

import (
	"fmt"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"gongdan/attachments"
	"gongdan/draft"
)

// titleRunes bounds a title taken from the first line of what a customer wrote.
const titleRunes = 40

// normalizer turns a wechat.message envelope into the draft of one message: the customer's
// words (or what they sent) on the thread of their conversation. Events other than intake menu
// clicks make no draft.
type normalizer struct{}

func (normalizer) Normalize(env draft.Envelope) ([]draft.Draft, error) {
	switch env.Type {
	case EnvelopeKF:
		return normalizeKF(env)
	case EnvelopeArchive:
		return normalizeArchive(env)
	case EnvelopeMessage:
	default:
		return nil, fmt.Errorf("wechat: envelope type %q, want %s, %s or %s", env.Type, EnvelopeMessage, EnvelopeKF, EnvelopeArchive)
	}
	m, err := parseMessage(env.Payload)
	if err != nil {
		return nil, err
	}
	d := draft.Draft{
		Source:       draft.Source{Connector: env.Connector, Type: env.ConnectorType, Kind: m.kind()},
		ThreadKey:    threadKey(env, m),
		ThreadWindow: windowOf(env),
	}
	if m.MsgID != 0 {
		d.Source.ExternalID = fmt.Sprint(m.MsgID)
	}
	if env.ConnectorType == TypeWork {
		d.Customer.WecomUserID = string(m.FromUserName)
	} else {
		d.Customer.WechatOpenID = string(m.FromUserName)
	}
	if m.CreateTime > 0 && !env.ReceivedAt.IsZero() {
		d.OccurredAt = time.Unix(m.CreateTime, 0).In(env.ReceivedAt.Location())
	}
	ok, err := fill(&d, m, env.Headers[headerIntake] == "menu", env.Headers[headerAttachment])
	if err != nil || !ok {
		return nil, err
	}
	return finish(d, env)
}

// threadKey is the conversation of one sender on one connector.
func threadKey(env draft.Envelope, m inbound) string {
	prefix := "wechat"
	if env.ConnectorType == TypeWork {
		prefix = "wecom"
	}
	return prefix + ":" + env.Connector + ":" + string(m.FromUserName)
}

// fill writes what message m says into d. It reports false for an event that makes no
// draft.
func fill(d *draft.Draft, m inbound, intakeClick bool, kept string) (bool, error) {
	media := func(kind string) {
		if m.MediaID != "" {
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: kind, URI: "wechat-media:" + clipBytes(m.MediaID, 256)})
		}
	}
	switch m.MsgType {
	case message.MsgTypeImage:
		d.Title, d.Description = "[图片]", "客户发送了一张图片。"
		if m.PicURL != "" {
			d.Description += "\n图片链接：" + clipBytes(m.PicURL, 1024)
		}
		switch {
		case kept != "": // the picture itself, in the attachment store
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: "image", URI: attachments.URI(clipBytes(kept, 64)), SHA256: clipBytes(kept, 64)})
		case m.MediaID != "":
			media("image")
		case m.PicURL != "":
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: "image", URI: clipBytes(m.PicURL, 1024)})
		}
	case message.MsgTypeVoice:
		if text := strings.TrimSpace(clipBytes(m.Recognition, maxField)); text != "" {
			d.Title, d.Description = firstLine(text), text+"\n（语音识别）"
		} else {
			d.Title, d.Description = "[语音]", "客户发送了一段语音（公众号未开启语音识别，没有文字）。"
		}
		if kept != "" {
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: "voice", URI: attachments.URI(clipBytes(kept, 64)), SHA256: clipBytes(kept, 64)})
		} else {
			media("voice")
		}
	case message.MsgTypeEvent:
		if !intakeClick {
			return false, nil // subscribe, view, location reports: counted at the edge, no ticket
		}
		key := clipBytes(m.EventKey, 128)
		d.Title, d.Description = "[菜单] "+draft.Clip(key, titleRunes), "客户点击菜单 "+key+" 发起报修。"
	default:
		// Text, video, location, link, and a type this connector does not know yet (taken in
		// with its type named, so that nothing a customer sends is lost): as the other chats.
		c := chatMessage{Type: string(m.MsgType), Text: m.Content, MediaID: m.MediaID, Lat: m.LocationX, Lon: m.LocationY, Place: m.Label}
		if m.MsgType == message.MsgTypeShortVideo {
			c.Type = string(message.MsgTypeVideo)
		}
		c.Link.Title, c.Link.Desc, c.Link.URL = m.Title, m.Description, m.URL
		if err := fillChat(d, c, "wechat", "客户", "wechat-media:"); err != nil {
			return false, err
		}
	}
	return true, nil
}

// firstLine is a title from text: its first non-empty line, clipped.
func firstLine(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return draft.Clip(line, titleRunes)
		}
	}
	return ""
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clipBytes cuts s to at most n bytes, at a character boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// chatMessage is what the JSON channels (WeChat customer service, the session archive) say of
// a message, in common.
type chatMessage struct {
	Type     string
	Text     string
	MediaID  string // image, voice, video, file
	Lat, Lon float64
	Place    string // a location's name and address
	Link     struct{ Title, Desc, URL string }
}

// fillChat writes what chat message m says into d. who is how the description names the
// sender ("客户", "客户在群里"); scheme prefixes media ids in attachment URIs.
func fillChat(d *draft.Draft, m chatMessage, channel, who, scheme string) error {
	noun := map[string]string{"image": "一张图片", "voice": "一段语音", "video": "一段视频", "file": "一个文件"}
	title := map[string]string{"image": "[图片]", "voice": "[语音]", "video": "[视频]", "file": "[文件]"}
	switch m.Type {
	case "text":
		text := strings.TrimSpace(clipBytes(m.Text, maxField))
		if text == "" {
			return fmt.Errorf("%s: a text message with no text", channel)
		}
		d.Title, d.Description = firstLine(text), text
	case "image", "voice", "video", "file":
		d.Title, d.Description = title[m.Type], who+"发送了"+noun[m.Type]+"。"
		if m.MediaID != "" {
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: m.Type, URI: scheme + clipBytes(m.MediaID, 1024)})
		}
	case "location":
		d.Location.Address = strings.TrimSpace(clipBytes(m.Place, 1024))
		if m.Lat >= -90 && m.Lat <= 90 && m.Lon >= -180 && m.Lon <= 180 && (m.Lat != 0 || m.Lon != 0) {
			d.Location.Lat, d.Location.Lon = m.Lat, m.Lon
		}
		where := d.Location.Address
		if d.Location.Lat != 0 || d.Location.Lon != 0 {
			where = strings.TrimSpace(fmt.Sprintf("%s (%.6f, %.6f)", where, d.Location.Lat, d.Location.Lon))
		}
		where = firstNonEmpty(where, "（没有地址）")
		d.Title = draft.Clip("[位置] "+firstNonEmpty(d.Location.Address, where), titleRunes)
		d.Description = who + "发送了位置：" + where
	case "link":
		d.Title = firstNonEmpty(strings.TrimSpace(clipBytes(m.Link.Title, 1024)), "[链接]")
		d.Description = strings.TrimSpace(strings.Join([]string{clipBytes(m.Link.Title, 1024), clipBytes(m.Link.Desc, maxField), clipBytes(m.Link.URL, 2048)}, "\n"))
	default:
		typ := clipBytes(m.Type, 64)
		d.Title = "[" + typ + " 消息]"
		d.Description = who + "发送了一条 " + typ + " 消息，gongdan 暂不能读取其内容。"
		if m.MediaID != "" {
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: "file", URI: scheme + clipBytes(m.MediaID, 1024)})
		}
	}
	return nil
}

// finish clips d's texts, fills what the envelope knows and validates it.
func finish(d draft.Draft, env draft.Envelope) ([]draft.Draft, error) {
	d.Title = draft.Clip(d.Title, draft.MaxTitleRunes)
	d.Description = draft.Clip(d.Description, draft.MaxDescriptionRunes)
	d = draft.Complete(d, env)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return []draft.Draft{d}, nil
}

// windowOf is the thread window an envelope carries.
func windowOf(env draft.Envelope) draft.Window {
	if w, err := time.ParseDuration(env.Headers[headerThreadWindow]); err == nil && w > 0 {
		return draft.Window(w)
	}
	return 0
}
