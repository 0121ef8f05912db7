// Package wechattest is a fake WeChat and WeCom API server for tests: access tokens, customer
// service messages (official accounts) and app messages (WeCom). Tests point the WeChat
// library's HTTP client at it (Redirect), so nothing reaches the internet.
package wechattest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/silenceper/wechat/v2/util"
)

// Sent is one message the fake API took.
type Sent struct {
	// API is "custom" (an official account's customer service message), "app" (WeCom) or
	// "kf" (微信客服's send_msg).
	API string
	// To is the openid, or the WeCom UserIDs joined with |.
	To         string
	Content    string
	AgentID    string
	OpenKfID   string
	TemplateID string
	URL        string
}

// API is the fake server.
type API struct {
	srv *httptest.Server

	mu          sync.Mutex
	tokens      map[string]bool // valid access tokens
	fetches     int             // tokens handed out
	sent        []Sent
	failNext    int      // the next sends answer this errcode, once each
	failCount   int      // how many sends to fail
	unknownUser []string // WeCom UserIDs reported as invalid
	kfMsgs      []map[string]any
	kfPage      int      // messages per sync_msg page
	kfTokens    []string // the callback tokens syncs came with
	media       map[string][]byte
}

// Start runs a fake API and points the library at it until the test ends.
func Start(t interface {
	Cleanup(func())
}) *API {
	a := &API{tokens: map[string]bool{}, kfPage: 1000, media: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/token", a.token)    // official account: appid, secret
	mux.HandleFunc("GET /cgi-bin/gettoken", a.token) // WeCom: corpid, corpsecret
	mux.HandleFunc("POST /cgi-bin/message/custom/send", a.custom)
	mux.HandleFunc("POST /cgi-bin/message/send", a.app)
	mux.HandleFunc("POST /cgi-bin/kf/sync_msg", a.syncMsg)
	mux.HandleFunc("GET /cgi-bin/media/get", a.mediaGet)
	mux.HandleFunc("POST /cgi-bin/message/template/send", a.templateSend)
	mux.HandleFunc("POST /cgi-bin/kf/send_msg", func(w http.ResponseWriter, r *http.Request) { a.take(w, r, "kf") })
	a.srv = httptest.NewServer(mux)
	old := util.DefaultHTTPClient
	util.DefaultHTTPClient = &http.Client{Transport: Redirect(a.srv.URL)}
	t.Cleanup(func() {
		util.DefaultHTTPClient = old
		a.srv.Close()
	})
	return a
}

// Redirect is a transport that sends every request to base, whatever its host.
func Redirect(base string) http.RoundTripper {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (a *API) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if (q.Get("secret") == "" && q.Get("corpsecret") == "") || (q.Get("appid") == "" && q.Get("corpid") == "") {
		writeJSON(w, map[string]any{"errcode": 40013, "errmsg": "invalid appid"})
		return
	}
	a.mu.Lock()
	a.fetches++
	tok := fmt.Sprintf("TOKEN-%d", a.fetches)
	a.tokens[tok] = true
	a.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 7200, "errcode": 0})
}

