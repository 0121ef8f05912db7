package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	oaconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	oacontext "github.com/silenceper/wechat/v2/officialaccount/context"
	"github.com/silenceper/wechat/v2/officialaccount/material"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
	workconfig "github.com/silenceper/wechat/v2/work/config"
	workcontext "github.com/silenceper/wechat/v2/work/context"
	workmessage "github.com/silenceper/wechat/v2/work/message"

	"gongdan/draft"
)

func init() {
	// The library's calls go through this client; http.DefaultClient never times out, and a
	// notification must not hang its consumer.
	if util.DefaultHTTPClient == http.DefaultClient {
		util.DefaultHTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
}

// tokenCache is the access token cache of one connector's API client. The library keeps
// tokens in it until they expire; clear drops them when WeChat says one is no longer valid
// (another server fetched a new one), so that the next call fetches a fresh one.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	v       any
	expires time.Time
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]cached{}} }

func (c *tokenCache) Get(key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || (!e.expires.IsZero() && time.Now().After(e.expires)) {
		return nil
	}
	return e.v
}

func (c *tokenCache) Set(key string, v any, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := cached{v: v}
	if timeout > 0 {
		e.expires = time.Now().Add(timeout)
	}
	c.m[key] = e
	return nil
}

func (c *tokenCache) IsExist(key string) bool { return c.Get(key) != nil }

func (c *tokenCache) Delete(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

var _ cache.Cache = (*tokenCache)(nil)

// apiError turns the library's error into one that names the connector and never a token,
// and drops the cached token when WeChat refused it.
func apiError(connector string, tokens *tokenCache, err error) error {
	code, msg, ok := errcodeOf(err)
	if ok {
		switch code {
		case 40001, 40014, 42001: // invalid credential, invalid token, token expired
			tokens.clear()
		}
		return &APIError{Connector: connector, Code: code, Msg: msg}
	}
	return fmt.Errorf("wechat API (connector %s): %s", connector, scrub(err))
}

// scrub is an error's text without the URL a transport error quotes (it holds the access
// token, or the app's secret when the token was being fetched), and without any such query
// parameter that slipped into a message.
func scrub(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + hostOf(ue.URL) + ": " + scrub(ue.Err)
	}
	return credentialRE.ReplaceAllString(err.Error(), "$1=[redacted]")
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme + "://" + u.Host + u.Path
	}
	return "(url)"
}

// credentialRE finds credentials in URLs quoted by errors.
var credentialRE = regexp.MustCompile(`(access_token|secret|corpsecret|appsecret)=[^&"\s]*`)

// errcodeRE finds WeChat's error code in the errors of library calls that do not return a
// util.CommonError (the customer message manager formats its own).
var errcodeRE = regexp.MustCompile(`errcode=(-?\d+) ?, ?errmsg=(.*)$`)

// errcodeOf is the WeChat error code and message an error carries, if it carries one.
func errcodeOf(err error) (int64, string, bool) {
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return ce.ErrCode, ce.ErrMsg, true
	}
	if m := errcodeRE.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.ParseInt(m[1], 10, 64)
		return code, m[2], true
	}
	return 0, "", false
}

// officialAccountAPI is an official account's API client, made on first use.
type officialAccountAPI struct {
	once      sync.Once
	messages  *message.Manager
	templates *message.Template
	media     *material.Material
	tokens    *tokenCache
	err       error
}

// TellCustomer sends text to the customer of a ticket that came in through this account, by
// their openid; false when the customer has none.
func (o *OfficialAccount) TellCustomer(ctx context.Context, _ draft.Draft, c draft.Customer, text string) (bool, error) {
	if c.WechatOpenID == "" {
		return false, nil
	}
	return true, o.SendCustomerText(ctx, c.WechatOpenID, text)
}

// init makes the account's API client on first use.
func (o *OfficialAccount) init() error {
	api := &o.api
	api.once.Do(func() {
		secret := o.secret
		if secret == "" {
			api.err = fmt.Errorf("connector %s has no app_secret: it cannot call the WeChat API", o.name)
			return
		}
		api.tokens = newTokenCache()
		cfg := &oaconfig.Config{AppID: o.receiverID, AppSecret: secret.Reveal(), Cache: api.tokens}
		ctx := &oacontext.Context{Config: cfg,
			AccessTokenHandle: credential.NewDefaultAccessToken(cfg.AppID, cfg.AppSecret, credential.CacheKeyOfficialAccountPrefix, api.tokens)}
		api.messages = message.NewMessageManager(ctx)
		api.templates = message.NewTemplate(ctx)
		api.media = material.NewMaterial(ctx)
	})
	return api.err
}

// SendTemplate sends a template message (模板消息) to the customer of a ticket that came in
// through this account; clientMsgID makes a retry of the same send one message at WeChat.
func (o *OfficialAccount) SendTemplate(_ context.Context, c draft.Customer, templateID, link string, data map[string]string, clientMsgID string) (bool, error) {
	if c.WechatOpenID == "" {
		return false, nil
	}
	if err := o.init(); err != nil {
		return true, err
	}
	msg := &message.TemplateMessage{ToUser: c.WechatOpenID, TemplateID: templateID, URL: link, ClientMsgID: clipBytes(clientMsgID, 64),
		Data: make(map[string]*message.TemplateDataItem, len(data))}
	for k, v := range data {
		msg.Data[k] = &message.TemplateDataItem{Value: v}
	}
	if _, err := o.api.templates.Send(msg); err != nil {
		return true, apiError(o.name, o.api.tokens, err)
	}
	return true, nil
}

