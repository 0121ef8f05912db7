package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// TestCustomerLearnsNothingOfOthersTickets (issue 17): a customer probing another customer's
// ticket, through every action and every read about one ticket, gets byte for byte the answer
// a ticket that does not exist gets (status, type, body; the ticket id aside), whatever the
// ticket's state, version or frozen flag and whatever the body sends. Before, the action
// endpoint checked role, then state, then ownership: 409 "cannot confirm a ticket in state
// assigned", 409 "is at version 2" and 423 "frozen" told a stranger what 404 hid.
func TestCustomerLearnsNothingOfOthersTickets(t *testing.T) {
	c := newServer(t)
	create := func(customer string) string {
		t.Helper()
		r := c.do("POST", "/api/v1/tickets", "tok-agent", strings.Replace(draftJSON, `"id":"cust-wang"`, `"id":"`+customer+`"`, 1))
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		return r.json(t)["id"].(string)
	}
	must := func(id, action, token, body string) {
		t.Helper()
		r := c.act(id, action, token, body)
		require.Equal(t, http.StatusOK, r.status, "%s %s: %s", action, id, r.body)
	}
	assign := `{"data":{"assignee":"eng-li"}}`
	foreign := map[string]string{"new": create("cust-zhang")}
	foreign["assigned"] = create("cust-zhang")
	must(foreign["assigned"], "assign", "tok-disp", assign)
	foreign["frozen"] = create("cust-zhang")
	for range ticket.RollbackLimit {
		must(foreign["frozen"], "assign", "tok-disp", assign)
		must(foreign["frozen"], "decline", "tok-eng", `{"data":{"reason_code":"too_far"}}`)
	}
	require.Equal(t, true, c.do("GET", "/api/v1/tickets/"+foreign["frozen"], "tok-admin", "").json(t)["frozen"], "the test meant it frozen")
	foreign["resolved"] = create("cust-zhang")
	must(foreign["resolved"], "assign", "tok-disp", assign)
	must(foreign["resolved"], "accept", "tok-eng", "")
	must(foreign["resolved"], "start", "tok-eng", "")
	must(foreign["resolved"], "resolve", "tok-eng", `{"data":{"root_cause":"按钮触点氧化"}}`)
	const missing = "GD-20990101-000001" // as long as a real id, so bodies line up

	// answer is what the probe sees: status, content type and body, with the probed id as {id}
	// (the request id is the same for both: the client sends it).
	answer := func(method, id, suffix, body string) string {
		t.Helper()
		r := c.do(method, "/api/v1/tickets/"+id+suffix, "tok-cust", body, "X-Request-ID", "probe")
		return r.header.Get("Content-Type") + " " + http.StatusText(r.status) + " " + strings.ReplaceAll(string(r.body), id, "{id}")
	}
	type probe struct{ method, suffix, body string }
	var probes []probe
	for _, suffix := range []string{"", "/events", "/routing", "/sla"} {
		probes = append(probes, probe{"GET", suffix, ""})
	}
	actions := append([]string{"no-such-action"}, func() (names []string) {
		for _, a := range ticket.Actions {
			names = append(names, string(a))
		}
		return names
	}()...)
	for _, action := range actions {
		for _, body := range []string{``, `{}`, `{"expected_version":1}`, `{"expected_version":99}`, `{"command_id":"probe-1"}`,
			`{"reason":"看看","data":{"solved":true,"timeliness":5,"professionalism":5}}`, `{"no_such_field":1}`} {
			probes = append(probes, probe{"POST", "/actions/" + action, body})
		}
	}
	for _, p := range probes {
		want := answer(p.method, missing, p.suffix, p.body)
		for state, id := range foreign {
			assert.Equal(t, want, answer(p.method, id, p.suffix, p.body), "%s %s %s on a foreign %s ticket", p.method, p.suffix, p.body, state)
		}
	}

	// The same probes told the truth about the customer's own ticket, so the comparison above
	// compared something.
	own := create("cust-wang")
	r := c.act(own, "confirm", "tok-cust", `{"data":{"solved":true,"timeliness":5,"professionalism":5}}`)
	requireProblem(t, r, http.StatusConflict, "illegal-transition")
	r = c.do("GET", "/api/v1/tickets/"+own, "tok-cust", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	// Nothing was written to the foreign tickets.
	for state, id := range foreign {
		evs := c.do("GET", "/api/v1/tickets/"+id+"/events", "tok-admin", "").json(t)["events"].([]any)
		last := evs[len(evs)-1].(map[string]any)
		assert.NotEqual(t, "cust-wang", last["actor"].(map[string]any)["id"], "%s: a probe wrote an event", state)
	}
}

// TestCommandIDsPerCallerAndAfterRole (issue 17): an engineer's command id does not block a
// dispatcher's same id; and an engineer resending their id with an action their role may never
// do is refused for the role (403), not told the id was used (422), which looked the id up
// before asking who sends it.
func TestCommandIDsPerCallerAndAfterRole(t *testing.T) {
	c := newServer(t)
	a := c.create()["id"].(string)
	b := c.create()["id"].(string)
	require.Equal(t, http.StatusOK, c.act(a, "assign", "tok-disp", `{"data":{"assignee":"eng-li"}}`).status)
	accepted := c.act(a, "accept", "tok-eng", `{"command_id":"as-1"}`)
	require.Equal(t, http.StatusOK, accepted.status, string(accepted.body))

	r := c.act(b, "assign", "tok-disp", `{"data":{"assignee":"eng-li"},"command_id":"as-1"}`)
	require.Equal(t, http.StatusOK, r.status, "the dispatcher's as-1 after the engineer's: %s", r.body)
	assert.Equal(t, "assigned", r.json(t)["state"])

	p := requireProblem(t, c.act(a, "assign", "tok-eng", `{"data":{"assignee":"eng-li"},"command_id":"as-1"}`), http.StatusForbidden, "forbidden")
	assert.Contains(t, p["detail"], "role engineer may not assign")

	again := c.act(a, "accept", "tok-eng", `{"command_id":"as-1"}`)
	require.Equal(t, http.StatusOK, again.status, string(again.body))
	assert.JSONEq(t, string(accepted.body), string(again.body), "the engineer's replay answers the first result")
}

// TestSearchWithNULIsABadRequest (issue 17): a NUL byte in q made SQLite's full-text query
// fail (500); it, and invalid UTF-8 in any query parameter, is a 400 naming the parameter.
func TestSearchWithNULIsABadRequest(t *testing.T) {
	c := newServer(t)
	c.create()
	for _, tc := range []struct{ query, field string }{
		{"q=ab%00c", "q"},
		{"q=%00", "q"},
		{"q=%00%00%00%00", "q"},
		{"q=%ff%fe%fd", "q"},
		{"state=new&assignee=eng%00li", "assignee"},
		{"team=%E6%80", "team"},
		{"q=%E6%80%A5%E5%81%9C&x%00=1", "x\x00"},
	} {
		p := requireProblem(t, c.do("GET", "/api/v1/tickets?"+tc.query, "tok-admin", ""), http.StatusBadRequest, "bad-request")
		assert.Equal(t, tc.field, p["field"], tc.query)
	}
	p := requireProblem(t, c.do("GET", "/api/v1/tickets?q="+strings.Repeat("急", 201), "tok-admin", ""), http.StatusBadRequest, "bad-request")
	assert.Equal(t, "q", p["field"])
	r := c.do("GET", "/api/v1/tickets?q=%E6%80%A5%E5%81%9C", "tok-admin", "") // 急停
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Len(t, r.json(t)["tickets"], 1)
}

// TestDraftListsAreCapped (issue 17): a draft with 100,000 tags (accepted before) is a 422
// naming tags, and so is one beyond any other list's limit; nothing is created.
func TestDraftListsAreCapped(t *testing.T) {
	c := newServerOpts(t, nil, func(o *api.Options) { o.MaxBodyBytes = 8 << 20 })
	tags := make([]string, 100_000)
	for i := range tags {
		tags[i] = fmt.Sprint("t", i)
	}
	for _, tc := range []struct {
		field string
		value any
	}{
		{"tags", tags},
		{"evidence", make([]draft.Evidence, draft.MaxEvidence+1)},
		{"attachments", make([]draft.Attachment, draft.MaxAttachments+1)},
	} {
		body, err := json.Marshal(map[string]any{"title": "3号线急停按钮失灵", tc.field: tc.value})
		require.NoError(t, err)
		p := requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", string(body)), http.StatusUnprocessableEntity, "invalid-data")
		assert.Equal(t, tc.field, p["field"])
		assert.Contains(t, p["detail"], "at most")
	}
	r := c.do("GET", "/api/v1/tickets", "tok-admin", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.json(t)["tickets"])
}

// direct serves one request straight to the handler, as if from the TCP peer remote
// ("203.0.113.9:41000"); headers are name, value pairs.
func direct(c *client, remote, method, path, token string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	c.api.ServeHTTP(w, req)
	return w
}

// TestDemoTokensAreRefusedThroughAProxy (issue 17): the demo-token check trusted the TCP peer,
// so a reverse proxy on the same host (its peer address 127.0.0.1) made the quickstart's
// well-known demo tokens work from anywhere. A demo token is now honoured only from a
// loopback peer with no forwarding header, and never when the peer is a trusted proxy, whatever
// the proxy says the client was.
func TestDemoTokensAreRefusedThroughAProxy(t *testing.T) {
	const path = "/api/v1/tickets"
	plain := newServer(t)
	behind := newServerOpts(t, nil, func(o *api.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	for _, tc := range []struct {
		name    string
		c       *client
		remote  string
		token   string
		headers []string
		want    int
	}{
		{"demo token on this host", plain, "127.0.0.1:41000", "demo-admin", nil, http.StatusOK},
		{"demo token on this host over IPv6", plain, "[::1]:41000", "demo-admin", nil, http.StatusOK},
		{"through a proxy on this host", plain, "127.0.0.1:41000", "demo-admin", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusUnauthorized},
		{"through a proxy claiming loopback", plain, "127.0.0.1:41000", "demo-admin", []string{"X-Forwarded-For", "127.0.0.1"}, http.StatusUnauthorized},
		{"X-Real-IP", plain, "127.0.0.1:41000", "demo-admin", []string{"X-Real-IP", "127.0.0.1"}, http.StatusUnauthorized},
		{"Forwarded", plain, "127.0.0.1:41000", "demo-admin", []string{"Forwarded", "for=127.0.0.1"}, http.StatusUnauthorized},
		{"X-Forwarded-Proto only", plain, "127.0.0.1:41000", "demo-admin", []string{"X-Forwarded-Proto", "https"}, http.StatusUnauthorized},
		{"Via", plain, "127.0.0.1:41000", "demo-admin", []string{"Via", "1.1 nginx"}, http.StatusUnauthorized},
		{"from another host", plain, "203.0.113.9:41000", "demo-admin", nil, http.StatusUnauthorized},
		{"from a trusted proxy with a loopback client", behind, "127.0.0.1:41000", "demo-admin", []string{"X-Forwarded-For", "127.0.0.1"}, http.StatusUnauthorized},
		{"from a trusted proxy, no header", behind, "127.0.0.1:41000", "demo-admin", nil, http.StatusUnauthorized},
		{"a real token through a trusted proxy", behind, "10.0.0.2:41000", "tok-admin", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusOK},
		{"a real token through any proxy", plain, "127.0.0.1:41000", "tok-admin", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusOK},
	} {
		w := direct(tc.c, tc.remote, "GET", path, tc.token, tc.headers...)
		require.Equal(t, tc.want, w.Code, "%s: %s", tc.name, w.Body)
		if tc.want == http.StatusUnauthorized {
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), tc.name)
			assert.Contains(t, w.Body.String(), "never through a proxy", tc.name)
		}
	}
}

// TestClientAddressForLogs: behind trusted proxies the logged client is the right-most
// forwarded address that is not one of them; a forwarding header from anyone else is not
// believed.
func TestClientAddressForLogs(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	c := newServerOpts(t, nil, func(o *api.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	for _, tc := range []struct {
		remote, xff, realIP, want string
	}{
		{"10.0.0.2:1", "198.51.100.7, 203.0.113.5, 10.0.0.1", "", "203.0.113.5"}, // the client wrote 198.51.100.7
		{"10.0.0.2:1", "", "203.0.113.6", "203.0.113.6"},
		{"10.0.0.2:1", "10.0.0.9", "", "10.0.0.9"}, // only proxies: the left-most
		{"10.0.0.2:1", "not-an-address", "", "unknown"},
		{"10.0.0.2:1", "[2001:db8::1]:443", "", "2001:db8::1"},
		{"203.0.113.9:1", "127.0.0.1", "", "203.0.113.9"}, // not a proxy of ours: its say-so
		{"[::ffff:203.0.113.8]:1", "", "", "203.0.113.8"},
	} {
		mu.Lock()
		logs.Reset()
		mu.Unlock()
		headers := []string{"X-Request-ID", "log-probe"}
		if tc.xff != "" {
			headers = append(headers, "X-Forwarded-For", tc.xff)
		}
		if tc.realIP != "" {
			headers = append(headers, "X-Real-IP", tc.realIP)
		}
		direct(c, tc.remote, "GET", "/healthz", "", headers...)
		mu.Lock()
		assert.Contains(t, logs.String(), "client="+tc.want, "%+v", tc)
		mu.Unlock()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestMetricsNeedATokenBeyondThisHost (issue 17): /metrics answered anyone. Without a
// metrics token it now answers only this host, directly; with one, only that token or an
// admin token, from anywhere.
func TestMetricsNeedATokenBeyondThisHost(t *testing.T) {
	open := newServer(t)
	const secret = "prom-0123456789abcdef"
	guarded := newServerOpts(t, nil, func(o *api.Options) { o.MetricsToken = secret })
	for _, tc := range []struct {
		name    string
		c       *client
		remote  string
		token   string
		headers []string
		want    int
	}{
		{"this host, no token", open, "127.0.0.1:41000", "", nil, http.StatusOK},
		{"another host, no token", open, "203.0.113.9:41000", "", nil, http.StatusUnauthorized},
		{"through a proxy on this host", open, "127.0.0.1:41000", "", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusUnauthorized},
		{"another host, an admin token", open, "203.0.113.9:41000", "tok-admin", nil, http.StatusOK},
		{"another host, an engineer's token", open, "203.0.113.9:41000", "tok-eng", nil, http.StatusForbidden},
		{"another host, a demo admin token", open, "203.0.113.9:41000", "demo-admin", nil, http.StatusUnauthorized},
		{"configured: this host, no token", guarded, "127.0.0.1:41000", "", nil, http.StatusUnauthorized},
		{"configured: the metrics token", guarded, "203.0.113.9:41000", secret, nil, http.StatusOK},
		{"configured: a wrong token", guarded, "203.0.113.9:41000", secret + "x", nil, http.StatusUnauthorized},
		{"configured: an admin token", guarded, "203.0.113.9:41000", "tok-admin", nil, http.StatusOK},
	} {
		w := direct(tc.c, tc.remote, "GET", "/metrics", tc.token, tc.headers...)
		require.Equal(t, tc.want, w.Code, "%s: %s", tc.name, w.Body)
		if tc.want == http.StatusOK {
			assert.Contains(t, w.Body.String(), "gongdan_", tc.name)
		} else {
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), tc.name)
			assert.NotContains(t, w.Body.String(), "gongdan_http", tc.name)
		}
	}
}
