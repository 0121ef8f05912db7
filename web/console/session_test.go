package console_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/web/console"
)

// The security of signing in and of sessions (issue 22, "Security"): each test is a browser
// that follows no redirect, so that every answer (its status, Location and Set-Cookie) is
// looked at. Where a signed-in person lands is checked by its address: the pages there are
// other tests' business.

// visitor is a browser that does not follow redirects.
type visitor struct {
	t    testing.TB
	s    *site
	base string
	jar  *cookiejar.Jar
	c    *http.Client
}

// answer is one response, read.
type answer struct {
	status  int
	loc     string
	body    string
	header  http.Header
	cookies []*http.Cookie
}

// cookie is the answer's Set-Cookie of name, or nil.
func (a answer) cookie(name string) *http.Cookie {
	for _, c := range a.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (s *site) visitor(t testing.TB) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, s: s, base: s.srv.URL, jar: jar, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// overTLS is a visitor of the same console served over TLS.
func (s *site) overTLS(t testing.TB) *visitor {
	srv := httptest.NewTLSServer(s.api)
	t.Cleanup(srv.Close)
	v := s.visitor(t)
	v.base, v.c.Transport = srv.URL, srv.Client().Transport
	return v
}

func (v *visitor) send(method, path string, body io.Reader, headers ...string) answer {
	v.t.Helper()
	req, err := http.NewRequest(method, v.base+path, body)
	require.NoError(v.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := v.c.Do(req)
	require.NoError(v.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(v.t, err)
	return answer{status: res.StatusCode, loc: res.Header.Get("Location"), body: string(b), header: res.Header, cookies: res.Cookies()}
}

func (v *visitor) get(path string, headers ...string) answer {
	v.t.Helper()
	return v.send(http.MethodGet, path, nil, headers...)
}

func (v *visitor) post(path string, form url.Values, headers ...string) answer {
	v.t.Helper()
	return v.send(http.MethodPost, path, strings.NewReader(form.Encode()), headers...)
}

// signIn posts token to the sign-in form.
func (v *visitor) signIn(token string, next ...string) answer {
	v.t.Helper()
	form := url.Values{"token": {token}}
	if len(next) > 0 {
		form.Set("next", next[0])
	}
	return v.post("/console/signin", form)
}

// session is the session cookie the browser holds ("" without one).
func (v *visitor) session() string {
	u, _ := url.Parse(v.base + "/console/")
	for _, c := range v.jar.Cookies(u) {
		if c.Name == "gd_console" {
			return c.Value
		}
	}
	return ""
}

// plant puts a session cookie of value in the browser, as another site or person could.
func (v *visitor) plant(value string) {
	u, _ := url.Parse(v.base + "/console/")
	v.jar.SetCookies(u, []*http.Cookie{{Name: "gd_console", Value: value, Path: "/console/"}})
}

// home is where the browser's session lands on /console/: a role's home, or the sign-in page
// ("/console/signin?…") without a session.
func (v *visitor) home() string {
	v.t.Helper()
	a := v.get("/console/")
	require.Equal(v.t, http.StatusSeeOther, a.status, a.body)
	return a.loc
}

// signedOut asserts the browser has no live session.
func (v *visitor) signedOut() {
	v.t.Helper()
	assert.True(v.t, strings.HasPrefix(v.home(), "/console/signin?"), "signed out")
}

// csrf is the CSRF token of the browser's session, as its pages carry it.
func (v *visitor) csrf() string {
	v.t.Helper()
	sum := sha256.Sum256([]byte(v.session()))
	sess, err := v.s.Store.SessionByHash(context.Background(), sum[:])
	require.NoError(v.t, err)
	return sess.CSRF
}

// homeOf is where role lands after signing in.
func homeOf(role ticket.Role) string {
	if role == ticket.RoleEngineer {
		return "/console/me"
	}
	return "/console/queue"
}

// reopen starts another console and API on the same engine and store (a restart with a
// changed config): tokens are its API tokens, edit changes its console's options.
func (s *site) reopen(t testing.TB, tokens []api.Token, edit ...siteOption) *site {
	t.Helper()
	co := console.Options{Now: s.clock.Now, Flush: 20 * time.Millisecond, Heartbeat: time.Second, Engine: s.Engine, Store: s.Store}
	var eo engine.Options
	for _, e := range edit {
		e(&co, &eo)
	}
	c, err := console.New(co)
	require.NoError(t, err)
	a, err := api.New(api.Options{Engine: s.Engine, Store: s.Store, Tokens: tokens, Edge: c.Routes()})
	require.NoError(t, err)
	c.UseAPI(a)
	n := &site{Fixture: s.Fixture, clock: s.clock, api: a, console: c, srv: httptest.NewServer(a)}
	t.Cleanup(func() { c.Close(); a.CloseStreams(); n.srv.Close() })
	return n
}

// on is v's cookies carried to another server (the same browser, after a restart).
func (v *visitor) on(n *site) *visitor {
	w := n.visitor(v.t)
	if c := v.session(); c != "" {
		w.plant(c)
	}
	return w
}

func TestEachConsoleRoleSignsInToItsHome(t *testing.T) {
	s := newSite(t)
	for _, role := range consoleRoles {
		t.Run(string(role), func(t *testing.T) {
			v := s.visitor(t)
			a := v.signIn(people[role].Token)
			require.Equal(t, http.StatusSeeOther, a.status, a.body)
			assert.Equal(t, "/console/", a.loc)
			require.NotEmpty(t, v.session())
			assert.Equal(t, homeOf(role), v.home())

			a = v.signIn(people[role].Token, "/console/tickets/GD-20261124-000001?tab=events")
			assert.Equal(t, "/console/tickets/GD-20261124-000001?tab=events", a.loc, "back where they were sent to sign in")
		})
	}
}

func TestCustomersAndSystemsCannotSignIn(t *testing.T) {
	s := newSite(t)
	for _, role := range []ticket.Role{ticket.RoleCustomer, ticket.RoleSystem} {
		t.Run(string(role), func(t *testing.T) {
			v := s.visitor(t)
			a := v.signIn(people[role].Token)
			assert.Equal(t, http.StatusForbidden, a.status)
			assert.Nil(t, a.cookie("gd_console"), "no session cookie")
			assert.Contains(t, a.body, "该令牌的角色不能使用控制台")
			v.signedOut()
		})
	}
}

func TestAWrongTokenIsRefused(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	for _, tok := range []string{"", "tok-nobody", "tok-admi", "tok-ad min", " "} {
		a := v.signIn(tok)
		assert.Equal(t, http.StatusUnauthorized, a.status, "%q", tok)
		assert.Nil(t, a.cookie("gd_console"), "%q: no session cookie", tok)
		assert.Contains(t, a.body, "令牌无效")
		assert.Contains(t, a.body, `id="token"`, "the form again")
	}
	v.signedOut()
}

func TestTheSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := newSite(t, func(co *console.Options, _ *engine.Options) { co.Secure = secure })
		a := s.visitor(t).signIn("tok-disp")
		require.Equal(t, http.StatusSeeOther, a.status)
		c := a.cookie("gd_console")
		require.NotNil(t, c)
		assert.True(t, c.HttpOnly, "no script reads it")
		assert.Equal(t, http.SameSiteStrictMode, c.SameSite, "no other site's request carries it")
		assert.Equal(t, "/console/", c.Path)
		assert.Equal(t, secure, c.Secure, "Secure behind TLS")
		assert.Len(t, c.Value, 43, "256 random bits")
		assert.Equal(t, int((7 * 24 * time.Hour).Seconds()), c.MaxAge)

		sum := sha256.Sum256([]byte(c.Value))
		sess, err := s.Store.SessionByHash(context.Background(), sum[:])
		require.NoError(t, err)
		assert.NotContains(t, string(sess.Hash), c.Value, "the store keeps the cookie's hash, not the cookie")
		assert.Equal(t, people[ticket.RoleDispatcher].Actor, sess.Actor)
		assert.True(t, strings.HasPrefix(sess.Via, "token:"))
		assert.NotContains(t, sess.Via, "tok-disp", "nor the token")
	}
	a := newSite(t).overTLS(t).signIn("tok-disp")
	require.Equal(t, http.StatusSeeOther, a.status)
	assert.True(t, a.cookie("gd_console").Secure, "Secure on a request that came over TLS")
}

func TestSessionFixation(t *testing.T) {
	s := newSite(t)
	t.Run("a value planted before", func(t *testing.T) {
		v := s.visitor(t)
		planted := strings.Repeat("A", 43)
		v.plant(planted)
		v.signedOut()
		require.Equal(t, http.StatusSeeOther, v.signIn("tok-sup").status)
		assert.NotEqual(t, planted, v.session(), "a new cookie")
		assert.Equal(t, "/console/queue", v.home())

		other := s.visitor(t)
		other.plant(planted)
		other.signedOut()
	})
	t.Run("someone's real session planted before", func(t *testing.T) {
		attacker := s.visitor(t)
		require.Equal(t, http.StatusSeeOther, attacker.signIn("tok-qa").status)
		planted := attacker.session()

		victim := s.visitor(t)
		victim.plant(planted)
		require.Equal(t, http.StatusSeeOther, victim.signIn("tok-admin").status)
		assert.NotEqual(t, planted, victim.session(), "the victim's session is their own")
		assert.Equal(t, "/console/queue", victim.home())

		attacker.signedOut() // the planted session ended: it cannot follow the victim in
		again := s.visitor(t)
		again.plant(victim.session())
		assert.Equal(t, "/console/queue", again.home(), "(the victim's cookie is what signs them in)")
	})
}

func TestIdleExpiry(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	require.Equal(t, http.StatusSeeOther, v.signIn("tok-disp").status)
	for range 3 {
		s.clock.Advance(7 * time.Hour) // used within 8h each time: 21h in all
		assert.Equal(t, "/console/queue", v.home())
	}
	s.clock.Advance(8*time.Hour + time.Second)
	v.signedOut()

	cookie := v.session()
	sum := sha256.Sum256([]byte(cookie))
	_, err := s.Store.SessionByHash(context.Background(), sum[:])
	assert.Error(t, err, "the store no longer keeps it")
}

func TestAbsoluteExpiry(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	require.Equal(t, http.StatusSeeOther, v.signIn("tok-eng").status)
	for elapsed := time.Duration(0); elapsed+7*time.Hour <= 7*24*time.Hour; elapsed += 7 * time.Hour {
		s.clock.Advance(7 * time.Hour)
		require.Equal(t, "/console/me", v.home(), "used every 7 hours, %v in", elapsed+7*time.Hour)
	}
	s.clock.Advance(7 * time.Hour) // past 7 days since the sign-in, though used 7 hours ago
	v.signedOut()
}

func TestSignOutEndsTheSessionOnTheServer(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	require.Equal(t, http.StatusSeeOther, v.signIn("tok-agent").status)
	cookie, csrf := v.session(), v.csrf()

	a := v.post("/console/signout", url.Values{"csrf": {csrf}})
	assert.Equal(t, http.StatusSeeOther, a.status)
	assert.Equal(t, "/console/signin", a.loc)
	c := a.cookie("gd_console")
	require.NotNil(t, c, "the cookie is cleared")
	assert.Empty(t, c.Value)
	assert.Negative(t, c.MaxAge)
	v.signedOut()

	replay := s.visitor(t)
	replay.plant(cookie)
	replay.signedOut()
	a = replay.post("/console/signout", url.Values{"csrf": {csrf}})
	assert.Equal(t, http.StatusUnauthorized, a.status, "the old cookie signs nobody in")
}

func TestCSRF(t *testing.T) {
	s := newSite(t)
	v := s.visitor(t)
	require.Equal(t, http.StatusSeeOther, v.signIn("tok-sup").status)
	csrf := v.csrf()
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{}, nil},
		{"a wrong token", url.Values{"csrf": {csrf[:len(csrf)-1] + "x"}}, nil},
		{"another session's token", url.Values{"csrf": {func() string {
			o := s.visitor(t)
			o.signIn("tok-sup")
			return o.csrf()
		}()}}, nil},
		{"a wrong header", url.Values{}, []string{"X-CSRF-Token", "nope", "HX-Request", "true"}},
		{"a foreign origin", url.Values{"csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
		{"a foreign origin on the same host name", url.Values{"csrf": {csrf}}, []string{"Origin", "http://127.0.0.1:1"}},
		{"a cross-site fetch", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"a same-site (other subdomain) fetch", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "same-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := v.post("/console/signout", tc.form, tc.headers...)
			assert.Equal(t, http.StatusForbidden, a.status)
			assert.Contains(t, a.body, "请求被拒绝")
			assert.Nil(t, a.cookie("gd_console"), "the cookie is not cleared")
			assert.Equal(t, "/console/queue", v.home(), "nothing done: still signed in")
		})
	}
	a := v.post("/console/signout", url.Values{}, "X-CSRF-Token", csrf, "Origin", v.base, "Sec-Fetch-Site", "same-origin")
	assert.Equal(t, http.StatusSeeOther, a.status, "the right token in the header (htmx), from this origin")
	v.signedOut()
}

