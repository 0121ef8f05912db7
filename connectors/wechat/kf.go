package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/util"
	workconfig "github.com/silenceper/wechat/v2/work/config"
	"github.com/silenceper/wechat/v2/work/kf"
	"github.com/silenceper/wechat/v2/work/kf/sendmsg"

	"gongdan/connectors"
	"gongdan/draft"
)

// EnvelopeKF is the type of the envelopes of WeChat customer service (微信客服) messages: one
// message of sync_msg, as JSON.
const EnvelopeKF = "wechat.kf"

// KF is the WeChat customer service connector. Its callback is only a signal (kf_msg_or_event,
// with a token): the messages are fetched with sync_msg from a cursor kept in the connector's
// state directory, which moves only once the fetched messages are durable on the bus. A
// restart goes on from the cursor: nothing is lost, and what a crash makes it fetch twice has
// the same message ids, which make no second ticket.
type KF struct {
	*Callback
	conf      *connectors.Conf
	openKfID  string
	pollEvery time.Duration

	wake chan string // a callback's sync token

	// kfMu guards what follows (Callback.mu guards the callback's counts).
	kfMu   sync.Mutex
	client *kf.Client
	tokens *tokenCache
	synced int64  // messages published by sync
	cursor string // as saved
}

func newKF(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := newCallback(TypeKF, conf, env)
	c.receiverID = conf.String(fieldCorpID)
	c.secret = conf.Secret(fieldCorpSecret)
	c.mode = modeSafe
	k := &KF{Callback: c, conf: conf, openKfID: conf.String(fieldOpenKfID), pollEvery: conf.Duration(fieldPollEvery),
		wake: make(chan string, 1)}
	c.onKF = k.signal
	c.guide = newGuide(conf, c.window, env.Enricher)
	return k, nil
}

// signal asks Run to sync, with the callback's token (a sync with one is not rate limited).
func (k *KF) signal(token string) {
	select {
	case k.wake <- token:
	default: // a sync is due already; it fetches everything there is
	}
}

// Run syncs at each callback, every poll_every in case a callback was missed, and once at
// the start (what came while gongdan was down).
func (k *KF) Run(ctx context.Context) error {
	if k.env.StateDir == "" {
		return errors.New("wechat.kf: no state directory to keep the sync cursor in")
	}
	if err := k.loadCursor(); err != nil {
		return err
	}
	poll := time.NewTicker(k.pollEvery)
	defer poll.Stop()
	token := ""
	for {
		if err := k.sync(ctx, token); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err // the manager runs it again after a back-off
		}
		select {
		case <-ctx.Done():
			return nil
		case token = <-k.wake:
		case <-poll.C:
			token = ""
		}
	}
}

// sync fetches and publishes until WeChat has no more, saving the cursor after each page.
func (k *KF) sync(ctx context.Context, token string) error {
	client, err := k.api()
	if err != nil {
		return err
	}
	for {
		page, err := client.SyncMsg(kf.SyncMsgOptions{Cursor: k.cursor, Token: token, Limit: 1000, OpenKfID: k.openKfID})
		if err != nil {
			k.tokens.clear() // if it was the access token, the next try fetches a new one
			return apiError(k.name, k.tokens, fmt.Errorf("sync_msg: %w", err))
		}
		for _, m := range page.MsgList {
			env := draft.Envelope{
				ID: k.env.NewID(), Connector: k.name, ConnectorType: k.typ, Type: EnvelopeKF,
				ReceivedAt: k.env.Now().In(k.env.Location), DedupKey: "msg/" + clipBytes(m.MsgID, 128),
				ContentType: "application/json", Payload: m.OriginData,
				Headers: map[string]string{headerMsgType: m.MsgType, headerThreadWindow: k.window.String()},
			}
			k.env.Stats.Received.Add(1)
			if err := k.env.Publish(ctx, env); err != nil {
				return fmt.Errorf("wechat.kf: publishing message %s: %w (the cursor stays; it is fetched again)", m.MsgID, err)
			}
			k.kfMu.Lock()
			k.synced++
			k.kfMu.Unlock()
			k.count("kf." + m.MsgType)
			k.ask(ctx, env)
		}
		if page.NextCursor != "" && page.NextCursor != k.cursor {
			if err := k.saveCursor(page.NextCursor); err != nil {
				return err
			}
		}
		if page.HasMore == 0 {
			return nil
		}
		token = "" // the token is good for one sync; the pages after go by cursor
	}
}

