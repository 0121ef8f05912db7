package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/internal/testkit/enginekit"
)

func newTrackingServer(t *testing.T) *client {
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	f := enginekit.New(t, engine.Options{Closure: &engine.ClosureOptions{Key: key, TTL: time.Hour}})
	h, err := api.New(api.Options{Engine: f.Engine, Store: f.Store, Tokens: tokens, MaxBodyBytes: 4096,
		TrackingURL: func(token string) string { return "https://gd.example.com/t/" + token }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &client{t: t, url: srv.URL, api: h}
}

// TestStaffSeeTheTrackingLinkAndCustomersDoNot: staff read the link to send it on; the
// customer's own reading of the ticket carries none (it is theirs already, and a customer
// token must never lead to another link).
func TestStaffSeeTheTrackingLinkAndCustomersDoNot(t *testing.T) {
	c := newTrackingServer(t)
	id := c.create()["id"].(string)
	r := c.do("GET", "/api/v1/tickets/"+id, "tok-disp", "")
	require.Equal(t, http.StatusOK, r.status)
	link, _ := r.json(t)["tracking_url"].(string)
	require.True(t, strings.HasPrefix(link, "https://gd.example.com/t/"), link)
	assert.GreaterOrEqual(t, len(strings.TrimPrefix(link, "https://gd.example.com/t/")), 22)

	for _, tok := range []string{"tok-cust", "tok-eng", "tok-qa"} {
		r = c.do("GET", "/api/v1/tickets/"+id, tok, "")
		if r.status == http.StatusOK {
			assert.NotContains(t, r.json(t), "tracking_url", "%s: the link is the customer's credential", tok)
		}
	}

	// Renewing: the desk may, an engineer or a customer may not; the link changes.
	requireProblem(t, c.do("POST", "/api/v1/tickets/"+id+"/tracking", "tok-eng", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("POST", "/api/v1/tickets/"+id+"/tracking", "tok-cust", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("POST", "/api/v1/tickets/"+id+"/tracking", "", ""), http.StatusUnauthorized, "unauthorized")
	requireProblem(t, c.do("POST", "/api/v1/tickets/GD-20991231-000001/tracking", "tok-sup", ""), http.StatusNotFound, "not-found")
	r = c.do("POST", "/api/v1/tickets/"+id+"/tracking", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	renewed := r.json(t)["tracking_url"].(string)
	assert.NotEqual(t, link, renewed)
	r = c.do("GET", "/api/v1/tickets/"+id, "tok-disp", "")
	assert.Equal(t, renewed, r.json(t)["tracking_url"])
}
