package wechat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"gongdan/attachments"
	"gongdan/connectors/ocr"
)

// Media kept with a message: an image's picture is fetched while the callback is answered
// (WeChat's picture links and media ids expire after three days) and kept in the attachment
// store, so that the ticket names the file itself.
const (
	headerAttachment = "attachment" // the SHA-256 of the kept file
	mediaTimeout     = 3 * time.Second
	maxMediaBytes    = 10 << 20
)

// mediaClient fetches pictures; the time it may take is bounded so the callback is answered
// well within WeChat's 5 seconds.
// It follows no redirect: a picture is where WeChat says it is.
var mediaClient = &http.Client{Timeout: mediaTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// mediaHostAllowed says which hosts pictures are fetched from: WeChat's image CDN only, so
// that a message cannot make gongdan fetch an address of its choosing.
var mediaHostAllowed = func(host string) bool {
	return strings.HasSuffix(host, ".qpic.cn") || strings.HasSuffix(host, ".qlogo.cn") // mmbiz.qpic.cn, …
}

// keepMedia fetches the picture of an image message into the attachment store and records it
// in the envelope. It does nothing without a store, for other messages, or when the fetch
// fails: the draft then keeps the media id, and the log says why.
func (c *Callback) keepMedia(ctx context.Context, in *received) {
	store := c.env.Attachments
	if store == nil {
		return
	}
	var sha string
	var err error
	switch in.m.MsgType {
	case message.MsgTypeImage:
		if in.m.PicURL != "" {
			sha, err = fetchInto(ctx, store, in.m.PicURL)
		}
		if sha == "" && in.m.MediaID != "" && c.fetchMedia != nil {
			sha, err = c.fetchMedia(ctx, in.m.MediaID)
		}
	case message.MsgTypeVoice:
		if in.m.MediaID != "" && c.fetchMedia != nil {
			sha, err = c.fetchMedia(ctx, in.m.MediaID)
		}
	default:
		return // video: too large to fetch while WeChat waits; the media id is kept
	}
	if err != nil {
		c.env.Logger.Warn("wechat: the media was not kept; the ticket names its media id", "msg_id", in.m.MsgID, "type", in.m.MsgType, "err", scrub(err))
	}
	if sha != "" {
		in.env.Headers[headerAttachment] = sha
	}
}

func fetchInto(ctx context.Context, store *attachments.Store, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("the picture link is not http(s)")
	}
	if !mediaHostAllowed(u.Hostname()) {
		return "", fmt.Errorf("the picture link is not on WeChat's image hosts (%s)", u.Hostname())
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := mediaClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching the picture: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching the picture: %s", resp.Status)
	}
	sha, _, err := store.Put(resp.Body, maxMediaBytes)
	return sha, err
}

// toOCR hands the picture of an image message, once kept, to the ocr connector of
// screenshots_to as a chat screenshot (customers forward group chats as screenshots). The
// envelope is the ocr connector's own, forwarded_by this connector's sender
// (<connector>:<openid or userid>): anyone can draw a group chat, so what it shows makes
// tickets of that sender's own, never joining or pre-empting the staff's. A retry of the
// callback that sends it again makes no second ticket (its messages' keys). A picture that is
// not a PNG or JPEG is left to the ticket.
func (c *Callback) toOCR(ctx context.Context, in received) error {
	sha := in.env.Headers[headerAttachment]
	if c.screens == "" || in.m.MsgType != message.MsgTypeImage || sha == "" || c.env.Attachments == nil || in.m.FromUserName == "" {
		return nil
	}
	f, err := c.env.Attachments.Open(sha)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(f, screenshotLimits.MaxBytes+1))
	f.Close()
	if err != nil {
		return err
	}
	at := in.env.ReceivedAt
	if in.m.CreateTime > 0 {
		at = time.Unix(in.m.CreateTime, 0).In(c.env.Location)
	}
	by := c.name + ":" + string(in.m.FromUserName)
	file := fmt.Sprintf("wechat-%s-%d", c.name, in.m.MsgID)
	// An official account's followers are anyone: what their picture shows is their word
	// only, kept to their own tickets. A WeCom app's senders are the organisation's members.
	forward := ocr.ForwardedScreenshotEnvelope
	if c.typ == TypeWork {
		forward = ocr.StaffScreenshotEnvelope
	}
	env, err := forward(c.screens, by, b, file, at, screenshotLimits)
	var ie *ocr.ImageError
	if errors.As(err, &ie) {
		c.env.Logger.Info("wechat: the picture is not read as a screenshot", "msg_id", in.m.MsgID, "reason", ie.Reason)
		return nil
	} else if err != nil {
		return err
	}
	return c.env.Publish(ctx, env)
}

// screenshotLimits are the widest an ocr connector can be set to: the connector's own limits
// are applied when it decodes the picture (one over them is a dead letter with the reason).
var screenshotLimits = ocr.Limits{MaxBytes: 5 << 20, MaxPixels: 40_000_000}
