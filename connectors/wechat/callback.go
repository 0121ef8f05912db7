// Package wechat holds the WeChat connectors: the official account (公众号) and WeCom app
// (企业微信) callbacks at /wechat/{name}. Signatures and the AES message crypto are WeChat's
// own scheme (WXBizMsgCrypt), done with silenceper/wechat's util package; the connector checks
// msg_signature itself, as the library's decrypt does not.
package wechat

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
	"gongdan/internal/yamlkit"
	"gongdan/problem"
)

// EnvelopeMessage is the type of the envelopes the WeChat connectors publish: the message as
// WeChat sent it, decrypted (XML).
const EnvelopeMessage = "wechat.message"

// Envelope headers, read by the normalizer: the envelope holds all it needs, so a replay after
// a config change makes the same draft.
const (
	headerThreadWindow = "thread_window"
	headerIntake       = "intake" // "menu" when the event is an intake menu click
	headerMsgType      = "msg_type"
)

// Callback is one WeChat callback connector, of either type.
type Callback struct {
	screens    string // the ocr connector image messages go to as screenshots; "" none
	typ        string // TypeOfficialAccount or TypeWork
	name       string
	env        connectors.Env
	receiverID string // AppID or CorpID: what encrypted messages must name
	agentID    int
	token      yamlkit.Secret
	aesKey     yamlkit.Secret // encoded, 43 characters; empty in plain mode
	secret     yamlkit.Secret // AppSecret or the app's Secret, for API calls; may be empty
	work       workAPI        // wechat.work: the app's API client
	mode       string
	skew       time.Duration
	window     time.Duration
	intakeKeys map[string]bool
	maxBody    int64
	guide      *guide // nil: no guided intake
	// fetchMedia keeps a media id's file through the API (an official account with its
	// app_secret); nil: pictures by their link only.
	fetchMedia func(ctx context.Context, mediaID string) (string, error)
	// onKF, for wechat.kf, takes the callbacks: they only signal that there is something to
	// fetch, and are not published themselves.
	onKF func(token string)

	// taken remembers the signed (timestamp, nonce) of the callbacks claimed, with their
	// bodies' hashes, against replays; it has its own lock.
	taken *intakeauth.Replays

	mu       sync.Mutex
	storing  map[string]chan struct{} // the claims of taken being stored now, by key; closed when settled
	kinds    map[string]int64         // messages and events taken in, by kind
	refusals map[string]int64         // callbacks refused, by reason
	verified int64                    // URL checks answered
}

func newCallback(typ string, conf *connectors.Conf, env connectors.Env) *Callback {
	c := &Callback{
		typ:        typ,
		name:       conf.Name(),
		env:        env,
		token:      conf.Secret(fieldToken),
		aesKey:     conf.Secret(fieldEncodingAESKey),
		skew:       conf.Duration(fieldTimestampSkew),
		window:     conf.Duration(fieldThreadWindow),
		maxBody:    int64(conf.Int(fieldMaxBodyBytes)),
		intakeKeys: map[string]bool{},
		kinds:      map[string]int64{},
		refusals:   map[string]int64{},
		storing:    map[string]chan struct{}{},
	}
	for _, k := range conf.StringList(fieldIntakeMenuKeys) {
		c.intakeKeys[k] = true
	}
	c.taken = intakeauth.NewReplays(c.replayWindow(), maxRemembered)
	return c
}

func newOfficialAccount(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := newCallback(TypeOfficialAccount, conf, env)
	c.screens = conf.String(fieldScreenshotsTo)
	c.receiverID = conf.String(fieldAppID)
	c.secret = conf.Secret(fieldAppSecret)
	c.guide = newGuide(conf, c.window, env.Enricher)
	c.mode = conf.String(fieldMode)
	if c.mode == "" {
		c.mode = modePlain
		if c.aesKey != "" {
			c.mode = modeSafe
		}
	}
	o := &OfficialAccount{Callback: c, conf: conf}
	if c.secret != "" {
		c.fetchMedia = o.fetchMedia
	}
	return o, nil
}

func newWork(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := newCallback(TypeWork, conf, env)
	c.screens = conf.String(fieldScreenshotsTo)
	c.receiverID = conf.String(fieldCorpID)
	c.agentID = conf.Int(fieldAgentID)
	c.secret = conf.Secret(fieldCorpSecret)
	c.mode = modeSafe
	return c, nil
}

// OfficialAccount is the official account connector: a Callback whose mode is checked
// against its key.
type OfficialAccount struct {
	*Callback
	conf *connectors.Conf
	api  officialAccountAPI
}

