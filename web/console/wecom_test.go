package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/web/console"
)

// WeCom web sign-in against a stand-in for WeCom's server API (qyapi.weixin.qq.com). WeCom's
// side of the browser's trip (the QR code, the redirect back) is played by the test: it
// reads where the console sent the browser and comes back to the callback with a code.

const (
	corpID      = "ww0123456789abcdef"
	corpSecret  = "corp-secret-never-shown"
	publicURL   = "https://gd.example.com"
	wecomUA     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light"
	wechatUA    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49 NetType/WIFI Language/zh_CN"
	desktopUA   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	tokenPrefix = "ACCESS-TOKEN-"
)

// fakeWeCom answers gettoken and auth/getuserinfo as WeCom does.
type fakeWeCom struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokenCalls int
	token      string // the one access token WeCom takes now
	refuseAll  bool   // every access token refused (40014)
	answers    map[string]string
	userCalls  int
}

func newFakeWeCom(t testing.TB) *fakeWeCom {
	f := &fakeWeCom{answers: map[string]string{
		"code-li":       `{"errcode":0,"errmsg":"ok","userid":"LiGong"}`,
		"code-chen-old": `{"errcode":0,"errmsg":"ok","UserId":"ChenDiaodu","DeviceId":"d-1"}`,
		"code-stranger": `{"errcode":0,"errmsg":"ok","openid":"oAbCdEf123","external_userid":"wmXyz"}`,
		"code-old-open": `{"errcode":0,"errmsg":"ok","OpenId":"oAbCdEf123","DeviceId":"d-2"}`,
		"code-unlisted": `{"errcode":0,"errmsg":"ok","userid":"ZhangSan"}`,
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		if r.URL.Query().Get("corpid") != corpID || r.URL.Query().Get("corpsecret") != corpSecret {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential, hint: [1733571200_1_abc], from ip: 127.0.0.1"}`)
			return
		}
		f.tokenCalls++
		f.token = fmt.Sprintf("%s%d", tokenPrefix, f.tokenCalls)
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":%q,"expires_in":7200}`, f.token)
	})
	mux.HandleFunc("GET /cgi-bin/auth/getuserinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.userCalls++
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		if tok := r.URL.Query().Get("access_token"); f.refuseAll || tok != f.token {
			fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired, hint: [1733571200_2_def]"}`)
			return
		}
		a, ok := f.answers[r.URL.Query().Get("code")]
		if !ok {
			a = `{"errcode":40029,"errmsg":"invalid code, hint: [1733571200_3_ghi]"}`
		}
		fmt.Fprint(w, a)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWeCom) calls() (tokens, users int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.userCalls
}

// expire makes WeCom take no access token it gave before (another server fetched a new one).
func (f *fakeWeCom) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = ""
}

func (f *fakeWeCom) refuse(all bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuseAll = all
}

// logBuffer is a log both the server and the test use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// weComUsers are who may sign in with WeCom.
func weComUsers() map[string]ticket.Actor {
	return map[string]ticket.Actor{
		"LiGong":     {ID: "eng-li", Role: ticket.RoleEngineer},
		"ChenDiaodu": {ID: "disp-chen", Role: ticket.RoleDispatcher},
	}
}

// withWeCom turns WeCom sign-in on against f, with server.public_url publicURL.
func withWeCom(f *fakeWeCom, users map[string]ticket.Actor, log *logBuffer) siteOption {
	return func(co *console.Options, _ *engine.Options) {
		co.WeCom = &console.WeCom{CorpID: corpID, AgentID: 1000002, Secret: corpSecret, Users: users,
			Names: map[string]string{"LiGong": "李工"}, APIBase: f.srv.URL}
		co.PublicURL = publicURL
		if log != nil {
			co.Logger = slog.New(slog.NewTextHandler(log, nil))
		}
	}
}