func TestSignInFromAnotherSiteIsRefused(t *testing.T) {
	s := newSite(t)
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}} {
		v := s.visitor(t)
		a := v.post("/console/signin", url.Values{"token": {"tok-admin"}}, h...)
		assert.Equal(t, http.StatusForbidden, a.status, "%v: login CSRF", h)
		assert.Nil(t, a.cookie("gd_console"))
	}
}

func TestATokenTakenOutOfTheConfigEndsItsSessions(t *testing.T) {
	s := newSite(t)
	disp, sup := s.visitor(t), s.visitor(t)
	require.Equal(t, http.StatusSeeOther, disp.signIn("tok-disp").status)
	require.Equal(t, http.StatusSeeOther, sup.signIn("tok-sup").status)

	var kept []api.Token
	for role, tk := range people {
		if role != ticket.RoleDispatcher {
			kept = append(kept, tk)
		}
	}
	restarted := s.reopen(t, kept)
	disp.on(restarted).signedOut()
	assert.Equal(t, "/console/queue", sup.on(restarted).home(), "the others' sessions go on")

	// The same token for another actor (or role) is another person: the session ends too.
	var moved []api.Token
	for _, tk := range kept {
		if tk.Token == "tok-sup" {
			tk.Actor = ticket.Actor{ID: "sup-li", Role: ticket.RoleSupervisor}
		}
		moved = append(moved, tk)
	}
	sup.on(s.reopen(t, moved)).signedOut()
}