func (k *KF) api() (*kf.Client, error) {
	k.kfMu.Lock()
	defer k.kfMu.Unlock()
	if k.client != nil {
		return k.client, nil
	}
	k.tokens = newTokenCache()
	client, err := kf.NewClient(&workconfig.Config{CorpID: k.receiverID, CorpSecret: k.secret.Reveal(), Cache: k.tokens})
	if err != nil {
		return nil, fmt.Errorf("wechat.kf %s: %w", k.name, err)
	}
	k.client = client
	return client, nil
}

// cursorFile is where the sync cursor is kept.
func (k *KF) cursorFile() string { return filepath.Join(k.env.StateDir, "kf.cursor") }

func (k *KF) loadCursor() error {
	c, err := readCursor(k.cursorFile())
	k.kfMu.Lock()
	k.cursor = c
	k.kfMu.Unlock()
	return err
}

func (k *KF) saveCursor(cursor string) error {
	if err := writeCursor(k.cursorFile(), cursor); err != nil {
		return err
	}
	k.kfMu.Lock()
	k.cursor = cursor
	k.kfMu.Unlock()
	return nil
}

// readCursor reads a cursor file; none yet is "".
func readCursor(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("reading the cursor %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeCursor writes a cursor durably: a new file, synced, renamed over the old one.
func writeCursor(path, cursor string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("saving the cursor: %w", err)
	}
	_, err = f.WriteString(cursor + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path)) // the rename itself, durable
	}
	if err != nil {
		return fmt.Errorf("saving the cursor: %w", err)
	}
	return nil
}

// syncDir makes the entries of dir (a file renamed into it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Validate needs the secret: without it nothing can be fetched.
func (k *KF) Validate() error {
	if k.secret == "" {
		return k.conf.Errorf(fieldCorpSecret, "required: the 微信客服 Secret, to fetch messages with sync_msg")
	}
	return validatePrompts(k.conf)
}

// kfMessage is one message of sync_msg, as far as a draft needs it.
type kfMessage struct {
	MsgID          string `json:"msgid"`
	OpenKfID       string `json:"open_kfid"`
	ExternalUserID string `json:"external_userid"`
	SendTime       int64  `json:"send_time"`
	Origin         int    `json:"origin"`
	MsgType        string `json:"msgtype"`
	Text           struct {
		Content string `json:"content"`
	} `json:"text"`
	Image, Voice, Video, File struct {
		MediaID string `json:"media_id"`
	}
	Location struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Link struct {
		Title string `json:"title"`
		Desc  string `json:"desc"`
		URL   string `json:"url"`
	} `json:"link"`
}

// kfOriginCustomer marks a message the customer sent (not the servicer's, not an event).
const kfOriginCustomer = 3