// wecomStart starts a WeCom sign-in: where the console sends the browser, and the state.
func (v *visitor) wecomStart(ua, next string) (*url.URL, answer) {
	v.t.Helper()
	path := "/console/wecom/start"
	if next != "" {
		path += "?next=" + url.QueryEscape(next)
	}
	a := v.get(path, "User-Agent", ua)
	require.Equal(v.t, http.StatusFound, a.status, a.body)
	u, err := url.Parse(a.loc)
	require.NoError(v.t, err)
	return u, a
}

// wecomBack is WeCom sending the browser back with code and state.
func (v *visitor) wecomBack(code, state string) answer {
	v.t.Helper()
	return v.get("/console/wecom/callback?" + url.Values{"code": {code}, "state": {state}}.Encode())
}

// wecomSignIn signs in through WeCom with code, from a desktop browser.
func (v *visitor) wecomSignIn(code string) answer {
	v.t.Helper()
	u, _ := v.wecomStart(desktopUA, "")
	return v.wecomBack(code, u.Query().Get("state"))
}

var refreshRe = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)

func TestWeComSignInInsideWeCom(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))
	v := s.visitor(t)

	u, a := v.wecomStart(wecomUA, "/console/me?tab=today")
	// 构造网页授权链接, in the documented order, agentid included, #wechat_redirect last.
	assert.Regexp(t, `^https://open\.weixin\.qq\.com/connect/oauth2/authorize\?appid=ww0123456789abcdef&redirect_uri=https%3A%2F%2Fgd\.example\.com%2Fconsole%2Fwecom%2Fcallback&response_type=code&scope=snsapi_base&state=[0-9a-f]{64}&agentid=1000002#wechat_redirect$`, a.loc)
	assert.Equal(t, "wechat_redirect", u.Fragment)
	state := u.Query().Get("state")

	c := a.cookie("gd_wecom_state")
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite, "WeCom's redirect back is cross-site: Lax, or the cookie would not come back")
	assert.Equal(t, "/console/wecom/", c.Path)
	assert.Equal(t, 600, c.MaxAge)
	assert.NotContains(t, c.Value, "/console/me", "next is kept encoded")
	assert.Nil(t, a.cookie("gd_console"), "nobody is signed in yet")

	a = v.wecomBack("code-li", state)
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := refreshRe.FindStringSubmatch(a.body)
	require.NotNil(t, m, a.body)
	assert.Equal(t, "/console/me?tab=today", m[1], "on to where they were going, by the page's own navigation")
	assert.Contains(t, a.body, `href="/console/me?tab=today"`, "and a link for a browser that does not refresh")
	session := a.cookie("gd_console")
	require.NotNil(t, session)
	assert.Equal(t, http.SameSiteStrictMode, session.SameSite)
	assert.True(t, session.HttpOnly)
	gone := a.cookie("gd_wecom_state")
	require.NotNil(t, gone, "the state is used up")
	assert.Negative(t, gone.MaxAge)

	assert.Equal(t, "/console/me", v.home(), "an engineer, on the phone view")
	sum := sha256.Sum256([]byte(v.session()))
	sess, err := s.Store.SessionByHash(context.Background(), sum[:])
	require.NoError(t, err)
	assert.Equal(t, ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}, sess.Actor)
	assert.Equal(t, "李工", sess.Name)
	assert.Equal(t, "wecom:LiGong", sess.Via)

	a = v.wecomBack("code-li", state)
	assert.Equal(t, http.StatusBadRequest, a.status, "the same answer twice signs nobody in again")
}

func TestWeComSignInByQRCodeElsewhere(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))
	for _, ua := range []string{desktopUA, wechatUA, ""} {
		v := s.visitor(t)
		u, a := v.wecomStart(ua, "")
		// 企业微信Web登录: login_type CorpApp for a self-built app; no fragment.
		assert.Regexp(t, `^https://login\.work\.weixin\.qq\.com/wwlogin/sso/login\?login_type=CorpApp&appid=ww0123456789abcdef&agentid=1000002&redirect_uri=https%3A%2F%2Fgd\.example\.com%2Fconsole%2Fwecom%2Fcallback&state=[0-9a-f]{64}$`, a.loc, "%q", ua)
		assert.Empty(t, u.Fragment)

		a = v.wecomBack("code-chen-old", u.Query().Get("state"))
		require.Equal(t, http.StatusOK, a.status, a.body)
		assert.Equal(t, "/console/", refreshRe.FindStringSubmatch(a.body)[1])
		assert.Equal(t, "/console/queue", v.home(), "UserId of older answers read as the userid: a dispatcher")
	}
}

