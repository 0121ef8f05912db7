package bench

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load generator's client sends the prepared bytes as they are, reuses a kept-alive
// connection, and drops one the server closes.
func TestClientKeepsAliveAndRedials(t *testing.T) {
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
	c := NewClient(host, 4)
	defer c.Close()

	for _, target := range []string{"/a?x=1", "/b", "/c?close=1", "/d"} {
		status, err := c.Do(Request(host, target, "application/json", `{"n":1}`, "Idempotency-Key: k-"+target[1:2]))
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

func TestRequestNumber(t *testing.T) {
	for _, c := range []struct {
		data, key string
		want      int
		ok        bool
	}{
		{`{"draft":{"dedup_key":"hooks/bench-42","title":"x"}}`, `"hooks/bench-`, 42, true},
		{`{"dedup_key":"gzh/msg/7"}`, `"gzh/msg/`, 7, true},
		{`{"dedup_key":"hooks/other-1"}`, `"hooks/bench-`, 0, false},
		{`{"dedup_key":"hooks/bench-"}`, `"hooks/bench-`, 0, false},
	} {
		n, ok := RequestNumber([]byte(c.data), c.key)
		assert.Equal(t, c.ok, ok, c.data)
		assert.Equal(t, c.want, n, c.data)
	}
}