// check answers a send that cannot go through (bad token, an injected failure); ok false.
func (a *API) check(w http.ResponseWriter, r *http.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.tokens[r.URL.Query().Get("access_token")] {
		writeJSON(w, map[string]any{"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
		return false
	}
	if a.failCount > 0 {
		a.failCount--
		writeJSON(w, map[string]any{"errcode": a.failNext, "errmsg": "system error"})
		return false
	}
	return true
}

// request answers a send that cannot go through (check) or whose body is not the JSON of v,
// and reads it into v otherwise; ok false: it answered.
func (a *API) request(w http.ResponseWriter, r *http.Request, v any) bool {
	if !a.check(w, r) {
		return false
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, v); err != nil {
		writeJSON(w, map[string]any{"errcode": 47001, "errmsg": "data format error"})
		return false
	}
	return true
}

func (a *API) custom(w http.ResponseWriter, r *http.Request) { a.take(w, r, "custom") }

func (a *API) app(w http.ResponseWriter, r *http.Request) { a.take(w, r, "app") }

// take records a text message of either API: their JSON has the same fields.
func (a *API) take(w http.ResponseWriter, r *http.Request, api string) {
	var m struct {
		ToUser   string `json:"touser"`
		AgentID  string `json:"agentid"`
		OpenKfID string `json:"open_kfid"`
		Text     struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if !a.request(w, r, &m) {
		return
	}
	a.mu.Lock()
	var invalid []string
	for _, u := range strings.Split(m.ToUser, "|") {
		if api == "app" && slices.Contains(a.unknownUser, u) {
			invalid = append(invalid, u)
		}
	}
	a.sent = append(a.sent, Sent{API: api, To: m.ToUser, Content: m.Text.Content, AgentID: m.AgentID, OpenKfID: m.OpenKfID})
	a.mu.Unlock()
	answer := map[string]any{"errcode": 0, "errmsg": "ok"}
	if api == "app" {
		answer["invaliduser"] = strings.Join(invalid, "|")
	}
	writeJSON(w, answer)
}

// syncMsg answers 微信客服's sync_msg: the messages after the cursor ("" or "c<N>"), a page
// at a time.
func (a *API) syncMsg(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Cursor string `json:"cursor"`
		Token  string `json:"token"`
		Limit  int    `json:"limit"`
	}
	if !a.request(w, r, &req) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kfTokens = append(a.kfTokens, req.Token)
	from := 0
	if req.Cursor != "" {
		if _, err := fmt.Sscanf(req.Cursor, "c%d", &from); err != nil || from > len(a.kfMsgs) {
			writeJSON(w, map[string]any{"errcode": 95007, "errmsg": "invalid cursor"})
			return
		}
	}
	to := min(len(a.kfMsgs), from+min(a.kfPage, max(req.Limit, 1)))
	hasMore := 0
	if to < len(a.kfMsgs) {
		hasMore = 1
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": fmt.Sprintf("c%d", to), "has_more": hasMore,
		"msg_list": a.kfMsgs[from:to]})
}

// templateSend takes a template message; Content is its data as JSON, keys sorted. A second
// send with the same client_msg_id is one message, as WeChat's 防重入 makes it.
func (a *API) templateSend(w http.ResponseWriter, r *http.Request) {
	var m struct {
		ToUser      string                       `json:"touser"`
		TemplateID  string                       `json:"template_id"`
		URL         string                       `json:"url"`
		ClientMsgID string                       `json:"client_msg_id"`
		Data        map[string]map[string]string `json:"data"`
	}
	if !a.request(w, r, &m) {
		return
	}
	data := map[string]string{}
	for k, v := range m.Data {
		data[k] = v["value"]
	}
	content, _ := json.Marshal(data)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.sent {
		if s.API == "template" && m.ClientMsgID != "" && s.AgentID == m.ClientMsgID {
			writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": 1})
			return
		}
	}
	a.sent = append(a.sent, Sent{API: "template", To: m.ToUser, Content: string(content), TemplateID: m.TemplateID, URL: m.URL, AgentID: m.ClientMsgID})
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": 1})
}

// mediaGet serves a temporary media file by media_id, as media/get does.
func (a *API) mediaGet(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	ok := a.tokens[r.URL.Query().Get("access_token")]
	data, found := a.media[r.URL.Query().Get("media_id")]
	a.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, map[string]any{"errcode": 40001, "errmsg": "invalid credential"})
	case !found:
		writeJSON(w, map[string]any{"errcode": 40007, "errmsg": "invalid media_id"})
	default:
		w.Header().Set("Content-Type", "audio/amr")
		w.Write(data)
	}
}

// AddMedia makes media/get serve data for id.
func (a *API) AddMedia(id string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.media[id] = data
}

// AddKFMessages queues messages for sync_msg.
func (a *API) AddKFMessages(msgs ...map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kfMsgs = append(a.kfMsgs, msgs...)
}

// KFPage sets how many messages a sync_msg page holds at most.
func (a *API) KFPage(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kfPage = n
}

// KFTokens are the callback tokens the syncs came with, in order ("" for one without).
func (a *API) KFTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.kfTokens...)
}

// Sent is what the fake took, in order.
func (a *API) Sent() []Sent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Sent(nil), a.sent...)
}

// Fetches is how many access tokens were handed out.
func (a *API) Fetches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}

// RevokeTokens makes every token handed out so far invalid (errcode 40001), as when
// another server fetched a new one.
func (a *API) RevokeTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.tokens)
}

// Fail makes the next n sends answer errcode.
func (a *API) Fail(n, errcode int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failCount, a.failNext = n, errcode
}

// UnknownUsers makes WeCom report these UserIDs as invalid.
func (a *API) UnknownUsers(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unknownUser = ids
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