func TestWeComCallbackAddress(t *testing.T) {
	f := newFakeWeCom(t)
	for _, tc := range []struct {
		public string
		secure bool
		want   func(s *site) string
	}{
		{"https://gd.example.com/", false, func(*site) string { return "https://gd.example.com/console/wecom/callback" }},
		{"", false, func(s *site) string { return s.srv.URL + "/console/wecom/callback" }},
		{"", true, func(s *site) string {
			return strings.Replace(s.srv.URL, "http://", "https://", 1) + "/console/wecom/callback"
		}},
	} {
		s := newSite(t, withWeCom(f, weComUsers(), nil), func(co *console.Options, _ *engine.Options) {
			co.PublicURL, co.Secure = tc.public, tc.secure
		})
		u, a := s.visitor(t).wecomStart(desktopUA, "")
		assert.Equal(t, tc.want(s), u.Query().Get("redirect_uri"))
		assert.Equal(t, tc.secure, a.cookie("gd_wecom_state").Secure)
	}
	s := newSite(t, withWeCom(f, weComUsers(), nil), func(co *console.Options, _ *engine.Options) { co.PublicURL = "" })
	v := s.overTLS(t)
	u, a := v.wecomStart(desktopUA, "")
	assert.Equal(t, v.base+"/console/wecom/callback", u.Query().Get("redirect_uri"), "https: the request came over TLS")
	assert.True(t, strings.HasPrefix(v.base, "https://"))
	assert.True(t, a.cookie("gd_wecom_state").Secure)
	a = v.wecomBack("code-li", u.Query().Get("state"))
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.True(t, a.cookie("gd_console").Secure)
	assert.Equal(t, "/console/me", v.home())
}

func TestWeComStateMustMatch(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))

	t.Run("another state", func(t *testing.T) {
		v := s.visitor(t)
		u, _ := v.wecomStart(desktopUA, "")
		state := u.Query().Get("state")
		wrong := strings.Repeat("0", 64)
		a := v.wecomBack("code-li", wrong)
		assert.Equal(t, http.StatusBadRequest, a.status)
		assert.Contains(t, a.body, "登录已失效")
		assert.Nil(t, a.cookie("gd_console"))
		v.signedOut()
		a = v.wecomBack("code-li", state)
		assert.Equal(t, http.StatusBadRequest, a.status, "a refused answer used the state up")
		v.signedOut()
	})
	t.Run("another browser's state", func(t *testing.T) {
		attacker, victim := s.visitor(t), s.visitor(t)
		u, _ := attacker.wecomStart(desktopUA, "")
		victim.wecomStart(desktopUA, "")
		a := victim.wecomBack("code-li", u.Query().Get("state"))
		assert.Equal(t, http.StatusBadRequest, a.status, "a code for the attacker's sign-in does not sign the victim in")
		victim.signedOut()
	})
	t.Run("no state cookie", func(t *testing.T) {
		before, _ := f.calls()
		v := s.visitor(t)
		u, _ := s.visitor(t).wecomStart(desktopUA, "") // someone else started it
		a := v.wecomBack("code-li", u.Query().Get("state"))
		assert.Equal(t, http.StatusBadRequest, a.status)
		assert.Nil(t, a.cookie("gd_console"))
		a = v.wecomBack("code-li", "")
		assert.Equal(t, http.StatusBadRequest, a.status)
		after, _ := f.calls()
		assert.Equal(t, before, after, "the code was never taken to WeCom")
		v.signedOut()
	})
	t.Run("a state cookie someone made", func(t *testing.T) {
		v := s.visitor(t)
		u, _ := url.Parse(s.srv.URL + "/console/wecom/")
		for _, forged := range []string{"x", strings.Repeat("a", 64), strings.Repeat("a", 64) + ".!!", "." + strings.Repeat("a", 64)} {
			v.jar.SetCookies(u, []*http.Cookie{{Name: "gd_wecom_state", Value: forged, Path: "/console/wecom/"}})
			state, _, _ := strings.Cut(forged, ".")
			assert.Equal(t, http.StatusBadRequest, v.wecomBack("code-li", state).status, "%q", forged)
		}
		v.signedOut()
	})
	t.Run("declined", func(t *testing.T) {
		v := s.visitor(t)
		u, _ := v.wecomStart(desktopUA, "")
		a := v.get("/console/wecom/callback?state=" + u.Query().Get("state"))
		assert.Equal(t, http.StatusUnauthorized, a.status, "WeCom comes back with the state alone")
		assert.Contains(t, a.body, "未完成企业微信授权")
		v.signedOut()
	})
}

