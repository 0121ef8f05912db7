package wechat

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"

	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// inbound is one message or event as WeChat and WeCom send it (decrypted): the library's
// MixMessage, and WeCom's AgentID.
type inbound struct {
	message.MixMessage
	AgentID int `xml:"AgentID"`
	// WeChat customer service (kf) events: the token for sync_msg and the account.
	Token    string `xml:"Token"`
	OpenKfID string `xml:"OpenKfId"`
}

// eventKF is the event WeCom sends when a kf account has new messages to sync.
const eventKF = "kf_msg_or_event"

// maxField bounds what the connector keeps of any one text field of a message. WeChat's own
// limits are far lower (a text message is at most 2,048 characters).
const maxField = 16 << 10

// parseMessage reads a decrypted message; it must name its sender and its type.
func parseMessage(b []byte) (inbound, error) {
	var m inbound
	if err := xml.Unmarshal(b, &m); err != nil {
		return inbound{}, fmt.Errorf("the message is not WeChat's XML: %v", err)
	}
	switch {
	case m.FromUserName == "" && m.Event != eventKF: // a kf event names no sender
		return inbound{}, errors.New("the message has no FromUserName")
	case m.MsgType == "":
		return inbound{}, errors.New("the message has no MsgType")
	case len(m.FromUserName) > 128:
		return inbound{}, errors.New("the message's FromUserName is longer than 128 bytes")
	}
	return m, nil
}

// kind names what the message is: its MsgType, or event.<Event> for events.
func (m inbound) kind() string {
	if m.MsgType == message.MsgTypeEvent {
		return "event." + string(m.Event)
	}
	return string(m.MsgType)
}

// dedupKey identifies the message at WeChat, so that WeChat's retries of one callback make
// one ticket: its MsgId, or for events (which have none) the sender, time, kind and key.
func (m inbound) dedupKey() string {
	if m.MsgID != 0 {
		return "msg/" + strconv.FormatInt(m.MsgID, 10)
	}
	return fmt.Sprintf("event/%s/%d/%s/%s", m.FromUserName, m.CreateTime, clipBytes(string(m.Event), 64), clipBytes(m.EventKey, 128))
}
