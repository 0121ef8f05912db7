package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"gongdan/core/ticket"
	"gongdan/internal/vendorhttp"
	"gongdan/web/webkit"
)

// WeCom is WeCom web sign-in (config console.wecom): inside WeCom's own browser the console
// asks WeCom who is there (企业微信网页授权, silent), in any other browser WeCom shows a QR
// code to scan (扫码登录). Either way WeCom sends the browser back with a one-time code, which
// the server turns into the member's userid with the app's Secret; a userid listed in Users
// signs in as its actor. Nobody else does: not a member of another company, not a member the
// config does not list.
//
// The calls to WeCom's API go through resty (internal/vendorhttp), not silenceper/wechat's
// work/oauth: that package's URLs are constants (no test server can stand in for WeCom) and
// its UserFromCode reads the older user/getuserinfo.
type WeCom struct {
	// CorpID is the company's CorpID (企业ID); AgentID the self-built app's AgentId.
	CorpID  string
	AgentID int64
	// Secret is the app's Secret. It is sent to WeCom only, never logged nor shown.
	Secret string
	// Users maps a WeCom userid to who they are in gongdan.
	Users map[string]ticket.Actor
	// Names are the names shown for userids (optional; default the actor id).
	Names map[string]string
	// APIBase is where WeCom's server API is (tests); default https://qyapi.weixin.qq.com.
	APIBase string
	// Timeout bounds each call to WeCom (default 10s).
	Timeout time.Duration

	clientOnce sync.Once
	client     *resty.Client

	// The access token, shared by every sign-in until shortly before it expires: WeCom limits
	// how often gettoken may be called. mu is held while one is fetched, so that sign-ins at
	// the same moment fetch one between them.
	mu      sync.Mutex
	token   string
	expires time.Time
}

const (
	// stateCookie keeps a sign-in's state (and where to go after it) between the start and
	// WeCom's answer. It is SameSite=Lax, not Strict like the session's: WeCom's redirect back
	// is a navigation from another site, which a Strict cookie would not come with.
	stateCookie = "gd_wecom_state"
	statePath   = "/console/wecom/"
	stateMaxAge = 10 * time.Minute
	// tokenMargin: an access token is fetched again this long before WeCom says it expires.
	tokenMargin = 5 * time.Minute
	// maxCode is the longest code WeCom gives (its docs: at most 512 bytes).
	maxCode = 512
	// maxNext bounds the destination kept in the state cookie.
	maxNext = 1024

	defaultWeComAPI = "https://qyapi.weixin.qq.com"
)

func init() {
	addWords(webkit.Words{
		"wecom_state":             {"登录已失效", "The sign-in expired"},
		"wecom_state_detail":      {"企业微信登录已超时，或不是从本站发起的，请重新登录。", "The WeCom sign-in timed out or was not started here; please sign in again."},
		"wecom_cancelled":         {"未完成企业微信授权", "WeCom did not authorise the sign-in"},
		"wecom_cancelled_detail":  {"企业微信没有授权本次登录，请重新登录。", "WeCom did not authorise this sign-in; please try again."},
		"wecom_failed":            {"企业微信登录失败", "WeCom sign-in failed"},
		"wecom_failed_detail":     {"暂时无法向企业微信确认您的身份，请稍后再试，或使用 API 令牌登录。", "WeCom could not confirm who you are just now; try again shortly, or sign in with an API token."},
		"wecom_unknown":           {"此企业微信账号未开通控制台", "This WeCom account has no access to the console"},
		"wecom_unknown_detail":    {"请联系管理员在 console.wecom.users 中添加您的账号。", "Ask an administrator to add your account to console.wecom.users."},
		"wecom_not_member":        {"非本企业成员不能登录", "Only members of the company may sign in"},
		"wecom_not_member_detail": {"请使用本企业的企业微信账号登录。", "Sign in with your WeCom account of this company."},
		"wecom_entering":          {"已登录，正在进入控制台…", "Signed in; opening the console…"},
		"wecom_continue":          {"进入控制台", "Open the console"},
	})
}