func TestWeComUserNotInTheConfig(t *testing.T) {
	f := newFakeWeCom(t)
	var log logBuffer
	s := newSite(t, withWeCom(f, weComUsers(), &log))
	v := s.visitor(t)
	a := v.wecomSignIn("code-unlisted")
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Contains(t, a.body, "此企业微信账号未开通控制台")
	assert.Nil(t, a.cookie("gd_console"))
	v.signedOut()
	assert.Contains(t, log.String(), "userid=ZhangSan", "an admin can see who tried")
	assertNoSecrets(t, a.body+log.String())
}

func TestWeComNonMemberRefused(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))
	for _, code := range []string{"code-stranger", "code-old-open"} {
		v := s.visitor(t)
		a := v.wecomSignIn(code)
		assert.Equal(t, http.StatusForbidden, a.status, code)
		assert.Contains(t, a.body, "非本企业成员不能登录")
		assert.Nil(t, a.cookie("gd_console"))
		v.signedOut()
	}
}

func TestWeComErrorsAreRefusedWithoutSecrets(t *testing.T) {
	f := newFakeWeCom(t)
	var log logBuffer
	s := newSite(t, withWeCom(f, weComUsers(), &log))

	v := s.visitor(t)
	a := v.wecomSignIn("code-nobody-knows")
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Contains(t, a.body, "企业微信登录失败")
	assert.Contains(t, a.body, "errcode 40029", "the code an admin can look up")
	assert.Nil(t, a.cookie("gd_console"))
	v.signedOut()
	assert.Contains(t, log.String(), "errcode=40029")

	wrongSecret := newSite(t, withWeCom(f, weComUsers(), &log), func(co *console.Options, _ *engine.Options) {
		co.WeCom.Secret = "a-wrong-secret-never-shown"
	})
	a = wrongSecret.visitor(t).wecomSignIn("code-li")
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Contains(t, a.body, "errcode 40001")
	assert.NotContains(t, a.body+log.String(), "a-wrong-secret")

	unreachable := newSite(t, withWeCom(f, weComUsers(), &log), func(co *console.Options, _ *engine.Options) {
		co.WeCom.APIBase = "http://127.0.0.1:1"
	})
	a = unreachable.visitor(t).wecomSignIn("code-li")
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Contains(t, a.body, "企业微信登录失败")
	assertNoSecrets(t, a.body+log.String())
}