func TestATrackingTokenCannotOpenTheConsole(t *testing.T) {
	key := make([]byte, 32)
	s := newSite(t, func(_ *console.Options, eo *engine.Options) {
		eo.Closure = &engine.ClosureOptions{Key: key, TTL: 24 * time.Hour}
	})
	tk := s.create(t, estop("急停按钮失灵"))
	token, err := s.Engine.TrackingToken(context.Background(), tk.ID)
	require.NoError(t, err)
	require.NotEmpty(t, token)

	v := s.visitor(t)
	a := v.signIn(token)
	assert.Equal(t, http.StatusUnauthorized, a.status, "not an API token")
	assert.Nil(t, a.cookie("gd_console"))
	a = v.signIn("tracking:" + tk.ID)
	assert.Equal(t, http.StatusUnauthorized, a.status)

	v.plant(token)
	v.signedOut()
	a = v.get("/console/", "Authorization", "Bearer "+token)
	assert.True(t, strings.HasPrefix(a.loc, "/console/signin?"), "the console takes no bearer token")
	a = v.get("/console/", "Authorization", "Bearer tok-admin")
	assert.True(t, strings.HasPrefix(a.loc, "/console/signin?"), "not even an admin's: only a session")
	a = v.get("/console/events", "Authorization", "Bearer tok-cust")
	assert.Equal(t, http.StatusUnauthorized, a.status)
}

