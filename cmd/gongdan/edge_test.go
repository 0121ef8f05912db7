package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/internal/testkit/enginekit"
)

// edgeConnectors is one connector, hooks, that answers 202 and remembers the RemoteAddr it
// was given; open says whether it authenticates nobody.
type edgeConnectors struct {
	seen *string
	open bool
}

func (c edgeConnectors) Receiver(mount, name string) (http.Handler, bool) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*c.seen = r.RemoteAddr
		w.WriteHeader(http.StatusAccepted)
	}), mount == "ingest" && name == "hooks"
}

func (c edgeConnectors) Open(string) bool { return c.open }

// subPathed answers 200 at the sub-paths it names.
type subPathed struct{ http.HandlerFunc }

func (subPathed) Paths() []string { return []string{"cdr"} }

// callConnectors is one connector, calls, that takes /ingest/calls/cdr too.
type callConnectors struct{}

func (callConnectors) Receiver(mount, name string) (http.Handler, bool) {
	return subPathed{func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }}, mount == "ingest" && name == "calls"
}

func (callConnectors) Open(string) bool { return false }

// A connector's own paths under its name reach it; any other path under a name is a 404, and
// so is every path under the name of a connector that takes none.
func TestSubPathsOfAnIntake(t *testing.T) {
	h := edgeServer(t, callConnectors{})
	assert.Equal(t, http.StatusOK, post(h, "127.0.0.1:41000", "/ingest/calls").Code)
	assert.Equal(t, http.StatusOK, post(h, "127.0.0.1:41000", "/ingest/calls/cdr").Code)
	for _, path := range []string{"/ingest/calls/tasks", "/ingest/calls/cdr/x"} {
		assert.Equal(t, http.StatusNotFound, post(h, "127.0.0.1:41000", path).Code, path)
	}
	var seen string
	h = edgeServer(t, edgeConnectors{seen: &seen})
	assert.Equal(t, http.StatusNotFound, post(h, "127.0.0.1:41000", "/ingest/hooks/cdr").Code)
	assert.Empty(t, seen, "the webhook never saw it")
}

// edgeServer is the API with the intake mounted at the edge, as serve composes them.
func edgeServer(t *testing.T, conns intakeConnectors, proxies ...string) http.Handler {
	t.Helper()
	f := enginekit.New(t, engine.Options{})
	opts := api.Options{Engine: f.Engine, Store: f.Store, Edge: intakeRoutes(conns)}
	for _, p := range proxies {
		opts.TrustedProxies = append(opts.TrustedProxies, netip.MustParsePrefix(p))
	}
	h, err := api.New(opts)
	require.NoError(t, err)
	return h
}

func post(h http.Handler, remote, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestIntakeAtTheEdge: the connectors' intake is mounted beside the API, by name and mount;
// an unknown connector, or a connector under the other mount, is a 404 problem.
func TestIntakeAtTheEdge(t *testing.T) {
	var seen string
	h := edgeServer(t, edgeConnectors{seen: &seen})
	assert.Equal(t, http.StatusAccepted, post(h, "127.0.0.1:41000", "/ingest/hooks").Code)
	for _, path := range []string{"/ingest/nope", "/wechat/hooks"} {
		w := post(h, "127.0.0.1:41000", path)
		assert.Equal(t, http.StatusNotFound, w.Code, path)
		assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
		assert.NotEmpty(t, w.Header().Get("X-Request-ID"), "under the API's middleware")
	}
}

// TestConnectorsSeeTheClientBehindATrustedProxy: an intake's budgets and logs are per sender,
// so behind a trusted proxy a connector is handed the client's address, not the proxy's;
// from anyone else a forwarding header changes nothing.
func TestConnectorsSeeTheClientBehindATrustedProxy(t *testing.T) {
	var seen string
	h := edgeServer(t, edgeConnectors{seen: &seen}, "10.0.0.0/8")
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"10.0.0.2:41000", "203.0.113.9", "203.0.113.9:0"},
		{"10.0.0.2:41000", "198.51.100.7, 10.0.0.3", "198.51.100.7:0"},
		{"203.0.113.5:41000", "198.51.100.7", "203.0.113.5:41000"}, // not a trusted proxy: its header is its say-so
		{"10.0.0.2:41000", "", "10.0.0.2:41000"},
	} {
		seen = ""
		var hs []string
		if tc.xff != "" {
			hs = []string{"X-Forwarded-For", tc.xff}
		}
		w := post(h, tc.remote, "/ingest/hooks", hs...)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		assert.Equal(t, tc.want, seen, "%s via %q", tc.remote, tc.xff)
	}
}

// TestAnOpenIntakeTakesOnlyThisHostDirectly: a connector that authenticates nobody is allowed
// on loopback only; a reverse proxy on this host would hand it anyone's requests, so it takes
// none that came through a proxy (trusted or not), nor from another address.
func TestAnOpenIntakeTakesOnlyThisHostDirectly(t *testing.T) {
	var seen string
	plain := edgeServer(t, edgeConnectors{seen: &seen, open: true})
	behind := edgeServer(t, edgeConnectors{seen: &seen, open: true}, "127.0.0.1/32")
	for _, tc := range []struct {
		name    string
		h       http.Handler
		remote  string
		headers []string
		want    int
	}{
		{"this host, directly", plain, "127.0.0.1:41000", nil, http.StatusAccepted},
		{"a proxy on this host", plain, "127.0.0.1:41000", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusForbidden},
		{"a proxy claiming loopback", plain, "127.0.0.1:41000", []string{"X-Forwarded-For", "127.0.0.1"}, http.StatusForbidden},
		{"any forwarding header", plain, "127.0.0.1:41000", []string{"Via", "1.1 nginx"}, http.StatusForbidden},
		{"another host", plain, "203.0.113.9:41000", nil, http.StatusForbidden},
		// Its peer is a proxy of this host, so it may be anyone's.
		{"the trusted proxy's own address", behind, "127.0.0.1:41000", nil, http.StatusForbidden},
		{"through the trusted proxy", behind, "127.0.0.1:41000", []string{"X-Forwarded-For", "127.0.0.1"}, http.StatusForbidden},
	} {
		seen = ""
		w := post(tc.h, tc.remote, "/ingest/hooks", tc.headers...)
		require.Equal(t, tc.want, w.Code, "%s: %s", tc.name, w.Body)
		if tc.want == http.StatusForbidden {
			assert.Empty(t, seen, "%s: the connector never saw it", tc.name)
			assert.Contains(t, w.Body.String(), "authenticates nobody", tc.name)
		}
	}
}