func TestWeComAccessTokenCachedAndRefreshedOnce(t *testing.T) {
	f := newFakeWeCom(t)
	var log logBuffer
	s := newSite(t, withWeCom(f, weComUsers(), &log))
	signIn := func() answer {
		v := s.visitor(t)
		return v.wecomSignIn("code-li")
	}

	for range 3 {
		require.Equal(t, http.StatusOK, signIn().status)
	}
	tokens, _ := f.calls()
	assert.Equal(t, 1, tokens, "one access token for every sign-in while it lasts")

	s.clock.Advance(2*time.Hour - 5*time.Minute - time.Second)
	require.Equal(t, http.StatusOK, signIn().status)
	tokens, _ = f.calls()
	assert.Equal(t, 1, tokens, "still good")
	s.clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, signIn().status)
	tokens, _ = f.calls()
	assert.Equal(t, 2, tokens, "fetched again shortly before WeCom's expires_in")

	f.expire()
	_, usersBefore := f.calls()
	require.Equal(t, http.StatusOK, signIn().status, "a token WeCom refuses is fetched again, and the code tried with it")
	tokens, users := f.calls()
	assert.Equal(t, 3, tokens)
	assert.Equal(t, usersBefore+2, users)

	f.refuse(true)
	a := signIn()
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Contains(t, a.body, "errcode 42001")
	tokens, _ = f.calls()
	assert.Equal(t, 4, tokens, "refreshed once, not for ever")
	assertNoSecrets(t, a.body+log.String())
}

func TestWeComUserTakenOutOfTheConfigIsSignedOut(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))
	li, chen := s.visitor(t), s.visitor(t)
	require.Equal(t, http.StatusOK, li.wecomSignIn("code-li").status)
	require.Equal(t, http.StatusOK, chen.wecomSignIn("code-chen-old").status)

	users := weComUsers()
	delete(users, "LiGong")
	restarted := s.reopen(t, tokenList(), withWeCom(f, users, nil))
	li.on(restarted).signedOut()
	assert.Equal(t, "/console/queue", chen.on(restarted).home())

	users["ChenDiaodu"] = ticket.Actor{ID: "disp-chen", Role: ticket.RoleAgent}
	chen.on(s.reopen(t, tokenList(), withWeCom(f, users, nil))).signedOut()
	li.on(s.reopen(t, tokenList())).signedOut()
}

func TestWithoutWeCom(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	assert.Equal(t, http.StatusNotFound, v.get("/console/wecom/start").status)
	assert.Equal(t, http.StatusNotFound, v.get("/console/wecom/callback?code=x&state=y").status)
	assert.NotContains(t, v.get("/console/signin").body, "/console/wecom/start")

	f := newFakeWeCom(t)
	w := newSite(t, withWeCom(f, weComUsers(), nil))
	page := w.visitor(t).get("/console/signin?next=" + url.QueryEscape("/console/queue?state=new&team=suzhou-a"))
	assert.Contains(t, page.body, `href="/console/wecom/start?next=%2fconsole%2fqueue%3fstate%3dnew%26team%3dsuzhou-a"`)
	assert.Contains(t, page.body, "企业微信登录")
}

func TestWeComNextStaysInTheConsole(t *testing.T) {
	f := newFakeWeCom(t)
	s := newSite(t, withWeCom(f, weComUsers(), nil))
	for _, next := range []string{"//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)", `/console/"><script>alert(1)</script>`} {
		v := s.visitor(t)
		u, _ := v.wecomStart(wecomUA, next)
		a := v.wecomBack("code-li", u.Query().Get("state"))
		require.Equal(t, http.StatusOK, a.status)
		m := refreshRe.FindStringSubmatch(a.body)
		require.NotNil(t, m, a.body)
		assert.True(t, strings.HasPrefix(m[1], "/console/"), "%q → %q", next, m[1])
		assert.NotContains(t, a.body, "<script>alert(1)")
		assert.NotContains(t, a.body, "evil.com")
	}
}

// tokenList is every person's API token.
func tokenList() []api.Token {
	var out []api.Token
	for _, tk := range people {
		out = append(out, tk)
	}
	return out
}

// assertNoSecrets checks that nothing shown or logged holds the Secret or an access token.
func assertNoSecrets(t *testing.T, text string) {
	t.Helper()
	assert.NotContains(t, text, corpSecret)
	assert.NotContains(t, text, tokenPrefix)
	assert.NotContains(t, text, "corpsecret=")
	assert.NotContains(t, text, "access_token=")
	assert.NotContains(t, text, "code-", "nor the one-time code")
}
