package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateWithAnIntent(t *testing.T) {
	c := newServer(t)
	const update = `{"title":"设备 E1 温度恢复正常","thread_key":"device:E1:overheat","intent":"update","dedup_key":"clear-1"}`

	// No open ticket of the thread: nothing is written, and the answer says so.
	for range 2 { // again: still nothing to update
		r := c.do("POST", "/api/v1/tickets", "tok-agent", update)
		p := requireProblem(t, r, http.StatusNotFound, "no-open-ticket")
		assert.Equal(t, "unmatched", r.header.Get("Gongdan-Intake"))
		assert.Empty(t, r.header.Get("Location"), "there is no ticket to point at")
		assert.Equal(t, "thread_key", p["field"])
		assert.Contains(t, p["detail"], `"api/device:E1:overheat"`, "the key as the API namespaced it")
		assert.Contains(t, p["detail"], "nothing was written")
	}
	list := c.do("GET", "/api/v1/tickets", "tok-sup", "").json(t)
	require.Contains(t, list, "tickets")
	assert.Empty(t, list["tickets"])

	// Once the alarm is raised, the same draft goes into its ticket.
	r := c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"设备 E1 温度超限","thread_key":"device:E1:overheat","dedup_key":"raise-1"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := r.json(t)["id"]
	r = c.do("POST", "/api/v1/tickets", "tok-agent", update)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "merged", r.header.Get("Gongdan-Intake"))
	merged := r.json(t)
	assert.Equal(t, id, merged["id"])
	assert.Len(t, merged["sources"], 2)

	metrics := string(c.do("GET", "/metrics", "", "").body)
	assert.Contains(t, metrics, `gongdan_intake_total{outcome="unmatched"} 2`)
	assert.Contains(t, metrics, `gongdan_intake_total{outcome="merged"} 1`)
}

func TestCreateRefusesABadIntent(t *testing.T) {
	c := newServer(t)
	cases := map[string]string{
		"unknown intent":       `{"title":"x","thread_key":"device:E1:overheat","intent":"close"}`,
		"intent without a key": `{"title":"x","intent":"resolve"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			p := requireProblem(t, c.do("POST", "/api/v1/tickets", "tok-agent", body), http.StatusUnprocessableEntity, "invalid-data")
			assert.Equal(t, "intent", p["field"])
		})
	}
	list := c.do("GET", "/api/v1/tickets", "tok-sup", "").json(t)
	require.Contains(t, list, "tickets")
	assert.Empty(t, list["tickets"])
}
