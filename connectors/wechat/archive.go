package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/normalize"
)

// EnvelopeArchive is the type of the envelopes of WeCom session archive (会话内容存档)
// messages: one decrypted message, as JSON.
const EnvelopeArchive = "wechat.archive"

// archiveMessage is one message of the archive, decrypted.
type archiveMessage struct {
	Seq   uint64
	MsgID string
	Plain []byte // the message's JSON
	Err   error  // why it could not be read (then Plain is nil)
}

// archiveSource reads the archive after seq. The real one is WeCom's Finance SDK
// (archive_sdk.go, built with the msgaudit tag); tests give their own.
type archiveSource interface {
	Fetch(seq uint64, limit int) ([]archiveMessage, error)
	Close()
}

// archiveBody is what the group logic reads of a message.
type archiveBody struct {
	MsgID   string   `json:"msgid"`
	Action  string   `json:"action"`
	From    string   `json:"from"`
	ToList  []string `json:"tolist"`
	RoomID  string   `json:"roomid"`
	MsgTime int64    `json:"msgtime"` // ms
	MsgType string   `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	Image, Voice, Video, File struct {
		SdkFileID string `json:"sdkfileid"`
	}
	Location struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Address   string  `json:"address"`
		Title     string  `json:"title"`
	} `json:"location"`
}

// external reports a sender outside the company: a customer's external_userid (wm…, wo…);
// the company's own people have plain UserIDs.
func external(from string) bool {
	return strings.HasPrefix(from, "wm") || strings.HasPrefix(from, "wo")
}

// groupRule decides which group messages are service requests.
type groupRule struct {
	keywords []string
	dict     *normalize.Dictionary // nil: keywords only
	every    map[string]bool       // rooms whose every customer message counts
	window   time.Duration
	mu       sync.Mutex
	active   map[string]time.Time // room/sender → the last message taken, for follow-ups
}

// take reports whether a message goes in: a customer's message in a group that is a
// request (a keyword, a fault of the dictionary, or a listed group), or a follow-up of the
// same customer in the same group within the window after one that went in.
func (g *groupRule) take(m archiveBody, now time.Time) bool {
	if m.RoomID == "" || m.Action != "send" || !external(m.From) {
		return false
	}
	key := m.RoomID + "/" + m.From
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.active[key]; ok && g.window > 0 && now.Sub(last) <= g.window {
		g.active[key] = now
		return true
	}
	if g.every[m.RoomID] || g.request(m.Text.Content) {
		g.active[key] = now
		if len(g.active) > 1024 { // the closed ones go, now and then (they are saved with the seq)
			for k, t := range g.active {
				if now.Sub(t) > g.window {
					delete(g.active, k)
				}
			}
		}
		return true
	}
	return false
}

// request reports text that names a fault.
func (g *groupRule) request(text string) bool {
	if text == "" {
		return false
	}
	for _, k := range g.keywords {
		if strings.Contains(text, k) {
			return true
		}
	}
	if g.dict != nil {
		if _, _, _, ok := g.dict.Classify(text); ok {
			return true
		}
	}
	return false
}

// Archive is the group chat connector: it polls WeCom's session archive by seq, keeps the
// seq durably (moved only once what it fetched is on the bus), and publishes the group
// messages that are service requests.
type Archive struct {
	conf      *connectors.Conf
	name      string
	env       connectors.Env
	corpID    string
	secret    string
	key       string // the RSA private key (PEM)
	pollEvery time.Duration
	rule      *groupRule
	open      func() (archiveSource, error)

	mu        sync.Mutex
	seq       uint64
	fetched   int64
	published int64
	skipped   int64
}

func newArchive(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	a := &Archive{conf: conf, name: conf.Name(), env: env, corpID: conf.String(fieldCorpID), secret: conf.Secret(fieldCorpSecret).Reveal(),
		key: conf.Secret(fieldPrivateKey).Reveal(), pollEvery: conf.Duration(fieldPollEvery),
		rule: &groupRule{keywords: conf.StringList(fieldKeywords), every: map[string]bool{}, window: conf.Duration(fieldThreadWindow),
			active: map[string]time.Time{}}}
	if conf.Bool(fieldUseDictionary) {
		a.rule.dict = env.Enricher.Dictionary
	}
	for _, r := range conf.StringList(fieldEveryMessageOf) {
		a.rule.every[r] = true
	}
	a.open = a.sdk
	return a, nil
}

// Validate refuses a binary built without WeCom's SDK: the archive cannot be read.
func (a *Archive) Validate() error {
	if !SDKBuilt {
		return a.conf.Errorf("type", "%s", errNoSDK)
	}
	return nil
}

// Run polls until ctx ends.
func (a *Archive) Run(ctx context.Context) error {
	if a.env.StateDir == "" {
		return errors.New("wechat.archive: no state directory to keep the seq in")
	}
	if err := a.loadSeq(); err != nil {
		return err
	}
	src, err := a.open()
	if err != nil {
		return err
	}
	defer src.Close()
	tick := time.NewTicker(a.pollEvery)
	defer tick.Stop()
	for {
		if err := a.poll(ctx, src); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// archiveLimit is how many messages one fetch asks for (the SDK's maximum).
const archiveLimit = 1000

// poll fetches and publishes until the archive has nothing after seq.
func (a *Archive) poll(ctx context.Context, src archiveSource) error {
	for {
		msgs, err := src.Fetch(a.seq, archiveLimit)
		if err != nil {
			return fmt.Errorf("wechat.archive %s: %w", a.name, err)
		}
		if len(msgs) == 0 {
			return nil
		}
		last := a.seq
		for _, m := range msgs {
			if m.Err != nil {
				a.skip(m.Seq, m.Err)
				last = max(last, m.Seq)
				continue
			}
			env, ok, err := a.envelope(m)
			if err != nil {
				a.skip(m.Seq, err)
			} else if ok {
				if err := a.env.Publish(ctx, env); err != nil {
					return fmt.Errorf("wechat.archive %s: publishing seq %d: %w (the seq stays; it is fetched again)", a.name, m.Seq, err)
				}
				a.mu.Lock()
				a.published++
				a.mu.Unlock()
			}
			last = max(last, m.Seq)
		}
		if err := a.saveState(last); err != nil {
			return err
		}
		a.mu.Lock()
		a.seq = last
		a.fetched += int64(len(msgs))
		a.mu.Unlock()
		if len(msgs) < archiveLimit {
			return nil
		}
	}
}

// envelope is the envelope of a message the group rule takes; ok false for the others.
func (a *Archive) envelope(m archiveMessage) (draft.Envelope, bool, error) {
	var b archiveBody
	if err := json.Unmarshal(m.Plain, &b); err != nil {
		return draft.Envelope{}, false, err
	}
	a.env.Stats.Received.Add(1)
	now := a.env.Now()
	if b.MsgTime > 0 {
		now = time.UnixMilli(b.MsgTime) // the window runs on the chat's own times
	}
	if !a.rule.take(b, now) {
		return draft.Envelope{}, false, nil
	}
	id := m.MsgID
	if id == "" {
		id = b.MsgID
	}
	return draft.Envelope{
		ID: a.env.NewID(), Connector: a.name, ConnectorType: TypeArchive, Type: EnvelopeArchive,
		ReceivedAt: a.env.Now().In(a.env.Location), DedupKey: "msg/" + clipBytes(id, 128), ContentType: "application/json",
		Headers: map[string]string{headerMsgType: b.MsgType, headerThreadWindow: a.rule.window.String()}, Payload: m.Plain,
	}, true, nil
}

// skip passes over a message that cannot be read: counted, logged, and the seq moves on.
func (a *Archive) skip(seq uint64, err error) {
	a.env.Stats.Rejected.Add(1)
	a.env.Stats.Fail(a.env.Now(), fmt.Errorf("seq %d: %w", seq, err))
	a.env.Logger.Warn("wechat.archive: a message could not be read; skipped", "seq", seq, "err", err)
	a.mu.Lock()
	a.skipped++
	a.mu.Unlock()
}

func (a *Archive) seqFile() string { return filepath.Join(a.env.StateDir, "archive.state") }

// archiveState is what a poll saves: the seq it reached, and the conversations whose
// follow-ups it is still taking (room/sender → the last message's time, ms), so that a
// customer's phone number a minute after a restart still joins their request.
type archiveState struct {
	Seq    uint64           `json:"seq"`
	Active map[string]int64 `json:"active,omitempty"`
}

// saveState saves seq and the open conversations, durably, in one file.
func (a *Archive) saveState(seq uint64) error {
	st := archiveState{Seq: seq, Active: map[string]int64{}}
	a.rule.mu.Lock()
	for k, t := range a.rule.active {
		st.Active[k] = t.UnixMilli()
	}
	a.rule.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeCursor(a.seqFile(), string(b))
}

// loadSeq reads what the last poll saved.
func (a *Archive) loadSeq() error {
	c, err := readCursor(a.seqFile())
	if err != nil || c == "" {
		return err
	}
	var st archiveState
	if err := json.Unmarshal([]byte(c), &st); err != nil {
		return fmt.Errorf("wechat.archive: the state file %s is not readable: %v", a.seqFile(), err)
	}
	a.rule.mu.Lock()
	for k, ms := range st.Active {
		a.rule.active[k] = time.UnixMilli(ms)
	}
	a.rule.mu.Unlock()
	a.mu.Lock()
	a.seq = st.Seq
	a.mu.Unlock()
	return nil
}

// Close releases nothing: Run closes the SDK.
func (a *Archive) Close(context.Context) error { return nil }

// Normalizer reads the archive's envelopes.
func (a *Archive) Normalizer() draft.Normalizer { return normalizer{} }

// ArchiveStatus is what GET /api/v1/connectors shows under details.
type ArchiveStatus struct {
	Seq       uint64 `json:"seq"`
	Fetched   int64  `json:"fetched"`
	Published int64  `json:"published"`
	Skipped   int64  `json:"skipped"`
}

// Details reports the poll's progress.
func (a *Archive) Details() any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ArchiveStatus{Seq: a.seq, Fetched: a.fetched, Published: a.published, Skipped: a.skipped}
}

// normalizeArchive makes the draft of one group message: the customer's words on the thread
// of their conversation in that group.
func normalizeArchive(env draft.Envelope) ([]draft.Draft, error) {
	var m archiveBody
	if err := json.Unmarshal(env.Payload, &m); err != nil {
		return nil, fmt.Errorf("wechat.archive: the message is not the archive's JSON: %v", err)
	}
	if m.From == "" || len(m.From) > 128 || len(m.RoomID) > 128 {
		return nil, errors.New("wechat.archive: the message has no sender")
	}
	d := draft.Draft{
		Source:    draft.Source{Connector: env.Connector, Type: env.ConnectorType, Kind: clipBytes(m.MsgType, 64), ExternalID: clipBytes(m.MsgID, 128)},
		ThreadKey: "archive:" + env.Connector + ":" + m.RoomID + ":" + m.From,
		Customer:  draft.Customer{ID: m.From},
		Tags:      []string{"wechat_group"},
	}
	d.ThreadWindow = windowOf(env)
	if m.MsgTime > 0 && !env.ReceivedAt.IsZero() {
		d.OccurredAt = time.UnixMilli(m.MsgTime).In(env.ReceivedAt.Location())
	}
	c := chatMessage{Type: m.MsgType, Text: m.Text.Content, Lat: m.Location.Latitude, Lon: m.Location.Longitude,
		Place: m.Location.Title + " " + m.Location.Address}
	for _, id := range []string{m.Image.SdkFileID, m.Voice.SdkFileID, m.Video.SdkFileID, m.File.SdkFileID} {
		c.MediaID = firstNonEmpty(c.MediaID, id)
	}
	if err := fillChat(&d, c, "wechat.archive", "客户在群里", "wecom-archive:"); err != nil {
		return nil, err
	}
	return finish(d, env)
}

// Interface guards.
var (
	_ connectors.Connector = (*Archive)(nil)
	_ connectors.Detailer  = (*Archive)(nil)
)
