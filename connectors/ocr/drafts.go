package ocr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"gongdan/draft"
	"gongdan/normalize"
)

// RequestFilter picks the service requests among a group's messages.
type RequestFilter struct {
	// Keywords mark a request (报修, 坏了, 故障, …).
	Keywords []string
	// Dictionary, when set, marks a message that names one of its faults as a request.
	Dictionary *normalize.Dictionary
	// Every makes every customer message a request.
	Every bool
	// Staff are the service team's names in the group: their messages are never requests.
	Staff []string
	// Window is how long after a request a customer's further messages join it.
	Window time.Duration
}

// request reports whether text asks for service.
func (r RequestFilter) request(text string) bool {
	if r.Every {
		return true
	}
	for _, k := range r.Keywords {
		if k != "" && strings.Contains(text, k) {
			return true
		}
	}
	if r.Dictionary != nil {
		if _, _, _, ok := r.Dictionary.Classify(text); ok {
			return true
		}
	}
	return false
}

func (r RequestFilter) staff(name string) bool {
	for _, s := range r.Staff {
		if s == name {
			return true
		}
	}
	return false
}

// Drafts turns the customers' messages of a page into drafts, one per message, on the
// thread of their sender in the group. A message the rule takes opens a ticket (or joins the
// sender's open one); the sender's later messages within the window in the same picture are
// its conversation and go on the same thread (the phone number, address or serial given a
// message later). A customer's message with no request before it in the picture is a
// follow-up (intent update): it joins the sender's open ticket if it came within the window
// of it — a request in the previous screenshot — and makes nothing otherwise. The phone's
// owner (the right side) and the staff are the service team, not customers. Only text
// messages make drafts: a picture, a voice message, a file or link card, a red packet or a
// transfer is recognised as what it is and left to the people reading the screenshot.
//
// The drafts of one picture reach the core in any order (the pipeline takes drafts in
// parallel), so each message's time is its separator's plus its place in the picture in
// milliseconds: whichever draft comes first opens the ticket, and the earliest message titles
// it.
//
// A message's dedup key is its group, sender, day and normalised text, not anything of the
// picture: the same message in two overlapping screenshots, or one screenshot sent twice,
// makes one draft's worth of ticket. The minute is not in the key because a message near the
// top of a screenshot often has its time separator scrolled out of the picture.
//
// A screenshot another connector forwarded for one of its senders (env's forwarded_by, see
// ForwardedScreenshotEnvelope) is only that sender's word: anyone who can message a WeChat
// official account can draw a group chat with a real member's name in it. Its keys and its
// customer are therefore the forwarder's own, <connector>/forwarded/<origin>/…: its messages
// join and pre-empt only tickets of screenshots the same sender forwarded, never those of the
// staff's uploads and watched folder, whose keys are what the picture shows.
func (r RequestFilter) Drafts(p Page, group string, env draft.Envelope, shot draft.Attachment) []draft.Draft {
	if group == "" {
		group = p.Title
	}
	origin := env.Headers[headerForwardedBy]
	// A message above the picture's first separator has no time of its own. It was sent before
	// the separator below it, so it takes that time, less its distance in the picture in
	// milliseconds: it orders before the messages below, falls in their thread window, and
	// keys on their day.
	sent := make([]time.Time, len(p.Messages))
	var below time.Time
	belowAt := 0
	for i := len(p.Messages) - 1; i >= 0; i-- {
		if t := p.Messages[i].Time; t != nil {
			below, belowAt = *t, i
			sent[i] = t.Add(time.Duration(i) * time.Millisecond)
		} else if !below.IsZero() {
			sent[i] = below.Add(-time.Duration(belowAt-i) * time.Millisecond)
		}
	}
	var out []draft.Draft
	opened := map[string]time.Time{} // sender → their request's time, in this picture
	for i, m := range p.Messages {
		if m.Kind != KindText || m.Side != left || m.Sender == "" || r.staff(m.Sender) || strings.TrimSpace(m.Text) == "" {
			continue
		}
		at := env.ReceivedAt
		if !sent[i].IsZero() {
			at = sent[i].Truncate(time.Minute)
		}
		d := draft.Draft{
			Source: draft.Source{Connector: env.Connector, Type: env.ConnectorType, Kind: "screenshot",
				ExternalID: fmt.Sprintf("%s#%d", shot.SHA256[:16], i+1)},
			DedupKey:     env.Connector + "/" + messageKey(group, m.Sender, at, m.Text),
			ThreadKey:    "ocr:" + env.Connector + ":" + group + ":" + m.Sender,
			ThreadWindow: draft.Window(r.Window),
			Customer:     draft.Customer{ID: "ocr:" + group + ":" + m.Sender, Name: m.Sender},
			Title:        draft.Clip(m.Text, draft.MaxTitleRunes),
			Description:  fmt.Sprintf("%s在群「%s」里说：%s", m.Sender, group, m.Text),
			Tags:         []string{"ocr", "wechat_group"},
			Attachments:  []draft.Attachment{shot},
			Evidence:     []draft.Evidence{{Field: "description", From: "ocr", Confidence: m.Confidence / 100, Text: evidenceOf(m)}},
		}
		if origin != "" {
			forwarded(&d, env.Connector, origin)
		}
		d.OccurredAt = sent[i]
		if sent[i].IsZero() {
			// No time of its own in this picture (no separator read above or below it): its
			// receipt is no measure of when it was sent, so it joins its sender's open ticket
			// whenever that opened. Otherwise the same request in two overlapping screenshots,
			// read with a character apart, made two tickets when the later picture came first.
			d.ThreadWindow = 0
		}
		if r.request(m.Text) {
			opened[m.Sender] = at
		} else if start, ok := opened[m.Sender]; !ok || at.Sub(start) > r.Window {
			d.Intent = draft.IntentUpdate
		}
		out = append(out, draft.Complete(d, env))
	}
	return out
}