// Validate refuses an encrypting mode without the key to decrypt with.
func (o *OfficialAccount) Validate() error {
	if o.mode != modePlain && o.aesKey == "" {
		return o.conf.Errorf(fieldEncodingAESKey, "mode %s needs the account's encoding_aes_key", o.mode)
	}
	return validatePrompts(o.conf)
}

// Validate has nothing to check beyond the fields' own checks.
func (c *Callback) Validate() error { return nil }

// Run has nothing to do: callbacks come through ServeHTTP. It returns when ctx is done.
func (c *Callback) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close releases nothing: the server owns the listener.
func (c *Callback) Close(context.Context) error { return nil }

// Normalizer reads the connector's envelopes; it needs nothing of its config.
func (c *Callback) Normalizer() draft.Normalizer { return normalizer{} }

// ServeHTTP answers WeChat: GET is the URL check, POST a message or an event.
func (c *Callback) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet:
		c.verifyURL(rw, r)
	case http.MethodPost:
		c.receive(rw, r)
	default:
		rw.Header().Set("Allow", "GET, POST")
		problem.Write(rw, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "WeChat calls with GET (URL check) and POST (messages)"))
	}
}

// refusal is a callback turned away at the edge, with the reason it is counted under.
type refusal struct {
	reason string
	p      *problem.Problem
}

func refuse(status int, reason, detail string) *refusal {
	typ := map[int]string{http.StatusUnauthorized: "bad-signature", http.StatusBadRequest: "bad-request",
		http.StatusRequestEntityTooLarge: "payload-too-large", http.StatusServiceUnavailable: "unavailable"}[status]
	if reason == "malformed_xml" {
		typ = "malformed-xml"
	}
	return &refusal{reason: reason, p: problem.New(status, typ, detail)}
}

func (c *Callback) reject(rw http.ResponseWriter, r *http.Request, rf *refusal) {
	c.env.Stats.Rejected.Add(1)
	c.env.Stats.Fail(c.env.Now(), errors.New(rf.p.Detail))
	c.mu.Lock()
	c.refusals[rf.reason]++
	c.mu.Unlock()
	c.env.Logger.Info("wechat callback refused", "status", rf.p.Status, "reason", rf.reason, "detail", rf.p.Detail, "request_id", problem.RequestID(r.Context()))
	problem.Write(rw, r, rf.p)
}

// verifyURL answers the URL check: the echostr back, once the signature matches. WeCom's
// echostr is encrypted and answered decrypted.
func (c *Callback) verifyURL(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ts, nonce, echo := q.Get("timestamp"), q.Get("nonce"), q.Get("echostr")
	if echo == "" {
		c.reject(rw, r, refuse(http.StatusBadRequest, "missing_echostr", "a URL check needs echostr, timestamp, nonce and the signature"))
		return
	}
	if rf := c.checkTimestamp(ts); rf != nil {
		c.reject(rw, r, rf)
		return
	}
	answer := echo
	if c.typ != TypeOfficialAccount { // WeCom's apps and kf: an encrypted echostr
		if !sameSignature(q.Get("msg_signature"), util.Signature(string(c.token), ts, nonce, echo)) {
			c.reject(rw, r, refuse(http.StatusUnauthorized, "bad_signature", "msg_signature does not match: check the token"))
			return
		}
		plain, rf := c.decrypt(echo)
		if rf != nil {
			c.reject(rw, r, rf)
			return
		}
		answer = string(plain)
	} else if !sameSignature(q.Get("signature"), util.Signature(string(c.token), ts, nonce)) {
		c.reject(rw, r, refuse(http.StatusUnauthorized, "bad_signature", "signature does not match: check the token"))
		return
	}
	c.mu.Lock()
	c.verified++
	c.mu.Unlock()
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(rw, answer)
}