func TestNoOpenRedirectAfterSignIn(t *testing.T) {
	s := newSite(t)
	for _, next := range []string{"//evil.com", "https://evil.com", "http://evil.com/console/", "/\\evil.com", "\\\\evil.com",
		"/\t/evil.com", "//evil.com/console/", "javascript:alert(1)", "/api/v1/tickets", "console/queue", "/consolex"} {
		t.Run(next, func(t *testing.T) {
			v := s.visitor(t)
			a := v.signIn("tok-disp", next)
			require.Equal(t, http.StatusSeeOther, a.status)
			assert.Equal(t, "/console/", a.loc)

			page := v.get("/console/signin?next=" + url.QueryEscape(next))
			assert.Equal(t, http.StatusSeeOther, page.status, "signed in: sent home")
			page = s.visitor(t).get("/console/signin?next=" + url.QueryEscape(next))
			assert.Contains(t, page.body, `name="next" value="/console/"`, "the form carries no foreign address")
		})
	}
}

func TestAWrongTokenSaysNothingAboutOthers(t *testing.T) {
	key := make([]byte, 32)
	s := newSite(t, func(_ *console.Options, eo *engine.Options) {
		eo.Closure = &engine.ClosureOptions{Key: key, TTL: 24 * time.Hour}
	})
	tk := s.create(t, estop("急停按钮失灵"))
	tracking, err := s.Engine.TrackingToken(context.Background(), tk.ID)
	require.NoError(t, err)
	adminSum := sha256.Sum256([]byte("tok-admin"))

	var first string
	for _, tok := range []string{
		"tok-nobody",                      // no such token
		"tok-admin-",                      // a real one and then some
		"tok-admi",                        // a real one's prefix
		"TOK-ADMIN",                       // another case
		string(adminSum[:]),               // a real one's hash
		tracking,                          // a customer's tracking link
		"Bearer tok-admin",                // a header pasted whole
		"admin-zhou",                      // a real actor id
		strings.Repeat("x", 4096),         // a long one
		"<script>alert(1)</script>",       // something to reflect
		"\"><img src=x onerror=alert(1)>", // ditto
	} {
		a := s.visitor(t).signIn(tok)
		assert.Equal(t, http.StatusUnauthorized, a.status, "%.20q", tok)
		assert.Nil(t, a.cookie("gd_console"))
		assert.NotContains(t, a.body, "<script>alert(1)")
		assert.NotContains(t, a.body, "<img src=x")
		if first == "" {
			first = a.body
			continue
		}
		assert.Equal(t, first, a.body, "%.20q: the same page as any wrong token", tok)
	}
}