// actorOf is the actor a WeCom userid maps to.
func (w *WeCom) actorOf(userid string) (ticket.Actor, bool) {
	if w == nil {
		return ticket.Actor{}, false
	}
	a, ok := w.Users[userid]
	return a, ok
}

// nameOf is the name shown for userid.
func (w *WeCom) nameOf(userid string, a ticket.Actor) string {
	if n := w.Names[userid]; n != "" {
		return n
	}
	return a.ID
}

// inWeCom reports whether the request comes from WeCom's in-app browser, whose User-Agent
// says wxWork; WeChat's (MicroMessenger alone) is not WeCom's and gets the QR code.
func inWeCom(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.UserAgent()), "wxwork")
}

// authorizeURL is where the browser is sent to sign in with WeCom.
//
// Inside WeCom, 构造网页授权链接 (https://developer.work.weixin.qq.com/document/path/96441):
// open.weixin.qq.com/connect/oauth2/authorize, scope snsapi_base (the userid alone, asked
// silently), agentid the app, #wechat_redirect last. Elsewhere, 企业微信Web登录 — 构造企业微信登录
// 链接 (https://developer.work.weixin.qq.com/document/path/98171, which replaced the older
// open.work.weixin.qq.com/wwopen/sso/qrConnect): login.work.weixin.qq.com/wwlogin/sso/login,
// login_type CorpApp for a self-built app. Both come back to redirect_uri?code=CODE&state=STATE
// (state alone when the user declined), and redirect_uri's host must be the app's 可信域名.
func (w *WeCom) authorizeURL(callback, state string, inApp bool) string {
	appid, agent, back := url.QueryEscape(w.CorpID), strconv.FormatInt(w.AgentID, 10), url.QueryEscape(callback)
	if inApp {
		return "https://open.weixin.qq.com/connect/oauth2/authorize?appid=" + appid + "&redirect_uri=" + back +
			"&response_type=code&scope=snsapi_base&state=" + state + "&agentid=" + agent + "#wechat_redirect"
	}
	return "https://login.work.weixin.qq.com/wwlogin/sso/login?login_type=CorpApp&appid=" + appid + "&agentid=" + agent +
		"&redirect_uri=" + back + "&state=" + state
}

// publicURL is the address the browser reached the console at, for WeCom's redirect back:
// server.public_url, or else this request's host (WeCom redirects only to the app's trusted
// domain, so a forged Host header sends nobody anywhere else).
func (h *Handler) publicURL(r *http.Request) string {
	if h.opts.PublicURL != "" {
		return strings.TrimRight(h.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || h.opts.Secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) stateCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: stateCookie, Value: value, Path: statePath, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: h.opts.Secure || r.TLS != nil}
}