// receive takes one message or event: checked, decrypted, durable, then "success".
func (c *Callback) receive(rw http.ResponseWriter, r *http.Request) {
	c.env.Stats.Received.Add(1)
	in, rf := c.envelope(rw, r)
	if rf != nil {
		c.reject(rw, r, rf)
		return
	}
	if c.onKF != nil {
		if in.m.Event == eventKF {
			c.onKF(in.m.Token)
		}
		c.count(in.m.kind())
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(rw, "success")
		return
	}
	// Claimed before it is published, not after: two copies arriving together must not both
	// be taken. A callback not stored after all is forgotten before it is answered, so that
	// WeChat's retry is taken.
	key := in.ts + "/" + in.nonce
	sum := sha256.Sum256(in.env.Payload)
	found, settled := c.claim(key, sum)
	if found == claimTaking {
		// WeChat's retry while the first copy is still being stored (a slow picture fetch or
		// publish past WeChat's 5 s): WeChat takes anything but success as a failure and may
		// stop retrying, so wait for the first copy's outcome a while and answer as it went.
		wait := time.NewTimer(retryWait)
		select {
		case <-settled:
			found, _ = c.claim(key, sum)
		case <-wait.C:
		case <-r.Context().Done():
		}
		wait.Stop()
	}
	switch found {
	case claimFull:
		rw.Header().Set("Retry-After", "1")
		c.reject(rw, r, refuse(http.StatusServiceUnavailable, "replay_memory_full",
			"too many callbacks to remember against replays; WeChat retries it"))
		return
	case claimOther:
		c.reject(rw, r, refuse(http.StatusUnauthorized, "replayed",
			"this timestamp and nonce signed another message already: a replay with a changed body"))
		return
	case claimTaking: // still being stored after retryWait: it may yet fail
		rw.Header().Set("Retry-After", "1")
		c.reject(rw, r, refuse(http.StatusServiceUnavailable, "in_progress",
			"the same callback is being stored; WeChat retries it"))
		return
	case claimTaken: // WeChat's retry of a callback already taken: durable since
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(rw, "success")
		return
	}
	c.keepMedia(r.Context(), &in)
	env := in.env
	if err := c.env.Publish(r.Context(), env); err != nil {
		c.settle(key, false)
		c.env.NotStored(rw, r, "wechat message", err, "the message was not stored; WeChat retries it")
		return
	}
	if err := c.toOCR(r.Context(), in); err != nil {
		c.settle(key, false) // the retry publishes the message again: its MsgId keys it
		c.env.NotStored(rw, r, "wechat picture (for OCR)", err, "the message was not stored; WeChat retries it")
		return
	}
	c.settle(key, true)
	c.count(in.m.kind())
	if reply := c.ask(in); reply != "" {
		b, err := c.passiveReply(in, reply)
		if err == nil {
			rw.Header().Set("Content-Type", "application/xml; charset=utf-8")
			rw.Write(b)
			return
		}
		c.env.Logger.Error("wechat: the reply could not be made; answering success", "err", err)
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(rw, "success")
}

// claimed is what claim found of a callback.
type claimed int

const (
	claimNew    claimed = iota // not seen within the window: now claimed, to be settled
	claimTaking                // the same message under the same signature, being stored now
	claimTaken                 // the same message under the same signature, taken: WeChat retrying
	claimOther                 // another message under a signature already used: forged
	claimFull                  // too many remembered within the window to remember one more
)

// claim checks a callback against those claimed within the window and claims it, at once. A
// plain-mode signature covers only the timestamp and nonce, so a signed URL seen once could
// otherwise carry any body; the body's hash tells WeChat's retry from such a replay. The
// memory forgets from the oldest once they are out of the window, so a callback's cost stays
// the same however many are remembered (at 2,000/s, 1.2 million in ten minutes); beyond
// maxRemembered, a flood beyond any real account's rate, it refuses (503) rather than grow or
// forget one that could then be replayed.
// For claimTaking it also returns the channel closed when that claim is settled.
func (c *Callback) claim(key string, body [32]byte) (claimed, <-chan struct{}) {
	c.mu.Lock() // with settle's: a claim being stored is told from one taken
	defer c.mu.Unlock()
	res, prior := c.taken.ClaimValue(key, body, c.env.Now())
	switch {
	case res == intakeauth.Full:
		return claimFull, nil
	case res == intakeauth.Claimed:
		c.storing[key] = make(chan struct{})
		return claimNew, nil
	case prior != body:
		return claimOther, nil
	}
	if settled, ok := c.storing[key]; ok {
		return claimTaking, settled
	}
	return claimTaken, nil
}

// retryWait is how long a copy of a callback being stored waits for the first's outcome:
// within WeChat's 5 s for an answer.
const retryWait = 4 * time.Second

// settle ends a claim: kept when the callback was taken, forgotten when it was not stored.
func (c *Callback) settle(key string, taken bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !taken {
		c.taken.Forget(key)
	}
	if settled, ok := c.storing[key]; ok {
		close(settled)
		delete(c.storing, key)
	}
}

// maxRemembered bounds the callbacks remembered for replays.
const maxRemembered = 1 << 21

// replayWindow is how long a callback is remembered: a timestamp up to the skew ahead of the
// clock is taken, and stays within the skew until twice the skew later (as intakeauth's
// signatures are remembered). With the check off, any timestamp is taken; ten minutes then.
func (c *Callback) replayWindow() time.Duration {
	if c.skew > 0 {
		return 2 * c.skew
	}
	return 10 * time.Minute
}

// count counts a message or event taken in, by kind.
func (c *Callback) count(kind string) {
	c.mu.Lock()
	c.kinds[kind]++
	c.mu.Unlock()
}

// ask is guided intake's reply to a taken message, or "".
func (c *Callback) ask(in received) string {
	if c.guide == nil {
		return ""
	}
	drafts, err := normalizer{}.Normalize(in.env)
	if err != nil || len(drafts) != 1 {
		return "" // an event, or a message the pipeline will dead-letter
	}
	return c.guide.next(drafts[0], in.env.ReceivedAt, in.env.Headers[headerIntake] == "menu")
}

// passiveReply is a text reply to in's sender, encrypted when in was.
func (c *Callback) passiveReply(in received, content string) ([]byte, error) {
	now := c.env.Now()
	t := message.NewText(content)
	t.SetToUserName(in.m.FromUserName)
	t.SetFromUserName(in.m.ToUserName)
	t.SetCreateTime(now.Unix())
	t.SetMsgType(message.MsgTypeText)
	plain, err := xml.Marshal(t)
	if err != nil || !in.encrypted {
		return plain, err
	}
	random := make([]byte, 16)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range random {
		random[i] = letters[mrand.IntN(len(letters))]
	}
	enc, err := util.EncryptMsg(random, plain, c.receiverID, string(c.aesKey))
	if err != nil {
		return nil, errors.New("encrypting the reply failed") // the library's error could name nothing useful
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return xml.Marshal(message.ResponseEncryptedXMLMsg{EncryptedMsg: string(enc),
		MsgSignature: util.Signature(string(c.token), ts, in.nonce, string(enc)), Timestamp: now.Unix(), Nonce: in.nonce})
}

// received is a checked callback: its envelope, the message, and how it came.
type received struct {
	env       draft.Envelope
	m         inbound
	encrypted bool
	ts, nonce string
}

// envelope reads, checks and decrypts a POST.
func (c *Callback) envelope(rw http.ResponseWriter, r *http.Request) (received, *refusal) {
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if rf := c.checkTimestamp(ts); rf != nil {
		return received{}, rf
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, c.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return received{}, refuse(http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("the body is over %d bytes, this connector's max_body_bytes", c.maxBody))
		}
		return received{}, refuse(http.StatusBadRequest, "unreadable", "reading the body: "+err.Error())
	}
	encrypted := c.typ != TypeOfficialAccount || q.Get("encrypt_type") == "aes"
	if c.typ == TypeOfficialAccount {
		// The URL signature comes with every official account callback, in every mode.
		if !sameSignature(q.Get("signature"), util.Signature(string(c.token), ts, nonce)) {
			return received{}, refuse(http.StatusUnauthorized, "bad_signature", "signature does not match: check the token")
		}
		switch {
		case !encrypted && c.mode == modeSafe:
			return received{}, refuse(http.StatusUnauthorized, "plain_in_safe_mode",
				"the account is in safe mode (mode: safe): a plain message is refused; WeChat sends encrypt_type=aes")
		case encrypted && c.aesKey == "":
			return received{}, refuse(http.StatusUnauthorized, "no_key",
				"an encrypted message, and this connector has no encoding_aes_key (mode: plain)")
		}
	}
	plain := body
	if encrypted {
		var outer message.EncryptedXMLMsg
		if err := xml.Unmarshal(body, &outer); err != nil {
			return received{}, refuse(http.StatusBadRequest, "malformed_xml", "the body is not WeChat's XML: "+err.Error())
		}
		if outer.EncryptedMsg == "" {
			return received{}, refuse(http.StatusBadRequest, "malformed_xml", "the body has no <Encrypt> element")
		}
		if !sameSignature(q.Get("msg_signature"), util.Signature(string(c.token), ts, nonce, outer.EncryptedMsg)) {
			return received{}, refuse(http.StatusUnauthorized, "bad_signature", "msg_signature does not match the message: check the token")
		}
		var rf *refusal
		if plain, rf = c.decrypt(outer.EncryptedMsg); rf != nil {
			return received{}, rf
		}
	}
	m, err := parseMessage(plain)
	if err != nil {
		return received{}, refuse(http.StatusBadRequest, "malformed_xml", err.Error())
	}
	if c.agentID != 0 && m.AgentID != 0 && m.AgentID != c.agentID {
		return received{}, refuse(http.StatusBadRequest, "other_agent",
			fmt.Sprintf("the message is for app %d, this connector takes app %d's (agent_id)", m.AgentID, c.agentID))
	}
	return received{env: c.newEnvelope(m, plain), m: m, encrypted: encrypted, ts: ts, nonce: nonce}, nil
}

// newEnvelope wraps a decrypted message, with what the normalizer needs of the config.
func (c *Callback) newEnvelope(m inbound, plain []byte) draft.Envelope {
	headers := map[string]string{headerMsgType: string(m.MsgType), headerThreadWindow: c.window.String()}
	if m.MsgType == message.MsgTypeEvent && m.Event == message.EventClick && c.intakeKeys[m.EventKey] {
		headers[headerIntake] = "menu"
	}
	return draft.Envelope{
		ID:            c.env.NewID(),
		Connector:     c.name,
		ConnectorType: c.typ,
		Type:          EnvelopeMessage,
		ReceivedAt:    c.env.Now().In(c.env.Location),
		DedupKey:      m.dedupKey(),
		ContentType:   "application/xml",
		Headers:       headers,
		Payload:       plain,
	}
}

// checkTimestamp refuses a callback signed too long ago (or ahead), against replays.
func (c *Callback) checkTimestamp(ts string) *refusal {
	if c.skew <= 0 {
		return nil
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refuse(http.StatusUnauthorized, "bad_timestamp", "timestamp must be Unix seconds")
	}
	if d := c.env.Now().Sub(time.Unix(sec, 0)); d > c.skew || d < -c.skew {
		return refuse(http.StatusUnauthorized, "stale_timestamp",
			fmt.Sprintf("timestamp %s is %s from this server's clock, more than timestamp_skew %s: a replay, or a clock to fix", ts, d.Round(time.Second), c.skew))
	}
	return nil
}

// decrypt opens an encrypted message or echostr, which must name this connector's AppID or
// CorpID.
func (c *Callback) decrypt(enc string) ([]byte, *refusal) {
	_, plain, err := util.DecryptMsg(c.receiverID, enc, string(c.aesKey))
	if err != nil {
		// The library's errors name nothing secret; say which setting to look at.
		what := "the CorpID"
		if c.typ == TypeOfficialAccount {
			what = "the AppID"
		}
		return nil, refuse(http.StatusUnauthorized, "decrypt_failed",
			fmt.Sprintf("the message does not decrypt for %s %s with this encoding_aes_key", what, c.receiverID))
	}
	return plain, nil
}

// sameSignature compares a signature from a request with the expected one in constant time.
func sameSignature(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// aesKey decodes an EncodingAESKey, as WeChat defines it: 43 characters of base64 for 32 bytes.
func aesKey(encoded string) ([]byte, error) {
	if len(encoded) != 43 {
		return nil, fmt.Errorf("an EncodingAESKey is 43 characters, this one %d", len(encoded))
	}
	key, err := base64.StdEncoding.DecodeString(encoded + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("not an EncodingAESKey: 43 characters of A–Z, a–z, 0–9 (copy it from the WeChat console)")
	}
	return key, nil
}

// Status is what GET /api/v1/connectors shows under details.
type Status struct {
	Mode         string           `json:"mode"`
	URLChecks    int64            `json:"url_checks"`
	Received     map[string]int64 `json:"received_by_kind"`
	Refused      map[string]int64 `json:"refused_by_reason"`
	ThreadWindow string           `json:"thread_window"`
}

// Details reports counts by kind and by refusal reason.
func (c *Callback) Details() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{Mode: c.mode, URLChecks: c.verified, Received: make(map[string]int64, len(c.kinds)),
		Refused: make(map[string]int64, len(c.refusals)), ThreadWindow: c.window.String()}
	for k, n := range c.kinds {
		s.Received[k] = n
	}
	for k, n := range c.refusals {
		s.Refused[k] = n
	}
	return s
}

// Interface guards.
var (
	_ connectors.HTTPReceiver = (*Callback)(nil)
	_ connectors.HTTPReceiver = (*OfficialAccount)(nil)
	_ connectors.DryRunner    = (*Callback)(nil)
	_ connectors.Detailer     = (*Callback)(nil)
)
