package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load generator's client sends the prepared bytes as they are, reuses a kept-alive
// connection, and drops one the server closes.
func TestBenchClientKeepsAliveAndRedials(t *testing.T) {
	var conns atomic.Int64
	var bodies []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Idempotency-Key")+" "+string(b))
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newBenchClient(host, 4)
	defer c.close()

	for _, target := range []string{"/a?x=1", "/b", "/c?close=1", "/d"} {
		status, err := c.do(benchRequest(host, target, "application/json", `{"n":1}`, "Idempotency-Key: k-"+target[1:2]))
		require.NoError(t, err)
		assert.Equal(t, http.StatusAccepted, status)
	}
	assert.Equal(t, []string{
		`POST /a?x=1 application/json k-a {"n":1}`,
		`POST /b application/json k-b {"n":1}`,
		`POST /c?close=1 application/json k-c {"n":1}`,
		`POST /d application/json k-d {"n":1}`,
	}, bodies)
	assert.Equal(t, int64(2), conns.Load(), "one connection until the server closed it, then one more")
}

// gongdan bench wechat sends signed, encrypted callbacks through the whole embedded stack and
// reports every one answered and made into a ticket.
func TestBenchWeChatRuns(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "wechat", "--requests", "40", "--rate", "400")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, `WeChat safe-mode callbacks → ticket, embedded stack, open loop at 400 requests/s, 40 requests`)
	assert.Regexp(t, regexp.MustCompile(`all "success"es after +[0-9.]+m?s`), stdout)
	assert.Regexp(t, regexp.MustCompile(`request start → ticket committed: p50 [0-9.]+[mµ]?s`), stdout)

	code, stdout, stderr = runCLI(t, "bench", "intake", "--requests", "40", "--clients", "4")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, `4 closed-loop clients, 40 requests`)
}