// fetchMedia keeps a message's media (a voice message, an image whose picture link failed)
// through the API's media/get, which needs the access token.
func (o *OfficialAccount) fetchMedia(ctx context.Context, mediaID string) (string, error) {
	if err := o.init(); err != nil {
		return "", err
	}
	u, err := o.api.media.GetMediaURL(url.QueryEscape(mediaID))
	if err != nil {
		return "", apiError(o.name, o.api.tokens, err)
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", errors.New("media/get: a malformed request")
	}
	resp, err := util.DefaultHTTPClient.Do(req)
	if err != nil {
		return "", apiError(o.name, o.api.tokens, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("media/get: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/plain") {
		var ce util.CommonError
		if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ce) == nil && ce.ErrCode != 0 {
			return "", apiError(o.name, o.api.tokens, &ce)
		}
		return "", errors.New("media/get answered no file")
	}
	sha, _, err := o.env.Attachments.Put(resp.Body, maxMediaBytes)
	return sha, err
}

// SendCustomerText sends a customer service text message (客服消息) to a customer of the
// account: WeChat delivers it when the customer wrote to the account within the last 48 hours.
func (o *OfficialAccount) SendCustomerText(_ context.Context, openID, text string) error {
	if err := o.init(); err != nil {
		return err
	}
	if err := o.api.messages.Send(message.NewCustomerTextMessage(openID, text)); err != nil {
		return apiError(o.name, o.api.tokens, err)
	}
	return nil
}

// workAPI is a WeCom app's API client, made on first use.
type workAPI struct {
	once   sync.Once
	client *workmessage.Client
	tokens *tokenCache
	err    error
}

// SendAppText sends a WeCom app text message (应用消息) to people by UserID.
func (c *Callback) SendAppText(_ context.Context, userIDs []string, text string) error {
	if c.typ != TypeWork {
		return fmt.Errorf("connector %s is a %s: app messages go through a wechat.work connector", c.name, c.typ)
	}
	api := &c.work
	api.once.Do(func() {
		switch {
		case c.secret == "":
			api.err = fmt.Errorf("connector %s has no corp_secret: it cannot send app messages", c.name)
		case c.agentID == 0:
			api.err = fmt.Errorf("connector %s has no agent_id: app messages are sent as an app", c.name)
		default:
			api.tokens = newTokenCache()
			cfg := &workconfig.Config{CorpID: c.receiverID, CorpSecret: c.secret.Reveal(), AgentID: strconv.Itoa(c.agentID), Cache: api.tokens}
			api.client = workmessage.NewClient(&workcontext.Context{Config: cfg,
				AccessTokenHandle: credential.NewWorkAccessToken(cfg.CorpID, cfg.CorpSecret, cfg.AgentID, credential.CacheKeyWorkPrefix, api.tokens)})
		}
	})
	if api.err != nil {
		return api.err
	}
	resp, err := api.client.SendText(workmessage.SendTextRequest{
		SendRequestCommon: &workmessage.SendRequestCommon{ToUser: strings.Join(userIDs, "|"), AgentID: strconv.Itoa(c.agentID)},
		Text:              workmessage.TextField{Content: text},
	})
	if err == nil && resp.InvalidUser != "" {
		// Sent to the others; the unknown ones are a config matter (notify.wecom.users),
		// which retrying cannot fix.
		return &InvalidUsersError{Connector: c.name, Users: resp.InvalidUser}
	}
	if err != nil {
		return apiError(c.name, api.tokens, err)
	}
	return nil
}

// APIError is an error code WeChat answered.
type APIError struct {
	Connector string
	Code      int64
	Msg       string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat API (connector %s): errcode %d: %s", e.Connector, e.Code, e.Msg)
}

// Permanent reports an answer that sending again cannot change: the customer has not
// written within 48 hours (45015), unfollowed the account (43004), or is unknown (40003), or
// the account may send no more today (45047).
func (e *APIError) Permanent() bool {
	switch e.Code {
	case 40003, 43004, 45015, 45047:
		return true
	}
	return false
}

// OutsideWindow reports WeChat's refusal of a customer service message to a customer who has
// not written within 48 hours (45015), or who has had all the replies allowed (45047): a
// template message may still reach them.
func (e *APIError) OutsideWindow() bool { return e.Code == 45015 || e.Code == 45047 }

// InvalidUsersError says which UserIDs WeCom does not know.
type InvalidUsersError struct {
	Connector, Users string
}

// Permanent: only a config change (notify.wecom.users) fixes it.
func (e *InvalidUsersError) Permanent() bool { return true }

func (e *InvalidUsersError) Error() string {
	return fmt.Sprintf("wechat API (connector %s): WeCom knows no user %s (map gongdan ids to UserIDs in notify.wecom.users)", e.Connector, e.Users)
}