// evidenceOf says where a message was read and how its side and sender were told, with the
// cues' disagreement when they had one.
func evidenceOf(m Message) string {
	s := fmt.Sprintf("%s %s (%d,%d)-(%d,%d): %s", m.Sender, m.TimeText, m.Box.Min.X, m.Box.Min.Y, m.Box.Max.X, m.Box.Max.Y, m.Text)
	if len(m.Cues) > 0 {
		s += " [" + strings.Join(m.Cues, " ") + "]"
	}
	if m.Doubt != "" {
		s += " [doubt: " + m.Doubt + "]"
	}
	return s
}

// forwarded moves a draft of a forwarded screenshot into its forwarder's keys: staff keys are
// <connector>/msg-… and ocr:<connector>:… (which the pipeline puts under <connector>/), a
// customer ocr:…; a forwarded one's are under <connector>/forwarded/<origin>/ and
// forwarded/<origin>/, so neither can be the other's whatever a group or sender is called.
// The keys are made in the connector's namespace already, as the pipeline's scope would.
func forwarded(d *draft.Draft, connector, origin string) {
	under := "forwarded/" + origin + "/"
	d.DedupKey = connector + "/" + under + strings.TrimPrefix(d.DedupKey, connector+"/")
	d.ThreadKey = connector + "/" + under + d.ThreadKey
	d.Customer.ID = under + d.Customer.ID
	d.Evidence = append(d.Evidence, draft.Evidence{Field: "customer.id", From: headerForwardedBy,
		Text: "截图由 " + origin + " 转发，内容未经核实：只并入此人转发的截图所开的工单，不并入员工上传的截图的工单"})
}

// messageKey identifies a message of a group whatever picture it was read from.
func messageKey(group, sender string, at time.Time, text string) string {
	sum := sha256.Sum256([]byte(group + "\x00" + sender + "\x00" + at.Format("2006-01-02") + "\x00" + NormalizeText(text)))
	return "msg-" + hex.EncodeToString(sum[:12])
}

// NormalizeText is text as compared across readings: full-width letters, digits and
// punctuation made half-width, and no whitespace (OCR puts spaces in and leaves them out).
func NormalizeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		if r >= 0xFF01 && r <= 0xFF5E { // the full-width forms of ASCII
			r -= 0xFEE0
		}
		switch r { // Chinese punctuation with no full-width ASCII form
		case '。':
			r = '.'
		case '、':
			r = ','
		case '“', '”':
			r = '"'
		case '‘', '’':
			r = '\''
		}
		b.WriteRune(r)
	}
	return b.String()
}