// normalizeKF makes the draft of one kf message: the customer's words on the thread of their
// conversation, known by their external_userid. Servicers' messages and events make none.
func normalizeKF(env draft.Envelope) ([]draft.Draft, error) {
	var m kfMessage
	if err := json.Unmarshal(env.Payload, &m); err != nil {
		return nil, fmt.Errorf("wechat.kf: the message is not sync_msg's JSON: %v", err)
	}
	if m.Origin != kfOriginCustomer || m.MsgType == "event" {
		return nil, nil
	}
	if m.ExternalUserID == "" || len(m.ExternalUserID) > 128 {
		return nil, errors.New("wechat.kf: the message has no external_userid")
	}
	d := draft.Draft{
		// ExternalID names the account with the message: a reply goes out from that account.
		Source:    draft.Source{Connector: env.Connector, Type: env.ConnectorType, Kind: clipBytes(m.MsgType, 64), ExternalID: clipBytes(m.OpenKfID, 64) + "/" + clipBytes(m.MsgID, 128)},
		ThreadKey: "kf:" + env.Connector + ":" + m.ExternalUserID,
		Customer:  draft.Customer{ID: m.ExternalUserID},
	}
	d.ThreadWindow = windowOf(env)
	if m.SendTime > 0 && !env.ReceivedAt.IsZero() {
		d.OccurredAt = time.Unix(m.SendTime, 0).In(env.ReceivedAt.Location())
	}
	c := chatMessage{Type: m.MsgType, Text: m.Text.Content, Lat: m.Location.Latitude, Lon: m.Location.Longitude,
		Place: m.Location.Name + " " + m.Location.Address}
	c.Link.Title, c.Link.Desc, c.Link.URL = m.Link.Title, m.Link.Desc, m.Link.URL
	for _, id := range []string{m.Image.MediaID, m.Voice.MediaID, m.Video.MediaID, m.File.MediaID} {
		c.MediaID = firstNonEmpty(c.MediaID, id)
	}
	if err := fillChat(&d, c, "wechat.kf", "客户", "wechat-media:"); err != nil {
		return nil, err
	}
	return finish(d, env)
}

// ask sends guided intake's question for a message that is durable now, if it calls for one.
func (k *KF) ask(ctx context.Context, env draft.Envelope) {
	if k.guide == nil {
		return
	}
	drafts, err := normalizeKF(env)
	if err != nil || len(drafts) != 1 {
		return
	}
	d := drafts[0]
	if !d.OccurredAt.IsZero() && k.env.Now().Sub(d.OccurredAt) > max(k.window, 30*time.Minute) {
		return // an old message (a backlog after downtime): a question now would come out of the blue
	}
	if reply := k.guide.next(d, d.OccurredAt, false); reply != "" {
		if _, err := k.TellCustomer(ctx, d, d.Customer, reply); err != nil {
			k.env.Logger.Warn("wechat.kf: the question to the customer did not go out", "thread", d.ThreadKey, "err", err)
		}
	}
}

// TellCustomer sends text with send_msg from the customer service account the ticket came in
// on, to the customer (customer.id is their external_userid). WeChat delivers it within 48
// hours of the customer's last message, five at most.
func (k *KF) TellCustomer(_ context.Context, source draft.Draft, c draft.Customer, text string) (bool, error) {
	openKfID, _, ok := strings.Cut(source.Source.ExternalID, "/")
	if !ok || openKfID == "" || c.ID == "" {
		return false, nil
	}
	client, err := k.api()
	if err != nil {
		return true, err
	}
	msg := sendmsg.Text{Message: sendmsg.Message{ToUser: c.ID, OpenKFID: openKfID}, MsgType: "text"}
	msg.Text.Content = text
	resp, err := client.SendMsg(msg)
	if err == nil && resp.ErrCode != 0 {
		err = &util.CommonError{ErrCode: resp.ErrCode, ErrMsg: resp.ErrMsg}
	}
	if err != nil {
		return true, apiError(k.name, k.tokens, err)
	}
	return true, nil
}

// KFStatus is what GET /api/v1/connectors shows of a kf connector under details.
type KFStatus struct {
	Status
	Synced    int64 `json:"synced"`
	HasCursor bool  `json:"has_cursor"`
}

// Details adds the sync's progress to the callback's counts.
func (k *KF) Details() any {
	s := k.Callback.Details().(Status)
	k.kfMu.Lock()
	defer k.kfMu.Unlock()
	return KFStatus{Status: s, Synced: k.synced, HasCursor: k.cursor != ""}
}

// Interface guards.
var (
	_ connectors.HTTPReceiver = (*KF)(nil)
	_ connectors.Detailer     = (*KF)(nil)
)