// wecomStart sends the browser to WeCom with a fresh state, kept in a cookie: only the
// browser that started a sign-in can finish it (no one else's code signs this browser in).
func (h *Handler) wecomStart(w http.ResponseWriter, r *http.Request) {
	wc := h.opts.WeCom
	if wc == nil {
		h.problem(w, r, nil, http.StatusNotFound, "not_found")
		return
	}
	webkit.KeepLang(w, r, "/console/")
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state := hex.EncodeToString(b) // WeCom takes a-zA-Z0-9 only, up to 128 bytes
	next := safeNext(r.URL.Query().Get("next"))
	if len(next) > maxNext {
		next = "/console/"
	}
	http.SetCookie(w, h.stateCookie(r, state+"."+base64.RawURLEncoding.EncodeToString([]byte(next)), int(stateMaxAge/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, wc.authorizeURL(h.publicURL(r)+"/console/wecom/callback", state, inWeCom(r)), http.StatusFound)
}

// stateOf reads the state cookie: the state and where to go after signing in.
func stateOf(r *http.Request) (state, next string, ok bool) {
	c, err := r.Cookie(stateCookie)
	if err != nil {
		return "", "", false
	}
	state, enc, found := strings.Cut(c.Value, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !found || err != nil || len(state) != 64 {
		return "", "", false
	}
	return state, safeNext(string(raw)), true
}

// wecomCallback is where WeCom sends the browser back: the state must be the one this
// browser was given, and the code must name a member that console.wecom.users lists.
func (h *Handler) wecomCallback(w http.ResponseWriter, r *http.Request) {
	wc := h.opts.WeCom
	if wc == nil {
		h.problem(w, r, nil, http.StatusNotFound, "not_found")
		return
	}
	l := webkit.LangOf(r)
	// A state is good for one answer, whatever the answer is.
	http.SetCookie(w, h.stateCookie(r, "", -1))
	q := r.URL.Query()
	want, next, ok := stateOf(r)
	if got := q.Get("state"); !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		h.opts.Logger.Info("console: a WeCom sign-in came back without the state this browser was given", "has_state_cookie", ok)
		h.problem(w, r, nil, http.StatusBadRequest, "wecom_state")
		return
	}
	code := q.Get("code")
	if code == "" {
		h.problem(w, r, nil, http.StatusUnauthorized, "wecom_cancelled")
		return
	}
	if len(code) > maxCode {
		h.problem(w, r, nil, http.StatusBadRequest, "wecom_state")
		return
	}
	userid, err := wc.userOf(r.Context(), code, h.opts.Now())
	var apiErr *weComError
	switch {
	case errors.Is(err, errNotMember):
		h.opts.Logger.Info("console: WeCom sign-in refused: not a member of the company")
		h.problem(w, r, nil, http.StatusForbidden, "wecom_not_member")
		return
	case errors.As(err, &apiErr):
		h.opts.Logger.Warn("console: WeCom sign-in failed", "call", apiErr.Call, "errcode", apiErr.Code, "errmsg", apiErr.Msg)
		h.render(w, r, nil, http.StatusBadGateway, "error", Page{Title: words.T(l, "wecom_failed"),
			Data: errorData{Status: http.StatusBadGateway, Key: "wecom_failed", Lang: l,
				Detail: fmt.Sprintf("%s (errcode %d)", words.T(l, "wecom_failed_detail"), apiErr.Code)}})
		return
	case err != nil:
		h.opts.Logger.Warn("console: WeCom sign-in failed", "err", err)
		h.problem(w, r, nil, http.StatusBadGateway, "wecom_failed")
		return
	}
	actor, ok := wc.actorOf(userid)
	if !ok {
		h.opts.Logger.Warn("console: WeCom sign-in refused: the userid is not in console.wecom.users", "userid", userid)
		h.problem(w, r, nil, http.StatusForbidden, "wecom_unknown")
		return
	}
	if err := h.newSession(w, r, actor, wc.nameOf(userid, actor), "wecom:"+userid); err != nil {
		h.opts.Logger.Error("console: keeping a session", "err", err)
		h.problem(w, r, nil, http.StatusServiceUnavailable, "internal")
		return
	}
	h.opts.Logger.Info("console: signed in with WeCom", "userid", userid, "actor", actor.ID, "role", actor.Role)
	// A page, not a redirect: the browser came here from WeCom's site, and a redirect on from
	// here would still be that cross-site navigation, which the SameSite=Strict session cookie
	// does not come with. The page's own navigation is same-site.
	h.fragment(w, nil, "wecom", "wecom_enter", enterData{Next: next, Lang: l})
}

type enterData struct {
	Next string
	Lang webkit.Lang
}

// --- WeCom's server API ---

// errNotMember: the code is a WeChat user's who is not a member of the company (WeCom answers
// an openid instead of a userid).
var errNotMember = errors.New("wecom: not a member of the company")

// weComError is an answer of WeCom's API with an errcode other than 0.
type weComError struct {
	Call string
	Code int
	Msg  string
}

func (e *weComError) Error() string {
	return fmt.Sprintf("wecom %s: errcode %d: %s", e.Call, e.Code, e.Msg)
}

// tokenRefused are the errcodes of an access token WeCom no longer takes (40001 invalid
// credential, 40014 invalid access_token, 42001 expired): fetch a new one, once.
func tokenRefused(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

func (w *WeCom) http() *resty.Client {
	w.clientOnce.Do(func() {
		base, timeout := w.APIBase, w.Timeout
		if base == "" {
			base = defaultWeComAPI
		}
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		w.client = vendorhttp.NewClient(base, timeout, 64<<10)
	})
	return w.client
}

// get calls path with query and decodes its JSON answer into out, which embeds errcode and
// errmsg. An error never quotes the URL (it holds the Secret or the access token).
func (w *WeCom) get(ctx context.Context, call, path string, query map[string]string, out any) error {
	resp, err := w.http().R().SetContext(ctx).SetQueryParams(query).Get(path)
	if err != nil {
		bare, _ := vendorhttp.Bare(err)
		return fmt.Errorf("wecom %s: %w", call, bare)
	}
	if resp.StatusCode() != http.StatusOK {
		return fmt.Errorf("wecom %s: answered HTTP %d", call, resp.StatusCode())
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("wecom %s: the answer is not JSON: %w", call, err)
	}
	return nil
}

// redact takes the Secret and the access token out of a message of WeCom's, should it ever
// quote one.
func (w *WeCom) redact(msg, token string) string {
	for _, s := range []string{w.Secret, token} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// accessToken is the app's access token, fetched with the Secret when there is none still
// good at now.
func (w *WeCom) accessToken(ctx context.Context, now time.Time) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.token != "" && now.Before(w.expires) {
		return w.token, nil
	}
	var out struct {
		ErrCode     int    `json:"errcode"`
		ErrMsg      string `json:"errmsg"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := w.get(ctx, "gettoken", "/cgi-bin/gettoken", map[string]string{"corpid": w.CorpID, "corpsecret": w.Secret}, &out); err != nil {
		return "", err
	}
	if out.ErrCode != 0 {
		return "", &weComError{Call: "gettoken", Code: out.ErrCode, Msg: w.redact(out.ErrMsg, out.AccessToken)}
	}
	if out.AccessToken == "" {
		return "", errors.New("wecom gettoken: no access_token in the answer")
	}
	w.token, w.expires = out.AccessToken, now.Add(time.Duration(out.ExpiresIn)*time.Second-tokenMargin)
	return w.token, nil
}

// forget drops token, which WeCom refused, unless a newer one has replaced it already.
func (w *WeCom) forget(token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.token == token {
		w.token = ""
	}
}

// userOf turns a sign-in's code into the member's userid (获取访问用户身份, auth/getuserinfo:
// https://developer.work.weixin.qq.com/document/path/98177): a member comes back as userid
// (UserId in older answers), anyone else as openid, which is errNotMember.
func (w *WeCom) userOf(ctx context.Context, code string, now time.Time) (string, error) {
	for try := 0; ; try++ {
		token, err := w.accessToken(ctx, now)
		if err != nil {
			return "", err
		}
		// encoding/json matches keys regardless of case: userid takes UserId too, openid OpenId.
		var out struct {
			ErrCode int    `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
			UserID  string `json:"userid"`
			OpenID  string `json:"openid"`
		}
		if err := w.get(ctx, "getuserinfo", "/cgi-bin/auth/getuserinfo", map[string]string{"access_token": token, "code": code}, &out); err != nil {
			return "", err
		}
		switch {
		case tokenRefused(out.ErrCode) && try == 0:
			w.forget(token)
			continue
		case out.ErrCode != 0:
			return "", &weComError{Call: "getuserinfo", Code: out.ErrCode, Msg: w.redact(out.ErrMsg, token)}
		case out.UserID != "":
			return out.UserID, nil
		case out.OpenID != "":
			return "", errNotMember
		}
		return "", errors.New("wecom getuserinfo: neither a userid nor an openid in the answer")
	}
}
